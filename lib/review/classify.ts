import { fullDiff, ResourceDifference, ResourceImpact, TemplateDiff } from '@aws-cdk/cloudformation-diff';
import { GpuInstance, TAG_KEYS } from '../core';
import { CfnResource, CfnTemplate, StackTemplate } from './assembly';
import { asArray, asgCapacity, batchCapacity, joined, num, refOf, stripMl, variantScaling } from './cost-delta';
import { describeWeakening, isDevelopmentEnvironment, isServedStateParameter, ProtectionWeakening, weakenedProtections } from './protective';

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
    out.push({
      stack: stackId,
      logicalId,
      type: change.oldResourceType ?? 'unknown',
      path: c.path,
      kind: 'protection-weakened',
      reason: `${text}${policyOnly ? ': deleting the stack or replacing the resource would now delete its data' : ''}`,
      weakened,
      allowedBy: allowedBy(c),
      warning: development || undefined,
    });
  });
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
 * IAM, security-group and public-exposure changes, from `TemplateDiff.iamChanges` and `securityGroupChanges`
 * plus load balancer schemes and S3 public access blocks.
 */
export function securityFindings(stackId: string, diff: TemplateDiff, base?: CfnTemplate, head?: CfnTemplate): SecurityFinding[] {
  const out: SecurityFinding[] = [];
  const iam = diff.iamChanges;
  // A statement removed and one added that differ only in the logical ids they point to (ids of the same types), where
  // the removed one named a resource gone from the head, is the same grant re-pointed (a construct renamed or moved):
  // unchanged access.
  const typeOf = (id: string) => head?.Resources?.[id]?.Type ?? base?.Resources?.[id]?.Type ?? id;
  const removedKeys = new Map<string, number>();
  for (const s of iam.statements.removals) {
    if (!namedIds(s).some((id) => head?.Resources?.[id] === undefined)) continue; // nothing it named was renamed
    const key = repointKey(s, typeOf);
    removedKeys.set(key, (removedKeys.get(key) ?? 0) + 1);
  }
  const repointed = new Map<string, number>();
  for (const s of iam.statements.additions) {
    const key = repointKey(s, typeOf);
    if ((removedKeys.get(key) ?? 0) > 0) {
      removedKeys.set(key, removedKeys.get(key)! - 1);
      repointed.set(key, (repointed.get(key) ?? 0) + 1);
      out.push({ stack: stackId, broadening: false, repointed: true, description: 'IAM statement re-pointed to renamed resources (unchanged access)' });
      continue;
    }
    if (isTlsDeny(s)) continue; // hardening: requests without TLS are refused
    const r = flat(s.render());
    const allow = s.effect === 'Allow';
    const required = allow ? requiredWildcard(s) : undefined;
    if (required) {
      out.push({ stack: stackId, broadening: false, required, description: `required wildcard: ${s.actions.values.join(', ')} on *` });
      continue;
    }
    const flags: string[] = [];
    if (allow && s.actions.values.some((a) => a === '*' || /:\*$/.test(a))) flags.push('wildcard action');
    if (allow && s.resources.values.some(isWildcardResource)) flags.push('wildcard resource');
    if (allow && s.principals.values.some((p) => p === '*' || p === 'AWS:*')) flags.push('any principal');
    const what = allow ? 'grants' : 'adds a deny of';
    const condition = conditionText(s.condition);
    out.push({
      stack: stackId,
      broadening: allow,
      description: `${flags.length > 0 ? `**${flags.join(', ')}**: ` : ''}IAM statement ${what} ${r.action} on ${r.resource}`
        + `${s.principals.values.length > 0 ? ` to ${r.principal}` : ''}${condition ? ` when ${condition}` : ''}`,
    });
  }
  for (const s of iam.statements.removals) {
    const key = repointKey(s, typeOf);
    if ((repointed.get(key) ?? 0) > 0) {
      repointed.set(key, repointed.get(key)! - 1);
      continue;
    }
    const r = flat(s.render());
    const condition = conditionText(s.condition);
    out.push({ stack: stackId, broadening: s.effect === 'Deny', description: `IAM statement removed: ${r.effect} ${r.action} on ${r.resource}${condition ? ` when ${condition}` : ''}` });
  }
  for (const m of iam.managedPolicies.additions) {
    out.push({ stack: stackId, broadening: true, description: `Managed policy ${m.managedPolicyArn} attached to ${m.identityArn}` });
  }
  for (const m of iam.managedPolicies.removals) {
    out.push({ stack: stackId, broadening: false, description: `Managed policy ${m.managedPolicyArn} detached from ${m.identityArn}` });
  }
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

/** A rendered statement on one line (the diff library joins lists with newlines). */
function flat<T extends object>(rendered: T): T {
  return Object.fromEntries(Object.entries(rendered).map(([k, v]) => [k, typeof v === 'string' ? v.split('\n').join(', ') : v])) as T;
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
