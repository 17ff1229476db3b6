import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { denyGrantsExceptForAwsResourcesStatement } from '../../core';

/**
 * Lets CloudWatch Logs of this account and region encrypt log groups with the key (the key policy statement
 * CloudWatch Logs requires; limited by the log-group encryption context to this account's log groups).
 */
export function allowCloudWatchLogsToUseKey(key: kms.IKey): void {
  const { region, account, partition } = Stack.of(key);
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowCloudWatchLogsInThisAccount',
    principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` } },
  }));
}

/**
 * A key the library creates: `kms.Key` whose policy also lets nobody create grants on it except for AWS resources or
 * as an AWS service (core's `denyGrantsExceptForAwsResourcesStatement`, AWS Control Tower's CT.KMS.PR.3; the Pulumi
 * components put the same statement in every key policy).
 */
export function newKey(scope: Construct, id: string, props: kms.KeyProps): kms.Key {
  const key = new kms.Key(scope, id, props);
  key.addToResourcePolicy(iam.PolicyStatement.fromJson(denyGrantsExceptForAwsResourcesStatement()));
  return key;
}

/** A construct's own rotating key (child id `Key`) that CloudWatch Logs may use, removed as the profile says. */
export function newRotatingKey(scope: Construct, description: string, removalPolicy: RemovalPolicy, pendingWindowDays?: number): kms.Key {
  const key = newKey(scope, 'Key', {
    description,
    enableKeyRotation: true,
    pendingWindow: pendingWindowDays === undefined ? undefined : Duration.days(pendingWindowDays),
    removalPolicy,
  });
  allowCloudWatchLogsToUseKey(key);
  return key;
}

/** Service-linked roles that launch instances (and publish their notifications) for the platform. */
const LAUNCHING_SERVICE_LINKED_ROLES = [
  'autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
  'batch.amazonaws.com/AWSServiceRoleForBatch',
  'ec2fleet.amazonaws.com/AWSServiceRoleForEC2Fleet',
  'spotfleet.amazonaws.com/AWSServiceRoleForEC2SpotFleet',
];
const slrAllowed = new WeakSet<kms.IKey>();

/**
 * Lets the service-linked roles that launch the platform's instances (Auto Scaling, Batch, EC2 Fleet, Spot Fleet)
 * encrypt their EBS volumes and encrypted notifications with the key, by role ARN (as AWS documents for customer
 * managed keys), never `*` through a service: grants only for AWS resources (`kms:GrantIsForAWSResource`). The roles
 * are named by a condition, not as principals, so the key can exist before a role does. Idempotent per key.
 */
export function allowLaunchingServicesToUseKey(key: kms.IKey): void {
  if (slrAllowed.has(key)) return;
  slrAllowed.add(key);
  const { account, partition } = Stack.of(key);
  const roles = { 'aws:PrincipalArn': LAUNCHING_SERVICE_LINKED_ROLES.map((r) => `arn:${partition}:iam::${account}:role/aws-service-role/${r}`) };
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowLaunchingServiceLinkedRolesToEncryptVolumes',
    principals: [new iam.AccountRootPrincipal()],
    actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
    resources: ['*'],
    conditions: { ArnLike: roles },
  }), true);
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowLaunchingServiceLinkedRolesToGrantForVolumes',
    principals: [new iam.AccountRootPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: { ArnLike: roles, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
  }), true);
}
