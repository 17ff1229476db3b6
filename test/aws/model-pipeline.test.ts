import { createHash } from 'crypto';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { TEST_CERTIFICATE_ARN } from '../support/certificates';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { environmentTemplates, IamWalk } from '../support/iam-walk';
import { executeWith, Handler, services } from '../support/pipeline-fakes';
import { allStates, stateMachineDefinition } from '../support/state-machines';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, GpuTrainingCluster, ImageRepository, MODEL_PIPELINE_OUTCOMES, MlopsStack,
  MlopsPlatform, ModelApproval, ModelEndpoint, ModelPipeline, ModelPipelineProps, ModelPromotion, ModelRegistry, PlatformKey, PlatformNetwork,
  QualityDirection, Rollout, ServedStateParameter, ServingBackend,
} from 'mlops-constructs';

interface Fixture {
  readonly app: ReturnType<typeof newApp>;
  readonly data: MlopsStack;
  readonly stack: MlopsStack;
  readonly base: Omit<ModelPipelineProps, 'modelName'> & { modelName: string };
  readonly endpoint: ModelEndpoint;
}

/** Data and serving in one stack, the pipeline in another (as MlopsPlatform splits them). */
interface FixtureOptions {
  readonly rollout?: Rollout;
  readonly endpointModel?: string;
  readonly variantVersions?: Record<string, string>;
  /** @default 'fraud' */
  readonly modelName?: string;
  /** @default false: the pipeline's own rollout updates endpoints that keep their variants (inference components need promotion) */
  readonly scaleToZeroOffHours?: boolean;
}

function fixture(profile: EnvironmentProfile, options: FixtureOptions = {}): Fixture {
  const app = newApp();
  const common = { profile, project: 'p', team: 'fraud', costCenter: 'cc-1' };
  const data = new MlopsStack(app, 'Data', common);
  const key = new PlatformKey(data, 'Key');
  const network = new PlatformNetwork(data, 'Network', { encryptionKey: key.key });
  const artifactStore = new ArtifactStore(data, 'Store', { encryptionKey: key.key });
  const images = new ImageRepository(data, 'Images', { encryptionKey: key.key });
  const registry = new ModelRegistry(data, 'Registry', { vpc: network.vpc, encryptionKey: key.key });
  const modelName = options.modelName ?? 'fraud';
  registry.addModelPackageGroup(modelName);
  const stack = new MlopsStack(app, 'Pipeline', common);
  const cluster = new GpuTrainingCluster(stack, 'Cluster', { vpc: network.vpc, artifactStore, encryptionKey: key.key, instanceTypes: ['g5.xlarge'], maxGpus: 4 });
  const job = (id: string) => cluster.addJobDefinition(id, { imageRepository: images, imageTag: id.toLowerCase(), datasetPrefix: `${modelName}/` });
  const endpoint = new ModelEndpoint(stack, 'Endpoint', {
    vpc: network.vpc,
    artifactStore,
    image: images,
    imageTag: 'serve',
    modelName: options.endpointModel ?? modelName,
    modelVersion: 'v1',
    encryptionKey: key.key,
    rollout: options.rollout,
    variantVersions: options.variantVersions,
    scaleToZeroOffHours: options.scaleToZeroOffHours ?? false,
  });
  const base = {
    modelName,
    registry,
    artifactStore,
    validateJob: job('Validate'),
    trainJob: job('Train'),
    evaluateJob: job('Evaluate'),
    servingImageUri: images.imageUri('serve'),
    encryptionKey: key.key,
    approvers: { emails: ['ml-approvers@example.com'], grantees: [new iam.Role(stack, 'Approver', { assumedBy: new iam.AccountRootPrincipal() })] },
  };
  return { app, data, stack, base, endpoint };
}

const asl = stateMachineDefinition;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator');

/**
 * A small ASL interpreter: follows Next, Choice rules (against `facts`, keyed by JSONPath) and Catch (for the states
 * `failures` names, with their error), and returns the states visited and how the run ended: the terminal state, or
 * for a Fail state the error it fails with (its own, or the one the failure paths recorded in `$.failure`).
 */
function walk(definition: any, given: Record<string, unknown>, failures: Record<string, string | ((visit: number) => string | undefined)> = {}) {
  const facts = { ...given };
  const visited: string[] = [];
  const visits: Record<string, number> = {};
  let recorded: string | undefined;
  let current: string = definition.StartAt;
  for (let step = 0; step < 400; step++) {
    const state = definition.States[current];
    if (!state) throw new Error(`no state ${current}`);
    visited.push(current);
    visits[current] = (visits[current] ?? 0) + 1;
    if (state.Type === 'Succeed') return { visited, end: current, type: state.Type };
    if (state.Type === 'Fail') return { visited, end: state.Error ?? recorded ?? current, type: state.Type };
    if (state.Type === 'Pass' && state.ResultPath === '$.failure') recorded = state.Parameters.error;
    if (state.Type === 'Choice') {
      const rule = state.Choices.find((c: any) => evaluate(c, facts));
      current = rule ? rule.Next : state.Default;
      if (!current) throw new Error(`Choice ${visited.at(-1)} has no matching rule and no default`);
      continue;
    }
    const failure = typeof failures[current] === 'function' ? (failures[current] as (n: number) => string | undefined)(visits[current]) : failures[current] as string | undefined;
    if (failure) {
      const handler = (state.Catch ?? []).find((c: any) => c.ErrorEquals.includes(failure) || c.ErrorEquals.includes('States.ALL'));
      if (!handler) return { visited, end: current, type: 'Error' };
      facts['$.error'] = true;
      facts['$.error.Error'] = failure;
      facts['$.error.Cause'] ??= '{"StatusReason": "Essential container in task exited"}';
      current = handler.Next;
      continue;
    }
    if (state.End) return { visited, end: current, type: 'End' };
    current = state.Next;
  }
  throw new Error(`no end after 400 states: ${visited.join(' > ')}`);
}

function evaluate(rule: any, facts: Record<string, unknown>): boolean {
  if (rule.And) return rule.And.every((r: any) => evaluate(r, facts));
  if (rule.Or) return rule.Or.some((r: any) => evaluate(r, facts));
  if (rule.Not) return !evaluate(rule.Not, facts);
  const value = facts[rule.Variable];
  const path = (key: string) => facts[rule[key]];
  if ('IsPresent' in rule) return (value !== undefined) === rule.IsPresent;
  if ('IsBoolean' in rule) return (typeof value === 'boolean') === rule.IsBoolean;
  if ('IsString' in rule) return (typeof value === 'string') === rule.IsString;
  if ('IsNumeric' in rule) return (typeof value === 'number') === rule.IsNumeric;
  if ('NumericGreaterThan' in rule) return (value as number) > rule.NumericGreaterThan;
  if ('NumericGreaterThanEquals' in rule) return (value as number) >= rule.NumericGreaterThanEquals;
  if ('StringEquals' in rule) return value === rule.StringEquals;
  if ('StringEqualsPath' in rule) return value === path('StringEqualsPath');
  if ('StringMatches' in rule) return typeof value === 'string' && new RegExp(`^${rule.StringMatches.split('*').map(escape).join('.*')}$`).test(value);
  if ('BooleanEquals' in rule) return value === rule.BooleanEquals;
  if ('NumericLessThanEquals' in rule) return (value as number) <= rule.NumericLessThanEquals;
  if ('NumericGreaterThanEqualsPath' in rule) return (value as number) >= (path('NumericGreaterThanEqualsPath') as number);
  if ('NumericLessThanEqualsPath' in rule) return (value as number) <= (path('NumericLessThanEqualsPath') as number);
  throw new Error(`operator not supported by the walker: ${JSON.stringify(rule)}`);
}

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** Facts of a run whose every step succeeds. */
const GOOD_RUN = {
  '$.lock.running': 1,
  '$.evaluation.candidate': 0.93,
  '$.evaluation.baseline': 0.9,
  '$.approval.approver': 'alice',
  '$.evaluation.threshold': 0.91,
  '$.evaluation.fairnessGap': 0.05,
  '$.registered.group': 'fraud',
  '$.approval.approved': true,
  '$.endpoint.status': 'InService',
  '$.endpoint.config': 'fraud-0123456789abcdef0123456789abcdef',
  '$.rollout.name': 'fraud-0123456789abcdef0123456789abcdef',
  '$.rollout.polls': 0,
};

describe('ModelPipeline state machine paths (ASL walker)', () => {
  const f = fixture(EnvironmentProfile.prod());
  new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint });
  const definition = asl(f.stack);

  test('a good run validates, trains, evaluates, registers, waits for approval, approves and rolls out', () => {
    const run = walk(definition, GOOD_RUN);
    expect(run.end).toBe(MODEL_PIPELINE_OUTCOMES.succeeded);
    const order = ['ValidateData', 'Train', 'Evaluate', 'BeatsProduction', 'FairnessWithinThreshold', 'RegisterVersion', 'CheckRegistered',
      'RequestApproval', 'Approved', 'MarkApproved', 'CreateModel', 'CreateEndpointConfig', 'UpdateEndpoint', 'DescribeEndpoint'];
    expect(order.map((s) => run.visited.indexOf(s))).toEqual([...order.map((s) => run.visited.indexOf(s))].sort((a, b) => a - b));
    expect(order.every((s) => run.visited.includes(s))).toBe(true);
  });

  test('data validation fails → no training', () => {
    const run = walk(definition, GOOD_RUN, { ValidateData: 'States.TaskFailed' });
    expect(run.end).toBe(MODEL_PIPELINE_OUTCOMES.dataInvalid);
    expect(run.visited).not.toContain('Train');
  });

  test('evaluation below the production model → no registration', () => {
    const run = walk(definition, { ...GOOD_RUN, '$.evaluation.candidate': 0.9 });
    expect(run.end).toBe(MODEL_PIPELINE_OUTCOMES.belowBaseline);
    expect(run.visited).toContain('Evaluate');
    expect(run.visited).not.toContain('RegisterVersion');
  });

  test('fairness gap above the threshold (prod default 0.1) → registered nowhere, no rollout', () => {
    const run = walk(definition, { ...GOOD_RUN, '$.evaluation.fairnessGap': 0.11 });
    expect(run.end).toBe(MODEL_PIPELINE_OUTCOMES.biasAboveThreshold);
    expect(run.visited).not.toContain('RegisterVersion');
    expect(run.visited).not.toContain('UpdateEndpoint');
  });

  test('approval rejected (answer false, SendTaskFailure or timeout) → marked Rejected, no rollout', () => {
    for (const run of [
      walk(definition, { ...GOOD_RUN, '$.approval.approved': false }),
      walk(definition, GOOD_RUN, { RequestApproval: 'States.TaskFailed' }),
      walk(definition, GOOD_RUN, { RequestApproval: 'States.Timeout' }),
    ]) {
      expect(run.end).toBe(MODEL_PIPELINE_OUTCOMES.rejected);
      expect(run.visited).toContain('MarkRejected');
      expect(run.visited).not.toContain('MarkApproved');
      expect(run.visited).not.toContain('UpdateEndpoint');
    }
  });

  test('spot interruption → training retried; application error or too many interruptions → TrainingFailed', () => {
    const spot = { ...GOOD_RUN, '$.spot.reason.StatusReason': 'Host EC2 (instance i-0abc) terminated.', '$.spot.attempt': 1 };
    const retried = walk(definition, spot, { Train: (n) => (n === 1 ? 'States.TaskFailed' : undefined) });
    expect(retried.visited.filter((s) => s === 'Train')).toHaveLength(2);
    expect(retried.end).toBe(MODEL_PIPELINE_OUTCOMES.succeeded);
    const appError = walk(definition, { ...spot, '$.spot.reason.StatusReason': 'Essential container in task exited' }, { Train: 'States.TaskFailed' });
    expect(appError.end).toBe(MODEL_PIPELINE_OUTCOMES.trainingFailed);
    const exhausted = walk(definition, { ...spot, '$.spot.attempt': 4 }, { Train: 'States.TaskFailed' });
    expect(exhausted.end).toBe(MODEL_PIPELINE_OUTCOMES.trainingFailed);
    const timedOut = walk(definition, spot, { Train: 'States.Timeout' });
    expect(timedOut.end).toBe(MODEL_PIPELINE_OUTCOMES.trainingFailed);
    expect(timedOut.visited).not.toContain('ParseTrainingFailure');
    expect(definition.States.SpotInterrupted.Choices[0].And).toEqual(expect.arrayContaining([
      { Variable: '$.spot.reason.StatusReason', StringMatches: 'Host EC2*' },
      { Variable: '$.spot.attempt', NumericLessThanEquals: 3 },
    ]));
  });

  test('promotion: a version not registered in this environment is not approved or rolled out', () => {
    const promote = { ...GOOD_RUN, '$.modelPackageArn': 'arn:aws:sagemaker:us-east-1:111111111111:model-package/fraud/3' };
    const missing = walk(definition, promote, { CheckRegistered: 'SageMaker.SageMakerException' });
    expect(missing.end).toBe(MODEL_PIPELINE_OUTCOMES.notRegistered);
    expect(missing.visited).not.toContain('ValidateData');
    expect(missing.visited).not.toContain('RequestApproval');
    const otherGroup = walk(definition, { ...promote, '$.registered.group': 'recommender' });
    expect(otherGroup.end).toBe(MODEL_PIPELINE_OUTCOMES.notRegistered);
    const ok = walk(definition, promote);
    expect(ok.visited).toEqual(expect.arrayContaining(['Promote', 'CheckRegistered', 'RequestApproval', 'UpdateEndpoint']));
    expect(ok.visited).not.toContain('Train');
  });

  test('a rollback alarm during the rollout (endpoint back on the old config, or Failed) → RolledBack', () => {
    expect(walk(definition, { ...GOOD_RUN, '$.endpoint.config': 'fraud-v1' }).end).toBe(MODEL_PIPELINE_OUTCOMES.rolledBack);
    expect(walk(definition, { ...GOOD_RUN, '$.endpoint.status': 'Failed' }).end).toBe(MODEL_PIPELINE_OUTCOMES.rolledBack);
  });
});

describe('ModelPipeline definition details', () => {
  test('dev: automatic approval, no task token; dev fairness default 0.2; registration pending manual approval with lineage', () => {
    const f = fixture(EnvironmentProfile.dev());
    const pipeline = new ModelPipeline(f.stack, 'Fraud', f.base);
    expect(pipeline.approval).toBe(ModelApproval.AUTOMATIC);
    expect(pipeline.fairnessGap).toBe(0.2);
    const d = asl(f.stack);
    expect(d.States.RequestApproval).toBeUndefined();
    expect(d.States.FairnessWithinThreshold.Choices[0]).toEqual({ Variable: '$.evaluation.fairnessGap', NumericLessThanEquals: 0.2, Next: 'RegisterVersion' });
    expect(walk(d, GOOD_RUN).visited).toEqual(expect.arrayContaining(['RegisterVersion', 'MarkApproved', 'Succeeded']));
    const register = d.States.RegisterVersion;
    expect(register.Resource).toMatch(/:states:::aws-sdk:sagemaker:createModelPackage$/);
    expect(register.Parameters.ModelApprovalStatus).toBe('PendingManualApproval');
    expect(register.Parameters.ModelPackageGroupName).toBe('fraud');
    expect(Object.keys(register.Parameters.CustomerMetadataProperties)).toEqual(expect.arrayContaining([
      'datasetVersion.$', 'imageDigest.$', 'codeVersion.$', 'trainingImage.$', 'candidate.$', 'baseline.$', 'fairnessGap.$', 'run.$',
    ]));
    expect(register.Parameters.CustomerMetadataProperties['datasetVersion.$']).toBe('$.validation.datasetVersion');
    expect(d.States.MarkApproved.Parameters.ModelApprovalStatus).toBe('Approved');
    // Nothing runs after approval: no un-approval state either (Step Functions rejects an unreachable state).
    expect(d.States.Unapprove).toBeUndefined();
    const { isValid, errorsText } = aslValidator(d, { checkArn: false, checkPaths: true });
    expect([errorsText('\n'), isValid]).toEqual(['', true]);
  });

  test('evaluation job gets the metric contract namespaces; lower-is-better metrics compare the other way', () => {
    const f = fixture(EnvironmentProfile.dev());
    new ModelPipeline(f.stack, 'Fraud', { ...f.base, qualityMetric: 'rmse', qualityDirection: QualityDirection.LOWER_IS_BETTER, minImprovement: 0.01 });
    const d = asl(f.stack);
    const env = d.States.Evaluate.Parameters.ContainerOverrides.Environment;
    expect(env).toEqual(expect.arrayContaining([
      { Name: 'METRICS_NAMESPACE', Value: 'MLOps/ModelQuality' },
      { Name: 'FAIRNESS_NAMESPACE', Value: 'MLOps/Fairness' },
      { Name: 'QUALITY_METRIC', Value: 'rmse' },
      { Name: 'HIGHER_IS_BETTER', Value: 'false' },
      { Name: 'MIN_IMPROVEMENT', Value: '0.01' },
    ]));
    expect(d.States.BeatsProduction.Choices[0].And).toEqual([
      { Variable: '$.evaluation.candidate', NumericLessThanEqualsPath: '$.evaluation.threshold' },
      { Variable: '$.evaluation.candidate', NumericLessThanEqualsPath: '$.evaluation.baseline' },
    ]);
    expect(walk(d, { ...GOOD_RUN, '$.evaluation.candidate': 0.5, '$.evaluation.threshold': 0.6, '$.evaluation.baseline': 0.55 }).visited).toContain('RegisterVersion');
    // The job's own threshold cannot let a candidate worse than production through.
    expect(walk(d, { ...GOOD_RUN, '$.evaluation.candidate': 0.5, '$.evaluation.threshold': 0.6, '$.evaluation.baseline': 0.45 }).end).toBe(MODEL_PIPELINE_OUTCOMES.belowBaseline);
  });

  test('batch steps run synchronously on the cluster queue; the train job writes the model below <model>/', () => {
    const f = fixture(EnvironmentProfile.dev());
    new ModelPipeline(f.stack, 'Fraud', f.base);
    const d = asl(f.stack);
    for (const s of ['ValidateData', 'Train', 'Evaluate']) expect(d.States[s].Resource).toMatch(/:states:::batch:submitJob.sync$/);
    expect(d.States.ValidateData.Catch[0]).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'ValidateDataFailed' });
    expect(d.States.ValidateDataFailed.Parameters.error).toBe(MODEL_PIPELINE_OUTCOMES.dataInvalid);
    const t = Template.fromStack(f.stack);
    const trainPolicy = Object.values(t.findResources('AWS::IAM::ManagedPolicy')).find((p: any) => p.Properties.Description?.startsWith('Train step'));
    // Claim: training writes its candidates and its own step outputs only: never served/, never the evaluation's outputs.
    const trainWrites = JSON.stringify(trainPolicy?.Properties.PolicyDocument.Statement.filter((st: any) => [st.Action].flat().includes('s3:PutObject')));
    expect(trainWrites).toContain('/candidates/fraud/*');
    expect(trainWrites).toContain('/pipelines/fraud/train/*');
    expect(trainWrites).not.toMatch(/served\/|pipelines\/fraud\/evaluate|pipelines\/fraud\/\*/);
    expect(JSON.stringify(trainPolicy?.Properties.PolicyDocument)).not.toContain('s3:DeleteObject');
  });

  test('prod rollout: SageMaker deployment guardrails with the endpoint canary and its rollback alarms', () => {
    const f = fixture(EnvironmentProfile.prod(), { rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) });
    new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint });
    const d = asl(f.stack);
    const config = d.States.UpdateEndpoint.Parameters.DeploymentConfig;
    expect(config.BlueGreenUpdatePolicy.TrafficRoutingConfiguration).toEqual({ Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 1800 });
    expect(config.AutoRollbackConfiguration.Alarms.length).toBe(f.endpoint.rollbackAlarms.length);
    expect(f.endpoint.rollbackAlarms.length).toBeGreaterThan(0);
    expect(d.States.CreateModel.Parameters.EnableNetworkIsolation).toBe(true);
    // g5 has NVMe instance storage: no volume key, as on the endpoint's own config; data capture kept.
    expect(d.States.CreateEndpointConfig.Parameters.KmsKeyId).toBeUndefined();
    const capture = d.States.CreateEndpointConfig.Parameters.DataCaptureConfig;
    expect(capture).toMatchObject({ EnableCapture: true, InitialSamplingPercentage: expect.any(Number) });
    expect(d.States.CreateEndpointConfig.Parameters.ProductionVariants).toEqual([
      { 'VariantName': 'current', 'ModelName.$': '$.rollout.name', 'InstanceType': 'ml.g5.xlarge', 'InitialInstanceCount': 2 },
    ]);
    expect(d.States.CreateModel.Parameters.PrimaryContainer['ModelPackageName.$']).toBe('$.modelPackage.arn');
  });

  test('state machine: logs ALL to an encrypted group, X-Ray tracing, approval topic encrypted', () => {
    const f = fixture(EnvironmentProfile.prod());
    new ModelPipeline(f.stack, 'Fraud', f.base);
    const t = Template.fromStack(f.stack);
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 365 });
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});

describe('ModelPipeline approval, run lock, pinned inputs', () => {
  const f = fixture(EnvironmentProfile.prod());
  const pipeline = new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint });
  const t = Template.fromStack(f.stack);
  const d = asl(f.stack);

  test('the approval request reaches a person (email subscription) and only the approvers may answer, on this state machine', () => {
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ml-approvers@example.com', TopicArn: { Ref: Match.stringLikeRegexp('FraudApprovalTopic') } });
    const approver = Object.values(t.findResources('AWS::IAM::ManagedPolicy')).find((p: any) => p.Properties.Description?.startsWith('Answer approval requests'))!;
    expect(approver.Properties.PolicyDocument.Statement).toEqual([{
      Effect: 'Allow', Action: ['states:SendTaskFailure', 'states:SendTaskSuccess'], Resource: { Ref: Match.anyValue() },
    }].map((x) => expect.objectContaining({ ...x, Resource: { Ref: expect.stringMatching(/^FraudStateMachine/) } })));
    expect(approver.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^Approver/) }]);
    // Nobody else may answer: no other policy in the stack grants SendTaskSuccess.
    const granting = [...Object.values(t.findResources('AWS::IAM::ManagedPolicy')), ...Object.values(t.findResources('AWS::IAM::Policy'))]
      .filter((p: any) => JSON.stringify(p.Properties.PolicyDocument).includes('SendTaskSuccess'));
    expect(granting).toHaveLength(1);
  });

  test('an approval without a named approver is a rejection; the approver is written to the model package', () => {
    const run = walk(d, { ...GOOD_RUN, '$.approval.approver': undefined });
    expect(run.end).toBe(MODEL_PIPELINE_OUTCOMES.rejected);
    expect(d.States.MarkApproved.Parameters).toMatchObject({
      'ModelApprovalStatus': 'Approved',
      'ApprovalDescription.$': "States.Format('Approved by {}', $.approval.approver)",
      'CustomerMetadataProperties': { 'approvedBy.$': '$.approval.approver' },
    });
    expect(d.States.RequestApproval.Parameters.Message.answer).toContain('send-task-success');
  });

  test('one active run per model: a run that finds another running stops before any job (AnotherRunActive)', () => {
    // First the cleanup branch (a stopped run's status change event), then the lock, before anything else.
    expect(d.StartAt).toBe('CleanUpOrRun');
    expect(d.States.CleanUpOrRun.Default).toBe('CheckRunLock');
    expect(d.States.CheckRunLock.Parameters).toEqual({ 'StateMachineArn.$': '$$.StateMachine.Id', 'StatusFilter': 'RUNNING', 'MaxResults': 2 });
    const run = walk(d, { ...GOOD_RUN, '$.lock.running': 2 });
    expect(run.end).toBe(MODEL_PIPELINE_OUTCOMES.anotherRunActive);
    expect(run.visited).not.toContain('ValidateData');
    const lock = Object.values(t.findResources('AWS::IAM::ManagedPolicy')).find((p: any) => p.Properties.Description?.startsWith('Run lock'))!;
    expect(lock.Properties.PolicyDocument.Statement).toEqual([expect.objectContaining({ Action: 'states:ListExecutions', Resource: { Ref: expect.stringMatching(/^FraudStateMachine/) } })]);
    expect(lock.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^FraudRole/) }]);
    expect(pipeline.stateMachine).toBeDefined();
  });

  test('per-run data manifest and checkpoint prefix; evaluation reads the production model and writes where training cannot', () => {
    const envOf = (state: string) => Object.fromEntries(d.States[state].Parameters.ContainerOverrides.Environment.map((e: any) => [e.Name, e['Value.$'] ?? e.Value]));
    for (const state of ['ValidateData', 'Train', 'Evaluate']) expect(envOf(state).CHECKPOINT_URI).toMatch(/^States\.Format\('s3:\/\/TOKEN\/checkpoints\/.*\/\{\}\/', \$\$\.Execution\.Name\)$/);
    for (const state of ['Train', 'Evaluate']) expect(envOf(state).DATASET_MANIFEST_URI).toBe("States.Format('s3://TOKEN/pipelines/fraud/validate/{}/manifest.json', $$.Execution.Name)");
    expect(envOf('Train').MODEL_URI).toBe("States.Format('s3://TOKEN/candidates/fraud/{}/', $$.Execution.Name)");
    expect(envOf('Evaluate').OUTPUT_URI).toBe("States.Format('s3://TOKEN/pipelines/fraud/evaluate/{}/', $$.Execution.Name)");
    expect(envOf('Evaluate').PRODUCTION_MODEL_URI).toMatch(/^s3:\/\/TOKEN\/served\/fraud\/v1\/model\.tar\.gz$/);
    expect(d.States.ReadEvaluation.Parameters['Key.$']).toBe("States.Format('pipelines/fraud/evaluate/{}/evaluation.json', $$.Execution.Name)");
    const evaluatePolicy = Object.values(t.findResources('AWS::IAM::ManagedPolicy')).find((p: any) => p.Properties.Description?.startsWith('Evaluate step'))!;
    const reads = JSON.stringify(evaluatePolicy.Properties.PolicyDocument.Statement.filter((st: any) => [st.Action].flat().includes('s3:GetObject')));
    expect(reads).toContain('/served/fraud/*');
    expect(reads).toContain('/candidates/fraud/*');
  });
});

describe('ModelPipeline least privilege', () => {
  test('registry actions only on the model package group; read only the run outputs; pass only the endpoint role', () => {
    const f = fixture(EnvironmentProfile.prod());
    const pipeline = new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint });
    const t = Template.fromStack(f.stack);
    const statements = Object.values(t.findResources('AWS::IAM::ManagedPolicy'))
      .filter((p: any) => p.Properties.Description?.startsWith('State machine of the fraud pipeline'))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(statements.length).toBeGreaterThan(5);
    expect(Object.values(t.findResources('AWS::IAM::Policy')).filter((p: any) => JSON.stringify(p).includes('StateMachine'))).toHaveLength(0);
    expect(pipeline.stateMachine.role).toBeDefined();
    const byAction = (action: string) => statements.filter((s: any) => [s.Action].flat().includes(action));
    for (const action of ['sagemaker:CreateModelPackage', 'sagemaker:UpdateModelPackage', 'sagemaker:DescribeModelPackage']) {
      expect(JSON.stringify(byAction(action).map((s: any) => s.Resource))).toContain(':model-package/fraud/*');
    }
    expect(JSON.stringify(byAction('s3:GetObject').map((s: any) => s.Resource))).toContain('/pipelines/fraud/*');
    expect(byAction('iam:PassRole')).toHaveLength(1);
    // batch:ListJobs has no resource-level permissions (a failed or stopped run finds its jobs by name).
    expect(statements.some((s: any) => s.Resource === '*' && ![s.Action].flat().every((a: string) => a.startsWith('xray:') || a.startsWith('logs:') || a === 'batch:ListJobs'))).toBe(false);
    expect(JSON.stringify(byAction('batch:TerminateJob').map((s: any) => s.Resource))).toMatch(/:job\/\*"/);
  });
});

describe('ModelPipeline triggers', () => {
  test('schedule, new data below <model>/ in the datasets bucket (EventBridge on), and drift alarms going to ALARM', () => {
    const f = fixture(EnvironmentProfile.dev());
    const drift = new cloudwatch.Alarm(f.stack, 'Drift', {
      metric: new cloudwatch.Metric({ namespace: 'MLOps/DataDrift', metricName: 'DriftScore', dimensionsMap: { Model: 'fraud', Feature: 'amount' } }),
      threshold: 0.3,
      evaluationPeriods: 1,
    });
    const pipeline = new ModelPipeline(f.stack, 'Fraud', {
      ...f.base,
      triggers: { schedule: events.Schedule.cron({ minute: '0', hour: '3', weekDay: 'SUN' }), onNewData: true, alarms: [drift] },
    });
    expect(pipeline.triggerRules).toHaveLength(3);
    const t = Template.fromStack(f.stack);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 3 ? * SUN *)' });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.s3'], 'detail-type': ['Object Created'], 'detail': Match.objectLike({ object: { key: [{ wildcard: 'fraud/*_SUCCESS' }] } }) },
      Targets: [Match.objectLike({ Input: JSON.stringify({ trigger: 'new-data' }) })],
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'], 'resources': [{ 'Fn::GetAtt': [Match.stringLikeRegexp('Drift'), 'Arn'] }], 'detail': { state: { value: ['ALARM'] } } },
    });
    Template.fromStack(f.data).hasResourceProperties('AWS::S3::Bucket', {
      BucketName: Match.absent(),
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
  });

  test('no triggers by default', () => {
    const f = fixture(EnvironmentProfile.dev());
    expect(new ModelPipeline(f.stack, 'Fraud', f.base).triggerRules).toHaveLength(0);
    // The cluster's failed-jobs rule and the pipeline's cleanup rule (stopped runs) only.
    Template.fromStack(f.stack).resourceCountIs('AWS::Events::Rule', 2);
  });
});

describe('ModelPipeline bad input', () => {
  test.each([
    [{ approvers: undefined }, /'approvers.grantees' must name who may approve.*Fix: pass the role of the people who approve/],
    [{ approvers: { grantees: [] } }, /'approvers.grantees' must name who may approve/],
    [{ approvers: { grantees: [new iam.AnyPrincipal() as any] } }, /'approvers.emails' must reach someone/],
  ])('manual approval nobody hears or can answer: %#', (override, message) => {
    const f = fixture(EnvironmentProfile.prod());
    expect(() => new ModelPipeline(f.stack, 'Fraud', { ...f.base, ...override } as any)).toThrow(message);
  });

  interface BadCase {
    readonly name: string;
    readonly props: Partial<ModelPipelineProps>;
    readonly message: RegExp;
    readonly prod?: boolean;
    readonly otherEndpoint?: boolean;
  }
  const cases: BadCase[] = [
    { name: 'a model with no package group (not registered)', props: { modelName: 'churn' }, message: /'modelName' has no model package group.*addModelPackageGroup\('churn'\)/ },
    { name: 'an invalid model name', props: { modelName: 'Fraud Model' }, message: /'modelName'/ },
    { name: 'fairnessGap above 1', props: { fairnessGap: 1.5 }, message: /'fairnessGap' must be a number between 0.001 and 1.*Fix: set 'fairnessGap'/ },
    { name: 'fairnessGap 0', props: { fairnessGap: 0 }, message: /'fairnessGap' must be a number between 0.001 and 1/ },
    { name: 'minImprovement negative', props: { minImprovement: -0.1 }, message: /'minImprovement' must be a number between 0 and 1/ },
    { name: 'automatic approval in prod', props: { approval: ModelApproval.AUTOMATIC }, message: /'approval' is not allowed in the 'prod' profile.*ModelApproval.MANUAL/, prod: true },
    { name: 'approval timeout of 10 days', props: { approvalTimeout: Duration.days(10) }, message: /'approvalTimeout'.*Duration.days\(7\)/ },
    { name: 'a job that is not a cluster job', props: { trainJob: {} as any }, message: /'trainJob' must be a job added to the training cluster/ },
    { name: 'no serving image', props: { servingImageUri: '' }, message: /'servingImageUri' is required/ },
    { name: 'a rollout to an endpoint serving another (unregistered) model', props: {}, message: /'endpoint' does not serve 'fraud'.*Fix: roll 'fraud' out/, otherEndpoint: true },
    { name: 'a quality metric with spaces', props: { qualityMetric: 'my metric' }, message: /'qualityMetric'/ },
    { name: 'a holdout prefix without a trailing slash', props: { holdoutPrefix: 'fraud/holdout' }, message: /'holdoutPrefix'.*ending with "\/"/ },
    {
      name: 'a schedule EventBridge rejects (both day fields given)',
      props: { triggers: { schedule: events.Schedule.expression('cron(0 3 * * * *)') } },
      message: /'triggers.schedule' must have '\?' in exactly one of its day-of-month and day-of-week fields.*Fix: give a cron or rate expression/,
    },
  ];
  test.each(cases)('$name', ({ props, message, prod, otherEndpoint }) => {
    const f = fixture(prod ? EnvironmentProfile.prod() : EnvironmentProfile.dev(), otherEndpoint ? { endpointModel: 'recommender' } : {});
    const all = { ...f.base, ...(otherEndpoint ? { endpoint: f.endpoint } : {}), ...props };
    let error: unknown;
    try {
      new ModelPipeline(f.stack, 'Fraud', all);
    } catch (e) {
      error = e;
    }
    expect((error as Error)?.name).toBe('ValidationError');
    expect((error as Error).message).toMatch(message);
  });

  test('an evaluation running as the training job\'s role is rejected (it could write the numbers the gates read)', () => {
    const f = fixture(EnvironmentProfile.dev());
    expect(() => new ModelPipeline(f.stack, 'Fraud', { ...f.base, evaluateJob: f.base.trainJob }))
      .toThrow(/'evaluateJob'.*runs as the training job's role.*Fix: add a job definition of its own/);
  });

  test('an endpoint that scales to zero (an inference component) is rolled out only through promotion', () => {
    const f = fixture(EnvironmentProfile.dev(), { scaleToZeroOffHours: true });
    expect(f.endpoint.hosting).toBe('inference-component');
    expect(() => new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint })).toThrow(
      /Fraud: 'endpoint' scales to zero off hours \(its model is an inference component\).*Fix: pass 'promotion'/);
  });

  test('a shadow rollout on the endpoint is rejected (the pipeline shifts traffic, it does not mirror)', () => {
    const f = fixture(EnvironmentProfile.prod(), { rollout: Rollout.shadow(), variantVersions: { candidate: 'v2' } });
    expect(() => new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint })).toThrow(/'endpoint.rollout'.*ModelPipeline/);
  });
});

describe('ModelPipeline compliance', () => {
  test('prod with an endpoint and every trigger: cdk-nag (all packs) and cfn-lint clean', () => {
    const f = fixture(EnvironmentProfile.prod(), { rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) });
    new ModelPipeline(f.stack, 'Fraud', {
      ...f.base, endpoint: f.endpoint, triggers: { schedule: events.Schedule.rate(Duration.days(7)), onNewData: true },
    });
    applyCompliancePacks(f.app);
    const result = synthesizeWithPacks(f.app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});

// The synthesized definition executed by aws-local-stepfunctions (real JSONPath, intrinsic functions, Retry/Catch,
// Choice rules and task tokens), with a fake of every service call it makes, and checked by asl-validator.

describe('ModelPipeline executed from its synthesized definition (aws-local-stepfunctions, asl-validator)', () => {
  const f = fixture(EnvironmentProfile.prod());
  // As MlopsPlatform builds it: the model's served state (promotion moves it), a holdout pinned in code.
  const servedState = new ServedStateParameter(f.data, 'ServedState', {
    environmentPrefix: 'p-prod', model: 'fraud', initialState: { variants: [{ variant: 'current', version: 'v1', weight: 100 }] },
  });
  new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint, servedState, holdoutPrefix: 'fraud/holdout/2026-11/' });
  const definition = asl(f.stack);
  const execute = (overrides: Record<string, Handler> = {}, name = 'run-1', input: object = { trigger: 'schedule' }) => executeWith(definition, services(overrides), name, input);

  test('asl-validator accepts the definition', () => {
    const { isValid, errorsText } = aslValidator(definition, { checkArn: false, checkPaths: true });
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
  });

  test('happy path: every call in order, with the run\'s own prefixes, the pinned manifest and the approver recorded', async () => {
    const run = await execute();
    expect(run.error).toBeUndefined();
    expect(run.states).toEqual(['CheckRunLock', 'ValidateData', 'ReadValidation', 'Train', 'ReadTraining', 'ReadProductionVersion', 'Evaluate',
      'ReadEvaluation', 'RegisterVersion', 'CheckRegistered', 'RequestApproval', 'RecheckProductionVersion', 'MarkApproved', 'CreateModel',
      'CreateEndpointConfig', 'UpdateEndpoint', 'DescribeEndpoint']);
    const input = (state: string) => run.calls.find(([s]) => s === state)![1];
    const env = (state: string) => Object.fromEntries(input(state).ContainerOverrides.Environment.map((e: any) => [e.Name, e.Value]));
    expect(env('Train')).toMatchObject({
      MODEL_URI: 's3://TOKEN/candidates/fraud/run-1/',
      OUTPUT_URI: 's3://TOKEN/pipelines/fraud/train/run-1/',
      DATASET_MANIFEST_URI: 's3://TOKEN/pipelines/fraud/validate/run-1/manifest.json',
    });
    expect(env('Train').CHECKPOINT_URI).toMatch(/\/checkpoints\/.*\/run-1\/$/);
    // The version production serves when the run evaluates (v7 of the served state, not the template's v1), the pinned holdout.
    expect(run.call('ReadProductionVersion')).toEqual({ Name: '/mlops/p-prod/served/fraud' });
    expect(env('Evaluate')).toMatchObject({
      OUTPUT_URI: 's3://TOKEN/pipelines/fraud/evaluate/run-1/',
      PRODUCTION_MODEL_URI: 's3://TOKEN/served/fraud/v7/model.tar.gz',
      PRODUCTION_VERSION: 'v7',
      HOLDOUT_URI: 's3://TOKEN/fraud/holdout/2026-11/',
    });
    expect(env('Train').HOLDOUT_URI).toBeUndefined();
    expect(env('Train').PRODUCTION_MODEL_URI).toBeUndefined();
    expect(input('ReadEvaluation').Key).toBe('pipelines/fraud/evaluate/run-1/evaluation.json');
    expect(input('RegisterVersion').InferenceSpecification.Containers[0].ModelDataUrl).toBe('s3://TOKEN/candidates/fraud/run-1/model.tar.gz');
    // ModelMetrics: the evaluation the gates read (quality against production, fairness), the very object ReadEvaluation got.
    const evaluation = { ContentType: 'application/json', S3Uri: `s3://TOKEN/${input('ReadEvaluation').Key}` };
    expect(input('RegisterVersion').ModelMetrics).toEqual({ ModelQuality: { Statistics: evaluation }, Bias: { Report: evaluation } });
    // DriftCheckBaselines: the training data's baseline the validation job wrote (beside the manifest), and the evaluation.
    const validation = (file: string) => ({ ContentType: 'application/json', S3Uri: `s3://TOKEN/pipelines/fraud/validate/run-1/${file}` });
    expect(input('RegisterVersion').DriftCheckBaselines).toEqual({
      ModelDataQuality: { Statistics: validation('statistics.json'), Constraints: validation('constraints.json') },
      ModelQuality: { Statistics: evaluation },
    });
    expect(input('RegisterVersion').CustomerMetadataProperties).toMatchObject({
      datasetVersion: 'd-2026-12-01', candidate: '0.93', baseline: '0.9', baselineVersion: 'v7', holdout: 'fraud/holdout/2026-11/',
    });
    expect(input('RequestApproval').Message).toMatchObject({ taskToken: 'token-1', modelPackageArn: expect.stringContaining('model-package/fraud/7') });
    expect(input('MarkApproved')).toMatchObject({ ModelApprovalStatus: 'Approved', ApprovalDescription: 'Approved by alice', CustomerMetadataProperties: { approvedBy: 'alice' } });
  });

  test('a rejected gate (candidate worse than production although above the job\'s threshold): nothing registered', async () => {
    const worse = { candidate: 0.93, baseline: 0.95, threshold: 0.5, fairnessGap: 0.05 };
    const run = await execute({ ReadEvaluation: async () => ({ Body: JSON.stringify(worse) }) });
    expect(run.error).toBe(MODEL_PIPELINE_OUTCOMES.belowBaseline);
    expect(run.states).not.toContain('RegisterVersion');
  });

  test('an evaluation.json without the production baseline ends EvaluationIncomplete (not a States.Runtime error)', async () => {
    const run = await execute({ ReadEvaluation: async () => ({ Body: JSON.stringify({ candidate: 0.93, threshold: 0.5, fairnessGap: 0.05 }) }) });
    expect(run.error).toBe('EvaluationIncomplete');
    expect(run.states).not.toContain('RegisterVersion');
  });

  test('approval timeout, a "no", or a yes without an approver: the package is marked Rejected, nothing rolls out', async () => {
    const timeout = async () => {
      const e = new Error('no answer in time');
      e.name = 'States.Timeout';
      throw e;
    };
    for (const answer of [timeout, async () => ({ approved: false, approver: 'bob' }), async () => ({ approved: true })]) {
      const run = await execute({ RequestApproval: answer });
      expect(run.error).toBe(MODEL_PIPELINE_OUTCOMES.rejected);
      expect(run.states).not.toContain('UpdateEndpoint');
      expect(run.states).not.toContain('MarkApproved');
      if (answer === timeout) {
        // Nobody answered in time: people are told (the alarm topic), with the timeout as the cause.
        expect(run.states.slice(-4)).toEqual(['RequestApproval', 'MarkRejected', 'FailedListJobs', 'NotifyFailure']);
        const message = run.calls.find(([s]) => s === 'NotifyFailure')![1].Message;
        expect(message).toMatchObject({ event: 'model-pipeline-failed', model: 'fraud', error: 'Rejected', cause: expect.stringContaining('States.Timeout') });
      } else {
        // An answer ends the run at once: a decision, not a failure to report.
        expect(run.states.slice(-2)).toEqual(['RequestApproval', 'MarkRejected']);
      }
    }
  });

  test('a failed rollout ends RolledBack', async () => {
    const run = await execute({ DescribeEndpoint: async () => ({ EndpointStatus: 'Failed', EndpointConfigName: 'fraud-v1' }) });
    expect(run.error).toBe(MODEL_PIPELINE_OUTCOMES.rolledBack);
  });

  test('two overlapping runs: the second stops at the run lock, before any job; the first completes', async () => {
    const running: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const lock = (name: string) => async () => {
      running.push(name);
      return { Executions: running.map((n) => ({ name: n })) };
    };
    const first = execute({ CheckRunLock: lock('run-1'), ValidateData: async () => { await held; return { JobId: 'j', Container: { Image: 'i' } }; } }, 'run-1');
    await new Promise((r) => setTimeout(r, 50));
    const second = await execute({ CheckRunLock: lock('run-2') }, 'run-2');
    expect(second.error).toBe(MODEL_PIPELINE_OUTCOMES.anotherRunActive);
    expect(second.states).toEqual(['CheckRunLock']);
    release();
    const done = await first;
    expect(done.error).toBeUndefined();
    expect(done.states.filter((s) => s === 'ValidateData')).toHaveLength(1);
  });

  /** Where each state can go: Next, Default, Choice rules and Catch handlers. */
  const successors = (state: any): string[] => [
    state.Next, state.Default, ...(state.Choices ?? []).map((c: any) => c.Next), ...(state.Catch ?? []).map((c: any) => c.Next),
  ].filter(Boolean);
  const reaches = (from: string, target: string): boolean => {
    const seen = new Set<string>();
    const queue = [from];
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (name === target) return true;
      if (seen.has(name)) continue;
      seen.add(name);
      queue.push(...successors(definition.States[name] ?? {}));
    }
    return false;
  };

  test('claim: every Task (Map iterations too) retries throttling and server errors with backoff, and a failure reaches the notification and a Fail state', () => {
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(20);
    const maps = Object.entries<any>(definition.States).filter(([, s]) => s.Type === 'Map');
    expect(maps.length).toBeGreaterThan(0);
    for (const [name, task] of tasks) {
      const retry = (task.Retry ?? []).find((r: any) => r.ErrorEquals.includes('ThrottlingException'));
      expect([name, retry?.ErrorEquals]).toEqual([name, expect.arrayContaining(['SageMaker.ThrottlingException', 'Batch.ServerException', 'ServiceUnavailable'])]);
      expect([name, retry.BackoffRate >= 2 && retry.MaxAttempts >= 3]).toEqual([name, true]);
      // The caller's own mistakes and failed jobs are not repeated.
      expect([name, retry.ErrorEquals.some((e: string) => ['States.ALL', 'States.TaskFailed'].includes(e))]).toEqual([name, false]);
      const map = maps.find(([, m]) => m.ItemProcessor.States[name]);
      // A Task inside a Map fails its iteration, which the Map catches.
      const catches = map ? map[1].Catch : task.Catch;
      expect([name, (catches ?? []).some((c: any) => c.ErrorEquals.includes('States.ALL'))]).toEqual([name, true]);
      const target = name === 'NotifyFailure' ? MODEL_PIPELINE_OUTCOMES.failed : 'NotifyFailure';
      expect([name, catches.every((c: any) => reaches(c.Next, target))]).toEqual([name, true]);
    }
    expect(definition.States[MODEL_PIPELINE_OUTCOMES.failed]).toMatchObject({ Type: 'Fail', ErrorPath: '$.failure.error', CausePath: '$.failure.cause' });
  });

  const error = (name: string, message: string) => async () => {
    const e = new Error(message);
    e.name = name;
    throw e;
  };
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const wildcard = (pattern: string) => new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`);

  test('a failed training job: the run\'s Batch jobs are terminated (found by the names the run gave them), people are told, TrainingFailed', async () => {
    const jobs = [{ JobId: 'job-train-1', Status: 'FAILED' }, { JobId: 'job-validate', Status: 'SUCCEEDED' }];
    const run = await execute({
      Train: error('States.TaskFailed', JSON.stringify({ JobId: 'job-train-1', StatusReason: 'Essential container in task exited' })),
      FailedListJobs: async () => ({ JobSummaryList: jobs }),
    });
    expect(run.error).toBe(MODEL_PIPELINE_OUTCOMES.trainingFailed);
    expect(run.states.slice(-4)).toEqual(['FailedListJobs', 'FailedTerminateJob', 'FailedTerminateJob', 'NotifyFailure']);
    expect(run.calls.filter(([s]) => s === 'FailedTerminateJob').map(([, i]) => i.JobId).sort()).toEqual(['job-train-1', 'job-validate']);
    // ListJobs looks for exactly this run's jobs: the names its submissions carried, not another run's.
    const filter = run.call('FailedListJobs').Filters;
    expect(filter).toEqual([{ Name: 'JOB_NAME', Values: [`fraud-${md5('run-1')}-*`] }]);
    for (const state of ['ValidateData', 'Train']) expect(run.call(state).JobName).toMatch(wildcard(filter[0].Values[0]));
    expect(`fraud-${md5('run-2')}-train`).not.toMatch(wildcard(filter[0].Values[0]));
    expect(run.call('NotifyFailure').Message).toMatchObject({
      event: 'model-pipeline-failed',
      model: 'fraud',
      error: 'TrainingFailed',
      cause: expect.stringContaining('Essential container'),
      execution: expect.stringContaining(':run-1'),
    });
    expect(run.states).not.toContain('Unapprove');
  });

  test('a stopped or timed-out run: its status change event starts a cleanup run that terminates that run\'s jobs (no lock, no training)', async () => {
    const event = {
      'source': 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      'detail': { name: 'run-7', status: 'ABORTED', stateMachineArn: 'arn:aws:states:eu-west-1:111111111111:stateMachine:fraud' },
    };
    const run = await execute({ StoppedListJobs: async () => ({ JobSummaryList: [{ JobId: 'job-train-7', Status: 'RUNNING' }] }) }, 'cleanup-1', event);
    expect(run.error).toBeUndefined();
    expect(run.output).toBeDefined();
    expect(run.states).toEqual(['StoppedListJobs', 'StoppedTerminateJob']);
    expect(run.call('StoppedListJobs').Filters[0].Values).toEqual([`fraud-${md5('run-7')}-*`]);
    expect(run.call('StoppedTerminateJob')).toEqual({ JobId: 'job-train-7', Reason: 'The pipeline run was stopped or timed out' });
    // A job that cannot be terminated is told to people.
    const stuck = await execute({
      StoppedListJobs: async () => ({ JobSummaryList: [{ JobId: 'job-train-7' }] }), StoppedTerminateJob: error('Batch.ClientException', 'denied'),
    }, 'cleanup-2', event);
    expect(stuck.error).toBe(MODEL_PIPELINE_OUTCOMES.failed);
    expect(stuck.states.at(-1)).toBe('NotifyFailure');
  });

  test('production moved on while the approval waited (another version promoted): the package is rejected, BaselineChanged, nothing rolls out', async () => {
    const run = await execute({ RecheckProductionVersion: async () => ({ Parameter: { Value: 'current=v9@100' } }) });
    expect(run.error).toBe(MODEL_PIPELINE_OUTCOMES.baselineChanged);
    expect(run.states.slice(run.states.indexOf('RequestApproval'))).toEqual(['RequestApproval', 'RecheckProductionVersion', 'MarkStale', 'FailedListJobs', 'NotifyFailure']);
    expect(run.call('MarkStale')).toMatchObject({ ModelApprovalStatus: 'Rejected', ApprovalDescription: 'Evaluated against v7, production serves v9 now: retrain' });
    expect(run.call('NotifyFailure').Message).toMatchObject({ error: 'BaselineChanged', cause: expect.stringContaining('production serves v9 now') });
  });

  test('a failed rollout: the package is marked Rejected again, people are told; UpdateRollbackFailed ends the loop at once', async () => {
    const packageArn = 'arn:aws:sagemaker:eu-west-1:111111111111:model-package/fraud/7';
    for (const [status, outcome] of [['Failed', 'RolledBack'], ['UpdateRollbackFailed', 'RolloutFailed'], ['OutOfService', 'RolloutFailed']]) {
      const run = await execute({ DescribeEndpoint: async () => ({ EndpointStatus: status, EndpointConfigName: 'fraud-v1' }) });
      expect([status, run.error]).toEqual([status, outcome]);
      expect(run.states.filter((s) => s === 'DescribeEndpoint')).toHaveLength(1);
      expect(run.states.slice(run.states.indexOf('DescribeEndpoint') + 1)).toEqual(['Unapprove', 'FailedListJobs', 'NotifyFailure']);
      expect(run.call('Unapprove')).toMatchObject({ ModelPackageArn: packageArn, ModelApprovalStatus: 'Rejected', ApprovalDescription: expect.stringContaining(outcome) });
    }
    // Back on the previous config (a rollback alarm fired): rolled back, un-approved.
    const back = await execute({ DescribeEndpoint: async () => ({ EndpointStatus: 'InService', EndpointConfigName: 'fraud-v1' }) });
    expect(back.error).toBe(MODEL_PIPELINE_OUTCOMES.rolledBack);
    expect(back.states).toContain('Unapprove');
  });

  test('a rollout that never finishes ends RolloutTimedOut after the rollout\'s time (not the 14-day run timeout); the package stays Approved', async () => {
    const limit = definition.States.RolloutStatus.Choices.find((c: any) => 'NumericGreaterThanEquals' in c).NumericGreaterThanEquals;
    expect(limit * Number(definition.States.WaitForRollout.Seconds)).toBeLessThan(3 * 24 * 3600);
    const run = await execute({ DescribeEndpoint: async () => ({ EndpointStatus: 'Updating', EndpointConfigName: 'fraud-v1' }) });
    expect(run.error).toBe(MODEL_PIPELINE_OUTCOMES.rolloutTimedOut);
    expect(run.states.filter((s) => s === 'DescribeEndpoint')).toHaveLength(limit + 1);
    expect(run.states).not.toContain('Unapprove');
  });

  test('the registered package serves the archive its container reads (MODEL_URI), as the served models do', async () => {
    const run = await execute();
    const [container] = run.call('RegisterVersion').InferenceSpecification.Containers;
    expect(container.ModelDataUrl).toBe('s3://TOKEN/candidates/fraud/run-1/model.tar.gz');
    expect(container.Environment).toEqual({ MODEL_URI: container.ModelDataUrl });
    // The rollout's model is the package (its ModelDataUrl and environment), as the endpoint's own model reads its archive.
    expect(run.call('CreateModel').PrimaryContainer).toEqual({ ModelPackageName: 'arn:aws:sagemaker:eu-west-1:111111111111:model-package/fraud/7' });
    const own = Object.values<any>(Template.fromStack(f.stack).findResources('AWS::SageMaker::Model'))[0].Properties.PrimaryContainer;
    expect(own.Environment.MODEL_URI).toEqual(own.ModelDataUrl);
  });

  test('claim: the gates read numbers the training job cannot write, from an evaluation that read production and a holdout training cannot read', () => {
    // Every policy of the job roles as CloudFormation creates them (the cluster's grants included), both stacks.
    const roles = new IamWalk(environmentTemplates(f.app.synth().directory, ['Data', 'Pipeline']));
    const artifacts = roles.symbol('AWS::S3::Bucket', /StoreArtifacts/, 'Arn');
    const models = roles.symbol('AWS::S3::Bucket', /StoreModels/, 'Arn');
    const datasets = roles.symbol('AWS::S3::Bucket', /StoreDatasets/, 'Arn');
    const trainer = roles.role(/^ClusterTrainJobRole/);
    const evaluator = roles.role(/^ClusterEvaluateJobRole/);
    // What the gates read: the object ReadEvaluation gets.
    const key = definition.States.ReadEvaluation.Parameters['Key.$'];
    expect(key).toBe("States.Format('pipelines/fraud/evaluate/{}/evaluation.json', $$.Execution.Name)");
    const evaluation = `${artifacts}/pipelines/fraud/evaluate/run-1/evaluation.json`;
    for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:PutObjectAcl']) expect([action, roles.allows(trainer, action, evaluation)]).toEqual([action, false]);
    expect(roles.allows(evaluator, 's3:PutObject', evaluation)).toBe(true);
    expect(roles.allows(trainer, 's3:PutObject', `${models}/candidates/fraud/run-1/model.tar.gz`)).toBe(true);
    expect(roles.allows(evaluator, 's3:PutObject', `${models}/candidates/fraud/run-1/model.tar.gz`)).toBe(false);
    // The evaluation reads production and the pinned holdout; training reads its data but never the holdout.
    expect(roles.allows(evaluator, 's3:GetObject', `${models}/served/fraud/v7/model.tar.gz`)).toBe(true);
    expect(roles.allows(evaluator, 's3:GetObject', `${datasets}/fraud/holdout/2026-11/part-0.parquet`)).toBe(true);
    expect(roles.allows(trainer, 's3:GetObject', `${datasets}/fraud/2026-12-01/part-0.parquet`)).toBe(true);
    expect(roles.allows(trainer, 's3:GetObject', `${datasets}/fraud/holdout/2026-11/part-0.parquet`)).toBe(false);
  });
});

describe('ModelPipeline failure alarm, cleanup rule and bounded names (#20.8)', () => {
  const longName = 'fraud-detection-for-card-payments-europe'; // 40 characters, the longest model name
  const f = fixture(EnvironmentProfile.prod(), { modelName: longName });
  const pipeline = new ModelPipeline(f.stack, 'Fraud', { ...f.base, endpoint: f.endpoint });
  const t = Template.fromStack(f.stack);
  const definition = asl(f.stack);
  const machineRef = { Ref: Match.stringLikeRegexp('^FraudStateMachine') };

  test('an alarm on failed, timed-out and stopped runs tells the alarm topic (the pipeline\'s own, encrypted, when none is given)', () => {
    const [alarm] = Object.values<any>(t.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmDescription: Match.stringLikeRegexp('pipeline failed') } }));
    const metrics = alarm.Properties.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric);
    expect(metrics.map((m: any) => m.MetricName).sort()).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    for (const m of metrics) expect(m).toMatchObject({ Namespace: 'AWS/States', Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: expect.stringMatching(/^FraudStateMachine/) } }] });
    expect(alarm.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^FraudAlarmTopic/) }]);
    expect(pipeline.failedRunsAlarm.alarmArn).toBeDefined();
    t.hasResourceProperties('AWS::SNS::Topic', { DisplayName: Match.stringLikeRegexp('pipeline failures'), KmsMasterKeyId: Match.anyValue() });
    // The state machine can publish to both encrypted topics: their key's data keys (SNS encrypts with them).
    const policies = JSON.stringify(Object.values<any>(t.findResources('AWS::IAM::ManagedPolicy'))
      .filter((p) => p.Properties.Description?.startsWith(`State machine of the ${longName} pipeline`)));
    expect(policies).toContain('kms:GenerateDataKey');
    // CloudWatch may use the key to publish the alarm to the encrypted topic.
    expect(JSON.stringify(Template.fromStack(f.data).findResources('AWS::KMS::Key'))).toContain('AllowCloudWatchAlarmsToPublishEncrypted');
  });

  test('a stopped or timed-out run starts the cleanup (its status change event, this state machine only)', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        'detail': { status: ['ABORTED', 'TIMED_OUT'], stateMachineArn: [machineRef] },
      },
      Targets: [Match.objectLike({ Arn: machineRef, Input: Match.absent() })],
    });
    expect(pipeline.cleanupRule).toBeDefined();
  });

  test('SageMaker names of a run stay within 63 characters (40-character model, 80-character run name), inside the role\'s scope', async () => {
    const runName = 'r'.repeat(80);
    let updatedTo = '';
    const fakes = services({
      RegisterVersion: async () => ({ ModelPackageArn: `arn:aws:sagemaker:eu-west-1:111111111111:model-package/${longName}/1` }),
      CheckRegistered: async () => ({ ModelApprovalStatus: 'PendingManualApproval', ModelPackageGroupName: longName }),
      UpdateEndpoint: async (input) => {
        updatedTo = input.EndpointConfigName;
        return {};
      },
      DescribeEndpoint: async () => ({ EndpointStatus: 'InService', EndpointConfigName: updatedTo }),
    });
    const run = await executeWith(definition, fakes, runName);
    expect(run.error).toBeUndefined();
    const names = [run.call('CreateModel').ModelName, run.call('CreateEndpointConfig').EndpointConfigName];
    expect(names[0]).toBe(names[1]);
    expect(names[0].length).toBeLessThanOrEqual(63);
    expect(names[0]).toMatch(/^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/);
    // <prefix>-<MD5 of the run name in hex> (aws-local-stepfunctions 3's MD5 differs from Node's past one block, so
    // the shape is checked here; the cleanup tests check the hash of a short name against Node's).
    expect(names[0]).toMatch(/^fraud-detection-for-c-[0-9a-f]{8}-[0-9a-f]{32}$/);
    // The role may create exactly those names.
    const scope = JSON.stringify(Object.values<any>(t.findResources('AWS::IAM::ManagedPolicy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement).filter((st: any) => [st.Action].flat().includes('sagemaker:CreateModel')));
    const pattern = /:model\/([a-z0-9-]+)-\*/.exec(scope)![1];
    expect(names[0].startsWith(`${pattern}-`)).toBe(true);
    // Batch job names too (at most 128 characters).
    expect(run.call('Train').JobName.length).toBeLessThanOrEqual(128);
  });
});

describe('ModelPipeline with a promotion: an approved version is promoted through ModelPromotion, never UpdateEndpoint (#20.4)', () => {
  const f = fixture(EnvironmentProfile.prod());
  const promotion = new ModelPromotion(f.data, 'Promotion', {
    artifactStore: f.base.artifactStore, environmentPrefix: 'p-prod', alarmTopic: new sns.Topic(f.data, 'Alarms'),
  });
  new ModelPipeline(f.stack, 'Fraud', { ...f.base, promotion });
  const definition = asl(f.stack);
  const PACKAGE = { ModelApprovalStatus: 'Approved', ModelPackageGroupName: 'fraud', CustomerMetadataProperties: { run: 'run-1' } };

  const execute = (overrides: Record<string, Handler> = {}, input: Record<string, unknown> = { trigger: 'schedule' }) =>
    executeWith(definition, services({ ReadPromotedRun: async () => PACKAGE, StartPromotion: async () => ({ Status: 'SUCCEEDED' }), ...overrides }), 'run-1', input);

  test('the promotion step is startExecution.sync of the promotion state machine (by its name-built ARN); no endpoint call at all', () => {
    expect(definition.States.StartPromotion.Resource).toMatch(/^arn:TOKEN:states:::states:startExecution\.sync:2$/);
    expect(definition.States.StartPromotion.Parameters.StateMachineArn).toMatch(/^arn:TOKEN:states:TOKEN:TOKEN:stateMachine:p-prod-promotion$/);
    expect(JSON.stringify(definition)).not.toMatch(/updateEndpoint|createEndpointConfig/);
    const policy = JSON.stringify(Template.fromStack(f.stack).findResources('AWS::IAM::ManagedPolicy'));
    expect(policy).toContain('stateMachine:p-prod-promotion');
    expect(policy).not.toContain('sagemaker:UpdateEndpoint');
  });

  test('approved: promotes the run that trained the package ({model, version, candidate}) and succeeds when the promotion does', async () => {
    const run = await execute();
    expect(run.error).toBeUndefined();
    expect(run.states.slice(-4)).toEqual(['RequestApproval', 'MarkApproved', 'ReadPromotedRun', 'StartPromotion']);
    const promote = run.calls.find(([s]) => s === 'StartPromotion')![1];
    expect(promote.Input).toMatchObject({ model: 'fraud', version: 'run-1', candidate: 'run-1', modelPackageArn: expect.stringContaining('model-package/fraud/') });
    // The package points at what promotion serves for this run (version = run), where another environment copies it
    // from by the package's ARN; the candidate it was copied from is lineage.
    const container = run.call('RegisterVersion').InferenceSpecification.Containers[0];
    expect(container).toMatchObject({ ModelDataUrl: 's3://TOKEN/served/fraud/run-1/model.tar.gz', Environment: { MODEL_URI: 's3://TOKEN/served/fraud/run-1/model.tar.gz' } });
    expect(run.call('RegisterVersion').CustomerMetadataProperties.candidateUri).toBe('s3://TOKEN/candidates/fraud/run-1/model.tar.gz');
    expect(run.call('RegisterVersion').DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri).toBe('s3://TOKEN/pipelines/fraud/validate/run-1/statistics.json');
  });

  test('a failed or rolled-back promotion ends the run RolledBack; a rejected version is never promoted', async () => {
    const failed = async () => {
      const e = new Error('{"Error":"RolledBack"}');
      e.name = 'States.TaskFailed';
      throw e;
    };
    const rolledBack = await execute({ StartPromotion: failed });
    expect(rolledBack.error).toBe(MODEL_PIPELINE_OUTCOMES.rolledBack);
    // Approved before the promotion, so marked Rejected again: the registry never shows it approved and not served.
    expect(rolledBack.states.slice(-4)).toEqual(['StartPromotion', 'Unapprove', 'FailedListJobs', 'NotifyFailure']);
    expect(rolledBack.call('Unapprove')).toMatchObject({ ModelApprovalStatus: 'Rejected' });
    const rejected = await execute({ RequestApproval: async () => ({ approved: false, approver: 'bob' }) });
    expect(rejected.error).toBe(MODEL_PIPELINE_OUTCOMES.rejected);
    expect(rejected.states).not.toContain('StartPromotion');
  });

  test('MlopsPlatform.addModelPipeline passes the platform\'s promotion (fleets and one-variant endpoints alike)', () => {
    const app = newApp();
    const p = new MlopsPlatform(app, 'acme-staging', {
      profile: EnvironmentProfile.staging(),
      certificateArn: TEST_CERTIFICATE_ARN,
      project: 'acme',
      costCenter: 'cc',
      modelFamilies: ['fraud', 'recs', 'shadowed'],
      experimentTracking: false,
      notifyEmails: ['ml-oncall@example.com'],
      servedModels: [
        { name: 'fraud', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't1' },
        { name: 'recs', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't1', rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(10) }) },
        { name: 'shadowed', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't1', rollout: Rollout.shadow({ mirrorPercent: 20 }), variantVersions: { candidate: 'v2' } },
      ],
    });
    const job = (id: string) => p.trainingCluster.addJobDefinition(id, { imageUri: 'public.ecr.aws/acme/train:1', datasetPrefix: 'fraud/' });
    const jobs = (m: string) => ({ validateJob: job(`${m}V`), trainJob: job(`${m}T`), evaluateJob: job(`${m}E`) });
    const fleet = p.addModelPipeline('FraudPipeline', { modelName: 'fraud', servingImageUri: 'public.ecr.aws/acme/serve:1', ...jobs('F') });
    const endpoint = p.addModelPipeline('RecsPipeline', { modelName: 'recs', servingImageUri: 'public.ecr.aws/acme/serve:1', ...jobs('R') });
    const text = (pipeline: ModelPipeline) => JSON.stringify(Template.fromStack(Stack.of(pipeline)).toJSON().Resources[
      Stack.of(pipeline).getLogicalId(pipeline.stateMachine.node.defaultChild as never)].Properties.DefinitionString);
    expect(text(fleet)).toContain('startExecution.sync:2');
    expect(text(fleet)).toContain('stateMachine:acme-staging-promotion');
    expect(text(fleet)).not.toContain('updateEndpoint');
    expect(text(endpoint)).toContain('stateMachine:acme-staging-promotion');
    expect(text(endpoint)).not.toContain('updateEndpoint');
    // Failed runs go to the environment's alarm topic (the one people subscribe to), not a topic of their own.
    expect(fleet.alarmTopic).toBe(p.monitoring.alarmTopic);
    // Both evaluate against the version their served state says production serves when the run evaluates.
    expect(text(fleet)).toContain('/mlops/acme-staging/served/fraud');
    expect(text(endpoint)).toContain('/mlops/acme-staging/served/recs');
    // A shadow endpoint (which no pipeline rolls out to) keeps template-owned versions: no served state, not promotable.
    expect((p.servedModel('shadowed') as ModelEndpoint).servedState).toBeUndefined();
  });
});
