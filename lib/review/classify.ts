import { fullDiff, ResourceDifference, ResourceImpact, TemplateDiff } from '@aws-cdk/cloudformation-diff';
import { GpuInstance, TAG_KEYS } from '../core';
import { CfnResource, CfnTemplate, StackTemplate } from './assembly';
import { asArray, asgCapacity, batchCapacity, joined, num, refOf, stripMl, variantScaling } from './cost-delta';
import {
  DELIVERY_GATE_PROPERTY, describeWeakening, isDevelopmentEnvironment, isServedStateParameter, ProtectionWeakening, weakenedProtections,
} from './protective';

/** What happens to a resource when the head is deployed over the base. */
export enum ChangeKind {
  ADDED = 'added',
  UPDATED = 'updated',
  REPLACED = 'replaced',
  MAY_BE_REPLACED = 'may-be-replaced',
  REMOVED = 'removed',
  ORPHANED = 'orphaned',
}

/** One changed resource. */
export interface ResourceChange {
  readonly logicalId: string;
  readonly type: string;
  /** Construct path, where the assembly records it. */
  readonly path?: string;
  readonly kind: ChangeKind;
  /** Whether the resource holds data (by type, or retained by policy in the base). */
  readonly stateful: boolean;
  /** Properties (and attributes such as DeletionPolicy) that changed. */
  readonly changedProperties: readonly string[];
}

/** A change that loses or endangers data. */
export interface GuardFinding {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly path?: string;
  /** `protection-weakened`: the resource stays, but a protective property (retention, deletion protection, ...) is lowered. */
  readonly kind: ChangeKind | 'protection-weakened';
  readonly reason: string;
  /** The protective properties lowered, with before → after values. */
  readonly weakened?: readonly ProtectionWeakening[];
  /**
   * Set for a weakened protection in a development environment (`mlops:environment` dev, development, sandbox):
   * reported as a data-loss warning, not blocking. Staging, prod and unnamed environments block.
   */
  readonly warning?: boolean;
  /** Set when the change is let through: by `--allow-destroy` or because the stack is disposable. */
  readonly allowedBy?: 'allow-destroy' | 'disposable-stack';
}

/** An access change. Broadening ones come first in the report. */
export interface SecurityFinding {
  readonly stack: string;
  readonly broadening: boolean;
  readonly description: string;
  /** A grant that only points at renamed resources: the same access as before. */
  readonly repointed?: boolean;
  /** A wildcard the service requires (`REQUIRED_WILDCARDS`): expected, not broadening. */
  readonly required?: RequiredWildcard;
}

/** An action that can only be granted on `*`, and why. */
export interface RequiredWildcard {
  readonly actions: readonly string[];
  readonly why: string;
}

/**
 * Actions that IAM only accepts on `Resource: *` (no resource-level permissions), which the library's roles need.
 * A statement made only of these, on `*`, is shown once as expected, not as broadening.
 */
export const REQUIRED_WILDCARDS: readonly RequiredWildcard[] = [
  { actions: ['ecr:GetAuthorizationToken'], why: 'the registry login token is account-wide; ECR has no resource for it' },
  {
    actions: ['ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface', 'ec2:DeleteNetworkInterfacePermission',
      'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
    why: 'SageMaker jobs and endpoints in a VPC create their network interfaces; EC2 Describe* and interface creation take no resource ARN',
  },
  { actions: ['cloudwatch:PutMetricData'], why: 'metrics have no ARN; the library scopes it with a cloudwatch:namespace condition instead' },
  { actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], why: 'X-Ray traces have no resource ARN' },
  { actions: ['logs:DescribeLogGroups'], why: 'listing log groups takes no resource ARN' },
  { actions: ['sagemaker:ListModelPackageGroups', 'sagemaker:ListEndpoints'], why: 'SageMaker List* actions take no resource ARN' },
];

/** A change that means something for models: rollout weights, scaling bounds, GPU capacity, instance types. */
export interface MlChange {
  readonly stack: string;
  readonly kind: 'rollout' | 'scaling' | 'gpu-capacity' | 'instance-type' | 'deployment' | 'served-model' | 'model-version' | 'replacement';
  readonly line: string;
}

/** Options of the guard. */
export interface GuardOptions {
  /** Logical ids, `stack/logicalId` or construct paths (a prefix of path segments) whose destruction is intended. */
  readonly allowDestroy?: readonly string[];
  /** Stack ids or names whose data may be destroyed, in addition to stacks marked `mlops:disposable=true`. */
  readonly disposableStacks?: readonly string[];
  /**
   * Resource changes CloudFormation plans in the prepared change sets of the head (`DescribeChangeSet`): a replacement
   * of a resource holding data that the templates do not show is data loss too.
   * @default - none (no change sets)
   */
  readonly plannedChanges?: readonly PlannedChange[];
}

/** A resource change CloudFormation plans in a prepared change set (`DescribeChangeSet`'s `ResourceChange`). */
export interface PlannedChange {
  /** The stack, as the review names it (display path). */
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  /** `Add`, `Modify`, `Remove`, `Import`, `Dynamic`. */
  readonly action: string;
  /** For `Modify`: `True`, `False` or `Conditional`. */
  readonly replacement?: string;
}

/** Resource types that hold data. */
export const STATEFUL_TYPES: readonly string[] = [
  'AWS::S3::Bucket',
  'AWS::RDS::DBCluster',
  'AWS::RDS::DBInstance',
  'AWS::KMS::Key',
  'AWS::ECR::Repository',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::EFS::FileSystem',
  'AWS::SecretsManager::Secret',
  'AWS::Logs::LogGroup',
  'AWS::SageMaker::ModelPackageGroup',
  'AWS::Backup::BackupVault',
  'AWS::Kinesis::Stream',
];

const RETAINING_POLICIES = ['Retain', 'RetainExceptOnCreate', 'Snapshot'];

const IMPACT_KIND: Partial<Record<ResourceImpact, ChangeKind>> = {
  [ResourceImpact.WILL_CREATE]: ChangeKind.ADDED,
  [ResourceImpact.WILL_IMPORT]: ChangeKind.ADDED,
  [ResourceImpact.WILL_UPDATE]: ChangeKind.UPDATED,
  [ResourceImpact.WILL_REPLACE]: ChangeKind.REPLACED,
  [ResourceImpact.MAY_REPLACE]: ChangeKind.MAY_BE_REPLACED,
  [ResourceImpact.WILL_DESTROY]: ChangeKind.REMOVED,
  [ResourceImpact.WILL_ORPHAN]: ChangeKind.ORPHANED,
};

const EMPTY_TEMPLATE: CfnTemplate = { Resources: {} };

/** Diffs two versions of a stack with `@aws-cdk/cloudformation-diff`. A missing side is an empty template. */
export function diffStack(base: StackTemplate | undefined, head: StackTemplate | undefined): TemplateDiff {
  return fullDiff(base?.template ?? EMPTY_TEMPLATE, head?.template ?? EMPTY_TEMPLATE);
}

/** The resource changes of a diff, in template order. */
export function resourceChanges(diff: TemplateDiff, base?: StackTemplate, head?: StackTemplate): ResourceChange[] {
  const out: ResourceChange[] = [];
  diff.resources.forEachDifference((logicalId: string, change: ResourceDifference) => {
    const kind = IMPACT_KIND[change.changeImpact];
    if (!kind) return;
    const changed: string[] = [];
    change.forEachDifference((_type, name) => changed.push(name));
    out.push({
      logicalId,
      type: change.oldResourceType ?? change.newResourceType ?? 'unknown',
      path: head?.paths[logicalId] ?? base?.paths[logicalId],
      kind,
      stateful: change.oldValue !== undefined && isStateful(change.oldValue as CfnResource),
      changedProperties: changed,
    });
  });
  return out;
}

/**
 * Whether a resource holds data: its type is stateful, it is a served-state SSM parameter (written by promotion), or
 * it is retained (or snapshotted) by policy.
 */
export function isStateful(resource: CfnResource): boolean {
  return STATEFUL_TYPES.includes(resource.Type)
    || isServedStateParameter(resource)
    || RETAINING_POLICIES.includes(resource.DeletionPolicy ?? '')
    || RETAINING_POLICIES.includes(resource.UpdateReplacePolicy ?? '');
}

/**
 * The guard: replacing, maybe replacing, removing or orphaning a stateful resource, or weakening one of its
 * protections (DeletionPolicy/UpdateReplacePolicy from Retain/Snapshot to Delete, or a property of
 * `PROTECTIVE_RULES`: retention, deletion protection, versioning, encryption, Object Lock, expiry, backups).
 * One finding per resource. Each blocks unless the resource is allowed with `allowDestroy` or its stack is
 * disposable (marked in the base, or named in `disposableStacks`); a weakened protection in a development
 * environment is a warning.
 */
export function guard(stackId: string, changes: readonly ResourceChange[], diff: TemplateDiff, stack: StackTemplate | undefined,
  options: GuardOptions): GuardFinding[] {
  const out: GuardFinding[] = [];
  const disposable = isDisposable(stackId, stack, options);
  const development = isDevelopmentEnvironment(stack?.tags[TAG_KEYS.environment]);
  const allowedBy = (c: { logicalId: string; path?: string }): GuardFinding['allowedBy'] => {
    if (isAllowed(stackId, stack?.stackName, c.logicalId, c.path, options.allowDestroy ?? [])) return 'allow-destroy';
    return disposable ? 'disposable-stack' : undefined;
  };
  for (const c of changes) {
    const destructive = [ChangeKind.REPLACED, ChangeKind.MAY_BE_REPLACED, ChangeKind.REMOVED, ChangeKind.ORPHANED].includes(c.kind);
    if (c.stateful && destructive) {
      const { logicalId, type, path, kind } = c;
      out.push({ stack: stackId, logicalId, type, path, kind, reason: destructiveReason(c), allowedBy: allowedBy(c) });
    }
  }
  const destructiveIds = new Set(out.map((f) => f.logicalId));
  diff.resources.forEachDifference((logicalId: string, change: ResourceDifference) => {
    if (!change.oldValue || !change.newValue) return;
    const before = change.oldValue as CfnResource;
    const after = change.newValue as CfnResource;
    const weakened: ProtectionWeakening[] = [];
    for (const attribute of ['DeletionPolicy', 'UpdateReplacePolicy']) {
      const b = before[attribute] as string | undefined;
      const a = after[attribute] as string | undefined;
      if (RETAINING_POLICIES.includes(b ?? '') && !RETAINING_POLICIES.includes(a ?? '')) {
        weakened.push({ label: attribute, property: attribute, before: b!, after: a ?? 'Delete (default)' });
      }
    }
    weakened.push(...weakenedProtections(before, after));
    if (weakened.length === 0) return;
    const text = weakened.map(describeWeakening).join('; ');
    if (destructiveIds.has(logicalId)) {
      // One finding per resource: a replaced or removed resource carries its weakened protections along.
      const i = out.findIndex((f) => f.logicalId === logicalId);
      out[i] = { ...out[i], reason: `${out[i].reason}; also ${text}`, weakened };
      return;
    }
    const c = { logicalId, path: stack?.paths[logicalId] };
    const policyOnly = weakened.every((w) => w.property === 'DeletionPolicy' || w.property === 'UpdateReplacePolicy');
    // A pipeline's own delivery gate blocks in every environment and is never let through by the review's options
    // (the pipeline's review runs with the options of the deployed pipeline): a person deploys such a change.
    const gate = weakened.some((w) => w.property === DELIVERY_GATE_PROPERTY);
    out.push({
      stack: stackId,
      logicalId,
      type: change.oldResourceType ?? 'unknown',
      path: c.path,
      kind: 'protection-weakened',
      reason: `${text}${policyOnly ? ': deleting the stack or replacing the resource would now delete its data' : ''}${gate
        ? ': the pipeline would change what gates it by deploying itself; a person deploys this change of the pipeline stack (cdk deploy)' : ''}`,
      weakened,
      allowedBy: gate ? undefined : allowedBy(c),
      warning: (development && !gate) || undefined,
    });
  });
  return out;
}

/**
 * Replacements of resources holding data (in the deployed base) that CloudFormation plans in the stack's change set
 * and the template diff did not judge as data loss: a value resolved at deploy time changed (a parameter, a dynamic
 * reference, an import), or CloudFormation replaces what the diff took for an in-place update.
 */
export function plannedDataLoss(stackId: string, base: StackTemplate | undefined, judged: readonly GuardFinding[],
  options: GuardOptions): GuardFinding[] {
  if (!base) return [];
  const seen = new Set(judged.map((g) => g.logicalId));
  const out: GuardFinding[] = [];
  for (const p of options.plannedChanges ?? []) {
    if (p.stack !== stackId || seen.has(p.logicalId) || p.action !== 'Modify' || !['True', 'Conditional'].includes(p.replacement ?? '')) continue;
    const resource = base.template.Resources?.[p.logicalId];
    if (!resource || !isStateful(resource)) continue;
    const path = base.paths[p.logicalId];
    const certain = p.replacement === 'True';
    const allowedBy = isAllowed(stackId, base.stackName, p.logicalId, path, options.allowDestroy ?? []) ? 'allow-destroy'
      : isDisposable(stackId, base, options) ? 'disposable-stack' : undefined;
    out.push({
      stack: stackId,
      logicalId: p.logicalId,
      type: resource.Type,
      path,
      kind: certain ? ChangeKind.REPLACED : ChangeKind.MAY_BE_REPLACED,
      reason: `CloudFormation's change set ${certain ? 'replaces it' : 'may replace it (Replacement: Conditional)'}, which the templates do not show `
        + '(a value resolved at deploy time changes: a parameter, a dynamic reference, an import)',
      allowedBy,
    });
    seen.add(p.logicalId);
  }
  return out;
}

function destructiveReason(c: ResourceChange): string {
  const props = c.changedProperties.filter((p) => !['DeletionPolicy', 'UpdateReplacePolicy', 'Metadata'].includes(p));
  const because = props.length > 0 ? ` (changed: ${props.join(', ')})` : '';
  switch (c.kind) {
    case ChangeKind.REPLACED: return `will be replaced${because}: a new empty ${c.type} is created and the old one deleted or retained`;
    case ChangeKind.MAY_BE_REPLACED: return `may be replaced${because}: CloudFormation decides at deploy time`;
    case ChangeKind.ORPHANED: return 'is removed from the stack; retained by policy, it keeps its data but nothing manages it any more';
    default: return 'will be deleted with its data';
  }
}

function isDisposable(stackId: string, stack: StackTemplate | undefined, options: GuardOptions): boolean {
  const names = options.disposableStacks ?? [];
  const parents = stackId.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  return (stack?.disposable ?? false) || names.some((n) => n === stack?.stackName || parents.includes(n));
}

/** Whether `--allow-destroy` names this resource: by logical id, `stack/logicalId`, or a construct path prefix. */
export function isAllowed(stackId: string, stackName: string | undefined, logicalId: string, constructPath: string | undefined,
  allow: readonly string[]): boolean {
  return allow.some((raw) => {
    const a = raw.replace(/^\//, '').replace(/\/$/, '');
    if (a === logicalId || a === `${stackId}/${logicalId}` || (stackName && a === `${stackName}/${logicalId}`)) return true;
    return constructPath !== undefined && (constructPath === a || constructPath.startsWith(`${a}/`));
  });
}

/**
 * IAM, security-group and public-exposure changes, from `@aws-cdk/cloudformation-diff`'s IAM and security-group
 * analysis plus load balancer schemes and S3 public access blocks. IAM changes are one finding per resource they
 * concern (the role, user or group a policy is attached to; the bucket, queue, topic or secret a resource policy is
 * on; the resource itself for its own policies), listing every policy that changed on it.
 */
export function securityFindings(stackId: string, diff: TemplateDiff, base?: CfnTemplate, head?: CfnTemplate): SecurityFinding[] {
  const out: SecurityFinding[] = [];
  const changes = iamChangesByResource(diff, base, head);
  // A statement removed and one added that differ only in the logical ids they point to (ids of the same types), where
  // the removed one named a resource gone from the head, is the same grant re-pointed (a construct renamed or moved):
  // unchanged access.
  const typeOf = (id: string) => head?.Resources?.[id]?.Type ?? base?.Resources?.[id]?.Type ?? id;
  const removedKeys = new Map<string, number>();
  for (const { statement } of changes.filter((c) => c.change === 'removed' && c.statement)) {
    if (!namedIds(statement!).some((id) => head?.Resources?.[id] === undefined)) continue; // nothing it named was renamed
    const key = repointKey(statement!, typeOf);
    removedKeys.set(key, (removedKeys.get(key) ?? 0) + 1);
  }
  const repointed = new Map<string, number>();
  const take = (counts: Map<string, number>, key: string) => {
    if ((counts.get(key) ?? 0) === 0) return false;
    counts.set(key, counts.get(key)! - 1);
    return true;
  };
  const kept: IamChange[] = [];
  for (const c of changes.filter((x) => x.change === 'added' && x.statement)) {
    const key = repointKey(c.statement!, typeOf);
    if (take(removedKeys, key)) {
      repointed.set(key, (repointed.get(key) ?? 0) + 1);
      out.push({ stack: stackId, broadening: false, repointed: true, description: 'IAM statement re-pointed to renamed resources (unchanged access)' });
      continue;
    }
    if (isTlsDeny(c.statement!)) continue; // hardening: requests without TLS are refused
    const required = c.statement!.effect === 'Allow' ? requiredWildcard(c.statement!) : undefined;
    if (required) {
      out.push({ stack: stackId, broadening: false, required, description: `required wildcard: ${c.statement!.actions.values.join(', ')} on *` });
      continue;
    }
    kept.push(c);
  }
  for (const c of changes) {
    if (c.change === 'added' && c.statement) continue; // taken above
    if (c.change === 'removed' && c.statement && take(repointed, repointKey(c.statement, typeOf))) continue;
    kept.push(c);
  }
  out.push(...iamFindings(stackId, kept, typeOf));
  const sg = diff.securityGroupChanges;
  for (const [direction, rules, added] of [
    ['ingress', sg.ingress.additions, true], ['egress', sg.egress.additions, true],
    ['ingress', sg.ingress.removals, false], ['egress', sg.egress.removals, false],
  ] as const) {
    for (const rule of rules) {
      const peer = rule.peer?.kind === 'cidr-ip' ? rule.peer.ip : rule.describePeer();
      const open = peer === '0.0.0.0/0' || peer === '::/0';
      const wide = rule.peer?.kind === 'cidr-ip' && !open && prefixLength(peer) < 16;
      const flag = direction === 'egress' ? '' : open ? '**open to the internet**: ' : wide ? '**wide CIDR**: ' : '';
      out.push({
        stack: stackId,
        broadening: added && (direction === 'ingress' || open),
        description: `${added ? flag : ''}Security group ${direction} rule ${added ? 'added' : 'removed'}: ${rule.describeProtocol()} `
          + `${direction === 'ingress' ? 'from' : 'to'} ${peer} on ${rule.groupId}`,
      });
    }
  }
  out.push(...exposureFindings(stackId, diff));
  return sortSecurity(out);
}

type IamStatement = TemplateDiff['iamChanges']['statements']['additions'][number];

/** One statement or managed policy attachment added or removed by one resource of the template. */
interface IamChange {
  readonly change: 'added' | 'removed';
  /** Logical id of the resource whose properties hold the policy (an `AWS::IAM::Policy`, a bucket policy, a role...). */
  readonly source: string;
  /** The resource the access concerns: the identity a policy is attached to, the resource a resource policy is on. */
  readonly target: string;
  readonly statement?: IamStatement;
  /** A managed policy attached to or detached from the target. */
  readonly managedPolicyArn?: string;
}

/** Resource policies: the property naming the resource they are on. */
const POLICY_TARGET_PROPERTIES = ['Bucket', 'Queues', 'Topics', 'SecretId', 'FunctionName', 'ResourceArn'];

/**
 * The IAM changes of a stack, each with the resource that holds it: every changed resource is diffed alone, so that a
 * statement is known by its policy. A managed policy attached only through roles' `ManagedPolicyArns` is read as
 * attached to those roles (the diff library sees no principal for it).
 */
function iamChangesByResource(diff: TemplateDiff, base?: CfnTemplate, head?: CfnTemplate): IamChange[] {
  const out: IamChange[] = [];
  diff.resources.forEachDifference((logicalId: string, change: ResourceDifference) => {
    const before = change.oldValue as CfnResource | undefined;
    const after = change.newValue as CfnResource | undefined;
    if (!mayHoldPolicy(before) && !mayHoldPolicy(after)) return;
    const alone = (r: CfnResource | undefined, template?: CfnTemplate) => ({
      Resources: r ? { [logicalId]: attachedManagedPolicy(logicalId, r, template) } : {},
    });
    const iam = fullDiff(alone(before, base), alone(after, head)).iamChanges;
    const type = (after ?? before)!.Type;
    const identityPolicy = type === 'AWS::IAM::Policy' || type === 'AWS::IAM::ManagedPolicy';
    const resourceTarget = policyTarget(logicalId, (after ?? before)!);
    const targetOf = (s: IamStatement) => (identityPolicy ? s.principals.values.map((p) => p.replace(/^AWS:/, '').replace(/^\$\{([^}.]*)\}$/, '$1')).join(', ') : resourceTarget);
    for (const [list, kind] of [[iam.statements.additions, 'added'], [iam.statements.removals, 'removed']] as const) {
      for (const statement of list) out.push({ change: kind, source: logicalId, target: targetOf(statement), statement });
    }
    for (const [list, kind] of [[iam.managedPolicies.additions, 'added'], [iam.managedPolicies.removals, 'removed']] as const) {
      for (const m of list) out.push({ change: kind, source: logicalId, target: m.identityArn.replace(/^\$\{([^}.]*)\}$/, '$1'), managedPolicyArn: m.managedPolicyArn });
    }
  });
  return out;
}

function mayHoldPolicy(r: CfnResource | undefined): boolean {
  if (!r) return false;
  const text = JSON.stringify(r.Properties ?? {});
  return text.includes('"Statement"') || text.includes('"ManagedPolicyArns"') || r.Type === 'AWS::Lambda::Permission';
}

/** A managed policy with no Roles, Users or Groups, given as its Roles those of the template that list it in ManagedPolicyArns. */
function attachedManagedPolicy(logicalId: string, r: CfnResource, template?: CfnTemplate): CfnResource {
  const p = r.Properties ?? {};
  if (r.Type !== 'AWS::IAM::ManagedPolicy' || p.Roles || p.Users || p.Groups) return r;
  const roles = Object.entries(template?.Resources ?? {})
    .filter(([, x]) => x?.Type === 'AWS::IAM::Role' && asArray(x.Properties?.ManagedPolicyArns).some((a) => refOf(a) === logicalId))
    .map(([id]) => ({ Ref: id }));
  return { ...r, Properties: { ...p, Roles: roles.length > 0 ? roles : [{ Ref: logicalId }] } };
}

/** The resource a resource policy is on (`Bucket`, `Queues`, ...), else the resource itself (its own policy). */
function policyTarget(logicalId: string, r: CfnResource): string {
  const key = POLICY_TARGET_PROPERTIES.find((k) => r.Properties?.[k] !== undefined);
  if (!key) return logicalId;
  const value = r.Properties![key];
  return (Array.isArray(value) ? value : [value]).map((v) => refOf(v) ?? (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

/** What a policy is called in a finding: its logical id, or for a policy held by the target itself what kind it is. */
function policyLabel(c: IamChange, typeOf: (id: string) => string): string {
  if (c.source !== c.target) return c.source;
  if (c.managedPolicyArn) return 'managed policies';
  const type = typeOf(c.target);
  if (['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(type)) {
    return c.statement!.principals.values.every((p) => p === `AWS:\${${c.target}}`) ? 'inline policies' : 'trust policy';
  }
  return `${type.split('::').pop()!.toLowerCase()} policy`;
}

/** A statement (or part of one) added or removed, as a finding lists it. */
interface IamPart {
  readonly change: 'added' | 'removed';
  readonly effect: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly principals: readonly string[];
  readonly condition?: unknown;
}

function partOf(c: IamChange): IamPart {
  const s = c.statement!;
  return {
    change: c.change,
    effect: s.effect,
    condition: s.condition,
    actions: s.actions.values,
    resources: s.resources.values,
    principals: s.principals.values,
  };
}

/**
 * A statement replaced by one that differs only in its actions (or only in its resources), as what was added and what
 * was removed: CDK merges statements, so a grant of one more action replaces a statement.
 */
function splitReplaced(added: IamPart, removed: IamPart): IamPart[] | undefined {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
  if (added.effect !== removed.effect || !same(added.principals, removed.principals)
    || JSON.stringify(added.condition ?? null) !== JSON.stringify(removed.condition ?? null)) return undefined;
  const minus = (a: readonly string[], b: readonly string[]) => a.filter((x) => !b.includes(x));
  const field = same(added.resources, removed.resources) ? 'actions' : same(added.actions, removed.actions) ? 'resources' : undefined;
  if (!field) return undefined;
  return [
    { ...added, [field]: minus(added[field], removed[field]) },
    { ...removed, [field]: minus(removed[field], added[field]) },
  ].filter((p) => p[field].length > 0);
}

/**
 * One finding per target: the policies that changed on it and what each statement grants or no longer grants. A
 * statement moved between two policies of the same target is no change.
 */
function iamFindings(stackId: string, changes: readonly IamChange[], typeOf: (id: string) => string): SecurityFinding[] {
  const byTarget = new Map<string, IamChange[]>();
  for (const c of changes) byTarget.set(c.target, [...byTarget.get(c.target) ?? [], c]);
  const out: SecurityFinding[] = [];
  for (const [target, list] of byTarget) {
    const key = (c: IamChange) => (c.statement ? JSON.stringify(c.statement.render()) : `managed:${c.managedPolicyArn}`);
    const added = list.filter((c) => c.change === 'added');
    const removed = list.filter((c) => c.change === 'removed');
    const moved = new Set<IamChange>();
    for (const a of added) {
      const r = removed.find((x) => !moved.has(x) && key(x) === key(a));
      if (r) moved.add(a).add(r);
    }
    const real = list.filter((c) => !moved.has(c));
    if (real.length === 0) continue;
    const statements = real.filter((c) => c.statement);
    const parts: IamPart[] = [];
    const paired = new Set<IamChange>();
    for (const a of statements.filter((c) => c.change === 'added')) {
      for (const r of statements.filter((c) => c.change === 'removed' && !paired.has(c))) {
        const split = splitReplaced(partOf(a), partOf(r));
        if (!split) continue;
        parts.push(...split);
        paired.add(a).add(r);
        break;
      }
      if (!paired.has(a)) parts.push(partOf(a));
    }
    parts.push(...statements.filter((c) => c.change === 'removed' && !paired.has(c)).map(partOf));
    const flags = new Set<string>();
    const own = `AWS:\${${target}}`;
    const texts = parts.map((p) => {
      const allow = p.effect === 'Allow';
      const condition = conditionText(p.condition);
      const principal = p.principals.length > 0 && !p.principals.every((x) => x === own) ? ` to ${p.principals.join(', ')}` : '';
      const where = `${p.actions.join(', ')} on ${p.resources.join(', ')}${principal}${condition ? ` when ${condition}` : ''}`;
      if (p.change === 'removed') return `removes ${p.effect} ${where}`;
      if (allow && p.actions.some((a) => a === '*' || /:\*$/.test(a))) flags.add('wildcard action');
      if (allow && p.resources.some(isWildcardResource)) flags.add('wildcard resource');
      if (allow && p.principals.some((x) => x === '*' || x === 'AWS:*')) flags.add('any principal');
      return `${allow ? 'grants' : 'adds a deny of'} ${where}`;
    });
    for (const c of real.filter((x) => x.managedPolicyArn)) texts.push(`${c.change === 'added' ? 'attaches' : 'detaches'} managed policy ${c.managedPolicyArn}`);
    const broadening = parts.some((p) => (p.change === 'added') === (p.effect === 'Allow'))
      || real.some((c) => c.managedPolicyArn && c.change === 'added');
    const sources = [...new Set(real.map((c) => policyLabel(c, typeOf)))];
    const kind = typeOf(target).includes('::') ? `${typeOf(target).split('::').pop()!.toLowerCase()} ` : '';
    out.push({
      stack: stackId,
      broadening,
      description: `${flags.size > 0 ? `**${[...flags].join(', ')}**: ` : ''}IAM on ${kind}${target} `
        + `(${sources.length > 1 ? 'policies' : 'policy'}: ${sources.join(', ')}): ${texts.join('; ')}`,
    });
  }
  return out;
}

/** Flagged broadening (wildcards, open to the internet, public exposure) first, then other broadening, then the rest. */
export function sortSecurity(findings: SecurityFinding[]): SecurityFinding[] {
  const rank = (f: SecurityFinding) => (f.broadening ? (f.description.startsWith('**') ? 0 : 1) : 2);
  return findings.map((f, i) => [f, i] as const).sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j).map(([f]) => f);
}

function requiredWildcard(s: { actions: { values: string[] }; resources: { values: string[] } }): RequiredWildcard | undefined {
  if (s.resources.values.some((r) => r !== '*') || s.actions.values.length === 0) return undefined;
  const rules = s.actions.values.map((a) => REQUIRED_WILDCARDS.find((w) => w.actions.includes(a)));
  if (rules.some((w) => !w)) return undefined;
  return { actions: s.actions.values, why: [...new Set(rules.map((w) => w!.why))].join('; ') };
}

/** A deny of requests without TLS (`aws:SecureTransport` false): hardening, never broadening. */
function isTlsDeny(s: { effect: string; condition?: any }): boolean {
  return s.effect === 'Deny' && ['false', false].includes(s.condition?.Bool?.['aws:SecureTransport']);
}

/**
 * `*` as a resource, or in an ARN where it widens beyond one resource: the account, region or resource name
 * (`arn:aws:s3:::*\/*`, `arn:aws:ecr:us-east-1:*:repository/*`); an object-key pattern under a named bucket or prefix
 * (`arn:aws:s3:::models/served/*`) is not.
 */
export function isWildcardResource(resource: string): boolean {
  if (resource === '*') return true;
  if (!resource.startsWith('arn:')) return false;
  const parts = resource.split(':');
  if (parts.slice(0, 5).some((p) => p.includes('*'))) return true;
  const rest = parts.slice(5).join(':');
  const [first, second] = rest.split('/');
  if (parts[2] === 's3') return first.includes('*');
  return first.includes('*') || (second !== undefined && second.startsWith('*'));
}

/** `s3:prefix StringLike mlflow/*` for an IAM condition block; undefined when there is none. */
export function conditionText(condition: unknown): string | undefined {
  if (typeof condition !== 'object' || condition === null) return undefined;
  const parts: string[] = [];
  for (const [operator, keys] of Object.entries(condition as Record<string, any>)) {
    if (typeof keys !== 'object' || keys === null) continue;
    for (const [key, value] of Object.entries(keys)) {
      const values = (Array.isArray(value) ? value : [value]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      parts.push(`${key} ${operator} ${values.join(' or ')}`);
    }
  }
  return parts.length > 0 ? parts.join(' and ') : undefined;
}

/** A statement with the logical ids it names blanked: equal keys mean the same grant on renamed resources. */
function repointKey(s: { render: () => object }, typeOf: (logicalId: string) => string): string {
  return JSON.stringify(s.render()).replace(/\$\{([^}.]*)([^}]*)\}/g, (_m, id: string, attr: string) => `\${${typeOf(id)}${attr}}`);
}

/** The logical ids a rendered statement names (`${Id}`, `${Id.Arn}`). */
function namedIds(s: { render: () => object }): string[] {
  return [...JSON.stringify(s.render()).matchAll(/\$\{([^}.]*)[^}]*\}/g)].map((m) => m[1]);
}

function prefixLength(cidr: string): number {
  const bits = Number(cidr.split('/')[1]);
  return Number.isFinite(bits) ? bits : 32;
}

function exposureFindings(stackId: string, diff: TemplateDiff): SecurityFinding[] {
  const out: SecurityFinding[] = [];
  diff.resources.forEachDifference((logicalId: string, change: ResourceDifference) => {
    const type = change.newResourceType;
    const before = (change.oldValue?.Properties ?? {}) as Record<string, any>;
    const after = (change.newValue?.Properties ?? {}) as Record<string, any>;
    if (!change.newValue) return;
    if (type === 'AWS::ElasticLoadBalancingV2::LoadBalancer') {
      const scheme = (p: Record<string, any>) => p.Scheme ?? 'internet-facing';
      if (scheme(after) === 'internet-facing' && (!change.oldValue || scheme(before) !== 'internet-facing')) {
        out.push({ stack: stackId, broadening: true, description: `**public exposure**: load balancer ${logicalId} is internet-facing` });
      }
    }
    if (type === 'AWS::S3::Bucket') {
      const block = (p: Record<string, any>) => p.PublicAccessBlockConfiguration ?? {};
      const keys = ['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'];
      const loosened = keys.filter((k) => block(before)[k] === true && block(after)[k] !== true);
      if (change.oldValue && loosened.length > 0) {
        out.push({ stack: stackId, broadening: true, description: `**public exposure**: bucket ${logicalId} no longer sets ${loosened.join(', ')}` });
      }
    }
  });
  return out;
}

/** Rollout weights, scaling bounds, GPU capacity and instance types, one line each. */
export function mlChanges(stackId: string, base: CfnTemplate | undefined, head: CfnTemplate | undefined): MlChange[] {
  const out: MlChange[] = [];
  const b = base?.Resources ?? {};
  const h = head?.Resources ?? {};
  const line = (kind: MlChange['kind'], text: string) => out.push({ stack: stackId, kind, line: text });
  for (const id of new Set([...Object.keys(b), ...Object.keys(h)])) {
    const before = b[id];
    const after = h[id];
    const type = after?.Type ?? before?.Type;
    if (type === 'AWS::ElasticLoadBalancingV2::Listener' || type === 'AWS::ElasticLoadBalancingV2::ListenerRule') {
      const key = type.endsWith('Listener') ? 'DefaultActions' : 'Actions';
      const w = weightChange(listenerWeights(before?.Properties?.[key]), listenerWeights(after?.Properties?.[key]));
      if (w) line('rollout', `${id}: traffic weights ${w}`);
    } else if (type === 'AWS::SageMaker::Endpoint') {
      const name = modelName(after ?? before!, id);
      if (!before) {line('served-model', `served model added: ${name}`);} else if (!after) {line('served-model', `served model removed: ${name} (endpoint ${id} is deleted, its traffic fails)`);} else {
        const d = deploymentChange(before.Properties?.DeploymentConfig, after.Properties?.DeploymentConfig);
        if (d) line('deployment', `${id}: deployment ${d}`);
      }
    } else if (type === 'AWS::SageMaker::Model' && before && after) {
      const artifact = (r: CfnResource) => modelArtifact(r);
      if (artifact(before) !== artifact(after)) line('model-version', `${modelName(after, id)}: model ${artifact(before)} → ${artifact(after)}`);
    } else if (type === 'AWS::SageMaker::EndpointConfig') {
      const weights = (r?: CfnResource) => Object.fromEntries(asArray(r?.Properties?.ProductionVariants)
        .map((v) => [String(v.VariantName), num(v.InitialVariantWeight) ?? 1]));
      const w = weightChange(before ? weights(before) : {}, after ? weights(after) : {});
      if (w && before && after) line('rollout', `${id}: variant weights ${w}`);
      const types = (r?: CfnResource) => asArray(r?.Properties?.ProductionVariants).map((v) => `${v.VariantName}=${v.InstanceType}`).join(', ');
      if (before && after && types(before) !== types(after)) line('instance-type', `${id}: variant instance types ${types(before)} → ${types(after)}`);
    } else if (type === 'AWS::AutoScaling::AutoScalingGroup') {
      const cap = (r?: CfnResource, all?: Record<string, CfnResource>) => (r ? asgCapacity(r, all ?? {}) : undefined);
      capacityLines(id, 'Auto Scaling group', cap(before, b), cap(after, h), line);
    } else if (type === 'AWS::Batch::ComputeEnvironment') {
      const cap = (r?: CfnResource) => (r ? batchCapacity(r.Properties ?? {}) : undefined);
      const vcpus = (r?: CfnResource) => r?.Properties?.ComputeResources;
      const bv = vcpus(before);
      const hv = vcpus(after);
      if (bv && hv && (bv.MinvCpus !== hv.MinvCpus || bv.MaxvCpus !== hv.MaxvCpus)) {
        line('scaling', `${id}: Batch vCPUs ${bv.MinvCpus ?? 0}-${bv.MaxvCpus} → ${hv.MinvCpus ?? 0}-${hv.MaxvCpus}`);
      }
      capacityLines(id, 'Batch compute environment', cap(before), cap(after), line, false);
    } else if (type === 'AWS::ApplicationAutoScaling::ScalableTarget' && before && after) {
      const bounds = (r: CfnResource) => `${r.Properties?.MinCapacity}-${r.Properties?.MaxCapacity}`;
      if (bounds(before) !== bounds(after)) line('scaling', `${id}: scalable target capacity ${bounds(before)} → ${bounds(after)}`);
    }
  }
  const gpus = (r: Record<string, CfnResource>) => totalGpus(r);
  if (gpus(b) !== gpus(h)) line('gpu-capacity', `GPUs at maximum capacity ${gpus(b)} → ${gpus(h)}`);
  return out;
}

type Capacity = ReturnType<typeof asgCapacity>;

function capacityLines(id: string, what: string, before: Capacity | undefined, after: Capacity | undefined,
  line: (kind: MlChange['kind'], text: string) => void, bounds = true): void {
  if (!before || !after) return;
  if (bounds && (before.min !== after.min || before.max !== after.max)) {
    line('scaling', `${id}: ${what} size ${before.min}-${before.max} → ${after.min}-${after.max}`);
  }
  if (before.instanceType !== after.instanceType) {
    line('instance-type', `${id}: ${what} instance type ${describeType(before.instanceType)} → ${describeType(after.instanceType)}`);
  }
}

function describeType(instanceType: string | undefined): string {
  if (!instanceType) return 'unresolved';
  if (!GpuInstance.isKnown(instanceType)) return instanceType;
  const i = GpuInstance.of(instanceType);
  return i.accelerators > 0 ? `${instanceType} (${i.accelerators} x ${i.acceleratorModel})` : instanceType;
}

/** NVIDIA GPUs at maximum capacity over ASGs, Batch environments and SageMaker variants (at their autoscaling maximum). */
export function totalGpus(resources: Record<string, CfnResource>): number {
  let total = 0;
  const scaling = variantScaling(resources);
  const add = (type: string | undefined, count: number) => {
    if (type && GpuInstance.isKnown(type)) total += GpuInstance.of(type).gpus * count;
  };
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::AutoScaling::AutoScalingGroup') {
      const c = asgCapacity(r, resources);
      add(c.instanceType, c.max);
    } else if (r.Type === 'AWS::Batch::ComputeEnvironment') {
      const c = batchCapacity(r.Properties ?? {});
      if (c) add(c.instanceType, c.max);
    } else if (r.Type === 'AWS::SageMaker::EndpointConfig') {
      for (const v of asArray(r.Properties?.ProductionVariants)) {
        add(stripMl(v.InstanceType), scaling.get(`${id}/${v.VariantName}`)?.max ?? num(v.InitialInstanceCount) ?? 0);
      }
    }
  }
  return total;
}

/** Target group weights of forward actions, by target group logical id (or ARN). */
function listenerWeights(actions: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const action of asArray(actions)) {
    if (action?.TargetGroupArn !== undefined) out[refOf(action.TargetGroupArn) ?? String(action.TargetGroupArn)] = 1;
    for (const tg of asArray(action?.ForwardConfig?.TargetGroups)) {
      const name = refOf(tg.TargetGroupArn) ?? String(tg.TargetGroupArn);
      out[name] = num(tg.Weight) ?? 1;
    }
  }
  return out;
}

/** `a 90→80, b 10→20` when weights differ, for two maps of weights; undefined when equal. */
export function weightChange(before: Record<string, number>, after: Record<string, number>): string | undefined {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changed = names.filter((n) => before[n] !== after[n]);
  if (changed.length === 0 || Object.keys(before).length === 0 || Object.keys(after).length === 0) return undefined;
  return names.map((n) => `${n} ${before[n] ?? '-'}→${after[n] ?? '-'}`).join(', ');
}

/** The served model's name: its `mlops:model` tag, else the logical id. */
function modelName(r: CfnResource, id: string): string {
  const tag = asArray(r.Properties?.Tags).find((t) => t?.Key === 'mlops:model')?.Value;
  return typeof tag === 'string' ? tag : id;
}

/** What a SageMaker model serves: its artifact (ModelDataUrl) or image, as the template states it. */
function modelArtifact(r: CfnResource): string {
  const containers = [r.Properties?.PrimaryContainer, ...asArray(r.Properties?.Containers)].filter((c) => c);
  const show = (v: unknown) => (v === undefined ? '-' : joined(v, (ref) => `{${ref}}`) ?? 'a deploy-time value');
  return containers.map((c) => show(c.ModelDataUrl ?? c.ModelDataSource?.S3DataSource?.S3Uri ?? c.Image)).join(', ') || '-';
}

/** `canary 10% → 25%, bake 600s → 300s, rollback alarms 2 → 0`: what a SageMaker endpoint's deployment config changes. */
export function deploymentChange(before: any, after: any): string | undefined {
  const describe = (d: any) => {
    const bg = d?.BlueGreenUpdatePolicy;
    const t = bg?.TrafficRoutingConfiguration;
    const size = (s: any) => (s ? `${s.Value}${s.Type === 'CAPACITY_PERCENT' ? '%' : ' instance(s)'}` : '-');
    const rolling = d?.RollingUpdatePolicy;
    return {
      'traffic routing': t?.Type ?? (rolling ? 'ROLLING' : 'ALL_AT_ONCE'),
      'canary': size(t?.CanarySize),
      'linear step': size(t?.LinearStepSize),
      'rolling batch': size(rolling?.MaximumBatchSize),
      'bake': t?.WaitIntervalInSeconds !== undefined ? `${t.WaitIntervalInSeconds}s` : rolling?.WaitIntervalInSeconds !== undefined ? `${rolling.WaitIntervalInSeconds}s` : '-',
      'termination wait': bg?.TerminationWaitInSeconds !== undefined ? `${bg.TerminationWaitInSeconds}s` : '-',
      'timeout': (bg ?? rolling)?.MaximumExecutionTimeoutInSeconds !== undefined ? `${(bg ?? rolling).MaximumExecutionTimeoutInSeconds}s` : '-',
      'rollback alarms': String(asArray(d?.AutoRollbackConfiguration?.Alarms).length),
    } as Record<string, string>;
  };
  const b = describe(before);
  const a = describe(after);
  const changed = Object.keys(b).filter((k) => b[k] !== a[k]).map((k) => `${k} ${b[k]} → ${a[k]}`);
  return changed.length > 0 ? changed.join(', ') : undefined;
}

/** Replacements that lose no data (the guard reports the others), one line per resource type. */
export function replacementChanges(stackId: string, changes: readonly ResourceChange[]): MlChange[] {
  const byType = new Map<string, ResourceChange[]>();
  for (const c of changes) {
    if (c.stateful || (c.kind !== ChangeKind.REPLACED && c.kind !== ChangeKind.MAY_BE_REPLACED)) continue;
    byType.set(c.type, [...byType.get(c.type) ?? [], c]);
  }
  return [...byType].map(([type, list]) => ({
    stack: stackId,
    kind: 'replacement' as const,
    line: `${list.length} ${type} ${list.every((c) => c.kind === ChangeKind.MAY_BE_REPLACED) ? 'may be replaced' : 'replaced'} (no data held): `
      + list.map((c) => c.logicalId).join(', '),
  }));
}
