/**
 * Walks the IAM of one environment as CloudFormation will create it, across all its templates (data, platform, nested
 * stacks), to test security claims as claims ("who can do what"), not as the presence of a resource.
 *
 * References are rendered symbolically and consistently across stacks: `{<template>:<LogicalId>}` for a Ref,
 * `{<template>:<LogicalId>.<Attr>}` for a GetAtt (exports and nested-stack parameters are followed to the resource
 * they name), pseudo parameters as `aws`, `123456789012`, `us-east-1`.
 *
 * `allows(role, action, resource, context)` evaluates a request the way IAM does for one principal: an explicit deny in
 * the identity policies or the permissions boundary wins, then an allow is needed in both. Conditions are evaluated
 * against `context`; an operator this walker does not know makes an Allow match and a Deny not match, so a "cannot"
 * claim is never proven by an unknown. AWS managed policies the walker does not know allow everything (then only the
 * boundary and denies limit them): again, never in favour of a "cannot" claim.
 */
import * as fs from 'fs';
import * as path from 'path';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string[];
  readonly NotAction?: string[];
  readonly Resource?: string[];
  readonly NotResource?: string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Principal?: unknown;
  readonly Sid?: string;
}

export interface RoleInfo {
  /** `<template>:<LogicalId>` */
  readonly id: string;
  readonly template: string;
  readonly logicalId: string;
  /** Symbolic ARN (`{<template>:<LogicalId>.Arn}`) and name (`{<template>:<LogicalId>}`). */
  readonly arn: string;
  readonly name: string;
  readonly tags: Record<string, string>;
  readonly trust: Statement[];
  readonly identity: Statement[];
  /** Managed policy ARNs the walker could not read (AWS managed policies). */
  readonly opaquePolicies: string[];
  readonly boundary?: Statement[];
  readonly boundaryArn?: string;
}

export interface RequestContext { [key: string]: string | string[] | boolean | undefined }

interface Template { readonly name: string; readonly json: any }

/** The templates of one environment in an assembly directory: `<stackId>.template.json` and its nested templates. */
export function environmentTemplates(outdir: string, stackArtifactPrefixes: string[]): Template[] {
  const files = fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
  return files
    .filter((f) => stackArtifactPrefixes.some((p) => f.startsWith(p)))
    .map((f) => ({ name: f.replace(/\.(nested\.)?template\.json$/, ''), json: JSON.parse(fs.readFileSync(path.join(outdir, f), 'utf8')) }));
}

export class IamWalk {
  public readonly roles: RoleInfo[];
  private readonly templates: Map<string, Template>;
  private readonly exports = new Map<string, { template: string; value: unknown }>();
  /** Parameters of nested templates, as passed by the parent: template → parameter → rendered value. */
  private readonly nestedParameters = new Map<string, Record<string, string>>();

  constructor(templates: Template[]) {
    this.templates = new Map(templates.map((t) => [t.name, t]));
    for (const t of templates) {
      for (const output of Object.values<any>(t.json.Outputs ?? {})) {
        const exportName = output.Export?.Name;
        if (typeof exportName === 'string') this.exports.set(exportName, { template: t.name, value: output.Value });
      }
    }
    for (const t of templates) {
      for (const [, res] of Object.entries<any>(t.json.Resources ?? {})) {
        if (res.Type !== 'AWS::CloudFormation::Stack') continue;
        const nested = this.nestedTemplateName(res);
        if (!nested) continue;
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.Properties?.Parameters ?? {})) params[k] = this.render(t.name, v);
        this.nestedParameters.set(nested, params);
      }
    }
    this.roles = templates.flatMap((t) => this.rolesOf(t));
  }

  /** All resources of a type across the environment, with their template. */
  public resources(type: string): Array<{ template: string; logicalId: string; properties: any; resource: any }> {
    const out = [];
    for (const t of this.templates.values()) {
      for (const [logicalId, res] of Object.entries<any>(t.json.Resources ?? {})) {
        if (res.Type === type) out.push({ template: t.name, logicalId, properties: res.Properties ?? {}, resource: res });
      }
    }
    return out;
  }

  /** Renders a template value to a string, references symbolic. */
  public render(template: string, value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (Array.isArray(value)) return value.map((v) => this.render(template, v)).join(',');
    const v = value as Record<string, any>;
    if (!v) return '';
    if (v.Ref !== undefined) return this.ref(template, v.Ref);
    if (v['Fn::GetAtt']) {
      const [id, attr] = Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'] : String(v['Fn::GetAtt']).split('.');
      return this.getAtt(template, id, attr);
    }
    if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map((p) => this.render(template, p)).join(v['Fn::Join'][0]);
    if (v['Fn::ImportValue']) {
      const name = this.render(template, v['Fn::ImportValue']);
      const exported = this.exports.get(name);
      return exported ? this.render(exported.template, exported.value) : `{import:${name}}`;
    }
    if (v['Fn::Select']) {
      const [index, list] = v['Fn::Select'];
      const items = Array.isArray(list) ? list.map((x: unknown) => this.render(template, x)) : this.render(template, list).split(',');
      return items[Number(index)] ?? `{select:${index}}`;
    }
    if (v['Fn::Split']) {
      const [sep, source] = v['Fn::Split'];
      return this.render(template, source).split(sep).join(',');
    }
    if (v['Fn::Sub']) {
      const [text, vars] = Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'] : [v['Fn::Sub'], {}];
      return String(text).replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
        if (vars[name] !== undefined) return this.render(template, vars[name]);
        if (name.includes('.')) {
          const [id, attr] = name.split('.');
          return this.getAtt(template, id, attr);
        }
        return this.ref(template, name);
      });
    }
    if (v['Fn::GetAZs'] !== undefined) return 'us-east-1a,us-east-1b,us-east-1c';
    return JSON.stringify(v);
  }

  /** The role whose logical id matches (a regex or a substring), failing when not exactly one. */
  public role(match: RegExp | string): RoleInfo {
    const found = this.roles.filter((r) => (typeof match === 'string' ? r.logicalId.includes(match) : match.test(r.logicalId)));
    if (found.length !== 1) throw new Error(`expected one role matching ${match}, found ${found.map((r) => r.id).join(', ') || 'none'}`);
    return found[0];
  }

  /** Whether `role` may call `action` on `resource` in `context` (with `extraPolicies` attached, e.g. the brake's deny policy). */
  public allows(role: RoleInfo, action: string, resource: string, context: RequestContext = {}, extraPolicies: Statement[] = []): boolean {
    const ctx = normalizeContext({ 'aws:PrincipalArn': role.arn, ...principalTags(role), ...context });
    const identity = [...role.identity, ...extraPolicies];
    const denied = [...identity, ...(role.boundary ?? [])].some((s) => s.Effect === 'Deny' && matches(s, action, resource, ctx, 'deny'));
    if (denied) return false;
    const allowed = role.opaquePolicies.length > 0 || identity.some((s) => s.Effect === 'Allow' && matches(s, action, resource, ctx, 'allow'));
    if (!allowed) return false;
    if (!role.boundary) return true;
    return role.boundary.some((s) => s.Effect === 'Allow' && matches(s, action, resource, ctx, 'allow'));
  }

  /** The symbolic ARN a policy uses for a resource: `{<template>:<LogicalId>.<Attr>}` of the first resource whose id matches. */
  public symbol(type: string, match: RegExp, attr?: string): string {
    const found = this.resources(type).filter((r) => match.test(r.logicalId));
    if (found.length === 0) throw new Error(`no ${type} matching ${match}`);
    return attr ? `{${found[0].template}:${found[0].logicalId}.${attr}}` : `{${found[0].template}:${found[0].logicalId}}`;
  }

  /** Statements of a policy document, normalized (arrays, rendered). */
  public statements(template: string, document: any): Statement[] {
    const raw = Array.isArray(document?.Statement) ? document.Statement : document?.Statement ? [document.Statement] : [];
    return raw.map((s: any) => ({
      Sid: s.Sid,
      Effect: s.Effect,
      Principal: s.Principal,
      Action: s.Action === undefined ? undefined : asList(s.Action).map((a) => this.render(template, a)),
      NotAction: s.NotAction === undefined ? undefined : asList(s.NotAction).map((a) => this.render(template, a)),
      Resource: s.Resource === undefined ? undefined : asList(s.Resource).map((r) => this.render(template, r)),
      NotResource: s.NotResource === undefined ? undefined : asList(s.NotResource).map((r) => this.render(template, r)),
      Condition: s.Condition === undefined ? undefined : mapValues(s.Condition, (byKey: any) => mapValues(byKey,
        (values: unknown) => (Array.isArray(values) ? values.map((x) => this.render(template, x)) : this.render(template, values)))),
    }));
  }

  private rolesOf(t: Template): RoleInfo[] {
    const resources = Object.entries<any>(t.json.Resources ?? {});
    const policiesByRole = new Map<string, Statement[]>();
    const managedByArn = new Map<string, { template: string; document: any }>();
    for (const tt of this.templates.values()) {
      for (const [id, res] of Object.entries<any>(tt.json.Resources ?? {})) {
        if (res.Type === 'AWS::IAM::ManagedPolicy') managedByArn.set(`{${tt.name}:${id}}`, { template: tt.name, document: res.Properties.PolicyDocument });
      }
    }
    // Policies that name their roles (AWS::IAM::Policy, AWS::IAM::ManagedPolicy with Roles), from any template.
    for (const tt of this.templates.values()) {
      for (const [, res] of Object.entries<any>(tt.json.Resources ?? {})) {
        if (res.Type !== 'AWS::IAM::Policy' && res.Type !== 'AWS::IAM::ManagedPolicy') continue;
        for (const roleRef of res.Properties.Roles ?? []) {
          const key = this.render(tt.name, roleRef);
          policiesByRole.set(key, [...(policiesByRole.get(key) ?? []), ...this.statements(tt.name, res.Properties.PolicyDocument)]);
        }
      }
    }
    return resources.filter(([, r]) => r.Type === 'AWS::IAM::Role').map(([logicalId, r]) => {
      const props = r.Properties ?? {};
      const name = props.RoleName !== undefined ? this.render(t.name, props.RoleName) : `{${t.name}:${logicalId}}`;
      const identity: Statement[] = [...(policiesByRole.get(`{${t.name}:${logicalId}}`) ?? []), ...(policiesByRole.get(name) ?? [])];
      for (const inline of props.Policies ?? []) identity.push(...this.statements(t.name, inline.PolicyDocument));
      const opaque: string[] = [];
      for (const arnValue of props.ManagedPolicyArns ?? []) {
        const arn = this.render(t.name, arnValue);
        const managed = managedByArn.get(arn);
        const known = Object.entries(KNOWN_AWS_POLICIES).find(([suffix]) => arn.endsWith(suffix));
        if (managed) identity.push(...this.statements(managed.template, managed.document));
        else if (known) identity.push(...known[1]);
        else opaque.push(arn);
      }
      let boundary: Statement[] | undefined;
      let boundaryArn: string | undefined;
      if (props.PermissionsBoundary !== undefined) {
        boundaryArn = this.render(t.name, props.PermissionsBoundary);
        const managed = managedByArn.get(boundaryArn);
        boundary = managed ? this.statements(managed.template, managed.document) : [];
      }
      const tags: Record<string, string> = {};
      for (const tag of props.Tags ?? []) tags[tag.Key] = this.render(t.name, tag.Value);
      return {
        id: `${t.name}:${logicalId}`,
        template: t.name,
        logicalId,
        arn: `{${t.name}:${logicalId}.Arn}`,
        name,
        tags,
        trust: this.statements(t.name, props.AssumeRolePolicyDocument),
        identity,
        opaquePolicies: opaque.filter((a) => !KNOWN_HARMLESS.some((k) => a.endsWith(k))),
        boundary,
        boundaryArn,
      };
    });
  }

  private ref(template: string, name: string): string {
    if (name === 'AWS::Partition') return 'aws';
    if (name === 'AWS::AccountId') return ACCOUNT;
    if (name === 'AWS::Region') return REGION;
    if (name === 'AWS::URLSuffix') return 'amazonaws.com';
    if (name === 'AWS::StackName') return `{${template}:StackName}`;
    const t = this.templates.get(template);
    const param = t?.json.Parameters?.[name];
    if (param) {
      const passed = this.nestedParameters.get(template)?.[name];
      if (passed !== undefined) return passed;
      return param.Default !== undefined ? String(param.Default) : `{${template}:${name}}`;
    }
    return `{${template}:${name}}`;
  }

  private getAtt(template: string, id: string, attr: string): string {
    const res = this.templates.get(template)?.json.Resources?.[id];
    // A nested stack's output is the value its template outputs.
    if (res?.Type === 'AWS::CloudFormation::Stack' && attr.startsWith('Outputs.')) {
      const nested = this.nestedTemplateName(res);
      const output = nested ? this.templates.get(nested)?.json.Outputs?.[attr.slice('Outputs.'.length)] : undefined;
      if (nested && output) return this.render(nested, output.Value);
    }
    return `{${template}:${id}.${attr}}`;
  }

  private nestedTemplateName(res: any): string | undefined {
    const assetPath: string | undefined = res.Metadata?.['aws:asset:path'];
    return assetPath?.replace(/\.(nested\.)?template\.json$/, '');
  }
}

/** AWS managed policies the walker evaluates by their published statements (as of 2026). */
const KNOWN_AWS_POLICIES: Record<string, Statement[]> = {
  'policy/service-role/AmazonEC2ContainerServiceforEC2Role': [{
    Effect: 'Allow',
    Action: [
      'ec2:DescribeTags', 'ecs:CreateCluster', 'ecs:DeregisterContainerInstance', 'ecs:DiscoverPollEndpoint', 'ecs:Poll',
      'ecs:RegisterContainerInstance', 'ecs:StartTelemetrySession', 'ecs:UpdateContainerInstancesState', 'ecs:Submit*',
      'ecr:GetAuthorizationToken', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage',
      'logs:CreateLogStream', 'logs:PutLogEvents',
    ],
    Resource: ['*'],
  }, { Effect: 'Allow', Action: ['ecs:TagResource'], Resource: ['*'], Condition: { StringEquals: { 'ecs:CreateAction': ['CreateCluster', 'RegisterContainerInstance'] } } }],
  'policy/AmazonEKSWorkerNodePolicy': [{
    Effect: 'Allow',
    Action: [
      'ec2:DescribeInstances', 'ec2:DescribeInstanceTypes', 'ec2:DescribeRouteTables', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets',
      'ec2:DescribeVolumes', 'ec2:DescribeVolumesModifications', 'ec2:DescribeVpcs', 'eks:DescribeCluster', 'eks-auth:AssumeRoleForPodIdentity',
    ],
    Resource: ['*'],
  }],
  'policy/AmazonEKS_CNI_Policy': [{
    Effect: 'Allow',
    Action: [
      'ec2:AssignIpv6Addresses', 'ec2:AssignPrivateIpAddresses', 'ec2:AttachNetworkInterface', 'ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface',
      'ec2:DescribeInstances', 'ec2:DescribeTags', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeInstanceTypes', 'ec2:DescribeSubnets',
      'ec2:DetachNetworkInterface', 'ec2:ModifyNetworkInterfaceAttribute', 'ec2:UnassignPrivateIpAddresses',
    ],
    Resource: ['*'],
  }, { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: ['arn:aws:ec2:*:*:network-interface/*'] }],
};

/** AWS managed policies whose contents are known to grant nothing the claims care about (read-only or node basics). */
const KNOWN_HARMLESS = ['policy/SecurityAudit', 'policy/service-role/AWSLambdaBasicExecutionRole', 'policy/AmazonEC2ContainerRegistryPullOnly'];

function principalTags(role: RoleInfo): RequestContext {
  return Object.fromEntries(Object.entries(role.tags).map(([k, v]) => [`aws:PrincipalTag/${k}`, v]));
}

function normalizeContext(ctx: RequestContext): Map<string, string | string[] | boolean> {
  const out = new Map<string, string | string[] | boolean>();
  for (const [k, v] of Object.entries(ctx)) if (v !== undefined) out.set(k.toLowerCase(), v);
  return out;
}

function asList(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [x];
}

function mapValues<T, U>(o: Record<string, T>, f: (t: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

/** IAM wildcard match (`*`, `?`), case-insensitive for actions. */
export function wildcard(pattern: string, value: string, ignoreCase = false): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, ignoreCase ? 'is' : 's').test(value);
}

function matches(s: Statement, action: string, resource: string, ctx: Map<string, string | string[] | boolean>, as: 'allow' | 'deny'): boolean {
  const actionOk = s.Action ? s.Action.some((a) => wildcard(a, action, true)) : !(s.NotAction ?? []).some((a) => wildcard(a, action, true));
  if (!actionOk) return false;
  const resourceOk = s.Resource ? s.Resource.some((r) => wildcard(r, resource)) : !(s.NotResource ?? []).some((r) => wildcard(r, resource));
  if (!resourceOk) return false;
  return conditionsHold(s.Condition, ctx, as);
}

function conditionsHold(condition: Statement['Condition'], ctx: Map<string, string | string[] | boolean>, as: 'allow' | 'deny'): boolean {
  for (const [rawOperator, byKey] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(byKey)) {
      const result = evaluate(rawOperator, ctx.get(key.toLowerCase()), asList(expected).map(String));
      if (result === undefined) {
        if (as === 'deny') return false;
        continue;
      }
      if (!result) return false;
    }
  }
  return true;
}

/** One condition; undefined when the operator is unknown to this walker. */
function evaluate(rawOperator: string, actual: string | string[] | boolean | undefined, expected: string[]): boolean | undefined {
  let operator = rawOperator;
  let set: 'any' | 'all' | undefined;
  if (operator.startsWith('ForAnyValue:')) { set = 'any'; operator = operator.slice(12); }
  if (operator.startsWith('ForAllValues:')) { set = 'all'; operator = operator.slice(13); }
  const ifExists = operator.endsWith('IfExists');
  if (ifExists) operator = operator.slice(0, -8);
  if (operator === 'Null') {
    const isNull = actual === undefined;
    return expected.some((e) => (e === 'true') === isNull);
  }
  if (actual === undefined) {
    if (ifExists) return true;
    if (set === 'all') return true;
    return /^(StringNot|ArnNot)/.test(operator);
  }
  const values = Array.isArray(actual) ? actual.map(String) : [String(actual)];
  const one = (v: string): boolean | undefined => {
    switch (operator) {
      case 'StringEquals': case 'ArnEquals': return expected.includes(v);
      case 'StringEqualsIgnoreCase': return expected.some((e) => e.toLowerCase() === v.toLowerCase());
      case 'StringNotEquals': case 'ArnNotEquals': return !expected.includes(v);
      case 'StringLike': case 'ArnLike': return expected.some((e) => wildcard(e, v));
      case 'StringNotLike': case 'ArnNotLike': return !expected.some((e) => wildcard(e, v));
      case 'Bool': return expected.includes(v);
      default: return undefined;
    }
  };
  const results = values.map(one);
  if (results.some((r) => r === undefined)) return undefined;
  if (set === 'all') return results.every(Boolean);
  return results.some(Boolean);
}
