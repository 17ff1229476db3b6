import { App, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, GpuTrainingCluster, GpuTrainingClusterProps, ImageRepository, MlopsStack,
  PlatformKey, PlatformNetwork,
} from 'mlops-constructs';

type ClusterOptions = Partial<GpuTrainingClusterProps>;

function build(profile: EnvironmentProfile = EnvironmentProfile.dev(), props: ClusterOptions = {}) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Env', { profile, project: 'p' });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const artifactStore = new ArtifactStore(stack, 'Store');
  const images = new ImageRepository(stack, 'Images');
  const cluster = new GpuTrainingCluster(stack, 'Training', { vpc, artifactStore, ...props });
  return { app, stack, vpc, artifactStore, images, cluster, template: () => Template.fromStack(stack) };
}

const ref = (stack: MlopsStack, construct: { node: { defaultChild?: unknown } }) =>
  stack.resolve((construct.node.defaultChild as { ref: string }).ref);

describe('GpuTrainingCluster compute', () => {
  test('dev defaults: one spot environment on GPU AMIs, min 0 vCPUs, 8 GPUs as 64 vCPUs, private subnets', () => {
    const { template, cluster, vpc, stack } = build();
    const t = template();
    t.resourceCountIs('AWS::Batch::ComputeEnvironment', 1);
    t.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      Type: 'managed',
      ComputeResources: Match.objectLike({
        Type: 'SPOT',
        AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
        MinvCpus: 0,
        // widest vCPU-per-GPU type is g5.2xlarge/g6.2xlarge (8 vCPUs, 1 GPU): ceil(8 / 1) * 8 = 64
        MaxvCpus: 64,
        InstanceTypes: ['g5.xlarge', 'g5.2xlarge', 'g6.xlarge', 'g6.2xlarge'],
        Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }],
        UpdateToLatestImageVersion: true,
        Subnets: vpc.privateSubnets.map((s) => stack.resolve(s.subnetId)),
      }),
    });
    expect(cluster.maxGpus).toBe(8);
    expect(cluster.maxvCpus).toBe(64);
    expect(cluster.onDemandComputeEnvironment).toBeUndefined();
    expect(cluster.spotComputeEnvironment).toBeDefined();
    t.hasResourceProperties('AWS::Batch::JobQueue', {
      Priority: 10,
      ComputeEnvironmentOrder: [{ ComputeEnvironment: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrainingSpotCompute'), 'ComputeEnvironmentArn'] }, Order: 1 }],
      SchedulingPolicyArn: Match.absent(),
    });
    t.resourceCountIs('AWS::Batch::SchedulingPolicy', 0);
  });

  test('prod: spot first, on-demand BEST_FIT_PROGRESSIVE fallback second in the queue order', () => {
    const { template } = build(EnvironmentProfile.prod());
    const t = template();
    t.resourceCountIs('AWS::Batch::ComputeEnvironment', 2);
    t.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ Type: 'EC2', AllocationStrategy: 'BEST_FIT_PROGRESSIVE', MinvCpus: 0, MaxvCpus: 64 }),
    });
    t.hasResourceProperties('AWS::Batch::JobQueue', {
      ComputeEnvironmentOrder: [
        { ComputeEnvironment: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrainingSpotCompute'), 'ComputeEnvironmentArn'] }, Order: 1 },
        { ComputeEnvironment: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrainingOnDemandCompute'), 'ComputeEnvironmentArn'] }, Order: 2 },
      ],
    });
  });

  test('spot: false runs on on-demand only; onDemandFallback overrides the profile', () => {
    const onDemandOnly = build(EnvironmentProfile.dev(), { spot: false }).template();
    onDemandOnly.resourceCountIs('AWS::Batch::ComputeEnvironment', 1);
    onDemandOnly.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: Match.objectLike({ Type: 'EC2' }) });

    build(EnvironmentProfile.dev(), { onDemandFallback: true }).template().resourceCountIs('AWS::Batch::ComputeEnvironment', 2);
    build(EnvironmentProfile.prod(), { onDemandFallback: false }).template().resourceCountIs('AWS::Batch::ComputeEnvironment', 1);
  });

  test('maxGpus is translated with the widest vCPU-per-GPU type so maxGpus GPUs always fit', () => {
    // g5.xlarge: 4 vCPUs/GPU; g5.12xlarge: 48 vCPUs / 4 GPUs = 12 vCPUs/GPU (widest): ceil(6 / 4) * 48 = 96
    const { cluster, template } = build(EnvironmentProfile.dev(), { instanceTypes: ['g5.xlarge', 'g5.12xlarge'], maxGpus: 6 });
    expect(cluster.maxvCpus).toBe(96);
    template().hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ MaxvCpus: 96, InstanceTypes: ['g5.xlarge', 'g5.12xlarge'] }),
    });
  });

  test('warm vCPUs come from the profile (minCapacity.trainingVcpus) on the first environment only', () => {
    const { template } = build(EnvironmentProfile.prod({ minCapacity: { trainingVcpus: 8 } }));
    const t = template();
    t.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: Match.objectLike({ Type: 'SPOT', MinvCpus: 8 }) });
    t.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: Match.objectLike({ Type: 'EC2', MinvCpus: 0 }) });
    expect(() => build(EnvironmentProfile.dev({ minCapacity: { trainingVcpus: 128 } })))
      .toThrow(/'profile\.minCapacity\.trainingVcpus' must not exceed the cluster's vCPU cap \(64, from 'maxGpus'\)/);
  });

  test('the AL2 NVIDIA AMI can be chosen', () => {
    const { template } = build(EnvironmentProfile.dev(), { machineImageType: batch.EcsMachineImageType.ECS_AL2_NVIDIA });
    template().hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ Ec2Configuration: [{ ImageType: 'ECS_AL2_NVIDIA' }] }),
    });
  });

  test('instances use a custom instance role with the ECS agent policy and launch through the launch template', () => {
    const { template, cluster, stack } = build();
    const t = template();
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] }),
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role']] }],
    });
    t.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ LaunchTemplate: { LaunchTemplateId: ref(stack, cluster.launchTemplate) } }),
      ServiceRole: Match.absent(),
    });
  });

  test('a service role can be given', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    const serviceRole = iam.Role.fromRoleArn(stack, 'Svc', 'arn:aws:iam::111111111111:role/batch-service');
    new GpuTrainingCluster(stack, 'Training', { vpc: new ec2.Vpc(stack, 'Vpc'), artifactStore: new ArtifactStore(stack, 'Store'), serviceRole });
    Template.fromStack(stack).hasResourceProperties('AWS::Batch::ComputeEnvironment', { ServiceRole: 'arn:aws:iam::111111111111:role/batch-service' });
  });
});

describe('GpuTrainingCluster launch template, key and logs', () => {
  test('IMDSv2 required with hop limit 1 (job containers cannot reach the shared instance role); 200 GiB gp3 root volume encrypted with the cluster key', () => {
    const { template, cluster, stack } = build();
    const t = template();
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [{
          DeviceName: '/dev/xvda',
          Ebs: { Encrypted: true, KmsKeyId: stack.resolve(cluster.encryptionKey.keyArn), VolumeSize: 200, VolumeType: 'gp3', DeleteOnTermination: true },
        }],
        NetworkInterfaces: Match.absent(),
      }),
    });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: Match.stringLikeRegexp('GPU training cluster key') });
    t.resourceCountIs('AWS::EC2::PlacementGroup', 0);
  });

  test('rootVolumeSizeGiB and encryptionKey are used', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    const key = new PlatformKey(stack, 'PlatformKey');
    const cluster = new GpuTrainingCluster(stack, 'Training', {
      vpc: new ec2.Vpc(stack, 'Vpc'), artifactStore: new ArtifactStore(stack, 'Store'), encryptionKey: key.key, rootVolumeSizeGiB: 500,
    });
    const t = Template.fromStack(stack);
    expect(cluster.encryptionKey).toBe(key.key);
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 500, KmsKeyId: stack.resolve(key.key.keyArn) }) })],
      }),
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: stack.resolve(key.key.keyArn) });
    // No key of its own when one is given.
    expect(Object.keys(t.findResources('AWS::KMS::Key', { Properties: { Description: Match.stringLikeRegexp('GPU training') } }))).toEqual([]);
  });

  test('the key lets only the launching service-linked roles use it for volumes, and grants only for AWS resources', () => {
    const { template } = build();
    const key = Object.values(template().findResources('AWS::KMS::Key')).find((k: any) => /GPU training cluster key/.test(k.Properties.Description)) as any;
    const statements: any[] = key.Properties.KeyPolicy.Statement;
    // No statement lets any principal of the account (or '*') use the key through a service.
    for (const s of statements.filter((x) => x.Effect === 'Allow')) expect([s.Sid, s.Principal]).not.toEqual([s.Sid, { AWS: '*' }]);
    const grants = statements.filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes('kms:CreateGrant'));
    expect(grants).toEqual([expect.objectContaining({
      Sid: 'AllowLaunchingServiceLinkedRolesToGrantForVolumes',
      Condition: expect.objectContaining({ Bool: { 'kms:GrantIsForAWSResource': 'true' } }),
    })]);
    expect(JSON.stringify(grants[0].Condition.ArnLike)).toMatch(/AWSServiceRoleForBatch/);
  });

  test('job logs: KMS-encrypted log group with the profile retention (dev 14, prod 365) or logRetentionDays', () => {
    const dev = build();
    dev.template().hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14, KmsKeyId: dev.stack.resolve(dev.cluster.encryptionKey.keyArn) });
    dev.template().hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    const prod = build(EnvironmentProfile.prod());
    prod.template().hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    prod.template().hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
    build(EnvironmentProfile.dev(), { logRetentionDays: 30 }).template().hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('efa: EFA interface (no public address) in the launch template, cluster placement group, one zone, self-referencing security group', () => {
    const { template, cluster, stack, vpc } = build(EnvironmentProfile.prod(), { efa: true, instanceTypes: ['g5.12xlarge', 'g6.12xlarge'] });
    cluster.addJobDefinition('Train', { imageUri: 'public.ecr.aws/org/train:1', gpus: 4, vcpus: 32, memoryMiB: 131072 });
    cluster.addMultiNodeJobDefinition('Dist', { imageUri: 'public.ecr.aws/org/train:1', nodes: 2 });
    const t = template();
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        NetworkInterfaces: [{ DeviceIndex: 0, InterfaceType: 'efa', Groups: [stack.resolve(cluster.securityGroup.securityGroupId)], DeleteOnTermination: true, AssociatePublicIpAddress: false }],
      }),
    });
    t.hasResourceProperties('AWS::EC2::PlacementGroup', { Strategy: 'cluster' });
    t.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: Match.objectLike({ PlacementGroup: Match.anyValue(), Subnets: [stack.resolve(vpc.privateSubnets[0].subnetId)] }),
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: '-1',
      GroupId: stack.resolve(cluster.securityGroup.securityGroupId),
      SourceSecurityGroupId: stack.resolve(cluster.securityGroup.securityGroupId),
    });
    const efaDevices = { Devices: [{ HostPath: '/dev/infiniband/uverbs0', ContainerPath: '/dev/infiniband/uverbs0', Permissions: ['READ', 'WRITE', 'MKNOD'] }] };
    t.hasResourceProperties('AWS::Batch::JobDefinition', {
      NodeProperties: Match.objectLike({ NodeRangeProperties: [Match.objectLike({ Container: Match.objectLike({ LinuxParameters: efaDevices }) })] }),
    });
    t.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({ LinuxParameters: efaDevices }),
    });
  });

  test('placementGroup without EFA', () => {
    build(EnvironmentProfile.dev(), { placementGroup: true }).template().resourceCountIs('AWS::EC2::PlacementGroup', 1);
  });
});

describe('GpuTrainingCluster queues and fair share', () => {
  test('teams become a fair-share policy on the queue; weight 2 means twice the share (weightFactor 0.5)', () => {
    const { template, cluster } = build(EnvironmentProfile.prod(), {
      teams: [{ name: 'fraud' }, { name: 'recsys', weight: 2 }], shareDecay: Duration.hours(1), priority: 50,
    });
    const t = template();
    t.hasResourceProperties('AWS::Batch::SchedulingPolicy', {
      FairsharePolicy: {
        ShareDecaySeconds: 3600,
        ShareDistribution: [{ ShareIdentifier: 'fraud', WeightFactor: 1 }, { ShareIdentifier: 'recsys', WeightFactor: 0.5 }],
      },
    });
    t.hasResourceProperties('AWS::Batch::JobQueue', {
      Priority: 50,
      SchedulingPolicyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrainingFairShare'), 'Arn'] },
    });
    expect(cluster.teams).toEqual(['fraud', 'recsys']);
  });

  test('failedJobsRule matches FAILED job state changes of the cluster queues', () => {
    const { template, cluster, stack } = build(EnvironmentProfile.prod());
    cluster.addMultiNodeJobDefinition('Dist', { imageUri: 'public.ecr.aws/org/train:1', nodes: 2 });
    template().hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.batch'],
        'detail-type': ['Batch Job State Change'],
        'detail': {
          status: ['FAILED'],
          jobQueue: [stack.resolve(cluster.jobQueue.jobQueueArn), stack.resolve(cluster.multiNodeQueue!.jobQueueArn)],
        },
      },
    });
    expect(cluster.failedJobsRule).toBeDefined();
  });
});

describe('GpuTrainingCluster job definitions', () => {
  test('single-node GPU job: image from a repository, resources, command, environment, timeout, retries, logs', () => {
    const { template, cluster, images, artifactStore, stack } = build();
    const job = cluster.addJobDefinition('FraudTrain', {
      imageRepository: images, imageTag: 'v3', command: ['python', 'train.py'], environment: { EPOCHS: '10' }, datasetPrefix: 'fraud/',
    });
    expect(job.jobQueue).toBe(cluster.jobQueue);
    expect(stack.resolve(job.checkpointUri)).toEqual(stack.resolve(artifactStore.s3Uri('models' as any, 'checkpoints/fraud-train/')));
    template().hasResourceProperties('AWS::Batch::JobDefinition', {
      Type: 'container',
      PlatformCapabilities: ['EC2'],
      PropagateTags: true,
      Timeout: { AttemptDurationSeconds: 86400 },
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'EXIT', OnReason: 'CannotPullContainerError:*' },
          { Action: 'EXIT', OnReason: '*' },
        ],
      },
      ContainerProperties: Match.objectLike({
        Image: stack.resolve(images.imageUri('v3')),
        Command: ['python', 'train.py'],
        ResourceRequirements: [{ Type: 'MEMORY', Value: '14336' }, { Type: 'VCPU', Value: '4' }, { Type: 'GPU', Value: '1' }],
        Environment: [
          { Name: 'EPOCHS', Value: '10' },
          { Name: 'CHECKPOINT_URI', Value: stack.resolve(job.checkpointUri) },
          { Name: 'DATASETS_URI', Value: stack.resolve(artifactStore.s3Uri('datasets' as any, 'fraud/')) },
        ],
        JobRoleArn: stack.resolve(job.jobRole.roleArn),
        ExecutionRoleArn: stack.resolve(cluster.executionRole.roleArn),
        LogConfiguration: {
          LogDriver: 'awslogs',
          Options: { 'awslogs-group': stack.resolve(cluster.logGroup.logGroupName), 'awslogs-stream-prefix': 'fraud-train', 'awslogs-region': { Ref: 'AWS::Region' } },
        },
      }),
    });
  });

  test('imageUri, gpus, vcpus, memory, timeout and attempts options', () => {
    const { template, cluster } = build(EnvironmentProfile.dev(), { instanceTypes: ['g5.xlarge', 'g5.12xlarge'] });
    cluster.addJobDefinition('Big', {
      imageUri: 'public.ecr.aws/org/train:2', gpus: 4, vcpus: 40, memoryMiB: 150000, timeout: Duration.hours(2), attempts: 5, jobName: 'big-one',
    });
    template().hasResourceProperties('AWS::Batch::JobDefinition', {
      Timeout: { AttemptDurationSeconds: 7200 },
      RetryStrategy: Match.objectLike({ Attempts: 5 }),
      ContainerProperties: Match.objectLike({
        Image: 'public.ecr.aws/org/train:2',
        ResourceRequirements: [{ Type: 'MEMORY', Value: '150000' }, { Type: 'VCPU', Value: '40' }, { Type: 'GPU', Value: '4' }],
        LogConfiguration: Match.objectLike({ Options: Match.objectLike({ 'awslogs-stream-prefix': 'big-one' }) }),
      }),
    });
  });

  test('multi-node job: nodes, GPUs per node, main node, instance type, on-demand-only queue', () => {
    const { template, cluster } = build(EnvironmentProfile.prod(), { instanceTypes: ['g5.xlarge', 'g5.12xlarge'], maxGpus: 16 });
    const job = cluster.addMultiNodeJobDefinition('Dist', { imageUri: 'public.ecr.aws/org/train:1', nodes: 3, mainNode: 1 });
    const second = cluster.addMultiNodeJobDefinition('Small', { imageUri: 'public.ecr.aws/org/train:1', nodes: 2, gpusPerNode: 1, instanceType: 'g5.xlarge' });
    expect(second.jobQueue).toBe(job.jobQueue);
    const t = template();
    t.hasResourceProperties('AWS::Batch::JobDefinition', {
      Type: 'multinode',
      RetryStrategy: Match.objectLike({ EvaluateOnExit: Match.arrayWith([{ Action: 'RETRY', OnStatusReason: 'Host EC2*' }]) }),
      NodeProperties: {
        NumNodes: 3,
        MainNode: 1,
        NodeRangeProperties: [{
          TargetNodes: '0:2',
          Container: Match.objectLike({
            InstanceType: 'g5.12xlarge',
            ResourceRequirements: [{ Type: 'MEMORY', Value: String(4 * 14336) }, { Type: 'VCPU', Value: '16' }, { Type: 'GPU', Value: '4' }],
          }),
        }],
      },
    });
    expect(job.jobQueue).toBe(cluster.multiNodeQueue);
    t.resourceCountIs('AWS::Batch::JobQueue', 2);
    t.hasResourceProperties('AWS::Batch::JobQueue', {
      ComputeEnvironmentOrder: [{ ComputeEnvironment: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrainingOnDemandCompute'), 'ComputeEnvironmentArn'] }, Order: 1 }],
    });
    t.hasResourceProperties('AWS::Batch::JobDefinition', {
      NodeProperties: Match.objectLike({ NumNodes: 2, MainNode: 0, NodeRangeProperties: [Match.objectLike({ Container: Match.objectLike({ InstanceType: 'g5.xlarge' }) })] }),
    });
  });

  test('job role: reads the datasets, reads and writes only its checkpoints (exact actions and resources)', () => {
    const { template, cluster, artifactStore, stack } = build();
    const job = cluster.addJobDefinition('FraudTrain', { imageUri: 'public.ecr.aws/org/train:1' });
    const datasets = artifactStore.bucket('datasets' as any);
    const models = artifactStore.bucket('models' as any);
    const viaS3 = { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } };
    const statements = [
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: [stack.resolve(datasets.arnForObjects('*')), stack.resolve(models.arnForObjects('checkpoints/fraud-train/*'))],
      },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: stack.resolve(datasets.bucketArn) },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: stack.resolve(artifactStore.encryptionKey.keyArn),
        Condition: { StringEquals: viaS3, StringLike: { 'kms:EncryptionContext:aws:s3:arn': [stack.resolve(datasets.bucketArn), stack.resolve(datasets.arnForObjects('*'))] } },
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: stack.resolve(models.bucketArn),
        Condition: { StringLike: { 's3:prefix': ['checkpoints/fraud-train/*'] } },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: stack.resolve(artifactStore.encryptionKey.keyArn),
        Condition: { StringEquals: viaS3, StringLike: { 'kms:EncryptionContext:aws:s3:arn': [stack.resolve(models.bucketArn), stack.resolve(models.arnForObjects('*'))] } },
      },
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:PutObject'],
        Resource: stack.resolve(models.arnForObjects('checkpoints/fraud-train/*')),
      },
    ];
    template().hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [stack.resolve(job.jobRole.roleName)],
      PolicyDocument: { Version: '2012-10-17', Statement: statements },
    });
    template().hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'ecs-tasks.amazonaws.com' } })] }),
      Description: Match.stringLikeRegexp('Training job fraud-train'),
    });
    // No inline policy on the job role.
    expect(Object.keys(template().findResources('AWS::IAM::Policy'))).toEqual([]);
  });

  test('execution policy: pulls from the repositories the jobs use and writes the job logs', () => {
    const { template, cluster, images, stack } = build();
    cluster.addJobDefinition('A', { imageRepository: images, imageTag: 'v1' });
    cluster.addJobDefinition('B', { imageRepository: images });
    template().hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [stack.resolve(cluster.executionRole.roleName)],
      PolicyDocument: Match.objectLike({
        Statement: [
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: stack.resolve(cluster.logGroup.logGroupArn) },
          { Effect: 'Allow', Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: stack.resolve(images.repository.repositoryArn) },
          { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        ],
      }),
    });
    template().hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({ Image: stack.resolve(images.imageUri('latest')) }),
    });
  });

  test('grantSubmitJob: the queues and job definitions, optionally only under a team share identifier', () => {
    const { template, cluster, stack } = build(EnvironmentProfile.dev(), { teams: [{ name: 'fraud' }] });
    const job = cluster.addJobDefinition('Train', { imageUri: 'public.ecr.aws/org/train:1' });
    const role = new iam.Role(stack, 'Submitter', { assumedBy: new iam.AccountRootPrincipal() });
    cluster.grantSubmitJob(role, 'fraud');
    template().hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow',
          Action: 'batch:SubmitJob',
          Resource: [stack.resolve(cluster.jobQueue.jobQueueArn), stack.resolve(job.jobDefinition.jobDefinitionArn)],
          Condition: { StringEquals: { 'batch:ShareIdentifier': 'fraud' } },
        }],
      },
    });
  });
});

describe('GpuTrainingCluster cost ceiling', () => {
  test('maxGpus busy all month on the allowed type with the highest price per GPU', () => {
    const { cluster } = build(EnvironmentProfile.dev(), { instanceTypes: ['g5.xlarge', 'g6.xlarge', 'g5.12xlarge'], maxGpus: 4 });
    // g5.xlarge:   ceil(4/1) = 4 instances * $1.006  * 730 h = $2937.52
    // g6.xlarge:   ceil(4/1) = 4 instances * $0.8048 * 730 h = $2350.02
    // g5.12xlarge: ceil(4/4) = 1 instance  * $5.672  * 730 h = $4140.56  <- highest
    // spot, per family: g5 at 42% of on-demand: 1 * 5.672 * 0.42 * 730 = $1739.04; g6.xlarge at 51%: 4 * 0.8048 * 0.51 * 730 = $1198.51
    // dev has no on-demand fallback: the ceiling is the spot environment alone.
    expect(cluster.costCeiling).toEqual({ onDemandUsd: 4140.56, spotUsd: 1739.04, maxUsd: 1739.04 });
  });

  test('defaults: 8 GPUs, the priciest default type is g5.2xlarge', () => {
    // 8 * $1.212 * 730 = $7078.08 on-demand; * 0.42 (g5 spot) = $2972.79 spot
    expect(build().cluster.costCeiling).toEqual({ onDemandUsd: 7078.08, spotUsd: 2972.79, maxUsd: 2972.79 });
  });

  test('with the on-demand fallback (prod) the ceiling counts both environments, each capped at maxGpus', () => {
    const { cluster, template } = build(EnvironmentProfile.prod());
    const environments = Object.values(template().findResources('AWS::Batch::ComputeEnvironment'));
    expect(environments.map((e) => e.Properties.ComputeResources.MaxvCpus)).toEqual([cluster.maxvCpus, cluster.maxvCpus]);
    expect(cluster.costCeiling).toEqual({ onDemandUsd: 7078.08, spotUsd: 2972.79, maxUsd: 10050.87 });
  });

  test('on-demand only: the on-demand figure', () => {
    expect(build(EnvironmentProfile.prod(), { spot: false }).cluster.costCeiling.maxUsd).toBe(7078.08);
  });
});

describe('GpuTrainingCluster rejects bad input', () => {
  const image = { imageUri: 'public.ecr.aws/org/train:1' };
  test.each<[string, ClusterOptions, RegExp]>([
    ['a non-GPU instance type', { instanceTypes: ['g5.xlarge', 'm7i.large'] }, /'instanceTypes\[1\]' has no GPU.*Fix: use an accelerated type/],
    ['an unknown instance type', { instanceTypes: ['g5.3xlarge'] }, /'instanceTypes\[0\]' is not in the instance catalog.*Fix: use one of g5\.xlarge/],
    ['a non-NVIDIA accelerator', { instanceTypes: ['inf2.xlarge'] }, /'instanceTypes\[0\]' has Inferentia2 accelerators, not NVIDIA GPUs.*Fix: use an NVIDIA GPU type/],
    ['no instance types', { instanceTypes: [] }, /'instanceTypes' must list at least one instance type/],
    ['maxGpus below the smallest instance', { instanceTypes: ['g5.12xlarge'], maxGpus: 2 }, /'maxGpus' must be at least the GPUs of the smallest allowed instance type \(4\).*Fix: raise 'maxGpus' to 4/],
    ['maxGpus 0', { maxGpus: 0 }, /'maxGpus' must be a whole number of at least 1/],
    ['EFA on a type without EFA', { efa: true, instanceTypes: ['g5.xlarge', 'g5.12xlarge'] }, /'efa' needs instance types that support EFA, but g5\.xlarge do not.*Fix: remove g5\.xlarge/],
    ['EFA without a placement group', { efa: true, placementGroup: false, instanceTypes: ['g5.12xlarge'] }, /'placementGroup' cannot be false with 'efa'/],
    ['a zero team weight', { teams: [{ name: 'fraud', weight: 0 }] }, /'teams\[0\]\.weight' must be a number greater than 0.*Fix: set 'teams\[0\]\.weight' to a positive relative share/],
    ['a negative team weight', { teams: [{ name: 'fraud' }, { name: 'recsys', weight: -1 }] }, /'teams\[1\]\.weight' must be a number greater than 0/],
    ['a duplicate team', { teams: [{ name: 'fraud' }, { name: 'fraud' }] }, /'teams' must not repeat a team name/],
    ['a bad team name', { teams: [{ name: 'Fraud Team' }] }, /'teams\[0\]\.name' must be lower-case letters/],
    ['a small root volume', { rootVolumeSizeGiB: 20 }, /'rootVolumeSizeGiB' must be a whole number between 30 and 16384.*Fix: the ECS GPU AMI needs at least 30 GiB/],
    ['a non-GPU AMI', { machineImageType: batch.EcsMachineImageType.ECS_AL2023 }, /'machineImageType' must be one of .*Fix: use EcsMachineImageType\.ECS_AL2023_NVIDIA/],
    ['a bad priority', { priority: 1001 }, /'priority' must be a whole number between 0 and 1000/],
    ['a log retention CloudWatch does not offer', { logRetentionDays: 10 }, /'logRetentionDays' must be one of/],
  ])('cluster: %s', (_name, props, message) => {
    expect(() => build(EnvironmentProfile.dev(), props)).toThrow(message);
  });

  test.each<[string, (c: GpuTrainingCluster, images: ImageRepository) => unknown, RegExp]>([
    ['GPUs above any allowed instance', (c) => c.addJobDefinition('J', { ...image, gpus: 2 }), /'gpus' is more than any allowed instance type has \(1\).*Fix: lower 'gpus' to 1/],
    ['vCPUs above any instance with those GPUs', (c) => c.addJobDefinition('J', { ...image, vcpus: 16 }), /'vcpus' is more than any allowed type with 1 GPU\(s\) has \(8\)/],
    ['memory above any instance', (c) => c.addJobDefinition('J', { ...image, memoryMiB: 64000 }), /'memoryMiB' does not fit any allowed type/],
    ['neither image nor repository', (c) => c.addJobDefinition('J', {}), /'imageUri' must be given exactly when 'imageRepository' is not/],
    ['both image and repository', (c, images) => c.addJobDefinition('J', { ...image, imageRepository: images }), /'imageUri' must be given exactly when 'imageRepository' is not/],
    ['a tag without repository', (c) => c.addJobDefinition('J', { ...image, imageTag: 'v1' }), /'imageTag' needs 'imageRepository'/],
    ['a duplicate job name', (c) => { c.addJobDefinition('J', image); return c.addJobDefinition('K', { ...image, jobName: 'j' }); }, /'jobName' is already used/],
    ['a reserved environment variable', (c) => c.addJobDefinition('J', { ...image, environment: { CHECKPOINT_URI: 's3://x/' } }), /'environment\.CHECKPOINT_URI' is set by the cluster/],
    ['a timeout under a minute', (c) => c.addJobDefinition('J', { ...image, timeout: Duration.seconds(30) }), /'timeout' must be at least 60 seconds/],
    ['too many attempts', (c) => c.addJobDefinition('J', { ...image, attempts: 11 }), /'attempts' must be a whole number between 1 and 10/],
    ['multi-node with one node', (c) => c.addMultiNodeJobDefinition('J', { ...image, nodes: 1 }), /'nodes' must be a whole number between 2 and 1000.*Fix: set 'nodes' to 2 or more/],
    ['multi-node on spot only', (c) => c.addMultiNodeJobDefinition('J', { ...image, nodes: 2 }), /'onDemandFallback' must be true for multi-node jobs/],
    ['a grant for an unknown team', (c) => c.grantSubmitJob(new iam.AnyPrincipal(), 'recsys'), /'team' is not a team of the cluster/],
  ])('job: %s', (_name, act, message) => {
    const { cluster, images } = build();
    expect(() => act(cluster, images)).toThrow(message);
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ['a main node out of range', { nodes: 2, mainNode: 2 }, /'mainNode' must be a whole number between 0 and 1/],
    ['GPUs per node above the instance', { nodes: 2, instanceType: 'g5.xlarge', gpusPerNode: 2 }, /'gpusPerNode' is more than g5\.xlarge has \(1\)/],
    ['an instance type outside the cluster', { nodes: 2, instanceType: 'g6.12xlarge' }, /'instanceType' is not one of the cluster's instance types/],
    ['more GPUs than maxGpus', { nodes: 3 }, /'nodes' needs 12 GPUs, more than the cluster's 'maxGpus' \(8\)/],
  ])('multi-node: %s', (_name, options, message) => {
    const { cluster } = build(EnvironmentProfile.prod(), { instanceTypes: ['g5.xlarge', 'g5.12xlarge'] });
    expect(() => cluster.addMultiNodeJobDefinition('J', { ...image, ...options } as any)).toThrow(message);
  });

  test('a missing vpc or artifact store', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    expect(() => new GpuTrainingCluster(stack, 'A', { artifactStore: new ArtifactStore(stack, 'Store') } as any)).toThrow(/'vpc' is required/);
    expect(() => new GpuTrainingCluster(stack, 'B', { vpc: new ec2.Vpc(stack, 'Vpc') } as any)).toThrow(/'artifactStore' is required/);
  });

  test('errors name the construct path', () => {
    expect(() => build(EnvironmentProfile.dev(), { maxGpus: 0 })).toThrow(/^Env\/Training: 'maxGpus'/);
  });
});

describe('GpuTrainingCluster compliance', () => {
  function environment(app: App, name: string, profile: EnvironmentProfile, props: ClusterOptions, multiNode: boolean) {
    // GPU capacity must carry team and cost-center tags (MlopsChecks' MLOps-GpuCostTags).
    const stack = new MlopsStack(app, name, { profile, project: 'p', team: 'ml', costCenter: 'cc-1' });
    const key = new PlatformKey(stack, 'PlatformKey');
    const network = new PlatformNetwork(stack, 'Network', { encryptionKey: key.key });
    const artifactStore = new ArtifactStore(stack, 'ArtifactStore', { encryptionKey: key.key });
    const images = new ImageRepository(stack, 'Images');
    const cluster = new GpuTrainingCluster(stack, 'Training', { vpc: network.vpc, artifactStore, encryptionKey: key.key, ...props });
    cluster.addJobDefinition('Train', { imageRepository: images, imageTag: 'v1', datasetPrefix: 'fraud/' });
    if (multiNode) cluster.addMultiNodeJobDefinition('Dist', { imageUri: 'public.ecr.aws/org/train:1', nodes: 2 });
    return stack;
  }

  test('with only required props it synthesizes cdk-nag clean and cfn-lint clean', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Minimal', { profile: EnvironmentProfile.prod(), project: 'p', team: 'ml', costCenter: 'cc-1' });
    const network = new PlatformNetwork(stack, 'Network');
    new GpuTrainingCluster(stack, 'Training', { vpc: network.vpc, artifactStore: new ArtifactStore(stack, 'ArtifactStore') });
    environment(app, 'Dev', EnvironmentProfile.dev(), { teams: [{ name: 'fraud' }, { name: 'recsys' }] }, false);
    environment(app, 'Prod', EnvironmentProfile.prod(), { instanceTypes: ['g5.12xlarge', 'g6.12xlarge'], maxGpus: 16, efa: true }, true);
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('a key without CloudWatch Logs access can still be passed (the caller owns its policy)', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    const key = kms.Key.fromKeyArn(stack, 'Imported', 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    const cluster = new GpuTrainingCluster(stack, 'Training', { vpc: new ec2.Vpc(stack, 'Vpc'), artifactStore: new ArtifactStore(stack, 'Store'), encryptionKey: key });
    expect(cluster.encryptionKey).toBe(key);
  });
});
