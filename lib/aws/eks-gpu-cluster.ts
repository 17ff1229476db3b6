import { CfnResource, Lazy, Names, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EnvironmentProfile, GpuInstance, MODEL_ARTIFACT_LAYOUT, validateIdentifier } from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { chargeUnownedCapacityToPlatform } from './private/capacity-tags';
import { allowLaunchingServicesToUseKey, newRotatingKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyPrincipal } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

/** How much of the cluster a role may use through its EKS access entry. */
export enum EksAccessLevel {
  /** Everything, cluster-wide (`AmazonEKSClusterAdminPolicy`). */
  CLUSTER_ADMIN = 'cluster-admin',
  /** Administer the listed namespaces, RBAC included (`AmazonEKSAdminPolicy`). */
  NAMESPACE_ADMIN = 'namespace-admin',
  /** Create and change workloads in the listed namespaces, no RBAC (`AmazonEKSEditPolicy`). */
  EDIT = 'edit',
  /** Read objects other than secrets, cluster-wide or in the listed namespaces (`AmazonEKSViewPolicy`). */
  VIEW = 'view',
}

/** Capacity type of a GPU node group. */
export enum GpuCapacity {
  /** Spot instances: up to 90% cheaper, interrupted with two minutes' notice (checkpoint training jobs). */
  SPOT = 'spot',
  ON_DEMAND = 'on-demand',
}

/** Operating system image of a GPU node group; both ship the NVIDIA driver and container toolkit. */
export enum GpuNodeImage {
  /** Amazon Linux 2023 with NVIDIA drivers (`AL2023_x86_64_NVIDIA`). */
  AL2023_NVIDIA = 'AL2023_x86_64_NVIDIA',
  /** Bottlerocket with NVIDIA drivers (`BOTTLEROCKET_x86_64_NVIDIA`): a minimal, read-only host. */
  BOTTLEROCKET_NVIDIA = 'BOTTLEROCKET_x86_64_NVIDIA',
}

/** A managed node group of NVIDIA GPU instances. */
export interface GpuNodeGroupOptions {
  /** Name of the node group (lower-case letters, digits, hyphens; unique in the cluster). */
  readonly name: string;
  /** Instance types, all NVIDIA GPU types of the catalog (`GpuInstance`); more than one deepens the spot pool. */
  readonly instanceTypes: string[];
  /** @default GpuCapacity.SPOT */
  readonly capacity?: GpuCapacity;
  /**
   * Fewest nodes. 0 lets the cluster autoscaler (or Karpenter) remove every GPU node when no pod asks for one.
   * @default 0
   */
  readonly minSize?: number;
  /**
   * Most nodes, 1-100.
   * @default 4
   */
  readonly maxSize?: number;
  /** @default GpuNodeImage.AL2023_NVIDIA */
  readonly image?: GpuNodeImage;
  /**
   * Extra Kubernetes labels of the nodes (added to `nvidia.com/gpu.present=true` and `mlops-constructs/node-group=<name>`).
   * @default - none
   */
  readonly labels?: Record<string, string>;
  /**
   * Size of the encrypted data volume in GiB (images of ML frameworks are large), 20-16384.
   * @default 200
   */
  readonly diskSizeGiB?: number;
}

/** The node group for cluster add-ons (CoreDNS, the autoscaler, controllers): small, on-demand, never scaled to zero. */
export interface SystemNodeGroupOptions {
  /**
   * Instance types (catalog types without accelerators).
   * @default ['m7i.large']
   */
  readonly instanceTypes?: string[];
  /**
   * @default - 2 where the profile is multi-AZ, otherwise 1
   */
  readonly minSize?: number;
  /**
   * @default 4
   */
  readonly maxSize?: number;
}

/**
 * IAM roles of the platform personas (for example `MlopsGovernance`'s roles), each given an access entry. No persona
 * gets through Kubernetes what its IAM role forbids: whoever may create pods in a namespace may run them as that
 * namespace's service accounts, so only personas allowed everything those service accounts' roles allow (ML
 * engineers, for team service accounts limited to datasets and model candidates) edit team namespaces.
 */
export interface EksPersonaRoles {
  /**
   * Administers `systemNamespaces` (add-ons, controllers) and views the rest of the cluster (secrets excluded): an
   * operator never reads data, so never runs pods as a team's service account.
   * @default - no access entry
   */
  readonly platformOperator?: iam.IRole;
  /**
   * Edit in `teamNamespaces`.
   * @default - no access entry
   */
  readonly mlEngineer?: iam.IRole;
  /**
   * `dataScientistAccess` in `teamNamespaces`.
   * @default - no access entry
   */
  readonly dataScientist?: iam.IRole;
  /**
   * View, cluster-wide (secrets excluded).
   * @default - no access entry
   */
  readonly auditor?: iam.IRole;
}

/** What a team's service account may do with the artifact store. */
export interface ArtifactAccess {
  readonly purpose: ArtifactPurpose;
  /**
   * Key prefix, e.g. `fraud/`.
   * @default - the whole bucket
   */
  readonly prefix?: string;
  /**
   * Also write (put, multipart); never delete.
   * @default false - read only
   */
  readonly write?: boolean;
}

/** Grants of a team's service account role. */
export interface TeamServiceAccountGrants {
  /** The store the grants are on. */
  readonly artifactStore: IArtifactStore;
  /** Buckets and prefixes, read or read-write. */
  readonly artifacts: ArtifactAccess[];
}

export interface EksGpuClusterProps {
  /** VPC of the cluster. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the control plane's network interfaces and of the nodes.
   * @default - the VPC's PRIVATE_WITH_EGRESS subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Kubernetes version.
   * @default eks.KubernetesVersion.V1_34
   */
  readonly kubernetesVersion?: eks.KubernetesVersion;
  /**
   * Name of the cluster (1-100 letters, digits, `-`, `_`, starting with a letter or digit).
   * @default - a name unique to this construct's path
   */
  readonly clusterName?: string;
  /**
   * Customer managed key for Kubernetes secrets (envelope encryption), the node volumes and the control-plane
   * log group, for example the environment's `PlatformKey.key`. A key imported from elsewhere must already let
   * CloudWatch Logs and the Auto Scaling service-linked role use it.
   * @default - a new key with rotation on, retained outside dev
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Days the control-plane logs (api, audit, authenticator, controllerManager, scheduler) are kept.
   * @default - the profile's `logRetentionDays`
   */
  readonly logRetentionDays?: number;
  /** @default - see SystemNodeGroupOptions */
  readonly systemNodeGroup?: SystemNodeGroupOptions;
  /**
   * GPU node groups; add more with `addGpuNodeGroup`.
   * @default - `gpu-spot` (g5.xlarge, g6.xlarge, g5.2xlarge, spot) and `gpu-on-demand` (g5.xlarge), both 0 to 4 nodes
   */
  readonly gpuNodeGroups?: GpuNodeGroupOptions[];
  /**
   * Persona roles given access entries: operator admin of `systemNamespaces` and view elsewhere, ML engineers edit in
   * `teamNamespaces`, data scientists `dataScientistAccess` there, auditor view. More with `grantAccess`.
   * @default - no access entries (the creator gets none either)
   */
  readonly personas?: EksPersonaRoles;
  /**
   * Namespaces ML engineers (and data scientists, see `dataScientistAccess`) may edit (the k8s side's `TeamNamespace` names).
   * @default - none; required when `personas.mlEngineer` or `personas.dataScientist` is given
   */
  readonly teamNamespaces?: string[];
  /**
   * What data scientists may do in `teamNamespaces`: `EksAccessLevel.VIEW` (read objects other than secrets) or
   * `EksAccessLevel.EDIT` (run workloads, and so act as the namespaces' service accounts).
   * @default - EDIT where the profile allows destroying data (dev), VIEW elsewhere
   */
  readonly dataScientistAccess?: EksAccessLevel;
  /**
   * Namespaces the platform operator administers (add-ons and controllers; never a team's namespace).
   * @default ['kube-system']
   */
  readonly systemNamespaces?: string[];
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

const POLICY_OF: Record<EksAccessLevel, string> = {
  [EksAccessLevel.CLUSTER_ADMIN]: 'AmazonEKSClusterAdminPolicy',
  [EksAccessLevel.NAMESPACE_ADMIN]: 'AmazonEKSAdminPolicy',
  [EksAccessLevel.EDIT]: 'AmazonEKSEditPolicy',
  [EksAccessLevel.VIEW]: 'AmazonEKSViewPolicy',
};
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** The node label the k8s side's GpuTrainingJob and InferenceService select GPU nodes by. */
const GPU_NODE_LABEL = 'nvidia.com/gpu.present';
const NODE_GROUP_LABEL = 'mlops-constructs/node-group';

const DEFAULT_GPU_NODE_GROUPS: GpuNodeGroupOptions[] = [
  { name: 'gpu-spot', instanceTypes: ['g5.xlarge', 'g6.xlarge', 'g5.2xlarge'], capacity: GpuCapacity.SPOT },
  { name: 'gpu-on-demand', instanceTypes: ['g5.xlarge'], capacity: GpuCapacity.ON_DEMAND },
];

/**
 * An EKS cluster for GPU workloads (aws-eks-v2: no kubectl Lambda function, no custom resources): private API
 * endpoint only, every control-plane log type in a KMS-encrypted log group with the profile's retention, Kubernetes
 * secrets envelope-encrypted with a customer managed key, authentication by EKS access entries only: per persona and
 * per team namespace (see `EksPersonaRoles`), so nobody gets through Kubernetes what their IAM persona forbids.
 *
 * Capacity: an on-demand system node group for add-ons, and GPU managed node groups (spot and on-demand) that scale
 * from zero, tainted `nvidia.com/gpu=true:NoSchedule` (only pods tolerating it land there, as the k8s side's jobs and
 * services do) and labelled `nvidia.com/gpu.present=true`, on the NVIDIA AMIs (AL2023 or Bottlerocket), with
 * IMDSv2 (one hop, so pods cannot use the node's credentials) and KMS-encrypted volumes. Pods get AWS permissions through
 * EKS Pod Identity (`addTeamServiceAccount`).
 *
 * Workloads (namespaces, quotas, jobs, services, the NVIDIA device plugin and the autoscaler) are not installed by
 * CloudFormation: deliver the k8s side's synthesized manifests with GitOps or `kubectl apply`.
 *
 * @example
 * const eksCluster = new EksGpuCluster(stack, 'Eks', { vpc, encryptionKey: platformKey.key, personas: governance, teamNamespaces: ['fraud'] });
 * eksCluster.addTeamServiceAccount('fraud', 'fraud-workloads', { artifactStore, artifacts: [{ purpose: ArtifactPurpose.DATASETS, prefix: 'fraud/' }] });
 */
export class EksGpuCluster extends Construct {
  public readonly cluster: eks.Cluster;
  public readonly clusterName: string;
  public readonly encryptionKey: kms.IKey;
  /** Log group of the control-plane logs. */
  public readonly logGroup: logs.LogGroup;
  /** Role of every node (system and GPU). */
  public readonly nodeRole: iam.Role;
  public readonly systemNodeGroup: eks.Nodegroup;
  public readonly profile: EnvironmentProfile;

  private readonly subnets: ec2.SubnetSelection;
  private readonly gpuGroups = new Map<string, eks.Nodegroup>();
  private readonly accessEntries = new Set<string>();
  private readonly serviceAccounts = new Map<string, iam.Role>();

  constructor(scope: Construct, id: string, props: EksGpuClusterProps) {
    super(scope, id);
    chargeUnownedCapacityToPlatform(this);
    this.profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);
    const removalPolicy = statefulRemovalPolicy(this.profile);

    // Validate everything before creating resources.
    this.clusterName = props.clusterName ?? Names.uniqueResourceName(this, { maxLength: 100, separator: '-' });
    check.matches('clusterName', this.clusterName, CLUSTER_NAME, "1-100 letters, digits, '-' or '_', starting with a letter or digit");
    const logRetentionDays = checkLogRetention(check, props.logRetentionDays) ?? this.profile.logRetentionDays;
    const system = props.systemNodeGroup ?? {};
    const systemTypes = system.instanceTypes ?? ['m7i.large'];
    if (systemTypes.length === 0) check.fail('systemNodeGroup.instanceTypes', systemTypes, 'must name at least one type', "give e.g. ['m7i.large'].");
    systemTypes.forEach((t, i) => {
      const instance = GpuInstance.of(t, `systemNodeGroup.instanceTypes[${i}]`, this.node.path);
      if (instance.accelerators > 0) {
        check.fail(`systemNodeGroup.instanceTypes[${i}]`, t, 'is an accelerated type', 'run add-ons on a general purpose type such as m7i.large; GPUs go in gpuNodeGroups.');
      }
    });
    const systemMin = check.integerInRange('systemNodeGroup.minSize', system.minSize, 1, 100) ?? (this.profile.multiAz ? 2 : 1);
    const systemMax = check.integerInRange('systemNodeGroup.maxSize', system.maxSize, 1, 100) ?? Math.max(4, systemMin);
    check.notAbove('systemNodeGroup.minSize', systemMin, 'systemNodeGroup.maxSize', systemMax);
    const personas = props.personas ?? {};
    const teamNamespaces = props.teamNamespaces ?? [];
    teamNamespaces.forEach((ns, i) => check.matches(`teamNamespaces[${i}]`, ns, NAMESPACE, 'a Kubernetes namespace name (DNS label)'));
    if ((personas.mlEngineer || personas.dataScientist) && teamNamespaces.length === 0) {
      check.fail('teamNamespaces', props.teamNamespaces, 'must name at least one namespace when ML engineers or data scientists get access',
        "list the team namespaces they may edit, e.g. teamNamespaces: ['fraud', 'recsys'].");
    }
    const dataScientistAccess = check.oneOf('dataScientistAccess', props.dataScientistAccess, [EksAccessLevel.VIEW, EksAccessLevel.EDIT],
      'use EksAccessLevel.VIEW or EksAccessLevel.EDIT; data scientists never administer a namespace.')
      ?? (this.profile.allowDestroy ? EksAccessLevel.EDIT : EksAccessLevel.VIEW);
    const systemNamespaces = props.systemNamespaces ?? ['kube-system'];
    if (systemNamespaces.length === 0) check.fail('systemNamespaces', systemNamespaces, 'must name at least one namespace', "leave it out for ['kube-system'].");
    systemNamespaces.forEach((ns, i) => {
      check.matches(`systemNamespaces[${i}]`, ns, NAMESPACE, 'a Kubernetes namespace name (DNS label)');
      if (teamNamespaces.includes(ns)) {
        check.fail(`systemNamespaces[${i}]`, ns, 'is also a team namespace', 'the operator administers system namespaces only; keep team namespaces out of systemNamespaces.');
      }
    });
    const gpuGroups = props.gpuNodeGroups ?? DEFAULT_GPU_NODE_GROUPS;
    if (gpuGroups.length === 0) check.fail('gpuNodeGroups', gpuGroups, 'must have at least one node group', 'leave it out for the defaults or add one.');
    gpuGroups.forEach((g, i) => validateGpuNodeGroup(check, `gpuNodeGroups[${i}]`, g, this.node.path));
    const names = gpuGroups.map((g) => g.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) check.fail('gpuNodeGroups[].name', duplicate, 'is a duplicate node group name', 'give each GPU node group a unique name.');

    this.encryptionKey = props.encryptionKey ?? this.newKey(removalPolicy);
    // Node volumes are encrypted by the Auto Scaling service-linked role on launch.
    allowLaunchingServicesToUseKey(this.encryptionKey);

    // Created before the cluster so EKS writes into an encrypted group with retention instead of creating its own.
    this.logGroup = new logs.LogGroup(this, 'ControlPlaneLogs', {
      logGroupName: `/aws/eks/${this.clusterName}/cluster`,
      encryptionKey: this.encryptionKey,
      retention: logRetentionDays as logs.RetentionDays,
      removalPolicy,
    });
    acknowledgeProfileLogRetention(this.logGroup, logRetentionDays);

    this.subnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const clusterRole = new iam.Role(this, 'ClusterRole', {
      assumedBy: new iam.ServicePrincipal('eks.amazonaws.com'),
      description: `EKS control plane of ${this.node.path}`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEKSClusterPolicy')],
    });
    Validations.of(clusterRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonEKSClusterPolicy]',
      reason: 'AmazonEKSClusterPolicy is the AWS maintained policy the EKS control plane requires; EKS documents no narrower replacement and '
        + 'AWS updates it as the control plane needs new actions.',
    });
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: this.clusterName,
      version: props.kubernetesVersion ?? eks.KubernetesVersion.V1_34,
      vpc: props.vpc,
      vpcSubnets: [this.subnets],
      role: clusterRole,
      endpointAccess: eks.EndpointAccess.PRIVATE,
      clusterLogging: Object.values(eks.ClusterLoggingTypes),
      secretsEncryptionKey: this.encryptionKey,
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      bootstrapClusterCreatorAdminPermissions: false,
      outputConfigCommand: false,
      removalPolicy,
    });
    this.cluster.node.addDependency(this.logGroup);
    this.dropRedundantSubnetDependencies(props.vpc);
    Validations.of(this.cluster.node.defaultChild!).acknowledge({
      id: 'CloudFormation-Validate::W9009',
      reason: "EncryptionConfig.Resources ['secrets'] is deprecated in the CloudFormation schema (EKS now envelope-encrypts all API data) "
        + 'but still names what the customer managed key encrypts; aws-eks-v2 always renders it and the EKS API accepts it.',
    });
    // Pods get AWS credentials through EKS Pod Identity (no OIDC provider, no IRSA).
    this.cluster.eksPodIdentityAgent;

    this.nodeRole = new iam.Role(this, 'NodeRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `Nodes of ${this.node.path}`,
      managedPolicies: ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly', 'AmazonEKS_CNI_Policy']
        .map((name) => iam.ManagedPolicy.fromAwsManagedPolicyName(name)),
    });
    Validations.of(this.nodeRole).acknowledge(...['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly', 'AmazonEKS_CNI_Policy'].map((name) => ({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`,
      reason: 'EKS managed node groups require the worker-node, ECR pull-only and VPC CNI policies AWS maintains on the node role; '
        + 'workloads get their own permissions through Pod Identity, and IMDSv2 with one hop keeps pods off the node role.',
    })));

    this.systemNodeGroup = new eks.Nodegroup(this, 'SystemNodes', {
      cluster: this.cluster,
      nodegroupName: 'system',
      nodeRole: this.nodeRole,
      subnets: this.subnets,
      instanceTypes: systemTypes.map((t) => new ec2.InstanceType(t)),
      amiType: eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      capacityType: eks.CapacityType.ON_DEMAND,
      minSize: systemMin,
      desiredSize: systemMin,
      maxSize: systemMax,
      labels: { [NODE_GROUP_LABEL]: 'system' },
      launchTemplateSpec: this.launchTemplate('SystemNodes', '/dev/xvda', 50),
    });
    for (const group of gpuGroups) this.createGpuNodeGroup(group);

    if (personas.platformOperator) {
      // One entry, two policies: admin of the system namespaces, view of everything else.
      this.accessEntries.add('PlatformOperator');
      new eks.AccessEntry(this, 'AccessPlatformOperator', {
        cluster: this.cluster,
        principal: personas.platformOperator.roleArn,
        accessPolicies: [
          eks.AccessPolicy.fromAccessPolicyName(POLICY_OF[EksAccessLevel.NAMESPACE_ADMIN], {
            accessScopeType: eks.AccessScopeType.NAMESPACE, namespaces: systemNamespaces,
          }),
          eks.AccessPolicy.fromAccessPolicyName(POLICY_OF[EksAccessLevel.VIEW], { accessScopeType: eks.AccessScopeType.CLUSTER }),
        ],
      });
    }
    if (personas.mlEngineer) this.grantAccess('MlEngineer', personas.mlEngineer, EksAccessLevel.EDIT, teamNamespaces);
    if (personas.dataScientist) this.grantAccess('DataScientist', personas.dataScientist, dataScientistAccess, teamNamespaces);
    if (personas.auditor) this.grantAccess('Auditor', personas.auditor, EksAccessLevel.VIEW);
  }

  /** The GPU node groups, by name. */
  public get gpuNodeGroups(): ReadonlyMap<string, eks.Nodegroup> {
    return this.gpuGroups;
  }

  /** Adds a GPU managed node group (tainted, labelled, scaling from `minSize`, by default 0). */
  public addGpuNodeGroup(options: GpuNodeGroupOptions): eks.Nodegroup {
    const check = checkFor(this);
    validateGpuNodeGroup(check, `gpuNodeGroups(${options?.name})`, options, this.node.path);
    if (this.gpuGroups.has(options.name)) {
      check.fail('gpuNodeGroups[].name', options.name, 'is a duplicate node group name', 'give each GPU node group a unique name.');
    }
    return this.createGpuNodeGroup(options);
  }

  /**
   * Gives `role` an EKS access entry with the access policy of `level`: cluster-wide, or limited to `namespaces`
   * (required for NAMESPACE_ADMIN and EDIT, not allowed for CLUSTER_ADMIN).
   */
  public grantAccess(id: string, role: iam.IRole, level: EksAccessLevel, namespaces?: string[]): eks.AccessEntry {
    const check = checkFor(this);
    check.oneOf('level', level, Object.values(EksAccessLevel), `use one of EksAccessLevel.${Object.keys(EksAccessLevel).join(', EksAccessLevel.')}.`);
    if (this.accessEntries.has(id)) check.fail('id', id, 'already has an access entry', 'give each access entry a unique id.');
    (namespaces ?? []).forEach((ns, i) => check.matches(`namespaces[${i}]`, ns, NAMESPACE, 'a Kubernetes namespace name (DNS label)'));
    const scoped = namespaces !== undefined && namespaces.length > 0;
    if (level === EksAccessLevel.CLUSTER_ADMIN && scoped) {
      check.fail('namespaces', namespaces, 'cannot limit cluster admin access', 'use EksAccessLevel.NAMESPACE_ADMIN for namespace-scoped admin, or leave namespaces out.');
    }
    if ((level === EksAccessLevel.EDIT || level === EksAccessLevel.NAMESPACE_ADMIN) && !scoped) {
      check.fail('namespaces', namespaces, `must name at least one namespace for ${level} access`, 'list the namespaces the role may change, e.g. [\'fraud\'].');
    }
    this.accessEntries.add(id);
    return new eks.AccessEntry(this, `Access${id}`, {
      cluster: this.cluster,
      principal: role.roleArn,
      accessPolicies: [eks.AccessPolicy.fromAccessPolicyName(POLICY_OF[level], scoped
        ? { accessScopeType: eks.AccessScopeType.NAMESPACE, namespaces }
        : { accessScopeType: eks.AccessScopeType.CLUSTER })],
    });
  }

  /**
   * A role for the pods of one service account (EKS Pod Identity): trusted by `pods.eks.amazonaws.com` only for
   * this cluster, namespace and service account, with the artifact store grants given, in a customer managed policy.
   * The k8s side's `TeamNamespace` names its service account `<team>-workloads`.
   */
  public addTeamServiceAccount(namespace: string, serviceAccount: string, grants: TeamServiceAccountGrants): iam.Role {
    const check = checkFor(this);
    check.matches('namespace', namespace, NAMESPACE, 'a Kubernetes namespace name (DNS label)');
    check.matches('serviceAccount', serviceAccount, NAMESPACE, 'a Kubernetes service account name (DNS label)');
    const key = `${namespace}/${serviceAccount}`;
    if (this.serviceAccounts.has(key)) check.fail('serviceAccount', key, 'already has a Pod Identity association', 'add each service account once.');
    if (!grants?.artifactStore) check.fail('grants.artifactStore', undefined, 'is required', 'pass the artifact store the workloads read and write.');
    if (!Array.isArray(grants.artifacts) || grants.artifacts.length === 0) {
      check.fail('grants.artifacts', grants.artifacts, 'must grant at least one purpose', "give e.g. [{ purpose: ArtifactPurpose.DATASETS, prefix: 'fraud/' }].");
    }
    grants.artifacts.forEach((a, i) => {
      check.oneOf(`grants.artifacts[${i}].purpose`, a.purpose, Object.values(ArtifactPurpose));
      // Only the promotion role writes what production serves: pods write model candidates, never served versions.
      const candidates = MODEL_ARTIFACT_LAYOUT.candidatesRoot;
      if (a.write && a.purpose === ArtifactPurpose.MODELS && !(a.prefix ?? '').startsWith(candidates)) {
        check.fail(`grants.artifacts[${i}].prefix`, a.prefix, `lets pods write models outside '${candidates}'`,
          `write model candidates only, e.g. prefix: '${MODEL_ARTIFACT_LAYOUT.candidatesPrefix('fraud-detector')}'; promotion copies them to 'served/'.`);
      }
    });

    const id = pascal(`${namespace}-${serviceAccount}`);
    const role = new iam.Role(this, `${id}Role`, {
      description: `Pods of ${key} on ${this.clusterName}`,
      assumedBy: new iam.PrincipalWithConditions(new iam.ServicePrincipal('pods.eks.amazonaws.com'), {
        StringEquals: {
          'aws:RequestTag/eks-cluster-arn': this.cluster.clusterArn,
          'aws:RequestTag/kubernetes-namespace': namespace,
          'aws:RequestTag/kubernetes-service-account': serviceAccount,
        },
      }).withSessionTags(),
    });
    const policy = new iam.ManagedPolicy(this, `${id}Policy`, { roles: [role], description: `Artifact access of the pods of ${key}` });
    const grantee: iam.IGrantable = { grantPrincipal: new ManagedPolicyPrincipal(role, policy) };
    for (const access of grants.artifacts) {
      if (access.write) grants.artifactStore.grantReadWrite(grantee, access.purpose, access.prefix);
      else grants.artifactStore.grantRead(grantee, access.purpose, access.prefix);
    }
    acknowledgeObjectWildcards(this, policy, key);
    new eks.CfnPodIdentityAssociation(this, `${id}PodIdentity`, {
      clusterName: this.cluster.clusterName,
      namespace,
      serviceAccount,
      roleArn: role.roleArn,
    });
    this.serviceAccounts.set(key, role);
    return role;
  }

  private createGpuNodeGroup(options: GpuNodeGroupOptions): eks.Nodegroup {
    const bottlerocket = options.image === GpuNodeImage.BOTTLEROCKET_NVIDIA;
    const minSize = options.minSize ?? 0;
    const id = `Gpu${pascal(options.name)}`;
    const group = new eks.Nodegroup(this, id, {
      cluster: this.cluster,
      nodegroupName: options.name,
      nodeRole: this.nodeRole,
      subnets: this.subnets,
      instanceTypes: options.instanceTypes.map((t) => new ec2.InstanceType(t)),
      amiType: bottlerocket ? eks.NodegroupAmiType.BOTTLEROCKET_X86_64_NVIDIA : eks.NodegroupAmiType.AL2023_X86_64_NVIDIA,
      capacityType: options.capacity === GpuCapacity.ON_DEMAND ? eks.CapacityType.ON_DEMAND : eks.CapacityType.SPOT,
      minSize,
      desiredSize: minSize,
      maxSize: options.maxSize ?? 4,
      labels: { ...options.labels, [GPU_NODE_LABEL]: 'true', [NODE_GROUP_LABEL]: options.name },
      taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: eks.TaintEffect.NO_SCHEDULE }],
      // Bottlerocket keeps images and containers on its second (data) volume.
      launchTemplateSpec: this.launchTemplate(id, bottlerocket ? '/dev/xvdb' : '/dev/xvda', options.diskSizeGiB ?? 200),
    });
    this.gpuGroups.set(options.name, group);
    return group;
  }

  private launchTemplate(id: string, deviceName: string, sizeGiB: number): eks.LaunchTemplateSpec {
    const template = new ec2.LaunchTemplate(this, `${id}LaunchTemplate`, {
      requireImdsv2: true,
      // One hop: host-network add-ons reach IMDS, pods in their own network namespace cannot take the node role.
      httpPutResponseHopLimit: 1,
      // One-minute EC2 metrics (AWS Control Tower CT.EC2.PR.10): about $2 a month per instance kept all month, a
      // fraction of a percent of a GPU instance's price.
      detailedMonitoring: true,
      blockDevices: [{
        deviceName,
        volume: ec2.BlockDeviceVolume.ebs(sizeGiB, {
          encrypted: true, kmsKey: this.encryptionKey, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true,
        }),
      }],
    });
    return { id: template.launchTemplateId!, version: template.latestVersionNumber };
  }

  /**
   * aws-eks-v2 makes the cluster depend on the VPC (so it is deleted before the routes its nodes use); the subnets
   * it references by Ref are then duplicates cfn-lint reports (W3005). Computed when the template is resolved, after
   * construct dependencies became resource dependencies; the route and gateway dependencies stay.
   */
  private dropRedundantSubnetDependencies(vpc: ec2.IVpc): void {
    const cfnCluster = this.cluster.node.defaultChild as CfnResource;
    const referenced = new Set(vpc.selectSubnets(this.subnets).subnets.map((s) => s.node.defaultChild).filter((c) => c !== undefined));
    cfnCluster.addOverride('DependsOn', Lazy.list({
      produce: () => cfnCluster.obtainDependencies()
        .filter((d): d is CfnResource => CfnResource.isCfnResource(d) && !referenced.has(d))
        .map((d) => d.logicalId)
        .sort(),
    }, { omitEmpty: true }));
  }

  private newKey(removalPolicy: ReturnType<typeof statefulRemovalPolicy>): kms.Key {
    return newRotatingKey(this, `mlops-constructs EKS cluster key at ${this.node.path}`, removalPolicy, this.profile.allowDestroy ? 7 : 30);
  }

}

function validateGpuNodeGroup(check: ReturnType<typeof checkFor>, prefix: string, g: GpuNodeGroupOptions, scope: string): void {
  if (g === undefined || g === null) check.fail(prefix, g, 'is required', 'give a node group with a name and instance types.');
  validateIdentifier(scope, `${prefix}.name`, g.name, 63);
  if (!Array.isArray(g.instanceTypes) || g.instanceTypes.length === 0) {
    check.fail(`${prefix}.instanceTypes`, g.instanceTypes, 'must name at least one instance type', "give NVIDIA GPU types such as ['g5.xlarge', 'g6.xlarge'].");
  }
  g.instanceTypes.forEach((t, i) => {
    const prop = `${prefix}.instanceTypes[${i}]`;
    const instance = GpuInstance.of(t, prop, scope);
    if (!instance.isNvidiaGpu) {
      check.fail(prop, t, `is not an NVIDIA GPU type (${instance.acceleratorModel})`,
        'use an NVIDIA GPU type such as g5.xlarge, g6.xlarge or p4d.24xlarge; the node group runs the NVIDIA AMI and is tainted nvidia.com/gpu.');
    }
  });
  check.oneOf(`${prefix}.capacity`, g.capacity, Object.values(GpuCapacity));
  check.oneOf(`${prefix}.image`, g.image, Object.values(GpuNodeImage));
  const minSize = check.integerInRange(`${prefix}.minSize`, g.minSize, 0, 100) ?? 0;
  const maxSize = check.integerInRange(`${prefix}.maxSize`, g.maxSize, 1, 100) ?? 4;
  if (!Token.isUnresolved(minSize) && !Token.isUnresolved(maxSize) && maxSize < minSize) {
    check.fail(`${prefix}.maxSize`, maxSize, `must not be below '${prefix}.minSize' (${minSize})`, `raise '${prefix}.maxSize' or lower '${prefix}.minSize'.`);
  }
  check.integerInRange(`${prefix}.diskSizeGiB`, g.diskSizeGiB, 20, 16384);
  for (const [k, v] of Object.entries(g.labels ?? {})) {
    check.matches(`${prefix}.labels`, k, LABEL_KEY, 'Kubernetes label keys (optional DNS prefix and a name of up to 63 characters)');
    check.matches(`${prefix}.labels.${k}`, v, LABEL_VALUE, 'a Kubernetes label value (up to 63 letters, digits, -, _ or .)');
    if (k === GPU_NODE_LABEL || k === NODE_GROUP_LABEL) {
      check.fail(`${prefix}.labels`, k, 'is set by the construct', `leave '${k}' out of the labels.`);
    }
  }
}

function checkLogRetention(check: ReturnType<typeof checkFor>, days: number | undefined): number | undefined {
  if (days === undefined) return undefined;
  const accepted = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0);
  return check.oneOf('logRetentionDays', days, accepted, `use a value CloudWatch Logs accepts: ${accepted.join(', ')}.`);
}

/** Acknowledges the object-prefix wildcards (`bucket/prefix/*`) of ArtifactStore grants, each by its exact resource. */
function acknowledgeObjectWildcards(scope: Construct, policy: iam.ManagedPolicy, key: string): void {
  const doc = policy.document.toJSON() as { Statement?: Array<Record<string, unknown>> } | undefined;
  const ids = new Set<string>();
  for (const statement of doc?.Statement ?? []) {
    const resources = ([] as unknown[]).concat(statement.Resource ?? []);
    for (const resource of resources) {
      if (typeof resource !== 'string') continue;
      const flat = nagResourceId(scope, resource);
      if (flat.includes('*')) ids.add(flat);
    }
  }
  for (const flat of ids) {
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${flat}]`,
      reason: `Object-level S3 permissions name objects by key prefix: the pods of ${key} read or write only the objects below ${flat}, `
        + 'granted through ArtifactStore grants; KMS use is limited to S3 for that bucket.',
    });
  }
}

function pascal(name: string): string {
  return name.split(/[-_]/).filter((p) => p !== '').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}
