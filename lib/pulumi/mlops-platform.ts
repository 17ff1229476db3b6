import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  Check, checkEnvironmentCertificateArn, checkNoRetrainingWherePromotedFrom, checkPromotingEnvironments, DataClassification, encodeServedState,
  EnvironmentProfile, fleetRolloutOperatorStatements, fleetRolloutProgressMetricSpec, fleetRolloutStateMachineName, MlopsTags,
  mlflowImageBuildCommand, modelRegistryCostEstimate, PlatformTeamSpec,
  PROMOTION_TARGET_TAG, PromotingEnvironment, PromotionMode, PromotionSource, promotionTargetTagValue, Rollout, ServedState,
  servedStateParameterName, validatePlatformTeams, ValidationError, validateServedModelOptions,
} from '../core';
import { metricFromSpec } from './alarms';
import { ArtifactStore, ArtifactStoreArgs, sharedServedModelsKeyStatements } from './artifact-store';
import { accountContext, attachStatements, childOptions, keyPolicyJson, logsKeyStatement, renderNeutralStatement } from './component-support';
import { CostGuard, CostGuardArgs } from './cost-guard';
import { ExperimentTracking } from './experiment-tracking';
import { FleetRollout } from './fleet-rollout';
import { GpuTrainingCluster, GpuTrainingClusterArgs } from './gpu-training-cluster';
import { ImageRepository } from './image-repository';
import { InferenceFleet, InferenceFleetArgs } from './inference-fleet';
import { MlopsGovernance, MlopsGovernanceArgs } from './mlops-governance';
import { alarmPublisherKeyStatement, MlopsMonitoring, ServedModelAlarms } from './mlops-monitoring';
import { ModelEndpoint } from './model-endpoint';
import { ModelPipeline, ModelPipelineArgs } from './model-pipeline';
import { ModelPromotion } from './model-promotion';
import { ModelRegistry, ModelRegistryArgs } from './model-registry';
import { ServedStateArgs } from './served-state';
import { TrackingAuthentication } from './tracking-authentication';

type PieceArgs<T> = Omit<T, 'profile' | 'tags' | 'vpcId' | 'subnetIds' | 'encryptionKey' | 'encryptionKeyArn' | 'sharesServedModelsWith' | 'encryptionKeySharesServedModels'>;

/** An inference fleet of the platform; it runs in the platform's network and key and loads its model from the platform's store. */
export interface PlatformInferenceFleetArgs extends Omit<PieceArgs<InferenceFleetArgs>, 'allowedCidrBlocks' | 'artifactStore'> {
  /** @default - the VPC's CIDR block */
  readonly allowedCidrBlocks?: pulumi.Input<string>[];
}

/** The network the platform runs in (bring your own VPC, e.g. from `@pulumi/awsx`). */
export interface PlatformNetworkArgs {
  readonly vpcId: pulumi.Input<string>;
  /** CIDR block of the VPC; internal load balancers accept calls from it. */
  readonly vpcCidrBlock: pulumi.Input<string>;
  /** Private subnets with egress (training, serving). */
  readonly privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Isolated subnets (databases). */
  readonly isolatedSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
}

/** A model the platform serves, on an inference fleet or a SageMaker endpoint (as the CDK platform's `servedModels`). */
export interface PlatformServedModelArgs {
  /** Model name (lower-case letters, digits, hyphens); its artifacts are under `<name>/<version>/` in the models bucket. */
  readonly name: string;
  /** `fleet` (EC2 Auto Scaling groups behind an ALB, `InferenceFleet`) or `endpoint` (SageMaker, `ModelEndpoint`). */
  readonly backend: 'fleet' | 'endpoint';
  readonly modelVersion: string;
  /** Tag of the serving image in the platform's serving image repository. */
  readonly imageTag: string;
  /** @default g5.xlarge */
  readonly instanceType?: string;
  /** @default - all at once */
  readonly rollout?: Rollout;
  /** Versions of the other variants of the rollout (`candidate`, or the A/B variant names). @default - none */
  readonly variantVersions?: Record<string, string>;
  /** @default - the profile's minimum */
  readonly minCapacity?: number;
  /** @default - the backend's default */
  readonly maxCapacity?: number;
  /** Team that owns the model: its resources carry the team's tags. @default - platform-owned */
  readonly team?: string;
}

export interface MlopsPlatformArgs {
  /** The environment's profile. */
  readonly profile: EnvironmentProfile;
  /** Project name for the `mlops:project` tag. */
  readonly project: string;
  /** @default - no cost-center tag */
  readonly costCenter?: string;
  /** @default DataClassification.INTERNAL */
  readonly dataClassification?: DataClassification;
  readonly network: PlatformNetworkArgs;
  /** @default - ArtifactStore defaults */
  readonly artifactStore?: PieceArgs<ArtifactStoreArgs>;
  /** @default - ModelRegistry defaults */
  readonly modelRegistry?: PieceArgs<ModelRegistryArgs>;
  /** @default - CostGuard defaults */
  readonly costGuard?: PieceArgs<CostGuardArgs>;
  /** @default - a GpuTrainingCluster with its defaults; `false` for none */
  readonly training?: PieceArgs<GpuTrainingClusterArgs> | false;
  /** Inference fleets by name, with any image (see `servedModels` for models served from the platform's images). @default - none */
  readonly inferenceFleets?: Record<string, PlatformInferenceFleetArgs>;
  /** Models served from the platform's serving images, on fleets or endpoints, monitored and budgeted. @default - none */
  readonly servedModels?: PlatformServedModelArgs[];
  /** Teams: fair share of the training GPUs, team budgets, tags of the models they own. @default - none */
  readonly teams?: PlatformTeamSpec[];
  /** Model package groups created in the registry. @default - none */
  readonly modelFamilies?: string[];
  /** Who gets alarm and budget e-mails. @default - nobody */
  readonly notifyEmails?: string[];
  /** An MLflow tracking server on the registry's database (it needs `trackingImage`). @default true */
  readonly experimentTracking?: boolean;
  /**
   * Image of the MLflow tracking server, built from the Dockerfile the package ships (`assets/mlflow/`, see
   * `ExperimentTrackingArgs.image` and `mlflowImageBuildCommand()`), pinned by digest where the profile requires TLS.
   * Required with `experimentTracking` (the default): Pulumi builds no image and the container installs nothing at start.
   * @default - none: the platform fails with a ValidationError when it creates the tracking server
   */
  readonly trackingImage?: pulumi.Input<string>;
  /**
   * The name clients call the experiment tracking server by (covered by the certificate, with a DNS record pointing at
   * its load balancer): its `trackingUri` and the sign-in callback use it (see `ExperimentTrackingArgs.domainName`).
   * @default - the load balancer's DNS name, which the certificate does not cover: set it wherever there is a certificate
   */
  readonly trackingDomainName?: string;
  /**
   * How the experiment tracking server's load balancer authenticates requests (see `ExperimentTrackingArgs.authentication`).
   * @default - with a certificate, a Cognito user pool with MFA and no self sign-up; without one (dev), none
   */
  readonly trackingAuthentication?: TrackingAuthentication;
  /**
   * ARN of the ACM certificate every load balancer of the environment serves HTTPS with (TLS 1.2 and 1.3, port 80
   * redirecting to 443): the experiment tracking server's, every `fleet` model's and every inference fleet's that gives
   * none of its own. Required where the profile requires TLS (staging, prod) and the environment has a load balancer.
   * The load balancers are internal, so a wildcard certificate of a private name (for example `*.ml.example.internal`
   * from ACM Private CA) fits, with a DNS record per load balancer; it must be in the environment's region.
   * @default - HTTP on port 80, only where the profile allows it (dev)
   */
  readonly certificateArn?: string;
  /** Personas' principals, trail settings, allowed regions. @default - MlopsGovernance defaults */
  readonly governance?: Omit<PieceArgs<MlopsGovernanceArgs>, 'artifactStore' | 'permissionsBoundary'>;
  /**
   * The source environment (staging's account and region) whose approved model packages this one promotes by ARN
   * (`{"model", "version", "modelPackageArn"}`): the promotion role may read them there (see the CDK platform's
   * `promoteFrom`; the source grants it with `sharesServedModelsWith`, or the CDK platform's `shareServedModelsWith`).
   * @default - packages of this environment only
   */
  readonly promoteFrom?: PromotionSource;
  /**
   * Other environments that promote what this one approved (prod, for staging; as the CDK platform's
   * `shareServedModelsWith`): their promotion role, and no other principal of their account, may read this
   * environment's model packages (a resource policy on every model package group) and the archives below `served/` of
   * the models bucket (bucket policy, and `kms:Decrypt` of the platform key through S3). Nothing of `candidates/`,
   * datasets or any other bucket; no writes. An argument rather than a method: Pulumi creates the bucket, key and group
   * policies with the components, and cannot add to them afterwards.
   * @example sharesServedModelsWith: [{ account: '333333333333', promotionRoleName: 'acme-prod-artifacts-promotion' }]
   * @default - shared with no other environment
   */
  readonly sharesServedModelsWith?: PromotingEnvironment[];
}

/**
 * A whole environment with Pulumi, composed as the CDK `MlopsPlatform`: the platform key, artifact store, training and
 * serving image repositories, model registry, MLflow experiment tracking, governance (personas with their grants, a
 * permission boundary on every role of the training and serving pieces, an audit trail with the store's data events),
 * monitoring (training, registry and every served model), a GPU training cluster shared by the teams, served models on
 * fleets and endpoints, and a cost guard (team budgets included) whose estimate sums every priced piece. Every piece
 * gets the profile, the tags and the platform key.
 */
export class MlopsPlatform extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:MlopsPlatform';

  public readonly profile: EnvironmentProfile;
  public readonly tags: MlopsTags;
  public readonly platformKey: aws.kms.Key;
  public readonly artifactStore: ArtifactStore;
  public readonly modelRegistry: ModelRegistry;
  public readonly training?: GpuTrainingCluster;
  public readonly inferenceFleets: Readonly<Record<string, InferenceFleet>>;
  public readonly costGuard: CostGuard;
  public readonly trainingImages: ImageRepository;
  public readonly servingImages: ImageRepository;
  public readonly experimentTracking?: ExperimentTracking;
  public readonly governance: MlopsGovernance;
  public readonly monitoring: MlopsMonitoring;
  public readonly teams: readonly PlatformTeamSpec[];
  /** Served models by name (fleets and endpoints). */
  public readonly servedModels: Readonly<Record<string, InferenceFleet | ModelEndpoint>>;
  /** Alarms of each served model by name. */
  public readonly servedModelAlarms: Readonly<Record<string, ServedModelAlarms>>;
  /**
   * The rollout state machine of each served fleet with a canary, linear, blue/green or A/B rollout, by model (see
   * `fleetRolloutOf`).
   */
  public readonly fleetRollouts: Readonly<Record<string, FleetRollout>>;
  /**
   * THE promotion role (named as the artifact store's bucket policy designates: the only writer of `served/`) and its
   * state machine; the ML engineer persona may start it. See `ModelPromotion` for what it does on Pulumi.
   */
  public readonly modelPromotion: ModelPromotion;
  /**
   * The served state of each promotable model by name (`/mlops/<project>-<env>/served/<model>`, tagged for promotion;
   * promotion writes it, `pulumi up` never reverts it): fleets, and endpoints with one production variant.
   */
  public readonly servedStates: Readonly<Record<string, aws.ssm.Parameter>>;
  /** Estimated monthly cost (USD) at minimum and maximum capacity. */
  public readonly estimatedMonthlyCost: { minUsd: number; maxUsd: number };

  private readonly baseName: string;
  private readonly scope: string;
  private readonly environmentPrefix: string;
  private readonly notifyEmails?: string[];
  private readonly promoteFrom?: PromotionSource;

  constructor(name: string, args: MlopsPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    if (typeof args?.profile?.name !== 'string' || typeof args.profile.allowDestroy !== 'boolean') {
      throw new ValidationError({
        scope: `${MlopsPlatform.TYPE}(${name})`,
        prop: 'profile',
        value: args?.profile,
        problem: 'must be an EnvironmentProfile',
        fix: 'pass EnvironmentProfile.dev(), .staging() or .prod() (with overrides if needed).',
      });
    }
    const scope = `${MlopsPlatform.TYPE}(${name})`;
    const teams = validatePlatformTeams(scope, args.teams ?? [], args.profile);
    checkServedModels(scope, args.servedModels ?? [], teams);
    // As the CDK platform: where the profile requires TLS, every load balancer needs the environment's certificate.
    const certificateCheck = new Check(scope);
    for (const model of (args.servedModels ?? []).filter((m) => m.backend === 'fleet')) {
      checkEnvironmentCertificateArn(certificateCheck, args.profile, args.certificateArn, `the load balancer of served model '${model.name}'`);
    }
    if (args.experimentTracking ?? true) checkEnvironmentCertificateArn(certificateCheck, args.profile, args.certificateArn, 'the experiment tracking server');
    const sharedWith = args.sharesServedModelsWith ?? [];
    checkPromotingEnvironments(certificateCheck, 'sharesServedModelsWith', sharedWith);
    if ((args.experimentTracking ?? true) && (args.trackingImage === undefined || args.trackingImage === '')) {
      certificateCheck.fail('trackingImage', args.trackingImage,
        'is required with experimentTracking: the Pulumi ExperimentTracking builds no image and its container installs nothing when it starts',
        'build the tracking server image from the package\'s Dockerfile, push it and pass it by digest (\'repository@sha256:<64 hex digits>\'): '
        + `${mlflowImageBuildCommand()}; or set experimentTracking: false.`);
    }
    const tags = MlopsTags.of({
      project: args.project, environment: args.profile.name, costCenter: args.costCenter, dataClassification: args.dataClassification,
    }, `${MlopsPlatform.TYPE}(${name})`);
    super(MlopsPlatform.TYPE, name, {}, opts);
    this.baseName = name;
    this.scope = scope;
    this.environmentPrefix = `${args.project}-${args.profile.name}`;
    this.notifyEmails = args.notifyEmails;
    this.promoteFrom = args.promoteFrom;
    this.profile = args.profile;
    this.tags = tags;
    const common = { profile: args.profile, tags };
    const net = args.network;
    const account = accountContext(this);

    this.platformKey = new aws.kms.Key(`${name}-key`, {
      description: `mlops-constructs platform key (${args.profile.name}) of ${name}`,
      enableKeyRotation: true,
      deletionWindowInDays: args.profile.allowDestroy ? 7 : 30,
      // The alarm topic is encrypted with this key; promoting environments decrypt the store's served/ archives through S3.
      policy: keyPolicyJson(account, [
        logsKeyStatement(account), alarmPublisherKeyStatement(account.accountId), ...sharedServedModelsKeyStatements(account, sharedWith),
      ]),
      tags: tags.toAwsTags(),
    }, childOptions(this, args.profile.retainsData));

    this.teams = teams;
    const keyArn = this.platformKey.arn;

    // Data: the store and images, then (under the governance boundary) the registry and tracking. The store comes before
    // governance (whose trail logs its data events and whose access logs it keeps), so its replication role takes the
    // boundary as an output that resolves once governance exists (after this constructor's synchronous part): bounded as
    // every role of the platform. Without governance (the constructor threw) the role fails to register rather than
    // being created unbounded by the failing pulumi up.
    const storeBoundary = args.artifactStore?.replication === undefined ? undefined : pulumi.output(Promise.resolve(true)).apply(() => {
      if (this.governance === undefined) throw new Error(`${scope}: the artifact store's replication role has no governance boundary (the platform failed)`);
      return this.governance.permissionBoundary.arn;
    });
    this.artifactStore = new ArtifactStore(`${name}-artifacts`, {
      ...common,
      ...args.artifactStore,
      encryptionKey: this.platformKey,
      sharesServedModelsWith: sharedWith,
      encryptionKeySharesServedModels: true,
      permissionsBoundary: storeBoundary,
    }, { parent: this });
    const repositoryPrefix = `${args.project}-${args.profile.name}`;
    this.trainingImages = new ImageRepository(`${name}-training-images`, {
      ...common, repositoryName: `${repositoryPrefix}/training`, encryptionKeyArn: keyArn,
    }, { parent: this });
    this.servingImages = new ImageRepository(`${name}-serving-images`, {
      ...common, repositoryName: `${repositoryPrefix}/serving`, encryptionKeyArn: keyArn,
    }, { parent: this });
    // Governance next: its boundary goes on every role of the registry, tracking, training and serving pieces.
    this.governance = new MlopsGovernance(`${name}-governance`, {
      ...common, ...args.governance, encryptionKeyArn: keyArn, artifactStore: this.artifactStore,
    }, { parent: this });
    const permissionsBoundary = this.governance.permissionBoundary.arn;
    this.modelRegistry = new ModelRegistry(`${name}-registry`, {
      ...common,
      ...args.modelRegistry,
      vpcId: net.vpcId,
      subnetIds: net.isolatedSubnetIds,
      encryptionKeyArn: keyArn,
      sharesServedModelsWith: sharedWith,
      permissionsBoundary,
    }, { parent: this });
    for (const family of args.modelFamilies ?? []) this.modelRegistry.addModelPackageGroup(family);
    if (args.experimentTracking ?? true) {
      this.experimentTracking = new ExperimentTracking(`${name}-tracking`, {
        ...common,
        vpcId: net.vpcId,
        subnetIds: net.privateSubnetIds,
        vpcCidrBlock: net.vpcCidrBlock,
        registry: this.modelRegistry,
        artifactStore: this.artifactStore,
        encryptionKeyArn: keyArn,
        certificateArn: args.certificateArn,
        image: args.trackingImage as pulumi.Input<string>,
        domainName: args.trackingDomainName,
        authentication: args.trackingAuthentication,
        permissionsBoundary,
      }, { parent: this });
    }

    this.monitoring = new MlopsMonitoring(`${name}-monitoring`, { ...common, notifyEmails: args.notifyEmails, encryptionKeyArn: keyArn }, { parent: this });
    this.monitoring.monitorRegistry(this.modelRegistry);
    // As the CDK platform: THE promotion role and its state machine; the ML engineer starts promotions (the manual path).
    const environmentPrefix = `${args.project}-${args.profile.name}`;
    this.modelPromotion = new ModelPromotion(`${name}-promotion`, {
      ...common,
      artifactStore: this.artifactStore,
      environmentPrefix,
      alarmTopicArn: this.monitoring.alarmTopic.arn,
      alarmTopicKeyArn: keyArn,
      encryptionKeyArn: keyArn,
      permissionsBoundary,
      promoteFrom: args.promoteFrom,
    }, { parent: this });
    attachStatements(`${name}-ml-engineer-promotes`, this.governance.mlEngineer, this.modelPromotion.grantStartStatements(), this,
      `The ML engineer of ${name} starts promotions`, tags.toAwsTags());
    // As the CDK platform: the platform operator starts, follows and aborts the fleet rollouts by hand (rollback included).
    attachStatements(`${name}-operator-rollouts`, this.governance.platformOperator,
      pulumi.all([account.partition, account.region, account.accountId]).apply(([partition, region, accountId]) =>
        fleetRolloutOperatorStatements({ partition, region, account: accountId, environmentPrefix }).map(renderNeutralStatement)),
      this, `The platform operator of ${name} starts and aborts fleet rollouts`, tags.toAwsTags());

    if (args.training !== false) {
      const sharedTags = tags.with({ team: 'shared' }, scope);
      this.training = new GpuTrainingCluster(`${name}-training`, {
        ...common,
        // The cluster is shared by the teams (fair share): its GPU capacity is charged to the platform.
        tags: sharedTags,
        teams: teams.length > 0 ? teams.map((t) => ({ name: t.name, weight: t.gpuSharePercent })) : undefined,
        ...args.training,
        vpcId: net.vpcId,
        subnetIds: net.privateSubnetIds,
        encryptionKeyArn: keyArn,
        artifactStore: this.artifactStore,
        permissionsBoundary,
      }, { parent: this });
      this.monitoring.monitorTraining(this.training);
    }
    const fleets: Record<string, InferenceFleet> = {};
    for (const [fleetName, fleetArgs] of Object.entries(args.inferenceFleets ?? {})) {
      fleets[fleetName] = new InferenceFleet(`${name}-${fleetName}`, {
        ...common,
        ...fleetArgs,
        vpcId: net.vpcId,
        subnetIds: net.privateSubnetIds,
        encryptionKeyArn: keyArn,
        artifactStore: this.artifactStore,
        allowedCidrBlocks: fleetArgs.allowedCidrBlocks ?? [net.vpcCidrBlock],
        certificateArn: fleetArgs.certificateArn ?? args.certificateArn,
        permissionsBoundary,
      }, { parent: this });
    }
    this.inferenceFleets = fleets;

    const served: Record<string, InferenceFleet | ModelEndpoint> = {};
    const servedStates: Record<string, aws.ssm.Parameter> = {};
    const servedAlarms: Record<string, ServedModelAlarms> = {};
    const rollouts: Record<string, FleetRollout> = {};
    for (const model of args.servedModels ?? []) {
      const team = teams.find((t) => t.name === model.team);
      const modelTags = team ? tags.with({ team: team.name, costCenter: team.costCenter }, scope) : tags;
      const modelArgs = {
        profile: args.profile,
        tags: modelTags,
        vpcId: net.vpcId,
        subnetIds: net.privateSubnetIds,
        modelName: model.name,
        modelVersion: model.modelVersion,
        variantVersions: model.variantVersions,
        artifactStore: this.artifactStore,
        image: this.servingImages,
        imageTag: model.imageTag,
        instanceType: model.instanceType,
        minCapacity: model.minCapacity,
        maxCapacity: model.maxCapacity,
        rollout: model.rollout,
        encryptionKeyArn: keyArn,
        permissionsBoundary,
      };
      // The served state first (promotion writes it, pulumi up never reverts it): the fleet or endpoint reads it.
      const promotable = promotableState(model, `${scope}.servedModels(${model.name})`);
      let servedState: ServedStateArgs | undefined;
      if (promotable) {
        const parameterName = servedStateParameterName(environmentPrefix, model.name);
        servedStates[model.name] = new aws.ssm.Parameter(`${name}-served-${model.name}`, {
          name: parameterName,
          type: 'String',
          value: encodeServedState(promotable.state, `${scope}.servedModels(${model.name})`),
          description: `Served state of ${model.name} in ${environmentPrefix}: written by its promotion; pulumi up does not revert it`,
          // Where promotion finds the model: this Pulumi stack and, for a stepped fleet, the rollout state machine created
          // below (by its name, core's fleetRolloutStateMachineName, which FleetRollout uses), which promotion starts.
          tags: {
            ...modelTags.toAwsTags(),
            [PROMOTION_TARGET_TAG]: promotionTargetTagValue(promotable.mode, pulumi.getStack(),
              model.backend === 'fleet' && FleetRollout.appliesTo(model.rollout ?? Rollout.allAtOnce())
                ? fleetRolloutStateMachineName(environmentPrefix, model.name) : undefined),
          },
        }, { ...childOptions(this), ignoreChanges: ['value'] });
        servedState = { name: parameterName, arn: servedStates[model.name].arn, initialState: promotable.state };
      }
      const serving = model.backend === 'fleet'
        ? new InferenceFleet(`${name}-model-${model.name}`, {
          ...modelArgs,
          allowedCidrBlocks: [net.vpcCidrBlock],
          notificationTopicArn: this.monitoring.alarmTopic.arn,
          certificateArn: args.certificateArn,
          servedState,
        }, { parent: this })
        : new ModelEndpoint(`${name}-model-${model.name}`, { ...modelArgs, alarmTopicArn: this.monitoring.alarmTopic.arn, servedState }, { parent: this });
      served[model.name] = serving;
      const stepped = serving instanceof InferenceFleet && servedState !== undefined && FleetRollout.appliesTo(serving.rollout);
      // As the CDK platform: the model's serving graph (core's layout), with a stepped fleet's rollout progress on it.
      const alarms = this.monitoring.monitorServing(serving, {
        extraMetrics: stepped ? [metricFromSpec(fleetRolloutProgressMetricSpec(model.name))] : [],
      });
      servedAlarms[model.name] = alarms;
      if (stepped && serving instanceof InferenceFleet) {
        // As the CDK platform: the fleet's rollout state machine, rolling back on the model's serving alarms.
        rollouts[model.name] = new FleetRollout(`${name}-rollout-${model.name}`, {
          stateMachineName: fleetRolloutStateMachineName(environmentPrefix, model.name),
          // Its running promotions settle the fleet after a finished rollout.
          promotionStateMachineName: this.modelPromotion.stateMachineName,
          profile: args.profile,
          tags: modelTags,
          fleet: serving,
          alarms: [alarms.latency, alarms.errorRate, alarms.rolloutHealth],
          alarmTopicArn: this.monitoring.alarmTopic.arn,
          alarmTopicKeyArn: keyArn,
          environmentPrefix,
          encryptionKeyArn: keyArn,
          permissionsBoundary,
        }, { parent: this });
      }
    }
    this.servedModels = served;
    this.servedStates = servedStates;
    this.servedModelAlarms = servedAlarms;
    this.fleetRollouts = rollouts;

    this.governance.grantPersonas({
      artifactStore: this.artifactStore, modelRegistry: this.modelRegistry, trainingImages: this.trainingImages, servingImages: this.servingImages,
    });
    this.costGuard = new CostGuard(`${name}-cost`, {
      ...common,
      // The brake's roles are bounded as every platform role is (the boundary lets only them lift the brake).
      permissionsBoundary,
      // Its own topic: the alarm topic's policy admits CloudWatch only, budgets and anomaly alerts need theirs.
      notifyEmails: args.notifyEmails,
      // The personas are denied GPU growth and launches while the brake is on.
      denyGpuFor: [
        { name: this.governance.dataScientist.name, arn: this.governance.dataScientist.arn },
        { name: this.governance.mlEngineer.name, arn: this.governance.mlEngineer.arn },
      ],
      ...args.costGuard,
    }, { parent: this });
    for (const team of teams) {
      if (team.monthlyBudgetUsd !== undefined) this.costGuard.addTeamBudget(team.name, { monthlyLimitUsd: team.monthlyBudgetUsd });
    }
    // The same pieces and figures as the CDK MlopsPlatform (a bring-your-own VPC has no NAT gateways priced here).
    if (this.training) this.costGuard.addCostEstimate('training (max GPUs busy, fallback included)', { minUsd: 0, maxUsd: this.training.spec.costCeiling.maxUsd });
    this.costGuard.addCostEstimate('model registry', modelRegistryCostEstimate(this.modelRegistry.spec));
    for (const [fleetName, fleet] of Object.entries(fleets)) this.costGuard.addCostEstimate(`model ${fleetName}`, fleet.spec.costEstimate);
    for (const [modelName, serving] of Object.entries(served)) this.costGuard.addCostEstimate(`model ${modelName}`, serving.spec.costEstimate);
    const total = this.costGuard.estimatedMonthlyCost;
    this.estimatedMonthlyCost = { minUsd: total.minUsd, maxUsd: total.maxUsd };

    this.registerOutputs({
      platformKeyArn: this.platformKey.arn,
      artifactBuckets: this.artifactStore.bucketNames,
      estimatedMonthlyCostUsd: total,
    });
  }

  /**
   * A retraining pipeline for one of the platform's models, wired as the CDK `MlopsPlatform.addModelPipeline` wires it:
   * the platform's registry and store; for a fleet, or a model with a served state, the hand-off to the environment's
   * promotion (the pipeline may start only that state machine, and evaluates against the served state); an endpoint
   * model's endpoint (rolled out to by the pipeline itself when it has no served state); approval
   * requests to `notifyEmails` with the ML engineer persona as approver; failures to the alarm topic; its role under
   * the governance boundary and denied GPU work while the budget brake is on. Refused where the platform promotes what
   * another environment approved (`promoteFrom`): that environment does not retrain.
   */
  /**
   * The rollout state machine of a served fleet with a canary, linear, blue/green or A/B rollout (named
   * `fleetRolloutStateMachineName(<project>-<env>, <model>)`): start it after `pulumi up` or a promotion (nothing starts
   * it on Pulumi, see `FleetRollout`); undefined for fleets served all at once and for endpoints.
   */
  public fleetRolloutOf(model: string): FleetRollout | undefined {
    return this.fleetRollouts[model];
  }

  public addModelPipeline(id: string, args: Omit<ModelPipelineArgs, 'registry' | 'artifactStore'>): ModelPipeline {
    checkNoRetrainingWherePromotedFrom(new Check(this.scope), this.promoteFrom, args?.modelName);
    const serving = this.servedModels[args.modelName];
    const promoted = serving instanceof InferenceFleet || this.servedStates[args.modelName] !== undefined;
    const pipeline = new ModelPipeline(`${this.baseName}-${id}`, {
      profile: this.profile,
      tags: this.tags,
      registry: this.modelRegistry,
      artifactStore: this.artifactStore,
      servedState: this.servedStates[args.modelName]
        ? { name: servedStateParameterName(this.environmentPrefix, args.modelName), arn: this.servedStates[args.modelName].arn }
        : undefined,
      promotionStateMachineArn: promoted ? this.modelPromotion.stateMachine.arn : undefined,
      // As the CDK platform: an endpoint model's endpoint (shadow and A/B endpoints, which have no served state, get
      // the pipeline's own rollout; with the promotion it only names production's version).
      endpoint: serving instanceof ModelEndpoint ? serving : undefined,
      approvers: { emails: this.notifyEmails, grantees: [this.governance.mlEngineer] },
      alarmTopicArn: this.monitoring.alarmTopic.arn,
      alarmTopicKeyArn: this.platformKey.arn,
      permissionsBoundary: this.governance.permissionBoundary.arn,
      ...args,
    }, { parent: this });
    // It submits training jobs: denied while the GPU brake is on, as the personas are.
    this.costGuard.denyGpuFor({ name: pipeline.role.name, arn: pipeline.role.arn });
    return pipeline;
  }
}

/**
 * The served state of a promotable model and how promotion updates it (as the CDK platform creates and tags it): a fleet
 * stepped by its rollout takes a new version as `candidate` at 0, an A/B fleet is not promoted, an all-at-once fleet and
 * an endpoint with one production variant serve it as their one variant. Endpoints with several variants (shadow, A/B)
 * have none (as in CDK): they serve the program's versions.
 */
function promotableState(model: PlatformServedModelArgs, scope: string): { state: ServedState; mode: PromotionMode } | undefined {
  if (model.backend === 'fleet') {
    const state = InferenceFleet.initialServedState(model, scope);
    const rollout = model.rollout ?? Rollout.allAtOnce();
    const mode = state.variants.length === 1 ? PromotionMode.DIRECT : rollout.isProgressive ? PromotionMode.ROLLOUT : PromotionMode.NONE;
    return { state, mode };
  }
  const state = ModelEndpoint.initialServedState(model, scope);
  return state.variants.length === 1 ? { state, mode: PromotionMode.DIRECT } : undefined;
}

/** Each served model's own options: a unique name, a known backend, a team of the platform. */
function checkServedModels(scope: string, models: readonly PlatformServedModelArgs[], teams: readonly PlatformTeamSpec[]): void {
  const names = new Set<string>();
  for (const model of models) {
    // Core's checks, the CDK platform's too (this platform does not shard its serving).
    validateServedModelOptions({ scope }, model, { served: names, backends: ['fleet', 'endpoint'], teams: teams.map((t) => t.name) });
    names.add(model.name);
  }
}
