import { createHash } from 'crypto';
import { NeutralStatement } from './brake-definition';
import { ModelApproval, MODEL_PIPELINE_OUTCOMES, MODEL_PIPELINE_SPOT_RETRIES, ModelPipelineSpec } from './model-pipeline-spec';
import { Rollout, RolloutKind } from './rollout';
import { MODEL_ARTIFACT_LAYOUT } from './served-models';
import { transientServiceErrors } from './state-machine-errors';

const OUT = MODEL_PIPELINE_OUTCOMES;
/** What every Task retries: throttling and server errors of the services the state machine calls. */
const TRANSIENT_ERRORS = transientServiceErrors(['Batch', 'S3', 'SageMaker', 'Sfn', 'SFN', 'StepFunctions', 'Sns', 'SNS']);
/** Endpoint states an update does not leave by itself: the rollout stops polling and fails. */
const ENDPOINT_STATES_NOT_SERVING = ['UpdateRollbackFailed', 'OutOfService', 'Deleting'];
/** Longest SageMaker model and endpoint config name. */
const SAGEMAKER_NAME_LENGTH = 63;
/** An MD5 in hex, the run part of the SageMaker names a rollout creates. */
const RUN_HASH_LENGTH = 32;
const RUN = '$$.Execution.Name';

/** A Batch job definition a pipeline step submits, as each engine names it. */
export interface PipelineJob {
  readonly jobDefinitionArn: string;
  readonly jobQueueArn: string;
  /** `s3://` prefix of the job's checkpoints: each run checkpoints below `<checkpointUri><run>/`. */
  readonly checkpointUri: string;
}

/** The environment's promotion state machine an approved version is handed to. */
export interface PipelinePromotion {
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
}

/** An endpoint the pipeline rolls approved versions out to itself (SageMaker deployment guardrails). */
export interface PipelineEndpointRollout {
  readonly endpointName: string;
  /** The endpoint's execution role (the new models run as it). */
  readonly roleArn: string;
  readonly vpcConfig?: { readonly Subnets: string[]; readonly SecurityGroupIds: string[] };
  /** The endpoint config's volume key, when it has one. */
  readonly kmsKeyId?: string;
  /** The endpoint config's data capture, with the API's PascalCase keys. */
  readonly dataCaptureConfig?: unknown;
  readonly variantName: string;
  /** EC2 instance type without the `ml.` prefix. */
  readonly instanceType: string;
  readonly initialInstanceCount: number;
  readonly rollout: Rollout;
  readonly rollbackAlarmNames: string[];
}

/** What a retraining pipeline's state machine is built from, as each engine renders it (values may be deploy-time tokens). */
export interface PipelineDefinitionOptions {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly spec: ModelPipelineSpec;
  readonly comment: string;
  /** Bucket names of the artifact store. */
  readonly buckets: { readonly artifacts: string; readonly models: string; readonly datasets: string };
  readonly artifactsBucketArn: string;
  readonly jobs: { readonly validate: PipelineJob; readonly train: PipelineJob; readonly evaluate: PipelineJob };
  readonly servingImageUri: string;
  readonly approvalTopicArn: string;
  readonly alarmTopicArn: string;
  /** The model's served state: production is the version it serves when the run evaluates. */
  readonly servedState?: { readonly parameterName: string; readonly parameterArn: string };
  /** Without a served state: the archive production serves (an endpoint's template version), if any. */
  readonly productionModelUri?: string;
  readonly holdoutPrefix?: string;
  /** Approved versions are promoted through it (it wins over `endpoint`). */
  readonly promotion?: PipelinePromotion;
  readonly endpoint?: PipelineEndpointRollout;
}

/** An ASL state machine definition. */
export interface PipelineDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
  readonly TimeoutSeconds: number;
  readonly Comment: string;
}

/**
 * Prefix of the SageMaker model and endpoint config names a rollout creates (`<prefix>-<MD5 of the run name>`): the
 * model name when it fits in 30 characters, else its first 21 and 8 hex of its SHA-256, so names never exceed 63.
 */
export function pipelineSageMakerNamePrefix(modelName: string): string {
  const room = SAGEMAKER_NAME_LENGTH - RUN_HASH_LENGTH - 1;
  if (modelName.length <= room) return modelName;
  return `${modelName.slice(0, room - 9)}-${createHash('sha256').update(modelName).digest('hex').slice(0, 8)}`;
}

/**
 * How often and how long the rollout is polled: its steps' waits, the blue/green termination wait and an hour for
 * instances, at most 1,500 polls (an execution's history holds 25,000 events).
 */
export function pipelineRolloutPolling(rollout: Rollout): { intervalSeconds: number; polls: number } {
  const seconds = rollout.steps().reduce((sum, step) => sum + step.waitSeconds, 0) + 3600 + 3600;
  const interval = Math.max(60, Math.ceil(seconds / 1500));
  return { intervalSeconds: interval, polls: Math.ceil(seconds / interval) };
}

/** The endpoint's rollout as SageMaker deployment guardrails, rolled back by its rollback alarms. */
export function pipelineDeploymentConfig(rollout: Rollout, rollbackAlarmNames: string[]): Record<string, unknown> {
  const steps = rollout.steps();
  const capacity = (percent: number) => ({ Type: 'CAPACITY_PERCENT', Value: percent });
  let routing: Record<string, unknown>;
  switch (rollout.kind) {
    case RolloutKind.CANARY:
      routing = { Type: 'CANARY', CanarySize: capacity(rollout.candidatePercent), WaitIntervalInSeconds: steps[0].waitSeconds };
      break;
    case RolloutKind.LINEAR:
      routing = { Type: 'LINEAR', LinearStepSize: capacity(rollout.candidatePercent), WaitIntervalInSeconds: steps[0].waitSeconds };
      break;
    default:
      routing = { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 };
  }
  const termination = rollout.kind === RolloutKind.BLUE_GREEN ? steps[0].waitSeconds : 0;
  const alarms = rollbackAlarmNames.map((name) => ({ AlarmName: name }));
  return {
    BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: routing, TerminationWaitInSeconds: Math.min(termination, 3600) },
    ...(alarms.length > 0 ? { AutoRollbackConfiguration: { Alarms: alarms } } : {}),
  };
}

/** An intrinsic function or path argument (rendered as it is); any other string is a quoted literal. */
class Expr {
  constructor(public readonly text: string) {}
}
const path = (text: string) => new Expr(text);
const run = path(RUN);

/** A string literal inside an intrinsic function, as Step Functions reads it (`'` and `\` escaped). */
function quote(x: string): string {
  let out = "'";
  for (let i = 0; i < x.length; i++) {
    const c = x[i];
    if (c === "'") out += "\\'";
    else if (c === '\\' && (i === x.length - 1 || (x[i + 1] !== '{' && x[i + 1] !== '}'))) out += '\\\\';
    else out += c;
  }
  return `${out}'`;
}
const arg = (x: string | Expr) => (x instanceof Expr ? x.text : quote(x));
const format = (template: string, ...values: Array<string | Expr>) => path(`States.Format(${[template, ...values].map(arg).join(', ')})`);
const md5 = (x: Expr) => path(`States.Hash(${x.text}, 'MD5')`);
const jsonToString = (p: string) => path(`States.JsonToString(${p})`);

/** `{ key: value }` as ASL writes it: `key.$` for paths and intrinsic functions. */
function fields(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => {
    if (v instanceof Expr) return [`${k}.$`, v.text];
    if (Array.isArray(v)) return [k, v.map((x) => (x !== null && typeof x === 'object' && !(x instanceof Expr) ? fields(x as Record<string, unknown>) : x))];
    if (v !== null && typeof v === 'object') return [k, fields(v as Record<string, unknown>)];
    return [k, v];
  }));
}

const RETRY = [{ ErrorEquals: TRANSIENT_ERRORS, IntervalSeconds: 2, MaxAttempts: 5, BackoffRate: 2, JitterStrategy: 'FULL' }];
const catchAll = (next: string, resultPath = '$.error') => [{ ErrorEquals: ['States.ALL'], ResultPath: resultPath, Next: next }];

/**
 * The retraining pipeline's state machine, for every engine: validate the data, train (spot reclamations retried),
 * evaluate against the production model, gate on quality and fairness, register the version with its lineage, approve
 * it (task token or automatically in dev) and hand it to the promotion or roll it out to the endpoint. One active run
 * per model; every failure stops the run's Batch jobs, tells the alarm topic and fails with its error; a run started
 * by the cleanup rule (a stopped or timed-out run's status change) terminates that run's jobs.
 */
export function modelPipelineDefinition(o: PipelineDefinitionOptions): PipelineDefinition {
  const spec = o.spec;
  const modelName = spec.modelName;
  const states: Record<string, Record<string, unknown>> = {};
  const add = (name: string, state: Record<string, unknown>): string => {
    if (states[name]) throw new Error(`duplicate state ${name}`);
    states[name] = state;
    return name;
  };
  const sdk = (service: string, action: string) => `arn:${o.partition}:states:::aws-sdk:${service}:${action}`;
  const task = (name: string, resource: string, parameters: Record<string, unknown>, rest: Record<string, unknown>) =>
    add(name, { Type: 'Task', Resource: resource, Parameters: fields(parameters), Retry: RETRY, ...rest });
  const s3Uri = (bucket: string, prefix: string) => `s3://${bucket}/${prefix}`;
  const outputUri = s3Uri(o.buckets.artifacts, spec.outputPrefix);
  const jobs = [o.jobs.validate, o.jobs.train, o.jobs.evaluate];
  const queues = jobs.map((j) => j.jobQueueArn).filter((q, i, all) => all.indexOf(q) === i);

  // Failure paths: `$.failure` records the error and cause, the run's jobs are terminated, the alarm topic is told.
  const failed = add(OUT.failed, { Type: 'Fail', ErrorPath: '$.failure.error', CausePath: '$.failure.cause' });
  const notify = task('NotifyFailure', `arn:${o.partition}:states:::sns:publish`, {
    TopicArn: o.alarmTopicArn,
    Message: { event: 'model-pipeline-failed', model: modelName, error: path('$.failure.error'), cause: path('$.failure.cause'), execution: path('$$.Execution.Id') },
    Subject: `${modelName} pipeline run failed`,
  }, { ResultPath: null, Catch: catchAll(failed, '$.notifyError'), Next: failed });
  const stopJobs = (id: string, runName: Expr, reason: string, then: string, onError: string): string => {
    let next = then;
    // Built from the last queue backwards: each ListJobs is followed by its Map.
    for (let i = queues.length - 1; i >= 0; i--) {
      const n = i === 0 ? '' : String(i + 1);
      const each = add(`${id}TerminateJobs${n}`, {
        Type: 'Map',
        ResultPath: null,
        ItemsPath: '$.cleanup.jobs.JobSummaryList',
        ItemSelector: { 'id.$': '$$.Map.Item.Value.JobId' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: `${id}TerminateJob${n}`,
          States: {
            [`${id}TerminateJob${n}`]: {
              Type: 'Task', Resource: sdk('batch', 'terminateJob'), Parameters: { 'JobId.$': '$.id', 'Reason': reason }, ResultPath: null, Retry: RETRY, End: true,
            },
          },
        },
        MaxConcurrency: 10,
        Catch: catchAll(onError, '$.cleanupError'),
        Next: next,
      });
      next = task(`${id}ListJobs${n}`, sdk('batch', 'listJobs'), {
        JobQueue: queues[i], Filters: [{ Name: 'JOB_NAME', Values: path('$.cleanup.names') }], MaxResults: 100,
      }, { ResultSelector: { 'JobSummaryList.$': '$.JobSummaryList' }, ResultPath: '$.cleanup.jobs', Catch: catchAll(onError, '$.cleanupError'), Next: each });
    }
    return add(`${id}RunJobs`, {
      Type: 'Pass',
      Parameters: { 'names.$': `States.Array(${format(`${modelName}-{}-*`, md5(runName)).text})` },
      ResultPath: '$.cleanup',
      Next: next,
    });
  };
  const stop = stopJobs('Failed', run, 'The pipeline run failed', notify, notify);
  const packageCall = (name: string, action: string, parameters: Record<string, unknown>, rest: Record<string, unknown>) =>
    task(name, sdk('sagemaker', action), parameters, rest);
  // Only where something runs after approval (a hand-off): Step Functions rejects a definition with an unreachable state.
  let unapproveState: string | undefined;
  const unapprove = () => unapproveState ??= packageCall('Unapprove', 'updateModelPackage', {
    ModelPackageArn: path('$.modelPackage.arn'),
    ModelApprovalStatus: 'Rejected',
    ApprovalDescription: format('Rejected again: run {} failed after approval ({})', run, path('$.failure.error')),
  }, { ResultPath: null, Catch: catchAll(stop, '$.unapproveError'), Next: stop });
  const record = (then: string) => (name: string, error: string, cause?: string | Expr) => add(name, {
    Type: 'Pass',
    Parameters: fields({ error, cause: cause ?? jsonToString('$.error') }),
    ResultPath: '$.failure',
    Next: then,
  });
  const paths = {
    failed: record(stop),
    failedAfterApproval: (name: string, error: string, cause?: string | Expr) => record(unapprove())(name, error, cause),
    notified: record(notify),
  };
  const fail = (name: string, cause: string) => add(name, { Type: 'Fail', Error: name, Cause: cause });

  // Steps' outputs and the run's candidate.
  const stepOutput = (step: string) => format(`${outputUri}${step}/{}/`, run);
  const modelUri = format(s3Uri(o.buckets.models, MODEL_ARTIFACT_LAYOUT.candidateRunPrefix(modelName, '{}')), run);
  const manifestUri = format(`${outputUri}validate/{}/manifest.json`, run);
  const env = (step: string, extra: Record<string, string | Expr> = {}) => ({
    OUTPUT_URI: stepOutput(step), MODEL_NAME: modelName, MODEL_VERSION: run, MODEL_URI: modelUri, ...extra,
  });
  const batchJob = (name: string, job: PipelineJob, environment: Record<string, string | Expr>, resultPath: string, rest: Record<string, unknown>) =>
    task(name, `arn:${o.partition}:states:::batch:submitJob.sync`, {
      // Named after the run (the MD5 of its name), so a failed or stopped run finds its jobs to terminate them.
      JobDefinition: job.jobDefinitionArn,
      JobName: format(`${modelName}-{}-${name.toLowerCase()}`, md5(run)),
      JobQueue: job.jobQueueArn,
      // Each run checkpoints below its own prefix: a new run never resumes another run's checkpoint.
      ContainerOverrides: {
        Environment: Object.entries({ CHECKPOINT_URI: format(`${job.checkpointUri}{}/`, run), ...environment }).map(([Name, Value]) => ({ Name, Value })),
      },
    }, { ResultSelector: { 'jobId.$': '$.JobId', 'image.$': '$.Container.Image' }, ResultPath: resultPath, ...rest });
  const readOutput = (name: string, step: string, file: string, resultPath: string, next: string) => {
    const value = add(`${name}Value`, { Type: 'Pass', InputPath: `${resultPath}.value`, ResultPath: resultPath, Next: next });
    return task(name, sdk('s3', 'getObject'), {
      Bucket: o.buckets.artifacts, Key: format(`${spec.outputPrefix}${step}/{}/${file}`, run),
    }, { ResultSelector: { 'value.$': 'States.StringToJson($.Body)' }, ResultPath: resultPath, Catch: catchAll(paths.failed(`${name}Failed`, OUT.failed)), Next: value });
  };
  // The served state's format is encodeServedState's: `<variant>=<version>@<weight>,...`.
  const split = (text: string, delimiter: string, index: number) => `States.ArrayGetItem(States.StringSplit(${text}, '${delimiter}'), ${index})`;
  const readServedVersion = (name: string, resultPath: string, next: string) => task(name, sdk('ssm', 'getParameter'), { Name: o.servedState!.parameterName }, {
    ResultSelector: { 'version.$': split(split(split('$.Parameter.Value', ',', 0), '=', 1), '@', 0) },
    ResultPath: resultPath,
    Catch: catchAll(paths.failed(`${name}Failed`, OUT.failed)),
    Next: next,
  });

  // The hand-off of an approved version: promotion, the pipeline's own rollout, or nothing.
  const done = add(OUT.succeeded, { Type: 'Succeed' });
  const handOff = (): string => {
    if (o.promotion) {
      const promote = add('StartPromotion', {
        Type: 'Task',
        Resource: `arn:${o.partition}:states:::states:startExecution.sync:2`,
        Parameters: {
          StateMachineArn: o.promotion.stateMachineArn,
          Input: {
            'model': modelName,
            'version.$': '$.promoted.run',
            'candidate.$': '$.promoted.run',
            // Promotion records the served archive and its SHA-256 in this package (what another environment checks).
            'modelPackageArn.$': '$.modelPackage.arn',
            'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
          },
        },
        ResultSelector: { 'status.$': '$.Status' },
        ResultPath: '$.promotion',
        Retry: RETRY,
        // The promotion failed or rolled back: production serves the previous version.
        Catch: catchAll(paths.failedAfterApproval('PromotionFailed', OUT.rolledBack)),
        Next: done,
      });
      return packageCall('ReadPromotedRun', 'describeModelPackage', { ModelPackageName: path('$.modelPackage.arn') }, {
        ResultSelector: { 'run.$': '$.CustomerMetadataProperties.run' },
        ResultPath: '$.promoted',
        Catch: catchAll(paths.failedAfterApproval('ReadPromotedRunFailed', OUT.failed)),
        Next: promote,
      });
    }
    const endpoint = o.endpoint;
    if (!endpoint) return done;
    const prefix = pipelineSageMakerNamePrefix(modelName);
    const name = path('$.rollout.name');
    const afterApproval = (state: string) => catchAll(paths.failedAfterApproval(`${state}Failed`, OUT.failed));
    const { intervalSeconds, polls } = pipelineRolloutPolling(endpoint.rollout);
    const status = path('$.endpoint.status');
    const count = add('CountRolloutPoll', {
      Type: 'Pass', Parameters: { 'name.$': '$.rollout.name', 'polls.$': 'States.MathAdd($.rollout.polls, 1)' }, ResultPath: '$.rollout', Next: 'WaitForRollout',
    });
    const statusChoice = add('RolloutStatus', {
      Type: 'Choice',
      Choices: [
        {
          Variable: '$.endpoint.status',
          StringEquals: 'Failed',
          Next: paths.failedAfterApproval('EndpointUpdateFailed', OUT.rolledBack,
            'The endpoint update failed (SageMaker rolled it back); the endpoint serves the previous version.'),
        },
        {
          Or: ENDPOINT_STATES_NOT_SERVING.map((s) => ({ Variable: '$.endpoint.status', StringEquals: s })),
          Next: paths.failedAfterApproval('EndpointNotServing', OUT.rolloutFailed, format('The endpoint ended the update {}: it needs an operator.', status)),
        },
        { And: [{ Variable: '$.endpoint.status', StringEquals: 'InService' }, { Variable: '$.endpoint.config', StringEqualsPath: '$.rollout.name' }], Next: done },
        {
          Variable: '$.endpoint.status',
          StringEquals: 'InService',
          Next: paths.failedAfterApproval('EndpointRolledBack', OUT.rolledBack,
            'A rollback alarm fired: the endpoint is back on its previous config and serves the previous version.'),
        },
        // Not finished in the rollout's time: the package stays Approved (the update may still finish), people are told.
        {
          Variable: '$.rollout.polls',
          NumericGreaterThanEquals: polls,
          Next: paths.failed('RolloutNotFinished', OUT.rolloutTimedOut,
            format('The endpoint is still {} after the rollout\'s time; the package stays Approved until someone decides.', status)),
        },
      ],
      Default: count,
    });
    const describe = packageCall('DescribeEndpoint', 'describeEndpoint', { EndpointName: endpoint.endpointName }, {
      ResultSelector: { 'status.$': '$.EndpointStatus', 'config.$': '$.EndpointConfigName' }, ResultPath: '$.endpoint', Catch: afterApproval('DescribeEndpoint'), Next: statusChoice,
    });
    const wait = add('WaitForRollout', { Type: 'Wait', Seconds: intervalSeconds, Next: describe });
    const update = packageCall('UpdateEndpoint', 'updateEndpoint', {
      EndpointName: endpoint.endpointName,
      EndpointConfigName: name,
      DeploymentConfig: pipelineDeploymentConfig(endpoint.rollout, endpoint.rollbackAlarmNames),
    }, { ResultPath: null, Catch: afterApproval('UpdateEndpoint'), Next: wait });
    const createConfig = packageCall('CreateEndpointConfig', 'createEndpointConfig', {
      EndpointConfigName: name,
      // As the endpoint's own config: no volume key on instance types with NVMe storage, the same data capture.
      KmsKeyId: endpoint.kmsKeyId,
      DataCaptureConfig: endpoint.dataCaptureConfig,
      ProductionVariants: [{
        VariantName: endpoint.variantName, ModelName: name, InstanceType: `ml.${endpoint.instanceType}`, InitialInstanceCount: endpoint.initialInstanceCount,
      }],
    }, { ResultPath: null, Catch: afterApproval('CreateEndpointConfig'), Next: update });
    const createModel = packageCall('CreateModel', 'createModel', {
      ModelName: name,
      ExecutionRoleArn: endpoint.roleArn,
      PrimaryContainer: { ModelPackageName: path('$.modelPackage.arn') },
      EnableNetworkIsolation: true,
      VpcConfig: endpoint.vpcConfig,
    }, { ResultPath: null, Catch: afterApproval('CreateModel'), Next: createConfig });
    return add('NameRollout', {
      Type: 'Pass', Parameters: fields({ name: format(`${prefix}-{}`, md5(run)), polls: 0 }), ResultPath: '$.rollout', Next: createModel,
    });
  };

  // Approval (manual task token or automatic), then the hand-off.
  const setStatus = (name: string, status: string, next: string, approvedBy?: string | Expr) => packageCall(name, 'updateModelPackage', {
    ModelPackageArn: path('$.modelPackage.arn'),
    ModelApprovalStatus: status,
    ...(approvedBy ? { ApprovalDescription: format('Approved by {}', approvedBy), CustomerMetadataProperties: { approvedBy } } : {}),
  }, { ResultPath: null, Catch: catchAll(paths.failed(`${name}Failed`, OUT.failed)), Next: next });
  const approvalFlow = (): string => {
    if (spec.approval === ModelApproval.AUTOMATIC) return setStatus('MarkApproved', 'Approved', handOff(), 'automatic approval (dev profile)');
    // The answer names its approver; CloudTrail records who sent it (states:SendTaskSuccess), the package keeps the name.
    const approve = setStatus('MarkApproved', 'Approved', handOff(), path('$.approval.approver'));
    // A "no" ends the run at once; no answer in time (or SendTaskFailure) is also told to the alarm topic.
    const answeredNo = add(OUT.rejected, { Type: 'Fail', Error: OUT.rejected, Cause: 'The version was rejected.' });
    const rejectedByAnswer = add('RejectedByAnswer', {
      Type: 'Choice', Choices: [{ Variable: '$.error', IsPresent: true, Next: paths.failed('ApprovalNotGiven', OUT.rejected) }], Default: answeredNo,
    });
    const rejected = setStatus('MarkRejected', 'Rejected', rejectedByAnswer);
    // Approval can take days: when the run evaluated against a served version, it is read again; another one rejects the package.
    let approveChecked = approve;
    if (o.servedState) {
      const changed = paths.failed('ProductionMovedOn', OUT.baselineChanged,
        format('The version was evaluated against {}; production serves {} now. Retrain against it.', path('$.production.version'), path('$.productionNow.version')));
      const stale = packageCall('MarkStale', 'updateModelPackage', {
        ModelPackageArn: path('$.modelPackage.arn'),
        ModelApprovalStatus: 'Rejected',
        ApprovalDescription: format('Evaluated against {}, production serves {} now: retrain', path('$.production.version'), path('$.productionNow.version')),
      }, { ResultPath: null, Catch: catchAll(changed, '$.markError'), Next: changed });
      const unchanged = add('BaselineUnchanged', {
        Type: 'Choice', Choices: [{ Variable: '$.productionNow.version', StringEqualsPath: '$.production.version', Next: approve }], Default: stale,
      });
      const recheck = readServedVersion('RecheckProductionVersion', '$.productionNow', unchanged);
      // Versions promoted by ARN were not evaluated here: nothing to compare.
      approveChecked = add('EvaluatedAgainstProduction', {
        Type: 'Choice', Choices: [{ Variable: '$.production.version', IsPresent: true, Next: recheck }], Default: approve,
      });
    }
    // A Choice rule on a path that does not exist fails the run (States.Runtime): presence is checked first.
    const approved = add('Approved', {
      Type: 'Choice',
      Choices: [{
        And: [
          { Variable: '$.approval.approved', IsBoolean: true },
          { Variable: '$.approval.approved', BooleanEquals: true },
          { Variable: '$.approval.approver', IsString: true },
        ],
        Next: approveChecked,
      }],
      Default: rejected,
    });
    const answered = add('Answered', {
      Type: 'Choice',
      Choices: [{ And: [{ Variable: '$.approval.approved', IsPresent: true }, { Variable: '$.approval.approver', IsPresent: true }], Next: approved }],
      Default: rejected,
    });
    return add('RequestApproval', {
      Type: 'Task',
      Resource: `arn:${o.partition}:states:::sns:publish.waitForTaskToken`,
      Parameters: {
        TopicArn: o.approvalTopicArn,
        Message: {
          'model': modelName,
          'modelPackageArn.$': '$.modelPackage.arn',
          'execution.$': '$$.Execution.Id',
          'taskToken.$': '$$.Task.Token',
          'answer': 'aws stepfunctions send-task-success --task-token <taskToken> --task-output \'{"approved": true, "approver": "<your name>"}\' '
            + '(or "approved": false); only the approvers\' role may answer',
        },
        Subject: `Approve ${modelName}`,
      },
      TimeoutSeconds: spec.approvalTimeoutSeconds,
      ResultPath: '$.approval',
      Retry: RETRY,
      Catch: catchAll(rejected),
      Next: answered,
    });
  };

  // 5. The version must exist in this environment (promotions start here).
  const inGroup = add('InModelPackageGroup', {
    Type: 'Choice',
    Choices: [{ Variable: '$.registered.group', StringEquals: modelName, Next: approvalFlow() }],
    Default: paths.failed('NotInModelPackageGroup', OUT.notRegistered,
      `The model package is not a version of ${modelName} in this environment; register it here before promoting it.`),
  });
  const checkRegistered = packageCall('CheckRegistered', 'describeModelPackage', { ModelPackageName: path('$.modelPackage.arn') }, {
    ResultSelector: { 'status.$': '$.ModelApprovalStatus', 'group.$': '$.ModelPackageGroupName' },
    ResultPath: '$.registered',
    Catch: catchAll(paths.failed('CheckRegisteredFailed', OUT.notRegistered)),
    Next: inGroup,
  });

  // 4. Register with lineage, pending approval. The package serves the archive its container is told to read: with
  //    promotion, the served archive promotion writes for this run; else the candidate.
  const candidateArchive = format(`{}${MODEL_ARTIFACT_LAYOUT.archive}`, modelUri);
  const archiveUri = o.promotion
    ? format(s3Uri(o.buckets.models, `${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix(modelName, '{}')}${MODEL_ARTIFACT_LAYOUT.archive}`), run)
    : candidateArchive;
  const evaluationUri = format(`${outputUri}evaluate/{}/evaluation.json`, run);
  const validationOutput = (file: string) => format(`${outputUri}validate/{}/${file}`, run);
  const readsProduction = o.servedState !== undefined;
  const register = packageCall('RegisterVersion', 'createModelPackage', {
    ModelPackageGroupName: modelName,
    ModelPackageDescription: format('Run {} of the {} pipeline', run, modelName),
    ModelApprovalStatus: 'PendingManualApproval',
    InferenceSpecification: {
      // MODEL_URI is what the serving container loads (as on ModelEndpoint's and InferenceFleet's own models).
      Containers: [{ Image: o.servingImageUri, ModelDataUrl: archiveUri, Environment: { MODEL_URI: archiveUri } }],
      SupportedContentTypes: ['application/json'],
      SupportedResponseMIMETypes: ['application/json'],
    },
    // The evaluation the gates passed (quality against production, fairness gap), where the evaluation job wrote it.
    ModelMetrics: {
      ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: evaluationUri } },
      Bias: { Report: { ContentType: 'application/json', S3Uri: evaluationUri } },
    },
    // What monitoring compares production with: the training data's statistics and constraints and the evaluation.
    DriftCheckBaselines: {
      ModelDataQuality: {
        Statistics: { ContentType: 'application/json', S3Uri: validationOutput('statistics.json') },
        Constraints: { ContentType: 'application/json', S3Uri: validationOutput('constraints.json') },
      },
      ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: evaluationUri } },
    },
    CustomerMetadataProperties: {
      run,
      candidateUri: candidateArchive,
      datasetVersion: path('$.validation.datasetVersion'),
      trainingImage: path('$.trainJob.image'),
      imageDigest: path('$.training.imageDigest'),
      codeVersion: path('$.training.codeVersion'),
      trainJobId: path('$.trainJob.jobId'),
      evaluateJobId: path('$.evaluateJob.jobId'),
      qualityMetric: spec.qualityMetric,
      candidate: jsonToString('$.evaluation.candidate'),
      baseline: jsonToString('$.evaluation.baseline'),
      fairnessGap: jsonToString('$.evaluation.fairnessGap'),
      ...(readsProduction ? { baselineVersion: path('$.production.version') } : {}),
      ...(o.holdoutPrefix ? { holdout: o.holdoutPrefix } : {}),
    },
  }, { ResultSelector: { 'arn.$': '$.ModelPackageArn' }, ResultPath: '$.modelPackage', Catch: catchAll(paths.failed('RegisterVersionFailed', OUT.failed)), Next: checkRegistered });

  // 3. Gates: every number present and numeric, better than production and the threshold, fairness within the gap.
  const fairnessGate = add('FairnessWithinThreshold', {
    Type: 'Choice',
    Choices: [{ Variable: '$.evaluation.fairnessGap', NumericLessThanEquals: spec.fairnessGap, Next: register }],
    Default: fail(OUT.biasAboveThreshold, `The candidate's fairness gap is above ${spec.fairnessGap}.`),
  });
  const compare = spec.higherIsBetter ? 'NumericGreaterThanEqualsPath' : 'NumericLessThanEqualsPath';
  const qualityGate = add('BeatsProduction', {
    Type: 'Choice',
    Choices: [{
      And: [{ Variable: '$.evaluation.candidate', [compare]: '$.evaluation.threshold' }, { Variable: '$.evaluation.candidate', [compare]: '$.evaluation.baseline' }],
      Next: fairnessGate,
    }],
    Default: fail(OUT.belowBaseline, `The candidate's ${spec.qualityMetric} does not beat the production model.`),
  });
  const numbers = ['candidate', 'baseline', 'threshold', 'fairnessGap'].map((k) => `$.evaluation.${k}`);
  const incomplete = paths.failed('EvaluationLacksNumbers', OUT.evaluationIncomplete,
    'evaluation.json lacks a number the gates compare (candidate, baseline, threshold, fairnessGap).');
  const numeric = add('EvaluationNumeric', {
    Type: 'Choice', Choices: [{ And: numbers.map((p) => ({ Variable: p, IsNumeric: true })), Next: qualityGate }], Default: incomplete,
  });
  const complete = add('EvaluationComplete', {
    Type: 'Choice', Choices: [{ And: numbers.map((p) => ({ Variable: p, IsPresent: true })), Next: numeric }], Default: incomplete,
  });
  const readEvaluation = readOutput('ReadEvaluation', 'evaluate', 'evaluation.json', '$.evaluation', complete);

  // Evaluate on the holdout against the production model (the one the served state names when the run evaluates).
  const production: Record<string, string | Expr> = readsProduction
    ? {
      PRODUCTION_VERSION: path('$.production.version'),
      PRODUCTION_MODEL_URI: format(s3Uri(o.buckets.models, `${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix(modelName, '{}')}${MODEL_ARTIFACT_LAYOUT.archive}`),
        path('$.production.version')),
    }
    : (o.productionModelUri ? { PRODUCTION_MODEL_URI: o.productionModelUri } : {});
  const evaluate = batchJob('Evaluate', o.jobs.evaluate, env('evaluate', {
    DATASET_MANIFEST_URI: manifestUri,
    SERVED_MODELS_URI: s3Uri(o.buckets.models, MODEL_ARTIFACT_LAYOUT.servedPrefix(modelName)),
    ...production,
    ...(o.holdoutPrefix ? { HOLDOUT_URI: s3Uri(o.buckets.datasets, o.holdoutPrefix) } : {}),
    ...spec.evaluationEnvironment,
  }), '$.evaluateJob', { Catch: catchAll(paths.failed('EvaluateFailed', OUT.evaluationFailed)), Next: readEvaluation });
  const beforeEvaluation = readsProduction ? readServedVersion('ReadProductionVersion', '$.production', evaluate) : evaluate;
  const readTraining = readOutput('ReadTraining', 'train', 'training.json', '$.training', beforeEvaluation);

  // 2. Train, retrying spot reclamations (Batch reports "Host EC2 ... terminated") a bounded number of times.
  const trainingFailed = paths.failed('TrainFailed', OUT.trainingFailed);
  const spotRetry = add('SpotInterrupted', {
    Type: 'Choice',
    Choices: [{
      And: [
        { Variable: '$.spot.reason.StatusReason', StringMatches: 'Host EC2*' },
        { Variable: '$.spot.attempt', NumericLessThanEquals: MODEL_PIPELINE_SPOT_RETRIES },
      ],
      Next: 'Train',
    }],
    Default: trainingFailed,
  });
  const parseFailure = add('ParseTrainingFailure', {
    Type: 'Pass', Parameters: { 'reason.$': 'States.StringToJson($.error.Cause)', 'attempt.$': 'States.MathAdd($.spot.attempt, 1)' }, ResultPath: '$.spot', Next: spotRetry,
  });
  // A failed Batch job's cause is its description (JSON, with StatusReason); timeouts and the service's own errors
  // are not retried. A Choice on a missing path fails the run: presence first.
  const jobFailure = add('TrainJobFailed', {
    Type: 'Choice',
    Choices: [{
      And: [{ Variable: '$.error.Error', StringEquals: 'States.TaskFailed' }, { Variable: '$.error.Cause', StringMatches: '{*"StatusReason"*' }],
      Next: parseFailure,
    }],
    Default: trainingFailed,
  });
  const hasCause = add('TrainFailureHasCause', {
    Type: 'Choice',
    Choices: [{ And: [{ Variable: '$.error.Error', IsString: true }, { Variable: '$.error.Cause', IsString: true }], Next: jobFailure }],
    Default: trainingFailed,
  });
  const train = batchJob('Train', o.jobs.train, env('train', { DATASET_MANIFEST_URI: manifestUri }), '$.trainJob', { Catch: catchAll(hasCause), Next: readTraining });
  const initSpot = add('InitSpotAttempts', { Type: 'Pass', Result: { attempt: 0 }, ResultPath: '$.spot', Next: train });

  // 1. Validate: any failure stops the run.
  const readValidation = readOutput('ReadValidation', 'validate', 'validation.json', '$.validation', initSpot);
  const validate = batchJob('ValidateData', o.jobs.validate, env('validate'), '$.validateJob', {
    Catch: catchAll(paths.failed('ValidateDataFailed', OUT.dataInvalid)), Next: readValidation,
  });

  // A run started with `{ "modelPackageArn": ... }` promotes an existing version.
  const promote = add('Promote', { Type: 'Pass', Parameters: { 'arn.$': '$.modelPackageArn' }, ResultPath: '$.modelPackage', Next: checkRegistered });
  const start = add('PromoteOrRetrain', { Type: 'Choice', Choices: [{ Variable: '$.modelPackageArn', IsPresent: true, Next: promote }], Default: validate });
  // One active run per model: the execution lists its own state machine's running executions (itself included).
  const onlyRun = add('OnlyActiveRun', {
    Type: 'Choice',
    Choices: [{
      Variable: '$.lock.running',
      NumericGreaterThan: 1,
      Next: fail(OUT.anotherRunActive, 'Another run of this pipeline is active; this one stopped before doing anything.'),
    }],
    Default: start,
  });
  const lock = add('CheckRunLock', {
    Type: 'Task',
    Resource: sdk('sfn', 'listExecutions'),
    Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'StatusFilter': 'RUNNING', 'MaxResults': 2 },
    ResultSelector: { 'running.$': 'States.ArrayLength($.Executions)' },
    ResultPath: '$.lock',
    Retry: RETRY,
    Catch: catchAll(paths.failed('CheckRunLockFailed', OUT.failed)),
    Next: onlyRun,
  });

  // A run stopped from outside (or timed out) runs no Catch: the cleanup rule starts this state machine with the
  // status change event, and this branch terminates that run's Batch jobs.
  const cleanedUp = add(OUT.cleanedUp, { Type: 'Succeed' });
  const cleanup = stopJobs('Stopped', path('$.detail.name'), 'The pipeline run was stopped or timed out', cleanedUp,
    paths.notified('CleanupFailed', OUT.failed, 'The Batch jobs of a stopped or timed-out run could not all be terminated: stop them by hand.'));
  const startAt = add('CleanUpOrRun', {
    Type: 'Choice',
    Choices: [{ And: [{ Variable: '$.detail.name', IsPresent: true }, { Variable: '$.detail.stateMachineArn', IsPresent: true }], Next: cleanup }],
    Default: lock,
  });
  return { StartAt: startAt, States: states, TimeoutSeconds: spec.timeoutSeconds, Comment: o.comment };
}

/** Where a pipeline is deployed and what its state machine calls, for its role's statements. */
export type PipelineStatementsOptions = Pick<PipelineDefinitionOptions,
  'partition' | 'region' | 'account' | 'spec' | 'artifactsBucketArn' | 'jobs' | 'approvalTopicArn' | 'alarmTopicArn' | 'servedState' | 'promotion' | 'endpoint'>;

function pipelineArn(o: Pick<PipelineDefinitionOptions, 'partition' | 'region' | 'account'>, service: string, resource: string): string {
  return `arn:${o.partition}:${service}:${o.region}:${o.account}:${resource}`;
}

/** The model package versions of the pipeline's model (version numbers are given at registration). */
export function pipelinePackageArnPattern(o: Pick<PipelineDefinitionOptions, 'partition' | 'region' | 'account'>, modelName: string): string {
  return pipelineArn(o, 'sagemaker', `model-package/${modelName}/*`);
}

/**
 * What the pipeline's state machine role may do for the Tasks of `modelPipelineDefinition` (beyond its logs and traces,
 * its keys and its run lock, which each engine grants on its own resources): submit and follow its Batch jobs, read its
 * run outputs, register and approve versions of its model only, read the served state, notify, terminate its run's
 * jobs, and start and follow the promotion it is given (nothing else: it never writes `served/`) or roll out to its
 * endpoint. `modelPipelineSubmitDeny` keeps submissions to its own job definitions.
 */
export function modelPipelineStatements(o: PipelineStatementsOptions): NeutralStatement[] {
  const jobs = [o.jobs.validate, o.jobs.train, o.jobs.evaluate];
  const queues = jobs.map((j) => j.jobQueueArn).filter((q, i, all) => all.indexOf(q) === i);
  const statements: NeutralStatement[] = [
    // As Step Functions' Batch integration (.sync) needs them; modelPipelineSubmitDeny narrows the job definitions.
    { sid: 'SubmitJobs', effect: 'Allow', actions: ['batch:SubmitJob'], resources: [...queues, pipelineArn(o, 'batch', 'job-definition/*')] },
    {
      sid: 'FollowBatchJobs',
      effect: 'Allow',
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [pipelineArn(o, 'events', 'rule/StepFunctionsGetEventsForBatchJobsRule')],
    },
    { sid: 'ReadRunOutputs', effect: 'Allow', actions: ['s3:GetObject'], resources: [`${o.artifactsBucketArn}/${o.spec.outputPrefix}*`] },
    {
      sid: 'RegisterAndApproveVersions',
      effect: 'Allow',
      actions: ['sagemaker:CreateModelPackage', 'sagemaker:DescribeModelPackage', 'sagemaker:UpdateModelPackage'],
      resources: [pipelinePackageArnPattern(o, o.spec.modelName)],
    },
    ...(o.servedState ? [{ sid: 'ReadServedState', effect: 'Allow' as const, actions: ['ssm:GetParameter'], resources: [o.servedState.parameterArn] }] : []),
    {
      sid: 'Notify',
      effect: 'Allow',
      actions: ['sns:Publish'],
      resources: [o.alarmTopicArn, ...(o.spec.approval === ModelApproval.MANUAL ? [o.approvalTopicArn] : [])],
    },
    { sid: 'FindRunJobs', effect: 'Allow', actions: ['batch:ListJobs'], resources: ['*'] },
    { sid: 'TerminateRunJobs', effect: 'Allow', actions: ['batch:TerminateJob'], resources: [pipelineArn(o, 'batch', 'job/*')] },
  ];
  if (o.promotion) {
    statements.push(
      { sid: 'StartPromotion', effect: 'Allow', actions: ['states:StartExecution'], resources: [o.promotion.stateMachineArn] },
      {
        sid: 'FollowPromotion',
        effect: 'Allow',
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [pipelineArn(o, 'states', `execution:${o.promotion.stateMachineName}:*`)],
      },
      {
        sid: 'FollowPromotionEvents',
        effect: 'Allow',
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [pipelineArn(o, 'events', 'rule/StepFunctionsGetEventsForStepFunctionsExecutionRule')],
      },
    );
  } else if (o.endpoint) {
    const prefix = pipelineSageMakerNamePrefix(o.spec.modelName);
    const endpoint = pipelineArn(o, 'sagemaker', `endpoint/${o.endpoint.endpointName.toLowerCase()}`);
    const configs = pipelineArn(o, 'sagemaker', `endpoint-config/${prefix}-*`);
    statements.push(
      { sid: 'CreateRunModels', effect: 'Allow', actions: ['sagemaker:CreateModel'], resources: [pipelineArn(o, 'sagemaker', `model/${prefix}-*`)] },
      { sid: 'CreateRunEndpointConfigs', effect: 'Allow', actions: ['sagemaker:CreateEndpointConfig'], resources: [configs] },
      { sid: 'UpdateTheEndpoint', effect: 'Allow', actions: ['sagemaker:UpdateEndpoint'], resources: [endpoint, configs] },
      { sid: 'DescribeTheEndpoint', effect: 'Allow', actions: ['sagemaker:DescribeEndpoint'], resources: [endpoint] },
    );
  }
  return statements;
}

/**
 * Step Functions' Batch integration allows batch:SubmitJob on every job definition of the account: this deny keeps
 * the pipeline to its own three job definitions and their queues, never another team's.
 */
export function modelPipelineSubmitDeny(o: Pick<PipelineDefinitionOptions, 'jobs'>): { sid: string; effect: 'Deny'; actions: string[]; notResources: string[] } {
  const jobs = [o.jobs.validate, o.jobs.train, o.jobs.evaluate];
  const unique = (arns: string[]) => arns.filter((a, i) => arns.indexOf(a) === i);
  return {
    sid: 'SubmitOnlyThisPipelinesJobs',
    effect: 'Deny',
    actions: ['batch:SubmitJob'],
    notResources: [...unique(jobs.map((j) => j.jobDefinitionArn)), ...unique(jobs.map((j) => j.jobQueueArn))],
  };
}

/** The run lock: the state machine lists its own running executions (attached apart: it names the state machine). */
export function modelPipelineRunLockStatement(stateMachineArn: string): NeutralStatement {
  return { sid: 'RunLock', effect: 'Allow', actions: ['states:ListExecutions'], resources: [stateMachineArn] };
}
