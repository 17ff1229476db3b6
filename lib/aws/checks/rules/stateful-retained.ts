import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { TAG_KEYS } from '../../../core';
import { allowsDestroy, render, tagsOf } from '../template';

/** Resource types that hold data or keys to it. */
export const STATEFUL_RESOURCE_TYPES: readonly string[] = [
  'AWS::S3::Bucket', 'AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::KMS::Key', 'AWS::ECR::Repository', 'AWS::Logs::LogGroup',
  'AWS::SecretsManager::Secret', 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable', 'AWS::EFS::FileSystem',
  'AWS::SageMaker::ModelPackageGroup',
];

const RETAINING_POLICIES = ['Retain', 'RetainExceptOnCreate', 'Snapshot'];

/**
 * Outside dev, stateful resources are kept when removed from the stack or when the stack is deleted
 * (DeletionPolicy `Retain`, `RetainExceptOnCreate` or `Snapshot`). A DB instance that belongs to an Aurora
 * cluster is exempt: the cluster holds the data. Dev is recognised by the `mlops:environment` tag of the
 * resource or its stack (`dev`), or by the profile in scope allowing data to be destroyed.
 */
export function statefulRetained(node: CfnResource): NagRuleResult {
  if (!STATEFUL_RESOURCE_TYPES.includes(node.cfnResourceType)) return NagRuleCompliance.NOT_APPLICABLE;
  const { properties, deletionPolicy } = render(node);
  if (node.cfnResourceType === 'AWS::RDS::DBInstance' && properties.DBClusterIdentifier !== undefined) return NagRuleCompliance.NOT_APPLICABLE;
  if (allowsDestroy(node, tagsOf(properties), TAG_KEYS.environment)) return NagRuleCompliance.NOT_APPLICABLE;
  return deletionPolicy !== undefined && RETAINING_POLICIES.includes(deletionPolicy) ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}
