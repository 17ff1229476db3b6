import { Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';

const SSE_S3_ONLY = 'S3 server access logs and ALB access logs can only be delivered to buckets encrypted with SSE-S3, not SSE-KMS; '
  + 'the bucket holds only those logs.';

/**
 * Sends the bucket's object events to EventBridge (no Lambda: the bucket's own `NotificationConfiguration`), so object
 * changes can be audited and acted on (AWS Control Tower CT.S3.PR.4). Events of AWS services on the default bus cost nothing.
 */
export function notifyEventBridge(bucket: s3.Bucket): void {
  (bucket.node.defaultChild as s3.CfnBucket).addPropertyOverride('NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled', true);
}

/** A bucket without Object Lock, and why (AWS Control Tower CT.S3.PR.9). */
export function acknowledgeNoObjectLock(bucket: s3.Bucket, reason: string): void {
  Validations.of(bucket.node.defaultChild as s3.CfnBucket).acknowledge({ id: 'cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check', reason });
}

/**
 * A terminal access-log bucket (SSE-S3, not itself logged, not replicated, no Object Lock): the findings every pack
 * raises on it, acknowledged with the reasons given, and its object events sent to EventBridge.
 */
export function acknowledgeTerminalLogBucket(bucket: s3.Bucket, reasons: { notLogged: string; notReplicated?: string }): void {
  const { notLogged, notReplicated } = reasons;
  const unlocked = 'Log files expire after the profile\'s log retention by a lifecycle rule, which Object Lock would block; the bucket is '
    + 'versioned, TLS-only and private, and only the logging services write to it.';
  Validations.of(bucket.node.defaultChild as s3.CfnBucket).acknowledge(
    { id: 'AwsSolutions-S1', reason: notLogged },
    { id: 'NIST.800.53.R5-S3BucketLoggingEnabled', reason: notLogged },
    { id: 'HIPAA.Security-S3BucketLoggingEnabled', reason: notLogged },
    { id: 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check', reason: notLogged },
    { id: 'NIST.800.53.R5-S3DefaultEncryptionKMS', reason: SSE_S3_ONLY },
    { id: 'HIPAA.Security-S3DefaultEncryptionKMS', reason: SSE_S3_ONLY },
    { id: 'cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check', reason: SSE_S3_ONLY },
    { id: 'cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check', reason: unlocked },
    ...(notReplicated ? [
      { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason: notReplicated },
      { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason: notReplicated },
    ] : []),
  );
  notifyEventBridge(bucket);
}
