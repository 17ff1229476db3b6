import type { AslDefinition, NeutralStatement } from './brake-definition';
import { Rollout, RolloutKind } from './rollout';
import { FLEET_ROLLOUT_METRIC } from './served-models';
import { Check } from './validation';

/**
 * The fleet rollout state machine (docs/design/served-models.md, "Fleet rollout state machine"), engine-neutral: its
 * Amazon States Language definition and its role's statements, rendered by the CDK `FleetRollout` and the Pulumi
 * `FleetRollout` from the names and ARNs each engine knows (values may be deploy-time tokens; nothing here inspects them).
 */

/** The rollout kinds a fleet rollout state machine steps (all at once has nothing to step). */
export const STEPPED_FLEET_ROLLOUTS: readonly RolloutKind[] = Object.freeze([
  RolloutKind.CANARY, RolloutKind.LINEAR, RolloutKind.BLUE_GREEN, RolloutKind.AB_TEST,
]);

/** Whether a fleet with this rollout has steps to walk (canary, linear, blue/green, A/B; not all at once). */
export function isSteppedFleetRollout(rollout: Rollout): boolean {
  return STEPPED_FLEET_ROLLOUTS.includes(rollout.kind);
}

/**
 * The input action (`{ "action": "settle" }`) with which promotion (by instance refresh) moves all traffic back to the
 * first variant of a stepped fleet after a finished rollout, once it has refreshed that variant's group to the served
 * version: no alarm check, no notification (nothing is rolled back). Refused (`NotSettled`) while a rollout is in flight.
 */
export const FLEET_ROLLOUT_SETTLE_ACTION = 'settle';

/** How long one rollout may run (every bake time of the longest rollout fits). */
/** Rejects a fleet whose rollout has no steps for a FleetRollout to walk (all at once), for every engine. */
export function validateFleetRolloutSteps(check: Check, rollout: Rollout): void {
  if (!isSteppedFleetRollout(rollout)) {
    check.fail('fleet', rollout.kind, 'has a rollout with nothing to step (all at once)',
      'give the fleet a canary, linear, blue/green or A/B rollout, or do not add a FleetRollout.');
  }
}

/** The alarms a FleetRollout rolls back on: 1 to 100 (what a CloudWatch composite rule and the state machine take). */
export function validateFleetRolloutAlarms(check: Check, alarms: unknown): void {
  if (!Array.isArray(alarms) || alarms.length === 0 || alarms.length > 100) {
    check.fail('alarms', (alarms as unknown[] | undefined)?.length, 'must list 1 to 100 alarms', 'give the fleet\'s latency, error-rate and rollout-health alarms.');
  }
}

export const FLEET_ROLLOUT_TIMEOUT_SECONDS = 8 * 24 * 3600;
/** How many minutes a deploy-started rollout waits (polling once a minute) for the serving stack to finish its update. */
export const FLEET_ROLLOUT_DEPLOY_WAIT_MINUTES = 60;

/** What the fleet serves at one step: a weight per variant, in the fleet's variant order, then the bake time. */
export interface FleetRolloutStep {
  readonly weights: number[];
  readonly waitSeconds: number;
}

/** The weights of each step of a fleet's rollout, in the order of `variantNames` (the fleet's variants). */
export function fleetRolloutSteps(rollout: Rollout, variantNames: readonly string[]): FleetRolloutStep[] {
  if (rollout.kind === RolloutKind.AB_TEST) {
    const split = rollout.initialSplit();
    return [{ weights: variantNames.map((v) => split.find((s) => s.variant === v)?.percent ?? 0), waitSeconds: 0 }];
  }
  return rollout.steps().map((s) => ({ weights: [100 - s.candidatePercent, s.candidatePercent], waitSeconds: s.waitSeconds }));
}

/** One variant of the fleet as the listener forwards to it. */
export interface FleetRolloutVariant {
  readonly name: string;
  readonly targetGroupArn: string;
}

/** What the fleet rollout definition names, as each engine renders it. */
export interface FleetRolloutDefinitionOptions {
  readonly partition: string;
  readonly modelName: string;
  readonly rollout: Rollout;
  /** The fleet's variants in its order (the first is the stable one a rollback returns to). */
  readonly variants: readonly FleetRolloutVariant[];
  /** The listener whose default action forwards to the variants' target groups (the HTTPS one where there is TLS). */
  readonly listenerArn: string;
  /** The model's served state (SSM String parameter). */
  readonly servedStateParameterName: string;
  /** Alarms checked before every step (and after the last bake): any in ALARM rolls back. */
  readonly alarmNames: readonly string[];
  /** Topic told of every rollback. */
  readonly alarmTopicArn: string;
  /**
   * The CloudFormation stack a deploy-started run (`{ "trigger": "deploy" }`) waits for before it moves traffic (the
   * serving stack, updated after the data stack wrote the served state).
   * @default - no deploy wait: every run starts at the served state (an engine without a deploy trigger)
   */
  readonly deployWaitStackName?: string;
  /**
   * The environment's promotion state machine: `{ "action": "settle" }` is honoured only with `"promotion"` = the ARN of
   * a RUNNING execution of it promoting this model (the promotion refreshed or updated the first variant's group first).
   * @default - no settle: such a run fails with `NotSettled`
   */
  readonly promotionStateMachineName?: string;
}

type State = Record<string, unknown>;

const RETRY = [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }];
const METRIC_RETRY = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }];
const ALARM_TYPES = ['CompositeAlarm', 'MetricAlarm'];

/**
 * The fleet rollout state machine (SDK integrations only). Before every step it checks the alarms with
 * `DescribeAlarms`; then it sets the listener's weights (`ModifyListener`), writes them to the served state, records the
 * candidate's share as `FLEET_ROLLOUT_METRIC` and waits the step's bake time. On alarm (or a failed step) it sends all
 * traffic back to the first (stable) variant, records it, tells the topic and fails with `RolledBack`. At 100% the
 * candidate's version becomes `current` (at weight 0). Input: `{}` walks from the served state; `{ "action":
 * "rollback" }` rolls back now (refused with `NothingToRollBack` when both variants serve one version: no rollout in
 * flight); `{ "action": "settle" }` (`FLEET_ROLLOUT_SETTLE_ACTION`, stepped rollouts) moves all traffic back to the first
 * variant after a finished rollout; with `deployWaitStackName`, `{ "trigger": "deploy" }` first waits for that stack's update.
 */
export function fleetRolloutDefinition(o: FleetRolloutDefinitionOptions): AslDefinition {
  const states: Record<string, State> = {};
  const add = (name: string, state: State): string => {
    if (states[name]) throw new Error(`fleetRolloutDefinition: state ${name} defined twice`);
    states[name] = state;
    return name;
  };
  const sdk = (service: string, action: string) => `arn:${o.partition}:states:::aws-sdk:${service}:${action}`;
  const variants = o.variants;
  const progressive = o.rollout.isProgressive;
  const versionPath = (i: number) => `$.versions.v${i}`;
  const catchInto = (next: string) => ({ Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: next }] });
  /** A Task without retries (`call`) or retried on failure (`task`). */
  const call = (name: string, resource: string, parameters: State, next: string, extra: State = {}) =>
    add(name, { Type: 'Task', Resource: resource, Parameters: parameters, ResultPath: null, ...extra, Next: next });
  const task = (name: string, resource: string, parameters: State, next: string, extra: State = {}) =>
    call(name, resource, parameters, next, { Retry: RETRY, ...extra });

  const shift = (name: string, weights: readonly number[], next: string, extra: State = {}) => task(name, sdk('elasticloadbalancingv2', 'modifyListener'), {
    ListenerArn: o.listenerArn,
    DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: variants.map((v, i) => ({ TargetGroupArn: v.targetGroupArn, Weight: weights[i] })) } }],
  }, next, extra);
  const writeState = (name: string, weights: readonly number[], versionPaths: readonly string[], next: string, extra: State = {}) => task(name, sdk('ssm', 'putParameter'), {
    'Name': o.servedStateParameterName,
    'Value.$': `States.Format('${variants.map((v, i) => `${v.name}={}@${weights[i]}`).join(',')}', ${versionPaths.join(', ')})`,
    'Overwrite': true,
  }, next, extra);
  const putMetric = (name: string, candidatePercent: number, next: string) => add(name, {
    Type: 'Task',
    Resource: sdk('cloudwatch', 'putMetricData'),
    Parameters: {
      Namespace: FLEET_ROLLOUT_METRIC.namespace,
      MetricData: [{
        MetricName: FLEET_ROLLOUT_METRIC.metricName,
        Dimensions: [{ Name: FLEET_ROLLOUT_METRIC.dimension, Value: o.modelName }],
        Value: candidatePercent,
        Unit: 'Percent',
      }],
    },
    ResultPath: null,
    Retry: METRIC_RETRY,
    Next: next,
  });
  const checkAlarms = (name: string, next: string, onError: string) => task(name, sdk('cloudwatch', 'describeAlarms'),
    { AlarmNames: [...o.alarmNames], AlarmTypes: ALARM_TYPES, StateValue: 'ALARM' }, next, {
      ResultSelector: { 'metric.$': 'States.ArrayLength($.MetricAlarms)', 'composite.$': 'States.ArrayLength($.CompositeAlarms)' },
      ResultPath: '$.alarms',
      ...catchInto(onError),
    });

  // Rollback: all traffic to the stable (first) variant, recorded, told, failed.
  const rollbackWeights = variants.map((_, i) => (i === 0 ? 100 : 0));
  add('RolledBack', { Type: 'Fail', Error: 'RolledBack', Cause: `Traffic of ${o.modelName} went back to '${variants[0].name}'.` });
  call('NotifyRollback', `arn:${o.partition}:states:::sns:publish`, {
    TopicArn: o.alarmTopicArn,
    Subject: `Rollout of ${o.modelName} rolled back`,
    Message: {
      'model': o.modelName,
      'event': 'rollback',
      'reason.$': '$.reason',
      'execution.$': '$$.Execution.Id',
      'stateMachine.$': '$$.StateMachine.Id',
    },
  }, 'RolledBack');
  putMetric('MetricRollback', 0, 'NotifyRollback');
  writeState('RecordRollback', rollbackWeights, variants.map((_, i) => versionPath(i)), 'MetricRollback');
  shift('RollBack', rollbackWeights, 'RecordRollback');
  const because = (name: string, reason: string) => add(name, { Type: 'Pass', Result: reason, ResultPath: '$.reason', Next: 'RollBack' });

  // The steps, each guarded by an alarm check: <label>CheckAlarms -> <label>Healthy -> what the step does.
  const steps = fleetRolloutSteps(o.rollout, variants.map((v) => v.name));
  const guarded = (label: string, then: string): string => {
    const failed = because(`${label}Failed`, `${label.toLowerCase()} failed`);
    const inAlarm = because(`${label}InAlarm`, `rollout alarms in ALARM before ${label.toLowerCase()}`);
    add(`${label}Healthy`, {
      Type: 'Choice',
      Choices: [{
        Or: [{ Variable: '$.alarms.metric', NumericGreaterThan: 0 }, { Variable: '$.alarms.composite', NumericGreaterThan: 0 }],
        Next: inAlarm,
      }],
      Default: then,
    });
    return checkAlarms(`${label}CheckAlarms`, `${label}Healthy`, failed);
  };
  // Built from the end: each step's states name the next step's first state.
  let next = add(progressive ? 'RolledOut' : 'WeightsApplied', { Type: 'Succeed' });
  if (progressive) {
    // The candidate's version becomes `current` (at weight 0) so the next rollout starts from it.
    next = writeState('PromoteCandidate', [0, 100], [versionPath(1), versionPath(1)], next);
  }
  if (steps[steps.length - 1].waitSeconds > 0) next = guarded('Final', add('FinalChecked', { Type: 'Pass', Next: next }));
  for (let i = steps.length - 1; i >= 0; i--) {
    const label = `Step${i + 1}`;
    const step = steps[i];
    if (step.waitSeconds > 0) next = add(`${label}Bake`, { Type: 'Wait', Seconds: step.waitSeconds, Next: next });
    next = putMetric(`${label}Metric`, 100 - step.weights[0], next);
    next = writeState(`${label}Record`, step.weights, variants.map((_, j) => versionPath(j)), next, catchInto(`${label}Failed`));
    next = shift(`${label}Shift`, step.weights, next, catchInto(`${label}Failed`));
    next = guarded(label, next);
  }
  const walk = next;

  // Where a run starts: a rollback request, nothing to roll out, or the steps.
  const sameVersion = { Variable: versionPath(0), StringEqualsPath: versionPath(1) };
  const start = progressive ? add('AnythingToRollOut', {
    Type: 'Choice',
    Choices: [{ ...sameVersion, Next: add('NothingToRollOut', { Type: 'Succeed', Comment: 'The candidate already serves the current version.' }) }],
    Default: walk,
  }) : walk;
  because('Requested', 'rollback requested');
  const actions: State[] = [];
  if (progressive) {
    // Both variants serve one version: no rollout is in flight, and the first variant's instances may still run the
    // version before it (its version changed in the served state only), so "back" would serve that silently.
    actions.push({
      And: [{ Variable: '$.action', StringEquals: 'rollback' }, sameVersion],
      Next: add('NothingToRollBack', {
        Type: 'Fail',
        Error: 'NothingToRollBack',
        Cause: `No rollout of ${o.modelName} is in flight: both variants serve the same version, so there is nothing to roll back to. `
          + 'To serve an earlier version again, promote it (its training run as candidate, under a new version name).',
      }),
    });
    // Settle (promotion, once the first variant's instances run the served version): all traffic back to the first
    // variant after a finished rollout, with no alarm, so the candidate variant can take the next version. Only for a
    // running promotion of this model: started early by anyone else it would send traffic to instances that may still
    // run the version before.
    const name = o.promotionStateMachineName;
    if (name !== undefined) {
      const notByPromotion = add('SettleNotByPromotion', {
        Type: 'Fail',
        Error: 'NotSettled',
        Cause: `Settle is a step of a running promotion of ${o.modelName} (which first brings the first variant's instances to the served version); `
          + 'nothing was changed. To move traffic back during a rollout, use {"action": "rollback"}.',
      });
      const settled = putMetric('SettleMetric', 0, add('Settled', { Type: 'Succeed' }));
      const settle = shift('SettleShift', rollbackWeights, writeState('SettleRecord', rollbackWeights, variants.map((_, i) => versionPath(i)), settled));
      add('SettleAllowed', {
        Type: 'Choice',
        Choices: [{ ...sameVersion, Next: settle }],
        Default: add('NotSettled', {
          Type: 'Fail',
          Error: 'NotSettled',
          Cause: `A rollout of ${o.modelName} is in flight (the variants serve different versions): settle moves traffic only after a finished one. `
            + 'Let it finish, or roll it back with {"action": "rollback"}.',
        }),
      });
      add('PromotionOfThisModel', {
        Type: 'Choice',
        Choices: [{ And: [{ Variable: '$.promotionRun.status', StringEquals: 'RUNNING' }, { Variable: '$.promotionRun.input.model', StringEquals: o.modelName }], Next: 'SettleAllowed' }],
        Default: notByPromotion,
      });
      // (presence first, then type: a rule on a missing path fails the run)
      const given = (state: string, path: string, then: string) => add(state, {
        Type: 'Choice',
        Choices: [{ Variable: path, IsPresent: true, Next: add(`${state}Typed`, { Type: 'Choice', Choices: [{ Variable: path, IsString: true, Next: then }], Default: notByPromotion }) }],
        Default: notByPromotion,
      });
      given('PromotionNamesModel', '$.promotionRun.input.model', 'PromotionOfThisModel');
      // Only executions of the environment's promotion (the role may describe no other).
      call('DescribePromotion', sdk('sfn', 'describeExecution'), { 'ExecutionArn.$': '$.promotion' }, 'PromotionNamesModel', {
        ResultSelector: { 'status.$': '$.Status', 'input.$': 'States.StringToJson($.Input)' },
        ResultPath: '$.promotionRun',
        Retry: RETRY,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: notByPromotion }],
      });
      given('SettleByPromotion', '$.promotion', add('PromotionExecution', {
        Type: 'Choice',
        Choices: [{ Variable: '$.promotion', StringMatches: `arn:*:states:*:*:execution:${name}:*`, Next: 'DescribePromotion' }],
        Default: notByPromotion,
      }));
    }
    // Built without a promotion (a standalone FleetRollout): say how to give it one, since a promotion of a finished
    // rollout fails on this.
    const noPromotion = name === undefined ? add('SettleWithoutPromotion', {
      Type: 'Fail',
      Error: 'NotSettled',
      Cause: `The rollout of ${o.modelName} was built without a promotion, so no promotion may settle it and a promotion after a finished `
        + 'rollout fails here; nothing was changed. Give the FleetRollout promotionStateMachineName (ModelPromotion.stateMachineName; '
        + 'MlopsPlatform does).',
    }) : undefined;
    actions.push({ Variable: '$.action', StringEquals: FLEET_ROLLOUT_SETTLE_ACTION, Next: noPromotion ?? 'SettleByPromotion' });
  }
  actions.push({ Variable: '$.action', StringEquals: 'rollback', Next: 'Requested' });
  const known = progressive ? `"rollback" or "${FLEET_ROLLOUT_SETTLE_ACTION}"` : '"rollback"';
  // A misspelled action must not walk the rollout (the opposite of a rollback).
  add('RollbackRequested', {
    Type: 'Choice',
    Choices: actions,
    Default: add('UnknownAction', { Type: 'Fail', Error: 'UnknownAction', Cause: `"action" is ${known}; start with {} to walk the rollout. Nothing was changed.` }),
  });
  add('ActionGiven', { Type: 'Choice', Choices: [{ Variable: '$.action', IsPresent: true, Next: 'RollbackRequested' }], Default: start });
  // What is served now: the served state taken apart (`current=v7@90,candidate=v8@10`): entries by ',', then each
  // entry's version between '=' and '@' (one delimiter per split: States.StringSplit's splitter is one string).
  const versionOf = (i: number) =>
    `States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(States.ArrayGetItem($.served.entries, ${i}), '='), 1), '@'), 0)`;
  add('Versions', { Type: 'Pass', Parameters: Object.fromEntries(variants.map((_, i) => [`v${i}.$`, versionOf(i)])), ResultPath: '$.versions', Next: 'ActionGiven' });
  add('ServedStateUnreadable', { Type: 'Fail', Error: 'ServedStateUnreadable', Cause: `Could not read ${o.servedStateParameterName}.` });
  // One run at a time: two runs would step the same listener against each other (a walk and a rollback, or two walks).
  add('RolloutInProgress', {
    Type: 'Fail',
    Error: 'RolloutInProgress',
    Cause: `Another run of this state machine is moving the traffic of ${o.modelName}; nothing was changed. Stop it first `
      + '(aws stepfunctions stop-execution), then start the run you want.',
  });
  add('OnlyRun', {
    Type: 'Choice', Choices: [{ Variable: '$.running.count', NumericGreaterThan: 1, Next: 'RolloutInProgress' }], Default: 'ReadServedState',
  });
  call('ListRunning', sdk('sfn', 'listExecutions'), { 'StateMachineArn.$': '$$.StateMachine.Id', 'StatusFilter': 'RUNNING' }, 'OnlyRun', {
    ResultSelector: { 'count.$': 'States.ArrayLength($.Executions)' },
    ResultPath: '$.running',
    Retry: RETRY,
    ...catchInto(add('RunsUnknown', { Type: 'Fail', Error: 'RunsUnknown', Cause: 'Could not list the running executions of this state machine; nothing was changed.' })),
  });
  call('ReadServedState', sdk('ssm', 'getParameter'), { Name: o.servedStateParameterName }, 'Versions', {
    ResultSelector: { 'entries.$': "States.StringSplit($.Parameter.Value, ',')" },
    ResultPath: '$.served',
    ...catchInto('ServedStateUnreadable'),
  });

  const comment = `Rollout of ${o.modelName}: ${o.rollout.describe()}; rolls back on alarm`;
  if (o.deployWaitStackName === undefined) {
    return { StartAt: 'ListRunning', States: states, TimeoutSeconds: FLEET_ROLLOUT_TIMEOUT_SECONDS, Comment: comment };
  }

  // Started by a deploy: the data stack wrote the served state before the serving stack updates, so wait until the
  // serving stack has finished an update begun after this run started (the groups run the new versions).
  const stack = o.deployWaitStackName;
  const updatedSinceStart = (status: string) => ({
    And: [
      { Variable: '$.deploy.described.stack.LastUpdatedTime', TimestampGreaterThanEqualsPath: '$.deploy.startedAt' },
      { Variable: '$.deploy.described.stack.StackStatus', StringMatches: status },
    ],
  });
  add('DeployRolledBack', { Type: 'Fail', Error: 'DeployRolledBack', Cause: `${stack} rolled its update back; traffic was not moved.` });
  add('ServingStackNotUpdated', {
    Type: 'Fail',
    Error: 'ServingStackNotUpdated',
    Cause: `${stack} was not updated within ${FLEET_ROLLOUT_DEPLOY_WAIT_MINUTES} minutes of the served state changing; traffic was not moved. `
      + 'Deploy it (cdk deploy skips a stack whose template is unchanged: use --force) or promote, then start the rollout.',
  });
  add('KeepWaiting', {
    Type: 'Choice',
    Choices: [{ Variable: '$.deploy.polls', NumericGreaterThanEquals: FLEET_ROLLOUT_DEPLOY_WAIT_MINUTES, Next: 'ServingStackNotUpdated' }],
    Default: 'WaitForServingStack',
  });
  add('WaitForServingStack', { Type: 'Wait', Seconds: 60, Next: 'CountPoll' });
  add('CountPoll', {
    Type: 'Pass', Parameters: { 'startedAt.$': '$.deploy.startedAt', 'polls.$': 'States.MathAdd($.deploy.polls, 1)' }, ResultPath: '$.deploy', Next: 'DescribeServingStack',
  });
  add('ServingStackUpdated', {
    Type: 'Choice',
    Choices: [{ ...updatedSinceStart('*ROLLBACK*'), Next: 'DeployRolledBack' }, { ...updatedSinceStart('*_COMPLETE'), Next: 'ListRunning' }],
    Default: 'KeepWaiting',
  });
  // A stack never updated has no LastUpdatedTime (compared apart: a Choice rule on a missing path fails the run).
  add('ServingStackEverUpdated', {
    Type: 'Choice', Choices: [{ Variable: '$.deploy.described.stack.LastUpdatedTime', IsPresent: true, Next: 'ServingStackUpdated' }], Default: 'KeepWaiting',
  });
  task('DescribeServingStack', sdk('cloudformation', 'describeStacks'), { StackName: stack }, 'ServingStackEverUpdated', {
    ResultSelector: { 'stack.$': '$.Stacks[0]' }, ResultPath: '$.deploy.described',
  });
  add('DeployStarted', { Type: 'Pass', Parameters: { 'startedAt.$': '$$.Execution.StartTime', 'polls': 0 }, ResultPath: '$.deploy', Next: 'DescribeServingStack' });
  add('TriggerIsDeploy', { Type: 'Choice', Choices: [{ Variable: '$.trigger', StringEquals: 'deploy', Next: 'DeployStarted' }], Default: 'ListRunning' });
  add('StartedByDeploy', { Type: 'Choice', Choices: [{ Variable: '$.trigger', IsPresent: true, Next: 'TriggerIsDeploy' }], Default: 'ListRunning' });
  return { StartAt: 'StartedByDeploy', States: states, TimeoutSeconds: FLEET_ROLLOUT_TIMEOUT_SECONDS, Comment: comment };
}

/** Where a fleet rollout role works, as each engine renders it (values may be deploy-time tokens). */
export interface FleetRolloutRoleContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** ARN of the model's served state parameter. */
  readonly servedStateParameterArn: string;
  /** The listener the state machine reweights. */
  readonly listenerArn: string;
  readonly alarmArns: readonly string[];
  readonly alarmTopicArn: string;
  /** The stack a deploy-started run waits for (see `FleetRolloutDefinitionOptions.deployWaitStackName`). @default - none */
  readonly deployWaitStackName?: string;
  /** The promotion whose running executions may settle the fleet (see `FleetRolloutDefinitionOptions.promotionStateMachineName`). @default - none */
  readonly promotionStateMachineName?: string;
  /** The rollout state machine's own name (a run lists the running executions of its state machine). */
  readonly stateMachineName: string;
}

/** The `states.amazonaws.com` trust of a fleet rollout role: this account's Step Functions, for this state machine only. */
export function fleetRolloutTrustConditions(c: Pick<FleetRolloutRoleContext, 'partition' | 'region' | 'account'>, stateMachineName: string): Record<string, Record<string, string>> {
  return {
    StringEquals: { 'aws:SourceAccount': c.account },
    ArnEquals: { 'aws:SourceArn': `arn:${c.partition}:states:${c.region}:${c.account}:stateMachine:${stateMachineName}` },
  };
}

/** The ARN of the serving stack a deploy-started rollout describes (its last part is the id CloudFormation assigns). */
export function fleetRolloutServingStackArn(c: Pick<FleetRolloutRoleContext, 'partition' | 'region' | 'account'>, stackName: string): string {
  return `arn:${c.partition}:cloudformation:${c.region}:${c.account}:stack/${stackName}/*`;
}

/**
 * What a fleet rollout role may do (beyond its state machine's logs and traces, and the alarm topic's key, which each
 * engine grants on its own resources): read and write its model's served state, reweight its fleet's listener, check
 * its alarms, list its own running executions, record the `FLEET_ROLLOUT_METRIC` namespace only, tell the topic, and (with a deploy wait) describe the
 * serving stack, and (with a promotion) describe that promotion's executions. The SDK actions of every Task of `fleetRolloutDefinition` are among these (the tests of both engines
 * check it). Nothing here raises capacity: weights are not capacity, so the governance boundary's brake denies never
 * stop a rollout.
 */
export function fleetRolloutRoleStatements(c: FleetRolloutRoleContext): NeutralStatement[] {
  const allow = (sid: string, actions: string[], resources: string[], conditions?: NeutralStatement['conditions']): NeutralStatement =>
    ({ sid, effect: 'Allow', actions, resources, ...(conditions ? { conditions } : {}) });
  return [
    allow('ReadAndWriteTheServedState', ['ssm:GetParameter', 'ssm:PutParameter'], [c.servedStateParameterArn]),
    allow('CheckTheRolloutAlarms', ['cloudwatch:DescribeAlarms'], [...c.alarmArns]),
    allow('ReweightTheListener', ['elasticloadbalancing:ModifyListener'], [c.listenerArn]),
    // One run at a time: a run fails when another one of its state machine is running.
    allow('OneRunAtATime', ['states:ListExecutions'], [`arn:${c.partition}:states:${c.region}:${c.account}:stateMachine:${c.stateMachineName}`]),
    // PutMetricData has no resource-level permissions: the namespace condition limits it to the rollout metric's.
    allow('RecordTheProgress', ['cloudwatch:PutMetricData'], ['*'], { StringEquals: { 'cloudwatch:namespace': FLEET_ROLLOUT_METRIC.namespace } }),
    allow('NotifyRollbacks', ['sns:Publish'], [c.alarmTopicArn]),
    ...(c.deployWaitStackName === undefined ? [] : [allow('FollowTheServingStack', ['cloudformation:DescribeStacks'], [fleetRolloutServingStackArn(c, c.deployWaitStackName)])]),
    // Settle checks that a running promotion of this model asked for it.
    ...(c.promotionStateMachineName === undefined ? [] : [allow('CheckThePromotion', ['states:DescribeExecution'],
      [`arn:${c.partition}:states:${c.region}:${c.account}:execution:${c.promotionStateMachineName}:*`])]),
  ];
}

/** Where the environment's fleet rollouts are (values may be deploy-time tokens). */
export interface FleetRolloutsContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** `<project>-<env>`: the rollouts are `fleetRolloutStateMachineName(<prefix>, <model>)` = `<prefix>-<model>-rollout`. */
  readonly environmentPrefix: string;
}

/**
 * What the platform operator persona may do with the environment's fleet rollouts by hand (both platforms grant it):
 * start one (`{}` walks it, `{ "action": "rollback" }` sends all traffic back), follow and stop (abort) its executions.
 * Only the rollouts (named `<prefix>-*-rollout`): not the promotion, the brake or the pipelines. A settle started this
 * way is refused unless it names a running promotion of the model (`fleetRolloutDefinition`).
 */
export function fleetRolloutOperatorStatements(c: FleetRolloutsContext): NeutralStatement[] {
  const arn = (resource: string) => `arn:${c.partition}:states:${c.region}:${c.account}:${resource}`;
  return [
    { sid: 'StartTheFleetRollouts', effect: 'Allow', actions: ['states:StartExecution'], resources: [arn(`stateMachine:${c.environmentPrefix}-*-rollout`)] },
    {
      sid: 'FollowAndAbortTheFleetRollouts',
      effect: 'Allow',
      actions: ['states:DescribeExecution', 'states:StopExecution'],
      resources: [arn(`execution:${c.environmentPrefix}-*-rollout:*`)],
    },
  ];
}
