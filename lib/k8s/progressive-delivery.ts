import { Duration } from 'cdk8s';
import { Check } from '../core';

/** How an `InferenceService` moves traffic between model versions. */
export enum ProgressiveDeliveryKind {
  GATEWAY_WEIGHTS = 'gateway-weights',
  ARGO_ROLLOUTS = 'argo-rollouts',
}

/** Quality a canary must keep, read from the metric contract's `mlops_model_quality`. */
export interface QualityGate {
  /** Model name, the `model` label evaluation jobs publish. */
  readonly model: string;
  /** Quality metric, the `metric` label (e.g. `auc`). */
  readonly metric: string;
  /** Threshold the metric must stay on the good side of. */
  readonly threshold: number;
  /**
   * Whether higher values are better (AUC) or lower (RMSE).
   * @default true
   */
  readonly higherIsBetter?: boolean;
}

export interface ArgoRolloutsOptions {
  /**
   * Prometheus the analysis queries. The default is the Service the Prometheus Operator creates for every
   * Prometheus in a namespace.
   * @default 'http://prometheus-operated.monitoring.svc:9090'
   */
  readonly prometheusAddress?: string;
  /**
   * How often the analysis measures the canary.
   * @default Duration.minutes(1)
   */
  readonly analysisInterval?: Duration;
  /**
   * Failed measurements that abort the rollout (traffic returns to the stable version).
   * @default 2
   */
  readonly failureLimit?: number;
  /**
   * Model quality the canary must keep (evaluation jobs publish it per the metric contract).
   * @default - latency and error rate only
   */
  readonly qualityGate?: QualityGate;
  /**
   * Name of the Argo Rollouts traffic router plugin for the Gateway API, as registered in the controller's config.
   * @default 'argoproj-labs/gatewayAPI'
   */
  readonly trafficRouterPlugin?: string;
}

/**
 * How an `InferenceService` takes a rollout from its first step to the end.
 *
 * @example
 * ProgressiveDelivery.argoRollouts({ qualityGate: { model: 'fraud', metric: 'auc', threshold: 0.9 } })
 */
export class ProgressiveDelivery {
  /**
   * Render the rollout's traffic split as Gateway API weights (one Deployment per variant); moving to the next
   * step is a change to the manifest (`promoted`, then the candidate as `image`).
   */
  public static gatewayWeights(): ProgressiveDelivery {
    return new ProgressiveDelivery(ProgressiveDeliveryKind.GATEWAY_WEIGHTS, {});
  }

  /**
   * Argo Rollouts steps a canary (or blue/green) through the `Rollout`'s steps on its own, measuring the canary's
   * latency and error rate (and model quality) with an `AnalysisTemplate` on Prometheus, and returns traffic to the
   * stable version when a measurement fails. A new `image` starts a rollout. Needs Argo Rollouts and its Gateway API
   * traffic router plugin.
   */
  public static argoRollouts(options: ArgoRolloutsOptions = {}): ProgressiveDelivery {
    const check = new Check('ProgressiveDelivery');
    check.matches('progressiveDelivery.prometheusAddress', options.prometheusAddress, /^https?:\/\/[^\s/]+(:\d+)?(\/\S*)?$/, 'an http(s) URL of Prometheus');
    check.integerInRange('progressiveDelivery.failureLimit', options.failureLimit, 0, 100);
    check.matches('progressiveDelivery.trafficRouterPlugin', options.trafficRouterPlugin, /^[A-Za-z0-9.-]+\/[A-Za-z0-9.-]+$/, 'a plugin name such as argoproj-labs/gatewayAPI');
    const gate = options.qualityGate;
    if (gate !== undefined) {
      check.matches('progressiveDelivery.qualityGate.model', gate.model, /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'a model name');
      if (!gate.model) check.fail('progressiveDelivery.qualityGate.model', gate.model, 'is required', 'name the model as evaluation jobs publish it.');
      check.matches('progressiveDelivery.qualityGate.metric', gate.metric, /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/, 'a metric name such as auc');
      if (!gate.metric) check.fail('progressiveDelivery.qualityGate.metric', gate.metric, 'is required', "name the quality metric, e.g. 'auc'.");
      check.numberInRange('progressiveDelivery.qualityGate.threshold', gate.threshold, -1e9, 1e9);
      if (gate.threshold === undefined) check.fail('progressiveDelivery.qualityGate.threshold', undefined, 'is required', 'give the threshold, e.g. 0.9.');
    }
    if (options.analysisInterval !== undefined && typeof options.analysisInterval?.toSeconds !== 'function') {
      check.fail('progressiveDelivery.analysisInterval', options.analysisInterval, 'must be a Duration', 'pass Duration.minutes(1) from cdk8s.');
    }
    const interval = options.analysisInterval?.toSeconds() ?? 60;
    check.integerInRange('progressiveDelivery.analysisInterval', interval, 10, 3600, 'measure every 10 seconds to 1 hour, in whole seconds.');
    return new ProgressiveDelivery(ProgressiveDeliveryKind.ARGO_ROLLOUTS, {
      prometheusAddress: options.prometheusAddress ?? 'http://prometheus-operated.monitoring.svc:9090',
      analysisIntervalSeconds: interval,
      failureLimit: options.failureLimit ?? 2,
      qualityGate: gate,
      trafficRouterPlugin: options.trafficRouterPlugin ?? 'argoproj-labs/gatewayAPI',
    });
  }

  private constructor(
    public readonly kind: ProgressiveDeliveryKind,
    /** Argo Rollouts settings (empty for gateway weights). */
    public readonly argo: {
      readonly prometheusAddress?: string;
      readonly analysisIntervalSeconds?: number;
      readonly failureLimit?: number;
      readonly qualityGate?: QualityGate;
      readonly trafficRouterPlugin?: string;
    },
  ) {}
}
