import { CostModel, MonthlyCostRange, roundUsd } from './cost-model';
import { AcceleratorKind, GpuInstance } from './gpu-catalog';
import { CronFields, EnvironmentProfile, HOURS_PER_MONTH_ALWAYS_ON } from './profiles';
import { SpecScope, specCheck } from './spec-scope';

/** Engine-neutral inference fleet input. */
export interface InferenceFleetSpecInput {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly instanceType?: string;
  readonly containerPort?: number;
  readonly rootVolumeSizeGiB?: number;
  readonly healthCheckPath?: string;
  readonly minCapacity?: number;
  readonly maxCapacity?: number;
  readonly allowScaleToZero?: boolean;
  readonly scaleToZeroOffHours?: boolean;
  readonly targetRequestsPerInstancePerMinute?: number;
  readonly targetGpuUtilizationPercent?: number;
  readonly minHealthyPercent?: number;
  readonly healthCheckGracePeriodSeconds?: number;
  readonly internetFacing?: boolean;
  /** Whether a TLS certificate is given (required for an internet-facing load balancer). */
  readonly hasCertificate?: boolean;
  /** Variants served side by side (rollouts); @default 1 */
  readonly variantCount?: number;
  readonly costModel?: CostModel;
}

/** The settings every engine renders for an inference fleet. */
export interface InferenceFleetSpec {
  readonly instance: GpuInstance;
  readonly containerPort: number;
  readonly rootVolumeSizeGiB: number;
  readonly healthCheckPath: string;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  /** Instances during working hours: at least 1 where the fleet scales to zero off hours. */
  readonly workingMinCapacity: number;
  /** Scale-down and scale-up cron fields when the fleet scales to zero off hours. */
  readonly offHours?: { readonly scaleUp: CronFields; readonly scaleDown: CronFields; readonly timeZone: string };
  readonly targetRequestsPerInstancePerMinute: number;
  readonly targetGpuUtilizationPercent: number;
  readonly minHealthyPercent: number;
  readonly healthCheckGracePeriodSeconds: number;
  readonly internetFacing: boolean;
  readonly deletionProtection: boolean;
  readonly costEstimate: MonthlyCostRange;
}

/**
 * Public SSM parameters of the AMIs an inference fleet runs, by accelerator, the same for every engine: the ECS
 * GPU-optimized AL2023 AMI (NVIDIA driver and container toolkit), the base Neuron DLAMI (Neuron driver and tools,
 * meant for containers) and plain AL2023.
 */
export const INFERENCE_AMI_SSM_PARAMETERS: Readonly<Record<AcceleratorKind, string>> = Object.freeze({
  [AcceleratorKind.NVIDIA_GPU]: '/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id',
  [AcceleratorKind.INFERENTIA]: '/aws/service/neuron/dlami/base/amazon-linux-2023/latest/image_id',
  [AcceleratorKind.TRAINIUM]: '/aws/service/neuron/dlami/base/amazon-linux-2023/latest/image_id',
  [AcceleratorKind.NONE]: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
});

/**
 * `docker run` flags that hand an instance's accelerators to the serving container: all NVIDIA GPUs, every Neuron
 * device of an Inferentia or Trainium instance (enumerated on the instance), nothing on a CPU instance.
 */
export function inferenceContainerDeviceFlags(kind: AcceleratorKind): string {
  if (kind === AcceleratorKind.NVIDIA_GPU) return '--gpus all';
  if (kind === AcceleratorKind.NONE) return '';
  return '$(for d in /dev/neuron*; do printf -- "--device=%s " "$d"; done)';
}

const MODEL_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A model version: letters, digits, '.', '_' or '-', at most 128 characters (also used for rollout variants' versions). */
export const MODEL_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Validates an inference fleet's input and resolves its capacity, schedule and cost from the profile. */
export function resolveInferenceFleetSpec(scope: SpecScope, input: InferenceFleetSpecInput, profile: EnvironmentProfile): InferenceFleetSpec {
  const check = specCheck(scope);
  check.matches('modelName', input.modelName, MODEL_NAME, 'a model name of lower-case letters, digits and hyphens (at most 63 characters)');
  check.matches('modelVersion', input.modelVersion, MODEL_VERSION_PATTERN, 'a version of letters, digits, ".", "_" or "-" (at most 128 characters)');
  const instance = GpuInstance.of(input.instanceType ?? 'g5.xlarge', 'instanceType', scope.scope);
  const containerPort = check.integerInRange('containerPort', input.containerPort, 1, 65535) ?? 8080;
  const rootVolumeSizeGiB = check.integerInRange('rootVolumeSizeGiB', input.rootVolumeSizeGiB, 30, 16384) ?? 100;
  const healthCheckPath = check.matches('healthCheckPath', input.healthCheckPath, /^\/[\x21-\x7e]{0,1023}$/, "a path starting with '/'") ?? '/ping';
  const minCapacity = check.nonNegativeInteger('minCapacity', input.minCapacity) ?? profile.minCapacity.inferenceInstances;
  const maxCapacity = check.positiveInteger('maxCapacity', input.maxCapacity) ?? Math.max(2, 2 * minCapacity);
  check.notAbove('minCapacity', minCapacity, 'maxCapacity', maxCapacity);
  if (minCapacity === 0 && profile.minCapacity.inferenceInstances > 0 && input.allowScaleToZero !== true) {
    check.fail('minCapacity', 0, `scales the fleet to zero although the ${profile.name} profile keeps ${profile.minCapacity.inferenceInstances} instance(s) warm`,
      "set 'allowScaleToZero: true' to confirm that requests may wait for a cold start, or raise 'minCapacity'.");
  }
  const schedule = profile.offHoursSchedule();
  const scaleToZeroOffHours = input.scaleToZeroOffHours ?? schedule !== undefined;
  if (scaleToZeroOffHours && !schedule) {
    check.fail('scaleToZeroOffHours', true, `needs working hours, but the ${profile.name} profile is always on`,
      "remove 'scaleToZeroOffHours', or give the profile 'workingHours'.");
  }
  const targetRequests = check.positiveInteger('targetRequestsPerInstancePerMinute', input.targetRequestsPerInstancePerMinute) ?? 300;
  const targetGpu = check.integerInRange('targetGpuUtilizationPercent', input.targetGpuUtilizationPercent, 10, 95) ?? 70;
  const minHealthyPercent = check.integerInRange('minHealthyPercent', input.minHealthyPercent, 0, 100) ?? 100;
  const gracePeriod = input.healthCheckGracePeriodSeconds ?? 600;
  check.integerInRange('healthCheckGracePeriod', gracePeriod, 0, 7200, 'give a grace period between 0 seconds and 2 hours.');
  const internetFacing = input.internetFacing ?? false;
  if (internetFacing && !input.hasCertificate) {
    check.fail('certificate', undefined, 'is required when \'internetFacing\' is true',
      'pass an ACM certificate so the public listener serves HTTPS, or leave the load balancer internal.');
  }
  // Off-hours scale-down needs someone to bring capacity back: in working hours at least one instance runs.
  const workingMin = scaleToZeroOffHours ? Math.max(1, minCapacity) : minCapacity;
  const hours = scaleToZeroOffHours ? profile.scheduledHoursPerMonth : HOURS_PER_MONTH_ALWAYS_ON;
  return {
    instance,
    containerPort,
    rootVolumeSizeGiB,
    healthCheckPath,
    minCapacity,
    maxCapacity,
    workingMinCapacity: workingMin,
    offHours: scaleToZeroOffHours ? schedule : undefined,
    targetRequestsPerInstancePerMinute: targetRequests,
    targetGpuUtilizationPercent: targetGpu,
    minHealthyPercent,
    healthCheckGracePeriodSeconds: gracePeriod,
    internetFacing,
    deletionProtection: profile.deletionProtection,
    costEstimate: inferenceFleetCostEstimate({ instance, workingMin, maxCapacity, variantCount: input.variantCount ?? 1, hoursPerMonth: hours },
      input.costModel ?? CostModel.default()),
  };
}

/** Monthly cost of a fleet's instances (working minimum to maximum, per variant) and its load balancer. */
export function inferenceFleetCostEstimate(
  input: { instance: GpuInstance; workingMin: number; maxCapacity: number; variantCount: number; hoursPerMonth: number }, costModel: CostModel,
): MonthlyCostRange {
  const count = input.variantCount;
  const instances = costModel.monthlyRange({
    instance: input.instance, min: input.workingMin * count, max: input.maxCapacity * count, hoursPerMonth: input.hoursPerMonth,
  });
  const alb = costModel.monthlyHourly(costModel.unitPrices.albHour + costModel.unitPrices.albLcuHour);
  return { minUsd: roundUsd(instances.minUsd + alb), maxUsd: roundUsd(instances.maxUsd + alb) };
}
