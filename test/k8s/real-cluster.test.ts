// One describe per numbered problem of issue #19 ("Kubernetes workloads that survive a real cluster"): each asserts
// the corrected manifest.
import { Duration } from 'cdk8s';
import { Manifest, newChart, ofKind, one, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { EnvironmentProfile, GpuInstance, Rollout, ValidationError } from 'mlops-constructs';
import {
  CapacityType, Checkpoint, GatewayTraffic, GpuNodeSelection, GpuTrainingJob, GpuTrainingJobProps, InferenceService, InferenceServiceProps,
  MLOPS_ALERTS, MonitoringRules, prometheusAdapterRules, ScalingMetric, TeamNamespace,
} from 'mlops-constructs/k8s';

const IMAGE = 'registry.example.com/model:1.0.0';
const NEXT = 'registry.example.com/model:1.1.0';
const TRAINER = 'registry.example.com/trainer:1.0.0';
const canary = () => Rollout.canary({ percent: 10, bake: Duration.minutes(30) });

function job(props: Partial<GpuTrainingJobProps> = {}, profile = EnvironmentProfile.prod()) {
  const chart = newChart(profile);
  const construct = new GpuTrainingJob(chart, 'Train', { image: TRAINER, jobName: 'train', ...props });
  const manifests = synth(chart);
  return { construct, manifests, job: one(manifests, 'Job') };
}

function service(props: Partial<InferenceServiceProps> = {}, profile = EnvironmentProfile.prod()) {
  const chart = newChart(profile);
  const construct = new InferenceService(chart, 'Model', { image: IMAGE, serviceName: 'scoring', ...props });
  const manifests = synth(chart);
  return { construct, manifests, route: ofKind(manifests, 'HTTPRoute')[0] as Manifest };
}

const envOf = (podSpec: Manifest) => Object.fromEntries(podSpec.containers[0].env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));

describe('1. scheduling: GPU nodes by resource request, optional node labels, capacity type', () => {
  test('by default no node label is required: the nvidia.com/gpu request finds GPU nodes on any cluster with the device plugin', () => {
    const pod = job().job.spec.template.spec;
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.containers[0].resources.requests['nvidia.com/gpu']).toBe(1);
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  test.each([
    ['GPU Feature Discovery', GpuNodeSelection.gpuFeatureDiscovery(), { 'nvidia.com/gpu.present': 'true' }],
    ['EksGpuCluster', GpuNodeSelection.eksGpuCluster(), { 'nvidia.com/gpu.present': 'true' }],
    ['one EksGpuCluster node group', GpuNodeSelection.eksGpuCluster('gpu-on-demand'), { 'nvidia.com/gpu.present': 'true', 'mlops-constructs/node-group': 'gpu-on-demand' }],
    ['a Karpenter NodePool', GpuNodeSelection.karpenterNodePool('gpu'), { 'karpenter.sh/nodepool': 'gpu' }],
    ['custom labels', GpuNodeSelection.labels({ 'example.com/accelerator': 'a10g' }), { 'example.com/accelerator': 'a10g' }],
  ])('%s selection adds its labels to jobs and GPU services', (_name, gpuNodes, labels) => {
    expect(job({ gpuNodes }).job.spec.template.spec.nodeSelector).toEqual(labels);
    expect(one(service({ gpuNodes }).manifests, 'Deployment').spec.template.spec.nodeSelector).toEqual(labels);
  });

  test('a CPU model ignores the GPU selection and tolerates no GPU taint', () => {
    const pod = one(service({ gpusPerReplica: 0, gpuNodes: GpuNodeSelection.gpuFeatureDiscovery() }).manifests, 'Deployment').spec.template.spec;
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.tolerations).toBeUndefined();
  });

  test('prod serving avoids spot nodes of Karpenter and of EKS managed node groups; dev may use them; spot can be required', () => {
    const affinity = (s: ReturnType<typeof service>) => one(s.manifests, 'Deployment').spec.template.spec.affinity;
    expect(affinity(service()).nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([{
      matchExpressions: [
        // NotIn also matches nodes without the label, so self-managed on-demand groups qualify.
        { key: 'karpenter.sh/capacity-type', operator: 'NotIn', values: ['spot'] },
        { key: 'eks.amazonaws.com/capacityType', operator: 'NotIn', values: ['SPOT'] },
      ],
    }]);
    expect(affinity(service({}, EnvironmentProfile.dev()))).toBeUndefined();
    const spot = affinity(service({ capacityType: CapacityType.SPOT }));
    expect(spot.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] }] },
      { matchExpressions: [{ key: 'eks.amazonaws.com/capacityType', operator: 'In', values: ['SPOT'] }] },
    ]);
    // Training checkpoints, so it may run on spot; it can be kept on-demand.
    expect(job().job.spec.template.spec.affinity).toBeUndefined();
    expect(job({ capacityType: CapacityType.ON_DEMAND }).job.spec.template.spec.affinity.nodeAffinity).toBeDefined();
  });

  test('prod GPU replicas are strictly spread over zones only where node labels limit the zones to those with GPU nodes', () => {
    const zone = (s: ReturnType<typeof service>) => one(s.manifests, 'Deployment').spec.template.spec.topologySpreadConstraints
      .find((c: Manifest) => c.topologyKey === 'topology.kubernetes.io/zone').whenUnsatisfiable;
    // By resource request every zone with any node counts: GPU nodes in one zone would leave the second replica Pending.
    expect(zone(service())).toBe('ScheduleAnyway');
    expect(zone(service({ gpuNodes: GpuNodeSelection.karpenterNodePool('gpu') }))).toBe('DoNotSchedule');
    expect(zone(service({ instance: GpuInstance.of('g5.2xlarge') }))).toBe('DoNotSchedule');
    expect(zone(service({ gpusPerReplica: 0 }))).toBe('DoNotSchedule');
    expect(zone(service({ gpuNodes: GpuNodeSelection.gpuFeatureDiscovery() }, EnvironmentProfile.dev()))).toBe('ScheduleAnyway');
  });

  test('bad selections are ValidationErrors', () => {
    expect(() => GpuNodeSelection.karpenterNodePool('')).toThrow(/'gpuNodes.karpenterNodePool' is required/);
    expect(() => GpuNodeSelection.labels({})).toThrow(/'gpuNodes.labels' must name at least one label/);
    expect(() => job({ capacityType: 'cheap' as CapacityType })).toThrow(/'capacityType' must be one of "on-demand", "spot", "any"/);
    expect(() => job({ gpuNodes: { 'nvidia.com/gpu.present': 'true' } as unknown as GpuNodeSelection })).toThrow(/'gpuNodes' must be a GpuNodeSelection/);
  });
});

describe('2. distributed training failures', () => {
  test('disruptions are not failures, a failing trainer fails the job, replacements wait for the old pod', () => {
    const { job: j } = job({ distributed: { workers: 2 } });
    expect(j.spec.podFailurePolicy).toEqual({
      rules: [
        { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
        { action: 'FailJob', onExitCodes: { containerName: 'trainer', operator: 'NotIn', values: [0] } },
      ],
    });
    expect(j.spec.podReplacementPolicy).toBe('Failed');
  });

  test('declared retriable exit codes count against backoffLimit instead', () => {
    const { job: j } = job({ retriableExitCodes: [75, 3, 3], backoffLimit: 2 });
    expect(j.spec.podFailurePolicy.rules[1].onExitCodes).toEqual({ containerName: 'trainer', operator: 'NotIn', values: [3, 75] });
    expect(j.spec.backoffLimit).toBe(2);
    expect(() => job({ retriableExitCodes: [0] })).toThrow(/'retriableExitCodes\[0\]'.*between 1 and 255/);
  });

  test('elastic c10d rendezvous with restarts, and PyTorch variables with WORLD_SIZE counting processes', () => {
    const { job: j, construct } = job({ gpusPerWorker: 8, distributed: { workers: 4, maxRestarts: 5 } });
    const env = envOf(j.spec.template.spec);
    expect(env).toEqual(expect.objectContaining({
      WORLD_SIZE: '32',
      NNODES: '4',
      NPROC_PER_NODE: '8',
      PET_NNODES: '4',
      PET_NPROC_PER_NODE: '8',
      PET_RDZV_BACKEND: 'c10d',
      PET_RDZV_ID: construct.jobName,
      PET_MAX_RESTARTS: '5',
      PET_RDZV_ENDPOINT: `${construct.jobName}-0.train-workers:29500`,
    }));
  });

  test('running jobs are protected from voluntary disruption: do-not-disrupt and a PDB over every worker', () => {
    const { job: j, manifests, construct } = job({ distributed: { workers: 3 } });
    expect(j.spec.template.metadata.annotations).toEqual({ 'karpenter.sh/do-not-disrupt': 'true' });
    expect(one(manifests, 'PodDisruptionBudget').spec).toEqual({ minAvailable: 3, selector: { matchLabels: { 'app.kubernetes.io/instance': construct.jobName } } });
    const unprotected = job({ protectFromDisruption: false });
    expect(unprotected.job.spec.template.metadata.annotations).toBeUndefined();
    expect(ofKind(unprotected.manifests, 'PodDisruptionBudget')).toEqual([]);
  });
});

describe('3. gang scheduling and quota (Kueue; namespace sums in quota.test.ts)', () => {
  test('a TeamNamespace with a queue gets a LocalQueue, and its jobs the queue-name label', () => {
    const chart = newChart();
    const team = new TeamNamespace(chart, 'Team', { team: 'vision', quota: { gpus: 16 }, queue: { clusterQueue: 'gpu-training' } });
    const train = new GpuTrainingJob(chart, 'Train', { image: TRAINER, namespace: team, gpusPerWorker: 4, distributed: { workers: 2 } });
    const manifests = synth(chart);
    expect(one(manifests, 'LocalQueue')).toEqual(expect.objectContaining({
      apiVersion: 'kueue.x-k8s.io/v1beta2', metadata: expect.objectContaining({ name: 'default', namespace: 'vision' }), spec: { clusterQueue: 'gpu-training' },
    }));
    const j = one(manifests, 'Job');
    expect(j.metadata.labels['kueue.x-k8s.io/queue-name']).toBe('default');
    expect(train.queueName).toBe('default');
    // Kueue's webhook suspends it at creation; a manifest `suspend: true` re-applied by GitOps would kill a running job.
    expect(j.spec.suspend).toBeUndefined();
  });

  test('queue names are validated', () => {
    const chart = newChart();
    expect(() => new TeamNamespace(chart, 'Team', { team: 'x', queue: { clusterQueue: '' } })).toThrow(/'queue.clusterQueue' is required/);
    expect(() => job({ queueName: 'Queue' })).toThrow(/'queueName' must be lower-case/);
  });
});

describe('4. a rollout never replaces the warm Deployment', () => {
  test.each([
    ['canary', { candidateImage: NEXT, rollout: canary() }],
    ['canary promoted', { candidateImage: NEXT, rollout: canary(), promoted: true }],
    ['blue/green', { candidateImage: NEXT, rollout: Rollout.blueGreen() }],
    ['shadow', { candidateImage: NEXT, rollout: Rollout.shadow() }],
    ['A/B with the current image first', { rollout: Rollout.abTest({ weights: { current: 80, challenger: 20 } }), variantImages: { challenger: NEXT } }],
  ] as [string, Partial<InferenceServiceProps>][])('%s keeps the current model in Deployment "scoring" with the same selector as a single variant', (_name, props) => {
    const before = one(service().manifests, 'Deployment');
    const during = ofKind(service(props).manifests, 'Deployment').find((d) => d.metadata.name === 'scoring');
    expect(during).toBeDefined();
    expect(during.spec.selector).toEqual(before.spec.selector);
    expect(during.spec.template.spec.containers[0].image).toBe(IMAGE);
  });
});

describe('5. autoscaled Deployments state no replica count', () => {
  test('no Deployment of any rollout sets replicas; the HPA holds min and max', () => {
    for (const props of [{}, { candidateImage: NEXT, rollout: canary() }] as Partial<InferenceServiceProps>[]) {
      const { manifests } = service(props);
      for (const d of ofKind(manifests, 'Deployment')) expect(d.spec.replicas).toBeUndefined();
      for (const h of ofKind(manifests, 'HorizontalPodAutoscaler')) expect([h.spec.minReplicas, h.spec.maxReplicas]).toEqual([2, 10]);
    }
  });
});

describe('6. GitOps re-apply (the example applied twice in gitops.test.ts)', () => {
  test('the Job name is its base name and a hash of its spec: same spec, same name; new image, new Job', () => {
    const a = job().construct.jobName;
    expect(job().construct.jobName).toBe(a);
    const b = job({ image: 'registry.example.com/trainer:1.0.1' }).construct.jobName;
    expect(b).not.toBe(a);
    expect([a, b].map((n) => n.replace(/-[0-9a-f]{8}$/, ''))).toEqual(['train', 'train']);
  });

  test('finished jobs stay until pruned unless keepFinishedFor is set', () => {
    expect(job().job.spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(job({ keepFinishedFor: Duration.hours(1) }).job.spec.ttlSecondsAfterFinished).toBe(3600);
  });
});

describe('7. names the API server accepts', () => {
  test('the longest service name with the longest variant name stays within 63 characters and distinct', () => {
    const long = 'a'.repeat(40);
    const variants = { ['b'.repeat(30) + 'c']: 50, ['b'.repeat(30) + 'd']: 50 };
    const { manifests } = service({ serviceName: long, rollout: Rollout.abTest({ weights: variants }), variantImages: { ['b'.repeat(30) + 'd']: NEXT } });
    const names = ofKind(manifests, 'Service').map((s) => s.metadata.name);
    expect(new Set(names).size).toBe(2);
    for (const name of names) expect(name).toMatch(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/);
  });

  test('a variant or object name ending in "-" is rejected', () => {
    expect(() => Rollout.abTest({ weights: { 'svc-a-': 50, 'b': 50 } })).toThrow(/'abTest.weights.svc-a-'/);
    expect(() => service({ serviceName: 'scoring-' })).toThrow(/'serviceName' must be lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit/);
  });
});

describe('8. alerts that fire', () => {
  function rules(props: ConstructorParameters<typeof MonitoringRules>[2] = {}) {
    const chart = newChart();
    const monitoring = new MonitoringRules(chart, 'Monitoring', { namespace: 'fraud', ...props });
    monitoring.addModelQualityAlert({ model: 'fraud', metric: 'rmse', threshold: 0.3, higherIsBetter: false });
    const rule = one(synth(chart), 'PrometheusRule');
    return rule.spec.groups.flatMap((g: Manifest) => g.rules) as Manifest[];
  }
  const byAlert = (all: Manifest[], name: string) => all.filter((r) => r.alert === name).map((r) => r.expr);

  test('GPU utilization reads the dcgm-exporter\'s exported_namespace/exported_pod (honorLabels: false) or namespace/pod (true)', () => {
    expect(byAlert(rules(), MLOPS_ALERTS.gpuUtilizationLow)[0]).toContain('DCGM_FI_DEV_GPU_UTIL{exported_namespace="fraud",exported_pod!=""}');
    expect(byAlert(rules({ dcgmExporter: { honorLabels: true } }), MLOPS_ALERTS.gpuUtilizationLow)[0])
      .toBe('avg by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL{namespace="fraud",pod!=""}) < 20');
  });

  test('model quality (per model) and fairness gap (profile threshold) from the metric contract, failed jobs and Pending GPU pods', () => {
    const all = rules({ modelQuality: [{ model: 'fraud', metric: 'auc', threshold: 0.9 }] });
    expect(byAlert(all, MLOPS_ALERTS.modelQuality)).toEqual([
      'min by (namespace, model, metric) (mlops_model_quality{namespace="fraud",model="fraud",metric="auc"}) < 0.9',
      'max by (namespace, model, metric) (mlops_model_quality{namespace="fraud",model="fraud",metric="rmse"}) > 0.3',
    ]);
    expect(byAlert(all, MLOPS_ALERTS.fairnessGap)).toEqual(['max by (namespace, model, metric) (mlops_fairness_gap{namespace="fraud"}) > 0.1']);
    expect(byAlert(all, MLOPS_ALERTS.trainingJobFailed)).toEqual(['max by (namespace, job_name) (kube_job_status_failed{namespace="fraud"}) > 0']);
    expect(byAlert(all, MLOPS_ALERTS.gpuPodPending)[0]).toContain('kube_pod_container_resource_requests{namespace="fraud",resource="nvidia_com_gpu"}');
    expect(all.find((r) => r.alert === MLOPS_ALERTS.gpuPodPending).for).toBe('15m');
  });

  test('the requests-per-second HPA metric has its prometheus-adapter rule', () => {
    const hpa = one(service({ scaleOn: ScalingMetric.requestsPerSecond(20) }).manifests, 'HorizontalPodAutoscaler');
    const metric = hpa.spec.metrics[0].pods.metric.name;
    expect(prometheusAdapterRules()).toEqual([{
      seriesQuery: 'http_requests_total{namespace!="",pod!=""}',
      resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
      name: { matches: '^http_requests_total$', as: metric },
      metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)',
    }]);
  });
});

describe('9. graceful shutdown', () => {
  test('serving: a pre-stop delay while the gateway stops routing, then time for in-flight requests', () => {
    const pod = one(service().manifests, 'Deployment').spec.template.spec;
    expect(pod.containers[0].lifecycle).toEqual({ preStop: { sleep: { seconds: 10 } } });
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    const tuned = one(service({ preStopDelay: Duration.seconds(5), terminationGracePeriod: Duration.seconds(30) }).manifests, 'Deployment').spec.template.spec;
    expect([tuned.containers[0].lifecycle.preStop.sleep.seconds, tuned.terminationGracePeriodSeconds]).toEqual([5, 30]);
    expect(() => service({ preStopDelay: Duration.seconds(60) })).toThrow(/'preStopDelay' must be shorter than 'terminationGracePeriod' \(60 seconds\)/);
  });

  test('training: two minutes to checkpoint after SIGTERM (a spot notice)', () => {
    expect(job().job.spec.template.spec.terminationGracePeriodSeconds).toBe(120);
    expect(job({ terminationGracePeriod: Duration.minutes(5) }).job.spec.template.spec.terminationGracePeriodSeconds).toBe(300);
  });
});

describe('10. pieces that fit together', () => {
  test('a distributed job cannot share an EBS (or default-class) checkpoint volume', () => {
    expect(() => job({ distributed: { workers: 2 }, checkpoint: Checkpoint.newVolumeClaim({ size: '100Gi', storageClassName: 'gp3' }) }))
      .toThrow(/'checkpoint' cannot be shared by 2 workers on different nodes: it needs ReadWriteMany, which an EBS volume does not offer.*Fix: name a ReadWriteMany storage class such as EFS/);
    expect(() => job({ distributed: { workers: 2 }, checkpoint: Checkpoint.newVolumeClaim({ size: '100Gi' }) })).toThrow(ValidationError);
    const ok = job({ distributed: { workers: 2 }, checkpoint: Checkpoint.newVolumeClaim({ size: '100Gi', storageClassName: 'efs-sc' }) });
    expect(one(ok.manifests, 'PersistentVolumeClaim').spec.accessModes).toEqual(['ReadWriteMany']);
  });

  test('a data scientist may create everything a distributed job brings: Job, headless Service, PodDisruptionBudget, claim', () => {
    const chart = newChart();
    new TeamNamespace(chart, 'Team', { team: 'vision' });
    const role = one(synth(chart), 'Role', 'data-scientist');
    const canCreate = (group: string, resource: string) => role.rules.some((r: Manifest) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes('create'));
    expect([canCreate('batch', 'jobs'), canCreate('', 'services'), canCreate('policy', 'poddisruptionbudgets'), canCreate('', 'persistentvolumeclaims')])
      .toEqual([true, true, true, true]);
  });
});

describe('11. gateway and network', () => {
  function gatewayPeers(props: ConstructorParameters<typeof TeamNamespace>[2]) {
    const chart = newChart();
    new TeamNamespace(chart, 'Team', props);
    return one(synth(chart), 'NetworkPolicy', 'allow-inference-gateway').spec.ingress[0].from;
  }

  test('gateway traffic from Envoy Gateway\'s namespace, the Gateway\'s namespace, VPC addresses (ALB) or VPC Lattice', () => {
    expect(gatewayPeers({ team: 'a', gatewayNamespace: 'envoy-gateway-system' })).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'envoy-gateway-system' } } }]);
    expect(gatewayPeers({ team: 'a', gatewayTraffic: [GatewayTraffic.fromCidrs(['10.0.0.0/16']), GatewayTraffic.vpcLattice()] }))
      .toEqual([{ ipBlock: { cidr: '10.0.0.0/16' } }, { ipBlock: { cidr: '169.254.171.0/24' } }]);
    expect(() => GatewayTraffic.fromCidrs(['10.0.0.0/33'])).toThrow(/'gatewayTraffic.fromCidrs\[0\]' must be an IPv4 CIDR/);
  });

  test('a full mirror omits percent (standard only from Gateway API 1.3); a partial one keeps it', () => {
    const full = service({ candidateImage: NEXT, rollout: Rollout.shadow() }).route.spec.rules[0].filters;
    expect(full).toEqual([{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'scoring-candidate', port: 80 } } }]);
    const partial = service({ candidateImage: NEXT, rollout: Rollout.shadow({ mirrorPercent: 5 }) });
    expect(partial.route.spec.rules[0].filters[0].requestMirror.percent).toBe(5);
  });

  test('routes have a request timeout', () => {
    expect(service().route.spec.rules[0].timeouts).toEqual({ request: '60s' });
    expect(service({ requestTimeout: Duration.minutes(5) }).route.spec.rules[0].timeouts).toEqual({ request: '300s' });
  });
});

describe('12. runtime', () => {
  test('/dev/shm grows with the GPUs (4Gi each, at most half the memory)', () => {
    const shm = (props: Partial<GpuTrainingJobProps>) => job(props).job.spec.template.spec.volumes.find((v: Manifest) => v.name === 'dshm').emptyDir.sizeLimit;
    expect(shm({})).toBe('4Gi');
    expect(shm({ instance: GpuInstance.of('p4d.24xlarge'), gpusPerWorker: 8, memory: '1000Gi' })).toBe('32Gi');
    expect(shm({ gpusPerWorker: 4, memory: '16Gi' })).toBe('8Gi');
  });

  test('a writable HOME with the HuggingFace, torch and Triton caches under the read-only root', () => {
    for (const pod of [job().job.spec.template.spec, one(service().manifests, 'Deployment').spec.template.spec]) {
      expect(envOf(pod)).toEqual(expect.objectContaining({ HOME: '/home/mlops', HF_HOME: '/home/mlops/.cache/huggingface', TRITON_CACHE_DIR: '/home/mlops/.cache/triton' }));
      expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'home', mountPath: '/home/mlops' });
      expect(pod.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    }
  });

  test('startup budget and cache sizes are options', () => {
    const pod = one(service({ startupTimeout: Duration.minutes(30), modelCacheSize: '200Gi', cacheSize: '50Gi' }).manifests, 'Deployment').spec.template.spec;
    expect(pod.containers[0].startupProbe.failureThreshold).toBe(180);
    expect(pod.volumes).toEqual(expect.arrayContaining([
      { name: 'model-cache', emptyDir: { sizeLimit: '200Gi' } }, { name: 'home', emptyDir: { sizeLimit: '50Gi' } },
    ]));
    expect(one(service().manifests, 'Deployment').spec.template.spec.containers[0].startupProbe.failureThreshold).toBe(60);
  });
});

validatesEverySynthesizedManifest();
