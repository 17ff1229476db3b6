import { Testing } from 'cdk8s';
import { newChart, ofKind, one, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { EnvironmentProfile, MlopsTags, ValidationError } from 'mlops-constructs';
import { TeamNamespace, TeamNamespaceProps, WorkloadIdentity } from 'mlops-constructs/k8s';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/team-a-workloads';

function build(props: Partial<TeamNamespaceProps> = {}, profile = EnvironmentProfile.prod()) {
  const chart = newChart(profile);
  const ns = new TeamNamespace(chart, 'Team', { team: 'team-a', ...props });
  return { chart, ns, manifests: synth(chart) };
}

describe('TeamNamespace defaults', () => {
  test('namespace is named after the team, enforces Pod Security "restricted" and carries the cost labels', () => {
    const { manifests, ns } = build();
    const namespace = one(manifests, 'Namespace');
    expect(namespace.metadata.name).toBe('team-a');
    expect(ns.namespaceName).toBe('team-a');
    expect(namespace.metadata.labels).toEqual(expect.objectContaining({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'v1.32',
      'mlops-constructs.io/project': 'p',
      'mlops-constructs.io/environment': 'prod',
      'mlops-constructs.io/team': 'team-a',
      'mlops-constructs.io/data-classification': 'internal',
    }));
  });

  test('every namespaced object is in the namespace and labelled with the team', () => {
    const { manifests } = build();
    for (const m of manifests.filter((x) => x.kind !== 'Namespace')) {
      expect(m.metadata.namespace).toBe('team-a');
      expect(m.metadata.labels['mlops-constructs.io/team']).toBe('team-a');
    }
  });

  test('quota covers GPUs, CPU, memory and pods; prod gives 8 GPUs', () => {
    const { manifests, ns } = build();
    expect(one(manifests, 'ResourceQuota').spec.hard).toEqual({
      'requests.nvidia.com/gpu': 8,
      'requests.cpu': 64,
      'limits.cpu': 64,
      'requests.memory': '256Gi',
      'limits.memory': '256Gi',
      'pods': 100,
      // No Service a persona creates can reach outside the cluster.
      'services.loadbalancers': 0,
      'services.nodeports': 0,
    });
    expect(ns.gpuQuota).toBe(8);
  });

  test('dev gives 2 GPUs by default', () => {
    const { manifests, ns } = build({}, EnvironmentProfile.dev());
    expect(one(manifests, 'ResourceQuota').spec.hard['requests.nvidia.com/gpu']).toBe(2);
    expect(ns.gpuQuota).toBe(2);
    expect(one(manifests, 'Namespace').metadata.labels['mlops-constructs.io/environment']).toBe('dev');
  });

  test('LimitRange gives containers default requests and limits', () => {
    const { manifests } = build();
    expect(one(manifests, 'LimitRange').spec.limits).toEqual([{
      type: 'Container',
      defaultRequest: { cpu: '250m', memory: '512Mi' },
      default: { cpu: '1', memory: '2Gi' },
    }]);
  });

  test('network: default deny both ways, DNS to kube-system, same namespace, gateway and monitoring ingress, HTTPS egress without IMDS', () => {
    const { manifests } = build();
    const policies = Object.fromEntries(ofKind(manifests, 'NetworkPolicy').map((p) => [p.metadata.name, p.spec]));
    expect(Object.keys(policies).sort()).toEqual(['allow-dns', 'allow-https-egress', 'allow-inference-gateway', 'allow-monitoring', 'allow-same-namespace', 'default-deny']);
    expect(policies['default-deny']).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(policies['allow-dns'].egress).toEqual([{
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    }]);
    expect(policies['allow-same-namespace']).toEqual({
      podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }], egress: [{ to: [{ podSelector: {} }] }],
    });
    // The Gateway's namespace (Istio, NGINX Gateway Fabric, Envoy Gateway namespaced mode) and Envoy Gateway's default.
    expect(policies['allow-inference-gateway'].ingress).toEqual([{
      from: [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'inference-gateway' } } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'envoy-gateway-system' } } },
      ],
    }]);
    expect(policies['allow-monitoring'].ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] }]);
    expect(policies['allow-https-egress'].egress).toEqual([{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }], ports: [{ protocol: 'TCP', port: 443 }] }]);
  });

  test('four persona Roles, no bindings without groups, no wildcard and no secrets outside the operator', () => {
    const { manifests } = build();
    const roles = Object.fromEntries(ofKind(manifests, 'Role').map((r) => [r.metadata.name, r.rules]));
    expect(Object.keys(roles).sort()).toEqual(['auditor', 'data-scientist', 'ml-engineer', 'platform-operator']);
    expect(ofKind(manifests, 'RoleBinding')).toEqual([]);
    const writes = (rules: { resources: string[]; verbs: string[] }[], resource: string) =>
      rules.some((r) => r.resources.includes(resource) && r.verbs.includes('create'));
    const reads = (rules: { resources: string[]; verbs: string[] }[], resource: string) =>
      rules.some((r) => r.resources.includes(resource) && r.verbs.includes('get'));
    for (const rules of Object.values(roles) as { apiGroups: string[]; resources: string[]; verbs: string[] }[][]) {
      for (const rule of rules) {
        expect(rule.resources).not.toContain('*');
        expect(rule.verbs).not.toContain('*');
        expect(rule.apiGroups).not.toContain('*');
      }
    }
    expect(roles.auditor.flatMap((r: { verbs: string[] }) => r.verbs).filter((v: string) => !['get', 'list', 'watch'].includes(v))).toEqual([]);
    expect(reads(roles.auditor, 'secrets')).toBe(false);
    expect(reads(roles.auditor, 'rolebindings')).toBe(true);
    expect(writes(roles['data-scientist'], 'jobs')).toBe(true);
    expect(writes(roles['data-scientist'], 'deployments')).toBe(false);
    expect(reads(roles['data-scientist'], 'secrets')).toBe(false);
    expect(writes(roles['ml-engineer'], 'deployments')).toBe(true);
    expect(writes(roles['ml-engineer'], 'httproutes')).toBe(true);
    expect(reads(roles['ml-engineer'], 'secrets')).toBe(false);
    expect(writes(roles['platform-operator'], 'secrets')).toBe(true);
    expect(writes(roles['platform-operator'], 'roles')).toBe(false);
    expect(writes(roles['platform-operator'], 'networkpolicies')).toBe(false);
    expect(reads(roles['platform-operator'], 'networkpolicies')).toBe(true);
  });

  test('ServiceAccount "<team>-workloads" without cloud identity and without an automounted API token', () => {
    const { manifests, ns } = build();
    const sa = one(manifests, 'ServiceAccount');
    expect(sa.metadata.name).toBe('team-a-workloads');
    expect(ns.serviceAccountName).toBe('team-a-workloads');
    expect(sa.metadata.annotations).toBeUndefined();
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  test('outside an MlopsChart, explicit tags and profile are used', () => {
    const chart = Testing.chart();
    new TeamNamespace(chart, 'Team', {
      team: 'team-b',
      profile: EnvironmentProfile.dev(),
      tags: MlopsTags.of({ project: 'other', environment: 'dev', costCenter: 'cc-1' }),
    });
    const ns = one(synth(chart), 'Namespace');
    expect(ns.metadata.labels).toEqual(expect.objectContaining({
      'mlops-constructs.io/project': 'other', 'mlops-constructs.io/team': 'team-b', 'mlops-constructs.io/cost-center': 'cc-1',
    }));
    expect(one(Testing.synth(chart), 'ResourceQuota').spec.hard['requests.nvidia.com/gpu']).toBe(2);
  });
});

describe('TeamNamespace options', () => {
  test('IRSA annotates the ServiceAccount with the role ARN and regional STS', () => {
    const { manifests } = build({ identity: WorkloadIdentity.irsa(ROLE_ARN), artifactStoreUri: 's3://team-a-artifacts/models' });
    expect(one(manifests, 'ServiceAccount').metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': ROLE_ARN,
      'eks.amazonaws.com/sts-regional-endpoints': 'true',
      'mlops-constructs.io/artifact-store-uri': 's3://team-a-artifacts/models',
    });
    expect(ofKind(manifests, 'NetworkPolicy', 'allow-pod-identity-agent')).toEqual([]);
  });

  test('Pod Identity records the role and opens egress to the Pod Identity agent only', () => {
    const { manifests } = build({ identity: WorkloadIdentity.podIdentity(ROLE_ARN) });
    const annotations = one(manifests, 'ServiceAccount').metadata.annotations;
    expect(annotations).toEqual({ 'mlops-constructs.io/pod-identity-role-arn': ROLE_ARN });
    expect(one(manifests, 'NetworkPolicy', 'allow-pod-identity-agent').spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '169.254.170.23/32' } }, { ipBlock: { cidr: 'fd00:ec2::23/128' } }], ports: [{ protocol: 'TCP', port: 80 }] },
    ]);
  });

  test('groups are bound to their persona Role', () => {
    const { manifests } = build({
      access: { dataScientists: ['ds-1', 'ds-2'], mlEngineers: ['mle'], platformOperators: ['ops'], auditors: ['audit'] },
    });
    const bindings = Object.fromEntries(ofKind(manifests, 'RoleBinding').map((b) => [b.metadata.name, b]));
    expect(Object.keys(bindings).sort()).toEqual(['auditor', 'data-scientist', 'ml-engineer', 'platform-operator']);
    expect(bindings['data-scientist'].roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'data-scientist' });
    expect(bindings['data-scientist'].subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'ds-1' },
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'ds-2' },
    ]);
    expect(bindings.auditor.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'audit' }]);
  });

  test('quota, container defaults, names, gateway and monitoring namespaces and HTTPS egress can be set', () => {
    const { manifests, ns } = build({
      namespaceName: 'team-a-prod',
      serviceAccountName: 'runner',
      quota: { gpus: 0, cpu: 8, memoryGiB: 32, pods: 10 },
      containerDefaults: { cpuRequest: '100m', memoryRequest: '128Mi', cpuLimit: '500m', memoryLimit: '1Gi' },
      gatewayNamespace: 'edge',
      monitoringNamespace: 'observability',
      allowHttpsEgress: false,
    });
    expect(one(manifests, 'Namespace').metadata.name).toBe('team-a-prod');
    expect(one(manifests, 'ServiceAccount').metadata.name).toBe('runner');
    expect(ns.gatewayNamespace).toBe('edge');
    expect(one(manifests, 'ResourceQuota').spec.hard).toEqual({
      'requests.nvidia.com/gpu': 0,
      'requests.cpu': 8,
      'limits.cpu': 8,
      'requests.memory': '32Gi',
      'limits.memory': '32Gi',
      'pods': 10,
      'services.loadbalancers': 0,
      'services.nodeports': 0,
    });
    expect(one(manifests, 'LimitRange').spec.limits[0]).toEqual({
      type: 'Container', defaultRequest: { cpu: '100m', memory: '128Mi' }, default: { cpu: '500m', memory: '1Gi' },
    });
    expect(one(manifests, 'NetworkPolicy', 'allow-inference-gateway').spec.ingress[0].from.map((p: { namespaceSelector: { matchLabels: object } }) => p.namespaceSelector.matchLabels))
      .toEqual([{ 'kubernetes.io/metadata.name': 'edge' }, { 'kubernetes.io/metadata.name': 'envoy-gateway-system' }]);
    expect(one(manifests, 'NetworkPolicy', 'allow-monitoring').spec.ingress[0].from[0].namespaceSelector.matchLabels)
      .toEqual({ 'kubernetes.io/metadata.name': 'observability' });
    expect(ofKind(manifests, 'NetworkPolicy', 'allow-https-egress')).toEqual([]);
  });
});

describe('TeamNamespace bad input', () => {
  const cases: [string, Partial<TeamNamespaceProps>, RegExp][] = [
    ['team with upper case', { team: 'Team_A' }, /'team'.*lower-case/],
    ['namespaceName too long', { namespaceName: `a${'b'.repeat(70)}` }, /'namespaceName'/],
    ['negative GPU quota', { quota: { gpus: -1 } }, /'quota.gpus'.*Fix: set 'quota.gpus' to 0 or more/],
    ['fractional CPU quota', { quota: { cpu: 1.5 } }, /'quota.cpu'/],
    ['zero memory quota', { quota: { memoryGiB: 0 } }, /'quota.memoryGiB'/],
    ['pods quota too high', { quota: { pods: 20000 } }, /'quota.pods'.*between 1 and 10000/],
    ['bad CPU default', { containerDefaults: { cpuRequest: 'lots' } }, /'containerDefaults.cpuRequest'.*Kubernetes quantity/],
    ['bad memory limit default', { containerDefaults: { memoryLimit: '2 GB' } }, /'containerDefaults.memoryLimit'/],
    ['empty group name', { access: { auditors: [''] } }, /'access.auditors\[0\]'.*group name/],
    ['bad artifact store URI', { artifactStoreUri: 'https://bucket' }, /'artifactStoreUri'.*S3 URI/],
    ['bad gateway namespace', { gatewayNamespace: 'Edge Gateway' }, /'gatewayNamespace'/],
    ['bad service account name', { serviceAccountName: 'Runner!' }, /'serviceAccountName'/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(() => build(props)).toThrow(ValidationError);
    expect(() => build(props)).toThrow(message);
  });

  test('missing tags outside an MlopsChart names the prop and the fix', () => {
    expect(() => new TeamNamespace(Testing.chart(), 'Team', { team: 'x' })).toThrow(/'tags' is required outside an MlopsChart.*Fix: put the namespace in an MlopsChart/);
  });

  test.each([
    ['IRSA', () => WorkloadIdentity.irsa('arn:aws:iam::123:role/x'), /'identity.irsa.roleArn'.*IAM role ARN/],
    ['Pod Identity', () => WorkloadIdentity.podIdentity(''), /'identity.podIdentity.roleArn' is required/],
  ])('invalid %s role ARN', (_name, make, message) => {
    expect(make).toThrow(message);
  });
});

validatesEverySynthesizedManifest();
