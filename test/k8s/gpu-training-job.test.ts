import { Duration, Testing } from 'cdk8s';
import { newChart, ofKind, one, restrictedViolations, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { EnvironmentProfile, GpuInstance, ValidationError } from 'mlops-constructs';
import { Checkpoint, GpuNodeSelection, GpuTrainingJob, GpuTrainingJobProps, TeamNamespace } from 'mlops-constructs/k8s';

const CACHE_ENV = {
  HOME: '/home/mlops',
  XDG_CACHE_HOME: '/home/mlops/.cache',
  HF_HOME: '/home/mlops/.cache/huggingface',
  TORCH_HOME: '/home/mlops/.cache/torch',
  TRITON_CACHE_DIR: '/home/mlops/.cache/triton',
};

const IMAGE = 'registry.example.com/trainer:1.0.0';

function build(props: Partial<GpuTrainingJobProps> = {}, profile = EnvironmentProfile.prod()) {
  const chart = newChart(profile);
  const job = new GpuTrainingJob(chart, 'Train', { image: IMAGE, ...props });
  const manifests = synth(chart);
  return { chart, job, manifests, jobManifest: one(manifests, 'Job') };
}

const container = (jobManifest: { spec: { template: { spec: { containers: unknown[] } } } }) =>
  jobManifest.spec.template.spec.containers[0] as { env: { name: string; value?: string; valueFrom?: unknown }[]; [k: string]: unknown };
const envOf = (jobManifest: Parameters<typeof container>[0]) =>
  Object.fromEntries(container(jobManifest).env.map((e) => [e.name, e.value ?? e.valueFrom]));

describe('GpuTrainingJob defaults', () => {
  test('a single-pod Job with 1 GPU found by its request, the GPU toleration, and Guaranteed resources', () => {
    const { jobManifest, manifests, job } = build();
    expect(ofKind(manifests, 'Service')).toEqual([]);
    expect(jobManifest.spec.completionMode).toBeUndefined();
    expect(jobManifest.metadata.name).toBe(job.jobName);
    expect(job.jobName).toMatch(new RegExp(`^${job.baseName}-[0-9a-f]{8}$`));
    const pod = jobManifest.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.nodeSelector).toBeUndefined();
    expect(pod.affinity).toBeUndefined();
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBeUndefined();
    expect(container(jobManifest).image).toBe(IMAGE);
    expect(container(jobManifest).resources).toEqual({
      requests: { 'cpu': '4', 'memory': '16Gi', 'nvidia.com/gpu': 1 },
      limits: { 'cpu': '4', 'memory': '16Gi', 'nvidia.com/gpu': 1 },
    });
  });

  test('restricted security context with writable /tmp, home, /dev/shm and checkpoint volumes only', () => {
    const { jobManifest } = build();
    const pod = jobManifest.spec.template.spec;
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container(jobManifest).securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container(jobManifest).volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' }, { name: 'home', mountPath: '/home/mlops' }, { name: 'dshm', mountPath: '/dev/shm' }, { name: 'checkpoints', mountPath: '/checkpoints' },
    ]);
    expect(pod.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '10Gi' } },
      { name: 'home', emptyDir: { sizeLimit: '20Gi' } },
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '4Gi' } },
      { name: 'checkpoints', emptyDir: { sizeLimit: '50Gi' } },
    ]);
    expect(envOf(jobManifest)).toEqual({
      ...CACHE_ENV, CHECKPOINT_DIR: '/checkpoints', NPROC_PER_NODE: '1', PET_NPROC_PER_NODE: '1',
    });
    expect(restrictedViolations('Job', pod)).toEqual([]);
  });

  test('prod: 3 retries, 24 h deadline, finished jobs kept (a GitOps sync would recreate a deleted one)', () => {
    const { jobManifest } = build();
    expect(jobManifest.spec.backoffLimit).toBe(3);
    expect(jobManifest.spec.activeDeadlineSeconds).toBe(86400);
    expect(jobManifest.spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  test('dev: 1 retry, 24 h deadline, finished jobs kept', () => {
    const { jobManifest } = build({}, EnvironmentProfile.dev());
    expect(jobManifest.spec.backoffLimit).toBe(1);
    expect(jobManifest.spec.activeDeadlineSeconds).toBe(86400);
    expect(jobManifest.spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  test('pod template carries the chart cost labels', () => {
    const { jobManifest } = build();
    expect(jobManifest.spec.template.metadata.labels).toEqual(expect.objectContaining({
      'mlops-constructs.io/project': 'p', 'mlops-constructs.io/environment': 'prod', 'app.kubernetes.io/component': 'training',
    }));
  });
});

describe('GpuTrainingJob options', () => {
  test('distributed: Indexed Job, headless Service and PyTorch rendezvous variables', () => {
    const { jobManifest, manifests, job } = build({ jobName: 'llm', gpusPerWorker: 4, distributed: { workers: 3 } });
    expect(jobManifest.spec).toEqual(expect.objectContaining({ completionMode: 'Indexed', completions: 3, parallelism: 3 }));
    const service = one(manifests, 'Service');
    expect(service.metadata.name).toBe('llm-workers');
    expect(job.serviceName).toBe('llm-workers');
    expect(service.spec).toEqual({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { 'app.kubernetes.io/instance': job.jobName, 'app.kubernetes.io/component': 'training' },
      ports: [{ name: 'rendezvous', port: 29500, targetPort: 29500, protocol: 'TCP' }],
    });
    expect(jobManifest.spec.template.spec.subdomain).toBe('llm-workers');
    expect(jobManifest.spec.template.metadata.labels).toEqual(expect.objectContaining(service.spec.selector));
    const master = `${job.jobName}-0.llm-workers`;
    expect(envOf(jobManifest)).toEqual({
      ...CACHE_ENV,
      CHECKPOINT_DIR: '/checkpoints',
      MASTER_ADDR: master,
      MASTER_PORT: '29500',
      // PyTorch's world size counts processes, not pods.
      WORLD_SIZE: '12',
      NNODES: '3',
      NODE_RANK: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
      NPROC_PER_NODE: '4',
      PET_NNODES: '3',
      PET_NPROC_PER_NODE: '4',
      PET_RDZV_BACKEND: 'c10d',
      PET_RDZV_ENDPOINT: `${master}:29500`,
      PET_RDZV_ID: job.jobName,
      PET_MAX_RESTARTS: '3',
    });
    expect(container(jobManifest).resources).toEqual(expect.objectContaining({ limits: { 'cpu': '4', 'memory': '16Gi', 'nvidia.com/gpu': 4 } }));
  });

  test('distributed master port can be changed', () => {
    const { jobManifest, manifests } = build({ jobName: 'llm', distributed: { workers: 2, masterPort: 23456 } });
    expect(envOf(jobManifest).MASTER_PORT).toBe('23456');
    expect(one(manifests, 'Service').spec.ports[0].port).toBe(23456);
  });

  test('in a TeamNamespace: its namespace, ServiceAccount and labels', () => {
    const chart = newChart();
    const team = new TeamNamespace(chart, 'Team', { team: 'vision', quota: { gpus: 8 } });
    expect(team.queueName).toBeUndefined();
    new GpuTrainingJob(chart, 'Train', { image: IMAGE, namespace: team, gpusPerWorker: 4, distributed: { workers: 2 } });
    const manifests = synth(chart);
    const job = one(manifests, 'Job');
    expect(job.metadata.namespace).toBe('vision');
    expect(one(manifests, 'Service').metadata.namespace).toBe('vision');
    expect(job.spec.template.spec.serviceAccountName).toBe('vision-workloads');
    expect(job.spec.template.metadata.labels['mlops-constructs.io/team']).toBe('vision');
  });

  test('namespace by name and explicit ServiceAccount', () => {
    const { jobManifest } = build({ namespace: 'research', serviceAccountName: 'trainer' });
    expect(jobManifest.metadata.namespace).toBe('research');
    expect(jobManifest.spec.template.spec.serviceAccountName).toBe('trainer');
  });

  test('instance type pins the node; resources, node selection, command, args, env, deadlines and UID can be set', () => {
    const { jobManifest } = build({
      instance: GpuInstance.of('p4d.24xlarge'),
      gpusPerWorker: 8,
      cpu: '90',
      memory: '1000Gi',
      sharedMemorySize: '64Gi',
      command: ['python'],
      args: ['train.py'],
      env: { EPOCHS: '3' },
      gpuNodes: GpuNodeSelection.gpuFeatureDiscovery(),
      nodeSelector: { 'example.com/pool': 'training' },
      backoffLimit: 0,
      maxDuration: Duration.hours(2),
      keepFinishedFor: Duration.minutes(10),
      runAsUser: 4242,
    });
    const pod = jobManifest.spec.template.spec;
    expect(pod.nodeSelector).toEqual({
      'nvidia.com/gpu.present': 'true', 'example.com/pool': 'training', 'node.kubernetes.io/instance-type': 'p4d.24xlarge',
    });
    expect(container(jobManifest).command).toEqual(['python']);
    expect(container(jobManifest).args).toEqual(['train.py']);
    expect(envOf(jobManifest).EPOCHS).toBe('3');
    expect(container(jobManifest).resources).toEqual(expect.objectContaining({ requests: { 'cpu': '90', 'memory': '1000Gi', 'nvidia.com/gpu': 8 } }));
    expect(pod.volumes[2]).toEqual({ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '64Gi' } });
    expect(pod.securityContext.runAsUser).toBe(4242);
    expect(jobManifest.spec).toEqual(expect.objectContaining({ backoffLimit: 0, activeDeadlineSeconds: 7200, ttlSecondsAfterFinished: 600 }));
  });

  test('object-store checkpoint: URI in the environment, no checkpoint volume', () => {
    const { jobManifest } = build({ checkpoint: Checkpoint.objectStore('s3://bucket/ckpt/run-1') });
    expect(envOf(jobManifest).CHECKPOINT_URI).toBe('s3://bucket/ckpt/run-1');
    expect(envOf(jobManifest).CHECKPOINT_DIR).toBeUndefined();
    expect(jobManifest.spec.template.spec.volumes.map((v: { name: string }) => v.name)).toEqual(['tmp', 'home', 'dshm']);
  });

  test('new volume claim: ReadWriteOnce for one pod, ReadWriteMany for a distributed job', () => {
    const single = build({ jobName: 'one', checkpoint: Checkpoint.newVolumeClaim({ size: '100Gi', storageClassName: 'gp3' }) });
    const claim = one(single.manifests, 'PersistentVolumeClaim');
    expect(claim.metadata.name).toBe('one-checkpoints');
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteOnce'], storageClassName: 'gp3', resources: { requests: { storage: '100Gi' } } });
    expect(single.jobManifest.spec.template.spec.volumes[3]).toEqual({ name: 'checkpoints', persistentVolumeClaim: { claimName: 'one-checkpoints' } });
    const multi = build({ jobName: 'two', distributed: { workers: 2 }, checkpoint: Checkpoint.newVolumeClaim({ size: '1Ti', storageClassName: 'efs-sc' }) });
    expect(one(multi.manifests, 'PersistentVolumeClaim').spec.accessModes).toEqual(['ReadWriteMany']);
  });

  test('existing claim and sized emptyDir', () => {
    const existing = build({ checkpoint: Checkpoint.existingClaim('shared-ckpt') });
    expect(ofKind(existing.manifests, 'PersistentVolumeClaim')).toEqual([]);
    expect(existing.jobManifest.spec.template.spec.volumes[3]).toEqual({ name: 'checkpoints', persistentVolumeClaim: { claimName: 'shared-ckpt' } });
    const scratch = build({ checkpoint: Checkpoint.emptyDir({ sizeLimit: '5Gi' }) });
    expect(scratch.jobManifest.spec.template.spec.volumes[3]).toEqual({ name: 'checkpoints', emptyDir: { sizeLimit: '5Gi' } });
  });
});

describe('GpuTrainingJob bad input', () => {
  const cases: [string, Partial<GpuTrainingJobProps>, RegExp][] = [
    ['no image', { image: undefined }, /'image' is required/],
    ['unpinned image', { image: 'registry.example.com/trainer' }, /'image' must be pinned.*Fix: append a version tag or digest/],
    ['latest tag', { image: 'trainer:latest' }, /'image' must be pinned/],
    ['distributed with 1 worker', { distributed: { workers: 1 } }, /'distributed.workers'.*Fix: a distributed job needs 2 or more workers/],
    ['privileged master port', { distributed: { workers: 2, masterPort: 80 } }, /'distributed.masterPort'.*unprivileged port/],
    ['zero GPUs', { gpusPerWorker: 0 }, /'gpusPerWorker'.*between 1 and 16/],
    ['more GPUs than the instance has', { instance: GpuInstance.of('g5.2xlarge'), gpusPerWorker: 4 }, /'gpusPerWorker'.*more than the 1 GPUs of g5.2xlarge/],
    ['CPU-only instance', { instance: GpuInstance.of('m7i.large') }, /'instance'.*has no NVIDIA GPU/],
    ['bad memory quantity', { memory: '16 GB' }, /'memory'.*Kubernetes quantity/],
    ['root UID', { runAsUser: 0 }, /'runAsUser'.*non-root/],
    ['deadline too long', { maxDuration: Duration.days(60) }, /'maxDuration'.*between 1 minute and 30 days/],
    ['fractional keep time', { keepFinishedFor: Duration.millis(1500) }, /'keepFinishedFor'.*whole seconds/],
    ['negative backoff', { backoffLimit: -1 }, /'backoffLimit'/],
    ['reserved env variable', { env: { MASTER_ADDR: 'x' } }, /'env.MASTER_ADDR' is set by the construct/],
    ['job name too long for host names', { jobName: 'a'.repeat(44) }, /'jobName'.*at most 43 characters/],
    ['job name ending in a hyphen', { jobName: 'train-' }, /'jobName' must be lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit/],
    ['bad node selector value', { nodeSelector: { pool: 'gpu pool' } }, /'nodeSelector.pool'/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(() => build(props)).toThrow(ValidationError);
    expect(() => build(props)).toThrow(message);
  });

  test('GPU quota of the TeamNamespace below the job\'s GPUs', () => {
    const chart = newChart();
    const team = new TeamNamespace(chart, 'Team', { team: 'small', quota: { gpus: 4 } });
    expect(() => new GpuTrainingJob(chart, 'Train', { image: IMAGE, namespace: team, gpusPerWorker: 4, distributed: { workers: 2 } }))
      .toThrow(/test\/Train: 'distributed.workers' brings the GPUs namespace 'small' can need at once to 8, more than its quota of 4: test\/Train \(2 worker\(s\) x 4 GPU\(s\), 4 CPU, 16Gi: 8 GPUs\).*raise 'quota.gpus' of TeamNamespace 'test\/Team' to at least 8/);
  });

  test.each([
    ['objectStore URI', () => Checkpoint.objectStore('bucket/ckpt'), /'checkpoint.objectStore.uri'.*S3 URI/],
    ['new claim without size', () => Checkpoint.newVolumeClaim({ size: '' }), /'checkpoint.newVolumeClaim.size' is required/],
    ['existing claim name', () => Checkpoint.existingClaim('Bad_Name'), /'checkpoint.existingClaim.claimName'/],
    ['emptyDir size', () => Checkpoint.emptyDir({ sizeLimit: 'big' }), /'checkpoint.emptyDir.sizeLimit'/],
  ])('checkpoint: %s', (_name, make, message) => {
    expect(make).toThrow(ValidationError);
    expect(make).toThrow(message);
  });

  test('namespace that is neither a TeamNamespace nor a name', () => {
    expect(() => build({ namespace: 42 as unknown as string })).toThrow(/'namespace' must be a TeamNamespace or a namespace name/);
  });

  test('outside an MlopsChart the prod defaults apply', () => {
    const chart = Testing.chart();
    new GpuTrainingJob(chart, 'Train', { image: IMAGE });
    expect(one(synth(chart), 'Job').spec.backoffLimit).toBe(3);
  });
});

validatesEverySynthesizedManifest();
