import { Check, formatValue, ValidationError } from './validation';

/**
 * Anything that can say how many seconds it lasts: `Duration` from aws-cdk-lib and from cdk8s both
 * qualify, so core needs neither engine.
 */
export interface DurationLike {
  toSeconds(): number;
}

export enum RolloutKind {
  ALL_AT_ONCE = 'all-at-once',
  CANARY = 'canary',
  LINEAR = 'linear',
  AB_TEST = 'ab-test',
  BLUE_GREEN = 'blue-green',
  SHADOW = 'shadow',
}

/** The variant names a single-candidate rollout uses. */
export const CURRENT_VARIANT = 'current';
export const CANDIDATE_VARIANT = 'candidate';

/**
 * A served variant by name, for every engine's `variant()`: without a name, the first production (not shadow) variant
 * of an endpoint, or a fleet's `current` one (else its only one); an unknown name is a ValidationError listing the names.
 */
export function variantByName<T extends { readonly name: string; readonly shadow?: boolean }>(
  check: Check, of: 'endpoint' | 'fleet', variants: readonly T[], name?: string,
): T {
  const found = name !== undefined ? variants.find((v) => v.name === name)
    : of === 'endpoint' ? variants.find((v) => !v.shadow)
      : variants.find((v) => v.name === CURRENT_VARIANT) ?? variants[0];
  return found ?? check.fail('variant', name, `is not a variant of this ${of}`, `use one of ${variants.map((v) => v.name).join(', ')}.`);
}

/** A share of live traffic. */
export interface TrafficSplit {
  readonly variant: string;
  readonly percent: number;
}

/** One step of a progressive rollout: send this share to the candidate, then wait. */
export interface RolloutStep {
  readonly candidatePercent: number;
  readonly waitSeconds: number;
}

export interface CanaryOptions {
  /** Share of traffic the candidate takes first, 1-50. */
  readonly percent: number;
  /** How long the canary runs before the rest of the traffic moves. */
  readonly bake: DurationLike;
}

export interface LinearOptions {
  /** Share of traffic moved per step, 1-50. */
  readonly stepPercent: number;
  /** Wait between steps. */
  readonly interval: DurationLike;
}

export interface AbTestOptions {
  /** Weight per variant (2-10 variants, whole percentages that sum to 100). */
  readonly weights: Record<string, number>;
}

export interface BlueGreenOptions {
  /**
   * How long the green fleet serves all traffic while blue stays up for a fast switch back.
   * @default - 10 minutes
   */
  readonly bake?: DurationLike;
}

export interface ShadowOptions {
  /**
   * Share of live requests copied to the candidate (responses discarded), 1-100.
   * @default 100
   */
  readonly mirrorPercent?: number;
}

const SCOPE = 'Rollout';
const MAX_BAKE_SECONDS = 7 * 24 * 3600;
// A DNS label: Kubernetes object names are built from it, so it may not end with a hyphen.
const VARIANT_NAME = /^[a-z]([a-z0-9-]{0,29}[a-z0-9])?$/;

/**
 * How a new model version takes traffic. Made once in core and rendered by each engine: ALB weights and
 * SageMaker guardrails on AWS, Gateway API HTTPRoute weights and mirrors on Kubernetes.
 *
 * @example
 * Rollout.canary({ percent: 10, bake: Duration.minutes(30) })
 */
export class Rollout {
  /** Replace the model for all traffic at once. */
  public static allAtOnce(): Rollout {
    return new Rollout(RolloutKind.ALL_AT_ONCE, [{ variant: CANDIDATE_VARIANT, percent: 100 }], [{ candidatePercent: 100, waitSeconds: 0 }], 0);
  }

  /** Send `percent` of traffic to the candidate for `bake`, then the rest. */
  public static canary(options: CanaryOptions): Rollout {
    const check = new Check(SCOPE);
    check.integerInRange('canary.percent', options?.percent, 1, 50, 'a canary takes 1 to 50 percent of traffic; use Rollout.abTest() for larger splits.');
    if (options.percent === undefined) check.fail('canary.percent', undefined, 'is required', 'give the share of traffic the canary takes, 1 to 50.');
    const bake = bakeSeconds('canary.bake', options.bake, true);
    return new Rollout(
      RolloutKind.CANARY,
      [{ variant: CURRENT_VARIANT, percent: 100 - options.percent }, { variant: CANDIDATE_VARIANT, percent: options.percent }],
      [{ candidatePercent: options.percent, waitSeconds: bake }, { candidatePercent: 100, waitSeconds: 0 }],
      0,
    );
  }

  /** Move `stepPercent` of traffic every `interval` until the candidate has all of it. */
  public static linear(options: LinearOptions): Rollout {
    const check = new Check(SCOPE);
    check.integerInRange('linear.stepPercent', options?.stepPercent, 1, 50, 'move 1 to 50 percent per step.');
    if (options.stepPercent === undefined) check.fail('linear.stepPercent', undefined, 'is required', 'give the share moved per step, 1 to 50.');
    const interval = bakeSeconds('linear.interval', options.interval, true);
    const steps: RolloutStep[] = [];
    for (let p = options.stepPercent; p < 100; p += options.stepPercent) steps.push({ candidatePercent: p, waitSeconds: interval });
    steps.push({ candidatePercent: 100, waitSeconds: 0 });
    return new Rollout(
      RolloutKind.LINEAR,
      [{ variant: CURRENT_VARIANT, percent: 100 - options.stepPercent }, { variant: CANDIDATE_VARIANT, percent: options.stepPercent }],
      steps,
      0,
    );
  }

  /** Serve several variants side by side with fixed weights, to compare them on live traffic. */
  public static abTest(options: AbTestOptions): Rollout {
    const check = new Check(SCOPE);
    const weights = options?.weights;
    if (!weights || typeof weights !== 'object') {
      check.fail('abTest.weights', weights, 'is required', 'give a weight per variant, e.g. { weights: { a: 50, b: 50 } }.');
    }
    const entries = Object.entries(weights);
    if (entries.length < 2 || entries.length > 10) {
      check.fail('abTest.weights', weights, `must name 2 to 10 variants (got ${entries.length})`, 'name at least two variants to compare, at most ten.');
    }
    for (const [name, weight] of entries) {
      check.matches(`abTest.weights.${name}`, name, VARIANT_NAME, 'a variant name of lower-case letters, digits and hyphens starting with a letter and ending with a letter or digit (at most 31 characters)');
      check.integerInRange(`abTest.weights.${name}`, weight, 0, 100);
    }
    const sum = entries.reduce((a, [, w]) => a + w, 0);
    if (sum !== 100) {
      check.fail('abTest.weights', weights, `must sum to 100 (they sum to ${sum})`, 'adjust the weights so they add up to 100.');
    }
    return new Rollout(RolloutKind.AB_TEST, entries.map(([variant, percent]) => ({ variant, percent })), [], 0);
  }

  /** Stand up the candidate beside the current version, switch all traffic, keep the old one for `bake`. */
  public static blueGreen(options: BlueGreenOptions = {}): Rollout {
    const bake = options.bake === undefined ? 600 : bakeSeconds('blueGreen.bake', options.bake, false);
    return new Rollout(
      RolloutKind.BLUE_GREEN,
      [{ variant: CURRENT_VARIANT, percent: 100 }, { variant: CANDIDATE_VARIANT, percent: 0 }],
      [{ candidatePercent: 100, waitSeconds: bake }],
      0,
    );
  }

  /** Copy live requests to the candidate without serving its answers, to compare it safely. */
  public static shadow(options: ShadowOptions = {}): Rollout {
    const check = new Check(SCOPE);
    const mirror = check.integerInRange('shadow.mirrorPercent', options.mirrorPercent, 1, 100) ?? 100;
    return new Rollout(RolloutKind.SHADOW, [{ variant: CURRENT_VARIANT, percent: 100 }], [], mirror);
  }

  private constructor(
    /** Which strategy. */
    public readonly kind: RolloutKind,
    private readonly split: readonly TrafficSplit[],
    private readonly stepList: readonly RolloutStep[],
    /** Share of requests mirrored to a shadow variant (0 unless `kind` is shadow). */
    public readonly mirrorPercent: number,
  ) {}

  /** How live traffic is split when the rollout starts. */
  public initialSplit(): TrafficSplit[] {
    return this.split.map((s) => ({ ...s }));
  }

  /** Progressive steps (canary, linear, blue/green); empty for fixed splits. */
  public steps(): RolloutStep[] {
    return this.stepList.map((s) => ({ ...s }));
  }

  /** Names of the variants that serve traffic or receive a mirror. */
  public variantNames(): string[] {
    const names = this.split.map((s) => s.variant);
    return this.kind === RolloutKind.SHADOW ? [...names, CANDIDATE_VARIANT] : names;
  }

  /** Share of traffic the candidate gets first. */
  public get candidatePercent(): number {
    return this.split.find((s) => s.variant === CANDIDATE_VARIANT)?.percent ?? 0;
  }

  /** Whether the strategy moves traffic in timed steps an alarm can interrupt. */
  public get isProgressive(): boolean {
    return this.kind === RolloutKind.CANARY || this.kind === RolloutKind.LINEAR || this.kind === RolloutKind.BLUE_GREEN;
  }

  /**
   * Rejects a strategy a backend cannot render, saying which backends can.
   * @param backend the backend's name, e.g. `InferenceFleet`
   * @param supported what the backend can render
   * @param alternatives which backends render the rest, for the message
   */
  public assertSupportedBy(scope: string, prop: string, backend: string, supported: readonly RolloutKind[], alternatives: string): void {
    if (!supported.includes(this.kind)) {
      throw new ValidationError({
        scope,
        prop,
        value: this.kind,
        problem: `is a rollout ${backend} cannot perform`,
        fix: `use one of ${supported.map((k) => formatValue(k)).join(', ')} on ${backend}, or ${alternatives}.`,
      });
    }
  }

  /** One line for humans, e.g. `canary 10% for 30 min, then 100%`. */
  public describe(): string {
    const minutes = (s: number) => (s % 60 === 0 ? `${s / 60} min` : `${s} s`);
    switch (this.kind) {
      case RolloutKind.ALL_AT_ONCE: return 'all at once';
      case RolloutKind.CANARY: return `canary ${this.candidatePercent}% for ${minutes(this.stepList[0].waitSeconds)}, then 100%`;
      case RolloutKind.LINEAR: return `linear +${this.candidatePercent}% every ${minutes(this.stepList[0].waitSeconds)}`;
      case RolloutKind.AB_TEST: return `A/B ${this.split.map((s) => `${s.variant} ${s.percent}%`).join(', ')}`;
      case RolloutKind.BLUE_GREEN: return `blue/green, old fleet kept ${minutes(this.stepList[0].waitSeconds)}`;
      case RolloutKind.SHADOW: return `shadow ${this.mirrorPercent}% of requests mirrored`;
    }
  }
}

function bakeSeconds(prop: string, value: DurationLike | undefined, required: boolean): number {
  const check = new Check(SCOPE);
  if (value === undefined) {
    if (required) check.fail(prop, value, 'is required', 'give a positive duration, e.g. Duration.minutes(30).');
    return 0;
  }
  if (typeof value?.toSeconds !== 'function') {
    check.fail(prop, value, 'must be a Duration', 'pass Duration.minutes(n) from aws-cdk-lib or cdk8s.');
  }
  const seconds = value.toSeconds();
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_BAKE_SECONDS) {
    check.fail(prop, `${seconds} seconds`, 'must be positive and at most 7 days', 'give a duration between 1 second and 7 days.');
  }
  return seconds;
}
