import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  Check, fleetRolloutDefinition, fleetRolloutProgressMetricSpec, fleetRolloutRoleStatements, fleetRolloutStateMachineName, fleetRolloutSteps,
  fleetRolloutTrustConditions, isSteppedFleetRollout, Rollout, validateFleetRolloutAlarms, validateFleetRolloutSteps,
} from '../core';
import { CloudWatchMetric, metricFromSpec } from './alarms';
import {
  accountContext, attachStatements, childOptions, componentSpecScope, logsKeyStatement, MlopsComponentArgs, PolicyStatement,
  renderNeutralStatement, resolveProfileAndTags, rotatingKey, stateMachineLogsAndTracesStatement, stateMachineTrustPolicy, tracedStateMachine,
} from './component-support';
import { InferenceFleet } from './inference-fleet';

/** An alarm the rollout checks before every step (a metric alarm or a composite one, e.g. `ServedModelAlarms`). */
export type FleetRolloutAlarm = aws.cloudwatch.MetricAlarm | aws.cloudwatch.CompositeAlarm;

export interface FleetRolloutArgs extends MlopsComponentArgs {
  /**
   * The fleet whose listener weights the state machine steps (a canary, linear, blue/green or A/B rollout); it must read
   * its versions and weights from a `servedState`, which the state machine reads the versions from and records every
   * step in (so the next `pulumi up` renders the weights it moved).
   */
  readonly fleet: InferenceFleet;
  /**
   * Alarms checked with `DescribeAlarms` before every step (and after the last bake): any in ALARM rolls the fleet
   * back. Give the fleet's latency, error-rate and rollout-health alarms (`MlopsMonitoring.monitorServing`).
   */
  readonly alarms: readonly FleetRolloutAlarm[];
  /** Topic told of every rollback (the environment's alarm topic). */
  readonly alarmTopicArn: pulumi.Input<string>;
  /**
   * Key `alarmTopicArn` is encrypted with, so the rollout may publish to it.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly alarmTopicKeyArn?: pulumi.Input<string>;
  /**
   * Prefix of the environment's names (`<project>-<env>`), for the state machine's name.
   * @default - `<project>-<environment>` from the tags
   */
  readonly environmentPrefix?: string;
  /**
   * Name of the state machine, so people (and tools) can start it by a name-built ARN.
   * @default `fleetRolloutStateMachineName(environmentPrefix, <model>)`
   */
  readonly stateMachineName?: string;
  /**
   * Name of the environment's promotion state machine (`ModelPromotion.stateMachineName`): after a finished rollout, a
   * running promotion of this model settles all traffic back on the first variant (`{ "action": "settle" }`) once it
   * has refreshed that variant's group; the role may describe that promotion's executions. `MlopsPlatform` sets it.
   * @default - no promotion: settle is refused (`NotSettled`), and a promotion of a finished rollout fails
   */
  readonly promotionStateMachineName?: string;
  /**
   * Key of the execution log group; its policy must let CloudWatch Logs of this account use it (the platform key's does).
   * @default - a key of the rollout's own
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
}

/**
 * The Pulumi counterpart of the CDK `FleetRollout`: the fleet rollout state machine, rendered from core's
 * `fleetRolloutDefinition` and `fleetRolloutRoleStatements`, the same the CDK construct deploys. Before every step it
 * checks the alarms; then it sets the listener's weights (`ModifyListener`), writes them to the served state, records
 * the candidate's share as the `MLOps/Rollouts` `CandidateTrafficPercent` metric and waits the bake time. On alarm (or a
 * failed step) all traffic goes back to the first (stable) variant, the served state records it, the alarm topic is told
 * and the run fails with `RolledBack`. At 100% the candidate's version becomes `current` (at weight 0).
 *
 * Input: `{}` walks the rollout from the served state; `{ "action": "rollback" }` rolls back now (refused with
 * `NothingToRollBack` when no rollout is in flight); `{ "action": "settle" }` is promotion's (see `ModelPromotion`). What differs from
 * CDK: nothing starts it on a deploy (the CDK construct's trigger is CloudFormation's CloudTrail `PutParameter` of the
 * served state, which a Pulumi program does not make, and there is no stack to wait for), so the definition has no
 * deploy wait: a promotion starts it (the Pulumi `MlopsPlatform` names it in the served state's promotion tag); after a
 * `pulumi up` that changed versions, start it by hand (`aws stepfunctions start-execution --state-machine-arn <arn>`).
 */
export class FleetRollout extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:FleetRollout';

  /** Whether a fleet with this rollout has steps to walk (canary, linear, blue/green, A/B; not all at once). */
  public static appliesTo(rollout: Rollout): boolean {
    return isSteppedFleetRollout(rollout);
  }

  /** The candidate's share of traffic, as the state machine records it at each step (0 after a rollback). */
  public static progressMetric(model: string): CloudWatchMetric {
    return metricFromSpec(fleetRolloutProgressMetricSpec(model));
  }

  public readonly stateMachine: aws.sfn.StateMachine;
  public readonly stateMachineName: string;
  /** Trusted by Step Functions of this account for this state machine only. */
  public readonly role: aws.iam.Role;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  /** The weights of each step, in the fleet's variant order (what the state machine sets, in order). */
  public readonly plannedWeights: ReadonlyArray<readonly number[]>;

  constructor(name: string, args: FleetRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(FleetRollout.TYPE, name);
    const check = new Check(scope.scope, scope.isUnresolved);
    const fleet = args?.fleet;
    if (!(fleet instanceof InferenceFleet)) check.fail('fleet', fleet, 'must be an InferenceFleet', 'pass the fleet whose traffic the rollout moves.');
    validateFleetRolloutSteps(check, fleet.rollout);
    const servedState = fleet.servedStateParameter ?? check.fail('fleet', fleet.modelName,
      'has no servedState: the next pulumi up would reset the weights the rollout moved',
      'give the fleet a servedState ({ name, arn, initialState } of its served-state parameter); MlopsPlatform does this for its fleets.');
    validateFleetRolloutAlarms(check, args.alarms);
    if (args.alarmTopicArn === undefined) check.fail('alarmTopicArn', args.alarmTopicArn, 'is required', 'give the topic told of rollbacks, e.g. monitoring.alarmTopic.arn.');
    const prefix = args.environmentPrefix ?? `${tags.project}-${tags.environment}`;
    check.matches('environmentPrefix', prefix, /^[A-Za-z0-9_.-]{1,100}$/, "letters, digits, '_', '.' or '-' such as 'fraud-prod'");
    const stateMachineName = args.stateMachineName ?? fleetRolloutStateMachineName(prefix, fleet.modelName);
    check.matches('stateMachineName', stateMachineName, /^[A-Za-z0-9_-]{1,80}$/, 'letters, digits, "-" and "_", at most 80 characters');
    super(FleetRollout.TYPE, name, {}, opts);
    this.stateMachineName = stateMachineName;
    this.plannedWeights = fleetRolloutSteps(fleet.rollout, fleet.variants.map((v) => v.name)).map((s) => s.weights);
    const awsTags = { ...tags.toAwsTags(), 'mlops:model': fleet.modelName };
    const account = accountContext(this);
    const retain = !profile.allowDestroy;
    const where = pulumi.all([account.partition, account.region, account.accountId])
      .apply(([partition, region, accountId]) => ({ partition, region, account: accountId }));

    const keyArn = args.encryptionKeyArn !== undefined ? pulumi.output(args.encryptionKeyArn)
      : rotatingKey(`${name}-key`, `Rollout of ${fleet.modelName}: execution logs`, {
        retain, pendingWindowDays: profile.allowDestroy ? 7 : 30, tags: awsTags, statements: [logsKeyStatement(account)],
      }, this).arn;
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, {
      kmsKeyId: keyArn, retentionInDays: profile.logRetentionDays, tags: awsTags,
    }, childOptions(this, retain));

    // Only this state machine may assume the role (the service, in this account, for this state machine's ARN).
    this.role = new aws.iam.Role(`${name}-role`, {
      description: `Steps the traffic of ${fleet.modelName} (${stateMachineName})`,
      assumeRolePolicy: stateMachineTrustPolicy(where.apply((w) => fleetRolloutTrustConditions(w, stateMachineName))),
      permissionsBoundary: args.permissionsBoundary,
      tags: awsTags,
    }, childOptions(this));
    const alarmNames = pulumi.all(args.alarms.map((a) => (a instanceof aws.cloudwatch.CompositeAlarm ? a.alarmName : a.name)));
    const alarmArns = pulumi.all(args.alarms.map((a) => a.arn));
    const core = pulumi.all([where, servedState.arn, fleet.listener.arn, alarmArns, args.alarmTopicArn])
      .apply(([w, servedStateParameterArn, listenerArn, arns, alarmTopicArn]) => fleetRolloutRoleStatements({
        ...w,
        servedStateParameterArn,
        listenerArn,
        alarmArns: arns,
        alarmTopicArn,
        stateMachineName,
        promotionStateMachineName: args.promotionStateMachineName,
      }).map(renderNeutralStatement));
    const own: PolicyStatement[] = [
      stateMachineLogsAndTracesStatement(),
      ...(args.alarmTopicKeyArn !== undefined
        ? [{ Sid: 'PublishToTheEncryptedTopic', Effect: 'Allow' as const, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: args.alarmTopicKeyArn }] : []),
    ];
    const rolePolicy = attachStatements(`${name}-role-policy`, this.role, pulumi.all([core, own]).apply(([c, o]) => [...c, ...o]), this,
      `Steps the traffic of ${fleet.modelName}: its listener and its served state only`, awsTags)!;

    const definition = pulumi.all([
      account.partition, fleet.listener.arn, pulumi.all(fleet.variants.map((v) => v.targetGroup.arn)), alarmNames, args.alarmTopicArn,
    ]).apply(([partition, listenerArn, targetGroupArns, names, alarmTopicArn]) => JSON.stringify(fleetRolloutDefinition({
      partition,
      modelName: fleet.modelName,
      rollout: fleet.rollout,
      variants: fleet.variants.map((v, i) => ({ name: v.name, targetGroupArn: targetGroupArns[i] })),
      listenerArn,
      servedStateParameterName: servedState.name,
      alarmNames: names,
      alarmTopicArn,
      promotionStateMachineName: args.promotionStateMachineName,
    })));
    this.stateMachine = tracedStateMachine(`${name}-state-machine`, {
      name: stateMachineName, definition, roleArn: this.role.arn, logGroupArn: this.logGroup.arn, tags: awsTags, rolePolicy,
    }, this);

    this.registerOutputs({ stateMachineArn: this.stateMachine.arn, roleArn: this.role.arn });
  }

  /** What lets a role start rollouts (and roll back with `{ "action": "rollback" }`); nothing else. */
  public grantStartStatements(): PolicyStatement[] {
    return [{ Sid: 'StartRollouts', Effect: 'Allow', Action: ['states:StartExecution'], Resource: this.stateMachine.arn }];
  }
}
