import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  acceleratedEc2Patterns, acceleratedSageMakerPatterns, budgetNotifications, CostEstimateLedger, CostGuardSpec, CostGuardSpecInput, DENY_GPU_RULES,
  MonthlyCostRange, resolveCostGuardSpec, SpecScope, tagCostFilter, TAG_KEYS, validateTeamBudget,
} from '../core';
import {
  accountContext, childOptions, componentSpecScope, denyInsecureTopicStatement, MlopsComponentArgs, policyJson, resolveProfileAndTags,
} from './component-support';

/** A role whose GPU launches the budget action denies. */
export interface DeniedRole {
  readonly name: pulumi.Input<string>;
  readonly arn: pulumi.Input<string>;
}

export interface CostGuardArgs extends MlopsComponentArgs, CostGuardSpecInput {
  /**
   * Roles whose GPU launches are denied when spend reaches `denyGpuAtPercent`.
   * @default - none: notifications only
   */
  readonly denyGpuFor?: DeniedRole[];
  /**
   * Topic that receives every budget notification.
   * @default - a new topic encrypted with a new key that Budgets and Cost Anomaly Detection may use
   */
  readonly alertTopicArn?: pulumi.Input<string>;
}

/** Options of a team budget. */
export interface TeamBudgetArgs {
  readonly monthlyLimitUsd: number;
  /** @default - none: the team is notified only */
  readonly denyGpuFor?: DeniedRole[];
}

/**
 * The Pulumi counterpart of the CDK `CostGuard`: a monthly cost budget on the environment's cost-allocation tag with
 * notifications at each threshold and on a forecast overrun, a Budgets action attaching a deny-GPU policy at the deny
 * threshold (automatic in dev, manual approval elsewhere), cost anomaly detection, and the summed cost estimates of
 * the pieces. Settings come from core's `resolveCostGuardSpec`, as in the CDK construct.
 */
export class CostGuard extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:CostGuard';

  public readonly spec: CostGuardSpec;
  public readonly budget: aws.budgets.Budget;
  public readonly denyGpuPolicy: aws.iam.Policy;
  public readonly budgetActionRole: aws.iam.Role;
  public readonly alertTopicArn: pulumi.Output<string>;
  public readonly budgetActions: aws.budgets.BudgetAction[] = [];
  private readonly ledger: CostEstimateLedger;
  private readonly specScope: SpecScope;
  private readonly tags: Record<string, string>;
  private readonly resourceName: string;
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

    this.alertTopicArn = pulumi.output(args.alertTopicArn ?? this.newTopic(name, account).arn);
    this.denyGpuPolicy = new aws.iam.Policy(`${name}-deny-gpu`, {
      description: `Attached by the ${profile.name} budget at ${spec.denyGpuAtPercent}% of the limit: denies new accelerated capacity`,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: DENY_GPU_RULES.ec2.sid,
            Effect: 'Deny',
            Action: [...DENY_GPU_RULES.ec2.actions],
            Resource: pulumi.interpolate`arn:${account.partition}:ec2:${account.region}:${account.accountId}:instance/*`,
            Condition: { [DENY_GPU_RULES.ec2.operator]: { [DENY_GPU_RULES.ec2.conditionKey]: acceleratedEc2Patterns() } },
          },
          {
            Sid: DENY_GPU_RULES.sageMaker.sid,
            Effect: 'Deny',
            Action: [...DENY_GPU_RULES.sageMaker.actions],
            Resource: pulumi.interpolate`arn:${account.partition}:sagemaker:${account.region}:${account.accountId}:*`,
            Condition: { [DENY_GPU_RULES.sageMaker.operator]: { [DENY_GPU_RULES.sageMaker.conditionKey]: acceleratedSageMakerPatterns() } },
          },
        ],
      }),
      tags: this.tags,
    }, childOptions(this));
    this.budgetActionRole = new aws.iam.Role(`${name}-budget-action-role`, {
      description: 'Lets AWS Budgets attach and detach the deny-GPU policy',
      assumeRolePolicy: policyJson({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'budgets.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
      tags: this.tags,
    }, childOptions(this));

    this.budget = this.newBudget(`${name}-budget`, `${pulumi.getStack()}-${name}-environment`, spec.monthlyLimitUsd, spec.environmentCostFilter);
    if (args.denyGpuFor && args.denyGpuFor.length > 0) this.newDenyAction(`${name}-deny-gpu-action`, this.budget, args.denyGpuFor);

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

    this.registerOutputs({ budgetName: this.budget.name, alertTopicArn: this.alertTopicArn, denyGpuPolicyArn: this.denyGpuPolicy.arn });
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

  /** A budget for one team, filtered on the `mlops:team` tag, with its own deny action when roles are given. */
  public addTeamBudget(team: string, options: TeamBudgetArgs): aws.budgets.Budget {
    validateTeamBudget(this.specScope, team, options.monthlyLimitUsd, this.spec.monthlyLimitUsd, this.teams);
    this.teams.add(team);
    const id = `${this.resourceName}-team-${team}`;
    const budget = this.newBudget(`${id}-budget`, `${pulumi.getStack()}-${this.resourceName}-${team}`, options.monthlyLimitUsd, tagCostFilter(TAG_KEYS.team, team));
    if (options.denyGpuFor && options.denyGpuFor.length > 0) this.newDenyAction(`${id}-deny-gpu-action`, budget, options.denyGpuFor);
    return budget;
  }

  private newTopic(name: string, account: ReturnType<typeof accountContext>): aws.sns.Topic {
    const costServices = { Service: ['budgets.amazonaws.com', 'costalerts.amazonaws.com'] };
    const key = new aws.kms.Key(`${name}-topic-key`, {
      description: `Budget alerts of ${name}`,
      enableKeyRotation: true,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AccountAdministers', Effect: 'Allow', Principal: { AWS: pulumi.interpolate`arn:${account.partition}:iam::${account.accountId}:root` }, Action: 'kms:*', Resource: '*' },
          {
            Sid: 'AllowBudgetsToPublishEncrypted',
            Effect: 'Allow',
            Principal: costServices,
            Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': account.accountId } },
          },
        ],
      }),
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
    return topic;
  }

  private newBudget(id: string, budgetName: string, limitUsd: number, costFilter: string): aws.budgets.Budget {
    return new aws.budgets.Budget(id, {
      name: budgetName,
      budgetType: 'COST',
      timeUnit: 'MONTHLY',
      limitAmount: String(limitUsd),
      limitUnit: 'USD',
      costFilters: [{ name: 'TagKeyValue', values: [costFilter] }],
      notifications: budgetNotifications(this.spec.alertThresholdsPercent).map((n) => ({
        ...n,
        subscriberSnsTopicArns: [this.alertTopicArn],
        subscriberEmailAddresses: this.spec.notifyEmails.length > 0 ? [...this.spec.notifyEmails] : undefined,
      })),
      tags: this.tags,
    }, childOptions(this));
  }

  private newDenyAction(id: string, budget: aws.budgets.Budget, roles: DeniedRole[]): aws.budgets.BudgetAction {
    // Budgets may attach only the deny policy, and only to the named roles.
    new aws.iam.RolePolicy(`${id}-permissions`, {
      role: this.budgetActionRole.id,
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
      executionRoleArn: this.budgetActionRole.arn,
      subscribers: [{ subscriptionType: 'SNS', address: this.alertTopicArn }],
      tags: this.tags,
    }, childOptions(this));
    this.budgetActions.push(action);
    return action;
  }
}
