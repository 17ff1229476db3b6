// Validates Kubernetes manifests against the Kubernetes 1.32 schemas of kubernetes-models and, as a second
// opinion beside the committed CRDs (crd-schema.ts), the CRD models of @kubernetes-models/*.
// Those packages are ES modules only, so jest (CommonJS) runs this script in a child process.
// Usage: node validate-manifests.mjs <file with a JSON array of manifests>; prints a JSON array of errors.
import { readFileSync } from 'fs';

const CRD_PACKAGES = {
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'argoproj.io': '@kubernetes-models/argo-rollouts',
  'keda.sh': '@kubernetes-models/keda',
};
// Groups only the committed CRDs validate (no npm model exists).
const CRD_ONLY = new Set(process.argv.slice(3));

function moduleFor(apiVersion) {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return `kubernetes-models/${apiVersion}`; // core group, e.g. "v1"
  const group = apiVersion.slice(0, slash);
  const pkg = CRD_PACKAGES[group] ?? 'kubernetes-models';
  return `${pkg}/${apiVersion}`;
}

const manifests = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const errors = [];
for (const [index, obj] of manifests.entries()) {
  const where = `#${index} ${obj?.apiVersion}/${obj?.kind} ${obj?.metadata?.namespace ?? ''}/${obj?.metadata?.name}`;
  if (typeof obj?.apiVersion !== 'string' || typeof obj?.kind !== 'string') {
    errors.push(`${where}: missing apiVersion or kind`);
    continue;
  }
  if (CRD_ONLY.has(obj.apiVersion.split('/')[0])) continue;
  let mod;
  try {
    mod = await import(moduleFor(obj.apiVersion));
  } catch {
    errors.push(`${where}: unknown apiVersion (no model package for it)`);
    continue;
  }
  const Model = mod[obj.kind];
  if (typeof Model !== 'function') {
    errors.push(`${where}: unknown kind for ${obj.apiVersion}`);
    continue;
  }
  try {
    const model = new Model(obj);
    if (model.apiVersion !== obj.apiVersion || model.kind !== obj.kind) {
      errors.push(`${where}: model is ${model.apiVersion}/${model.kind}`);
      continue;
    }
    model.validate();
  } catch (e) {
    const source = CRD_PACKAGES[obj.apiVersion.split('/')[0]];
    errors.push(`${where}: ${source ? `[${source}] ` : ''}${e.message}`);
  }
}
process.stdout.write(JSON.stringify(errors));
