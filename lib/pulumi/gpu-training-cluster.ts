import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ArtifactPurpose, Check, EFA_DEVICE, MultiNodeTrainingJobSizeInput, physicalName, resolveMultiNodeTrainingJobSpec, resolveTrainingClusterSpec,
  resolveTrainingJobSpec, SpecScope, TRAINING_RETRY_STRATEGIES, TrainingClusterSpec, TrainingClusterSpecInput, TrainingJobSizeInput,
  TrainingJobSpec, validateIdentifier, validateJobSubmissionGrant,
} from '../core';
import { ArtifactStore } from './artifact-store';
import {
  accountContext, AccountContext, attachStatements, childOptions, componentSpecScope, MlopsComponentArgs, PolicyStatement, policyJson,
  resolveProfileAndTags, rotatingKey, logsKeyStatement, serviceRole,
} from './component-support';
import { IImageRepository } from './image-repository';

export interface GpuTrainingClusterArgs extends MlopsComponentArgs, TrainingClusterSpecInput {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets with egress the instances run in. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * ARN of the key encrypting root volumes and job logs; its policy must let CloudWatch Logs and EC2 (for the
   * instances' volumes) use it, as the platform key's does.
   * @default - a new key with rotation, usable by CloudWatch Logs and by EC2 for this account's volumes
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
  /**
   * Artifact store the jobs read datasets from and write checkpoints to; needed by `addJobDefinition`.
   * @default - none: job definitions cannot be added
   */
  readonly artifactStore?: ArtifactStore;
}

/** The container image of a job: a repository and tag, or any image URI. Give one of the two. */
export interface TrainingJobImageArgs {
  /** @default - `imageUri` must be given */
  readonly imageRepository?: IImageRepository;
  /** @default 'latest' */
  readonly imageTag?: string;
  /** @default - `imageRepository` must be given */
  readonly imageUri?: pulumi.Input<string>;
}

/** Options shared by single-node and multi-node job definitions. */
export interface TrainingJobBaseArgs extends TrainingJobImageArgs {
  /** Job name, used in the checkpoint prefix `checkpoints/<jobName>/`. @default - the name given to `addJobDefinition` */
  readonly jobName?: string;
  /** @default - the image's command */
  readonly command?: string[];
  /** Environment variables; `CHECKPOINT_URI` and `DATASETS_URI` are set by the cluster. @default - none */
  readonly environment?: Record<string, string>;
  /** Key prefix of the datasets the job may read. @default - the whole datasets bucket */
  readonly datasetPrefix?: string;
  /** Attempt timeout in seconds, at least 60. @default 86400 (24 hours) */
  readonly timeoutSeconds?: number;
  /** Attempts in total (1-10); only spot reclamation and host failures are retried. @default 3 */
  readonly attempts?: number;
}

export interface TrainingJobArgs extends TrainingJobBaseArgs, TrainingJobSizeInput {}
export interface MultiNodeTrainingJobArgs extends TrainingJobBaseArgs, MultiNodeTrainingJobSizeInput {}

/** A job definition of the cluster, with the role its containers run as. */
export interface TrainingJob {
  readonly jobDefinition: aws.batch.JobDefinition;
  readonly jobRole: aws.iam.Role;
  /** `s3://<models bucket>/checkpoints/<jobName>/`, passed as `CHECKPOINT_URI`. */
  readonly checkpointUri: pulumi.Output<string>;
  readonly jobQueue: aws.batch.JobQueue;
  readonly spec: TrainingJobSpec;
}

/**
 * The Pulumi counterpart of the CDK `GpuTrainingCluster`: AWS Batch managed EC2 compute on the NVIDIA ECS AMI that
 * costs nothing while idle (`minvCpus` from the profile, 0 by default), spot first with an on-demand fallback where
 * the profile is multi-AZ, `maxGpus` translated into Batch's vCPU cap, IMDSv2-only instances with encrypted gp3 root
 * volumes, a job queue with per-team fair share and an encrypted job log group. Settings from core's
 * `resolveTrainingClusterSpec`. `addJobDefinition` and `addMultiNodeJobDefinition` add Batch job definitions whose roles
 * read the datasets and write only their own checkpoints, retrying spot reclamations only; an EventBridge rule
 * (`failedJobsRule`) matches every failed job of the cluster's queues.
 */
export class GpuTrainingCluster extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:GpuTrainingCluster';

  public readonly spec: TrainingClusterSpec;
  public readonly spotComputeEnvironment?: aws.batch.ComputeEnvironment;
  public readonly onDemandComputeEnvironment?: aws.batch.ComputeEnvironment;
  public readonly jobQueue: aws.batch.JobQueue;
  public readonly launchTemplate: aws.ec2.LaunchTemplate;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  /** Role the container agent pulls images and writes job logs with. */
  public readonly executionRole: aws.iam.Role;
  public readonly instanceRole: aws.iam.Role;
  /** Matches every failed job of the cluster's queues (those added later included: it matches their name prefix). */
  public readonly failedJobsRule: aws.cloudwatch.EventRule;
  public readonly jobs: TrainingJob[] = [];
  private multiNodeJobQueue?: aws.batch.JobQueue;
  /** The component's resource name. */
  public readonly resourceName: string;
  private readonly queueNamePrefix: string;
  private readonly specScope: SpecScope;
  private readonly tags: Record<string, string>;
  private readonly artifactStore?: ArtifactStore;
  private readonly account: AccountContext;
  private readonly jobNames = new Set<string>();
  private readonly pullRepositories = new Set<IImageRepository>();
  private readonly schedulingPolicy?: aws.batch.SchedulingPolicy;
  private readonly permissionsBoundary?: pulumi.Input<string>;

  constructor(name: string, args: GpuTrainingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const specScope = componentSpecScope(GpuTrainingCluster.TYPE, name);
    const spec = resolveTrainingClusterSpec(specScope, args, profile);
    super(GpuTrainingCluster.TYPE, name, {}, opts);
    this.spec = spec;
    this.specScope = specScope;
    this.resourceName = name;
    this.artifactStore = args.artifactStore;
    this.permissionsBoundary = args.permissionsBoundary;
    const tags = mlopsTags.toAwsTags();
    this.tags = tags;
    this.account = accountContext(this);
    this.queueNamePrefix = physicalName([pulumi.getProject(), pulumi.getStack(), name], { maxLength: 100 });

    const keyArn = pulumi.output(args.encryptionKeyArn ?? rotatingKey(`${name}-key`, `GPU training cluster ${name}`, {
      retain: spec.retainData,
      pendingWindowDays: spec.keyPendingWindowDays,
      tags,
      statements: [logsKeyStatement(this.account), ec2VolumeKeyStatement(this.account)],
    }, this).arn);
    const securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
      vpcId: args.vpcId,
      description: `GPU training instances of ${name}`,
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'Images, datasets and AWS APIs' }],
      ingress: spec.efa ? [{ protocol: '-1', fromPort: 0, toPort: 0, self: true, description: 'EFA traffic between training nodes' }] : [],
      tags,
    }, childOptions(this));
    this.launchTemplate = new aws.ec2.LaunchTemplate(`${name}-lt`, {
      // One hop: job containers cannot reach the instance role every team's jobs share (they use their job role).
      metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 1 },
      blockDeviceMappings: [{
        deviceName: '/dev/xvda',
        ebs: { encrypted: 'true', kmsKeyId: keyArn, volumeType: 'gp3', volumeSize: spec.rootVolumeSizeGiB, deleteOnTermination: 'true' },
      }],
      tagSpecifications: [{ resourceType: 'instance', tags }, { resourceType: 'volume', tags }],
      tags,
    }, childOptions(this));
    const placementGroup = spec.placementGroup ? new aws.ec2.PlacementGroup(`${name}-pg`, { strategy: 'cluster', tags }, childOptions(this)) : undefined;
    const instanceRole = serviceRole(`${name}-instance-role`, {
      service: 'ec2.amazonaws.com',
      description: `ECS container agent on the GPU training instances of ${name}`,
      managedPolicyArns: [pulumi.interpolate`arn:${this.account.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role`],
      tags,
      permissionsBoundary: args.permissionsBoundary,
    }, this);
    this.instanceRole = instanceRole;
    const instanceProfile = new aws.iam.InstanceProfile(`${name}-instance-profile`, { role: instanceRole.name, tags }, childOptions(this));
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-job-logs`, { kmsKeyId: keyArn, retentionInDays: spec.logRetentionDays, tags }, childOptions(this, spec.retainData));
    this.executionRole = serviceRole(`${name}-execution-role`, {
      service: 'ecs-tasks.amazonaws.com',
      description: `Pulls images and writes logs for the training jobs of ${name}`,
      tags,
      permissionsBoundary: args.permissionsBoundary,
    }, this);

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

    const schedulingPolicy = this.schedulingPolicy = spec.teams.length > 0 ? new aws.batch.SchedulingPolicy(`${name}-fair-share`, {
      fairSharePolicy: {
        shareDistributions: spec.teams.map((t) => ({ shareIdentifier: t.name, weightFactor: Math.round(10000 / t.weight) / 10000 })),
      },
      tags,
    }, childOptions(this)) : undefined;
    this.jobQueue = new aws.batch.JobQueue(`${name}-queue`, {
      name: `${this.queueNamePrefix}-queue`,
      state: 'ENABLED',
      priority: spec.priority,
      schedulingPolicyArn: schedulingPolicy?.arn,
      computeEnvironmentOrders: environments.map((e, i) => ({ order: i + 1, computeEnvironment: e.arn })),
      tags,
    }, childOptions(this));

    this.failedJobsRule = new aws.cloudwatch.EventRule(`${name}-failed-jobs`, {
      description: `Failed jobs of ${name}`,
      eventPattern: policyJson({
        'source': ['aws.batch'],
        'detail-type': ['Batch Job State Change'],
        'detail': {
          status: ['FAILED'],
          jobQueue: [{ prefix: pulumi.interpolate`arn:${this.account.partition}:batch:${this.account.region}:${this.account.accountId}:job-queue/${this.queueNamePrefix}-` }],
        },
      }),
      tags,
    }, childOptions(this));

    this.registerOutputs({ jobQueueArn: this.jobQueue.arn, maxvCpus: spec.maxvCpus, costCeiling: spec.costCeiling });
  }

  /** The queue multi-node jobs go to (on-demand only), once a multi-node job definition was added. */
  public get multiNodeQueue(): aws.batch.JobQueue | undefined {
    return this.multiNodeJobQueue;
  }

  /** Adds a single-node GPU job definition (sizes validated against the allowed instance types, as in CDK). */
  public addJobDefinition(name: string, args: TrainingJobArgs): TrainingJob {
    const spec = resolveTrainingJobSpec(this.specScope, this.spec, args, this.jobInput(name, args), this.jobNames);
    const job = this.prepareJob(spec, args);
    const jobDefinition = new aws.batch.JobDefinition(`${this.resourceName}-${spec.jobName}`, {
      type: 'container',
      platformCapabilities: ['EC2'],
      containerProperties: pulumi.jsonStringify(job.container(spec)),
      ...job.definitionArgs,
    }, childOptions(this));
    return this.recordJob({ jobDefinition, jobRole: job.jobRole, checkpointUri: job.checkpointUri, jobQueue: this.jobQueue, spec });
  }

  /**
   * Adds a multi-node parallel job definition for distributed training. Batch runs multi-node jobs on on-demand
   * capacity only, so they go to a queue of the on-demand compute environment (`multiNodeQueue`).
   */
  public addMultiNodeJobDefinition(name: string, args: MultiNodeTrainingJobArgs): TrainingJob {
    const spec = resolveMultiNodeTrainingJobSpec(this.specScope, this.spec, args, this.jobInput(name, args), this.jobNames);
    const job = this.prepareJob(spec, args);
    const jobDefinition = new aws.batch.JobDefinition(`${this.resourceName}-${spec.jobName}`, {
      type: 'multinode',
      platformCapabilities: ['EC2'],
      nodeProperties: pulumi.jsonStringify({
        mainNode: spec.mainNode,
        numNodes: spec.nodes,
        nodeRangeProperties: [{ targetNodes: `0:${spec.nodes! - 1}`, container: { ...job.container(spec), instanceType: spec.instanceType } }],
      }),
      ...job.definitionArgs,
    }, childOptions(this));
    if (!this.multiNodeJobQueue) {
      this.multiNodeJobQueue = new aws.batch.JobQueue(`${this.resourceName}-multi-node-queue`, {
        name: `${this.queueNamePrefix}-multi-node-queue`,
        state: 'ENABLED',
        priority: this.spec.priority,
        schedulingPolicyArn: this.schedulingPolicy?.arn,
        computeEnvironmentOrders: [{ order: 1, computeEnvironment: this.onDemandComputeEnvironment!.arn }],
        tags: this.tags,
      }, childOptions(this));
    }
    return this.recordJob({ jobDefinition, jobRole: job.jobRole, checkpointUri: job.checkpointUri, jobQueue: this.multiNodeJobQueue, spec });
  }

  /** Statements letting a role submit the cluster's job definitions to its queues; with `team`, only under that team's share. */
  public submitJobStatements(team?: string): PolicyStatement[] {
    validateJobSubmissionGrant(new Check(this.specScope.scope), {
      team, teams: this.spec.teams.map((t) => t.name), jobDefinitionCount: this.jobs.length, grantMethod: 'submitJobStatements()',
    });
    const queues = [this.jobQueue, ...(this.multiNodeJobQueue ? [this.multiNodeJobQueue] : [])];
    return [{
      Effect: 'Allow',
      Action: 'batch:SubmitJob',
      Resource: [...queues.map((q) => q.arn), ...this.jobs.map((j) => j.jobDefinition.arn)],
      Condition: team === undefined ? undefined : { StringEquals: { 'batch:ShareIdentifier': team } },
    }];
  }

  private recordJob(job: TrainingJob): TrainingJob {
    this.jobs.push(job);
    return job;
  }

  private jobInput(name: string, args: TrainingJobBaseArgs) {
    const store = this.artifactStore;
    if (!store) {
      new Check(this.specScope.scope).fail('artifactStore', undefined, 'is required to add job definitions',
        'pass the ArtifactStore the jobs read datasets from and write checkpoints to as the cluster\'s \'artifactStore\'.');
    }
    validateIdentifier(this.specScope.scope, 'name', name, 64);
    return {
      ...args,
      jobName: args.jobName ?? name,
      hasImageRepository: args.imageRepository !== undefined,
      imageUri: args.imageUri as string | undefined,
    };
  }

  private prepareJob(spec: TrainingJobSpec, args: TrainingJobBaseArgs) {
    const store = this.artifactStore!;
    const id = `${this.resourceName}-${spec.jobName}`;
    this.jobNames.add(spec.jobName);
    const jobRole = serviceRole(`${id}-job-role`, {
      service: 'ecs-tasks.amazonaws.com',
      description: `Training job ${spec.jobName} of ${this.resourceName}`,
      tags: this.tags,
      permissionsBoundary: this.permissionsBoundary,
    }, this);
    attachStatements(`${id}-job-policy`, jobRole, [
      ...store.grantStatements('read', ArtifactPurpose.DATASETS, args.datasetPrefix),
      ...store.grantStatements('read-write', ArtifactPurpose.MODELS, spec.checkpointPrefix),
    ], this, `Data access of training job ${spec.jobName}`, this.tags);
    const checkpointUri = store.s3Uri(ArtifactPurpose.MODELS, spec.checkpointPrefix);
    let imageUri = pulumi.output(args.imageUri ?? '');
    if (args.imageRepository) {
      imageUri = args.imageRepository.imageUri(args.imageTag ?? 'latest');
      if (!this.pullRepositories.has(args.imageRepository)) {
        this.pullRepositories.add(args.imageRepository);
        attachStatements(`${id}-pull-policy`, this.executionRole, args.imageRepository.pullStatements(), this,
          `Image pulls of the training jobs of ${this.resourceName}`, this.tags);
      }
    }
    if (this.jobs.length === 0) {
      attachStatements(`${this.resourceName}-execution-logs-policy`, this.executionRole, [
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: pulumi.interpolate`${this.logGroup.arn}:*` },
      ], this, `Job logs of ${this.resourceName}`, this.tags);
    }
    const environment = {
      ...args.environment,
      CHECKPOINT_URI: checkpointUri,
      DATASETS_URI: store.s3Uri(ArtifactPurpose.DATASETS, spec.datasetPrefix),
    };
    const container = (size: TrainingJobSpec) => ({
      image: imageUri,
      command: args.command,
      environment: Object.entries(environment).map(([key, value]) => ({ name: key, value })),
      jobRoleArn: jobRole.arn,
      executionRoleArn: this.executionRole.arn,
      readonlyRootFilesystem: false,
      resourceRequirements: [
        { type: 'MEMORY', value: String(size.memoryMiB) },
        { type: 'VCPU', value: String(size.vcpus) },
        { type: 'GPU', value: String(size.gpus) },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: { 'awslogs-group': this.logGroup.name, 'awslogs-stream-prefix': spec.jobName, 'awslogs-region': this.account.region },
      },
      linuxParameters: this.spec.efa
        ? { devices: [{ hostPath: EFA_DEVICE, containerPath: EFA_DEVICE, permissions: ['READ', 'WRITE', 'MKNOD'] }] }
        : undefined,
    });
    const definitionArgs: Partial<aws.batch.JobDefinitionArgs> = {
      propagateTags: true,
      timeout: { attemptDurationSeconds: spec.timeoutSeconds },
      retryStrategy: {
        attempts: spec.attempts,
        evaluateOnExits: TRAINING_RETRY_STRATEGIES.map((r) => ({ action: r.action, onStatusReason: r.onStatusReason, onReason: r.onReason })),
      },
      tags: this.tags,
    };
    return { jobRole, checkpointUri, container, definitionArgs };
  }
}

/**
 * Instances launched by Batch need the key for their encrypted root volumes: allowed only through EC2 in this
 * account, as the AWS managed EBS key does.
 */
export function ec2VolumeKeyStatement(account: AccountContext): PolicyStatement & { Principal: unknown } {
  return {
    Sid: 'AllowEbsVolumesOfThisAccount',
    Effect: 'Allow',
    Principal: { AWS: '*' },
    Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
    Resource: '*',
    Condition: { StringEquals: { 'kms:CallerAccount': account.accountId, 'kms:ViaService': pulumi.interpolate`ec2.${account.region}.amazonaws.com` } },
  };
}
