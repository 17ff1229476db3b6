import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ARTIFACT_PURPOSES, ArtifactPurpose, ArtifactStoreSpec, ArtifactStoreSpecInput, DataClassification, resolveArtifactStoreSpec,
} from '../core';
import { childOptions, componentSpecScope, MlopsComponentArgs, policyJson, resolveProfileAndTags } from './component-support';

export interface ArtifactStoreArgs extends MlopsComponentArgs {
  /**
   * Customer managed key for the purpose buckets (for example the platform's key).
   * @default - a new key with rotation on, retained like the data outside dev
   */
  readonly encryptionKey?: aws.kms.Key;
  /**
   * Lifecycle of noncurrent versions and incomplete uploads.
   * @default - transition and expiry days from the profile, multipart uploads aborted after 7 days
   */
  readonly lifecycle?: ArtifactStoreSpecInput['lifecycle'];
  /**
   * S3 Object Lock default retention (`mode` 'GOVERNANCE' or 'COMPLIANCE').
   * @default - no Object Lock
   */
  readonly objectLock?: ArtifactStoreSpecInput['objectLock'];
  /**
   * Classification of the data, tagged as `mlops:data-classification`. RESTRICTED needs `retentionDays`
   * or `allowIndefiniteRetention: true`.
   * @default - the classification of `tags`, else DataClassification.INTERNAL
   */
  readonly dataClassification?: DataClassification;
  /**
   * Days after which current objects expire.
   * @default - current objects never expire
   */
  readonly retentionDays?: number;
  /**
   * Confirms that RESTRICTED data may be kept without an expiry.
   * @default false
   */
  readonly allowIndefiniteRetention?: boolean;
  /**
   * Empty the buckets when they are deleted (`forceDestroy`). Only where the profile allows destroying data.
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
}

/** One purpose bucket and the configuration resources that secure it. */
export interface ArtifactBucket {
  readonly bucket: aws.s3.Bucket;
  readonly versioning: aws.s3.BucketVersioning;
  readonly encryption: aws.s3.BucketServerSideEncryptionConfiguration;
  readonly publicAccessBlock: aws.s3.BucketPublicAccessBlock;
  readonly policy: aws.s3.BucketPolicy;
  readonly lifecycle: aws.s3.BucketLifecycleConfiguration;
  readonly logging?: aws.s3.BucketLogging;
  readonly objectLock?: aws.s3.BucketObjectLockConfiguration;
}

/**
 * The Pulumi counterpart of the CDK `ArtifactStore`: one bucket each for datasets, models and artifacts plus an
 * access-log bucket, versioned, encrypted with a customer managed key (S3 Bucket Keys on), TLS 1.2+ only, private,
 * bucket-owner-enforced and logged, with the profile's noncurrent-version lifecycle. Defaults and errors come from
 * core's `resolveArtifactStoreSpec`, the same function the CDK construct calls. Cross-region replication is CDK-only.
 */
export class ArtifactStore extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:ArtifactStore';

  public readonly encryptionKey: aws.kms.Key;
  public readonly accessLogBucket: aws.s3.Bucket;
  public readonly buckets: Readonly<Record<ArtifactPurpose, ArtifactBucket>>;
  /** The resolved settings (shared with the CDK construct). */
  public readonly spec: ArtifactStoreSpec;
  public readonly bucketNames: pulumi.Output<Record<ArtifactPurpose, string>>;

  constructor(name: string, args: ArtifactStoreArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: baseTags } = resolveProfileAndTags(args);
    const spec = resolveArtifactStoreSpec(componentSpecScope(ArtifactStore.TYPE, name), args, profile, {
      inheritedClassification: baseTags.dataClassification,
    });
    super(ArtifactStore.TYPE, name, {}, opts);
    this.spec = spec;
    const tags = baseTags.with({ dataClassification: spec.dataClassification }, `${ArtifactStore.TYPE}(${name})`).toAwsTags();
    const retain = spec.retainData;

    this.encryptionKey = args.encryptionKey ?? new aws.kms.Key(`${name}-key`, {
      description: `mlops-constructs artifact store key of ${name}`,
      enableKeyRotation: true,
      deletionWindowInDays: spec.keyPendingWindowDays,
      tags,
    }, childOptions(this, retain));

    // S3 server access logs can only be delivered to SSE-S3 buckets.
    this.accessLogBucket = new aws.s3.Bucket(`${name}-access-logs`, { forceDestroy: spec.autoDeleteObjects, tags }, childOptions(this, retain));
    this.secureBucket(`${name}-access-logs`, this.accessLogBucket, { sseAlgorithm: 'AES256' }, false, [{
      id: 'expire-logs',
      status: 'Enabled',
      filter: {},
      expiration: { days: spec.accessLogRetentionDays },
      noncurrentVersionExpiration: { noncurrentDays: spec.accessLogNoncurrentExpirationDays },
      abortIncompleteMultipartUpload: { daysAfterInitiation: spec.abortIncompleteMultipartUploadDays },
    }, { id: 'remove-expired-delete-markers', status: 'Enabled', filter: {}, expiration: { expiredObjectDeleteMarker: true } }], retain);

    const buckets: Partial<Record<ArtifactPurpose, ArtifactBucket>> = {};
    for (const purpose of ARTIFACT_PURPOSES) {
      const id = `${name}-${purpose}`;
      const locked = spec.isLocked(purpose);
      const bucket = new aws.s3.Bucket(id, {
        forceDestroy: spec.autoDeleteObjects, objectLockEnabled: locked || undefined, tags,
      }, childOptions(this, retain));
      const rules: aws.types.input.s3.BucketLifecycleConfigurationRule[] = [{
        id: 'noncurrent-versions',
        status: 'Enabled',
        filter: {},
        noncurrentVersionTransitions: [{ noncurrentDays: spec.noncurrentVersionTransitionDays, storageClass: 'STANDARD_IA' }],
        noncurrentVersionExpiration: { noncurrentDays: spec.noncurrentVersionExpirationDays },
        abortIncompleteMultipartUpload: { daysAfterInitiation: spec.abortIncompleteMultipartUploadDays },
      }];
      if (spec.retentionDays !== undefined) rules.push({ id: 'retention', status: 'Enabled', filter: {}, expiration: { days: spec.retentionDays } });
      rules.push({ id: 'remove-expired-delete-markers', status: 'Enabled', filter: {}, expiration: { expiredObjectDeleteMarker: true } });
      const secured = this.secureBucket(id, bucket, { sseAlgorithm: 'aws:kms', kmsMasterKeyId: this.encryptionKey.arn }, true, rules, retain);
      const logging = new aws.s3.BucketLogging(`${id}-logging`, {
        bucket: bucket.id, targetBucket: this.accessLogBucket.id, targetPrefix: `s3/${purpose}/`,
      }, childOptions(this));
      const objectLock = locked ? new aws.s3.BucketObjectLockConfiguration(`${id}-object-lock`, {
        bucket: bucket.id,
        objectLockEnabled: 'Enabled',
        rule: { defaultRetention: { mode: spec.objectLock!.mode, days: spec.objectLock!.retentionDays } },
      }, childOptions(this, retain)) : undefined;
      buckets[purpose] = { bucket, ...secured, logging, objectLock };
    }
    this.buckets = buckets as Record<ArtifactPurpose, ArtifactBucket>;
    this.bucketNames = pulumi.all(ARTIFACT_PURPOSES.map((p) => this.buckets[p].bucket.bucket))
      .apply((names) => Object.fromEntries(ARTIFACT_PURPOSES.map((p, i) => [p, names[i]])) as Record<ArtifactPurpose, string>);

    this.registerOutputs({
      encryptionKeyArn: this.encryptionKey.arn,
      accessLogBucketName: this.accessLogBucket.bucket,
      bucketNames: this.bucketNames,
    });
  }

  /** The bucket holding one purpose's data. */
  public bucket(purpose: ArtifactPurpose): aws.s3.Bucket {
    return this.buckets[purpose].bucket;
  }

  /** `s3://<bucket>/<prefix>` */
  public s3Uri(purpose: ArtifactPurpose, prefix = ''): pulumi.Output<string> {
    return pulumi.interpolate`s3://${this.bucket(purpose).bucket}/${prefix}`;
  }

  private secureBucket(
    id: string, bucket: aws.s3.Bucket,
    encryption: aws.types.input.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefault, bucketKey: boolean,
    rules: aws.types.input.s3.BucketLifecycleConfigurationRule[], retain: boolean,
  ): Omit<ArtifactBucket, 'bucket' | 'logging' | 'objectLock'> {
    const versioning = new aws.s3.BucketVersioning(`${id}-versioning`, {
      bucket: bucket.id, versioningConfiguration: { status: 'Enabled' },
    }, childOptions(this, retain));
    const sse = new aws.s3.BucketServerSideEncryptionConfiguration(`${id}-encryption`, {
      bucket: bucket.id,
      rules: [{ applyServerSideEncryptionByDefault: encryption, bucketKeyEnabled: bucketKey || undefined }],
    }, childOptions(this, retain));
    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(`${id}-public-access-block`, {
      bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    }, childOptions(this, retain));
    new aws.s3.BucketOwnershipControls(`${id}-ownership`, { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } }, childOptions(this, retain));
    const policy = new aws.s3.BucketPolicy(`${id}-policy`, {
      bucket: bucket.id,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Sid: 'DenyOutdatedTLS',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          },
        ],
      }),
    }, { parent: this, dependsOn: [publicAccessBlock] });
    const lifecycle = new aws.s3.BucketLifecycleConfiguration(`${id}-lifecycle`, { bucket: bucket.id, rules }, { parent: this, dependsOn: [versioning] });
    return { versioning, encryption: sse, publicAccessBlock, policy, lifecycle };
  }
}
