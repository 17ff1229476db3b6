import { Aws, CfnCondition, CfnMapping, CfnResource, Fn, Stack, Token } from 'aws-cdk-lib';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RegionInfo } from 'aws-cdk-lib/region-info';

const MAPPING_ID = 'MlopsElbLogDeliveryAccounts';
const CONDITION_ID = 'MlopsElbLogDeliveryByAccount';
const NONE = 'none';

/**
 * ALB access logs to `<prefix>/` of `bucket`. Elastic Load Balancing writes them as a per-region AWS account in the
 * regions opened before August 2022 and as the `logdelivery.elasticloadbalancing.amazonaws.com` service principal in
 * the others. With a known region this is aws-cdk-lib's `logAccessLogs`. In an environment-agnostic stack the region
 * is chosen at deployment, so the bucket policy grants both: the service principal, and the region's ELB account
 * read from a mapping of every region aws-cdk-lib knows (as aws-cdk-lib's regional facts do), which falls back to the
 * stack's own account (a grant that adds nothing) where the region has no ELB account. A region newer than the
 * installed aws-cdk-lib fails the deployment on the mapping lookup: upgrade aws-cdk-lib or give the stack a region.
 */
export function logAlbAccessLogs(lb: elbv2.ApplicationLoadBalancer, bucket: s3.IBucket, prefix: string): void {
  const stack = Stack.of(lb);
  if (!Token.isUnresolved(stack.region)) {
    lb.logAccessLogs(bucket, prefix);
    return;
  }
  lb.setAttribute('access_logs.s3.enabled', 'true');
  lb.setAttribute('access_logs.s3.bucket', bucket.bucketName);
  lb.setAttribute('access_logs.s3.prefix', prefix);
  const logs = bucket.arnForObjects(`${prefix}/AWSLogs/${stack.account}/*`);
  // The mapping and condition belong to the template of the bucket policy, which may be another stack's.
  const policyStack = Stack.of(bucket);
  const elbAccount = Fn.findInMap(elbAccountMapping(policyStack).logicalId, Aws.REGION, 'account');
  const regionalAccount = Fn.conditionIf(elbAccountCondition(policyStack, elbAccount).logicalId,
    `arn:${Aws.PARTITION}:iam::${elbAccount}:root`, `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:root`);
  bucket.addToResourcePolicy(new iam.PolicyStatement({
    actions: ['s3:PutObject'],
    principals: [new iam.ArnPrincipal(regionalAccount.toString()), new iam.ServicePrincipal('logdelivery.elasticloadbalancing.amazonaws.com')],
    resources: [logs],
  }));
  const policy = bucket.policy?.node.defaultChild;
  if (CfnResource.isCfnResource(policy)) (lb.node.defaultChild as CfnResource).addResourceDependency(policy);
}

function elbAccountMapping(stack: Stack): CfnMapping {
  const existing = stack.node.tryFindChild(MAPPING_ID);
  if (existing) return existing as CfnMapping;
  const mapping: Record<string, Record<string, string>> = {};
  for (const region of RegionInfo.regions) mapping[region.name] = { account: region.elbv2Account ?? NONE };
  return new CfnMapping(stack, MAPPING_ID, { mapping });
}

function elbAccountCondition(stack: Stack, elbAccount: string): CfnCondition {
  const existing = stack.node.tryFindChild(CONDITION_ID);
  if (existing) return existing as CfnCondition;
  return new CfnCondition(stack, CONDITION_ID, { expression: Fn.conditionNot(Fn.conditionEquals(elbAccount, NONE)) });
}
