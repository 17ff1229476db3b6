import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ARTIFACT_KMS_READ_ACTIONS, ARTIFACT_KMS_WRITE_ACTIONS, ARTIFACT_LIST_ACTIONS, ARTIFACT_PREFIX_PATTERN, ARTIFACT_PREFIX_TEXT, ARTIFACT_PURPOSES,
  ARTIFACT_READ_OBJECT_ACTIONS, ARTIFACT_WRITE_OBJECT_ACTIONS, ArtifactPurpose, ArtifactStoreSpec, ArtifactStoreSpecInput, artifactReplicationRule,
  Check,
  checkNotServedWritePrefix, checkPromotingEnvironments, DataClassification, MODEL_ARTIFACT_LAYOUT, PromotingEnvironment, REPLICATION_ACTIONS,
  resolveArtifactStoreSpec, servedModelsBucketPolicy, sharedServedModelsBucketStatement, sharedServedModelsKeyStatement, sharedServedObjectsArn,
} from '../core';
import {
  accountContext, AccountContext, attachStatements, childOptions, componentSpecScope, keyPolicyJson, MlopsComponentArgs, policyJson, PolicyStatement,
  notifyEventBridge, principalArnPatterns, resolveProfileAndTags, serviceRole, deferred, tlsOnlyBucketStatements,
} from './component-support';

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
   * @default - the models bucket in GOVERNANCE mode for the noncurrent-version expiry days; none with `autoDeleteObjects`
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
  /**
   * With `autoDeleteObjects`: the principals (`aws:PrincipalArn` patterns) that run `pulumi destroy`, which empties the
   * buckets with their credentials. The models bucket's policy lets nobody else delete below `served/` (as the CDK store
   * exempts only its auto-delete function), so without them the destroy fails on the first served version.
   * @default - the identity running the program (`aws.getCallerIdentity`): an IAM user, or for an assumed-role session its role
   */
  readonly emptiedBy?: pulumi.Input<string>[];
  /**
   * Cross-region replication of all three purpose buckets (destination buckets and key in another region).
   * @default - no replication
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html
   */
  readonly replication?: ArtifactStoreSpecInput['replication'];
  /**
   * Name of the only role (in the store's account) that may create objects below `served/` of the models bucket, as in
   * the CDK `ArtifactStore`: the bucket policy denies every other principal, and everyone deletes and lock changes there.
   * @default `<name>-promotion`
   */
  readonly promotionRoleName?: string;
  /**
   * Other environments that promote what this one approved (prod, for staging): their promotion role (and nobody else
   * of their account) may read the archives below `served/` of the models bucket and decrypt them through S3; nothing
   * of `candidates/`, of the other buckets, and no writes (core's `sharedServedModelsBucketStatement` and
   * `sharedServedModelsKeyStatement`, as the CDK store's `shareServedModelsWith` renders them). An argument rather than
   * a method: the bucket and key policies are created with the component. The promoting environment sets `promoteFrom`.
   * @default - shared with no other environment
   */
  readonly sharesServedModelsWith?: PromotingEnvironment[];
  /**
   * With `encryptionKey` and `sharesServedModelsWith`: confirms that the key's policy already carries
   * `sharedServedModelsKeyStatement` for each promoting environment (the `MlopsPlatform`'s key does). The store cannot
   * add to the policy of a key it did not create, so without it that combination is refused.
   * @default false
   */
  readonly encryptionKeySharesServedModels?: boolean;
}

/** What a role may do with a purpose bucket's objects. */
export type ArtifactAccess = 'read' | 'write' | 'read-write';

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
  /** Object events to EventBridge (CT.S3.PR.4): the bucket's one notification configuration. */
  readonly notification: aws.s3.BucketNotification;
}

/**
 * The Pulumi counterpart of the CDK `ArtifactStore`: one bucket each for datasets, models and artifacts plus an
 * access-log bucket, versioned, encrypted with a customer managed key (S3 Bucket Keys on), TLS 1.2+ only, private,
 * bucket-owner-enforced and logged, with the profile's noncurrent-version lifecycle. Defaults and errors come from
 * core's `resolveArtifactStoreSpec`, the same function the CDK construct calls; `replication` replicates every purpose
 * bucket to another region. `grantStatements` gives roles prefix- and key-scoped access, as the CDK grants do.
 */
export class ArtifactStore extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:ArtifactStore';

  public readonly encryptionKey: aws.kms.Key;
  public readonly accessLogBucket: aws.s3.Bucket;
  public readonly buckets: Readonly<Record<ArtifactPurpose, ArtifactBucket>>;
  /** The resolved settings (shared with the CDK construct). */
  public readonly spec: ArtifactStoreSpec;
  public readonly bucketNames: pulumi.Output<Record<ArtifactPurpose, string>>;
  /** The replication role and configurations, when `replication` is set. */
  public readonly replicationRole?: aws.iam.Role;
  private readonly check: Check;
  private readonly account: AccountContext;
  private readonly logSources: Array<{ sourceBucketArn: pulumi.Input<string>; prefix: string }> = [];
  /** Name of the only role that may write `served/` in the models bucket. */
  public readonly promotionRoleName: string;
  /** ARN of that role, in the store's account (the bucket policy names it; the role may not exist yet). */
  public readonly promotionRoleArn: pulumi.Output<string>;

  constructor(name: string, args: ArtifactStoreArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: baseTags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(ArtifactStore.TYPE, name);
    const spec = resolveArtifactStoreSpec(scope, args, profile, {
      region: aws.config.region,
      inheritedClassification: baseTags.dataClassification,
    });
    super(ArtifactStore.TYPE, name, {}, opts);
    this.spec = spec;
    this.check = new Check(scope.scope, scope.isUnresolved);
    this.account = accountContext(this);
    const sharedWith = args.sharesServedModelsWith ?? [];
    checkPromotingEnvironments(this.check, 'sharesServedModelsWith', sharedWith);
    if (sharedWith.length > 0 && args.encryptionKey !== undefined && !args.encryptionKeySharesServedModels) {
      this.check.fail('encryptionKey', '<a key passed in>', 'is a key whose policy the store cannot change, so it would not let the promoting environments decrypt',
        "leave 'encryptionKey' out (the store's own key carries the statements), or put core's sharedServedModelsKeyStatement for each promoting "
        + "environment into that key's policy and set 'encryptionKeySharesServedModels: true' (MlopsPlatform does both).");
    }
    const tags = baseTags.with({ dataClassification: spec.dataClassification }, `${ArtifactStore.TYPE}(${name})`).toAwsTags();
    const retain = spec.retainData;

    this.encryptionKey = args.encryptionKey ?? new aws.kms.Key(`${name}-key`, {
      description: `mlops-constructs artifact store key of ${name}`,
      enableKeyRotation: true,
      deletionWindowInDays: spec.keyPendingWindowDays,
      policy: keyPolicyJson(this.account, sharedServedModelsKeyStatements(this.account, sharedWith)),
      tags,
    }, childOptions(this, retain));

    // S3 server access logs can only be delivered to SSE-S3 buckets.
    this.accessLogBucket = new aws.s3.Bucket(`${name}-access-logs`, { forceDestroy: spec.autoDeleteObjects, tags }, childOptions(this, retain));
    const accessLogs = this.secureBucket(`${name}-access-logs`, this.accessLogBucket, { sseAlgorithm: 'AES256' }, false, [{
      id: 'expire-logs',
      status: 'Enabled',
      filter: {},
      expiration: { days: spec.accessLogRetentionDays },
      noncurrentVersionExpiration: { noncurrentDays: spec.accessLogNoncurrentExpirationDays },
      abortIncompleteMultipartUpload: { daysAfterInitiation: spec.abortIncompleteMultipartUploadDays },
    }, { id: 'remove-expired-delete-markers', status: 'Enabled', filter: {}, expiration: { expiredObjectDeleteMarker: true } }], retain);

    // forceDestroy empties the buckets with the credentials of whoever runs `pulumi destroy`: they alone may delete below served/.
    if (args.emptiedBy !== undefined && !spec.autoDeleteObjects) {
      this.check.fail('emptiedBy', args.emptiedBy, 'has no effect without autoDeleteObjects (served versions are never deleted)',
        "remove 'emptiedBy', or set 'autoDeleteObjects: true' where the profile allows destroying data.");
    }
    if (Array.isArray(args.emptiedBy) && args.emptiedBy.length === 0) {
      this.check.fail('emptiedBy', args.emptiedBy, 'names nobody, so `pulumi destroy` could not empty the models bucket',
        "name the principals that run 'pulumi destroy', or leave 'emptiedBy' out to use the identity running the program.");
    }
    const emptiedBy = !spec.autoDeleteObjects ? undefined
      : args.emptiedBy ?? aws.getCallerIdentityOutput({}, { parent: this }).arn.apply(principalArnPatterns);
    this.promotionRoleName = args.promotionRoleName ?? `${name}-promotion`;
    this.check.matches('promotionRoleName', this.promotionRoleName, /^[\w+=,.@-]{1,64}$/, 'an IAM role name (at most 64 letters, digits and +=,.@_-)');
    // A literal name in this account's ARN, as the CDK store renders it (the promotion role may be created later).
    this.promotionRoleArn = pulumi.interpolate`arn:${this.account.partition}:iam::${this.account.accountId}:role/${this.promotionRoleName}`;
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
      // Promoted versions are immutable: only the promotion role creates them, once; nobody deletes them (core's policy).
      const served = purpose === ArtifactPurpose.MODELS ? servedModelsBucketPolicy<pulumi.Input<string | pulumi.Input<string>[]>>({
        servedObjectsArn: pulumi.interpolate`${bucket.arn}/${MODEL_ARTIFACT_LAYOUT.servedRoot}*`,
        promotionRoleArn: this.promotionRoleArn,
        emptiesBucketArn: emptiedBy,
      }) : [];
      if (purpose === ArtifactPurpose.MODELS) {
        const statement = (promoting: PromotingEnvironment) => pulumi.all([this.account.partition, bucket.arn])
          .apply(([partition, arn]) => sharedServedModelsBucketStatement(promoting, partition, sharedServedObjectsArn(arn)));
        served.push(...sharedWith.map((promoting) => statement(promoting) as unknown as Record<string, unknown>));
      }
      const sse = { sseAlgorithm: 'aws:kms', kmsMasterKeyId: this.encryptionKey.arn };
      const secured = this.secureBucket(id, bucket, sse, true, rules, retain, served as unknown as PolicyStatement[]);
      const logging = new aws.s3.BucketLogging(`${id}-logging`, {
        bucket: bucket.id, targetBucket: this.accessLogBucket.id, targetPrefix: `s3/${purpose}/`,
      }, childOptions(this));
      const objectLock = locked ? new aws.s3.BucketObjectLockConfiguration(`${id}-object-lock`, {
        bucket: bucket.id,
        objectLockEnabled: 'Enabled',
        rule: { defaultRetention: { mode: spec.objectLock!.mode, days: spec.objectLock!.retentionDays } },
      }, childOptions(this, retain)) : undefined;
      buckets[purpose] = {
        bucket,
        versioning: secured.versioning,
        encryption: secured.encryption,
        publicAccessBlock: secured.publicAccessBlock,
        policy: secured.policy!,
        lifecycle: secured.lifecycle,
        notification: secured.notification,
        logging,
        objectLock,
      };
    }
    this.buckets = buckets as Record<ArtifactPurpose, ArtifactBucket>;
    // Who may write to the access-log bucket: S3 server access logging of each purpose bucket, and Elastic Load
    // Balancing (the region's log-delivery account) below `alb/` for the load balancers of fleets and tracking.
    const elbAccount = aws.elb.getServiceAccountOutput({}, { parent: this });
    accessLogs.setPolicy(deferred(() => [
      ...ARTIFACT_PURPOSES.map((purpose): PolicyStatement & { Principal: unknown } => ({
        Effect: 'Allow',
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Action: 's3:PutObject',
        Resource: pulumi.interpolate`${this.accessLogBucket.arn}/s3/${purpose}/*`,
        Condition: { ArnLike: { 'aws:SourceArn': this.buckets[purpose].bucket.arn }, StringEquals: { 'aws:SourceAccount': this.account.accountId } },
      })),
      {
        Effect: 'Allow',
        Principal: { AWS: elbAccount.arn },
        Action: 's3:PutObject',
        Resource: pulumi.interpolate`${this.accessLogBucket.arn}/alb/AWSLogs/${this.account.accountId}/*`,
      },
      ...this.logSources.map(({ sourceBucketArn, prefix }): PolicyStatement & { Principal: unknown } => ({
        Effect: 'Allow',
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Action: 's3:PutObject',
        Resource: pulumi.interpolate`${this.accessLogBucket.arn}/${prefix}*`,
        Condition: { ArnLike: { 'aws:SourceArn': sourceBucketArn }, StringEquals: { 'aws:SourceAccount': this.account.accountId } },
      })),
    ]));
    this.bucketNames = pulumi.all(ARTIFACT_PURPOSES.map((p) => this.buckets[p].bucket.bucket))
      .apply((names) => Object.fromEntries(ARTIFACT_PURPOSES.map((p, i) => [p, names[i]])) as Record<ArtifactPurpose, string>);

    if (spec.replication) this.replicationRole = this.replicate(name, spec.replication, tags, args.permissionsBoundary);

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

  /**
   * Statements giving a role access to one purpose's objects below `prefix` (the whole bucket without one): object
   * actions on the prefix, listing limited to it, and the key only through S3 in this region for this bucket, as the
   * CDK `grantRead` / `grantWrite` / `grantReadWrite` render them.
   */
  public grantStatements(access: ArtifactAccess, purpose: ArtifactPurpose, prefix?: string): PolicyStatement[] {
    if (!ARTIFACT_PURPOSES.includes(purpose)) {
      this.check.fail('purpose', purpose, `is not one of ${ARTIFACT_PURPOSES.join(', ')}`, 'pass an ArtifactPurpose, e.g. ArtifactPurpose.MODELS.');
    }
    const keyPrefix = this.check.matches('prefix', prefix, ARTIFACT_PREFIX_PATTERN, ARTIFACT_PREFIX_TEXT) ?? '';
    if (access !== 'read') checkNotServedWritePrefix(this.check, purpose, keyPrefix);
    const bucketArn = this.bucket(purpose).arn;
    const objects = pulumi.interpolate`${bucketArn}/${keyPrefix}*`;
    const key = (actions: readonly string[]): PolicyStatement => ({
      Effect: 'Allow',
      Action: [...actions],
      Resource: this.encryptionKey.arn,
      Condition: {
        StringEquals: { 'kms:ViaService': pulumi.interpolate`s3.${this.account.region}.amazonaws.com` },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': [bucketArn, pulumi.interpolate`${bucketArn}/*`] },
      },
    });
    const statements: PolicyStatement[] = [];
    if (access !== 'write') {
      statements.push(
        { Effect: 'Allow', Action: [...ARTIFACT_READ_OBJECT_ACTIONS], Resource: objects },
        {
          Effect: 'Allow',
          Action: [...ARTIFACT_LIST_ACTIONS],
          Resource: bucketArn,
          Condition: keyPrefix === '' ? undefined : { StringLike: { 's3:prefix': [`${keyPrefix}*`] } },
        },
        key(ARTIFACT_KMS_READ_ACTIONS),
      );
    }
    if (access !== 'read') statements.push({ Effect: 'Allow', Action: [...ARTIFACT_WRITE_OBJECT_ACTIONS], Resource: objects }, key(ARTIFACT_KMS_WRITE_ACTIONS));
    return statements;
  }

  /**
   * Lets S3 deliver another bucket's server access logs to the store's access-log bucket below `prefix` (for example
   * the audit trail bucket's, below `s3/cloudtrail/`).
   */
  public allowServerAccessLogsFrom(sourceBucketArn: pulumi.Input<string>, prefix: string): void {
    this.check.matches('prefix', prefix, ARTIFACT_PREFIX_PATTERN, ARTIFACT_PREFIX_TEXT);
    this.logSources.push({ sourceBucketArn, prefix });
  }

  private replicate(
    name: string, replication: NonNullable<ArtifactStoreSpec['replication']>, tags: Record<string, string>, permissionsBoundary?: pulumi.Input<string>,
  ): aws.iam.Role {
    const role = serviceRole(`${name}-replication-role`, {
      service: 's3.amazonaws.com',
      description: `S3 cross-region replication of ${name} to ${replication.destinationRegion}`,
      tags,
      permissionsBoundary,
    }, this);
    const statements: PolicyStatement[] = [];
    for (const purpose of ARTIFACT_PURPOSES) {
      const source = this.buckets[purpose];
      const destinationArn = replication.destinationBucketArns[purpose];
      statements.push(
        { Effect: 'Allow', Action: [...REPLICATION_ACTIONS.sourceBucket], Resource: source.bucket.arn },
        { Effect: 'Allow', Action: [...REPLICATION_ACTIONS.sourceObjects], Resource: pulumi.interpolate`${source.bucket.arn}/*` },
        { Effect: 'Allow', Action: [...REPLICATION_ACTIONS.destinationObjects], Resource: `${destinationArn}/*` },
      );
      new aws.s3.BucketReplicationConfig(`${name}-${purpose}-replication`, {
        bucket: source.bucket.id,
        role: role.arn,
        rules: [artifactReplicationRule(purpose, replication)],
      }, { parent: this, dependsOn: [source.versioning] });
    }
    // Decrypt sources and encrypt replicas only through S3, each in its own region.
    statements.push(
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: this.encryptionKey.arn,
        Condition: { StringEquals: { 'kms:ViaService': pulumi.interpolate`s3.${this.account.region}.amazonaws.com` } },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Encrypt'],
        Resource: replication.destinationKeyArn,
        Condition: { StringEquals: { 'kms:ViaService': `s3.${replication.destinationRegion}.amazonaws.com` } },
      },
    );
    attachStatements(`${name}-replication-policy`, role, statements, this, `Replication of ${name}`, tags);
    return role;
  }

  private secureBucket(
    id: string, bucket: aws.s3.Bucket,
    encryption: aws.types.input.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefault, bucketKey: boolean,
    rules: aws.types.input.s3.BucketLifecycleConfigurationRule[], retain: boolean, allows?: pulumi.Input<readonly PolicyStatement[]>,
  ): Omit<ArtifactBucket, 'bucket' | 'logging' | 'objectLock' | 'policy'> & {
    policy?: aws.s3.BucketPolicy; setPolicy(allows: pulumi.Input<readonly PolicyStatement[]>): void;
  } {
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
    // TLS-only, TLS 1.2+, plus the allow statements of the bucket's writers.
    const newPolicy = (statements: pulumi.Input<readonly PolicyStatement[]>) => new aws.s3.BucketPolicy(`${id}-policy`, {
      bucket: bucket.id,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          ...tlsOnlyBucketStatements(bucket.arn),
        ],
      }).apply((json) => pulumi.output(statements).apply((extra) => {
        const document = JSON.parse(json);
        return JSON.stringify({ ...document, Statement: [...document.Statement, ...extra] });
      })),
    }, { parent: this, dependsOn: [publicAccessBlock] });
    const policy = allows ? newPolicy(allows) : undefined;
    const lifecycle = new aws.s3.BucketLifecycleConfiguration(`${id}-lifecycle`, { bucket: bucket.id, rules }, { parent: this, dependsOn: [versioning] });
    const notification = notifyEventBridge(id, bucket, this);
    return { versioning, encryption: sse, publicAccessBlock, policy, lifecycle, notification, setPolicy: (statements) => void newPolicy(statements) };
  }
}

/**
 * The key-policy statements letting each promoting environment's promotion role decrypt through S3 in this region
 * (core's `sharedServedModelsKeyStatement`): for the store's own key, or a key passed to it (`MlopsPlatform`'s).
 */
export function sharedServedModelsKeyStatements(
  account: AccountContext, promoting: readonly PromotingEnvironment[],
): pulumi.Output<Record<string, unknown>>[] {
  return promoting.map((p) => pulumi.all([account.partition, account.region])
    .apply(([partition, region]) => sharedServedModelsKeyStatement(p, partition, region)));
}
