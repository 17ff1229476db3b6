import { Duration, Names } from 'cdk8s';
import { k8s } from 'cdk8s-plus-32';
import { Construct } from 'constructs';
import { EnvironmentProfile, GpuInstance, validateIdentifier } from '../core';
import { Checkpoint, CheckpointKind } from './checkpoint';
import { checkEnv, checkLabels, resolvePlacement } from './private/placement';
import {
  checkImage, checkQuantity, containerResources, DEFAULT_RUN_AS_USER, GPU_NODE_LABEL, gpuToleration,
  restrictedContainerSecurityContext, restrictedPodSecurityContext,
} from './private/pod-security';
import { checkFor, profileOf, wholeSeconds } from './private/scope';
import { TeamNamespace } from './team-namespace';

/** Multi-node PyTorch training: one pod per worker, rendezvous on worker 0. */
export interface DistributedTraining {
  /** Worker pods (nodes), 2 or more. Exposed as `WORLD_SIZE` (the `--nnodes` of torchrun). */
  readonly workers: number;
  /**
   * Port worker 0 listens on for the rendezvous (`MASTER_PORT`).
   * @default 29500
   */
  readonly masterPort?: number;
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
   * Job name (also the prefix of worker host names).
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
   * Size of the memory-backed `/dev/shm` PyTorch data loaders use; counts against `memory`.
   * @default '2Gi'
   */
  readonly sharedMemorySize?: string;
  /**
   * Instance type to pin the pods to; its GPU count bounds `gpusPerWorker`.
   * @default - any node labelled `nvidia.com/gpu.present=true`
   */
  readonly instance?: GpuInstance;
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
   * Retries before the job fails.
   * @default - 1 when the profile allows destroying data (dev), 3 otherwise
   */
  readonly backoffLimit?: number;
  /**
   * Longest the job may run (`activeDeadlineSeconds`), 1 minute to 30 days.
   * @default Duration.hours(24)
   */
  readonly maxDuration?: Duration;
  /**
   * How long a finished job is kept (`ttlSecondsAfterFinished`).
   * @default - 1 hour when the profile allows destroying data (dev), 7 days otherwise
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
  worldSize: 'WORLD_SIZE',
  nodeRank: 'NODE_RANK',
  nprocPerNode: 'NPROC_PER_NODE',
  checkpointDir: 'CHECKPOINT_DIR',
  checkpointUri: 'CHECKPOINT_URI',
});

const CHECKPOINT_PATH = '/checkpoints';
const MAX_DEADLINE_SECONDS = 30 * 24 * 3600;

/**
 * A GPU training Job with the restricted pod security profile, GPU scheduling, bounded run time and
 * checkpoint storage. With `distributed`, an Indexed Job and a headless Service give every worker a stable
 * host name and the PyTorch rendezvous variables.
 *
 * @example
 * new GpuTrainingJob(chart, 'Train', {
 *   namespace: team,
 *   image: 'registry.example.com/trainer:1.4.0',
 *   gpusPerWorker: 4,
 *   distributed: { workers: 2 },
 *   checkpoint: Checkpoint.objectStore('s3://team-artifacts/checkpoints/run-1'),
 * });
 */
export class GpuTrainingJob extends Construct {
  public readonly jobName: string;
  /** Headless Service name of a distributed job. */
  public readonly serviceName?: string;
  /** Worker pods. */
  public readonly workers: number;
  public readonly gpusPerWorker: number;
  public readonly profile: EnvironmentProfile;

  constructor(scope: Construct, id: string, props: GpuTrainingJobProps) {
    super(scope, id);
    props = props ?? {};
    const check = checkFor(this);
    this.profile = props.profile ?? profileOf(this);
    const image = checkImage(check, 'image', props?.image);
    const placement = resolvePlacement(this, check, props.namespace, props.serviceAccountName);
    this.jobName = props.jobName === undefined
      ? Names.toDnsLabel(this, { maxLen: 52 })
      // Worker host names are `<job>-<index>` and must fit a 63-character DNS label.
      : validateIdentifier(this.node.path, 'jobName', props.jobName, 52);
    this.gpusPerWorker = check.integerInRange('gpusPerWorker', props.gpusPerWorker, 1, 16) ?? 1;
    const cpu = checkQuantity(check, 'cpu', props.cpu) ?? '4';
    const memory = checkQuantity(check, 'memory', props.memory) ?? '16Gi';
    const shm = checkQuantity(check, 'sharedMemorySize', props.sharedMemorySize) ?? '2Gi';
    const runAsUser = check.integerInRange('runAsUser', props.runAsUser, 1, 2147483647, 'run as a non-root UID (1 or more).') ?? DEFAULT_RUN_AS_USER;
    if (props.distributed !== undefined) {
      check.integerInRange('distributed.workers', props.distributed.workers, 2, 1000,
        "a distributed job needs 2 or more workers; for one pod, leave 'distributed' out.");
      if (props.distributed.workers === undefined) check.fail('distributed.workers', undefined, 'is required', 'give the number of worker pods, 2 or more.');
      check.integerInRange('distributed.masterPort', props.distributed.masterPort, 1024, 65535, 'use an unprivileged port (1024-65535); the container runs as non-root.');
    }
    this.workers = props.distributed?.workers ?? 1;
    const masterPort = props.distributed?.masterPort ?? 29500;
    if (props.instance !== undefined) {
      if (typeof props.instance?.instanceType !== 'string') {
        check.fail('instance', props.instance, 'must be a GpuInstance', "pass GpuInstance.of('g5.2xlarge').");
      }
      if (!props.instance.isNvidiaGpu) {
        check.fail('instance', props.instance.instanceType, 'has no NVIDIA GPU', 'pick an NVIDIA GPU type such as g5.2xlarge or p4d.24xlarge.');
      }
      if (this.gpusPerWorker > props.instance.gpus) {
        check.fail('gpusPerWorker', this.gpusPerWorker, `is more than the ${props.instance.gpus} GPUs of ${props.instance.instanceType}`,
          `lower 'gpusPerWorker' to ${props.instance.gpus} or pick a larger instance type.`);
      }
    }
    placement.team?.checkGpuRequest(this.node.path, 'gpusPerWorker', this.gpusPerWorker * this.workers,
      `${this.workers} worker(s) x ${this.gpusPerWorker} GPU(s) = ${this.gpusPerWorker * this.workers} GPUs`);
    const reserved = [...Object.values(TRAINING_ENV)];
    const userEnv = checkEnv(check, props.env, reserved);
    const backoffLimit = check.integerInRange('backoffLimit', props.backoffLimit, 0, 100) ?? (this.profile.allowDestroy ? 1 : 3);
    const deadline = wholeSeconds(check, 'maxDuration', props.maxDuration, 60, MAX_DEADLINE_SECONDS, 'give a duration between 1 minute and 30 days, in whole seconds.')
      ?? 24 * 3600;
    const ttl = wholeSeconds(check, 'keepFinishedFor', props.keepFinishedFor, 0, MAX_DEADLINE_SECONDS, 'give a duration between 0 seconds and 30 days, in whole seconds.')
      ?? (this.profile.allowDestroy ? 3600 : 7 * 24 * 3600);
    const checkpoint = props.checkpoint ?? Checkpoint.emptyDir();
    if (!Object.values(CheckpointKind).includes(checkpoint?.kind)) {
      check.fail('checkpoint', checkpoint, 'must be a Checkpoint', 'use Checkpoint.emptyDir(), .newVolumeClaim(), .existingClaim() or .objectStore().');
    }
    checkLabels(check, 'nodeSelector', props.nodeSelector);

    const podLabels = { ...placement.labels, 'app.kubernetes.io/name': this.jobName, 'app.kubernetes.io/component': 'training' };
    const metadata = (name: string) => ({ name, namespace: placement.namespace, labels: { ...placement.labels, 'app.kubernetes.io/name': this.jobName } });

    const env: k8s.EnvVar[] = Object.entries(userEnv).map(([name, value]) => ({ name, value }));
    const volumes: k8s.Volume[] = [
      { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('10Gi') } },
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString(shm) } },
    ];
    const mounts: k8s.VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }, { name: 'dshm', mountPath: '/dev/shm' }];
    if (checkpoint.kind === CheckpointKind.OBJECT_STORE) {
      env.push({ name: TRAINING_ENV.checkpointUri, value: checkpoint.uri });
    } else {
      env.push({ name: TRAINING_ENV.checkpointDir, value: CHECKPOINT_PATH });
      mounts.push({ name: 'checkpoints', mountPath: CHECKPOINT_PATH });
      if (checkpoint.kind === CheckpointKind.EMPTY_DIR) {
        volumes.push({ name: 'checkpoints', emptyDir: { sizeLimit: k8s.Quantity.fromString(checkpoint.sizeLimit!) } });
      } else {
        let claimName = checkpoint.claimName;
        if (checkpoint.kind === CheckpointKind.NEW_VOLUME_CLAIM) {
          const claim = new k8s.KubePersistentVolumeClaim(this, 'Checkpoints', {
            metadata: metadata(`${this.jobName}-checkpoints`),
            spec: {
              // Workers of a distributed job share the volume from different nodes.
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

    let subdomain: string | undefined;
    if (this.workers > 1) {
      const service = new k8s.KubeService(this, 'Workers', {
        metadata: metadata(`${this.jobName}-workers`),
        spec: {
          clusterIp: 'None',
          // Workers must resolve each other before they are ready, or the rendezvous never starts.
          publishNotReadyAddresses: true,
          selector: { 'app.kubernetes.io/name': this.jobName, 'app.kubernetes.io/component': 'training' },
          ports: [{ name: 'rendezvous', port: masterPort, targetPort: k8s.IntOrString.fromNumber(masterPort), protocol: 'TCP' }],
        },
      });
      subdomain = service.name;
      this.serviceName = service.name;
      env.push(
        { name: TRAINING_ENV.masterAddr, value: `${this.jobName}-0.${subdomain}` },
        { name: TRAINING_ENV.masterPort, value: String(masterPort) },
        { name: TRAINING_ENV.worldSize, value: String(this.workers) },
        { name: TRAINING_ENV.nodeRank, valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
      );
    }
    env.push({ name: TRAINING_ENV.nprocPerNode, value: String(this.gpusPerWorker) });

    const nodeSelector: Record<string, string> = { [GPU_NODE_LABEL]: 'true', ...props.nodeSelector };
    if (props.instance) nodeSelector['node.kubernetes.io/instance-type'] = props.instance.instanceType;

    new k8s.KubeJob(this, 'Resource', {
      metadata: metadata(this.jobName),
      spec: {
        backoffLimit,
        activeDeadlineSeconds: deadline,
        ttlSecondsAfterFinished: ttl,
        ...(this.workers > 1 ? { completionMode: 'Indexed', completions: this.workers, parallelism: this.workers } : {}),
        template: {
          metadata: { labels: podLabels },
          spec: {
            restartPolicy: 'Never',
            subdomain,
            serviceAccountName: placement.serviceAccountName,
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext(runAsUser),
            nodeSelector,
            tolerations: [gpuToleration()],
            containers: [{
              name: 'trainer',
              image,
              command: props.command,
              args: props.args,
              env,
              ports: this.workers > 1 ? [{ name: 'rendezvous', containerPort: masterPort, protocol: 'TCP' }] : undefined,
              resources: containerResources({ cpu, memory, gpus: this.gpusPerWorker }),
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: mounts,
            }],
            volumes,
          },
        },
      },
    });
  }
}
