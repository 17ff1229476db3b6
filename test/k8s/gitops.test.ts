// A dry run of what a GitOps tool does with the example's output: apply release 1, then release 2 with a changed
// image. Objects with the same kind, namespace and name are updates, which the API server refuses when an
// immutable field changes; objects only in release 2 are created; objects only in release 1 are pruned.
// Issue #19 problem 6: nothing immutable may change, and a Job whose spec did not change must stay as it is
// (no training rerun).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { Manifest, schemaErrors } from './support/k8s';
import { buildK8sApp, K8sExampleOptions, VERSIONS } from '../../examples/k8s/main';

function release(options: K8sExampleOptions = {}): Map<string, Manifest> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-k8s-gitops-'));
  buildK8sApp({ ...options, outdir }).synth();
  const objects = fs.readdirSync(outdir).sort()
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(outdir, f), 'utf8')).map((d) => d.toJS() as Manifest));
  fs.rmSync(outdir, { recursive: true, force: true });
  return new Map(objects.map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]));
}

/** Fields the API server refuses to change on update, per kind (paths into the object). */
const IMMUTABLE: Record<string, string[][]> = {
  Job: [['spec', 'selector'], ['spec', 'template'], ['spec', 'completions'], ['spec', 'completionMode'], ['spec', 'podFailurePolicy'], ['spec', 'podReplacementPolicy']],
  Deployment: [['spec', 'selector']],
  Service: [['spec', 'clusterIP'], ['spec', 'clusterIPs']],
  PersistentVolumeClaim: [['spec', 'accessModes'], ['spec', 'storageClassName'], ['spec', 'volumeName']],
  RoleBinding: [['roleRef']],
  LocalQueue: [['spec', 'clusterQueue']],
  Rollout: [['spec', 'selector']],
};

const at = (obj: Manifest, p: string[]) => p.reduce((o, k) => (o === undefined ? undefined : o[k]), obj);

interface Apply { readonly created: string[]; readonly updated: string[]; readonly pruned: string[]; readonly refused: string[] }

function apply(live: Map<string, Manifest>, desired: Map<string, Manifest>): Apply {
  const result: Apply = { created: [], updated: [], pruned: [], refused: [] };
  for (const [key, obj] of desired) {
    const old = live.get(key);
    if (!old) {
      result.created.push(key);
      continue;
    }
    if (JSON.stringify(old) !== JSON.stringify(obj)) result.updated.push(key);
    for (const p of IMMUTABLE[obj.kind] ?? []) {
      if (JSON.stringify(at(old, p)) !== JSON.stringify(at(obj, p))) result.refused.push(`${key}: ${p.join('.')} is immutable`);
    }
  }
  for (const key of live.keys()) if (!desired.has(key)) result.pruned.push(key);
  return result;
}

const keysOf = (r: Map<string, Manifest>, kind: string) => [...r.keys()].filter((k) => k.startsWith(`${kind}/`)).sort();
const v1 = release();

describe('GitOps re-apply of examples/k8s', () => {
  test('re-applying the same release changes nothing', () => {
    expect(apply(v1, release())).toEqual({ created: [], updated: [], pruned: [], refused: [] });
  });

  test('a new serving model: the canary moves to it; no immutable field changes, no Deployment is replaced, no Job reruns', () => {
    const v2 = release({ versions: { fraudScorer: VERSIONS.fraudScorerCandidate, fraudScorerCandidate: '2.4.0' } });
    const result = apply(v1, v2);
    expect(result.refused).toEqual([]);
    expect(result.created).toEqual([]);
    expect(result.pruned).toEqual([]);
    // Only the two Deployments roll (new images and model sources); their names and selectors stay.
    expect(result.updated).toEqual(['Deployment/fraud/fraud-scoring', 'Deployment/fraud/fraud-scoring-candidate']);
    expect(keysOf(v2, 'Job')).toEqual(keysOf(v1, 'Job'));
    for (const key of keysOf(v1, 'Job')) expect(v2.get(key)).toEqual(v1.get(key));
  });

  test('a new training image: a new Job (created, the old one pruned) instead of a refused update; the other team\'s Job stays', () => {
    const v2 = release({ versions: { fraudTrainer: '2.4.0' } });
    const result = apply(v1, v2);
    expect(result.refused).toEqual([]);
    const [oldJob] = keysOf(v1, 'Job').filter((k) => k.startsWith('Job/fraud/'));
    const [newJob] = keysOf(v2, 'Job').filter((k) => k.startsWith('Job/fraud/'));
    expect(newJob).not.toBe(oldJob);
    expect(newJob.replace(/-[0-9a-f]{8}$/, '')).toBe(oldJob.replace(/-[0-9a-f]{8}$/, ''));
    expect(result.created).toEqual([newJob]);
    expect(result.pruned).toEqual([oldJob]);
    // The headless Service and the disruption budget follow the new Job; the recommendations Job is untouched.
    expect(result.updated.sort()).toEqual(['PodDisruptionBudget/fraud/fraud-train-training', 'Service/fraud/fraud-train-workers']);
    const ranker = keysOf(v1, 'Job').filter((k) => k.startsWith('Job/recommendations/'));
    expect(keysOf(v2, 'Job').filter((k) => k.startsWith('Job/recommendations/'))).toEqual(ranker);
  });

  test('finished Jobs carry no TTL: the tool never sees one disappear and recreate it', () => {
    for (const key of keysOf(v1, 'Job')) expect(v1.get(key).spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  test('the dry run catches what it must: a changed Job template under the same name, a changed Deployment selector', () => {
    const job = v1.get(keysOf(v1, 'Job')[0])!;
    const changedJob = { ...job, spec: { ...job.spec, template: { ...job.spec.template, spec: { ...job.spec.template.spec, containers: [] } } } };
    const deploymentKey = keysOf(v1, 'Deployment')[0];
    const deployment = v1.get(deploymentKey)!;
    const changedDeployment = { ...deployment, spec: { ...deployment.spec, selector: { matchLabels: { x: 'y' } } } };
    const desired = new Map(v1);
    desired.set(keysOf(v1, 'Job')[0], changedJob);
    desired.set(deploymentKey, changedDeployment);
    expect(apply(v1, desired).refused).toEqual([`${keysOf(v1, 'Job')[0]}: spec.template is immutable`, `${deploymentKey}: spec.selector is immutable`]);
  });

  test('both releases validate', () => {
    expect(schemaErrors([...release({ versions: { fraudTrainer: '2.4.0' } }).values()])).toEqual([]);
  });
});
