import { Check } from '../core';
import { checkLabels } from './private/placement';

/** Label GPU Feature Discovery (and the library's `EksGpuCluster` node groups) put on nodes with an NVIDIA GPU. */
export const GFD_GPU_PRESENT_LABEL = 'nvidia.com/gpu.present';
/** Label the library's `EksGpuCluster` puts on the nodes of each node group. */
export const EKS_GPU_CLUSTER_NODE_GROUP_LABEL = 'mlops-constructs/node-group';
/** Karpenter's node pool label. */
export const KARPENTER_NODE_POOL_LABEL = 'karpenter.sh/nodepool';
/** Karpenter's capacity type label (`spot` / `on-demand`). */
export const KARPENTER_CAPACITY_TYPE_LABEL = 'karpenter.sh/capacity-type';
/** EKS managed node groups' capacity type label (`SPOT` / `ON_DEMAND`). */
export const EKS_CAPACITY_TYPE_LABEL = 'eks.amazonaws.com/capacityType';

/**
 * How GPU pods find GPU nodes. By default only by their `nvidia.com/gpu` resource request, which every cluster
 * running the NVIDIA device plugin honours; the other choices add node labels that only some clusters set.
 *
 * @example
 * GpuNodeSelection.karpenterNodePool('gpu')
 */
export class GpuNodeSelection {
  /** The `nvidia.com/gpu` request alone: the scheduler only considers nodes whose device plugin advertises GPUs. */
  public static byResourceRequest(): GpuNodeSelection {
    return new GpuNodeSelection('resource-request', {});
  }

  /** Nodes GPU Feature Discovery (the NVIDIA GPU Operator) labelled `nvidia.com/gpu.present=true`. */
  public static gpuFeatureDiscovery(): GpuNodeSelection {
    return new GpuNodeSelection('gpu-feature-discovery', { [GFD_GPU_PRESENT_LABEL]: 'true' });
  }

  /**
   * Nodes of the library's `EksGpuCluster` GPU node groups (labelled `nvidia.com/gpu.present=true`), optionally one
   * node group by name.
   */
  public static eksGpuCluster(nodeGroup?: string): GpuNodeSelection {
    const labels: Record<string, string> = { [GFD_GPU_PRESENT_LABEL]: 'true' };
    if (nodeGroup !== undefined) {
      new Check('GpuNodeSelection').matches('gpuNodes.eksGpuCluster.nodeGroup', nodeGroup, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a node group name');
      labels[EKS_GPU_CLUSTER_NODE_GROUP_LABEL] = nodeGroup;
    }
    return new GpuNodeSelection('eks-gpu-cluster', labels);
  }

  /** Nodes of one Karpenter NodePool (`karpenter.sh/nodepool`). */
  public static karpenterNodePool(nodePool: string): GpuNodeSelection {
    const check = new Check('GpuNodeSelection');
    if (!nodePool) check.fail('gpuNodes.karpenterNodePool', nodePool, 'is required', 'give the NodePool name, e.g. \'gpu\'.');
    check.matches('gpuNodes.karpenterNodePool', nodePool, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a NodePool name');
    return new GpuNodeSelection('karpenter', { [KARPENTER_NODE_POOL_LABEL]: nodePool });
  }

  /** Any node labels your GPU nodes carry. */
  public static labels(labels: Record<string, string>): GpuNodeSelection {
    const check = new Check('GpuNodeSelection');
    if (!labels || typeof labels !== 'object' || Object.keys(labels).length === 0) {
      check.fail('gpuNodes.labels', labels, 'must name at least one label', 'give the labels of your GPU nodes, or use GpuNodeSelection.byResourceRequest().');
    }
    checkLabels(check, 'gpuNodes.labels', labels);
    return new GpuNodeSelection('labels', { ...labels });
  }

  private constructor(
    /** Which kind of selection, for messages. */
    public readonly kind: string,
    private readonly labelMap: Record<string, string>,
  ) {}

  /** Node labels the pods select (empty for `byResourceRequest`). */
  public get nodeLabels(): Record<string, string> {
    return { ...this.labelMap };
  }
}

/** Whether pods may run on spot capacity. */
export enum CapacityType {
  /** On-demand nodes only: never on nodes labelled spot by Karpenter or by EKS managed node groups. */
  ON_DEMAND = 'on-demand',
  /** Spot nodes only (Karpenter or EKS managed node groups). */
  SPOT = 'spot',
  /** Either. */
  ANY = 'any',
}
