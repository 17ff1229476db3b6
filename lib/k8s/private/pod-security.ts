import { k8s } from 'cdk8s-plus-32';
import { Check } from '../../core';

/** UID and GID workloads run as unless told otherwise (any non-zero id satisfies "restricted"). */
export const DEFAULT_RUN_AS_USER = 1000;

/** Kubernetes resource quantities as users write them: `500m`, `2`, `16Gi`. */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;
export const QUANTITY_TEXT = 'a Kubernetes quantity such as "500m", "2", "512Mi" or "16Gi"';

/** Label key the NVIDIA GPU feature discovery puts on nodes with a GPU. */
export const GPU_NODE_LABEL = 'nvidia.com/gpu.present';
/** Extended resource name the NVIDIA device plugin advertises. */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** Pod-level settings the Pod Security "restricted" profile requires. */
export function restrictedPodSecurityContext(runAsUser: number): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser,
    runAsGroup: runAsUser,
    fsGroup: runAsUser,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level settings of the "restricted" profile, plus a read-only root filesystem. */
export function restrictedContainerSecurityContext(): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The toleration GPU node groups are tainted with, so only GPU work lands there. */
export function gpuToleration(): k8s.Toleration {
  return { key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' };
}

export interface ContainerSize {
  readonly cpu: string;
  readonly memory: string;
  readonly gpus: number;
}

/** Requests and limits: CPU and memory requested as limited (Guaranteed QoS); GPUs only as limits. */
export function containerResources(size: ContainerSize): k8s.ResourceRequirements {
  const requests: Record<string, k8s.Quantity> = {
    cpu: k8s.Quantity.fromString(size.cpu),
    memory: k8s.Quantity.fromString(size.memory),
  };
  const limits: Record<string, k8s.Quantity> = { ...requests };
  if (size.gpus > 0) {
    // Extended resources must have requests equal to limits; setting both keeps every container explicit.
    requests[GPU_RESOURCE] = k8s.Quantity.fromNumber(size.gpus);
    limits[GPU_RESOURCE] = k8s.Quantity.fromNumber(size.gpus);
  }
  return { requests, limits };
}

/** Validates a quantity prop. */
export function checkQuantity(check: Check, prop: string, value: string | undefined): string | undefined {
  return check.matches(prop, value, QUANTITY, QUANTITY_TEXT);
}

/** Validates an image reference: required, no whitespace, and pinned (a tag or digest). */
export function checkImage(check: Check, prop: string, image: string | undefined): string {
  if (image === undefined || image === null || image === '') {
    check.fail(prop, image, 'is required', 'give the container image, e.g. \'123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1.0\'.');
  }
  check.matches(prop, image, /^[a-z0-9][a-zA-Z0-9._\-/:@]*$/, 'an image reference without spaces');
  const lastSegment = image.split('/').pop() ?? '';
  if (!image.includes('@') && (!lastSegment.includes(':') || lastSegment.endsWith(':latest'))) {
    check.fail(prop, image, 'must be pinned to a version tag or digest', `append a version tag or digest, e.g. '${image.split(':')[0]}:1.0.0'.`);
  }
  return image;
}
