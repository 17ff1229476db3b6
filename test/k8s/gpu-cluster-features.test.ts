// What GPU-cluster users expect next (issue #19 "Build"): EFA for multi-node jobs, model fetching into a cache
// volume, a metrics port separate from serving, gRPC routes.
import { Duration } from 'cdk8s';
import { newChart, one, restrictedViolations, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { GpuInstance, Rollout } from 'mlops-constructs';
import {
  DEFAULT_MODEL_FETCHER_IMAGE, GpuTrainingJob, GpuTrainingJobProps, InferenceService, InferenceServiceProps, ModelSource, ServingProtocol,
} from 'mlops-constructs/k8s';

const IMAGE = 'registry.example.com/model:1.0.0';
const NEXT = 'registry.example.com/model:1.1.0';

function job(props: Partial<GpuTrainingJobProps>) {
  const chart = newChart();
  const construct = new GpuTrainingJob(chart, 'Train', { image: 'registry.example.com/trainer:1.0.0', jobName: 'llm', ...props });
  return { construct, job: one(synth(chart), 'Job') };
}

function service(props: Partial<InferenceServiceProps> = {}) {
  const chart = newChart();
  new InferenceService(chart, 'Model', { image: IMAGE, serviceName: 'scoring', ...props });
  return synth(chart);
}

describe('EFA for multi-node jobs', () => {
  test.each([
    ['p4d.24xlarge', 4, { FI_PROVIDER: 'efa', FI_EFA_USE_DEVICE_RDMA: '1' }],
    ['p5.48xlarge', 32, { FI_PROVIDER: 'efa', FI_EFA_USE_DEVICE_RDMA: '1' }],
    ['g5.48xlarge', 1, { FI_PROVIDER: 'efa' }],
  ])('%s: all %s EFA devices requested, libfabric told to use them', (instanceType, devices, env) => {
    const { job: j, construct } = job({ instance: GpuInstance.of(instanceType), gpusPerWorker: 8, memory: '500Gi', distributed: { workers: 2 } });
    const c = j.spec.template.spec.containers[0];
    expect(c.resources.requests['vpc.amazonaws.com/efa']).toBe(devices);
    expect(c.resources.limits['vpc.amazonaws.com/efa']).toBe(devices);
    expect(construct.efaDevicesPerWorker).toBe(devices);
    const vars = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    const efaVars = { FI_PROVIDER: vars.FI_PROVIDER, FI_EFA_USE_DEVICE_RDMA: vars.FI_EFA_USE_DEVICE_RDMA };
    expect(efaVars).toEqual({ FI_EFA_USE_DEVICE_RDMA: undefined, ...env });
    // No capability is added: the restricted profile holds (EKS accelerated AMIs set the memlock EFA needs).
    expect(restrictedViolations('Job', j.spec.template.spec)).toEqual([]);
  });

  test('no EFA for a single pod or an instance without it; asking for it without an EFA instance is an error', () => {
    expect(job({ instance: GpuInstance.of('p4d.24xlarge'), gpusPerWorker: 8, memory: '500Gi' }).construct.efaDevicesPerWorker).toBe(0);
    expect(job({ instance: GpuInstance.of('g5.2xlarge'), distributed: { workers: 2 } }).construct.efaDevicesPerWorker).toBe(0);
    expect(job({ instance: GpuInstance.of('p4d.24xlarge'), gpusPerWorker: 8, memory: '500Gi', distributed: { workers: 2, efa: false } }).construct.efaDevicesPerWorker).toBe(0);
    expect(() => job({ instance: GpuInstance.of('g5.2xlarge'), distributed: { workers: 2, efa: true } }))
      .toThrow(/'distributed.efa' needs an instance type with EFA, not g5.2xlarge/);
    expect(() => job({ distributed: { workers: 2, efa: true } })).toThrow(/'distributed.efa' needs 'instance'/);
  });
});

describe('model fetching into the cache before the server starts', () => {
  test('an init container syncs the model into /models, read-only for the server; each variant fetches its own model', () => {
    const manifests = service({
      modelSource: ModelSource.s3('s3://team-artifacts/models/fraud/v3/'),
      candidateModelSource: ModelSource.s3('s3://team-artifacts/models/fraud/v4/'),
      candidateImage: NEXT,
      rollout: Rollout.shadow(),
    });
    const current = one(manifests, 'Deployment', 'scoring').spec.template.spec;
    expect(current.initContainers).toEqual([{
      name: 'fetch-model',
      image: DEFAULT_MODEL_FETCHER_IMAGE,
      args: ['s3', 'sync', '--only-show-errors', '--no-progress', 's3://team-artifacts/models/fraud/v3/', '/models'],
      env: [{ name: 'HOME', value: '/tmp' }],
      resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
      securityContext: expect.objectContaining({ readOnlyRootFilesystem: true, runAsNonRoot: true }),
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, { name: 'model-cache', mountPath: '/models' }],
    }]);
    expect(current.containers[0].volumeMounts).toContainEqual({ name: 'model-cache', mountPath: '/models', readOnly: true });
    expect(restrictedViolations('Deployment', current)).toEqual([]);
    const candidate = one(manifests, 'Deployment', 'scoring-candidate').spec.template.spec;
    expect(candidate.initContainers[0].args[4]).toBe('s3://team-artifacts/models/fraud/v4/');
  });

  test('bad sources', () => {
    expect(() => ModelSource.s3('https://bucket/models')).toThrow(/'modelSource.s3.uri' must be an S3 URI/);
    expect(() => ModelSource.s3('s3://bucket/m', { fetcherImage: 'aws-cli' })).toThrow(/'modelSource.s3.fetcherImage' must be an image reference pinned/);
  });
});

describe('metrics port and gRPC', () => {
  test('a separate metrics port is a container port and the Services\' metrics port targets it', () => {
    const manifests = service({ metricsPort: 8002 });
    const c = one(manifests, 'Deployment').spec.template.spec.containers[0];
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 8002, protocol: 'TCP' }]);
    expect(one(manifests, 'Service').spec.ports[1]).toEqual({ name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' });
  });

  test('gRPC: a GRPCRoute with weights, gRPC probes, h2c on the Service, and a required HTTP metrics port', () => {
    const manifests = service({
      protocol: ServingProtocol.GRPC,
      port: 8001,
      metricsPort: 8002,
      candidateImage: NEXT,
      rollout: Rollout.linear({ stepPercent: 20, interval: Duration.minutes(10) }),
    });
    expect(manifests.filter((m) => m.kind === 'HTTPRoute')).toEqual([]);
    const route = one(manifests, 'GRPCRoute');
    expect(route.spec.rules).toEqual([{ backendRefs: [{ name: 'scoring', port: 80, weight: 80 }, { name: 'scoring-candidate', port: 80, weight: 20 }] }]);
    const c = one(manifests, 'Deployment', 'scoring').spec.template.spec.containers[0];
    expect(c.readinessProbe).toEqual({ grpc: { port: 8001 }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 });
    expect(one(manifests, 'Service', 'scoring').spec.ports).toEqual([
      { name: 'grpc', port: 80, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
      { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(() => service({ protocol: ServingProtocol.GRPC })).toThrow(/'metricsPort' is required for a gRPC server/);
    expect(() => service({ protocol: ServingProtocol.GRPC, metricsPort: 9000, pathPrefix: '/v1' })).toThrow(/'pathPrefix' applies to HTTP servers only/);
  });

  test('a gRPC shadow mirrors through the GRPCRoute', () => {
    const route = one(service({ protocol: ServingProtocol.GRPC, metricsPort: 9000, candidateImage: NEXT, rollout: Rollout.shadow({ mirrorPercent: 10 }) }), 'GRPCRoute');
    expect(route.spec.rules[0]).toEqual({
      backendRefs: [{ name: 'scoring', port: 80 }],
      filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'scoring-candidate', port: 80 }, percent: 10 } }],
    });
  });
});

validatesEverySynthesizedManifest();
