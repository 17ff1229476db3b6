import { ACCOUNT, errorOf, installMocks, mockArn, ofType, one, pulumiIam, REGION, resourcesOf } from './support';
import { IamWalk } from '../support/iam-walk';
import { allStates } from '../support/state-machines';
import { EnvironmentProfile, Rollout, ValidationError } from 'mlops-constructs';
import { MlopsPlatform, ModelEndpoint, ModelPipeline } from 'mlops-constructs/pulumi';

/*
 * MlopsPlatform.addModelPipeline on Pulumi, as on CDK: the pipeline of a served fleet hands its approved versions to
 * the environment's promotion (and may start nothing else), evaluates against the model's served state, asks the ML
 * engineer to approve, runs under the governance boundary, and is stopped by the budget brake; prod with promoteFrom
 * refuses it with the CDK platform's error.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const network = { vpcId: 'vpc-1', vpcCidrBlock: '10.0.0.0/16', privateSubnetIds: ['subnet-p1', 'subnet-p2'], isolatedSubnetIds: ['subnet-i1', 'subnet-i2'] };
const certificateArn = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/wildcard-internal`;
const bake = { toSeconds: () => 1800 };

function platformArgs(promoteFrom?: { account: string }) {
  return {
    profile: EnvironmentProfile.prod(),
    project: 'acme',
    network,
    modelFamilies: ['fraud', 'churn', 'recs'],
    servedModels: [
      { name: 'fraud', backend: 'fleet' as const, modelVersion: 'v3', imageTag: 'serve-1', rollout: Rollout.canary({ percent: 10, bake }), variantVersions: { candidate: 'v4' } },
      // An endpoint with one production variant (a served state: promotion) and a shadow endpoint (none).
      { name: 'churn', backend: 'endpoint' as const, modelVersion: 'v1', imageTag: 'serve-1', rollout: Rollout.canary({ percent: 10, bake }) },
      { name: 'recs', backend: 'endpoint' as const, modelVersion: 'v1', imageTag: 'serve-1', rollout: Rollout.shadow(), variantVersions: { candidate: 'v2' } },
    ],
    notifyEmails: ['ml-approvers@example.com'],
    certificateArn,
    experimentTracking: false,
    promoteFrom,
  };
}

function addPipeline(platform: MlopsPlatform, modelName = 'fraud'): ModelPipeline {
  const job = (id: string) => platform.training!.addJobDefinition(modelName === 'fraud' ? id : `${modelName}-${id}`, {
    imageRepository: platform.trainingImages, imageTag: id, gpus: 1,
  });
  return platform.addModelPipeline(`${modelName}-pipeline`, {
    modelName,
    validateJob: job('validate'),
    trainJob: job('train'),
    evaluateJob: job('evaluate'),
    servingImageUri: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/acme-prod/serving:serve-1`,
    // Retrained weekly and on each complete data drop (as the CDK platform passes triggers through).
    triggers: modelName === 'fraud' ? { schedule: 'rate(7 days)', onNewData: true } : undefined,
  });
}

describe('Pulumi MlopsPlatform.addModelPipeline', () => {
  let resources: Awaited<ReturnType<typeof resourcesOf>>;
  let definition: Json;
  const promotionArn = mockArn('aws:sfn/stateMachine:StateMachine', 'pp-promotion-state-machine');
  let platform: MlopsPlatform;
  beforeAll(async () => {
    platform = new MlopsPlatform('pp', platformArgs());
    addPipeline(platform);
    addPipeline(platform, 'churn');
    resources = await resourcesOf('pp');
    definition = JSON.parse(one(resources, 'aws:sfn/stateMachine:StateMachine', 'pp-fraud-pipeline-state-machine').inputs.definition);
  });

  test('GIVEN a served fleet WHEN its pipeline is added THEN an approved version goes to the environment\'s promotion, and the run evaluates against the served state', () => {
    const states = Object.fromEntries(allStates(definition));
    expect(states.StartPromotion.Parameters.StateMachineArn).toBe(promotionArn);
    const reads = allStates(definition).filter(([, s]) => s.Type === 'Task' && /ssm:getParameter/.test(s.Resource)).map(([, s]) => s.Parameters.Name);
    expect(reads).toContain('/mlops/acme-prod/served/fraud');
  });

  test('GIVEN triggers WHEN the pipeline is added THEN its rules start it as a trigger role that is bounded and may start only this pipeline', () => {
    const rules = ofType(resources, 'aws:cloudwatch/eventRule:EventRule').filter((r) => /^pp-fraud-pipeline-.*-trigger$/.test(r.name));
    expect(rules.map((r) => [r.name, r.inputs.scheduleExpression ?? JSON.parse(r.inputs.eventPattern).detail.bucket.name[0]]).sort())
      .toEqual([['pp-fraud-pipeline-new-data-trigger', 'pp-artifacts-datasets'], ['pp-fraud-pipeline-schedule-trigger', 'rate(7 days)']]);
    const triggerRole = one(resources, 'aws:iam/role:Role', 'pp-fraud-pipeline-trigger-role').inputs;
    expect(triggerRole.permissionsBoundary).toBe(mockArn('aws:iam/policy:Policy', 'pp-governance-boundary'));
    const walk = pulumiIam(resources);
    const role = walk.role('pp-fraud-pipeline-trigger-role');
    expect(walk.allows(role, 'states:StartExecution', mockArn('aws:sfn/stateMachine:StateMachine', 'pp-fraud-pipeline-state-machine'))).toBe(true);
    expect(walk.allows(role, 'states:StartExecution', promotionArn)).toBe(false);
  });

  test('GIVEN an endpoint model with a served state WHEN its pipeline is added THEN it gets the endpoint (checked, production read from the served state) and hands approved versions to the promotion, never updating the endpoint itself', () => {
    const churn = JSON.parse(one(resources, 'aws:sfn/stateMachine:StateMachine', 'pp-churn-pipeline-state-machine').inputs.definition);
    const states = Object.fromEntries(allStates(churn));
    expect(states.StartPromotion.Parameters.StateMachineArn).toBe(promotionArn);
    expect(Object.keys(states)).not.toContain('UpdateEndpoint');
    expect(states.ReadProductionVersion.Parameters.Name).toBe('/mlops/acme-prod/served/churn');
    const walk = pulumiIam(resources);
    const role = walk.role('pp-churn-pipeline-role');
    const endpointArn = `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/${(platform.servedModels.churn as ModelEndpoint).endpointName}`;
    expect(walk.allows(role, 'sagemaker:UpdateEndpoint', endpointArn)).toBe(false);
    expect(walk.allows(role, 'iam:PassRole', mockArn('aws:iam/role:Role', 'pp-model-churn-execution-role'))).toBe(false);
  });

  test('GIVEN a shadow endpoint model (no served state, so the pipeline would roll out itself) WHEN its pipeline is added THEN the CDK pipeline\'s ValidationError: a pipeline does not drive shadows', () => {
    const error = errorOf(() => addPipeline(platform, 'recs'));
    expect(error).toBeInstanceOf(ValidationError);
    expect([error.prop, error.value]).toEqual(['endpoint.rollout', expect.stringContaining('shadow')]);
  });

  test('GIVEN the pipeline WHEN its role is evaluated under the governance boundary THEN it trains, registers and starts the promotion, and cannot write served/ or start another state machine', () => {
    const walk = pulumiIam(resources);
    const boundaryArn = mockArn('aws:iam/policy:Policy', 'pp-governance-boundary');
    const roleInputs = one(resources, 'aws:iam/role:Role', 'pp-fraud-pipeline-role').inputs;
    expect(roleInputs.permissionsBoundary).toBe(boundaryArn);
    const boundary = JSON.parse(one(resources, 'aws:iam/policy:Policy', 'pp-governance-boundary').inputs.policy);
    const role = { ...walk.role('pp-fraud-pipeline-role'), boundary: new IamWalk([]).statements('x', boundary), boundaryArn, tags: roleInputs.tags };
    const models = mockArn('aws:s3/bucket:Bucket', 'pp-artifacts-models');
    const context = { 'aws:RequestedRegion': REGION, 'aws:SecureTransport': true };
    const allowed = (action: string, resource: string) => walk.allows(role, action, resource, context);
    expect(allowed('states:StartExecution', promotionArn)).toBe(true);
    expect(allowed('states:StartExecution', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:acme-prod-other`)).toBe(false);
    expect(allowed('batch:SubmitJob', mockArn('aws:batch/jobQueue:JobQueue', 'pp-training-queue'))).toBe(true);
    expect(allowed('sagemaker:CreateModelPackage', `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/fraud/4`)).toBe(true);
    // The served state's ARN as the mocks answer it (the parameter is /mlops/acme-prod/served/fraud).
    expect(allowed('ssm:GetParameter', mockArn('aws:ssm/parameter:Parameter', 'pp-served-fraud'))).toBe(true);
    for (const key of ['served/fraud/v9/model.tar.gz', 'candidates/fraud/run-1/model.tar.gz']) {
      expect([key, allowed('s3:PutObject', `${models}/${key}`)]).toEqual([key, false]);
    }
  });

  test('GIVEN the pipeline WHEN the budget brake engages THEN it is among the denied roles; the ML engineer answers its approval requests', () => {
    const engage = JSON.parse(one(resources, 'aws:sfn/stateMachine:StateMachine', 'pp-cost-brake-engage').inputs.definition);
    const deniedRoles = engage.States.Brake.Branches.find((b: { StartAt: string }) => b.StartAt === 'DeniedRoles').States.DeniedRoles.Result;
    expect([...deniedRoles].sort()).toEqual(['pp-churn-pipeline-role', 'pp-fraud-pipeline-role', 'pp-governance-DataScientist', 'pp-governance-MlEngineer']);
    const approver = ofType(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment')
      .filter((a) => a.inputs.role === 'pp-governance-MlEngineer')
      .map((a) => ofType(resources, 'aws:iam/policy:Policy').find((p) => mockArn(p.type, p.name) === a.inputs.policyArn)!)
      .flatMap((p) => JSON.parse(p.inputs.policy).Statement);
    expect(approver).toContainEqual(expect.objectContaining({
      Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      Resource: mockArn('aws:sfn/stateMachine:StateMachine', 'pp-fraud-pipeline-state-machine'),
    }));
  });

  test('GIVEN prod that promotes what staging approved (promoteFrom) WHEN a pipeline is added THEN the CDK platform\'s ValidationError: prod does not retrain', () => {
    // Nothing served: the refusal does not depend on what prod serves.
    const prod = new MlopsPlatform('pf', { ...platformArgs({ account: '111111111111' }), servedModels: [] });
    const error = errorOf(() => addPipeline(prod));
    expect(error).toBeInstanceOf(ValidationError);
    expect([error.prop, error.value]).toEqual(['addModelPipeline', 'fraud']);
    expect(error.problem).toContain('promotes what another one approved (promoteFrom)');
    expect(error.fix).toContain('"modelPackageArn"');
  });
});
