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
 * The date the SageMaker price table and the spot ratio table below were read. Real-time inference prices change
 * rarely; spot prices move hourly, so the ratios are medians, not quotes.
 */
export const SAGEMAKER_PRICES_AS_OF = '2025-07-01';

/** Where the SageMaker price table comes from. */
export const SAGEMAKER_PRICES_SOURCE = 'Amazon SageMaker AI pricing, real-time inference, on-demand, us-east-1 (https://aws.amazon.com/sagemaker/pricing/)';

/**
 * SageMaker real-time inference (hosting) price per instance-hour in us-east-1, by `ml.*` instance type, on
 * `SAGEMAKER_PRICES_AS_OF`. SageMaker charges its own rate for the instances behind an endpoint, 20-40% above the
 * EC2 price of the same type (`ml.g5.xlarge` $1.408 against `g5.xlarge` $1.006), so endpoints are never priced at
 * EC2 rates. Rows marked `derived` were not all on the page when it was read: they apply the family's published
 * premium over EC2 to the catalog's EC2 price (1.4x for `xlarge` and 1.25x above for g-families, 1.2x for Intel CPU
 * types), which matches every row of those families the page did list. P4d and P5 are SageMaker's published rates,
 * which did not follow EC2's June 2025 reduction. `g4dn.metal` is not offered for hosting.
 */
export const SAGEMAKER_HOSTING_HOURLY_USD: Readonly<Record<string, number>> = Object.freeze({
  'ml.g4dn.xlarge': 0.7364,
  'ml.g4dn.2xlarge': 0.94,
  'ml.g4dn.4xlarge': 1.505,
  'ml.g4dn.8xlarge': 2.72,
  'ml.g4dn.12xlarge': 4.89,
  'ml.g4dn.16xlarge': 5.44,
  'ml.g5.xlarge': 1.408,
  'ml.g5.2xlarge': 1.515,
  'ml.g5.4xlarge': 2.03,
  'ml.g5.8xlarge': 3.06,
  'ml.g5.12xlarge': 7.09,
  'ml.g5.16xlarge': 5.12,
  'ml.g5.24xlarge': 10.18,
  'ml.g5.48xlarge': 20.36,
  'ml.g6.xlarge': 1.1267,
  'ml.g6.2xlarge': 1.222,
  'ml.g6.4xlarge': 1.654,
  'ml.g6.8xlarge': 2.518,
  'ml.g6.12xlarge': 5.752,
  'ml.g6.16xlarge': 4.246,
  'ml.g6.24xlarge': 8.344,
  'ml.g6.48xlarge': 16.688, // derived
  'ml.g6e.xlarge': 2.6054, // derived
  'ml.g6e.2xlarge': 2.8026, // derived
  'ml.g6e.4xlarge': 3.7553, // derived
  'ml.g6e.8xlarge': 5.6607, // derived
  'ml.g6e.12xlarge': 13.1158, // derived
  'ml.g6e.16xlarge': 9.4715, // derived
  'ml.g6e.24xlarge': 18.832, // derived
  'ml.g6e.48xlarge': 37.664, // derived
  'ml.p4d.24xlarge': 37.688,
  'ml.p5.48xlarge': 113.068,
  'ml.inf2.xlarge': 0.99,
  'ml.inf2.8xlarge': 2.36,
  'ml.inf2.24xlarge': 7.79,
  'ml.inf2.48xlarge': 15.58,
  'ml.trn1.2xlarge': 1.781, // derived (trn1.32xlarge's premium)
  'ml.trn1.32xlarge': 28.497,
  'ml.m7i.large': 0.121, // derived
  'ml.m7i.xlarge': 0.242, // derived
  'ml.m7i.2xlarge': 0.484, // derived
  'ml.c7i.xlarge': 0.2142, // derived
  'ml.c7i.2xlarge': 0.4284, // derived
});

/** The date the spot ratios were read. */
export const SPOT_PRICES_AS_OF = '2025-07-01';

/** Where the spot ratios come from. */
export const SPOT_PRICES_SOURCE = 'AWS Spot Instance Advisor and EC2 spot price history, us-east-1, Linux (https://aws.amazon.com/ec2/spot/instance-advisor/)';

/**
 * Spot price as a fraction of the on-demand price, per instance family: the median over the family's sizes of the
 * spot price divided by the on-demand price in us-east-1 on `SPOT_PRICES_AS_OF` (g6.xlarge about 51%, p5.48xlarge
 * about 48%, g5.2xlarge about 42%). GPU spot is far less discounted than the "up to 90%" of general-purpose types, and
 * one flat ratio was more than 15% optimistic for a third of the NVIDIA types. A family missing here is priced at
 * `DEFAULT_SPOT_PRICE_RATIO`.
 */
export const SPOT_PRICE_RATIOS: Readonly<Record<string, number>> = Object.freeze({
  g4dn: 0.37,
  g5: 0.42,
  g6: 0.51,
  g6e: 0.46,
  p4d: 0.41,
  p5: 0.48,
  inf2: 0.4,
  trn1: 0.4,
  m7i: 0.42,
  c7i: 0.4,
});

/** Spot ratio for a family the table does not list: half of on-demand, on the safe (expensive) side for budgets. */
export const DEFAULT_SPOT_PRICE_RATIO = 0.5;
