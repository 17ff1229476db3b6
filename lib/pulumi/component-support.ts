import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { EnvironmentProfile, MlopsTags, SpecScope } from '../core';

/** Props every mlops-constructs Pulumi component takes. */
export interface MlopsComponentArgs {
  /**
   * The environment's profile; defaults and validation come from it, as in the CDK constructs.
   * @default EnvironmentProfile.prod() - the most protective preset, so a forgotten profile never makes data destroyable
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Tags put on every taggable resource.
   * @default - project from `pulumi.getProject()`, environment from the profile's name
   */
  readonly tags?: MlopsTags;
}

/** The profile and tags a component resolves from its args. */
export function resolveProfileAndTags(args: MlopsComponentArgs): { profile: EnvironmentProfile; tags: MlopsTags } {
  const profile = args.profile ?? EnvironmentProfile.prod();
  const tags = args.tags ?? MlopsTags.of({ project: pulumi.getProject(), environment: profile.name });
  return { profile, tags };
}

/** A spec scope for a component: errors name the type token and the resource name; outputs are skipped like CDK tokens. */
export function componentSpecScope(type: string, name: string): SpecScope {
  return { scope: `${type}(${name})`, isUnresolved: (x) => pulumi.Output.isInstance(x) || x instanceof Promise };
}

/** Child options: parented to the component, and kept on delete where the profile retains data. */
export function childOptions(parent: pulumi.Resource, retain = false): pulumi.CustomResourceOptions {
  return retain ? { parent, retainOnDelete: true } : { parent };
}

/** A policy document (which may hold outputs) as JSON. */
export function policyJson(document: pulumi.Input<object>): pulumi.Output<string> {
  return pulumi.jsonStringify(pulumi.output(document));
}

/** Where a component deploys. */
export interface AccountContext {
  readonly accountId: pulumi.Output<string>;
  readonly partition: pulumi.Output<string>;
  readonly region: pulumi.Output<string>;
}

/** The account, partition and region a component deploys into (provider invokes, answered by mocks in tests). */
export function accountContext(parent: pulumi.Resource): AccountContext {
  return {
    accountId: aws.getCallerIdentityOutput({}, { parent }).accountId,
    partition: aws.getPartitionOutput({}, { parent }).partition,
    region: aws.getRegionOutput({}, { parent }).region,
  };
}
