import { Environment, NestedStack, Stack, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import {
  EnvironmentProfile, MlopsTags, modelRegistryCostEstimate, resolveModelRegistrySpec, roundUsd, Rollout, UNIT_PRICES,
  validateIdentifier, validatePlatformTeams,
} from '../core';
import { ArtifactStore } from './artifact-store';
import { CostGuard } from './cost-guard';
import { ExperimentTracking } from './experiment-tracking';
import { GpuTrainingCluster } from './gpu-training-cluster';
import { ImageRepository } from './image-repository';
import { InferenceFleet } from './inference-fleet';
import { MlopsGovernance } from './mlops-governance';
import { MlopsMonitoring, ServedModelAlarms } from './mlops-monitoring';
import { MlopsStack } from './mlops-stack';
import { MlopsTagging } from './mlops-tagging';
import { ModelEndpoint } from './model-endpoint';
import { ModelPipeline, ModelPipelineProps } from './model-pipeline';
import { ModelRegistry } from './model-registry';
import { PlatformKey } from './platform-key';
import { PlatformNetwork } from './platform-network';
import { checkFor } from './scope';

const MODEL_TAGGED_TYPES = [
  'AWS::AutoScaling::AutoScalingGroup', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::ElasticLoadBalancingV2::TargetGroup',
  'AWS::SageMaker::Endpoint', 'AWS::SageMaker::EndpointConfig', 'AWS::SageMaker::Model',
];

/** The `mlops:team` tag of shared GPU capacity (the training cluster), charged to the platform's cost center. */
export const SHARED_TEAM = 'shared';

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
   * Team that owns the model: its resources carry the team's tags.
   * @default - platform-owned
   */
  readonly team?: string;
}

export interface TrainingOptions {
  /** @default - g5.xlarge, g6.xlarge and g6.2xlarge where the profile is single-AZ (dev); g5.2xlarge, g5.12xlarge, g6.12xlarge otherwise */
  readonly instanceTypes?: string[];
  /** @default - 4 where single-AZ, 16 otherwise */
  readonly maxGpus?: number;
  /** @default true */
  readonly spot?: boolean;
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
  /** Email addresses notified of alarms and budget thresholds. @default - none */
  readonly notifyEmails?: string[];
  /** @default true */
  readonly experimentTracking?: boolean;
}

/**
 * A whole MLOps environment from one profile, in two stacks:
 * - `<prefix>-data`: everything stateful (key, network, artifact store, image repositories, model registry) and
 *   the experiment tracking server that lives on the registry; retained and protected outside dev, changed rarely;
 * - `<prefix>-platform`: the training cluster, monitoring and the cost guard, with each
 *   served model in its own nested stack, so the platform grows by one nested stack per model and never moves
 *   an existing model's resources, whatever the number of models.
 * Grants, alarms and budgets are wired automatically.
 */
export class MlopsPlatform extends Construct {
  public readonly profile: EnvironmentProfile;
  public readonly dataStack: MlopsStack;
  public readonly platformStack: MlopsStack;
  public readonly platformKey: PlatformKey;
  public readonly network: PlatformNetwork;
  public readonly artifactStore: ArtifactStore;
  public readonly trainingImages: ImageRepository;
  public readonly servingImages: ImageRepository;
  public readonly modelRegistry: ModelRegistry;
  public readonly experimentTracking?: ExperimentTracking;
  public readonly trainingCluster: GpuTrainingCluster;
  public readonly monitoring: MlopsMonitoring;
  public readonly costGuard: CostGuard;
  public readonly governance: MlopsGovernance;
  public readonly teams: readonly PlatformTeam[];
  private readonly models = new Map<string, { serving: InferenceFleet | ModelEndpoint; alarms: ServedModelAlarms }>();
  private readonly baseTags: MlopsTags;

  constructor(scope: Construct, id: string, props: MlopsPlatformProps) {
    super(scope, id);
    const check = checkFor(this);
    if (typeof props.profile?.name !== 'string') {
      check.fail('profile', props.profile, 'must be an EnvironmentProfile', 'pass EnvironmentProfile.dev(), .staging() or .prod().');
    }
    this.profile = props.profile;
    // Validated in core, as the Pulumi MlopsPlatform validates its teams.
    this.teams = validatePlatformTeams(this.node.path, props.teams ?? [], this.profile);
    // Fail on a served model's own options before building two stacks (addServedModel checks them again).
    const modelNames = new Set<string>();
    for (const model of props.servedModels ?? []) {
      this.checkServedModel(model, modelNames);
      modelNames.add(model.name);
    }
    const prefix = props.stackNamePrefix ?? `${props.project}-${props.profile.name}`;
    const stackProps = { profile: this.profile, project: props.project, costCenter: props.costCenter, env: props.env };

    // Stateful resources: their stack is retained and termination-protected outside dev.
    this.dataStack = new MlopsStack(this, 'Data', { ...stackProps, stackName: `${prefix}-data`, description: `MLOps data (${this.profile.name}): key, network, artifacts, images, registry` });
    this.baseTags = this.dataStack.mlopsTags;
    this.platformKey = new PlatformKey(this.dataStack, 'PlatformKey');
    const key = this.platformKey.key;
    this.network = new PlatformNetwork(this.dataStack, 'Network', { encryptionKey: key });
    this.artifactStore = new ArtifactStore(this.dataStack, 'ArtifactStore', { encryptionKey: key });
    this.trainingImages = new ImageRepository(this.dataStack, 'TrainingImages', { repositoryName: `${prefix}/training`, encryptionKey: key });
    this.servingImages = new ImageRepository(this.dataStack, 'ServingImages', { repositoryName: `${prefix}/serving`, encryptionKey: key });
    this.modelRegistry = new ModelRegistry(this.dataStack, 'ModelRegistry', { vpc: this.network.vpc, encryptionKey: key });
    for (const family of props.modelFamilies ?? []) this.modelRegistry.addModelPackageGroup(family);
    if (props.experimentTracking ?? true) {
      // Beside the registry it uses: its task roles read the registry secret, whose key policy then names them,
      // which from another stack would make the data stack depend on it.
      this.experimentTracking = new ExperimentTracking(this.dataStack, 'ExperimentTracking', {
        vpc: this.network.vpc, registry: this.modelRegistry, artifactStore: this.artifactStore, encryptionKey: key,
      });
    }

    this.platformStack = new MlopsStack(this, 'Platform', { ...stackProps, stackName: `${prefix}-platform`, description: `MLOps platform (${this.profile.name}): tracking, training, serving, monitoring, budgets` });
    this.platformStack.addStackDependency(this.dataStack);
    this.monitoring = new MlopsMonitoring(this.platformStack, 'Monitoring', { notifyEmails: props.notifyEmails, encryptionKey: key });
    this.costGuard = new CostGuard(this.platformStack, 'CostGuard', { alertTopic: this.monitoring.alarmTopic, notifyEmails: props.notifyEmails });

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

    // Personas, a trail with data events on the datasets and models buckets, and a permission boundary on every
    // role of the platform stack (the data stack's service roles stay as their constructs made them).
    this.governance = new MlopsGovernance(this.platformStack, 'Governance', { encryptionKey: key, artifactStore: this.artifactStore });
    this.governance.grantPersonas({
      artifactStore: this.artifactStore,
      modelRegistry: this.modelRegistry,
      trainingImages: this.trainingImages,
      servingImages: this.servingImages,
    });
    this.governance.applyBoundaryTo(this.platformStack);
    this.costGuard.denyGpuFor(this.governance.dataScientist, this.governance.mlEngineer);

    for (const team of this.teams) {
      if (team.monthlyBudgetUsd !== undefined) {
        this.costGuard.addTeamBudget(team.name, { monthlyLimitUsd: team.monthlyBudgetUsd });
      }
    }
    for (const model of props.servedModels ?? []) this.addServedModel(model);
  }

  /**
   * Serves a model in its own nested stack of the platform stack, with its grants, alarms (latency, errors,
   * GPU waste, rollout health) and cost estimate wired in.
   */
  public addServedModel(options: ServedModelOptions): InferenceFleet | ModelEndpoint {
    const team = this.checkServedModel(options, this.models);
    const stack = new NestedStack(this.platformStack, `Model-${options.name}`, {
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
    };
    const serving = options.backend === ServingBackend.FLEET
      ? new InferenceFleet(stack, 'Fleet', { ...common, notificationTopic: this.monitoring.alarmTopic })
      : new ModelEndpoint(stack, 'Endpoint', { ...common, alarmTopic: this.monitoring.alarmTopic });
    const alarms = this.monitoring.monitorServing(options.name, serving, { scope: stack, gpu: serving.instance.isNvidiaGpu });
    this.costGuard.addCostEstimate(`model ${options.name}`, serving.costEstimate);
    this.costGuard.denyGpuFor(serving.role);
    this.models.set(options.name, { serving, alarms });
    return serving;
  }

  /**
   * Adds the retraining pipeline of a model family (`ModelPipeline`) to the platform stack, over the platform's registry,
   * artifact store and key; approved versions roll out to the served model of the same name when it is an endpoint.
   */
  public addModelPipeline(id: string, options: Omit<ModelPipelineProps, 'registry' | 'artifactStore'>): ModelPipeline {
    const serving = this.servedModel(options.modelName);
    return new ModelPipeline(this.platformStack, id, {
      registry: this.modelRegistry,
      artifactStore: this.artifactStore,
      encryptionKey: this.platformKey.key,
      endpoint: serving instanceof ModelEndpoint ? serving : undefined,
      ...options,
    });
  }

  /** Checks a served model's own options (name, backend, team); returns its team. */
  private checkServedModel(options: ServedModelOptions, served: { has(name: string): boolean }): PlatformTeam | undefined {
    const check = checkFor(this);
    validateIdentifier(this.node.path, 'servedModels[].name', options?.name, 40);
    if (served.has(options.name)) {
      check.fail('servedModels[].name', options.name, 'is served already', 'give each served model a unique name.');
    }
    check.oneOf(`servedModels(${options.name}).backend`, options.backend, Object.values(ServingBackend));
    let team: PlatformTeam | undefined;
    if (options.team !== undefined) {
      team = this.teams.find((t) => t.name === options.team);
      if (!team) {
        check.fail(`servedModels(${options.name}).team`, options.team, 'is not a team of the platform', `add it to 'teams' or use one of: ${this.teams.map((t) => t.name).join(', ') || '(no teams)'}.`);
      }
    }
    return team;
  }

  /** A served model by name. */
  public servedModel(name: string): InferenceFleet | ModelEndpoint | undefined {
    return this.models.get(name)?.serving;
  }

  /** The alarms of a served model by name. */
  public servedModelAlarms(name: string): ServedModelAlarms | undefined {
    return this.models.get(name)?.alarms;
  }

  /** Names of the served models, in the order they were added. */
  public get servedModelNames(): string[] {
    return [...this.models.keys()];
  }
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
