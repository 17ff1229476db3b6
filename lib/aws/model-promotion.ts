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
}

/** How long promotion waits for the serving stack's update before it gives up (restoring the served state). */
const STACK_WAIT_POLLS = 120;
const STACK_POLL = Duration.seconds(30);
/** Errors of the calls below that mean "slow down". */
const THROTTLING_ERRORS = throttlingErrors(['S3', 'Ssm', 'SSM', 'CloudFormation', 'ResourceGroupsTagging', 'ResourceGroupsTaggingApi', 'DynamoDB', 'Sfn', 'SFN', 'Sns', 'SNS']);

/**
 * The environment's promotion of a model version into production (docs/design/served-models.md, "Promotion"): THE
 * promotion role (the only role the models bucket's policy lets write `served/`), and a Step Functions state machine
 * (SDK integrations only) that assumes it. Input:
 * `{ "model": "fraud", "version": "v8", "candidate": "<training run>" }`. The state machine
 *
 * 1. takes the model's lock (a DynamoDB conditional put: one promotion per model at a time; released on every path
 *    but an execution stopped from outside, see `lockTable`);
 * 2. finds the model's serving stack and rollout from its served state's `mlops:promotion` tag (`MlopsPlatform` tags
 *    every fleet's served state) and reads the served state;
 * 3. copies `candidates/<model>/<run>/model.tar.gz` to `served/<model>/<version>/model.tar.gz` write-once: the bucket
 *    policy denies every `s3:PutObject` that creates an object below `served/` without `If-None-Match`, and S3 refuses
 *    `CopyObject` there (403 without the header, 501 with it), so the copy is a one-part multipart copy:
 *    `CreateMultipartUpload` and `UploadPartCopy` (exempt: `s3:ObjectCreationOperation` is false for them) and
 *    `CompleteMultipartUpload` with `IfNoneMatch: "*"` (the creating call, which carries the header): an existing
 *    version makes S3 refuse it (412), and the upload is aborted. Archives up to 5 GB (one part);
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
 * Every failure releases the lock, notifies `alarmTopic` and fails the execution with `PromotionInProgress`,
 * `NotPromotable`, `CandidateNotFound`, `VersionExists`, `StackUpdateFailed`, `RolledBack` or `PromotionFailed`.
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
  private readonly arns: { served: string; candidates: string; states: string; stacks: string; rollouts: string; rolloutExecutions: string };

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
    const models = props.artifactStore.bucket(ArtifactPurpose.MODELS);
    this.arns = {
      served: models.arnForObjects(`${MODEL_ARTIFACT_LAYOUT.servedRoot}*`),
      candidates: models.arnForObjects(`${MODEL_ARTIFACT_LAYOUT.candidatesRoot}*`),
      states: `arn:${partition}:ssm:${region}:${account}:parameter${platformParameterName(this.prefix, 'served')}/*`,
      stacks: `arn:${partition}:cloudformation:${region}:${account}:stack/${this.prefix}-serving-*/*`,
      rollouts: `arn:${partition}:states:${region}:${account}:stateMachine:${this.prefix}-*-rollout`,
      rolloutExecutions: `arn:${partition}:states:${region}:${account}:execution:${this.prefix}-*-rollout:*`,
    };
    this.stateMachineArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: this.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    const key = props.encryptionKey ?? props.artifactStore.encryptionKey;
    if (key instanceof kms.Key) allowCloudWatchLogsToUseKey(key);
    const removalPolicy = statefulRemovalPolicy(profile);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: key, retention: profile.logRetentionDays as logs.RetentionDays, removalPolicy,
    });
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
    restore.addCatch(releaseOnFailure, { resultPath: '$.restoreError' });
    restore.next(releaseOnFailure);
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

    // 3. The write-once copy (see the class doc for why a multipart copy).
    const create = catchAll(this.sdk('StartCopy', 's3', 'createMultipartUpload', 's3:PutObject', [this.arns.served], {
      Bucket: bucket.bucketName, Key: served('$.version'), ChecksumAlgorithm: 'SHA256',
    }, { resultSelector: { 'uploadId.$': '$.UploadId' }, resultPath: '$.upload' }), 'PromotionFailed');
    const abort = (id: string, then: sfn.IChainable) => {
      const task = this.sdk(id, 's3', 'abortMultipartUpload', 's3:AbortMultipartUpload', [this.arns.served], {
        Bucket: bucket.bucketName, Key: served('$.version'), UploadId: sfn.JsonPath.stringAt('$.upload.uploadId'),
      }, { resultPath: sfn.JsonPath.DISCARD });
      task.addCatch(then, { resultPath: '$.abortError' });
      return task.next(then);
    };
    const part = this.sdk('CopyCandidate', 's3', 'uploadPartCopy', 's3:PutObject', [this.arns.served], {
      Bucket: bucket.bucketName,
      Key: served('$.version'),
      UploadId: sfn.JsonPath.stringAt('$.upload.uploadId'),
      PartNumber: 1,
      CopySource: sfn.JsonPath.format(`{}/${MODEL_ARTIFACT_LAYOUT.candidatesRoot}{}/{}/${MODEL_ARTIFACT_LAYOUT.archive}`,
        bucket.bucketName, sfn.JsonPath.stringAt('$.model'), sfn.JsonPath.stringAt('$.candidate')),
    }, {
      // The part as CompleteMultipartUpload lists it.
      resultSelector: { 'PartNumber': 1, 'ETag.$': '$.CopyPartResult.ETag', 'ChecksumSHA256.$': '$.CopyPartResult.ChecksumSHA256' },
      resultPath: '$.upload.part',
    });
    part.addCatch(failure('CandidateMissing', 'CandidateNotFound', 'candidates/<model>/<candidate>/model.tar.gz could not be copied (missing, over 5 GB, or unreadable).',
      abort('AbortCopyOfMissingCandidate', releaseOnFailure)), { resultPath: '$.error' });
    const complete = this.sdk('FinishCopy', 's3', 'completeMultipartUpload', 's3:PutObject', [this.arns.served], {
      Bucket: bucket.bucketName,
      Key: served('$.version'),
      UploadId: sfn.JsonPath.stringAt('$.upload.uploadId'),
      // Write-once: S3 refuses (412) when served/<model>/<version>/model.tar.gz exists; the bucket policy denies it without.
      IfNoneMatch: '*',
      MultipartUpload: { 'Parts.$': 'States.Array($.upload.part)' },
    }, {
      resultSelector: { 'checksumSha256.$': '$.ChecksumSHA256', 'uri.$': "States.Format('s3://{}/{}', $.Bucket, $.Key)" },
      resultPath: '$.copy',
    });
    complete.addCatch(failure('VersionTaken', 'VersionExists', 'served/<model>/<version>/ exists already (served versions are written once) or S3 refused the copy.',
      abort('AbortRefusedCopy', releaseOnFailure)), { resultPath: '$.error' });

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
    const copy = sfn.Chain.start(readState).next(create).next(part).next(complete).next(modes);
    const found = new sfn.Choice(this, 'ServedHere')
      .when(sfn.Condition.numberGreaterThan('$.target.found', 0), tagged.next(new sfn.Choice(this, 'Tagged')
        .when(sfn.Condition.isPresent('$.target.values[0]'), targetParts.next(targetFields).next(copy))
        .otherwise(notPromotable)))
      .otherwise(notPromotable);

    const invalid = new sfn.Pass(this, 'InvalidInput', {
      parameters: {
        error: 'InvalidInput',
        cause: 'Start a promotion with {"model": "<model>", "version": "<new version>", "candidate": "<training run>"}.',
      },
      resultPath: '$.failure',
    }).next(fail);
    // Presence first: a Choice rule on a missing path fails the execution.
    const fields = ['$.model', '$.version', '$.candidate'];
    const typed = new sfn.Choice(this, 'InputTyped')
      .when(sfn.Condition.and(...fields.map((f) => sfn.Condition.isString(f))), sfn.Chain.start(lock).next(target).next(found))
      .otherwise(invalid);
    return new sfn.Choice(this, 'InputGiven')
      .when(sfn.Condition.and(...fields.map((f) => sfn.Condition.isPresent(f))), typed)
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
      + 'the environment\'s served states, serving shard stacks and fleet rollouts (by name prefix). tag:GetResources, X-Ray and vended '
      + 'log delivery have no resource-level permissions.';
    for (const resource of [...Object.values(this.arns), '*']) {
      Validations.of(this.role.policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, resource)}]`, reason });
    }
  }
}
