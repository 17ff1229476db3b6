import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-32';
import { Construct } from 'constructs';
import { EnvironmentProfile, GpuInstance } from '../core';
import { Checkpoint, CheckpointKind } from './checkpoint';
import { CapacityType, GpuNodeSelection } from './gpu-scheduling';
import { checkName, childName, defaultName, shortHash } from './private/names';
import { checkEnv, checkLabels, resolvePlacement } from './private/placement';
import {
  cacheEnv, checkImage, checkQuantity, containerResources, DEFAULT_RUN_AS_USER, HOME_DIR, parseQuantity,
  restrictedContainerSecurityContext, restrictedPodSecurityContext,
} from './private/pod-security';
import { gpuScheduling } from './private/scheduling';
import { checkFor, profileOf, wholeSeconds } from './private/scope';
import { TeamNamespace } from './team-namespace';

/** Multi-node PyTorch training: one pod per worker, an elastic (c10d) rendezvous on worker 0. */
export interface DistributedTraining {
  /** Worker pods (nodes), 2 or more. Exposed as `PET_NNODES` and `NNODES`. */
  readonly workers: number;
  /**
   * Port worker 0 listens on for the rendezvous (`MASTER_PORT`, `PET_RDZV_ENDPOINT`).
   * @default 29500
   */
  readonly masterPort?: number;
  /**
   * Times torchrun restarts the worker group in place after a worker fails or a replacement pod joins
   * (`PET_MAX_RESTARTS`), before the pod exits.
   * @default 3
   */
  readonly maxRestarts?: number;
  /**
   * Request the instance type's Elastic Fabric Adapter devices (`vpc.amazonaws.com/efa`) for NCCL. Needs
   * `instance` and the EFA device plugin; the EKS accelerated AMIs set the unlimited memlock EFA needs.
   * @default - true when `instance` supports EFA
   */
  readonly efa?: boolean;
}

export interface GpuTrainingJobProps {
  /** Training image, pinned to a tag or digest. */
  readonly image: string;
  /**
   * Entrypoint override.
   * @default - the image's entrypoint
   */
  readonly command?: string[];
  /**
   * Arguments.
   * @default - the image's arguments
   */
  readonly args?: string[];
  /**
   * Extra environment variables.
   * @default - none
   */
  readonly env?: Record<string, string>;
  /**
   * Namespace to run in. A `TeamNamespace` also supplies the ServiceAccount and checks the GPU quota.
   * @default - the chart's namespace
   */
  readonly namespace?: TeamNamespace | string;
  /**
   * ServiceAccount the pods run as.
   * @default - the TeamNamespace's ServiceAccount, or the namespace's default one
   */
  readonly serviceAccountName?: string;
  /**
   * Base name of the Job, at most 43 characters. The Job is named `<jobName>-<hash of its spec>`: a changed spec
   * (a new image, say) is a new Job instead of an update the API server refuses (a Job's pod template is
   * immutable), and re-applying an unchanged spec changes nothing, so a GitOps sync never reruns training.
   * The Service, the checkpoint claim and the `app.kubernetes.io/name` label use the base name.
   * @default - a unique name derived from the construct path
   */
  readonly jobName?: string;
  /**
   * NVIDIA GPUs per worker pod, 1-16.
   * @default 1
   */
  readonly gpusPerWorker?: number;
  /**
   * CPU per worker pod (request and limit).
   * @default '4'
   */
  readonly cpu?: string;
  /**
   * Memory per worker pod (request and limit).
   * @default '16Gi'
   */
  readonly memory?: string;
  /**
   * Size of the memory-backed `/dev/shm` PyTorch data loaders and NCCL use; counts against `memory`.
   * @default - 4Gi per GPU, at most half of `memory`
   */
  readonly sharedMemorySize?: string;
  /**
   * Size of the writable home directory (`HOME`), which holds the HuggingFace, torch, Triton and pip caches
   * (the root filesystem is read-only).
   * @default '20Gi'
   */
  readonly cacheSize?: string;
  /**
   * Instance type to pin the pods to; its GPU count bounds `gpusPerWorker`, and its EFA devices are requested for
   * a distributed job.
   * @default - any GPU node
   */
  readonly instance?: GpuInstance;
  /**
   * How the pods find GPU nodes.
   * @default GpuNodeSelection.byResourceRequest() (any node whose device plugin advertises `nvidia.com/gpu`)
   */
  readonly gpuNodes?: GpuNodeSelection;
  /**
   * Capacity type of the nodes. Spot is fine for jobs that checkpoint: interruptions do not count as failures.
   * @default CapacityType.ANY
   */
  readonly capacityType?: CapacityType;
  /**
   * Extra node selector labels.
   * @default - none
   */
  readonly nodeSelector?: Record<string, string>;
  /**
   * Distributed training over several pods (an Indexed Job with a headless Service).
   * @default - a single pod
   */
  readonly distributed?: DistributedTraining;
  /**
   * Where checkpoints go.
   * @default Checkpoint.emptyDir()
   */
  readonly checkpoint?: Checkpoint;
  /**
   * Retries before the job fails. Only failures with a `retriableExitCodes` code count: disruptions (spot
   * reclaim, preemption, drain) never do, and any other exit code fails the job at once.
   * @default - 1 when the profile allows destroying data (dev), 3 otherwise
   */
  readonly backoffLimit?: number;
  /**
   * Exit codes of the trainer that mean "try again" (counted against `backoffLimit`). Every other non-zero exit
   * fails the job without rerunning it on all GPUs: a bug fails the same way again, and torchrun already restarts
   * workers in place (`distributed.maxRestarts`).
   *
   * torchrun's c10d rendezvous store lives in worker 0: when worker 0's node is lost (a spot reclaim), the other
   * workers' torchrun exits with code 1, which fails the job. A multi-node job on spot capacity should list 1 here,
   * so that the job restarts from its last checkpoint instead (a bug that exits with 1 is then retried too, up to
   * `backoffLimit`), or run on `CapacityType.ON_DEMAND`.
   * @default - none
   */
  readonly retriableExitCodes?: number[];
  /**
   * Keep running pods from voluntary disruption: the `karpenter.sh/do-not-disrupt` annotation (no consolidation
   * or drift replacement) and a PodDisruptionBudget that blocks evictions (node drains wait for the job or its
   * `maxDuration`). Spot interruptions still happen; they do not count as failures.
   * @default true
   */
  readonly protectFromDisruption?: boolean;
  /**
   * Time a pod gets between SIGTERM and SIGKILL to write a checkpoint (a spot notice gives two minutes).
   * @default Duration.seconds(120)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * Kueue LocalQueue the job is submitted to (`kueue.x-k8s.io/queue-name`). Kueue's admission webhook suspends
   * the job at creation and starts it once all its GPUs are admitted. The manifest itself does not say
   * `suspend: true`: a GitOps sync re-applying it would suspend, and so kill, a running job.
   * @default - the TeamNamespace's queue, if it has one
   */
  readonly queueName?: string;
  /**
   * Longest the job may run (`activeDeadlineSeconds`), 1 minute to 30 days.
   * @default Duration.hours(24)
   */
  readonly maxDuration?: Duration;
  /**
   * Delete the finished job after this long (`ttlSecondsAfterFinished`). Leave it out when a GitOps tool applies
   * the manifests: it would recreate the deleted job, and training would run again. A finished job holds no
   * GPUs; the next spec (a new name) replaces it when the tool prunes.
   * @default - kept until deleted or pruned
   */
  readonly keepFinishedFor?: Duration;
  /**
   * UID and GID the container runs as (non-root).
   * @default 1000
   */
  readonly runAsUser?: number;
  /**
   * Profile the defaults come from.
   * @default - the profile of the enclosing `MlopsChart`, or `EnvironmentProfile.prod()` outside one
   */
  readonly profile?: EnvironmentProfile;
}

/** Variables the job sets itself. */
export const TRAINING_ENV = Object.freeze({
  masterAddr: 'MASTER_ADDR',
  masterPort: 'MASTER_PORT',
  /** Processes in the job (workers x GPUs per worker), as PyTorch means it. */
  worldSize: 'WORLD_SIZE',
  /** Worker pods. */
  nnodes: 'NNODES',
  nodeRank: 'NODE_RANK',
  nprocPerNode: 'NPROC_PER_NODE',
  checkpointDir: 'CHECKPOINT_DIR',
  checkpointUri: 'CHECKPOINT_URI',
  /** torchrun reads its options from `PET_<OPTION>`, so a bare `torchrun train.py` runs distributed. */
  torchrunNnodes: 'PET_NNODES',
  torchrunNprocPerNode: 'PET_NPROC_PER_NODE',
  torchrunRdzvBackend: 'PET_RDZV_BACKEND',
  torchrunRdzvEndpoint: 'PET_RDZV_ENDPOINT',
  torchrunRdzvId: 'PET_RDZV_ID',
  torchrunMaxRestarts: 'PET_MAX_RESTARTS',
});

/** Extended resource the EFA device plugin advertises. */
export const EFA_RESOURCE = 'vpc.amazonaws.com/efa';

/** EFA devices per instance type where it is more than one. */
const EFA_DEVICES: Record<string, number> = {
  'p4d.24xlarge': 4, 'p4de.24xlarge': 4, 'p5.48xlarge': 32, 'p5e.48xlarge': 32, 'p5en.48xlarge': 16, 'trn1.32xlarge': 8, 'trn1n.32xlarge': 16,
};
/** Families whose EFA supports GPUDirect RDMA. */
const EFA_RDMA_FAMILIES = ['p4d', 'p4de', 'p5', 'p5e', 'p5en'];

const CHECKPOINT_PATH = '/checkpoints';
const MAX_DEADLINE_SECONDS = 30 * 24 * 3600;
/** Storage classes that are EBS volumes, which attach to one node (ReadWriteOnce) only. */
const BLOCK_STORAGE_CLASS = /^(gp2|gp3|io1|io2|st1|sc1)$|ebs/;

/**
 * A GPU training Job with the restricted pod security profile, GPU scheduling, bounded run time and checkpoint
 * storage. Disruptions (spot reclaim, preemption, drains) never count as failures, a failing trainer fails the
 * job instead of rerunning it on every GPU, and a replacement pod starts only once the old one is gone. With
 * `distributed`, an Indexed Job and a headless Service give every worker a stable host name, and torchrun's
 * elastic rendezvous (`PET_*` variables) lets a replacement worker rejoin.
 *
 * @example
 * new GpuTrainingJob(chart, 'Train', {
 *   namespace: team,
 *   image: 'registry.example.com/trainer:1.4.0',
 *   command: ['torchrun', 'train.py'],
 *   gpusPerWorker: 4,
 *   distributed: { workers: 2 },
 *   checkpoint: Checkpoint.objectStore('s3://team-artifacts/checkpoints/run-1'),
 * });
 */
export class GpuTrainingJob extends Construct {
  /** Name of the Job: the base name and a hash of its spec. */
  public readonly jobName: string;
  /** Base name (`jobName` prop): of the Service, the checkpoint claim and the `app.kubernetes.io/name` label. */
  public readonly baseName: string;
  /** Headless Service name of a distributed job. */
  public readonly serviceName?: string;
  /** Worker pods. */
  public readonly workers: number;
  public readonly gpusPerWorker: number;
  /** EFA devices per worker (0 without EFA). */
  public readonly efaDevicesPerWorker: number;
  /** Kueue LocalQueue the job is submitted to. */
  public readonly queueName?: string;
  public readonly profile: EnvironmentProfile;

  constructor(scope: Construct, id: string, props: GpuTrainingJobProps) {
    super(scope, id);
    props = props ?? {};
    const check = checkFor(this);
    this.profile = props.profile ?? profileOf(this);
    const image = checkImage(check, 'image', props?.image);
    const placement = resolvePlacement(this, check, props.namespace, props.serviceAccountName);
    this.baseName = checkName(check, 'jobName', props.jobName, MAX_BASE_NAME) ?? defaultName(this, MAX_BASE_NAME);
    this.gpusPerWorker = check.integerInRange('gpusPerWorker', props.gpusPerWorker, 1, 16) ?? 1;
    const cpu = checkQuantity(check, 'cpu', props.cpu) ?? '4';
    const memory = checkQuantity(check, 'memory', props.memory) ?? '16Gi';
    const shm = checkQuantity(check, 'sharedMemorySize', props.sharedMemorySize)
      ?? `${Math.max(1, Math.min(4 * this.gpusPerWorker, Math.floor(parseQuantity(memory) / 2 ** 31)))}Gi`;
    const cacheSize = checkQuantity(check, 'cacheSize', props.cacheSize) ?? '20Gi';
    const runAsUser = check.integerInRange('runAsUser', props.runAsUser, 1, 2147483647, 'run as a non-root UID (1 or more).') ?? DEFAULT_RUN_AS_USER;
    if (props.distributed !== undefined) {
      if (props.distributed?.workers === undefined) check.fail('distributed.workers', undefined, 'is required', 'give the number of worker pods, 2 or more.');
      check.integerInRange('distributed.workers', props.distributed.workers, 2, 1000,
        "a distributed job needs 2 or more workers; for one pod, leave 'distributed' out.");
      check.integerInRange('distributed.masterPort', props.distributed.masterPort, 1024, 65535, 'use an unprivileged port (1024-65535); the container runs as non-root.');
      check.integerInRange('distributed.maxRestarts', props.distributed.maxRestarts, 0, 100);
    }
    this.workers = props.distributed?.workers ?? 1;
    const masterPort = props.distributed?.masterPort ?? 29500;
    const instance = props.instance;
    if (instance !== undefined) {
      if (typeof instance?.instanceType !== 'string') check.fail('instance', instance, 'must be a GpuInstance', "pass GpuInstance.of('g5.2xlarge').");
      if (!instance.isNvidiaGpu) {
        check.fail('instance', instance.instanceType, 'has no NVIDIA GPU', 'pick an NVIDIA GPU type such as g5.2xlarge or p4d.24xlarge.');
      }
      if (this.gpusPerWorker > instance.gpus) {
        check.fail('gpusPerWorker', this.gpusPerWorker, `is more than the ${instance.gpus} GPUs of ${instance.instanceType}`,
          `lower 'gpusPerWorker' to ${instance.gpus} or pick a larger instance type.`);
      }
    }
    const efa = props.distributed?.efa ?? (this.workers > 1 && instance?.efa === true);
    if (props.distributed?.efa === true && !instance?.efa) {
      check.fail('distributed.efa', true, instance ? `needs an instance type with EFA, not ${instance.instanceType}` : "needs 'instance' (the EFA devices to request depend on it)",
        'pick an EFA instance type such as p4d.24xlarge or p5.48xlarge, or leave \'efa\' out.');
    }
    this.efaDevicesPerWorker = efa && instance ? EFA_DEVICES[instance.instanceType] ?? 1 : 0;
    const capacityType = props.capacityType ?? CapacityType.ANY;
    const scheduling = gpuScheduling({
      check,
      gpus: this.gpusPerWorker,
      selection: props.gpuNodes,
      capacityType,
      instanceType: instance?.instanceType,
      extraNodeSelector: checkLabels(check, 'nodeSelector', props.nodeSelector),
    });
    const reserved = [...Object.values(TRAINING_ENV)];
    const userEnv = checkEnv(check, props.env, reserved);
    const backoffLimit = check.integerInRange('backoffLimit', props.backoffLimit, 0, 100) ?? (this.profile.allowDestroy ? 1 : 3);
    const retriable = props.retriableExitCodes ?? [];
    if (!Array.isArray(retriable)) check.fail('retriableExitCodes', retriable, 'must be a list of exit codes', 'e.g. [3] for "try again".');
    retriable.forEach((c, i) => check.integerInRange(`retriableExitCodes[${i}]`, c, 1, 255));
    const deadline = wholeSeconds(check, 'maxDuration', props.maxDuration, 60, MAX_DEADLINE_SECONDS, 'give a duration between 1 minute and 30 days, in whole seconds.')
      ?? 24 * 3600;
    const ttl = wholeSeconds(check, 'keepFinishedFor', props.keepFinishedFor, 0, MAX_DEADLINE_SECONDS, 'give a duration between 0 seconds and 30 days, in whole seconds.');
    const grace = wholeSeconds(check, 'terminationGracePeriod', props.terminationGracePeriod, 1, 3600, 'give 1 second to 1 hour, in whole seconds.') ?? 120;
    const protect = props.protectFromDisruption ?? true;
    if (typeof protect !== 'boolean') check.fail('protectFromDisruption', protect, 'must be true or false', 'leave it out to protect running jobs.');
    const checkpoint = props.checkpoint ?? Checkpoint.emptyDir();
    if (!Object.values(CheckpointKind).includes(checkpoint?.kind)) {
      check.fail('checkpoint', checkpoint, 'must be a Checkpoint', 'use Checkpoint.emptyDir(), .newVolumeClaim(), .existingClaim() or .objectStore().');
    }
    if (checkpoint.kind === CheckpointKind.NEW_VOLUME_CLAIM && this.workers > 1) {
      const storageClass = checkpoint.storageClassName;
      if (storageClass === undefined || BLOCK_STORAGE_CLASS.test(storageClass)) {
        check.fail('checkpoint', storageClass === undefined ? 'newVolumeClaim without storageClassName' : `newVolumeClaim with storageClassName '${storageClass}'`,
          `cannot be shared by ${this.workers} workers on different nodes: it needs ReadWriteMany, which ${storageClass === undefined ? "the cluster's default class (EBS on EKS) does not offer" : 'an EBS volume does not offer'}`,
          "name a ReadWriteMany storage class such as EFS ('efs-sc'), or use Checkpoint.objectStore('s3://...').");
      }
    }
    this.queueName = checkName(check, 'queueName', props.queueName, 63) ?? placement.team?.queueName;

    const nameLabels = { 'app.kubernetes.io/name': this.baseName };
    const metadata = (name: string, extra: Record<string, string> = {}) =>
      ({ name, namespace: placement.namespace, labels: { ...placement.labels, ...nameLabels, ...extra } });

    const volumes: k8s.Volume[] = [
      { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('10Gi') } },
      { name: 'home', emptyDir: { sizeLimit: k8s.Quantity.fromString(cacheSize) } },
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString(shm) } },
    ];
    const mounts: k8s.VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }, { name: 'home', mountPath: HOME_DIR }, { name: 'dshm', mountPath: '/dev/shm' }];
    const fixedEnv: k8s.EnvVar[] = [];
    if (checkpoint.kind === CheckpointKind.OBJECT_STORE) {
      fixedEnv.push({ name: TRAINING_ENV.checkpointUri, value: checkpoint.uri });
    } else {
      fixedEnv.push({ name: TRAINING_ENV.checkpointDir, value: CHECKPOINT_PATH });
      mounts.push({ name: 'checkpoints', mountPath: CHECKPOINT_PATH });
      if (checkpoint.kind === CheckpointKind.EMPTY_DIR) {
        volumes.push({ name: 'checkpoints', emptyDir: { sizeLimit: k8s.Quantity.fromString(checkpoint.sizeLimit!) } });
      } else {
        let claimName = checkpoint.claimName;
        if (checkpoint.kind === CheckpointKind.NEW_VOLUME_CLAIM) {
          // Named after the base name, so the next version of the job resumes from the same checkpoints.
          const claim = new k8s.KubePersistentVolumeClaim(this, 'Checkpoints', {
            metadata: metadata(childName(this.baseName, 'checkpoints')),
            spec: {
              accessModes: [this.workers > 1 ? 'ReadWriteMany' : 'ReadWriteOnce'],
              storageClassName: checkpoint.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString(checkpoint.size!) } },
            },
          });
          claimName = claim.name;
        }
        volumes.push({ name: 'checkpoints', persistentVolumeClaim: { claimName: claimName! } });
      }
    }

    const serviceName = this.workers > 1 ? childName(this.baseName, 'workers') : undefined;
    const maxRestarts = props.distributed?.maxRestarts ?? 3;
    const distributedEnv = (jobName: string): k8s.EnvVar[] => {
      if (this.workers === 1) {
        return [
          { name: TRAINING_ENV.nprocPerNode, value: String(this.gpusPerWorker) },
          { name: TRAINING_ENV.torchrunNprocPerNode, value: String(this.gpusPerWorker) },
        ];
      }
      const master = `${jobName}-0.${serviceName}`;
      return [
        { name: TRAINING_ENV.masterAddr, value: master },
        { name: TRAINING_ENV.masterPort, value: String(masterPort) },
        { name: TRAINING_ENV.worldSize, value: String(this.workers * this.gpusPerWorker) },
        { name: TRAINING_ENV.nnodes, value: String(this.workers) },
        { name: TRAINING_ENV.nodeRank, valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
        { name: TRAINING_ENV.nprocPerNode, value: String(this.gpusPerWorker) },
        { name: TRAINING_ENV.torchrunNnodes, value: String(this.workers) },
        { name: TRAINING_ENV.torchrunNprocPerNode, value: String(this.gpusPerWorker) },
        // c10d: worker 0 hosts the store; a replacement worker joins the next round instead of a finished one.
        { name: TRAINING_ENV.torchrunRdzvBackend, value: 'c10d' },
        { name: TRAINING_ENV.torchrunRdzvEndpoint, value: `${master}:${masterPort}` },
        { name: TRAINING_ENV.torchrunRdzvId, value: jobName },
        { name: TRAINING_ENV.torchrunMaxRestarts, value: String(maxRestarts) },
      ];
    };
    const efaEnv: Record<string, string> = this.efaDevicesPerWorker > 0
      ? { FI_PROVIDER: 'efa', ...(EFA_RDMA_FAMILIES.includes(instance!.family) ? { FI_EFA_USE_DEVICE_RDMA: '1' } : {}) }
      : {};

    const podSpec = (jobName: string): k8s.PodSpec => ({
      restartPolicy: 'Never',
      subdomain: serviceName,
      serviceAccountName: placement.serviceAccountName,
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurityContext(runAsUser),
      terminationGracePeriodSeconds: grace,
      ...scheduling,
      containers: [{
        name: TRAINER_CONTAINER,
        image,
        command: props.command,
        args: props.args,
        env: [
          ...Object.entries({ ...cacheEnv(), ...efaEnv, ...userEnv }).map(([name, value]) => ({ name, value })),
          ...fixedEnv,
          ...distributedEnv(jobName),
        ],
        ports: this.workers > 1 ? [{ name: 'rendezvous', containerPort: masterPort, protocol: 'TCP' }] : undefined,
        resources: containerResources({
          cpu, memory, gpus: this.gpusPerWorker, extended: this.efaDevicesPerWorker ? { [EFA_RESOURCE]: this.efaDevicesPerWorker } : undefined,
        }),
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: mounts,
      }],
      volumes,
    });
    const jobSpec = (jobName: string): k8s.JobSpec => ({
      backoffLimit,
      activeDeadlineSeconds: deadline,
      ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }),
      podFailurePolicy: {
        rules: [
          // Spot reclaim, preemption, eviction, drain: the pod is replaced and the failure is not counted.
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          // Any exit code not declared retriable fails the job at once.
          { action: 'FailJob', onExitCodes: { containerName: TRAINER_CONTAINER, operator: 'NotIn', values: retriable.length ? [...new Set(retriable)].sort((a, b) => a - b) : [0] } },
        ],
      },
      // A replacement starts once the old pod is gone, so two pods of one rank never meet in the rendezvous.
      podReplacementPolicy: 'Failed',
      ...(this.workers > 1 ? { completionMode: 'Indexed', completions: this.workers, parallelism: this.workers } : {}),
      template: {
        metadata: {
          labels: { ...placement.labels, ...nameLabels, 'app.kubernetes.io/component': 'training', 'app.kubernetes.io/instance': jobName },
          ...(protect ? { annotations: { 'karpenter.sh/do-not-disrupt': 'true' } } : {}),
        },
        spec: podSpec(jobName),
      },
    });
    const queueLabels: Record<string, string> = this.queueName ? { [KUEUE_QUEUE_LABEL]: this.queueName } : {};
    // The name is a hash of everything immutable about the job (and its queue), computed with a placeholder name.
    this.jobName = `${this.baseName}-${shortHash(JSON.stringify({ spec: jobSpec('$(JOB_NAME)'), queueLabels }))}`;

    if (serviceName) {
      new k8s.KubeService(this, 'Workers', {
        metadata: metadata(serviceName),
        spec: {
          clusterIp: 'None',
          // Workers must resolve each other before they are ready, or the rendezvous never starts.
          publishNotReadyAddresses: true,
          selector: { 'app.kubernetes.io/instance': this.jobName, 'app.kubernetes.io/component': 'training' },
          ports: [{ name: 'rendezvous', port: masterPort, targetPort: k8s.IntOrString.fromNumber(masterPort), protocol: 'TCP' }],
        },
      });
      this.serviceName = serviceName;
    }
    if (protect) {
      // A Job cannot be scaled, so the budget is an absolute minAvailable: every worker.
      new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
        metadata: metadata(childName(this.baseName, 'training')),
        spec: {
          minAvailable: k8s.IntOrString.fromNumber(this.workers),
          selector: { matchLabels: { 'app.kubernetes.io/instance': this.jobName } },
        },
      });
    }
    new k8s.KubeJob(this, 'Resource', {
      metadata: metadata(this.jobName, queueLabels),
      spec: jobSpec(this.jobName),
    });

    placement.team?.claimCapacity(this.node.path, {
      prop: this.workers > 1 ? 'distributed.workers' : 'gpusPerWorker',
      gpus: this.gpusPerWorker * this.workers,
      cpu: parseQuantity(cpu) * this.workers,
      memoryGiB: (parseQuantity(memory) / 2 ** 30) * this.workers,
      description: `${this.workers} worker(s) x ${this.gpusPerWorker} GPU(s), ${cpu} CPU, ${memory}`,
    });
  }
}

/** Label Kueue reads the LocalQueue of a job from. */
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';
const TRAINER_CONTAINER = 'trainer';
/** Longest base name: with `-<8-character hash>` and `-<index>` worker host names stay within 63 characters. */
const MAX_BASE_NAME = 43;
