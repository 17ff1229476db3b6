import { Duration, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { Check, EnvironmentProfile, METRIC_CONTRACT } from '../core';
import { PrometheusRule, PrometheusRuleSpecGroupsRules, PrometheusRuleSpecGroupsRulesExpr } from './imports/prometheus-operator-prometheusrules-monitoring.coreos.com';
import { ServiceMonitor, ServiceMonitorSpecEndpointsScheme } from './imports/prometheus-operator-servicemonitors-monitoring.coreos.com';
import { defaultName } from './private/names';
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

/**
 * How the dcgm-exporter's samples arrive in Prometheus. dcgm-exporter labels each GPU with the `namespace` and `pod`
 * using it; with the usual ServiceMonitor (`honorLabels: false`, the GPU Operator's default) Prometheus renames them
 * `exported_namespace` and `exported_pod`, because the target's own `namespace` and `pod` (the exporter's) win.
 */
export interface DcgmExporterOptions {
  /**
   * Whether the dcgm-exporter's ServiceMonitor sets `honorLabels: true` (then the labels keep their names).
   * @default false
   */
  readonly honorLabels?: boolean;
}

/** A model quality alert on the metric contract's `mlops_model_quality`. */
export interface ModelQualityAlertOptions {
  /** Model name (the `model` label evaluation jobs publish). */
  readonly model: string;
  /** Quality metric (the `metric` label), e.g. `auc`. */
  readonly metric: string;
  /** Threshold the metric must stay on the good side of. */
  readonly threshold: number;
  /**
   * Whether higher is better (AUC) or lower (RMSE).
   * @default true
   */
  readonly higherIsBetter?: boolean;
}

export interface MonitoringRulesProps {
  /**
   * Namespace whose model servers are scraped and whose alerts are raised.
   * @default - the chart's namespace
   */
  readonly namespace?: TeamNamespace | string;
  /**
   * Labels of the Services to scrape (the port named `metrics`, path `/metrics`, which every `InferenceService`
   * Service exposes).
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
   * How GPU metrics arrive from the dcgm-exporter.
   * @default - see `DcgmExporterOptions`
   */
  readonly dcgmExporter?: DcgmExporterOptions;
  /**
   * Model quality alerts (also `addModelQualityAlert()`).
   * @default - none
   */
  readonly modelQuality?: ModelQualityAlertOptions[];
  /**
   * How long a GPU pod may stay Pending before it alerts (no GPU capacity, quota or an unschedulable request).
   * @default Duration.minutes(15)
   */
  readonly pendingGpuPodFor?: Duration;
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
  fairnessGap: 'MlopsFairnessGapHigh',
  modelQuality: 'MlopsModelQualityLow',
  trainingJobFailed: 'MlopsTrainingJobFailed',
  gpuPodPending: 'MlopsGpuPodPending',
});

/** The DCGM exporter's GPU utilization gauge (percent). */
export const DCGM_GPU_UTILIZATION = 'DCGM_FI_DEV_GPU_UTIL';
/** Drift score (0-1) the drift monitor publishes per model (the metric contract's name). */
export const FEATURE_DRIFT_METRIC = METRIC_CONTRACT.prometheus.dataDrift;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Prometheus Operator objects for a team's models: a ServiceMonitor scraping the model servers and a
 * PrometheusRule alerting on p99 latency, error rate, idle GPUs (dcgm-exporter), feature drift, fairness gaps and
 * model quality (the metric contract), failed training jobs and GPU pods stuck Pending (kube-state-metrics), with
 * the thresholds of the environment profile.
 */
export class MonitoringRules extends Construct {
  /** Thresholds in force (from the profile). */
  public readonly profile: EnvironmentProfile;
  public readonly serviceMonitorName: string;
  public readonly ruleName: string;
  private readonly qualityAlerts: ModelQualityAlertOptions[] = [];
  private readonly baseLabels: Record<string, string>;

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
    const pendingFor = wholeSeconds(check, 'pendingGpuPodFor', props.pendingGpuPodFor, 60, 24 * 3600, 'give 1 minute to 24 hours, in whole seconds.') ?? 900;
    const latency = check.matches('metrics.latencyHistogram', props.metrics?.latencyHistogram, METRIC_NAME, 'a Prometheus metric name') ?? 'http_request_duration_seconds';
    const requests = check.matches('metrics.requestsTotal', props.metrics?.requestsTotal, METRIC_NAME, 'a Prometheus metric name') ?? 'http_requests_total';
    const honorLabels = props.dcgmExporter?.honorLabels ?? false;
    if (typeof honorLabels !== 'boolean') check.fail('dcgmExporter.honorLabels', honorLabels, 'must be true or false', "set it to the dcgm-exporter ServiceMonitor's honorLabels.");
    (props.modelQuality ?? []).forEach((q) => this.addModelQualityAlert(q));

    const labels = { ...placement.labels, ...props.prometheusLabels };
    this.baseLabels = { environment: this.profile.name, ...(placement.team ? { team: placement.team.team } : {}) };
    const metadata = (name: string) => ({ name, namespace: placement.namespace, labels });
    this.serviceMonitorName = defaultName(this, undefined, ['models']);
    new ServiceMonitor(this, 'ServiceMonitor', {
      metadata: metadata(this.serviceMonitorName),
      spec: {
        selector: { matchLabels: selector },
        ...(placement.namespace ? { namespaceSelector: { matchNames: [placement.namespace] } } : {}),
        endpoints: [{ port: 'metrics', path: '/metrics', interval: `${interval}s`, scheme: ServiceMonitorSpecEndpointsScheme.HTTP }],
      },
    });

    const alarms = this.profile.alarms;
    const ns = placement.namespace;
    const sel = (extra = '', namespaceLabel = 'namespace') => {
      const matchers = [ns ? `${namespaceLabel}="${ns}"` : '', extra].filter((s) => s);
      return matchers.length ? `{${matchers.join(',')}}` : '';
    };
    // Outside dev, serving alerts page someone; dev alerts are tickets.
    const servingSeverity = this.profile.allowDestroy ? 'warning' : 'critical';
    const contract = METRIC_CONTRACT.prometheus;
    // dcgm-exporter's workload labels, as they arrive; renamed back so alerts and runbooks see namespace and pod.
    const gpuNs = honorLabels ? 'namespace' : 'exported_namespace';
    const gpuPod = honorLabels ? 'pod' : 'exported_pod';
    const gpuUtil = honorLabels
      ? `avg by (namespace, pod) (${DCGM_GPU_UTILIZATION}${sel('pod!=""', gpuNs)})`
      : `label_replace(label_replace(avg by (${gpuNs}, ${gpuPod}) (${DCGM_GPU_UTILIZATION}${sel(`${gpuPod}!=""`, gpuNs)}), "namespace", "$1", "${gpuNs}", "(.*)"), "pod", "$1", "${gpuPod}", "(.*)")`;
    this.ruleName = defaultName(this, undefined, ['rules']);
    new PrometheusRule(this, 'Rules', {
      metadata: metadata(this.ruleName),
      spec: {
        groups: [
          {
            name: 'mlops-inference',
            rules: [
              this.rule(MLOPS_ALERTS.latencyP99,
                `histogram_quantile(0.99, sum by (namespace, service, le) (rate(${latency}_bucket${sel()}[5m]))) > ${alarms.latencyP99Ms / 1000}`, '5m', servingSeverity,
                `p99 latency above ${alarms.latencyP99Ms} ms`, `Service {{ $labels.service }} in {{ $labels.namespace }} answers 1% of requests slower than ${alarms.latencyP99Ms} ms.`),
              this.rule(MLOPS_ALERTS.errorRate,
                `100 * sum by (namespace, service) (rate(${requests}${sel('code=~"5.."')}[5m])) / sum by (namespace, service) (rate(${requests}${sel()}[5m])) > ${alarms.errorRatePercent}`,
                '5m', servingSeverity, `5xx error rate above ${alarms.errorRatePercent}%`,
                `Service {{ $labels.service }} in {{ $labels.namespace }} answers more than ${alarms.errorRatePercent}% of requests with a 5xx.`),
            ],
          },
          {
            name: 'mlops-gpu',
            rules: [
              this.rule(MLOPS_ALERTS.gpuUtilizationLow, `${gpuUtil} < ${alarms.gpuUtilizationLowPercent}`, '30m', 'warning',
                `GPU utilization below ${alarms.gpuUtilizationLowPercent}% for 30 minutes`, 'Pod {{ $labels.pod }} holds GPUs it barely uses; lower its GPU request or its replicas.'),
              // kube-state-metrics sanitizes the resource name nvidia.com/gpu to nvidia_com_gpu.
              this.rule(MLOPS_ALERTS.gpuPodPending,
                `sum by (namespace, pod) (kube_pod_status_phase${sel('phase="Pending"')}) * on (namespace, pod) group_left () (sum by (namespace, pod) (kube_pod_container_resource_requests${sel('resource="nvidia_com_gpu"')}) > 0) > 0`,
                `${Math.round(pendingFor / 60)}m`, 'warning', `GPU pod Pending for ${Math.round(pendingFor / 60)} minutes`,
                'Pod {{ $labels.pod }} waits for GPUs: no node has free GPUs, the quota is used up, or the request matches no node (check its events and the GPU node pools).'),
            ],
          },
          {
            name: 'mlops-training',
            rules: [
              this.rule(MLOPS_ALERTS.trainingJobFailed,
                // Every Job of the namespace: kube-state-metrics exports no Job labels unless allow-listed.
                `max by (namespace, job_name) (kube_job_status_failed${sel()}) > 0`,
                '1m', 'warning', 'Training job failed', 'Job {{ $labels.job_name }} in {{ $labels.namespace }} failed; its pods\' logs say why (a failing exit code fails the job at once).'),
            ],
          },
          {
            name: 'mlops-model',
            rules: Lazy.any({
              produce: () => [
                this.rule(MLOPS_ALERTS.featureDrift, `max by (namespace, model) (${contract.dataDrift}${sel()}) > ${alarms.driftScore}`, '15m', 'warning',
                  `Feature drift score above ${alarms.driftScore}`, 'Model {{ $labels.model }} sees inputs that drifted from its training data; consider retraining.'),
                this.rule(MLOPS_ALERTS.fairnessGap, `max by (namespace, model, metric) (${contract.fairness}${sel()}) > ${alarms.fairnessGap}`, '15m', servingSeverity,
                  `Fairness gap above ${alarms.fairnessGap}`, 'Model {{ $labels.model }} treats groups differently ({{ $labels.metric }}); review it before it serves more traffic.'),
                ...this.qualityAlerts.map((q) => {
                  const higher = q.higherIsBetter ?? true;
                  return this.rule(MLOPS_ALERTS.modelQuality,
                    `${higher ? 'min' : 'max'} by (namespace, model, metric) (${contract.modelQuality}${sel(`model="${q.model}",metric="${q.metric}"`)}) ${higher ? '<' : '>'} ${q.threshold}`,
                    '15m', servingSeverity, `${q.model}: ${q.metric} ${higher ? 'below' : 'above'} ${q.threshold}`,
                    `The latest evaluation of {{ $labels.model }} puts ${q.metric} ${higher ? 'below' : 'above'} ${q.threshold}.`);
                }),
              ],
            }),
          },
        ],
      },
    });
  }

  /** Alerts when a model's quality metric (`mlops_model_quality`) passes its threshold. */
  public addModelQualityAlert(options: ModelQualityAlertOptions): this {
    const check = checkFor(this);
    if (!options?.model) check.fail('modelQuality.model', options?.model, 'is required', 'name the model as evaluation jobs publish it.');
    check.matches('modelQuality.model', options.model, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a model name');
    if (!options.metric) check.fail('modelQuality.metric', options.metric, 'is required', "name the quality metric, e.g. 'auc'.");
    check.matches('modelQuality.metric', options.metric, /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/, 'a metric name such as auc');
    if (options.threshold === undefined) check.fail('modelQuality.threshold', undefined, 'is required', 'give the threshold, e.g. 0.9.');
    check.numberInRange('modelQuality.threshold', options.threshold, -1e9, 1e9);
    this.qualityAlerts.push({ ...options });
    return this;
  }

  private rule(
    alert: string, expr: string, forDuration: string, severity: string, summary: string, description: string,
  ): PrometheusRuleSpecGroupsRules {
    return {
      alert,
      expr: PrometheusRuleSpecGroupsRulesExpr.fromString(expr),
      for: forDuration,
      labels: { ...this.baseLabels, severity },
      annotations: { summary, description },
    };
  }
}

/**
 * The prometheus-adapter rule that serves `ScalingMetric.requestsPerSecond()` to the HPA: the rate of the request
 * counter per pod, under the name the HPA asks for. Put it in the adapter's `rules.custom` (Helm values).
 *
 * @example
 * prometheusAdapterRules() // [{ seriesQuery: 'http_requests_total{namespace!="",pod!=""}', ... }]
 */
export function prometheusAdapterRules(options: { requestsTotal?: string; metricName?: string } = {}): PrometheusAdapterRule[] {
  const check = new Check('prometheusAdapterRules');
  const counter = check.matches('requestsTotal', options.requestsTotal, METRIC_NAME, 'a Prometheus metric name') ?? 'http_requests_total';
  const name = check.matches('metricName', options.metricName, METRIC_NAME, 'a Prometheus metric name') ?? 'http_requests_per_second';
  return [{
    seriesQuery: `${counter}{namespace!="",pod!=""}`,
    resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
    name: { matches: `^${counter}$`, as: name },
    metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)',
  }];
}

/** One rule of prometheus-adapter's configuration. */
export interface PrometheusAdapterRule {
  readonly seriesQuery: string;
  readonly resources: { readonly overrides: Record<string, { readonly resource: string }> };
  readonly name: { readonly matches: string; readonly as: string };
  readonly metricsQuery: string;
}
