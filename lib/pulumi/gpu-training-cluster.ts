import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { resolveTrainingClusterSpec, TrainingClusterSpec, TrainingClusterSpecInput } from '../core';
import { childOptions, componentSpecScope, MlopsComponentArgs, policyJson, resolveProfileAndTags } from './component-support';

export interface GpuTrainingClusterArgs extends MlopsComponentArgs, TrainingClusterSpecInput {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets with egress the instances run in. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * ARN of the key encrypting root volumes and job logs.
   * @default - a new key with rotation
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
}

/**
 * The Pulumi counterpart of the CDK `GpuTrainingCluster`: AWS Batch managed EC2 compute on the NVIDIA ECS AMI that
 * costs nothing while idle (`minvCpus` from the profile, 0 by default), spot first with an on-demand fallback where
 * the profile is multi-AZ, `maxGpus` translated into Batch's vCPU cap, IMDSv2-only instances with encrypted gp3 root
 * volumes, a job queue with per-team fair share and an encrypted job log group. Settings from core's
 * `resolveTrainingClusterSpec`. Job definitions are CDK-only for now.
 */
export class GpuTrainingCluster extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:GpuTrainingCluster';

  public readonly spec: TrainingClusterSpec;
  public readonly spotComputeEnvironment?: aws.batch.ComputeEnvironment;
  public readonly onDemandComputeEnvironment?: aws.batch.ComputeEnvironment;
  public readonly jobQueue: aws.batch.JobQueue;
  public readonly launchTemplate: aws.ec2.LaunchTemplate;
  public readonly logGroup: aws.cloudwatch.LogGroup;

  constructor(name: string, args: GpuTrainingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const spec = resolveTrainingClusterSpec(componentSpecScope(GpuTrainingCluster.TYPE, name), args, profile);
    super(GpuTrainingCluster.TYPE, name, {}, opts);
    this.spec = spec;
    const tags = mlopsTags.toAwsTags();

    const keyArn = pulumi.output(args.encryptionKeyArn ?? new aws.kms.Key(`${name}-key`, {
      description: `GPU training cluster ${name}`,
      enableKeyRotation: true,
      deletionWindowInDays: spec.keyPendingWindowDays,
      tags,
    }, childOptions(this, spec.retainData)).arn);
    const securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
      vpcId: args.vpcId,
      description: `GPU training instances of ${name}`,
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'Images, datasets and AWS APIs' }],
      ingress: spec.efa ? [{ protocol: '-1', fromPort: 0, toPort: 0, self: true, description: 'EFA traffic between training nodes' }] : [],
      tags,
    }, childOptions(this));
    this.launchTemplate = new aws.ec2.LaunchTemplate(`${name}-lt`, {
      metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 2 },
      blockDeviceMappings: [{
        deviceName: '/dev/xvda',
        ebs: { encrypted: 'true', kmsKeyId: keyArn, volumeType: 'gp3', volumeSize: spec.rootVolumeSizeGiB, deleteOnTermination: 'true' },
      }],
      tagSpecifications: [{ resourceType: 'instance', tags }, { resourceType: 'volume', tags }],
      tags,
    }, childOptions(this));
    const placementGroup = spec.placementGroup ? new aws.ec2.PlacementGroup(`${name}-pg`, { strategy: 'cluster', tags }, childOptions(this)) : undefined;
    const instanceRole = new aws.iam.Role(`${name}-instance-role`, {
      description: `ECS container agent on the GPU training instances of ${name}`,
      assumeRolePolicy: policyJson({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
      managedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role'],
      tags,
    }, childOptions(this));
    const instanceProfile = new aws.iam.InstanceProfile(`${name}-instance-profile`, { role: instanceRole.name, tags }, childOptions(this));
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-job-logs`, { kmsKeyId: keyArn, retentionInDays: spec.logRetentionDays, tags }, childOptions(this, spec.retainData));

    const environment = (id: string, spot: boolean, first: boolean) => new aws.batch.ComputeEnvironment(`${name}-${id}`, {
      type: 'MANAGED',
      computeResources: {
        type: spot ? 'SPOT' : 'EC2',
        allocationStrategy: spot ? 'SPOT_PRICE_CAPACITY_OPTIMIZED' : 'BEST_FIT_PROGRESSIVE',
        instanceTypes: spec.instances.map((i) => i.instanceType),
        minVcpus: first ? spec.minvCpus : 0,
        maxVcpus: spec.maxvCpus,
        subnets: args.subnetIds,
        securityGroupIds: [securityGroup.id],
        instanceRole: instanceProfile.arn,
        launchTemplate: { launchTemplateId: this.launchTemplate.id, version: pulumi.interpolate`${this.launchTemplate.latestVersion}` },
        placementGroup: placementGroup?.name,
        ec2Configurations: [{ imageType: 'ECS_AL2023_NVIDIA' }],
        tags,
      },
      updatePolicy: { terminateJobsOnUpdate: false, jobExecutionTimeoutMinutes: 30 },
      tags,
    }, childOptions(this));
    if (spec.spot) this.spotComputeEnvironment = environment('spot', true, true);
    if (spec.onDemand) this.onDemandComputeEnvironment = environment('on-demand', false, !spec.spot);
    const environments = [this.spotComputeEnvironment, this.onDemandComputeEnvironment]
      .filter((e): e is aws.batch.ComputeEnvironment => e !== undefined);

    const schedulingPolicy = spec.teams.length > 0 ? new aws.batch.SchedulingPolicy(`${name}-fair-share`, {
      fairSharePolicy: {
        shareDistributions: spec.teams.map((t) => ({ shareIdentifier: t.name, weightFactor: Math.round(10000 / t.weight) / 10000 })),
      },
      tags,
    }, childOptions(this)) : undefined;
    this.jobQueue = new aws.batch.JobQueue(`${name}-queue`, {
      state: 'ENABLED',
      priority: spec.priority,
      schedulingPolicyArn: schedulingPolicy?.arn,
      computeEnvironmentOrders: environments.map((e, i) => ({ order: i + 1, computeEnvironment: e.arn })),
      tags,
    }, childOptions(this));

    this.registerOutputs({ jobQueueArn: this.jobQueue.arn, maxvCpus: spec.maxvCpus, costCeiling: spec.costCeiling });
  }
}
