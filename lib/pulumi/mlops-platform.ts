import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { DataClassification, EnvironmentProfile, MlopsTags, modelRegistryCostEstimate, ValidationError } from '../core';
import { ArtifactStore, ArtifactStoreArgs } from './artifact-store';
import { childOptions } from './component-support';
import { CostGuard, CostGuardArgs } from './cost-guard';
import { GpuTrainingCluster, GpuTrainingClusterArgs } from './gpu-training-cluster';
import { InferenceFleet, InferenceFleetArgs } from './inference-fleet';
import { ModelRegistry, ModelRegistryArgs } from './model-registry';

type PieceArgs<T> = Omit<T, 'profile' | 'tags' | 'vpcId' | 'subnetIds' | 'encryptionKey' | 'encryptionKeyArn'>;

/** An inference fleet of the platform; it runs in the platform's network and key. */
export interface PlatformInferenceFleetArgs extends Omit<PieceArgs<InferenceFleetArgs>, 'allowedCidrBlocks'> {
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
  /** Inference fleets by name. @default - none */
  readonly inferenceFleets?: Record<string, PlatformInferenceFleetArgs>;
}

/**
 * A whole environment with Pulumi: the platform key, artifact store, model registry, GPU training cluster,
 * inference fleets and a cost guard whose estimate sums every priced piece. Every piece gets the profile, the
 * tags and the platform key.
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
  /** Estimated monthly cost (USD) at minimum and maximum capacity. */
  public readonly estimatedMonthlyCost: { minUsd: number; maxUsd: number };

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
    const tags = MlopsTags.of({
      project: args.project, environment: args.profile.name, costCenter: args.costCenter, dataClassification: args.dataClassification,
    }, `${MlopsPlatform.TYPE}(${name})`);
    super(MlopsPlatform.TYPE, name, {}, opts);
    this.profile = args.profile;
    this.tags = tags;
    const common = { profile: args.profile, tags };
    const net = args.network;
    const caller = aws.getCallerIdentityOutput({}, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this }).partition;
    const region = aws.getRegionOutput({}, { parent: this }).region;

    this.platformKey = new aws.kms.Key(`${name}-key`, {
      description: `mlops-constructs platform key (${args.profile.name}) of ${name}`,
      enableKeyRotation: true,
      deletionWindowInDays: args.profile.allowDestroy ? 7 : 30,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AccountAdministers', Effect: 'Allow', Principal: { AWS: pulumi.interpolate`arn:${partition}:iam::${caller.accountId}:root` }, Action: 'kms:*', Resource: '*' },
          {
            Sid: 'AllowCloudWatchLogsInThisAccount',
            Effect: 'Allow',
            Principal: { Service: pulumi.interpolate`logs.${region}.amazonaws.com` },
            Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
            Resource: '*',
            Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': pulumi.interpolate`arn:${partition}:logs:${region}:${caller.accountId}:log-group:*` } },
          },
        ],
      }),
      tags: tags.toAwsTags(),
    }, childOptions(this, args.profile.retainsData));

    this.artifactStore = new ArtifactStore(`${name}-artifacts`, { ...common, ...args.artifactStore, encryptionKey: this.platformKey }, { parent: this });
    this.modelRegistry = new ModelRegistry(`${name}-registry`, {
      ...common, ...args.modelRegistry, vpcId: net.vpcId, subnetIds: net.isolatedSubnetIds, encryptionKeyArn: this.platformKey.arn,
    }, { parent: this });
    if (args.training !== false) {
      this.training = new GpuTrainingCluster(`${name}-training`, {
        ...common, ...args.training, vpcId: net.vpcId, subnetIds: net.privateSubnetIds, encryptionKeyArn: this.platformKey.arn,
      }, { parent: this });
    }
    const fleets: Record<string, InferenceFleet> = {};
    for (const [fleetName, fleetArgs] of Object.entries(args.inferenceFleets ?? {})) {
      fleets[fleetName] = new InferenceFleet(`${name}-${fleetName}`, {
        ...common,
        ...fleetArgs,
        vpcId: net.vpcId,
        subnetIds: net.privateSubnetIds,
        encryptionKeyArn: this.platformKey.arn,
        allowedCidrBlocks: fleetArgs.allowedCidrBlocks ?? [net.vpcCidrBlock],
      }, { parent: this });
    }
    this.inferenceFleets = fleets;
    this.costGuard = new CostGuard(`${name}-cost`, { ...common, ...args.costGuard }, { parent: this });
    // The same pieces and figures as the CDK MlopsPlatform (a bring-your-own VPC has no NAT gateways priced here).
    if (this.training) this.costGuard.addCostEstimate('training (max GPUs busy, fallback included)', { minUsd: 0, maxUsd: this.training.spec.costCeiling.maxUsd });
    this.costGuard.addCostEstimate('model registry', modelRegistryCostEstimate(this.modelRegistry.spec));
    for (const [fleetName, fleet] of Object.entries(fleets)) this.costGuard.addCostEstimate(`model ${fleetName}`, fleet.spec.costEstimate);
    const total = this.costGuard.estimatedMonthlyCost;
    this.estimatedMonthlyCost = { minUsd: total.minUsd, maxUsd: total.maxUsd };

    this.registerOutputs({
      platformKeyArn: this.platformKey.arn,
      artifactBuckets: this.artifactStore.bucketNames,
      estimatedMonthlyCostUsd: total,
    });
  }
}
