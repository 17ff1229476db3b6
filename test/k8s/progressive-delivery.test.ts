// Issue #17 on Kubernetes: the core Rollout value drives an Argo Rollouts canary (or blue/green) with an
// AnalysisTemplate on the metric contract's Prometheus metrics; KEDA scales services to zero off hours or when idle.
import { Duration } from 'cdk8s';
import { Manifest, newChart, ofKind, one, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { EnvironmentProfile, Rollout } from 'mlops-constructs';
import { InferenceService, InferenceServiceProps, ProgressiveDelivery, ScaleToZero, ScalingMetric, ServingProtocol, TeamNamespace } from 'mlops-constructs/k8s';

const IMAGE = 'registry.example.com/model:1.0.0';
const NEXT = 'registry.example.com/model:1.1.0';

function build(props: Partial<InferenceServiceProps> = {}, profile = EnvironmentProfile.prod()) {
  const chart = newChart(profile);
  const team = new TeamNamespace(chart, 'Team', { team: 'fraud', quota: { gpus: 64, cpu: 1000, memoryGiB: 4000 } });
  const construct = new InferenceService(chart, 'Model', { image: IMAGE, serviceName: 'scoring', namespace: team, ...props });
  return { construct, manifests: synth(chart) };
}

const argo = (props: Partial<InferenceServiceProps> = {}, profile?: EnvironmentProfile) =>
  build({
    progressiveDelivery: ProgressiveDelivery.argoRollouts(), rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }), ...props,
  }, profile);

describe('Argo Rollouts canary driven by the core Rollout', () => {
  test('the Rollout steps are the core Rollout\'s steps: set weight, wait the bake time, then all traffic', () => {
    const rollout = one(argo().manifests, 'Rollout');
    expect(rollout.spec.strategy.canary.steps).toEqual([{ setWeight: 10 }, { pause: { duration: '1800s' } }, { setWeight: 100 }]);
    const linear = one(argo({ rollout: Rollout.linear({ stepPercent: 25, interval: Duration.minutes(10) }) }).manifests, 'Rollout');
    expect(linear.spec.strategy.canary.steps).toEqual([
      { setWeight: 25 }, { pause: { duration: '600s' } }, { setWeight: 50 }, { pause: { duration: '600s' } },
      { setWeight: 75 }, { pause: { duration: '600s' } }, { setWeight: 100 },
    ]);
  });

  test('the Rollout runs the Deployment\'s pod template, routes through the HTTPRoute plugin and analyses the canary Service in the background', () => {
    const { manifests } = argo();
    const rollout = one(manifests, 'Rollout');
    expect(rollout.spec.workloadRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'scoring', scaleDown: 'progressively' });
    expect(rollout.spec.selector).toEqual(one(manifests, 'Deployment').spec.selector);
    expect(rollout.spec.strategy.canary).toEqual(expect.objectContaining({
      stableService: 'scoring',
      canaryService: 'scoring-canary',
      trafficRouting: { plugins: { 'argoproj-labs/gatewayAPI': { httpRoute: 'scoring', namespace: 'fraud' } } },
      analysis: { templates: [{ templateName: 'scoring-analysis' }], args: [{ name: 'service', value: 'scoring-canary' }], startingStep: 1 },
    }));
    expect(ofKind(manifests, 'Service').map((s) => s.metadata.name)).toEqual(['scoring', 'scoring-canary']);
    // The plugin moves these weights; the manifest starts with everything on the stable Service.
    expect(one(manifests, 'HTTPRoute').spec.rules[0].backendRefs).toEqual([{ name: 'scoring', port: 80, weight: 100 }, { name: 'scoring-canary', port: 80, weight: 0 }]);
    expect(one(manifests, 'HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'scoring' });
  });

  test('the AnalysisTemplate measures error rate and p99 latency against the profile\'s thresholds, and model quality when asked', () => {
    const withGate = argo({ progressiveDelivery: ProgressiveDelivery.argoRollouts({ qualityGate: { model: 'fraud', metric: 'auc', threshold: 0.9 }, failureLimit: 1 }) });
    const template = one(withGate.manifests, 'AnalysisTemplate');
    expect(template.spec.args).toEqual([{ name: 'service' }]);
    const metrics = Object.fromEntries(template.spec.metrics.map((m: Manifest) => [m.name, m]));
    expect(Object.keys(metrics)).toEqual(['error-rate', 'latency-p99', 'model-quality']);
    expect(metrics['error-rate']).toEqual({
      name: 'error-rate',
      interval: '60s',
      failureLimit: 1,
      failureCondition: 'len(result) > 0 && !isNaN(result[0]) && result[0] > 0.01',
      provider: {
        prometheus: {
          address: 'http://prometheus-operated.monitoring.svc:9090',
          query: 'sum(rate(http_requests_total{namespace="fraud",service="{{args.service}}",code=~"5.."}[2m])) / sum(rate(http_requests_total{namespace="fraud",service="{{args.service}}"}[2m]))',
        },
      },
    });
    expect(metrics['latency-p99'].failureCondition).toBe('len(result) > 0 && !isNaN(result[0]) && result[0] > 0.5');
    expect(metrics['model-quality'].provider.prometheus.query).toBe('min(mlops_model_quality{model="fraud",metric="auc"})');
    expect(metrics['model-quality'].failureCondition).toMatch(/result\[0\] < 0\.9$/);
    const dev = one(argo({}, EnvironmentProfile.dev()).manifests, 'AnalysisTemplate');
    expect(dev.spec.metrics[1].failureCondition).toMatch(/result\[0\] > 2$/);
  });

  test('blue/green: active and preview Services, analysis before and after the switch, the old version kept for the bake time', () => {
    const { manifests } = argo({ rollout: Rollout.blueGreen({ bake: Duration.minutes(15) }) });
    expect(one(manifests, 'Rollout').spec.strategy).toEqual({
      blueGreen: {
        activeService: 'scoring',
        previewService: 'scoring-preview',
        autoPromotionEnabled: true,
        prePromotionAnalysis: { templates: [{ templateName: 'scoring-analysis' }], args: [{ name: 'service', value: 'scoring-preview' }] },
        postPromotionAnalysis: { templates: [{ templateName: 'scoring-analysis' }], args: [{ name: 'service', value: 'scoring' }] },
        scaleDownDelaySeconds: 900,
      },
    });
  });

  test('gRPC servers are routed through the GRPCRoute', () => {
    const rollout = one(argo({ protocol: ServingProtocol.GRPC, port: 8001, metricsPort: 8002 }).manifests, 'Rollout');
    expect(rollout.spec.strategy.canary.trafficRouting.plugins['argoproj-labs/gatewayAPI']).toEqual({ grpcRoute: 'scoring', namespace: 'fraud' });
  });

  test('a candidate image, A/B tests and shadows are for gateway weights', () => {
    expect(() => argo({ candidateImage: NEXT })).toThrow(/'candidateImage' is not used with Argo Rollouts.*set 'image' to the new model/);
    expect(() => argo({ rollout: Rollout.shadow() })).toThrow(/'rollout' is a rollout Argo Rollouts cannot perform.*ProgressiveDelivery.gatewayWeights/);
    expect(() => ProgressiveDelivery.argoRollouts({ prometheusAddress: 'prometheus:9090' })).toThrow(/'progressiveDelivery.prometheusAddress' must be an http\(s\) URL/);
    expect(() => ProgressiveDelivery.argoRollouts({ analysisInterval: Duration.seconds(5) })).toThrow(/'progressiveDelivery.analysisInterval'/);
  });
});

describe('KEDA scale to zero', () => {
  test('off hours: a cron trigger keeps minReplicas in the profile\'s working hours and none outside; no HPA', () => {
    const { manifests } = build({ scaleToZero: ScaleToZero.offHours() }, EnvironmentProfile.dev());
    expect(ofKind(manifests, 'HorizontalPodAutoscaler')).toEqual([]);
    const scaled = one(manifests, 'ScaledObject');
    expect(scaled.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scoring' },
      minReplicaCount: 0,
      maxReplicaCount: 5,
      cooldownPeriod: 300,
      triggers: [
        { type: 'cpu', metricType: 'Utilization', metadata: { value: '70' } },
        { type: 'cron', metadata: { timezone: 'UTC', start: '0 8 * * MON,TUE,WED,THU,FRI', end: '0 20 * * MON,TUE,WED,THU,FRI', desiredReplicas: '1' } },
      ],
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } } },
    });
  });

  test('off hours with explicit hours; an always-on profile without hours is an error', () => {
    const scaled = one(build({ scaleToZero: ScaleToZero.offHours({ startHour: 6, endHour: 24, timeZone: 'Europe/Berlin' }) }).manifests, 'ScaledObject');
    expect(scaled.spec.triggers[1].metadata).toEqual({ timezone: 'Europe/Berlin', start: '0 6 * * MON,TUE,WED,THU,FRI', end: '59 23 * * MON,TUE,WED,THU,FRI', desiredReplicas: '2' });
    expect(() => build({ scaleToZero: ScaleToZero.offHours() })).toThrow(/'scaleToZero' has no working hours: profile 'prod' is always on/);
  });

  test('when idle: a Prometheus trigger on a rate that exists without replicas, requests per second on the pods, cooldown = idle time', () => {
    const { manifests } = build({
      scaleOn: ScalingMetric.requestsPerSecond(20),
      scaleToZero: ScaleToZero.whenIdle({ requestRateQuery: 'sum(rate(envoy_cluster_upstream_rq_total{envoy_cluster_name=~"httproute/fraud/scoring/.*"}[5m]))', idleFor: Duration.minutes(45) }),
    });
    const scaled = one(manifests, 'ScaledObject');
    expect(scaled.spec.cooldownPeriod).toBe(2700);
    expect(scaled.spec.triggers).toEqual([
      { type: 'prometheus', metricType: 'AverageValue', metadata: { serverAddress: 'http://prometheus-operated.monitoring.svc:9090', query: 'sum(rate(http_requests_total{namespace="fraud",service="scoring"}[2m]))', threshold: '20' } },
      { type: 'prometheus', metadata: { serverAddress: 'http://prometheus-operated.monitoring.svc:9090', query: 'sum(rate(envoy_cluster_upstream_rq_total{envoy_cluster_name=~"httproute/fraud/scoring/.*"}[5m]))', threshold: '20', activationThreshold: '0' } },
    ]);
    expect(() => ScaleToZero.whenIdle({ requestRateQuery: '' })).toThrow(/'scaleToZero.whenIdle.requestRateQuery' is required/);
  });

  test('with Argo Rollouts the ScaledObject scales the Rollout', () => {
    const scaled = one(argo({ scaleToZero: ScaleToZero.offHours({ startHour: 8, endHour: 18 }) }).manifests, 'ScaledObject');
    expect(scaled.spec.scaleTargetRef).toEqual({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'scoring' });
  });
});

validatesEverySynthesizedManifest();
