import { CostModel, MonthlyCostRange, roundUsd } from './cost-model';
import { AcceleratorKind, GpuInstance } from './gpu-catalog';
import { CronFields, EnvironmentProfile, HOURS_PER_MONTH_ALWAYS_ON } from './profiles';
import { CURRENT_VARIANT, Rollout, RolloutKind } from './rollout';
import { SpecScope, specCheck } from './spec-scope';

/** Engine-neutral inference fleet input. */
export interface InferenceFleetSpecInput {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly instanceType?: string;
  /** Catalog types the fleet may launch when `instanceType` has no capacity; @default GpuInstance.capacityAlternatives() */
  readonly alternativeInstanceTypes?: string[];
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
  /** The engine's certificate prop, named by a missing-certificate error. @default 'certificate' */
  readonly certificateProp?: string;
  /** Variants served side by side (rollouts); @default 1 */
  readonly variantCount?: number;
  readonly costModel?: CostModel;
}

/** The settings every engine renders for an inference fleet. */
export interface InferenceFleetSpec {
  readonly instance: GpuInstance;
  /**
   * The types the fleet's instances may be, in order of preference: `instance` first, then its stand-ins (an Auto
   * Scaling mixed-instances policy, on-demand, prioritized), so a shortage of one GPU type does not stop scaling out.
   */
  readonly capacityTypes: GpuInstance[];
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
  const alternatives = input.alternativeInstanceTypes === undefined
    ? instance.capacityAlternatives()
    : input.alternativeInstanceTypes.map((t, i) => GpuInstance.of(t, `alternativeInstanceTypes[${i}]`, scope.scope));
  alternatives.forEach((alternative, i) => {
    if (alternative.instanceType === instance.instanceType || !instance.canStandIn(alternative)) {
      check.fail(`alternativeInstanceTypes[${i}]`, alternative.instanceType,
        alternative.instanceType === instance.instanceType ? 'repeats instanceType' : `cannot run what runs on ${instance.instanceType}`,
        `use a type with the same accelerator (${instance.accelerators} x ${instance.acceleratorModel}, at least ${instance.acceleratorMemoryGiB} GiB each) `
        + `and at least ${instance.vcpus} vCPUs and ${instance.memoryGiB} GiB, e.g. ${instance.capacityAlternatives(2, 3).join(', ') || 'none in the catalog'}.`);
    }
  });
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
    check.fail(input.certificateProp ?? 'certificate', undefined, 'is required when \'internetFacing\' is true',
      'pass an ACM certificate so the public listener serves HTTPS, or leave the load balancer internal.');
  }
  // Off-hours scale-down needs someone to bring capacity back: in working hours at least one instance runs.
  const workingMin = scaleToZeroOffHours ? Math.max(1, minCapacity) : minCapacity;
  const hours = scaleToZeroOffHours ? profile.scheduledHoursPerMonth : HOURS_PER_MONTH_ALWAYS_ON;
  return {
    instance,
    capacityTypes: [instance, ...alternatives],
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
    costEstimate: inferenceFleetCostEstimate({
      instance, standIns: alternatives, workingMin, maxCapacity, variantCount: input.variantCount ?? 1, hoursPerMonth: hours,
    },
    input.costModel ?? CostModel.default()),
  };
}

/** Monthly cost of a fleet's instances (working minimum to maximum, per variant) and its load balancer. */
export function inferenceFleetCostEstimate(
  input: {
    instance: GpuInstance;
    workingMin: number;
    maxCapacity: number;
    variantCount: number;
    hoursPerMonth: number;
    /** Types the groups may launch when `instance` has no capacity: the maximum assumes the dearest of all. @default none */
    standIns?: readonly GpuInstance[];
  },
  costModel: CostModel,
): MonthlyCostRange {
  const count = input.variantCount;
  const range = (instance: GpuInstance) => costModel.monthlyRange({
    instance, min: input.workingMin * count, max: input.maxCapacity * count, hoursPerMonth: input.hoursPerMonth,
  });
  // The minimum on the fleet's own type (launched first); the maximum on whichever type costs most.
  const minUsd = range(input.instance).minUsd;
  const maxUsd = Math.max(...[input.instance, ...(input.standIns ?? [])].map((t) => range(t).maxUsd));
  const alb = costModel.monthlyHourly(costModel.unitPrices.albHour + costModel.unitPrices.albLcuHour);
  return { minUsd: roundUsd(minUsd + alb), maxUsd: roundUsd(maxUsd + alb) };
}

/** Rollouts an inference fleet renders (as weighted target groups); shadows need mirroring, which an ALB cannot do. */
export const FLEET_ROLLOUTS: readonly RolloutKind[] = Object.freeze([
  RolloutKind.ALL_AT_ONCE, RolloutKind.CANARY, RolloutKind.LINEAR, RolloutKind.AB_TEST, RolloutKind.BLUE_GREEN,
]);

/** Rejects a rollout an inference fleet cannot perform, pointing to the backends that can. */
export function assertFleetRollout(scope: SpecScope, rollout: Rollout): void {
  rollout.assertSupportedBy(scope.scope, 'rollout', 'InferenceFleet', FLEET_ROLLOUTS,
    'use ModelEndpoint (SageMaker shadow variants) or the Kubernetes InferenceService (Gateway API mirrors) for shadow rollouts');
}

/** One variant of a fleet: its model version and share of the listener's traffic. */
export interface FleetVariantSpec {
  readonly name: string;
  readonly version: string;
  readonly weight: number;
}

/**
 * The variants a fleet serves for a rollout, each with its version: `current` defaults to `modelVersion`, every other
 * variant of the rollout's initial split needs a version in `variantVersions`.
 */
export function resolveFleetVariants(scope: SpecScope, rollout: Rollout, modelVersion: string, given: Record<string, string>): FleetVariantSpec[] {
  const check = specCheck(scope);
  const split = rollout.initialSplit();
  for (const name of Object.keys(given)) {
    if (!split.some((s) => s.variant === name)) {
      check.fail(`variantVersions.${name}`, given[name], `names a variant the rollout does not have (${rollout.kind})`,
        `give versions only for ${split.map((s) => s.variant).join(', ')}.`);
    }
  }
  return split.map(({ variant, percent }) => {
    const version = given[variant] ?? (variant === CURRENT_VARIANT || split.length === 1 ? modelVersion : undefined);
    if (version === undefined) {
      check.fail(`variantVersions.${variant}`, undefined, `is required by the ${rollout.kind} rollout`,
        `give the model version the '${variant}' variant serves, e.g. variantVersions: { ${variant}: 'v2' }.`);
    }
    check.matches(`variantVersions.${variant}`, version, MODEL_VERSION_PATTERN, 'a version of letters, digits, ".", "_" or "-"');
    return { name: variant, version, weight: percent };
  });
}

/**
 * Namespace of the GPU metrics a fleet's CloudWatch agent publishes (`nvidia_smi_utilization_gpu`,
 * `nvidia_smi_utilization_memory`), aggregated by `AutoScalingGroupName`.
 */
export const INFERENCE_GPU_METRICS_NAMESPACE = 'MLOps/Inference';

/** The settings of a fleet's target groups and instances that every engine renders the same way. */
export const FLEET_TARGET_GROUP = Object.freeze({
  healthyHttpCodes: '200',
  intervalSeconds: 15,
  healthyThresholdCount: 2,
  deregistrationDelaySeconds: 30,
});

/** The shell variable a fleet's boot script sets to the version its variant serves, when it reads the served state. */
export const SERVED_VERSION_SHELL_VARIABLE = 'SERVED_VERSION';

/**
 * Where a fleet instance reads the version it serves at boot: the model's served state (SSM parameter, value in
 * `encodeServedState`'s format) and the instance's variant in it.
 */
export interface FleetBootServedState {
  /** The served state's parameter name, `servedStateParameterName(<environment prefix>, <model>)`. */
  readonly parameterName: string;
  /** The variant the instance's Auto Scaling group serves (`current`, `candidate`, an A/B variant), for messages. */
  readonly variant: string;
  /** The variant's position in the fleet (the rollout's order), 0-based: the entry of the served state it reads. */
  readonly index: number;
}

/**
 * Boot-script lines (after `REGION` is set) that read a served state with the AWS CLI and set `SERVED_VERSION` to the
 * version of one variant: the entry at the variant's position (`<variant>=<version>@<weight>` entries joined by `,`, as
 * `encodeServedState` writes them), as CloudFormation reads it on the CDK side (`ServedStateReader`). By position, not
 * by name: promotion writes `current=<version>@100` for a fleet served all at once, whose one variant is `candidate`.
 * A missing parameter, no entry at that position, or a version that is not one fails the boot (exit 1, the reason on
 * stderr and the console): the instance never serves a version it did not read.
 */
export function servedVersionBootCommands(state: FleetBootServedState): string[] {
  const source = `served state ${state.parameterName}`;
  const entry = `entry ${state.index + 1} (variant ${state.variant})`;
  // Literals from validated names (lower-case identifiers, /mlops/... paths): nothing in them needs shell quoting.
  return [
    `SERVED_STATE=$(AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=10 aws ssm get-parameter --region "$REGION" --name '${state.parameterName}' `
      + `--query Parameter.Value --output text) || { echo "cannot read the ${source}: not serving" | tee /dev/console >&2 || true; exit 1; }`,
    'IFS=\',\' read -r -a SERVED_ENTRIES <<< "$SERVED_STATE"',
    `SERVED_ENTRY="\${SERVED_ENTRIES[${state.index}]:-}"`,
    "SERVED_ENTRY_PATTERN='^[^=@,]+=([^=@,]+)@[0-9]{1,3}$'",
    `${SERVED_VERSION_SHELL_VARIABLE}=''`,
    `if [[ "$SERVED_ENTRY" =~ $SERVED_ENTRY_PATTERN ]]; then ${SERVED_VERSION_SHELL_VARIABLE}="\${BASH_REMATCH[1]}"; fi`,
    `SERVED_VERSION_PATTERN='${MODEL_VERSION_PATTERN.source}'`,
    `if ! [[ "$${SERVED_VERSION_SHELL_VARIABLE}" =~ $SERVED_VERSION_PATTERN ]]; then`,
    `  echo "the ${source} ('$SERVED_STATE') has no version in ${entry}: not serving" | tee /dev/console >&2 || true`,
    '  exit 1',
    'fi',
    `echo "${entry} serves version $${SERVED_VERSION_SHELL_VARIABLE} (${source})"`,
  ];
}

/**
 * The boot script of a fleet instance (shell lines): log in to ECR, pull the serving image, on NVIDIA instances run
 * the CloudWatch agent publishing GPU utilization, then run the model container with the instance's accelerators.
 * With `servedState`, the instance first reads its variant's version from the served state
 * (`servedVersionBootCommands`) and `modelUri` names it as `${SERVED_VERSION}` (e.g. built with
 * `MODEL_ARTIFACT_LAYOUT.servedVersionPrefix(model, '${SERVED_VERSION}')`), so the script, and the launch template,
 * do not change when promotion changes the version.
 */
export function fleetUserDataCommands(input: {
  imageUri: string; modelUri: string; port: number; acceleratorKind: AcceleratorKind; servedState?: FleetBootServedState;
}): string[] {
  const reference = `\${${SERVED_VERSION_SHELL_VARIABLE}}`;
  if ((input.servedState !== undefined) !== input.modelUri.includes(reference)) {
    throw new Error(`fleetUserDataCommands: modelUri must name ${reference} exactly when the version is read from the served state (got ${input.modelUri})`);
  }
  const lines = [
    'set -euo pipefail',
    'command -v docker >/dev/null || dnf install -y docker',
    'systemctl enable --now docker',
    'TOKEN=$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
    'REGION=$(curl -sS -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/placement/region)',
    `IMAGE='${input.imageUri}'`,
    // Double quotes only where the URI names the version read at boot.
    ...(input.servedState ? [...servedVersionBootCommands(input.servedState), `MODEL_URI="${input.modelUri}"`] : [`MODEL_URI='${input.modelUri}'`]),
    'aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "${IMAGE%%/*}"',
    'docker pull "$IMAGE"',
  ];
  if (input.acceleratorKind === AcceleratorKind.NVIDIA_GPU) {
    lines.push(
      // The ECS-optimized AMI starts the ECS agent; the model runs under plain Docker here.
      'systemctl disable --now ecs || true',
      'dnf install -y amazon-cloudwatch-agent',
      "cat > /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json <<'EOF'",
      JSON.stringify({
        metrics: {
          namespace: INFERENCE_GPU_METRICS_NAMESPACE,
          append_dimensions: { AutoScalingGroupName: '${aws:AutoScalingGroupName}' },
          aggregation_dimensions: [['AutoScalingGroupName']],
          metrics_collected: { nvidia_gpu: { measurement: ['utilization_gpu', 'utilization_memory'], metrics_collection_interval: 60 } },
        },
      }),
      'EOF',
      '/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json',
    );
  }
  const deviceFlags = inferenceContainerDeviceFlags(input.acceleratorKind);
  lines.push(`docker run -d --restart always --name model ${deviceFlags} -p ${input.port}:${input.port} -e PORT=${input.port} -e MODEL_URI="$MODEL_URI" -e AWS_REGION="$REGION" "$IMAGE"`);
  return lines;
}
