import type { AslDefinition, NeutralStatement } from './brake-definition';
import { FLEET_ROLLOUT_SETTLE_ACTION } from './fleet-rollout-definition';
import { MODEL_ARTIFACT_LAYOUT, platformParameterName } from './served-models';
import { throttlingErrors } from './state-machine-errors';
import type { Check } from './validation';

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
  /** `instance-refresh`: a refresh of a fleet's group failed, was cancelled or did not finish in time (state restored). */
  instanceRefreshFailed: 'InstanceRefreshFailed',
  /** `instance-refresh`: a stepped fleet's candidate variant serves traffic (its last rollout moved traffic to it). */
  candidateServing: 'CandidateServing',
  rolledBack: 'RolledBack',
  invalidInput: 'InvalidInput',
  failed: 'PromotionFailed',
});

/**
 * What a promotion does once the served state is written: `cloudformation` updates the serving shard stack
 * (`UpdateStack` with the previous template, so the resolved served state is the only change), waits for it, and starts
 * the fleet's rollout state machine (stepped fleets); `instance-refresh` (Pulumi: fleet instances read their variant's
 * version at boot) refreshes the Auto Scaling group of every fleet variant whose version changed (found by
 * `SERVED_VARIANT_TAG`), waits for each refresh, and starts the fleet's rollout state machine when the target tag names
 * one; endpoints (no such group) end at the served state, which the next deploy serves; `none` ends at the served state.
 */
export type PromotionServingUpdate = 'cloudformation' | 'instance-refresh' | 'none';

/**
 * Tag of a fleet variant's Auto Scaling group whose instances read their version from a served state at boot:
 * `<served state parameter name>:<variant index>` (`servedVariantTagValue`). Promotion by `instance-refresh` finds the
 * group to refresh by it, and its role may refresh only groups whose tag names a served state of its environment.
 */
export const SERVED_VARIANT_TAG = 'mlops:served-variant';

/** The value of `SERVED_VARIANT_TAG` for the group of a fleet's variant at `index` (its position in the served state). */
export function servedVariantTagValue(servedStateParameterName: string, index: number): string {
  return `${servedStateParameterName}:${index}`;
}

/** What the promotion state machine's definition names, as each engine renders it (values may be deploy-time tokens). */
export interface PromotionDefinitionOptions {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** `<project>-<env>`: the namespace of the served states, serving stacks and fleet rollouts. */
  readonly environmentPrefix: string;
  /** Name of the models bucket (the one whose `served/` promotion writes). */
  readonly modelsBucketName: string;
  /** DynamoDB table (partition key `model`, string) holding one lock per model being promoted. */
  readonly lockTableName: string;
  /** Topic told of every failed promotion. */
  readonly alarmTopicArn: string;
  /** @default 'cloudformation' */
  readonly servingUpdate?: PromotionServingUpdate;
}

/** Polls of the serving stack (every `PROMOTION_STACK_POLL_SECONDS`) before promotion gives up, restoring the served state. */
export const PROMOTION_STACK_WAIT_POLLS = 120;
export const PROMOTION_STACK_POLL_SECONDS = 30;
/** Polls of an instance refresh (every `PROMOTION_STACK_POLL_SECONDS`) before promotion cancels it and restores the served state. */
export const PROMOTION_REFRESH_WAIT_POLLS = 240;
/** How long a promotion may run (a rollout's bake times included). */
export const PROMOTION_TIMEOUT_SECONDS = 9 * 24 * 3600;

/** Errors of the calls of the definition that mean "slow down". */
const THROTTLING_ERRORS = throttlingErrors(['S3', 'Ssm', 'SSM', 'CloudFormation', 'ResourceGroupsTagging', 'ResourceGroupsTaggingApi', 'DynamoDB', 'Sfn', 'SFN', 'Sns', 'SNS']);
const RETRY = [{ ErrorEquals: THROTTLING_ERRORS, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 }];
const REFRESH_RETRY = [{ ErrorEquals: throttlingErrors(['AutoScaling']), IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2 }];

type State = Record<string, unknown>;

/**
 * The promotion state machine (Amazon States Language, JSONPath, SDK and optimized integrations only), engine-neutral:
 * docs/design/served-models.md "Promotion" and `ModelPromotion` describe the steps. Each engine renders the names and
 * ARNs and deploys the definition as it is; the tests of both engines execute it offline.
 */
export function promotionDefinition(o: PromotionDefinitionOptions): AslDefinition {
  const states: Record<string, State> = {};
  const add = (name: string, state: State): string => {
    if (states[name]) throw new Error(`promotionDefinition: state ${name} defined twice`);
    states[name] = state;
    return name;
  };
  const sdk = (service: string, action: string) => `arn:${o.partition}:states:::aws-sdk:${service}:${action}`;
  const stackUpdate = (o.servingUpdate ?? 'cloudformation') === 'cloudformation';
  const refresh = o.servingUpdate === 'instance-refresh';
  const { servedRoot, candidatesRoot, archive } = MODEL_ARTIFACT_LAYOUT;
  const statesRoot = platformParameterName(o.environmentPrefix, 'served');
  const stateName = `States.Format('${statesRoot}/{}', $.model)`;
  const servedKey = `States.Format('${servedRoot}{}/{}/${archive}', $.model, $.version)`;
  const bucket = o.modelsBucketName;

  /** A Task retried on throttling; `catcher` catches every error into `$.error` (or `resultPath`). */
  type Catcher = { next: string; resultPath?: string };
  const task = (name: string, resource: string, parameters: State, next: string, extra: State = {}, catcher?: Catcher) =>
    add(name, {
      Type: 'Task',
      Resource: resource,
      Parameters: parameters,
      ResultPath: null,
      Retry: RETRY,
      ...(catcher ? { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: catcher.resultPath ?? '$.error', Next: catcher.next }] } : {}),
      ...extra,
      Next: next,
    });
  /** Records why the promotion fails in `$.failure` (a fixed cause, or the caught error), then `next`. */
  const failure = (name: string, error: string, cause: string | undefined, next: string) => add(name, {
    Type: 'Pass',
    Parameters: { error, ...(cause === undefined ? { 'cause.$': 'States.JsonToString($.error)' } : { cause }) },
    ResultPath: '$.failure',
    Next: next,
  });
  /** A Task whose every error fails the promotion with `error`, then `then`. */
  const caught = (name: string, resource: string, parameters: State, next: string, error: string, then: string, extra: State = {}) => {
    failure(`${name}Failed`, error, undefined, then);
    return task(name, resource, parameters, next, extra, { next: `${name}Failed` });
  };
  const pass = (name: string, parameters: State, resultPath: string, next: string) =>
    add(name, { Type: 'Pass', Parameters: parameters, ResultPath: resultPath, Next: next });
  const choice = (name: string, choices: State[], otherwise: string) => add(name, { Type: 'Choice', Choices: choices, Default: otherwise });
  const present = (path: string) => ({ Variable: path, IsPresent: true });
  const strings = (...paths: string[]) => ({ And: paths.map((p) => ({ Variable: p, IsString: true })) });
  const lockKey = { model: { 'S.$': '$.model' } };
  const release = (name: string, next: string, catcher: { next: string; resultPath?: string }) => task(name, `arn:${o.partition}:states:::dynamodb:deleteItem`, {
    // Only this execution's lock.
    TableName: o.lockTableName, Key: lockKey, ConditionExpression: 'execution = :me', ExpressionAttributeValues: { ':me': { 'S.$': '$$.Execution.Id' } },
  }, next, {}, catcher);

  // Failure handling: record why, (restore), release the lock, notify, fail with the recorded error.
  add('PromotionFailed', { Type: 'Fail', ErrorPath: '$.failure.error', CausePath: '$.failure.cause' });
  task('NotifyFailure', `arn:${o.partition}:states:::sns:publish`, {
    TopicArn: o.alarmTopicArn,
    Subject: 'Model promotion failed',
    Message: {
      'event': 'promotion-failed',
      'model.$': '$.model',
      'version.$': '$.version',
      'error.$': '$.failure.error',
      'cause.$': '$.failure.cause',
      'execution.$': '$$.Execution.Id',
    },
  }, 'PromotionFailed', {}, { next: 'PromotionFailed', resultPath: '$.notifyError' });
  release('ReleaseLockOnFailure', 'NotifyFailure', { next: 'NotifyFailure', resultPath: '$.releaseError' });
  // A package this promotion registered (promotion by ARN) is marked Rejected: the registry's Approved versions are served.
  task('RejectRegisteredPackage', sdk('sagemaker', 'updateModelPackage'), {
    'ModelPackageArn.$': '$.registered.arn',
    'ModelApprovalStatus': 'Rejected',
    'ApprovalDescription': 'The promotion of this version failed or rolled back; production serves the previous version.',
  }, 'ReleaseLockOnFailure', {}, { next: 'ReleaseLockOnFailure', resultPath: '$.rejectError' });
  choice('RegisteredHere', [{ ...present('$.registered.arn'), Next: 'RejectRegisteredPackage' }], 'ReleaseLockOnFailure');
  task('RestoreServedState', sdk('ssm', 'putParameter'), { 'Name.$': stateName, 'Value.$': '$.served.previous', 'Overwrite': true },
    'RegisteredHere', {}, { next: 'RegisteredHere', resultPath: '$.restoreError' });

  // Input: presence first (a Choice rule on a missing path fails the execution), then types.
  const invalid = failure('InvalidInput', PROMOTION_OUTCOMES.invalidInput,
    'Start a promotion with {"model": "<model>", "version": "<new version>", "candidate": "<training run>"} '
    + '(optionally with "modelPackageArn": the candidate\'s package, which then records the served archive) or '
    + '{"model": "<model>", "version": "<new version>", "modelPackageArn": "<an Approved package served in its environment>"}.', 'PromotionFailed');
  choice('InputGiven', [{
    And: [present('$.model'), present('$.version'), { Or: [present('$.candidate'), present('$.modelPackageArn')] }], Next: 'InputTyped',
  }], invalid);
  choice('InputTyped', [
    { And: [present('$.candidate'), present('$.modelPackageArn')], Next: 'CandidateWithPackageTyped' },
    { ...present('$.candidate'), Next: 'CandidateTyped' },
    { ...strings('$.model', '$.version', '$.modelPackageArn'), Next: 'TakeLock' },
  ], invalid);
  choice('CandidateWithPackageTyped', [{ ...strings('$.model', '$.version', '$.candidate', '$.modelPackageArn'), Next: 'TakeLock' }], invalid);
  choice('CandidateTyped', [{ ...strings('$.model', '$.version', '$.candidate'), Next: 'TakeLock' }], invalid);

  // 1. The lock.
  add('TakeLock', {
    Type: 'Task',
    Resource: `arn:${o.partition}:states:::dynamodb:putItem`,
    Parameters: {
      TableName: o.lockTableName,
      Item: { ...lockKey, version: { 'S.$': '$.version' }, execution: { 'S.$': '$$.Execution.Id' }, startedAt: { 'S.$': '$$.Execution.StartTime' } },
      ConditionExpression: 'attribute_not_exists(model)',
    },
    ResultPath: null,
    Retry: RETRY,
    Catch: [
      { ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: '$.error', Next: 'LockHeld' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'TakeLockFailed' },
    ],
    Next: 'FindTarget',
  });
  failure('LockHeld', PROMOTION_OUTCOMES.inProgress, 'Another promotion of this model is running (its lock is held).', 'NotifyFailure');
  failure('TakeLockFailed', PROMOTION_OUTCOMES.failed, undefined, 'NotifyFailure');

  // 2. Where the model is served (its served state's target tag), and what it serves now.
  caught('FindTarget', sdk('resourcegroupstaggingapi', 'getResources'), {
    'ResourceARNList.$': `States.Array(States.Format('arn:${o.partition}:ssm:${o.region}:${o.account}:parameter${statesRoot}/{}', $.model))`,
  }, 'ServedHere', PROMOTION_OUTCOMES.failed, 'ReleaseLockOnFailure', {
    ResultSelector: { 'found.$': 'States.ArrayLength($.ResourceTagMappingList)', 'mappings.$': '$.ResourceTagMappingList' },
    ResultPath: '$.target',
  });
  const notPromotable = failure('NotServed', PROMOTION_OUTCOMES.notPromotable,
    'The model has no served state tagged for promotion in this environment (not served here, or an A/B test or shadow).', 'ReleaseLockOnFailure');
  choice('ServedHere', [{ Variable: '$.target.found', NumericGreaterThan: 0, Next: 'TargetTag' }], notPromotable);
  pass('TargetTag', { 'values.$': `$.target.mappings[0].Tags[?(@.Key == '${PROMOTION_TARGET_TAG}')].Value` }, '$.target', 'Tagged');
  choice('Tagged', [{ ...present('$.target.values[0]'), Next: 'Target' }], notPromotable);
  pass('Target', { 'parts.$': "States.StringSplit(States.ArrayGetItem($.target.values, 0), ' ')" }, '$.target', 'TargetFields');
  pass('TargetFields', {
    'mode.$': 'States.ArrayGetItem($.target.parts, 0)',
    'stack.$': 'States.ArrayGetItem($.target.parts, 1)',
    'rollout.$': 'States.ArrayGetItem($.target.parts, 2)',
  }, '$.target', 'ReadServedState');
  caught('ReadServedState', sdk('ssm', 'getParameter'), { 'Name.$': stateName }, stackUpdate || refresh ? 'CandidateIdleIfStepped' : 'CandidateOrPackage', PROMOTION_OUTCOMES.failed, 'ReleaseLockOnFailure', {
    ResultSelector: { 'previous.$': '$.Parameter.Value', 'entries.$': "States.StringSplit($.Parameter.Value, ',')" },
    ResultPath: '$.served',
  });

  /**
   * The instance refresh of the Auto Scaling group of the fleet variant at `index` (found by its `SERVED_VARIANT_TAG`),
   * waited for: `done` when it succeeded, `noGroup` when no group has the tag; a failed, cancelled or timed-out refresh
   * fails the promotion with `InstanceRefreshFailed` and goes on to `onFailure` (`after` says what that does).
   */
  const refreshGroup = (key: string, index: number, done: string, noGroup: string, onFailure: string, after: string) => {
    const refreshFailed = PROMOTION_OUTCOMES.instanceRefreshFailed;
    const refreshTask = (name: string, action: string, parameters: State, next: string, extra: State, catchNext: string) => add(name, {
      Type: 'Task',
      Resource: sdk('autoscaling', action),
      Parameters: parameters,
      ResultPath: null,
      Retry: REFRESH_RETRY,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: catchNext }],
      ...extra,
      Next: next,
    });
    failure(`FindVariant${key}GroupFailed`, refreshFailed, undefined, onFailure);
    refreshTask(`FindVariant${key}Group`, 'describeAutoScalingGroups', {
      Filters: [{ 'Name': `tag:${SERVED_VARIANT_TAG}`, 'Values.$': `States.Array(States.Format('{}:${index}', ${stateName}))` }],
    }, `Variant${key}GroupFound`, { ResultSelector: { 'groups.$': '$.AutoScalingGroups' }, ResultPath: '$.group' }, `FindVariant${key}GroupFailed`);
    choice(`Variant${key}GroupFound`, [{ ...present('$.group.groups[0].AutoScalingGroupName'), Next: `RefreshVariant${key}` }], noGroup);
    failure(`RefreshVariant${key}Failed`, refreshFailed, undefined, onFailure);
    refreshTask(`RefreshVariant${key}`, 'startInstanceRefresh', { 'AutoScalingGroupName.$': '$.group.groups[0].AutoScalingGroupName', 'Strategy': 'Rolling' },
      `StartRefresh${key}Polling`, { ResultSelector: { 'id.$': '$.InstanceRefreshId' }, ResultPath: '$.refreshing' }, `RefreshVariant${key}Failed`);
    pass(`StartRefresh${key}Polling`, { n: 0 }, '$.poll', `WaitForRefresh${key}`);
    add(`WaitForRefresh${key}`, { Type: 'Wait', Seconds: PROMOTION_STACK_POLL_SECONDS, Next: `CountRefresh${key}Poll` });
    pass(`CountRefresh${key}Poll`, { 'n.$': 'States.MathAdd($.poll.n, 1)' }, '$.poll', `DescribeRefresh${key}`);
    failure(`DescribeRefresh${key}Failed`, refreshFailed, undefined, onFailure);
    refreshTask(`DescribeRefresh${key}`, 'describeInstanceRefreshes', {
      'AutoScalingGroupName.$': '$.group.groups[0].AutoScalingGroupName', 'InstanceRefreshIds.$': 'States.Array($.refreshing.id)',
    }, `Refreshed${key}`, { ResultSelector: { 'status.$': '$.InstanceRefreshes[0].Status' }, ResultPath: '$.refreshStatus' }, `DescribeRefresh${key}Failed`);
    const timedOut = failure(`Refresh${key}TimedOut`, refreshFailed, 'The instance refresh of the fleet variant\'s group did not finish within '
      + `${(PROMOTION_REFRESH_WAIT_POLLS * PROMOTION_STACK_POLL_SECONDS) / 60} minutes; it is cancelled and ${after}.`, onFailure);
    refreshTask(`CancelRefresh${key}`, 'cancelInstanceRefresh', { 'AutoScalingGroupName.$': '$.group.groups[0].AutoScalingGroupName' }, timedOut, {}, timedOut);
    choice(`Refreshed${key}`, [
      { Variable: '$.refreshStatus.status', StringEquals: 'Successful', Next: done },
      {
        Or: ['Failed', 'Cancelled', 'Cancelling', 'RollbackInProgress', 'RollbackFailed', 'RollbackSuccessful']
          .map((status) => ({ Variable: '$.refreshStatus.status', StringEquals: status })),
        Next: failure(`Refresh${key}NotDone`, refreshFailed, `The instance refresh of the fleet variant's group failed or was cancelled; ${after} `
          + '(instances it already replaced serve the served state\'s version until replaced again).', onFailure),
      },
      { Variable: '$.poll.n', NumericGreaterThanEquals: PROMOTION_REFRESH_WAIT_POLLS, Next: `CancelRefresh${key}` },
    ], `WaitForRefresh${key}`);
    return `FindVariant${key}Group`;
  };
  /**
   * The serving stack's update (the previous template and every parameter's previous value: the SSM-typed served state
   * is resolved again, so it is the only change), and the wait for it: `done` at UPDATE_COMPLETE, `noChange` (where
   * given) when CloudFormation finds nothing to update; a failed, rolled-back or timed-out update fails the promotion
   * with `StackUpdateFailed` and goes on to `onFailure` (`after` says what that does). State names end with `key`.
   */
  const updateStack = (key: string, done: string, onFailure: string, after: string, noChange?: string) => {
    const stackFailed = PROMOTION_OUTCOMES.stackUpdateFailed;
    const n = (name: string) => `${name}${key}`;
    caught(n('ReadStackParameters'), sdk('cloudformation', 'describeStacks'), { 'StackName.$': '$.target.stack' }, n('KeepParameters'), stackFailed, onFailure, {
      ResultSelector: { 'parameters.$': '$.Stacks[0].Parameters' }, ResultPath: '$.stackUpdate',
    });
    add(n('KeepParameters'), {
      Type: 'Map',
      ItemsPath: '$.stackUpdate.parameters',
      ItemSelector: { 'ParameterKey.$': '$$.Map.Item.Value.ParameterKey', 'UsePreviousValue': true },
      ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: n('KeepParameter'), States: { [n('KeepParameter')]: { Type: 'Pass', End: true } } },
      ResultPath: '$.stackUpdate.parameters',
      Next: n('UpdateServingStack'),
    });
    // CloudFormation runs the update with the service role it keeps for the stack: no role is passed.
    const update = {
      'StackName.$': '$.target.stack',
      'UsePreviousTemplate': true,
      'Parameters.$': '$.stackUpdate.parameters',
      'Capabilities': ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
    };
    if (noChange === undefined) {
      caught(n('UpdateServingStack'), sdk('cloudformation', 'updateStack'), update, n('StartPolling'), stackFailed, onFailure);
    } else {
      // "No updates are to be performed" (a ValidationError): the stack already serves this served state.
      failure(n('UpdateServingStackFailed'), stackFailed, undefined, onFailure);
      choice(n('NothingToUpdate'), [{ Variable: '$.error.Cause', StringMatches: '*No updates are to be performed*', Next: noChange }], n('UpdateServingStackFailed'));
      task(n('UpdateServingStack'), sdk('cloudformation', 'updateStack'), update, n('StartPolling'), {}, { next: n('NothingToUpdate') });
    }
    pass(n('StartPolling'), { n: 0 }, '$.poll', n('WaitForStack'));
    add(n('WaitForStack'), { Type: 'Wait', Seconds: PROMOTION_STACK_POLL_SECONDS, Next: n('CountPoll') });
    pass(n('CountPoll'), { 'n.$': 'States.MathAdd($.poll.n, 1)' }, '$.poll', n('DescribeServingStack'));
    caught(n('DescribeServingStack'), sdk('cloudformation', 'describeStacks'), { 'StackName.$': '$.target.stack' }, n('StackUpdated'), stackFailed, onFailure, {
      ResultSelector: { 'status.$': '$.Stacks[0].StackStatus' }, ResultPath: '$.stackStatus',
    });
    choice(n('StackUpdated'), [
      { Variable: '$.stackStatus.status', StringEquals: 'UPDATE_COMPLETE', Next: done },
      {
        Or: [{ Variable: '$.stackStatus.status', StringMatches: '*ROLLBACK*' }, { Variable: '$.stackStatus.status', StringMatches: '*FAILED' }],
        Next: failure(n('StackNotUpdated'), stackFailed, `The serving stack's update failed or rolled back; ${after}.`, onFailure),
      },
      {
        Variable: '$.poll.n',
        NumericGreaterThanEquals: PROMOTION_STACK_WAIT_POLLS,
        Next: failure(n('StackUpdateTimedOut'), stackFailed, `The serving stack's update did not complete within ${(PROMOTION_STACK_WAIT_POLLS * PROMOTION_STACK_POLL_SECONDS) / 60} `
          + `minutes; ${after}.`, onFailure),
      },
    ], n('WaitForStack'));
    return n('ReadStackParameters');
  };
  const entry = (i: number, part: number) =>
    `States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(States.ArrayGetItem($.served.entries, ${i}), '='), 1), '@'), ${part})`;
  const rolloutArn = `States.Format('arn:${o.partition}:states:${o.region}:${o.account}:stateMachine:{}', $.target.rollout)`;

  if (stackUpdate || refresh) {
    // The candidate's group may take the new version only while the listener sends it nothing (weight 0): a stack
    // update or an instance refresh replaces its instances while it serves. Checked before anything is copied. After a
    // finished rollout (`current=v8@0,candidate=v8@100`) the first variant's instances may still run the version before
    // v8 (only the served state changed): its group is updated (stack update) or refreshed (instance refresh) to v8
    // while it has no traffic, the fleet's rollout settles all traffic on it, and the served state is read again.
    choice('CandidateIdleIfStepped', [{ Variable: '$.target.mode', StringEquals: PromotionMode.ROLLOUT, Next: 'CandidateWeight' }], 'CandidateOrPackage');
    pass('CandidateWeight', { 'weight.$': entry(1, 1), 'current.$': entry(0, 0), 'candidate.$': entry(1, 0) }, '$.candidateWeight', 'CandidateIdle');
    const serving = failure('CandidateServes', PROMOTION_OUTCOMES.candidateServing, 'The fleet\'s candidate variant serves traffic and promotion cannot '
      + 'move it back: a rollout is in flight (the variants serve different versions: let it finish, or roll it back with the fleet rollout\'s '
      + `{"action": "rollback"}) or the fleet has no rollout state machine${refresh ? ', or no Auto Scaling group is tagged for its first variant' : ''}. `
      + 'Updating the candidate\'s group would give the new version that traffic before any rollout step.', 'ReleaseLockOnFailure');
    const unchanged = 'the served state is unchanged';
    const bringBack = refresh ? refreshGroup('Stable', 0, 'SettleFleet', serving, 'ReleaseLockOnFailure', unchanged)
      : updateStack('BeforeSettle', 'SettleFleet', 'ReleaseLockOnFailure', unchanged, 'SettleFleet');
    choice('CandidateIdle', [
      { Variable: '$.candidateWeight.weight', StringEquals: '0', Next: 'CandidateOrPackage' },
      {
        And: [
          { Not: present('$.settled') },
          { Variable: '$.candidateWeight.weight', StringEquals: '100' },
          { Variable: '$.candidateWeight.current', StringEqualsPath: '$.candidateWeight.candidate' },
          { Not: { Variable: '$.target.rollout', StringEquals: 'none' } },
        ],
        Next: bringBack,
      },
    ], serving);
    task('SettleFleet', `arn:${o.partition}:states:::states:startExecution.sync:2`, {
      'StateMachineArn.$': rolloutArn,
      'Input': { 'action': FLEET_ROLLOUT_SETTLE_ACTION, 'promotion.$': '$$.Execution.Id' },
    }, 'Settled', {}, { next: failure('SettleFailed', PROMOTION_OUTCOMES.failed, undefined, 'ReleaseLockOnFailure') });
    pass('Settled', { settled: true }, '$.settled', 'ReadServedState');
  }

  // 3. What is copied: the candidate archive, or the served archive of an approved model package (by ARN, possibly in
  //    the source environment), checked complete, of this model and Approved.
  choice('CandidateOrPackage', [{ ...present('$.candidate'), Next: 'CandidateArchive' }], 'DescribeSourcePackage');
  pass('CandidateArchive', {
    'copySource.$': `States.Format('{}/${candidatesRoot}{}/{}/${archive}', '${bucket}', $.model, $.candidate)`,
    'missing': PROMOTION_OUTCOMES.candidateNotFound,
  }, '$.archive', 'StartCopy');
  failure('SourcePackageUnreadable', PROMOTION_OUTCOMES.packageNotFound, undefined, 'ReleaseLockOnFailure');
  task('DescribeSourcePackage', sdk('sagemaker', 'describeModelPackage'), { 'ModelPackageName.$': '$.modelPackageArn' }, 'SourcePackageComplete',
    { ResultPath: '$.sourcePackage' }, { next: 'SourcePackageUnreadable' });
  const pkg = '$.sourcePackage';
  const meta = `${pkg}.CustomerMetadataProperties`;
  const container = `${pkg}.InferenceSpecification.Containers[0]`;
  // Presence first: a path that does not exist in a Pass or Task parameter fails the execution beyond any Catch.
  const required = [`${pkg}.ModelPackageGroupName`, `${pkg}.ModelApprovalStatus`, `${container}.Image`, `${container}.ModelDataUrl`,
    `${pkg}.InferenceSpecification.SupportedContentTypes`, `${pkg}.InferenceSpecification.SupportedResponseMIMETypes`,
    `${pkg}.ModelMetrics`, `${pkg}.DriftCheckBaselines`, `${meta}.servedObject`, `${meta}.sha256`, `${meta}.approvedBy`];
  const incomplete = failure('SourcePackageIncomplete', PROMOTION_OUTCOMES.packageIncomplete,
    'The model package lacks what promotion copies and records: its served archive and checksum (servedObject, sha256: a package '
    + 'its environment promoted), approvedBy, an inference specification, ModelMetrics or DriftCheckBaselines.', 'ReleaseLockOnFailure');
  choice('SourcePackageComplete', [
    { Not: { And: required.map(present) }, Next: incomplete },
    {
      Not: { Variable: `${pkg}.ModelPackageGroupName`, StringEqualsPath: '$.model' },
      Next: failure('SourcePackageOfOtherModel', PROMOTION_OUTCOMES.invalidInput,
        'The model package is not a version of the model being promoted (its model package group differs).', 'ReleaseLockOnFailure'),
    },
    {
      Not: { Variable: `${pkg}.ModelApprovalStatus`, StringEquals: 'Approved' },
      Next: failure('SourcePackageNotApproved', PROMOTION_OUTCOMES.packageNotApproved,
        'The model package is not Approved in its environment: only approved versions are promoted.', 'ReleaseLockOnFailure'),
    },
  ], 'PackageArchive');
  pass('PackageArchive', {
    'copySource.$': `${meta}.servedObject`,
    'url.$': `States.Format('s3://{}', ${meta}.servedObject)`,
    'sha256.$': `${meta}.sha256`,
    'missing': PROMOTION_OUTCOMES.packageArchiveNotFound,
  }, '$.archive', 'PackageServesItsArchive');
  // The package's ModelDataUrl is the served archive its environment recorded (what was approved there is what is copied).
  choice('PackageServesItsArchive', [{ Variable: `${container}.ModelDataUrl`, StringEqualsPath: '$.archive.url', Next: 'SourcePackage' }], incomplete);
  pass('SourcePackage', {
    'arn.$': '$.modelPackageArn',
    'approvedBy.$': `${meta}.approvedBy`,
    'image.$': `${container}.Image`,
    'contentTypes.$': `${pkg}.InferenceSpecification.SupportedContentTypes`,
    'responseTypes.$': `${pkg}.InferenceSpecification.SupportedResponseMIMETypes`,
    'metrics.$': `${pkg}.ModelMetrics`,
    'driftCheckBaselines.$': `${pkg}.DriftCheckBaselines`,
  }, '$.source', 'StartCopy');

  // The write-once copy: the bucket policy denies every creating write below served/ without If-None-Match and S3
  // refuses CopyObject there, so a one-part multipart copy completed with IfNoneMatch: "*".
  caught('StartCopy', sdk('s3', 'createMultipartUpload'), { 'Bucket': bucket, 'Key.$': servedKey, 'ChecksumAlgorithm': 'SHA256' },
    'CopyArchive', PROMOTION_OUTCOMES.failed, 'ReleaseLockOnFailure', { ResultSelector: { 'uploadId.$': '$.UploadId' }, ResultPath: '$.upload' });
  const abort = (name: string) => task(name, sdk('s3', 'abortMultipartUpload'), { 'Bucket': bucket, 'Key.$': servedKey, 'UploadId.$': '$.upload.uploadId' },
    'ReleaseLockOnFailure', {}, { next: 'ReleaseLockOnFailure', resultPath: '$.abortError' });
  pass('ArchiveMissing', { 'error.$': '$.archive.missing', 'cause.$': 'States.JsonToString($.error)' }, '$.failure', abort('AbortCopyOfMissingArchive'));
  task('CopyArchive', sdk('s3', 'uploadPartCopy'), {
    'Bucket': bucket, 'Key.$': servedKey, 'UploadId.$': '$.upload.uploadId', 'PartNumber': 1, 'CopySource.$': '$.archive.copySource',
  }, 'ChecksumMatches', {
    // The part as CompleteMultipartUpload lists it; its SHA-256 is the whole archive's (one part).
    ResultSelector: { 'PartNumber': 1, 'ETag.$': '$.CopyPartResult.ETag', 'ChecksumSHA256.$': '$.CopyPartResult.ChecksumSHA256' },
    ResultPath: '$.upload.part',
  }, { next: 'ArchiveMissing' });
  // A package's archive must be the one its environment served (its recorded SHA-256): checked before anything is written.
  choice('ChecksumMatches', [{
    And: [present('$.archive.sha256'), { Not: { Variable: '$.upload.part.ChecksumSHA256', StringEqualsPath: '$.archive.sha256' } }],
    Next: failure('ChecksumDiffers', PROMOTION_OUTCOMES.checksumMismatch,
      'The copied archive\'s SHA-256 is not the one the model package records: nothing was written.', abort('AbortCopyOfChangedArchive')),
  }], 'FinishCopy');
  failure('VersionTaken', PROMOTION_OUTCOMES.versionExists,
    'served/<model>/<version>/ exists already (served versions are written once) or S3 refused the copy.', abort('AbortRefusedCopy'));
  task('FinishCopy', sdk('s3', 'completeMultipartUpload'), {
    'Bucket': bucket,
    'Key.$': servedKey,
    'UploadId.$': '$.upload.uploadId',
    // Write-once: S3 refuses (412) when served/<model>/<version>/model.tar.gz exists; the bucket policy denies it without.
    'IfNoneMatch': '*',
    'MultipartUpload': { 'Parts.$': 'States.Array($.upload.part)' },
  }, 'RecordInRegistry', {
    ResultSelector: {
      'checksumSha256.$': '$.ChecksumSHA256',
      'uri.$': "States.Format('s3://{}/{}', $.Bucket, $.Key)",
      'object.$': "States.Format('{}/{}', $.Bucket, $.Key)",
    },
    ResultPath: '$.copy',
  }, { next: 'VersionTaken' });

  // Records of the copy in the registry: a package promoted by ARN is registered here (Approved: approved in its
  // environment, promoted by this execution); the package of a candidate (the model pipeline's) records the archive.
  choice('RecordInRegistry', [
    { ...present('$.source'), Next: 'RegisterPackage' },
    { ...present('$.modelPackageArn'), Next: 'RecordServedArchive' },
  ], 'PromotionMode');
  const sha256 = '$.upload.part.ChecksumSHA256';
  caught('RegisterPackage', sdk('sagemaker', 'createModelPackage'), {
    'ModelPackageGroupName.$': '$.model',
    'ModelPackageDescription.$': "States.Format('{} {} promoted from {}', $.model, $.version, $.source.arn)",
    'ModelApprovalStatus': 'Approved',
    'ApprovalDescription.$': "States.Format('Approved by {} in its environment ({}); promoted by {}', $.source.approvedBy, $.source.arn, $$.Execution.Id)",
    'InferenceSpecification': {
      'Containers': [{ 'Image.$': '$.source.image', 'ModelDataUrl.$': '$.copy.uri', 'Environment': { 'MODEL_URI.$': '$.copy.uri' } }],
      'SupportedContentTypes.$': '$.source.contentTypes',
      'SupportedResponseMIMETypes.$': '$.source.responseTypes',
    },
    'ModelMetrics.$': '$.source.metrics',
    'DriftCheckBaselines.$': '$.source.driftCheckBaselines',
    'CustomerMetadataProperties': {
      'sourceModelPackageArn.$': '$.source.arn',
      'approvedBy.$': '$.source.approvedBy',
      'servedObject.$': '$.copy.object',
      'sha256.$': sha256,
      'promotion.$': '$$.Execution.Id',
    },
  }, 'PromotionMode', PROMOTION_OUTCOMES.failed, 'ReleaseLockOnFailure', { ResultSelector: { 'arn.$': '$.ModelPackageArn' }, ResultPath: '$.registered' });
  caught('RecordServedArchive', sdk('sagemaker', 'updateModelPackage'), {
    'ModelPackageArn.$': '$.modelPackageArn',
    'CustomerMetadataProperties': { 'servedObject.$': '$.copy.object', 'sha256.$': sha256, 'promotion.$': '$$.Execution.Id' },
  }, 'PromotionMode', PROMOTION_OUTCOMES.failed, 'ReleaseLockOnFailure');

  // 4. The served state: stepped fleets serve the stable version as current and the new one as candidate at 0.
  choice('PromotionMode', [
    { Variable: '$.target.mode', StringEquals: PromotionMode.ROLLOUT, Next: 'StableVersion' },
    { Variable: '$.target.mode', StringEquals: PromotionMode.DIRECT, Next: 'ServeAllAtOnce' },
  ], notPromotable);
  pass('StableVersion', {
    'previous.$': '$.served.previous', 'currentVersion.$': entry(0, 0), 'candidateVersion.$': entry(1, 0), 'candidateWeight.$': entry(1, 1),
  }, '$.served', 'CandidateServesAll');
  // After a finished rollout (`current=v8@0,candidate=v8@100`) the candidate's version is the stable one.
  choice('CandidateServesAll', [{ Variable: '$.served.candidateWeight', StringEquals: '100', Next: 'CandidateIsStable' }], 'CurrentIsStable');
  const stepped = (stable: string) => ({ 'value.$': `States.Format('current={}@100,candidate={}@0', ${stable}, $.version)` });
  pass('CandidateIsStable', stepped('$.served.candidateVersion'), '$.next', 'WriteServedState');
  pass('CurrentIsStable', stepped('$.served.currentVersion'), '$.next', 'WriteServedState');
  pass('ServeAllAtOnce', { 'value.$': "States.Format('current={}@100', $.version)" }, '$.next', 'WriteServedState');
  caught('WriteServedState', sdk('ssm', 'putParameter'), { 'Name.$': stateName, 'Value.$': '$.next.value', 'Overwrite': true },
    stackUpdate ? 'ReadStackParameters' : refresh ? 'NextEntries' : 'ReleaseLock', PROMOTION_OUTCOMES.failed, 'RestoreServedState');

  if (stackUpdate) {
    // 5. The serving stack's update (the previous template and every parameter's previous value: the SSM-typed served
    //    state is resolved again, so it is the only change), and the wait for it.
    updateStack('', 'RolloutNeeded', 'RestoreServedState', 'the previous served state is restored');
  }

  if (refresh) {
    // 5. The groups of the fleet variants whose version changed (found by their SERVED_VARIANT_TAG; an endpoint has
    //    none): an instance refresh each, in the order of the variants, each waited for. Their instances boot with the
    //    served state's version.
    pass('NextEntries', { 'before.$': "States.StringSplit($.served.previous, ',')", 'after.$': "States.StringSplit($.next.value, ',')" }, '$.refresh', 'Variant0Served');
    const variantEntry = (entries: string, i: number) =>
      `States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(${entries}, ${i}), '='), 1), '@'), 0)`;
    const variants = 2;
    for (let i = 0; i < variants; i++) {
      const done = i + 1 < variants ? `Variant${i + 1}Served` : 'RolloutNeeded';
      choice(`Variant${i}Served`, [{ And: [present(`$.refresh.before[${i}]`), present(`$.refresh.after[${i}]`)], Next: `Variant${i}Versions` }], done);
      pass(`Variant${i}Versions`, { 'before.$': variantEntry('$.refresh.before', i), 'after.$': variantEntry('$.refresh.after', i) }, '$.variant', `Variant${i}Changed`);
      choice(`Variant${i}Changed`, [{ Variable: '$.variant.before', StringEqualsPath: '$.variant.after', Next: done }],
        refreshGroup(`${i}`, i, done, done, 'RestoreServedState', 'the previous served state is restored'));
    }
  }

  if (stackUpdate || refresh) {
    // 6. The rollout (stepped fleets): startExecution.sync of the fleet's rollout, by the ARN built from the name in the tag.
    const steppedFleet = { Variable: '$.target.mode', StringEquals: PromotionMode.ROLLOUT };
    choice('RolloutNeeded', [{
      // (instance-refresh: the target tag names the fleet's rollout state machine only where the fleet has one)
      ...(refresh ? { And: [steppedFleet, { Not: { Variable: '$.target.rollout', StringEquals: 'none' } }] } : steppedFleet), Next: 'RollOut',
    }], 'ReleaseLock');
    failure('RolloutRolledBack', PROMOTION_OUTCOMES.rolledBack,
      'The fleet rollout did not finish (rolled back on alarm, or failed); the previous served state is restored.', 'RestoreServedState');
    task('RollOut', `arn:${o.partition}:states:::states:startExecution.sync:2`, {
      'StateMachineArn.$': rolloutArn,
      'Input': { 'promotion.$': '$$.Execution.Id', 'version.$': '$.version' },
    }, 'ReleaseLock', { ResultSelector: { 'status.$': '$.Status' }, ResultPath: '$.rollout' }, { next: 'RolloutRolledBack' });
  }

  // The end: the lock released.
  failure('ReleaseLockFailed', PROMOTION_OUTCOMES.failed, undefined, 'NotifyFailure');
  release('ReleaseLock', 'Promoted', { next: 'ReleaseLockFailed' });
  add('Promoted', { Type: 'Succeed' });

  const steps = stackUpdate ? 'write-once copy, served state, stack update, rollout'
    : refresh ? 'write-once copy, served state, instance refresh, rollout' : 'write-once copy, served state';
  return {
    Comment: `Promotion of model versions into production (${o.environmentPrefix}): ${steps}`,
    StartAt: 'InputGiven',
    States: states,
    TimeoutSeconds: PROMOTION_TIMEOUT_SECONDS,
  };
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
 * Checks the names a `ModelPromotion` of either engine is given (environment prefix, state machine name, `promoteFrom`)
 * and returns the state machine's name (default `<environmentPrefix>-promotion`).
 */
export function checkPromotionNames(check: Check,
  props: { environmentPrefix: string; stateMachineName?: string; promoteFrom?: PromotionSource }): string {
  check.matches('environmentPrefix', props.environmentPrefix, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'the environment prefix, e.g. "fraud-prod" (letters, digits, ".", "_", "-")');
  const stateMachineName = props.stateMachineName ?? `${props.environmentPrefix}-promotion`;
  check.matches('stateMachineName', stateMachineName, /^[A-Za-z0-9_-]{1,80}$/, 'letters, digits, "-" and "_", at most 80 characters');
  if (props.promoteFrom?.account !== undefined) {
    check.matches('promoteFrom.account', props.promoteFrom.account, /^\d{12}$/, 'the source environment\'s 12-digit account id, e.g. "111111111111"');
  }
  if (props.promoteFrom?.region !== undefined) {
    check.matches('promoteFrom.region', props.promoteFrom.region, /^[a-z]{2}(-[a-z]+)+-\d$/, 'the source environment\'s region, e.g. "us-east-1"');
  }
  return stateMachineName;
}

/**
 * Refuses a retraining pipeline in an environment that promotes what another one approved (`promoteFrom`): prod does
 * not retrain, it serves what staging approved. The same error on both engines' `MlopsPlatform.addModelPipeline`.
 */
export function checkNoRetrainingWherePromotedFrom(check: Check, promoteFrom: PromotionSource | undefined, modelName: unknown): void {
  if (!promoteFrom) return;
  check.fail('addModelPipeline', modelName,
    'adds a retraining pipeline to an environment that promotes what another one approved (promoteFrom): it would serve a model that environment never approved',
    'retrain in the source environment (staging) and promote its approved package here: start platform.modelPromotion with '
    + '{"model": "<model>", "version": "<version>", "modelPackageArn": "<package ARN there>"}.');
}

/** Where a promotion role works, as each engine renders it (values may be deploy-time tokens). */
export interface PromotionRoleContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly environmentPrefix: string;
  /** ARN of the models bucket. */
  readonly modelsBucketArn: string;
  /** ARN of the models bucket's key. */
  readonly modelsKeyArn: string;
  readonly lockTableArn: string;
  readonly alarmTopicArn: string;
  /** Where packages promoted by ARN may come from besides this environment (`promoteFrom`). */
  readonly source?: { readonly account: string; readonly region: string };
  /** @default 'cloudformation' */
  readonly servingUpdate?: PromotionServingUpdate;
}

/** The promotion state machine's ARN, built from its name (what the promotion role's trust policy names). */
export function promotionStateMachineArn(c: Pick<PromotionRoleContext, 'partition' | 'region' | 'account'>, stateMachineName: string): string {
  return `arn:${c.partition}:states:${c.region}:${c.account}:stateMachine:${stateMachineName}`;
}

/** The promotion role's trust: the Step Functions service of this account, for the promotion state machine only. */
export function promotionTrustConditions(c: Pick<PromotionRoleContext, 'partition' | 'region' | 'account'>, stateMachineName: string): Record<string, Record<string, string>> {
  return { StringEquals: { 'aws:SourceAccount': c.account }, ArnEquals: { 'aws:SourceArn': promotionStateMachineArn(c, stateMachineName) } };
}

/**
 * What the promotion role may do (beyond its state machine's logs and traces, and the alarm topic's key, which each
 * engine grants on its own resources): the lock, the environment's served states (found by tag), `s3:PutObject` and
 * `AbortMultipartUpload` below `served/` only (the bucket policy makes every creating write there conditional), reading
 * candidates and served archives of packages, the models key through S3, model packages, and (CloudFormation) the
 * serving stacks and fleet rollouts, or (instance refresh) refreshes of the groups tagged with a served state of this environment
 * (`SERVED_VARIANT_TAG`) and fleet rollouts. The SDK actions of every Task of `promotionDefinition` are among these (the tests
 * of both engines check it).
 */
export function promotionRoleStatements(c: PromotionRoleContext): NeutralStatement[] {
  const arn = (service: string, resource: string, region = c.region, account = c.account) => `arn:${c.partition}:${service}:${region}:${account}:${resource}`;
  const source = c.source ?? { account: c.account, region: c.region };
  const elsewhere = source.account !== c.account || source.region !== c.region;
  const states = arn('ssm', `parameter${platformParameterName(c.environmentPrefix, 'served')}/*`);
  const served = `${c.modelsBucketArn}/${MODEL_ARTIFACT_LAYOUT.servedRoot}*`;
  const packages = arn('sagemaker', 'model-package/*');
  const stackUpdate = (c.servingUpdate ?? 'cloudformation') === 'cloudformation';
  const refresh = c.servingUpdate === 'instance-refresh';
  const allow = (sid: string, actions: string[], resources: string[], conditions?: NeutralStatement['conditions']): NeutralStatement =>
    ({ sid, effect: 'Allow', actions, resources, ...(conditions ? { conditions } : {}) });
  const stacks = arn('cloudformation', `stack/${c.environmentPrefix}-serving-*/*`);
  return [
    allow('Notify', ['sns:Publish'], [c.alarmTopicArn]),
    allow('Lock', ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [c.lockTableArn]),
    allow('FindServedStates', ['tag:GetResources'], ['*']),
    allow('ReadAndWriteServedStates', ['ssm:GetParameter', 'ssm:PutParameter'], [states]),
    allow('WriteServedOnce', ['s3:PutObject', 's3:AbortMultipartUpload'], [served]),
    allow('ReadCandidates', ['s3:GetObject', 's3:GetObjectVersion'], [`${c.modelsBucketArn}/${MODEL_ARTIFACT_LAYOUT.candidatesRoot}*`]),
    allow('UseTheModelsKeyThroughS3', ['kms:Decrypt', 'kms:GenerateDataKey'], [c.modelsKeyArn], {
      StringEquals: { 'kms:ViaService': `s3.${c.region}.amazonaws.com` },
      StringLike: { 'kms:EncryptionContext:aws:s3:arn': [c.modelsBucketArn, `${c.modelsBucketArn}/*`] },
    }),
    // Promotion by ARN copies the served archive of a package of this environment or of the source: objects below
    // served/ of buckets in that account (its bucket and key policies must grant them: shareServedModelsWith), through S3.
    allow('ReadServedArchivesOfPackages', ['s3:GetObject', 's3:GetObjectVersion'], [`arn:${c.partition}:s3:::*/${MODEL_ARTIFACT_LAYOUT.servedRoot}*`],
      { StringEquals: { 's3:ResourceAccount': [...new Set([source.account, c.account])] } }),
    ...(elsewhere ? [allow('UseTheSourceModelsKeyThroughS3', ['kms:Decrypt'], [arn('kms', 'key/*', source.region, source.account)],
      { StringEquals: { 'kms:ViaService': `s3.${source.region}.amazonaws.com` } })] : []),
    allow('DescribeModelPackages', ['sagemaker:DescribeModelPackage'], [...new Set([packages, arn('sagemaker', 'model-package/*', source.region, source.account)])]),
    allow('RegisterModelPackages', ['sagemaker:CreateModelPackage'], [packages, arn('sagemaker', 'model-package-group/*')]),
    allow('RecordAndRejectModelPackages', ['sagemaker:UpdateModelPackage'], [packages]),
    ...(stackUpdate ? [
      // UpdateStack runs with the service role CloudFormation keeps for the stack (CDK's execution role): no iam:PassRole.
      allow('UpdateServingStacks', ['cloudformation:DescribeStacks', 'cloudformation:UpdateStack'], [stacks]),
    ] : []),
    ...(refresh ? [
      // (no resource-level permissions for these two)
      allow('FindAndFollowServedFleets', ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeInstanceRefreshes'], ['*']),
      // Only groups whose instances read a served state of this environment.
      allow('RefreshServedFleets', ['autoscaling:StartInstanceRefresh', 'autoscaling:CancelInstanceRefresh'],
        [arn('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*')],
        { StringLike: { [`aws:ResourceTag/${SERVED_VARIANT_TAG}`]: `${platformParameterName(c.environmentPrefix, 'served')}/*` } }),
    ] : []),
    ...(stackUpdate || refresh ? [
      allow('StartRollouts', ['states:StartExecution'], [arn('states', `stateMachine:${c.environmentPrefix}-*-rollout`)]),
      allow('FollowRollouts', ['states:DescribeExecution', 'states:StopExecution'], [arn('states', `execution:${c.environmentPrefix}-*-rollout:*`)]),
      // What startExecution.sync uses to learn that the rollout ended.
      allow('SyncRollouts', ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'], [arn('events', 'rule/StepFunctionsGetEventsForStepFunctionsExecutionRule')]),
    ] : []),
  ];
}
