import { createHash } from 'crypto';
import { Environment, NestedStack, Stack, Tags, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import {
  Check, checkEnvironmentCertificateArn, checkNoRetrainingWherePromotedFrom, checkServingShardCount, ENVIRONMENT_PREFIX_PATTERN, EnvironmentProfile,
  fleetRolloutOperatorStatements, fleetRolloutStateMachineName,
  MlopsTags, modelRegistryCostEstimate, PromotingEnvironment, PROMOTION_TARGET_TAG, PromotionMode, PromotionSource, promotionTargetTagValue,
  resolveModelRegistrySpec, roundUsd, Rollout, SERVING_SHARDS, servingShardLabel,
  servingShardOf, SharedPlatformParameterNames, UNIT_PRICES, validatePlatformTeams, validateServedModelOptions,
} from '../core';
import { ArtifactStore, ArtifactStoreReplication } from './artifact-store';
import { CostGuard } from './cost-guard';
import { ExperimentTracking } from './experiment-tracking';
import { FleetRollout } from './fleet-rollout';
import { GpuTrainingCluster } from './gpu-training-cluster';
import { ImageRepository } from './image-repository';
import { InferenceFleet } from './inference-fleet';
import { MlopsGovernance } from './mlops-governance';
import { MlopsMonitoring, ServedModelAlarms, ServingDashboard } from './mlops-monitoring';
import { MlopsStack, MlopsStackProps } from './mlops-stack';
import { MlopsTagging, SHARED_TEAM } from './mlops-tagging';
import { ModelEndpoint } from './model-endpoint';
import { ModelPipeline, ModelPipelineProps } from './model-pipeline';
import { ModelPromotion } from './model-promotion';
import { ModelRegistry } from './model-registry';
import { PermissionBoundary } from './permission-boundary';
import { PlatformKey } from './platform-key';
import { PlatformNetwork } from './platform-network';
import { ServedStateParameter } from './private/served-state';
import { SharedPlatformParameters } from './private/shared-platform-parameters';
import { checkFor } from './scope';
import { ImportedSharedPlatform, ISharedPlatform, SharedPlatformImportProps } from './shared-platform';
import { TrackingAuthentication } from './tracking-authentication';

const MODEL_TAGGED_TYPES = [
  'AWS::AutoScaling::AutoScalingGroup', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::ElasticLoadBalancingV2::TargetGroup',
  'AWS::SageMaker::Endpoint', 'AWS::SageMaker::EndpointConfig', 'AWS::SageMaker::Model',
];


/** A team using the platform. */
export interface PlatformTeam {
  /** Team name (lower-case letters, digits, hyphens); the `mlops:team` tag and the fair-share identifier. */
  readonly name: string;
  /** Cost center tag of the team's resources. */
  readonly costCenter: string;
  /** Share of training GPUs under contention, in percent; the shares of all teams sum to 100. */
  readonly gpuSharePercent: number;
  /**
   * Monthly budget of the team, filtered on its `mlops:team` tag.
   * @default - no team budget (the environment budget still applies)
   */
  readonly monthlyBudgetUsd?: number;
}

/** Where a model is served. */
export enum ServingBackend {
  /** EC2 Auto Scaling groups behind an Application Load Balancer (`InferenceFleet`). */
  FLEET = 'fleet',
  /** A SageMaker real-time endpoint (`ModelEndpoint`). */
  ENDPOINT = 'endpoint',
}

/** A model the platform serves. */
export interface ServedModelOptions {
  /** Model name (lower-case letters, digits, hyphens). */
  readonly name: string;
  readonly backend: ServingBackend;
  /** Version of the model in production (its artifacts are under `<name>/<version>/` in the models bucket). */
  readonly modelVersion: string;
  /** Tag of the serving image in the platform's serving image repository. */
  readonly imageTag: string;
  /**
   * @default - g5.xlarge
   */
  readonly instanceType?: string;
  /** @default - all at once */
  readonly rollout?: Rollout;
  /** Versions of the other variants of the rollout (`candidate`, or the A/B variant names). */
  readonly variantVersions?: Record<string, string>;
  /** @default - the profile's minimum */
  readonly minCapacity?: number;
  /** @default - the backend's default */
  readonly maxCapacity?: number;
  /**
   * Scale the model to zero instances outside the profile's working hours and back at their start (a SageMaker
   * endpoint then hosts the model as an inference component; see `ModelEndpointProps.scaleToZeroOffHours`).
   * @default - true where the profile has working hours (dev), except endpoints with A/B or shadow rollouts
   */
  readonly scaleToZeroOffHours?: boolean;
  /**
   * Team that owns the model: its resources carry the team's tags.
   * @default - platform-owned
   */
  readonly team?: string;
  /**
   * Serving shard of the model, 0 to `servingShards` - 1: pins the model to a shard instead of the one its name hashes
   * to, e.g. to place a new model outside a full shard. Changing it later moves the model (its resources are replaced).
   * @default - the shard its name hashes to (`servingShardOf(name, servingShards)`), stable whatever other models do
   */
  readonly shard?: number;
}

export interface TrainingOptions {
  /** @default - g5.xlarge, g6.xlarge and g6.2xlarge where the profile is single-AZ (dev); g5.2xlarge, g5.12xlarge, g6.12xlarge otherwise */
  readonly instanceTypes?: string[];
  /** @default - 4 where single-AZ, 16 otherwise */
  readonly maxGpus?: number;
  /** @default true */
  readonly spot?: boolean;
}

/** Options of the platform's artifact store (as the Pulumi platform's `artifactStore`). */
export interface PlatformArtifactStoreOptions {
  /**
   * Cross-region replication of the purpose buckets (destination buckets and key in another region). Its role is in
   * the data stack, under the environment's permission boundary as every role of the platform.
   * @default - no replication
   */
  readonly replication?: ArtifactStoreReplication;
}

export interface MlopsPlatformProps {
  /** The environment's profile. */
  readonly profile: EnvironmentProfile;
  /** Project name (the `mlops:project` tag). */
  readonly project: string;
  /** Cost center that pays for the shared platform (the `mlops:cost-center` tag of shared resources). */
  readonly costCenter: string;
  /**
   * Account and region of the environment's stacks.
   * @default - environment-agnostic stacks
   */
  readonly env?: Environment;
  /**
   * Prefix of the stack names: `<prefix>-data` and `<prefix>-platform`.
   * @default - `<project>-<profile name>`
   */
  readonly stackNamePrefix?: string;
  /** @default - none */
  readonly teams?: PlatformTeam[];
  /** Models to serve; more can be added with `addServedModel()`. @default - none */
  readonly servedModels?: ServedModelOptions[];
  /** Model families that get a SageMaker model package group in the registry. @default - none */
  readonly modelFamilies?: string[];
  /** @default - see TrainingOptions */
  readonly training?: TrainingOptions;
  /** @default - see PlatformArtifactStoreOptions */
  readonly artifactStore?: PlatformArtifactStoreOptions;
  /** Email addresses notified of alarms and budget thresholds. @default - none */
  readonly notifyEmails?: string[];
  /** @default true */
  readonly experimentTracking?: boolean;
  /**
   * The name clients call the experiment tracking server by (covered by the certificate, with a DNS record pointing at
   * its load balancer): its `trackingUri` and the sign-in callback use it (see `ExperimentTrackingProps.domainName`).
   * @default - the load balancer's DNS name, which the certificate does not cover: set it wherever there is a certificate
   */
  readonly trackingDomainName?: string;
  /**
   * How the experiment tracking server's load balancer authenticates requests (see `ExperimentTrackingProps.authentication`).
   * @default - with a certificate, a Cognito user pool with MFA and no self sign-up; without one (dev), none
   */
  readonly trackingAuthentication?: TrackingAuthentication;
  /**
   * ARN of the ACM certificate every load balancer of the environment serves HTTPS with (TLS 1.2 and 1.3, port 80
   * redirecting to 443): the experiment tracking server's and every `ServingBackend.FLEET` model's. Required where
   * the profile requires TLS (staging, prod) and the environment has a load balancer. The load balancers are
   * internal, so a wildcard certificate of a private name (for example `*.ml.example.internal` from ACM Private CA)
   * fits, with a DNS record per load balancer; it must be in the environment's region.
   * @default - HTTP on port 80, only where the profile allows it (dev)
   */
  readonly certificateArn?: string;
  /**
   * Number of serving shards: served models are placed by a hash of their name into up to this many stacks
   * `<prefix>-serving-<nn>` (each model a nested stack there), so a model never moves when others are added, removed
   * or reordered. A shard holds at most 150 models (CloudFormation's 200 parameters per stack): the default serves
   * about 1,800 models. Keep the number an environment started with; changing it moves most models.
   * @default 16
   */
  readonly servingShards?: number;
  /**
   * The environment whose approved model versions this one promotes (staging's, for prod): its account and region.
   * The environment's `modelPromotion` then also takes `{"model", "version", "modelPackageArn": "<package ARN there>"}`
   * and copies the served archive that environment approved (the same artifact, checked by its SHA-256), registering
   * it here; the source shares its packages and served archives with `shareServedModelsWith`. Such an environment does
   * not retrain: `addModelPipeline` is refused.
   * @default - promotes only what is trained and registered in this environment
   */
  readonly promoteFrom?: PromotionSource;
}

/** A served model of the platform: what serves it, its alarms, and where it lives. */
interface ServedModel {
  readonly serving: InferenceFleet | ModelEndpoint;
  readonly alarms: ServedModelAlarms;
  /** The fleet's rollout state machine (fleets with a stepped rollout). */
  readonly rollout?: FleetRollout;
  readonly shard: number;
  readonly stack: NestedStack;
}

/** The stacks of one serving shard. */
interface ServingShard {
  readonly stack: MlopsStack;
  /** Nested stack of the data stack holding the shard's served states (created with the shard's first fleet). */
  stateStack?: NestedStack;
  readonly dashboard: ServingDashboard;
  readonly models: string[];
}

/**
 * A whole MLOps environment from one profile:
 * - `<prefix>-data`: everything stateful (key, network, artifact store, image repositories, model registry) and
 *   the experiment tracking server that lives on the registry, plus the served models' served states (SSM parameters,
 *   one nested stack per shard); retained and protected outside dev, changed rarely;
 * - `<prefix>-platform`: the training cluster, monitoring, governance and the cost guard;
 * - `<prefix>-serving-<nn>`: the serving shards, each served model a nested stack in the shard its name hashes to,
 *   with one dashboard per shard; a model never moves when others are added, removed or reordered, and every stack
 *   stays within CloudFormation's limits up to about 1,800 models (`servingShards`).
 * Grants, alarms and budgets are wired automatically.
 */
export class MlopsPlatform extends Construct {
  /**
   * Imports an environment a platform team deployed, in one call: its VPC, artifact store, key, model registry and image
   * repositories, from the SSM parameters its data stack writes (`sharedPlatformParameterNames(<project>-<env>)`),
   * resolved at deploy time, so a team's app synthesizes without an AWS account and never hard-codes a generated
   * name. The team's stack deploys in the environment's account and region, after its data stack.
   *
   * @example
   * const shared = MlopsPlatform.fromEnvironment(stack, 'Shared', { project: 'mlops', profile: EnvironmentProfile.prod() });
   * shared.artifactStore.grantRead(trainingRole, ArtifactPurpose.DATASETS, 'fraud/');
   */
  public static fromEnvironment(scope: Construct, id: string, props: SharedPlatformImportProps): ISharedPlatform {
    return new ImportedSharedPlatform(scope, id, props);
  }

  public readonly profile: EnvironmentProfile;
  public readonly dataStack: MlopsStack;
  public readonly platformStack: MlopsStack;
  /** The permission boundary (a cap) of every role of both stacks. */
  public readonly permissionBoundary: PermissionBoundary;
  public readonly platformKey: PlatformKey;
  public readonly network: PlatformNetwork;
  public readonly artifactStore: ArtifactStore;
  public readonly trainingImages: ImageRepository;
  public readonly servingImages: ImageRepository;
  public readonly modelRegistry: ModelRegistry;
  public readonly experimentTracking?: ExperimentTracking;
  /**
   * Names of the SSM parameters of the data stack that tell a team repository what it needs (read by
   * `MlopsPlatform.fromEnvironment`): `sharedPlatformParameterNames(stackNamePrefix)`, one per attribute.
   */
  public readonly sharedParameterNames: SharedPlatformParameterNames;
  public readonly trainingCluster: GpuTrainingCluster;
  public readonly monitoring: MlopsMonitoring;
  public readonly costGuard: CostGuard;
  public readonly governance: MlopsGovernance;
  /**
   * The environment's promotion: THE promotion role (the only writer of `served/`) and its state machine
   * (`<prefix>-promotion`); the ML engineer persona may start it.
   */
  public readonly modelPromotion: ModelPromotion;
  private readonly notifyEmails?: string[];
  private readonly promoteFrom?: PromotionSource;
  public readonly teams: readonly PlatformTeam[];
  /** Number of serving shards (`servingShards`). */
  public readonly servingShardCount: number;
  /** The stack name prefix: `<prefix>-data`, `<prefix>-platform`, `<prefix>-serving-<nn>`; the served states' namespace. */
  public readonly stackNamePrefix: string;
  private readonly models = new Map<string, ServedModel>();
  private readonly shards = new Map<number, ServingShard>();
  private readonly baseTags: MlopsTags;
  private readonly stackProps: Omit<MlopsStackProps, 'stackName' | 'description'>;
  private readonly certificateArn?: string;

  constructor(scope: Construct, id: string, props: MlopsPlatformProps) {
    super(scope, id);
    const check = checkFor(this);
    if (typeof props.profile?.name !== 'string') {
      check.fail('profile', props.profile, 'must be an EnvironmentProfile', 'pass EnvironmentProfile.dev(), .staging() or .prod().');
    }
    this.profile = props.profile;
    checkPlatformShape(check, props);
    // Validated in core, as the Pulumi MlopsPlatform validates its teams.
    this.teams = validatePlatformTeams(this.node.path, props.teams ?? [], this.profile);
    this.servingShardCount = checkServingShardCount(this.node.path, 'servingShards', props.servingShards);
    // Fail on a served model's own options before building the stacks (addServedModel checks them again).
    this.certificateArn = props.certificateArn;
    const modelNames = new Set<string>();
    for (const model of props.servedModels ?? []) {
      this.checkServedModel(model, modelNames);
      modelNames.add(model.name);
    }
    if (props.experimentTracking ?? true) this.checkCertificate('the experiment tracking server');
    const prefix = props.stackNamePrefix ?? `${props.project}-${props.profile.name}`;
    this.stackNamePrefix = prefix;
    const stackProps = { profile: this.profile, project: props.project, costCenter: props.costCenter, env: props.env };
    this.stackProps = stackProps;

    // Stateful resources: their stack is retained and termination-protected outside dev.
    this.dataStack = new MlopsStack(this, 'Data', { ...stackProps, stackName: `${prefix}-data`, description: `MLOps data (${this.profile.name}): key, network, artifacts, images, registry` });
    this.baseTags = this.dataStack.mlopsTags;
    // The cap of every role of the environment, data stack included (created first: roles of both stacks name it).
    this.permissionBoundary = new PermissionBoundary(this.dataStack, 'PermissionBoundary', { roleNamePrefix: prefix });
    this.permissionBoundary.applyTo(this.dataStack);
    this.platformKey = new PlatformKey(this.dataStack, 'PlatformKey');
    const key = this.platformKey.key;
    this.network = new PlatformNetwork(this.dataStack, 'Network', { encryptionKey: key });
    this.artifactStore = new ArtifactStore(this.dataStack, 'ArtifactStore', { encryptionKey: key, replication: props.artifactStore?.replication });
    this.trainingImages = new ImageRepository(this.dataStack, 'TrainingImages', { repositoryName: `${prefix}/training`, encryptionKey: key });
    this.servingImages = new ImageRepository(this.dataStack, 'ServingImages', { repositoryName: `${prefix}/serving`, encryptionKey: key });
    this.modelRegistry = new ModelRegistry(this.dataStack, 'ModelRegistry', { vpc: this.network.vpc, encryptionKey: key });
    for (const family of props.modelFamilies ?? []) this.modelRegistry.addModelPackageGroup(family);
    // The contract team repositories import (MlopsPlatform.fromEnvironment): named from the prefix only.
    this.sharedParameterNames = new SharedPlatformParameters(this.dataStack, 'SharedPlatformParameters', {
      environmentPrefix: prefix,
      profile: this.profile,
      vpc: this.network.vpc,
      artifactStore: this.artifactStore,
      modelRegistry: this.modelRegistry,
      trainingImages: this.trainingImages,
      servingImages: this.servingImages,
    }).names;
    if (props.experimentTracking ?? true) {
      // Beside the registry it uses: its task roles read the registry secret, whose key policy then names them,
      // which from another stack would make the data stack depend on it.
      this.experimentTracking = new ExperimentTracking(this.dataStack, 'ExperimentTracking', {
        vpc: this.network.vpc,
        registry: this.modelRegistry,
        artifactStore: this.artifactStore,
        encryptionKey: key,
        certificate: this.certificateIn(this.dataStack),
        domainName: props.trackingDomainName,
        authentication: props.trackingAuthentication,
      });
    }

    this.platformStack = new MlopsStack(this, 'Platform', { ...stackProps, stackName: `${prefix}-platform`, description: `MLOps platform (${this.profile.name}): tracking, training, serving, monitoring, budgets` });
    this.platformStack.addStackDependency(this.dataStack);
    this.notifyEmails = props.notifyEmails;
    this.monitoring = new MlopsMonitoring(this.platformStack, 'Monitoring', { notifyEmails: props.notifyEmails, encryptionKey: key });
    this.costGuard = new CostGuard(this.platformStack, 'CostGuard', {
      alertTopic: this.monitoring.alarmTopic, encryptionKey: key, notifyEmails: props.notifyEmails, environmentPrefix: prefix,
    });

    const small = !this.profile.multiAz;
    this.trainingCluster = new GpuTrainingCluster(this.platformStack, 'TrainingCluster', {
      vpc: this.network.vpc,
      artifactStore: this.artifactStore,
      encryptionKey: key,
      instanceTypes: props.training?.instanceTypes ?? (small ? ['g5.xlarge', 'g6.xlarge', 'g6.2xlarge'] : ['g5.2xlarge', 'g5.12xlarge', 'g6.12xlarge']),
      maxGpus: props.training?.maxGpus ?? (small ? 4 : 16),
      spot: props.training?.spot,
      teams: this.teams.length > 0 ? this.teams.map((t) => ({ name: t.name, weight: t.gpuSharePercent })) : undefined,
    });
    // The cluster is shared by the teams (fair share): its GPU capacity is charged to the platform.
    MlopsTagging.apply(this.trainingCluster, this.baseTags.with({ team: SHARED_TEAM }, this.trainingCluster.node.path));
    this.monitoring.monitor(this.trainingCluster).monitor(this.modelRegistry);
    this.costGuard.denyJobSubmissionTo(
      ...[this.trainingCluster.jobQueue, this.trainingCluster.multiNodeQueue].flatMap((q) => (q ? [q.jobQueueArn] : [])),
    );
    this.costGuard.addCostEstimate('training (max GPUs busy, fallback included)', { minUsd: 0, maxUsd: this.trainingCluster.costCeiling.maxUsd });
    this.costGuard.addCostEstimate('model registry', registryCost(this.profile, this.modelRegistry));
    this.costGuard.addCostEstimate('network (NAT gateways)', natCost(this.network));

    // Personas, a trail with data events on the datasets and models buckets, and the boundary on every role.
    this.governance = new MlopsGovernance(this.platformStack, 'Governance', {
      encryptionKey: key, artifactStore: this.artifactStore, permissionBoundary: this.permissionBoundary,
    });
    this.governance.grantPersonas({
      artifactStore: this.artifactStore,
      modelRegistry: this.modelRegistry,
      trainingImages: this.trainingImages,
      servingImages: this.servingImages,
    });
    this.governance.applyBoundaryTo(this.platformStack);
    // The brake denies GPU growth to the personas who could cause it; operators approve and release it.
    const { dataScientist, mlEngineer, platformOperator } = this.governance;
    this.costGuard.denyGpuFor(dataScientist, mlEngineer, platformOperator);
    this.costGuard.brake.grantApprove(this.governance.personaGrantee(platformOperator));
    this.costGuard.brake.grantRelease(this.governance.personaGrantee(platformOperator));

    this.modelPromotion = new ModelPromotion(this.platformStack, 'ModelPromotion', {
      artifactStore: this.artifactStore,
      environmentPrefix: prefix,
      alarmTopic: this.monitoring.alarmTopic,
      encryptionKey: key,
      promoteFrom: props.promoteFrom,
    });
    this.promoteFrom = props.promoteFrom;
    this.modelPromotion.grantStart(this.governance.personaGrantee(mlEngineer));
    // The platform operator starts, follows and aborts the fleet rollouts by hand (rollback included): by name pattern,
    // so the grant needs no reference to the models' nested stacks.
    this.governance.grantPersona(platformOperator, fleetRolloutOperatorStatements({
      partition: this.platformStack.partition, region: this.platformStack.region, account: this.platformStack.account, environmentPrefix: prefix,
    }), `The environment's fleet rollouts by their name pattern (${prefix}-<model>-rollout) and their executions: the operator starts, follows `
      + 'and aborts rollouts by hand; the rollouts live in the models\' nested stacks, and no other state machine matches the pattern.');

    for (const team of this.teams) {
      if (team.monthlyBudgetUsd !== undefined) {
        this.costGuard.addTeamBudget(team.name, { monthlyLimitUsd: team.monthlyBudgetUsd });
      }
    }
    for (const model of props.servedModels ?? []) this.addServedModel(model);
  }

  /**
   * Serves a model in its own nested stack of its serving shard (`<prefix>-serving-<nn>`), with its grants, alarms
   * (latency, errors, GPU waste, rollout health), a graph on the shard's dashboard and its cost estimate wired in.
   * A fleet reads its versions and weights from its served state (in the data stack), which its rollout state
   * machine and promotion write, so a deploy never resets them.
   */
  public addServedModel(options: ServedModelOptions): InferenceFleet | ModelEndpoint {
    const team = this.checkServedModel(options, this.models);
    const shardIndex = options.shard ?? servingShardOf(options.name, this.servingShardCount);
    const shard = this.shard(shardIndex);
    if (shard.models.length >= SERVING_SHARDS.maxModelsPerShard) {
      const emptiest = this.emptiestShard();
      checkFor(this).fail(`servedModels(${options.name}).shard`, shardIndex,
        `is full: serving shard ${servingShardLabel(shardIndex)} holds ${SERVING_SHARDS.maxModelsPerShard} models already (CloudFormation allows 200 parameters per stack)`,
        `pin the model to a shard with room, e.g. shard: ${emptiest} (it holds ${this.shards.get(emptiest)?.models.length ?? 0}); raising 'servingShards' would move most models.`);
    }
    const stack = new NestedStack(shard.stack, `Model-${options.name}`, {
      description: `Served model ${options.name} (${options.backend})`,
    });
    if (team) {
      MlopsTagging.apply(stack, this.baseTags.with({ team: team.name, costCenter: team.costCenter }, stack.node.path));
    }
    // The tag MlopsChecks' served-model rule keys on.
    // (Only on the serving resources: some types CDK can tag, such as listeners and scalable targets, have no
    // Tags in the CloudFormation schema cfn-lint validates against.)
    Tags.of(stack).add('mlops:model', options.name, { includeResourceTypes: MODEL_TAGGED_TYPES });
    const common = {
      vpc: this.network.vpc,
      modelName: options.name,
      modelVersion: options.modelVersion,
      variantVersions: options.variantVersions,
      artifactStore: this.artifactStore,
      image: this.servingImages,
      imageTag: options.imageTag,
      instanceType: options.instanceType,
      encryptionKey: this.platformKey.key,
      minCapacity: options.minCapacity,
      maxCapacity: options.maxCapacity,
      rollout: options.rollout,
      scaleToZeroOffHours: options.scaleToZeroOffHours,
    };
    let serving: InferenceFleet | ModelEndpoint;
    if (options.backend === ServingBackend.FLEET) {
      const servedState = new ServedStateParameter(this.stateStackOf(shardIndex, shard), options.name, {
        environmentPrefix: this.stackNamePrefix,
        model: options.name,
        initialState: InferenceFleet.initialServedState(options, `${this.node.path}/servedModels(${options.name})`),
      });
      serving = new InferenceFleet(stack, 'Fleet', {
        ...common, servedState, notificationTopic: this.monitoring.alarmTopic, certificate: this.certificateIn(stack),
      });
    } else {
      // One production variant (all at once, canary, linear, blue/green): promotion owns its version through a served
      // state and SageMaker guardrails shift the traffic on the shard update. Shadow and A/B endpoints keep template versions.
      const initial = ModelEndpoint.initialServedState(options, `${this.node.path}/servedModels(${options.name})`);
      const servedState = initial.variants.length === 1 ? new ServedStateParameter(this.stateStackOf(shardIndex, shard), options.name, {
        environmentPrefix: this.stackNamePrefix, model: options.name, initialState: initial,
      }) : undefined;
      serving = new ModelEndpoint(stack, 'Endpoint', { ...common, alarmTopic: this.monitoring.alarmTopic, servedState });
      if (servedState) {
        Tags.of(servedState.parameter).add(PROMOTION_TARGET_TAG, promotionTargetTagValue(PromotionMode.DIRECT, shard.stack.stackName));
      }
    }
    const stepped = serving instanceof InferenceFleet && FleetRollout.appliesTo(serving.rollout);
    const alarms = this.monitoring.monitorServing(options.name, serving, {
      scope: stack,
      gpu: serving.instance.isNvidiaGpu,
      dashboard: shard.dashboard,
      // The rollout's progress on the model's graph.
      extraMetrics: stepped ? [FleetRollout.progressMetric(options.name)] : undefined,
    });
    const rollout = stepped ? new FleetRollout(stack, 'Rollout', {
      fleet: serving as InferenceFleet,
      alarmTopic: this.monitoring.alarmTopic,
      alarms: [alarms.latency, alarms.errorRate, alarms.rolloutHealth],
      stateMachineName: fleetRolloutStateMachineName(this.stackNamePrefix, options.name),
      // Its running promotions settle the fleet after a finished rollout.
      promotionStateMachineName: this.modelPromotion.stateMachineName,
    }) : undefined;
    if (serving instanceof InferenceFleet && serving.servedState) {
      // Where ModelPromotion finds the model: its serving shard stack and rollout (A/B tests are not promoted).
      const mode = rollout ? (serving.rollout.isProgressive ? PromotionMode.ROLLOUT : PromotionMode.NONE) : PromotionMode.DIRECT;
      Tags.of(serving.servedState.parameter).add(PROMOTION_TARGET_TAG,
        promotionTargetTagValue(mode, shard.stack.stackName, rollout?.stateMachineName));
    }
    this.costGuard.addCostEstimate(`model ${options.name}`, serving.costEstimate);
    shard.models.push(options.name);
    this.models.set(options.name, { serving, alarms, rollout, shard: shardIndex, stack });
    return serving;
  }

  /** The serving shard stacks, in shard order (only shards that hold a model exist). */
  public get servingStacks(): MlopsStack[] {
    return [...this.shards.entries()].sort(([a], [b]) => a - b).map(([, shard]) => shard.stack);
  }

  /** The serving shard stack holding a served model. */
  public servingStackOf(model: string): MlopsStack | undefined {
    const served = this.models.get(model);
    return served ? this.shards.get(served.shard)?.stack : undefined;
  }

  /** The shard stacks of one serving shard, created with its first model. */
  private shard(index: number): ServingShard {
    const existing = this.shards.get(index);
    if (existing) return existing;
    const label = servingShardLabel(index);
    const stack = new MlopsStack(this, `Serving${label}`, {
      ...this.stackProps,
      stackName: `${this.stackNamePrefix}-serving-${label}`,
      description: `MLOps serving shard ${label} (${this.profile.name}): served models whose name hashes to this shard`,
    });
    stack.addStackDependency(this.platformStack);
    const dashboard = this.monitoring.addServingDashboard(stack, 'Dashboard', `serving-${label}`);
    this.governance.applyBoundaryTo(stack);
    const shard: ServingShard = { stack, dashboard, models: [] };
    this.shards.set(index, shard);
    return shard;
  }

  /**
   * Served states live beside the data, in a nested stack of the data stack per shard, so the data stack grows by one
   * resource per shard (never an empty nested stack: CloudFormation rejects templates without resources).
   */
  private stateStackOf(index: number, shard: ServingShard): NestedStack {
    shard.stateStack ??= new NestedStack(this.dataStack, `ServedState${servingShardLabel(index)}`, {
      description: `Served states (versions and traffic weights) of the models of serving shard ${servingShardLabel(index)}`,
    });
    return shard.stateStack;
  }

  private emptiestShard(): number {
    let best = 0;
    let fewest = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < this.servingShardCount; i++) {
      const count = this.shards.get(i)?.models.length ?? 0;
      if (count < fewest) {
        best = i;
        fewest = count;
      }
    }
    return best;
  }

  /**
   * Lets another environment (prod) promote what this one (staging) approved: its promotion role, and no other
   * principal of its account, may read this environment's model packages (`DescribeModelPackage`, a resource policy
   * on every model package group) and the archives below `served/` of the models bucket (bucket policy, and `kms:Decrypt`
   * of the key through S3 for that bucket). Nothing of `candidates/`, datasets or any other bucket; no writes. The
   * promoting environment sets `promoteFrom` to this environment's account and region.
   *
   * @example
   * staging.shareServedModelsWith({ account: '333333333333', promotionRoleName: prod.artifactStore.promotionRoleName });
   */
  public shareServedModelsWith(promoting: PromotingEnvironment): void {
    this.artifactStore.shareServedModelsWith(promoting);
    this.modelRegistry.shareModelPackagesWith(promoting);
  }

  /**
   * Adds the retraining pipeline of a model family (`ModelPipeline`), over the platform's registry, artifact store and
   * key; approved versions roll out to the served model of the same name when it is an endpoint. The pipeline goes to
   * that model's serving shard stack, or to the platform stack when no model of that name is served. Manual approvals
   * go to the platform's `notifyEmails` and may be answered by the ML engineer persona unless `approvers` says otherwise.
   */
  public addModelPipeline(id: string, options: Omit<ModelPipelineProps, 'registry' | 'artifactStore'>): ModelPipeline {
    checkNoRetrainingWherePromotedFrom(checkFor(this), this.promoteFrom, options.modelName);
    const serving = this.servedModel(options.modelName);
    // Beside the model it rolls out to: the platform stack must not depend on a serving shard (shards depend on it).
    const pipeline = new ModelPipeline(this.servingStackOf(options.modelName) ?? this.platformStack, id, {
      registry: this.modelRegistry,
      artifactStore: this.artifactStore,
      encryptionKey: this.platformKey.key,
      endpoint: serving instanceof ModelEndpoint ? serving : undefined,
      // Models with a served state promote through the environment's promotion (served state, shard update, rollout or
      // guardrails); shadow and A/B endpoints keep the pipeline's own rollout (docs/design/served-models.md, "As built").
      promotion: serving instanceof InferenceFleet || serving?.servedState ? this.modelPromotion : undefined,
      approvers: { emails: this.notifyEmails, grantees: [this.governance.mlEngineer] },
      alarmTopic: this.monitoring.alarmTopic,
      servedState: serving?.servedState,
      ...options,
    });
    // The pipeline updates endpoints and submits training: denied while the GPU brake is on. The brake is in the
    // platform stack, which must not reference a serving shard: a pipeline there gets a role name the brake names.
    const role = pipeline.stateMachine.role;
    const cfnRole = role.node.defaultChild;
    if (Stack.of(pipeline) !== this.platformStack && cfnRole instanceof iam.CfnRole) {
      const name = pipelineRoleName(this.stackNamePrefix, options.modelName);
      cfnRole.roleName = name;
      this.costGuard.denyGpuFor(iam.Role.fromRoleName(this.platformStack, `${id}BrakeRole`, name));
    } else {
      this.costGuard.denyGpuFor(role);
    }
    return pipeline;
  }

  /** Checks a served model's own options (name, backend, team); returns its team. */
  private checkServedModel(options: ServedModelOptions, served: { has(name: string): boolean }): PlatformTeam | undefined {
    // Core's checks, the Pulumi platform's too.
    validateServedModelOptions({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, options, {
      served, backends: Object.values(ServingBackend), teams: this.teams.map((t) => t.name), shardCount: this.servingShardCount,
    });
    const team = options.team === undefined ? undefined : this.teams.find((t) => t.name === options.team);
    if (options.backend === ServingBackend.FLEET) this.checkCertificate(`the load balancer of served model '${options.name}'`);
    return team;
  }

  /** Fails where the profile requires TLS, a load balancer is needed, and no certificate was given; checks the ARN's form. */
  private checkCertificate(needer: string): void {
    checkEnvironmentCertificateArn(checkFor(this), this.profile, this.certificateArn, needer);
  }

  /** The environment's certificate, imported in `scope`'s stack, if one was given. */
  private certificateIn(scope: Construct): acm.ICertificate | undefined {
    return this.certificateArn === undefined ? undefined : acm.Certificate.fromCertificateArn(scope, 'Certificate', this.certificateArn);
  }

  /** A served model by name. */
  public servedModel(name: string): InferenceFleet | ModelEndpoint | undefined {
    return this.models.get(name)?.serving;
  }

  /** The alarms of a served model by name. */
  public servedModelAlarms(name: string): ServedModelAlarms | undefined {
    return this.models.get(name)?.alarms;
  }

  /**
   * The rollout state machine of a served fleet with a canary, linear, blue/green or A/B rollout: promotion starts it
   * (`stateMachine.stateMachineArn`, or the ARN built from `fleetRolloutStateMachineName(stackNamePrefix, model)`).
   */
  public fleetRolloutOf(name: string): FleetRollout | undefined {
    return this.models.get(name)?.rollout;
  }

  /** Names of the served models, in the order they were added. */
  public get servedModelNames(): string[] {
    return [...this.models.keys()];
  }
}

/**
 * Props a JavaScript caller (or a first try) gets wrong before any construct could say so in its own terms: lists that
 * are not lists, and names that become stack names or model package groups.
 */
function checkPlatformShape(check: Check, props: MlopsPlatformProps): void {
  for (const list of ['teams', 'servedModels', 'modelFamilies', 'notifyEmails'] as const) {
    if (props[list] !== undefined && !Array.isArray(props[list])) {
      check.fail(list, props[list], 'must be a list', `wrap the value in a list: ${list}: [...].`);
    }
  }
  // The same rule as the import's (MlopsPlatform.fromEnvironment): the prefix also begins the shared parameter names.
  const stackName = ENVIRONMENT_PREFIX_PATTERN;
  const stackNameText = 'letters, digits and hyphens, starting with a letter';
  if (props.stackNamePrefix !== undefined) {
    check.matches('stackNamePrefix', props.stackNamePrefix, stackName, `${stackNameText} (it begins the stack names)`);
  } else {
    check.matches('project', props.project, stackName, `${stackNameText} (it begins the stack names <project>-<env>-data and -platform)`,
      "use a name such as 'fraud', or set stackNamePrefix to name the stacks yourself.");
  }
  (props.modelFamilies ?? []).forEach((family, i) => {
    check.matches(`modelFamilies[${i}]`, family, /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/,
      '1-63 letters, digits or hyphens, starting and ending with a letter or digit (a SageMaker model package group name)');
  });
}

/** Aurora Serverless v2 capacity: min ACU always on, max ACU all month, plus the reader in multi-AZ profiles (core's estimate). */
function registryCost(profile: EnvironmentProfile, registry: ModelRegistry): { minUsd: number; maxUsd: number } {
  const scaling = Stack.of(registry).resolve((registry.cluster.node.defaultChild as rds.CfnDBCluster).serverlessV2ScalingConfiguration) ?? {};
  const capacity = { minCapacity: scaling.minCapacity, maxCapacity: scaling.maxCapacity };
  return modelRegistryCostEstimate(resolveModelRegistrySpec({ scope: registry.node.path }, capacity, profile));
}

function natCost(network: PlatformNetwork): { minUsd: number; maxUsd: number } {
  const natGateways = network.vpc.node.findAll().filter((c) => c instanceof ec2.CfnNatGateway).length;
  const usd = roundUsd(UNIT_PRICES.natGatewayHour * 730 * natGateways);
  return { minUsd: usd, maxUsd: usd };
}

/** `<environment prefix>-<model>-pipeline`, shortened with a hash past IAM's 64 characters. */
function pipelineRoleName(prefix: string, model: string): string {
  const name = `${prefix}-${model}-pipeline`;
  if (name.length <= 64) return name;
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8);
  return `${name.slice(0, 64 - 18)}-${hash}-pipeline`;
}
