import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { GpuInstance, TAG_KEYS } from '../../../core';
import { render, tagList, tagsOf } from '../template';

const REQUIRED = [TAG_KEYS.team, TAG_KEYS.costCenter];

/**
 * Resources that launch accelerated capacity (an instance type, or a bare family, of a family in
 * `GpuInstance.acceleratedFamilies()`) carry `mlops:team` and `mlops:cost-center`, on the resource itself or on
 * the tags it propagates to what it launches, so GPU spend is attributable. Checked: EC2 launch templates and
 * instances, Auto Scaling groups (instance-type overrides; tags with PropagateAtLaunch), Batch compute
 * environments (compute resource tags are what instances get) and SageMaker endpoint configurations
 * (`ml.` instance types).
 */
export function gpuCostTags(node: CfnResource): NagRuleResult {
  const { properties } = render(node);
  const launched = instanceTypes(node.cfnResourceType, properties);
  if (launched === undefined) return NagRuleCompliance.NOT_APPLICABLE;
  if (!launched.some(isAccelerated)) return NagRuleCompliance.NOT_APPLICABLE;
  const tags = tagsCarried(node.cfnResourceType, properties);
  return REQUIRED.every((k) => typeof tags[k] === 'string' && tags[k] !== '') ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

function isAccelerated(instanceType: unknown): boolean {
  if (typeof instanceType !== 'string') return false;
  const family = instanceType.replace(/^ml\./, '').split('.')[0];
  return GpuInstance.acceleratedFamilies().includes(family);
}

/** Instance types (or families) a resource launches, or undefined when the rule does not apply to its type. */
function instanceTypes(type: string, p: Record<string, any>): unknown[] | undefined {
  switch (type) {
    case 'AWS::EC2::LaunchTemplate':
      return [p.LaunchTemplateData?.InstanceType];
    case 'AWS::EC2::Instance':
      return [p.InstanceType];
    case 'AWS::AutoScaling::AutoScalingGroup':
      return (p.MixedInstancesPolicy?.LaunchTemplate?.Overrides ?? []).map((o: Record<string, unknown>) => o.InstanceType);
    case 'AWS::Batch::ComputeEnvironment':
      return p.ComputeResources?.InstanceTypes ?? [];
    case 'AWS::SageMaker::EndpointConfig':
      return (p.ProductionVariants ?? []).concat(p.ShadowProductionVariants ?? []).map((v: Record<string, unknown>) => v.InstanceType);
    default:
      return undefined;
  }
}

/** Tags on the resource and the tags it propagates to launched capacity, merged. */
function tagsCarried(type: string, p: Record<string, any>): Record<string, string> {
  switch (type) {
    case 'AWS::EC2::LaunchTemplate':
      return Object.assign({},
        ...(p.TagSpecifications ?? []).map((s: Record<string, unknown>) => tagList(s.Tags)),
        ...(p.LaunchTemplateData?.TagSpecifications ?? []).map((s: Record<string, unknown>) => tagList(s.Tags)));
    case 'AWS::AutoScaling::AutoScalingGroup':
      return tagList((p.Tags ?? []).filter((t: Record<string, unknown>) => t.PropagateAtLaunch === true || t.PropagateAtLaunch === 'true'));
    case 'AWS::Batch::ComputeEnvironment':
      return { ...tagsOf(p), ...tagList(p.ComputeResources?.Tags) };
    default:
      return tagsOf(p);
  }
}
