import { errorOf, installMocks, mockArn, one, ofType, resourcesOf } from './support';
import { certificateFix, EnvironmentProfile, MlopsTags, RECOMMENDED_TLS_POLICY, ValidationError } from 'mlops-constructs';
import { ArtifactStore, CostGuard, GpuTrainingCluster, InferenceFleet, ModelRegistry } from 'mlops-constructs/pulumi';

installMocks();

const dev = () => EnvironmentProfile.dev();
const prod = () => EnvironmentProfile.prod();
const tags = (profile: EnvironmentProfile) => MlopsTags.of({ project: 'p', environment: profile.name, team: 'fraud' });
const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] };
const CERTIFICATE = 'arn:aws:acm:us-east-1:123456789012:certificate/internal';

describe('Pulumi ModelRegistry', () => {
  test('GIVEN dev WHEN created THEN Aurora Serverless v2 pauses at 0 ACU, is encrypted, IAM-authenticated, not deletion-protected, single writer', async () => {
    const registry = new ModelRegistry('reg1', { ...net, profile: dev(), tags: tags(dev()) });
    registry.addModelPackageGroup('fraud-detector', 'Fraud models');
    const resources = await resourcesOf('reg1');
    const key = one(resources, 'aws:kms/key:Key');
    const cluster = one(resources, 'aws:rds/cluster:Cluster');
    expect(cluster.inputs).toMatchObject({
      engine: 'aurora-postgresql',
      engineVersion: '16.6',
      storageEncrypted: true,
      kmsKeyId: mockArn(key.type, key.name),
      iamDatabaseAuthenticationEnabled: true,
      serverlessv2ScalingConfiguration: { minCapacity: 0, maxCapacity: 4 },
      backupRetentionPeriod: 1,
      deletionProtection: false,
      skipFinalSnapshot: true,
      port: 5433,
      databaseName: 'registry',
      manageMasterUserPassword: true,
      enabledCloudwatchLogsExports: ['postgresql'],
    });
    expect(cluster.inputs.tags).toEqual({ 'mlops:project': 'p', 'mlops:environment': 'dev', 'mlops:team': 'fraud', 'mlops:data-classification': 'internal' });
    expect(ofType(resources, 'aws:rds/clusterInstance:ClusterInstance')).toHaveLength(1);
    expect(one(resources, 'aws:rds/clusterInstance:ClusterInstance').inputs).toMatchObject({
      instanceClass: 'db.serverless', publiclyAccessible: false, performanceInsightsEnabled: true, monitoringInterval: 60,
    });
    expect(one(resources, 'aws:ec2/securityGroup:SecurityGroup').inputs.ingress ?? []).toEqual([]);
    expect(one(resources, 'aws:cloudwatch/logGroup:LogGroup').inputs).toMatchObject({ retentionInDays: 14, kmsKeyId: mockArn(key.type, key.name) });
    expect(one(resources, 'aws:secretsmanager/secretRotation:SecretRotation').inputs.rotationRules).toEqual({ automaticallyAfterDays: 30 });
    expect(one(resources, 'aws:sagemaker/modelPackageGroup:ModelPackageGroup').inputs.modelPackageGroupName).toBe('fraud-detector');
  });

  test('GIVEN prod WHEN created THEN protected, final snapshot, a reader and prod backups', async () => {
    new ModelRegistry('reg2', { ...net, profile: prod(), tags: tags(prod()) });
    const resources = await resourcesOf('reg2');
    expect(one(resources, 'aws:rds/cluster:Cluster').inputs).toMatchObject({
      deletionProtection: true,
      skipFinalSnapshot: false,
      backupRetentionPeriod: 30,
      serverlessv2ScalingConfiguration: { minCapacity: 1, maxCapacity: 16 },
    });
    expect(ofType(resources, 'aws:rds/clusterInstance:ClusterInstance')).toHaveLength(2);
  });
});

describe('Pulumi CostGuard', () => {
  test('GIVEN dev WHEN created with a denied role THEN budget thresholds, forecast alert, the GPU brake\'s deny policy and anomaly detection', async () => {
    new CostGuard('cost1', { profile: dev(), tags: tags(dev()), denyGpuFor: [{ name: 'trainer', arn: 'arn:aws:iam::123456789012:role/trainer' }] });
    const resources = await resourcesOf('cost1');
    const budget = one(resources, 'aws:budgets/budget:Budget');
    expect(budget.inputs).toMatchObject({
      budgetType: 'COST',
      timeUnit: 'MONTHLY',
      limitAmount: '2000',
      limitUnit: 'USD',
      costFilters: [{ name: 'TagKeyValue', values: ['user:mlops:environment$dev'] }],
    });
    expect(budget.inputs.notifications.map((n: { notificationType: string; threshold: number }) => `${n.notificationType}:${n.threshold}`))
      .toEqual(['ACTUAL:50', 'ACTUAL:80', 'ACTUAL:100', 'FORECASTED:100']);
    // No Budgets IAM action on the environment budget: the brake (test/pulumi/gpu-brake.test.ts) attaches the deny policy.
    expect(ofType(resources, 'aws:budgets/budgetAction:BudgetAction')).toHaveLength(0);
    const policy = one(resources, 'aws:iam/policy:Policy', 'brake-deny');
    expect(policy.inputs.path).toBe('/mlops-brake/');
    const deny = JSON.parse(policy.inputs.policy);
    expect(deny.Statement[1]).toMatchObject({
      Sid: 'DenyAcceleratedEc2',
      Effect: 'Deny',
      Action: ['ec2:RunInstances', 'ec2:StartInstances'],
      Resource: ['arn:aws:ec2:us-east-1:123456789012:instance/*'],
    });
    expect(deny.Statement[1].Condition.StringLike['ec2:InstanceType']).toEqual(expect.arrayContaining(['g5.*', 'p5.*', 'inf2.*', 'trn1.*']));
    expect(deny.Statement[2].Condition['ForAnyValue:StringLike']['sagemaker:InstanceTypes']).toContain('ml.g5.*');
    expect(one(resources, 'aws:costexplorer/anomalySubscription:AnomalySubscription').inputs.thresholdExpression)
      .toEqual({ dimension: { key: 'ANOMALY_TOTAL_IMPACT_ABSOLUTE', values: ['200'], matchOptions: ['GREATER_THAN_OR_EQUAL'] } });
    expect(one(resources, 'aws:sns/topic:Topic', 'cost1-alerts').inputs.kmsMasterKeyId).toBe(mockArn('aws:kms/key:Key', 'cost1-topic-key'));
  });

  test('GIVEN prod WHEN a team budget with denied roles is added THEN deny needs manual approval at 110% and the team filter is used', async () => {
    const guard = new CostGuard('cost2', { profile: prod(), tags: tags(prod()), anomalyDetection: false });
    guard.addTeamBudget('fraud', { monthlyLimitUsd: 5000, denyGpuFor: [{ name: 'fraud-trainer', arn: 'arn:aws:iam::123456789012:role/fraud-trainer' }] });
    const resources = await resourcesOf('cost2');
    expect(ofType(resources, 'aws:budgets/budget:Budget')).toHaveLength(2);
    expect(one(resources, 'aws:budgets/budget:Budget', 'team-fraud-budget').inputs.costFilters).toEqual([{ name: 'TagKeyValue', values: ['user:mlops:team$fraud'] }]);
    const action = one(resources, 'aws:budgets/budgetAction:BudgetAction');
    expect(action.inputs).toMatchObject({ approvalModel: 'MANUAL', actionThreshold: { actionThresholdValue: 110 } });
    expect(action.inputs.definition.iamActionDefinition).toEqual({ policyArn: mockArn('aws:iam/policy:Policy', 'cost2-brake-deny'), roles: ['fraud-trainer'] });
    expect(ofType(resources, 'aws:costexplorer/anomalyMonitor:AnomalyMonitor')).toHaveLength(0);
  });

  test('GIVEN pieces WHEN estimates are added THEN the sum matches the core ledger', () => {
    const guard = new CostGuard('cost3', { profile: dev(), tags: tags(dev()) });
    guard.addCostEstimate('a', { minUsd: 1.005, maxUsd: 10 }).addCostEstimate('b', { minUsd: 2, maxUsd: 3.333 });
    expect(guard.estimatedMonthlyCost).toEqual({
      minUsd: 3.01, maxUsd: 13.33, pieces: { a: { minUsd: 1.005, maxUsd: 10 }, b: { minUsd: 2, maxUsd: 3.333 } },
    });
  });
});

describe('Pulumi GpuTrainingCluster', () => {
  test('GIVEN dev WHEN created THEN spot only, scale to zero, vCPU cap from maxGpus, IMDSv2 and encrypted gp3 root volumes', async () => {
    const cluster = new GpuTrainingCluster('train1', { ...net, profile: dev(), tags: tags(dev()), maxGpus: 4 });
    const resources = await resourcesOf('train1');
    const environments = ofType(resources, 'aws:batch/computeEnvironment:ComputeEnvironment');
    expect(environments).toHaveLength(1);
    // 4 GPUs on the type with the most vCPUs per GPU (g5.2xlarge / g6.2xlarge: 8 vCPUs, 1 GPU) = 32 vCPUs.
    expect(environments[0].inputs.computeResources).toMatchObject({
      type: 'SPOT',
      allocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
      minVcpus: 0,
      maxVcpus: 32,
      instanceTypes: ['g5.xlarge', 'g5.2xlarge', 'g6.xlarge', 'g6.2xlarge'],
      ec2Configurations: [{ imageType: 'ECS_AL2023_NVIDIA' }],
    });
    const key = one(resources, 'aws:kms/key:Key');
    expect(one(resources, 'aws:ec2/launchTemplate:LaunchTemplate').inputs).toMatchObject({
      metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
      blockDeviceMappings: [{ ebs: { encrypted: 'true', kmsKeyId: mockArn(key.type, key.name), volumeType: 'gp3', volumeSize: 200 } }],
    });
    expect(one(resources, 'aws:batch/jobQueue:JobQueue').inputs).toMatchObject({ priority: 10, state: 'ENABLED' });
    expect(cluster.spec.costCeiling.spotUsd).toBeGreaterThan(0);
  });

  test('GIVEN spot with on-demand fallback WHEN created THEN the queue tries spot first, then on-demand', async () => {
    new GpuTrainingCluster('train2', { ...net, profile: dev(), tags: tags(dev()), onDemandFallback: true, teams: [{ name: 'fraud' }, { name: 'recs', weight: 2 }] });
    const resources = await resourcesOf('train2');
    const spot = one(resources, 'aws:batch/computeEnvironment:ComputeEnvironment', '-spot');
    const onDemand = one(resources, 'aws:batch/computeEnvironment:ComputeEnvironment', '-on-demand');
    expect(onDemand.inputs.computeResources).toMatchObject({ type: 'EC2', allocationStrategy: 'BEST_FIT_PROGRESSIVE', minVcpus: 0 });
    expect(one(resources, 'aws:batch/jobQueue:JobQueue').inputs.computeEnvironmentOrders).toEqual([
      { order: 1, computeEnvironment: mockArn(spot.type, spot.name) }, { order: 2, computeEnvironment: mockArn(onDemand.type, onDemand.name) },
    ]);
    expect(one(resources, 'aws:batch/schedulingPolicy:SchedulingPolicy').inputs.fairSharePolicy.shareDistributions)
      .toEqual([{ shareIdentifier: 'fraud', weightFactor: 1 }, { shareIdentifier: 'recs', weightFactor: 0.5 }]);
  });

  test('GIVEN prod WHEN created THEN the on-demand fallback is on by default', async () => {
    new GpuTrainingCluster('train3', { ...net, profile: prod(), tags: tags(prod()) });
    expect(ofType(await resourcesOf('train3'), 'aws:batch/computeEnvironment:ComputeEnvironment')).toHaveLength(2);
  });
});

describe('Pulumi InferenceFleet', () => {
  const fleetArgs = {
    ...net, artifactStore: new ArtifactStore('fleet-store', { profile: dev() }), allowedCidrBlocks: ['10.0.0.0/16'], imageUri: 'repo/fraud:1', modelName: 'fraud', modelVersion: 'v3',
  };

  test('GIVEN dev WHEN created THEN it scales to zero off hours and back to 1 in working hours, behind an internal ALB', async () => {
    const fleet = new InferenceFleet('fleet1', { ...fleetArgs, profile: dev(), tags: tags(dev()) });
    const resources = await resourcesOf('fleet1');
    expect(one(resources, 'aws:autoscaling/group:Group').inputs).toMatchObject({ minSize: 1, maxSize: 2, healthCheckType: 'ELB' });
    expect(one(resources, 'aws:autoscaling/schedule:Schedule', 'scale-to-zero').inputs).toMatchObject({
      recurrence: '0 20 * * MON,TUE,WED,THU,FRI', timeZone: 'UTC', minSize: 0, maxSize: 0, desiredCapacity: 0,
    });
    expect(one(resources, 'aws:autoscaling/schedule:Schedule', 'scale-up-working-hours').inputs).toMatchObject({
      recurrence: '0 8 * * MON,TUE,WED,THU,FRI', minSize: 1, maxSize: 2, desiredCapacity: 1,
    });
    expect(one(resources, 'aws:lb/loadBalancer:LoadBalancer').inputs).toMatchObject({ internal: true, dropInvalidHeaderFields: true, enableDeletionProtection: false });
    // dev allows HTTP without a certificate: one plain listener on 80, admitted from the allowed CIDR blocks only.
    expect(ofType(resources, 'aws:lb/listener:Listener').map((l) => [l.inputs.port, l.inputs.protocol])).toEqual([[80, 'HTTP']]);
    expect(one(resources, 'aws:ec2/securityGroup:SecurityGroup', 'lb-sg').inputs.ingress).toEqual([
      { protocol: 'tcp', fromPort: 80, toPort: 80, cidrBlocks: ['10.0.0.0/16'], description: 'Model clients' },
    ]);
    expect(fleet.redirectListener).toBeUndefined();
    expect(one(resources, 'aws:ec2/launchTemplate:LaunchTemplate').inputs).toMatchObject({
      instanceType: 'g5.xlarge',
      imageId: 'resolve:ssm:/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id',
      metadataOptions: { httpTokens: 'required' },
      blockDeviceMappings: [{ ebs: { encrypted: 'true', volumeSize: 100 } }],
    });
    expect(one(resources, 'aws:autoscaling/policy:Policy', '-requests').inputs.targetTrackingConfiguration.targetValue).toBe(300);
    expect(fleet.spec.costEstimate.minUsd).toBeGreaterThan(0);
  });

  test('GIVEN prod WHEN created THEN no schedule, two warm instances and deletion protection', async () => {
    new InferenceFleet('fleet2', { ...fleetArgs, profile: prod(), tags: tags(prod()), certificateArn: CERTIFICATE });
    const resources = await resourcesOf('fleet2');
    expect(ofType(resources, 'aws:autoscaling/schedule:Schedule')).toHaveLength(0);
    expect(one(resources, 'aws:autoscaling/group:Group').inputs).toMatchObject({ minSize: 2, maxSize: 4 });
    expect(one(resources, 'aws:lb/loadBalancer:LoadBalancer').inputs.enableDeletionProtection).toBe(true);
  });

  test('GIVEN prod with a certificate WHEN created THEN the variants are served over HTTPS on 443 (TLS 1.2+) only, and port 80 answers only with a redirect to 443', async () => {
    const fleet = new InferenceFleet('fleet4', { ...fleetArgs, profile: prod(), tags: tags(prod()), certificateArn: CERTIFICATE });
    const resources = await resourcesOf('fleet4');
    const listeners = ofType(resources, 'aws:lb/listener:Listener').map((l) => l.inputs);
    const forwarding = listeners.filter((l) => l.defaultActions.some((a: { type: string }) => a.type === 'forward'));
    expect(forwarding.map((l) => [l.port, l.protocol, l.sslPolicy, l.certificateArn])).toEqual([[443, 'HTTPS', RECOMMENDED_TLS_POLICY, CERTIFICATE]]);
    const others = listeners.filter((l) => !forwarding.includes(l));
    expect(others).toHaveLength(1);
    expect(others[0]).toMatchObject({ port: 80, protocol: 'HTTP' });
    expect(others[0].defaultActions).toEqual([{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }]);
    expect(fleet.redirectListener).toBeDefined();
    // Both ports from the allowed blocks only; the instances only from the load balancer.
    const ingress = one(resources, 'aws:ec2/securityGroup:SecurityGroup', 'lb-sg').inputs.ingress;
    expect(ingress.map((r: { fromPort: number; toPort: number; cidrBlocks: string[] }) => [r.fromPort, r.toPort, r.cidrBlocks])).toEqual([
      [443, 443, ['10.0.0.0/16']], [80, 80, ['10.0.0.0/16']],
    ]);
  });

  test('GIVEN staging or prod without a certificate, or an internet-facing fleet without one WHEN created THEN a ValidationError names certificateArn and how to get one', () => {
    for (const profile of [EnvironmentProfile.staging(), prod()]) {
      const error = errorOf(() => new InferenceFleet(`fleet5-${profile.name}`, { ...fleetArgs, profile, tags: tags(profile) }));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.prop).toBe('certificateArn');
      expect(error.problem).toBe(`is required under the '${profile.name}' profile (requireTls): its load balancer serves HTTPS only`);
      expect(error.fix).toBe(certificateFix("and pass its ARN as 'certificateArn'"));
    }
    const publicFleet = errorOf(() => new InferenceFleet('fleet6', { ...fleetArgs, profile: dev(), tags: tags(dev()), internetFacing: true }));
    expect([publicFleet.prop, publicFleet.problem]).toEqual(['certificateArn', "is required when 'internetFacing' is true"]);
  });

  test('GIVEN an Inferentia type WHEN created THEN the base Neuron DLAMI (as in CDK) and the Neuron devices, not --gpus, go to the container', async () => {
    new InferenceFleet('fleet3', { ...fleetArgs, instanceType: 'inf2.xlarge', profile: dev(), tags: tags(dev()) });
    const lt = one(await resourcesOf('fleet3'), 'aws:ec2/launchTemplate:LaunchTemplate').inputs;
    expect(lt.imageId).toBe('resolve:ssm:/aws/service/neuron/dlami/base/amazon-linux-2023/latest/image_id');
    const userData = Buffer.from(lt.userData, 'base64').toString();
    expect(userData).toMatch(/docker run .*\/dev\/neuron.*--device=%s/);
    expect(userData).not.toMatch(/--gpus/);
  });
});
