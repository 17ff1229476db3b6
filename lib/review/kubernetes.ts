import { KubernetesManifest, KubernetesObject } from './assembly';
import { ChangeKind, GuardFinding, GuardOptions, MlChange, ResourceChange, SecurityFinding, sortSecurity, weightChange } from './classify';
import { asArray, num } from './cost-delta';

/** The pseudo-stack under which Kubernetes manifest changes are reported. */
export const KUBERNETES_STACK_ID = 'kubernetes-manifests';

/** Kinds whose removal deletes data (or, for a Namespace, everything in it). */
export const STATEFUL_KINDS: readonly string[] = ['PersistentVolumeClaim', 'PersistentVolume', 'StatefulSet', 'Namespace'];

/** The review of the Kubernetes manifests in the app's output. */
export interface KubernetesReview {
  readonly changes: ResourceChange[];
  readonly guard: GuardFinding[];
  readonly security: SecurityFinding[];
  readonly ml: MlChange[];
}

/** `Kind namespace/name`, the id of an object across files. */
export function objectId(o: KubernetesObject): string {
  const group = o.apiVersion.includes('/') ? `${o.apiVersion.split('/')[0]}/` : '';
  return `${group}${o.kind} ${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
}

function index(manifests: readonly KubernetesManifest[]): Map<string, KubernetesObject> {
  const out = new Map<string, KubernetesObject>();
  for (const m of manifests) for (const o of m.objects) out.set(objectId(o), o);
  return out;
}

/** Compares Kubernetes objects by kind, namespace and name (they may move between files). */
export function reviewKubernetes(base: readonly KubernetesManifest[], head: readonly KubernetesManifest[], options: GuardOptions): KubernetesReview {
  const b = index(base);
  const h = index(head);
  const review: KubernetesReview = { changes: [], guard: [], security: [], ml: [] };
  const disposable = (options.disposableStacks ?? []).includes(KUBERNETES_STACK_ID);
  for (const id of [...new Set([...b.keys(), ...h.keys()])].sort()) {
    const before = b.get(id);
    const after = h.get(id);
    const o = (after ?? before)!;
    if (before && after && JSON.stringify(before) === JSON.stringify(after)) continue;
    const kind = !before ? ChangeKind.ADDED : !after ? ChangeKind.REMOVED : ChangeKind.UPDATED;
    const changed = before && after ? Object.keys({ ...before, ...after }).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])) : [];
    const stateful = STATEFUL_KINDS.includes(o.kind);
    review.changes.push({ logicalId: id, type: `${o.apiVersion}/${o.kind}`, kind, stateful, changedProperties: changed });
    if (kind === ChangeKind.REMOVED && stateful) {
      const allowed = (options.allowDestroy ?? []).some((a) => a === id || a === o.metadata.name || a === `${o.kind}/${o.metadata.name}`);
      review.guard.push({
        stack: KUBERNETES_STACK_ID,
        logicalId: id,
        type: o.kind,
        kind,
        reason: o.kind === 'Namespace' ? 'will be deleted with everything in it' : 'will be deleted with its volumes\' data',
        allowedBy: allowed ? 'allow-destroy' : disposable ? 'disposable-stack' : undefined,
      });
    }
    review.security.push(...exposure(id, before, after));
    review.ml.push(...meaning(id, before, after));
  }
  const gpus = (m: Map<string, KubernetesObject>) => [...m.values()].reduce((sum, o) => sum + gpuRequests(o), 0);
  if (gpus(b) !== gpus(h)) review.ml.push({ stack: KUBERNETES_STACK_ID, kind: 'gpu-capacity', line: `GPUs requested by workloads ${gpus(b)} → ${gpus(h)}` });
  return { ...review, security: sortSecurity(review.security) };
}

function exposure(id: string, before?: KubernetesObject, after?: KubernetesObject): SecurityFinding[] {
  const out: SecurityFinding[] = [];
  if (!after) return out;
  if (after.kind === 'Service' && after.spec?.type === 'LoadBalancer' && before?.spec?.type !== 'LoadBalancer') {
    out.push({ stack: KUBERNETES_STACK_ID, broadening: true, description: `**public exposure**: ${id} is a LoadBalancer service` });
  }
  if (['Role', 'ClusterRole'].includes(after.kind)) {
    const wildcard = (o?: KubernetesObject) => asArray(o?.rules).some((r) => [...asArray(r.verbs), ...asArray(r.resources), ...asArray(r.apiGroups)]
      .some((x) => x === '*'));
    if (wildcard(after) && !wildcard(before)) {out.push({ stack: KUBERNETES_STACK_ID, broadening: true, description: `**wildcard**: ${id} grants '*'` });} else if (JSON.stringify(before?.rules) !== JSON.stringify(after.rules)) {
      out.push({ stack: KUBERNETES_STACK_ID, broadening: !before, description: `${id} rules ${before ? 'changed' : 'added'}` });
    }
  }
  if (['RoleBinding', 'ClusterRoleBinding'].includes(after.kind) && JSON.stringify(before?.subjects) !== JSON.stringify(after.subjects)) {
    const subjects = asArray(after.subjects).map((s) => `${s.kind} ${s.name}`).join(', ');
    out.push({ stack: KUBERNETES_STACK_ID, broadening: true, description: `${id} binds ${after.roleRef?.name} to ${subjects}` });
  }
  return out;
}

function meaning(id: string, before?: KubernetesObject, after?: KubernetesObject): MlChange[] {
  const out: MlChange[] = [];
  const line = (kind: MlChange['kind'], text: string) => out.push({ stack: KUBERNETES_STACK_ID, kind, line: text });
  if (!before || !after) return out;
  if (after.kind === 'HTTPRoute') {
    const weights = (o: KubernetesObject) => {
      const w: Record<string, number> = {};
      asArray(o.spec?.rules).forEach((rule, i) => asArray(rule.backendRefs).forEach((ref) => {
        w[`${i > 0 ? `rule${i}:` : ''}${ref.name}`] = num(ref.weight) ?? 1;
      }));
      return w;
    };
    const w = weightChange(weights(before), weights(after));
    if (w) line('rollout', `${id}: backend weights ${w}`);
  }
  if (['Deployment', 'StatefulSet'].includes(after.kind) && before.spec?.replicas !== after.spec?.replicas) {
    line('scaling', `${id}: replicas ${before.spec?.replicas ?? 1} → ${after.spec?.replicas ?? 1}`);
  }
  if (after.kind === 'HorizontalPodAutoscaler') {
    const bounds = (o: KubernetesObject) => `${o.spec?.minReplicas ?? 1}-${o.spec?.maxReplicas}`;
    if (bounds(before) !== bounds(after)) line('scaling', `${id}: autoscaling replicas ${bounds(before)} → ${bounds(after)}`);
  }
  const gpuBefore = gpuRequests(before);
  const gpuAfter = gpuRequests(after);
  if (gpuBefore !== gpuAfter) line('gpu-capacity', `${id}: GPUs ${gpuBefore} → ${gpuAfter}`);
  return out;
}

/** `nvidia.com/gpu` limits over a workload's containers, times its replicas (Jobs: parallelism). */
export function gpuRequests(o: KubernetesObject): number {
  const pod = o.kind === 'Pod' ? o.spec : o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
  if (!pod) return 0;
  const perPod = asArray(pod.containers).reduce((sum, c) => sum + (num(c.resources?.limits?.['nvidia.com/gpu'] ?? c.resources?.requests?.['nvidia.com/gpu']) ?? 0), 0);
  const copies = ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind) ? num(o.spec?.replicas) ?? 1
    : o.kind === 'Job' ? num(o.spec?.parallelism) ?? 1 : 1;
  return perPod * copies;
}
