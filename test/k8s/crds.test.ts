// The CRDs the library targets are committed (lib/k8s/crds/), the typed bindings are generated from them
// (lib/k8s/imports/, `npx projen import:crds`), and every custom object is validated against them.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { crdSchemas, schemaErrors } from './support/k8s';
import { importCrds } from '../../scripts/import-crds';

const IMPORTS = path.join(__dirname, '..', '..', 'lib', 'k8s', 'imports');

describe('committed CRDs and generated bindings', () => {
  test('lib/k8s/imports is exactly what cdk8s import generates from lib/k8s/crds (nobody edited it by hand)', async () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-crd-import-'));
    try {
      const files = await importCrds(outdir);
      expect(files).toEqual(fs.readdirSync(IMPORTS).sort());
      for (const file of files) {
        expect({ file, same: fs.readFileSync(path.join(outdir, file), 'utf8') === fs.readFileSync(path.join(IMPORTS, file), 'utf8') }).toEqual({ file, same: true });
      }
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('the committed CRDs cover every custom API group the constructs emit', () => {
    expect(crdSchemas().groups()).toEqual(['argoproj.io', 'gateway.networking.k8s.io', 'keda.sh', 'kueue.x-k8s.io', 'monitoring.coreos.com']);
  });
});

describe('the CRD schema check fails on bad custom objects', () => {
  const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r' } };
  test.each([
    ['a field the schema does not know (the API server would prune it)', { ...route, spec: { rules: [{ backendRefs: [{ name: 's', port: 80, wieght: 1 }] }] } },
      "/spec/rules/0/backendRefs/0: unknown field 'wieght' (the API server would prune it)"],
    ['a value out of range', { ...route, spec: { rules: [{ backendRefs: [{ name: 's', port: 80, weight: 2000000 }] }] } }, '/spec/rules/0/backendRefs/0/weight: must be <= 1000000'],
    ['a value outside an enum', { ...route, spec: { rules: [{ matches: [{ path: { type: 'Prefix', value: '/' } }] }] } }, '/spec/rules/0/matches/0/path/type: must be equal to one of the allowed values (Exact, PathPrefix, RegularExpression)'],
    ['a missing required field', { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 's' }, spec: { endpoints: [] } }, "/spec: must have required property 'selector'"],
    ['a string where the schema wants a number', { apiVersion: 'kueue.x-k8s.io/v1beta2', kind: 'LocalQueue', metadata: { name: 'q' }, spec: { clusterQueue: 7 } }, '/spec/clusterQueue: must be string'],
    ['a deprecated version', { apiVersion: 'kueue.x-k8s.io/v1beta1', kind: 'LocalQueue', metadata: { name: 'q' }, spec: { clusterQueue: 'c' } }, 'kueue.x-k8s.io/v1beta1 is deprecated in kueue-v0.19.2-localqueues.yaml'],
    ['a pattern (Go RE2 with an inline flag)', { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 's' }, spec: { scaleTargetRef: { name: 'd' }, triggers: [{ type: 'cpu', metadata: {} }], fallback: { failureThreshold: 1, replicas: 1, behavior: 'sometimes' } } }, '/spec/fallback/behavior'],
    ['a kind no committed CRD serves', { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name: 'w' } }, 'no committed CRD serves argoproj.io/v1alpha1 Workflow'],
  ])('%s', (_name, obj, message) => {
    expect(crdSchemas().errors(obj).join('\n')).toContain(message);
    expect(schemaErrors([obj]).join('\n')).toContain(message);
  });
});
