import { Duration, Testing } from 'cdk8s';
import { newChart, ofKind, one, restrictedViolations, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { EnvironmentProfile, GpuInstance, Rollout, ValidationError } from 'mlops-constructs';
import { GpuNodeSelection, InferenceService, InferenceServiceProps, ScalingMetric, TeamNamespace } from 'mlops-constructs/k8s';

const IMAGE = 'registry.example.com/model:1.0.0';
const NEXT = 'registry.example.com/model:1.1.0';

function build(props: Partial<InferenceServiceProps> = {}, profile = EnvironmentProfile.prod()) {
  const chart = newChart(profile);
  const service = new InferenceService(chart, 'Model', { image: IMAGE, serviceName: 'scoring', ...props });
  const manifests = synth(chart);
  return { chart, service, manifests, route: one(manifests, 'HTTPRoute') };
}

describe('InferenceService defaults (all at once)', () => {
  test('one Deployment, Service, HPA and PDB; the route has a single backend without weight', () => {
    const { manifests, route, service } = build();
    for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']) {
      expect(one(manifests, kind).metadata.name).toBe('scoring');
    }
    expect(service.variants).toEqual(['current']);
    expect(route.metadata.name).toBe('scoring');
    expect(route.spec).toEqual({
      parentRefs: [{ name: 'inference', namespace: 'inference-gateway' }],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'scoring', port: 80 }], timeouts: { request: '60s' } }],
    });
  });

  test('pods: restricted security, 1 GPU with toleration, probes on the named port, writable volumes declared', () => {
    const { manifests } = build();
    const deployment = one(manifests, 'Deployment');
    const pod = deployment.spec.template.spec;
    const c = pod.containers[0];
    expect(restrictedViolations('Deployment/scoring', pod)).toEqual([]);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(c.resources).toEqual({
      requests: { 'cpu': '2', 'memory': '8Gi', 'nvidia.com/gpu': 1 },
      limits: { 'cpu': '2', 'memory': '8Gi', 'nvidia.com/gpu': 1 },
    });
    // GPU nodes are found by the nvidia.com/gpu request alone; prod serving stays off spot nodes.
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([{
      matchExpressions: [
        { key: 'karpenter.sh/capacity-type', operator: 'NotIn', values: ['spot'] },
        { key: 'eks.amazonaws.com/capacityType', operator: 'NotIn', values: ['SPOT'] },
      ],
    }]);
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 });
    expect(c.livenessProbe).toEqual({ httpGet: { path: '/v2/health/live', port: 'http' }, periodSeconds: 20, failureThreshold: 3, timeoutSeconds: 5 });
    expect(c.startupProbe).toEqual(expect.objectContaining({ failureThreshold: 60 }));
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toEqual(['/tmp', '/home/mlops', '/models']);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    expect(one(manifests, 'Service').spec).toEqual({
      type: 'ClusterIP',
      selector: { 'app.kubernetes.io/name': 'scoring', 'app.kubernetes.io/instance': 'scoring' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }, { name: 'metrics', port: 9090, targetPort: 'http', protocol: 'TCP' }],
    });
  });

  test('prod: 2 to 10 replicas, CPU 70%, zones strictly spread (GPU nodes selected by label)', () => {
    const { manifests, service } = build({ gpuNodes: GpuNodeSelection.gpuFeatureDiscovery() });
    const hpa = one(manifests, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scoring' },
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    });
    expect(service.minReplicas).toBe(2);
    // The HPA owns the replica count: the Deployment does not state one a sync would reset.
    expect(one(manifests, 'Deployment').spec.replicas).toBeUndefined();
    const spread = one(manifests, 'Deployment').spec.template.spec.topologySpreadConstraints;
    expect(spread).toEqual([
      expect.objectContaining({ topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', maxSkew: 1, matchLabelKeys: ['pod-template-hash'] }),
      expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' }),
    ]);
    expect(spread[0].labelSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'scoring', 'app.kubernetes.io/instance': 'scoring' } });
    expect(one(manifests, 'PodDisruptionBudget').spec).toEqual({
      maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'scoring', 'app.kubernetes.io/instance': 'scoring' } },
    });
  });

  test('dev: 1 to 5 replicas and zone spreading only preferred', () => {
    const { manifests } = build({}, EnvironmentProfile.dev());
    const hpa = one(manifests, 'HorizontalPodAutoscaler');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([1, 5]);
    expect(one(manifests, 'Deployment').spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable).toBe('ScheduleAnyway');
  });
});

describe('InferenceService rollouts', () => {
  test('canary: two variants, route weights 90/10', () => {
    const { manifests, route, service } = build({ candidateImage: NEXT, rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) });
    expect(service.variants).toEqual(['current', 'candidate']);
    expect(ofKind(manifests, 'Deployment').map((d) => [d.metadata.name, d.spec.template.spec.containers[0].image])).toEqual([
      ['scoring', IMAGE], ['scoring-candidate', NEXT],
    ]);
    expect(ofKind(manifests, 'HorizontalPodAutoscaler')).toHaveLength(2);
    expect(ofKind(manifests, 'PodDisruptionBudget')).toHaveLength(2);
    expect(route.spec.rules[0].backendRefs).toEqual([
      { name: 'scoring', port: 80, weight: 90 },
      { name: 'scoring-candidate', port: 80, weight: 10 },
    ]);
    expect(route.spec.rules[0].filters).toBeUndefined();
  });

  test('canary promoted: all weight on the candidate', () => {
    const { route } = build({ candidateImage: NEXT, rollout: Rollout.canary({ percent: 25, bake: Duration.minutes(5) }), promoted: true });
    expect(route.spec.rules[0].backendRefs.map((b: { weight: number }) => b.weight)).toEqual([0, 100]);
  });

  test('linear: first step weights', () => {
    const { route } = build({ candidateImage: NEXT, rollout: Rollout.linear({ stepPercent: 20, interval: Duration.minutes(10) }) });
    expect(route.spec.rules[0].backendRefs.map((b: { weight: number }) => b.weight)).toEqual([80, 20]);
  });

  test('blue/green: two Deployments, all weight on blue until promoted, then all on green', () => {
    const blue = build({ candidateImage: NEXT, rollout: Rollout.blueGreen() });
    expect(ofKind(blue.manifests, 'Deployment')).toHaveLength(2);
    expect(blue.route.spec.rules[0].backendRefs).toEqual([
      { name: 'scoring', port: 80, weight: 100 },
      { name: 'scoring-candidate', port: 80, weight: 0 },
    ]);
    const green = build({ candidateImage: NEXT, rollout: Rollout.blueGreen(), promoted: true });
    expect(green.route.spec.rules[0].backendRefs.map((b: { weight: number }) => b.weight)).toEqual([0, 100]);
  });

  test('A/B: one Deployment and Service per variant, weights from the rollout', () => {
    const { manifests, route, service } = build({
      rollout: Rollout.abTest({ weights: { control: 50, bert: 30, gbm: 20 } }),
      variantImages: { bert: 'registry.example.com/bert:2.0.0', gbm: 'registry.example.com/gbm:3.0.0' },
    });
    expect(service.variants).toEqual(['control', 'bert', 'gbm']);
    expect(ofKind(manifests, 'Deployment').map((d) => d.spec.template.spec.containers[0].image))
      .toEqual([IMAGE, 'registry.example.com/bert:2.0.0', 'registry.example.com/gbm:3.0.0']);
    // The first variant serves `image` under the base name, so starting the test keeps the warm Deployment.
    expect(ofKind(manifests, 'Service').map((s) => s.metadata.name)).toEqual(['scoring', 'scoring-bert', 'scoring-gbm']);
    expect(route.spec.rules[0].backendRefs).toEqual([
      { name: 'scoring', port: 80, weight: 50 },
      { name: 'scoring-bert', port: 80, weight: 30 },
      { name: 'scoring-gbm', port: 80, weight: 20 },
    ]);
  });

  test('shadow: all live traffic on current, a RequestMirror filter with the percent to the candidate', () => {
    const { route, manifests } = build({ candidateImage: NEXT, rollout: Rollout.shadow({ mirrorPercent: 25 }) });
    expect(ofKind(manifests, 'Deployment')).toHaveLength(2);
    expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'scoring', port: 80 }]);
    expect(route.spec.rules[0].filters).toEqual([
      { type: 'RequestMirror', requestMirror: { backendRef: { name: 'scoring-candidate', port: 80 }, percent: 25 } },
    ]);
  });
});

describe('InferenceService options', () => {
  test('requests-per-second autoscaling uses a Pods metric', () => {
    const { manifests } = build({ scaleOn: ScalingMetric.requestsPerSecond(40, 'model_rps'), minReplicas: 3, maxReplicas: 6 });
    expect(one(manifests, 'HorizontalPodAutoscaler').spec).toEqual(expect.objectContaining({
      minReplicas: 3,
      maxReplicas: 6,
      metrics: [{ type: 'Pods', pods: { metric: { name: 'model_rps' }, target: { type: 'AverageValue', averageValue: '40' } } }],
    }));
  });

  test('CPU model, instance, resources, port, paths, gateway, hostnames and env', () => {
    const { manifests, route } = build({
      gpusPerReplica: 0,
      cpu: '4',
      memory: '4Gi',
      port: 9000,
      readinessPath: '/ready',
      livenessPath: '/alive',
      gateway: { name: 'public', namespace: 'edge', sectionName: 'https' },
      hostnames: ['api.example.com'],
      pathPrefix: '/score',
      env: { LOG_LEVEL: 'debug' },
      runAsUser: 2000,
    });
    const pod = one(manifests, 'Deployment').spec.template.spec;
    const c = pod.containers[0];
    expect(c.resources).toEqual({ requests: { cpu: '4', memory: '4Gi' }, limits: { cpu: '4', memory: '4Gi' } });
    expect(pod.tolerations).toBeUndefined();
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.securityContext.runAsUser).toBe(2000);
    expect(c.ports[0].containerPort).toBe(9000);
    expect(c.readinessProbe.httpGet.path).toBe('/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/alive');
    expect(Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]))).toEqual({
      HOME: '/home/mlops',
      XDG_CACHE_HOME: '/home/mlops/.cache',
      HF_HOME: '/home/mlops/.cache/huggingface',
      TORCH_HOME: '/home/mlops/.cache/torch',
      TRITON_CACHE_DIR: '/home/mlops/.cache/triton',
      LOG_LEVEL: 'debug',
      MODEL_VARIANT: 'current',
      PORT: '9000',
      METRICS_PORT: '9000',
      MODEL_DIR: '/models',
    });
    expect(route.spec.parentRefs).toEqual([{ name: 'public', namespace: 'edge', sectionName: 'https' }]);
    expect(route.spec.hostnames).toEqual(['api.example.com']);
    expect(route.spec.rules[0].matches).toEqual([{ path: { type: 'PathPrefix', value: '/score' } }]);
    const gpu = build({ instance: GpuInstance.of('g5.12xlarge'), gpusPerReplica: 4 });
    expect(one(gpu.manifests, 'Deployment').spec.template.spec.nodeSelector).toEqual({ 'node.kubernetes.io/instance-type': 'g5.12xlarge' });
  });

  test('in a TeamNamespace: namespace, ServiceAccount, team labels and its gateway namespace', () => {
    const chart = newChart();
    const team = new TeamNamespace(chart, 'Team', { team: 'search', gatewayNamespace: 'edge', quota: { gpus: 16 } });
    new InferenceService(chart, 'Model', { image: IMAGE, namespace: team });
    const manifests = synth(chart);
    const deployment = one(manifests, 'Deployment');
    expect(deployment.metadata.namespace).toBe('search');
    expect(deployment.spec.template.spec.serviceAccountName).toBe('search-workloads');
    expect(deployment.spec.template.metadata.labels['mlops-constructs.io/team']).toBe('search');
    expect(one(manifests, 'HTTPRoute').spec.parentRefs).toEqual([{ name: 'inference', namespace: 'edge' }]);
  });

  test('generated names fit a DNS label', () => {
    const chart = newChart();
    const svc = new InferenceService(chart, 'AModelWithAVeryLongConstructIdThatGoesOnAndOnAndOn', { image: IMAGE });
    expect(svc.serviceName.length).toBeLessThanOrEqual(40);
    expect(svc.serviceName).toMatch(/^[a-z0-9-]+$/);
    synth(chart);
  });
});

describe('InferenceService bad input', () => {
  const canary = Rollout.canary({ percent: 10, bake: Duration.minutes(30) });
  const cases: [string, () => Partial<InferenceServiceProps>, RegExp][] = [
    ['HPA min above max', () => ({ minReplicas: 5, maxReplicas: 3 }), /'minReplicas' must not be greater than 'maxReplicas' \(3\).*Fix: lower 'minReplicas'/],
    ['canary without candidate image', () => ({ rollout: canary }), /'candidateImage' is required by the canary rollout/],
    ['candidate image without a rollout that uses it', () => ({ candidateImage: NEXT }), /'candidateImage' is not used by the all-at-once rollout/],
    ['variant images without A/B', () => ({ variantImages: { a: NEXT } }), /'variantImages' is only used by an A\/B rollout/],
    ['A/B variant without an image', () => ({ rollout: Rollout.abTest({ weights: { a: 50, b: 50 } }) }), /'variantImages.b' is required/],
    ['A/B image for an unknown variant', () => ({ rollout: Rollout.abTest({ weights: { a: 50, b: 50 } }), variantImages: { b: NEXT, c: NEXT } }), /'variantImages.c' names no variant/],
    ['promoted shadow', () => ({ candidateImage: NEXT, rollout: Rollout.shadow(), promoted: true }), /'promoted' does not apply to the shadow rollout/],
    ['unpinned candidate image', () => ({ rollout: canary, candidateImage: 'model' }), /'candidateImage' must be pinned/],
    ['too many GPUs per replica', () => ({ gpusPerReplica: 9 }), /'gpusPerReplica'.*between 0 and 8/],
    ['more GPUs than the instance', () => ({ instance: GpuInstance.of('g5.xlarge'), gpusPerReplica: 2 }), /'gpusPerReplica'.*more than the 1 GPUs of g5.xlarge/],
    ['privileged port', () => ({ port: 80 }), /'port'.*unprivileged port/],
    ['relative readiness path', () => ({ readinessPath: 'ready' }), /'readinessPath'.*absolute HTTP path/],
    ['bad hostname', () => ({ hostnames: ['Not A Host'] }), /'hostnames\[0\]'.*DNS host name/],
    ['reserved env', () => ({ env: { PORT: '1' } }), /'env.PORT' is set by the construct/],
    ['zero min replicas', () => ({ minReplicas: 0 }), /'minReplicas'.*between 1 and 1000/],
    ['not a rollout', () => ({ rollout: { kind: 'canary' } as unknown as Rollout }), /'rollout' must be a Rollout/],
    ['service name with capitals', () => ({ serviceName: 'Scoring' }), /'serviceName'/],
    ['no image', () => ({ image: '' }), /'image' is required/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(() => build(props())).toThrow(ValidationError);
    expect(() => build(props())).toThrow(message);
  });

  test('invalid canary weights are rejected by the core Rollout', () => {
    expect(() => Rollout.canary({ percent: 70, bake: Duration.minutes(5) })).toThrow(/'canary.percent'.*Fix: a canary takes 1 to 50 percent/);
    expect(() => Rollout.abTest({ weights: { a: 60, b: 60 } })).toThrow(/'abTest.weights' must sum to 100/);
  });

  test('invalid scaling metrics', () => {
    expect(() => ScalingMetric.cpuUtilization(0)).toThrow(/'scaleOn.cpuUtilization'.*between 1 and 100/);
    expect(() => ScalingMetric.requestsPerSecond(-5)).toThrow(/'scaleOn.requestsPerSecond'.*greater than 0/);
    expect(() => ScalingMetric.requestsPerSecond(5, 'bad metric')).toThrow(/'scaleOn.metricName'/);
  });

  test('GPU quota of the TeamNamespace below the GPUs the variants can scale to', () => {
    const chart = newChart();
    const team = new TeamNamespace(chart, 'Team', { team: 'small', quota: { gpus: 3 } });
    expect(() => new InferenceService(chart, 'Model', { image: IMAGE, candidateImage: NEXT, namespace: team, rollout: canary }))
      .toThrow(/test\/Model: 'maxReplicas' brings the GPUs namespace 'small' can need at once to 22, more than its quota of 3: test\/Model \(2 variant\(s\) x \(10 \+ 1 surge\) replicas x 1 GPU\(s\), 2 CPU, 8Gi: 22 GPUs\).*Fix: raise 'quota.gpus' of TeamNamespace 'test\/Team' to at least 22/);
  });

  test('outside an MlopsChart the prod defaults apply', () => {
    const chart = Testing.chart();
    new InferenceService(chart, 'Model', { image: IMAGE });
    expect(one(synth(chart), 'HorizontalPodAutoscaler').spec.minReplicas).toBe(2);
  });
});

validatesEverySynthesizedManifest();
