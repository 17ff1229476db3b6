import { Duration, Names } from 'cdk8s';
import { Construct } from 'constructs';
import { EnvironmentProfile } from '../core';
import { prometheusRule, serviceMonitor } from './private/crds';
import { checkLabels, resolvePlacement } from './private/placement';
import { checkFor, profileOf, wholeSeconds } from './private/scope';
import { TeamNamespace } from './team-namespace';

/** Metric names the rules read; the defaults are what common model servers and exporters publish. */
export interface MonitoredMetrics {
  /**
   * Request latency histogram (seconds), without the `_bucket` suffix.
   * @default 'http_request_duration_seconds'
   */
  readonly latencyHistogram?: string;
  /**
   * Request counter with an HTTP status `code` label.
   * @default 'http_requests_total'
   */
  readonly requestsTotal?: string;
}

export interface MonitoringRulesProps {
  /**
   * Namespace whose model servers are scraped and whose alerts are raised.
   * @default - the chart's namespace
   */
  readonly namespace?: TeamNamespace | string;
  /**
   * Labels of the Services to scrape (the port named `http`, path `/metrics`).
   * @default - every InferenceService: `{ 'app.kubernetes.io/component': 'inference' }`
   */
  readonly serviceSelector?: Record<string, string>;
  /**
   * Labels the Prometheus instance selects ServiceMonitors and PrometheusRules by.
   * @default - none
   */
  readonly prometheusLabels?: Record<string, string>;
  /**
   * Scrape interval, 5 seconds to 5 minutes.
   * @default Duration.seconds(30)
   */
  readonly scrapeInterval?: Duration;
  /**
   * Metric names.
   * @default - see `MonitoredMetrics`
   */
  readonly metrics?: MonitoredMetrics;
  /**
   * Profile whose `alarms` thresholds the rules use (the same thresholds the AWS monitoring uses).
   * @default - the profile of the enclosing `MlopsChart`, or `EnvironmentProfile.prod()` outside one
   */
  readonly profile?: EnvironmentProfile;
}

/** Alert names, stable across engines' dashboards and runbooks. */
export const MLOPS_ALERTS = Object.freeze({
  latencyP99: 'MlopsInferenceLatencyP99High',
  errorRate: 'MlopsInferenceErrorRateHigh',
  gpuUtilizationLow: 'MlopsGpuUtilizationLow',
  featureDrift: 'MlopsFeatureDriftHigh',
});

/** The DCGM exporter's GPU utilization gauge (percent). */
export const DCGM_GPU_UTILIZATION = 'DCGM_FI_DEV_GPU_UTIL';
/** Drift score (0-1) the drift monitor publishes per model. */
export const FEATURE_DRIFT_METRIC = 'mlops_feature_drift_score';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Prometheus Operator objects for a team's models: a ServiceMonitor scraping the model servers and a
 * PrometheusRule alerting on p99 latency, error rate, idle GPUs (DCGM exporter) and feature drift, with
 * the thresholds of the environment profile.
 */
export class MonitoringRules extends Construct {
  /** Thresholds in force (from the profile). */
  public readonly profile: EnvironmentProfile;
  public readonly serviceMonitorName: string;
  public readonly ruleName: string;

  constructor(scope: Construct, id: string, props: MonitoringRulesProps = {}) {
    super(scope, id);
    const check = checkFor(this);
    this.profile = props.profile ?? profileOf(this);
    const placement = resolvePlacement(this, check, props.namespace, undefined);
    const selector = props.serviceSelector ?? { 'app.kubernetes.io/component': 'inference' };
    if (Object.keys(selector).length === 0) {
      check.fail('serviceSelector', selector, 'must have at least one label', 'select the model servers by a label, or leave it out to select every InferenceService.');
    }
    checkLabels(check, 'serviceSelector', selector);
    checkLabels(check, 'prometheusLabels', props.prometheusLabels);
    const interval = wholeSeconds(check, 'scrapeInterval', props.scrapeInterval, 5, 300, 'scrape every 5 seconds to 5 minutes, in whole seconds.') ?? 30;
    const latency = check.matches('metrics.latencyHistogram', props.metrics?.latencyHistogram, METRIC_NAME, 'a Prometheus metric name') ?? 'http_request_duration_seconds';
    const requests = check.matches('metrics.requestsTotal', props.metrics?.requestsTotal, METRIC_NAME, 'a Prometheus metric name') ?? 'http_requests_total';

    const labels = { ...placement.labels, ...props.prometheusLabels };
    const metadata = (name: string) => ({ name, namespace: placement.namespace, labels });
    this.serviceMonitorName = Names.toDnsLabel(this, { extra: ['models'] });
    serviceMonitor(this, 'ServiceMonitor', metadata(this.serviceMonitorName), {
      selector: { matchLabels: selector },
      ...(placement.namespace ? { namespaceSelector: { matchNames: [placement.namespace] } } : {}),
      endpoints: [{ port: 'http', path: '/metrics', interval: `${interval}s`, scheme: 'http' }],
    });

    const alarms = this.profile.alarms;
    const ns = placement.namespace ? `namespace="${placement.namespace}"` : '';
    const sel = (extra = '') => `{${[ns, extra].filter((s) => s).join(',')}}`;
    // Outside dev, serving alerts page someone; dev alerts are tickets.
    const servingSeverity = this.profile.allowDestroy ? 'warning' : 'critical';
    const base = { environment: this.profile.name, ...(placement.team ? { team: placement.team.team } : {}) };
    this.ruleName = Names.toDnsLabel(this, { extra: ['rules'] });
    prometheusRule(this, 'Rules', metadata(this.ruleName), {
      groups: [
        {
          name: 'mlops-inference',
          rules: [
            {
              alert: MLOPS_ALERTS.latencyP99,
              expr: `histogram_quantile(0.99, sum by (namespace, service, le) (rate(${latency}_bucket${sel()}[5m]))) > ${alarms.latencyP99Ms / 1000}`,
              for: '5m',
              labels: { ...base, severity: servingSeverity },
              annotations: {
                summary: `p99 latency above ${alarms.latencyP99Ms} ms`,
                description: `Service {{ $labels.service }} in {{ $labels.namespace }} answers 1% of requests slower than ${alarms.latencyP99Ms} ms.`,
              },
            },
            {
              alert: MLOPS_ALERTS.errorRate,
              expr: `100 * sum by (namespace, service) (rate(${requests}${sel('code=~"5.."')}[5m])) / sum by (namespace, service) (rate(${requests}${sel()}[5m])) > ${alarms.errorRatePercent}`,
              for: '5m',
              labels: { ...base, severity: servingSeverity },
              annotations: {
                summary: `5xx error rate above ${alarms.errorRatePercent}%`,
                description: `Service {{ $labels.service }} in {{ $labels.namespace }} answers more than ${alarms.errorRatePercent}% of requests with a 5xx.`,
              },
            },
          ],
        },
        {
          name: 'mlops-gpu',
          rules: [{
            alert: MLOPS_ALERTS.gpuUtilizationLow,
            expr: `avg by (namespace, pod) (${DCGM_GPU_UTILIZATION}${sel()}) < ${alarms.gpuUtilizationLowPercent}`,
            for: '30m',
            labels: { ...base, severity: 'warning' },
            annotations: {
              summary: `GPU utilization below ${alarms.gpuUtilizationLowPercent}% for 30 minutes`,
              description: 'Pod {{ $labels.pod }} holds GPUs it barely uses; lower its GPU request or its replicas.',
            },
          }],
        },
        {
          name: 'mlops-drift',
          rules: [{
            alert: MLOPS_ALERTS.featureDrift,
            expr: `max by (namespace, model) (${FEATURE_DRIFT_METRIC}${sel()}) > ${alarms.driftScore}`,
            for: '15m',
            labels: { ...base, severity: 'warning' },
            annotations: {
              summary: `Feature drift score above ${alarms.driftScore}`,
              description: 'Model {{ $labels.model }} sees inputs that drifted from its training data; consider retraining.',
            },
          }],
        },
      ],
    });
  }
}
