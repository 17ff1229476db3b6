import { MonthlyCostRange, roundUsd } from './cost-model';
import { GpuInstance } from './gpu-catalog';
import { validateIdentifier } from './naming';
import { EnvironmentProfile } from './profiles';
import { SpecScope, specCheck } from './spec-scope';
import { TAG_KEYS } from './tags';
import { Check } from './validation';

/** Engine-neutral cost guard input. */
export interface CostGuardSpecInput {
  readonly monthlyLimitUsd?: number;
  readonly alertThresholdsPercent?: readonly number[];
  readonly denyGpuAtPercent?: number;
  readonly notifyEmails?: readonly string[];
  readonly automaticDeny?: boolean;
  readonly anomalyImpactUsd?: number;
  readonly anomalyDetection?: boolean;
}

/** One budget notification, as AWS Budgets spells it. */
export interface BudgetNotificationSpec {
  readonly notificationType: 'ACTUAL' | 'FORECASTED';
  readonly comparisonOperator: 'GREATER_THAN';
  readonly threshold: number;
  readonly thresholdType: 'PERCENTAGE';
}

/** The settings every engine renders for a cost guard. */
export interface CostGuardSpec {
  readonly monthlyLimitUsd: number;
  readonly alertThresholdsPercent: readonly number[];
  readonly denyGpuAtPercent: number;
  readonly notifyEmails: readonly string[];
  /** `AUTOMATIC` in dev, `MANUAL` (a person approves) elsewhere. */
  readonly approvalModel: 'AUTOMATIC' | 'MANUAL';
  /** Anomaly alert threshold in dollars; undefined when anomaly detection is off. */
  readonly anomalyImpactUsd?: number;
  /** Notifications at each threshold of actual spend, plus one when the forecast exceeds the limit. */
  readonly notifications: readonly BudgetNotificationSpec[];
  /** The environment budget's cost filter value (`user:mlops:environment$dev`). */
  readonly environmentCostFilter: string;
  /** Cost anomaly monitor specification (JSON) for the environment's tagged spend. */
  readonly anomalyMonitorSpecification: string;
  /** Cost anomaly subscription threshold expression (JSON); undefined when anomaly detection is off. */
  readonly anomalyThresholdExpression?: string;
}

/** Validates a cost guard's input and resolves its defaults from the profile's budget, for every engine. */
export function resolveCostGuardSpec(scope: SpecScope, input: CostGuardSpecInput, profile: EnvironmentProfile): CostGuardSpec {
  const check = specCheck(scope);
  const monthlyLimitUsd = check.positiveNumber('monthlyLimitUsd', input.monthlyLimitUsd) ?? profile.budget.monthlyLimitUsd;
  const thresholds = [...(input.alertThresholdsPercent ?? profile.budget.alertThresholdsPercent)];
  if (thresholds.length === 0) {
    check.fail('alertThresholdsPercent', thresholds, 'must have at least one threshold', 'give ascending percentages such as [50, 80, 100].');
  }
  thresholds.forEach((t, i) => check.numberInRange(`alertThresholdsPercent[${i}]`, t, 1, 1000));
  if (thresholds.some((t, i) => i > 0 && t <= thresholds[i - 1])) {
    check.fail('alertThresholdsPercent', thresholds, 'must be strictly ascending', 'sort the percentages and remove duplicates.');
  }
  const denyGpuAtPercent = check.numberInRange('denyGpuAtPercent', input.denyGpuAtPercent, 1, 1000) ?? profile.budget.denyGpuAtPercent;
  const emails = check.emailList('notifyEmails', input.notifyEmails);
  if (emails.length > 10) {
    check.fail('notifyEmails', emails.length, 'must list at most 10 addresses (an AWS Budgets limit per notification)', 'use a distribution list or subscribe more people to the alert topic.');
  }
  const automaticDeny = input.automaticDeny ?? profile.allowDestroy;
  const anomalyImpactUsd = (input.anomalyDetection ?? true)
    ? check.positiveNumber('anomalyImpactUsd', input.anomalyImpactUsd) ?? Math.max(10, roundUsd(monthlyLimitUsd / 10))
    : undefined;
  return {
    monthlyLimitUsd,
    alertThresholdsPercent: thresholds,
    denyGpuAtPercent,
    notifyEmails: emails,
    approvalModel: automaticDeny ? 'AUTOMATIC' : 'MANUAL',
    anomalyImpactUsd,
    notifications: budgetNotifications(thresholds),
    environmentCostFilter: tagCostFilter(TAG_KEYS.environment, profile.name),
    anomalyMonitorSpecification: JSON.stringify({ Tags: { Key: TAG_KEYS.environment, Values: [profile.name], MatchOptions: ['EQUALS'] } }),
    anomalyThresholdExpression: anomalyImpactUsd === undefined ? undefined : JSON.stringify({
      Dimensions: { Key: 'ANOMALY_TOTAL_IMPACT_ABSOLUTE', Values: [String(anomalyImpactUsd)], MatchOptions: ['GREATER_THAN_OR_EQUAL'] },
    }),
  };
}

/** Notifications at each percentage of actual spend, and one when the forecast passes the limit. */
export function budgetNotifications(thresholds: readonly number[]): BudgetNotificationSpec[] {
  return [
    ...thresholds.map((threshold) => ({ notificationType: 'ACTUAL' as const, comparisonOperator: 'GREATER_THAN' as const, threshold, thresholdType: 'PERCENTAGE' as const })),
    { notificationType: 'FORECASTED', comparisonOperator: 'GREATER_THAN', threshold: 100, thresholdType: 'PERCENTAGE' },
  ];
}

/** A user-defined cost-allocation tag filter as Budgets spells it: `user:<key>$<value>`. */
export function tagCostFilter(key: string, value: string): string {
  return `user:${key}$${value}`;
}

/** Validates a team budget against the environment's limit and the teams already added. */
export function validateTeamBudget(
  scope: SpecScope, team: string, monthlyLimitUsd: number, environmentLimitUsd: number, existingTeams: ReadonlySet<string>,
): void {
  const check = specCheck(scope);
  validateIdentifier(scope.scope, 'team', team);
  if (existingTeams.has(team)) {
    check.fail('team', team, 'already has a budget', 'add each team once.');
  }
  check.positiveNumber('monthlyLimitUsd', monthlyLimitUsd);
  if (monthlyLimitUsd > environmentLimitUsd) {
    check.fail('monthlyLimitUsd', monthlyLimitUsd, `must not exceed the environment limit (${environmentLimitUsd})`, `lower the team budget of '${team}' or raise the environment's.`);
  }
}

/** What the deny-GPU policy denies, engine-neutral: each engine renders the ARNs. */
export const DENY_GPU_RULES = Object.freeze({
  ec2: Object.freeze({ sid: 'DenyAcceleratedEc2', actions: Object.freeze(['ec2:RunInstances', 'ec2:StartInstances']), conditionKey: 'ec2:InstanceType', operator: 'StringLike' }),
  sageMaker: Object.freeze({
    sid: 'DenyAcceleratedSageMaker',
    actions: Object.freeze(['sagemaker:CreateEndpointConfig', 'sagemaker:CreateTrainingJob', 'sagemaker:CreateProcessingJob', 'sagemaker:CreateTransformJob']),
    conditionKey: 'sagemaker:InstanceTypes',
    operator: 'ForAnyValue:StringLike',
  }),
});

/** EC2 instance type patterns of every accelerated family (`g5.*`). */
export function acceleratedEc2Patterns(): string[] {
  return GpuInstance.acceleratedFamilies().map((f) => `${f}.*`);
}

/** SageMaker instance type patterns of every accelerated family (`ml.g5.*`). */
export function acceleratedSageMakerPatterns(): string[] {
  return GpuInstance.acceleratedFamilies().map((f) => `ml.${f}.*`);
}

/** The pieces' monthly cost estimates a cost guard sums for the stack output / program export. */
export class CostEstimateLedger {
  private readonly estimates = new Map<string, MonthlyCostRange>();

  constructor(private readonly scope: string) {}

  /** Records one piece's estimate; names are unique. */
  public add(name: string, estimate: MonthlyCostRange): void {
    const check = new Check(this.scope);
    if (this.estimates.has(name)) check.fail('name', name, 'already has a cost estimate', 'give each piece a unique name.');
    check.numberInRange(`estimate(${name}).minUsd`, estimate.minUsd, 0, Number.MAX_SAFE_INTEGER);
    check.numberInRange(`estimate(${name}).maxUsd`, estimate.maxUsd, estimate.minUsd, Number.MAX_SAFE_INTEGER);
    this.estimates.set(name, { minUsd: estimate.minUsd, maxUsd: estimate.maxUsd });
  }

  /** Sum of the recorded estimates, with each piece. */
  public total(): { minUsd: number; maxUsd: number; pieces: Record<string, MonthlyCostRange> } {
    let minUsd = 0;
    let maxUsd = 0;
    for (const e of this.estimates.values()) {
      minUsd += e.minUsd;
      maxUsd += e.maxUsd;
    }
    return { minUsd: roundUsd(minUsd), maxUsd: roundUsd(maxUsd), pieces: Object.fromEntries(this.estimates) };
  }
}

/**
 * The conditions of the budget action role's trust in `budgets.amazonaws.com` (confused-deputy prevention, as AWS Budgets
 * documents it): only budgets of this account may have the service assume it, so a budget action of another account
 * cannot attach the brake's deny policy here.
 */
export function budgetActionTrustConditions(partition: string, account: string): Record<string, Record<string, string>> {
  return { StringEquals: { 'aws:SourceAccount': account }, ArnLike: { 'aws:SourceArn': `arn:${partition}:budgets::${account}:budget/*` } };
}
