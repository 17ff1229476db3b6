import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { MLOPS_CHECK_TAGS, TRAINING_ROLE } from '../tag-contract';
import { literal, render, RenderedResource, stackResources, tagsOf } from '../template';

/** The key prefix production models are published under in the models bucket. */
export const PROD_MODELS_PREFIX = 'prod/';

/**
 * A training role may not write production models. Contract:
 * - a training role is an IAM role tagged `mlops:role` = `training`, or whose construct path below its stack has a
 *   segment containing `Training` (case-insensitive);
 * - a models bucket is an S3 bucket of the same stack tagged `mlops:purpose` = `models`;
 * - the role's policies (inline, customer managed policies of the stack attached to it, and `AWS::IAM::Policy`/
 *   `AWS::IAM::ManagedPolicy` resources naming it) must have no Allow statement whose actions match
 *   `s3:PutObject` and whose resources can match an object below `prod/` in a models bucket (object ARNs of the
 *   bucket, `*`, or `arn:*:s3:::*`). Deny statements, conditions and permission boundaries are not evaluated.
 */
export function trainingCannotWriteProdModels(node: CfnResource): NagRuleResult {
  if (node.cfnResourceType !== 'AWS::IAM::Role') return NagRuleCompliance.NOT_APPLICABLE;
  const role = render(node);
  if (!isTrainingRole(node, role)) return NagRuleCompliance.NOT_APPLICABLE;
  const resources = stackResources(node);
  const models = resources.filter((r) => r.type === 'AWS::S3::Bucket' && tagsOf(r.properties)[MLOPS_CHECK_TAGS.purpose] === 'models');
  const statements = policyDocumentsOf(role, resources).flatMap((doc) => asArray(doc?.Statement));
  const writesProd = statements.some((s) => s?.Effect === 'Allow'
    && allowsPutObject(s)
    && (s.NotResource !== undefined || asArray(s.Resource).some((r) => canReachProdModels(r, models))));
  return writesProd ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.COMPLIANT;
}

function isTrainingRole(node: CfnResource, role: RenderedResource): boolean {
  if (tagsOf(role.properties)[MLOPS_CHECK_TAGS.role] === TRAINING_ROLE) return true;
  const stackPath = node.stack.node.path;
  return node.node.path.slice(stackPath.length + 1).split('/').some((segment) => /training/i.test(segment));
}

function policyDocumentsOf(role: RenderedResource, resources: RenderedResource[]): any[] {
  const docs = asArray(role.properties.Policies).map((p: any) => p?.PolicyDocument);
  const attachedIds = new Set(asArray(role.properties.ManagedPolicyArns).map((a: any) => a?.Ref).filter((id) => typeof id === 'string'));
  for (const r of resources) {
    if (r.type !== 'AWS::IAM::Policy' && r.type !== 'AWS::IAM::ManagedPolicy') continue;
    const namesRole = asArray(r.properties.Roles).some((x: any) => x?.Ref === role.logicalId);
    if (namesRole || attachedIds.has(r.logicalId)) docs.push(r.properties.PolicyDocument);
  }
  return docs;
}

function allowsPutObject(statement: any): boolean {
  if (statement.NotAction !== undefined) return !asArray(statement.NotAction).some((a) => matchesAction(a, 's3:PutObject'));
  return asArray(statement.Action).some((a) => matchesAction(a, 's3:PutObject'));
}

function matchesAction(pattern: unknown, action: string): boolean {
  return typeof pattern === 'string' && wildcard(pattern.toLowerCase()).test(action.toLowerCase());
}

function canReachProdModels(resource: unknown, models: RenderedResource[]): boolean {
  const flat = flatten(resource);
  if (flat === '*' || /^arn:[^:]*:s3:::\*/.test(flat)) return true;
  for (const bucket of models) {
    const anchors = [`<${bucket.logicalId}.Arn>/`, `<${bucket.logicalId}>/`];
    const name = literal(bucket.properties.BucketName);
    if (name) anchors.push(`:s3:::${name}/`);
    for (const anchor of anchors) {
      const at = flat.indexOf(anchor);
      if (at >= 0 && couldStartWith(flat.slice(at + anchor.length), PROD_MODELS_PREFIX)) return true;
    }
  }
  return false;
}

/** Whether some key that starts with `prefix` matches the IAM pattern (`*` any run, `?` one character). */
function couldStartWith(pattern: string, prefix: string): boolean {
  for (let i = 0; i < prefix.length; i++) {
    const c = pattern[i];
    if (c === undefined) return false;
    if (c === '*') return true;
    if (c !== '?' && c !== prefix[i]) return false;
  }
  return true;
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any> | undefined;
  if (v && Array.isArray(v['Fn::Join'])) return (v['Fn::Join'][1] as unknown[]).map(flatten).join(v['Fn::Join'][0]);
  if (v && Array.isArray(v['Fn::GetAtt'])) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (v && typeof v.Ref === 'string') return `<${v.Ref}>`;
  return JSON.stringify(value);
}

function asArray(x: unknown): any[] {
  if (x === undefined || x === null) return [];
  return Array.isArray(x) ? x : [x];
}
