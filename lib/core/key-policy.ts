/**
 * Key-policy statements every KMS key the library creates carries, in either engine, as plain data (IAM JSON) that
 * the CDK constructs turn into `iam.PolicyStatement.fromJson` and the Pulumi components put in the key policy.
 */

/** Sid of the statement `denyGrantsExceptForAwsResourcesStatement` renders. */
export const DENY_GRANTS_EXCEPT_FOR_AWS_RESOURCES_SID = 'DenyGrantsExceptForAwsResources';

/**
 * Nobody creates grants on the key except for AWS resources or as an AWS service (the statement AWS Control Tower's
 * CT.KMS.PR.3 requires: deny `kms:CreateGrant` to every principal when both `kms:GrantIsForAWSResource` and
 * `aws:PrincipalIsAWSService` are false). Services that encrypt volumes, databases or clusters for the platform create
 * grants for AWS resources and keep working; a person or a workload cannot hand the key's use to another principal
 * with a grant, which would outlive any IAM change.
 */
export function denyGrantsExceptForAwsResourcesStatement(): {
  Sid: string; Effect: 'Deny'; Principal: { AWS: '*' }; Action: string[]; Resource: string; Condition: Record<string, Record<string, string>>;
} {
  return {
    Sid: DENY_GRANTS_EXCEPT_FOR_AWS_RESOURCES_SID,
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Action: ['kms:CreateGrant'],
    Resource: '*',
    Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
  };
}
