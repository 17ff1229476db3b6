import { k8s } from 'cdk8s-plus-32';
import { Check } from '../../core';
import {
  CapacityType, EKS_CAPACITY_TYPE_LABEL, GpuNodeSelection, KARPENTER_CAPACITY_TYPE_LABEL,
} from '../gpu-scheduling';
import { GPU_RESOURCE } from './pod-security';

/** Scheduling of a GPU (or CPU) pod: node selector, node affinity for the capacity type, tolerations. */
export interface GpuScheduling {
  readonly nodeSelector?: Record<string, string>;
  readonly affinity?: k8s.Affinity;
  readonly tolerations?: k8s.Toleration[];
}

/** Renders node selection, capacity type and the GPU taint's toleration. */
export function gpuScheduling(o: {
  check: Check;
  gpus: number;
  selection: GpuNodeSelection | undefined;
  capacityType: CapacityType;
  instanceType?: string;
  extraNodeSelector?: Record<string, string>;
}): GpuScheduling {
  if (o.selection !== undefined && typeof (o.selection as GpuNodeSelection)?.nodeLabels !== 'object') {
    o.check.fail('gpuNodes', o.selection, 'must be a GpuNodeSelection', 'use GpuNodeSelection.byResourceRequest(), .gpuFeatureDiscovery(), .eksGpuCluster(), .karpenterNodePool() or .labels().');
  }
  o.check.oneOf('capacityType', o.capacityType, Object.values(CapacityType), 'use CapacityType.ON_DEMAND, SPOT or ANY.');
  const nodeSelector: Record<string, string> = {
    ...(o.gpus > 0 ? (o.selection ?? GpuNodeSelection.byResourceRequest()).nodeLabels : {}),
    ...o.extraNodeSelector,
  };
  if (o.instanceType) nodeSelector['node.kubernetes.io/instance-type'] = o.instanceType;
  let affinity: k8s.Affinity | undefined;
  if (o.capacityType === CapacityType.ON_DEMAND) {
    // NotIn also matches nodes without the label (self-managed groups), so only labelled spot nodes are avoided.
    affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{
            matchExpressions: [
              { key: KARPENTER_CAPACITY_TYPE_LABEL, operator: 'NotIn', values: ['spot'] },
              { key: EKS_CAPACITY_TYPE_LABEL, operator: 'NotIn', values: ['SPOT'] },
            ],
          }],
        },
      },
    };
  } else if (o.capacityType === CapacityType.SPOT) {
    affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          // Terms are alternatives: a Karpenter spot node or a spot managed node group.
          nodeSelectorTerms: [
            { matchExpressions: [{ key: KARPENTER_CAPACITY_TYPE_LABEL, operator: 'In', values: ['spot'] }] },
            { matchExpressions: [{ key: EKS_CAPACITY_TYPE_LABEL, operator: 'In', values: ['SPOT'] }] },
          ],
        },
      },
    };
  }
  return {
    ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
    ...(affinity ? { affinity } : {}),
    // GPU node groups are commonly tainted nvidia.com/gpu (EksGpuCluster, EKS and Karpenter GPU examples).
    ...(o.gpus > 0 ? { tolerations: [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }] } : {}),
  };
}
