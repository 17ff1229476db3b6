import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

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

/** A construct's own rotating key (child id `Key`) that CloudWatch Logs may use, removed as the profile says. */
export function newRotatingKey(scope: Construct, description: string, removalPolicy: RemovalPolicy, pendingWindowDays?: number): kms.Key {
  const key = new kms.Key(scope, 'Key', {
    description,
    enableKeyRotation: true,
    pendingWindow: pendingWindowDays === undefined ? undefined : Duration.days(pendingWindowDays),
    removalPolicy,
  });
  allowCloudWatchLogsToUseKey(key);
  return key;
}
