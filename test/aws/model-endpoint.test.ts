import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, ImageRepository, MlopsStack, ModelEndpoint, ModelEndpointProps, PlatformKey,
  PlatformNetwork, Rollout,
} from 'mlops-constructs';

function build(profile: EnvironmentProfile, props: Partial<ModelEndpointProps> = {}) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Env', { profile, project: 'p' });
  const vpc = new ec2.Vpc(stack, 'Vpc');
  const artifactStore = new ArtifactStore(stack, 'Store');
  const image = new ImageRepository(stack, 'Images');
  const endpoint = new ModelEndpoint(stack, 'Endpoint', {
    vpc, artifactStore, image, imageTag: '1.0', modelName: 'fraud', modelVersion: 'v1', ...props,
  });
  return { app, stack, endpoint, template: () => Template.fromStack(stack) };
}

function deploymentConfig(template: Template): any {
  const endpoints = Object.values(template.findResources('AWS::SageMaker::Endpoint'));
  expect(endpoints).toHaveLength(1);
  return endpoints[0].Properties.DeploymentConfig;
}

const modelUri = (version: string) => ({ 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('StoreModels') }, `/served/fraud/${version}/model.tar.gz`]] });

describe('ModelEndpoint defaults', () => {
  test('model: image, model data from this model\'s prefix, network isolation in private subnets', () => {
    const t = build(EnvironmentProfile.dev()).template();
    t.hasResourceProperties('AWS::SageMaker::Model', {
      EnableNetworkIsolation: true,
      ExecutionRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointExecutionRole'), 'Arn'] },
      VpcConfig: {
        Subnets: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PrivateSubnet1') }]),
        SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointSecurityGroup'), 'GroupId'] }],
      },
      PrimaryContainer: {
        Image: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
        ModelDataUrl: modelUri('v1'),
        Environment: { MODEL_URI: modelUri('v1') },
      },
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('no inbound'), SecurityGroupIngress: Match.absent() });
  });

  test('endpoint config: one production variant, data capture to the artifact store with its key, no volume key on g5', () => {
    const { endpoint, template } = build(EnvironmentProfile.dev(), { scaleToZeroOffHours: false });
    const t = template();
    expect(endpoint.endpointName).toMatch(/^env-endpoint-[0-9a-f]{8}$/);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ VariantName: 'current', InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1, InitialVariantWeight: 1 })],
      ShadowProductionVariants: Match.absent(),
      KmsKeyId: Match.absent(),
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: 100,
        DestinationS3Uri: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('StoreArtifacts') }, `/data-capture/${endpoint.endpointName}/`]] },
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('StoreKey'), 'Arn'] },
        CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
      },
    });
    t.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: endpoint.endpointName });
  });

  test('instance types without instance storage get the volume key', () => {
    const t = build(EnvironmentProfile.dev(), { instanceType: 'inf2.xlarge' }).template();
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ InstanceType: 'ml.inf2.xlarge' })],
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointKey'), 'Arn'] },
    });
  });

  test('execution role: read this model, write this endpoint\'s captures, in a managed policy', () => {
    const { endpoint, template } = build(EnvironmentProfile.dev());
    const t = template();
    t.resourceCountIs('AWS::IAM::Policy', 0);
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('StoreModels'), 'Arn'] }, '/served/fraud/*']] },
          }),
          Match.objectLike({
            Action: Match.arrayWith(['s3:PutObject']),
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('StoreArtifacts'), 'Arn'] }, `/data-capture/${endpoint.endpointName}/*`]] },
          }),
        ]),
      },
    });
  });

  test('dev without scale to zero: all-at-once blue/green with default 5xx and p99 alarms from the profile as rollback alarms', () => {
    const t = build(EnvironmentProfile.dev(), { scaleToZeroOffHours: false }).template();
    const config = deploymentConfig(t);
    expect(config.BlueGreenUpdatePolicy).toEqual({
      TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 },
      MaximumExecutionTimeoutInSeconds: 1800,
    });
    expect(config.AutoRollbackConfiguration.Alarms).toEqual([
      { AlarmName: { Ref: expect.stringMatching(/EndpointErrorRateAlarmCurrent/) } },
      { AlarmName: { Ref: expect.stringMatching(/EndpointLatencyP99AlarmCurrent/) } },
    ]);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('EndpointAlarmTopic') }],
      Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * FILL(errors, 0) / invocations' })]),
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 2_000_000, ExtendedStatistic: 'p99', MetricName: 'ModelLatency', Namespace: 'AWS/SageMaker' });
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  test('dev without scale to zero: scaling on invocations per instance and a scheduled off-hours floor of one instance', () => {
    const { endpoint, template } = build(EnvironmentProfile.dev(), { scaleToZeroOffHours: false });
    const t = template();
    expect([endpoint.minCapacity, endpoint.maxCapacity]).toEqual([1, 2]);
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'sagemaker',
      ResourceId: `endpoint/${endpoint.endpointName}/variant/current`,
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      MinCapacity: 1,
      MaxCapacity: 2,
      RoleARN: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint')])] }),
      ScheduledActions: [
        { ScheduledActionName: 'ScaleDownOffHours', Schedule: 'cron(0 20 ? * MON,TUE,WED,THU,FRI *)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 1, MaxCapacity: 1 } },
        { ScheduledActionName: 'ScaleUpWorkingHours', Schedule: 'cron(0 8 ? * MON,TUE,WED,THU,FRI *)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 1, MaxCapacity: 2 } },
      ],
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        TargetValue: 300,
      }),
    });
    t.hasResource('AWS::ApplicationAutoScaling::ScalableTarget', { DependsOn: Match.arrayWith([Match.stringLikeRegexp('^Endpoint')]) });
  });

  test('prod: two instances at least, four at most, no schedule, prod thresholds', () => {
    const { endpoint, template } = build(EnvironmentProfile.prod());
    const t = template();
    expect([endpoint.minCapacity, endpoint.maxCapacity]).toEqual([2, 4]);
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 4, ScheduledActions: Match.absent() });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 500_000, MetricName: 'ModelLatency' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 1 });
  });

  test('cost estimate at SageMaker rates (ml.g5.xlarge $1.408/h, not EC2\'s $1.006): dev runs nothing at night (one instance without scale to zero), prod always on', () => {
    const hours = 12 * 5 * (52 / 12);
    const dev = build(EnvironmentProfile.dev()).endpoint.costEstimate;
    expect(dev.minUsd).toBeCloseTo(1.408 * hours, 1);
    expect(dev.maxUsd).toBeCloseTo(1.408 * 2 * hours, 1);
    const floor = build(EnvironmentProfile.dev(), { scaleToZeroOffHours: false }).endpoint.costEstimate;
    expect(floor.minUsd).toBeCloseTo(1.408 * 730, 1);
    expect(floor.maxUsd).toBeCloseTo(1.408 * (2 * hours + (730 - hours)), 1);
    const prod = build(EnvironmentProfile.prod()).endpoint.costEstimate;
    // 2 and 4 instances x $1.408 x 730 h
    expect(prod).toEqual({ minUsd: 2055.68, maxUsd: 4111.36 });
  });

  test('a type SageMaker does not host is a ValidationError naming the prop', () => {
    expect(() => build(EnvironmentProfile.prod(), { instanceType: 'g4dn.metal' })).toThrow(
      /Endpoint: 'instanceType' is not hosted by SageMaker real-time inference \(received "g4dn.metal"\)\. Fix: use a type SageMaker hosts/,
    );
  });
});

describe('ModelEndpoint rollouts', () => {
  test('canary: CANARY with CanarySize and bake, rollback alarms', () => {
    const rollout = Rollout.canary({ percent: 10, bake: Duration.minutes(30) });
    const config = deploymentConfig(build(EnvironmentProfile.prod(), { rollout }).template());
    expect(config.BlueGreenUpdatePolicy.TrafficRoutingConfiguration).toEqual({
      Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 1800,
    });
    expect(config.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds).toBe(3600);
    expect(config.AutoRollbackConfiguration.Alarms).toHaveLength(2);
  });

  test('linear: LINEAR with the step size and interval', () => {
    const rollout = Rollout.linear({ stepPercent: 25, interval: Duration.minutes(10) });
    const config = deploymentConfig(build(EnvironmentProfile.prod(), { rollout }).template());
    expect(config.BlueGreenUpdatePolicy.TrafficRoutingConfiguration).toEqual({
      Type: 'LINEAR', LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: 25 }, WaitIntervalInSeconds: 600,
    });
    expect(config.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds).toBe(3 * 600 + 1800);
  });

  test('blue/green: ALL_AT_ONCE with the bake as wait', () => {
    const config = deploymentConfig(build(EnvironmentProfile.prod(), { rollout: Rollout.blueGreen({ bake: Duration.minutes(15) }) }).template());
    expect(config.BlueGreenUpdatePolicy.TrafficRoutingConfiguration).toEqual({ Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 900 });
  });

  test('A/B test: a production variant, model and scalable target per variant, with its weight', () => {
    const { endpoint, template } = build(EnvironmentProfile.prod(), {
      rollout: Rollout.abTest({ weights: { a: 70, b: 30 } }), variantVersions: { a: 'v1', b: 'v2' },
    });
    const t = template();
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [
        Match.objectLike({ VariantName: 'a', InitialVariantWeight: 70, ModelName: { 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointModelA'), 'ModelName'] } }),
        Match.objectLike({ VariantName: 'b', InitialVariantWeight: 30, ModelName: { 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointModelB'), 'ModelName'] } }),
      ],
    });
    t.hasResourceProperties('AWS::SageMaker::Model', { PrimaryContainer: Match.objectLike({ Environment: { MODEL_URI: modelUri('v2') } }) });
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 2);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    expect(deploymentConfig(t).BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type).toBe('ALL_AT_ONCE');
    expect(endpoint.costEstimate.minUsd).toBeCloseTo(1.408 * 4 * 730, 1);
  });

  test('shadow: the candidate as a shadow variant mirroring the given share', () => {
    const { endpoint, template } = build(EnvironmentProfile.prod(), { rollout: Rollout.shadow({ mirrorPercent: 50 }), variantVersions: { candidate: 'v2' } });
    const t = template();
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ VariantName: 'current', InitialVariantWeight: 100 })],
      ShadowProductionVariants: [Match.objectLike({ VariantName: 'candidate', InitialVariantWeight: 50, InstanceType: 'ml.g5.xlarge' })],
    });
    t.resourceCountIs('AWS::SageMaker::Model', 2);
    t.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 1);
    expect(endpoint.variants.map((v) => [v.name, v.modelVersion, v.shadow])).toEqual([['current', 'v1', false], ['candidate', 'v2', true]]);
  });

  test('given rollback alarms replace the default ones', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.prod(), project: 'p' });
    const alarm = cloudwatch.Alarm.fromAlarmName(stack, 'Business', 'fraud-approval-rate-drop');
    new ModelEndpoint(stack, 'Endpoint', {
      vpc: new ec2.Vpc(stack, 'Vpc'),
      artifactStore: new ArtifactStore(stack, 'Store'),
      image: new ImageRepository(stack, 'Images'),
      imageTag: '1.0',
      modelName: 'fraud',
      modelVersion: 'v1',
      rollbackAlarms: [alarm],
      rollout: Rollout.canary({ percent: 5, bake: Duration.minutes(10) }),
    });
    const t = Template.fromStack(stack);
    expect(deploymentConfig(t).AutoRollbackConfiguration).toEqual({ Alarms: [{ AlarmName: 'fraud-approval-rate-drop' }] });
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    t.resourceCountIs('AWS::SNS::Topic', 0);
  });

  test('options: name, capacity, target, capture share', () => {
    const { template } = build(EnvironmentProfile.prod(), {
      endpointName: 'fraud-prod', minCapacity: 3, maxCapacity: 8, targetInvocationsPerInstancePerMinute: 90, dataCapturePercent: 20,
    });
    const t = template();
    t.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'fraud-prod' });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { ResourceId: 'endpoint/fraud-prod/variant/current', MinCapacity: 3, MaxCapacity: 8 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 90 }) });
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ InitialInstanceCount: 3 })],
      DataCaptureConfig: Match.objectLike({ InitialSamplingPercentage: 20 }),
    });
  });
});

describe('ModelEndpoint scales to zero outside working hours (dev default)', () => {
  const resources = (t: Template, type: string) => Object.entries(t.findResources(type)).map(([id, r]) => ({ id, ...(r as any) }));

  test('claim: outside working hours the endpoint keeps no instance: every scalable target of it goes to 0, and SageMaker may take the variant to 0 instances', () => {
    const { endpoint, template } = build(EnvironmentProfile.dev());
    const t = template();
    expect(endpoint.hosting).toBe('inference-component');
    // Instances follow the copies, from zero: managed instance scaling on the only production variant, which names no model.
    const [config] = resources(t, 'AWS::SageMaker::EndpointConfig');
    expect(config.Properties.ProductionVariants).toEqual([{
      VariantName: 'current',
      InstanceType: 'ml.g5.xlarge',
      InitialInstanceCount: 1,
      ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 2 },
      RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
    }]);
    // Every scalable target of this endpoint (there is one: the component's copies) goes to 0 off hours and back at 8.
    const targets = resources(t, 'AWS::ApplicationAutoScaling::ScalableTarget');
    expect(targets.map((x) => [x.Properties.ResourceId, x.Properties.ScalableDimension, x.Properties.MinCapacity, x.Properties.MaxCapacity]))
      .toEqual([[`inference-component/${endpoint.endpointName}`, 'sagemaker:inference-component:DesiredCopyCount', 1, 2]]);
    expect(targets[0].Properties.ScheduledActions).toEqual([
      { ScheduledActionName: 'ScaleDownOffHours', Schedule: 'cron(0 20 ? * MON,TUE,WED,THU,FRI *)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 0, MaxCapacity: 0 } },
      { ScheduledActionName: 'ScaleUpWorkingHours', Schedule: 'cron(0 8 ? * MON,TUE,WED,THU,FRI *)', Timezone: 'UTC', ScalableTargetAction: { MinCapacity: 1, MaxCapacity: 2 } },
    ]);
    const [component] = resources(t, 'AWS::SageMaker::InferenceComponent');
    expect(targets[0].DependsOn).toEqual(expect.arrayContaining([component.id]));
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerInferenceComponentInvocationsPerCopy' }, TargetValue: 300,
      }),
    });
  });

  test('the model is the inference component\'s, one copy per instance, with the role, network and isolation of the configuration', () => {
    const { endpoint, template } = build(EnvironmentProfile.dev());
    const t = template();
    const [model] = resources(t, 'AWS::SageMaker::Model');
    const [component] = resources(t, 'AWS::SageMaker::InferenceComponent');
    expect(component.Properties).toEqual(expect.objectContaining({
      InferenceComponentName: endpoint.endpointName,
      EndpointName: { 'Fn::GetAtt': [expect.stringMatching(/^Endpoint[0-9A-F]{8}$/), 'EndpointName'] },
      VariantName: 'current',
      Specification: {
        ModelName: { 'Fn::GetAtt': [model.id, 'ModelName'] },
        // g5.xlarge: 1 GPU, 16 GiB: the whole GPU, half the memory.
        ComputeResourceRequirements: { NumberOfAcceleratorDevicesRequired: 1, MinMemoryRequiredInMb: 8192 },
      },
      RuntimeConfig: { CopyCount: 1 },
    }));
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ExecutionRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointExecutionRole'), 'Arn'] },
      EnableNetworkIsolation: true,
      VpcConfig: { Subnets: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PrivateSubnet1') }]), SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointSecurityGroup'), 'GroupId'] }] },
      DataCaptureConfig: Match.objectLike({ EnableCapture: true }),
    });
    // The configuration names the role: it waits for the role's policy.
    const [config] = resources(t, 'AWS::SageMaker::EndpointConfig');
    expect(config.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^EndpointExecutionPolicy/)]));
  });

  test('claim: a new model version still rolls out under guardrails: the component rolls in batches, baked and watched by the rollback alarms, which measure the component', () => {
    const { endpoint, template } = build(EnvironmentProfile.dev());
    const t = template();
    const [component] = resources(t, 'AWS::SageMaker::InferenceComponent');
    expect(component.Properties.DeploymentConfig).toEqual({
      RollingUpdatePolicy: { MaximumBatchSize: { Type: 'CAPACITY_PERCENT', Value: 50 }, WaitIntervalInSeconds: 0, MaximumExecutionTimeoutInSeconds: 1200 },
      AutoRollbackConfiguration: {
        Alarms: [
          { AlarmName: { Ref: expect.stringMatching(/EndpointErrorRateAlarmCurrent/) } },
          { AlarmName: { Ref: expect.stringMatching(/EndpointLatencyP99AlarmCurrent/) } },
        ],
      },
    });
    // The endpoint's own blue/green policy would not apply to a component update.
    expect(deploymentConfig(t)).toBeUndefined();
    const byComponent = [{ Name: 'InferenceComponentName', Value: endpoint.endpointName }];
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ModelLatency', Namespace: 'AWS/SageMaker', Dimensions: byComponent });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Invocation5XXErrors', Dimensions: byComponent }) }) })]),
    });
    expect(endpoint.metricGpuUtilization()).toMatchObject({ namespace: '/aws/sagemaker/InferenceComponents', metricName: 'GPUUtilizationNormalized' });
    expect(endpoint.metricGpuUtilization().dimensions).toEqual({ InferenceComponentName: endpoint.endpointName });
  });

  test('a canary rolls its percent first and bakes; a linear rollout rolls its step (SageMaker batches are 5-50% of the copies)', () => {
    const policy = (rollout: Rollout) => resources(build(EnvironmentProfile.dev(), { rollout }).template(), 'AWS::SageMaker::InferenceComponent')[0]
      .Properties.DeploymentConfig.RollingUpdatePolicy;
    expect(policy(Rollout.canary({ percent: 10, bake: Duration.minutes(30) }))).toEqual({
      MaximumBatchSize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 1800, MaximumExecutionTimeoutInSeconds: 10 * (1800 + 600),
    });
    expect(policy(Rollout.linear({ stepPercent: 2, interval: Duration.minutes(1) })).MaximumBatchSize).toEqual({ Type: 'CAPACITY_PERCENT', Value: 5 });
    expect(policy(Rollout.blueGreen({ bake: Duration.minutes(15) }))).toEqual({
      MaximumBatchSize: { Type: 'CAPACITY_PERCENT', Value: 50 }, WaitIntervalInSeconds: 900, MaximumExecutionTimeoutInSeconds: 2 * (900 + 600),
    });
  });

  test('A/B and shadow endpoints keep their variants (one instance each off hours); prod and staging never scale to zero', () => {
    const ab = build(EnvironmentProfile.dev(), { rollout: Rollout.abTest({ weights: { a: 50, b: 50 } }), variantVersions: { a: 'v1', b: 'v2' } });
    expect(ab.endpoint.hosting).toBe('variant');
    const t = ab.template();
    t.resourceCountIs('AWS::SageMaker::InferenceComponent', 0);
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ResourceId: `endpoint/${ab.endpoint.endpointName}/variant/a`,
      ScheduledActions: Match.arrayWith([Match.objectLike({ ScheduledActionName: 'ScaleDownOffHours', ScalableTargetAction: { MinCapacity: 1, MaxCapacity: 1 } })]),
    });
    for (const profile of [EnvironmentProfile.staging(), EnvironmentProfile.prod()]) {
      const { endpoint, template } = build(profile);
      expect(endpoint.hosting).toBe('variant');
      template().resourceCountIs('AWS::SageMaker::InferenceComponent', 0);
    }
  });
});

describe('ModelEndpoint metrics', () => {
  test('latency, errors, invocations and GPU utilization per variant', () => {
    const { endpoint } = build(EnvironmentProfile.prod(), { endpointName: 'fraud-prod' });
    expect(endpoint.metricLatency('p50')).toMatchObject({ namespace: 'AWS/SageMaker', metricName: 'ModelLatency', statistic: 'p50' });
    expect(endpoint.metricLatency().dimensions).toEqual({ EndpointName: 'fraud-prod', VariantName: 'current' });
    expect(endpoint.metric5xx()).toMatchObject({ metricName: 'Invocation5XXErrors', statistic: 'Sum' });
    expect(endpoint.metricInvocations()).toMatchObject({ metricName: 'Invocations', statistic: 'Sum' });
    expect(endpoint.metricErrorRate().expression).toBe('100 * FILL(errors, 0) / invocations');
    expect(endpoint.metricGpuUtilization()).toMatchObject({ namespace: '/aws/sagemaker/Endpoints', metricName: 'GPUUtilization' });
    expect(() => endpoint.metricInvocations('b')).toThrow(/'variant' is not a variant of this endpoint.*Fix: use one of current/);
  });
});

describe('ModelEndpoint rejects bad input', () => {
  const alarms = (n: number) => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Alarms', { profile: EnvironmentProfile.prod(), project: 'p' });
    return Array.from({ length: n }, (_, i) => cloudwatch.Alarm.fromAlarmName(stack, `A${i}`, `alarm-${i}`));
  };
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['minCapacity 0', () => build(EnvironmentProfile.dev(), { minCapacity: 0 }), /'minCapacity' must be a whole number between 1 and 1000.*scaleToZeroOffHours takes it to zero outside them/],
    ['scale to zero without working hours', () => build(EnvironmentProfile.prod(), { scaleToZeroOffHours: true }),
      /Endpoint: 'scaleToZeroOffHours' needs working hours, but the prod profile is always on \(received true\)\. Fix: remove 'scaleToZeroOffHours'/],
    ['scale to zero with scaleDownOffHours: false', () => build(EnvironmentProfile.dev(), { scaleToZeroOffHours: true, scaleDownOffHours: false }),
      /'scaleToZeroOffHours' contradicts 'scaleDownOffHours: false'/],
    ['scale to zero of an A/B test', () => build(EnvironmentProfile.dev(), {
      scaleToZeroOffHours: true, rollout: Rollout.abTest({ weights: { a: 50, b: 50 } }), variantVersions: { a: 'v1', b: 'v2' },
    }), /'scaleToZeroOffHours' needs an endpoint with one variant, but the ab-test rollout serves a and b.*Fix: SageMaker scales to zero only endpoints hosting inference components/],
    ['scale to zero with a shadow', () => build(EnvironmentProfile.dev(), { scaleToZeroOffHours: true, rollout: Rollout.shadow(), variantVersions: { candidate: 'v2' } }),
      /'scaleToZeroOffHours' needs an endpoint with one variant, but the shadow rollout serves current and candidate/],
    ['min above max', () => build(EnvironmentProfile.prod(), { minCapacity: 4, maxCapacity: 3 }), /'minCapacity' must not be greater than 'maxCapacity'/],
    ['a canary bake over an hour', () => build(EnvironmentProfile.prod(), { rollout: Rollout.canary({ percent: 10, bake: Duration.hours(2) }) }),
      /'rollout' waits 7200 seconds in one step.*Fix: give the canary bake/],
    ['a linear rollout longer than 4 hours', () => build(EnvironmentProfile.prod(), { rollout: Rollout.linear({ stepPercent: 5, interval: Duration.minutes(20) }) }),
      /'rollout' waits 22800 seconds in all.*Fix: use fewer or shorter steps/],
    ['A/B weights that do not sum to 100', () => build(EnvironmentProfile.prod(), { rollout: Rollout.abTest({ weights: { a: 50, b: 40 } }) }), /'abTest.weights' must sum to 100/],
    ['an A/B variant without a version', () => build(EnvironmentProfile.prod(), { rollout: Rollout.abTest({ weights: { a: 50, b: 50 } }), variantVersions: { a: 'v1' } }),
      /'variantVersions.b' is required by the ab-test rollout/],
    ['a shadow without a candidate version', () => build(EnvironmentProfile.prod(), { rollout: Rollout.shadow() }), /'variantVersions.candidate' is required by the shadow rollout/],
    ['a candidate version for a canary', () => build(EnvironmentProfile.prod(), { rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(5) }), variantVersions: { candidate: 'v2' } }),
      /'variantVersions.candidate' names a variant.*deploy 'modelVersion' with guardrails/],
    ['more than 10 rollback alarms', () => build(EnvironmentProfile.prod(), { rollbackAlarms: alarms(11) }), /'rollbackAlarms' must name at most 10 alarms.*composite alarm/],
    ['an invalid endpoint name', () => build(EnvironmentProfile.prod(), { endpointName: 'fraud_prod' }), /'endpointName' must be letters, digits and hyphens/],
    ['an instance type not in the catalog', () => build(EnvironmentProfile.prod(), { instanceType: 'ml.g5.xlarge' }), /'instanceType' is not in the instance catalog/],
    ['a capture share of 0', () => build(EnvironmentProfile.prod(), { dataCapturePercent: 0 }), /'dataCapturePercent' must be a whole number between 1 and 100/],
    ['off-hours scale-down without working hours', () => build(EnvironmentProfile.prod(), { scaleDownOffHours: true }), /'scaleDownOffHours' needs working hours/],
    ['a bad model version', () => build(EnvironmentProfile.prod(), { modelVersion: 'v1/../v2' }), /'modelVersion' must be a version/],
  ];
  test.each(cases)('%s', (_name, fn, message) => {
    expect(fn).toThrow(message);
  });
});

describe('ModelEndpoint compliance', () => {
  test('required props only: cdk-nag and cfn-lint clean (dev)', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'p', team: 'fraud', costCenter: 'cc-42' });
    const key = new PlatformKey(stack, 'Key');
    const network = new PlatformNetwork(stack, 'Network', { encryptionKey: key.key });
    const artifactStore = new ArtifactStore(stack, 'Store', { encryptionKey: key.key });
    const image = new ImageRepository(stack, 'Images', { encryptionKey: key.key });
    new ModelEndpoint(stack, 'Endpoint', { vpc: network.vpc, artifactStore, image, imageTag: '1.0', modelName: 'fraud', modelVersion: 'v1' });
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('prod: a canary on Inferentia and a shadow rollout: cdk-nag and cfn-lint clean', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Prod', { profile: EnvironmentProfile.prod(), project: 'p', team: 'fraud', costCenter: 'cc-42' });
    const network = new PlatformNetwork(stack, 'Network');
    const artifactStore = new ArtifactStore(stack, 'Store');
    const image = new ImageRepository(stack, 'Images');
    new ModelEndpoint(stack, 'Endpoint', {
      vpc: network.vpc,
      artifactStore,
      image,
      imageTag: '1.0',
      modelName: 'fraud',
      modelVersion: 'v1',
      instanceType: 'inf2.xlarge',
      rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    });
    new ModelEndpoint(stack, 'Shadow', {
      vpc: network.vpc, artifactStore, image, imageTag: '1.0', modelName: 'fraud', modelVersion: 'v1', rollout: Rollout.shadow(), variantVersions: { candidate: 'v2' },
    });
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});

describe('ModelEndpoint bad input found by the fuzz suite', () => {
  test('a bad imageTag is blamed on \'imageTag\' (was blamed on the image repository\'s \'tag\')', () => {
    expect(() => build(EnvironmentProfile.dev(), { imageTag: 'v1 (final)' }))
      .toThrow(/Env\/Endpoint: 'imageTag' must be an image tag of 1-128 letters.*received "v1 \(final\)"/);
  });
});
