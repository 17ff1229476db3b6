import { Aws, Duration, Lazy, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import {
  AUDITOR_MANAGED_POLICY, auditorTrailStatements, DENIED_OBJECT_READ_ACTIONS, DENIED_REGISTRY_ACTIONS, EnvironmentProfile,
  MODEL_ARTIFACT_LAYOUT, NeutralStatement, operatorStatements, PERSONA_MFA_CONDITION, PERSONAS, PolicyStatementJson, resolveGovernanceSpec,
  validatePersonaResources,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { IImageRepository } from './image-repository';
import { IModelRegistry } from './model-registry';
import { PermissionBoundary } from './permission-boundary';
import { acknowledgeNoObjectLock, acknowledgeTerminalLogBucket, notifyEventBridge } from './private/buckets';
import { relyOnFeatureFlags } from './private/feature-flags';
import { newRotatingKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyPrincipal } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { renderNeutralStatement } from './private/statements';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

/** Who may assume each persona role; any persona left out uses `trustedPrincipal`. */
export interface PersonaPrincipals {
  /** @default - `trustedPrincipal` */
  readonly dataScientist?: iam.IPrincipal;
  /** @default - `trustedPrincipal` */
  readonly mlEngineer?: iam.IPrincipal;
  /** @default - `trustedPrincipal` */
  readonly platformOperator?: iam.IPrincipal;
  /** @default - `trustedPrincipal` */
  readonly auditor?: iam.IPrincipal;
}

export interface MlopsGovernanceProps {
  /**
   * Principal allowed to assume every persona role (for example an SSO permission set's role or an
   * identity account). No MFA condition is added to a principal you give: add it yourself, or rely on
   * the identity provider's MFA (IAM Identity Center).
   * @default - the account's root principal (IAM users and roles of this account with an identity policy
   * allowing `sts:AssumeRole`), only with MFA
   */
  readonly trustedPrincipal?: iam.IPrincipal;
  /**
   * Principals per persona, for SSO-friendly trust (one permission set per persona).
   * @default - `trustedPrincipal` for every persona
   */
  readonly personaPrincipals?: PersonaPrincipals;
  /**
   * Longest session of a persona role, 1-12 hours.
   * @default Duration.hours(1)
   */
  readonly maxSessionDuration?: Duration;
  /**
   * Customer managed key for the trail, its bucket and its log group (for example the environment's
   * `PlatformKey.key`, which allows CloudWatch Logs). A key imported from elsewhere must already allow
   * CloudTrail (`kms:GenerateDataKey*`, `kms:DescribeKey`) and CloudWatch Logs to use it.
   * @default - a new key with rotation on, retained outside dev
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Artifact store whose datasets and models buckets get S3 data events in the trail. The same as calling
   * `addS3DataEvents(artifactStore)`.
   * @default - no data events; add them with `addS3DataEvents`
   */
  readonly artifactStore?: IArtifactStore;
  /**
   * Bucket the trail bucket's S3 server access logs go to (prefix `s3/cloudtrail/`).
   * @default - the `artifactStore`'s access-log bucket, else a new private SSE-S3 access-log bucket
   */
  readonly accessLogBucket?: s3.IBucket;
  /**
   * Days the trail's log files are kept in the bucket.
   * @default - the profile's `logRetentionDays` where the profile allows destroying data (dev), otherwise 2557 (7 years)
   */
  readonly trailRetentionDays?: number;
  /**
   * Days the trail's CloudWatch Logs copy is kept (one of CloudWatch's accepted values).
   * @default - the profile's `logRetentionDays`
   */
  readonly logRetentionDays?: number;
  /**
   * The permission boundary of the personas and of every role `applyBoundaryTo` bounds. `MlopsPlatform` creates it
   * in the data stack, so the data stack's roles are bounded by the same cap.
   * @default - a new `PermissionBoundary` with `allowedRegions`
   */
  readonly permissionBoundary?: PermissionBoundary;
  /**
   * Regions platform roles may act in when the governance creates its own boundary; requests to other regions are
   * denied by it (global services such as IAM, STS, CloudFront, Route 53, Organizations, Budgets and Cost Explorer
   * excepted). Ignored when `permissionBoundary` is given (set it there).
   * @default - the stack's region
   */
  readonly allowedRegions?: string[];
  /**
   * Name of the trail (3-128 letters, digits, `.`, `_`, `-`, starting with a letter or digit).
   * @default - a name unique to this construct's path
   */
  readonly trailName?: string;
  /**
   * Database user the ML engineer persona connects to the model registry as (IAM database authentication).
   * @default 'ml_engineer'
   */
  readonly mlEngineerDatabaseUser?: string;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/** What `grantPersonas` gives the personas access to; each piece is optional. */
export interface PersonaResources {
  /**
   * Data scientists read datasets and read/write artifacts below `experiments/`; ML engineers read datasets and
   * read/write models. Operators and auditors get an explicit deny on object reads.
   * @default - no bucket access
   */
  readonly artifactStore?: IArtifactStore;
  /**
   * ML engineers connect as `mlEngineerDatabaseUser`; operators and auditors are denied its secret.
   * @default - no registry access
   */
  readonly modelRegistry?: IModelRegistry;
  /**
   * Data scientists pull, ML engineers push and pull.
   * @default - no image access
   */
  readonly trainingImages?: IImageRepository;
  /**
   * Data scientists pull, ML engineers push and pull.
   * @default - no image access
   */
  readonly servingImages?: IImageRepository;
}

/**
 * Governance of an MLOps environment: four persona roles (data scientist, ML engineer, platform operator, auditor)
 * with least-privilege access through the platform constructs' grant methods, a permission boundary that caps
 * every role the platform creates, and an organization-grade CloudTrail trail (multi-region, KMS-encrypted,
 * file validation, CloudWatch Logs delivery) with S3 data events on the datasets and models buckets.
 *
 * The boundary (`PermissionBoundary`) is a cap: it allows only the services and verbs the platform uses and denies
 * privilege escalation (see its documentation). It grants nothing by itself: a role can do only what its own
 * policies allow and the boundary allows. Apply it to more of the platform with `applyBoundaryTo(scope)`.
 * Trail log files cannot be deleted by anyone (a bucket-policy deny); the lifecycle rule expires them.
 *
 * @example
 * const governance = new MlopsGovernance(stack, 'Governance', { encryptionKey: platformKey.key, artifactStore });
 * governance.grantPersonas({ artifactStore, modelRegistry, trainingImages, servingImages });
 * governance.applyBoundaryTo(stack);
 */
export class MlopsGovernance extends Construct {
  public readonly dataScientist: iam.Role;
  public readonly mlEngineer: iam.Role;
  public readonly platformOperator: iam.Role;
  public readonly auditor: iam.Role;
  /** The permission boundary (a cap) of every platform role (`applyBoundaryTo`). */
  public readonly boundary: PermissionBoundary;
  /** The boundary's managed policy. */
  public readonly permissionBoundary: iam.ManagedPolicy;
  public readonly trail: cloudtrail.CfnTrail;
  /** ARN of the trail. */
  public readonly trailArn: string;
  public readonly trailBucket: s3.Bucket;
  public readonly trailLogGroup: logs.LogGroup;
  public readonly encryptionKey: kms.IKey;
  public readonly profile: EnvironmentProfile;

  private readonly policies = new Map<iam.Role, iam.ManagedPolicy>();
  private readonly personaIds = new Map<iam.Role, string>();
  private readonly dataEventBuckets: s3.IBucket[] = [];
  private readonly mlEngineerDatabaseUser: string;

  constructor(scope: Construct, id: string, props: MlopsGovernanceProps = {}) {
    super(scope, id);
    relyOnFeatureFlags(this, 'serverAccessLogsUseBucketPolicy');
    this.profile = props.profile ?? MlopsScope.profileOf(this);
    const stack = Stack.of(this);
    const removalPolicy = statefulRemovalPolicy(this.profile);

    // Validate everything before creating resources (shared with the Pulumi MlopsGovernance).
    const maxSessionHours = props.maxSessionDuration === undefined || Token.isUnresolved(props.maxSessionDuration.toSeconds())
      ? undefined : props.maxSessionDuration.toSeconds() / 3600;
    const spec = resolveGovernanceSpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, {
      ...props,
      maxSessionHours,
      allowedRegions: props.allowedRegions ?? [stack.region],
      trailName: props.trailName ?? `${Names.uniqueResourceName(this, { maxLength: 100, separator: '-' })}-audit`,
    }, this.profile);
    const { trailRetentionDays, logRetentionDays, allowedRegions, trailName } = spec;
    this.mlEngineerDatabaseUser = spec.mlEngineerDatabaseUser;

    // The cap every role of the platform carries; checked (and created) before any resource of this construct.
    this.boundary = props.permissionBoundary ?? new PermissionBoundary(this, 'PermissionBoundary', { allowedRegions: [...allowedRegions] });
    this.permissionBoundary = this.boundary.policy;

    const { partition, account, region } = stack;
    this.trailArn = `arn:${partition}:cloudtrail:${region}:${account}:trail/${trailName}`;
    this.encryptionKey = props.encryptionKey ?? this.newKey(removalPolicy);
    this.allowCloudTrailToUseKey();

    // Trail bucket and log group.
    const accessLogBucket = props.accessLogBucket ?? props.artifactStore?.accessLogBucket ?? this.newAccessLogBucket(removalPolicy);
    this.trailBucket = new s3.Bucket(this, 'TrailBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      versioned: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogBucket,
      serverAccessLogsPrefix: 's3/cloudtrail/',
      lifecycleRules: [
        {
          id: 'trail-retention',
          expiration: Duration.days(trailRetentionDays),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ],
      removalPolicy,
    });
    this.trailBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudTrailAclCheck',
      principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
      actions: ['s3:GetBucketAcl'],
      resources: [this.trailBucket.bucketArn],
      conditions: { StringEquals: { 'aws:SourceArn': this.trailArn } },
    }));
    this.trailBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudTrailWrite',
      principals: [new iam.ServicePrincipal('cloudtrail.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [this.trailBucket.arnForObjects(`AWSLogs/${account}/*`)],
      conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': this.trailArn } },
    }));
    // Nobody deletes trail log files (the lifecycle rule expires them): a bucket-policy deny holds for every principal.
    this.trailBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'DenyDeletingTrailLogs',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
      resources: [this.trailBucket.arnForObjects('*')],
    }));
    acknowledgeNoReplication(this.trailBucket);
    notifyEventBridge(this.trailBucket);
    acknowledgeNoObjectLock(this.trailBucket, 'Trail log files are protected without Object Lock: a bucket-policy deny stops every principal '
      + 'deleting them, CloudTrail log file validation detects any change, and the lifecycle rule (which Object Lock would block) expires them.');

    this.trailLogGroup = new logs.LogGroup(this, 'TrailLogs', {
      encryptionKey: this.encryptionKey,
      retention: logRetentionDays as logs.RetentionDays,
      removalPolicy,
    });
    acknowledgeProfileLogRetention(this.trailLogGroup, logRetentionDays);
    const deliveryRole = new iam.Role(this, 'TrailDeliveryRole', {
      assumedBy: new iam.ServicePrincipal('cloudtrail.amazonaws.com'),
      description: `CloudTrail delivery of ${trailName} to CloudWatch Logs`,
    });
    const deliveryPolicy = new iam.ManagedPolicy(this, 'TrailDeliveryPolicy', {
      roles: [deliveryRole],
      statements: [new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.trailLogGroup.logGroupArn] })],
    });

    this.trail = new cloudtrail.CfnTrail(this, 'Trail', {
      trailName,
      isLogging: true,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableLogFileValidation: true,
      kmsKeyId: this.encryptionKey.keyArn,
      s3BucketName: this.trailBucket.bucketName,
      cloudWatchLogsLogGroupArn: this.trailLogGroup.logGroupArn,
      cloudWatchLogsRoleArn: deliveryRole.roleArn,
      eventSelectors: Lazy.any({ produce: () => this.renderEventSelectors() }),
    });
    // CloudTrail checks the bucket policy and the delivery role when the trail is created.
    this.trail.node.addDependency(this.trailBucket.policy!, deliveryPolicy);

    // Persona roles.
    const trusted = props.trustedPrincipal ?? new iam.AccountRootPrincipal().withConditions(PERSONA_MFA_CONDITION);
    const personas = props.personaPrincipals ?? {};
    const maxSessionDuration = props.maxSessionDuration ?? Duration.hours(1);
    const persona = (roleId: string, principal: iam.IPrincipal | undefined, description: string): iam.Role => {
      const role = new iam.Role(this, roleId, { assumedBy: principal ?? trusted, description, maxSessionDuration });
      this.personaIds.set(role, roleId);
      return role;
    };
    const [dataScientist, mlEngineer, platformOperator, auditor] = PERSONAS.map((p) => persona(p.id, personas[p.key], p.description));
    this.dataScientist = dataScientist;
    this.mlEngineer = mlEngineer;
    this.platformOperator = platformOperator;
    this.auditor = auditor;

    this.grantOperator();
    this.grantAuditor();
    if (props.artifactStore) this.addS3DataEvents(props.artifactStore);

    this.boundary.applyTo(this);
  }

  /** Applies the permission boundary to every IAM role and user below `scope`, including ones added later. */
  public applyBoundaryTo(scope: IConstruct): void {
    this.boundary.applyTo(scope);
  }

  /** Logs S3 data events (object reads and writes) of the store's datasets and models buckets to the trail. */
  public addS3DataEvents(artifactStore: IArtifactStore): void {
    for (const purpose of [ArtifactPurpose.DATASETS, ArtifactPurpose.MODELS]) {
      const bucket = artifactStore.bucket(purpose);
      if (!this.dataEventBuckets.includes(bucket)) this.dataEventBuckets.push(bucket);
    }
  }

  /**
   * Gives the personas least-privilege access to the platform's pieces through their grant methods:
   * the data scientist reads datasets, reads and writes artifacts below `experiments/` and pulls images; the ML
   * engineer reads datasets and models and writes candidates (`candidates/`, never `served/`: only the promotion role
   * writes what production serves), pushes and pulls images and connects to the registry as `mlEngineerDatabaseUser`. The operator and the auditor are explicitly denied object reads, the registry's
   * secret and database connections.
   */
  public grantPersonas(resources: PersonaResources): void {
    const check = checkFor(this);
    validatePersonaResources(check, resources);
    const scientist = this.personaGrantee(this.dataScientist);
    const engineer = this.personaGrantee(this.mlEngineer);
    const store = resources.artifactStore;
    if (store) {
      store.grantRead(scientist, ArtifactPurpose.DATASETS);
      store.grantReadWrite(scientist, ArtifactPurpose.ARTIFACTS, 'experiments/');
      store.grantRead(engineer, ArtifactPurpose.DATASETS);
      store.grantRead(engineer, ArtifactPurpose.MODELS);
      store.grantWrite(engineer, ArtifactPurpose.MODELS, MODEL_ARTIFACT_LAYOUT.candidatesRoot);
      this.denyDataReads([
        new iam.PolicyStatement({
          sid: 'DenyArtifactObjectReads',
          effect: iam.Effect.DENY,
          actions: [...DENIED_OBJECT_READ_ACTIONS],
          resources: [ArtifactPurpose.DATASETS, ArtifactPurpose.MODELS, ArtifactPurpose.ARTIFACTS]
            .flatMap((p) => [store.bucket(p).bucketArn, store.bucket(p).arnForObjects('*')]),
        }),
      ]);
    }
    for (const images of [resources.trainingImages, resources.servingImages]) {
      if (!images) continue;
      images.grantPull(scientist);
      images.grantPullPush(engineer);
    }
    const registry = resources.modelRegistry;
    if (registry) {
      registry.grantConnect(engineer, this.mlEngineerDatabaseUser);
      this.denyDataReads([
        new iam.PolicyStatement({
          sid: 'DenyRegistryData',
          effect: iam.Effect.DENY,
          actions: [...DENIED_REGISTRY_ACTIONS],
          resources: [registry.secret.secretArn, `arn:${Aws.PARTITION}:rds-db:*:*:dbuser:*/*`],
        }),
      ]);
    }
    this.acknowledgeGrants();
  }

  /**
   * A grantee whose grants land in the persona's customer managed policy (never an inline one), for grants other
   * constructs make to a persona: `brake.grantRelease(governance.personaGrantee(governance.platformOperator))`.
   */
  public personaGrantee(role: iam.Role): iam.IGrantable {
    if (!this.personaIds.has(role)) {
      checkFor(this).fail('role', role?.node?.path, 'is not a persona of this governance', 'pass dataScientist, mlEngineer, platformOperator or auditor.');
    }
    // The policy is created on the first grant, so a persona that gets nothing has no empty policy.
    const policyOf = () => this.policyOf(role);
    return {
      get grantPrincipal() {
        return new ManagedPolicyPrincipal(role, policyOf());
      },
    };
  }

  /** The persona's customer managed policy, created with its first statement (an empty one fails synthesis). */
  /**
   * Grants a persona engine-neutral statements (core's) in its customer managed policy, acknowledging each wildcard
   * resource (AwsSolutions-IAM5) with `reason`: for grants by name pattern, e.g. the operator's fleet rollouts.
   */
  public grantPersona(role: iam.Role, statements: readonly NeutralStatement[], reason: string): void {
    const grantee = this.personaGrantee(role);
    for (const s of statements) {
      grantee.grantPrincipal.addToPrincipalPolicy(renderNeutralStatement(s));
      for (const resource of s.resources.filter((r) => r.includes('*'))) {
        Validations.of(this.policyOf(role)).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, resource)}]`, reason });
      }
    }
  }

  private policyOf(role: iam.Role): iam.ManagedPolicy {
    let policy = this.policies.get(role);
    if (!policy) {
      const roleId = this.personaIds.get(role)!;
      policy = new iam.ManagedPolicy(this, `${roleId}Policy`, { roles: [role], description: `Permissions of the ${role.node.path} persona` });
      this.policies.set(role, policy);
    }
    return policy;
  }

  private grantOperator(): void {
    const policy = this.policyOf(this.platformOperator);
    policy.addStatements(...operatorStatements(this.profile.name).map(statementOf));
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Describe, List, metric and log-query actions of CloudWatch, Logs, Auto Scaling, Batch, SageMaker, ECS, RDS and ECR are read-only '
        + 'metadata calls most of which have no resource-level permissions; the operating actions are limited by an aws:ResourceTag condition '
        + 'to resources tagged with this environment, and object, secret and database reads are explicitly denied.',
    });
  }

  private grantAuditor(): void {
    this.auditor.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName(AUDITOR_MANAGED_POLICY));
    Validations.of(this.auditor).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/SecurityAudit]',
      reason: 'SecurityAudit is the AWS maintained read-only set of configuration and metadata actions for security auditors; it contains no '
        + 'object, secret or database reads, and AWS extends it as services are added, which a hand-written copy would miss.',
    });
    const auditor = this.personaGrantee(this.auditor);
    const policy = this.policyOf(this.auditor);
    policy.addStatements(...auditorTrailStatements(this.trailBucket.bucketArn, this.trailLogGroup.logGroupArn).map(statementOf));
    iam.Grant.addToPrincipal({
      grantee: auditor,
      actions: ['kms:Decrypt'],
      resourceArns: [this.encryptionKey.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': [this.trailBucket.bucketArn, this.trailBucket.arnForObjects('*')] },
      },
    });
    this.acknowledgeGrants();
  }

  private denyDataReads(statements: iam.PolicyStatement[]): void {
    for (const role of [this.platformOperator, this.auditor]) this.policyOf(role).addStatements(...statements);
  }

  private renderEventSelectors(): cloudtrail.CfnTrail.EventSelectorProperty[] {
    return [{
      readWriteType: 'All',
      includeManagementEvents: true,
      dataResources: this.dataEventBuckets.length === 0
        ? undefined
        : [{ type: 'AWS::S3::Object', values: this.dataEventBuckets.map((b) => `${b.bucketArn}/`) }],
    }];
  }

  private newKey(removalPolicy: ReturnType<typeof statefulRemovalPolicy>): kms.Key {
    return newRotatingKey(this, `mlops-constructs audit trail key at ${this.node.path}`, removalPolicy, this.profile.allowDestroy ? 7 : 30);
  }

  private allowCloudTrailToUseKey(): void {
    const { account, partition } = Stack.of(this);
    const cloudTrail = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
    this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudTrailToEncryptLogs',
      principals: [cloudTrail],
      actions: ['kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceArn': this.trailArn },
        StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${partition}:cloudtrail:*:${account}:trail/*` },
      },
    }));
    this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudTrailToDescribeKey',
      principals: [cloudTrail],
      actions: ['kms:DescribeKey'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceArn': this.trailArn } },
    }));
  }

  private newAccessLogBucket(removalPolicy: ReturnType<typeof statefulRemovalPolicy>): s3.Bucket {
    const bucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{
        id: 'expire-logs',
        expiration: Duration.days(this.profile.logRetentionDays),
        noncurrentVersionExpiration: Duration.days(30),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      }, { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true }],
      removalPolicy,
    });
    acknowledgeTerminalLogBucket(bucket, {
      notLogged: 'Terminal access-log bucket of the audit trail bucket: logging it to itself creates the log-of-logs loop AWS advises '
        + 'against; it is versioned, TLS-only, private and retained outside dev instead. Pass accessLogBucket to use a shared one.',
    });
    acknowledgeNoReplication(bucket);
    return bucket;
  }

  /**
   * Acknowledges the wildcard findings (AwsSolutions-IAM5) of the persona policies, each with the reason that
   * fits the grant it came from: object-level S3 permissions (key prefixes) and the account-wide ECR token.
   */
  private acknowledgeGrants(): void {
    for (const [role, policy] of this.policies) {
      if (role === this.platformOperator) continue;
      // Unresolved (tokens kept), so each resource renders as cdk-nag will print it, imported values included.
      const doc = policy.document.toJSON() as { Statement?: Array<Record<string, unknown>> } | undefined;
      const ids = new Set<string>();
      for (const statement of doc?.Statement ?? []) {
        if (statement.Effect !== 'Allow') continue;
        for (const resource of asArray(statement.Resource)) {
          const flat = typeof resource === 'string' ? nagResourceId(this, resource) : flattenReference(resource);
          if (flat.includes('*')) ids.add(flat);
        }
      }
      for (const flat of ids) {
        Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason: wildcardReason(flat) });
      }
    }
  }
}

function wildcardReason(flat: string): string {
  if (flat === '*') {
    return 'ecr:GetAuthorizationToken (image pulls and pushes), cloudtrail:LookupEvents and the Logs query-result calls have no resource-level '
      + 'permissions; every other action in the policy names its repository, bucket, log group or key.';
  }
  return `Object-level S3 permissions name objects by key prefix: the persona reads or writes only the objects below ${flat}, granted through `
    + 'ArtifactStore grants (or the trail bucket read of the auditor); KMS use is limited to S3 for that bucket.';
}

/** A CDK statement from the engine-neutral JSON of core's governance spec. */
function statementOf(json: PolicyStatementJson): iam.PolicyStatement {
  return iam.PolicyStatement.fromJson(json);
}

function acknowledgeNoReplication(bucket: s3.Bucket): void {
  const reason = 'Cross-region replication needs a destination bucket and key in another region, which this stack cannot create; the trail is '
    + 'multi-region and log files carry digest files for validation, and the bucket is versioned and retained outside dev.';
  Validations.of(bucket.node.defaultChild as s3.CfnBucket).acknowledge(
    { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason },
    { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason },
  );
}

function asArray(x: unknown): unknown[] {
  if (x === undefined) return [];
  return Array.isArray(x) ? x : [x];
}

/** Flattens a resolved reference the way cdk-nag names resources in finding ids (`<Logical.Arn>/prefix/*`). */
function flattenReference(value: unknown): string {
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const v = value as Record<string, any> | undefined;
  if (v && Array.isArray(v['Fn::Join'])) return (v['Fn::Join'][1] as unknown[]).map(flattenReference).join(v['Fn::Join'][0]);
  if (v && Array.isArray(v['Fn::GetAtt'])) return `<${v['Fn::GetAtt'].map(flattenReference).join('.')}>`;
  if (v && v.Ref !== undefined) return `<${flattenReference(v.Ref)}>`;
  if (v && v['Fn::Sub'] !== undefined) return flattenReference(v['Fn::Sub']);
  return JSON.stringify(value);
}

