import { GpuInstance } from './gpu-catalog';
import {
  DEFAULT_SPOT_PRICE_RATIO, PRICES_AS_OF, PRICES_REGION, SAGEMAKER_PRICES_AS_OF, SAGEMAKER_PRICES_SOURCE, SPOT_PRICE_RATIOS, SPOT_PRICES_AS_OF,
  SPOT_PRICES_SOURCE, UNIT_PRICES, UnitPrices,
} from './prices';
import { HOURS_PER_MONTH_ALWAYS_ON } from './profiles';
import { Check } from './validation';

export enum PurchaseOption {
  ON_DEMAND = 'on-demand',
  SPOT = 'spot',
}

/** Who runs (and bills) the instances: EC2 directly, or SageMaker real-time inference at its own `ml.*` rates. */
export enum ComputeService {
  EC2 = 'ec2',
  SAGEMAKER = 'sagemaker',
}

/** Replaces list prices with your own (negotiated rates, another region). */
export interface PriceTableOverrides {
  /**
   * On-demand $/hour by instance type; types not listed use the catalog. EC2 types by name (`g5.xlarge`), SageMaker
   * hosting rates by their `ml.` name (`ml.g5.xlarge`).
   */
  readonly instanceHourlyUsd?: Record<string, number>;
  /**
   * One spot price fraction of on-demand for every type, replacing the per-family table.
   * @default - the per-family ratios of `SPOT_PRICE_RATIOS`
   */
  readonly spotPriceFraction?: number;
  /**
   * Spot price fractions of on-demand by family (`g5`) or type (`g5.2xlarge`), over the table's.
   * @default - `SPOT_PRICE_RATIOS`
   */
  readonly spotPriceRatios?: Record<string, number>;
  /** Other unit prices. */
  readonly unitPrices?: Partial<UnitPrices>;
  /** Where the prices come from, printed with the assumptions. @default - AWS list prices */
  readonly source?: string;
}

export interface InstanceCostInput {
  /** Instance type or catalog entry. */
  readonly instance: GpuInstance | string;
  /** Number of instances. */
  readonly count: number;
  /** Hours per month they run. @default 730 (always on) */
  readonly hoursPerMonth?: number;
  /** @default PurchaseOption.ON_DEMAND */
  readonly purchase?: PurchaseOption;
  /** @default ComputeService.EC2 */
  readonly service?: ComputeService;
}

/** Input of `CostModel.monthlyRange`. */
export interface MonthlyRangeInput {
  readonly instance: GpuInstance | string;
  /** Instances at minimum capacity. */
  readonly min: number;
  /** Instances at maximum capacity. */
  readonly max: number;
  /** @default 730 */
  readonly hoursPerMonth?: number;
  /** @default PurchaseOption.ON_DEMAND */
  readonly purchase?: PurchaseOption;
  /** @default ComputeService.EC2 */
  readonly service?: ComputeService;
}

/** A monthly figure at minimum and at maximum capacity. */
export interface MonthlyCostRange {
  readonly minUsd: number;
  readonly maxUsd: number;
}

/**
 * Monthly cost estimates from the catalog and unit prices. The same model prices constructs' `costEstimate`
 * properties and the PR review's cost delta, so the two always agree.
 */
export class CostModel {
  /** AWS list prices in us-east-1 (see `PRICES_AS_OF`, `SAGEMAKER_PRICES_AS_OF`, `SPOT_PRICES_AS_OF`). */
  public static default(): CostModel {
    return new CostModel();
  }

  /** The single spot fraction given in the overrides; undefined when the per-family table applies. */
  public readonly spotPriceFraction?: number;
  public readonly unitPrices: UnitPrices;
  private readonly instanceOverrides: Record<string, number>;
  private readonly spotRatios: Record<string, number>;
  private readonly source: string;

  constructor(overrides: PriceTableOverrides = {}) {
    const check = new Check('CostModel');
    this.spotPriceFraction = check.numberInRange('spotPriceFraction', overrides.spotPriceFraction, 0.01, 1);
    for (const [type, price] of Object.entries(overrides.instanceHourlyUsd ?? {})) {
      check.positiveNumber(`instanceHourlyUsd.${type}`, price);
    }
    for (const [key, ratio] of Object.entries(overrides.spotPriceRatios ?? {})) {
      check.numberInRange(`spotPriceRatios.${key}`, ratio, 0.01, 1);
    }
    this.instanceOverrides = { ...overrides.instanceHourlyUsd };
    this.spotRatios = { ...SPOT_PRICE_RATIOS, ...overrides.spotPriceRatios };
    this.unitPrices = Object.freeze({ ...UNIT_PRICES, ...overrides.unitPrices });
    this.source = overrides.source ?? `AWS list prices, ${PRICES_REGION}, ${PRICES_AS_OF}`;
  }

  /**
   * Spot price as a fraction of on-demand for a type: the single `spotPriceFraction` when given, else the type's or
   * its family's ratio (`SPOT_PRICE_RATIOS`), else `DEFAULT_SPOT_PRICE_RATIO`.
   */
  public spotRatio(instance: GpuInstance | string): number {
    const spec = typeof instance === 'string' ? GpuInstance.of(instance, 'instance', 'CostModel') : instance;
    return this.spotPriceFraction ?? this.spotRatios[spec.instanceType] ?? this.spotRatios[spec.family] ?? DEFAULT_SPOT_PRICE_RATIO;
  }

  /**
   * Price of one instance-hour. EC2 on-demand from the catalog (spot: times `spotRatio`); SageMaker at its own
   * real-time inference rate, which has no spot.
   */
  public hourlyPrice(instance: GpuInstance | string, purchase: PurchaseOption = PurchaseOption.ON_DEMAND,
    service: ComputeService = ComputeService.EC2): number {
    const spec = typeof instance === 'string' ? GpuInstance.of(instance.replace(/^ml\./, ''), 'instance', 'CostModel') : instance;
    if (service === ComputeService.SAGEMAKER) {
      const check = new Check('CostModel');
      if (purchase === PurchaseOption.SPOT) {
        check.fail('purchase', purchase, 'is not offered by SageMaker real-time inference', 'price SageMaker endpoints on demand.');
      }
      const price = this.instanceOverrides[spec.sageMakerInstanceType] ?? spec.sageMakerHourlyUsd;
      if (price === undefined) {
        check.fail('instance', spec.sageMakerInstanceType, 'is not hosted by SageMaker real-time inference (no ml.* price)',
          `use a type SageMaker hosts, such as ml.g5.xlarge, or pass its price in 'instanceHourlyUsd["${spec.sageMakerInstanceType}"]'.`);
      }
      return price!;
    }
    const onDemand = this.instanceOverrides[spec.instanceType] ?? spec.onDemandHourlyUsd;
    return purchase === PurchaseOption.SPOT ? onDemand * this.spotRatio(spec) : onDemand;
  }

  /** Monthly cost of `count` instances running `hoursPerMonth`, rounded to cents. */
  public monthlyInstanceCost(input: InstanceCostInput): number {
    const check = new Check('CostModel');
    check.nonNegativeInteger('count', input.count);
    const hours = check.numberInRange('hoursPerMonth', input.hoursPerMonth, 0, 744) ?? HOURS_PER_MONTH_ALWAYS_ON;
    return roundUsd(this.hourlyPrice(input.instance, input.purchase, input.service) * input.count * hours);
  }

  /** Monthly cost at minimum and maximum instance counts. */
  public monthlyRange(input: MonthlyRangeInput): MonthlyCostRange {
    return {
      minUsd: this.monthlyInstanceCost({ ...input, count: input.min }),
      maxUsd: this.monthlyInstanceCost({ ...input, count: input.max }),
    };
  }

  /** Monthly cost of a unit priced per hour (NAT gateway, ALB) running always on. */
  public monthlyHourly(pricePerHour: number, count = 1, hoursPerMonth = HOURS_PER_MONTH_ALWAYS_ON): number {
    return roundUsd(pricePerHour * count * hoursPerMonth);
  }

  /** The assumptions behind every figure, to print beneath a cost table. */
  public assumptions(): string[] {
    const u = this.unitPrices;
    const spot = this.spotPriceFraction !== undefined
      ? `Spot is assumed to cost ${percent(this.spotPriceFraction)} of on-demand for every type; real spot prices move hourly.`
      : `Spot is priced per family as a share of on-demand (${SPOT_PRICES_SOURCE}, ${SPOT_PRICES_AS_OF}): `
        + `${Object.entries(this.spotRatios).map(([family, ratio]) => `${family} ${percent(ratio)}`).join(', ')}; `
        + `other families ${percent(DEFAULT_SPOT_PRICE_RATIO)}; real spot prices move hourly.`;
    return [
      `Prices: ${this.source}; on-demand Linux.`,
      `SageMaker endpoints are priced at SageMaker's own ml.* rates (${SAGEMAKER_PRICES_SOURCE}, ${SAGEMAKER_PRICES_AS_OF}), not at EC2 rates.`,
      spot,
      `A month is ${HOURS_PER_MONTH_ALWAYS_ON} hours; scheduled capacity runs only its scheduled hours.`,
      `NAT gateway $${u.natGatewayHour}/h, ALB $${u.albHour}/h + 1 LCU ($${u.albLcuHour}/h), Aurora Serverless v2 $${u.auroraAcuHour}/ACU-h, KMS key $${u.kmsKeyMonth}/month, alarm $${u.alarmMonth}/month, dashboard $${u.dashboardMonth}/month.`,
      `Data transfer, request charges and storage growth are not included; storage is priced only where a size is declared ($${u.s3StandardGbMonth}/GB-month for S3 Standard).`,
    ];
  }
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** Rounds a dollar amount to cents. */
export function roundUsd(value: number): number {
  return Math.round(value * 100) / 100;
}
