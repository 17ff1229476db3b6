import { GpuInstance } from './gpu-catalog';
import { PRICES_AS_OF, PRICES_REGION, SPOT_PRICE_FRACTION, UNIT_PRICES, UnitPrices } from './prices';
import { HOURS_PER_MONTH_ALWAYS_ON } from './profiles';
import { Check } from './validation';

export enum PurchaseOption {
  ON_DEMAND = 'on-demand',
  SPOT = 'spot',
}

/** Replaces list prices with your own (negotiated rates, another region). */
export interface PriceTableOverrides {
  /** On-demand $/hour by instance type; types not listed use the catalog. */
  readonly instanceHourlyUsd?: Record<string, number>;
  /** Spot price as a fraction of on-demand. @default SPOT_PRICE_FRACTION (0.35) */
  readonly spotPriceFraction?: number;
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
  /** AWS list prices in us-east-1 (see `PRICES_AS_OF`). */
  public static default(): CostModel {
    return new CostModel();
  }

  public readonly spotPriceFraction: number;
  public readonly unitPrices: UnitPrices;
  private readonly instanceOverrides: Record<string, number>;
  private readonly source: string;

  constructor(overrides: PriceTableOverrides = {}) {
    const check = new Check('CostModel');
    this.spotPriceFraction = check.numberInRange('spotPriceFraction', overrides.spotPriceFraction, 0.01, 1) ?? SPOT_PRICE_FRACTION;
    for (const [type, price] of Object.entries(overrides.instanceHourlyUsd ?? {})) {
      check.positiveNumber(`instanceHourlyUsd.${type}`, price);
    }
    this.instanceOverrides = { ...overrides.instanceHourlyUsd };
    this.unitPrices = Object.freeze({ ...UNIT_PRICES, ...overrides.unitPrices });
    this.source = overrides.source ?? `AWS list prices, ${PRICES_REGION}, ${PRICES_AS_OF}`;
  }

  /** Price of one instance-hour. */
  public hourlyPrice(instance: GpuInstance | string, purchase: PurchaseOption = PurchaseOption.ON_DEMAND): number {
    const spec = typeof instance === 'string' ? GpuInstance.of(instance, 'instance', 'CostModel') : instance;
    const onDemand = this.instanceOverrides[spec.instanceType] ?? spec.onDemandHourlyUsd;
    return purchase === PurchaseOption.SPOT ? onDemand * this.spotPriceFraction : onDemand;
  }

  /** Monthly cost of `count` instances running `hoursPerMonth`, rounded to cents. */
  public monthlyInstanceCost(input: InstanceCostInput): number {
    const check = new Check('CostModel');
    check.nonNegativeInteger('count', input.count);
    const hours = check.numberInRange('hoursPerMonth', input.hoursPerMonth, 0, 744) ?? HOURS_PER_MONTH_ALWAYS_ON;
    return roundUsd(this.hourlyPrice(input.instance, input.purchase) * input.count * hours);
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
    return [
      `Prices: ${this.source}; on-demand Linux.`,
      `Spot is assumed to cost ${Math.round(this.spotPriceFraction * 100)}% of on-demand; real spot prices move hourly.`,
      `A month is ${HOURS_PER_MONTH_ALWAYS_ON} hours; scheduled capacity runs only its scheduled hours.`,
      `NAT gateway $${u.natGatewayHour}/h, ALB $${u.albHour}/h + 1 LCU ($${u.albLcuHour}/h), Aurora Serverless v2 $${u.auroraAcuHour}/ACU-h, KMS key $${u.kmsKeyMonth}/month, alarm $${u.alarmMonth}/month, dashboard $${u.dashboardMonth}/month.`,
      `Data transfer, request charges and storage growth are not included; storage is priced only where a size is declared ($${u.s3StandardGbMonth}/GB-month for S3 Standard).`,
    ];
  }
}

/** Rounds a dollar amount to cents. */
export function roundUsd(value: number): number {
  return Math.round(value * 100) / 100;
}
