import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  EnvironmentProfile, fleetRolloutDefinition, fleetRolloutProgressMetricSpec, fleetRolloutRoleStatements, fleetRolloutServingStackArn,
  fleetRolloutStateMachineName, fleetRolloutSteps, fleetRolloutTrustConditions, isSteppedFleetRollout, NeutralStatement, Rollout,
  validateFleetRolloutAlarms, validateFleetRolloutSteps,
} from '../core';
import { InferenceFleet } from './inference-fleet';
import { allowCloudWatchLogsToUseKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyRole } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { topLevelStack } from './private/served-state';
import { renderNeutralStatement } from './private/statements';
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
   * Name of the environment's promotion state machine (`ModelPromotion.stateMachineName`): after a finished rollout,
   * a running promotion of this model settles all traffic back on the first variant (`{ "action": "settle" }`) once it
   * has brought that variant's instances to the served version; the role may describe that promotion's executions.
   * `MlopsPlatform` sets it.
   * @default - no promotion: settle is refused (`NotSettled`), and a promotion of a finished rollout fails
   */
  readonly promotionStateMachineName?: string;
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
 * rollout: stop its execution, then start one with this input; refused with `NothingToRollBack` when both variants serve
 * one version: the first variant's instances may still run the version before it); any other `action` changes
 * nothing (`UnknownAction`). A served state whose candidate already runs the
 * current version ends at once (`NothingToRollOut`). Started by CloudFormation writing the served state
 * (`startOnDeploy`) and by promotion (`StartExecution` on `stateMachineArn`, or on the name-built ARN).
 *
 * @example
 * const alarms = monitoring.monitorServing('fraud', fleet);
 * new FleetRollout(stack, 'FraudRollout', {
 *   fleet, alarmTopic: monitoring.alarmTopic, alarms: [alarms.latency, alarms.errorRate, alarms.rolloutHealth],
 *   promotionStateMachineName: promotion.stateMachineName, // so promotion can settle it after a finished rollout
 * });
 */
export class FleetRollout extends Construct {
  /** Whether a fleet with this rollout has steps to walk (canary, linear, blue/green, A/B; not all at once). */
  public static appliesTo(rollout: Rollout): boolean {
    return isSteppedFleetRollout(rollout);
  }

  /** The candidate's share of traffic, as the state machine records it at each step (0 after a rollback). */
  public static progressMetric(model: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    const spec = fleetRolloutProgressMetricSpec(model);
    return new cloudwatch.Metric({
      namespace: spec.namespace,
      metricName: spec.metricName,
      dimensionsMap: { ...spec.dimensions },
      statistic: spec.statistic,
      period: Duration.seconds(spec.periodSeconds),
      label: spec.label,
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

  private readonly alarms: cloudwatch.IAlarm[];

  constructor(scope: Construct, id: string, props: FleetRolloutProps) {
    super(scope, id);
    const check = checkFor(this);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const fleet = props?.fleet;
    if (!(fleet instanceof InferenceFleet)) check.fail('fleet', fleet, 'must be an InferenceFleet', 'pass the fleet whose traffic the rollout moves.');
    // Checked first on both engines (core's): an all-at-once fleet needs no FleetRollout, served state or not.
    validateFleetRolloutSteps(check, fleet.rollout);
    if (!fleet.servedState) {
      check.fail('fleet', fleet.node.path, 'has no servedState: the next deploy would reset the weights the rollout moved',
        'give the fleet a servedState (new ServedStateParameter(dataStack, id, { ... })); MlopsPlatform does this for its fleets.');
    }
    validateFleetRolloutAlarms(check, props.alarms);
    if (!props.alarmTopic) check.fail('alarmTopic', props.alarmTopic, 'is required', 'give the topic told of rollbacks, e.g. monitoring.alarmTopic.');
    this.alarms = [...props.alarms];
    this.stateMachineName = props.stateMachineName ?? fleetRolloutStateMachineName(topLevelStack(this).stackName, fleet.modelName);
    check.matches('stateMachineName', this.stateMachineName, /^[A-Za-z0-9_-]{1,80}$/, 'letters, digits, "-" and "_", at most 80 characters');
    this.plannedWeights = fleetRolloutSteps(fleet.rollout, fleet.variants.map((v) => v.name)).map((s) => s.weights);

    const key = props.encryptionKey ?? fleet.encryptionKey;
    // A key the fleet made for its volumes does not let CloudWatch Logs use it yet.
    if (key instanceof kms.Key && key.node.scope === fleet) allowCloudWatchLogsToUseKey(key);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: key,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(this.logGroup, profile.logRetentionDays);

    // Core's definition and role statements: the Pulumi FleetRollout renders the same (without the deploy wait).
    const stack = Stack.of(this);
    const where = { partition: stack.partition, region: stack.region, account: stack.account };
    // Only this state machine may assume the role (the service, in this account, for this state machine's ARN).
    this.role = new ManagedPolicyRole(this, 'Role', new iam.ServicePrincipal('states.amazonaws.com').withConditions(
      fleetRolloutTrustConditions({ ...where, account: Aws.ACCOUNT_ID }, this.stateMachineName),
    ), `Steps the traffic of ${fleet.modelName} at ${fleet.node.path}`);
    const state = fleet.servedState!;
    // A deploy-started run waits for the serving stack (the fleet's top-level stack) to finish its update.
    const servingStack = topLevelStack(fleet).stackName;
    const definition = fleetRolloutDefinition({
      partition: Aws.PARTITION,
      modelName: fleet.modelName,
      rollout: fleet.rollout,
      variants: fleet.variants.map((v) => ({ name: v.name, targetGroupArn: v.targetGroup.targetGroupArn })),
      listenerArn: fleet.listener.listenerArn,
      servedStateParameterName: state.parameterName,
      alarmNames: this.alarms.map((a) => a.alarmName),
      alarmTopicArn: props.alarmTopic.topicArn,
      deployWaitStackName: servingStack,
      promotionStateMachineName: props.promotionStateMachineName,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      role: this.role,
      // (comment and timeout are the definition's)
      definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(definition)),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    // The state machine reads the role's ARN (GetAtt): CDK's extra DependsOn on the role is redundant (cfn-lint W3005).
    (this.stateMachine.node.defaultChild as sfn.CfnStateMachine).addDeletionOverride('DependsOn');
    const statements = fleetRolloutRoleStatements({
      ...where,
      servedStateParameterArn: state.parameterArn,
      listenerArn: fleet.listener.listenerArn,
      alarmArns: this.alarms.map((a) => a.alarmArn),
      alarmTopicArn: props.alarmTopic.topicArn,
      deployWaitStackName: servingStack,
      promotionStateMachineName: props.promotionStateMachineName,
      stateMachineName: this.stateMachineName,
    });
    this.grantPolicies(statements, props.alarmTopic, fleetRolloutServingStackArn(where, servingStack), servingStack);

    if (props.startOnDeploy ?? true) {
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

  /** Core's statements as CDK statements; the topic's key for encrypted topics (sns:Publish alone fails on a KMS-encrypted topic). */
  private grantPolicies(statements: NeutralStatement[], topic: sns.ITopic, servingStackArn: string, servingStack: string): void {
    for (const s of statements) this.role.addToPrincipalPolicy(renderNeutralStatement(s));
    topic.masterKey?.grant(this.role, 'kms:Decrypt', 'kms:GenerateDataKey');
    Validations.of(this.role.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, servingStackArn)}]`,
      reason: `cloudformation:DescribeStacks of the serving stack ${servingStack} only: the wildcard stands for the stack id CloudFormation `
        + 'assigns at creation. A deploy-started rollout waits for that stack\'s update before it moves traffic.',
    });
    const promotion = statements.find((s) => s.sid === 'CheckThePromotion');
    if (promotion) {
      Validations.of(this.role.policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, promotion.resources[0])}]`,
        reason: 'states:DescribeExecution of the environment\'s promotion state machine\'s executions only (the wildcard stands for the '
          + 'execution name): settle checks that a running promotion of this model asked for it.',
      });
    }
    Validations.of(this.role.policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:PutMetricData has no resource-level permissions (the cloudwatch:namespace condition limits it to the rollout '
        + 'namespace); X-Ray trace segments and CloudWatch Logs vended log delivery have none either: what tracing and execution '
        + 'logging of the state machine need.',
    });
  }
}
