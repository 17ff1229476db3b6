import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { AlarmSpec, ERROR_RATE_EXPRESSION, LatencyUnit, MetricSpec } from '../core';

/** A CloudWatch metric whose dimensions may be Pulumi outputs. */
export interface CloudWatchMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, pulumi.Input<string>>;
  /** A statistic (`Sum`, `Average`, ...) or a percentile (`p99`). */
  readonly statistic: string;
  readonly periodSeconds: number;
  /** Its name on dashboard graphs. @default - CloudWatch's (namespace, name and dimensions) */
  readonly label?: string;
}

/** The share of requests answered with a 5xx, in percent: `100 * FILL(errors, 0) / requests`. */
export interface ErrorRateMetric {
  readonly errors: CloudWatchMetric;
  readonly requests: CloudWatchMetric;
}

/** The serving metrics monitoring alarms on, the same on every AWS serving backend (as CDK's `IServingMetrics`). */
export interface ServingMetrics {
  readonly modelName: string;
  /** Unit of `metricLatency`: the alarm threshold (in milliseconds in the profile) is converted to it. */
  readonly latencyUnit: LatencyUnit;
  /** Whether the model runs on NVIDIA GPUs (the GPU-waste alarm applies). */
  readonly nvidiaGpu: boolean;
  metricLatency(percentile?: 'p50' | 'p90' | 'p99', variant?: string): CloudWatchMetric;
  metricErrorRate(variant?: string): ErrorRateMetric;
  metricGpuUtilization(variant?: string): CloudWatchMetric;
}

/** A metric from an engine-neutral spec. */
export function metricFromSpec(spec: MetricSpec & { readonly label?: string }): CloudWatchMetric {
  const { namespace, metricName, statistic, periodSeconds, label } = spec;
  return { namespace, metricName, dimensions: { ...spec.dimensions }, statistic, periodSeconds, ...(label === undefined ? {} : { label }) };
}

const PERCENTILE = /^p\d+(\.\d+)?$/;

/**
 * A CloudWatch alarm from its engine-neutral spec, on a metric or an error-rate expression, notifying `actions` on
 * ALARM (and on OK when `okActions` is set).
 */
export function alarmFromSpec(
  name: string, spec: AlarmSpec, metric: CloudWatchMetric | ErrorRateMetric,
  options: { actions: pulumi.Input<string>[]; okActions?: boolean; tags: Record<string, string>; parent: pulumi.Resource; periodSeconds?: number },
): aws.cloudwatch.MetricAlarm {
  const common: aws.cloudwatch.MetricAlarmArgs = {
    alarmDescription: spec.description,
    comparisonOperator: spec.comparisonOperator,
    evaluationPeriods: spec.evaluationPeriods,
    datapointsToAlarm: spec.datapointsToAlarm,
    threshold: spec.threshold,
    treatMissingData: spec.treatMissingData,
    alarmActions: options.actions,
    okActions: options.okActions ? options.actions : undefined,
    tags: options.tags,
  };
  if ('errors' in metric) {
    const stat = (id: string, m: CloudWatchMetric) => ({
      id,
      returnData: false,
      metric: { namespace: m.namespace, metricName: m.metricName, dimensions: m.dimensions, stat: m.statistic, period: m.periodSeconds },
    });
    return new aws.cloudwatch.MetricAlarm(name, {
      ...common,
      metricQueries: [
        { id: 'expr_1', ...ERROR_RATE_EXPRESSION, returnData: true },
        stat('errors', metric.errors),
        stat('requests', metric.requests),
      ],
    }, { parent: options.parent });
  }
  const percentile = PERCENTILE.test(metric.statistic);
  return new aws.cloudwatch.MetricAlarm(name, {
    ...common,
    namespace: metric.namespace,
    metricName: metric.metricName,
    dimensions: metric.dimensions,
    period: options.periodSeconds ?? metric.periodSeconds,
    statistic: percentile ? undefined : metric.statistic,
    extendedStatistic: percentile ? metric.statistic : undefined,
  }, { parent: options.parent });
}
