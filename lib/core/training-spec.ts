import { CostModel, PurchaseOption } from './cost-model';
import { GpuInstance } from './gpu-catalog';
import { validateIdentifier } from './naming';
import { EnvironmentProfile, LOG_RETENTION_DAYS } from './profiles';
import { SpecScope, specCheck, specUnresolved } from './spec-scope';

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
  readonly spotUsd: number;
  readonly onDemandUsd: number;
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
    costCeiling: trainingCostCeiling(instances, maxGpus, input.costModel ?? CostModel.default()),
    retainData: profile.retainsData,
    keyPendingWindowDays: profile.allowDestroy ? 7 : 30,
  };
}

/** Monthly cost of `maxGpus` GPUs running all month on the priciest allowed type, spot and on-demand. */
export function trainingCostCeiling(instances: readonly GpuInstance[], maxGpus: number, model: CostModel): TrainingCostCeilingSpec {
  const perType = (purchase: PurchaseOption) => Math.max(...instances.map((instance) =>
    model.monthlyInstanceCost({ instance, count: Math.ceil(maxGpus / instance.gpus), purchase })));
  return { spotUsd: perType(PurchaseOption.SPOT), onDemandUsd: perType(PurchaseOption.ON_DEMAND) };
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
