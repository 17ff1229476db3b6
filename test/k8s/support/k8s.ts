import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { CrdSchemas } from './crd-schema';
import { EnvironmentProfile } from 'mlops-constructs';
import { MlopsChart } from 'mlops-constructs/k8s';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Manifest = any;

/** A fresh MlopsChart in a fresh app. */
export function newChart(profile: EnvironmentProfile = EnvironmentProfile.prod(), project = 'p'): MlopsChart {
  return new MlopsChart(Testing.app(), 'test', { profile, project });
}

const recorded: Manifest[] = [];

/** `Testing.synth`, remembering the manifests for the file's closing schema test. */
export function synth(chart: Chart): Manifest[] {
  const manifests = Testing.synth(chart);
  recorded.push(...manifests);
  return manifests;
}

/** Manifests of one kind (and name, if given). */
export function ofKind(manifests: Manifest[], kind: string, name?: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata?.name === name));
}

/** The only manifest of a kind (and name); fails when there is not exactly one. */
export function one(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = ofKind(manifests, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ''}, found ${found.length}`);
  return found[0];
}

let crds: CrdSchemas | undefined;

/** The committed CRDs' schemas, compiled once per test file. */
export function crdSchemas(): CrdSchemas {
  return (crds ??= CrdSchemas.load());
}

/**
 * Validates manifests: core objects against the Kubernetes 1.32 schemas (kubernetes-models), custom objects against
 * the `openAPIV3Schema` of the CRD committed in lib/k8s/crds/ (and, where an npm model exists, that model too).
 * Returns one message per problem; an object of an unknown API group or kind is a problem.
 */
export function schemaErrors(manifests: Manifest[]): string[] {
  const schemas = crdSchemas();
  const errors: string[] = [];
  manifests.forEach((obj, index) => {
    const group = typeof obj?.apiVersion === 'string' && obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
    if (!schemas.groups().includes(group)) return;
    const where = `#${index} ${obj.apiVersion}/${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
    errors.push(...schemas.errors(obj).map((e) => `${where}: ${e}`));
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-k8s-schema-'));
  const file = path.join(dir, 'manifests.json');
  fs.writeFileSync(file, JSON.stringify(manifests));
  const result = spawnSync(process.execPath, [path.join(__dirname, 'validate-manifests.mjs'), file, ...CRD_ONLY_GROUPS], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (result.status !== 0) throw new Error(`schema validator failed: ${result.stderr}`);
  errors.push(...JSON.parse(result.stdout));
  // One order for both validators: by object index.
  return errors.sort((a, b) => Number(/^#(\d+)/.exec(a)?.[1]) - Number(/^#(\d+)/.exec(b)?.[1]));
}

/** CRD groups without an npm model: only the committed CRD validates them. */
const CRD_ONLY_GROUPS = ['kueue.x-k8s.io'];

/**
 * Declares the closing test of a file: every manifest its tests synthesized through `synth()` is valid.
 * Call at the end of the file (jest runs tests in declaration order).
 */
export function validatesEverySynthesizedManifest(): void {
  test('every manifest synthesized in this file validates against the Kubernetes 1.32 schemas and the committed CRDs', () => {
    expect(recorded.length).toBeGreaterThan(0);
    expect(schemaErrors(recorded)).toEqual([]);
  });
}

/** Pod specs of every workload (Deployment, Job, StatefulSet, DaemonSet, Pod, CronJob). */
export function podSpecs(manifests: Manifest[]): { owner: string; spec: Manifest }[] {
  const out: { owner: string; spec: Manifest }[] = [];
  for (const m of manifests) {
    const owner = `${m.kind}/${m.metadata?.name}`;
    if (m.kind === 'Pod') out.push({ owner, spec: m.spec });
    else if (m.kind === 'CronJob') out.push({ owner, spec: m.spec?.jobTemplate?.spec?.template?.spec });
    else if (m.spec?.template?.spec) out.push({ owner, spec: m.spec.template.spec });
  }
  return out;
}

/**
 * What the restricted profile (plus our own rules) demands of a pod, as a list of violations: non-root,
 * no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, read-only root filesystem,
 * every writable path a declared volume, requests and limits for CPU and memory on every container, GPU
 * limits equal to requests.
 */
export function restrictedViolations(owner: string, spec: Manifest): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  const volumes = new Set((spec.volumes ?? []).map((v: Manifest) => v.name));
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push(`${owner}: uses host namespaces`);
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const where = `${owner}/${c.name}`;
    const sc = c.securityContext ?? {};
    const runAsNonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
    const runAsUser = sc.runAsUser ?? pod.runAsUser;
    if (runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot is not true`);
    if (runAsUser === 0) problems.push(`${where}: runs as UID 0`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) problems.push(`${where}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: does not drop ALL capabilities`);
    if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${where}: adds capabilities`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault') problems.push(`${where}: seccomp profile is ${seccomp}, not RuntimeDefault`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: root filesystem is writable`);
    for (const mount of c.volumeMounts ?? []) {
      if (!volumes.has(mount.name)) problems.push(`${where}: mounts undeclared volume ${mount.name}`);
    }
    const { requests = {}, limits = {} } = c.resources ?? {};
    for (const r of ['cpu', 'memory']) {
      if (requests[r] === undefined) problems.push(`${where}: no ${r} request`);
      if (limits[r] === undefined) problems.push(`${where}: no ${r} limit`);
    }
    if (String(limits['nvidia.com/gpu'] ?? '') !== String(requests['nvidia.com/gpu'] ?? limits['nvidia.com/gpu'] ?? '')) {
      problems.push(`${where}: GPU request differs from the limit`);
    }
  }
  return problems;
}
