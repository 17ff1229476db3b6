import { ComputeService, CostModel, MonthlyCostRange, roundUsd } from './cost-model';
import { GpuInstance } from './gpu-catalog';
import { CronFields, EnvironmentProfile, HOURS_PER_MONTH_ALWAYS_ON } from './profiles';
import { CANDIDATE_VARIANT, CURRENT_VARIANT, Rollout, RolloutKind } from './rollout';
import { SpecScope, specCheck } from './spec-scope';

/** Engine-neutral SageMaker endpoint input. */
export interface ModelEndpointSpecInput {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly variantVersions?: Record<string, string>;
  readonly instanceType?: string;
  readonly minCapacity?: number;
  readonly maxCapacity?: number;
  readonly targetInvocationsPerInstancePerMinute?: number;
  readonly scaleDownOffHours?: boolean;
  readonly scaleToZeroOffHours?: boolean;
  readonly rollout?: Rollout;
  readonly dataCapturePercent?: number;
  /** How many rollback alarms the user gave (undefined: the defaults are used). */
  readonly rollbackAlarmCount?: number;
  readonly costModel?: CostModel;
}

/** One model variant of an endpoint: production (weighted) or shadow (a share of requests copied to it). */
export interface EndpointVariantSpec {
  readonly name: string;
  readonly version: string;
  /** Weight of a production variant; for a shadow, the share of production requests copied to it, in percent. */
  readonly weight: number;
  readonly shadow: boolean;
}

/** SageMaker deployment guardrails' traffic routing (`TrafficRoutingConfig`), as the API spells it. */
export interface EndpointTrafficRoutingSpec {
  readonly type: 'ALL_AT_ONCE' | 'CANARY' | 'LINEAR';
  readonly waitIntervalInSeconds: number;
  readonly canarySize?: { readonly type: 'CAPACITY_PERCENT'; readonly value: number };
  readonly linearStepSize?: { readonly type: 'CAPACITY_PERCENT'; readonly value: number };
}

/** A default rollback alarm of a production variant, its metric chosen by the engine. */
export interface EndpointRollbackAlarmSpec {
  readonly variant: string;
  readonly kind: 'error-rate' | 'latency-p99';
  /** Percent for the error rate; microseconds for ModelLatency. */
  readonly threshold: number;
  readonly comparisonOperator: 'GreaterThanThreshold';
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: 'notBreaching';
  readonly description: string;
}

/**
 * How an endpoint hosts its model: `variant` (the model named by the endpoint configuration's production variant, at
 * least one instance per variant) or `inference-component` (one inference component on a variant with managed
 * instance scaling from zero instances: the only hosting SageMaker scales to zero).
 */
export type EndpointHosting = 'variant' | 'inference-component';

/** The inference component of an endpoint hosted as `inference-component`. */
export interface EndpointInferenceComponentSpec {
  /** Inference component name (the endpoint's name: one component per endpoint); its metrics' `InferenceComponentName`. */
  readonly name: string;
  /** Every accelerator of the instance, so one copy runs per instance and copies count instances. */
  readonly acceleratorDevices: number;
  /** Memory one copy reserves: half the instance's memory, the rest left to SageMaker's agents. */
  readonly minMemoryMiB: number;
  /**
   * SageMaker's rolling update of inference components (the guardrails of this hosting): batches of 5-50% of the copies,
   * each baked `waitIntervalInSeconds` while the rollback alarms are watched.
   */
  readonly rollingUpdate: {
    readonly maximumBatchSize: { readonly type: 'CAPACITY_PERCENT'; readonly value: number };
    readonly waitIntervalInSeconds: number;
    readonly maximumExecutionTimeoutInSeconds: number;
  };
}

/** The settings every engine renders for a SageMaker real-time endpoint. */
export interface ModelEndpointSpec {
  readonly instance: GpuInstance;
  /** `ml.<type>` */
  readonly mlInstanceType: string;
  readonly rollout: Rollout;
  readonly variants: readonly EndpointVariantSpec[];
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly targetInvocationsPerInstancePerMinute: number;
  readonly scaleOutCooldownSeconds: number;
  readonly scaleInCooldownSeconds: number;
  /** Scale-down (to `offHoursCapacity` per variant) and scale-up cron fields outside working hours. */
  readonly offHours?: { readonly scaleUp: CronFields; readonly scaleDown: CronFields; readonly timeZone: string };
  /** Capacity per variant outside working hours: 0 copies for inference components, else 1 instance. */
  readonly offHoursCapacity: number;
  readonly hosting: EndpointHosting;
  /** Present when `hosting` is `inference-component`. */
  readonly inferenceComponent?: EndpointInferenceComponentSpec;
  readonly dataCapturePercent: number;
  /** Key prefix of captured requests and responses in the artifacts bucket. */
  readonly dataCapturePrefix: string;
  /**
   * Whether the endpoint configuration names a volume key: SageMaker refuses one for instance types with NVMe
   * instance storage, which is encrypted by the instance's hardware.
   */
  readonly volumeKmsKey: boolean;
  readonly trafficRouting: EndpointTrafficRoutingSpec;
  readonly maximumExecutionTimeoutInSeconds: number;
  /** How long the old fleet stays after a blue/green switch (SageMaker allows at most an hour). */
  readonly terminationWaitInSeconds: number;
  /** Error-rate and p99 latency alarms per production variant (used when no rollback alarms are given). */
  readonly defaultRollbackAlarms: readonly EndpointRollbackAlarmSpec[];
  /** Monthly cost at minimum and maximum capacity, at SageMaker's `ml.*` rates. */
  readonly costEstimate: MonthlyCostRange;
}

/** Instance families with NVMe instance storage, for which SageMaker refuses a volume KMS key. */
export const INSTANCE_STORE_FAMILIES: ReadonlySet<string> = new Set(['g4dn', 'g5', 'g6', 'g6e', 'p4d', 'p5', 'trn1']);
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** SageMaker endpoint names. */
export const ENDPOINT_NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const MAX_WAIT_SECONDS = 3600;
const MAX_EXECUTION_SECONDS = 14400;
const MAX_ROLLING_EXECUTION_SECONDS = 28800;

/** What an engine can render (both engines render inference components: the CDK's L1, Pulumi's through `@pulumi/aws-native`). */
export interface EndpointEngineCapabilities {
  readonly inferenceComponents: boolean;
}

/** Validates the model name and version of an endpoint (checked first, before the engine's own required props). */
export function validateEndpointModel(scope: SpecScope, modelName: string, modelVersion: string): void {
  const check = specCheck(scope);
  check.matches('modelName', modelName, NAME, 'a model name of lower-case letters, digits and hyphens (at most 63 characters)');
  check.matches('modelVersion', modelVersion, VERSION, 'a version of letters, digits, ".", "_" or "-" (at most 128 characters)');
}

/**
 * Validates a SageMaker endpoint's input and resolves its variants, guardrails, capacity, schedule and cost from the
 * profile, for every engine. `endpointName` is the name the engine chose (or the user gave); it is validated here.
 */
export function resolveModelEndpointSpec(
  scope: SpecScope, input: ModelEndpointSpecInput, endpointName: string, profile: EnvironmentProfile,
  engine: EndpointEngineCapabilities = { inferenceComponents: true },
): ModelEndpointSpec {
  const check = specCheck(scope);
  validateEndpointModel(scope, input.modelName, input.modelVersion);
  const instance = GpuInstance.of(input.instanceType ?? 'g5.xlarge', 'instanceType', scope.scope);
  if (!instance.isSageMakerHosted) {
    check.fail('instanceType', instance.instanceType, 'is not hosted by SageMaker real-time inference',
      'use a type SageMaker hosts, such as g5.xlarge, g6.xlarge or inf2.xlarge (without the ml. prefix).');
  }
  const rollout = input.rollout ?? Rollout.allAtOnce();
  const traffic = endpointTrafficRouting(scope, rollout);
  const defaultMin = Math.max(1, profile.minCapacity.inferenceInstances);
  const minCapacity = check.integerInRange('minCapacity', input.minCapacity, 1, 1000,
    'an endpoint keeps at least 1 instance (or copy) per variant in working hours; scaleToZeroOffHours takes it to zero outside them.') ?? defaultMin;
  const maxCapacity = check.positiveInteger('maxCapacity', input.maxCapacity) ?? Math.max(2, 2 * minCapacity);
  check.notAbove('minCapacity', minCapacity, 'maxCapacity', maxCapacity);
  const targetInvocations = check.positiveInteger('targetInvocationsPerInstancePerMinute', input.targetInvocationsPerInstancePerMinute) ?? 300;
  const capturePercent = check.integerInRange('dataCapturePercent', input.dataCapturePercent, 1, 100) ?? 100;
  const schedule = profile.offHoursSchedule();
  const scaleDownOffHours = input.scaleDownOffHours ?? schedule !== undefined;
  if (scaleDownOffHours && !schedule) {
    check.fail('scaleDownOffHours', true, `needs working hours, but the ${profile.name} profile is always on`,
      "remove 'scaleDownOffHours', or give the profile 'workingHours'.");
  }
  if (input.scaleToZeroOffHours && !schedule) {
    check.fail('scaleToZeroOffHours', true, `needs working hours, but the ${profile.name} profile is always on`,
      "remove 'scaleToZeroOffHours', or give the profile 'workingHours'.");
  }
  if (input.scaleToZeroOffHours && input.scaleDownOffHours === false) {
    check.fail('scaleToZeroOffHours', true, "contradicts 'scaleDownOffHours: false' (scaling to zero is scaling down)",
      "remove one of them: 'scaleDownOffHours: false' keeps the endpoint's capacity all day.");
  }
  if (input.scaleToZeroOffHours && !engine.inferenceComponents) {
    check.fail('scaleToZeroOffHours', true, 'is not available on this engine: it hosts the model as a SageMaker inference component, which this engine cannot create',
      "remove 'scaleToZeroOffHours' (the endpoint scales down to one instance outside working hours), or use InferenceFleet, which scales to zero.");
  }
  if (input.rollbackAlarmCount !== undefined && input.rollbackAlarmCount > 10) {
    check.fail('rollbackAlarms', input.rollbackAlarmCount, 'must name at most 10 alarms', 'SageMaker watches up to 10 alarms; combine them in a composite alarm.');
  }
  check.matches('endpointName', endpointName, ENDPOINT_NAME_PATTERN, 'letters, digits and hyphens, starting with a letter or digit, at most 63 characters');
  const variants = resolveEndpointVariants(scope, rollout, input.modelVersion, input.variantVersions ?? {});
  if (input.scaleToZeroOffHours && variants.length !== 1) {
    check.fail('scaleToZeroOffHours', true, `needs an endpoint with one variant, but the ${rollout.kind} rollout serves ${variants.map((v) => v.name).join(' and ')}`,
      "SageMaker scales to zero only endpoints hosting inference components, which have no shadow or weighted variants: remove 'scaleToZeroOffHours', "
      + 'or use a canary, linear, blue/green or all-at-once rollout.');
  }
  const scaleToZero = input.scaleToZeroOffHours ?? (scaleDownOffHours && variants.length === 1 && engine.inferenceComponents);
  const hosting: EndpointHosting = scaleToZero ? 'inference-component' : 'variant';
  const offHoursCapacity = scaleToZero ? 0 : 1;

  const thresholds = profile.alarms;
  const defaultRollbackAlarms = variants.filter((v) => !v.shadow).flatMap((v): EndpointRollbackAlarmSpec[] => [{
    variant: v.name,
    kind: 'error-rate',
    threshold: thresholds.errorRatePercent,
    comparisonOperator: 'GreaterThanThreshold',
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    treatMissingData: 'notBreaching',
    description: `5xx rate of ${endpointName}/${v.name} above ${thresholds.errorRatePercent}%: rolls a deployment back`,
  }, {
    variant: v.name,
    kind: 'latency-p99',
    // ModelLatency is in microseconds.
    threshold: thresholds.latencyP99Ms * 1000,
    comparisonOperator: 'GreaterThanThreshold',
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    treatMissingData: 'notBreaching',
    description: `p99 model latency of ${endpointName}/${v.name} above ${thresholds.latencyP99Ms} ms: rolls a deployment back`,
  }]);

  const costModel = input.costModel ?? CostModel.default();
  const variantCount = variants.length;
  // SageMaker bills endpoint instances at its own ml.* rates, not at EC2's.
  const priced = { instance, service: ComputeService.SAGEMAKER };
  const monthly = (working: number) => {
    if (!scaleDownOffHours) return costModel.monthlyInstanceCost({ ...priced, count: working * variantCount });
    const hours = profile.scheduledHoursPerMonth;
    return costModel.monthlyInstanceCost({ ...priced, count: working * variantCount, hoursPerMonth: hours })
      + costModel.monthlyInstanceCost({ ...priced, count: offHoursCapacity * variantCount, hoursPerMonth: HOURS_PER_MONTH_ALWAYS_ON - hours });
  };
  const steps = rollout.steps();
  return {
    instance,
    mlInstanceType: `ml.${instance.instanceType}`,
    rollout,
    variants,
    minCapacity,
    maxCapacity,
    targetInvocationsPerInstancePerMinute: targetInvocations,
    scaleOutCooldownSeconds: 120,
    scaleInCooldownSeconds: 600,
    offHours: scaleDownOffHours ? schedule : undefined,
    offHoursCapacity,
    hosting,
    inferenceComponent: scaleToZero ? {
      name: endpointName,
      acceleratorDevices: instance.accelerators,
      minMemoryMiB: Math.floor((instance.memoryGiB * 1024) / 2),
      rollingUpdate: inferenceComponentRollingUpdate(rollout),
    } : undefined,
    dataCapturePercent: capturePercent,
    dataCapturePrefix: `data-capture/${endpointName}/`,
    volumeKmsKey: !INSTANCE_STORE_FAMILIES.has(instance.family),
    trafficRouting: traffic.routing,
    maximumExecutionTimeoutInSeconds: traffic.maximumExecutionSeconds,
    terminationWaitInSeconds: rollout.kind === RolloutKind.BLUE_GREEN ? Math.min(steps[0].waitSeconds, MAX_WAIT_SECONDS) : 0,
    defaultRollbackAlarms,
    costEstimate: { minUsd: roundUsd(monthly(minCapacity)), maxUsd: roundUsd(monthly(maxCapacity)) },
  };
}

/**
 * SageMaker's rolling update of an inference component from the core rollout (the waits were checked by
 * `endpointTrafficRouting`): a canary's first batch is its percent, a linear rollout's batches its step, and an
 * all-at-once or blue/green rollout rolls in the largest batches SageMaker allows (50% of the copies); every batch is
 * 5-50% of the copies.
 */
export function inferenceComponentRollingUpdate(rollout: Rollout): EndpointInferenceComponentSpec['rollingUpdate'] {
  const steps = rollout.steps();
  const wait = Math.min(steps[0]?.waitSeconds ?? 0, MAX_WAIT_SECONDS);
  const percent = rollout.kind === RolloutKind.CANARY || rollout.kind === RolloutKind.LINEAR ? rollout.candidatePercent : 50;
  const batch = Math.min(50, Math.max(5, percent));
  const batches = Math.ceil(100 / batch);
  return {
    maximumBatchSize: { type: 'CAPACITY_PERCENT', value: batch },
    waitIntervalInSeconds: wait,
    // Provisioning each batch comes on top of its bake.
    maximumExecutionTimeoutInSeconds: Math.max(600, Math.min(MAX_ROLLING_EXECUTION_SECONDS, batches * (wait + 600))),
  };
}

/** SageMaker guardrails from the core rollout; SageMaker waits at most an hour per step and four hours in all. */
export function endpointTrafficRouting(scope: SpecScope, rollout: Rollout): { routing: EndpointTrafficRoutingSpec; maximumExecutionSeconds: number } {
  const check = specCheck(scope);
  const steps = rollout.steps();
  for (const step of steps) {
    if (step.waitSeconds > MAX_WAIT_SECONDS) {
      check.fail('rollout', rollout.describe(), `waits ${step.waitSeconds} seconds in one step, more than SageMaker's 3600`,
        'give the canary bake, linear interval or blue/green bake at most 60 minutes.');
    }
  }
  const totalWait = steps.reduce((sum, s) => sum + s.waitSeconds, 0);
  // Time to provision the new fleet comes on top of the waits.
  const maximumExecutionSeconds = Math.max(600, Math.min(MAX_EXECUTION_SECONDS, totalWait + 1800));
  if (totalWait + 600 > MAX_EXECUTION_SECONDS) {
    check.fail('rollout', rollout.describe(), `waits ${totalWait} seconds in all, more than SageMaker's 4-hour deployment limit allows`,
      'use fewer or shorter steps (a larger linear step or a shorter interval).');
  }
  const wait = steps[0]?.waitSeconds ?? 0;
  const capacity = (value: number) => ({ type: 'CAPACITY_PERCENT' as const, value });
  switch (rollout.kind) {
    case RolloutKind.CANARY:
      return { routing: { type: 'CANARY', canarySize: capacity(rollout.candidatePercent), waitIntervalInSeconds: wait }, maximumExecutionSeconds };
    case RolloutKind.LINEAR:
      return { routing: { type: 'LINEAR', linearStepSize: capacity(rollout.candidatePercent), waitIntervalInSeconds: wait }, maximumExecutionSeconds };
    case RolloutKind.BLUE_GREEN:
      return { routing: { type: 'ALL_AT_ONCE', waitIntervalInSeconds: wait }, maximumExecutionSeconds };
    default:
      // All at once, A/B and shadow: the new configuration replaces the old in one step, still watched by the alarms.
      return { routing: { type: 'ALL_AT_ONCE', waitIntervalInSeconds: 0 }, maximumExecutionSeconds };
  }
}

/**
 * The variants an endpoint serves for a rollout: every variant of an A/B test, the current version plus a shadow,
 * or one variant that progressive rollouts (canary, linear, blue/green) update through guardrails.
 */
export function resolveEndpointVariants(
  scope: SpecScope, rollout: Rollout, modelVersion: string, given: Record<string, string>,
): EndpointVariantSpec[] {
  const check = specCheck(scope);
  const kind = rollout.kind;
  // Progressive rollouts shift traffic between the old and new endpoint configuration: one variant serves.
  const variants: Array<{ name: string; weight: number; shadow: boolean }> =
    kind === RolloutKind.AB_TEST
      ? rollout.initialSplit().map((s) => ({ name: s.variant, weight: s.percent, shadow: false }))
      : kind === RolloutKind.SHADOW
        ? [{ name: CURRENT_VARIANT, weight: 100, shadow: false }, { name: CANDIDATE_VARIANT, weight: rollout.mirrorPercent, shadow: true }]
        : [{ name: CURRENT_VARIANT, weight: 1, shadow: false }];
  for (const name of Object.keys(given)) {
    if (!variants.some((v) => v.name === name)) {
      check.fail(`variantVersions.${name}`, given[name], `names a variant the ${kind} rollout does not have on a SageMaker endpoint`,
        `give versions only for ${variants.map((v) => v.name).join(', ')}; canary, linear and blue/green rollouts deploy 'modelVersion' with guardrails.`);
    }
  }
  return variants.map((v) => {
    const version = given[v.name] ?? (v.name === CURRENT_VARIANT ? modelVersion : undefined);
    if (version === undefined) {
      check.fail(`variantVersions.${v.name}`, undefined, `is required by the ${kind} rollout`,
        `give the model version the '${v.name}' variant serves, e.g. variantVersions: { ${v.name}: 'v2' }.`);
    }
    check.matches(`variantVersions.${v.name}`, version, VERSION, 'a version of letters, digits, ".", "_" or "-"');
    return { ...v, version };
  });
}
