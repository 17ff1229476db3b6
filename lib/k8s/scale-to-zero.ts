import { Duration } from 'cdk8s';
import { Check, WorkingHours } from '../core';

export enum ScaleToZeroKind {
  OFF_HOURS = 'off-hours',
  WHEN_IDLE = 'when-idle',
}

export interface WhenIdleOptions {
  /**
   * PromQL giving the service's request rate from a source that exists while no replica runs (the gateway's
   * metrics, a queue length). The model server's own metrics vanish with its last replica, so they cannot wake it.
   */
  readonly requestRateQuery: string;
  /**
   * How long the rate must stay at zero before the last replica goes.
   * @default Duration.minutes(30)
   */
  readonly idleFor?: Duration;
}

/**
 * When an `InferenceService` may have no replica at all, through a KEDA `ScaledObject` (which then replaces the
 * HorizontalPodAutoscaler). Needs KEDA. Requests that arrive while no replica runs fail until one is ready: use it
 * for dev and batch-like services, or put a request buffer (the KEDA HTTP add-on) in front.
 *
 * @example
 * ScaleToZero.offHours() // the profile's working hours
 */
export class ScaleToZero {
  /**
   * Run `minReplicas` during working hours and none outside them (KEDA cron trigger).
   * @param hours working hours; the profile's when left out
   */
  public static offHours(hours?: WorkingHours): ScaleToZero {
    return new ScaleToZero(ScaleToZeroKind.OFF_HOURS, hours, undefined, undefined);
  }

  /** No replica after the request rate stayed at zero for `idleFor`; wake when it rises. */
  public static whenIdle(options: WhenIdleOptions): ScaleToZero {
    const check = new Check('ScaleToZero');
    if (!options?.requestRateQuery || typeof options.requestRateQuery !== 'string') {
      check.fail('scaleToZero.whenIdle.requestRateQuery', options?.requestRateQuery, 'is required',
        "give a PromQL query that exists without replicas, e.g. the gateway's request rate for the route.");
    }
    if (options.idleFor !== undefined && typeof options.idleFor?.toSeconds !== 'function') {
      check.fail('scaleToZero.whenIdle.idleFor', options.idleFor, 'must be a Duration', 'pass Duration.minutes(30) from cdk8s.');
    }
    const idle = options.idleFor?.toSeconds() ?? 1800;
    check.integerInRange('scaleToZero.whenIdle.idleFor', idle, 60, 7 * 24 * 3600, 'give 1 minute to 7 days, in whole seconds.');
    return new ScaleToZero(ScaleToZeroKind.WHEN_IDLE, undefined, options.requestRateQuery, idle);
  }

  private constructor(
    public readonly kind: ScaleToZeroKind,
    /** Working hours of an off-hours schedule (undefined: the profile's). */
    public readonly hours: WorkingHours | undefined,
    /** Query of an idle trigger. */
    public readonly requestRateQuery: string | undefined,
    /** Seconds of idleness before scaling to zero. */
    public readonly idleSeconds: number | undefined,
  ) {}
}
