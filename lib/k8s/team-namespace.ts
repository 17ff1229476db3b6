import { k8s } from 'cdk8s-plus-32';
import { Construct } from 'constructs';
import { EnvironmentProfile, MlopsTags, ValidationError } from '../core';
import { ENVOY_GATEWAY_NAMESPACE, GatewayTraffic } from './gateway-traffic';
import { LocalQueueV1Beta2 } from './imports/kueue-localqueues-kueue.x-k8s.io';
import { checkName } from './private/names';
import { checkQuantity, GPU_RESOURCE } from './private/pod-security';
import { checkFor, profileOf, tagsOf } from './private/scope';
import { WorkloadIdentity, WorkloadIdentityKind } from './workload-identity';

/** Namespace of the shared inference gateway unless told otherwise. */
export const DEFAULT_GATEWAY_NAMESPACE = 'inference-gateway';
/** Namespace Prometheus runs in unless told otherwise. */
export const DEFAULT_MONITORING_NAMESPACE = 'monitoring';
/** Kubernetes version the Pod Security labels pin. */
export const POD_SECURITY_VERSION = 'v1.32';

/** What a team may consume in its namespace. */
export interface TeamQuota {
  /**
   * NVIDIA GPUs requested at once (`requests.nvidia.com/gpu`).
   * @default - 2 when the profile allows destroying data (dev), 8 otherwise
   */
  readonly gpus?: number;
  /**
   * CPU cores requested at once (`requests.cpu`; `limits.cpu` is the same).
   * @default 64
   */
  readonly cpu?: number;
  /**
   * Memory requested at once, in GiB (`requests.memory`; `limits.memory` is the same).
   * @default 256
   */
  readonly memoryGiB?: number;
  /**
   * Pods at once.
   * @default 100
   */
  readonly pods?: number;
  /**
   * Services of type LoadBalancer (each one a cloud load balancer, reachable from outside the cluster). Inference
   * services are reached through the shared Gateway instead, which is why persona Roles may create Services.
   * @default 0
   */
  readonly loadBalancers?: number;
}

/** Kueue admission for the team's jobs: a LocalQueue in the namespace pointing at a ClusterQueue. */
export interface KueueQueue {
  /** The ClusterQueue (cluster-scoped, owned by the platform team) the LocalQueue submits to. */
  readonly clusterQueue: string;
  /**
   * Name of the LocalQueue. Kueue puts jobs that name no queue in a LocalQueue called `default` (LocalQueue
   * defaulting, on by default since Kueue 0.13), so jobs submitted by hand are admitted the same way.
   * @default 'default'
   */
  readonly name?: string;
}

/** Requests and limits a container gets when it declares none (LimitRange). */
export interface ContainerDefaults {
  /** @default '250m' */
  readonly cpuRequest?: string;
  /** @default '512Mi' */
  readonly memoryRequest?: string;
  /** @default '1' */
  readonly cpuLimit?: string;
  /** @default '2Gi' */
  readonly memoryLimit?: string;
}

/** Identity-provider groups bound to each persona's Role. */
export interface TeamAccess {
  /**
   * Read workloads and logs; run and delete training jobs; manage config maps and volume claims.
   * @default - no binding
   */
  readonly dataScientists?: string[];
  /**
   * Everything a data scientist may do, plus deploy and scale inference services, routes and monitoring.
   * @default - no binding
   */
  readonly mlEngineers?: string[];
  /**
   * Everything an ML engineer may do, plus secrets and deleting or evicting pods; RBAC, quotas and network
   * policies stay read-only (they belong to this construct).
   * @default - no binding
   */
  readonly platformOperators?: string[];
  /**
   * Read-only on everything except secrets.
   * @default - no binding
   */
  readonly auditors?: string[];
}

export interface TeamNamespaceProps {
  /** Team name: lower-case letters, digits and hyphens. Used for the `team` label and the default namespace name. */
  readonly team: string;
  /**
   * Namespace name.
   * @default - the team name
   */
  readonly namespaceName?: string;
  /**
   * Profile the defaults come from.
   * @default - the profile of the enclosing `MlopsChart`, or `EnvironmentProfile.prod()` outside one
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Cost-allocation tags rendered as labels; the team is set to `team`.
   * @default - the tags of the enclosing `MlopsChart` (required outside one)
   */
  readonly tags?: MlopsTags;
  /**
   * ResourceQuota of the namespace.
   * @default - see `TeamQuota`
   */
  readonly quota?: TeamQuota;
  /**
   * LimitRange defaults for containers that declare no resources.
   * @default - see `ContainerDefaults`
   */
  readonly containerDefaults?: ContainerDefaults;
  /**
   * Groups bound to the persona Roles.
   * @default - Roles are created, no group is bound
   */
  readonly access?: TeamAccess;
  /**
   * Cloud identity of the team's ServiceAccount, which reaches the artifact store.
   * @default - no cloud identity (the ServiceAccount gets no AWS credentials)
   */
  readonly identity?: WorkloadIdentity;
  /**
   * Name of the ServiceAccount workloads run as.
   * @default '<team>-workloads'
   */
  readonly serviceAccountName?: string;
  /**
   * Artifact store URI (`s3://bucket/prefix`) recorded on the ServiceAccount for workloads to read.
   * @default - none recorded
   */
  readonly artifactStoreUri?: string;
  /**
   * Namespace of the Gateway API `Gateway` the team's routes attach to (their `parentRefs`).
   * @default 'inference-gateway'
   */
  readonly gatewayNamespace?: string;
  /**
   * Where the gateway's traffic comes from, for the NetworkPolicy that lets it in. Implementations differ (see
   * `GatewayTraffic`); the default covers those whose proxies run in the Gateway's namespace (Istio, NGINX Gateway
   * Fabric, Envoy Gateway's namespaced mode) and Envoy Gateway's default `envoy-gateway-system`.
   * @default - [GatewayTraffic.fromNamespace(gatewayNamespace), GatewayTraffic.envoyGateway()]
   */
  readonly gatewayTraffic?: GatewayTraffic[];
  /**
   * Kueue admission: a LocalQueue, and every `GpuTrainingJob` in the namespace labelled with it, so a distributed
   * job is admitted whole (all its GPUs) or waits, instead of holding some GPUs while its other workers are Pending.
   * Needs Kueue 0.15 or later (API `kueue.x-k8s.io/v1beta2`).
   * @default - no queue (jobs start when their pods can be scheduled)
   */
  readonly queue?: KueueQueue;
  /**
   * Namespace of Prometheus, allowed to scrape the team's pods.
   * @default 'monitoring'
   */
  readonly monitoringNamespace?: string;
  /**
   * Whether pods may open HTTPS (TCP 443) connections outside the cluster, e.g. to S3, STS and ECR.
   * The instance metadata address stays blocked.
   * @default true
   */
  readonly allowHttpsEgress?: boolean;
}

const READ = ['get', 'list', 'watch'];
const WRITE = [...READ, 'create', 'update', 'patch', 'delete'];

interface Grant { readonly apiGroup: string; readonly resources: string[]; readonly verbs: string[] }

const WORKLOAD_READ: Grant[] = [
  { apiGroup: '', resources: ['pods', 'pods/log', 'services', 'endpoints', 'configmaps', 'persistentvolumeclaims', 'events'], verbs: READ },
  { apiGroup: 'apps', resources: ['deployments', 'replicasets'], verbs: READ },
  { apiGroup: 'batch', resources: ['jobs', 'cronjobs'], verbs: READ },
  { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: READ },
  { apiGroup: 'policy', resources: ['poddisruptionbudgets'], verbs: READ },
  { apiGroup: 'gateway.networking.k8s.io', resources: ['httproutes', 'grpcroutes'], verbs: READ },
  { apiGroup: 'monitoring.coreos.com', resources: ['servicemonitors', 'prometheusrules'], verbs: READ },
  { apiGroup: 'argoproj.io', resources: ['rollouts', 'analysistemplates', 'analysisruns', 'experiments'], verbs: READ },
  { apiGroup: 'keda.sh', resources: ['scaledobjects'], verbs: READ },
  { apiGroup: 'kueue.x-k8s.io', resources: ['localqueues', 'workloads'], verbs: READ },
];
const GOVERNANCE_READ: Grant[] = [
  { apiGroup: '', resources: ['serviceaccounts', 'resourcequotas', 'limitranges'], verbs: READ },
  { apiGroup: 'networking.k8s.io', resources: ['networkpolicies'], verbs: READ },
  { apiGroup: 'rbac.authorization.k8s.io', resources: ['roles', 'rolebindings'], verbs: READ },
];
const DATA_SCIENTIST: Grant[] = [
  ...WORKLOAD_READ,
  // A distributed GpuTrainingJob brings a headless Service and a PodDisruptionBudget; the quota allows no
  // LoadBalancer or NodePort Services, so creating Services exposes nothing outside the cluster.
  { apiGroup: '', resources: ['configmaps', 'persistentvolumeclaims', 'services'], verbs: WRITE },
  { apiGroup: 'batch', resources: ['jobs'], verbs: WRITE },
  { apiGroup: 'policy', resources: ['poddisruptionbudgets'], verbs: WRITE },
];
const ML_ENGINEER: Grant[] = [
  ...DATA_SCIENTIST,
  { apiGroup: 'apps', resources: ['deployments'], verbs: WRITE },
  { apiGroup: 'batch', resources: ['cronjobs'], verbs: WRITE },
  { apiGroup: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: WRITE },
  { apiGroup: 'gateway.networking.k8s.io', resources: ['httproutes', 'grpcroutes'], verbs: WRITE },
  { apiGroup: 'monitoring.coreos.com', resources: ['servicemonitors', 'prometheusrules'], verbs: WRITE },
  { apiGroup: 'argoproj.io', resources: ['rollouts', 'analysistemplates'], verbs: WRITE },
  // Promoting or aborting a rollout (kubectl argo rollouts promote/abort) patches its status.
  { apiGroup: 'argoproj.io', resources: ['rollouts/status'], verbs: ['get', 'update', 'patch'] },
  { apiGroup: 'keda.sh', resources: ['scaledobjects'], verbs: WRITE },
];
const PLATFORM_OPERATOR: Grant[] = [
  ...ML_ENGINEER,
  ...GOVERNANCE_READ,
  { apiGroup: '', resources: ['secrets'], verbs: WRITE },
  { apiGroup: '', resources: ['pods'], verbs: ['delete'] },
  { apiGroup: '', resources: ['pods/eviction'], verbs: ['create'] },
];
const AUDITOR: Grant[] = [...WORKLOAD_READ, ...GOVERNANCE_READ];

/** The persona Roles a TeamNamespace creates, by Role name. */
export const TEAM_PERSONAS = Object.freeze({
  'data-scientist': 'dataScientists',
  'ml-engineer': 'mlEngineers',
  'platform-operator': 'platformOperators',
  'auditor': 'auditors',
} as const);

const PERSONA_GRANTS: Record<keyof typeof TEAM_PERSONAS, Grant[]> = {
  'data-scientist': DATA_SCIENTIST,
  'ml-engineer': ML_ENGINEER,
  'platform-operator': PLATFORM_OPERATOR,
  'auditor': AUDITOR,
};

/**
 * A team's namespace on a shared GPU cluster: Pod Security "restricted", quotas including GPUs, default
 * container resources, default-deny networking with the few flows a team needs, persona Roles bound to
 * identity-provider groups, and a ServiceAccount with a cloud identity for the artifact store.
 *
 * @example
 * new TeamNamespace(chart, 'Fraud', {
 *   team: 'fraud',
 *   quota: { gpus: 8 },
 *   access: { dataScientists: ['fraud-ds'], auditors: ['audit'] },
 *   identity: WorkloadIdentity.irsa('arn:aws:iam::123456789012:role/fraud-workloads'),
 * });
 */
export class TeamNamespace extends Construct {
  /** Whether `x` is a TeamNamespace (works across copies of the library). */
  public static isTeamNamespace(x: unknown): x is TeamNamespace {
    return typeof x === 'object' && x !== null && TEAM_NAMESPACE in x;
  }

  public readonly team: string;
  public readonly namespaceName: string;
  public readonly serviceAccountName: string;
  /** GPUs the quota allows at once. */
  public readonly gpuQuota: number;
  public readonly profile: EnvironmentProfile;
  public readonly tags: MlopsTags;
  /** Labels every object of the team carries. */
  public readonly labels: Record<string, string>;
  public readonly identity?: WorkloadIdentity;
  /** Namespace of the Gateway the team's routes attach to. */
  public readonly gatewayNamespace: string;
  /** CPU cores the quota allows at once. */
  public readonly cpuQuota: number;
  /** Memory the quota allows at once, in GiB. */
  public readonly memoryQuotaGiB: number;
  /** Name of the Kueue LocalQueue, when the namespace has one. */
  public readonly queueName?: string;
  private readonly claims: CapacityClaim[] = [];

  constructor(scope: Construct, id: string, props: TeamNamespaceProps) {
    super(scope, id);
    props = props ?? {};
    Object.defineProperty(this, TEAM_NAMESPACE, { value: true });
    const check = checkFor(this);
    this.profile = props.profile ?? profileOf(this);
    if (props?.team === undefined) check.fail('team', undefined, 'is required', 'give the team name, e.g. \'fraud\'.');
    this.team = checkName(check, 'team', props.team, 40)!;
    this.namespaceName = checkName(check, 'namespaceName', props.namespaceName, 63) ?? this.team;
    const baseTags = props.tags ?? tagsOf(this);
    if (!baseTags) {
      throw new ValidationError({
        scope: this.node.path,
        prop: 'tags',
        value: undefined,
        problem: 'is required outside an MlopsChart',
        fix: "put the namespace in an MlopsChart or pass 'tags: MlopsTags.of({ project, environment })'.",
      });
    }
    this.tags = baseTags.with({ team: this.team }, this.node.path);
    this.labels = this.tags.toKubernetesLabels();
    this.serviceAccountName = checkName(check, 'serviceAccountName', props.serviceAccountName, 63) ?? `${this.team}-workloads`;
    this.identity = props.identity;

    const quota = props.quota ?? {};
    this.gpuQuota = check.nonNegativeInteger('quota.gpus', quota.gpus) ?? (this.profile.allowDestroy ? 2 : 8);
    const cpu = this.cpuQuota = check.positiveInteger('quota.cpu', quota.cpu) ?? 64;
    const memoryGiB = this.memoryQuotaGiB = check.positiveInteger('quota.memoryGiB', quota.memoryGiB) ?? 256;
    const pods = check.integerInRange('quota.pods', quota.pods, 1, 10000) ?? 100;
    const loadBalancers = check.integerInRange('quota.loadBalancers', quota.loadBalancers, 0, 100) ?? 0;
    const defaults = props.containerDefaults ?? {};
    const limitDefaults = {
      cpuRequest: checkQuantity(check, 'containerDefaults.cpuRequest', defaults.cpuRequest) ?? '250m',
      memoryRequest: checkQuantity(check, 'containerDefaults.memoryRequest', defaults.memoryRequest) ?? '512Mi',
      cpuLimit: checkQuantity(check, 'containerDefaults.cpuLimit', defaults.cpuLimit) ?? '1',
      memoryLimit: checkQuantity(check, 'containerDefaults.memoryLimit', defaults.memoryLimit) ?? '2Gi',
    };
    const gatewayNamespace = this.gatewayNamespace = checkName(check, 'gatewayNamespace', props.gatewayNamespace, 63) ?? DEFAULT_GATEWAY_NAMESPACE;
    const monitoringNamespace = checkName(check, 'monitoringNamespace', props.monitoringNamespace, 63) ?? DEFAULT_MONITORING_NAMESPACE;
    if (props.gatewayTraffic !== undefined && (!Array.isArray(props.gatewayTraffic) || props.gatewayTraffic.length === 0
      || props.gatewayTraffic.some((t) => !Array.isArray((t as GatewayTraffic)?.peers)))) {
      check.fail('gatewayTraffic', props.gatewayTraffic, 'must be a non-empty list of GatewayTraffic', 'use e.g. [GatewayTraffic.envoyGateway()] or [GatewayTraffic.fromCidrs([vpcCidr])].');
    }
    const gatewayTraffic = props.gatewayTraffic ?? (gatewayNamespace === ENVOY_GATEWAY_NAMESPACE
      ? [GatewayTraffic.envoyGateway()]
      : [GatewayTraffic.fromNamespace(gatewayNamespace), GatewayTraffic.envoyGateway()]);
    if (props.queue !== undefined) {
      if (!props.queue?.clusterQueue) check.fail('queue.clusterQueue', props.queue?.clusterQueue, 'is required', 'name the ClusterQueue the platform team set up for GPU jobs.');
      checkName(check, 'queue.clusterQueue', props.queue.clusterQueue, 63);
      this.queueName = checkName(check, 'queue.name', props.queue.name, 63) ?? 'default';
    }
    if (props.artifactStoreUri !== undefined) {
      check.matches('artifactStoreUri', props.artifactStoreUri, /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, "an S3 URI such as 's3://bucket/prefix'");
    }
    const access = props.access ?? {};
    for (const field of Object.values(TEAM_PERSONAS)) {
      (access[field] ?? []).forEach((group, i) => {
        if (typeof group !== 'string' || group.trim() === '') {
          check.fail(`access.${field}[${i}]`, group, 'must be a non-empty group name', 'use the group name your identity provider puts in the token, e.g. "fraud-data-scientists".');
        }
      });
    }

    const metadata = (name: string) => ({ name, namespace: this.namespaceName, labels: this.labels });

    new k8s.KubeNamespace(this, 'Resource', {
      metadata: {
        name: this.namespaceName,
        labels: {
          ...this.labels,
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': POD_SECURITY_VERSION,
          'pod-security.kubernetes.io/audit': 'restricted',
          'pod-security.kubernetes.io/audit-version': POD_SECURITY_VERSION,
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/warn-version': POD_SECURITY_VERSION,
        },
      },
    });

    new k8s.KubeResourceQuota(this, 'Quota', {
      metadata: metadata('team-quota'),
      spec: {
        hard: {
          [`requests.${GPU_RESOURCE}`]: k8s.Quantity.fromNumber(this.gpuQuota),
          'requests.cpu': k8s.Quantity.fromNumber(cpu),
          'limits.cpu': k8s.Quantity.fromNumber(cpu),
          'requests.memory': k8s.Quantity.fromString(`${memoryGiB}Gi`),
          'limits.memory': k8s.Quantity.fromString(`${memoryGiB}Gi`),
          'pods': k8s.Quantity.fromNumber(pods),
          'services.loadbalancers': k8s.Quantity.fromNumber(loadBalancers),
          'services.nodeports': k8s.Quantity.fromNumber(0),
        },
      },
    });

    new k8s.KubeLimitRange(this, 'LimitRange', {
      metadata: metadata('container-defaults'),
      spec: {
        limits: [{
          type: 'Container',
          defaultRequest: { cpu: k8s.Quantity.fromString(limitDefaults.cpuRequest), memory: k8s.Quantity.fromString(limitDefaults.memoryRequest) },
          default: { cpu: k8s.Quantity.fromString(limitDefaults.cpuLimit), memory: k8s.Quantity.fromString(limitDefaults.memoryLimit) },
        }],
      },
    });

    this.addNetworkPolicies(metadata, gatewayTraffic, monitoringNamespace, props.allowHttpsEgress ?? true);

    if (this.queueName !== undefined) {
      new LocalQueueV1Beta2(this, 'Queue', { metadata: metadata(this.queueName), spec: { clusterQueue: props.queue!.clusterQueue } });
    }

    const annotations: Record<string, string> = {};
    if (props.identity?.kind === WorkloadIdentityKind.IRSA) {
      annotations['eks.amazonaws.com/role-arn'] = props.identity.roleArn;
      annotations['eks.amazonaws.com/sts-regional-endpoints'] = 'true';
    } else if (props.identity?.kind === WorkloadIdentityKind.POD_IDENTITY) {
      annotations['mlops-constructs.io/pod-identity-role-arn'] = props.identity.roleArn;
    }
    if (props.artifactStoreUri) annotations['mlops-constructs.io/artifact-store-uri'] = props.artifactStoreUri;
    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { ...metadata(this.serviceAccountName), annotations },
      // Cloud credentials arrive through the identity webhook's own projected token, not the API token.
      automountServiceAccountToken: false,
    });

    for (const [roleName, field] of Object.entries(TEAM_PERSONAS) as [keyof typeof TEAM_PERSONAS, keyof TeamAccess][]) {
      const role = new k8s.KubeRole(this, `Role-${roleName}`, {
        metadata: metadata(roleName),
        rules: mergeGrants(PERSONA_GRANTS[roleName]),
      });
      const groups = access[field] ?? [];
      if (groups.length > 0) {
        new k8s.KubeRoleBinding(this, `Binding-${roleName}`, {
          metadata: metadata(roleName),
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
          subjects: groups.map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name })),
        });
      }
    }
  }

  /**
   * Records what a workload can hold at once (its largest scale, surge included) and throws a ValidationError
   * naming every workload of the namespace when their sum passes the quota: the ResourceQuota would refuse pods
   * of whichever workload scales last, or leave a distributed job half-scheduled.
   * @param requester the workload, for the message
   */
  public claimCapacity(requester: string, claim: CapacityClaimRequest): void {
    this.claims.push({ requester, ...claim });
    const checks: [keyof CapacityClaimRequest, number, string, string][] = [
      ['gpus', this.gpuQuota, 'GPUs', 'quota.gpus'],
      ['cpu', this.cpuQuota, 'CPU cores', 'quota.cpu'],
      ['memoryGiB', this.memoryQuotaGiB, 'GiB of memory', 'quota.memoryGiB'],
    ];
    for (const [field, quota, unit, quotaProp] of checks) {
      const total = this.claims.reduce((sum, c) => sum + (c[field] as number), 0);
      if (total <= quota + 1e-9) continue;
      const round = (n: number) => Math.round(n * 100) / 100;
      const workloads = this.claims.filter((c) => (c[field] as number) > 0)
        .map((c) => `${c.requester} (${c.description}: ${round(c[field] as number)} ${unit})`).join(', ');
      throw new ValidationError({
        scope: requester,
        prop: claim.prop,
        value: claim[field],
        problem: `brings the ${unit} namespace '${this.namespaceName}' can need at once to ${round(total)}, more than its quota of ${quota}: ${workloads}`,
        fix: `raise '${quotaProp}' of TeamNamespace '${this.node.path}' to at least ${Math.ceil(total)}, or lower the workloads' size or maximum replicas.`,
      });
    }
  }

  /** What workloads of the namespace claimed so far. */
  public get capacityClaims(): readonly CapacityClaim[] {
    return this.claims.map((c) => ({ ...c }));
  }

  private addNetworkPolicies(
    metadata: (name: string) => k8s.ObjectMeta,
    gatewayTraffic: GatewayTraffic[],
    monitoringNamespace: string,
    allowHttpsEgress: boolean,
  ): void {
    const inNamespace = (name: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': name } });
    const tcp = (port: number) => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) });
    new k8s.KubeNetworkPolicy(this, 'DefaultDeny', {
      metadata: metadata('default-deny'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new k8s.KubeNetworkPolicy(this, 'AllowDns', {
      metadata: metadata('allow-dns'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{
          to: [{ namespaceSelector: inNamespace('kube-system'), podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [{ protocol: 'UDP', port: k8s.IntOrString.fromNumber(53) }, tcp(53)],
        }],
      },
    });
    new k8s.KubeNetworkPolicy(this, 'AllowSameNamespace', {
      metadata: metadata('allow-same-namespace'),
      spec: {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      },
    });
    new k8s.KubeNetworkPolicy(this, 'AllowGateway', {
      metadata: metadata('allow-inference-gateway'),
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: gatewayTraffic.flatMap((t) => t.peers) }] },
    });
    new k8s.KubeNetworkPolicy(this, 'AllowMonitoring', {
      metadata: metadata('allow-monitoring'),
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: inNamespace(monitoringNamespace) }] }] },
    });
    if (allowHttpsEgress) {
      new k8s.KubeNetworkPolicy(this, 'AllowHttpsEgress', {
        metadata: metadata('allow-https-egress'),
        spec: {
          podSelector: {},
          policyTypes: ['Egress'],
          // S3, STS and ECR endpoints; the instance metadata service stays out of reach of pods.
          egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }], ports: [tcp(443)] }],
        },
      });
    }
    if (this.identity?.kind === WorkloadIdentityKind.POD_IDENTITY) {
      new k8s.KubeNetworkPolicy(this, 'AllowPodIdentityAgent', {
        metadata: metadata('allow-pod-identity-agent'),
        spec: {
          podSelector: {},
          policyTypes: ['Egress'],
          // The EKS Pod Identity agent serves credentials on the node at these link-local addresses (IPv4 and IPv6
          // clusters). CNIs that see the host network as an entity (Cilium) need their own policy for it.
          egress: [{ to: [{ ipBlock: { cidr: '169.254.170.23/32' } }, { ipBlock: { cidr: 'fd00:ec2::23/128' } }], ports: [tcp(80)] }],
        },
      });
    }
  }
}

const TEAM_NAMESPACE = Symbol.for('mlops-constructs.TeamNamespace');

/** What a workload can hold at once, for the namespace total. */
export interface CapacityClaimRequest {
  /** The workload's prop that sets the size, for the message (e.g. `maxReplicas`). */
  readonly prop: string;
  readonly gpus: number;
  readonly cpu: number;
  readonly memoryGiB: number;
  /** How the numbers came about, e.g. `2 variants x (10 + 1 surge) replicas`. */
  readonly description: string;
}

/** A recorded claim. */
export interface CapacityClaim extends CapacityClaimRequest {
  /** Construct path of the workload. */
  readonly requester: string;
}

/** One PolicyRule per API group and verb set, resources merged, so Roles stay short and readable. */
function mergeGrants(grants: Grant[]): k8s.PolicyRule[] {
  const byKey = new Map<string, { apiGroup: string; verbs: string[]; resources: Set<string> }>();
  for (const g of grants) {
    // A resource granted WRITE somewhere is dropped from the READ rule of the same group.
    for (const r of g.resources) {
      for (const other of byKey.values()) {
        if (other.apiGroup === g.apiGroup && other.resources.has(r) && other.verbs.every((v) => g.verbs.includes(v))) other.resources.delete(r);
      }
    }
    const key = `${g.apiGroup}|${g.verbs.join(',')}`;
    const entry = byKey.get(key) ?? { apiGroup: g.apiGroup, verbs: g.verbs, resources: new Set<string>() };
    g.resources.forEach((r) => entry.resources.add(r));
    byKey.set(key, entry);
  }
  return [...byKey.values()]
    .filter((e) => e.resources.size > 0)
    .map((e) => ({ apiGroups: [e.apiGroup], resources: [...e.resources].sort(), verbs: e.verbs }));
}
