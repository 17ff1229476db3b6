import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { servedWrites } from '../served-writes';

/**
 * Only the promotion role may change what production serves (docs/design/served-models.md, claim 1). Checked on every
 * IAM role against the URIs actually served anywhere in the app, across stacks (see `servedWrites`):
 * - NON_COMPLIANT when the role can put, delete, unlock or replicate over the object of a served URI, unless the
 *   models bucket's policy names this role as the only principal exempt from its deny on those writes (the promotion
 *   role `ArtifactStore` designates), in which case the role is the intended writer;
 * - COMPLIANT otherwise; NOT_APPLICABLE to other resource types.
 */
export function onlyPromotionWritesServedModels(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::IAM::Role') return NagRuleCompliance.NOT_APPLICABLE;
  const writes = servedWrites(node).filter((w) => w.role === node);
  return writes.every((w) => w.designated) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}
