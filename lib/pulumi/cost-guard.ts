import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  BRAKE, budgetActionTrustConditions, budgetNotifications, CostEstimateLedger, CostGuardSpec, CostGuardSpecInput, MonthlyCostRange,
  resolveCostGuardSpec, SpecScope, tagCostFilter, TAG_KEYS, validateTeamBudget,
} from '../core';
import {
  accountContext, childOptions, componentSpecScope, denyInsecureTopicStatement, keyPolicyJson, MlopsComponentArgs, policyJson, resolveProfileAndTags,
} from './component-support';
import { GpuBrake } from './gpu-brake';

/** A role the brake (or a team budget's action) denies GPU growth and accelerated launches. */
export interface DeniedRole {
  readonly name: pulumi.Input<string>;
  readonly arn: pulumi.Input<string>;
}

export interface CostGuardArgs extends MlopsComponentArgs, CostGuardSpecInput {
  /**
   * Roles denied GPU growth and accelerated launches while the GPU brake is on (the brake attaches its deny policy
   * to them when spend reaches `denyGpuAtPercent`; more with `denyGpuFor()`).
   * @default - none: the brake caps capacity but denies no role
   */
  readonly denyGpuFor?: DeniedRole[];
  /**
   * Topic that receives every budget notification (and the brake's approval requests and reports).
   * @default - a new topic encrypted with a new key that Budgets and Cost Anomaly Detection may use
   */
  readonly alertTopicArn?: pulumi.Input<string>;
  /**
   * Key `alertTopicArn` is encrypted with, so the brake may publish to it.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly alertTopicKeyArn?: pulumi.Input<string>;
  /**
   * Prefix of the environment's names, for the brake's state parameter `/mlops/<prefix>/brake`.
   * @default - `<project>-<environment>` from the tags
   */
  readonly environmentPrefix?: string;
}

/** Options of a team budget. */
export interface TeamBudgetArgs {
  readonly monthlyLimitUsd: number;
  /** @default - none: the team is notified only */
  readonly denyGpuFor?: DeniedRole[];
}

/**
 * The Pulumi counterpart of the CDK `CostGuard`: a monthly cost budget on the environment's cost-allocation tag with
 * notifications at each threshold and on a forecast overrun, the `GpuBrake` started by the notification at the deny
 * threshold (automatic in dev, manual approval elsewhere: it caps the environment's GPU capacity and denies the given
 * roles GPU growth until released), cost anomaly detection, and the summed cost estimates of the pieces. Settings come from core's `resolveCostGuardSpec`, as in the CDK construct.
 */
export class CostGuard extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:CostGuard';

  public readonly spec: CostGuardSpec;
  public readonly budget: aws.budgets.Budget;
  /** The policy the brake attaches: denies GPU growth and launching accelerated capacity (`brake.denyPolicy`). */
  public readonly denyGpuPolicy: aws.iam.Policy;
  /** The GPU brake the environment budget starts. */
  public readonly brake: GpuBrake;
  public readonly alertTopicArn: pulumi.Output<string>;
  public readonly budgetActions: aws.budgets.BudgetAction[] = [];
  private readonly ledger: CostEstimateLedger;
  private readonly specScope: SpecScope;
  private readonly tags: Record<string, string>;
  private readonly resourceName: string;
  private readonly account: ReturnType<typeof accountContext>;
  private readonly permissionsBoundary?: pulumi.Input<string>;
  private actionRole?: aws.iam.Role;
  private readonly teams = new Set<string>();

  constructor(name: string, args: CostGuardArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags } = resolveProfileAndTags(args);
    const specScope = componentSpecScope(CostGuard.TYPE, name);
    const spec = resolveCostGuardSpec(specScope, args, profile);
    super(CostGuard.TYPE, name, {}, opts);
    this.spec = spec;
    this.specScope = specScope;
    this.resourceName = name;
    this.tags = tags.toAwsTags();
    this.ledger = new CostEstimateLedger(specScope.scope);
    const account = accountContext(this);
    this.account = account;

    let topicKeyArn: pulumi.Input<string> | undefined = args.alertTopicKeyArn;
    if (!args.alertTopicArn) {
      const { topic, key } = this.newTopic(name, account);
      this.alertTopicArn = topic.arn;
      topicKeyArn = key.arn;
    } else {
      this.alertTopicArn = pulumi.output(args.alertTopicArn);
    }
    this.brake = new GpuBrake(`${name}-brake`, {
      profile,
      tags,
      permissionsBoundary: args.permissionsBoundary,
      notificationTopicArn: this.alertTopicArn,
      notificationTopicKeyArn: topicKeyArn,
      automatic: spec.approvalModel === 'AUTOMATIC',
      environmentPrefix: args.environmentPrefix,
    }, { parent: this });
    this.denyGpuPolicy = this.brake.denyPolicy;
    this.permissionsBoundary = args.permissionsBoundary;

    this.budget = this.newBudget(`${name}-budget`, `${pulumi.getStack()}-${name}-environment`, spec.monthlyLimitUsd, spec.environmentCostFilter,
      this.brake.triggerTopic.arn);
    this.denyGpuFor(...(args.denyGpuFor ?? []));

    if (spec.anomalyThresholdExpression !== undefined) {
      const monitor = new aws.costexplorer.AnomalyMonitor(`${name}-anomaly-monitor`, {
        name: `${pulumi.getStack()}-${name}-spend`,
        monitorType: 'CUSTOM',
        monitorSpecification: spec.anomalyMonitorSpecification,
        tags: this.tags,
      }, childOptions(this));
      const threshold = JSON.parse(spec.anomalyThresholdExpression).Dimensions;
      new aws.costexplorer.AnomalySubscription(`${name}-anomaly-subscription`, {
        name: `${pulumi.getStack()}-${name}-spend-anomalies`,
        frequency: 'IMMEDIATE',
        monitorArnLists: [monitor.arn],
        subscribers: [{ type: 'SNS', address: this.alertTopicArn }],
        thresholdExpression: { dimension: { key: threshold.Key, values: threshold.Values, matchOptions: threshold.MatchOptions } },
        tags: this.tags,
      }, childOptions(this));
    }

    this.registerOutputs({
      budgetName: this.budget.name,
      alertTopicArn: this.alertTopicArn,
      denyGpuPolicyArn: this.denyGpuPolicy.arn,
      engageStateMachineArn: this.brake.engageStateMachine.arn,
      releaseStateMachineArn: this.brake.releaseStateMachine.arn,
    });
  }

  /** Records one piece's monthly cost estimate; the sum is `estimatedMonthlyCost`. */
  public addCostEstimate(name: string, estimate: MonthlyCostRange): this {
    this.ledger.add(name, estimate);
    return this;
  }

  /** Sum of the recorded estimates, with each piece (the same figure the CDK CostGuard writes to its stack output). */
  public get estimatedMonthlyCost(): { minUsd: number; maxUsd: number; pieces: Record<string, MonthlyCostRange> } {
    return this.ledger.total();
  }

  /**
   * The role AWS Budgets attaches and detaches the brake's deny policy with, created with the first team budget that
   * denies roles (as the CDK CostGuard's): an environment without such a budget has no idle brake-controller role.
   */
  public get budgetActionRole(): aws.iam.Role | undefined {
    return this.actionRole;
  }

  /** Adds roles denied GPU growth and accelerated launches while the brake is on (personas, pipelines). */
  public denyGpuFor(...roles: DeniedRole[]): this {
    this.brake.denyFor(...roles);
    return this;
  }

  /** A budget for one team, filtered on the `mlops:team` tag, with its own deny action when roles are given. */
  public addTeamBudget(team: string, options: TeamBudgetArgs): aws.budgets.Budget {
    validateTeamBudget(this.specScope, team, options.monthlyLimitUsd, this.spec.monthlyLimitUsd, this.teams);
    this.teams.add(team);
    const id = `${this.resourceName}-team-${team}`;
    const budget = this.newBudget(`${id}-budget`, `${pulumi.getStack()}-${this.resourceName}-${team}`, options.monthlyLimitUsd, tagCostFilter(TAG_KEYS.team, team));
    if (options.denyGpuFor && options.denyGpuFor.length > 0) this.newDenyAction(`${id}-deny-gpu-action`, budget, options.denyGpuFor);
    return budget;
  }

  private newTopic(name: string, account: ReturnType<typeof accountContext>): { topic: aws.sns.Topic; key: aws.kms.Key } {
    const costServices = { Service: ['budgets.amazonaws.com', 'costalerts.amazonaws.com'] };
    const key = new aws.kms.Key(`${name}-topic-key`, {
      description: `Budget alerts of ${name}`,
      enableKeyRotation: true,
      policy: keyPolicyJson(account, [{
        Sid: 'AllowBudgetsToPublishEncrypted',
        Effect: 'Allow',
        Principal: costServices,
        Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': account.accountId } },
      }]),
      tags: this.tags,
    }, childOptions(this));
    const topic = new aws.sns.Topic(`${name}-alerts`, { kmsMasterKeyId: key.arn, displayName: `Budget alerts (${name})`, tags: this.tags }, childOptions(this));
    new aws.sns.TopicPolicy(`${name}-alerts-policy`, {
      arn: topic.arn,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AllowCostServicesToPublish',
            Effect: 'Allow',
            Principal: costServices,
            Action: 'sns:Publish',
            Resource: topic.arn,
            Condition: { StringEquals: { 'aws:SourceAccount': account.accountId } },
          },
          denyInsecureTopicStatement(topic.arn),
        ],
      }),
    }, childOptions(this));
    this.spec.notifyEmails.forEach((email, i) => new aws.sns.TopicSubscription(`${name}-email-${i}`, {
      topic: topic.arn, protocol: 'email', endpoint: email,
    }, childOptions(this)));
    return { topic, key };
  }

  private newBudget(id: string, budgetName: string, limitUsd: number, costFilter: string, brakeTopicArn?: pulumi.Output<string>): aws.budgets.Budget {
    const deny = this.spec.denyGpuAtPercent;
    const atDeny = (n: { notificationType: string; threshold: number }) => n.notificationType === 'ACTUAL' && n.threshold === deny;
    const specs = budgetNotifications(this.spec.alertThresholdsPercent);
    if (brakeTopicArn && !specs.some(atDeny)) {
      specs.push({ notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: deny, thresholdType: 'PERCENTAGE' });
    }
    return new aws.budgets.Budget(id, {
      name: budgetName,
      budgetType: 'COST',
      timeUnit: 'MONTHLY',
      limitAmount: String(limitUsd),
      limitUnit: 'USD',
      costFilters: [{ name: 'TagKeyValue', values: [costFilter] }],
      // A notification has one SNS subscriber: at the deny threshold it is the brake's topic (the brake tells the alert topic).
      notifications: specs.map((n) => ({
        ...n,
        subscriberSnsTopicArns: [brakeTopicArn && atDeny(n) ? brakeTopicArn : this.alertTopicArn],
        subscriberEmailAddresses: this.spec.notifyEmails.length > 0 ? [...this.spec.notifyEmails] : undefined,
      })),
      tags: this.tags,
    }, childOptions(this));
  }

  private newDenyAction(id: string, budget: aws.budgets.Budget, roles: DeniedRole[]): aws.budgets.BudgetAction {
    this.actionRole ??= new aws.iam.Role(`${this.resourceName}-budget-action-role`, {
      description: 'Lets AWS Budgets attach and detach the brake\'s deny policy to team roles',
      // Only budgets of this account (confused-deputy prevention).
      assumeRolePolicy: policyJson(pulumi.all([this.account.partition, this.account.accountId]).apply(([partition, accountId]) => ({
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow', Principal: { Service: 'budgets.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: budgetActionTrustConditions(partition, accountId),
        }],
      }))),
      // The permission boundary lets only roles with this tag attach or detach the brake's deny policy.
      tags: { ...this.tags, [BRAKE.controllerTagKey]: 'true' },
      permissionsBoundary: this.permissionsBoundary,
    }, childOptions(this));
    const actionRole = this.actionRole;
    // Budgets may attach only the deny policy, and only to the named roles.
    new aws.iam.RolePolicy(`${id}-permissions`, {
      role: actionRole.id,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [{
          Effect: 'Allow',
          Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
          Resource: roles.map((r) => r.arn),
          Condition: { ArnEquals: { 'iam:PolicyARN': this.denyGpuPolicy.arn } },
        }],
      }),
    }, childOptions(this));
    const action = new aws.budgets.BudgetAction(id, {
      budgetName: budget.name,
      actionType: 'APPLY_IAM_POLICY',
      approvalModel: this.spec.approvalModel,
      notificationType: 'ACTUAL',
      actionThreshold: { actionThresholdType: 'PERCENTAGE', actionThresholdValue: this.spec.denyGpuAtPercent },
      definition: { iamActionDefinition: { policyArn: this.denyGpuPolicy.arn, roles: roles.map((r) => r.name) } },
      executionRoleArn: actionRole.arn,
      subscribers: [{ subscriptionType: 'SNS', address: this.alertTopicArn }],
      tags: this.tags,
    }, childOptions(this));
    this.budgetActions.push(action);
    return action;
  }
}
