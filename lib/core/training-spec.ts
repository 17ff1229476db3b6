import { CostModel, PurchaseOption, roundUsd } from './cost-model';
import { GpuInstance } from './gpu-catalog';
import { validateIdentifier } from './naming';
import { EnvironmentProfile, LOG_RETENTION_DAYS } from './profiles';
import { SpecScope, specCheck, specUnresolved } from './spec-scope';
import { Check } from './validation';

/** A team sharing a training cluster, with its fair-share weight. */
export interface TrainingTeamSpec {
  readonly name: string;
  readonly weight?: number;
}

/** Engine-neutral GPU training cluster input. */
export interface TrainingClusterSpecInput {
  readonly instanceTypes?: readonly string[];
  readonly maxGpus?: number;
  readonly spot?: boolean;
  readonly onDemandFallback?: boolean;
  readonly rootVolumeSizeGiB?: number;
  readonly efa?: boolean;
  readonly placementGroup?: boolean;
  readonly teams?: readonly TrainingTeamSpec[];
  readonly priority?: number;
  readonly logRetentionDays?: number;
  readonly costModel?: CostModel;
}

/** Monthly cost of running the cluster at its GPU cap all month, for the priciest allowed type. */
export interface TrainingCostCeilingSpec {
  /** `maxGpus` busy all month on spot capacity. */
  readonly spotUsd: number;
  /** `maxGpus` busy all month on on-demand capacity. */
  readonly onDemandUsd: number;
  /**
   * The most the cluster can spend in a month: every compute environment it has at its cap. Spot only: `spotUsd`;
   * on-demand only: `onDemandUsd`; spot with the on-demand fallback: both, because each compute environment may run
   * `maxGpus` GPUs and the queue fills the fallback whenever the spot environment is full or has no capacity.
   */
  readonly maxUsd: number;
}

/** The settings every engine renders for a GPU training cluster. */
export interface TrainingClusterSpec {
  readonly instances: readonly GpuInstance[];
  readonly maxGpus: number;
  /** Batch's vCPU cap that lets `maxGpus` GPUs run whichever allowed types are picked. */
  readonly maxvCpus: number;
  /** vCPUs the first compute environment keeps running: the profile's `minCapacity.trainingVcpus` (0 everywhere by default). */
  readonly minvCpus: number;
  readonly spot: boolean;
  /** Whether an on-demand compute environment backs the spot one (or replaces it when spot is off). */
  readonly onDemand: boolean;
  readonly efa: boolean;
  readonly placementGroup: boolean;
  readonly rootVolumeSizeGiB: number;
  readonly priority: number;
  readonly logRetentionDays: number;
  readonly teams: ReadonlyArray<{ readonly name: string; readonly weight: number }>;
  readonly costCeiling: TrainingCostCeilingSpec;
  readonly retainData: boolean;
  readonly keyPendingWindowDays: number;
}

/** The instance types a cluster allows when none are given. */
export const DEFAULT_TRAINING_INSTANCE_TYPES: readonly string[] = Object.freeze(['g5.xlarge', 'g5.2xlarge', 'g6.xlarge', 'g6.2xlarge']);

/**
 * Validates a GPU training cluster's input and resolves its defaults: the allowed NVIDIA types, the GPU cap
 * translated into Batch's vCPU cap, spot with on-demand fallback where the profile is multi-AZ, and the cost ceiling.
 *
 * GPU cap: `maxvCpus = ceil(maxGpus / g) * v` where `g` GPUs and `v` vCPUs belong to the allowed type with the most
 * vCPUs per GPU, so `maxGpus` GPUs can always be reached whichever types Batch picks.
 */
export function resolveTrainingClusterSpec(scope: SpecScope, input: TrainingClusterSpecInput, profile: EnvironmentProfile): TrainingClusterSpec {
  const check = specCheck(scope);
  const types = input.instanceTypes ?? DEFAULT_TRAINING_INSTANCE_TYPES;
  if (!Array.isArray(types) || types.length === 0) {
    check.fail('instanceTypes', types, 'must list at least one instance type', "list GPU types such as ['g5.xlarge', 'g6.xlarge'].");
  }
  const instances = types.map((t, i) => nvidiaTrainingInstance(scope, t, `instanceTypes[${i}]`));
  if (new Set(types).size !== types.length) check.fail('instanceTypes', types, 'must not repeat a type', 'list each instance type once.');
  const smallestGpus = Math.min(...instances.map((i) => i.gpus));
  const maxGpus = check.positiveInteger('maxGpus', input.maxGpus) ?? 8;
  if (!specUnresolved(scope, maxGpus) && maxGpus < smallestGpus) {
    check.fail('maxGpus', maxGpus, `must be at least the GPUs of the smallest allowed instance type (${smallestGpus})`,
      `raise 'maxGpus' to ${smallestGpus} or more, or allow a type with fewer GPUs such as g5.xlarge.`);
  }
  const efa = input.efa ?? false;
  if (efa) {
    const without = instances.filter((i) => !i.efa).map((i) => i.instanceType);
    if (without.length > 0) {
      check.fail('efa', true, `needs instance types that support EFA, but ${without.join(', ')} do not`,
        `remove ${without.join(', ')} from 'instanceTypes' (EFA types include g5.8xlarge, g5.12xlarge, g6.12xlarge, p4d.24xlarge), or set 'efa: false'.`);
    }
  }
  const placementGroup = input.placementGroup ?? efa;
  if (efa && !placementGroup) {
    check.fail('placementGroup', false, "cannot be false with 'efa'", "EFA instances must share a cluster placement group; remove 'placementGroup: false'.");
  }
  const rootVolumeSizeGiB = check.integerInRange('rootVolumeSizeGiB', input.rootVolumeSizeGiB, 30, 16384,
    'the ECS GPU AMI needs at least 30 GiB and gp3 volumes hold at most 16384 GiB.') ?? 200;
  const priority = check.integerInRange('priority', input.priority, 0, 1000) ?? 10;
  const logRetentionDays = input.logRetentionDays ?? profile.logRetentionDays;
  check.oneOf('logRetentionDays', logRetentionDays, LOG_RETENTION_DAYS as readonly number[],
    `use a value CloudWatch Logs accepts: ${LOG_RETENTION_DAYS.join(', ')}.`);
  const teams = resolveTeams(scope, input.teams);
  const spot = input.spot ?? true;
  const onDemand = !spot || (input.onDemandFallback ?? profile.multiAz);
  const widest = [...instances].sort((a, b) => b.vcpus / b.gpus - a.vcpus / a.gpus)[0];
  const maxvCpus = Math.ceil(maxGpus / widest.gpus) * widest.vcpus;
  const warmVcpus = profile.minCapacity.trainingVcpus;
  if (warmVcpus > maxvCpus) {
    check.fail('profile.minCapacity.trainingVcpus', warmVcpus, `must not exceed the cluster's vCPU cap (${maxvCpus}, from 'maxGpus')`,
      "lower 'minCapacity.trainingVcpus' in the profile, or raise 'maxGpus'.");
  }
  return {
    instances,
    maxGpus,
    maxvCpus,
    minvCpus: warmVcpus,
    spot,
    onDemand,
    efa,
    placementGroup,
    rootVolumeSizeGiB,
    priority,
    logRetentionDays,
    teams,
    costCeiling: trainingCostCeiling(instances, maxGpus, input.costModel ?? CostModel.default(), { spot, onDemand }),
    retainData: profile.retainsData,
    keyPendingWindowDays: profile.allowDestroy ? 7 : 30,
  };
}

/**
 * Monthly cost of `maxGpus` GPUs running all month on the priciest allowed type, spot and on-demand, and the ceiling
 * over the compute environments the cluster has (`environments`; default: spot with the on-demand fallback).
 */
export function trainingCostCeiling(instances: readonly GpuInstance[], maxGpus: number, model: CostModel,
  environments: { readonly spot: boolean; readonly onDemand: boolean } = { spot: true, onDemand: true }): TrainingCostCeilingSpec {
  const perType = (purchase: PurchaseOption) => Math.max(...instances.map((instance) =>
    model.monthlyInstanceCost({ instance, count: Math.ceil(maxGpus / instance.gpus), purchase })));
  const spotUsd = perType(PurchaseOption.SPOT);
  const onDemandUsd = perType(PurchaseOption.ON_DEMAND);
  const maxUsd = roundUsd((environments.spot ? spotUsd : 0) + (environments.onDemand ? onDemandUsd : 0));
  return { spotUsd, onDemandUsd, maxUsd };
}

/** A catalog instance type with NVIDIA GPUs (the ECS GPU AMI drives no other accelerator), or a ValidationError naming `prop`. */
export function nvidiaTrainingInstance(scope: SpecScope, instanceType: string, prop: string): GpuInstance {
  const instance = GpuInstance.accelerated(instanceType, prop, scope.scope);
  if (!instance.isNvidiaGpu) {
    specCheck(scope).fail(prop, instanceType, `has ${instance.acceleratorModel} accelerators, not NVIDIA GPUs`,
      'use an NVIDIA GPU type such as g5.xlarge or g6.xlarge; the ECS GPU AMI drives NVIDIA GPUs only.');
  }
  return instance;
}

function resolveTeams(scope: SpecScope, teams: readonly TrainingTeamSpec[] | undefined): Array<{ name: string; weight: number }> {
  const check = specCheck(scope);
  const out = (teams ?? []).map((team, i) => {
    validateIdentifier(scope.scope, `teams[${i}].name`, team.name, 64);
    const weight = check.positiveNumber(`teams[${i}].weight`, team.weight,
      `set 'teams[${i}].weight' to a positive relative share, e.g. 1 (or 2 for twice the share).`) ?? 1;
    check.numberInRange(`teams[${i}].weight`, weight, 0.001, 1000);
    return { name: team.name, weight };
  });
  if (new Set(out.map((t) => t.name)).size !== out.length) {
    check.fail('teams', out.map((t) => t.name), 'must not repeat a team name', 'list each team once.');
  }
  return out;
}

/** One `EvaluateOnExit` rule of a Batch retry strategy. */
export interface TrainingRetryStrategy {
  readonly action: 'RETRY' | 'EXIT';
  readonly onStatusReason?: string;
  readonly onReason?: string;
}

/** What a Batch training job retries: only spot reclamation and host failures, never a missing image or an application error. */
export const TRAINING_RETRY_STRATEGIES: ReadonlyArray<TrainingRetryStrategy> = Object.freeze([
  { action: 'RETRY', onStatusReason: 'Host EC2*' },
  { action: 'EXIT', onReason: 'CannotPullContainerError:*' },
  { action: 'EXIT', onReason: '*' },
]);

/** vCPUs and memory a job gets per GPU unless it says otherwise. */
export const TRAINING_VCPUS_PER_GPU = 4;
export const TRAINING_MEMORY_MIB_PER_GPU = 14336;
/** The EFA device passed to jobs on EFA clusters. */
export const EFA_DEVICE = '/dev/infiniband/uverbs0';
/** Environment variables the cluster sets for every job. */
export const TRAINING_RESERVED_ENVIRONMENT: readonly string[] = Object.freeze(['CHECKPOINT_URI', 'DATASETS_URI']);

/** Engine-neutral options of a training job definition (single- or multi-node). */
export interface TrainingJobSpecInput {
  /** Job name; the engine derives the default from its id. */
  readonly jobName: string;
  readonly hasImageRepository: boolean;
  readonly imageUri?: string;
  readonly imageTag?: string;
  readonly environment?: { readonly [key: string]: string };
  readonly datasetPrefix?: string;
  readonly timeoutSeconds?: number;
  readonly attempts?: number;
}

/** The settings every engine renders for a training job definition. */
export interface TrainingJobSpec {
  readonly jobName: string;
  readonly attempts: number;
  readonly timeoutSeconds: number;
  /** `checkpoints/<jobName>/` in the models bucket. */
  readonly checkpointPrefix: string;
  readonly datasetPrefix: string;
  readonly gpus: number;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Multi-node jobs only. */
  readonly nodes?: number;
  readonly mainNode?: number;
  readonly instanceType?: string;
}

/** Single-node sizes. */
export interface TrainingJobSizeInput {
  readonly gpus?: number;
  readonly vcpus?: number;
  readonly memoryMiB?: number;
}

/** Multi-node sizes. */
export interface MultiNodeTrainingJobSizeInput {
  readonly nodes: number;
  readonly gpusPerNode?: number;
  readonly instanceType?: string;
  readonly vcpusPerNode?: number;
  readonly memoryMiBPerNode?: number;
  readonly mainNode?: number;
}

/** Validates a single-node job's size against the cluster's instance types, then its common options. */
export function resolveTrainingJobSpec(
  scope: SpecScope, cluster: TrainingClusterSpec, size: TrainingJobSizeInput, input: TrainingJobSpecInput, jobNames: ReadonlySet<string>,
): TrainingJobSpec {
  const check = specCheck(scope);
  const gpus = check.positiveInteger('gpus', size.gpus) ?? 1;
  const most = Math.max(...cluster.instances.map((i) => i.gpus));
  if (gpus > most) {
    check.fail('gpus', gpus, `is more than any allowed instance type has (${most})`,
      `lower 'gpus' to ${most} or less, or allow a type with more GPUs (g5.12xlarge has 4, g5.48xlarge has 8); use addMultiNodeJobDefinition for more.`);
  }
  const vcpus = check.positiveInteger('vcpus', size.vcpus) ?? TRAINING_VCPUS_PER_GPU * gpus;
  const memoryMiB = check.positiveInteger('memoryMiB', size.memoryMiB) ?? TRAINING_MEMORY_MIB_PER_GPU * gpus;
  const candidates = cluster.instances.filter((i) => i.gpus >= gpus);
  if (!candidates.some((i) => i.vcpus >= vcpus)) {
    const widest = Math.max(...candidates.map((i) => i.vcpus));
    check.fail('vcpus', vcpus, `is more than any allowed type with ${gpus} GPU(s) has (${widest})`, `lower 'vcpus' to ${widest} or less, or allow a larger type.`);
  }
  if (!candidates.some((i) => i.vcpus >= vcpus && i.memoryGiB * 1024 >= memoryMiB)) {
    check.fail('memoryMiB', memoryMiB, `does not fit any allowed type with ${gpus} GPU(s) and ${vcpus} vCPUs`, "lower 'memoryMiB', or allow a larger type.");
  }
  return { ...resolveJobCommon(scope, input, jobNames), gpus, vcpus, memoryMiB };
}

/**
 * Validates a multi-node parallel job (on-demand only, as Batch runs them) against the cluster, then its common
 * options. The instance type defaults to the allowed type with the most GPUs.
 */
export function resolveMultiNodeTrainingJobSpec(
  scope: SpecScope, cluster: TrainingClusterSpec, size: MultiNodeTrainingJobSizeInput, input: TrainingJobSpecInput, jobNames: ReadonlySet<string>,
): TrainingJobSpec {
  const check = specCheck(scope);
  check.integerInRange('nodes', size.nodes, 2, 1000, "set 'nodes' to 2 or more; use addJobDefinition for a single node.");
  if (size.nodes === undefined) check.fail('nodes', undefined, 'is required', "set 'nodes' to 2 or more.");
  if (!cluster.onDemand) {
    check.fail('onDemandFallback', false, 'must be true for multi-node jobs',
      "Batch runs multi-node parallel jobs on on-demand capacity only; set 'onDemandFallback: true' or 'spot: false'.");
  }
  check.integerInRange('mainNode', size.mainNode, 0, size.nodes - 1, `set 'mainNode' to a node index from 0 to ${size.nodes - 1}.`);
  const instance = size.instanceType !== undefined
    ? nvidiaTrainingInstance(scope, size.instanceType, 'instanceType')
    : [...cluster.instances].sort((a, b) => b.gpus - a.gpus)[0];
  if (!cluster.instances.some((i) => i.instanceType === instance.instanceType)) {
    check.fail('instanceType', instance.instanceType, 'is not one of the cluster\'s instance types',
      `use one of ${cluster.instances.map((i) => i.instanceType).join(', ')}, or add it to the cluster's 'instanceTypes'.`);
  }
  const gpusPerNode = check.positiveInteger('gpusPerNode', size.gpusPerNode) ?? instance.gpus;
  if (gpusPerNode > instance.gpus) {
    check.fail('gpusPerNode', gpusPerNode, `is more than ${instance.instanceType} has (${instance.gpus})`,
      `lower 'gpusPerNode' to ${instance.gpus} or less, or choose an 'instanceType' with more GPUs.`);
  }
  const nodesGpus = size.nodes * gpusPerNode;
  if (nodesGpus > cluster.maxGpus) {
    check.fail('nodes', size.nodes, `needs ${nodesGpus} GPUs, more than the cluster's 'maxGpus' (${cluster.maxGpus})`,
      "lower 'nodes' or 'gpusPerNode', or raise the cluster's 'maxGpus'.");
  }
  const vcpus = check.positiveInteger('vcpusPerNode', size.vcpusPerNode) ?? Math.min(TRAINING_VCPUS_PER_GPU * gpusPerNode, instance.vcpus);
  const memoryMiB = check.positiveInteger('memoryMiBPerNode', size.memoryMiBPerNode) ?? TRAINING_MEMORY_MIB_PER_GPU * gpusPerNode;
  if (vcpus > instance.vcpus) check.fail('vcpusPerNode', vcpus, `is more than ${instance.instanceType} has (${instance.vcpus})`, `lower 'vcpusPerNode' to ${instance.vcpus} or less.`);
  if (memoryMiB > instance.memoryGiB * 1024) {
    check.fail('memoryMiBPerNode', memoryMiB, `is more than ${instance.instanceType} has (${instance.memoryGiB * 1024} MiB)`, "lower 'memoryMiBPerNode'.");
  }
  return {
    ...resolveJobCommon(scope, input, jobNames),
    gpus: gpusPerNode,
    vcpus,
    memoryMiB,
    nodes: size.nodes,
    mainNode: size.mainNode ?? 0,
    instanceType: instance.instanceType,
  };
}

function resolveJobCommon(scope: SpecScope, input: TrainingJobSpecInput, jobNames: ReadonlySet<string>) {
  const check = specCheck(scope);
  validateIdentifier(scope.scope, 'jobName', input.jobName, 64);
  if (jobNames.has(input.jobName)) check.fail('jobName', input.jobName, 'is already used by another job of the cluster', 'give each job its own name; it separates their checkpoints.');
  if (input.hasImageRepository === (input.imageUri !== undefined)) {
    check.fail('imageUri', input.imageUri, "must be given exactly when 'imageRepository' is not",
      "give either 'imageRepository' (with 'imageTag') or 'imageUri', not both and not neither.");
  }
  if (input.imageTag !== undefined && !input.hasImageRepository) {
    check.fail('imageTag', input.imageTag, "needs 'imageRepository'", "put the tag in 'imageUri', or give 'imageRepository'.");
  }
  const attempts = check.integerInRange('attempts', input.attempts, 1, 10) ?? 3;
  const timeoutSeconds = input.timeoutSeconds ?? 24 * 3600;
  if (!specUnresolved(scope, timeoutSeconds) && timeoutSeconds < 60) {
    check.fail('timeout', `${timeoutSeconds} seconds`, 'must be at least 60 seconds', "Batch's shortest attempt timeout is 60 seconds; raise 'timeout'.");
  }
  for (const reserved of TRAINING_RESERVED_ENVIRONMENT) {
    if (input.environment && reserved in input.environment) {
      check.fail(`environment.${reserved}`, input.environment[reserved], 'is set by the cluster', `remove '${reserved}' from 'environment'.`);
    }
  }
  return {
    jobName: input.jobName,
    attempts,
    timeoutSeconds,
    checkpointPrefix: `checkpoints/${input.jobName}/`,
    datasetPrefix: input.datasetPrefix ?? '',
  };
}

/**
 * Checks a grant of job submission, for every engine: `team` is one of the cluster's, and there are job definitions
 * to submit (the grant covers the ones that exist when it is made).
 */
export function validateJobSubmissionGrant(check: Check, input: {
  readonly team?: string;
  readonly teams: readonly string[];
  readonly jobDefinitionCount: number;
  /** The engine's grant method, named in the fix (`grantSubmitJob()`, `submitJobStatements()`). */
  readonly grantMethod: string;
}): void {
  if (input.team !== undefined && !input.teams.includes(input.team)) {
    check.fail('team', input.team, 'is not a team of the cluster', `use one of ${input.teams.join(', ') || '(no teams configured)'}.`);
  }
  if (input.jobDefinitionCount === 0) {
    check.fail('jobDefinitions', [], 'must not be empty when granting job submission', `call addJobDefinition() before ${input.grantMethod}.`);
  }
}
