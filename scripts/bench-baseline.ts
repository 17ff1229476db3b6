// The baseline of `npm run bench`: the 50-model environments written by hand with aws-cdk-lib only, no
// mlops-constructs, to measure what the library costs on top of CDK. It mirrors the resources the library
// creates (stacks, VPC, buckets, registry, training, per-model nested stacks) without its extras.
import { App, Duration, NestedStack, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';

const TEAMS = 5;
const JOB_DEFINITIONS_PER_TEAM = 5;

interface Shared {
  readonly vpc: ec2.IVpc;
  readonly key: kms.IKey;
  readonly models: s3.IBucket;
  readonly serving: ecr.IRepository;
  readonly topic: sns.ITopic;
  readonly dashboard: cloudwatch.Dashboard;
}

export function buildBaselineApp(app: App, models: number): void {
  const env = { account: '111111111111', region: 'us-east-1' };
  for (const name of ['dev', 'staging', 'prod']) {
    const multiAz = name !== 'dev';
    const data = new Stack(app, `baseline-${name}-data`, { env });
    const key = new kms.Key(data, 'Key', { enableKeyRotation: true });
    const vpc = new ec2.Vpc(data, 'Vpc', {
      maxAzs: multiAz ? 3 : 2,
      natGateways: multiAz ? 3 : 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    vpc.addFlowLog('FlowLog');
    const logs = new s3.Bucket(data, 'AccessLogs', { encryption: s3.BucketEncryption.S3_MANAGED, enforceSSL: true, removalPolicy: RemovalPolicy.RETAIN });
    const buckets = ['Datasets', 'Models', 'Artifacts'].map((id) => new s3.Bucket(data, id, {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      versioned: true,
      enforceSSL: true,
      serverAccessLogsBucket: logs,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(365), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    }));
    const training = new ecr.Repository(data, 'TrainingImages', { imageScanOnPush: true, encryption: ecr.RepositoryEncryption.KMS, encryptionKey: key });
    const serving = new ecr.Repository(data, 'ServingImages', { imageScanOnPush: true, encryption: ecr.RepositoryEncryption.KMS, encryptionKey: key });
    new rds.DatabaseCluster(data, 'Registry', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
      writer: rds.ClusterInstance.serverlessV2('Writer'),
      readers: multiAz ? [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })] : [],
      serverlessV2MinCapacity: 0.5,
      serverlessV2MaxCapacity: 8,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      storageEncryptionKey: key,
      deletionProtection: multiAz,
    });

    const platform = new Stack(app, `baseline-${name}-platform`, { env });
    platform.addStackDependency(data);
    const topic = new sns.Topic(platform, 'Alarms', { masterKey: key });
    const dashboard = new cloudwatch.Dashboard(platform, 'Dashboard');
    const fairshare = new batch.FairshareSchedulingPolicy(platform, 'Fairshare', {
      shares: Array.from({ length: TEAMS }, (_, i) => ({ shareIdentifier: `team${i + 1}`, weightFactor: 1 })),
    });
    const compute = new batch.ManagedEc2EcsComputeEnvironment(platform, 'Gpu', {
      vpc, instanceTypes: [new ec2.InstanceType('g5.xlarge'), new ec2.InstanceType('g5.2xlarge')], spot: true, maxvCpus: 64, useOptimalInstanceClasses: false,
    });
    new batch.JobQueue(platform, 'Queue', { computeEnvironments: [{ computeEnvironment: compute, order: 1 }], schedulingPolicy: fairshare });
    const jobRole = new iam.Role(platform, 'JobRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    buckets.forEach((b) => b.grantReadWrite(jobRole));
    for (let t = 0; t < TEAMS; t++) {
      for (let k = 0; k < JOB_DEFINITIONS_PER_TEAM; k++) {
        new batch.EcsJobDefinition(platform, `Team${t}Job${k}`, {
          container: new batch.EcsEc2ContainerDefinition(platform, `Team${t}Container${k}`, {
            image: ecs.ContainerImage.fromEcrRepository(training, `team-${t}-train-${k}`),
            cpu: 4,
            memory: Size.mebibytes(15000),
            gpu: 1,
            jobRole,
            command: ['python', 'train.py'],
          }),
        });
      }
      new budgets.CfnBudget(platform, `Team${t}Budget`, {
        budget: { budgetType: 'COST', timeUnit: 'MONTHLY', budgetLimit: { amount: 1000, unit: 'USD' }, costFilters: { TagKeyValue: [`user:mlops:team$team-${t + 1}`] } },
      });
    }
    new budgets.CfnBudget(platform, 'Budget', { budget: { budgetType: 'COST', timeUnit: 'MONTHLY', budgetLimit: { amount: 10000, unit: 'USD' } } });
    const shared: Shared = { vpc, key, models: buckets[1], serving, topic, dashboard };
    for (let i = 0; i < models; i++) {
      const stack = new NestedStack(platform, `Model-model-${i}`);
      if (i % 2 === 0) fleet(stack, `model-${i}`, shared);
      else endpoint(stack, `model-${i}`, shared);
    }
  }
}

function alarms(scope: NestedStack, model: string, latency: cloudwatch.IMetric, errors: cloudwatch.IMetric, shared: Shared): void {
  for (const [id, metric, threshold] of [['Latency', latency, 1000], ['Errors', errors, 5]] as const) {
    const alarm = new cloudwatch.Alarm(scope, id, {
      metric, threshold, evaluationPeriods: 3, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction({ bind: () => ({ alarmActionArn: shared.topic.topicArn }) });
  }
  shared.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: model, left: [latency, errors], width: 12 }));
}

function fleet(scope: NestedStack, model: string, shared: Shared): void {
  const role = new iam.Role(scope, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
  shared.models.grantRead(role, `${model}/*`);
  shared.serving.grantPull(role);
  const launchTemplate = new ec2.LaunchTemplate(scope, 'LaunchTemplate', {
    securityGroup: new ec2.SecurityGroup(scope, 'Sg', { vpc: shared.vpc }),
    instanceType: new ec2.InstanceType('g5.xlarge'),
    machineImage: ecs.EcsOptimizedImage.amazonLinux2(ecs.AmiHardwareType.GPU),
    role,
    requireImdsv2: true,
    blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(100, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
    userData: ec2.UserData.forLinux(),
  });
  const asg = new autoscaling.AutoScalingGroup(scope, 'Group', {
    vpc: shared.vpc, launchTemplate, minCapacity: 0, maxCapacity: 4, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  });
  const alb = new elbv2.ApplicationLoadBalancer(scope, 'Lb', { vpc: shared.vpc, internetFacing: false });
  const listener = alb.addListener('Http', { port: 80, open: false });
  const targets = listener.addTargets('Model', { port: 8080, targets: [asg], healthCheck: { path: '/health' } });
  asg.scaleOnRequestCount('Requests', { targetRequestsPerMinute: 600 });
  alarms(scope, model, targets.metrics.targetResponseTime(), targets.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT), shared);
}

function endpoint(scope: NestedStack, model: string, shared: Shared): void {
  const role = new iam.Role(scope, 'Role', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  shared.models.grantRead(role, `${model}/*`);
  shared.serving.grantPull(role);
  const cfnModel = new sagemaker.CfnModel(scope, 'Model', {
    executionRoleArn: role.roleArn,
    primaryContainer: { image: shared.serving.repositoryUriForTag('serve'), modelDataUrl: shared.models.s3UrlForObject(`${model}/v1/model.tar.gz`) },
    vpcConfig: { subnets: shared.vpc.privateSubnets.map((s) => s.subnetId), securityGroupIds: [new ec2.SecurityGroup(scope, 'Sg', { vpc: shared.vpc }).securityGroupId] },
  });
  const config = new sagemaker.CfnEndpointConfig(scope, 'Config', {
    kmsKeyId: shared.key.keyArn,
    productionVariants: [{ variantName: 'primary', modelName: cfnModel.attrModelName, initialInstanceCount: 1, instanceType: 'ml.g5.xlarge', initialVariantWeight: 1 }],
  });
  const ep = new sagemaker.CfnEndpoint(scope, 'Endpoint', { endpointConfigName: config.attrEndpointConfigName });
  const target = new appscaling.ScalableTarget(scope, 'Scaling', {
    serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
    scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
    resourceId: `endpoint/${ep.attrEndpointName}/variant/primary`,
    minCapacity: 1,
    maxCapacity: 4,
  });
  target.scaleToTrackMetric('Invocations', { targetValue: 300, predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE });
  const dims = { EndpointName: ep.attrEndpointName, VariantName: 'primary' };
  alarms(scope, model,
    new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName: 'ModelLatency', dimensionsMap: dims, statistic: 'p99' }),
    new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName: 'Invocation5XXErrors', dimensionsMap: dims, statistic: 'Sum' }),
    shared);
}
