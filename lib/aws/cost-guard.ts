import { CfnOutput, Lazy, Stack, Tags, Token, Validations } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as ce from 'aws-cdk-lib/aws-ce';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  BRAKE, budgetActionTrustConditions, budgetNotifications, CostEstimateLedger, EnvironmentProfile, MonthlyCostRange, resolveCostGuardSpec,
  tagCostFilter, TAG_KEYS, validateTeamBudget,
} from '../core';
import { GpuBrake } from './gpu-brake';
import { newKey } from './private/keys';
import { nagResourceId } from './private/nag';
import { MlopsScope } from './scope';

/** A budget for one team inside the environment, filtered on the `mlops:team` cost-allocation tag. */
export interface TeamBudgetOptions {
  /** Monthly limit in US dollars. */
  readonly monthlyLimitUsd: number;
  /**
   * Roles of this team whose GPU launches are denied when the team's budget reaches the deny threshold (a Budgets
   * action attaches the brake's deny policy to them; the environment's capacity is capped by the environment budget).
   * @default - none: the team is notified only
   */
  readonly denyGpuFor?: iam.IRole[];
}

export interface CostGuardProps {
  /**
   * Monthly limit of the environment in US dollars.
   * @default - profile.budget.monthlyLimitUsd
   */
  readonly monthlyLimitUsd?: number;
  /**
   * Percentages of the limit (actual spend) at which subscribers are notified.
   * @default - profile.budget.alertThresholdsPercent
   */
  readonly alertThresholdsPercent?: number[];
  /**
   * Percentage of the limit (actual spend) at which the GPU brake engages (`GpuBrake`): GPU capacity found by the
   * environment's tags is capped and GPU growth is denied until someone releases the brake.
   * @default - profile.budget.denyGpuAtPercent
   */
  readonly denyGpuAtPercent?: number;
  /**
   * Roles denied GPU growth and accelerated launches while the brake is on (the brake attaches its deny policy to them).
   * Give the roles that could raise capacity: personas, pipelines.
   * @default - none; add later with `denyGpuFor()`
   */
  readonly denyGpuFor?: iam.IRole[];
  /**
   * Whether the brake engages by itself or asks a person first (the approval request, with the command to approve,
   * goes to the alert topic).
   * @default - automatic where the profile destroys data (dev); approval elsewhere, so a production fleet is never
   * capped without a human deciding
   */
  readonly automaticDeny?: boolean;
  /**
   * Email addresses notified at every threshold (at most 10, a Budgets limit).
   * @default - none (the alert topic only)
   */
  readonly notifyEmails?: string[];
  /**
   * Topic that receives every budget notification, e.g. `MlopsMonitoring.alarmTopic`. The guard allows
   * Budgets and Cost Anomaly Detection to publish to it; if it is encrypted, its key must let the
   * `budgets.amazonaws.com` and `costalerts.amazonaws.com` principals use it (MlopsMonitoring's does).
   * @default - a new topic encrypted with `encryptionKey`
   */
  readonly alertTopic?: sns.ITopic;
  /**
   * Key for the new alert topic (Budgets is allowed to use it), or the key `alertTopic` is encrypted with (the brake
   * publishes to the topic).
   * @default - a new key with rotation for a new topic; none for a given topic
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Prefix of the environment's names, for the brake's state parameter `/mlops/<prefix>/brake`.
   * @default - `<project>-<environment>` from the tags in scope, else the stack name
   */
  readonly environmentPrefix?: string;
  /**
   * Daily cost anomaly detection on the environment's tagged spend, alerting when an anomaly's total
   * impact reaches this many dollars.
   * @default - 10% of the monthly limit, at least 10 dollars
   */
  readonly anomalyImpactUsd?: number;
  /**
   * Turn cost anomaly detection off (for example where an organization-wide monitor exists).
   * @default true
   */
  readonly anomalyDetection?: boolean;
  /** @default - the profile in scope */
  readonly profile?: EnvironmentProfile;
}

/**
 * Budgets as code that act: a monthly cost budget for the environment (filtered on the `mlops:environment`
 * cost-allocation tag), notifications at each threshold and on a forecast overrun, and a GPU brake (`GpuBrake`) the
 * budget starts at the deny threshold: it caps the environment's GPU capacity (fleets, endpoints, training, EKS GPU
 * node groups) and denies GPU growth to the given roles until released. Team budgets filter on the `mlops:team` tag.
 * Activate the `mlops:*` tags as cost-allocation tags in the Billing console once.
 */
export class CostGuard extends Construct {
  /** The policy the brake attaches: denies GPU growth and launching accelerated capacity (`brake.denyPolicy`). */
  public readonly denyGpuPolicy: iam.ManagedPolicy;
  /** The GPU brake the environment budget starts. */
  public readonly brake: GpuBrake;
  public readonly alertTopic: sns.ITopic;
  public readonly budget: budgets.CfnBudget;
  public readonly monthlyLimitUsd: number;
  private readonly profile: EnvironmentProfile;
  private readonly denyThreshold: number;
  private readonly thresholds: number[];
  private readonly automaticDeny: boolean;
  private readonly emails: string[];
  private executionRole?: iam.Role;
  private executionPolicy?: iam.ManagedPolicy;
  private readonly teamNames = new Set<string>();
  private topicKey?: kms.IKey;
  private readonly estimates: CostEstimateLedger;

  constructor(scope: Construct, id: string, props: CostGuardProps = {}) {
    super(scope, id);
    this.profile = props.profile ?? MlopsScope.profileOf(this);
    this.estimates = new CostEstimateLedger(this.node.path);
    // Defaults and validation shared with the Pulumi CostGuard.
    const spec = resolveCostGuardSpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, props, this.profile);
    this.monthlyLimitUsd = spec.monthlyLimitUsd;
    this.thresholds = [...spec.alertThresholdsPercent];
    this.denyThreshold = spec.denyGpuAtPercent;
    this.emails = [...spec.notifyEmails];
    this.automaticDeny = spec.approvalModel === 'AUTOMATIC';

    this.alertTopic = props.alertTopic ?? this.createTopic(props.encryptionKey);
    // Budgets and Cost Anomaly Detection publish to the topic (a no-op on an imported topic: allow them there).
    this.alertTopic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCostServicesToPublish',
      principals: [new iam.ServicePrincipal('budgets.amazonaws.com'), new iam.ServicePrincipal('costalerts.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.alertTopic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    this.brake = new GpuBrake(this, 'Brake', {
      notificationTopic: this.alertTopic,
      notificationTopicKey: props.alertTopic ? props.encryptionKey : this.topicKey,
      automatic: this.automaticDeny,
      environmentPrefix: props.environmentPrefix,
      profile: this.profile,
    });
    this.denyGpuPolicy = this.brake.denyPolicy;
    this.budget = this.addBudget('Budget', this.monthlyLimitUsd, spec.environmentCostFilter, undefined, this.brake.triggerTopic);
    this.denyGpuFor(...(props.denyGpuFor ?? []));
    if (spec.anomalyThresholdExpression !== undefined) {
      this.addAnomalyDetection(spec.anomalyMonitorSpecification, spec.anomalyThresholdExpression);
    }
    const output = new CfnOutput(this, 'EstimatedMonthlyCost', {
      description: 'Estimated monthly cost of the environment in USD at minimum and maximum capacity (mlops-constructs cost model)',
      value: Lazy.string({ produce: () => JSON.stringify(this.estimatedMonthlyCost) }),
    });
    output.overrideLogicalId('EstimatedMonthlyCostUsd');
  }

  /**
   * Records one piece's monthly cost estimate (a fleet, a training cluster's ceiling). The sum is exposed as
   * `estimatedMonthlyCost`, written to the stack output `EstimatedMonthlyCostUsd` for the review CLI.
   */
  public addCostEstimate(name: string, estimate: MonthlyCostRange): this {
    this.estimates.add(name, estimate);
    return this;
  }

  /** Sum of the recorded estimates, with each piece. */
  public get estimatedMonthlyCost(): { minUsd: number; maxUsd: number; pieces: Record<string, MonthlyCostRange> } {
    return this.estimates.total();
  }

  /** Adds roles denied GPU growth and accelerated launches while the brake is on (personas, pipelines). */
  public denyGpuFor(...roles: iam.IRole[]): this {
    this.brake.denyFor(...roles);
    return this;
  }

  /**
   * Also denies the brake's roles submitting jobs to these Batch job queues while the brake is on (the brake sets the
   * compute environments to 0 vCPUs, so jobs would only queue).
   */
  public denyJobSubmissionTo(...jobQueueArns: string[]): this {
    if (jobQueueArns.length === 0) return this;
    this.denyGpuPolicy.addStatements(new iam.PolicyStatement({
      effect: iam.Effect.DENY,
      actions: ['batch:SubmitJob'],
      resources: jobQueueArns,
    }));
    return this;
  }

  /** A budget for one team, filtered on the `mlops:team` tag, with its own deny action when roles are given. */
  public addTeamBudget(team: string, options: TeamBudgetOptions): budgets.CfnBudget {
    const scope = { scope: this.node.path, isUnresolved: (x: unknown) => Token.isUnresolved(x) };
    validateTeamBudget(scope, team, options.monthlyLimitUsd, this.monthlyLimitUsd, this.teamNames);
    this.teamNames.add(team);
    const id = `Team${team.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase())}`;
    const budget = this.addBudget(`${id}Budget`, options.monthlyLimitUsd, tagCostFilter(TAG_KEYS.team, team), team);
    const roles = options.denyGpuFor ?? [];
    for (let chunk = 0; chunk < chunkCount(roles.length); chunk++) {
      this.addAction(chunk === 0 ? `${id}DenyGpuAction` : `${id}DenyGpuAction${chunk + 1}`, budget, () => chunkOf(roles, chunk));
    }
    return budget;
  }

  private createTopic(encryptionKey?: kms.IKey): sns.Topic {
    const key = encryptionKey ?? newKey(this, 'TopicKey', { enableKeyRotation: true, description: `Budget alerts (${this.profile.name})` });
    this.topicKey = key;
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowBudgetsToPublishEncrypted',
      principals: [new iam.ServicePrincipal('budgets.amazonaws.com'), new iam.ServicePrincipal('costalerts.amazonaws.com')],
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    const topic = new sns.Topic(this, 'AlertTopic', { masterKey: key, enforceSSL: true, displayName: `Budget alerts (${this.profile.name})` });
    for (const email of this.emails) topic.addSubscription(new subs.EmailSubscription(email));
    return topic;
  }

  private addBudget(id: string, limit: number, costFilter: string, team?: string, brakeTopic?: sns.ITopic): budgets.CfnBudget {
    const emails = this.emails.map((address) => ({ subscriptionType: 'EMAIL', address }));
    const subscribers = [{ subscriptionType: 'SNS', address: this.alertTopic.topicArn }, ...emails];
    // A notification has one SNS subscriber: at the deny threshold it is the brake's topic (the brake tells the alert topic).
    const brakeSubscribers = brakeTopic ? [{ subscriptionType: 'SNS', address: brakeTopic.topicArn }, ...emails] : subscribers;
    const atDeny = (n: { notificationType: string; threshold: number }) => n.notificationType === 'ACTUAL' && n.threshold === this.denyThreshold;
    const specs = budgetNotifications(this.thresholds);
    if (brakeTopic && !specs.some(atDeny)) {
      specs.push({ notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: this.denyThreshold, thresholdType: 'PERCENTAGE' });
    }
    const notifications = specs.map((notification) => ({
      notification, subscribers: brakeTopic && atDeny(notification) ? brakeSubscribers : subscribers,
    }));
    const stackName = Stack.of(this).stackName;
    return new budgets.CfnBudget(this, id, {
      budget: {
        budgetName: team ? `${stackName}-${team}` : `${stackName}-environment`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: limit, unit: 'USD' },
        // The user-defined cost-allocation tag, as Budgets spells it: user:<key>$<value>.
        costFilters: { TagKeyValue: [costFilter] },
      },
      notificationsWithSubscribers: notifications,
    });
  }

  private addAnomalyDetection(monitorSpecification: string, thresholdExpression: string): void {
    const monitor = new ce.CfnAnomalyMonitor(this, 'AnomalyMonitor', {
      monitorName: `${Stack.of(this).stackName}-spend`,
      monitorType: 'CUSTOM',
      monitorSpecification,
    });
    new ce.CfnAnomalySubscription(this, 'AnomalySubscription', {
      subscriptionName: `${Stack.of(this).stackName}-spend-anomalies`,
      frequency: 'IMMEDIATE',
      monitorArnList: [monitor.attrMonitorArn],
      subscribers: [{ type: 'SNS', address: this.alertTopic.topicArn }],
      thresholdExpression,
    });
  }

  private addAction(id: string, budget: budgets.CfnBudget, roles: () => iam.IRole[]): void {
    if (!this.executionRole) {
      this.executionRole = new iam.Role(this, 'BudgetActionRole', {
        // Only budgets of this account (confused-deputy prevention).
        assumedBy: new iam.ServicePrincipal('budgets.amazonaws.com').withConditions(budgetActionTrustConditions(Stack.of(this).partition, Stack.of(this).account)),
        description: 'Lets AWS Budgets attach and detach the brake\'s deny policy to team roles',
      });
      // The permission boundary lets only roles with this tag attach or detach the brake's deny policy.
      Tags.of(this.executionRole).add(BRAKE.controllerTagKey, 'true');
    }
    const executionRole = this.executionRole;
    if (!this.executionPolicy) {
      // Budgets may attach and detach only the deny policy (the condition), which can only take permissions away.
      // Roles are not listed one by one: a platform serving hundreds of models would pass the 6,144-character
      // limit of a managed policy, which no synth-time check would catch.
      const anyRole = Stack.of(this).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' });
      this.executionPolicy = new iam.ManagedPolicy(this, 'BudgetActionPolicy', {
        roles: [executionRole],
        statements: [new iam.PolicyStatement({
          actions: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
          resources: [anyRole],
          conditions: { ArnEquals: { 'iam:PolicyARN': this.denyGpuPolicy.managedPolicyArn } },
        })],
      });
      Validations.of(this.executionPolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, anyRole)}]`,
        reason: 'AWS Budgets may attach and detach only the deny-GPU policy (condition iam:PolicyARN), which can only remove '
          + 'permissions; naming each denied role would overflow the managed policy size limit on large platforms.',
      });
    }
    new budgets.CfnBudgetsAction(this, id, {
      budgetName: budget.ref,
      actionType: 'APPLY_IAM_POLICY',
      actionThreshold: { type: 'PERCENTAGE', value: this.denyThreshold },
      approvalModel: this.automaticDeny ? 'AUTOMATIC' : 'MANUAL',
      notificationType: 'ACTUAL',
      executionRoleArn: executionRole.roleArn,
      definition: {
        iamActionDefinition: {
          policyArn: this.denyGpuPolicy.managedPolicyArn,
          // Roles may be added after the action exists (denyGpuFor): render the list at synthesis.
          roles: Lazy.list({ produce: () => roles().map((r) => r.roleName) }),
        },
      },
      subscribers: [{ type: 'SNS', address: this.alertTopic.topicArn }],
    });
  }
}

/** The most roles one AWS Budgets IAM action may name (`Definition.IamActionDefinition.Roles`). */
const BUDGET_ACTION_MAX_ROLES = 100;

function chunkCount(roles: number): number {
  return Math.ceil(roles / BUDGET_ACTION_MAX_ROLES);
}

function chunkOf<T>(items: T[], chunk: number): T[] {
  return items.slice(chunk * BUDGET_ACTION_MAX_ROLES, (chunk + 1) * BUDGET_ACTION_MAX_ROLES);
}
