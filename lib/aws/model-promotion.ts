import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EnvironmentProfile, MODEL_ARTIFACT_LAYOUT, platformParameterName } from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { allowCloudWatchLogsToUseKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyRole } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { failureMessage, throttlingErrors } from './private/state-machine-errors';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

/**
 * Tag of a served state parameter telling promotion how to promote its model:
 * `<mode> <serving stack name> <rollout state machine name | none>`, where mode is `rollout` (a stepped fleet: the new
 * version becomes the `candidate` at weight 0, the fleet's rollout state machine moves the traffic), `direct` (a
 * fleet served all at once, or an endpoint with one production variant: `current` takes the version) or `none` (not
 * promotable, e.g. an A/B test).
 */
export const PROMOTION_TARGET_TAG = 'mlops:promotion';

/** How promotion updates a served model (the value of its served state's `PROMOTION_TARGET_TAG`). */
export enum PromotionMode {
  /** Stepped fleet rollout: candidate at weight 0, then the fleet's rollout state machine. */
  ROLLOUT = 'rollout',
  /** All at once (fleets) or through SageMaker guardrails (endpoints): `current` takes the version with all traffic. */
  DIRECT = 'direct',
  /** Promotion refuses the model (A/B tests and shadows: which variant would take the version is a decision of code). */
  NONE = 'none',
}

/** The value of `PROMOTION_TARGET_TAG` for a served model. */
export function promotionTargetTagValue(mode: PromotionMode, servingStackName: string, rolloutStateMachineName?: string): string {
  return `${mode} ${servingStackName} ${rolloutStateMachineName ?? 'none'}`;
}

export interface ModelPromotionProps {
  /**
   * The environment's artifact store: promotion copies `candidates/<model>/<run>/model.tar.gz` to
   * `served/<model>/<version>/model.tar.gz` of its models bucket, as the role its bucket policy designates
   * (`promotionRoleName`).
   */
  readonly artifactStore: IArtifactStore;
  /**
   * The environment prefix (`<project>-<env>`, the `MlopsPlatform` stack name prefix): the namespace of the served
   * states (`/mlops/<prefix>/served/<model>`), of the fleet rollout state machines (`<prefix>-<model>-rollout`) and of
   * the serving stacks promotion may update (`<prefix>-serving-*`).
   */
  readonly environmentPrefix: string;
  /** Topic told of every failed promotion (the environment's alarm topic). */
  readonly alarmTopic: sns.ITopic;
  /**
   * Name of the state machine.
   * @default `<environmentPrefix>-promotion`
   */
  readonly stateMachineName?: string;
  /**
   * Key of the execution log group and the lock table.
   * @default - the artifact store's key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Where model packages promoted by ARN (`{"model", "version", "modelPackageArn"}`) may come from besides this
   * environment: the source environment's account and region (staging's, for prod). The role may then describe model
   * packages there and read objects below `served/` of buckets in that account (and use its keys through S3); the
   * source environment must grant the same (`MlopsPlatform.shareServedModelsWith`).
   * @default - packages of this environment's account and region only
   */
  readonly promoteFrom?: PromotionSource;
}

/** The environment whose approved model packages an environment promotes (`ModelPromotionProps.promoteFrom`). */
export interface PromotionSource {
  /**
   * Account of the source environment (staging).
   * @default - this environment's account
   */
  readonly account?: string;
  /**
   * Region of the source environment.
   * @default - this environment's region
   */
  readonly region?: string;
}

/**
 * Errors a promotion fails with (its execution's error, and `error` of the `promotion-failed` notification).
 */
export const PROMOTION_OUTCOMES = Object.freeze({
  inProgress: 'PromotionInProgress',
  notPromotable: 'NotPromotable',
  candidateNotFound: 'CandidateNotFound',
  packageNotFound: 'PackageNotFound',
  packageIncomplete: 'PackageIncomplete',
  packageNotApproved: 'PackageNotApproved',
  packageArchiveNotFound: 'PackageArchiveNotFound',
  checksumMismatch: 'ChecksumMismatch',
  versionExists: 'VersionExists',
  stackUpdateFailed: 'StackUpdateFailed',
  rolledBack: 'RolledBack',
  invalidInput: 'InvalidInput',
  failed: 'PromotionFailed',
});

/** How long promotion waits for the serving stack's update before it gives up (restoring the served state). */
const STACK_WAIT_POLLS = 120;
const STACK_POLL = Duration.seconds(30);
/** Errors of the calls below that mean "slow down". */
const THROTTLING_ERRORS = throttlingErrors(['S3', 'Ssm', 'SSM', 'CloudFormation', 'ResourceGroupsTagging', 'ResourceGroupsTaggingApi', 'DynamoDB', 'Sfn', 'SFN', 'Sns', 'SNS']);

/**
 * The environment's promotion of a model version into production (docs/design/served-models.md, "Promotion"): THE
 * promotion role (the only role the models bucket's policy lets write `served/`), and a Step Functions state machine
 * (SDK integrations only) that assumes it. Input: `{ "model": "fraud", "version": "v8", "candidate": "<training run>" }`
 * (a candidate of this environment; with `"modelPackageArn"`, its package, e.g. the model pipeline's, records the served
 * archive: `servedObject`, `sha256`) or `{ "model": "fraud", "version": "v8", "modelPackageArn": "<ARN>" }` (the same
 * artifact another environment approved and served: prod promoting staging's package, see `promoteFrom`). The state machine
 *
 * 1. takes the model's lock (a DynamoDB conditional put: one promotion per model at a time; released on every path
 *    but an execution stopped from outside, see `lockTable`);
 * 2. finds the model's serving stack and rollout from its served state's `mlops:promotion` tag (`MlopsPlatform` tags
 *    every fleet's served state) and reads the served state;
 * 3. by ARN: reads the package (`DescribeModelPackage`; cross-account when its environment shares it) and refuses it
 *    unless it is of this model, `Approved`, and records its served archive (`servedObject`, `ModelDataUrl` the same),
 *    its SHA-256, its approver, `ModelMetrics` and `DriftCheckBaselines`; then copies that archive (else the candidate's,
 *    `candidates/<model>/<run>/model.tar.gz`) to `served/<model>/<version>/model.tar.gz` write-once: the bucket
 *    policy denies every `s3:PutObject` that creates an object below `served/` without `If-None-Match`, and S3 refuses
 *    `CopyObject` there (403 without the header, 501 with it), so the copy is a one-part multipart copy:
 *    `CreateMultipartUpload` and `UploadPartCopy` (exempt: `s3:ObjectCreationOperation` is false for them) and
 *    `CompleteMultipartUpload` with `IfNoneMatch: "*"` (the creating call, which carries the header): an existing
 *    version makes S3 refuse it (412), and the upload is aborted. Archives up to 5 GB (one part). A package's archive
 *    must have the SHA-256 the package records (checked on the copied part, before the completion writes anything);
 *    the package is then registered in this environment's model package group, `Approved`, with `ModelDataUrl` = the
 *    served URI here, the source's metrics and drift baselines, and `sourceModelPackageArn`, `approvedBy`, `sha256`,
 *    `servedObject`, `promotion` in its metadata (marked `Rejected` if the promotion then fails);
 * 4. writes the served state: a stepped fleet serves its stable version as `current` with all traffic and the new
 *    version as `candidate` at 0 (`shiftServedState` semantics, rendered with `States.Format`); a fleet served all at
 *    once, and an endpoint with one production variant, serve the new version as `current` (the endpoint's traffic
 *    shift is SageMaker's deployment guardrails, during the stack update; guardrails rolling back fail the update);
 * 5. updates the serving shard stack (`UpdateStack` with `UsePreviousTemplate` and every parameter `UsePreviousValue`:
 *    the value CloudFormation keeps for an `AWS::SSM::Parameter::Value<String>` parameter is the SSM parameter's name,
 *    which it resolves again on every stack operation, so the new served state is the only change) and polls
 *    `DescribeStacks` until it completes; a failed or rolled-back update restores the previous served state;
 * 6. stepped fleets: starts the fleet's rollout state machine (`startExecution.sync`) and reports its outcome; a
 *    rolled-back rollout restores the previous served state (the candidate group keeps the new version, at weight 0,
 *    until the next update of the stack).
 *
 * Every failure releases the lock, notifies `alarmTopic` and fails the execution with one of `PROMOTION_OUTCOMES`.
 * Shadow and A/B models (several versions served at once) are not promotable: which variant takes the version is code.
 *
 * @example
 * const promotion = new ModelPromotion(platformStack, 'Promotion', {
 *   artifactStore, environmentPrefix: 'fraud-prod', alarmTopic: monitoring.alarmTopic,
 * });
 * promotion.grantStart(mlEngineerRole);
 */
export class ModelPromotion extends Construct {
  /** THE promotion role: named `artifactStore.promotionRoleName`, assumable only by this state machine. */
  public readonly role: ManagedPolicyRole;
  public readonly stateMachine: sfn.StateMachine;
  public readonly stateMachineName: string;
  /** ARN of the state machine built from its name (no reference: usable from any stack of the environment). */
  public readonly stateMachineArn: string;
  /**
   * One item per model being promoted (`model`, `execution`, `version`). An execution stopped from outside (or timed
   * out) leaves its item: delete it (`aws dynamodb delete-item --key '{"model":{"S":"<model>"}}'`) to promote again.
   */
  public readonly lockTable: dynamodb.Table;
  public readonly logGroup: logs.LogGroup;

  private readonly artifactStore: IArtifactStore;
  private readonly prefix: string;
  private readonly topic: sns.ITopic;
  /** What the role works on: served/ and candidates/ objects, served states, serving stacks, rollouts and their executions. */
  private readonly arns: {
    served: string;
    candidates: string;
    states: string;
    stacks: string;
    rollouts: string;
    rolloutExecutions: string;
    packages: string;
    packageGroups: string;
    sourcePackages: string;
    sourceServed: string;
    sourceKeys: string;
  };
  /** Account and region model packages may be promoted from (`promoteFrom`, else this environment's). */
  private readonly source: { account: string; region: string };

  constructor(scope: Construct, id: string, props: ModelPromotionProps) {
    super(scope, id);
    const check = checkFor(this);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    if (!props?.artifactStore) check.fail('artifactStore', props?.artifactStore, 'is required', 'pass the environment\'s ArtifactStore.');
    const roleName = props.artifactStore.promotionRoleName;
    if (roleName === undefined) {
      check.fail('artifactStore', props.artifactStore.node.path, 'names no promotion role',
        'pass the ArtifactStore whose bucket policy designates the promotion role (an imported store: give its promotionRoleName).');
    }
    check.matches('environmentPrefix', props.environmentPrefix, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
      'the environment prefix, e.g. "fraud-prod" (letters, digits, ".", "_", "-")');
    if (!props.alarmTopic) check.fail('alarmTopic', props.alarmTopic, 'is required', 'give the topic told of failed promotions, e.g. monitoring.alarmTopic.');
    this.artifactStore = props.artifactStore;
    this.prefix = props.environmentPrefix;
    this.topic = props.alarmTopic;
    this.stateMachineName = props.stateMachineName ?? `${props.environmentPrefix}-promotion`;
    check.matches('stateMachineName', this.stateMachineName, /^[A-Za-z0-9_-]{1,80}$/, 'letters, digits, "-" and "_", at most 80 characters');
    const stack = Stack.of(this);
    const { partition, region, account } = stack;
    if (props.promoteFrom?.account !== undefined) {
      check.matches('promoteFrom.account', props.promoteFrom.account, /^\d{12}$/, 'the source environment\'s 12-digit account id, e.g. "111111111111"');
    }
    if (props.promoteFrom?.region !== undefined) {
      check.matches('promoteFrom.region', props.promoteFrom.region, /^[a-z]{2}(-[a-z]+)+-\d$/, 'the source environment\'s region, e.g. "us-east-1"');
    }
    this.source = { account: props.promoteFrom?.account ?? account, region: props.promoteFrom?.region ?? region };
    const models = props.artifactStore.bucket(ArtifactPurpose.MODELS);
    const sagemaker = (r: string, a: string, resource: string) => `arn:${partition}:sagemaker:${r}:${a}:${resource}`;
    this.arns = {
      served: models.arnForObjects(`${MODEL_ARTIFACT_LAYOUT.servedRoot}*`),
      candidates: models.arnForObjects(`${MODEL_ARTIFACT_LAYOUT.candidatesRoot}*`),
      states: `arn:${partition}:ssm:${region}:${account}:parameter${platformParameterName(this.prefix, 'served')}/*`,
      stacks: `arn:${partition}:cloudformation:${region}:${account}:stack/${this.prefix}-serving-*/*`,
      rollouts: `arn:${partition}:states:${region}:${account}:stateMachine:${this.prefix}-*-rollout`,
      rolloutExecutions: `arn:${partition}:states:${region}:${account}:execution:${this.prefix}-*-rollout:*`,
      packages: sagemaker(region, account, 'model-package/*'),
      packageGroups: sagemaker(region, account, 'model-package-group/*'),
      sourcePackages: sagemaker(this.source.region, this.source.account, 'model-package/*'),
      // Any bucket's served/ (the source's bucket is named in its package), of the source account only (s3:ResourceAccount).
      sourceServed: `arn:${partition}:s3:::*/${MODEL_ARTIFACT_LAYOUT.servedRoot}*`,
      sourceKeys: `arn:${partition}:kms:${this.source.region}:${this.source.account}:key/*`,
    };
    this.stateMachineArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: this.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    const key = props.encryptionKey ?? props.artifactStore.encryptionKey;
    if (key instanceof kms.Key) allowCloudWatchLogsToUseKey(key);
    const removalPolicy = statefulRemovalPolicy(profile);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: key, retention: profile.logRetentionDays as logs.RetentionDays, removalPolicy,
    });
    acknowledgeProfileLogRetention(this.logGroup, profile.logRetentionDays);
    this.lockTable = new dynamodb.Table(this, 'Locks', {
      partitionKey: { name: 'model', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: profile.allowDestroy ? RemovalPolicy.DESTROY : removalPolicy,
    });
    const backupReason = 'The lock table holds one item per promotion in progress, deleted when it ends: nothing to restore from a backup.';
    Validations.of(this.lockTable).acknowledge(
      { id: 'NIST.800.53.R5-DynamoDBInBackupPlan', reason: backupReason },
      { id: 'HIPAA.Security-DynamoDBInBackupPlan', reason: backupReason },
    );

    // Only this state machine may assume the role (the service, in this account, for this state machine's ARN).
    // Only this state machine may assume the role (the service, in this account, for this state machine's ARN).
    this.role = new ManagedPolicyRole(this, 'Role', new iam.ServicePrincipal('states.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnEquals: { 'aws:SourceArn': this.stateMachineArn },
    }), `The promotion role of ${props.environmentPrefix}: the only writer of served/ in the models bucket, assumed by ${this.stateMachineName}`);
    // THE name the models bucket's policy exempts from its deny on writes below served/.
    (this.role.node.defaultChild as iam.CfnRole).roleName = roleName;

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      role: this.role,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition()),
      comment: `Promotion of model versions into production (${props.environmentPrefix}): write-once copy, served state, stack update, rollout`,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.days(9),
    });
    (this.stateMachine.node.defaultChild as sfn.CfnStateMachine).addDeletionOverride('DependsOn');
    this.grantPolicies();
  }

  /** Lets `grantee` start promotions (the manual path: `aws stepfunctions start-execution`); nothing else. */
  public grantStart(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private get modelsBucket() {
    return this.artifactStore.bucket(ArtifactPurpose.MODELS);
  }

  private retried<T extends sfn.TaskStateBase>(task: T): T {
    task.addRetry({ errors: THROTTLING_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2 });
    return task;
  }

  /** An SDK call; `resources` scope the statement CDK adds to the role (the same scopes as `grantPolicies`). */
  private sdk(id: string, service: string, action: string, iamAction: string, resources: string[], parameters: Record<string, unknown>,
    extra: Partial<tasks.CallAwsServiceProps> = {}): tasks.CallAwsService {
    return this.retried(new tasks.CallAwsService(this, id, { service, action, iamAction, parameters, iamResources: resources, ...extra }));
  }

  private definition(): sfn.IChainable {
    const bucket = this.modelsBucket;
    const { partition, region, account } = Stack.of(this);
    const served = (path: string) => sfn.JsonPath.format(`${MODEL_ARTIFACT_LAYOUT.servedRoot}{}/{}/${MODEL_ARTIFACT_LAYOUT.archive}`, sfn.JsonPath.stringAt('$.model'), sfn.JsonPath.stringAt(path));
    const stateName = sfn.JsonPath.format(`${platformParameterName(this.prefix, 'served')}/{}`, sfn.JsonPath.stringAt('$.model'));

    // Failure handling: record why, (restore), release the lock, notify, fail with the recorded error.
    const fail = new sfn.Fail(this, 'PromotionFailed', { errorPath: '$.failure.error', causePath: '$.failure.cause' });
    const notify = this.retried(new tasks.SnsPublish(this, 'NotifyFailure', {
      topic: this.topic,
      subject: 'Model promotion failed',
      message: failureMessage('promotion-failed', { model: sfn.JsonPath.stringAt('$.model'), version: sfn.JsonPath.stringAt('$.version') }),
      resultPath: sfn.JsonPath.DISCARD,
    }));
    notify.addCatch(fail, { resultPath: '$.notifyError' });
    notify.next(fail);
    const release = (id: string) => {
      const task = this.retried(new tasks.DynamoDeleteItem(this, id, {
        table: this.lockTable,
        key: { model: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.model')) },
        // Only this execution's lock.
        conditionExpression: 'execution = :me',
        expressionAttributeValues: { ':me': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.executionId) },
        resultPath: sfn.JsonPath.DISCARD,
      }));
      return task;
    };
    const releaseOnFailure = release('ReleaseLockOnFailure');
    releaseOnFailure.addCatch(notify, { resultPath: '$.releaseError' });
    releaseOnFailure.next(notify);
    const restore = this.sdk('RestoreServedState', 'ssm', 'putParameter', 'ssm:PutParameter', [this.arns.states], {
      Name: stateName, Value: sfn.JsonPath.stringAt('$.served.previous'), Overwrite: true,
    }, { resultPath: sfn.JsonPath.DISCARD });
    // A package this promotion registered (promotion by ARN) is marked Rejected: the registry's Approved versions are served.
    const rejectRegistered = this.sdk('RejectRegisteredPackage', 'sagemaker', 'updateModelPackage', 'sagemaker:UpdateModelPackage', [this.arns.packages], {
      ModelPackageArn: sfn.JsonPath.stringAt('$.registered.arn'),
      ModelApprovalStatus: 'Rejected',
      ApprovalDescription: 'The promotion of this version failed or rolled back; production serves the previous version.',
    }, { resultPath: sfn.JsonPath.DISCARD });
    rejectRegistered.addCatch(releaseOnFailure, { resultPath: '$.rejectError' });
    rejectRegistered.next(releaseOnFailure);
    const unregister = new sfn.Choice(this, 'RegisteredHere')
      .when(sfn.Condition.isPresent('$.registered.arn'), rejectRegistered)
      .otherwise(releaseOnFailure);
    restore.addCatch(unregister, { resultPath: '$.restoreError' });
    restore.next(unregister);
    const failure = (id: string, error: string, cause: string | undefined, then: sfn.IChainable) =>
      new sfn.Pass(this, id, {
        parameters: {
          error,
          ...(cause === undefined ? { 'cause.$': 'States.JsonToString($.error)' } : { cause }),
        },
        resultPath: '$.failure',
      }).next(then);
    /** Catches every error of `task` into a failure with `error`, then `then` (release, or restore and release). */
    const catchAll = (task: sfn.TaskStateBase, error: string, then: sfn.IChainable = releaseOnFailure) => {
      task.addCatch(failure(`${task.node.id}Failed`, error, undefined, then), { resultPath: '$.error' });
      return task;
    };

    // 1. The lock.
    const lock = this.retried(new tasks.DynamoPutItem(this, 'TakeLock', {
      table: this.lockTable,
      item: {
        model: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.model')),
        version: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.version')),
        execution: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.executionId),
        startedAt: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$$.Execution.StartTime')),
      },
      conditionExpression: 'attribute_not_exists(model)',
      resultPath: sfn.JsonPath.DISCARD,
    }));
    lock.addCatch(failure('LockHeld', 'PromotionInProgress', 'Another promotion of this model is running (its lock is held).', notify),
      { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: '$.error' });
    lock.addCatch(failure('TakeLockFailed', 'PromotionFailed', undefined, notify), { resultPath: '$.error' });

    // 2. Where the model is served, and what it serves now.
    const target = catchAll(this.sdk('FindTarget', 'resourcegroupstaggingapi', 'getResources', 'tag:GetResources', ['*'], {
      'ResourceARNList.$': `States.Array(States.Format('arn:${partition}:ssm:${region}:${account}:parameter${platformParameterName(this.prefix, 'served')}/{}', $.model))`,
    }, {
      resultSelector: { 'found.$': 'States.ArrayLength($.ResourceTagMappingList)', 'mappings.$': '$.ResourceTagMappingList' },
      resultPath: '$.target',
    }), 'PromotionFailed');
    const tagged = new sfn.Pass(this, 'TargetTag', {
      parameters: { 'values.$': `$.target.mappings[0].Tags[?(@.Key == '${PROMOTION_TARGET_TAG}')].Value` },
      resultPath: '$.target',
    });
    const targetParts = new sfn.Pass(this, 'Target', {
      parameters: { 'parts.$': "States.StringSplit(States.ArrayGetItem($.target.values, 0), ' ')" },
      resultPath: '$.target',
    });
    const targetFields = new sfn.Pass(this, 'TargetFields', {
      parameters: {
        'mode.$': 'States.ArrayGetItem($.target.parts, 0)',
        'stack.$': 'States.ArrayGetItem($.target.parts, 1)',
        'rollout.$': 'States.ArrayGetItem($.target.parts, 2)',
      },
      resultPath: '$.target',
    });
    const notPromotable = failure('NotServed', 'NotPromotable',
      'The model has no served state tagged for promotion in this environment (not served here, or an A/B test or shadow).', releaseOnFailure);
    const readState = catchAll(this.sdk('ReadServedState', 'ssm', 'getParameter', 'ssm:GetParameter', [this.arns.states], { Name: stateName }, {
      resultSelector: { 'previous.$': '$.Parameter.Value', 'entries.$': "States.StringSplit($.Parameter.Value, ',')" },
      resultPath: '$.served',
    }), 'PromotionFailed');

    // 3. What is copied: the candidate archive, or the served archive of an approved model package (by ARN, possibly
    //    in the source environment, promoteFrom), checked complete, of this model and Approved.
    const candidateArchive = new sfn.Pass(this, 'CandidateArchive', {
      parameters: {
        copySource: sfn.JsonPath.format(`{}/${MODEL_ARTIFACT_LAYOUT.candidatesRoot}{}/{}/${MODEL_ARTIFACT_LAYOUT.archive}`,
          bucket.bucketName, sfn.JsonPath.stringAt('$.model'), sfn.JsonPath.stringAt('$.candidate')),
        missing: PROMOTION_OUTCOMES.candidateNotFound,
      },
      resultPath: '$.archive',
    });
    const describeSource = this.sdk('DescribeSourcePackage', 'sagemaker', 'describeModelPackage', 'sagemaker:DescribeModelPackage',
      [...new Set([this.arns.packages, this.arns.sourcePackages])], { ModelPackageName: sfn.JsonPath.stringAt('$.modelPackageArn') },
      { resultPath: '$.sourcePackage' });
    describeSource.addCatch(failure('SourcePackageUnreadable', PROMOTION_OUTCOMES.packageNotFound, undefined, releaseOnFailure), { resultPath: '$.error' });
    const pkg = '$.sourcePackage';
    const meta = `${pkg}.CustomerMetadataProperties`;
    const container = `${pkg}.InferenceSpecification.Containers[0]`;
    // Presence first: a path that does not exist in a Pass or Task parameter fails the execution beyond any Catch.
    const required = [`${pkg}.ModelPackageGroupName`, `${pkg}.ModelApprovalStatus`, `${container}.Image`, `${container}.ModelDataUrl`,
      `${pkg}.InferenceSpecification.SupportedContentTypes`, `${pkg}.InferenceSpecification.SupportedResponseMIMETypes`,
      `${pkg}.ModelMetrics`, `${pkg}.DriftCheckBaselines`, `${meta}.servedObject`, `${meta}.sha256`, `${meta}.approvedBy`];
    const incomplete = failure('SourcePackageIncomplete', PROMOTION_OUTCOMES.packageIncomplete,
      'The model package lacks what promotion copies and records: its served archive and checksum (servedObject, sha256: a package '
      + 'its environment promoted), approvedBy, an inference specification, ModelMetrics or DriftCheckBaselines.', releaseOnFailure);
    const packageArchive = new sfn.Pass(this, 'PackageArchive', {
      parameters: {
        'copySource.$': `${meta}.servedObject`,
        'url.$': `States.Format('s3://{}', ${meta}.servedObject)`,
        'sha256.$': `${meta}.sha256`,
        'missing': PROMOTION_OUTCOMES.packageArchiveNotFound,
      },
      resultPath: '$.archive',
    });
    const packageSource = new sfn.Pass(this, 'SourcePackage', {
      parameters: {
        'arn.$': '$.modelPackageArn',
        'approvedBy.$': `${meta}.approvedBy`,
        'image.$': `${container}.Image`,
        'contentTypes.$': `${pkg}.InferenceSpecification.SupportedContentTypes`,
        'responseTypes.$': `${pkg}.InferenceSpecification.SupportedResponseMIMETypes`,
        'metrics.$': `${pkg}.ModelMetrics`,
        'driftCheckBaselines.$': `${pkg}.DriftCheckBaselines`,
      },
      resultPath: '$.source',
    });
    const packageChecks = new sfn.Choice(this, 'SourcePackageComplete')
      .when(sfn.Condition.not(sfn.Condition.and(...required.map((path) => sfn.Condition.isPresent(path)))), incomplete)
      .when(sfn.Condition.not(sfn.Condition.stringEqualsJsonPath(`${pkg}.ModelPackageGroupName`, '$.model')),
        failure('SourcePackageOfOtherModel', PROMOTION_OUTCOMES.invalidInput, 'The model package is not a version of the model being promoted (its model package group differs).', releaseOnFailure))
      .when(sfn.Condition.not(sfn.Condition.stringEquals(`${pkg}.ModelApprovalStatus`, 'Approved')),
        failure('SourcePackageNotApproved', PROMOTION_OUTCOMES.packageNotApproved, 'The model package is not Approved in its environment: only approved versions are promoted.', releaseOnFailure))
      .otherwise(packageArchive.next(new sfn.Choice(this, 'PackageServesItsArchive')
        // The package's ModelDataUrl is the served archive its environment recorded (what was approved there is what is copied).
        .when(sfn.Condition.stringEqualsJsonPath(`${container}.ModelDataUrl`, '$.archive.url'), packageSource)
        .otherwise(incomplete)));

    // The write-once copy (see the class doc for why a multipart copy).
    const create = catchAll(this.sdk('StartCopy', 's3', 'createMultipartUpload', 's3:PutObject', [this.arns.served], {
      Bucket: bucket.bucketName, Key: served('$.version'), ChecksumAlgorithm: 'SHA256',
    }, { resultSelector: { 'uploadId.$': '$.UploadId' }, resultPath: '$.upload' }), PROMOTION_OUTCOMES.failed);
    const abort = (id: string, then: sfn.IChainable) => {
      const task = this.sdk(id, 's3', 'abortMultipartUpload', 's3:AbortMultipartUpload', [this.arns.served], {
        Bucket: bucket.bucketName, Key: served('$.version'), UploadId: sfn.JsonPath.stringAt('$.upload.uploadId'),
      }, { resultPath: sfn.JsonPath.DISCARD });
      task.addCatch(then, { resultPath: '$.abortError' });
      return task.next(then);
    };
    const part = this.sdk('CopyArchive', 's3', 'uploadPartCopy', 's3:PutObject', [this.arns.served], {
      Bucket: bucket.bucketName,
      Key: served('$.version'),
      UploadId: sfn.JsonPath.stringAt('$.upload.uploadId'),
      PartNumber: 1,
      CopySource: sfn.JsonPath.stringAt('$.archive.copySource'),
    }, {
      // The part as CompleteMultipartUpload lists it; its SHA-256 is the whole archive's (one part).
      resultSelector: { 'PartNumber': 1, 'ETag.$': '$.CopyPartResult.ETag', 'ChecksumSHA256.$': '$.CopyPartResult.ChecksumSHA256' },
      resultPath: '$.upload.part',
    });
    part.addCatch(new sfn.Pass(this, 'ArchiveMissing', {
      parameters: { 'error.$': '$.archive.missing', 'cause.$': 'States.JsonToString($.error)' },
      resultPath: '$.failure',
    }).next(abort('AbortCopyOfMissingArchive', releaseOnFailure)), { resultPath: '$.error' });
    const complete = this.sdk('FinishCopy', 's3', 'completeMultipartUpload', 's3:PutObject', [this.arns.served], {
      Bucket: bucket.bucketName,
      Key: served('$.version'),
      UploadId: sfn.JsonPath.stringAt('$.upload.uploadId'),
      // Write-once: S3 refuses (412) when served/<model>/<version>/model.tar.gz exists; the bucket policy denies it without.
      IfNoneMatch: '*',
      MultipartUpload: { 'Parts.$': 'States.Array($.upload.part)' },
    }, {
      resultSelector: {
        'checksumSha256.$': '$.ChecksumSHA256',
        'uri.$': "States.Format('s3://{}/{}', $.Bucket, $.Key)",
        'object.$': "States.Format('{}/{}', $.Bucket, $.Key)",
      },
      resultPath: '$.copy',
    });
    complete.addCatch(failure('VersionTaken', PROMOTION_OUTCOMES.versionExists, 'served/<model>/<version>/ exists already (served versions are written once) or S3 refused the copy.',
      abort('AbortRefusedCopy', releaseOnFailure)), { resultPath: '$.error' });
    // A package's archive must be the one its environment served (its recorded SHA-256): checked before anything is written.
    const checksum = new sfn.Choice(this, 'ChecksumMatches')
      .when(sfn.Condition.and(
        sfn.Condition.isPresent('$.archive.sha256'),
        sfn.Condition.not(sfn.Condition.stringEqualsJsonPath('$.upload.part.ChecksumSHA256', '$.archive.sha256')),
      ), failure('ChecksumDiffers', PROMOTION_OUTCOMES.checksumMismatch,
        'The copied archive\'s SHA-256 is not the one the model package records: nothing was written.', abort('AbortCopyOfChangedArchive', releaseOnFailure)))
      .otherwise(complete);

    // Records of the copy in the registry: a package promoted by ARN is registered here (Approved: approved in its
    // environment, promoted by this execution); the package of a candidate (the model pipeline's) records the archive.
    const sha256 = sfn.JsonPath.stringAt('$.upload.part.ChecksumSHA256');
    const register = this.sdk('RegisterPackage', 'sagemaker', 'createModelPackage', 'sagemaker:CreateModelPackage', [this.arns.packages, this.arns.packageGroups], {
      ModelPackageGroupName: sfn.JsonPath.stringAt('$.model'),
      ModelPackageDescription: sfn.JsonPath.format('{} {} promoted from {}', sfn.JsonPath.stringAt('$.model'), sfn.JsonPath.stringAt('$.version'), sfn.JsonPath.stringAt('$.source.arn')),
      ModelApprovalStatus: 'Approved',
      ApprovalDescription: sfn.JsonPath.format('Approved by {} in its environment ({}); promoted by {}',
        sfn.JsonPath.stringAt('$.source.approvedBy'), sfn.JsonPath.stringAt('$.source.arn'), sfn.JsonPath.executionId),
      InferenceSpecification: {
        Containers: [{
          Image: sfn.JsonPath.stringAt('$.source.image'),
          ModelDataUrl: sfn.JsonPath.stringAt('$.copy.uri'),
          Environment: { MODEL_URI: sfn.JsonPath.stringAt('$.copy.uri') },
        }],
        SupportedContentTypes: sfn.JsonPath.listAt('$.source.contentTypes'),
        SupportedResponseMIMETypes: sfn.JsonPath.listAt('$.source.responseTypes'),
      },
      ModelMetrics: sfn.JsonPath.objectAt('$.source.metrics'),
      DriftCheckBaselines: sfn.JsonPath.objectAt('$.source.driftCheckBaselines'),
      CustomerMetadataProperties: {
        sourceModelPackageArn: sfn.JsonPath.stringAt('$.source.arn'),
        approvedBy: sfn.JsonPath.stringAt('$.source.approvedBy'),
        servedObject: sfn.JsonPath.stringAt('$.copy.object'),
        sha256,
        promotion: sfn.JsonPath.executionId,
      },
    }, { resultSelector: { 'arn.$': '$.ModelPackageArn' }, resultPath: '$.registered' });
    const recordCopy = this.sdk('RecordServedArchive', 'sagemaker', 'updateModelPackage', 'sagemaker:UpdateModelPackage', [this.arns.packages], {
      ModelPackageArn: sfn.JsonPath.stringAt('$.modelPackageArn'),
      CustomerMetadataProperties: { servedObject: sfn.JsonPath.stringAt('$.copy.object'), sha256, promotion: sfn.JsonPath.executionId },
    }, { resultPath: sfn.JsonPath.DISCARD });

    // 4. The served state: stepped fleets serve the stable version as current and the new one as candidate at 0.
    const entryVersion = (i: number) =>
      `States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(States.ArrayGetItem($.served.entries, ${i}), '='), 1), '@'), 0)`;
    const entryWeight = (i: number) =>
      `States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(States.ArrayGetItem($.served.entries, ${i}), '='), 1), '@'), 1)`;
    const parsed = new sfn.Pass(this, 'StableVersion', {
      parameters: {
        'previous.$': '$.served.previous',
        'currentVersion.$': entryVersion(0),
        'candidateVersion.$': entryVersion(1),
        'candidateWeight.$': entryWeight(1),
      },
      resultPath: '$.served',
    });
    const nextState = (id: string, stablePath: string) => new sfn.Pass(this, id, {
      parameters: { value: sfn.JsonPath.format('current={}@100,candidate={}@0', sfn.JsonPath.stringAt(stablePath), sfn.JsonPath.stringAt('$.version')) },
      resultPath: '$.next',
    });
    const writeState = catchAll(this.sdk('WriteServedState', 'ssm', 'putParameter', 'ssm:PutParameter', [this.arns.states], {
      Name: stateName, Value: sfn.JsonPath.stringAt('$.next.value'), Overwrite: true,
    }, { resultPath: sfn.JsonPath.DISCARD }), 'PromotionFailed', restore);
    const stable = new sfn.Choice(this, 'CandidateServesAll')
      // After a finished rollout (`current=v8@0,candidate=v8@100`) the candidate's version is the stable one.
      .when(sfn.Condition.stringEquals('$.served.candidateWeight', '100'), nextState('CandidateIsStable', '$.served.candidateVersion').next(writeState))
      .otherwise(nextState('CurrentIsStable', '$.served.currentVersion').next(writeState));
    const direct = new sfn.Pass(this, 'ServeAllAtOnce', {
      parameters: { value: sfn.JsonPath.format('current={}@100', sfn.JsonPath.stringAt('$.version')) },
      resultPath: '$.next',
    }).next(writeState);

    // 5. The serving stack's update, and the wait for it.
    const describeForUpdate = catchAll(this.sdk('ReadStackParameters', 'cloudformation', 'describeStacks', 'cloudformation:DescribeStacks', [this.arns.stacks], {
      StackName: sfn.JsonPath.stringAt('$.target.stack'),
    }, { resultSelector: { 'parameters.$': '$.Stacks[0].Parameters' }, resultPath: '$.stackUpdate' }), 'StackUpdateFailed', restore);
    const keepParameters = new sfn.Map(this, 'KeepParameters', {
      itemsPath: '$.stackUpdate.parameters',
      itemSelector: { 'ParameterKey.$': '$$.Map.Item.Value.ParameterKey', 'UsePreviousValue': true },
      resultPath: '$.stackUpdate.parameters',
    });
    keepParameters.itemProcessor(new sfn.Pass(this, 'KeepParameter'));
    const update = catchAll(this.sdk('UpdateServingStack', 'cloudformation', 'updateStack', 'cloudformation:UpdateStack', [this.arns.stacks], {
      StackName: sfn.JsonPath.stringAt('$.target.stack'),
      UsePreviousTemplate: true,
      Parameters: sfn.JsonPath.listAt('$.stackUpdate.parameters'),
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
    }, { resultPath: sfn.JsonPath.DISCARD }), 'StackUpdateFailed', restore);
    const startPolling = new sfn.Pass(this, 'StartPolling', { parameters: { n: 0 }, resultPath: '$.poll' });
    const wait = new sfn.Wait(this, 'WaitForStack', { time: sfn.WaitTime.duration(STACK_POLL) });
    const countPoll = new sfn.Pass(this, 'CountPoll', { parameters: { 'n.$': 'States.MathAdd($.poll.n, 1)' }, resultPath: '$.poll' });
    const describe = catchAll(this.sdk('DescribeServingStack', 'cloudformation', 'describeStacks', 'cloudformation:DescribeStacks', [this.arns.stacks], {
      StackName: sfn.JsonPath.stringAt('$.target.stack'),
    }, { resultSelector: { 'status.$': '$.Stacks[0].StackStatus' }, resultPath: '$.stackStatus' }), 'StackUpdateFailed', restore);
    const stackFailed = failure('StackNotUpdated', 'StackUpdateFailed', 'The serving stack\'s update failed or rolled back; the previous served state is restored.', restore);
    const stackTimeout = failure('StackUpdateTimedOut', 'StackUpdateFailed',
      `The serving stack's update did not complete within ${(STACK_WAIT_POLLS * STACK_POLL.toSeconds()) / 60} minutes; the previous served state is restored.`, restore);

    // 6. The rollout (stepped fleets), and the end.
    const releaseOnSuccess = catchAll(release('ReleaseLock'), 'PromotionFailed', notify);
    const done = releaseOnSuccess.next(new sfn.Succeed(this, 'Promoted'));
    // startExecution.sync of the fleet's rollout, by the ARN built from the name in the target tag.
    const rollout = new sfn.CustomState(this, 'RollOut', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::states:startExecution.sync:2`,
        Parameters: {
          'StateMachineArn.$': `States.Format('arn:${partition}:states:${region}:${account}:stateMachine:{}', $.target.rollout)`,
          'Input': { 'promotion.$': '$$.Execution.Id', 'version.$': '$.version' },
        },
        ResultSelector: { 'status.$': '$.Status' },
        ResultPath: '$.rollout',
        Retry: [{ ErrorEquals: THROTTLING_ERRORS, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 }],
      },
    });
    rollout.addCatch(failure('RolloutRolledBack', 'RolledBack',
      'The fleet rollout did not finish (rolled back on alarm, or failed); the previous served state is restored.', restore), { resultPath: '$.error' });
    const routeRollout = new sfn.Choice(this, 'RolloutNeeded')
      .when(sfn.Condition.stringEquals('$.target.mode', 'rollout'), rollout.next(done))
      .otherwise(done);
    const status = new sfn.Choice(this, 'StackUpdated')
      .when(sfn.Condition.stringEquals('$.stackStatus.status', 'UPDATE_COMPLETE'), routeRollout)
      .when(sfn.Condition.or(
        sfn.Condition.stringMatches('$.stackStatus.status', '*ROLLBACK*'),
        sfn.Condition.stringMatches('$.stackStatus.status', '*FAILED'),
      ), stackFailed)
      .when(sfn.Condition.numberGreaterThanEquals('$.poll.n', STACK_WAIT_POLLS), stackTimeout)
      .otherwise(wait);
    wait.next(countPoll).next(describe).next(status);
    writeState.next(describeForUpdate).next(keepParameters).next(update).next(startPolling).next(wait);

    const modes = new sfn.Choice(this, 'PromotionMode')
      .when(sfn.Condition.stringEquals('$.target.mode', 'rollout'), parsed.next(stable))
      .when(sfn.Condition.stringEquals('$.target.mode', 'direct'), direct)
      .otherwise(notPromotable);
    catchAll(register, PROMOTION_OUTCOMES.failed);
    catchAll(recordCopy, PROMOTION_OUTCOMES.failed);
    complete.next(new sfn.Choice(this, 'RecordInRegistry')
      .when(sfn.Condition.isPresent('$.source'), register.next(modes))
      .when(sfn.Condition.isPresent('$.modelPackageArn'), recordCopy.next(modes))
      .otherwise(modes));
    create.next(part).next(checksum);
    const copy = sfn.Chain.start(readState).next(new sfn.Choice(this, 'CandidateOrPackage')
      .when(sfn.Condition.isPresent('$.candidate'), candidateArchive.next(create))
      .otherwise(describeSource.next(packageChecks)));
    packageSource.next(create);
    const found = new sfn.Choice(this, 'ServedHere')
      .when(sfn.Condition.numberGreaterThan('$.target.found', 0), tagged.next(new sfn.Choice(this, 'Tagged')
        .when(sfn.Condition.isPresent('$.target.values[0]'), targetParts.next(targetFields).next(copy))
        .otherwise(notPromotable)))
      .otherwise(notPromotable);

    const invalid = new sfn.Pass(this, 'InvalidInput', {
      parameters: {
        error: PROMOTION_OUTCOMES.invalidInput,
        cause: 'Start a promotion with {"model": "<model>", "version": "<new version>", "candidate": "<training run>"} '
          + '(optionally with "modelPackageArn": the candidate\'s package, which then records the served archive) or '
          + '{"model": "<model>", "version": "<new version>", "modelPackageArn": "<an Approved package served in its environment>"}.',
      },
      resultPath: '$.failure',
    }).next(fail);
    // Presence first: a Choice rule on a missing path fails the execution.
    const start = sfn.Chain.start(lock).next(target).next(found);
    const strings = (...paths: string[]) => sfn.Condition.and(...paths.map((f) => sfn.Condition.isString(f)));
    const typed = new sfn.Choice(this, 'InputTyped')
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.candidate'), sfn.Condition.isPresent('$.modelPackageArn')), new sfn.Choice(this, 'CandidateWithPackageTyped')
        .when(strings('$.model', '$.version', '$.candidate', '$.modelPackageArn'), start)
        .otherwise(invalid))
      .when(sfn.Condition.isPresent('$.candidate'), new sfn.Choice(this, 'CandidateTyped')
        .when(strings('$.model', '$.version', '$.candidate'), start)
        .otherwise(invalid))
      .when(strings('$.model', '$.version', '$.modelPackageArn'), start)
      .otherwise(invalid);
    return new sfn.Choice(this, 'InputGiven')
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.model'), sfn.Condition.isPresent('$.version'),
        sfn.Condition.or(sfn.Condition.isPresent('$.candidate'), sfn.Condition.isPresent('$.modelPackageArn'))), typed)
      .otherwise(invalid);
  }

  /** What the SDK tasks do not grant themselves: reading the candidate a part is copied from, the key, the rollouts. */
  private grantPolicies(): void {
    const { region } = Stack.of(this);
    const bucket = this.modelsBucket;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadCandidates', actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [this.arns.candidates],
    }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'UseTheModelsKeyThroughS3',
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [this.artifactStore.encryptionKey.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': [bucket.bucketArn, bucket.arnForObjects('*')] },
      },
    }));
    // Promotion by ARN copies the served archive of a package of this environment or of the source (promoteFrom): objects
    // below served/ of buckets in that account (its bucket policy and key policy must grant them, see
    // MlopsPlatform.shareServedModelsWith), through S3 with its keys.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReadServedArchivesOfPackages',
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [this.arns.sourceServed],
      conditions: { StringEquals: { 's3:ResourceAccount': [...new Set([this.source.account, Stack.of(this).account])] } },
    }));
    const elsewhere = this.source.account !== Stack.of(this).account || this.source.region !== region;
    if (elsewhere) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid: 'UseTheSourceModelsKeyThroughS3',
        actions: ['kms:Decrypt'],
        resources: [this.arns.sourceKeys],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${this.source.region}.amazonaws.com` } },
      }));
    }
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'StartRollouts', actions: ['states:StartExecution'], resources: [this.arns.rollouts] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'FollowRollouts', actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [this.arns.rolloutExecutions],
    }));
    // What startExecution.sync uses to learn that the rollout ended.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'SyncRollouts',
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [Stack.of(this).formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule' })],
    }));
    this.topic.masterKey?.grant(this.role, 'kms:Decrypt', 'kms:GenerateDataKey');
    // UpdateStack runs with the service role CloudFormation keeps for the stack (CDK's execution role): no iam:PassRole.
    const reason = 'Promotion works on any model of its environment, named at run time: served/ and candidates/ objects of the models bucket, '
      + 'the environment\'s served states, serving shard stacks, fleet rollouts (by name prefix) and model packages; promoted by ARN, the '
      + 'model packages, served/ archives (s3:ResourceAccount) and keys (through S3) of the source environment\'s account, whose '
      + 'resource policies grant served/ only. tag:GetResources, X-Ray and vended log delivery have no resource-level permissions.';
    const { sourceKeys, ...arns } = this.arns;
    for (const resource of [...new Set([...Object.values(arns), ...(elsewhere ? [sourceKeys] : []), '*'])]) {
      Validations.of(this.role.policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, resource)}]`, reason });
    }
  }
}
