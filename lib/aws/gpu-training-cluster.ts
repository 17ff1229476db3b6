import { Aws, Duration, Lazy, Size, Token, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  CostModel, EFA_DEVICE, EnvironmentProfile, GpuInstance, resolveMultiNodeTrainingJobSpec, resolveTrainingClusterSpec, resolveTrainingJobSpec,
  SpecScope, TRAINING_RETRY_STRATEGIES as RETRY_RULES, TrainingClusterSpec, TrainingJobSpec, validateJobSubmissionGrant,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { IImageRepository } from './image-repository';
import { chargeUnownedCapacityToPlatform } from './private/capacity-tags';
import { allowLaunchingServicesToUseKey, newKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyPrincipal } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

/** A team that shares the cluster's GPUs under fair-share scheduling. */
export interface TrainingTeam {
  /** Team name, used as the fair-share identifier jobs are submitted with (lower-case letters, digits, hyphens). */
  readonly name: string;
  /**
   * Relative share of the cluster: a team with weight 2 gets twice the compute of a team with weight 1 when both
   * have jobs waiting. Rendered as Batch's `weightFactor = 1 / weight` (Batch gives lower factors more).
   * @default 1
   */
  readonly weight?: number;
}

export interface GpuTrainingClusterProps {
  /** VPC the instances run in. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets the instances run in; with a placement group only the first availability zone of the selection is used.
   * @default - the VPC's private subnets with egress (PRIVATE_WITH_EGRESS)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Artifact store the jobs read datasets from and write checkpoints to. */
  readonly artifactStore: IArtifactStore;
  /**
   * Instance types Batch may launch; each must be an NVIDIA GPU type of the catalog (`GpuInstance.all()`).
   * @default ['g5.xlarge', 'g5.2xlarge', 'g6.xlarge', 'g6.2xlarge']
   */
  readonly instanceTypes?: string[];
  /**
   * Most GPUs the cluster runs at once, translated into each compute environment's `maxvCpus` (see `maxvCpus`).
   * At least the GPUs of the smallest allowed instance type.
   * @default 8
   */
  readonly maxGpus?: number;
  /**
   * Run on spot capacity first (SPOT_PRICE_CAPACITY_OPTIMIZED). `false` runs on on-demand capacity only.
   * @default true
   */
  readonly spot?: boolean;
  /**
   * With `spot`, add an on-demand compute environment (BEST_FIT_PROGRESSIVE) after the spot one in the queue
   * order, used when spot capacity is short. Multi-node jobs need it (Batch runs them on on-demand only).
   * @default - true where the profile is multi-AZ (staging, prod), false otherwise (dev)
   */
  readonly onDemandFallback?: boolean;
  /**
   * Customer managed key for the instances' EBS volumes and the job log group. It must allow CloudWatch Logs
   * (the environment's `PlatformKey.key` does).
   * @default - a new key with rotation, usable by CloudWatch Logs
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Root volume size in GiB (gp3), 30-16384; deep-learning images are large.
   * @default 200
   */
  readonly rootVolumeSizeGiB?: number;
  /**
   * ECS GPU-optimized AMI family.
   * @default batch.EcsMachineImageType.ECS_AL2023_NVIDIA
   */
  readonly machineImageType?: batch.EcsMachineImageType;
  /**
   * Elastic Fabric Adapter on the instances for multi-node training; every instance type must support it. Puts
   * the instances in a cluster placement group and passes the EFA device to the jobs.
   * @default false
   */
  readonly efa?: boolean;
  /**
   * Launch the instances into a cluster placement group in one availability zone (low latency between nodes).
   * @default - true with `efa`, false otherwise
   */
  readonly placementGroup?: boolean;
  /**
   * Teams sharing the cluster under fair-share scheduling; jobs are then submitted with the team name as
   * share identifier.
   * @default - no scheduling policy (first in, first out)
   */
  readonly teams?: TrainingTeam[];
  /**
   * How long past usage counts against a team's share (fair share only).
   * @default - only current usage counts
   */
  readonly shareDecay?: Duration;
  /**
   * Priority of the job queue against other queues on the same compute environments, 0-1000 (higher first).
   * @default 10
   */
  readonly priority?: number;
  /**
   * Days the job log group keeps logs: one of the values CloudWatch Logs accepts (1 to 3653; never-expiring logs are not offered).
   * @default - the profile's `logRetentionDays`
   */
  readonly logRetentionDays?: number;
  /**
   * Batch service role.
   * @default - the Batch service-linked role (AWSServiceRoleForBatch), created by Batch when needed
   */
  readonly serviceRole?: iam.IRole;
  /**
   * Prices for `costCeiling`.
   * @default CostModel.default()
   */
  readonly costModel?: CostModel;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/** The container image of a job: a platform image repository and tag, or any image URI. Give one of the two. */
export interface TrainingJobImageOptions {
  /**
   * Repository the image comes from; the job's execution role may pull from it.
   * @default - `imageUri` must be given
   */
  readonly imageRepository?: IImageRepository;
  /**
   * Tag in `imageRepository`.
   * @default 'latest'
   */
  readonly imageTag?: string;
  /**
   * Any image URI (public registries, or an ECR repository the instance role can pull from).
   * @default - `imageRepository` must be given
   */
  readonly imageUri?: string;
}

/** Options shared by single-node and multi-node job definitions. */
export interface TrainingJobBaseOptions extends TrainingJobImageOptions {
  /**
   * Job name used in the checkpoint prefix `checkpoints/<jobName>/` (lower-case letters, digits, hyphens).
   * @default - the id in kebab case
   */
  readonly jobName?: string;
  /**
   * Command the container runs.
   * @default - the image's command
   */
  readonly command?: string[];
  /**
   * Environment variables; `CHECKPOINT_URI` and `DATASETS_URI` are set by the cluster.
   * @default - none beyond the cluster's
   */
  readonly environment?: { [key: string]: string };
  /**
   * Key prefix of the datasets the job may read.
   * @default - the whole datasets bucket
   */
  readonly datasetPrefix?: string;
  /**
   * Attempt timeout; Batch stops an attempt that runs longer.
   * @default Duration.hours(24)
   */
  readonly timeout?: Duration;
  /**
   * Attempts in total (1-10). Only spot reclamation and host failures are retried; application errors exit.
   * @default 3
   */
  readonly attempts?: number;
}

export interface TrainingJobOptions extends TrainingJobBaseOptions {
  /**
   * GPUs of the job; at most the GPUs of the largest allowed instance type.
   * @default 1
   */
  readonly gpus?: number;
  /**
   * vCPUs of the job.
   * @default - 4 per GPU
   */
  readonly vcpus?: number;
  /**
   * Memory of the job in MiB.
   * @default - 14336 (14 GiB) per GPU
   */
  readonly memoryMiB?: number;
}

export interface MultiNodeTrainingJobOptions extends TrainingJobBaseOptions {
  /** Nodes of the job, 2 or more. */
  readonly nodes: number;
  /**
   * GPUs on each node.
   * @default - all GPUs of the instance type
   */
  readonly gpusPerNode?: number;
  /**
   * Instance type of every node; one of the cluster's instance types.
   * @default - the allowed type with the most GPUs (EFA-capable with `efa`)
   */
  readonly instanceType?: string;
  /**
   * vCPUs on each node.
   * @default - 4 per GPU
   */
  readonly vcpusPerNode?: number;
  /**
   * Memory on each node in MiB.
   * @default - 14336 (14 GiB) per GPU
   */
  readonly memoryMiBPerNode?: number;
  /**
   * Index of the main node (rank 0 coordinator).
   * @default 0
   */
  readonly mainNode?: number;
}

/** A job definition added to the cluster, with the role its containers run as. */
export interface TrainingJob {
  readonly jobDefinition: batch.EcsJobDefinition | batch.MultiNodeJobDefinition;
  /** Role of the job's containers: reads datasets, reads and writes its checkpoints. */
  readonly jobRole: iam.Role;
  /** `s3://<models bucket>/checkpoints/<jobName>/`, passed to the job as `CHECKPOINT_URI`. */
  readonly checkpointUri: string;
  /** The queue to submit the job to. */
  readonly jobQueue: batch.JobQueue;
}

/** Monthly cost with `maxGpus` GPUs busy all month. */
export interface TrainingCostCeiling {
  /** `maxGpus` busy all month on spot. */
  readonly spotUsd: number;
  /** `maxGpus` busy all month on demand. */
  readonly onDemandUsd: number;
  /**
   * The most the cluster can spend in a month: each of its compute environments at its cap (`maxvCpus` is per
   * environment), so spot plus the on-demand fallback where the cluster has both.
   */
  readonly maxUsd: number;
}

const NVIDIA_IMAGES = [batch.EcsMachineImageType.ECS_AL2023_NVIDIA, batch.EcsMachineImageType.ECS_AL2_NVIDIA];

/**
 * A GPU training cluster on AWS Batch that costs nothing while idle: managed EC2 compute on GPU-optimized ECS
 * AMIs with `minvCpus: 0`, spot first (with optional on-demand fallback), IMDSv2-only instances with encrypted
 * root volumes in private subnets, a job queue with per-team fair share, job definitions whose roles read the
 * artifact store's datasets and write their own checkpoints, and an EventBridge rule for failed jobs.
 *
 * GPU cap: Batch caps vCPUs, not GPUs. `maxvCpus = ceil(maxGpus / g) * v` where `g` GPUs and `v` vCPUs belong to
 * the allowed type with the most vCPUs per GPU, so `maxGpus` GPUs can always be reached whichever types Batch
 * picks; types with fewer vCPUs per GPU may then fit a few more GPUs under the same cap.
 *
 * @example
 * const cluster = new GpuTrainingCluster(stack, 'Training', { vpc, artifactStore, maxGpus: 4, teams: [{ name: 'fraud' }] });
 * cluster.addJobDefinition('FraudTrain', { imageRepository: images, imageTag: 'v3', gpus: 1, command: ['python', 'train.py'] });
 */
export class GpuTrainingCluster extends Construct {
  /** The allowed instance types, from the catalog. */
  public readonly instances: readonly GpuInstance[];
  public readonly maxGpus: number;
  /** vCPU cap of each compute environment, translated from `maxGpus`. */
  public readonly maxvCpus: number;
  public readonly spotComputeEnvironment?: batch.ManagedEc2EcsComputeEnvironment;
  public readonly onDemandComputeEnvironment?: batch.ManagedEc2EcsComputeEnvironment;
  /** The default job queue: spot first, then on-demand. */
  public readonly jobQueue: batch.JobQueue;
  public readonly schedulingPolicy?: batch.FairshareSchedulingPolicy;
  public readonly launchTemplate: ec2.LaunchTemplate;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly instanceRole: iam.Role;
  /** Role the container agent pulls images and writes logs with. */
  public readonly executionRole: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly encryptionKey: kms.IKey;
  public readonly placementGroup?: ec2.PlacementGroup;
  /** Fires for every job of the cluster's queues that ends FAILED; route it to alarms or notifications. */
  public readonly failedJobsRule: events.Rule;
  /**
   * Monthly cost with `maxGpus` GPUs busy for 730 hours on the allowed type with the highest price per GPU
   * (`ceil(maxGpus / gpusPerInstance)` instances), spot and on-demand, from the cost model; `maxUsd` counts every
   * compute environment the cluster has (the on-demand fallback included).
   */
  public readonly costCeiling: TrainingCostCeiling;
  /** Team names (fair-share identifiers). */
  public readonly teams: readonly string[];

  private readonly artifactStore: IArtifactStore;
  private readonly executionPolicy: iam.ManagedPolicy;
  private readonly pullRepositories = new Set<IImageRepository>();
  private readonly efa: boolean;
  private readonly queues: batch.JobQueue[] = [];
  private readonly jobNames = new Set<string>();
  private readonly jobDefinitions: batch.IJobDefinition[] = [];
  private multiNodeJobQueue?: batch.JobQueue;
  private readonly vpcSubnets: ec2.SubnetSelection;
  private readonly spec: TrainingClusterSpec;

  constructor(scope: Construct, id: string, props: GpuTrainingClusterProps) {
    super(scope, id);
    chargeUnownedCapacityToPlatform(this);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);

    // Validate everything before creating resources.
    if (!props?.vpc) check.fail('vpc', props?.vpc, 'is required', "pass the environment's VPC, e.g. 'vpc: network.vpc' of a PlatformNetwork.");
    if (!props.artifactStore) {
      check.fail('artifactStore', props.artifactStore, 'is required', 'pass the ArtifactStore the jobs read datasets from and write checkpoints to.');
    }
    // Defaults and validation shared with the Pulumi GpuTrainingCluster.
    const spec = resolveTrainingClusterSpec(this.specScope(), props, profile);
    this.spec = spec;
    this.instances = spec.instances;
    this.maxGpus = spec.maxGpus;
    this.maxvCpus = spec.maxvCpus;
    this.costCeiling = spec.costCeiling;
    this.efa = spec.efa;
    this.teams = spec.teams.map((t) => t.name);
    const imageType = check.oneOf('machineImageType', props.machineImageType, NVIDIA_IMAGES,
      'use EcsMachineImageType.ECS_AL2023_NVIDIA or ECS_AL2_NVIDIA; other AMIs have no NVIDIA driver.') ?? batch.EcsMachineImageType.ECS_AL2023_NVIDIA;

    this.artifactStore = props.artifactStore;
    this.vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    this.encryptionKey = props.encryptionKey ?? this.newKey(profile, spec.keyPendingWindowDays);
    allowLaunchingServicesToUseKey(this.encryptionKey);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `GPU training instances of ${this.node.path}`,
      allowAllOutbound: true,
    });
    if (this.efa) {
      // EFA's OS-bypass traffic must flow freely between the members of the group, and only between them.
      this.securityGroup.addIngressRule(this.securityGroup, ec2.Port.allTraffic(), 'EFA traffic between training nodes');
      const ingress = this.securityGroup.node.children.find((c) => c instanceof ec2.CfnSecurityGroupIngress);
      const reason = 'EFA requires all traffic between the members of its security group (AWS EFA setup); the only source of '
        + 'this rule is the training security group itself, so no other host reaches any port.';
      if (ingress) {
        Validations.of(ingress).acknowledge(
          { id: 'NIST.800.53.R5-EC2RestrictedCommonPorts', reason },
          { id: 'HIPAA.Security-EC2RestrictedCommonPorts', reason },
        );
      }
    }

    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      requireImdsv2: true,
      // One hop: the ECS agent on the host reaches the instance metadata, job containers (bridge network, one hop more)
      // cannot take the instance role shared by every team's jobs; they use their job role through the ECS task
      // credentials endpoint.
      httpPutResponseHopLimit: 1,
      // One-minute EC2 metrics (AWS Control Tower CT.EC2.PR.10): about $2 a month per instance kept all month, a
      // fraction of a percent of a GPU instance's price.
      detailedMonitoring: true,
      blockDevices: [{
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(spec.rootVolumeSizeGiB, {
          encrypted: true, kmsKey: this.encryptionKey, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true,
        }),
      }],
    });
    if (this.efa) {
      const cfn = this.launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
      cfn.addPropertyOverride('LaunchTemplateData.NetworkInterfaces', [{
        DeviceIndex: 0, InterfaceType: 'efa', Groups: [this.securityGroup.securityGroupId], DeleteOnTermination: true, AssociatePublicIpAddress: false,
      }]);
    }

    if (spec.placementGroup) {
      this.placementGroup = new ec2.PlacementGroup(this, 'PlacementGroup', { strategy: ec2.PlacementGroupStrategy.CLUSTER });
      // A cluster placement group lives in one availability zone.
      this.vpcSubnets = { ...this.vpcSubnets, availabilityZones: [props.vpc.availabilityZones[0]] };
    }

    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `ECS container agent on the GPU training instances of ${this.node.path}`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
    });
    Validations.of(this.instanceRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason: 'The ECS container agent on Batch-managed instances registers with an ECS cluster whose name Batch generates at '
        + 'creation, and needs ecr:GetAuthorizationToken and ecs:DiscoverPollEndpoint, which have no resource-level permissions; '
        + 'AWS maintains this policy for exactly that agent. Jobs get their data access from their own job roles, not from it.',
    });
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Pulls images and writes logs for the training jobs of ${this.node.path}`,
    });
    this.executionPolicy = new iam.ManagedPolicy(this, 'ExecutionPolicy', {
      roles: [this.executionRole],
      description: `Image pulls and job logs of ${this.node.path}`,
    });

    this.logGroup = new logs.LogGroup(this, 'JobLogs', {
      encryptionKey: this.encryptionKey,
      retention: spec.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(this.logGroup, spec.logRetentionDays);
    this.executionPolicy.addStatements(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    }));

    const environmentProps = (spotEnvironment: boolean, first: boolean): batch.ManagedEc2EcsComputeEnvironmentProps => ({
      vpc: props.vpc,
      vpcSubnets: this.vpcSubnets,
      securityGroups: [this.securityGroup],
      serviceRole: props.serviceRole,
      spot: spotEnvironment,
      allocationStrategy: spotEnvironment ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      instanceTypes: this.instances.map((i) => new ec2.InstanceType(i.instanceType)),
      useOptimalInstanceClasses: false,
      images: [{ imageType }],
      // Warm capacity only where the profile asks for it (0 in every preset): an idle cluster runs no instance.
      minvCpus: first ? spec.minvCpus : 0,
      maxvCpus: this.maxvCpus,
      launchTemplate: this.launchTemplate,
      placementGroup: this.placementGroup,
      instanceRole: this.instanceRole,
      updateToLatestImageVersion: true,
    });
    if (spec.spot) this.spotComputeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, 'SpotCompute', environmentProps(true, true));
    if (spec.onDemand) {
      this.onDemandComputeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, 'OnDemandCompute', environmentProps(false, !spec.spot));
    }

    if (spec.teams.length > 0) {
      this.schedulingPolicy = new batch.FairshareSchedulingPolicy(this, 'FairShare', {
        shareDecay: props.shareDecay,
        shares: spec.teams.map((t) => ({ shareIdentifier: t.name, weightFactor: Math.round(10000 / t.weight) / 10000 })),
      });
    }
    this.jobQueue = new batch.JobQueue(this, 'JobQueue', {
      priority: spec.priority,
      schedulingPolicy: this.schedulingPolicy,
      computeEnvironments: this.computeEnvironments.map((computeEnvironment, i) => ({ computeEnvironment, order: i + 1 })),
    });
    this.queues.push(this.jobQueue);

    this.failedJobsRule = new events.Rule(this, 'FailedJobs', {
      description: `Failed jobs of ${this.node.path}`,
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: {
          status: ['FAILED'],
          jobQueue: Lazy.list({ produce: () => this.queues.map((q) => q.jobQueueArn) }),
        },
      },
    });
  }

  /** The compute environments in queue order (spot first). */
  public get computeEnvironments(): batch.ManagedEc2EcsComputeEnvironment[] {
    return [this.spotComputeEnvironment, this.onDemandComputeEnvironment].filter((c): c is batch.ManagedEc2EcsComputeEnvironment => c !== undefined);
  }

  /** The queue multi-node jobs go to (on-demand only), once a multi-node job definition was added. */
  public get multiNodeQueue(): batch.JobQueue | undefined {
    return this.multiNodeJobQueue;
  }

  /** Adds a single-node GPU job definition. */
  public addJobDefinition(id: string, options: TrainingJobOptions): TrainingJob {
    // Sizes and options validated as the Pulumi GpuTrainingCluster validates them.
    const spec = resolveTrainingJobSpec(this.specScope(), this.spec, options, this.jobInput(id, options), this.jobNames);
    const job = this.prepareJob(id, options, spec);
    const container = new batch.EcsEc2ContainerDefinition(job.scope, 'Container', {
      ...job.containerProps, gpu: spec.gpus, cpu: spec.vcpus, memory: sizeMiB(spec.memoryMiB),
    });
    const jobDefinition = new batch.EcsJobDefinition(job.scope, 'Definition', {
      container, ...job.definitionProps,
    });
    if (this.efa) passEfaDevice(jobDefinition, 'ContainerProperties');
    this.jobDefinitions.push(jobDefinition);
    return { jobDefinition, jobRole: job.jobRole, checkpointUri: job.checkpointUri, jobQueue: this.jobQueue };
  }

  /**
   * Adds a multi-node parallel job definition for distributed training. Batch runs multi-node jobs on on-demand
   * capacity only, so they go to a queue of the on-demand compute environment (`multiNodeQueue`).
   */
  public addMultiNodeJobDefinition(id: string, options: MultiNodeTrainingJobOptions): TrainingJob {
    const spec = resolveMultiNodeTrainingJobSpec(this.specScope(), this.spec, options, this.jobInput(id, options), this.jobNames);
    const onDemand = this.onDemandComputeEnvironment;
    const job = this.prepareJob(id, options, spec);
    const container = new batch.EcsEc2ContainerDefinition(job.scope, 'Container', {
      ...job.containerProps, gpu: spec.gpus, cpu: spec.vcpus, memory: sizeMiB(spec.memoryMiB),
    });
    const jobDefinition = new batch.MultiNodeJobDefinition(job.scope, 'Definition', {
      ...job.definitionProps,
      instanceType: new ec2.InstanceType(spec.instanceType!),
      mainNode: spec.mainNode,
      containers: [{ startNode: 0, endNode: spec.nodes! - 1, container }],
    });
    if (this.efa) passEfaDevice(jobDefinition, 'NodeProperties.NodeRangeProperties.0.Container');
    this.jobDefinitions.push(jobDefinition);
    if (!this.multiNodeJobQueue) {
      this.multiNodeJobQueue = new batch.JobQueue(this, 'MultiNodeJobQueue', {
        priority: this.jobQueue.priority,
        schedulingPolicy: this.schedulingPolicy,
        computeEnvironments: [{ computeEnvironment: onDemand!, order: 1 }],
      });
      this.queues.push(this.multiNodeJobQueue);
    }
    return { jobDefinition, jobRole: job.jobRole, checkpointUri: job.checkpointUri, jobQueue: this.multiNodeJobQueue };
  }

  /**
   * Lets a principal submit the cluster's job definitions to its queues; with `team`, only under that team's
   * fair-share identifier. Covers the queues and job definitions that exist when it is called: call it after
   * adding job definitions.
   */
  public grantSubmitJob(grantee: iam.IGrantable, team?: string): iam.Grant {
    validateJobSubmissionGrant(checkFor(this), { team, teams: this.teams, jobDefinitionCount: this.jobDefinitions.length, grantMethod: 'grantSubmitJob()' });
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['batch:SubmitJob'],
      resourceArns: [...this.queues.map((q) => q.jobQueueArn), ...this.jobDefinitions.map((d) => d.jobDefinitionArn)],
      conditions: team === undefined ? undefined : { StringEquals: { 'batch:ShareIdentifier': team } },
    });
  }

  private jobInput(id: string, options: TrainingJobBaseOptions) {
    return {
      ...options,
      jobName: options.jobName ?? kebab(id),
      hasImageRepository: options.imageRepository !== undefined,
      timeoutSeconds: options.timeout === undefined || Token.isUnresolved(options.timeout.toSeconds()) ? undefined : options.timeout.toSeconds(),
    };
  }

  private prepareJob(id: string, options: TrainingJobBaseOptions, spec: TrainingJobSpec) {
    const jobName = spec.jobName;
    this.jobNames.add(jobName);
    const attempts = spec.attempts;
    const timeout = options.timeout ?? Duration.seconds(spec.timeoutSeconds);

    const scope = new Construct(this, id);
    const jobRole = new iam.Role(scope, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Training job ${jobName} of ${this.node.path}`,
    });
    // A customer managed policy instead of the inline default policy grants would create (NIST and HIPAA flag inline policies).
    const jobPolicy = new iam.ManagedPolicy(scope, 'JobPolicy', { roles: [jobRole], description: `Data access of training job ${jobName}` });
    const jobGrantee: iam.IGrantable = { grantPrincipal: new ManagedPolicyPrincipal(jobRole, jobPolicy) };
    const checkpointPrefix = spec.checkpointPrefix;
    this.artifactStore.grantRead(jobGrantee, ArtifactPurpose.DATASETS, options.datasetPrefix);
    this.artifactStore.grantReadWrite(jobGrantee, ArtifactPurpose.MODELS, checkpointPrefix);
    const reason = 'Object-level S3 permissions name objects by key prefix: this wildcard covers only the objects below the job\'s '
      + `dataset prefix (or the datasets bucket) or below its own checkpoint prefix ${checkpointPrefix} in the models bucket.`;
    Validations.of(jobPolicy).acknowledge(...[
      this.artifactStore.bucket(ArtifactPurpose.DATASETS).arnForObjects(`${options.datasetPrefix ?? ''}*`),
      this.artifactStore.bucket(ArtifactPurpose.MODELS).arnForObjects(`${checkpointPrefix}*`),
    ].map((arn) => ({ id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, arn)}]`, reason })));
    const checkpointUri = this.artifactStore.s3Uri(ArtifactPurpose.MODELS, checkpointPrefix);

    let imageUri = options.imageUri;
    if (options.imageRepository) {
      imageUri = options.imageRepository.imageUri(options.imageTag ?? 'latest');
      this.grantPull(options.imageRepository);
    }
    const containerProps: batch.EcsContainerDefinitionProps = {
      image: ecs.ContainerImage.fromRegistry(imageUri!),
      cpu: 1,
      memory: sizeMiB(1),
      command: options.command,
      environment: {
        ...options.environment,
        CHECKPOINT_URI: checkpointUri,
        DATASETS_URI: this.artifactStore.s3Uri(ArtifactPurpose.DATASETS, options.datasetPrefix),
      },
      jobRole,
      // Permissions go to the execution policy; the log driver's own grant would add an inline policy.
      executionRole: this.executionRole.withoutPolicyUpdates(),
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: jobName }),
    };
    const definitionProps: batch.JobDefinitionProps & { propagateTags: boolean } = {
      timeout,
      retryAttempts: attempts,
      retryStrategies: TRAINING_RETRY_STRATEGIES,
      propagateTags: true,
    };
    return { scope, jobRole, checkpointUri, containerProps, definitionProps };
  }

  private grantPull(repository: IImageRepository): void {
    if (this.pullRepositories.has(repository)) return;
    if (this.pullRepositories.size === 0) {
      Validations.of(this.executionPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken has no resource-level permissions (the token is registry-wide by design); image '
          + 'layer reads are limited to the repositories the job definitions use.',
      });
    }
    this.pullRepositories.add(repository);
    repository.grantPull({ grantPrincipal: new ManagedPolicyPrincipal(this.executionRole, this.executionPolicy) });
  }

  private specScope(): SpecScope {
    return { scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) };
  }

  private newKey(profile: EnvironmentProfile, pendingWindowDays: number): kms.Key {
    const key = newKey(this, 'Key', {
      description: `mlops-constructs GPU training cluster key at ${this.node.path}`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(pendingWindowDays),
      removalPolicy: statefulRemovalPolicy(profile),
    });
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` } },
    }));
    return key;
  }
}

/**
 * Retry only what is not the job's fault: Batch reports spot reclamation and host failures as a status reason
 * starting `Host EC2`. A missing image or tag (`CannotPullContainerError`) is a configuration error the ECS agent
 * has already retried, so it exits like every other failure, and application errors are never retried.
 */
const TRAINING_RETRY_STRATEGIES: batch.RetryStrategy[] = RETRY_RULES.map((rule) => batch.RetryStrategy.of(
  rule.action === 'RETRY' ? batch.Action.RETRY : batch.Action.EXIT,
  rule.onStatusReason !== undefined ? batch.Reason.custom({ onStatusReason: rule.onStatusReason }) : batch.Reason.custom({ onReason: rule.onReason }),
));

/** Passes the EFA device to a job's containers (upper-case permissions as the Batch API documents them). */
function passEfaDevice(jobDefinition: batch.EcsJobDefinition | batch.MultiNodeJobDefinition, containerPath: string): void {
  (jobDefinition.node.defaultChild as batch.CfnJobDefinition).addPropertyOverride(`${containerPath}.LinuxParameters.Devices`, [{
    HostPath: EFA_DEVICE, ContainerPath: EFA_DEVICE, Permissions: ['READ', 'WRITE', 'MKNOD'],
  }]);
}

function sizeMiB(mib: number): Size {
  return Size.mebibytes(mib);
}

function kebab(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/[^A-Za-z0-9-]+/g, '-').toLowerCase();
}
