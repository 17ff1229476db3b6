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
import { Construct } from 'constructs';
import {
  EnvironmentProfile, METRIC_CONTRACT, MODEL_ARTIFACT_LAYOUT, ModelApproval, modelPipelineDefinition, modelPipelineRunLockStatement,
  modelPipelineCleanupPattern, ModelPipelineSpec, modelPipelineStatements, modelPipelineSubmitDeny, modelPipelineTriggerRules, NeutralStatement,
  PipelineDefinitionOptions, PipelineEventPattern, pipelinePackageArnPattern, pipelineSageMakerNamePrefix, PipelineTriggerRule,
  resolveModelPipelineSpec, validatePipelineApprovers, validatePipelineEndpoint, validatePipelineInputs, validatePipelineModelName,
  validatePipelineRollout, validatePipelineTriggers,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { TrainingJob } from './gpu-training-cluster';
import { QualityDirection } from './mlops-monitoring';
import { ModelEndpoint } from './model-endpoint';
import { ModelPromotion } from './model-promotion';
import { ModelRegistry } from './model-registry';
import { pascalKeys } from '../core/pascal-keys';
import { newKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyPrincipal, ManagedPolicyRole } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { ServedStateParameter } from './private/served-state';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

// Defined in core (shared with the Pulumi ModelPipeline); re-exported where CDK users found them.
export { ModelApproval, MODEL_PIPELINE_OUTCOMES, NEW_DATA_MARKER } from '../core';

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
    // Checks shared with the Pulumi ModelPipeline.
    validatePipelineInputs(check, {
      ...props,
      registered: props.registry?.modelPackageGroups?.has(props.modelName) === true,
      evaluateJobName: props.evaluateJob?.jobDefinition?.node.path,
      evaluateJobId: 'Evaluate',
    });
    // Defaults and validation shared with the Pulumi ModelPipeline.
    const spec = resolveModelPipelineSpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, {
      ...props, approvalTimeoutSeconds: props.approvalTimeout?.toSeconds(),
    }, profile);
    this.fairnessGap = spec.fairnessGap;
    this.approval = spec.approval;
    validatePipelineTriggers({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, props.triggers && {
      schedule: props.triggers.schedule?.expressionString,
      onNewData: props.triggers.onNewData,
      alarmArns: props.triggers.alarms?.map((a) => a.alarmArn),
    });
    if (props.endpoint) this.checkEndpoint(props.endpoint);
    if (this.approval === ModelApproval.MANUAL) {
      validatePipelineApprovers(check, { ...props.approvers, subscriptions: props.approvers?.subscriptions?.length ?? 0 });
    }

    this.encryptionKey = props.encryptionKey ?? this.newKey(profile);
    this.outputPrefix = `pipelines/${props.modelName}/`;
    this.outputUri = props.artifactStore.s3Uri(ArtifactPurpose.ARTIFACTS, this.outputPrefix);
    const stack = Stack.of(this);
    this.packageArnPattern = pipelinePackageArnPattern(stack, props.modelName);

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
      // Core's definition, the one the Pulumi ModelPipeline renders too.
      definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(modelPipelineDefinition(this.definitionOptions(spec, profile)))),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.days(14),
    });
    // The state machine reads the role's ARN (GetAtt), which orders it after the role and, through the role's
    // ManagedPolicyArns, after its policy: the explicit DependsOn StateMachine adds is redundant (cfn-lint W3005).
    (this.stateMachine.node.defaultChild as sfn.CfnStateMachine).addDeletionOverride('DependsOn');
    // What its Tasks call (core's statements, as the Pulumi ModelPipeline's role gets them).
    for (const statement of modelPipelineStatements(this.definitionOptions(spec, profile))) {
      this.stateMachineRole.addToPrincipalPolicy(renderStatement(statement));
    }
    if (props.promotion) this.acknowledgePromotion(props.promotion);
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
      eventPattern: cdkEventPattern(modelPipelineCleanupPattern(this.stateMachine.stateMachineArn)),
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

  /** One active run per model: a run that finds another one running fails at once (`AnotherRunActive`). */
  private grantRunLock(): void {
    // Attached to the role from outside (Roles), so the state machine does not depend on a policy naming its own ARN.
    new iam.ManagedPolicy(this, 'RunLockPolicy', {
      description: `Run lock of the ${this.props.modelName} pipeline: list its own running executions`,
      roles: [this.stateMachineRole],
      statements: [renderStatement(modelPipelineRunLockStatement(this.stateMachine.stateMachineArn))],
    });
  }


  private checkEndpoint(endpoint: ModelEndpoint): void {
    // The endpoint reads its artifacts from `<modelName>/<version>/` of the MODELS bucket (see ModelEndpoint).
    const container = endpoint.variants[0]?.model.primaryContainer as { environment?: Record<string, string> } | undefined;
    const uri = JSON.stringify(Stack.of(endpoint).resolve(container?.environment?.MODEL_URI));
    validatePipelineEndpoint(checkFor(this), {
      modelName: this.props.modelName,
      endpointName: endpoint.endpointName,
      servesModel: uri.includes(`/${this.props.modelName}/`),
      hosting: endpoint.hosting,
      promoted: this.props.promotion !== undefined,
      promotionFix: "pass 'promotion' (platform.modelPromotion: the promotion updates the endpoint's stack, which rolls the component)",
    });
    validatePipelineRollout({ scope: this.node.path }, endpoint.rollout);
  }

  /** The served state the production model is read from (`servedState`, or the endpoint's). */
  private get servedState(): ServedStateParameter | undefined {
    return this.props.servedState ?? this.props.endpoint?.servedState;
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
    const deny = modelPipelineSubmitDeny({ jobs: this.jobs });
    this.stateMachineRole.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: deny.sid, effect: iam.Effect.DENY, actions: deny.actions, notResources: deny.notResources,
    }));
  }

  /** The three jobs as core names them. */
  private get jobs(): PipelineDefinitionOptions['jobs'] {
    const job = (j: TrainingJob) => ({
      jobDefinitionArn: j.jobDefinition.jobDefinitionArn, jobQueueArn: j.jobQueue.jobQueueArn, checkpointUri: j.checkpointUri,
    });
    return { validate: job(this.props.validateJob), train: job(this.props.trainJob), evaluate: job(this.props.evaluateJob) };
  }

  /** What core's definition and statements are built from. */
  private definitionOptions(spec: ModelPipelineSpec, profile: EnvironmentProfile): PipelineDefinitionOptions {
    const props = this.props;
    const stack = Stack.of(this);
    const store = props.artifactStore;
    const endpoint = props.endpoint;
    const servedState = this.servedState;
    const container = endpoint?.variants[0]?.model.primaryContainer as { modelDataUrl?: string } | undefined;
    return {
      partition: stack.partition,
      region: stack.region,
      account: stack.account,
      spec,
      comment: `Retrains, evaluates, registers and rolls out ${props.modelName} (${profile.name})`,
      buckets: {
        artifacts: store.bucket(ArtifactPurpose.ARTIFACTS).bucketName,
        models: store.bucket(ArtifactPurpose.MODELS).bucketName,
        datasets: store.bucket(ArtifactPurpose.DATASETS).bucketName,
      },
      artifactsBucketArn: store.bucket(ArtifactPurpose.ARTIFACTS).bucketArn,
      jobs: this.jobs,
      servingImageUri: props.servingImageUri,
      approvalTopicArn: this.approvalTopic.topicArn,
      alarmTopicArn: this.alarmTopic.topicArn,
      servedState: servedState ? { parameterName: servedState.parameterName, parameterArn: servedState.parameterArn } : undefined,
      productionModelUri: servedState ? undefined : container?.modelDataUrl,
      holdoutPrefix: props.holdoutPrefix,
      promotion: props.promotion
        ? { stateMachineArn: props.promotion.stateMachineArn, stateMachineName: props.promotion.stateMachineName }
        : undefined,
      endpoint: endpoint && !props.promotion ? {
        endpointName: endpoint.endpointName,
        roleArn: endpoint.role.roleArn,
        vpcConfig: endpointVpcConfig(endpoint),
        kmsKeyId: endpoint.endpointConfig.kmsKeyId,
        dataCaptureConfig: pascalKeys(endpoint.endpointConfig.dataCaptureConfig, (x) => Token.isUnresolved(x)),
        variantName: endpoint.variants[0].name,
        instanceType: endpoint.instance.instanceType,
        initialInstanceCount: Math.max(endpoint.minCapacity, 1),
        rollout: endpoint.rollout,
        rollbackAlarmNames: endpoint.rollbackAlarms.map((a) => a.alarmName),
      } : undefined,
    };
  }

  /** The promotion's executions the state machine starts and follows (startExecution.sync). */
  private acknowledgePromotion(promotion: ModelPromotion): void {
    const { partition, region, account } = Stack.of(this);
    const executions = `arn:${partition}:states:${region}:${account}:execution:${promotion.stateMachineName}:*`;
    Validations.of(this.stateMachineRole.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, executions)}]`,
      reason: `Wildcard of the ${this.props.modelName} pipeline state machine: the executions of the environment's promotion state machine it starts and follows (startExecution.sync).`,
    });
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
      const prefix = pipelineSageMakerNamePrefix(this.props.modelName);
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
    const bucket = this.props.artifactStore.bucket(ArtifactPurpose.DATASETS);
    // Core's rules, the ones the Pulumi ModelPipeline renders too.
    const rules = modelPipelineTriggerRules({
      modelName: this.props.modelName,
      schedule: triggers.schedule !== undefined,
      onNewData: triggers.onNewData === true,
      datasetsBucketName: bucket.bucketName,
      alarmArns: (triggers.alarms ?? []).map((a) => a.alarmArn),
    });
    if (rules.length === 0) return;
    const role = this.triggerRole;
    const ids: Record<PipelineTriggerRule['trigger'], string> = { 'schedule': 'ScheduleTrigger', 'new-data': 'NewDataTrigger', 'alarm': 'AlarmTrigger' };
    for (const rule of rules) {
      if (rule.trigger === 'new-data') {
        // Set on the bucket itself rather than through CDK's bucket-notifications custom resource (a Lambda function).
        const cfnBucket = bucket.node.defaultChild;
        if (cfnBucket instanceof s3.CfnBucket) cfnBucket.addPropertyOverride('NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled', true);
      }
      this.triggerRules.push(new events.Rule(this, ids[rule.trigger], {
        description: rule.description,
        schedule: rule.trigger === 'schedule' ? triggers.schedule : undefined,
        eventPattern: rule.eventPattern ? cdkEventPattern(rule.eventPattern) : undefined,
        targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject(rule.input), role })],
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

/** Core's event pattern (EventBridge's keys) as a CDK one. */
function cdkEventPattern(pattern: PipelineEventPattern): events.EventPattern {
  return { source: pattern.source, detailType: pattern['detail-type'], resources: pattern.resources, detail: pattern.detail };
}

function endpointVpcConfig(endpoint: ModelEndpoint): { Subnets: string[]; SecurityGroupIds: string[] } | undefined {
  const vpcConfig = endpoint.variants[0]?.model.vpcConfig as { subnets: string[]; securityGroupIds: string[] } | undefined;
  return vpcConfig ? { Subnets: vpcConfig.subnets, SecurityGroupIds: vpcConfig.securityGroupIds } : undefined;
}

/** Core's engine-neutral statement as a CDK statement. */
function renderStatement(s: NeutralStatement): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: s.sid, effect: s.effect === 'Deny' ? iam.Effect.DENY : iam.Effect.ALLOW, actions: s.actions, resources: s.resources, conditions: s.conditions,
  });
}
