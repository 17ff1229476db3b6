import * as aws from '@pulumi/aws';
import { ACCOUNT, errorOf, installMocks, mockArn, ofType, one, pulumiIam, RecordedResource, REGION, resourcesOf } from './support';
import { executeWith, services } from '../support/pipeline-fakes';
import { allStates } from '../support/state-machines';
import { EnvironmentProfile, MlopsTags, MODEL_PIPELINE_OUTCOMES, ModelApproval, NEW_DATA_MARKER, ValidationError } from 'mlops-constructs';
import { ArtifactStore, GpuTrainingCluster, ImageRepository, ModelPipeline, ModelPipelineArgs, ModelRegistry } from 'mlops-constructs/pulumi';

/*
 * The Pulumi ModelPipeline: the definition as the Pulumi program renders it (the input of the aws.sfn.StateMachine)
 * executed offline with the fakes the CDK tests use, through the happy path and the main failure paths; the role's
 * policies evaluated with the IAM walker.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const MACHINE = 'aws:sfn/stateMachine:StateMachine';
const PROMOTION = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:p-prod-promotion`;
const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] };
const DRIFT_ALARM = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:fraud-drift`;

function pieces(n: string, profile: EnvironmentProfile) {
  const tags = MlopsTags.of({ project: 'p', environment: profile.name, team: 'fraud' });
  const artifactStore = new ArtifactStore(`${n}-store`, { profile, tags });
  const registry = new ModelRegistry(`${n}-registry`, { ...net, profile, tags });
  registry.addModelPackageGroup('fraud');
  const images = ImageRepository.fromRepositoryName(`${n}-images`, 'ml/training');
  const cluster = new GpuTrainingCluster(`${n}-cluster`, { ...net, profile, tags, artifactStore, teams: [{ name: 'fraud' }] });
  const job = (id: string) => cluster.addJobDefinition(id, { imageRepository: images, imageTag: id, gpus: 1 });
  const base: ModelPipelineArgs = {
    profile,
    tags,
    modelName: 'fraud',
    registry,
    artifactStore,
    validateJob: job('validate'),
    trainJob: job('train'),
    evaluateJob: job('evaluate'),
    servingImageUri: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/ml/serving:1`,
  };
  return { base, cluster };
}

let prod: { resources: RecordedResource[]; definition: Json };
let dev: { resources: RecordedResource[]; definition: Json };

beforeAll(async () => {
  const p = pieces('mpp', EnvironmentProfile.prod());
  const approver = new aws.iam.Role('mpp-approver', { assumeRolePolicy: '{}' });
  new ModelPipeline('mpp', {
    ...p.base,
    servedState: { name: '/mlops/p-prod/served/fraud', arn: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/mlops/p-prod/served/fraud` },
    promotionStateMachineArn: PROMOTION,
    holdoutPrefix: 'fraud/holdout/2026-11/',
    approvers: { emails: ['ml-approvers@example.com'], grantees: [approver] },
    triggers: { schedule: 'cron(0 3 ? * SUN *)', onNewData: true, alarms: [DRIFT_ALARM] },
  });
  const resources = await resourcesOf('mpp');
  prod = { resources, definition: JSON.parse(one(resources, MACHINE, 'mpp-state-machine').inputs.definition) };
  const d = pieces('mpd', EnvironmentProfile.dev());
  new ModelPipeline('mpd', d.base);
  const devResources = await resourcesOf('mpd');
  dev = { resources: devResources, definition: JSON.parse(one(devResources, MACHINE, 'mpd-state-machine').inputs.definition) };
});

const PACKAGE = { ModelApprovalStatus: 'Approved', ModelPackageGroupName: 'fraud', CustomerMetadataProperties: { run: 'run-1' } };
const promoted = { ReadPromotedRun: async () => PACKAGE, StartPromotion: async () => ({ Status: 'SUCCEEDED' }) };

describe('Pulumi ModelPipeline executed from its deployed definition', () => {
  test('happy path: lock, validate, train, read production, evaluate, register with lineage, approval by a named approver, promotion of the run', async () => {
    const run = await executeWith(prod.definition, services(promoted));
    expect(run.ok).toBe(true);
    expect(run.states).toEqual([
      'CheckRunLock', 'ValidateData', 'ReadValidation', 'Train', 'ReadTraining', 'ReadProductionVersion', 'Evaluate', 'ReadEvaluation', 'RegisterVersion',
      'CheckRegistered', 'RequestApproval', 'RecheckProductionVersion', 'MarkApproved', 'ReadPromotedRun', 'StartPromotion',
    ]);
    const env = (state: string) => Object.fromEntries(run.call(state).ContainerOverrides.Environment.map((e: Json) => [e.Name, e.Value]));
    expect(env('Train')).toMatchObject({
      MODEL_URI: 's3://mpp-store-models/candidates/fraud/run-1/', DATASET_MANIFEST_URI: 's3://mpp-store-artifacts/pipelines/fraud/validate/run-1/manifest.json',
    });
    expect(env('Evaluate')).toMatchObject({
      PRODUCTION_VERSION: 'v7', PRODUCTION_MODEL_URI: 's3://mpp-store-models/served/fraud/v7/model.tar.gz', HOLDOUT_URI: 's3://mpp-store-datasets/fraud/holdout/2026-11/',
    });
    expect(run.call('RegisterVersion').CustomerMetadataProperties).toMatchObject({ run: 'run-1', baselineVersion: 'v7', datasetVersion: 'd-2026-12-01' });
    expect(run.call('MarkApproved').CustomerMetadataProperties).toEqual({ approvedBy: 'alice' });
    expect(run.call('StartPromotion')).toMatchObject({ StateMachineArn: PROMOTION, Input: { model: 'fraud', version: 'run-1', candidate: 'run-1' } });
  });

  test('gates: a worse candidate ends BelowBaseline and a fairness gap above prod\'s 0.1 ends BiasAboveThreshold, nothing registered', async () => {
    const evaluation = (value: object) => services({ ReadEvaluation: async () => ({ Body: JSON.stringify(value) }) });
    const worse = await executeWith(prod.definition, evaluation({ candidate: 0.89, baseline: 0.9, threshold: 0.85, fairnessGap: 0.01 }));
    expect(worse.error).toBe(MODEL_PIPELINE_OUTCOMES.belowBaseline);
    const biased = await executeWith(prod.definition, evaluation({ candidate: 0.95, baseline: 0.9, threshold: 0.9, fairnessGap: 0.2 }));
    expect(biased.error).toBe(MODEL_PIPELINE_OUTCOMES.biasAboveThreshold);
    for (const run of [worse, biased]) expect(run.states).not.toContain('RegisterVersion');
  });

  test('failures: a failed training job terminates the run\'s jobs and tells the alarm topic; a "no" marks the package Rejected; a failed promotion un-approves it (RolledBack)', async () => {
    const failedJob = { Error: 'States.TaskFailed', Cause: JSON.stringify({ StatusReason: 'Essential container in task exited' }) };
    const training = await executeWith(prod.definition, services({
      Train: async () => { throw Object.assign(new Error(failedJob.Cause), { name: failedJob.Error }); },
      FailedListJobs: async () => ({ JobSummaryList: [{ JobId: 'job-validate' }] }),
    }));
    expect(training.error).toBe(MODEL_PIPELINE_OUTCOMES.trainingFailed);
    expect(training.states.slice(-3)).toEqual(['FailedListJobs', 'FailedTerminateJob', 'NotifyFailure']);
    expect(training.call('NotifyFailure').TopicArn).toBe(mockArn('aws:sns/topic:Topic', 'mpp-alarms'));
    const no = await executeWith(prod.definition, services({ RequestApproval: async () => ({ approved: false, approver: 'bob' }) }));
    expect(no.error).toBe(MODEL_PIPELINE_OUTCOMES.rejected);
    expect(no.call('MarkRejected')).toMatchObject({ ModelApprovalStatus: 'Rejected' });
    const promotion = await executeWith(prod.definition, services({ ...promoted, StartPromotion: async () => { throw new Error('rolled back'); } }));
    expect(promotion.error).toBe(MODEL_PIPELINE_OUTCOMES.rolledBack);
    expect(promotion.call('Unapprove')).toMatchObject({ ModelApprovalStatus: 'Rejected' });
    const locked = await executeWith(prod.definition, services({ CheckRunLock: async () => ({ Executions: [{ name: 'a' }, { name: 'b' }] }) }));
    expect([locked.error, locked.states]).toEqual([MODEL_PIPELINE_OUTCOMES.anotherRunActive, ['CheckRunLock']]);
  });

  test('dev: automatic approval (no task token), the dev fairness gap, no promotion: the approved version is the end', async () => {
    const run = await executeWith(dev.definition, services());
    expect(run.ok).toBe(true);
    expect(run.states).not.toContain('RequestApproval');
    expect(run.states.at(-1)).toBe('MarkApproved');
    expect(dev.definition.States.FairnessWithinThreshold.Choices[0].NumericLessThanEquals).toBe(EnvironmentProfile.dev().alarms.fairnessGap);
  });

  test('every Task retries throttling and server errors with backoff', () => {
    for (const [name, state] of allStates(prod.definition).filter(([, s]) => s.Type === 'Task')) {
      expect([name, state.Retry?.[0]?.ErrorEquals]).toEqual([name, expect.arrayContaining(['ThrottlingException', 'SageMaker.ThrottlingException'])]);
    }
  });
});

describe('Pulumi ModelPipeline triggers (core\'s rules, as the CDK pipeline renders them)', () => {
  const RULE = 'aws:cloudwatch/eventRule:EventRule';
  const TARGET = 'aws:cloudwatch/eventTarget:EventTarget';
  const machineArn = () => mockArn(MACHINE, 'mpp-state-machine');
  const targetOf = (resources: RecordedResource[], rule: string) => one(resources, TARGET, `${rule}-target`).inputs;

  test('schedule, the completion marker of a data drop below fraud/ in the datasets bucket, the drift alarm going to ALARM: each starts this pipeline as the trigger role with its trigger', () => {
    expect(one(prod.resources, RULE, 'mpp-schedule-trigger').inputs).toMatchObject({ scheduleExpression: 'cron(0 3 ? * SUN *)', description: 'Retrain fraud on a schedule' });
    expect(one(prod.resources, RULE, 'mpp-schedule-trigger').inputs.eventPattern).toBeUndefined();
    expect(JSON.parse(one(prod.resources, RULE, 'mpp-new-data-trigger').inputs.eventPattern)).toEqual({
      'source': ['aws.s3'],
      'detail-type': ['Object Created'],
      'detail': { bucket: { name: ['mpp-store-datasets'] }, object: { key: [{ wildcard: `fraud/*${NEW_DATA_MARKER}` }] } },
    });
    expect(JSON.parse(one(prod.resources, RULE, 'mpp-alarm-trigger').inputs.eventPattern)).toEqual({
      'source': ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'], 'resources': [DRIFT_ALARM], 'detail': { state: { value: ['ALARM'] } },
    });
    for (const [rule, trigger] of [['mpp-schedule-trigger', 'schedule'], ['mpp-new-data-trigger', 'new-data'], ['mpp-alarm-trigger', 'alarm']]) {
      const target = targetOf(prod.resources, rule);
      expect([rule, target.arn, target.roleArn, JSON.parse(target.input)])
        .toEqual([rule, machineArn(), mockArn('aws:iam/role:Role', 'mpp-trigger-role'), { trigger }]);
    }
  });

  test('a run started by a trigger rule (its input as the rule sends it) trains and hands the version to the promotion', async () => {
    const input = JSON.parse(targetOf(prod.resources, 'mpp-new-data-trigger').input);
    const run = await executeWith(prod.definition, services(promoted), 'run-1', input);
    expect([run.ok, run.states.at(-1)]).toEqual([true, 'StartPromotion']);
  });

  test('the trigger role may start this pipeline and do nothing else; only EventBridge assumes it', () => {
    const walk = pulumiIam(prod.resources);
    const role = walk.role('mpp-trigger-role');
    expect(walk.allows(role, 'states:StartExecution', machineArn())).toBe(true);
    for (const [action, resource] of [
      ['states:StartExecution', PROMOTION], ['states:StartExecution', mockArn(MACHINE, 'mpd-state-machine')], ['states:StopExecution', machineArn()],
      ['states:SendTaskSuccess', machineArn()], ['sagemaker:UpdateEndpoint', `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/fraud`],
    ]) {
      expect([action, resource, walk.allows(role, action, resource)]).toEqual([action, resource, false]);
    }
    expect(JSON.parse(one(prod.resources, 'aws:iam/role:Role', 'mpp-trigger-role').inputs.assumeRolePolicy).Statement.map((st: Json) => st.Principal))
      .toEqual([{ Service: 'events.amazonaws.com' }]);
  });

  test('no triggers by default: the cleanup rule (stopped runs) is the only rule that starts the pipeline', () => {
    const starting = ofType(dev.resources, TARGET).filter((t) => t.inputs.arn === mockArn(MACHINE, 'mpd-state-machine'));
    expect(starting.map((t) => t.name)).toEqual(['mpd-cleanup-target']);
  });
});

describe('Pulumi ModelPipeline IAM (claims, IAM walker)', () => {
  test('the pipeline role cannot write served/ (nor candidates); it reads only its run outputs; it may start only the promotion it is given', () => {
    const walk = pulumiIam(prod.resources);
    const role = walk.role('mpp-role');
    const models = mockArn('aws:s3/bucket:Bucket', 'mpp-store-models');
    const artifacts = mockArn('aws:s3/bucket:Bucket', 'mpp-store-artifacts');
    for (const key of ['served/fraud/run-1/model.tar.gz', 'candidates/fraud/run-1/model.tar.gz']) {
      expect([key, walk.allows(role, 's3:PutObject', `${models}/${key}`)]).toEqual([key, false]);
    }
    expect(walk.allows(role, 's3:GetObject', `${artifacts}/pipelines/fraud/evaluate/run-1/evaluation.json`)).toBe(true);
    expect(walk.allows(role, 's3:GetObject', `${artifacts}/pipelines/other/evaluate/run-1/evaluation.json`)).toBe(false);
    expect(walk.allows(role, 'states:StartExecution', PROMOTION)).toBe(true);
    expect(walk.allows(role, 'states:StartExecution', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:another`)).toBe(false);
    expect(walk.allows(role, 'sagemaker:UpdateModelPackage', `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/fraud/7`)).toBe(true);
    expect(walk.allows(role, 'sagemaker:UpdateModelPackage', `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/other/7`)).toBe(false);
    // Submissions: on its queue, and never another team's job definition (which job-definition/* would allow).
    expect(walk.allows(role, 'batch:SubmitJob', mockArn('aws:batch/jobQueue:JobQueue', 'mpp-cluster-queue'))).toBe(true);
    expect(walk.allows(role, 'batch:SubmitJob', `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/other-team:1`)).toBe(false);
  });

  test('the training job cannot write the evaluation the gates read nor read the pinned holdout; the evaluation job cannot write candidates', () => {
    const walk = pulumiIam(prod.resources);
    const artifacts = mockArn('aws:s3/bucket:Bucket', 'mpp-store-artifacts');
    const datasets = mockArn('aws:s3/bucket:Bucket', 'mpp-store-datasets');
    const models = mockArn('aws:s3/bucket:Bucket', 'mpp-store-models');
    const train = walk.role('mpp-cluster-train-job-role');
    const evaluate = walk.role('mpp-cluster-evaluate-job-role');
    expect(walk.allows(train, 's3:PutObject', `${artifacts}/pipelines/fraud/evaluate/run-1/evaluation.json`)).toBe(false);
    expect(walk.allows(train, 's3:PutObject', `${artifacts}/pipelines/fraud/train/run-1/training.json`)).toBe(true);
    expect(walk.allows(train, 's3:GetObject', `${datasets}/fraud/holdout/2026-11/part-0.parquet`)).toBe(false);
    expect(walk.allows(evaluate, 's3:PutObject', `${artifacts}/pipelines/fraud/evaluate/run-1/evaluation.json`)).toBe(true);
    expect(walk.allows(evaluate, 's3:PutObject', `${models}/candidates/fraud/run-1/model.tar.gz`)).toBe(false);
    expect(walk.allows(evaluate, 's3:GetObject', `${datasets}/fraud/holdout/2026-11/part-0.parquet`)).toBe(true);
  });
});

describe('Pulumi ModelPipeline bad input', () => {
  let badTriggerPieces: ReturnType<typeof pieces> | undefined;
  test('manual approval without approvers, automatic approval in prod, an evaluation as the training role: ValidationErrors naming the fix', () => {
    const p = pieces('mpb', EnvironmentProfile.prod());
    const noApprovers = errorOf(() => new ModelPipeline('mpb1', p.base));
    expect(noApprovers).toBeInstanceOf(ValidationError);
    expect([noApprovers.prop, noApprovers.problem]).toEqual(['approvers.grantees', 'must name who may approve (MANUAL approval)']);
    const automatic = errorOf(() => new ModelPipeline('mpb2', { ...p.base, approval: ModelApproval.AUTOMATIC }));
    expect([automatic.prop, automatic.problem]).toEqual(['approval', "is not allowed in the 'prod' profile"]);
    const sameRole = errorOf(() => new ModelPipeline('mpb3', { ...p.base, evaluateJob: p.base.trainJob }));
    expect(sameRole.prop).toBe('evaluateJob');
    const unknownModel = errorOf(() => new ModelPipeline('mpb4', { ...p.base, modelName: 'churn' }));
    expect([unknownModel.prop, unknownModel.problem]).toEqual(['modelName', 'has no model package group in the registry']);
  });

  test.each([
    [{ schedule: 'cron(0 3 * * * *)' }, 'triggers.schedule', "must have '?' in exactly one of its day-of-month and day-of-week fields"],
    [{ schedule: 'cron(0 3 ? * SUN)' }, 'triggers.schedule', 'must have six cron fields (minutes hours day-of-month month day-of-week year)'],
    [{ schedule: 'rate(1 days)' }, 'triggers.schedule', 'must name its unit in the singular for 1 (EventBridge rejects it otherwise)'],
    [{ schedule: 'rate(7 day)' }, 'triggers.schedule', 'must name its unit in the plural for more than 1 (EventBridge rejects it otherwise)'],
    [{ schedule: 'rate(0 minutes)' }, 'triggers.schedule', 'must be at least one minute apart'],
    [{ schedule: 'every sunday' }, 'triggers.schedule', 'is not a cron(...) or rate(...) expression'],
    [{ alarms: ['fraud-drift'] }, 'triggers.alarms', 'is not a CloudWatch alarm ARN (its state changes name the alarm by ARN)'],
    [{ onNewData: 'yes' }, 'triggers.onNewData', 'must be true or false'],
  ])('triggers %j: a ValidationError naming the prop and the fix', (triggers, prop, problem) => {
    // One set of pieces for every case: the pipeline fails before creating anything.
    badTriggerPieces ??= pieces('mpt', EnvironmentProfile.dev());
    const error = errorOf(() => new ModelPipeline('mpt', { ...badTriggerPieces!.base, triggers: triggers as ModelPipelineArgs['triggers'] }));
    expect(error).toBeInstanceOf(ValidationError);
    expect([error.prop, error.problem]).toEqual([prop, problem]);
    expect(error.fix).toMatch(/cron\(0 3 \? \* SUN \*\)|rate\(|alarm\.arn|true/);
  });
});
