import { Check } from '../core';

export enum ScalingMetricKind {
  CPU_UTILIZATION = 'cpu-utilization',
  REQUESTS_PER_SECOND = 'requests-per-second',
}

/**
 * What the HorizontalPodAutoscaler of an `InferenceService` tracks.
 *
 * @example
 * ScalingMetric.requestsPerSecond(20)
 */
export class ScalingMetric {
  /** Average CPU utilization of the pods, as a percentage of their request. */
  public static cpuUtilization(targetPercent: number): ScalingMetric {
    new Check('ScalingMetric').integerInRange('scaleOn.cpuUtilization', targetPercent, 1, 100);
    return new ScalingMetric(ScalingMetricKind.CPU_UTILIZATION, targetPercent, undefined);
  }

  /**
   * Requests per second per pod, a Pods metric served by the custom metrics API (e.g. prometheus-adapter
   * turning `http_requests_total` into a rate).
   * @param perPod target requests per second per pod
   * @param metricName the custom metric's name
   */
  public static requestsPerSecond(perPod: number, metricName = 'http_requests_per_second'): ScalingMetric {
    const check = new Check('ScalingMetric');
    check.positiveNumber('scaleOn.requestsPerSecond', perPod);
    check.matches('scaleOn.metricName', metricName, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a Prometheus metric name');
    return new ScalingMetric(ScalingMetricKind.REQUESTS_PER_SECOND, perPod, metricName);
  }

  private constructor(
    public readonly kind: ScalingMetricKind,
    /** Target value: percent for CPU, requests per second per pod for RPS. */
    public readonly target: number,
    /** Custom metric name (requests per second only). */
    public readonly metricName: string | undefined,
  ) {}
}
