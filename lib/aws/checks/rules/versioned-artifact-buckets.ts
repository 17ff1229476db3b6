import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { MLOPS_CHECK_TAGS } from '../tag-contract';
import { render, tagsOf } from '../template';

const VERSIONED_PURPOSES = ['datasets', 'models'];

/**
 * Dataset and model buckets (tagged `mlops:purpose` `datasets` or `models`, as ArtifactStore tags them) have
 * versioning enabled, so an overwritten training set or model can be recovered and lineage stays intact.
 */
export function versionedArtifactBuckets(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::S3::Bucket') return NagRuleCompliance.NOT_APPLICABLE;
  const { properties } = render(node);
  const purpose = tagsOf(properties)[MLOPS_CHECK_TAGS.purpose];
  if (!VERSIONED_PURPOSES.includes(purpose)) return NagRuleCompliance.NOT_APPLICABLE;
  return properties.VersioningConfiguration?.Status === 'Enabled' ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}
