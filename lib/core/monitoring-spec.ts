import { METRIC_CONTRACT } from './metrics';
import { validateIdentifier } from './naming';
import { EnvironmentProfile } from './profiles';
import { FLEET_ROLLOUT_METRIC } from './served-models';
import { SpecScope, specCheck } from './spec-scope';
import { Check } from './validation';

/** CloudWatch comparison operators the platform's alarms use, as CloudWatch spells them. */
export type AlarmComparison = 'GreaterThanThreshold' | 'LessThanThreshold';

/** A CloudWatch metric, as every engine renders it. */
export interface MetricSpec {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly statistic: string;
  readonly periodSeconds: number;
}

/**
 * One alarm of the platform: its id (unique per monitoring), threshold, comparison, evaluation and missing-data
 * treatment. Every alarm notifies the alarm topic on ALARM and OK. `metric` is set where the metric is engine-neutral
 * (the metric contract, billing, events, RDS); serving alarms take their metric from the serving backend.
 */
export interface AlarmSpec {
  readonly id: string;
  readonly description: string;
  readonly threshold: number;
  readonly comparisonOperator: AlarmComparison;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm?: number;
  /** Every alarm says what a missing data point means; here it never means trouble. */
  readonly treatMissingData: 'notBreaching';
  readonly metric?: MetricSpec;
  /** Period of the serving metric, when the backend supplies it (the GPU alarm looks at hourly averages). */
  readonly periodSeconds?: number;
}

/** Which way a model quality metric goes wrong. */
export enum QualityDirection {
  /** Higher is better (accuracy, AUC): alarm below the threshold. */
  HIGHER_IS_BETTER = 'higher-is-better',
  /** Lower is better (RMSE, log loss): alarm above the threshold. */
  LOWER_IS_BETTER = 'lower-is-better',
}

const DAY_SECONDS = 86400;
const METRIC_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
const METRIC_NAME_TEXT = 'a metric name of letters, digits, "_", "." or "-"';

/** Options of a model quality alarm (engine-neutral). */
export interface ModelQualityAlarmInput {
  readonly model: string;
  readonly metric: string;
  readonly threshold: number;
  readonly direction?: QualityDirection;
  readonly periodSeconds?: number;
}

/** Alarm on a model quality metric published by an evaluation job (namespace `MLOps/ModelQuality`). */
export function modelQualityAlarmSpec(scope: SpecScope, options: ModelQualityAlarmInput): AlarmSpec {
  validateIdentifier(scope.scope, 'model', options.model, 63);
  const check = specCheck(scope);
  check.matches('metric', options.metric, METRIC_NAME, METRIC_NAME_TEXT);
  check.numberInRange('threshold', options.threshold, -1e9, 1e9);
  const higher = (options.direction ?? QualityDirection.HIGHER_IS_BETTER) === QualityDirection.HIGHER_IS_BETTER;
  return {
    id: `Quality-${options.model}-${options.metric}`,
    metric: {
      namespace: METRIC_CONTRACT.modelQuality.namespace,
      metricName: options.metric,
      dimensions: { Model: options.model },
      statistic: higher ? 'Minimum' : 'Maximum',
      periodSeconds: options.periodSeconds ?? DAY_SECONDS,
    },
    threshold: options.threshold,
    comparisonOperator: higher ? 'LessThanThreshold' : 'GreaterThanThreshold',
    evaluationPeriods: 1,
    // Evaluations run on a schedule; a period without one is not a quality signal.
    treatMissingData: 'notBreaching',
    description: `${options.model}: ${options.metric} ${higher ? 'below' : 'above'} ${options.threshold}`,
  };
}

/** Options of a drift alarm (engine-neutral). */
export interface DriftAlarmInput {
  readonly model: string;
  readonly feature: string;
  readonly threshold?: number;
  readonly periodSeconds?: number;
}

/** Alarm when a feature's drift score passes the threshold (namespace `MLOps/DataDrift`). */
export function driftAlarmSpec(scope: SpecScope, options: DriftAlarmInput, profile: EnvironmentProfile): AlarmSpec {
  validateIdentifier(scope.scope, 'model', options.model, 63);
  const check = specCheck(scope);
  check.matches('feature', options.feature, /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, 'a feature name of letters, digits, "_", "." or "-"');
  const threshold = check.numberInRange('threshold', options.threshold, 0.001, 1) ?? profile.alarms.driftScore;
  return {
    id: `Drift-${options.model}-${options.feature}`,
    metric: {
      namespace: METRIC_CONTRACT.dataDrift.namespace,
      metricName: METRIC_CONTRACT.dataDrift.metricName,
      dimensions: { Model: options.model, Feature: options.feature },
      statistic: 'Maximum',
      periodSeconds: options.periodSeconds ?? DAY_SECONDS,
    },
    threshold,
    comparisonOperator: 'GreaterThanThreshold',
    evaluationPeriods: 1,
    treatMissingData: 'notBreaching',
    description: `${options.model}: drift of feature ${options.feature} above ${threshold}`,
  };
}

/** Options of a fairness alarm (engine-neutral). */
export interface FairnessAlarmInput {
  readonly model: string;
  readonly metric: string;
  readonly threshold?: number;
  readonly periodSeconds?: number;
}

/** Alarm when a fairness gap passes the threshold (namespace `MLOps/Fairness`). */
export function fairnessAlarmSpec(scope: SpecScope, options: FairnessAlarmInput, profile: EnvironmentProfile): AlarmSpec {
  validateIdentifier(scope.scope, 'model', options.model, 63);
  const check = specCheck(scope);
  check.matches('metric', options.metric, METRIC_NAME, METRIC_NAME_TEXT);
  const threshold = check.numberInRange('threshold', options.threshold, 0.001, 1) ?? profile.alarms.fairnessGap;
  return {
    id: `Fairness-${options.model}-${options.metric}`,
    metric: {
      namespace: METRIC_CONTRACT.fairness.namespace,
      metricName: METRIC_CONTRACT.fairness.metricName,
      dimensions: { Model: options.model, Metric: options.metric },
      statistic: 'Maximum',
      periodSeconds: options.periodSeconds ?? DAY_SECONDS,
    },
    threshold,
    comparisonOperator: 'GreaterThanThreshold',
    evaluationPeriods: 1,
    treatMissingData: 'notBreaching',
    description: `${options.model}: ${options.metric} fairness gap above ${threshold}`,
  };
}

/** The serving alarms of one model; their metrics come from the serving backend (fleet or endpoint). */
export interface ServingAlarmSpecs {
  /** p99 latency in milliseconds (the backend converts its unit). */
  readonly latency: AlarmSpec;
  /** 5xx share of requests, in percent. */
  readonly errorRate: AlarmSpec;
  /** GPU utilization below the profile's floor for six hours: wasted spend. Only on NVIDIA GPU instances. */
  readonly gpuUnderused?: AlarmSpec;
}

/** Units a serving backend reports latency in: ALB target response time in seconds, SageMaker model latency in microseconds. */
export type LatencyUnit = 'seconds' | 'milliseconds' | 'microseconds';
const PER_MILLISECOND: Record<LatencyUnit, number> = { seconds: 0.001, milliseconds: 1, microseconds: 1000 };

/**
 * Latency, error-rate and GPU-waste alarms of a served model, at the profile's thresholds. The latency threshold is
 * given in `latencyUnit`, the unit of the backend's latency metric.
 */
export function servingAlarmSpecs(
  scope: SpecScope, model: string, profile: EnvironmentProfile, gpu = true, latencyUnit: LatencyUnit = 'milliseconds',
): ServingAlarmSpecs {
  validateIdentifier(scope.scope, 'model', model, 63);
  const thresholds = profile.alarms;
  return {
    latency: {
      id: `Latency-${model}`,
      threshold: thresholds.latencyP99Ms * PER_MILLISECOND[latencyUnit],
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: 'GreaterThanThreshold',
      // No requests means no latency to judge: an idle (or scaled-to-zero) model is not unhealthy.
      treatMissingData: 'notBreaching',
      description: `${model}: p99 latency above ${thresholds.latencyP99Ms} ms`,
    },
    errorRate: {
      id: `Errors-${model}`,
      threshold: thresholds.errorRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      description: `${model}: 5xx rate above ${thresholds.errorRatePercent}%`,
    },
    gpuUnderused: gpu ? {
      id: `GpuUnderused-${model}`,
      threshold: thresholds.gpuUtilizationLowPercent,
      evaluationPeriods: 6,
      periodSeconds: 3600,
      comparisonOperator: 'LessThanThreshold',
      // Scaled to zero means no instance reports: that is the cheap state, not waste.
      treatMissingData: 'notBreaching',
      description: `${model}: GPU utilization below ${thresholds.gpuUtilizationLowPercent}% for 6 hours (wasted spend)`,
    } : undefined,
  };
}

/** A serving error rate: the share of requests answered with a 5xx, in percent, over `errors` and `requests` metrics. */
export const ERROR_RATE_EXPRESSION = Object.freeze({ expression: '100 * FILL(errors, 0) / requests', label: '5xx rate (%)' });

/** How each unit of a latency metric is written on a dashboard. */
export const LATENCY_UNIT_LABEL: Readonly<Record<LatencyUnit, string>> = Object.freeze({ seconds: 's', milliseconds: 'ms', microseconds: 'µs' });

/**
 * The one graph of a served model on a serving dashboard, as both engines render it: p99 latency on the left axis (in
 * the backend's unit, labelled `latencyLabel`); on the right axis (0-100, no units) the 5xx rate and any extra percent
 * metric, such as a fleet rollout's progress (`fleetRolloutProgressMetricSpec`). The engines supply the backend's metrics.
 */
export interface ServingGraphSpec {
  readonly title: string;
  readonly latencyLabel: string;
  readonly rightYAxis: { readonly min: number; readonly max: number; readonly showUnits: boolean };
  readonly width: number;
  readonly height: number;
}

/** The serving graph of `model`, whose backend reports latency in `latencyUnit`. */
export function servingGraphSpec(model: string, latencyUnit: LatencyUnit = 'milliseconds'): ServingGraphSpec {
  const unit = LATENCY_UNIT_LABEL[latencyUnit];
  return {
    title: `${model}: p99 latency (${unit}), 5xx % and rollout %`,
    latencyLabel: `p99 latency (${unit})`,
    rightYAxis: { min: 0, max: 100, showUnits: false },
    width: 8,
    height: 6,
  };
}

/**
 * Titles of the graphs of a served model's own dashboard row (a model without a shared serving dashboard), as both
 * engines render them: p50/p90/p99 latency in the backend's unit; requests with the 5xx rate on the right axis; GPU
 * utilization.
 */
export function servingRowTitles(model: string, latencyUnit: LatencyUnit = 'milliseconds'): { latency: string; requests: string; gpu: string } {
  return { latency: `${model}: latency (${LATENCY_UNIT_LABEL[latencyUnit]})`, requests: `${model}: requests and 5xx %`, gpu: `${model}: GPU utilization %` };
}

/**
 * The candidate's share of traffic a fleet rollout state machine records at each step (0 after a rollback), as both
 * engines graph it beside the model's latency and 5xx rate.
 */
export function fleetRolloutProgressMetricSpec(model: string): MetricSpec & { readonly label: string } {
  return {
    namespace: FLEET_ROLLOUT_METRIC.namespace,
    metricName: FLEET_ROLLOUT_METRIC.metricName,
    dimensions: { [FLEET_ROLLOUT_METRIC.dimension]: model },
    statistic: 'Maximum',
    periodSeconds: 60,
    label: `${model} rollout %`,
  };
}

/** The composite alarm rollouts of a model roll back on: in alarm when any of its serving alarms is. */
export function rolloutHealthAlarmId(model: string): string {
  return `RolloutHealth-${model}`;
}

/** Checks a rollout health alarm before either engine adds it: alarms to watch, and one composite per model. */
export function validateRolloutHealthAlarm(check: Check, model: string, alarms: readonly unknown[], exists: boolean): void {
  if (alarms.length === 0) check.fail('alarms', alarms, 'must name at least one alarm', 'pass the latency and error alarms of the served model.');
  if (exists) check.fail('model', model, 'already has a rollout health alarm', 'collect every alarm of the model and call addRolloutHealthAlarm once.');
}

/** Refuses a second alarm with the same id (model/metric pair), for every engine. */
export function validateNewAlarm(check: Check, id: string, exists: boolean): void {
  if (exists) check.fail('alarm', id, 'already exists', 'each model/metric pair gets one alarm; change the threshold on the existing one.');
}

/** Failed training jobs, counted by the cluster's EventBridge rule. */
export function failedJobsAlarmSpec(clusterId: string, clusterPath: string, ruleName: string): AlarmSpec {
  return {
    id: `FailedJobs-${clusterId}`,
    metric: { namespace: 'AWS/Events', metricName: 'MatchedEvents', dimensions: { RuleName: ruleName }, statistic: 'Sum', periodSeconds: 300 },
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    evaluationPeriods: 1,
    // EventBridge publishes only when a job fails.
    treatMissingData: 'notBreaching',
    description: `${clusterPath}: a training job failed`,
  };
}

/** CPU, connections and free local storage of the model registry's database. */
export function registryAlarmSpecs(registryId: string, registryPath: string, clusterIdentifier: string): AlarmSpec[] {
  const metric = (metricName: string, statistic: string): MetricSpec => ({
    namespace: 'AWS/RDS', metricName, dimensions: { DBClusterIdentifier: clusterIdentifier }, statistic, periodSeconds: 300,
  });
  return [{
    id: `RegistryCpu-${registryId}`,
    metric: metric('CPUUtilization', 'Average'),
    threshold: 80,
    evaluationPeriods: 3,
    comparisonOperator: 'GreaterThanThreshold',
    // A paused (0 ACU) registry reports nothing.
    treatMissingData: 'notBreaching',
    description: `${registryPath}: CPU above 80%`,
  }, {
    id: `RegistryConnections-${registryId}`,
    metric: metric('DatabaseConnections', 'Maximum'),
    threshold: 500,
    evaluationPeriods: 1,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
    description: `${registryPath}: more than 500 connections`,
  }, {
    id: `RegistryStorage-${registryId}`,
    metric: metric('FreeLocalStorage', 'Minimum'),
    threshold: 2 * 1024 ** 3,
    evaluationPeriods: 1,
    comparisonOperator: 'LessThanThreshold',
    treatMissingData: 'notBreaching',
    description: `${registryPath}: less than 2 GiB free local storage`,
  }];
}

/**
 * Alarm on AWS's estimated charges for the month. Billing metrics exist only in us-east-1, so engines create it
 * only there (Budgets cover every region).
 */
export function estimatedChargesAlarmSpec(scope: SpecScope, thresholdUsd: number | undefined, profile: EnvironmentProfile): AlarmSpec {
  const threshold = specCheck(scope).positiveNumber('estimatedChargesThresholdUsd', thresholdUsd) ?? profile.budget.monthlyLimitUsd;
  return {
    id: 'EstimatedCharges',
    metric: { namespace: 'AWS/Billing', metricName: 'EstimatedCharges', dimensions: { Currency: 'USD' }, statistic: 'Maximum', periodSeconds: 6 * 3600 },
    threshold,
    comparisonOperator: 'GreaterThanThreshold',
    evaluationPeriods: 1,
    // Billing publishes a few times a day; a gap is not a signal.
    treatMissingData: 'notBreaching',
    description: `Estimated charges for the month above $${threshold}`,
  };
}

/** Validates a dashboard name. */
export function validateDashboardName(scope: SpecScope, name: string | undefined): string | undefined {
  return specCheck(scope).matches('dashboardName', name, /^[A-Za-z0-9_-]{1,255}$/, '1-255 letters, digits, "-" or "_"');
}

/** Services that publish to the alarm topic and may use its key: CloudWatch alarms, Budgets, Cost Anomaly Detection. */
export const ALARM_PUBLISHER_SERVICES: readonly string[] = Object.freeze(['cloudwatch.amazonaws.com', 'budgets.amazonaws.com', 'costalerts.amazonaws.com']);
