import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { certificateArnFor } from '../support/certificates';
import { newApp } from '../support/gate';
import {
  EnvironmentProfile, InferenceFleet, MlopsPlatform, MlopsPlatformProps, ModelEndpoint, Rollout, ServingBackend, servingShardOf, SHARED_TEAM,
  ValidationError,
} from 'mlops-constructs';

const TEAMS = [
  { name: 'fraud', costCenter: 'cc-risk', gpuSharePercent: 60, monthlyBudgetUsd: 400 },
  { name: 'recsys', costCenter: 'cc-growth', gpuSharePercent: 40 },
];

function platform(profile: EnvironmentProfile, props: Partial<MlopsPlatformProps> = {}) {
  const app = newApp();
  return new MlopsPlatform(app, `p-${profile.name}`, {
    profile, project: 'acme', costCenter: 'ml-platform', env: { region: 'us-east-1' }, teams: TEAMS, ...certificateArnFor(profile), ...props,
  });
}

describe('MlopsPlatform', () => {
  // One platform for the assertions on wiring (synthesizing a platform takes a few seconds).
  const prod = platform(EnvironmentProfile.prod(), {
    modelFamilies: ['fraud-detector'],
    servedModels: [
      {
        name: 'fraud',
        backend: ServingBackend.FLEET,
        modelVersion: 'v1',
        imageTag: 't1',
        team: 'fraud',
        rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
        variantVersions: { candidate: 'v2' },
      },
      { name: 'recs', backend: ServingBackend.ENDPOINT, modelVersion: 'v3', imageTag: 't1', team: 'recsys' },
    ],
  });
  const data = Template.fromStack(prod.dataStack);
  const plat = Template.fromStack(prod.platformStack);

  test('splits an environment into a retained data stack, a platform stack and serving shards with a nested stack per model', () => {
    expect(prod.dataStack.stackName).toBe('acme-prod-data');
    expect(prod.platformStack.stackName).toBe('acme-prod-platform');
    expect(prod.dataStack.terminationProtection).toBe(true);
    expect(prod.platformStack.dependencies).toContain(prod.dataStack);
    data.resourceCountIs('AWS::S3::Bucket', 4);
    data.resourceCountIs('AWS::RDS::DBCluster', 1);
    data.resourceCountIs('AWS::ECR::Repository', 2);
    data.resourceCountIs('AWS::SageMaker::ModelPackageGroup', 1);
    plat.resourceCountIs('AWS::CloudFormation::Stack', 0);
    plat.resourceCountIs('AWS::Batch::JobQueue', 1);
    // Each model in the shard its name hashes to (16 shards by default), as a nested stack there.
    const shardOf = (name: string) => `acme-prod-serving-${String(servingShardOf(name, 16)).padStart(2, '0')}`;
    expect(prod.servingStackOf('fraud')!.stackName).toBe(shardOf('fraud'));
    expect(prod.servingStackOf('recs')!.stackName).toBe(shardOf('recs'));
    expect(prod.servingStacks.map((s) => s.stackName).sort()).toEqual([...new Set([shardOf('fraud'), shardOf('recs')])].sort());
    for (const shard of prod.servingStacks) {
      expect(shard.dependencies).toEqual(expect.arrayContaining([prod.dataStack, prod.platformStack]));
      expect(shard.terminationProtection).toBe(true);
    }
    expect(prod.servedModel('fraud')!.node.scope!.node.id).toBe('Model-fraud');
    // Served states (the fleet's and the one-variant endpoint's) are in nested stacks of the data stack, one per shard.
    data.resourceCountIs('AWS::CloudFormation::Stack', prod.servingStacks.length);
    expect((prod.servedModel('recs') as ModelEndpoint).servedState!.initialValue).toBe('current=v3@100');
    const state = (prod.servedModel('fraud') as InferenceFleet).servedState!;
    expect(state.parameterName).toBe('/mlops/acme-prod/served/fraud');
    expect(state.initialValue).toBe('current=v1@90,candidate=v2@10');
    Template.fromStack(state.parameter.stack).hasResourceProperties('AWS::SSM::Parameter', { Name: '/mlops/acme-prod/served/fraud', Value: 'current=v1@90,candidate=v2@10' });
    expect(prod.servedModelNames).toEqual(['fraud', 'recs']);
    expect(prod.servedModel('fraud')).toBeInstanceOf(InferenceFleet);
    expect(prod.servedModel('recs')).toBeInstanceOf(ModelEndpoint);
  });

  test('every served model gets latency, error, GPU-waste and rollout-health alarms notifying the alarm topic', () => {
    for (const name of ['fraud', 'recs']) {
      const alarms = prod.servedModelAlarms(name)!;
      const nested = Template.fromStack(alarms.latency.stack);
      nested.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmDescription: `${name}: p99 latency above 500 ms`,
        // In the backend's unit: ALB target response time is in seconds, SageMaker model latency in microseconds.
        Threshold: name === 'fraud' ? 0.5 : 500_000,
        TreatMissingData: 'notBreaching',
        // The environment's alarm topic, imported from the platform stack by the model's nested stack.
        AlarmActions: [{ 'Fn::ImportValue': Match.stringLikeRegexp('AlarmTopic') }],
      });
      nested.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmDescription: `${name}: 5xx rate above 1%`, Threshold: 1 });
      nested.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmDescription: Match.stringLikeRegexp(`${name}: GPU utilization below 20%`) });
      nested.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmDescription: `Rollout health of ${name}: any of its serving alarms` });
    }
  });

  test('training is fair-shared by the teams\' GPU shares and tagged to the shared team', () => {
    plat.hasResourceProperties('AWS::Batch::SchedulingPolicy', {
      FairsharePolicy: Match.objectLike({
        ShareDistribution: Match.arrayWith([Match.objectLike({ ShareIdentifier: 'fraud' }), Match.objectLike({ ShareIdentifier: 'recsys' })]),
      }),
    });
    plat.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      Tags: Match.objectLike({ 'mlops:team': SHARED_TEAM, 'mlops:cost-center': 'ml-platform' }),
    });
  });

  test('served models carry their team\'s tags', () => {
    const fleet = Template.fromStack((prod.servedModel('fraud') as InferenceFleet).loadBalancer.stack);
    fleet.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Tags: Match.arrayWith([{ Key: 'mlops:cost-center', Value: 'cc-risk' }, { Key: 'mlops:team', Value: 'fraud' }]),
    });
  });

  test('budgets: environment and team budgets, the GPU brake denying the personas, the estimate as an output', () => {
    plat.hasResourceProperties('AWS::Budgets::Budget', { Budget: Match.objectLike({ BudgetLimit: { Amount: 50000, Unit: 'USD' } }) });
    plat.hasResourceProperties('AWS::Budgets::Budget', { Budget: Match.objectLike({ BudgetName: 'acme-prod-platform-fraud', BudgetLimit: { Amount: 400, Unit: 'USD' } }) });
    // No Budgets IAM action (it denied roles that launch nothing): the environment budget starts the brake, which asks first in prod.
    plat.resourceCountIs('AWS::Budgets::BudgetsAction', 0);
    expect(prod.costGuard.brake.automatic).toBe(false);
    const { dataScientist, mlEngineer, platformOperator } = prod.governance;
    expect(prod.costGuard.brake.deniedRoleList).toEqual([dataScientist, mlEngineer, platformOperator]);
    const estimate = prod.costGuard.estimatedMonthlyCost;
    expect(Object.keys(estimate.pieces)).toEqual(['training (max GPUs busy, fallback included)', 'model registry', 'network (NAT gateways)', 'model fraud', 'model recs']);
    expect(estimate.maxUsd).toBeGreaterThan(estimate.minUsd);
    // The endpoint at SageMaker's ml.g5.xlarge rate ($1.408/h): 2-4 instances always on in prod.
    expect(estimate.pieces['model recs']).toEqual({ minUsd: 2 * 1027.84, maxUsd: 4 * 1027.84 });
    // Training counts the spot environment and its on-demand fallback, each at the GPU cap.
    const ceiling = prod.trainingCluster.costCeiling;
    expect(estimate.pieces['training (max GPUs busy, fallback included)']).toEqual({ minUsd: 0, maxUsd: ceiling.maxUsd });
    expect(ceiling.maxUsd).toBeCloseTo(ceiling.spotUsd + ceiling.onDemandUsd, 2);
    plat.hasOutput('EstimatedMonthlyCostUsd', { Value: JSON.stringify(estimate) });
  });

  test('dev: served models scale to zero off hours unless they opt out (an endpoint then keeps its variant, a fleet its floor)', () => {
    const p = platform(EnvironmentProfile.dev(), {
      experimentTracking: false,
      servedModels: [
        { name: 'zero', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't' },
        { name: 'kept', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't', scaleToZeroOffHours: false },
        { name: 'fleet-zero', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't' },
        { name: 'fleet-kept', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't', scaleToZeroOffHours: false },
      ],
    });
    const serving = (name: string) => p.servingStackOf(name)!.node.findAll().find((c) => c.node.id === `Model-${name}`)!.node.findAll();
    const endpoint = (name: string) => serving(name).find((c): c is ModelEndpoint => c instanceof ModelEndpoint)!;
    expect([endpoint('zero').hosting, endpoint('kept').hosting]).toEqual(['inference-component', 'variant']);
    const offHoursMinimums = (name: string) => {
      const fleet = serving(name).find((c): c is InferenceFleet => c instanceof InferenceFleet)!;
      return Object.values(Template.fromStack(Stack.of(fleet)).findResources('AWS::AutoScaling::ScheduledAction')).map((a) => a.Properties.MinSize);
    };
    expect(offHoursMinimums('fleet-zero')).toContain(0);
    expect(offHoursMinimums('fleet-kept')).not.toContain(0);
  });

  test('addModelPipeline wires the registry, the store, the key and the endpoint of the same name', () => {
    const p = platform(EnvironmentProfile.staging(), {
      modelFamilies: ['recs'],
      experimentTracking: false,
      servedModels: [{ name: 'recs', backend: ServingBackend.ENDPOINT, modelVersion: 'v3', imageTag: 't1', team: 'recsys' }],
      notifyEmails: ['ml-oncall@example.com'],
    });
    const job = (id: string) => p.trainingCluster.addJobDefinition(id, { imageUri: 'public.ecr.aws/acme/recs:1', datasetPrefix: 'recs/' });
    const pipeline = p.addModelPipeline('RecsPipeline', {
      modelName: 'recs', servingImageUri: 'public.ecr.aws/acme/serve:1', validateJob: job('V'), trainJob: job('T'), evaluateJob: job('E'),
    });
    // Beside the endpoint it rolls out to, in the model's serving shard (the platform stack never depends on a shard).
    expect(pipeline.node.scope).toBe(p.servingStackOf('recs'));
    expect(p.platformStack.dependencies).not.toContain(p.servingStackOf('recs'));
    const t = Template.fromStack(p.servingStackOf('recs')!);
    // The pipeline's state machine, whose role the brake denies.
    const machines = Object.values(t.findResources('AWS::StepFunctions::StateMachine')).filter((m) => JSON.stringify(m).includes('createModelPackage'));
    expect(machines).toHaveLength(1);
    // Denied by the brake (in the platform stack) by its literal name: no reference from the platform stack to the shard.
    t.hasResourceProperties('AWS::IAM::Role', { RoleName: 'acme-staging-recs-pipeline' });
    expect(p.costGuard.brake.deniedRoleList.map((r) => r.roleName)).toContain('acme-staging-recs-pipeline');
    const definition = JSON.stringify(machines);
    // Registers in the registry's model package group and promotes through the environment's promotion (the endpoint
    // reads its version from its served state; SageMaker guardrails shift the traffic on the shard update).
    expect(definition).toContain('createModelPackage');
    expect(definition).toContain('stateMachine:acme-staging-promotion');
    expect(definition).not.toContain('updateEndpoint');
    // Approval requests go to the platform's notifyEmails; the ML engineer persona may answer them.
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ml-oncall@example.com' });
    const approver = Object.values(t.findResources('AWS::IAM::ManagedPolicy')).find((x: any) => x.Properties.Description?.startsWith('Answer approval requests')) as any;
    // The ML engineer persona (in the platform stack), imported by the pipeline's serving shard.
    const mlEngineer = p.platformStack.getLogicalId(p.governance.mlEngineer.node.defaultChild as any);
    expect(approver.Properties.Roles).toEqual([{ 'Fn::ImportValue': expect.stringMatching(new RegExp(`^acme-staging-platform:ExportsOutputRef${mlEngineer}`)) }]);
  });

  test('dev: destroyable data stack, no termination protection, automatic deny', () => {
    const dev = platform(EnvironmentProfile.dev(), { experimentTracking: false });
    expect(dev.dataStack.terminationProtection).toBe(false);
    expect(dev.experimentTracking).toBeUndefined();
    Template.fromStack(dev.dataStack).hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
    expect(prod.dataStack.resolve(prod.platformKey.key.keyArn)).toBeDefined();
    data.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    data.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot' });
  });

  test.each<[string, Partial<MlopsPlatformProps>, RegExp]>([
    ['duplicate team names', { teams: [{ ...TEAMS[0], gpuSharePercent: 50 }, { ...TEAMS[0], gpuSharePercent: 50 }] }, /'teams\[1\].name' is a duplicate team name \(received "fraud"\)/],
    ['GPU shares not summing to 100', { teams: [{ ...TEAMS[0], gpuSharePercent: 50 }, { ...TEAMS[1], gpuSharePercent: 30 }] }, /'teams\[\].gpuSharePercent' must sum to 100 across teams \(received 80\)/],
    ['a GPU share above 100', { teams: [{ ...TEAMS[0], gpuSharePercent: 120 }] }, /'teams\[0\].gpuSharePercent' must be a number between 1 and 100 \(received 120\)/],
    ['a GPU share of 0', { teams: [{ ...TEAMS[0], gpuSharePercent: 0 }, { ...TEAMS[1], gpuSharePercent: 100 }] }, /'teams\[0\].gpuSharePercent'.*received 0/],
    ['a team budget not positive', { teams: [{ ...TEAMS[0], gpuSharePercent: 100, monthlyBudgetUsd: 0 }] }, /'teams\[0\].monthlyBudgetUsd' must be a number greater than 0/],
    ['a team name with capitals', { teams: [{ ...TEAMS[0], name: 'Fraud', gpuSharePercent: 100 }] }, /'teams\[0\].name' must be lower-case letters/],
    ['a cost center with spaces', { teams: [{ ...TEAMS[0], costCenter: 'cc 1', gpuSharePercent: 100 }] }, /'teams\[0\].costCenter' must be 1-63 letters/],
    ['an email that is not an address', { notifyEmails: ['oncall'] }, /'notifyEmails\[0\]' must be an email address/],
    ['a served model of an unknown team', { servedModels: [{ name: 'm', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't', team: 'nlp' }] }, /'servedModels\(m\).team' is not a team of the platform \(received "nlp"\).*fraud, recsys/],
    ['two served models with one name', {
      servedModels: [
        { name: 'm', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't' }, { name: 'm', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't' },
      ],
    }, /'servedModels\[\].name' is served already \(received "m"\)/],
    ['an unknown backend', { servedModels: [{ name: 'm', backend: 'lambda' as any, modelVersion: 'v1', imageTag: 't' }] }, /'servedModels\(m\).backend' must be one of "fleet", "endpoint"/],
    ['a shard outside the environment\'s shards', { servedModels: [{ name: 'm', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't', shard: 16 }] }, /'servedModels\(m\).shard' must be a whole number between 0 and 15 \(received 16\)/],
    ['a shard count of 0', { servingShards: 0 }, /'servingShards' must be a whole number between 1 and 64 \(received 0\).*changing it moves most models/],
    ['shadow on a fleet', { servedModels: [{ name: 'm', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't', rollout: Rollout.shadow() }] }, /'rollout' is a rollout InferenceFleet cannot perform/],
    ['an empty project', { project: '' }, /'project' must be letters, digits and hyphens, starting with a letter \(it begins the stack names.*\(received ""\)\. Fix: use a name such as 'fraud', or set stackNamePrefix/],
    ['a project with a space', { project: 'Fraud Team' }, /'project' must be letters, digits and hyphens.*\(received "Fraud Team"\)/],
    ['a stack name prefix with an underscore', { stackNamePrefix: 'fraud_dev' }, /'stackNamePrefix' must be letters, digits and hyphens.*\(received "fraud_dev"\)/],
    ['a model family that is no package group name', { modelFamilies: ['Fraud_Detector'] }, /'modelFamilies\[0\]' must be 1-63 letters, digits or hyphens.*\(received "Fraud_Detector"\)/],
    ['served models given as one object', { servedModels: { name: 'm', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't' } as any },
      /'servedModels' must be a list \(received \{"name":"m".*\)\. Fix: wrap the value in a list: servedModels: \[\.\.\.\]/],
    ['teams given as one object', { teams: TEAMS[0] as any }, /'teams' must be a list/],
  ])('rejects %s', (_name, props, message) => {
    expect(() => platform(EnvironmentProfile.dev(), { experimentTracking: false, ...props })).toThrow(ValidationError);
    expect(() => platform(EnvironmentProfile.dev(), { experimentTracking: false, ...props })).toThrow(message);
  });
});

describe('MlopsPlatform bad input found by the fuzz suite', () => {
  test('a team cost center that is not a valid tag is blamed on the team (was \'tags.costCenter\')', () => {
    expect(() => platform(EnvironmentProfile.dev(), { teams: [{ name: 'fraud', costCenter: 'risk & fraud', gpuSharePercent: 100 }] }))
      .toThrow(/'teams\[0\]\.costCenter' must be 1-63 letters.*received "risk & fraud".*Fix: use a cost center of 1-63 letters/);
  });

  test('a team budget above the environment budget is blamed on the team (was the CostGuard\'s \'monthlyLimitUsd\')', () => {
    expect(() => platform(EnvironmentProfile.dev(), { teams: [{ name: 'fraud', costCenter: 'cc-1', gpuSharePercent: 100, monthlyBudgetUsd: 5000 }] }))
      .toThrow(/'teams\[0\]\.monthlyBudgetUsd' must not exceed the environment budget \(2000\) \(received 5000\).*raise the profile's 'budget.monthlyLimitUsd'/);
  });

  test('bad served model options fail before any stack is built', () => {
    const app = newApp();
    expect(() => new MlopsPlatform(app, 'p', {
      profile: EnvironmentProfile.dev(),
      project: 'acme',
      costCenter: 'ml',
      env: { region: 'us-east-1' },
      servedModels: [{ name: 'fraud', backend: 'lambda' as any, modelVersion: 'v1', imageTag: 't' }],
    })).toThrow(/'servedModels\(fraud\)\.backend' must be one of "fleet", "endpoint"/);
    expect(app.node.findAll().filter((c) => c.node.id === 'Data')).toHaveLength(0);
  });
});
