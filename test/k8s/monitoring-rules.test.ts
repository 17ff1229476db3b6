import { Duration, Testing } from 'cdk8s';
import { newChart, one, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { EnvironmentProfile, ValidationError } from 'mlops-constructs';
import { MLOPS_ALERTS, MonitoringRules, MonitoringRulesProps, TeamNamespace } from 'mlops-constructs/k8s';

function build(props: MonitoringRulesProps = {}, profile = EnvironmentProfile.prod()) {
  const chart = newChart(profile);
  new MonitoringRules(chart, 'Monitoring', { namespace: 'models', ...props });
  const manifests = synth(chart);
  const rules = one(manifests, 'PrometheusRule');
  const alerts = Object.fromEntries(rules.spec.groups
    .flatMap((g: { rules: { alert: string }[] }) => g.rules)
    .map((r: { alert: string }) => [r.alert, r]));
  return { manifests, rules, alerts, monitor: one(manifests, 'ServiceMonitor') };
}

describe('MonitoringRules defaults', () => {
  test('ServiceMonitor scrapes every inference Service on the metrics port every 30 s in the namespace', () => {
    const { monitor } = build();
    expect(monitor.metadata.namespace).toBe('models');
    expect(monitor.spec).toEqual({
      selector: { matchLabels: { 'app.kubernetes.io/component': 'inference' } },
      namespaceSelector: { matchNames: ['models'] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scheme: 'http' }],
    });
  });

  test('every alert but model quality (which needs a threshold per model), thresholds from the prod profile, serving alerts critical', () => {
    const profile = EnvironmentProfile.prod();
    const { alerts } = build({}, profile);
    expect(Object.keys(alerts).sort()).toEqual(Object.values(MLOPS_ALERTS).filter((a) => a !== MLOPS_ALERTS.modelQuality).sort());
    expect(alerts[MLOPS_ALERTS.latencyP99].expr).toBe(
      `histogram_quantile(0.99, sum by (namespace, service, le) (rate(http_request_duration_seconds_bucket{namespace="models"}[5m]))) > ${profile.alarms.latencyP99Ms / 1000}`);
    expect(alerts[MLOPS_ALERTS.latencyP99].expr).toMatch(/ > 0\.5$/);
    expect(alerts[MLOPS_ALERTS.errorRate].expr).toBe(
      '100 * sum by (namespace, service) (rate(http_requests_total{namespace="models",code=~"5.."}[5m])) / sum by (namespace, service) (rate(http_requests_total{namespace="models"}[5m])) > 1');
    // dcgm-exporter's namespace and pod arrive as exported_* with the usual honorLabels: false, and are renamed back.
    expect(alerts[MLOPS_ALERTS.gpuUtilizationLow].expr).toBe('label_replace(label_replace(avg by (exported_namespace, exported_pod) '
      + '(DCGM_FI_DEV_GPU_UTIL{exported_namespace="models",exported_pod!=""}), "namespace", "$1", "exported_namespace", "(.*)"), "pod", "$1", "exported_pod", "(.*)") < 20');
    expect(alerts[MLOPS_ALERTS.featureDrift].expr).toBe(`max by (namespace, model) (mlops_feature_drift_score{namespace="models"}) > ${profile.alarms.driftScore}`);
    expect(alerts[MLOPS_ALERTS.latencyP99].labels).toEqual({ environment: 'prod', severity: 'critical' });
    expect(alerts[MLOPS_ALERTS.errorRate].labels.severity).toBe('critical');
    expect(alerts[MLOPS_ALERTS.gpuUtilizationLow].labels.severity).toBe('warning');
    expect(alerts[MLOPS_ALERTS.featureDrift].labels.severity).toBe('warning');
    expect([alerts[MLOPS_ALERTS.latencyP99].for, alerts[MLOPS_ALERTS.gpuUtilizationLow].for, alerts[MLOPS_ALERTS.featureDrift].for]).toEqual(['5m', '30m', '15m']);
    expect(alerts[MLOPS_ALERTS.latencyP99].annotations.summary).toBe('p99 latency above 500 ms');
  });

  test('dev: looser thresholds from the dev profile and warning severity only', () => {
    const dev = EnvironmentProfile.dev();
    const { alerts } = build({}, dev);
    expect(alerts[MLOPS_ALERTS.latencyP99].expr).toMatch(/ > 2$/);
    expect(alerts[MLOPS_ALERTS.errorRate].expr).toMatch(new RegExp(` > ${dev.alarms.errorRatePercent}$`));
    expect(alerts[MLOPS_ALERTS.gpuUtilizationLow].expr).toMatch(/ < 10$/);
    expect(alerts[MLOPS_ALERTS.featureDrift].expr).toMatch(/ > 0\.3$/);
    for (const alert of Object.values(alerts) as { labels: { severity: string; environment: string } }[]) {
      expect(alert.labels).toEqual(expect.objectContaining({ severity: 'warning', environment: 'dev' }));
    }
  });

  test('profile overrides flow into the rules', () => {
    const { alerts } = build({}, EnvironmentProfile.prod({ alarms: { latencyP99Ms: 250, driftScore: 0.15 } }));
    expect(alerts[MLOPS_ALERTS.latencyP99].expr).toMatch(/ > 0\.25$/);
    expect(alerts[MLOPS_ALERTS.featureDrift].expr).toMatch(/ > 0\.15$/);
  });
});

describe('MonitoringRules options', () => {
  test('selector, Prometheus labels, interval and metric names', () => {
    const { monitor, rules, alerts } = build({
      serviceSelector: { app: 'scorer' },
      prometheusLabels: { release: 'kps' },
      scrapeInterval: Duration.seconds(15),
      metrics: { latencyHistogram: 'model_latency_seconds', requestsTotal: 'model_requests_total' },
    });
    expect(monitor.spec.selector).toEqual({ matchLabels: { app: 'scorer' } });
    expect(monitor.spec.endpoints[0].interval).toBe('15s');
    expect(monitor.metadata.labels.release).toBe('kps');
    expect(rules.metadata.labels.release).toBe('kps');
    expect(alerts[MLOPS_ALERTS.latencyP99].expr).toContain('rate(model_latency_seconds_bucket{namespace="models"}[5m])');
    expect(alerts[MLOPS_ALERTS.errorRate].expr).toContain('rate(model_requests_total{namespace="models",code=~"5.."}[5m])');
  });

  test('in a TeamNamespace: its namespace, team label on alerts and team cost labels', () => {
    const chart = newChart();
    const team = new TeamNamespace(chart, 'Team', { team: 'ads' });
    new MonitoringRules(chart, 'Monitoring', { namespace: team });
    const manifests = synth(chart);
    const rules = one(manifests, 'PrometheusRule');
    expect(rules.metadata.namespace).toBe('ads');
    expect(rules.metadata.labels['mlops-constructs.io/team']).toBe('ads');
    expect(rules.spec.groups[0].rules[0].labels).toEqual({ environment: 'prod', team: 'ads', severity: 'critical' });
    expect(rules.spec.groups[0].rules[0].expr).toContain('{namespace="ads"}');
  });

  test('without a namespace the rules watch the whole cluster', () => {
    const chart = Testing.chart();
    new MonitoringRules(chart, 'Monitoring');
    const manifests = synth(chart);
    expect(one(manifests, 'ServiceMonitor').spec.namespaceSelector).toBeUndefined();
    const drift = one(manifests, 'PrometheusRule').spec.groups.flatMap((g: { rules: { alert: string }[] }) => g.rules).find((r: { alert: string }) => r.alert === MLOPS_ALERTS.featureDrift);
    expect(drift.expr).toBe('max by (namespace, model) (mlops_feature_drift_score) > 0.2');
  });
});

describe('MonitoringRules bad input', () => {
  const cases: [string, MonitoringRulesProps, RegExp][] = [
    ['empty selector', { serviceSelector: {} }, /'serviceSelector' must have at least one label/],
    ['scrape too often', { scrapeInterval: Duration.seconds(1) }, /'scrapeInterval'.*every 5 seconds to 5 minutes/],
    ['scrape too rarely', { scrapeInterval: Duration.minutes(10) }, /'scrapeInterval'/],
    ['bad latency metric', { metrics: { latencyHistogram: 'latency-seconds' } }, /'metrics.latencyHistogram'.*Prometheus metric name/],
    ['bad requests metric', { metrics: { requestsTotal: '1requests' } }, /'metrics.requestsTotal'/],
    ['bad namespace name', { namespace: 'Models' }, /'namespace'/],
    ['selector value with a space', { serviceSelector: { app: 'my model' } }, /'serviceSelector.app'.*label value/],
    ['Prometheus label key with a space', { prometheusLabels: { 'my release': 'x' } }, /'prometheusLabels.my release'.*label key/],
    ['fractional scrape interval', { scrapeInterval: Duration.millis(7500) }, /'scrapeInterval'.*whole number/],
    ['namespace of the wrong type', { namespace: {} as unknown as string }, /'namespace' must be a TeamNamespace or a namespace name/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(() => build(props)).toThrow(ValidationError);
    expect(() => build(props)).toThrow(message);
  });
});

validatesEverySynthesizedManifest();
