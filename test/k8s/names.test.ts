// Property: every name the k8s constructs build (object names, label values, worker host names) is one the API
// server accepts, for any valid input up to each prop's maximum length (issue #19 problem 7).
import { Duration, Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { Manifest, schemaErrors } from './support/k8s';
import { EnvironmentProfile, Rollout } from 'mlops-constructs';
import {
  Checkpoint, GpuTrainingJob, InferenceService, MlopsChart, MonitoringRules, ProgressiveDelivery, ScaleToZero, TeamNamespace,
} from 'mlops-constructs/k8s';

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/** A valid DNS label of 1 to `max` characters, biased to the longest ones. */
function dnsLabel(max: number): fc.Arbitrary<string> {
  const inner = fc.stringMatching(/^[a-z0-9-]*$/, { maxLength: max - 2 });
  return fc.oneof(
    fc.tuple(fc.constantFrom(...'abcxyz'), inner, fc.constantFrom(...'a9z0')).map(([a, b, c]) => `${a}${b}${c}`.slice(0, max).replace(/-+$/, '') || 'a'),
    fc.constant('z'.repeat(max)),
    fc.constant(`a${'-b'.repeat(Math.floor((max - 1) / 2))}`.slice(0, max).replace(/-$/, '')),
  ).filter((s) => DNS_LABEL.test(s) && s.length <= max);
}

/** Every name and label value in the manifests, with where it came from. */
function namesOf(manifests: Manifest[], extra: [string, string][]): [string, string][] {
  const out: [string, string][] = [...extra];
  for (const m of manifests) {
    const where = `${m.kind}`;
    out.push([`${where} metadata.name`, m.metadata.name]);
    for (const labels of [m.metadata.labels, m.spec?.template?.metadata?.labels, m.spec?.selector?.matchLabels, m.spec?.selector]) {
      for (const [k, v] of Object.entries((labels ?? {}) as Record<string, unknown>)) {
        if (typeof v === 'string') out.push([`${where} label ${k}`, v]);
      }
    }
  }
  return out;
}

// Every run's manifests, validated together at the end: names at their maximum lengths must also pass the schemas.
const synthesized: Manifest[] = [];

test('names the constructs build are DNS labels and label values of at most 63 characters', () => {
  fc.assert(fc.property(
    dnsLabel(40), dnsLabel(63), dnsLabel(40), dnsLabel(43), fc.integer({ min: 2, max: 1000 }),
    fc.uniqueArray(dnsLabel(31).filter((v) => /^[a-z]/.test(v)), { minLength: 2, maxLength: 3 }),
    fc.constantFrom('gateway', 'argo'),
    (team, namespaceName, serviceName, jobName, workers, variants, delivery) => {
      const chart = new MlopsChart(Testing.app(), 'names', { profile: EnvironmentProfile.dev(), project: 'p' });
      const ns = new TeamNamespace(chart, 'Team', { team, namespaceName, quota: { gpus: 100000, cpu: 10000000, memoryGiB: 100000000 }, queue: { clusterQueue: namespaceName } });
      const train = new GpuTrainingJob(chart, 'Train', {
        image: 'registry.example.com/t:1',
        namespace: ns,
        jobName,
        distributed: { workers },
        checkpoint: Checkpoint.newVolumeClaim({ size: '1Gi', storageClassName: 'efs-sc' }),
      });
      const weights = Object.fromEntries(variants.map((v, i) => [v, i === 0 ? 100 - (variants.length - 1) : 1]));
      new InferenceService(chart, 'Serve', delivery === 'argo'
        ? { image: 'registry.example.com/m:1', namespace: ns, serviceName, rollout: Rollout.blueGreen(), progressiveDelivery: ProgressiveDelivery.argoRollouts(), scaleToZero: ScaleToZero.offHours() }
        : { image: 'registry.example.com/m:1', namespace: ns, serviceName, rollout: Rollout.abTest({ weights }), variantImages: Object.fromEntries(variants.map((v) => [v, 'registry.example.com/m:2'])) });
      new InferenceService(chart, 'Canary', {
        image: 'registry.example.com/m:1',
        namespace: ns,
        serviceName: `${serviceName.slice(0, 38)}-c`.replace(/--+c$/, '-c'),
        candidateImage: 'registry.example.com/m:2',
        rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(1) }),
        ...(delivery === 'argo' ? { candidateImage: undefined, progressiveDelivery: ProgressiveDelivery.argoRollouts() } : {}),
      });
      new MonitoringRules(chart, 'Monitoring', { namespace: ns });
      const manifests = Testing.synth(chart);
      synthesized.push(...manifests);
      // Worker pods are named, and resolvable as, <job>-<index>.<service>.
      const hosts: [string, string][] = [['worker host name', `${train.jobName}-${workers - 1}`], ['worker subdomain', train.serviceName!]];
      for (const [where, name] of namesOf(manifests, hosts)) {
        if (where.includes('label')) {
          if (!LABEL_VALUE.test(name)) throw new Error(`${where}: '${name}' is not a label value`);
        } else if (!DNS_LABEL.test(name)) {
          throw new Error(`${where}: '${name}' (${name.length} characters) is not a DNS label`);
        }
      }
      const byKindAndName = manifests.map((m) => `${m.kind}/${m.metadata.namespace}/${m.metadata.name}`);
      if (new Set(byKindAndName).size !== byKindAndName.length) throw new Error(`duplicate objects: ${byKindAndName.join(', ')}`);
    },
  ), { numRuns: Number(process.env.FC_RUNS ?? 40), seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined });
});

test('names built from construct ids (no name given) are DNS labels too, whatever the ids: digits first, "_", ".", upper case', () => {
  const id = fc.stringMatching(/^[A-Za-z0-9_.-]{1,30}$/).filter((s) => s.replace(/[^A-Za-z0-9]/g, '') !== '' && s !== 'Team' && !(s in Object.prototype)); // constructs keys children by id in a plain object
  fc.assert(fc.property(id, fc.uniqueArray(id, { minLength: 2, maxLength: 3 }), (chartId, ids) => {
    const chart = new MlopsChart(Testing.app(), chartId, { profile: EnvironmentProfile.dev(), project: 'p' });
    const ns = new TeamNamespace(chart, 'Team', { team: 'a', quota: { gpus: 100 } });
    ids.forEach((i) => {
      new GpuTrainingJob(chart, `${i}:train`, { image: 'registry.example.com/t:1', namespace: ns, distributed: { workers: 2 } });
      new InferenceService(chart, i, { image: 'registry.example.com/m:1', namespace: ns, minReplicas: 1, maxReplicas: 1, gpusPerReplica: 0 });
      new MonitoringRules(chart, `${i}:monitoring`, { namespace: ns });
    });
    const manifests = Testing.synth(chart);
    synthesized.push(...manifests);
    for (const [where, name] of namesOf(manifests, [])) {
      if (!where.includes('label') && !DNS_LABEL.test(name)) throw new Error(`${where}: '${name}' is not a DNS label (chart '${chartId}', ids ${ids.join(', ')})`);
    }
    const byKindAndName = manifests.map((m) => `${m.kind}/${m.metadata.namespace}/${m.metadata.name}`);
    if (new Set(byKindAndName).size !== byKindAndName.length) throw new Error(`duplicate objects: ${byKindAndName.join(', ')}`);
  }), { numRuns: Number(process.env.FC_RUNS ?? 40), seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined });
  // The case that failed: a chart id starting with digits and holding an underscore.
  const chart = new MlopsChart(Testing.app(), '2024-fraud_team', { profile: EnvironmentProfile.dev(), project: 'p' });
  const scoring = new InferenceService(chart, 'Scoring', { image: 'registry.example.com/m:1', gpusPerReplica: 0 });
  expect(scoring.serviceName).toMatch(/^x2024-fraud-team-scoring-[0-9a-f]{8}$/);
});

test('every manifest of the property runs validates against the Kubernetes 1.32 schemas and the committed CRDs', () => {
  expect(synthesized.length).toBeGreaterThan(0);
  expect(schemaErrors(synthesized)).toEqual([]);
});
