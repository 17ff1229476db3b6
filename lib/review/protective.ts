import { DELIVERY_GATE_METADATA } from '../core';
import { CfnResource } from './assembly';

/**
 * The protective properties of stateful resources: one table, one rule per property. A rule reads a property into a
 * level (`rank`, higher protects more, and the text a reviewer reads); a change that lowers the rank weakens the
 * protection of data that is not replaced or removed (a shorter retention, deletion protection off, versioning
 * suspended, KMS encryption removed, ...). Values the template leaves to deploy time (`Ref`, `Fn::*`) are not judged.
 */
export interface ProtectiveRule {
  readonly type: string;
  /** The CloudFormation property (path) the rule reads. */
  readonly property: string;
  /** What it protects, as a reviewer reads it: `log retention`, `deletion protection`. */
  readonly label: string;
  /** The level of protection, or undefined when the value is only known at deploy time. */
  readonly read: (properties: Record<string, any>, resource: CfnResource) => ProtectionLevel | undefined;
}

/** A level of protection: `rank` orders levels (higher protects more); `text` is shown before → after. */
export interface ProtectionLevel {
  readonly rank: number;
  readonly text: string;
}

/** A protective property that a change lowers. */
export interface ProtectionWeakening {
  readonly label: string;
  readonly property: string;
  readonly before: string;
  readonly after: string;
}

const NEVER = Number.POSITIVE_INFINITY;

function isIntrinsic(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A period (days, hours, ...) where absent means `absentText` with `absentRank` (never expires: Infinity). */
function period(value: unknown, unit: string, absent: ProtectionLevel): ProtectionLevel | undefined {
  if (value === undefined || value === null) return absent;
  if (isIntrinsic(value)) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) return undefined;
  return { rank: n, text: `${n} ${unit}${n === 1 ? '' : 's'}` };
}

/** An on/off protection with its default when absent. */
function flag(value: unknown, absent: boolean, on = 'on', off = 'off'): ProtectionLevel | undefined {
  if (isIntrinsic(value)) return undefined;
  const v = value === undefined || value === null ? absent : value === true || value === 'true';
  return v ? { rank: 1, text: on } : { rank: 0, text: off };
}

/** A flag that endangers data when on (EmptyOnDelete, TTL): on ranks lower. */
function hazard(value: unknown, absent: boolean, on: string, off: string): ProtectionLevel | undefined {
  const f = flag(value, absent);
  return f && { rank: 1 - f.rank, text: f.rank === 1 ? on : off };
}

/** One of ordered values (lowest protection first); absent is `absent`. */
function ordered(value: unknown, order: readonly string[], absent: string): ProtectionLevel | undefined {
  if (isIntrinsic(value)) return undefined;
  const v = value === undefined || value === null ? absent : String(value);
  const rank = order.indexOf(v);
  return { rank: rank < 0 ? 0 : rank, text: v };
}

/** The shortest of several periods (the rule that expires data first); none is "never". */
function shortest(values: unknown[], unit: string): ProtectionLevel | undefined {
  if (values.some(isIntrinsic)) return undefined;
  const numbers = values.map(Number).filter(Number.isFinite);
  if (numbers.length === 0) return { rank: NEVER, text: 'never' };
  const n = Math.min(...numbers);
  return { rank: n, text: `${n} ${unit}${n === 1 ? '' : 's'}` };
}

function list(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}

function enabledLifecycleRules(p: Record<string, any>): any[] {
  return list(p.LifecycleConfiguration?.Rules).filter((r) => r?.Status !== 'Disabled');
}

const KMS_ALGORITHMS = ['aws:kms', 'aws:kms:dsse'];

function bucketEncryption(p: Record<string, any>): ProtectionLevel | undefined {
  const rules = list(p.BucketEncryption?.ServerSideEncryptionConfiguration);
  const algorithms = rules.map((r) => r?.ServerSideEncryptionByDefault?.SSEAlgorithm);
  if (algorithms.some(isIntrinsic)) return undefined;
  const kms = algorithms.find((a) => KMS_ALGORITHMS.includes(a));
  return kms ? { rank: 1, text: `SSE-KMS (${kms})` } : { rank: 0, text: algorithms.length > 0 ? `SSE-S3 (${algorithms[0]})` : 'SSE-S3 (default)' };
}

function keyPresent(value: unknown, on: string, off: string): ProtectionLevel {
  return value === undefined || value === null || value === '' ? { rank: 0, text: off } : { rank: 1, text: on };
}

function objectLockDays(p: Record<string, any>): ProtectionLevel | undefined {
  const retention = p.ObjectLockConfiguration?.Rule?.DefaultRetention;
  if (!retention) return { rank: 0, text: 'none' };
  if (isIntrinsic(retention.Days) || isIntrinsic(retention.Years)) return undefined;
  if (retention.Years !== undefined) return { rank: Number(retention.Years) * 365, text: `${retention.Years} year(s)` };
  return period(retention.Days, 'day', { rank: 0, text: 'none' });
}

interface EcrRule {
  readonly rulePriority?: number;
  readonly selection?: { tagStatus?: string; countType?: string; countNumber?: number; countUnit?: string };
}

function ecrRules(p: Record<string, any>): EcrRule[] | undefined {
  const text = p.LifecyclePolicy?.LifecyclePolicyText;
  if (text === undefined) return [];
  if (typeof text !== 'string') return undefined;
  try {
    return list(JSON.parse(text).rules);
  } catch {
    return undefined;
  }
}

/** Images kept by an ECR lifecycle policy: rules that expire tagged images (untagged ones hold no release). */
function ecrKept(p: Record<string, any>, countType: string, unit: string): ProtectionLevel | undefined {
  const rules = ecrRules(p);
  if (!rules) return undefined;
  return shortest(rules.filter((r) => r.selection?.tagStatus !== 'untagged' && r.selection?.countType === countType)
    .map((r) => r.selection?.countNumber), unit);
}

/** Served state: `/mlops/<env>/served/<model>`, written by promotion and rollouts (docs/design/served-models.md). */
export const SERVED_STATE_NAME = /^\/mlops\/[^/]+\/served\/[^/]+$/;

/** Whether a resource is a served-state SSM parameter (its value is owned by promotion, not the template). */
export function isServedStateParameter(resource: CfnResource | undefined): boolean {
  const name = resource?.Properties?.Name;
  return resource?.Type === 'AWS::SSM::Parameter' && typeof name === 'string' && SERVED_STATE_NAME.test(name);
}

/** The table: every protective property of every stateful resource type the review knows. */
export const PROTECTIVE_RULES: readonly ProtectiveRule[] = [
  // CloudWatch Logs
  {
    type: 'AWS::Logs::LogGroup',
    property: 'RetentionInDays',
    label: 'log retention',
    read: (p) => period(p.RetentionInDays, 'day', { rank: NEVER, text: 'never expires' }),
  },
  {
    type: 'AWS::Logs::LogGroup',
    property: 'KmsKeyId',
    label: 'KMS encryption',
    read: (p) => keyPresent(p.KmsKeyId, 'customer KMS key', 'service-owned key'),
  },
  {
    type: 'AWS::Logs::LogGroup',
    property: 'DeletionProtectionEnabled',
    label: 'deletion protection',
    read: (p) => flag(p.DeletionProtectionEnabled, false),
  },
  // S3
  {
    type: 'AWS::S3::Bucket',
    property: 'VersioningConfiguration.Status',
    label: 'versioning',
    read: (p) => ordered(p.VersioningConfiguration?.Status, ['not set', 'Suspended', 'Enabled'], 'not set'),
  },
  { type: 'AWS::S3::Bucket', property: 'BucketEncryption', label: 'KMS encryption', read: bucketEncryption },
  {
    type: 'AWS::S3::Bucket',
    property: 'ObjectLockEnabled',
    label: 'Object Lock',
    read: (p) => flag(p.ObjectLockEnabled, false),
  },
  {
    type: 'AWS::S3::Bucket',
    property: 'ObjectLockConfiguration.Rule.DefaultRetention.Mode',
    label: 'Object Lock mode',
    read: (p) => ordered(p.ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode, ['none', 'GOVERNANCE', 'COMPLIANCE'], 'none'),
  },
  {
    type: 'AWS::S3::Bucket',
    property: 'ObjectLockConfiguration.Rule.DefaultRetention',
    label: 'Object Lock default retention',
    read: objectLockDays,
  },
  {
    type: 'AWS::S3::Bucket',
    property: 'LifecycleConfiguration.Rules[].NoncurrentVersionExpiration',
    label: 'noncurrent-version expiry',
    read: (p) => shortest(enabledLifecycleRules(p)
      .flatMap((r) => [r.NoncurrentVersionExpiration?.NoncurrentDays, r.NoncurrentVersionExpirationInDays])
      .filter((d) => d !== undefined), 'day'),
  },
  {
    type: 'AWS::S3::Bucket',
    property: 'LifecycleConfiguration.Rules[].ExpirationInDays',
    label: 'object expiry',
    read: (p) => shortest(enabledLifecycleRules(p).flatMap((r) => [r.ExpirationInDays, r.ExpirationDate ? 0 : undefined])
      .filter((d) => d !== undefined), 'day'),
  },
  {
    type: 'AWS::S3::Bucket',
    property: 'ReplicationConfiguration',
    label: 'replication',
    read: (p) => keyPresent(p.ReplicationConfiguration, 'configured', 'none'),
  },
  // RDS
  { type: 'AWS::RDS::DBCluster', property: 'DeletionProtection', label: 'deletion protection', read: (p) => flag(p.DeletionProtection, false) },
  {
    type: 'AWS::RDS::DBCluster',
    property: 'BackupRetentionPeriod',
    label: 'backup retention',
    read: (p) => period(p.BackupRetentionPeriod, 'day', { rank: 1, text: '1 day (default)' }),
  },
  { type: 'AWS::RDS::DBCluster', property: 'StorageEncrypted', label: 'storage encryption', read: (p) => flag(p.StorageEncrypted, false) },
  { type: 'AWS::RDS::DBCluster', property: 'KmsKeyId', label: 'KMS encryption', read: (p) => keyPresent(p.KmsKeyId, 'customer KMS key', 'AWS managed key') },
  { type: 'AWS::RDS::DBInstance', property: 'DeletionProtection', label: 'deletion protection', read: (p) => flag(p.DeletionProtection, false) },
  {
    type: 'AWS::RDS::DBInstance',
    property: 'BackupRetentionPeriod',
    label: 'backup retention',
    read: (p) => period(p.BackupRetentionPeriod, 'day', { rank: 1, text: '1 day (default)' }),
  },
  {
    type: 'AWS::RDS::DBInstance',
    property: 'DeleteAutomatedBackups',
    label: 'automated backups on delete',
    read: (p) => hazard(p.DeleteAutomatedBackups, true, 'deleted with the instance', 'kept'),
  },
  { type: 'AWS::RDS::DBInstance', property: 'StorageEncrypted', label: 'storage encryption', read: (p) => flag(p.StorageEncrypted, false) },
  // DynamoDB
  { type: 'AWS::DynamoDB::Table', property: 'DeletionProtectionEnabled', label: 'deletion protection', read: (p) => flag(p.DeletionProtectionEnabled, false) },
  {
    type: 'AWS::DynamoDB::Table',
    property: 'PointInTimeRecoverySpecification',
    label: 'point-in-time recovery',
    read: (p) => (flag(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, false)?.rank === 1
      ? period(p.PointInTimeRecoverySpecification?.RecoveryPeriodInDays, 'day', { rank: 35, text: '35 days (default)' })
      : { rank: 0, text: 'off' }),
  },
  {
    type: 'AWS::DynamoDB::Table',
    property: 'SSESpecification',
    label: 'KMS encryption',
    read: (p) => (flag(p.SSESpecification?.SSEEnabled, false)?.rank === 1 ? { rank: 1, text: 'KMS key' } : { rank: 0, text: 'AWS owned key' }),
  },
  {
    type: 'AWS::DynamoDB::Table',
    property: 'TimeToLiveSpecification.Enabled',
    label: 'item expiry (TTL)',
    read: (p) => hazard(p.TimeToLiveSpecification?.Enabled, false, 'items expire', 'off'),
  },
  {
    type: 'AWS::DynamoDB::GlobalTable',
    property: 'Replicas[].DeletionProtectionEnabled',
    label: 'deletion protection',
    read: (p) => (list(p.Replicas).length > 0 && list(p.Replicas).every((r) => r?.DeletionProtectionEnabled === true)
      ? { rank: 1, text: 'on' } : { rank: 0, text: 'off' }),
  },
  // EFS
  {
    type: 'AWS::EFS::FileSystem',
    property: 'BackupPolicy.Status',
    label: 'automatic backups',
    read: (p) => ordered(p.BackupPolicy?.Status, ['DISABLED', 'ENABLED'], 'DISABLED'),
  },
  {
    type: 'AWS::EFS::FileSystem',
    property: 'FileSystemProtection.ReplicationOverwriteProtection',
    label: 'replication overwrite protection',
    read: (p) => ordered(p.FileSystemProtection?.ReplicationOverwriteProtection, ['DISABLED', 'REPLICATING', 'ENABLED'], 'ENABLED'),
  },
  // KMS: a disabled key or a shorter deletion window makes everything encrypted with it unreadable sooner.
  { type: 'AWS::KMS::Key', property: 'Enabled', label: 'key enabled', read: (p) => flag(p.Enabled, true, 'enabled', 'disabled') },
  {
    type: 'AWS::KMS::Key',
    property: 'PendingWindowInDays',
    label: 'deletion waiting period',
    read: (p) => period(p.PendingWindowInDays, 'day', { rank: 30, text: '30 days (default)' }),
  },
  // ECR: images of served models are the models.
  {
    type: 'AWS::ECR::Repository',
    property: 'ImageTagMutability',
    label: 'tag immutability',
    read: (p) => ordered(p.ImageTagMutability, ['MUTABLE', 'IMMUTABLE_WITH_EXCLUSION', 'IMMUTABLE'], 'MUTABLE'),
  },
  {
    type: 'AWS::ECR::Repository',
    property: 'EmptyOnDelete',
    label: 'images on delete',
    read: (p) => hazard(p.EmptyOnDelete, false, 'deleted with the repository', 'kept (deletion fails)'),
  },
  {
    type: 'AWS::ECR::Repository',
    property: 'LifecyclePolicy (imageCountMoreThan)',
    label: 'tagged images kept',
    read: (p) => ecrKept(p, 'imageCountMoreThan', 'image'),
  },
  {
    type: 'AWS::ECR::Repository',
    property: 'LifecyclePolicy (sinceImagePushed)',
    label: 'tagged image age kept',
    read: (p) => ecrKept(p, 'sinceImagePushed', 'day'),
  },
  // Backups, queues and streams that hold data for a time.
  {
    type: 'AWS::Backup::BackupPlan',
    property: 'BackupPlan.BackupPlanRule[].Lifecycle.DeleteAfterDays',
    label: 'backup retention',
    read: (p) => shortest(list(p.BackupPlan?.BackupPlanRule).map((r) => r?.Lifecycle?.DeleteAfterDays).filter((d) => d !== undefined), 'day'),
  },
  {
    type: 'AWS::Backup::BackupVault',
    property: 'LockConfiguration.MinRetentionDays',
    label: 'vault lock minimum retention',
    read: (p) => period(p.LockConfiguration?.MinRetentionDays, 'day', { rank: 0, text: 'no vault lock' }),
  },
  {
    type: 'AWS::SQS::Queue',
    property: 'MessageRetentionPeriod',
    label: 'message retention',
    read: (p) => period(p.MessageRetentionPeriod, 'second', { rank: 345600, text: '345600 seconds (default, 4 days)' }),
  },
  {
    type: 'AWS::Kinesis::Stream',
    property: 'RetentionPeriodHours',
    label: 'stream retention',
    read: (p) => period(p.RetentionPeriodHours, 'hour', { rank: 24, text: '24 hours (default)' }),
  },
];

/** Resource types with at least one protective property. */
export const PROTECTED_TYPES: readonly string[] = [...new Set(PROTECTIVE_RULES.map((r) => r.type))];

/** The protective properties a change from `before` to `after` lowers, in table order. */
export function weakenedProtections(before: CfnResource, after: CfnResource): ProtectionWeakening[] {
  if (before.Type !== after.Type) return [];
  const out: ProtectionWeakening[] = [];
  for (const rule of PROTECTIVE_RULES) {
    if (rule.type !== before.Type) continue;
    const b = rule.read(before.Properties ?? {}, before);
    const a = rule.read(after.Properties ?? {}, after);
    if (b && a && a.rank < b.rank) out.push({ label: rule.label, property: rule.property, before: b.text, after: a.text });
  }
  if (isServedStateParameter(before) && isServedStateParameter(after) && servedValue(before) !== servedValue(after)) {
    out.push({ label: 'served state (written by promotion and rollouts)', property: 'Value', before: servedValue(before), after: servedValue(after) });
  }
  out.push(...deliveryGateChanges(before, after));
  return out;
}

/** `ProtectionWeakening.property` of a delivery gate change. */
export const DELIVERY_GATE_PROPERTY = `Metadata.${DELIVERY_GATE_METADATA}`;

/**
 * Every change of a recorded delivery gate, one per changed entry (`environments.prod.approval`): the pipeline deploys
 * itself (self-mutation) after the review of its own stack, so any change of what gates it, stronger or weaker, is
 * one a person deploys (`cdk deploy` of the pipeline stack), not the pipeline.
 */
function deliveryGateChanges(before: CfnResource, after: CfnResource): ProtectionWeakening[] {
  const b = before.Metadata?.[DELIVERY_GATE_METADATA];
  if (b === undefined) return [];
  const flat = (value: unknown, prefix: string, into: Map<string, string>): Map<string, string> => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) flat(v, prefix ? `${prefix}.${k}` : k, into);
    } else {
      into.set(prefix || '(gate)', JSON.stringify(value));
    }
    return into;
  };
  const was = flat(b, '', new Map());
  const now = flat(after.Metadata?.[DELIVERY_GATE_METADATA] ?? null, '', new Map());
  const keys = [...new Set([...was.keys(), ...now.keys()])].filter((k) => was.get(k) !== now.get(k));
  return keys.map((k) => ({ label: `delivery gate ${k}`, property: DELIVERY_GATE_PROPERTY, before: was.get(k) ?? '(none)', after: now.get(k) ?? '(none)' }));
}

function servedValue(r: CfnResource): string {
  const v = r.Properties?.Value;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** `log retention 365 days → 7 days`. */
export function describeWeakening(w: ProtectionWeakening): string {
  return `${w.label} ${w.before} → ${w.after}`;
}

/**
 * Environments where weakening a protection only warns: development and sandboxes. Every other environment
 * (staging, prod, or one the stack does not name) blocks.
 */
export function isDevelopmentEnvironment(environment: string | undefined): boolean {
  return environment !== undefined && /^(dev|development|sandbox)(\d*|[-_.].*)$/i.test(environment);
}
