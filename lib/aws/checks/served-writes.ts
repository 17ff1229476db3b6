import { CfnResource, Stack, Stage } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { MLOPS_CHECK_TAGS } from './tag-contract';
import { tagsOf } from './template';
import { SERVED_WRITE_ACTIONS } from '../../core';

/**
 * Who can change what production serves, across every stack of an app (docs/design/served-models.md, claim 1).
 *
 * Served URIs are the `s3://` URIs that serving resources name in a models bucket (tag `mlops:purpose` = `models`):
 * every one a SageMaker model names (`ModelDataUrl`, `ModelDataSource`, its environment), and the one launch templates
 * and ECS task definitions pass as `MODEL_URI` (user data, container environment). Deploy-time values inside a URI (a served version read from SSM)
 * stand for any value.
 *
 * A role writes a served URI when an Allow in its identity policies (inline, `AWS::IAM::Policy` and
 * `AWS::IAM::ManagedPolicy` resources naming it, policies in its `ManagedPolicyArns`) or in the bucket policy matches a
 * write action (core's `SERVED_WRITE_ACTIONS`) on the URI's object, and no Deny that surely applies to the role (identity or
 * bucket policy; unconditional, or conditioned on `aws:PrincipalArn` not being the role) matches it. Allow conditions
 * and permission boundaries are not evaluated (they may only narrow an Allow), so the answer errs towards "writes".
 *
 * Every policy is resolved in the bucket's own stack, so a bucket referenced from another stack (an export, a nested
 * stack parameter) is recognised as the same bucket. Only the bucket's own Stage is walked (stacks of different Stages,
 * e.g. the environments of one pipeline app, cannot reference each other).
 */
export interface ServedUri {
  /** The resource serving it. */
  readonly servedBy: CfnResource;
  /** The models bucket. */
  readonly bucket: CfnResource;
  /** The object key, with `*` where it is resolved at deploy time. */
  readonly key: string;
}

export interface ServedWrite {
  readonly role: CfnResource;
  readonly uri: ServedUri;
  readonly action: string;
  /** Whether the bucket policy names this role as the only one exempt from its deny on these writes. */
  readonly designated: boolean;
}


const SERVING_TYPES = new Set(['AWS::SageMaker::Model', 'AWS::EC2::LaunchTemplate', 'AWS::ECS::TaskDefinition', 'AWS::AutoScaling::LaunchConfiguration']);
const POLICY_TYPES = new Set(['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']);

let cache = new WeakMap<IConstruct, ServedWrite[]>();

/** Forgets cached analyses; called when a validation run starts. */
export function clearServedWritesCache(): void {
  cache = new WeakMap();
}

/** Every (role, served URI, action) write in the app `scope` belongs to, cached for one validation run. */
export function servedWrites(scope: IConstruct): ServedWrite[] {
  const root = scope.node.root;
  let writes = cache.get(root);
  if (!writes) {
    writes = analyse(root);
    cache.set(root, writes);
  }
  return writes;
}

/** The served URIs of the app `scope` belongs to. */
export function servedUris(scope: IConstruct): ServedUri[] {
  const resources = cfnResources(scope.node.root);
  return modelsBuckets(resources).flatMap((bucket) => urisIn(bucket, sameStage(bucket, resources)));
}

/**
 * The resources that can reference `bucket`: same stage and same environment (CloudFormation references do not cross
 * environments, and resolving another environment's resource in the bucket's stack throws CannotUseCrossEnvironment).
 */
function sameStage(bucket: CfnResource, resources: CfnResource[]): CfnResource[] {
  const stage = Stage.of(bucket);
  const environment = Stack.of(bucket).environment;
  return resources.filter((r) => Stage.of(r) === stage && Stack.of(r).environment === environment);
}

function analyse(root: IConstruct): ServedWrite[] {
  const writes: ServedWrite[] = [];
  for (const bucket of modelsBuckets(cfnResources(root))) {
    const resources = sameStage(bucket, cfnResources(root));
    const roles = resources.filter((r) => r.cfnResourceType === 'AWS::IAM::Role');
    const uris = urisIn(bucket, resources);
    if (uris.length === 0) continue;
    const stack = Stack.of(bucket);
    const bucketPolicy = resources
      .filter((r) => r.cfnResourceType === 'AWS::S3::BucketPolicy')
      .map((r) => props(stack, r))
      .filter((p) => sameRef(p.Bucket, stack.resolve(bucket.ref)))
      .flatMap((p) => asArray(p.PolicyDocument?.Statement));
    const anchors = bucketAnchors(stack, bucket);
    for (const role of roles) {
      const roleArns = roleArnForms(stack, role);
      const identity = identityStatements(role, resources, stack);
      for (const uri of uris) {
        const objectArn = `${BUCKET_ARN}/${uri.key.replace(/\*/g, 'SAMPLE')}`;
        for (const action of SERVED_WRITE_ACTIONS) {
          const matches = (s: any) => actionMatches(s, action) && resourceMatches(s, objectArn, anchors);
          const allowed = identity.some((s) => s.Effect === 'Allow' && matches(s))
            || bucketPolicy.some((s) => s.Effect === 'Allow' && principalMatches(s.Principal, roleArns) && matches(s));
          if (!allowed) continue;
          const denies = [...identity.filter((s) => s.Effect === 'Deny'), ...bucketPolicy.filter((s) => s.Effect === 'Deny' && principalMatches(s.Principal, roleArns))];
          if (denies.some((s) => matches(s) && surelyApplies(s.Condition, roleArns))) continue;
          const designated = bucketPolicy.some((s) => s.Effect === 'Deny' && matches(s) && exempts(s.Condition, roleArns));
          writes.push({ role, uri, action, designated });
        }
      }
    }
  }
  return writes;
}

function cfnResources(root: IConstruct): CfnResource[] {
  return root.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c));
}

function modelsBuckets(resources: CfnResource[]): CfnResource[] {
  return resources.filter((r) => r.cfnResourceType === 'AWS::S3::Bucket'
    && tagsOf(props(Stack.of(r), r))[MLOPS_CHECK_TAGS.purpose] === 'models');
}

/** The properties of `node` as CloudFormation would see them in `stack` (references to `stack`'s resources as Ref/GetAtt). */
function props(stack: Stack, node: CfnResource): Record<string, any> {
  const rendered = stack.resolve((node as unknown as { _toCloudFormation(): object })._toCloudFormation()) as {
    Resources?: Record<string, { Properties?: Record<string, any> }>;
  };
  return Object.values(rendered.Resources ?? {})[0]?.Properties ?? {};
}

const BUCKET_ARN = 'arn:aws:s3:::the-models-bucket';

/** The forms a reference to the bucket takes once flattened, and what they stand for. */
function bucketAnchors(stack: Stack, bucket: CfnResource): Array<[string, string]> {
  const id = stack.resolve(bucket.logicalId);
  const anchors: Array<[string, string]> = [
    [`<${id}.Arn>`, BUCKET_ARN],
    [`arn:<AWS::Partition>:s3:::<${id}>`, BUCKET_ARN],
    [`arn:aws:s3:::<${id}>`, BUCKET_ARN],
    [`s3://<${id}>`, 's3://the-models-bucket'],
  ];
  const name = props(stack, bucket).BucketName;
  if (typeof name === 'string') anchors.push([`arn:<AWS::Partition>:s3:::${name}`, BUCKET_ARN], [`arn:aws:s3:::${name}`, BUCKET_ARN], [`s3://${name}`, 's3://the-models-bucket']);
  return anchors;
}

function urisIn(bucket: CfnResource, resources: CfnResource[]): ServedUri[] {
  const stack = Stack.of(bucket);
  const anchors = bucketAnchors(stack, bucket).filter(([form]) => form.startsWith('s3://'));
  const uris: ServedUri[] = [];
  for (const resource of resources.filter((r) => SERVING_TYPES.has(r.cfnResourceType))) {
    const text = flatten(props(stack, resource));
    // A SageMaker model serves every S3 URI it names; instances and tasks serve the one they get as MODEL_URI.
    const serves = (at: number) => resource.cfnResourceType === 'AWS::SageMaker::Model' || /MODEL_URI\W{0,3}$/.test(text.slice(Math.max(0, at - 16), at));
    for (const [form] of anchors) {
      let at = text.indexOf(`${form}/`);
      while (at >= 0) {
        if (!serves(at)) {
          at = text.indexOf(`${form}/`, at + 1);
          continue;
        }
        const rest = text.slice(at + form.length + 1);
        const key = /^[^\s'"`,;|\\]*/.exec(rest)![0].replace(/<[^>]*>/g, '*');
        if (!uris.some((u) => u.servedBy === resource && u.key === key)) uris.push({ servedBy: resource, bucket, key });
        at = text.indexOf(`${form}/`, at + 1);
      }
    }
  }
  return uris;
}

/** A CloudFormation value as one string: joins concatenated, references as `<Id>` / `<Id.Attr>`, other intrinsics as `<*>`. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(flatten).join(' ');
  const v = value as Record<string, any> | undefined;
  if (!v || typeof v !== 'object') return '';
  if (Array.isArray(v['Fn::Join'])) return (v['Fn::Join'][1] as unknown[]).map(flatten).join(v['Fn::Join'][0]);
  if (Array.isArray(v['Fn::GetAtt'])) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  if (v['Fn::Base64'] !== undefined) return flatten(v['Fn::Base64']);
  if (v['Fn::Sub'] !== undefined) return flatten(Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'][0] : v['Fn::Sub']).replace(/\$\{([^}]*)\}/g, '<$1>');
  if (Object.keys(v).length === 1 && Object.keys(v)[0].startsWith('Fn::')) return '<*>';
  return Object.values(v).map(flatten).join(' ');
}

function identityStatements(role: CfnResource, resources: CfnResource[], bucketStack: Stack): any[] {
  const roleStack = Stack.of(role);
  const own = props(roleStack, role);
  const roleRef = roleStack.resolve(role.ref);
  const roleName = typeof own.RoleName === 'string' ? own.RoleName : undefined;
  const attached = asArray(own.ManagedPolicyArns);
  // Documents are resolved in the bucket's stack (references to the bucket as Ref/GetAtt); who they attach to, in the role's.
  const docs = asArray(props(bucketStack, role).Policies).map((p: any) => p?.PolicyDocument);
  for (const r of resources) {
    if (!POLICY_TYPES.has(r.cfnResourceType)) continue;
    const inRoleStack = props(roleStack, r);
    const names = asArray(inRoleStack.Roles).some((x) => sameRef(x, roleRef) || (roleName !== undefined && x === roleName));
    const attachedHere = attached.some((a) => sameRef(a, roleStack.resolve(r.ref)));
    if (names || attachedHere) docs.push(props(bucketStack, r).PolicyDocument);
  }
  return docs.flatMap((d) => asArray(d?.Statement));
}

/** The role's ARN as the bucket's stack renders it: a GetAtt, and the literal-name ARN when the role has a name. */
function roleArnForms(stack: Stack, role: CfnResource): string[] {
  const forms = [flatten(stack.resolve((role as unknown as { attrArn: string }).attrArn))];
  const name = props(Stack.of(role), role).RoleName;
  if (typeof name === 'string') {
    forms.push(`arn:<AWS::Partition>:iam::<AWS::AccountId>:role/${name}`, `arn:aws:iam::<AWS::AccountId>:role/${name}`);
    const account = Stack.of(role).account;
    if (/^\d{12}$/.test(account)) forms.push(`arn:aws:iam::${account}:role/${name}`, `arn:<AWS::Partition>:iam::${account}:role/${name}`);
  }
  return forms;
}

function actionMatches(statement: any, action: string): boolean {
  if (statement.NotAction !== undefined) return !asArray(statement.NotAction).some((a) => wildcard(a, action));
  return asArray(statement.Action).some((a) => wildcard(a, action));
}

function resourceMatches(statement: any, objectArn: string, anchors: Array<[string, string]>): boolean {
  if (statement.NotResource !== undefined) return true;
  return asArray(statement.Resource).some((r) => {
    let pattern = flatten(r);
    for (const [form, canonical] of anchors) pattern = pattern.split(form).join(canonical);
    return wildcard(pattern.replace(/<[^>]*>/g, '*'), objectArn);
  });
}

function principalMatches(principal: any, roleArns: string[]): boolean {
  if (principal === '*') return true;
  const aws = asArray(principal?.AWS).map(flatten);
  return aws.includes('*') || aws.some((p) => roleArns.includes(p));
}

/** Whether a Deny's condition holds for every request of this role (unconditional, or "principal is not X" for X another role). */
function surelyApplies(condition: any, roleArns: string[]): boolean {
  if (condition === undefined) return true;
  const clauses = Object.entries(condition as Record<string, Record<string, unknown>>)
    .flatMap(([operator, keys]) => Object.entries(keys).map(([key, values]) => ({ operator, key, values })));
  return clauses.every(({ operator, key, values }) => {
    if (key.toLowerCase() !== 'aws:principalarn' || !/^Arn(Not)?(Equals|Like)$/.test(operator)) return false;
    const listed = namesRole(operator, values, roleArns);
    return operator.startsWith('ArnNot') ? !listed : listed;
  });
}

/** Whether a Deny exempts exactly this role by `aws:PrincipalArn` (the bucket policy designates it). */
function exempts(condition: any, roleArns: string[]): boolean {
  const operator = condition?.ArnNotEquals ? 'ArnNotEquals' : 'ArnNotLike';
  const keys = condition?.[operator];
  if (!keys || Object.keys(condition).length !== 1) return false;
  const values = asArray(keys['aws:PrincipalArn'] ?? keys['aws:principalarn']);
  return values.length === 1 && namesRole(operator, values, roleArns);
}

/** Whether an ARN condition's values name the role (Like operators match wildcards). */
function namesRole(operator: string, values: unknown, roleArns: string[]): boolean {
  const like = operator.endsWith('Like');
  // Only pseudo parameters (partition, account) may stand for anything; a reference names one resource.
  return asArray(values).map(flatten).some((v) => roleArns.some((arn) => v === arn || (like && wildcard(v.replace(/<AWS::[^>]*>/g, '*'), arn))));
}

function sameRef(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function wildcard(pattern: unknown, value: string): boolean {
  if (typeof pattern !== 'string') return false;
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(value);
}

function asArray(x: unknown): any[] {
  if (x === undefined || x === null) return [];
  return Array.isArray(x) ? x : [x];
}
