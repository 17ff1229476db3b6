import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { Manifest, ofKind, podSpecs, restrictedViolations, schemaErrors } from './support/k8s';
import { buildK8sApp } from '../../examples/k8s/main';
import { EnvironmentProfile } from 'mlops-constructs';

function synthExample(profile?: EnvironmentProfile): { files: string[]; manifests: Manifest[] } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-k8s-example-'));
  buildK8sApp({ outdir, profile }).synth();
  const files = fs.readdirSync(outdir).sort();
  const manifests = files.flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(outdir, f), 'utf8')).map((d) => d.toJS()));
  fs.rmSync(outdir, { recursive: true, force: true });
  return { files, manifests };
}

const example = synthExample();

describe('examples/k8s', () => {
  test('writes one manifest file per team', () => {
    expect(example.files).toEqual(['fraud.yaml', 'recommendations.yaml']);
  });

  test('has two team namespaces, a distributed training job, a canary inference service and monitoring rules', () => {
    const m = example.manifests;
    expect(ofKind(m, 'Namespace').map((n) => n.metadata.name).sort()).toEqual(['fraud', 'recommendations']);
    const distributed = ofKind(m, 'Job').filter((j) => j.spec.completionMode === 'Indexed');
    expect(distributed).toHaveLength(1);
    expect(distributed[0].spec.completions).toBeGreaterThanOrEqual(2);
    const route = ofKind(m, 'HTTPRoute')[0];
    expect(route.spec.rules[0].backendRefs.map((b: { weight: number }) => b.weight)).toEqual([90, 10]);
    expect(ofKind(m, 'ServiceMonitor')).toHaveLength(2);
    expect(ofKind(m, 'PrometheusRule')).toHaveLength(2);
  });

  test('every manifest object validates against the Kubernetes 1.32 schemas and the Gateway API / Prometheus Operator CRD models', () => {
    expect(example.manifests.length).toBeGreaterThan(40);
    expect(schemaErrors(example.manifests)).toEqual([]);
  });

  test('the dev variant of the example validates too', () => {
    expect(schemaErrors(synthExample(EnvironmentProfile.dev()).manifests)).toEqual([]);
  });

  test('every pod template runs restricted, with requests and limits on every container', () => {
    const pods = podSpecs(example.manifests);
    // two training jobs (content-addressed names) and two canary variants, the current one under the base name
    expect(pods.map((p) => p.owner.replace(/-[0-9a-f]{8}$/, '-<hash>')).sort()).toEqual([
      'Deployment/fraud-scoring', 'Deployment/fraud-scoring-candidate', 'Job/fraud-train-<hash>', 'Job/ranker-train-<hash>',
    ]);
    expect(pods.flatMap((p) => restrictedViolations(p.owner, p.spec))).toEqual([]);
  });

  test('every object carries the project, environment, team and cost-center labels', () => {
    for (const m of example.manifests) {
      expect(Object.keys(m.metadata.labels)).toEqual(expect.arrayContaining([
        'mlops-constructs.io/project', 'mlops-constructs.io/environment', 'mlops-constructs.io/team', 'mlops-constructs.io/cost-center',
      ]));
    }
  });
});

describe('the checks themselves fail on bad objects', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd' },
    spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i:1' }] } } },
  };

  test('schema errors: wrong field type, unknown kind, unknown API group, invalid CRD objects', () => {
    const errors = schemaErrors([
      deployment,
      { ...deployment, spec: { ...deployment.spec, replicas: 'two' } },
      { apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w' } },
      { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't' } },
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' }, spec: { rules: [{ backendRefs: [{ name: 's', port: 80, weight: 'ten' }] }] } },
      { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'p' }, spec: { groups: [{ name: 'g', rules: [{ alert: 'A' }] }] } },
      { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 's' }, spec: { endpoints: [{ port: 80 }] } },
    ]);
    expect(errors).toEqual([
      expect.stringMatching(/^#1 apps\/v1\/Deployment .*replicas must be integer/),
      expect.stringMatching(/^#2 .*unknown kind/),
      expect.stringMatching(/^#3 .*unknown apiVersion/),
      // the committed CRD, then the npm model as a second opinion
      '#4 gateway.networking.k8s.io/v1/HTTPRoute /r: /spec/rules/0/backendRefs/0/weight: must be integer',
      expect.stringMatching(/^#4 .*\[@kubernetes-models\/gateway-api\] .*weight must be integer/),
      "#5 monitoring.coreos.com/v1/PrometheusRule /p: /spec/groups/0/rules/0: must have required property 'expr'",
      expect.stringMatching(/^#5 .*\[@kubernetes-models\/prometheus-operator\] .*expr/),
      "#6 monitoring.coreos.com/v1/ServiceMonitor /s: /spec: must have required property 'selector'",
      '#6 monitoring.coreos.com/v1/ServiceMonitor /s: /spec/endpoints/0/port: must be string',
      expect.stringMatching(/^#6 .*\[@kubernetes-models\/prometheus-operator\] .*selector/),
    ]);
  });

  test('restricted check: root, escalation, capabilities, seccomp, writable root, missing resources, undeclared volume', () => {
    const problems = restrictedViolations('Pod/bad', {
      securityContext: { runAsUser: 0 },
      containers: [{ name: 'c', securityContext: { capabilities: { add: ['NET_ADMIN'] } }, volumeMounts: [{ name: 'cache', mountPath: '/cache' }], resources: { limits: { 'cpu': '1', 'nvidia.com/gpu': 1 } } }],
    });
    expect(problems).toEqual([
      'Pod/bad/c: runAsNonRoot is not true',
      'Pod/bad/c: runs as UID 0',
      'Pod/bad/c: allowPrivilegeEscalation is not false',
      'Pod/bad/c: does not drop ALL capabilities',
      'Pod/bad/c: adds capabilities',
      'Pod/bad/c: seccomp profile is undefined, not RuntimeDefault',
      'Pod/bad/c: root filesystem is writable',
      'Pod/bad/c: mounts undeclared volume cache',
      'Pod/bad/c: no cpu request',
      'Pod/bad/c: no memory request',
      'Pod/bad/c: no memory limit',
    ]);
  });
});
