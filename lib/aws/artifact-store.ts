import { Aws, CfnResource, Duration, Names, Stack, Tags, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import {
  ARTIFACT_KMS_READ_ACTIONS, ARTIFACT_KMS_WRITE_ACTIONS, ARTIFACT_LIST_ACTIONS, ARTIFACT_PURPOSES, ARTIFACT_READ_OBJECT_ACTIONS,
  ARTIFACT_WRITE_OBJECT_ACTIONS, ArtifactPurpose, ArtifactStoreSpec, artifactReplicationRule, DataClassification, EnvironmentProfile,
  MODEL_ARTIFACT_LAYOUT, checkNotServedWritePrefix, checkPromotingEnvironments, PromotingEnvironment, REPLICATION_ACTIONS, resolveArtifactStoreSpec,
  servedModelsBucketPolicy, sharedServedModelsBucketStatement, sharedServedModelsKeyStatement, sharedServedObjectsArn, TAG_KEYS,
} from '../core';
import { MLOPS_CHECK_TAGS } from './checks/tag-contract';
import { acknowledgeNoObjectLock, acknowledgeTerminalLogBucket, notifyEventBridge } from './private/buckets';
import { relyOnFeatureFlags } from './private/feature-flags';
import { newKey } from './private/keys';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

// The purposes and the store's defaults and validation live in core, shared with the Pulumi ArtifactStore.
export { ArtifactPurpose } from '../core';

const PURPOSES = ARTIFACT_PURPOSES;

/** A set of ML buckets, owned here or imported from a shared platform. */
export interface IArtifactStore extends IConstruct {
  /** Customer managed key the purpose buckets are encrypted with. */
  readonly encryptionKey: kms.IKey;
  /**
   * Name of the only role that may write `served/` in the models bucket (the environment's `ModelPromotion`), where
   * the store enforces it; undefined for an imported store that did not say.
   */
  readonly promotionRoleName?: string;
  /**
   * Bucket for S3 server access logs and load balancer access logs (SSE-S3, as those log deliveries
   * require; prefixes `s3/` and `alb/`).
   */
  readonly accessLogBucket: s3.IBucket;
  /** The bucket holding one purpose's data. */
  bucket(purpose: ArtifactPurpose): s3.IBucket;
  /** `s3://<bucket>/<prefix>` */
  s3Uri(purpose: ArtifactPurpose, prefix?: string): string;
  /** Read objects (and list keys) of one purpose, optionally below a key prefix. */
  grantRead(grantee: iam.IGrantable, purpose: ArtifactPurpose, prefix?: string): iam.Grant;
  /** Write (put, multipart) objects of one purpose, optionally below a key prefix. Does not allow deletes. */
  grantWrite(grantee: iam.IGrantable, purpose: ArtifactPurpose, prefix?: string): iam.Grant;
  /** `grantRead` and `grantWrite` together. */
  grantReadWrite(grantee: iam.IGrantable, purpose: ArtifactPurpose, prefix?: string): iam.Grant;
  /** `s3://` URI of the archive of a promoted (served) model version: `served/<model>/<version>/model.tar.gz`. */
  servedModelUri(model: string, version: string): string;
  /** `s3://` URI of a training run's candidate prefix: `candidates/<model>/<run>/`. */
  candidateUri(model: string, run: string): string;
}

/** Lifecycle of object versions in the purpose buckets. */
export interface ArtifactStoreLifecycle {
  /**
   * Days after which noncurrent versions move to S3 Standard-IA (30 or more).
   * @default - the profile's `noncurrentVersionTransitionDays`
   */
  readonly noncurrentVersionTransitionDays?: number;
  /**
   * Days after which noncurrent versions are deleted; later than the transition.
   * @default - the profile's `noncurrentVersionExpirationDays`
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days after which incomplete multipart uploads are aborted (their parts cost storage).
   * @default 7
   */
  readonly abortIncompleteMultipartUploadDays?: number;
}

/** S3 Object Lock (WORM) default retention for audit-grade lineage. */
export interface ArtifactStoreObjectLock {
  /**
   * GOVERNANCE (users with `s3:BypassGovernanceRetention` may shorten it) or COMPLIANCE (nobody,
   * not even the root user, can delete a locked version before its retention ends).
   */
  readonly mode: s3.ObjectLockMode;
  /** Default retention of every new object version, in days (1 or more). */
  readonly retentionDays: number;
  /**
   * The buckets that are locked. Models are locked by default: a registered model version must stay
   * exactly as trained for audits. Datasets are not, because privacy rules (GDPR, CCPA) require
   * erasing personal data on request, which Object Lock would prevent.
   * @default [ArtifactPurpose.MODELS]
   */
  readonly purposes?: ArtifactPurpose[];
}

/** Cross-region replication of the purpose buckets to buckets in another region. */
export interface ArtifactStoreReplication {
  /** Region of the destination buckets; must differ from the stack's region. */
  readonly destinationRegion: string;
  /**
   * Destination bucket ARN per purpose. Give this or `destinationBucketNamePattern`.
   * @default - built from `destinationBucketNamePattern`
   */
  readonly destinationBucketArns?: { readonly [purpose in ArtifactPurpose]?: string };
  /**
   * Destination bucket name with a `{purpose}` placeholder, e.g. `acme-ml-{purpose}-replica-eu-west-1`.
   * @default - `destinationBucketArns` must be given
   */
  readonly destinationBucketNamePattern?: string;
  /** ARN of the KMS key in the destination region that replicas are encrypted with. */
  readonly destinationKeyArn: string;
}

export interface ArtifactStoreProps {
  /**
   * Name of the only role that may write below `served/` in the models bucket: the role `ModelPromotion` creates.
   * The bucket policy denies every other principal puts there, denies everyone deletes and retention changes there,
   * and accepts only write-once puts (`If-None-Match: *`), so a promoted version never changes.
   * @default - `<unique name of this store>-promotion` (at most 64 characters)
   */
  readonly promotionRoleName?: string;
  /**
   * Customer managed key for the purpose buckets (for example the environment's `PlatformKey.key`).
   * @default - a new key with rotation on, retained like the data outside dev
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Lifecycle of noncurrent versions and incomplete uploads.
   * @default - transition and expiry days from the profile, multipart uploads aborted after 7 days
   */
  readonly lifecycle?: ArtifactStoreLifecycle;
  /**
   * S3 Object Lock default retention (WORM). Turning it on for an existing bucket updates it in place; it cannot be
   * turned off again. Writers of a locked bucket must send a checksum (AWS SDKs and the AWS CLI do by default since
   * early 2025; older ones need Content-MD5).
   * @default - the models bucket in GOVERNANCE mode for the noncurrent-version expiry days (the profile's, 90 in dev,
   *   365 in prod), so the lock costs no storage the lifecycle would not keep anyway; none with `autoDeleteObjects`
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
   */
  readonly objectLock?: ArtifactStoreObjectLock;
  /**
   * Cross-region replication of all three purpose buckets.
   * @default - no replication
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html
   */
  readonly replication?: ArtifactStoreReplication;
  /**
   * Classification of the data, tagged as `mlops:data-classification` on the store's resources.
   * RESTRICTED data (personal data under GDPR, CCPA, HIPAA) needs `retentionDays` or
   * `allowIndefiniteRetention: true`.
   * @default - the classification of the MlopsStack in scope, else DataClassification.INTERNAL
   */
  readonly dataClassification?: DataClassification;
  /**
   * Days after which current objects expire in every purpose bucket (a delete marker is placed; the
   * version is then removed after `noncurrentVersionExpirationDays`).
   * @default - current objects never expire
   */
  readonly retentionDays?: number;
  /**
   * Confirms that RESTRICTED data may be kept without an expiry (for example because erasure requests
   * are handled by a deletion pipeline).
   * @default false
   */
  readonly allowIndefiniteRetention?: boolean;
  /**
   * Empty the buckets when they are deleted with the stack. Only where the profile allows destroying
   * data. Adds CDK's auto-delete custom resource (a Lambda function) to the stack.
   * @default false - dev buckets are removed with the stack only when empty
   */
  readonly autoDeleteObjects?: boolean;
}

/** Attributes of an artifact store owned by another stack (a shared platform). */
export interface ArtifactStoreAttributes {
  /** Bucket name per purpose. */
  readonly bucketNames: { readonly [purpose in ArtifactPurpose]: string };
  /** ARN of the key the purpose buckets are encrypted with. */
  readonly encryptionKeyArn: string;
  /** Name of the access-log bucket. */
  readonly accessLogBucketName: string;
  /**
   * Name of the promotion role the store's bucket policy lets write `served/` (see `ArtifactStore.promotionRoleName`).
   * @default - unknown: a `ModelPromotion` cannot use the imported store
   */
  readonly promotionRoleName?: string;
}

// The actions of the grants are core's, shared with the Pulumi ArtifactStore's grantStatements.
const READ_OBJECT_ACTIONS = [...ARTIFACT_READ_OBJECT_ACTIONS];
const WRITE_OBJECT_ACTIONS = [...ARTIFACT_WRITE_OBJECT_ACTIONS];
const LIST_ACTIONS = [...ARTIFACT_LIST_ACTIONS];
const KMS_READ_ACTIONS = [...ARTIFACT_KMS_READ_ACTIONS];
const KMS_WRITE_ACTIONS = [...ARTIFACT_KMS_WRITE_ACTIONS];


abstract class ArtifactStoreBase extends Construct implements IArtifactStore {
  public abstract readonly encryptionKey: kms.IKey;
  public abstract readonly accessLogBucket: s3.IBucket;
  public abstract readonly promotionRoleName?: string;
  protected abstract readonly buckets: Readonly<Record<ArtifactPurpose, s3.IBucket>>;

  public servedModelUri(model: string, version: string): string {
    return this.s3Uri(ArtifactPurpose.MODELS, `${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix(model, version)}${MODEL_ARTIFACT_LAYOUT.archive}`);
  }

  public candidateUri(model: string, run: string): string {
    return this.s3Uri(ArtifactPurpose.MODELS, MODEL_ARTIFACT_LAYOUT.candidateRunPrefix(model, run));
  }

  public bucket(purpose: ArtifactPurpose): s3.IBucket {
    const bucket = this.buckets[purpose];
    if (!bucket) {
      checkFor(this).fail('purpose', purpose, `is not one of ${PURPOSES.join(', ')}`, 'pass an ArtifactPurpose, e.g. ArtifactPurpose.MODELS.');
    }
    return bucket;
  }

  public s3Uri(purpose: ArtifactPurpose, prefix?: string): string {
    return `s3://${this.bucket(purpose).bucketName}/${this.checkPrefix(prefix)}`;
  }

  public grantRead(grantee: iam.IGrantable, purpose: ArtifactPurpose, prefix?: string): iam.Grant {
    const bucket = this.bucket(purpose);
    const keyPrefix = this.checkPrefix(prefix);
    return iam.Grant.addToPrincipal({ grantee, actions: READ_OBJECT_ACTIONS, resourceArns: [bucket.arnForObjects(`${keyPrefix}*`)] })
      .combine(this.grantList(grantee, bucket, keyPrefix))
      .combine(this.grantKey(grantee, bucket, KMS_READ_ACTIONS));
  }

  public grantWrite(grantee: iam.IGrantable, purpose: ArtifactPurpose, prefix?: string): iam.Grant {
    const bucket = this.bucket(purpose);
    const keyPrefix = this.checkPrefix(prefix);
    checkNotServedWritePrefix(checkFor(this), purpose, keyPrefix, Token.isUnresolved(keyPrefix));
    return iam.Grant.addToPrincipal({ grantee, actions: WRITE_OBJECT_ACTIONS, resourceArns: [bucket.arnForObjects(`${keyPrefix}*`)] })
      .combine(this.grantKey(grantee, bucket, KMS_WRITE_ACTIONS));
  }

  public grantReadWrite(grantee: iam.IGrantable, purpose: ArtifactPurpose, prefix?: string): iam.Grant {
    return this.grantRead(grantee, purpose, prefix).combine(this.grantWrite(grantee, purpose, prefix));
  }

  private grantList(grantee: iam.IGrantable, bucket: s3.IBucket, keyPrefix: string): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: LIST_ACTIONS,
      resourceArns: [bucket.bucketArn],
      conditions: keyPrefix === '' ? undefined : { StringLike: { 's3:prefix': [`${keyPrefix}*`] } },
    });
  }

  /** KMS use only through S3 in this region and only for this bucket (its ARN is the encryption context). */
  private grantKey(grantee: iam.IGrantable, bucket: s3.IBucket, actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.encryptionKey.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` },
        // With S3 Bucket Keys the context is the bucket ARN; objects written without them use the object ARN.
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': [bucket.bucketArn, bucket.arnForObjects('*')] },
      },
    });
  }

  private checkPrefix(prefix: string | undefined): string {
    if (prefix === undefined || Token.isUnresolved(prefix)) return prefix ?? '';
    checkFor(this).matches('prefix', prefix, /^[^*?/][^*?]*$/, "an S3 key prefix without wildcards that does not start with '/' (e.g. 'fraud/v3/')");
    return prefix;
  }
}

/**
 * The platform's ML object storage: one bucket each for datasets, models and other artifacts, and an
 * access-log bucket. Every purpose bucket is versioned, encrypted with a customer managed key (with S3
 * Bucket Keys), TLS 1.2+ only, private, bucket-owner-enforced and logged; noncurrent versions move to
 * Standard-IA and expire on the profile's schedule. Buckets are retained outside dev.
 *
 * Models bucket layout (`MODEL_ARTIFACT_LAYOUT`): training writes candidates below `candidates/<model>/<run>/`;
 * `served/<model>/<version>/` holds promoted versions, which the bucket policy lets only the promotion role create
 * (write-once) and nobody delete. Object Lock (`objectLock`) locks the models bucket by default (GOVERNANCE mode);
 * datasets are not locked by default because privacy rules (GDPR art. 17, CCPA) require erasing personal data on
 * request. RESTRICTED data (`dataClassification`) must say how long it may be kept (`retentionDays`,
 * GDPR's storage limitation), or opt out explicitly with `allowIndefiniteRetention: true`. Expired objects
 * become noncurrent versions and are deleted `noncurrentVersionExpirationDays` later.
 *
 * In dev the buckets are removed with the stack only when empty, unless `autoDeleteObjects` is set: that
 * adds CDK's auto-delete Lambda function and a bucket-policy path to delete every object, which a library
 * should not switch on silently.
 *
 * @example
 * const store = new ArtifactStore(stack, 'ArtifactStore', { encryptionKey: platformKey.key });
 * store.grantRead(trainingRole, ArtifactPurpose.DATASETS, 'fraud/');
 * store.grantWrite(trainingRole, ArtifactPurpose.MODELS, 'candidates/fraud/');
 */
export class ArtifactStore extends ArtifactStoreBase {
  /** Imports a store owned by another stack, e.g. a team repo using the shared platform's buckets. */
  public static fromArtifactStoreAttributes(scope: Construct, id: string, attrs: ArtifactStoreAttributes): IArtifactStore {
    return new ImportedArtifactStore(scope, id, attrs);
  }

  public readonly encryptionKey: kms.IKey;
  public readonly accessLogBucket: s3.Bucket;
  /** Name of the only role that may write `served/` in the models bucket (created by `ModelPromotion`). */
  public readonly promotionRoleName: string;
  /** ARN of that role, as the bucket policy names it. */
  public readonly promotionRoleArn: string;
  private readonly sharedWith: PromotingEnvironment[] = [];
  /** The classification tagged on the store's resources. */
  public readonly dataClassification: DataClassification;
  protected readonly buckets: Readonly<Record<ArtifactPurpose, s3.Bucket>>;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps = {}) {
    super(scope, id);
    relyOnFeatureFlags(this, 'serverAccessLogsUseBucketPolicy');
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const removalPolicy = statefulRemovalPolicy(profile);

    // Validate everything before creating resources (shared with the Pulumi ArtifactStore).
    const spec: ArtifactStoreSpec = resolveArtifactStoreSpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, props, profile, {
      region: Stack.of(this).region,
      inheritedClassification: MlopsScope.tagsOf(this)?.dataClassification,
    });
    const transitionDays = spec.noncurrentVersionTransitionDays;
    const expirationDays = spec.noncurrentVersionExpirationDays;
    const abortDays = spec.abortIncompleteMultipartUploadDays;
    const retentionDays = spec.retentionDays;
    this.dataClassification = spec.dataClassification;
    const autoDeleteObjects = spec.autoDeleteObjects;

    this.encryptionKey = props.encryptionKey ?? newKey(this, 'Key', {
      description: `mlops-constructs artifact store key at ${this.node.path}`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(spec.keyPendingWindowDays),
      removalPolicy,
    });

    // S3 server access logs and ALB access logs can only be delivered to SSE-S3 buckets.
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      ...secureBucketBasics(),
      lifecycleRules: [{
        id: 'expire-logs',
        expiration: Duration.days(spec.accessLogRetentionDays),
        // Overwritten or deleted log versions stay recoverable for a month, then go.
        noncurrentVersionExpiration: Duration.days(spec.accessLogNoncurrentExpirationDays),
        abortIncompleteMultipartUploadAfter: Duration.days(abortDays),
      }, { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true }],
      removalPolicy,
      autoDeleteObjects,
    });
    acknowledgeLogBucket(this.accessLogBucket);

    const buckets: Partial<Record<ArtifactPurpose, s3.Bucket>> = {};
    for (const purpose of PURPOSES) {
      const locked = spec.isLocked(purpose);
      const bucket = new s3.Bucket(this, pascalCase(purpose), {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: this.encryptionKey,
        bucketKeyEnabled: true,
        ...secureBucketBasics(),
        serverAccessLogsBucket: this.accessLogBucket,
        serverAccessLogsPrefix: `s3/${purpose}/`,
        lifecycleRules: [
          {
            id: 'noncurrent-versions',
            noncurrentVersionTransitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(transitionDays) }],
            noncurrentVersionExpiration: Duration.days(expirationDays),
            abortIncompleteMultipartUploadAfter: Duration.days(abortDays),
          },
          ...(retentionDays === undefined ? [] : [{ id: 'retention', expiration: Duration.days(retentionDays) }]),
          { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
        ],
        objectLockEnabled: locked ? true : undefined,
        objectLockDefaultRetention: locked ? lockRetention(spec.objectLock!) : undefined,
        removalPolicy,
        autoDeleteObjects,
      });
      // What MlopsChecks (MLOps-VersionedArtifactBuckets, MLOps-TrainingCannotWriteProdModels) recognise the bucket by.
      Tags.of(bucket).add(MLOPS_CHECK_TAGS.purpose, purpose);
      notifyEventBridge(bucket);
      if (!locked) acknowledgeNoObjectLock(bucket, UNLOCKED_REASONS[purpose]);
      buckets[purpose] = bucket;
    }
    this.buckets = buckets as Record<ArtifactPurpose, s3.Bucket>;

    this.promotionRoleName = props.promotionRoleName ?? `${Names.uniqueResourceName(this, { maxLength: 54, separator: '-' })}-promotion`;
    checkFor(this).matches('promotionRoleName', this.promotionRoleName, /^[\w+=,.@-]{1,64}$/, 'an IAM role name (at most 64 letters, digits and +=,.@_-)');
    // A literal name in the ARN (no reference to the promotion's stack, which deploys after this one).
    this.promotionRoleArn = `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${this.promotionRoleName}`;
    this.protectServedModels(this.buckets[ArtifactPurpose.MODELS]);

    if (spec.replication) {
      this.replicate(spec.replication);
    } else {
      for (const purpose of PURPOSES) acknowledgeNoReplication(this.buckets[purpose]);
    }
    if (autoDeleteObjects) tidyAutoDeleteProvider(this);

    Tags.of(this).add(TAG_KEYS.dataClassification, this.dataClassification, { priority: 100 + this.node.scopes.length });
  }

  /** The bucket holding one purpose's data. */
  public bucket(purpose: ArtifactPurpose): s3.Bucket {
    return super.bucket(purpose) as s3.Bucket;
  }

  /**
   * Lets the promotion role of another environment (prod promoting what this one, staging, approved) read the served
   * archives: `s3:GetObject` below `served/` of the models bucket (bucket policy) and `kms:Decrypt` of the store's key
   * through S3 (key policy; the bucket policies decide which objects); nothing of `candidates/`, of the other buckets,
   * nor any write. Both
   * statements name the account as principal and the role by `aws:PrincipalArn`, so they deploy before the role exists.
   */
  public shareServedModelsWith(promoting: PromotingEnvironment): void {
    checkPromotingEnvironments(checkFor(this), 'shareServedModelsWith', [promoting], this.sharedWith);
    this.sharedWith.push(promoting);
    const models = this.bucket(ArtifactPurpose.MODELS);
    // Core's statements (the Pulumi store renders the same), with CDK's account principal, which names the partition
    // literally where the stack's region is known (as these statements always rendered here).
    const accountPrincipal = (statement: Record<string, unknown>) => iam.PolicyStatement.fromJson({
      ...statement, Principal: new iam.AccountPrincipal(promoting.account).policyFragment.principalJson,
    });
    const objects = sharedServedObjectsArn(models.bucketArn);
    models.addToResourcePolicy(accountPrincipal(sharedServedModelsBucketStatement(promoting, Aws.PARTITION, objects)));
    const keyStatement = sharedServedModelsKeyStatement(promoting, Aws.PARTITION, Stack.of(this).region);
    const added = this.encryptionKey.addToResourcePolicy(accountPrincipal(keyStatement));
    if (!added.statementAdded) {
      checkFor(this).fail('encryptionKey', this.encryptionKey.keyArn, 'is an imported key whose policy cannot be changed here',
        'share from the stack that owns the key, or add the statement to its key policy yourself.');
    }
  }

  /** The models bucket's served-models statements (core's `servedModelsBucketPolicy`, shared with Pulumi). */
  private protectServedModels(models: s3.Bucket): void {
    // With autoDeleteObjects (dev only) CDK's auto-delete function must still empty the bucket when the stack goes.
    const autoDelete = Stack.of(this).node.tryFindChild(AUTO_DELETE_PROVIDER) as { roleArn?: string } | undefined;
    for (const statement of servedModelsBucketPolicy({
      servedObjectsArn: models.arnForObjects(`${MODEL_ARTIFACT_LAYOUT.servedRoot}*`),
      promotionRoleArn: this.promotionRoleArn,
      emptiesBucketArn: autoDelete?.roleArn,
    })) {
      models.addToResourcePolicy(iam.PolicyStatement.fromJson(statement));
    }
  }

  private replicate(replication: NonNullable<ArtifactStoreSpec['replication']>): void {
    const { region } = Stack.of(this);
    const role = new iam.Role(this, 'ReplicationRole', {
      assumedBy: new iam.ServicePrincipal('s3.amazonaws.com'),
      description: `S3 cross-region replication of ${this.node.path} to ${replication.destinationRegion}`,
    });
    const policy = new iam.ManagedPolicy(this, 'ReplicationPolicy', { roles: [role] });
    for (const purpose of PURPOSES) {
      const source = this.buckets[purpose];
      // Literal ARNs (partition from the destination key) keep the acknowledgements naming them exact.
      const destinationArn = replication.destinationBucketArns[purpose];
      policy.addStatements(
        new iam.PolicyStatement({ actions: [...REPLICATION_ACTIONS.sourceBucket], resources: [source.bucketArn] }),
        new iam.PolicyStatement({
          actions: [...REPLICATION_ACTIONS.sourceObjects],
          resources: [source.arnForObjects('*')],
        }),
        new iam.PolicyStatement({ actions: [...REPLICATION_ACTIONS.destinationObjects], resources: [`${destinationArn}/*`] }),
      );
      const cfnBucket = source.node.defaultChild as s3.CfnBucket;
      cfnBucket.replicationConfiguration = {
        role: role.roleArn,
        // The rule the Pulumi ArtifactStore sets too.
        rules: [artifactReplicationRule(purpose, replication)],
      };
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(cfnBucket)}.Arn>/*]`,
        reason: `Replication reads every object version of the ${purpose} bucket; S3 replication permissions are object-level, so the resource is the bucket's objects.`,
      }, {
        id: `AwsSolutions-IAM5[Resource::${destinationArn}/*]`,
        reason: `Replication writes replicas of every ${purpose} object to the destination bucket; object-level permissions need the bucket's objects as resource.`,
      });
    }
    // Decrypt sources and encrypt replicas only through S3, each in its own region.
    policy.addStatements(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
      }),
      new iam.PolicyStatement({
        actions: ['kms:Encrypt'],
        resources: [replication.destinationKeyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${replication.destinationRegion}.amazonaws.com` } },
      }),
    );
  }
}

class ImportedArtifactStore extends ArtifactStoreBase {
  public readonly encryptionKey: kms.IKey;
  public readonly accessLogBucket: s3.IBucket;
  public readonly promotionRoleName?: string;
  protected readonly buckets: Readonly<Record<ArtifactPurpose, s3.IBucket>>;

  constructor(scope: Construct, id: string, attrs: ArtifactStoreAttributes) {
    super(scope, id);
    const check = checkFor(this);
    check.matches('encryptionKeyArn', attrs.encryptionKeyArn ?? '', /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/, 'a KMS key ARN');
    check.matches('accessLogBucketName', attrs.accessLogBucketName ?? '', BUCKET_NAME, 'a bucket name (3-63 lower-case letters, digits, dots and hyphens)');
    this.encryptionKey = kms.Key.fromKeyArn(this, 'Key', attrs.encryptionKeyArn);
    this.promotionRoleName = attrs.promotionRoleName;
    this.accessLogBucket = s3.Bucket.fromBucketName(this, 'AccessLogs', attrs.accessLogBucketName);
    const buckets: Partial<Record<ArtifactPurpose, s3.IBucket>> = {};
    for (const purpose of PURPOSES) {
      const name = attrs.bucketNames?.[purpose];
      if (name === undefined) {
        check.fail(`bucketNames.${purpose}`, undefined, 'is required', `give the name of the ${purpose} bucket of the store you import.`);
      }
      check.matches(`bucketNames.${purpose}`, name, BUCKET_NAME, 'a bucket name (3-63 lower-case letters, digits, dots and hyphens)');
      buckets[purpose] = s3.Bucket.fromBucketAttributes(this, pascalCase(purpose), { bucketName: name, encryptionKey: this.encryptionKey });
    }
    this.buckets = buckets as Record<ArtifactPurpose, s3.IBucket>;
  }
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** The construct id of CDK's stack-wide auto-delete-objects provider. */
const AUTO_DELETE_PROVIDER = 'Custom::S3AutoDeleteObjectsCustomResourceProvider';

function secureBucketBasics(): Partial<s3.BucketProps> {
  return {
    versioned: true,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  };
}

function lockRetention(lock: NonNullable<ArtifactStoreSpec['objectLock']>): s3.ObjectLockRetention {
  const duration = Duration.days(lock.retentionDays);
  return lock.mode === s3.ObjectLockMode.COMPLIANCE ? s3.ObjectLockRetention.compliance(duration) : s3.ObjectLockRetention.governance(duration);
}

function pascalCase(purpose: string): string {
  return purpose.charAt(0).toUpperCase() + purpose.slice(1);
}

/** Why a purpose bucket has no Object Lock unless `objectLock.purposes` names it. */
const UNLOCKED_REASONS: Record<ArtifactPurpose, string> = {
  [ArtifactPurpose.DATASETS]: 'Datasets must stay deletable: the data classification\'s retention and erasure requests delete them, which '
    + 'Object Lock would block; versioning keeps noncurrent versions for the profile\'s days. Lock it with objectLock.purposes.',
  [ArtifactPurpose.ARTIFACTS]: 'Run outputs (checkpoints, metrics, reports) are rebuilt by rerunning and expire by lifecycle, which Object '
    + 'Lock would block; versioning keeps noncurrent versions for the profile\'s days. Lock it with objectLock.purposes.',
  [ArtifactPurpose.MODELS]: 'Object Lock is off for the models bucket because objectLock was set without models in its purposes, or '
    + 'autoDeleteObjects is on; served versions stay write-once through the bucket policy.',
};

function acknowledgeLogBucket(bucket: s3.Bucket): void {
  acknowledgeTerminalLogBucket(bucket, {
    notLogged: 'Terminal access-log bucket: logging it to itself creates the log-of-logs loop AWS advises against, and '
      + 'logging it elsewhere only moves the problem; it is versioned, TLS-only, private and retained instead.',
    notReplicated: 'Access logs are regional operational records of the purpose buckets; they are versioned and retained '
      + 'for the profile log retention, and replicating them would double-log every request.',
  });
}

function acknowledgeNoReplication(bucket: s3.Bucket): void {
  const reason = 'Cross-region replication needs a destination bucket and key in another region, which this stack cannot create; it is '
    + "opt-in through the 'replication' prop. Versioning, retention and Object Lock protect the data in-region.";
  Validations.of(bucket.node.defaultChild as s3.CfnBucket).acknowledge(
    { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason },
    { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason },
  );
}

/**
 * CDK's auto-delete provider (a stack-wide singleton) declares a DependsOn its role that its GetAtt of the role
 * already implies, which cfn-lint reports (W3005); drop the redundant one so opted-in stacks lint clean.
 */
function tidyAutoDeleteProvider(scope: Construct): void {
  const provider = Stack.of(scope).node.tryFindChild(AUTO_DELETE_PROVIDER);
  const handler = provider?.node.tryFindChild('Handler');
  const role = provider?.node.tryFindChild('Role');
  if (handler instanceof CfnResource && role instanceof CfnResource) handler.removeResourceDependency(role);
  if (handler instanceof CfnResource) {
    Validations.of(handler).acknowledge({
      id: 'cdk-validator-cfnguard::lambda_inside_vpc_check',
      reason: "aws-cdk-lib's provider behind autoDeleteObjects (opted into where the profile allows destroying data): it runs only when "
        + 'the stack deletes a bucket, calls only the S3 API to empty it, and needs no access to anything inside the VPC.',
    });
  }
}
