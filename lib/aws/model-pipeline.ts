import { createHash } from 'crypto';
import { Aws, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  EnvironmentProfile, METRIC_CONTRACT, MODEL_ARTIFACT_LAYOUT, ModelApproval, MODEL_PIPELINE_OUTCOMES, MODEL_PIPELINE_SPOT_RETRIES,
  resolveModelPipelineSpec, RolloutKind, validatePipelineModelName, validatePipelineRollout,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { TrainingJob } from './gpu-training-cluster';
import { QualityDirection } from './mlops-monitoring';
import { ModelEndpoint } from './model-endpoint';
import { ModelPromotion } from './model-promotion';
import { ModelRegistry } from './model-registry';
import { newKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyPrincipal, ManagedPolicyRole } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { ServedStateParameter } from './private/served-state';
import { failureMessage, transientServiceErrors } from './private/state-machine-errors';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

// Defined in core (shared with the Pulumi ModelPipeline); re-exported where CDK users found them.
export { ModelApproval, MODEL_PIPELINE_OUTCOMES } from '../core';

/** What starts a retraining run. */
export interface ModelPipelineTriggers {
  /**
   * Retrain on a schedule.
   * @default - no schedule
   */
  readonly schedule?: events.Schedule;
  /**
   * Retrain when a completion marker (`NEW_DATA_MARKER`, e.g. `<model>/2026-12-01/_SUCCESS`) is created below the
   * model's dataset prefix, not on every object: a data drop of many files starts one run. S3 EventBridge
   * notifications are switched on for the datasets bucket when it is owned by this app, otherwise the bucket must
   * already send them.
   * @default false
   */
  readonly onNewData?: boolean;
  /**
   * Retrain when one of these alarms (data drift, model quality) goes into ALARM.
   * @default - none
   */
  readonly alarms?: cloudwatch.IAlarm[];
}

/** Who hears of an approval request and who may answer it. */
export interface ModelPipelineApprovers {
  /**
   * Addresses the request (with the task token) is emailed to (SNS email subscriptions, confirmed once each).
   * @default - none; give `emails` or `subscriptions`
   */
  readonly emails?: string[];
  /**
   * Other subscriptions of the approval topic (e.g. a chat integration).
   * @default - none
   */
  readonly subscriptions?: sns.ITopicSubscription[];
  /**
   * Who may answer: granted `states:SendTaskSuccess`/`SendTaskFailure` on this state machine only (e.g. the ML engineer
   * persona). CloudTrail records the caller of each answer; the `approver` it names is written to the model package.
   */
  readonly grantees: iam.IGrantable[];
}

/** Key suffix of the marker object that announces a complete data drop (`triggers.onNewData`). */
export const NEW_DATA_MARKER = '_SUCCESS';

export interface ModelPipelineProps {
  /** Model name: the model package group in the registry, `<modelName>/` in the datasets and models buckets. */
  readonly modelName: string;
  /** Registry holding the model package group `modelName` (add it with `addModelPackageGroup`). */
  readonly registry: ModelRegistry;
  /** Store of the datasets, the model artifacts and the step outputs (`pipelines/<modelName>/<run>/` in ARTIFACTS). */
  readonly artifactStore: IArtifactStore;
  /**
   * Batch job validating the dataset; it writes `validation.json` (`datasetVersion`) and `manifest.json` (the exact
   * objects and versions of the run's training and holdout data) to `$OUTPUT_URI`. Training and evaluation get that
   * manifest as `$DATASET_MANIFEST_URI` (a prefix they cannot write). A failure stops the run before training. It also
   * writes the training data's `statistics.json` and `constraints.json` (SageMaker Model Monitor's baseline format),
   * which the model package names as its `DriftCheckBaselines` (data quality; model quality is `evaluation.json`).
   */
  readonly validateJob: TrainingJob;
  /**
   * Batch job training the model; writes the candidate to `$MODEL_URI` (`candidates/<model>/<run>/`, archive
   * `model.tar.gz`) and `training.json` (`imageDigest`, `codeVersion`) to `$OUTPUT_URI`; checkpoints go to the run's own
   * `$CHECKPOINT_URI` (`checkpoints/<job>/<run>/`). Spot reclamations are retried.
   */
  readonly trainJob: TrainingJob;
  /**
   * Batch job evaluating the candidate (`$MODEL_URI`) against the production model (`$PRODUCTION_MODEL_URI`, the version
   * production serves when the run evaluates, see `servedState`; every served version is readable below
   * `$SERVED_MODELS_URI`) on the holdout (`$HOLDOUT_URI`, see `holdoutPrefix`, else the one of `$DATASET_MANIFEST_URI`);
   * publishes to the metric contract (`METRIC_CONTRACT`) and writes `evaluation.json` (`candidate`, `baseline`,
   * `threshold`, `fairnessGap`) to its own `$OUTPUT_URI`, which the training job cannot write. It must run as a role of
   * its own (another job definition than `trainJob`).
   */
  readonly evaluateJob: TrainingJob;
  /**
   * The model's served state (`MlopsPlatform.addModelPipeline` passes it). Each run reads it just before evaluating:
   * the evaluation job compares with the version production serves then (`$PRODUCTION_VERSION`,
   * `$PRODUCTION_MODEL_URI` = `served/<model>/<version>/model.tar.gz`), which the package records (`baselineVersion`).
   * @default - the endpoint's served state; without one, the endpoint's template version (or no production model)
   */
  readonly servedState?: ServedStateParameter;
  /**
   * Key prefix of a holdout set in the datasets bucket, pinned in code (e.g. `fraud/holdout/2026-11/`): the evaluation
   * job reads it as `$HOLDOUT_URI` (recorded in the package, `holdout`), and the training job is denied reading it.
   * @default - the holdout the run's dataset manifest lists (`$DATASET_MANIFEST_URI`)
   */
  readonly holdoutPrefix?: string;
  /** Image URI the registered model package serves with (for example `servingImages.imageUri(tag)`). */
  readonly servingImageUri: string;
  /**
   * Quality metric the candidate is compared on (a metric name of `METRIC_CONTRACT.modelQuality`).
   * @default 'auc'
   */
  readonly qualityMetric?: string;
  /**
   * Whether a higher or lower quality metric is better.
   * @default QualityDirection.HIGHER_IS_BETTER
   */
  readonly qualityDirection?: QualityDirection;
  /**
   * Least improvement over the production model to register the candidate, 0-1 (passed to the evaluation job,
   * which writes the resulting `threshold`).
   * @default 0
   */
  readonly minImprovement?: number;
  /**
   * Largest fairness gap (0-1) a candidate may have to be rolled out.
   * @default - the profile's `alarms.fairnessGap`
   */
  readonly fairnessGap?: number;
  /**
   * How registered versions are approved. AUTOMATIC only where the profile allows destroying data (dev).
   * @default - AUTOMATIC where the profile allows destroying data (dev), MANUAL otherwise
   */
  readonly approval?: ModelApproval;
  /**
   * Who is asked to approve and who may answer. Required with MANUAL approval: a request nobody hears or can answer
   * ends every run Rejected when it times out.
   * @default - none (AUTOMATIC approval only)
   */
  readonly approvers?: ModelPipelineApprovers;
  /**
   * Longest a manual approval may wait, 1 hour to 7 days.
   * @default Duration.days(3)
   */
  readonly approvalTimeout?: Duration;
  /**
   * Endpoint to roll approved versions out to, with its rollout and rollback alarms. It must serve `modelName`.
   * @default - no rollout (versions are registered and approved only)
   */
  readonly endpoint?: ModelEndpoint;
  /**
   * The environment's promotion: an approved version is promoted through it (`startExecution.sync` of
   * `{ "model": <modelName>, "version": <run>, "candidate": <run> }`, the run being the package's `run` metadata, i.e.
   * the execution that trained it) instead of being rolled out to `endpoint` directly. The run ends `RolledBack` when
   * the promotion fails. `MlopsPlatform.addModelPipeline` passes the platform's for models served by a fleet.
   * @default - approved versions are rolled out to `endpoint` (UpdateEndpoint), or only approved when there is none
   */
  readonly promotion?: ModelPromotion;
  /** @default - none */
  readonly triggers?: ModelPipelineTriggers;
  /**
   * Topic told of every failed run (`{ "event": "model-pipeline-failed", model, error, cause, execution }`) and of the
   * failed-runs alarm (`failedRunsAlarm`). `MlopsPlatform.addModelPipeline` passes the environment's alarm topic.
   * @default - a new topic encrypted with `encryptionKey`, subscribed by `approvers.emails`
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Key of the approval topic and the state machine's log group (it must allow CloudWatch Logs).
   * @default - a new key with rotation, usable by CloudWatch Logs
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

const SPOT_RETRIES = MODEL_PIPELINE_SPOT_RETRIES;
const OUT = MODEL_PIPELINE_OUTCOMES;
/** What every Task retries: throttling and server errors of the services the state machine calls. */
const TRANSIENT_ERRORS = transientServiceErrors(['Batch', 'S3', 'SageMaker', 'Sfn', 'SFN', 'StepFunctions', 'Sns', 'SNS']);
/** Endpoint states an update does not leave by itself: the rollout stops polling and fails. */
const ENDPOINT_STATES_NOT_SERVING = ['UpdateRollbackFailed', 'OutOfService', 'Deleting'];
/** Longest SageMaker model and endpoint config name. */
const SAGEMAKER_NAME_LENGTH = 63;
/** An MD5 in hex, the run part of the SageMaker names a rollout creates. */
const RUN_HASH_LENGTH = 32;

/** Where the failures of a run go (see `ModelPipeline.failurePaths`). */
interface FailurePaths {
  /** Records `{ error, cause }` (cause: the caught `$.error` unless given), stops the run's jobs, notifies, fails. */
  failed(id: string, error: string, cause?: string): sfn.IChainable;
  /** The same, after marking the approved package Rejected again. */
  failedAfterApproval(id: string, error: string, cause?: string): sfn.IChainable;
  /** Records `{ error, cause }`, notifies and fails, without stopping jobs (the cleanup branch's own failures). */
  notified(id: string, error: string, cause?: string): sfn.IChainable;
}

/**
 * Prefix of the SageMaker model and endpoint config names a rollout creates (`<prefix>-<MD5 of the run name>`): the
 * model name when it fits in 30 characters, else its first 21 and 8 hex of its SHA-256, so names never exceed 63.
 */
function sageMakerNamePrefix(modelName: string): string {
  const room = SAGEMAKER_NAME_LENGTH - RUN_HASH_LENGTH - 1;
  if (modelName.length <= room) return modelName;
  return `${modelName.slice(0, room - 9)}-${createHash('sha256').update(modelName).digest('hex').slice(0, 8)}`;
}

/**
 * How often and how long the rollout is polled: its steps' waits, the blue/green termination wait and an hour for
 * instances, at most 1,500 polls (an execution's history holds 25,000 events).
 */
function rolloutPolling(endpoint: ModelEndpoint): { interval: Duration; polls: number } {
  const steps = endpoint.rollout.steps();
  const seconds = steps.reduce((sum, step) => sum + step.waitSeconds, 0) + 3600 + 3600;
  const interval = Math.max(60, Math.ceil(seconds / 1500));
  return { interval: Duration.seconds(interval), polls: Math.ceil(seconds / interval) };
}

/**
 * The retraining pipeline of one model, a Step Functions state machine over the training cluster and the registry:
 * validate the data, train (spot reclamations retried), evaluate against the production model on a holdout, check
 * the fairness gap, register the version as PendingManualApproval with its lineage (dataset version, image digest,
 * metrics), approve it (a person through a task token, or automatically in dev) and roll it out to the endpoint,
 * whose rollout and rollback alarms guard the traffic shift. A run started with `{ "modelPackageArn": ... }` promotes
 * an existing version: it checks the version exists in this environment before approval and rollout.
 */
export class ModelPipeline extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** Topic receiving manual approval requests (with the task token to answer with `SendTaskSuccess`). */
  public readonly approvalTopic: sns.Topic;
  /** Topic told of failed runs and of `failedRunsAlarm` (`alarmTopic`, or the pipeline's own). */
  public readonly alarmTopic: sns.ITopic;
  /** In ALARM when a run fails, times out or is stopped (ExecutionsFailed + ExecutionsTimedOut + ExecutionsAborted). */
  public readonly failedRunsAlarm: cloudwatch.Alarm;
  /** Starts a cleanup run (terminating the Batch jobs) when a run is stopped or times out: no Catch runs then. */
  public readonly cleanupRule: events.Rule;
  public readonly logGroup: logs.LogGroup;
  public readonly encryptionKey: kms.IKey;
  public readonly approval: ModelApproval;
  public readonly fairnessGap: number;
  /** Rules starting runs (schedule, new data, alarms). */
  public readonly triggerRules: events.Rule[] = [];
  /** `s3://` prefix of the step outputs: `<prefix><step>/<execution name>/` (step: validate, train, evaluate). */
  public readonly outputUri: string;

  private readonly props: ModelPipelineProps;
  private readonly stateMachineRole: ManagedPolicyRole;
  private readonly outputPrefix: string;
  private readonly packageArnPattern: string;

  constructor(scope: Construct, id: string, props: ModelPipelineProps) {
    super(scope, id);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);
    this.props = props;
    validatePipelineModelName({ scope: this.node.path }, props.modelName);
    if (!props.registry?.modelPackageGroups?.has(props.modelName)) {
      check.fail('modelName', props.modelName, 'has no model package group in the registry',
        `call registry.addModelPackageGroup('${props.modelName}') (or add it to MlopsPlatform 'modelFamilies') before building its pipeline.`);
    }
    for (const [name, job] of [['validateJob', props.validateJob], ['trainJob', props.trainJob], ['evaluateJob', props.evaluateJob]] as const) {
      if (!job?.jobDefinition || !job.jobQueue) {
        check.fail(name, job, 'must be a job added to the training cluster', `pass the result of trainingCluster.addJobDefinition(...) as '${name}'.`);
      }
    }
    // The gates read what the evaluation job writes: the training job must not be able to write it.
    if (props.evaluateJob.jobRole === props.trainJob.jobRole) {
      check.fail('evaluateJob', props.evaluateJob.jobDefinition.node.path, 'runs as the training job\'s role (it could write the evaluation the gates read)',
        "add a job definition of its own for evaluation, e.g. trainingCluster.addJobDefinition('Evaluate', ...).");
    }
    if (props.holdoutPrefix !== undefined) {
      check.matches('holdoutPrefix', props.holdoutPrefix, /^[A-Za-z0-9][A-Za-z0-9_.\-/]*\/$/, 'a key prefix of the datasets bucket ending with "/", e.g. "fraud/holdout/2026-11/"');
    }
    // Defaults and validation shared with the Pulumi ModelPipeline.
    const spec = resolveModelPipelineSpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, {
      ...props, approvalTimeoutSeconds: props.approvalTimeout?.toSeconds(),
    }, profile);
    this.fairnessGap = spec.fairnessGap;
    this.approval = spec.approval;
    const approvalTimeout = props.approvalTimeout ?? Duration.seconds(spec.approvalTimeoutSeconds);
    if (props.endpoint) this.checkEndpoint(props.endpoint);
    if (this.approval === ModelApproval.MANUAL) this.checkApprovers(props.approvers);

    this.encryptionKey = props.encryptionKey ?? this.newKey(profile);
    this.outputPrefix = `pipelines/${props.modelName}/`;
    this.outputUri = props.artifactStore.s3Uri(ArtifactPurpose.ARTIFACTS, this.outputPrefix);
    const { partition, region, account } = Stack.of(this);
    this.packageArnPattern = `arn:${partition}:sagemaker:${region}:${account}:model-package/${props.modelName}/*`;

    this.approvalTopic = new sns.Topic(this, 'ApprovalTopic', {
      displayName: `Approve ${props.modelName} versions (${profile.name})`,
      masterKey: this.encryptionKey,
      enforceSSL: true,
    });
    for (const email of props.approvers?.emails ?? []) this.approvalTopic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const subscription of props.approvers?.subscriptions ?? []) this.approvalTopic.addSubscription(subscription);
    this.alarmTopic = props.alarmTopic ?? this.newAlarmTopic(profile, props.approvers?.emails ?? []);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: this.encryptionKey,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(this.logGroup, profile.logRetentionDays);

    this.stateMachineRole = new ManagedPolicyRole(this, 'Role', new iam.ServicePrincipal('states.amazonaws.com'),
      `State machine of the ${props.modelName} pipeline: its jobs, registry group, run outputs and endpoint`);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      role: this.stateMachineRole,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(approvalTimeout)),
      comment: `Retrains, evaluates, registers and rolls out ${props.modelName} (${profile.name})`,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.days(14),
    });
    // The state machine reads the role's ARN (GetAtt), which orders it after the role and, through the role's
    // ManagedPolicyArns, after its policy: the explicit DependsOn StateMachine adds is redundant (cfn-lint W3005).
    (this.stateMachine.node.defaultChild as sfn.CfnStateMachine).addDeletionOverride('DependsOn');
    this.grantJobOutputs();
    this.limitSubmissionsToItsJobs();
    this.grantRunLock();
    if (this.approval === ModelApproval.MANUAL) this.grantApprovers(props.approvers!.grantees);
    // Rolling out to the endpoint itself (no promotion): SageMaker models and configs of its own, the endpoint's role.
    if (props.endpoint && !props.promotion) {
      props.endpoint.role.grantPassRole(this.stateMachineRole);
      // SageMaker creates grants on the endpoint's key for the volumes of the instances it launches: grants for AWS
      // resources only, never one the role could hand to a principal of its choice.
      this.stateMachineRole.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['kms:CreateGrant'],
        resources: [props.endpoint.encryptionKey.keyArn],
        conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      }));
      props.endpoint.encryptionKey.grant(this.stateMachineRole, 'kms:DescribeKey');
    }
    // The KMS side of the s3:GetObject the read states do.
    props.artifactStore.encryptionKey.grantDecrypt(this.stateMachineRole);
    // And of the publications to the (encrypted) approval and alarm topics.
    for (const key of [this.approvalTopic.masterKey, this.alarmTopic.masterKey]) key?.grant(this.stateMachineRole, 'kms:Decrypt', 'kms:GenerateDataKey');
    this.acknowledgeStateMachine();
    this.addTriggers(props.triggers ?? {});
    this.failedRunsAlarm = this.alarmOnFailedRuns();
    // A stopped or timed-out run runs no Catch: its status change starts a cleanup run (the CleanUpOrRun branch).
    this.cleanupRule = new events.Rule(this, 'CleanupTrigger', {
      description: `Terminate the Batch jobs of a ${props.modelName} pipeline run that was stopped or timed out`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['ABORTED', 'TIMED_OUT'], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, { role: this.triggerRole })],
    });
  }

  /** Role of the rules that start runs (triggers and the cleanup rule). */
  private get triggerRole(): iam.IRole {
    const existing = this.node.tryFindChild('TriggerRole') as iam.IRole | undefined;
    return existing ?? new ManagedPolicyRole(this, 'TriggerRole', new iam.ServicePrincipal('events.amazonaws.com'), `Starts the ${this.props.modelName} pipeline`);
  }

  /** Failed, timed-out and stopped runs, summed over 5 minutes: any one puts the alarm in ALARM and tells the alarm topic. */
  private alarmOnFailedRuns(): cloudwatch.Alarm {
    const period = Duration.minutes(5);
    const alarm = new cloudwatch.Alarm(this, 'FailedRunsAlarm', {
      alarmDescription: `A run of the ${this.props.modelName} pipeline failed, timed out or was stopped (gate outcomes such as BelowBaseline `
        + 'count too): the execution\'s error and the failure notification say which.',
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ period, statistic: 'Sum' }),
          timedOut: this.stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
          aborted: this.stateMachine.metricAborted({ period, statistic: 'Sum' }),
        },
        period,
        label: 'Failed, timed-out and stopped runs',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
    return alarm;
  }

  /** The pipeline's own alarm topic (no `alarmTopic` given), on its key, which CloudWatch alarms may use to publish. */
  private newAlarmTopic(profile: EnvironmentProfile, emails: string[]): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${this.props.modelName} pipeline failures (${profile.name})`,
      masterKey: this.encryptionKey,
      enforceSSL: true,
    });
    this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublishEncrypted',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    for (const email of emails) topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }

  /** Lets `grantee` answer approval requests (send the task token back). */
  public grantApprove(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantTaskResponse(grantee);
  }

  /**
   * The approvers answer through one customer managed policy (SendTaskSuccess/SendTaskFailure on this state machine),
   * attached to their roles; other grantees (users, groups, imported principals) get the same grant on their own policy.
   */
  private grantApprovers(grantees: iam.IGrantable[]): void {
    const policy = new iam.ManagedPolicy(this, 'ApproverPolicy', {
      description: `Answer approval requests of the ${this.props.modelName} pipeline`,
      statements: [new iam.PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: [this.stateMachine.stateMachineArn] })],
    });
    for (const grantee of grantees) {
      const principal = grantee.grantPrincipal;
      if (principal instanceof iam.Role) policy.attachToRole(principal);
      else if (principal instanceof iam.User) policy.attachToUser(principal);
      else if (principal instanceof iam.Group) policy.attachToGroup(principal);
      else iam.Grant.addToPrincipal({ grantee, actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resourceArns: [this.stateMachine.stateMachineArn] });
    }
  }

  private checkApprovers(approvers: ModelPipelineApprovers | undefined): void {
    const check = checkFor(this);
    if ((approvers?.grantees ?? []).length === 0) {
      check.fail('approvers.grantees', approvers?.grantees, 'must name who may approve (MANUAL approval)',
        'pass the role of the people who approve, e.g. approvers: { grantees: [governance.mlEngineer], emails: [...] }.');
    }
    if ((approvers?.emails ?? []).length === 0 && (approvers?.subscriptions ?? []).length === 0) {
      check.fail('approvers.emails', approvers?.emails, 'must reach someone (MANUAL approval: nobody is told of a request otherwise)',
        "give the approvers' addresses (approvers.emails, or MlopsPlatform's notifyEmails) or another subscription (approvers.subscriptions).");
    }
    for (const email of approvers?.emails ?? []) check.matches('approvers.emails', email, /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an email address');
  }

  /** One active run per model: a run that finds another one running fails at once (`AnotherRunActive`). */
  private grantRunLock(): void {
    // Attached to the role from outside (Roles), so the state machine does not depend on a policy naming its own ARN.
    new iam.ManagedPolicy(this, 'RunLockPolicy', {
      description: `Run lock of the ${this.props.modelName} pipeline: list its own running executions`,
      roles: [this.stateMachineRole],
      statements: [new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [this.stateMachine.stateMachineArn] })],
    });
  }

  private checkEndpoint(endpoint: ModelEndpoint): void {
    const check = checkFor(this);
    // The endpoint reads its artifacts from `<modelName>/<version>/` of the MODELS bucket (see ModelEndpoint).
    const container = endpoint.variants[0]?.model.primaryContainer as { environment?: Record<string, string> } | undefined;
    const uri = JSON.stringify(Stack.of(endpoint).resolve(container?.environment?.MODEL_URI));
    if (!uri.includes(`/${this.props.modelName}/`)) {
      check.fail('endpoint', endpoint.endpointName, `does not serve '${this.props.modelName}' (its artifacts are not below '${this.props.modelName}/')`,
        `roll '${this.props.modelName}' out to an endpoint with modelName '${this.props.modelName}', or build a pipeline for the endpoint's model.`);
    }
    validatePipelineRollout({ scope: this.node.path }, endpoint.rollout);
    if (endpoint.hosting === 'inference-component' && !this.props.promotion) {
      // Its variant names no model: a configuration with the new model on the variant would not update the component.
      check.fail('endpoint', endpoint.endpointName, 'scales to zero off hours (its model is an inference component), which the pipeline cannot update in place',
        "pass 'promotion' (platform.modelPromotion: the promotion updates the endpoint's stack, which rolls the component), "
        + "or give the endpoint 'scaleToZeroOffHours: false'.");
    }
  }

  /** A SageMaker call (`action` as the SDK names it) on this model's package group, retried. */
  private packageCall(id: string, action: string, props: Omit<tasks.CallAwsServiceProps, 'service' | 'action' | 'iamAction' | 'iamResources'>): tasks.CallAwsService {
    const iamAction = `sagemaker:${action.charAt(0).toUpperCase()}${action.slice(1)}`;
    return this.retried(new tasks.CallAwsService(this, id, { service: 'sagemaker', action, iamAction, iamResources: [this.packageArnPattern], ...props }));
  }

  /** Retries the throttling and server errors of the services the state machine calls, with backoff and jitter. */
  private retried<T extends sfn.TaskStateBase | sfn.CustomState>(task: T): T {
    task.addRetry({ errors: TRANSIENT_ERRORS, interval: Duration.seconds(2), maxAttempts: 5, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    return task;
  }

  /**
   * Where failures go: `$.failure` records the error and its cause, the run's Batch jobs are terminated, the alarm topic
   * is told, and the run fails with the recorded error. After approval the package is first marked Rejected again.
   */
  private failurePaths(): FailurePaths {
    const modelName = this.props.modelName;
    const fail = new sfn.Fail(this, OUT.failed, { errorPath: '$.failure.error', causePath: '$.failure.cause' });
    const notify = this.retried(new tasks.SnsPublish(this, 'NotifyFailure', {
      topic: this.alarmTopic,
      subject: `${modelName} pipeline run failed`,
      message: failureMessage('model-pipeline-failed', { model: modelName }),
      resultPath: sfn.JsonPath.DISCARD,
    }));
    notify.addCatch(fail, { resultPath: '$.notifyError' });
    notify.next(fail);
    const stop = this.stopJobs('Failed', sfn.JsonPath.executionName, 'The pipeline run failed', notify, notify);
    const unapprove = this.packageCall('Unapprove', 'updateModelPackage', {
      parameters: {
        ModelPackageArn: sfn.JsonPath.stringAt('$.modelPackage.arn'),
        ModelApprovalStatus: 'Rejected',
        ApprovalDescription: sfn.JsonPath.format('Rejected again: run {} failed after approval ({})', sfn.JsonPath.executionName, sfn.JsonPath.stringAt('$.failure.error')),
      },
      resultPath: sfn.JsonPath.DISCARD,
    });
    unapprove.addCatch(stop, { resultPath: '$.unapproveError' });
    unapprove.next(stop);
    const record = (then: sfn.IChainable) => (id: string, error: string, cause?: string) => new sfn.Pass(this, id, {
      parameters: { error, cause: cause ?? sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.error')) },
      resultPath: '$.failure',
    }).next(then);
    return { failed: record(stop), failedAfterApproval: record(unapprove), notified: record(notify) };
  }

  /**
   * Terminates the Batch jobs of a run (its job names start with `<model>-<MD5 of the run's name>-`): ListJobs on each
   * queue the pipeline submits to, TerminateJob on each job found (a job that has ended is left as it is), then `then`;
   * a call that still fails after its retries goes to `onError`.
   */
  private stopJobs(id: string, runName: string, reason: string, then: sfn.IChainable, onError: sfn.IChainable): sfn.IChainable {
    const jobs = [this.props.validateJob, this.props.trainJob, this.props.evaluateJob];
    const queues = jobs.map((j) => j.jobQueue.jobQueueArn).filter((q, i, all) => all.indexOf(q) === i);
    const { partition, region, account } = Stack.of(this);
    const names = new sfn.Pass(this, `${id}RunJobs`, {
      parameters: { names: sfn.JsonPath.array(sfn.JsonPath.format(`${this.props.modelName}-{}-*`, sfn.JsonPath.hash(runName, 'MD5'))) },
      resultPath: '$.cleanup',
    });
    let chain = sfn.Chain.start(names);
    queues.forEach((queue, i) => {
      const n = i === 0 ? '' : String(i + 1);
      const list = this.retried(new tasks.CallAwsService(this, `${id}ListJobs${n}`, {
        service: 'batch',
        action: 'listJobs',
        iamAction: 'batch:ListJobs',
        iamResources: ['*'],
        parameters: { JobQueue: queue, Filters: [{ Name: 'JOB_NAME', Values: sfn.JsonPath.listAt('$.cleanup.names') }], MaxResults: 100 },
        resultSelector: { 'JobSummaryList.$': '$.JobSummaryList' },
        resultPath: '$.cleanup.jobs',
      }));
      list.addCatch(onError, { resultPath: '$.cleanupError' });
      const terminate = this.retried(new tasks.CallAwsService(this, `${id}TerminateJob${n}`, {
        service: 'batch',
        action: 'terminateJob',
        iamAction: 'batch:TerminateJob',
        iamResources: [`arn:${partition}:batch:${region}:${account}:job/*`],
        parameters: { JobId: sfn.JsonPath.stringAt('$.id'), Reason: reason },
        resultPath: sfn.JsonPath.DISCARD,
      }));
      const each = new sfn.Map(this, `${id}TerminateJobs${n}`, {
        itemsPath: '$.cleanup.jobs.JobSummaryList',
        itemSelector: { id: sfn.JsonPath.stringAt('$$.Map.Item.Value.JobId') },
        maxConcurrency: 10,
        resultPath: sfn.JsonPath.DISCARD,
      });
      each.itemProcessor(terminate);
      // A job that could not be terminated fails the Map (the Task inside has no Catch of its own): people are told.
      each.addCatch(onError, { resultPath: '$.cleanupError' });
      chain = chain.next(list).next(each);
    });
    return chain.next(then);
  }

  private definition(approvalTimeout: Duration): sfn.IChainable {
    const props = this.props;
    const modelName = props.modelName;
    const run = sfn.JsonPath.executionName;
    const paths = this.failurePaths();
    const stepOutput = (step: string) => sfn.JsonPath.format(`${this.outputUri}${step}/{}/`, run);
    // The candidate of this run, below candidates/ (training never writes served/).
    const modelUri = sfn.JsonPath.format(`${props.artifactStore.candidateUri(modelName, '{}')}`, run);
    const manifestUri = sfn.JsonPath.format(`${this.outputUri}validate/{}/manifest.json`, run);
    const env = (step: string, extra: Record<string, string> = {}) => ({
      OUTPUT_URI: stepOutput(step), MODEL_NAME: modelName, MODEL_VERSION: run, MODEL_URI: modelUri, ...extra,
    });
    type Env = Record<string, string>;
    const batchJob = (id: string, job: TrainingJob, environment: Env, resultPath: string) => this.retried(new tasks.BatchSubmitJob(this, id, {
      // Named after the run (the MD5 of its name: Batch job names take letters, digits, - and _ only), so a failed or
      // stopped run finds its jobs to terminate them.
      jobName: sfn.JsonPath.format(`${modelName}-{}-${id.toLowerCase()}`, sfn.JsonPath.hash(run, 'MD5')),
      jobDefinitionArn: job.jobDefinition.jobDefinitionArn,
      jobQueueArn: job.jobQueue.jobQueueArn,
      // Each run checkpoints below its own prefix: a new run never resumes another run's checkpoint.
      containerOverrides: { environment: { CHECKPOINT_URI: sfn.JsonPath.format(`${job.checkpointUri}{}/`, run), ...environment } },
      resultSelector: { 'jobId.$': '$.JobId', 'image.$': '$.Container.Image' },
      resultPath,
    }));
    const fail = (id: string, cause: string) => new sfn.Fail(this, id, { error: id, cause });

    // 1. Validate: any failure stops the run.
    const validate = batchJob('ValidateData', props.validateJob, env('validate'), '$.validateJob');
    validate.addCatch(paths.failed('ValidateDataFailed', OUT.dataInvalid), { resultPath: '$.error' });
    const readValidation = this.readOutput('ReadValidation', 'validate', 'validation.json', '$.validation', paths);

    // 2. Train, retrying spot reclamations (Batch reports "Host EC2 ... terminated") a bounded number of times.
    const train = batchJob('Train', props.trainJob, env('train', { DATASET_MANIFEST_URI: manifestUri }), '$.trainJob');
    const trainingFailed = paths.failed('TrainFailed', OUT.trainingFailed);
    const parseFailure = new sfn.Pass(this, 'ParseTrainingFailure', {
      parameters: { 'reason.$': 'States.StringToJson($.error.Cause)', 'attempt.$': 'States.MathAdd($.spot.attempt, 1)' },
      resultPath: '$.spot',
    });
    const spotRetry = new sfn.Choice(this, 'SpotInterrupted')
      .when(sfn.Condition.and(
        sfn.Condition.stringMatches('$.spot.reason.StatusReason', 'Host EC2*'),
        sfn.Condition.numberLessThanEquals('$.spot.attempt', SPOT_RETRIES),
      ), train)
      .otherwise(trainingFailed);
    // A failed Batch job's cause is its description (JSON, with StatusReason); timeouts and the service's own errors
    // (whose cause is a message) are not retried. A Choice on a missing path fails the run: presence first.
    const jobFailure = new sfn.Choice(this, 'TrainJobFailed')
      .when(sfn.Condition.and(
        sfn.Condition.stringEquals('$.error.Error', sfn.Errors.TASKS_FAILED),
        sfn.Condition.stringMatches('$.error.Cause', '{*"StatusReason"*'),
      ), parseFailure.next(spotRetry))
      .otherwise(trainingFailed);
    train.addCatch(new sfn.Choice(this, 'TrainFailureHasCause')
      .when(sfn.Condition.and(sfn.Condition.isString('$.error.Error'), sfn.Condition.isString('$.error.Cause')), jobFailure)
      .otherwise(trainingFailed), { resultPath: '$.error' });
    const initSpot = new sfn.Pass(this, 'InitSpotAttempts', { result: sfn.Result.fromObject({ attempt: 0 }), resultPath: '$.spot' });
    const readTraining = this.readOutput('ReadTraining', 'train', 'training.json', '$.training', paths);

    // 3. Evaluate on the holdout against the production model.
    const metric = props.qualityMetric ?? 'auc';
    const higherIsBetter = (props.qualityDirection ?? QualityDirection.HIGHER_IS_BETTER) === QualityDirection.HIGHER_IS_BETTER;
    const { production, readProduction } = this.productionModel(paths);
    const evaluate = batchJob('Evaluate', props.evaluateJob, env('evaluate', {
      DATASET_MANIFEST_URI: manifestUri,
      SERVED_MODELS_URI: props.artifactStore.s3Uri(ArtifactPurpose.MODELS, MODEL_ARTIFACT_LAYOUT.servedPrefix(modelName)),
      ...production,
      ...(props.holdoutPrefix ? { HOLDOUT_URI: props.artifactStore.s3Uri(ArtifactPurpose.DATASETS, props.holdoutPrefix) } : {}),
      QUALITY_METRIC: metric,
      HIGHER_IS_BETTER: String(higherIsBetter),
      MIN_IMPROVEMENT: String(props.minImprovement ?? 0),
      METRICS_NAMESPACE: METRIC_CONTRACT.modelQuality.namespace,
      FAIRNESS_NAMESPACE: METRIC_CONTRACT.fairness.namespace,
    }), '$.evaluateJob');
    evaluate.addCatch(paths.failed('EvaluateFailed', OUT.evaluationFailed), { resultPath: '$.error' });
    const readEvaluation = this.readOutput('ReadEvaluation', 'evaluate', 'evaluation.json', '$.evaluation', paths);
    // The threshold the job derived from MIN_IMPROVEMENT, and never worse than the baseline, checked here.
    const better = higherIsBetter
      ? sfn.Condition.and(
        sfn.Condition.numberGreaterThanEqualsJsonPath('$.evaluation.candidate', '$.evaluation.threshold'),
        sfn.Condition.numberGreaterThanEqualsJsonPath('$.evaluation.candidate', '$.evaluation.baseline'))
      : sfn.Condition.and(
        sfn.Condition.numberLessThanEqualsJsonPath('$.evaluation.candidate', '$.evaluation.threshold'),
        sfn.Condition.numberLessThanEqualsJsonPath('$.evaluation.candidate', '$.evaluation.baseline'));
    const qualityGate = new sfn.Choice(this, 'BeatsProduction');
    const fairnessGate = new sfn.Choice(this, 'FairnessWithinThreshold');

    // 4. Register with lineage, pending approval. The package serves the archive its container is told to read: with
    //    promotion, the served archive promotion writes for this run (version = run), which promotion then records
    //    (servedObject, sha256) and another environment can promote by the package's ARN; else the candidate, which
    //    the pipeline's own rollout serves through the package.
    const candidateArchive = sfn.JsonPath.format(`{}${MODEL_ARTIFACT_LAYOUT.archive}`, modelUri);
    const archiveUri = props.promotion ? sfn.JsonPath.format(props.artifactStore.servedModelUri(modelName, '{}'), run) : candidateArchive;
    const evaluationUri = sfn.JsonPath.format(`${this.outputUri}evaluate/{}/evaluation.json`, run);
    const validationOutput = (file: string) => sfn.JsonPath.format(`${this.outputUri}validate/{}/${file}`, run);
    const register = this.packageCall('RegisterVersion', 'createModelPackage', {
      parameters: {
        ModelPackageGroupName: modelName,
        ModelPackageDescription: sfn.JsonPath.format('Run {} of the {} pipeline', run, modelName),
        ModelApprovalStatus: 'PendingManualApproval',
        InferenceSpecification: {
          // MODEL_URI is what the serving container loads (as on ModelEndpoint's and InferenceFleet's own models).
          Containers: [{ Image: props.servingImageUri, ModelDataUrl: archiveUri, Environment: { MODEL_URI: archiveUri } }],
          SupportedContentTypes: ['application/json'],
          SupportedResponseMIMETypes: ['application/json'],
        },
        // The evaluation the gates passed (quality against production, fairness gap), where the evaluation job wrote it.
        ModelMetrics: {
          ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: evaluationUri } },
          Bias: { Report: { ContentType: 'application/json', S3Uri: evaluationUri } },
        },
        // What monitoring compares production with: the training data's statistics and constraints (the validation
        // job's, Model Monitor's format) and the evaluation the gates passed.
        DriftCheckBaselines: {
          ModelDataQuality: {
            Statistics: { ContentType: 'application/json', S3Uri: validationOutput('statistics.json') },
            Constraints: { ContentType: 'application/json', S3Uri: validationOutput('constraints.json') },
          },
          ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: evaluationUri } },
        },
        CustomerMetadataProperties: {
          run: run,
          candidateUri: candidateArchive,
          datasetVersion: sfn.JsonPath.stringAt('$.validation.datasetVersion'),
          trainingImage: sfn.JsonPath.stringAt('$.trainJob.image'),
          imageDigest: sfn.JsonPath.stringAt('$.training.imageDigest'),
          codeVersion: sfn.JsonPath.stringAt('$.training.codeVersion'),
          trainJobId: sfn.JsonPath.stringAt('$.trainJob.jobId'),
          evaluateJobId: sfn.JsonPath.stringAt('$.evaluateJob.jobId'),
          qualityMetric: metric,
          candidate: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.evaluation.candidate')),
          baseline: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.evaluation.baseline')),
          fairnessGap: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.evaluation.fairnessGap')),
          ...(readProduction ? { baselineVersion: sfn.JsonPath.stringAt('$.production.version') } : {}),
          ...(props.holdoutPrefix ? { holdout: props.holdoutPrefix } : {}),
        },
      },
      resultSelector: { 'arn.$': '$.ModelPackageArn' },
      resultPath: '$.modelPackage',
    });
    register.addCatch(paths.failed('RegisterVersionFailed', OUT.failed), { resultPath: '$.error' });

    // 5. The version must exist in this environment (promotions start here).
    const checkRegistered = this.packageCall('CheckRegistered', 'describeModelPackage', {
      parameters: { ModelPackageName: sfn.JsonPath.stringAt('$.modelPackage.arn') },
      resultSelector: { 'status.$': '$.ModelApprovalStatus', 'group.$': '$.ModelPackageGroupName' },
      resultPath: '$.registered',
    });
    checkRegistered.addCatch(paths.failed('CheckRegisteredFailed', OUT.notRegistered), { resultPath: '$.error' });
    const inGroup = new sfn.Choice(this, 'InModelPackageGroup')
      .when(sfn.Condition.stringEquals('$.registered.group', modelName), this.approvalFlow(approvalTimeout, paths))
      .otherwise(paths.failed('NotInModelPackageGroup', OUT.notRegistered,
        `The model package is not a version of ${modelName} in this environment; register it here before promoting it.`));

    const promote = new sfn.Pass(this, 'Promote', {
      parameters: { 'arn.$': '$.modelPackageArn' },
      resultPath: '$.modelPackage',
    });
    const start = new sfn.Choice(this, 'PromoteOrRetrain')
      .when(sfn.Condition.isPresent('$.modelPackageArn'), promote.next(checkRegistered))
      .otherwise(validate);
    // One active run per model: the execution lists its own state machine's running executions (itself included).
    const lock = this.retried(new sfn.CustomState(this, 'CheckRunLock', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::aws-sdk:sfn:listExecutions`,
        Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'StatusFilter': 'RUNNING', 'MaxResults': 2 },
        ResultSelector: { 'running.$': 'States.ArrayLength($.Executions)' },
        ResultPath: '$.lock',
      },
    }));
    lock.addCatch(paths.failed('CheckRunLockFailed', OUT.failed), { resultPath: '$.error' });
    const anotherRun = fail(OUT.anotherRunActive, 'Another run of this pipeline is active; this one stopped before doing anything.');
    lock.next(new sfn.Choice(this, 'OnlyActiveRun').when(sfn.Condition.numberGreaterThan('$.lock.running', 1), anotherRun).otherwise(start));

    validate.next(readValidation).next(initSpot).next(train);
    // Every number the gates compare must be there (a Choice on a missing path fails the run with States.Runtime).
    const numbers = ['candidate', 'baseline', 'threshold', 'fairnessGap'].map((k) => `$.evaluation.${k}`);
    const incomplete = paths.failed('EvaluationLacksNumbers', OUT.evaluationIncomplete,
      'evaluation.json lacks a number the gates compare (candidate, baseline, threshold, fairnessGap).');
    const complete = new sfn.Choice(this, 'EvaluationComplete')
      .when(sfn.Condition.and(...numbers.map((p) => sfn.Condition.isPresent(p))), new sfn.Choice(this, 'EvaluationNumeric')
        .when(sfn.Condition.and(...numbers.map((p) => sfn.Condition.isNumeric(p))), qualityGate)
        .otherwise(incomplete))
      .otherwise(incomplete);
    (readProduction ? train.next(readTraining).next(readProduction) : train.next(readTraining)).next(evaluate).next(readEvaluation).next(complete);
    qualityGate.when(better, fairnessGate).otherwise(fail(OUT.belowBaseline, `The candidate's ${metric} does not beat the production model.`));
    fairnessGate
      .when(sfn.Condition.numberLessThanEquals('$.evaluation.fairnessGap', this.fairnessGap), register)
      .otherwise(fail(OUT.biasAboveThreshold, `The candidate's fairness gap is above ${this.fairnessGap}.`));
    register.next(checkRegistered).next(inGroup);

    // A run stopped from outside (or timed out) runs no Catch: the cleanup rule starts this state machine with the
    // status change event, and this branch terminates that run's Batch jobs.
    const cleanedUp = new sfn.Succeed(this, OUT.cleanedUp);
    return new sfn.Choice(this, 'CleanUpOrRun')
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.detail.name'), sfn.Condition.isPresent('$.detail.stateMachineArn')),
        this.stopJobs('Stopped', sfn.JsonPath.stringAt('$.detail.name'), 'The pipeline run was stopped or timed out', cleanedUp,
          paths.notified('CleanupFailed', OUT.failed, 'The Batch jobs of a stopped or timed-out run could not all be terminated: stop them by hand.')))
      .otherwise(lock);
  }

  /** Approval (manual task token or automatic), then the rollout. */
  private approvalFlow(approvalTimeout: Duration, paths: FailurePaths): sfn.IChainable {
    const setStatus = (id: string, status: string, approvedBy?: string) => {
      const task = this.packageCall(id, 'updateModelPackage', {
        parameters: {
          ModelPackageArn: sfn.JsonPath.stringAt('$.modelPackage.arn'),
          ModelApprovalStatus: status,
          ...(approvedBy ? { ApprovalDescription: sfn.JsonPath.format('Approved by {}', approvedBy), CustomerMetadataProperties: { approvedBy } } : {}),
        },
        resultPath: sfn.JsonPath.DISCARD,
      });
      task.addCatch(paths.failed(`${id}Failed`, OUT.failed), { resultPath: '$.error' });
      return task;
    };
    if (this.approval === ModelApproval.AUTOMATIC) {
      const automatic = setStatus('MarkApproved', 'Approved', 'automatic approval (dev profile)');
      automatic.next(this.rolloutFlow(paths));
      return automatic;
    }
    // The answer names its approver; CloudTrail records who sent it (states:SendTaskSuccess), the package keeps the name.
    const approve = setStatus('MarkApproved', 'Approved', sfn.JsonPath.stringAt('$.approval.approver'));
    approve.next(this.rolloutFlow(paths));

    // A "no" ends the run at once; no answer in time (or SendTaskFailure) is also told to the alarm topic.
    const answeredNo = new sfn.Fail(this, OUT.rejected, { error: OUT.rejected, cause: 'The version was rejected.' });
    const rejected = setStatus('MarkRejected', 'Rejected').next(new sfn.Choice(this, 'RejectedByAnswer')
      .when(sfn.Condition.isPresent('$.error'), paths.failed('ApprovalNotGiven', OUT.rejected))
      .otherwise(answeredNo));
    const request = this.retried(new tasks.SnsPublish(this, 'RequestApproval', {
      topic: this.approvalTopic,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      subject: `Approve ${this.props.modelName}`,
      message: sfn.TaskInput.fromObject({
        model: this.props.modelName,
        modelPackageArn: sfn.JsonPath.stringAt('$.modelPackage.arn'),
        execution: sfn.JsonPath.executionId,
        taskToken: sfn.JsonPath.taskToken,
        answer: 'aws stepfunctions send-task-success --task-token <taskToken> --task-output \'{"approved": true, "approver": "<your name>"}\' '
          + '(or "approved": false); only the approvers\' role may answer',
      }),
      taskTimeout: sfn.Timeout.duration(approvalTimeout),
      resultPath: '$.approval',
    }));
    request.addCatch(rejected, { resultPath: '$.error' });
    // A Choice rule on a path that does not exist fails the run (States.Runtime): presence is checked first.
    const approved = new sfn.Choice(this, 'Approved')
      .when(sfn.Condition.and(
        sfn.Condition.isBoolean('$.approval.approved'),
        sfn.Condition.booleanEquals('$.approval.approved', true),
        sfn.Condition.isString('$.approval.approver'),
      ), this.checkBaselineThen(approve, paths))
      .otherwise(rejected);
    return request.next(new sfn.Choice(this, 'Answered')
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.approval.approved'), sfn.Condition.isPresent('$.approval.approver')), approved)
      .otherwise(rejected));
  }

  /**
   * SageMaker deployment guardrails: a new model and endpoint config (named `<model prefix>-<MD5 of the run>`, at most
   * 63 characters), traffic shifted by the rollout, rolled back on alarm; polled until the endpoint is in service on
   * the new config, back on the old one, or in a state it does not recover from by itself.
   */
  private rolloutFlow(paths: FailurePaths): sfn.IChainable {
    const done = new sfn.Succeed(this, OUT.succeeded);
    if (this.props.promotion) return this.promotionFlow(this.props.promotion, done, paths);
    const endpoint = this.props.endpoint;
    if (!endpoint) return done;
    const { partition, region, account } = Stack.of(this);
    const arn = (type: string, name: string) => `arn:${partition}:sagemaker:${region}:${account}:${type}/${name}`;
    const prefix = sageMakerNamePrefix(this.props.modelName);
    const name = sfn.JsonPath.stringAt('$.rollout.name');
    const variant = endpoint.variants[0];
    const catchAfterApproval = (task: sfn.TaskStateBase) => {
      task.addCatch(paths.failedAfterApproval(`${task.node.id}Failed`, OUT.failed), { resultPath: '$.error' });
      return task;
    };
    const naming = new sfn.Pass(this, 'NameRollout', {
      parameters: { name: sfn.JsonPath.format(`${prefix}-{}`, sfn.JsonPath.hash(sfn.JsonPath.executionName, 'MD5')), polls: 0 },
      resultPath: '$.rollout',
    });
    const createModel = catchAfterApproval(this.retried(new tasks.CallAwsService(this, 'CreateModel', {
      service: 'sagemaker',
      action: 'createModel',
      iamAction: 'sagemaker:CreateModel',
      iamResources: [arn('model', `${prefix}-*`)],
      parameters: {
        ModelName: name,
        ExecutionRoleArn: endpoint.role.roleArn,
        PrimaryContainer: { ModelPackageName: sfn.JsonPath.stringAt('$.modelPackage.arn') },
        EnableNetworkIsolation: true,
        VpcConfig: endpointVpcConfig(endpoint),
      },
      resultPath: sfn.JsonPath.DISCARD,
    })));
    const createConfig = catchAfterApproval(this.retried(new tasks.CallAwsService(this, 'CreateEndpointConfig', {
      service: 'sagemaker',
      action: 'createEndpointConfig',
      iamAction: 'sagemaker:CreateEndpointConfig',
      iamResources: [arn('endpoint-config', `${prefix}-*`)],
      parameters: {
        EndpointConfigName: name,
        // As the endpoint's own config: no volume key on instance types with NVMe storage, the same data capture.
        KmsKeyId: endpoint.endpointConfig.kmsKeyId,
        DataCaptureConfig: pascalKeys(endpoint.endpointConfig.dataCaptureConfig),
        ProductionVariants: [{
          VariantName: variant.name,
          ModelName: name,
          InstanceType: `ml.${endpoint.instance.instanceType}`,
          InitialInstanceCount: Math.max(endpoint.minCapacity, 1),
        }],
      },
      resultPath: sfn.JsonPath.DISCARD,
    })));
    const update = catchAfterApproval(this.retried(new tasks.CallAwsService(this, 'UpdateEndpoint', {
      service: 'sagemaker',
      action: 'updateEndpoint',
      iamAction: 'sagemaker:UpdateEndpoint',
      iamResources: [arn('endpoint', endpoint.endpointName.toLowerCase()), arn('endpoint-config', `${prefix}-*`)],
      parameters: { EndpointName: endpoint.endpointName, EndpointConfigName: name, DeploymentConfig: deploymentConfig(endpoint) },
      resultPath: sfn.JsonPath.DISCARD,
    })));
    const { interval, polls } = rolloutPolling(endpoint);
    const wait = new sfn.Wait(this, 'WaitForRollout', { time: sfn.WaitTime.duration(interval) });
    const describe = catchAfterApproval(this.retried(new tasks.CallAwsService(this, 'DescribeEndpoint', {
      service: 'sagemaker',
      action: 'describeEndpoint',
      iamAction: 'sagemaker:DescribeEndpoint',
      iamResources: [arn('endpoint', endpoint.endpointName.toLowerCase())],
      parameters: { EndpointName: endpoint.endpointName },
      resultSelector: { 'status.$': '$.EndpointStatus', 'config.$': '$.EndpointConfigName' },
      resultPath: '$.endpoint',
    })));
    const count = new sfn.Pass(this, 'CountRolloutPoll', {
      parameters: { 'name.$': '$.rollout.name', 'polls.$': 'States.MathAdd($.rollout.polls, 1)' },
      resultPath: '$.rollout',
    });
    const status = sfn.JsonPath.stringAt('$.endpoint.status');
    const statusChoice = new sfn.Choice(this, 'RolloutStatus')
      .when(sfn.Condition.stringEquals('$.endpoint.status', 'Failed'), paths.failedAfterApproval('EndpointUpdateFailed', OUT.rolledBack,
        'The endpoint update failed (SageMaker rolled it back); the endpoint serves the previous version.'))
      .when(sfn.Condition.or(...ENDPOINT_STATES_NOT_SERVING.map((s) => sfn.Condition.stringEquals('$.endpoint.status', s))),
        paths.failedAfterApproval('EndpointNotServing', OUT.rolloutFailed, sfn.JsonPath.format('The endpoint ended the update {}: it needs an operator.', status)))
      .when(sfn.Condition.and(
        sfn.Condition.stringEquals('$.endpoint.status', 'InService'),
        sfn.Condition.stringEqualsJsonPath('$.endpoint.config', '$.rollout.name'),
      ), done)
      .when(sfn.Condition.stringEquals('$.endpoint.status', 'InService'), paths.failedAfterApproval('EndpointRolledBack', OUT.rolledBack,
        'A rollback alarm fired: the endpoint is back on its previous config and serves the previous version.'))
      // Not finished in the rollout's time: the package stays Approved (the update may still finish), people are told.
      .when(sfn.Condition.numberGreaterThanEquals('$.rollout.polls', polls), paths.failed('RolloutNotFinished', OUT.rolloutTimedOut,
        sfn.JsonPath.format('The endpoint is still {} after the rollout\'s time; the package stays Approved until someone decides.', status)))
      .otherwise(count);
    count.next(wait);
    return naming.next(createModel).next(createConfig).next(update).next(wait).next(describe).next(statusChoice);
  }

  /** Promotion through the environment's ModelPromotion, of the run that trained the approved package. */
  private promotionFlow(promotion: ModelPromotion, done: sfn.Succeed, paths: FailurePaths): sfn.IChainable {
    const readRun = this.packageCall('ReadPromotedRun', 'describeModelPackage', {
      parameters: { ModelPackageName: sfn.JsonPath.stringAt('$.modelPackage.arn') },
      resultSelector: { 'run.$': '$.CustomerMetadataProperties.run' },
      resultPath: '$.promoted',
    });
    readRun.addCatch(paths.failedAfterApproval('ReadPromotedRunFailed', OUT.failed), { resultPath: '$.error' });
    const promote = this.retried(new sfn.CustomState(this, 'StartPromotion', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::states:startExecution.sync:2`,
        Parameters: {
          StateMachineArn: promotion.stateMachineArn,
          Input: {
            'model': this.props.modelName,
            'version.$': '$.promoted.run',
            'candidate.$': '$.promoted.run',
            // Promotion records the served archive and its SHA-256 in this package (what another environment checks).
            'modelPackageArn.$': '$.modelPackage.arn',
            'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
          },
        },
        ResultSelector: { 'status.$': '$.Status' },
        ResultPath: '$.promotion',
      },
    }));
    // The promotion failed or rolled back (its execution and the alarm topic say why): production serves the previous version.
    promote.addCatch(paths.failedAfterApproval('PromotionFailed', OUT.rolledBack), { resultPath: '$.error' });
    const { partition, region, account } = Stack.of(this);
    const executions = `arn:${partition}:states:${region}:${account}:execution:${promotion.stateMachineName}:*`;
    this.stateMachineRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [promotion.stateMachineArn] }));
    this.stateMachineRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [executions] }));
    this.stateMachineRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule' })],
    }));
    Validations.of(this.stateMachineRole.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, executions)}]`,
      reason: `Wildcard of the ${this.props.modelName} pipeline state machine: the executions of the environment's promotion state machine it starts and follows (startExecution.sync).`,
    });
    return readRun.next(promote).next(done);
  }

  /**
   * The production model the evaluation compares with: read from the served state when the run evaluates (the version
   * production serves then), else the endpoint's template version, else none.
   */
  private productionModel(paths: FailurePaths): { production: Record<string, string>; readProduction?: sfn.IChainable } {
    if (!this.servedState) {
      const container = this.props.endpoint?.variants[0]?.model.primaryContainer as { modelDataUrl?: string } | undefined;
      return { production: container?.modelDataUrl ? { PRODUCTION_MODEL_URI: container.modelDataUrl } : {} };
    }
    const read = this.readServedVersion(this.servedState, 'ReadProductionVersion', '$.production', paths);
    const version = sfn.JsonPath.stringAt('$.production.version');
    return {
      production: {
        PRODUCTION_VERSION: version,
        PRODUCTION_MODEL_URI: sfn.JsonPath.format(this.props.artifactStore.servedModelUri(this.props.modelName, '{}'), version),
      },
      readProduction: read,
    };
  }

  /** The served state the production model is read from (`servedState`, or the endpoint's). */
  private get servedState(): ServedStateParameter | undefined {
    return this.props.servedState ?? this.props.endpoint?.servedState;
  }

  /** Reads the version production serves (the served state's first variant, `current`) into `resultPath`.version. */
  private readServedVersion(servedState: ServedStateParameter, id: string, resultPath: string, paths: FailurePaths): tasks.CallAwsService {
    // The served state's format is encodeServedState's: `<variant>=<version>@<weight>,...`.
    const split = (text: string, delimiter: string, index: number) => `States.ArrayGetItem(States.StringSplit(${text}, '${delimiter}'), ${index})`;
    const read = this.retried(new tasks.CallAwsService(this, id, {
      service: 'ssm',
      action: 'getParameter',
      iamAction: 'ssm:GetParameter',
      iamResources: [servedState.parameterArn],
      parameters: { Name: servedState.parameterName },
      resultSelector: { 'version.$': split(split(split('$.Parameter.Value', ',', 0), '=', 1), '@', 0) },
      resultPath,
    }));
    read.addCatch(paths.failed(`${id}Failed`, OUT.failed), { resultPath: '$.error' });
    return read;
  }

  /**
   * Approval can take days: production may have moved on meanwhile (another promotion). When the run evaluated against
   * a served version, it is read again after the approval; a different one rejects the package (`BaselineChanged`).
   */
  private checkBaselineThen(approve: sfn.IChainable, paths: FailurePaths): sfn.IChainable {
    if (!this.servedState) return approve;
    const recheck = this.readServedVersion(this.servedState, 'RecheckProductionVersion', '$.productionNow', paths);
    const stale = this.packageCall('MarkStale', 'updateModelPackage', {
      parameters: {
        ModelPackageArn: sfn.JsonPath.stringAt('$.modelPackage.arn'),
        ModelApprovalStatus: 'Rejected',
        ApprovalDescription: sfn.JsonPath.format('Evaluated against {}, production serves {} now: retrain',
          sfn.JsonPath.stringAt('$.production.version'), sfn.JsonPath.stringAt('$.productionNow.version')),
      },
      resultPath: sfn.JsonPath.DISCARD,
    });
    const changed = paths.failed('ProductionMovedOn', OUT.baselineChanged,
      sfn.JsonPath.format('The version was evaluated against {}; production serves {} now. Retrain against it.',
        sfn.JsonPath.stringAt('$.production.version'), sfn.JsonPath.stringAt('$.productionNow.version')));
    stale.addCatch(changed, { resultPath: '$.markError' });
    stale.next(changed);
    recheck.next(new sfn.Choice(this, 'BaselineUnchanged')
      .when(sfn.Condition.stringEqualsJsonPath('$.productionNow.version', '$.production.version'), approve)
      .otherwise(stale));
    // Versions promoted by ARN were not evaluated here: nothing to compare.
    return new sfn.Choice(this, 'EvaluatedAgainstProduction')
      .when(sfn.Condition.isPresent('$.production.version'), recheck)
      .otherwise(approve);
  }

  /** Reads a step's JSON output from the run's output prefix. */
  private readOutput(id: string, step: string, file: string, resultPath: string, paths: FailurePaths): sfn.IChainable {
    const bucket = this.props.artifactStore.bucket(ArtifactPurpose.ARTIFACTS);
    const get = this.retried(new tasks.CallAwsService(this, id, {
      service: 's3',
      action: 'getObject',
      iamAction: 's3:GetObject',
      iamResources: [bucket.arnForObjects(`${this.outputPrefix}*`)],
      parameters: { Bucket: bucket.bucketName, Key: sfn.JsonPath.format(`${this.outputPrefix}${step}/{}/${file}`, sfn.JsonPath.executionName) },
      resultSelector: { 'value.$': 'States.StringToJson($.Body)' },
      resultPath,
    }));
    get.addCatch(paths.failed(`${id}Failed`, OUT.failed), { resultPath: '$.error' });
    return get.next(new sfn.Pass(this, `${id}Value`, { inputPath: `${resultPath}.value`, resultPath }));
  }

  private grantJobOutputs(): void {
    const { artifactStore, validateJob, trainJob, evaluateJob, modelName } = this.props;
    const artifacts = artifactStore.bucket(ArtifactPurpose.ARTIFACTS);
    const models = artifactStore.bucket(ArtifactPurpose.MODELS);
    const steps: Array<[string, TrainingJob]> = [['Validate', validateJob], ['Train', trainJob], ['Evaluate', evaluateJob]];
    const candidates = MODEL_ARTIFACT_LAYOUT.candidatesPrefix(modelName);
    const served = MODEL_ARTIFACT_LAYOUT.servedPrefix(modelName);
    for (const [id, job] of steps) {
      // Each job reads its dataset through the cluster's grant (its `datasetPrefix`); here it gets its own step outputs
      // (no job can write another step's, so the evaluation the gates read is not the training job's).
      const step = id.toLowerCase();
      const policy = new iam.ManagedPolicy(this, `${id}JobPolicy`, {
        description: `${id} step of the ${modelName} pipeline: write its step outputs${id === 'Train' ? ' and candidates' : ''}`,
      });
      policy.attachToRole(job.jobRole);
      const grantee = { grantPrincipal: new ManagedPolicyPrincipal(job.jobRole, policy) };
      artifactStore.grantWrite(grantee, ArtifactPurpose.ARTIFACTS, `${this.outputPrefix}${step}/`);
      const arns = [artifacts.arnForObjects(`${this.outputPrefix}${step}/*`)];
      if (id !== 'Validate') {
        // The run's dataset manifest, written by the validation step.
        artifactStore.grantRead(grantee, ArtifactPurpose.ARTIFACTS, `${this.outputPrefix}validate/`);
        arns.push(artifacts.arnForObjects(`${this.outputPrefix}validate/*`));
      }
      if (id === 'Train') {
        artifactStore.grantWrite(grantee, ArtifactPurpose.MODELS, candidates);
        arns.push(models.arnForObjects(`${candidates}*`));
        // Training never sees the pinned holdout, even when it lies below the job's dataset prefix.
        if (this.props.holdoutPrefix) {
          policy.addStatements(new iam.PolicyStatement({
            sid: 'TrainingNeverReadsTheHoldout',
            effect: iam.Effect.DENY,
            actions: ['s3:GetObject', 's3:GetObjectVersion'],
            resources: [artifactStore.bucket(ArtifactPurpose.DATASETS).arnForObjects(`${this.props.holdoutPrefix}*`)],
          }));
        }
      }
      if (id === 'Evaluate') {
        // The candidates and the production model it is compared with (read only).
        artifactStore.grantRead(grantee, ArtifactPurpose.MODELS, candidates);
        artifactStore.grantRead(grantee, ArtifactPurpose.MODELS, served);
        arns.push(models.arnForObjects(`${candidates}*`), models.arnForObjects(`${served}*`));
        if (this.props.holdoutPrefix) {
          artifactStore.grantRead(grantee, ArtifactPurpose.DATASETS, this.props.holdoutPrefix);
          arns.push(artifactStore.bucket(ArtifactPurpose.DATASETS).arnForObjects(`${this.props.holdoutPrefix}*`));
        }
        policy.addStatements(new iam.PolicyStatement({
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': [METRIC_CONTRACT.modelQuality.namespace, METRIC_CONTRACT.fairness.namespace] } },
        }));
        Validations.of(policy).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason: 'cloudwatch:PutMetricData has no resource-level permissions; the cloudwatch:namespace condition limits it to the '
            + 'model quality and fairness namespaces of the metric contract.',
        });
      }
      const reason = 'Object-level S3 permissions name objects by key prefix: the wildcards cover only this step\'s outputs '
        + `(${this.outputPrefix}${step}/), the run manifests, and for training this model's candidates (${candidates}), for evaluation `
        + `its candidates and served versions${this.props.holdoutPrefix ? ' and the pinned holdout' : ''} (read only).`;
      Validations.of(policy).acknowledge(...arns.map((arn) => ({ id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, arn)}]`, reason })));
    }
  }

  /**
   * Step Functions' Batch integration grants batch:SubmitJob on every job definition of the account (`job-definition/*`):
   * an explicit deny keeps this pipeline to its own three job definitions and their queues, never another team's.
   */
  private limitSubmissionsToItsJobs(): void {
    const jobs = [this.props.validateJob, this.props.trainJob, this.props.evaluateJob];
    const unique = (arns: string[]) => arns.filter((a, i) => arns.indexOf(a) === i);
    this.stateMachineRole.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'SubmitOnlyThisPipelinesJobs',
      effect: iam.Effect.DENY,
      actions: ['batch:SubmitJob'],
      notResources: [...unique(jobs.map((j) => j.jobDefinition.jobDefinitionArn)), ...unique(jobs.map((j) => j.jobQueue.jobQueueArn))],
    }));
  }

  private acknowledgeStateMachine(): void {
    const artifacts = this.props.artifactStore.bucket(ArtifactPurpose.ARTIFACTS);
    const { partition, region, account } = Stack.of(this);
    const arn = (type: string, name: string) => `arn:${partition}:sagemaker:${region}:${account}:${type}/${name}`;
    const ids = [
      [nagResourceId(this, artifacts.arnForObjects(`${this.outputPrefix}*`)), `reads the step outputs below ${this.outputPrefix} only`],
      [nagResourceId(this, this.packageArnPattern), 'model package versions get numbers at registration; limited to this model\'s group'],
      [nagResourceId(this, `arn:${partition}:batch:${region}:${account}:job-definition/*`),
        'Step Functions\' Batch integration grants batch:SubmitJob on job definitions by name and revision; submission is still '
        + 'limited to the cluster\'s job queue'],
      ['*', 'X-Ray trace segments, CloudWatch Logs vended log delivery (logs:CreateLogDelivery and related) and batch:ListJobs have no '
        + 'resource-level permissions; they are what tracing, execution logging and finding a failed run\'s jobs need'],
      [nagResourceId(this, `arn:${partition}:batch:${region}:${account}:job/*`),
        'Batch job ARNs name jobs by id, known only at run time: a failed or stopped run terminates the jobs it finds by its job names'],
    ];
    if (this.props.endpoint && !this.props.promotion) {
      const prefix = sageMakerNamePrefix(this.props.modelName);
      ids.push(
        [nagResourceId(this, arn('model', `${prefix}-*`)), 'one SageMaker model per run, named <model prefix>-<MD5 of the execution name>'],
        [nagResourceId(this, arn('endpoint-config', `${prefix}-*`)), 'one endpoint config per run, named <model prefix>-<MD5 of the execution name>'],
      );
    }
    Validations.of(this.stateMachineRole.policy).acknowledge(...ids.map(([id, why]) => ({
      id: `AwsSolutions-IAM5[Resource::${id}]`,
      reason: `Wildcard of the ${this.props.modelName} pipeline state machine: ${why}.`,
    })));
  }

  private addTriggers(triggers: ModelPipelineTriggers): void {
    if (!triggers.schedule && !triggers.onNewData && (triggers.alarms ?? []).length === 0) return;
    const role = this.triggerRole;
    const target = (trigger: string) => new targets.SfnStateMachine(this.stateMachine, {
      input: events.RuleTargetInput.fromObject({ trigger }), role,
    });
    if (triggers.schedule) {
      this.triggerRules.push(new events.Rule(this, 'ScheduleTrigger', {
        schedule: triggers.schedule, description: `Retrain ${this.props.modelName} on a schedule`, targets: [target('schedule')],
      }));
    }
    if (triggers.onNewData) {
      const bucket = this.props.artifactStore.bucket(ArtifactPurpose.DATASETS);
      // Set on the bucket itself rather than through CDK's bucket-notifications custom resource (a Lambda function).
      const cfnBucket = bucket.node.defaultChild;
      if (cfnBucket instanceof s3.CfnBucket) cfnBucket.addPropertyOverride('NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled', true);
      this.triggerRules.push(new events.Rule(this, 'NewDataTrigger', {
        description: `Retrain ${this.props.modelName} when a data drop below ${this.props.modelName}/ is complete (${NEW_DATA_MARKER} marker)`,
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          // One run per data drop: only the completion marker starts it, not each object of the drop.
          detail: { bucket: { name: [bucket.bucketName] }, object: { key: [{ wildcard: `${this.props.modelName}/*${NEW_DATA_MARKER}` }] } },
        },
        targets: [target('new-data')],
      }));
    }
    const alarms = triggers.alarms ?? [];
    if (alarms.length > 0) {
      this.triggerRules.push(new events.Rule(this, 'AlarmTrigger', {
        description: `Retrain ${this.props.modelName} when drift or quality alarms fire`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          resources: alarms.map((a) => a.alarmArn),
          detail: { state: { value: ['ALARM'] } },
        },
        targets: [target('alarm')],
      }));
    }
  }

  private newKey(profile: EnvironmentProfile): kms.Key {
    const key = newKey(this, 'Key', {
      description: `Model pipeline at ${this.node.path}`,
      enableKeyRotation: true,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogsInThisAccount',
      principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` } },
    }));
    return key;
  }
}

function endpointVpcConfig(endpoint: ModelEndpoint): Record<string, unknown> | undefined {
  const vpcConfig = endpoint.variants[0]?.model.vpcConfig as { subnets: string[]; securityGroupIds: string[] } | undefined;
  return vpcConfig ? { Subnets: vpcConfig.subnets, SecurityGroupIds: vpcConfig.securityGroupIds } : undefined;
}

/** The endpoint's rollout as SageMaker deployment guardrails, rolled back by its rollback alarms. */
function deploymentConfig(endpoint: ModelEndpoint): Record<string, unknown> {
  const rollout = endpoint.rollout;
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
  const alarms = endpoint.rollbackAlarms.map((a) => ({ AlarmName: a.alarmName }));
  return {
    BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: routing, TerminationWaitInSeconds: Math.min(termination, 3600) },
    ...(alarms.length > 0 ? { AutoRollbackConfiguration: { Alarms: alarms } } : {}),
  };
}

/** An L1 property value with the API's PascalCase keys (`enableCapture` → `EnableCapture`); tokens are kept as they are. */
function pascalKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pascalKeys);
  if (typeof value !== 'object' || value === null || Token.isUnresolved(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), pascalKeys(v)]));
}
