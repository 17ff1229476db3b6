import { createHash } from 'crypto';
import * as aws from '@pulumi/aws';
import { ACCOUNT, errorOf, installMocks, mockArn, ofType, one, pulumiIam, RecordedResource, REGION, resourcesOf } from './support';
import { executeWith, services } from '../support/pipeline-fakes';
import { allStates } from '../support/state-machines';
import { EnvironmentProfile, MlopsTags, MODEL_PIPELINE_OUTCOMES, ModelApproval, NEW_DATA_MARKER, Rollout, ValidationError } from 'mlops-constructs';
import { ArtifactStore, GpuTrainingCluster, ImageRepository, ModelEndpoint, ModelPipeline, ModelPipelineArgs, ModelRegistry } from 'mlops-constructs/pulumi';

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
  return { base, cluster, artifactStore, tags };
}

/** A prod endpoint serving `modelName` with a canary rollout (30-minute bake) and its default rollback alarms. */
interface EndpointOptions {
  readonly modelName?: string;
  readonly rollout?: Rollout;
  readonly variantVersions?: Record<string, string>;
}
function endpointOf(n: string, p: ReturnType<typeof pieces>, options: EndpointOptions = {}) {
  return new ModelEndpoint(`${n}-endpoint`, {
    profile: EnvironmentProfile.prod(),
    tags: p.tags,
    ...net,
    artifactStore: p.artifactStore,
    image: ImageRepository.fromRepositoryName(`${n}-serving`, 'ml/serving'),
    imageTag: 'serve-1',
    modelName: options.modelName ?? 'fraud',
    modelVersion: 'v1',
    endpointName: `${n}-fraud`,
    rollout: options.rollout ?? Rollout.canary({ percent: 10, bake: { toSeconds: () => 1800 } as never }),
    variantVersions: options.variantVersions,
  });
}

let prod: { resources: RecordedResource[]; definition: Json };
let dev: { resources: RecordedResource[]; definition: Json };
let rollout: { resources: RecordedResource[]; definition: Json };

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
  // The pipeline's own rollout to its endpoint (no promotion), as a standalone prod pipeline.
  const e = pieces('mpe', EnvironmentProfile.prod());
  new ModelPipeline('mpe', {
    ...e.base,
    endpoint: endpointOf('mpe', e),
    approvers: { emails: ['ml-approvers@example.com'], grantees: [new aws.iam.Role('mpe-approver', { assumeRolePolicy: '{}' })] },
  });
  const rolloutResources = await resourcesOf('mpe');
  rollout = { resources: rolloutResources, definition: JSON.parse(one(rolloutResources, MACHINE, 'mpe-state-machine').inputs.definition) };
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

describe('Pulumi ModelPipeline rolling out to its endpoint (no promotion), executed from its deployed definition', () => {
  const PACKAGE_ARN = 'arn:aws:sagemaker:eu-west-1:111111111111:model-package/fraud/7';
  const ROLLOUT_STATES = ['CreateModel', 'CreateEndpointConfig', 'UpdateEndpoint', 'DescribeEndpoint'];

  test('happy path: the approved package becomes a model and configuration of the run on the endpoint\'s role, network and variant, and the endpoint updates with its canary guardrails and rollback alarms', async () => {
    const run = await executeWith(rollout.definition, services());
    expect(run.ok).toBe(true);
    expect(run.states.slice(run.states.indexOf('MarkApproved'))).toEqual(['MarkApproved', ...ROLLOUT_STATES]);
    const env = Object.fromEntries(run.call('Evaluate').ContainerOverrides.Environment.map((x: Json) => [x.Name, x.Value]));
    // No served state: production is the archive the endpoint's template serves.
    expect(env.PRODUCTION_MODEL_URI).toBe('s3://mpe-store-models/served/fraud/v1/model.tar.gz');
    const name = `fraud-${createHash('md5').update('run-1').digest('hex')}`;
    expect(run.call('CreateModel')).toEqual({
      ModelName: name,
      ExecutionRoleArn: mockArn('aws:iam/role:Role', 'mpe-endpoint-execution-role'),
      PrimaryContainer: { ModelPackageName: PACKAGE_ARN },
      EnableNetworkIsolation: true,
      VpcConfig: { Subnets: net.subnetIds, SecurityGroupIds: ['mpe-endpoint-sg-id'] },
    });
    const config = run.call('CreateEndpointConfig');
    // The endpoint's variant, instance type and minimum capacity (prod keeps 2 instances warm).
    expect(config.ProductionVariants).toEqual([{ VariantName: 'current', ModelName: name, InstanceType: expect.stringMatching(/^ml\./), InitialInstanceCount: 2 }]);
    expect(config.DataCaptureConfig).toMatchObject({
      EnableCapture: true,
      DestinationS3Uri: 's3://mpe-store-artifacts/data-capture/mpe-fraud/',
      KmsKeyId: mockArn('aws:kms/key:Key', 'mpe-store-key'),
      CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
    });
    const update = run.call('UpdateEndpoint');
    expect(update).toMatchObject({ EndpointName: 'mpe-fraud', EndpointConfigName: name });
    expect(update.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration).toEqual({
      Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 1800,
    });
    // The endpoint's own rollback alarms (error rate and p99 latency of its variant) roll the update back.
    const alarms = update.DeploymentConfig.AutoRollbackConfiguration.Alarms.map((a: Json) => a.AlarmName);
    expect(alarms.sort()).toEqual(ofType(rollout.resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').filter((a) => a.name.startsWith('mpe-endpoint-')).map((a) => a.name).sort());
    expect(alarms).toHaveLength(2);
  });

  test('a guardrail rollback (endpoint back on its old config) or a failed update ends RolledBack and marks the package Rejected again; UpdateRollbackFailed ends RolloutFailed', async () => {
    for (const [status, config, outcome] of [
      ['InService', 'fraud-v1', MODEL_PIPELINE_OUTCOMES.rolledBack], ['Failed', 'fraud-v1', MODEL_PIPELINE_OUTCOMES.rolledBack],
      ['UpdateRollbackFailed', 'fraud-v1', MODEL_PIPELINE_OUTCOMES.rolloutFailed],
    ]) {
      const describe = async () => ({ EndpointStatus: status, EndpointConfigName: config });
      const run = await executeWith(rollout.definition, services({ DescribeEndpoint: describe }));
      expect([status, run.error]).toEqual([status, outcome]);
      expect(run.states.slice(run.states.indexOf('DescribeEndpoint') + 1)).toEqual(['Unapprove', 'FailedListJobs', 'NotifyFailure']);
      expect(run.call('Unapprove')).toMatchObject({ ModelPackageArn: PACKAGE_ARN, ModelApprovalStatus: 'Rejected' });
    }
    // The update call itself refused: the same path.
    const refused = await executeWith(rollout.definition, services({ UpdateEndpoint: async () => { throw Object.assign(new Error('busy'), { name: 'SageMaker.ValidationException' }); } }));
    expect(refused.error).toBe(MODEL_PIPELINE_OUTCOMES.failed);
    expect(refused.call('Unapprove')).toMatchObject({ ModelApprovalStatus: 'Rejected' });
  });

  test('the role may create only this model\'s run models and configs, update only its endpoint, pass only the endpoint\'s role, and create grants on the endpoint key only for AWS resources; it starts no state machine', () => {
    const walk = pulumiIam(rollout.resources);
    const role = walk.role('mpe-role');
    const sagemaker = (resource: string) => `arn:aws:sagemaker:${REGION}:${ACCOUNT}:${resource}`;
    const keyArn = mockArn('aws:kms/key:Key', 'mpe-endpoint-key');
    const claims: Array<[string, string, boolean, Record<string, boolean>?]> = [
      ['sagemaker:CreateModel', sagemaker('model/fraud-0123'), true],
      ['sagemaker:CreateModel', sagemaker('model/other-0123'), false],
      ['sagemaker:CreateEndpointConfig', sagemaker('endpoint-config/fraud-0123'), true],
      ['sagemaker:UpdateEndpoint', sagemaker('endpoint/mpe-fraud'), true],
      ['sagemaker:UpdateEndpoint', sagemaker('endpoint/other'), false],
      ['iam:PassRole', mockArn('aws:iam/role:Role', 'mpe-endpoint-execution-role'), true],
      ['iam:PassRole', mockArn('aws:iam/role:Role', 'mpe-role'), false],
      ['kms:CreateGrant', keyArn, true, { 'kms:GrantIsForAWSResource': true }],
      ['kms:CreateGrant', keyArn, false, { 'kms:GrantIsForAWSResource': false }],
      ['kms:DescribeKey', keyArn, true],
      ['states:StartExecution', PROMOTION, false],
    ];
    for (const [action, resource, allowed, context] of claims) {
      expect([action, resource, walk.allows(role, action, resource, context)]).toEqual([action, resource, allowed]);
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
    // The job is named as it was added to the cluster (core's check, the CDK pipeline's: there its construct path).
    expect([sameRole.prop, sameRole.value, sameRole.problem]).toEqual(['evaluateJob', 'train', "runs as the training job's role (it could write the evaluation the gates read)"]);
    expect(sameRole.fix).toBe("add a job definition of its own for evaluation, e.g. trainingCluster.addJobDefinition('evaluate', ...).");
    const noImage = errorOf(() => new ModelPipeline('mpb5', { ...p.base, servingImageUri: '' }));
    expect([noImage.prop, noImage.problem]).toEqual(['servingImageUri', 'is required']);
    const notAJob = errorOf(() => new ModelPipeline('mpb6', { ...p.base, trainJob: {} as never }));
    expect([notAJob.prop, notAJob.problem, notAJob.fix])
      .toEqual(['trainJob', 'must be a job added to the training cluster', "pass the result of trainingCluster.addJobDefinition(...) as 'trainJob'."]);
    const unknownModel = errorOf(() => new ModelPipeline('mpb4', { ...p.base, modelName: 'churn' }));
    expect([unknownModel.prop, unknownModel.problem]).toEqual(['modelName', 'has no model package group in the registry']);
  });

  test('an endpoint of another model, a shadow endpoint, and one hosting an inference component without promotion: the CDK pipeline\'s ValidationErrors', () => {
    const p = pieces('mpx', EnvironmentProfile.prod());
    const approvers = { emails: ['ml@example.com'], grantees: [new aws.iam.Role('mpx-approver', { assumeRolePolicy: '{}' })] };
    const other = errorOf(() => new ModelPipeline('mpx1', { ...p.base, approvers, endpoint: endpointOf('mpx1', p, { modelName: 'churn' }) }));
    expect([other.prop, other.value, other.problem]).toEqual(['endpoint', 'mpx1-fraud', "does not serve 'fraud' (its artifacts are not below 'fraud/')"]);
    expect(other.fix).toContain("roll 'fraud' out to an endpoint with modelName 'fraud'");
    const shadow = errorOf(() => new ModelPipeline('mpx2', {
      ...p.base, approvers, endpoint: endpointOf('mpx2', p, { rollout: Rollout.shadow(), variantVersions: { candidate: 'v2' } }),
    }));
    expect(shadow).toBeInstanceOf(ValidationError);
    expect(shadow.prop).toBe('endpoint.rollout');
    // The Pulumi endpoint does not host inference components yet: one that does (as a CDK endpoint scaling to zero) is refused.
    const endpoint = endpointOf('mpx3', p);
    const component = Object.assign(Object.create(endpoint), { spec: { ...endpoint.spec, hosting: 'inference-component' } });
    const refused = errorOf(() => new ModelPipeline('mpx3', { ...p.base, approvers, endpoint: component }));
    expect([refused.prop, refused.problem]).toEqual(['endpoint', 'scales to zero off hours (its model is an inference component), which the pipeline cannot update in place']);
    expect(refused.fix).toContain("pass 'promotionStateMachineArn'");
    // With the promotion it is accepted: the promotion serves the version.
    expect(() => new ModelPipeline('mpx4', { ...p.base, approvers, endpoint: component, promotionStateMachineArn: PROMOTION })).not.toThrow();
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
