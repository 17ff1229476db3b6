import { Aspects, IAspect, ITaggable, TagManager } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { MlopsTags } from '../core';

/**
 * The `mlops:team` tag of platform-owned GPU capacity (a platform's training cluster, and capacity in an MlopsStack
 * that names no team), charged to the platform's cost center.
 */
export const SHARED_TEAM = 'shared';

/**
 * Applies the cost-allocation and data-classification tags to every taggable resource below the scope it
 * is added to, including resources added after it (it runs at synthesis). Tags set closer to a resource
 * (a team's tags on its own construct) win over tags set higher up, as with CDK's own `Tags`.
 */
export class MlopsTagging implements IAspect {
  /** Adds the aspect to `scope`. */
  public static apply(scope: IConstruct, tags: MlopsTags): MlopsTagging {
    const aspect = new MlopsTagging(tags, scope.node.scopes.length);
    Aspects.of(scope).add(aspect);
    return aspect;
  }

  private constructor(
    private readonly tags: MlopsTags,
    // Deeper scopes get higher priority so a team's tags override the platform's.
    private readonly priority: number,
  ) {}

  public visit(node: IConstruct): void {
    if (!TagManager.isTaggable(node)) return;
    const taggable = node as ITaggable;
    for (const [key, value] of Object.entries(this.tags.toAwsTags())) {
      taggable.tags.setTag(key, value, 100 + this.priority, true);
    }
  }
}
