import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import { EnvironmentProfile } from '../../core';
import { MlopsScope } from '../scope';

/** A resource as it appears in the synthesized template: type, resolved properties and policies. */
export interface RenderedResource {
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Record<string, any>;
  readonly deletionPolicy?: string;
  readonly node: CfnResource;
}

// Rules run once per resource; stack-wide rules read every resource of the stack, so renderings are cached
// for one validation run (MlopsChecks clears the cache when a run starts).
let cache = new WeakMap<Stack, RenderedResource[]>();

/** Forgets cached renderings; called at the start of each validation run. */
export function clearRenderCache(): void {
  cache = new WeakMap();
}

/** The resource as CloudFormation receives it (overrides applied, tokens resolved where they can be). */
export function render(node: CfnResource): RenderedResource {
  const stack = Stack.of(node);
  const rendered = stack.resolve((node as unknown as { _toCloudFormation(): object })._toCloudFormation()) as {
    Resources?: Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string }>;
  };
  const [logicalId, resource] = Object.entries(rendered.Resources ?? {})[0] ?? [stack.resolve(node.logicalId), { Type: node.cfnResourceType }];
  return { logicalId, type: resource.Type, properties: resource.Properties ?? {}, deletionPolicy: resource.DeletionPolicy, node };
}

/** Every CloudFormation resource of the stack `node` is in, rendered. */
export function stackResources(node: CfnResource): RenderedResource[] {
  const stack = Stack.of(node);
  let resources = cache.get(stack);
  if (!resources) {
    resources = stack.node.findAll()
      .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && Stack.of(c) === stack)
      .map(render);
    cache.set(stack, resources);
  }
  return resources;
}

/** Tags of a rendered resource in any of CloudFormation's shapes (list of Key/Value, or a map). */
export function tagsOf(properties: Record<string, any>, key = 'Tags'): Record<string, string> {
  return tagList(properties[key]);
}

export function tagList(tags: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(tags)) {
    for (const t of tags) {
      if (t && typeof t.Key === 'string' && typeof t.Value === 'string') out[t.Key] = t.Value;
    }
  } else if (tags && typeof tags === 'object') {
    for (const [k, v] of Object.entries(tags)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/**
 * Whether the environment of `node` lets data be destroyed: the `mlops:environment` tag of the resource or its
 * stack is `dev`, or the profile in scope (an MlopsStack's) allows destroying data.
 */
export function allowsDestroy(node: CfnResource, resourceTags: Record<string, string>, environmentKey: string): boolean {
  const stackTags = Stack.of(node).tags.tagValues();
  const environment = resourceTags[environmentKey] ?? stackTags[environmentKey] ?? MlopsScope.tagsOf(node)?.environment;
  if (environment === 'dev') return true;
  const profile: EnvironmentProfile = MlopsScope.profileOf(node);
  return profile.allowDestroy;
}

/** A literal string, or undefined for anything CloudFormation resolves at deploy time. */
export function literal(value: unknown): string | undefined {
  return typeof value === 'string' && !Token.isUnresolved(value) ? value : undefined;
}

