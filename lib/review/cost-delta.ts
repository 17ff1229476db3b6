import { ComputeService, CostModel, GpuInstance, PurchaseOption, roundUsd } from '../core';
import { CfnResource, CfnTemplate } from './assembly';

/** One priced thing in a template. */
export interface CostLineItem {
  /** Logical id of the resource priced. */
  readonly logicalId: string;
  /** `instances`, `nat-gateway`, `load-balancer`, `aurora`, `kms-key`, `alarm`, `dashboard` or `secret`. */
  readonly category: string;
  /** What was priced, e.g. `2-8 x g5.2xlarge (spot)`. */
  readonly description: string;
  readonly minUsd: number;
  readonly maxUsd: number;
  /** Instance type, for instance capacity. */
  readonly instanceType?: string;
  /** Instance counts at minimum and maximum capacity, for instance capacity. */
  readonly minInstances?: number;
  readonly maxInstances?: number;
  /** NVIDIA GPUs at maximum capacity. */
  readonly maxGpus?: number;
}

/** The monthly estimate of one template. */
export interface TemplateCost {
  readonly minUsd: number;
  readonly maxUsd: number;
  readonly items: readonly CostLineItem[];
  /** Resources with capacity the catalog cannot price (unknown or unresolved instance types). */
  readonly unpriced: readonly string[];
}

/** Base and head estimates of one stack and their difference. */
export interface StackCostDelta {
  readonly base: TemplateCost;
  readonly head: TemplateCost;
  readonly deltaMinUsd: number;
  readonly deltaMaxUsd: number;
}

const EMPTY: TemplateCost = { minUsd: 0, maxUsd: 0, items: [], unpriced: [] };

/** Prices base and head of a stack with the same model. */
export function costDelta(base: CfnTemplate | undefined, head: CfnTemplate | undefined, model: CostModel = CostModel.default()): StackCostDelta {
  const b = base ? templateCost(base, model) : EMPTY;
  const h = head ? templateCost(head, model) : EMPTY;
  return { base: b, head: h, deltaMinUsd: roundUsd(h.minUsd - b.minUsd), deltaMaxUsd: roundUsd(h.maxUsd - b.maxUsd) };
}

/**
 * Monthly estimate of a template at minimum and maximum capacity, with the core cost model: instance hours of
 * Auto Scaling groups, Batch compute environments and SageMaker endpoint configs; NAT gateways, load balancers,
 * Aurora Serverless v2 capacity, KMS keys, alarms, dashboards and secrets.
 */
export function templateCost(template: CfnTemplate, model: CostModel = CostModel.default()): TemplateCost {
  const resources = template.Resources ?? {};
  const items: CostLineItem[] = [];
  const unpriced: string[] = [];
  const u = model.unitPrices;
  const autoscaling = variantScaling(resources);
  const fixed = (logicalId: string, category: string, description: string, usd: number): void => {
    items.push({ logicalId, category, description, minUsd: usd, maxUsd: usd });
  };
  for (const [logicalId, resource] of Object.entries(resources)) {
    const p = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::AutoScaling::AutoScalingGroup':
        priceInstances(logicalId, asgCapacity(resource, resources), model, items, unpriced);
        break;
      case 'AWS::Batch::ComputeEnvironment':
        priceInstances(logicalId, batchCapacity(p), model, items, unpriced);
        break;
      case 'AWS::SageMaker::EndpointConfig':
        for (const variant of asArray(p.ProductionVariants)) {
          const count = num(variant.InitialInstanceCount);
          if (variant.InstanceType === undefined) continue; // serverless variants have no instances
          // Autoscaling bounds the variant's instances; without it, the initial count is all there is.
          const bounds = autoscaling.get(`${logicalId}/${variant.VariantName}`);
          priceInstances(`${logicalId}/${variant.VariantName ?? 'variant'}`, {
            instanceType: stripMl(variant.InstanceType),
            min: bounds?.min ?? count ?? 1,
            max: bounds?.max ?? count ?? 1,
            purchase: PurchaseOption.ON_DEMAND,
            what: 'SageMaker variant',
            service: ComputeService.SAGEMAKER,
          }, model, items, unpriced);
        }
        break;
      case 'AWS::EC2::NatGateway':
        fixed(logicalId, 'nat-gateway', 'NAT gateway', model.monthlyHourly(u.natGatewayHour));
        break;
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer':
        fixed(logicalId, 'load-balancer', `${p.Type ?? 'application'} load balancer`, model.monthlyHourly(u.albHour + u.albLcuHour));
        break;
      case 'AWS::RDS::DBCluster': {
        const scaling = p.ServerlessV2ScalingConfiguration;
        if (!scaling) break;
        const instances = Math.max(1, serverlessInstancesOf(logicalId, resources));
        const minAcu = num(scaling.MinCapacity) ?? 0;
        const maxAcu = num(scaling.MaxCapacity) ?? minAcu;
        items.push({
          logicalId,
          category: 'aurora',
          description: `Aurora Serverless v2, ${instances} instance(s) x ${minAcu}-${maxAcu} ACU`,
          minUsd: model.monthlyHourly(u.auroraAcuHour * minAcu, instances),
          maxUsd: model.monthlyHourly(u.auroraAcuHour * maxAcu, instances),
        });
        break;
      }
      case 'AWS::KMS::Key':
        fixed(logicalId, 'kms-key', 'KMS key', u.kmsKeyMonth);
        break;
      case 'AWS::CloudWatch::Alarm':
      case 'AWS::CloudWatch::CompositeAlarm':
        fixed(logicalId, 'alarm', 'CloudWatch alarm', u.alarmMonth);
        break;
      case 'AWS::CloudWatch::Dashboard':
        fixed(logicalId, 'dashboard', 'CloudWatch dashboard', u.dashboardMonth);
        break;
      case 'AWS::SecretsManager::Secret':
        fixed(logicalId, 'secret', 'Secrets Manager secret', u.secretMonth);
        break;
      default:
        break;
    }
  }
  return {
    minUsd: roundUsd(items.reduce((s, i) => s + i.minUsd, 0)),
    maxUsd: roundUsd(items.reduce((s, i) => s + i.maxUsd, 0)),
    items,
    unpriced,
  };
}

/** Assumptions the review adds to the cost model's own. */
export function reviewCostAssumptions(model: CostModel = CostModel.default()): string[] {
  return [
    ...model.assumptions(),
    'Minimum is every group at its minimum size (MinSize, MinvCpus, min ACU, an endpoint variant\'s autoscaling minimum), '
      + 'maximum at its maximum (an endpoint variant without autoscaling at its initial instance count), both running all month.',
    'Auto Scaling groups and Batch environments count as spot when they request spot (SPOT type, spot market options, 0% on-demand above base).',
    'Each load balancer is priced at the ALB hourly rate plus one LCU.',
  ];
}

interface Capacity {
  readonly instanceType?: string;
  readonly min: number;
  readonly max: number;
  readonly purchase: PurchaseOption;
  readonly what: string;
  /** @default ComputeService.EC2 */
  readonly service?: ComputeService;
}

function priceInstances(logicalId: string, capacity: Capacity | undefined, model: CostModel, items: CostLineItem[], unpriced: string[]): void {
  if (!capacity) return;
  const { instanceType, min, max, purchase, what, service } = capacity;
  const known = instanceType !== undefined && GpuInstance.isKnown(instanceType);
  const hosted = service !== ComputeService.SAGEMAKER || (known && GpuInstance.of(instanceType).isSageMakerHosted);
  if (!instanceType || !known || !hosted || !Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) {
    unpriced.push(`${logicalId} (${what}, instance type ${instanceType ?? 'unresolved'}, ${min}-${max})`);
    return;
  }
  const instance = GpuInstance.of(instanceType);
  const range = model.monthlyRange({ instance, min, max, purchase, service });
  items.push({
    logicalId,
    category: 'instances',
    description: `${what}: ${min === max ? `${max}` : `${min}-${max}`} x ${instanceType}${purchase === PurchaseOption.SPOT ? ' (spot)' : ''}`,
    minUsd: range.minUsd,
    maxUsd: range.maxUsd,
    instanceType,
    minInstances: min,
    maxInstances: max,
    maxGpus: instance.gpus * max,
  });
}

/** Instance type, sizes and purchase option of an Auto Scaling group. */
export function asgCapacity(resource: CfnResource, resources: Record<string, CfnResource>): Capacity {
  const p = resource.Properties ?? {};
  const min = num(p.MinSize) ?? 0;
  const max = num(p.MaxSize) ?? min;
  let instanceType: string | undefined;
  let purchase = PurchaseOption.ON_DEMAND;
  const mixed = p.MixedInstancesPolicy;
  const spec = mixed?.LaunchTemplate?.LaunchTemplateSpecification ?? p.LaunchTemplate;
  const launchTemplate = spec ? resources[refOf(spec.LaunchTemplateId) ?? refOf(spec.LaunchTemplateName) ?? ''] : undefined;
  const data = launchTemplate?.Properties?.LaunchTemplateData;
  if (data) {
    instanceType = str(data.InstanceType);
    if (str(data.InstanceMarketOptions?.MarketType)?.toLowerCase() === 'spot') purchase = PurchaseOption.SPOT;
  }
  const override = asArray(mixed?.LaunchTemplate?.Overrides).map((o) => str(o.InstanceType)).find((t) => t !== undefined);
  instanceType = override ?? instanceType;
  if (mixed?.InstancesDistribution && num(mixed.InstancesDistribution.OnDemandPercentageAboveBaseCapacity) === 0) purchase = PurchaseOption.SPOT;
  const config = resources[refOf(p.LaunchConfigurationName) ?? ''];
  if (config) {
    instanceType = str(config.Properties?.InstanceType) ?? instanceType;
    if (config.Properties?.SpotPrice !== undefined) purchase = PurchaseOption.SPOT;
  }
  return { instanceType, min, max, purchase, what: 'Auto Scaling group' };
}

/** Instance type and instance counts of a Batch compute environment (vCPUs divided by the type's vCPUs). */
export function batchCapacity(p: Record<string, any>): Capacity | undefined {
  const compute = p.ComputeResources;
  if (!compute || /FARGATE/i.test(String(compute.Type ?? ''))) return undefined;
  const types = asArray(compute.InstanceTypes).map(str).filter((t): t is string => t !== undefined);
  const instanceType = types.find((t) => GpuInstance.isKnown(t)) ?? types[0];
  const purchase = /SPOT/i.test(String(compute.Type ?? '')) ? PurchaseOption.SPOT : PurchaseOption.ON_DEMAND;
  const minVcpus = num(compute.MinvCpus) ?? 0;
  const maxVcpus = num(compute.MaxvCpus) ?? minVcpus;
  if (!instanceType || !GpuInstance.isKnown(instanceType)) return { instanceType, min: minVcpus, max: maxVcpus, purchase, what: 'Batch compute environment' };
  const vcpus = GpuInstance.of(instanceType).vcpus;
  return { instanceType, min: Math.ceil(minVcpus / vcpus), max: Math.ceil(maxVcpus / vcpus), purchase, what: 'Batch compute environment' };
}

/**
 * Autoscaling bounds of SageMaker variants, by `<endpoint config logical id>/<variant name>`: Application Auto
 * Scaling targets in the `sagemaker` namespace whose `endpoint/<name>/variant/<variant>` resource id names an
 * endpoint of the template (by its literal EndpointName or a Ref/GetAtt to it).
 */
export function variantScaling(resources: Record<string, CfnResource>): Map<string, { min: number; max: number }> {
  const out = new Map<string, { min: number; max: number }>();
  const endpoints = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SageMaker::Endpoint');
  for (const target of Object.values(resources)) {
    const p = target.Properties ?? {};
    if (target.Type !== 'AWS::ApplicationAutoScaling::ScalableTarget' || p.ServiceNamespace !== 'sagemaker') continue;
    const id = joined(p.ResourceId, (ref) => `@${ref}`);
    const m = id && /^endpoint\/(.+)\/variant\/([^/]+)$/.exec(id);
    if (!m) continue;
    const endpoint = endpoints.find(([logicalId, r]) => m[1] === `@${logicalId}` || (typeof r.Properties?.EndpointName === 'string' && r.Properties.EndpointName === m[1]));
    const config = endpoint && refOf(endpoint[1].Properties?.EndpointConfigName);
    const min = num(p.MinCapacity);
    const max = num(p.MaxCapacity);
    if (config && min !== undefined && max !== undefined) out.set(`${config}/${m[2]}`, { min, max });
  }
  return out;
}

/** A string or an `Fn::Join` of strings and references (rendered by `ref`); undefined for anything else. */
export function joined(value: unknown, ref: (logicalId: string) => string): string | undefined {
  if (typeof value === 'string') return value;
  const join = (value as any)?.['Fn::Join'];
  if (!Array.isArray(join) || typeof join[0] !== 'string' || !Array.isArray(join[1])) return undefined;
  const parts = join[1].map((x: unknown) => (typeof x === 'string' ? x : refOf(x) !== undefined ? ref(refOf(x)!) : undefined));
  return parts.every((x: unknown) => typeof x === 'string') ? parts.join(join[0]) : undefined;
}

/** Aurora Serverless v2 (`db.serverless`) instances that belong to a cluster. */
function serverlessInstancesOf(clusterId: string, resources: Record<string, CfnResource>): number {
  return Object.values(resources).filter((r) => r.Type === 'AWS::RDS::DBInstance'
    && r.Properties?.DBInstanceClass === 'db.serverless'
    && refOf(r.Properties?.DBClusterIdentifier) === clusterId).length;
}

/** `ml.g5.xlarge` to `g5.xlarge`. */
export function stripMl(instanceType: unknown): string | undefined {
  const s = str(instanceType);
  return s?.startsWith('ml.') ? s.slice(3) : s;
}

/** The logical id a `{ Ref }` or `{ Fn::GetAtt }` points to. */
export function refOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return v.Ref;
  const getAtt = v['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

/** A number from a template value (CloudFormation often writes numbers as strings); undefined for tokens. */
export function num(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asArray(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}
