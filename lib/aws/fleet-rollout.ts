import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EnvironmentProfile, FLEET_ROLLOUT_METRIC, fleetRolloutStateMachineName, Rollout, RolloutKind } from '../core';
import { InferenceFleet } from './inference-fleet';
import { allowCloudWatchLogsToUseKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyRole } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { topLevelStack } from './private/served-state';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

export interface FleetRolloutProps {
  /** The fleet whose listener weights the state machine steps; it must read its versions and weights from a `servedState`. */
  readonly fleet: InferenceFleet;
  /**
   * Alarms checked with `DescribeAlarms` before every step (and after the last bake): any of them in ALARM rolls the
   * fleet back. Give the fleet's latency and error-rate alarms and its rollout-health composite
   * (`MlopsMonitoring.monitorServing` returns all three).
   */
  readonly alarms: cloudwatch.IAlarm[];
  /** Topic told of every rollback (the environment's alarm topic). */
  readonly alarmTopic: sns.ITopic;
  /**
   * Name of the state machine, so promotion and people can start it by a name-built ARN.
   * @default - `fleetRolloutStateMachineName(<stack name>, <model>)`
   */
  readonly stateMachineName?: string;
  /**
   * Start a rollout when CloudFormation writes the fleet's served state (a deploy whose code changed the model's
   * versions or rollout): an EventBridge rule on the CloudTrail `PutParameter` event CloudFormation makes. Needs a
   * CloudTrail trail recording management events in the region (`MlopsGovernance` creates one).
   * @default true
   */
  readonly startOnDeploy?: boolean;
  /**
   * Key of the execution log group.
   * @default - the fleet's encryption key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/** What the fleet serves at one step: a weight per variant, in the fleet's variant order. */
interface PlannedStep {
  readonly weights: number[];
  readonly waitSeconds: number;
}

const STEPPED_ROLLOUTS = [RolloutKind.CANARY, RolloutKind.LINEAR, RolloutKind.BLUE_GREEN, RolloutKind.AB_TEST];
const ALARM_TYPES = ['CompositeAlarm', 'MetricAlarm'];
/** How long a deploy-started rollout waits for the serving stack to finish its update. */
const DEPLOY_WAIT_MINUTES = 60;

/**
 * The progressive delivery of an `InferenceFleet`: a Step Functions state machine (SDK integrations only) that walks
 * the fleet's rollout. Before every step it checks the rollout alarms with `DescribeAlarms`; then it sets the
 * listener's weights (`ModifyListener`), writes them to the fleet's served state (so the next deploy renders them
 * instead of resetting them), records the candidate's share as the `MLOps/Rollouts` `CandidateTrafficPercent` metric
 * and waits the rollout's bake time. On alarm (or a failed step) it sends all traffic back to the first (stable)
 * variant, records it, notifies the alarm topic and fails with `RolledBack`. At 100% the candidate's version becomes
 * `current` in the served state (at weight 0, so the next deploy rolls the `current` group to it without traffic)
 * and the next rollout starts from it.
 *
 * Input: `{}` walks the rollout from the served state; `{ "action": "rollback" }` rolls back now (how to abort a
 * rollout: stop its execution, then start one with this input). A served state whose candidate already runs the
 * current version ends at once (`NothingToRollOut`). Started by CloudFormation writing the served state
 * (`startOnDeploy`) and by promotion (`StartExecution` on `stateMachineArn`, or on the name-built ARN).
 *
 * @example
 * const alarms = monitoring.monitorServing('fraud', fleet);
 * new FleetRollout(stack, 'FraudRollout', {
 *   fleet, alarmTopic: monitoring.alarmTopic, alarms: [alarms.latency, alarms.errorRate, alarms.rolloutHealth],
 * });
 */
export class FleetRollout extends Construct {
  /** Whether a fleet with this rollout has steps to walk (canary, linear, blue/green, A/B; not all at once). */
  public static appliesTo(rollout: Rollout): boolean {
    return STEPPED_ROLLOUTS.includes(rollout.kind);
  }

  /** The candidate's share of traffic, as the state machine records it at each step (0 after a rollback). */
  public static progressMetric(model: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: FLEET_ROLLOUT_METRIC.namespace,
      metricName: FLEET_ROLLOUT_METRIC.metricName,
      dimensionsMap: { [FLEET_ROLLOUT_METRIC.dimension]: model },
      statistic: 'Maximum',
      period: Duration.minutes(1),
      label: `${model} rollout %`,
      ...options,
    });
  }

  public readonly stateMachine: sfn.StateMachine;
  public readonly stateMachineName: string;
  public readonly role: ManagedPolicyRole;
  public readonly logGroup: logs.LogGroup;
  /** The rule starting a rollout when CloudFormation writes the served state (unless `startOnDeploy` is false). */
  public readonly deployTrigger?: events.Rule;
  /** The weights of each step, in the fleet's variant order (what the state machine sets, in order). */
  public readonly plannedWeights: ReadonlyArray<readonly number[]>;

  private readonly fleet: InferenceFleet;
  private readonly alarms: cloudwatch.IAlarm[];

  constructor(scope: Construct, id: string, props: FleetRolloutProps) {
    super(scope, id);
    const check = checkFor(this);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const fleet = props?.fleet;
    if (!(fleet instanceof InferenceFleet)) check.fail('fleet', fleet, 'must be an InferenceFleet', 'pass the fleet whose traffic the rollout moves.');
    if (!fleet.servedState) {
      check.fail('fleet', fleet.node.path, 'has no servedState: the next deploy would reset the weights the rollout moved',
        'give the fleet a servedState (new ServedStateParameter(dataStack, id, { ... })); MlopsPlatform does this for its fleets.');
    }
    if (!FleetRollout.appliesTo(fleet.rollout)) {
      check.fail('fleet', fleet.rollout.kind, 'has a rollout with nothing to step (all at once)',
        'give the fleet a canary, linear, blue/green or A/B rollout, or do not add a FleetRollout.');
    }
    if (!Array.isArray(props.alarms) || props.alarms.length === 0 || props.alarms.length > 100) {
      check.fail('alarms', props.alarms?.length, 'must list 1 to 100 alarms', 'give the fleet\'s latency, error-rate and rollout-health alarms.');
    }
    if (!props.alarmTopic) check.fail('alarmTopic', props.alarmTopic, 'is required', 'give the topic told of rollbacks, e.g. monitoring.alarmTopic.');
    this.fleet = fleet;
    this.alarms = [...props.alarms];
    this.stateMachineName = props.stateMachineName ?? fleetRolloutStateMachineName(topLevelStack(this).stackName, fleet.modelName);
    check.matches('stateMachineName', this.stateMachineName, /^[A-Za-z0-9_-]{1,80}$/, 'letters, digits, "-" and "_", at most 80 characters');
    this.plannedWeights = planSteps(fleet).map((s) => s.weights);

    const key = props.encryptionKey ?? fleet.encryptionKey;
    // A key the fleet made for its volumes does not let CloudWatch Logs use it yet.
    if (key instanceof kms.Key && key.node.scope === fleet) allowCloudWatchLogsToUseKey(key);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: key,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(this.logGroup, profile.logRetentionDays);
    this.role = new ManagedPolicyRole(this, 'Role', new iam.ServicePrincipal('states.amazonaws.com'),
      `Steps the traffic of ${fleet.modelName} at ${fleet.node.path}`);

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      role: this.role,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props.alarmTopic)),
      comment: `Rollout of ${fleet.modelName}: ${fleet.rollout.describe()}; rolls back on alarm`,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.days(8),
    });
    // The state machine reads the role's ARN (GetAtt): CDK's extra DependsOn on the role is redundant (cfn-lint W3005).
    (this.stateMachine.node.defaultChild as sfn.CfnStateMachine).addDeletionOverride('DependsOn');
    this.grantPolicies(props.alarmTopic);

    if (props.startOnDeploy ?? true) {
      const state = fleet.servedState!;
      this.deployTrigger = new events.Rule(this, 'DeployTrigger', {
        description: `Roll ${fleet.modelName} out when a deploy writes its served state`,
        eventPattern: {
          source: ['aws.ssm'],
          detailType: ['AWS API Call via CloudTrail'],
          detail: {
            eventSource: ['ssm.amazonaws.com'],
            eventName: ['PutParameter'],
            requestParameters: { name: [state.parameterName] },
            // Only CloudFormation's writes: the state machine's own writes (and promotion's) start nothing.
            userIdentity: { invokedBy: ['cloudformation.amazonaws.com'] },
          },
        },
        targets: [new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({ trigger: 'deploy' }),
          role: new ManagedPolicyRole(this, 'TriggerRole', new iam.ServicePrincipal('events.amazonaws.com'), `Starts the rollout of ${fleet.modelName}`),
        })],
      });
    }
  }

  /** Lets `grantee` start rollouts (and roll back with `{ "action": "rollback" }`). */
  public grantStart(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private definition(topic: sns.ITopic): sfn.IChainable {
    const fleet = this.fleet;
    const state = fleet.servedState!;
    const variants = fleet.variants;
    const progressive = fleet.rollout.isProgressive;
    const versionPath = (i: number) => `$.versions.v${i}`;

    // 1. What is served now: the served state taken apart (`current=v7@90,candidate=v8@10`): entries by ',', then
    // each entry's version between '=' and '@' (one delimiter per split: States.StringSplit's splitter is one string).
    const read = new tasks.CallAwsService(this, 'ReadServedState', {
      service: 'ssm',
      action: 'getParameter',
      iamAction: 'ssm:GetParameter',
      parameters: { Name: state.parameterName },
      iamResources: [state.parameterArn],
      resultSelector: { 'entries.$': "States.StringSplit($.Parameter.Value, ',')" },
      resultPath: '$.served',
    });
    const versionOf = (i: number) =>
      `States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(States.ArrayGetItem($.served.entries, ${i}), '='), 1), '@'), 0)`;
    const versions = new sfn.Pass(this, 'Versions', {
      parameters: Object.fromEntries(variants.map((_, i) => [`v${i}.$`, versionOf(i)])),
      resultPath: '$.versions',
    });

    // Rollback: all traffic to the stable (first) variant, recorded, told, failed.
    const rollbackWeights = variants.map((_, i) => (i === 0 ? 100 : 0));
    const rollback = this.shift('RollBack', rollbackWeights)
      .next(this.writeState('RecordRollback', rollbackWeights, variants.map((_, i) => versionPath(i))))
      .next(this.putMetric('MetricRollback', 0))
      .next(new tasks.SnsPublish(this, 'NotifyRollback', {
        topic,
        subject: `Rollout of ${fleet.modelName} rolled back`,
        message: sfn.TaskInput.fromObject({
          model: fleet.modelName,
          event: 'rollback',
          reason: sfn.JsonPath.stringAt('$.reason'),
          execution: sfn.JsonPath.executionId,
          stateMachine: sfn.JsonPath.stateMachineId,
        }),
        resultPath: sfn.JsonPath.DISCARD,
      }))
      .next(new sfn.Fail(this, 'RolledBack', { error: 'RolledBack', cause: `Traffic of ${fleet.modelName} went back to '${variants[0].name}'.` }));
    const because = (id: string, reason: string) => new sfn.Pass(this, id, { result: sfn.Result.fromString(reason), resultPath: '$.reason' }).next(rollback);
    const onAlarm = (step: string) => because(`${step}InAlarm`, `rollout alarms in ALARM before ${step.toLowerCase()}`);
    const errors = new Map<string, sfn.IChainable>();
    const onError = (step: string) => {
      if (!errors.has(step)) errors.set(step, because(`${step}Failed`, `${step.toLowerCase()} failed`));
      return errors.get(step)!;
    };

    // 2. The steps, each guarded by an alarm check.
    const planned = planSteps(fleet);
    let chain: sfn.Chain | undefined;
    let tail: sfn.INextable | undefined;
    const append = (next: sfn.IChainable & sfn.INextable) => {
      if (tail) tail.next(next);
      else chain = sfn.Chain.start(next);
      tail = next;
    };
    const addCheck = (label: string, then: () => sfn.IChainable & sfn.INextable) => {
      const checkAlarms = this.describeAlarms(`${label}CheckAlarms`);
      checkAlarms.addCatch(onError(label), { resultPath: '$.error' });
      const gate = new sfn.Choice(this, `${label}Healthy`)
        .when(sfn.Condition.or(
          sfn.Condition.numberGreaterThan('$.alarms.metric', 0),
          sfn.Condition.numberGreaterThan('$.alarms.composite', 0),
        ), onAlarm(label));
      append(checkAlarms);
      tail!.next(gate);
      const next = then();
      gate.otherwise(next);
      tail = next;
    };
    planned.forEach((step, i) => {
      const label = `Step${i + 1}`;
      const candidatePercent = 100 - step.weights[0];
      addCheck(label, () => this.shift(`${label}Shift`, step.weights).addCatch(onError(label), { resultPath: '$.error' }) as tasks.CallAwsService);
      const write = this.writeState(`${label}Record`, step.weights, variants.map((_, j) => versionPath(j)));
      write.addCatch(onError(label), { resultPath: '$.error' });
      append(write);
      append(this.putMetric(`${label}Metric`, candidatePercent));
      if (step.waitSeconds > 0) append(new sfn.Wait(this, `${label}Bake`, { time: sfn.WaitTime.duration(Duration.seconds(step.waitSeconds)) }));
    });
    const last = planned[planned.length - 1];
    if (last.waitSeconds > 0) addCheck('Final', () => new sfn.Pass(this, 'FinalChecked'));
    if (progressive) {
      // The candidate's version becomes `current` (at weight 0) so the next rollout starts from it.
      append(this.writeState('PromoteCandidate', [0, 100], [versionPath(1), versionPath(1)]));
    }
    tail!.next(new sfn.Succeed(this, progressive ? 'RolledOut' : 'WeightsApplied'));

    // 3. Where a run starts: a rollback request, nothing to roll out, or the steps.
    const nothing = new sfn.Succeed(this, 'NothingToRollOut', { comment: 'The candidate already serves the current version.' });
    const walk = progressive
      ? new sfn.Choice(this, 'AnythingToRollOut').when(sfn.Condition.stringEqualsJsonPath(versionPath(0), versionPath(1)), nothing).otherwise(chain!)
      : chain!;
    const requested = new sfn.Choice(this, 'RollbackRequested')
      .when(sfn.Condition.stringEquals('$.action', 'rollback'), because('Requested', 'rollback requested'))
      .otherwise(walk);
    const route = new sfn.Choice(this, 'ActionGiven').when(sfn.Condition.isPresent('$.action'), requested).otherwise(walk);
    read.addCatch(new sfn.Fail(this, 'ServedStateUnreadable', { error: 'ServedStateUnreadable', cause: `Could not read ${state.parameterName}.` }),
      { resultPath: '$.error' });
    const start = sfn.Chain.start(read).next(versions).next(route);

    // 0. Started by a deploy: the data stack wrote the served state before the serving stack updates, so wait until
    // the serving stack has finished an update begun after this run started (the groups run the new versions).
    const servingStack = topLevelStack(fleet).stackName;
    const { partition, region, account } = Stack.of(this);
    // A stack's ARN ends with the id CloudFormation gives it at creation.
    const servingStackArn = `arn:${partition}:cloudformation:${region}:${account}:stack/${servingStack}/*`;
    Validations.of(this.role.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, servingStackArn)}]`,
      reason: `cloudformation:DescribeStacks of the serving stack ${servingStack} only: the wildcard stands for the stack id CloudFormation `
        + 'assigns at creation. A deploy-started rollout waits for that stack\'s update before it moves traffic.',
    });
    const describe = this.retried(new tasks.CallAwsService(this, 'DescribeServingStack', {
      service: 'cloudformation',
      action: 'describeStacks',
      iamAction: 'cloudformation:DescribeStacks',
      iamResources: [servingStackArn],
      parameters: { StackName: servingStack },
      resultSelector: { 'stack.$': '$.Stacks[0]' },
      resultPath: '$.deploy.described',
    }));
    const since = new sfn.Pass(this, 'DeployStarted', {
      parameters: { 'startedAt.$': '$$.Execution.StartTime', 'polls': 0 },
      resultPath: '$.deploy',
    });
    const poll = new sfn.Pass(this, 'CountPoll', {
      parameters: { 'startedAt.$': '$.deploy.startedAt', 'polls.$': 'States.MathAdd($.deploy.polls, 1)' },
      resultPath: '$.deploy',
    });
    const updatedSinceStart = (status: string) => sfn.Condition.and(
      sfn.Condition.timestampGreaterThanEqualsJsonPath('$.deploy.described.stack.LastUpdatedTime', '$.deploy.startedAt'),
      sfn.Condition.stringMatches('$.deploy.described.stack.StackStatus', status),
    );
    const waitDeploy = new sfn.Wait(this, 'WaitForServingStack', { time: sfn.WaitTime.duration(Duration.minutes(1)) });
    const again = new sfn.Choice(this, 'KeepWaiting')
      .when(sfn.Condition.numberGreaterThanEquals('$.deploy.polls', DEPLOY_WAIT_MINUTES), new sfn.Fail(this, 'ServingStackNotUpdated', {
        error: 'ServingStackNotUpdated',
        cause: `${servingStack} was not updated within ${DEPLOY_WAIT_MINUTES} minutes of the served state changing; traffic was not moved. `
          + 'Deploy it (cdk deploy skips a stack whose template is unchanged: use --force) or promote, then start the rollout.',
      }))
      .otherwise(waitDeploy.next(poll).next(describe));
    const updated = new sfn.Choice(this, 'ServingStackUpdated')
      .when(updatedSinceStart('*ROLLBACK*'), new sfn.Fail(this, 'DeployRolledBack', {
        error: 'DeployRolledBack', cause: `${servingStack} rolled its update back; traffic was not moved.`,
      }))
      .when(updatedSinceStart('*_COMPLETE'), start)
      .otherwise(again);
    // A stack never updated has no LastUpdatedTime (compared apart: a Choice rule on a missing path fails the run).
    const deployed = new sfn.Choice(this, 'ServingStackEverUpdated')
      .when(sfn.Condition.isPresent('$.deploy.described.stack.LastUpdatedTime'), updated)
      .otherwise(again);
    describe.next(deployed);
    return new sfn.Choice(this, 'StartedByDeploy')
      .when(sfn.Condition.isPresent('$.trigger'), new sfn.Choice(this, 'TriggerIsDeploy')
        .when(sfn.Condition.stringEquals('$.trigger', 'deploy'), since.next(describe))
        .otherwise(start))
      .otherwise(start);
  }

  /** `ModifyListener`: the listener forwards to every variant's target group with these weights. */
  private shift(id: string, weights: number[]): tasks.CallAwsService {
    const listenerArn = this.fleet.listener.listenerArn;
    return this.retried(new tasks.CallAwsService(this, id, {
      service: 'elasticloadbalancingv2',
      action: 'modifyListener',
      iamAction: 'elasticloadbalancing:ModifyListener',
      iamResources: [listenerArn],
      parameters: {
        ListenerArn: listenerArn,
        DefaultActions: [{
          Type: 'forward',
          ForwardConfig: { TargetGroups: this.fleet.variants.map((v, i) => ({ TargetGroupArn: v.targetGroup.targetGroupArn, Weight: weights[i] })) },
        }],
      },
      resultPath: sfn.JsonPath.DISCARD,
    }));
  }

  /** `PutParameter`: the served state with these weights and the versions at `versionPaths`. */
  private writeState(id: string, weights: number[], versionPaths: string[]): tasks.CallAwsService {
    const state = this.fleet.servedState!;
    const template = this.fleet.variants.map((v, i) => `${v.name}={}@${weights[i]}`).join(',');
    return this.retried(new tasks.CallAwsService(this, id, {
      service: 'ssm',
      action: 'putParameter',
      iamAction: 'ssm:PutParameter',
      parameters: {
        Name: state.parameterName,
        Value: sfn.JsonPath.format(template, ...versionPaths.map((p) => sfn.JsonPath.stringAt(p))),
        Overwrite: true,
      },
      iamResources: [state.parameterArn],
      resultPath: sfn.JsonPath.DISCARD,
    }));
  }

  /** `DescribeAlarms` of the rollout alarms in ALARM, counted. */
  private describeAlarms(id: string): tasks.CallAwsService {
    return this.retried(new tasks.CallAwsService(this, id, {
      service: 'cloudwatch',
      action: 'describeAlarms',
      iamAction: 'cloudwatch:DescribeAlarms',
      parameters: { AlarmNames: this.alarms.map((a) => a.alarmName), AlarmTypes: ALARM_TYPES, StateValue: 'ALARM' },
      iamResources: this.alarms.map((a) => a.alarmArn),
      resultSelector: {
        'metric.$': 'States.ArrayLength($.MetricAlarms)',
        'composite.$': 'States.ArrayLength($.CompositeAlarms)',
      },
      resultPath: '$.alarms',
    }));
  }

  /** `PutMetricData` of the candidate's share (IAM: the namespace condition, granted in `grantPolicies`). */
  private putMetric(id: string, candidatePercent: number): sfn.CustomState {
    const state = new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Aws.PARTITION}:states:::aws-sdk:cloudwatch:putMetricData`,
        Parameters: {
          Namespace: FLEET_ROLLOUT_METRIC.namespace,
          MetricData: [{
            MetricName: FLEET_ROLLOUT_METRIC.metricName,
            Dimensions: [{ Name: FLEET_ROLLOUT_METRIC.dimension, Value: this.fleet.modelName }],
            Value: candidatePercent,
            Unit: 'Percent',
          }],
        },
        ResultPath: null,
        Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
      },
    });
    return state;
  }

  private retried<T extends tasks.CallAwsService>(task: T): T {
    task.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(2), maxAttempts: 4, backoffRate: 2 });
    return task;
  }

  private grantPolicies(topic: sns.ITopic): void {
    this.role.policy.addStatements(new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': FLEET_ROLLOUT_METRIC.namespace } },
    }));
    // Encrypted topics need the key too (sns:Publish alone fails on a KMS-encrypted topic).
    topic.masterKey?.grant(this.role, 'kms:Decrypt', 'kms:GenerateDataKey');
    Validations.of(this.role.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:PutMetricData has no resource-level permissions (the cloudwatch:namespace condition limits it to the rollout '
        + 'namespace); X-Ray trace segments and CloudWatch Logs vended log delivery have none either: what tracing and execution '
        + 'logging of the state machine need.',
    });
  }
}

/** The weights of each step of a fleet's rollout, in variant order. */
function planSteps(fleet: InferenceFleet): PlannedStep[] {
  const rollout = fleet.rollout;
  if (rollout.kind === RolloutKind.AB_TEST) {
    const split = rollout.initialSplit();
    return [{ weights: fleet.variants.map((v) => split.find((s) => s.variant === v.name)?.percent ?? 0), waitSeconds: 0 }];
  }
  return rollout.steps().map((s) => ({ weights: [100 - s.candidatePercent, s.candidatePercent], waitSeconds: s.waitSeconds }));
}
