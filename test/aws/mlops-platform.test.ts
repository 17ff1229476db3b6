import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { newApp } from '../support/gate';
import {
  EnvironmentProfile, InferenceFleet, MlopsPlatform, MlopsPlatformProps, ModelEndpoint, Rollout, ServingBackend, SHARED_TEAM, ValidationError,
} from 'mlops-constructs';

const TEAMS = [
  { name: 'fraud', costCenter: 'cc-risk', gpuSharePercent: 60, monthlyBudgetUsd: 400 },
  { name: 'recsys', costCenter: 'cc-growth', gpuSharePercent: 40 },
];

function platform(profile: EnvironmentProfile, props: Partial<MlopsPlatformProps> = {}) {
  const app = newApp();
  return new MlopsPlatform(app, `p-${profile.name}`, {
    profile, project: 'acme', costCenter: 'ml-platform', env: { region: 'us-east-1' }, teams: TEAMS, ...props,
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

  test('splits an environment into a retained data stack and a platform stack with a nested stack per model', () => {
    expect(prod.dataStack.stackName).toBe('acme-prod-data');
    expect(prod.platformStack.stackName).toBe('acme-prod-platform');
    expect(prod.dataStack.terminationProtection).toBe(true);
    expect(prod.platformStack.dependencies).toContain(prod.dataStack);
    data.resourceCountIs('AWS::S3::Bucket', 4);
    data.resourceCountIs('AWS::RDS::DBCluster', 1);
    data.resourceCountIs('AWS::ECR::Repository', 2);
    data.resourceCountIs('AWS::SageMaker::ModelPackageGroup', 1);
    plat.resourceCountIs('AWS::CloudFormation::Stack', 2);
    plat.resourceCountIs('AWS::Batch::JobQueue', 1);
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
        AlarmActions: [{ Ref: Match.stringLikeRegexp('referenceto') }],
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

  test('budgets: environment and team budgets, a deny-GPU action on the serving roles, the estimate as an output', () => {
    plat.hasResourceProperties('AWS::Budgets::Budget', { Budget: Match.objectLike({ BudgetLimit: { Amount: 50000, Unit: 'USD' } }) });
    plat.hasResourceProperties('AWS::Budgets::Budget', { Budget: Match.objectLike({ BudgetName: 'acme-prod-platform-fraud', BudgetLimit: { Amount: 400, Unit: 'USD' } }) });
    const actions = Object.values(plat.findResources('AWS::Budgets::BudgetsAction'));
    expect(actions).toHaveLength(1);
    expect(actions[0].Properties.ApprovalModel).toBe('MANUAL');
    // The data scientist and ML engineer personas, and the fleet's and the endpoint's roles (from the models' nested stacks).
    expect(actions[0].Properties.Definition.IamActionDefinition.Roles).toHaveLength(4);
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

  test('addModelPipeline wires the registry, the store, the key and the endpoint of the same name', () => {
    const p = platform(EnvironmentProfile.staging(), {
      modelFamilies: ['recs'],
      experimentTracking: false,
      servedModels: [{ name: 'recs', backend: ServingBackend.ENDPOINT, modelVersion: 'v3', imageTag: 't1', team: 'recsys' }],
    });
    const job = (id: string) => p.trainingCluster.addJobDefinition(id, { imageUri: 'public.ecr.aws/acme/recs:1', datasetPrefix: 'recs/' });
    const pipeline = p.addModelPipeline('RecsPipeline', {
      modelName: 'recs', servingImageUri: 'public.ecr.aws/acme/serve:1', validateJob: job('V'), trainJob: job('T'), evaluateJob: job('E'),
    });
    expect(pipeline.node.scope).toBe(p.platformStack);
    const t = Template.fromStack(p.platformStack);
    t.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    const definition = JSON.stringify(t.findResources('AWS::StepFunctions::StateMachine'));
    // Registers in the registry's model package group and rolls out to the served endpoint.
    expect(definition).toContain('createModelPackage');
    expect(definition).toContain('updateEndpoint');
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
    ['shadow on a fleet', { servedModels: [{ name: 'm', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't', rollout: Rollout.shadow() }] }, /'rollout' is a rollout InferenceFleet cannot perform/],
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
