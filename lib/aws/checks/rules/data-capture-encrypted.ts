import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { render } from '../template';

/**
 * A SageMaker endpoint configuration that captures requests and responses (DataCaptureConfig) encrypts the
 * capture with a customer managed key (`KmsKeyId`): captured payloads are production data.
 */
export function dataCaptureEncrypted(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::SageMaker::EndpointConfig') return NagRuleCompliance.NOT_APPLICABLE;
  const capture = render(node).properties.DataCaptureConfig;
  if (capture === undefined || capture.EnableCapture === false) return NagRuleCompliance.NOT_APPLICABLE;
  return capture.KmsKeyId ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}
