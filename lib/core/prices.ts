/**
 * List prices the cost model uses. All figures are US dollars, us-east-1, Linux, on-demand, from the
 * public AWS pricing pages on the date below (after the June 2025 P4d/P5 price reduction). They are
 * estimates for planning and for PR cost deltas, not a bill: check the pricing pages before committing
 * money, and pass your own `PriceTable` to the cost model for negotiated or regional prices.
 */
export const PRICES_AS_OF = '2025-07-01';

/** The region the list prices were taken in. */
export const PRICES_REGION = 'us-east-1';

/** Prices of things other than instances, as the review's cost delta needs them. */
export interface UnitPrices {
  /** NAT gateway, per hour (data processing excluded). */
  readonly natGatewayHour: number;
  /** Application Load Balancer, per hour, plus one LCU assumed per hour. */
  readonly albHour: number;
  /** One load balancer capacity unit, per hour. */
  readonly albLcuHour: number;
  /** Aurora Serverless v2, per ACU-hour. */
  readonly auroraAcuHour: number;
  /** Aurora storage, per GB-month. */
  readonly auroraStorageGbMonth: number;
  /** Customer managed KMS key, per month. */
  readonly kmsKeyMonth: number;
  /** Standard-resolution CloudWatch alarm, per month. */
  readonly alarmMonth: number;
  /** CloudWatch dashboard, per month (the first three are free; not assumed). */
  readonly dashboardMonth: number;
  /** S3 Standard storage, per GB-month. */
  readonly s3StandardGbMonth: number;
  /** Secrets Manager secret, per month. */
  readonly secretMonth: number;
  /** Fargate, per vCPU-hour. */
  readonly fargateVcpuHour: number;
  /** Fargate, per GB-hour of memory. */
  readonly fargateGbHour: number;
  /** CloudTrail data events, per 100,000 events. */
  readonly cloudTrailDataEvents100k: number;
}

export const UNIT_PRICES: UnitPrices = Object.freeze({
  natGatewayHour: 0.045,
  albHour: 0.0225,
  albLcuHour: 0.008,
  auroraAcuHour: 0.12,
  auroraStorageGbMonth: 0.1,
  kmsKeyMonth: 1,
  alarmMonth: 0.1,
  dashboardMonth: 3,
  s3StandardGbMonth: 0.023,
  secretMonth: 0.4,
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
  cloudTrailDataEvents100k: 0.1,
});

/**
 * Spot instances are assumed to cost this fraction of the on-demand price (a 65% discount, the middle of
 * the range AWS Spot Instance Advisor shows for GPU families in us-east-1). Real spot prices move hourly.
 */
export const SPOT_PRICE_FRACTION = 0.35;
