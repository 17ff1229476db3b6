import { Duration } from 'aws-cdk-lib';
import { errorOf, installMocks, mockArn, one, ofType, promiseOf, resourcesOf } from './support';
import { EnvironmentProfile, MlopsTags, Rollout, ValidationError } from 'mlops-constructs';
import { ArtifactStore, ImageRepository, InferenceFleet, ModelEndpoint } from 'mlops-constructs/pulumi';

installMocks();

const dev = () => EnvironmentProfile.dev();
const prod = () => EnvironmentProfile.prod();
const tags = (profile: EnvironmentProfile) => MlopsTags.of({ project: 'p', environment: profile.name, team: 'fraud' });
const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Statement = { Effect: string; Action: string | string[]; Resource: any; Condition?: any; Sid?: string };
const statementsOf = (policyJson: string): Statement[] => JSON.parse(policyJson).Statement;
const actions = (s: Statement) => [s.Action].flat();

describe('Pulumi ImageRepository', () => {
  test('GIVEN dev WHEN created with defaults THEN immutable tags, scan on push, its own rotating key, untagged images expire, destroyable', async () => {
    const repo = new ImageRepository('img1', { repositoryName: 'ml/serving', profile: dev(), tags: tags(dev()) });
    const resources = await resourcesOf('img1');
    const key = one(resources, 'aws:kms/key:Key');
    expect(key.inputs).toMatchObject({ enableKeyRotation: true });
    expect(one(resources, 'aws:ecr/repository:Repository').inputs).toMatchObject({
      name: 'ml/serving',
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfigurations: [{ encryptionType: 'KMS', kmsKey: mockArn(key.type, key.name) }],
      forceDelete: true,
    });
    const rules = JSON.parse(one(resources, 'aws:ecr/lifecyclePolicy:LifecyclePolicy').inputs.policy).rules;
    expect(rules).toHaveLength(1);
    expect(rules[0].selection).toMatchObject({ tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 10 });
    expect(await promiseOf(repo.imageUri('serve-1'))).toMatch(/:serve-1$/);
  });

  test('GIVEN prod WHEN created THEN the repository is not force-deleted (tagged images are the lineage of served models)', async () => {
    new ImageRepository('img2', { repositoryName: 'ml/training', profile: prod(), tags: tags(prod()) });
    expect(one(await resourcesOf('img2'), 'aws:ecr/repository:Repository').inputs.forceDelete).toBe(false);
  });

  test('GIVEN grants WHEN read THEN pull is scoped to the repository, push adds only upload actions, the token is the only wildcard', () => {
    const repo = ImageRepository.fromRepositoryName('img3', 'ml/imported');
    const pull = repo.pullStatements();
    const push = repo.pullPushStatements();
    expect(pull.find((s) => s.Resource === '*')?.Action).toBe('ecr:GetAuthorizationToken');
    expect(push.find((s) => s.Resource === '*')?.Action).toBe('ecr:GetAuthorizationToken');
    expect([pull[0].Action].flat()).toEqual(expect.arrayContaining(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']));
    expect([pull[0].Action].flat()).not.toContain('ecr:PutImage');
    expect([push[0].Action].flat()).toEqual(expect.arrayContaining(['ecr:PutImage', 'ecr:BatchGetImage']));
  });

  test('GIVEN a bad repository name or tag WHEN created THEN a ValidationError names prop, value and fix', () => {
    const bad = errorOf(() => new ImageRepository('img4', { repositoryName: 'ML Serving', profile: dev(), tags: tags(dev()) }));
    expect(bad).toBeInstanceOf(ValidationError);
    expect(bad.message).toContain('img4');
    expect(bad.prop).toBe('repositoryName');
    expect(bad.value).toBe('ML Serving');
    expect(errorOf(() => ImageRepository.fromRepositoryName('img5', 'Bad Name')).prop).toBe('repositoryName');
    const repo = ImageRepository.fromRepositoryName('img6', 'ml/ok');
    expect(errorOf(() => repo.imageUri('bad tag!')).prop).toBe('tag');
  });
});

describe('Pulumi ModelEndpoint', () => {
  const endpointArgs = (name: string, profile: EnvironmentProfile) => {
    const store = new ArtifactStore(`${name}-store`, { profile, tags: tags(profile) });
    const image = ImageRepository.fromRepositoryName(`${name}-image`, 'ml/serving');
    return { ...net, artifactStore: store, image, imageTag: 'serve-1', modelName: 'fraud', modelVersion: 'v3', profile, tags: tags(profile) };
  };

  test('GIVEN dev WHEN created THEN isolated model, encrypted capture of requests and responses, rollback alarms on the deployment, off-hours floor', async () => {
    // The variant form (dev's default, scale to zero through an inference component, is test/pulumi/endpoint-scale-to-zero.test.ts's).
    const args = { ...endpointArgs('ep1', dev()), scaleToZeroOffHours: false };
    const endpoint = new ModelEndpoint('ep1', args);
    const resources = await resourcesOf('ep1');
    const model = one(resources, 'aws:sagemaker/model:Model');
    expect(model.inputs).toMatchObject({ enableNetworkIsolation: true, vpcConfig: { subnets: ['subnet-a', 'subnet-b'] } });
    // The promoted archive below served/ (only the promotion role writes it, once), as the CDK ModelEndpoint serves it.
    expect(model.inputs.primaryContainer.modelDataUrl).toBe('s3://ep1-store-models/served/fraud/v3/model.tar.gz');
    const config = one(resources, 'aws:sagemaker/endpointConfiguration:EndpointConfiguration').inputs;
    expect(config.dataCaptureConfig).toMatchObject({
      enableCapture: true,
      kmsKeyId: mockArn('aws:kms/key:Key', 'ep1-store-key'),
      captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
    });
    expect(config.dataCaptureConfig.destinationS3Uri).toMatch(/^s3:\/\/ep1-store-artifacts\/data-capture\//);
    expect(config.productionVariants).toHaveLength(1);
    expect(config.shadowProductionVariants ?? []).toHaveLength(0);
    // Every default rollback alarm is wired to the endpoint's automatic rollback.
    const alarms = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm');
    expect(alarms.length).toBe(endpoint.spec.defaultRollbackAlarms.length);
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    const deployment = one(resources, 'aws:sagemaker/endpoint:Endpoint').inputs.deploymentConfig;
    expect(deployment.autoRollbackConfiguration.alarms.map((a: { alarmName: string }) => a.alarmName).sort())
      .toEqual(alarms.map((a) => a.inputs.name ?? a.name).sort());
    // The topic the alarms notify is encrypted and refuses plain HTTP.
    expect(one(resources, 'aws:sns/topic:Topic').inputs.kmsMasterKeyId).toBe(mockArn('aws:kms/key:Key', 'ep1-key'));
    expect(statementsOf(one(resources, 'aws:sns/topicPolicy:TopicPolicy').inputs.policy)[0]).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    // Dev: the floor drops to one instance after hours.
    const scheduled = ofType(resources, 'aws:appautoscaling/scheduledAction:ScheduledAction');
    expect(scheduled.map((s) => s.inputs.scalableTargetAction)).toContainEqual({ minCapacity: 1, maxCapacity: 1 });
  });

  test('GIVEN an endpoint WHEN its role is read THEN it reads only the model\'s prefix, writes only the capture prefix, and has no s3:* or kms:*', async () => {
    new ModelEndpoint('ep2', endpointArgs('ep2', dev()));
    const statements = statementsOf(one(await resourcesOf('ep2'), 'aws:iam/policy:Policy', 'execution-policy').inputs.policy);
    const s3Reads = statements.filter((s) => actions(s).includes('s3:GetObject'));
    expect(s3Reads.flatMap((s) => [s.Resource].flat())).toEqual([`${mockArn('aws:s3/bucket:Bucket', 'ep2-store-models')}/served/fraud/*`]);
    const s3Writes = statements.filter((s) => actions(s).includes('s3:PutObject'));
    expect(s3Writes.flatMap((s) => [s.Resource].flat())).toEqual([expect.stringMatching(/ep2-store-artifacts\/data-capture\/.+\/\*$/)]);
    for (const s of statements) {
      expect(actions(s)).not.toContain('s3:*');
      expect(actions(s)).not.toContain('kms:*');
      expect(actions(s)).not.toContain('*');
    }
  });

  test('GIVEN a shadow rollout WHEN created THEN the candidate is a shadow variant that serves no answers', async () => {
    new ModelEndpoint('ep3', { ...endpointArgs('ep3', prod()), rollout: Rollout.shadow({ mirrorPercent: 20 }), variantVersions: { candidate: 'v4' } });
    const resources = await resourcesOf('ep3');
    const config = one(resources, 'aws:sagemaker/endpointConfiguration:EndpointConfiguration').inputs;
    expect(config.productionVariants.map((v: { variantName: string }) => v.variantName)).toEqual(['current']);
    expect(config.shadowProductionVariants.map((v: { variantName: string }) => v.variantName)).toEqual(['candidate']);
    expect(ofType(resources, 'aws:sagemaker/model:Model').map((m) => m.inputs.primaryContainer.environment.MODEL_URI).sort())
      .toEqual(['s3://ep3-store-models/served/fraud/v3/model.tar.gz', 's3://ep3-store-models/served/fraud/v4/model.tar.gz']);
    // Prod has no off-hours floor.
    expect(ofType(resources, 'aws:appautoscaling/scheduledAction:ScheduledAction')).toHaveLength(0);
  });

  test('GIVEN a canary rollout WHEN created THEN the deployment shifts a canary share and waits the bake', async () => {
    const endpoint = new ModelEndpoint('ep4', { ...endpointArgs('ep4', prod()), rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) });
    const routing = one(await resourcesOf('ep4'), 'aws:sagemaker/endpoint:Endpoint').inputs.deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration;
    expect(routing).toMatchObject({ type: 'CANARY', waitIntervalInSeconds: 1800, canarySize: { type: 'CAPACITY_PERCENT', value: 10 } });
    expect(endpoint.spec.trafficRouting).toEqual(routing);
  });

  test('GIVEN bad input WHEN created THEN a ValidationError names the prop', () => {
    const args = endpointArgs('ep5', dev());
    expect(errorOf(() => new ModelEndpoint('ep5', { ...args, imageTag: 'bad tag' })).prop).toBe('imageTag');
    expect(errorOf(() => new ModelEndpoint('ep6', { ...args, modelName: 'Fraud Model' })).prop).toBe('modelName');
    const endpoint = new ModelEndpoint('ep7', args);
    expect(errorOf(() => endpoint.metricLatency('p99', 'nope')).prop).toBe('variant');
  });
});

describe('Pulumi InferenceFleet rollouts', () => {
  // prod requires TLS: a certificate of the internal name clients call.
  const fleetArgs = {
    ...net,
    artifactStore: new ArtifactStore('roll-store', { profile: prod() }),
    allowedCidrBlocks: ['10.0.0.0/16'],
    imageUri: 'repo/fraud:1',
    modelName: 'fraud',
    modelVersion: 'v3',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/internal',
  };

  test('GIVEN a canary WHEN created THEN a group per variant with its own version, weighted 90/10 on the listener', async () => {
    const fleet = new InferenceFleet('roll1', {
      ...fleetArgs, profile: prod(), tags: tags(prod()), rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }), variantVersions: { candidate: 'v4' },
    });
    const resources = await resourcesOf('roll1');
    expect(ofType(resources, 'aws:autoscaling/group:Group').map((g) => g.name).sort()).toEqual(['roll1-candidate-asg', 'roll1-current-asg']);
    const userData = (variant: string) => Buffer.from(one(resources, 'aws:ec2/launchTemplate:LaunchTemplate', `${variant}-lt`).inputs.userData, 'base64').toString();
    expect(userData('current')).toContain("MODEL_URI='s3://roll-store-models/served/fraud/v3/model.tar.gz'");
    expect(userData('candidate')).toContain("MODEL_URI='s3://roll-store-models/served/fraud/v4/model.tar.gz'");
    const forward = one(resources, 'aws:lb/listener:Listener', 'roll1-listener').inputs.defaultActions[0].forward.targetGroups;
    expect(forward).toEqual([
      { arn: mockArn('aws:lb/targetGroup:TargetGroup', 'roll1-current-tg'), weight: 90 },
      { arn: mockArn('aws:lb/targetGroup:TargetGroup', 'roll1-candidate-tg'), weight: 10 },
    ]);
    expect(fleet.variant().name).toBe('current');
  });

  test('GIVEN A/B and blue/green WHEN created THEN every variant is rendered; blue/green starts with all traffic on current', async () => {
    new InferenceFleet('roll2', {
      ...fleetArgs, profile: prod(), tags: tags(prod()), rollout: Rollout.abTest({ weights: { a: 50, b: 30, c: 20 } }), variantVersions: { a: 'v3', b: 'v4', c: 'v5' },
    });
    const ab = one(await resourcesOf('roll2'), 'aws:lb/listener:Listener', '-listener').inputs.defaultActions[0].forward.targetGroups;
    expect(ab.map((t: { weight: number }) => t.weight)).toEqual([50, 30, 20]);
    new InferenceFleet('roll3', { ...fleetArgs, profile: prod(), tags: tags(prod()), rollout: Rollout.blueGreen(), variantVersions: { candidate: 'v4' } });
    const bg = one(await resourcesOf('roll3'), 'aws:lb/listener:Listener', '-listener').inputs.defaultActions[0].forward.targetGroups;
    expect(bg.map((t: { weight: number }) => t.weight)).toEqual([100, 0]);
  });

  test('GIVEN a canary of g5.xlarge WHEN created THEN every variant\'s group launches g5.xlarge or its catalog stand-ins, on demand, in that order', async () => {
    new InferenceFleet('roll7', {
      ...fleetArgs, profile: prod(), tags: tags(prod()), rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }), variantVersions: { candidate: 'v4' },
    });
    const groups = ofType(await resourcesOf('roll7'), 'aws:autoscaling/group:Group');
    expect(groups).toHaveLength(2);
    for (const group of groups) {
      const policy = group.inputs.mixedInstancesPolicy;
      const variant = group.name.replace(/^roll7-|-asg$/g, '');
      expect([group.name, group.inputs.launchTemplate]).toEqual([group.name, undefined]);
      expect(policy.launchTemplate.launchTemplateSpecification.launchTemplateId).toBe(`roll7-${variant}-lt-id`);
      expect(policy.launchTemplate.overrides.map((o: { instanceType: string }) => o.instanceType)).toEqual(['g5.xlarge', 'g6.xlarge', 'g6.2xlarge']);
      expect(policy.instancesDistribution).toEqual({ onDemandAllocationStrategy: 'prioritized', onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 100 });
    }
  });

  test('GIVEN alternativeInstanceTypes WHEN created THEN the groups try exactly those after instanceType; [] launches instanceType alone', async () => {
    new InferenceFleet('alt1', { ...fleetArgs, profile: dev(), tags: tags(dev()), alternativeInstanceTypes: ['g6.2xlarge'] });
    const chosen = one(await resourcesOf('alt1'), 'aws:autoscaling/group:Group').inputs.mixedInstancesPolicy.launchTemplate.overrides;
    expect(chosen).toEqual([{ instanceType: 'g5.xlarge' }, { instanceType: 'g6.2xlarge' }]);
    new InferenceFleet('alt2', { ...fleetArgs, profile: dev(), tags: tags(dev()), alternativeInstanceTypes: [] });
    const alone = one(await resourcesOf('alt2'), 'aws:autoscaling/group:Group').inputs;
    expect(alone.mixedInstancesPolicy).toBeUndefined();
    expect(alone.launchTemplate.id).toMatch(/^alt2-\w+-lt-id$/);
  });

  test('GIVEN a stand-in that cannot run the model WHEN created THEN a ValidationError names the prop, the value and types that can', () => {
    const error = errorOf(() => new InferenceFleet('alt3', { ...fleetArgs, profile: dev(), tags: tags(dev()), alternativeInstanceTypes: ['g6.xlarge', 'p4d.24xlarge'] }));
    expect(error).toBeInstanceOf(ValidationError);
    expect([error.prop, error.value]).toEqual(['alternativeInstanceTypes[1]', 'p4d.24xlarge']);
    expect(error.problem).toBe('cannot run what runs on g5.xlarge');
    expect(error.fix).toMatch(/same accelerator .*e\.g\. g6\.xlarge/);
  });

  test('GIVEN a shadow or a missing candidate version WHEN created THEN a ValidationError points to the fix', () => {
    const shadow = errorOf(() => new InferenceFleet('roll4', { ...fleetArgs, profile: dev(), tags: tags(dev()), rollout: Rollout.shadow() }));
    expect(shadow).toBeInstanceOf(ValidationError);
    expect(shadow.prop).toBe('rollout');
    expect(shadow.fix).toContain('ModelEndpoint');
    const missing = errorOf(() => new InferenceFleet('roll5', {
      ...fleetArgs, profile: dev(), tags: tags(dev()), rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    }));
    expect(missing.prop).toBe('variantVersions.candidate');
    const unknown = errorOf(() => new InferenceFleet('roll6', { ...fleetArgs, profile: dev(), tags: tags(dev()), variantVersions: { b: 'v2' } }));
    expect(unknown.prop).toBe('variantVersions.b');
  });
});
