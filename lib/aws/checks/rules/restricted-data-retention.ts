import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { TAG_KEYS } from '../../../core';
import { render, tagsOf } from '../template';

/**
 * Buckets holding RESTRICTED data (tag `mlops:data-classification` = `restricted`) have an enabled lifecycle
 * rule that expires current objects (GDPR/CCPA storage limitation): personal data is not kept forever.
 */
export function restrictedDataRetention(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::S3::Bucket') return NagRuleCompliance.NOT_APPLICABLE;
  const { properties } = render(node);
  if (tagsOf(properties)[TAG_KEYS.dataClassification] !== 'restricted') return NagRuleCompliance.NOT_APPLICABLE;
  const rules: Array<Record<string, unknown>> = properties.LifecycleConfiguration?.Rules ?? [];
  const expires = rules.some((r) => r.Status !== 'Disabled' && (r.ExpirationInDays !== undefined || r.ExpirationDate !== undefined));
  return expires ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}
