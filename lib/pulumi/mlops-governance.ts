import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ARTIFACT_PURPOSES, ArtifactPurpose, AUDITOR_MANAGED_POLICY, auditorTrailStatements, BOUNDARY_ALLOWED_ACTIONS, boundaryStatements, Check,
  DENIED_OBJECT_READ_ACTIONS, DENIED_REGISTRY_ACTIONS, GovernanceSpec, MODEL_ARTIFACT_LAYOUT, operatorStatements, PERSONA_MFA_CONDITION,
  PERSONAS, physicalName, resolveGovernanceSpec, validatePersonaResources,
} from '../core';
import { ArtifactStore } from './artifact-store';
import {
  accountContext, AccountContext, attachStatements, KeyPolicyStatement, childOptions, componentSpecScope, deferred, logsKeyStatement,
  MlopsComponentArgs, policyJson,
  notifyEventBridge, PolicyStatement, resolveProfileAndTags, rotatingKey, statementsJson, tlsOnlyBucketStatements,
} from './component-support';
import { IImageRepository } from './image-repository';
import { ModelRegistry } from './model-registry';

/** Who may assume each persona role; any persona left out uses `trustedPrincipalArn`. */
export interface PersonaPrincipalArns {
  readonly dataScientist?: pulumi.Input<string>;
  readonly mlEngineer?: pulumi.Input<string>;
  readonly platformOperator?: pulumi.Input<string>;
  readonly auditor?: pulumi.Input<string>;
}

export interface MlopsGovernanceArgs extends MlopsComponentArgs {
  /**
   * ARN of the principal allowed to assume every persona role (for example an SSO permission set's role). No MFA
   * condition is added to a principal you give.
   * @default - the account's root principal (its IAM principals allowed `sts:AssumeRole`), only with MFA
   */
  readonly trustedPrincipalArn?: pulumi.Input<string>;
  /** @default - `trustedPrincipalArn` for every persona */
  readonly personaPrincipalArns?: PersonaPrincipalArns;
  /** Longest persona session, 1-12 hours. @default 1 */
  readonly maxSessionHours?: number;
  /**
   * ARN of the key of the trail, its bucket and its log group; it must allow CloudTrail and CloudWatch Logs
   * (`MlopsGovernance.keyPolicyStatements` gives the statements).
   * @default - a new key with rotation that allows them, retained outside dev
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
  /**
   * Artifact store whose datasets and models buckets get S3 data events in the trail and whose buckets the boundary
   * protects; the trail bucket's access logs go to its access-log bucket (prefix `s3/cloudtrail/`).
   * @default - none: add with `addS3DataEvents`; the trail bucket's access logs then go to a new access-log bucket
   */
  readonly artifactStore?: ArtifactStore;
  /** Days trail log files are kept. @default - the profile's log retention in dev, 2557 (7 years) elsewhere */
  readonly trailRetentionDays?: number;
  /** Days the trail's CloudWatch Logs copy is kept. @default - the profile's `logRetentionDays` */
  readonly logRetentionDays?: number;
  /** Regions platform roles may act in. @default - the provider's region */
  readonly allowedRegions?: string[];
  /** @default - `<project>-<stack>-<name>-audit` */
  readonly trailName?: string;
  /** Database user the ML engineer connects to the registry as. @default 'ml_engineer' */
  readonly mlEngineerDatabaseUser?: string;
}

/** What `grantPersonas` gives the personas access to. */
export interface PersonaResources {
  readonly artifactStore?: ArtifactStore;
  readonly modelRegistry?: ModelRegistry;
  readonly trainingImages?: IImageRepository;
  readonly servingImages?: IImageRepository;
}

type PersonaKey = typeof PERSONAS[number]['key'];

/** Key prefix of the trail bucket's server access logs in their bucket. */
const TRAIL_ACCESS_LOG_PREFIX = 's3/cloudtrail/';

/**
 * The Pulumi counterpart of the CDK `MlopsGovernance`: four persona roles (data scientist, ML engineer, platform
 * operator, auditor) with least-privilege grants, a permission boundary (the same statements as the CDK one, from core)
 * that `MlopsPlatform` puts on every role it creates, and a multi-region, KMS-encrypted, validated CloudTrail trail
 * delivering to an encrypted, retained bucket and to CloudWatch Logs, with S3 data events on the datasets and models
 * buckets.
 */
export class MlopsGovernance extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:MlopsGovernance';

  /** The key-policy statements a key given as `encryptionKeyArn` needs: CloudTrail of `trailArn` and CloudWatch Logs. */
  public static keyPolicyStatements(trailArn: pulumi.Input<string>, account: AccountContext): KeyPolicyStatement[] {
    const cloudTrail = { Service: 'cloudtrail.amazonaws.com' };
    return [
      {
        Sid: 'AllowCloudTrailToEncryptLogs',
        Effect: 'Allow',
        Principal: cloudTrail,
        Action: 'kms:GenerateDataKey*',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceArn': trailArn },
          StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': pulumi.interpolate`arn:${account.partition}:cloudtrail:*:${account.accountId}:trail/*` },
        },
      },
      { Sid: 'AllowCloudTrailToDescribeKey', Effect: 'Allow', Principal: cloudTrail, Action: 'kms:DescribeKey', Resource: '*', Condition: { StringEquals: { 'aws:SourceArn': trailArn } } },
      logsKeyStatement(account),
    ];
  }

  public readonly spec: GovernanceSpec;
  public readonly dataScientist: aws.iam.Role;
  public readonly mlEngineer: aws.iam.Role;
  public readonly platformOperator: aws.iam.Role;
  public readonly auditor: aws.iam.Role;
  /** The permission boundary of every platform role (pass `permissionBoundary.arn` as `permissionsBoundary`). */
  public readonly permissionBoundary: aws.iam.Policy;
  public readonly trail: aws.cloudtrail.Trail;
  public readonly trailArn: pulumi.Output<string>;
  public readonly trailBucket: aws.s3.Bucket;
  /** Where the trail bucket's server access logs go: the artifact store's access-log bucket, or one of its own. */
  public readonly accessLogBucket: aws.s3.Bucket;
  public readonly trailLogGroup: aws.cloudwatch.LogGroup;
  public readonly encryptionKeyArn: pulumi.Output<string>;
  private readonly dataEventBucketArns: Array<pulumi.Output<string>> = [];
  private readonly roles: Record<PersonaKey, aws.iam.Role>;
  private readonly tags: Record<string, string>;
  private readonly resourceName: string;
  private readonly check: Check;
  private readonly account: AccountContext;
  private grants = 0;

  constructor(name: string, args: MlopsGovernanceArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(MlopsGovernance.TYPE, name);
    const region = aws.config.region;
    const spec = resolveGovernanceSpec(scope, {
      ...args,
      allowedRegions: args.allowedRegions ?? (region ? [region] : ['us-east-1']),
      trailName: args.trailName ?? physicalName([pulumi.getProject(), pulumi.getStack(), name, 'audit'], { maxLength: 128 }),
    }, profile);
    super(MlopsGovernance.TYPE, name, {}, opts);
    this.spec = spec;
    this.resourceName = name;
    this.check = new Check(scope.scope, scope.isUnresolved);
    const tags = this.tags = mlopsTags.toAwsTags();
    const account = this.account = accountContext(this);
    this.trailArn = pulumi.interpolate`arn:${account.partition}:cloudtrail:${account.region}:${account.accountId}:trail/${spec.trailName}`;
    this.encryptionKeyArn = pulumi.output(args.encryptionKeyArn ?? rotatingKey(`${name}-key`, `Audit trail of ${name}`, {
      retain: spec.retainData,
      pendingWindowDays: spec.keyPendingWindowDays,
      tags,
      statements: MlopsGovernance.keyPolicyStatements(this.trailArn, account),
    }, this).arn);

    // Trail bucket: encrypted, versioned, private, TLS-only, logged, retained outside dev; CloudTrail may write to it.
    this.trailBucket = new aws.s3.Bucket(`${name}-trail-bucket`, { forceDestroy: false, tags }, childOptions(this, spec.retainData));
    const bucket = this.trailBucket;
    const versioning = new aws.s3.BucketVersioning(`${name}-trail-bucket-versioning`, {
      bucket: bucket.id, versioningConfiguration: { status: 'Enabled' },
    }, childOptions(this, spec.retainData));
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-trail-bucket-encryption`, {
      bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: this.encryptionKeyArn }, bucketKeyEnabled: true }],
    }, childOptions(this, spec.retainData));
    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(`${name}-trail-bucket-public-access-block`, {
      bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    }, childOptions(this, spec.retainData));
    new aws.s3.BucketOwnershipControls(`${name}-trail-bucket-ownership`, { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } }, childOptions(this));
    notifyEventBridge(`${name}-trail-bucket`, bucket, this);
    new aws.s3.BucketLifecycleConfiguration(`${name}-trail-bucket-lifecycle`, {
      bucket: bucket.id,
      rules: [{
        id: 'trail-retention',
        status: 'Enabled',
        filter: {},
        expiration: { days: spec.trailRetentionDays },
        noncurrentVersionExpiration: { noncurrentDays: 30 },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      }, { id: 'remove-expired-delete-markers', status: 'Enabled', filter: {}, expiration: { expiredObjectDeleteMarker: true } }],
    }, { parent: this, dependsOn: [versioning] });
    // The trail bucket's server access logs go to the store's access-log bucket, or (as on the CDK side) to a bucket of
    // their own.
    if (args.artifactStore) args.artifactStore.allowServerAccessLogsFrom(bucket.arn, TRAIL_ACCESS_LOG_PREFIX);
    this.accessLogBucket = args.artifactStore?.accessLogBucket ?? this.newAccessLogBucket(name, profile.logRetentionDays, spec.retainData);
    new aws.s3.BucketLogging(`${name}-trail-bucket-logging`, {
      bucket: bucket.id, targetBucket: this.accessLogBucket.id, targetPrefix: TRAIL_ACCESS_LOG_PREFIX,
    }, childOptions(this));
    const bucketPolicy = new aws.s3.BucketPolicy(`${name}-trail-bucket-policy`, {
      bucket: bucket.id,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          ...tlsOnlyBucketStatements(bucket.arn),
          {
            Sid: 'AllowCloudTrailAclCheck',
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 's3:GetBucketAcl',
            Resource: bucket.arn,
            Condition: { StringEquals: { 'aws:SourceArn': this.trailArn } },
          },
          {
            Sid: 'AllowCloudTrailWrite',
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: pulumi.interpolate`${bucket.arn}/AWSLogs/${account.accountId}/*`,
            Condition: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': this.trailArn } },
          },
          {
            // Nobody deletes trail log files (the lifecycle rule expires them), as on the CDK side.
            Sid: 'DenyDeletingTrailLogs',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
            Resource: pulumi.interpolate`${bucket.arn}/*`,
          },
        ],
      }),
    }, { parent: this, dependsOn: [publicAccessBlock] });

    // Permission boundary, a cap (the same statements as the CDK PermissionBoundary, from core): only the services
    // the platform uses, no privilege escalation; roles of this environment are passable by name prefix or by tags.
    const boundaryName = physicalName([pulumi.getProject(), pulumi.getStack(), name, 'boundary'], { maxLength: 128, lowerCase: false });
    this.permissionBoundary = new aws.iam.Policy(`${name}-boundary`, {
      name: boundaryName,
      description: `Permission boundary (a cap) of every role of the MLOps platform (${profile.name})`,
      policy: pulumi.all([account.partition, account.accountId]).apply(([partition, accountId]) => statementsJson(boundaryStatements({
        partition,
        account: accountId,
        allowedActions: BOUNDARY_ALLOWED_ACTIONS,
        allowedRegions: spec.allowedRegions,
        roleNamePrefix: name,
        environment: mlopsTags.environment,
        project: mlopsTags.project,
      }) as PolicyStatement[])),
      tags,
    }, childOptions(this));

    this.trailLogGroup = new aws.cloudwatch.LogGroup(`${name}-trail-logs`, {
      kmsKeyId: this.encryptionKeyArn, retentionInDays: spec.logRetentionDays, tags,
    }, childOptions(this, spec.retainData));
    const deliveryRole = new aws.iam.Role(`${name}-trail-delivery-role`, {
      description: `CloudTrail delivery of ${spec.trailName} to CloudWatch Logs`,
      assumeRolePolicy: policyJson({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'cloudtrail.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
      permissionsBoundary: this.permissionBoundary.arn,
      tags,
    }, childOptions(this));
    const deliveryPolicy = attachStatements(`${name}-trail-delivery-policy`, deliveryRole, [{
      Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: pulumi.interpolate`${this.trailLogGroup.arn}:*`,
    }], this, `CloudTrail delivery of ${spec.trailName}`, tags)!;

    if (args.artifactStore) this.addS3DataEvents(args.artifactStore);
    this.trail = new aws.cloudtrail.Trail(`${name}-trail`, {
      name: spec.trailName,
      enableLogging: true,
      isMultiRegionTrail: spec.trail.isMultiRegionTrail,
      includeGlobalServiceEvents: spec.trail.includeGlobalServiceEvents,
      enableLogFileValidation: spec.trail.enableLogFileValidation,
      kmsKeyId: this.encryptionKeyArn,
      s3BucketName: bucket.bucket,
      cloudWatchLogsGroupArn: pulumi.interpolate`${this.trailLogGroup.arn}:*`,
      cloudWatchLogsRoleArn: deliveryRole.arn,
      eventSelectors: deferred(() => pulumi.output(this.dataEventBucketArns).apply((arns) => [{
        readWriteType: 'All',
        includeManagementEvents: true,
        dataResources: arns.length === 0 ? undefined : [{ type: 'AWS::S3::Object', values: arns.map((arn) => `${arn}/`) }],
      }])),
      tags,
    }, { parent: this, dependsOn: [bucketPolicy, deliveryPolicy] });

    // Persona roles, bounded like every platform role.
    const personas = args.personaPrincipalArns ?? {};
    const trust = (key: PersonaKey) => {
      const given = personas[key] ?? args.trustedPrincipalArn;
      return policyJson({
        Version: '2012-10-17',
        Statement: [given === undefined
          ? {
            Effect: 'Allow',
            Principal: { AWS: pulumi.interpolate`arn:${account.partition}:iam::${account.accountId}:root` },
            Action: 'sts:AssumeRole',
            Condition: PERSONA_MFA_CONDITION,
          }
          : { Effect: 'Allow', Principal: { AWS: given }, Action: 'sts:AssumeRole' }],
      });
    };
    const roles = {} as Record<PersonaKey, aws.iam.Role>;
    for (const persona of PERSONAS) {
      roles[persona.key] = new aws.iam.Role(`${name}-${persona.id}`, {
        description: persona.description,
        assumeRolePolicy: trust(persona.key),
        maxSessionDuration: spec.maxSessionHours * 3600,
        permissionsBoundary: this.permissionBoundary.arn,
        managedPolicyArns: persona.key === 'auditor' ? [pulumi.interpolate`arn:${account.partition}:iam::aws:policy/${AUDITOR_MANAGED_POLICY}`] : undefined,
        tags,
      }, childOptions(this));
    }
    this.roles = roles;
    this.dataScientist = roles.dataScientist;
    this.mlEngineer = roles.mlEngineer;
    this.platformOperator = roles.platformOperator;
    this.auditor = roles.auditor;
    attachStatements(`${name}-PlatformOperator-policy`, this.platformOperator, operatorStatements(profile.name) as PolicyStatement[], this,
      `Permissions of the platform operator persona of ${name}`, tags);
    attachStatements(`${name}-Auditor-policy`, this.auditor, this.auditorStatements(bucket), this, `Permissions of the auditor persona of ${name}`, tags);

    this.registerOutputs({ trailArn: this.trailArn, permissionBoundaryArn: this.permissionBoundary.arn });
  }

  /** Logs S3 data events of the store's datasets and models buckets to the trail and protects the store's buckets. */
  public addS3DataEvents(store: ArtifactStore): void {
    for (const purpose of [ArtifactPurpose.DATASETS, ArtifactPurpose.MODELS]) {
      const arn = store.bucket(purpose).arn;
      if (!this.dataEventBucketArns.includes(arn)) this.dataEventBucketArns.push(arn);
    }
  }

  /**
   * The trail bucket's own access-log bucket when no artifact store is given, as the CDK governance creates it: SSE-S3
   * (S3 delivers server access logs only to such buckets), versioned, private, TLS-only, object events to EventBridge,
   * logs expiring after the profile's log retention, retained outside dev. S3 may write only the trail bucket's logs.
   * It is the terminal log bucket: logging it to itself would log its own logs.
   */
  private newAccessLogBucket(name: string, retentionDays: number, retain: boolean): aws.s3.Bucket {
    const id = `${name}-trail-access-logs`;
    const logs = new aws.s3.Bucket(id, { forceDestroy: false, tags: this.tags }, childOptions(this, retain));
    const versioning = new aws.s3.BucketVersioning(`${id}-versioning`, {
      bucket: logs.id, versioningConfiguration: { status: 'Enabled' },
    }, childOptions(this, retain));
    new aws.s3.BucketServerSideEncryptionConfiguration(`${id}-encryption`, {
      bucket: logs.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    }, childOptions(this, retain));
    const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(`${id}-public-access-block`, {
      bucket: logs.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    }, childOptions(this, retain));
    new aws.s3.BucketOwnershipControls(`${id}-ownership`, { bucket: logs.id, rule: { objectOwnership: 'BucketOwnerEnforced' } }, childOptions(this));
    notifyEventBridge(id, logs, this);
    new aws.s3.BucketLifecycleConfiguration(`${id}-lifecycle`, {
      bucket: logs.id,
      rules: [{
        id: 'expire-logs',
        status: 'Enabled',
        filter: {},
        expiration: { days: retentionDays },
        noncurrentVersionExpiration: { noncurrentDays: 30 },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      }, { id: 'remove-expired-delete-markers', status: 'Enabled', filter: {}, expiration: { expiredObjectDeleteMarker: true } }],
    }, { parent: this, dependsOn: [versioning] });
    new aws.s3.BucketPolicy(`${id}-policy`, {
      bucket: logs.id,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          ...tlsOnlyBucketStatements(logs.arn),
          {
            Sid: 'AllowTrailBucketAccessLogs',
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: pulumi.interpolate`${logs.arn}/${TRAIL_ACCESS_LOG_PREFIX}*`,
            Condition: { ArnLike: { 'aws:SourceArn': this.trailBucket.arn }, StringEquals: { 'aws:SourceAccount': this.account.accountId } },
          },
        ],
      }),
    }, { parent: this, dependsOn: [publicAccessBlock] });
    return logs;
  }

  /**
   * Least-privilege access for the personas, as the CDK `grantPersonas`: the data scientist reads datasets and writes
   * artifacts below `experiments/` and pulls images; the ML engineer reads datasets, writes models, pushes images and
   * connects to the registry as `mlEngineerDatabaseUser`; the operator and the auditor are denied object reads, the
   * registry's secret and database connections.
   */
  public grantPersonas(resources: PersonaResources): void {
    validatePersonaResources(this.check, resources);
    const statements: Record<PersonaKey, PolicyStatement[]> = { dataScientist: [], mlEngineer: [], platformOperator: [], auditor: [] };
    const denies: PolicyStatement[] = [];
    const store = resources.artifactStore;
    if (store) {
      statements.dataScientist.push(...store.grantStatements('read', ArtifactPurpose.DATASETS), ...store.grantStatements('read-write', ArtifactPurpose.ARTIFACTS, 'experiments/'));
      // Models: read all, write candidates only (never what production serves), as on the CDK side.
      statements.mlEngineer.push(...store.grantStatements('read', ArtifactPurpose.DATASETS), ...store.grantStatements('read', ArtifactPurpose.MODELS),
        ...store.grantStatements('write', ArtifactPurpose.MODELS, MODEL_ARTIFACT_LAYOUT.candidatesRoot));
      denies.push({
        Sid: 'DenyArtifactObjectReads',
        Effect: 'Deny',
        Action: [...DENIED_OBJECT_READ_ACTIONS],
        Resource: ARTIFACT_PURPOSES.flatMap((p) => [store.bucket(p).arn, pulumi.interpolate`${store.bucket(p).arn}/*`]),
      });
    }
    for (const images of [resources.trainingImages, resources.servingImages]) {
      if (!images) continue;
      statements.dataScientist.push(...images.pullStatements());
      statements.mlEngineer.push(...images.pullPushStatements());
    }
    const registry = resources.modelRegistry;
    if (registry) {
      statements.mlEngineer.push(registry.connectStatement(this.spec.mlEngineerDatabaseUser) as unknown as PolicyStatement);
      denies.push({
        Sid: 'DenyRegistryData',
        Effect: 'Deny',
        Action: [...DENIED_REGISTRY_ACTIONS],
        Resource: [registry.cluster.masterUserSecrets.apply((s) => s?.[0]?.secretArn ?? ''), pulumi.interpolate`arn:${this.account.partition}:rds-db:*:*:dbuser:*/*`],
      });
    }
    statements.platformOperator.push(...denies);
    statements.auditor.push(...denies);
    this.grants++;
    for (const persona of PERSONAS) {
      attachStatements(`${this.resourceName}-${persona.id}-grants-${this.grants}`, this.roles[persona.key], statements[persona.key], this,
        `Grants to the ${persona.key} persona of ${this.resourceName}`, this.tags);
    }
  }

  private auditorStatements(bucket: aws.s3.Bucket): pulumi.Output<PolicyStatement[]> {
    return pulumi.all([bucket.arn, this.trailLogGroup.arn]).apply(([bucketArn, logGroupArn]): PolicyStatement[] => [
      ...auditorTrailStatements(bucketArn, `${logGroupArn}:*`) as PolicyStatement[],
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: this.encryptionKeyArn,
        Condition: {
          StringEquals: { 'kms:ViaService': pulumi.interpolate`s3.${this.account.region}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [bucketArn, `${bucketArn}/*`] },
        },
      },
    ]);
  }

}
