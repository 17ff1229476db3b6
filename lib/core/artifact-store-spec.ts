import { EnvironmentProfile } from './profiles';
import { SpecScope, specCheck, specUnresolved } from './spec-scope';
import { DataClassification } from './tags';

/** What a bucket of the store holds; each purpose gets its own bucket. */
export enum ArtifactPurpose {
  DATASETS = 'datasets',
  MODELS = 'models',
  ARTIFACTS = 'artifacts',
}

/** The purposes in the order every engine creates their buckets. */
export const ARTIFACT_PURPOSES: readonly ArtifactPurpose[] = Object.freeze([
  ArtifactPurpose.DATASETS, ArtifactPurpose.MODELS, ArtifactPurpose.ARTIFACTS,
]);

/** S3 Object Lock modes, spelled as S3 spells them. */
export const OBJECT_LOCK_MODES: readonly string[] = Object.freeze(['GOVERNANCE', 'COMPLIANCE']);

/** Engine-neutral artifact store input; each engine's props extend or map to it. */
export interface ArtifactStoreSpecInput {
  readonly lifecycle?: {
    readonly noncurrentVersionTransitionDays?: number;
    readonly noncurrentVersionExpirationDays?: number;
    readonly abortIncompleteMultipartUploadDays?: number;
  };
  readonly objectLock?: { readonly mode: string; readonly retentionDays: number; readonly purposes?: readonly ArtifactPurpose[] };
  readonly replication?: {
    readonly destinationRegion: string;
    readonly destinationBucketArns?: { readonly [purpose in ArtifactPurpose]?: string };
    readonly destinationBucketNamePattern?: string;
    readonly destinationKeyArn: string;
  };
  readonly dataClassification?: DataClassification;
  readonly retentionDays?: number;
  readonly allowIndefiniteRetention?: boolean;
  readonly autoDeleteObjects?: boolean;
}

/** What the engine knows about where the store is created. */
export interface ArtifactStoreSpecContext {
  /** Region of the store (may be unresolved). @default - unknown: the same-region check is skipped */
  readonly region?: string;
  /** Classification of the enclosing stack or program. @default DataClassification.INTERNAL */
  readonly inheritedClassification?: DataClassification;
}

/** The settings every engine renders for an artifact store. */
export interface ArtifactStoreSpec {
  readonly noncurrentVersionTransitionDays: number;
  readonly noncurrentVersionExpirationDays: number;
  readonly abortIncompleteMultipartUploadDays: number;
  /** Days current objects live; undefined means they never expire. */
  readonly retentionDays?: number;
  /** Object Lock default retention and the purposes it applies to; undefined means no lock. */
  readonly objectLock?: { readonly mode: string; readonly retentionDays: number; readonly purposes: readonly ArtifactPurpose[] };
  /** Replication with a destination bucket ARN per purpose; undefined means none. */
  readonly replication?: {
    readonly destinationRegion: string;
    readonly destinationKeyArn: string;
    readonly destinationBucketArns: Readonly<Record<ArtifactPurpose, string>>;
  };
  readonly dataClassification: DataClassification;
  readonly autoDeleteObjects: boolean;
  /** Whether buckets and keys are kept when removed (outside dev). */
  readonly retainData: boolean;
  /** Waiting period before a scheduled deletion of the store's own key. */
  readonly keyPendingWindowDays: number;
  /** Days access logs are kept (the profile's log retention). */
  readonly accessLogRetentionDays: number;
  /** Days overwritten or deleted access-log versions stay recoverable. */
  readonly accessLogNoncurrentExpirationDays: number;
  /** Whether a bucket holds Object Lock-ed data. */
  isLocked(purpose: ArtifactPurpose): boolean;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/;

/**
 * Validates an artifact store's input and resolves its defaults from the profile. Every engine calls this, so
 * the same input gives the same settings and the same ValidationError everywhere.
 */
export function resolveArtifactStoreSpec(
  scope: SpecScope, input: ArtifactStoreSpecInput, profile: EnvironmentProfile, context: ArtifactStoreSpecContext = {},
): ArtifactStoreSpec {
  const check = specCheck(scope);
  const lifecycle = input.lifecycle ?? {};
  const transitionDays = check.integerInRange('lifecycle.noncurrentVersionTransitionDays',
    lifecycle.noncurrentVersionTransitionDays, 30, 36500, 'S3 moves objects to Standard-IA after 30 days at the earliest; use 30 or more.')
    ?? profile.noncurrentVersionTransitionDays;
  const expirationDays = check.positiveInteger('lifecycle.noncurrentVersionExpirationDays', lifecycle.noncurrentVersionExpirationDays)
    ?? profile.noncurrentVersionExpirationDays;
  if (!specUnresolved(scope, expirationDays) && !specUnresolved(scope, transitionDays) && expirationDays <= transitionDays) {
    check.fail('lifecycle.noncurrentVersionExpirationDays', expirationDays,
      `must be later than the noncurrent version transition (${transitionDays} days)`,
      "raise 'lifecycle.noncurrentVersionExpirationDays' or lower 'lifecycle.noncurrentVersionTransitionDays'.");
  }
  const abortDays = check.positiveInteger('lifecycle.abortIncompleteMultipartUploadDays', lifecycle.abortIncompleteMultipartUploadDays) ?? 7;
  const retentionDays = check.positiveInteger('retentionDays', input.retentionDays);
  const autoDeleteObjects = input.autoDeleteObjects ?? false;
  // Served model versions must never change (docs/design/served-models.md): the models bucket is locked by default,
  // in GOVERNANCE mode for as long as the lifecycle keeps noncurrent versions anyway, so the lock adds no storage.
  // Only a store whose objects are deleted with the stack (autoDeleteObjects, dev) goes without it.
  const objectLock = resolveObjectLock(scope, input.objectLock)
    ?? (autoDeleteObjects ? undefined : { mode: 'GOVERNANCE', retentionDays: expirationDays, purposes: [ArtifactPurpose.MODELS] });
  if (input.objectLock !== undefined && autoDeleteObjects) {
    check.fail('objectLock', input.objectLock.mode, 'cannot be combined with autoDeleteObjects',
      "remove 'objectLock' (locked versions cannot be deleted with the stack) or 'autoDeleteObjects'.");
  }
  const replication = resolveReplication(scope, input.replication, context.region);

  const dataClassification = input.dataClassification ?? context.inheritedClassification ?? DataClassification.INTERNAL;
  check.oneOf('dataClassification', dataClassification, Object.values(DataClassification));
  if (dataClassification === DataClassification.RESTRICTED && retentionDays === undefined && input.allowIndefiniteRetention !== true) {
    check.fail('retentionDays', undefined, 'is required for RESTRICTED data',
      "set 'retentionDays' to how long personal data may be kept (GDPR/CCPA storage limitation), or set 'allowIndefiniteRetention: true' if erasure is handled elsewhere.");
  }
  if (autoDeleteObjects && !profile.allowDestroy) {
    check.fail('autoDeleteObjects', true, `cannot be used when the profile (${profile.name}) retains data`,
      "remove 'autoDeleteObjects', or use a profile with 'allowDestroy: true' (dev).");
  }
  return {
    noncurrentVersionTransitionDays: transitionDays,
    noncurrentVersionExpirationDays: expirationDays,
    abortIncompleteMultipartUploadDays: abortDays,
    retentionDays,
    objectLock,
    replication,
    dataClassification,
    autoDeleteObjects,
    retainData: profile.retainsData,
    keyPendingWindowDays: profile.allowDestroy ? 7 : 30,
    accessLogRetentionDays: profile.logRetentionDays,
    accessLogNoncurrentExpirationDays: 30,
    isLocked: (purpose) => objectLock !== undefined && objectLock.purposes.includes(purpose),
  };
}

function resolveObjectLock(scope: SpecScope, lock: ArtifactStoreSpecInput['objectLock']): ArtifactStoreSpec['objectLock'] {
  if (lock === undefined) return undefined;
  const check = specCheck(scope);
  if (lock.mode === undefined) {
    check.fail('objectLock.mode', undefined, 'is required with Object Lock',
      "set 'objectLock.mode' to ObjectLockMode.GOVERNANCE or ObjectLockMode.COMPLIANCE.");
  }
  check.oneOf('objectLock.mode', lock.mode, OBJECT_LOCK_MODES);
  if (lock.retentionDays === undefined) {
    check.fail('objectLock.retentionDays', undefined, 'is required with Object Lock',
      "set 'objectLock.retentionDays' to how long each model version must stay unchanged, e.g. 365.");
  }
  check.integerInRange('objectLock.retentionDays', lock.retentionDays, 1, 36500);
  const purposes = lock.purposes ?? [ArtifactPurpose.MODELS];
  if (purposes.length === 0) {
    check.fail('objectLock.purposes', purposes, 'must name at least one purpose', "list the purposes to lock, e.g. [ArtifactPurpose.MODELS], or remove 'objectLock'.");
  }
  purposes.forEach((p, i) => check.oneOf(`objectLock.purposes[${i}]`, p, ARTIFACT_PURPOSES));
  return { mode: lock.mode, retentionDays: lock.retentionDays, purposes: [...purposes] };
}

/**
 * The replication rule of a purpose bucket, as every engine sets it (S3's fields): every object, delete markers too,
 * objects encrypted with KMS included, replicas encrypted with the destination key.
 */
export function artifactReplicationRule(purpose: ArtifactPurpose, replication: NonNullable<ArtifactStoreSpec['replication']>) {
  return {
    id: `replicate-${purpose}`,
    status: 'Enabled',
    priority: 0,
    filter: { prefix: '' },
    deleteMarkerReplication: { status: 'Enabled' },
    sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: 'Enabled' } },
    destination: {
      bucket: replication.destinationBucketArns[purpose],
      encryptionConfiguration: { replicaKmsKeyId: replication.destinationKeyArn },
    },
  };
}

function resolveReplication(scope: SpecScope, replication: ArtifactStoreSpecInput['replication'], region: string | undefined): ArtifactStoreSpec['replication'] {
  if (replication === undefined) return undefined;
  const check = specCheck(scope);
  if (!replication.destinationRegion) {
    check.fail('replication.destinationRegion', replication.destinationRegion, 'is required',
      "set 'replication.destinationRegion' to another region, e.g. 'eu-west-1'.");
  }
  check.matches('replication.destinationRegion', replication.destinationRegion, REGION, "a region name such as 'eu-west-1'");
  if (region !== undefined && !specUnresolved(scope, region) && !specUnresolved(scope, replication.destinationRegion)
    && replication.destinationRegion === region) {
    check.fail('replication.destinationRegion', replication.destinationRegion, `must differ from the stack's region (${region})`,
      'replicate to another region; same-region copies do not protect against a regional outage.');
  }
  if (!replication.destinationKeyArn) {
    check.fail('replication.destinationKeyArn', replication.destinationKeyArn, 'is required',
      "set 'replication.destinationKeyArn' to a KMS key in the destination region; replicas of SSE-KMS objects must be encrypted.");
  }
  check.matches('replication.destinationKeyArn', replication.destinationKeyArn, KMS_KEY_ARN, 'a KMS key ARN');
  const pattern = replication.destinationBucketNamePattern;
  if (pattern !== undefined && !pattern.includes('{purpose}')) {
    check.fail('replication.destinationBucketNamePattern', pattern, "must contain the '{purpose}' placeholder",
      "use a pattern such as 'acme-ml-{purpose}-replica', or give 'replication.destinationBucketArns'.");
  }
  // A literal partition (from the destination key's ARN) keeps the destination ARNs exact.
  const partition = /^arn:(aws[a-z-]*):/.exec(replication.destinationKeyArn)?.[1] ?? 'aws';
  const arns: Partial<Record<ArtifactPurpose, string>> = {};
  for (const purpose of ARTIFACT_PURPOSES) {
    if (replication.destinationBucketArns?.[purpose] === undefined && pattern === undefined) {
      check.fail(`replication.destinationBucketArns.${purpose}`, undefined, 'is required',
        "give a destination bucket ARN for every purpose, or a 'replication.destinationBucketNamePattern'.");
    }
    arns[purpose] = replication.destinationBucketArns?.[purpose] ?? `arn:${partition}:s3:::${pattern!.replace(/\{purpose\}/g, purpose)}`;
  }
  return {
    destinationRegion: replication.destinationRegion,
    destinationKeyArn: replication.destinationKeyArn,
    destinationBucketArns: arns as Record<ArtifactPurpose, string>,
  };
}
