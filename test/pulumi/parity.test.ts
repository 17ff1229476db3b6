import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { installMocks, mockArn, one, ofType, RecordedResource, resourcesOf } from './support';
import { newApp } from '../support/gate';
import * as cdk from 'mlops-constructs';
import { EnvironmentProfile, MlopsTags } from 'mlops-constructs';
import * as pl from 'mlops-constructs/pulumi';

/*
 * The same dev environment built with the CDK constructs and with the Pulumi components: the security- and
 * cost-relevant settings of each piece, read from the CloudFormation template and from the resources Pulumi was
 * asked to create, must be equal.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const profile = EnvironmentProfile.dev();
const tags = MlopsTags.of({ project: 'p', environment: 'dev' });

function buildCdk() {
  const app = newApp();
  const stack = new cdk.MlopsStack(app, 'Dev', { profile, project: 'p', env: { account: '123456789012', region: 'us-east-1' } });
  const platformKey = new cdk.PlatformKey(stack, 'PlatformKey');
  const store = new cdk.ArtifactStore(stack, 'Store', { encryptionKey: platformKey.key });
  const vpc = new cdk.PlatformNetwork(stack, 'Network', { encryptionKey: platformKey.key }).vpc;
  new cdk.ModelRegistry(stack, 'Registry', { vpc, encryptionKey: platformKey.key });
  const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.ServicePrincipal('batch.amazonaws.com') });
  new cdk.CostGuard(stack, 'Cost', { denyGpuFor: [trainer] });
  const training = new cdk.GpuTrainingCluster(stack, 'Training', { vpc, artifactStore: store, maxGpus: 4, encryptionKey: platformKey.key });
  const image = new cdk.ImageRepository(stack, 'Images', { encryptionKey: platformKey.key });
  const fleet = new cdk.InferenceFleet(stack, 'Fleet', {
    vpc, artifactStore: store, image, imageTag: '1', modelName: 'fraud', modelVersion: 'v3', encryptionKey: platformKey.key,
  });
  const template = Template.fromStack(stack).toJSON();
  const platformKeyId = stack.getLogicalId(platformKey.key.node.defaultChild as iam.CfnRole);
  return { template, platformKeyId, training, fleet };
}

let cdkSide: ReturnType<typeof buildCdk>;
let pulumiSide: { resources: RecordedResource[]; training: pl.GpuTrainingCluster; fleet: pl.InferenceFleet; keyArn: string };

beforeAll(async () => {
  cdkSide = buildCdk();
  const { Key } = await import('@pulumi/aws/kms');
  const key = new Key('par-key', { enableKeyRotation: true });
  const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] };
  new pl.ArtifactStore('par-store', { profile, tags, encryptionKey: key });
  new pl.ModelRegistry('par-registry', { profile, tags, ...net, encryptionKeyArn: key.arn });
  new pl.CostGuard('par-cost', { profile, tags, denyGpuFor: [{ name: 'trainer', arn: 'arn:aws:iam::123456789012:role/trainer' }] });
  const training = new pl.GpuTrainingCluster('par-training', { profile, tags, ...net, maxGpus: 4, encryptionKeyArn: key.arn });
  const fleet = new pl.InferenceFleet('par-fleet', {
    profile, tags, ...net, allowedCidrBlocks: ['10.0.0.0/16'], imageUri: 'repo/fraud:1', modelName: 'fraud', modelVersion: 'v3', encryptionKeyArn: key.arn,
  });
  pulumiSide = { resources: await resourcesOf('par'), training, fleet, keyArn: mockArn('aws:kms/key:Key', 'par-key') };
});

function cfn(type: string): Array<{ id: string; props: Json }> {
  return Object.entries(cdkSide.template.Resources as Record<string, { Type: string; Properties: Json }>)
    .filter(([, r]) => r.Type === type).map(([id, r]) => ({ id, props: r.Properties ?? {} }));
}
const isPlatformKey = (value: Json) => JSON.stringify(value).includes(cdkSide.platformKeyId);

describe('parity of the CDK constructs and the Pulumi components (dev)', () => {
  test('ArtifactStore: versioning, encryption with the platform key, public access, ownership, TLS and lifecycle of every purpose bucket', () => {
    const cdkBuckets = cfn('AWS::S3::Bucket').filter((b) => b.props.BucketEncryption?.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm === 'aws:kms');
    const policies = cfn('AWS::S3::BucketPolicy');
    const fromCdk = cdkBuckets.map((b) => {
      const lifecycle = b.props.LifecycleConfiguration.Rules.find((r: Json) => r.Id === 'noncurrent-versions');
      const policy = policies.find((p) => JSON.stringify(p.props.Bucket).includes(b.id))!.props.PolicyDocument.Statement;
      return {
        versioning: b.props.VersioningConfiguration.Status,
        sse: 'aws:kms',
        bucketKey: b.props.BucketEncryption.ServerSideEncryptionConfiguration[0].BucketKeyEnabled,
        platformKey: isPlatformKey(b.props.BucketEncryption),
        publicAccess: b.props.PublicAccessBlockConfiguration,
        ownership: b.props.OwnershipControls.Rules[0].ObjectOwnership,
        denies: policy.filter((s: Json) => s.Effect === 'Deny').map((s: Json) => Object.keys(Object.values(s.Condition)[0] as object)[0]).sort(),
        logPrefix: b.props.LoggingConfiguration.LogFilePrefix,
        lifecycle: [
          lifecycle.NoncurrentVersionTransitions[0].TransitionInDays, lifecycle.NoncurrentVersionExpiration.NoncurrentDays,
          lifecycle.AbortIncompleteMultipartUpload.DaysAfterInitiation,
        ],
      };
    });
    const r = pulumiSide.resources;
    const fromPulumi = ['datasets', 'models', 'artifacts'].map((purpose) => {
      const sse = one(r, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', `store-${purpose}-encryption`).inputs.rules[0];
      const pab = one(r, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', `store-${purpose}-public-access-block`).inputs;
      const lifecycle = one(r, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', `store-${purpose}-lifecycle`).inputs.rules[0];
      const policy = JSON.parse(one(r, 'aws:s3/bucketPolicy:BucketPolicy', `store-${purpose}-policy`).inputs.policy).Statement;
      return {
        versioning: one(r, 'aws:s3/bucketVersioning:BucketVersioning', `store-${purpose}-versioning`).inputs.versioningConfiguration.status,
        sse: sse.applyServerSideEncryptionByDefault.sseAlgorithm,
        bucketKey: sse.bucketKeyEnabled,
        platformKey: sse.applyServerSideEncryptionByDefault.kmsMasterKeyId === pulumiSide.keyArn,
        publicAccess: {
          BlockPublicAcls: pab.blockPublicAcls,
          BlockPublicPolicy: pab.blockPublicPolicy,
          IgnorePublicAcls: pab.ignorePublicAcls,
          RestrictPublicBuckets: pab.restrictPublicBuckets,
        },
        ownership: one(r, 'aws:s3/bucketOwnershipControls:BucketOwnershipControls', `store-${purpose}-ownership`).inputs.rule.objectOwnership,
        denies: policy.map((s: Json) => Object.keys(Object.values(s.Condition)[0] as object)[0]).sort(),
        logPrefix: one(r, 'aws:s3/bucketLogging:BucketLogging', `store-${purpose}-logging`).inputs.targetPrefix,
        lifecycle: [
          lifecycle.noncurrentVersionTransitions[0].noncurrentDays, lifecycle.noncurrentVersionExpiration.noncurrentDays,
          lifecycle.abortIncompleteMultipartUpload.daysAfterInitiation,
        ],
      };
    });
    expect(fromCdk).toHaveLength(3);
    expect(fromPulumi[0].platformKey).toBe(true);
    expect(fromPulumi).toEqual(fromCdk);
  });

  test('ModelRegistry: capacity, backups, encryption, IAM auth, protection, port, logs and instances', () => {
    const [cluster] = cfn('AWS::RDS::DBCluster').map((c) => c.props);
    const instances = cfn('AWS::RDS::DBInstance').map((i) => i.props);
    const fromCdk = {
      engineVersion: cluster.EngineVersion,
      capacity: [cluster.ServerlessV2ScalingConfiguration.MinCapacity, cluster.ServerlessV2ScalingConfiguration.MaxCapacity],
      backupDays: cluster.BackupRetentionPeriod,
      storageEncrypted: cluster.StorageEncrypted,
      platformKey: isPlatformKey(cluster.KmsKeyId),
      iamAuth: cluster.EnableIAMDatabaseAuthentication,
      deletionProtection: cluster.DeletionProtection ?? false,
      port: cluster.Port,
      databaseName: cluster.DatabaseName,
      logExports: cluster.EnableCloudwatchLogsExports,
      instances: instances.length,
      publiclyAccessible: instances.map((i) => i.PubliclyAccessible),
      monitoringInterval: instances.map((i) => i.MonitoringInterval),
      performanceInsights: instances.map((i) => i.EnablePerformanceInsights),
    };
    const r = pulumiSide.resources;
    const c = one(r, 'aws:rds/cluster:Cluster').inputs;
    const pInstances = ofType(r, 'aws:rds/clusterInstance:ClusterInstance').map((i) => i.inputs);
    const fromPulumi = {
      engineVersion: c.engineVersion,
      capacity: [c.serverlessv2ScalingConfiguration.minCapacity, c.serverlessv2ScalingConfiguration.maxCapacity],
      backupDays: c.backupRetentionPeriod,
      storageEncrypted: c.storageEncrypted,
      platformKey: c.kmsKeyId === pulumiSide.keyArn,
      iamAuth: c.iamDatabaseAuthenticationEnabled,
      deletionProtection: c.deletionProtection,
      port: c.port,
      databaseName: c.databaseName,
      logExports: c.enabledCloudwatchLogsExports,
      instances: pInstances.length,
      publiclyAccessible: pInstances.map((i) => i.publiclyAccessible),
      monitoringInterval: pInstances.map((i) => i.monitoringInterval),
      performanceInsights: pInstances.map((i) => i.performanceInsightsEnabled),
    };
    expect(fromPulumi).toEqual(fromCdk);
  });

  test('CostGuard: limit, tag filter, thresholds, deny-GPU action and policy, anomaly threshold', () => {
    const [budget] = cfn('AWS::Budgets::Budget').map((b) => b.props);
    const [action] = cfn('AWS::Budgets::BudgetsAction').map((a) => a.props);
    const denyPolicy = cfn('AWS::IAM::ManagedPolicy').map((p) => p.props).find((p) => p.PolicyDocument.Statement.some((s: Json) => s.Sid === 'DenyAcceleratedEc2'));
    const [anomaly] = cfn('AWS::CE::AnomalySubscription').map((a) => JSON.parse(a.props.ThresholdExpression).Dimensions);
    const statements = (list: Json[]) => list.map((s) => ({
      sid: s.Sid, effect: s.Effect, actions: [...s.Action].sort(), condition: Object.values(Object.values(s.Condition)[0] as object)[0],
    }));
    const fromCdk = {
      limit: Number(budget.Budget.BudgetLimit.Amount),
      filter: budget.Budget.CostFilters.TagKeyValue,
      notifications: budget.NotificationsWithSubscribers.map((n: Json) => `${n.Notification.NotificationType}:${n.Notification.Threshold}`),
      approval: action.ApprovalModel,
      threshold: action.ActionThreshold.Value,
      deny: statements(denyPolicy.PolicyDocument.Statement),
      anomaly: { key: anomaly.Key, values: anomaly.Values, matchOptions: anomaly.MatchOptions },
    };
    const r = pulumiSide.resources;
    const b = one(r, 'aws:budgets/budget:Budget').inputs;
    const a = one(r, 'aws:budgets/budgetAction:BudgetAction').inputs;
    const fromPulumi = {
      limit: Number(b.limitAmount),
      filter: b.costFilters[0].values,
      notifications: b.notifications.map((n: Json) => `${n.notificationType}:${n.threshold}`),
      approval: a.approvalModel,
      threshold: a.actionThreshold.actionThresholdValue,
      deny: statements(JSON.parse(one(r, 'aws:iam/policy:Policy', 'deny-gpu').inputs.policy).Statement),
      anomaly: one(r, 'aws:costexplorer/anomalySubscription:AnomalySubscription').inputs.thresholdExpression.dimension,
    };
    expect(fromPulumi).toEqual(fromCdk);
  });

  test('GpuTrainingCluster: spot compute scaling to zero, vCPU cap, instance types, queue, IMDSv2, encrypted volumes and their size, log retention, no placement group, cost ceiling', () => {
    const environments = cfn('AWS::Batch::ComputeEnvironment').map((e) => e.props.ComputeResources);
    const [launchTemplate] = cfn('AWS::EC2::LaunchTemplate').map((l) => l.props.LaunchTemplateData).filter((d) => d.BlockDeviceMappings?.[0].Ebs.VolumeSize === 200);
    const ebs = launchTemplate.BlockDeviceMappings[0].Ebs;
    const fromCdk = {
      environments: environments.map((e) => ({
        type: e.Type, allocation: e.AllocationStrategy, min: e.MinvCpus, max: e.MaxvCpus, types: e.InstanceTypes,
      })),
      priority: cfn('AWS::Batch::JobQueue')[0].props.Priority,
      imds: launchTemplate.MetadataOptions.HttpTokens,
      volume: { encrypted: ebs.Encrypted, type: ebs.VolumeType, size: ebs.VolumeSize, platformKey: isPlatformKey(ebs.KmsKeyId) },
      logRetentionDays: cfn('AWS::Logs::LogGroup').filter((g) => g.id.startsWith('TrainingJobLogs')).map((g) => g.props.RetentionInDays),
      placementGroups: cfn('AWS::EC2::PlacementGroup').length,
      ceiling: cdkSide.training.costCeiling,
    };
    const r = pulumiSide.resources;
    const lt = one(r, 'aws:ec2/launchTemplate:LaunchTemplate', 'training-lt').inputs;
    const fromPulumi = {
      environments: ofType(r, 'aws:batch/computeEnvironment:ComputeEnvironment').map((e) => e.inputs.computeResources)
        .map((e) => ({ type: e.type, allocation: e.allocationStrategy, min: e.minVcpus, max: e.maxVcpus, types: e.instanceTypes })),
      priority: one(r, 'aws:batch/jobQueue:JobQueue').inputs.priority,
      imds: lt.metadataOptions.httpTokens,
      volume: {
        encrypted: lt.blockDeviceMappings[0].ebs.encrypted === 'true',
        type: lt.blockDeviceMappings[0].ebs.volumeType,
        size: lt.blockDeviceMappings[0].ebs.volumeSize,
        platformKey: lt.blockDeviceMappings[0].ebs.kmsKeyId === pulumiSide.keyArn,
      },
      logRetentionDays: [one(r, 'aws:cloudwatch/logGroup:LogGroup', 'training-job-logs').inputs.retentionInDays],
      placementGroups: ofType(r, 'aws:ec2/placementGroup:PlacementGroup').length,
      ceiling: pulumiSide.training.spec.costCeiling,
    };
    expect(fromPulumi).toEqual(fromCdk);
  });

  test('InferenceFleet: capacity, scale to zero off hours, internal load balancer, deletion protection, health checks, request target, root volume, AMI and cost estimate', () => {
    const [asg] = cfn('AWS::AutoScaling::AutoScalingGroup').map((g) => g.props);
    const schedules = cfn('AWS::AutoScaling::ScheduledAction').map((s) => s.props)
      .map((s) => ({ recurrence: s.Recurrence, min: s.MinSize, max: s.MaxSize, desired: s.DesiredCapacity, timeZone: s.TimeZone }));
    const [alb] = cfn('AWS::ElasticLoadBalancingV2::LoadBalancer').map((l) => l.props);
    const attribute = (key: string) => alb.LoadBalancerAttributes?.find((a: Json) => a.Key === key)?.Value;
    const [targetGroup] = cfn('AWS::ElasticLoadBalancingV2::TargetGroup').map((t) => t.props);
    const [requestsPolicy] = cfn('AWS::AutoScaling::ScalingPolicy').map((p) => p.props)
      .filter((p) => p.TargetTrackingConfiguration?.PredefinedMetricSpecification?.PredefinedMetricType === 'ALBRequestCountPerTarget');
    const [launchTemplate] = cfn('AWS::EC2::LaunchTemplate').map((l) => l.props.LaunchTemplateData).filter((d) => d.InstanceType === 'g5.xlarge');
    const fromCdk = {
      capacity: [Number(asg.MinSize), Number(asg.MaxSize)],
      schedules: schedules.sort((x, y) => x.min - y.min),
      internal: alb.Scheme === 'internal',
      deletionProtection: (attribute('deletion_protection.enabled') ?? 'false') === 'true',
      gracePeriod: asg.HealthCheckGracePeriod,
      targetGroup: { port: targetGroup.Port, path: targetGroup.HealthCheckPath },
      requestsPerInstance: requestsPolicy.TargetTrackingConfiguration.TargetValue,
      rootVolume: launchTemplate.BlockDeviceMappings[0].Ebs.VolumeSize,
      ami: cdkSide.template.Parameters[launchTemplate.ImageId.Ref].Default,
      cost: cdkSide.fleet.costEstimate,
    };
    const r = pulumiSide.resources;
    const g = one(r, 'aws:autoscaling/group:Group').inputs;
    const lb = one(r, 'aws:lb/loadBalancer:LoadBalancer').inputs;
    const tg = one(r, 'aws:lb/targetGroup:TargetGroup').inputs;
    const flt = one(r, 'aws:ec2/launchTemplate:LaunchTemplate', 'fleet-candidate-lt').inputs;
    const fromPulumi = {
      capacity: [g.minSize, g.maxSize],
      schedules: ofType(r, 'aws:autoscaling/schedule:Schedule').map((s) => s.inputs)
        .map((s) => ({ recurrence: s.recurrence, min: s.minSize, max: s.maxSize, desired: s.desiredCapacity, timeZone: s.timeZone }))
        .sort((x, y) => x.min - y.min),
      internal: lb.internal,
      deletionProtection: lb.enableDeletionProtection,
      gracePeriod: g.healthCheckGracePeriod,
      targetGroup: { port: tg.port, path: tg.healthCheck.path },
      requestsPerInstance: one(r, 'aws:autoscaling/policy:Policy', 'fleet-candidate-requests').inputs.targetTrackingConfiguration.targetValue,
      rootVolume: flt.blockDeviceMappings[0].ebs.volumeSize,
      ami: flt.imageId.replace(/^resolve:ssm:/, ''),
      cost: pulumiSide.fleet.spec.costEstimate,
    };
    expect(fromPulumi).toEqual(fromCdk);
  });
});
