import { k8s } from 'cdk8s-plus-32';
import { Check } from '../../core';

/** UID and GID workloads run as unless told otherwise (any non-zero id satisfies "restricted"). */
export const DEFAULT_RUN_AS_USER = 1000;

/** Kubernetes resource quantities as users write them: `500m`, `2`, `16Gi`. */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;
export const QUANTITY_TEXT = 'a Kubernetes quantity such as "500m", "2", "512Mi" or "16Gi"';

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

export interface ContainerSize {
  readonly cpu: string;
  readonly memory: string;
  readonly gpus: number;
  /** Other extended resources, e.g. `vpc.amazonaws.com/efa`. */
  readonly extended?: Record<string, number>;
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
  for (const [name, count] of Object.entries(size.extended ?? {})) {
    requests[name] = k8s.Quantity.fromNumber(count);
    limits[name] = k8s.Quantity.fromNumber(count);
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

const UNITS: Record<string, number> = {
  '': 1, 'm': 1e-3, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40,
};

/** The value of a quantity matching `QUANTITY` (cores for CPU, bytes for memory). */
export function parseQuantity(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!match) throw new Error(`not a quantity: ${quantity}`);
  return Number(match[1]) * UNITS[match[2] ?? ''];
}

/** Where the writable home directory and the framework caches live (the root filesystem is read-only). */
export const HOME_DIR = '/home/mlops';

/**
 * HOME and the cache locations of the common ML frameworks, all inside the writable home volume, so HuggingFace,
 * torch, Triton and pip caches work under a read-only root filesystem. Users' `env` may override them.
 */
export function cacheEnv(): Record<string, string> {
  return {
    HOME: HOME_DIR,
    XDG_CACHE_HOME: `${HOME_DIR}/.cache`,
    HF_HOME: `${HOME_DIR}/.cache/huggingface`,
    TORCH_HOME: `${HOME_DIR}/.cache/torch`,
    TRITON_CACHE_DIR: `${HOME_DIR}/.cache/triton`,
  };
}
