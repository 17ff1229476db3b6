import { Aspects, IAspect, ITaggable, TagManager } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { TAG_KEYS } from '../../core';
import { SHARED_TEAM } from '../mlops-tagging';
import { MlopsScope } from '../scope';

// Below Tags.of's default (100) and MlopsTagging's (100 + depth): any team set another way wins.
const DEFAULT_TEAM_PRIORITY = 50;

/**
 * GPU capacity in an MlopsStack that names no team is platform-owned: its resources carry `mlops:team: shared` (and
 * the stack's cost center), so GPU spend stays attributable and the MLOps-GpuCostTags rule holds with default props.
 * A team set in any other way (the stack's or platform's team, `Tags.of`) takes precedence. Outside an MlopsStack
 * nothing is added: the user owns the tags there.
 */
export function chargeUnownedCapacityToPlatform(capacity: IConstruct): void {
  const tags = MlopsScope.tagsOf(capacity);
  if (tags === undefined || tags.team !== undefined) return;
  Aspects.of(capacity).add(new DefaultTeamTag());
}

/** The resources MlopsTagging tags (ITaggable), so the team tag lands exactly where the stack's other tags do. */
class DefaultTeamTag implements IAspect {
  public visit(node: IConstruct): void {
    if (TagManager.isTaggable(node)) (node as ITaggable).tags.setTag(TAG_KEYS.team, SHARED_TEAM, DEFAULT_TEAM_PRIORITY, true);
  }
}
