import { RemovalPolicy, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Check, EnvironmentProfile, MlopsTags } from '../core';

const PROFILE = Symbol.for('mlops-constructs.profile');
const TAGS = Symbol.for('mlops-constructs.tags');

interface Attached {
  [PROFILE]?: EnvironmentProfile;
  [TAGS]?: MlopsTags;
}

/**
 * Finds the `EnvironmentProfile` (and tags) in force for a construct: the nearest enclosing scope that
 * had one attached, normally the `MlopsStack`. Constructs take their secure defaults from it.
 */
export class MlopsScope {
  /** Attaches a profile (and optionally tags) to a scope and everything below it. */
  public static attach(scope: IConstruct, profile: EnvironmentProfile, tags?: MlopsTags): void {
    const target = scope as unknown as Attached;
    target[PROFILE] = profile;
    if (tags) target[TAGS] = tags;
  }

  /**
   * The profile in force at `scope`. Outside any profiled scope this is `EnvironmentProfile.prod()`, the
   * most protective preset: forgetting a profile must never make data destroyable.
   */
  public static profileOf(scope: IConstruct): EnvironmentProfile {
    return MlopsScope.find<EnvironmentProfile>(scope, PROFILE) ?? EnvironmentProfile.prod();
  }

  /** The tags in force at `scope`, if any scope above attached some. */
  public static tagsOf(scope: IConstruct): MlopsTags | undefined {
    return MlopsScope.find<MlopsTags>(scope, TAGS);
  }

  private static find<T>(scope: IConstruct, key: symbol): T | undefined {
    const scopes = scope.node.scopes;
    for (let i = scopes.length - 1; i >= 0; i--) {
      const value = (scopes[i] as unknown as Record<symbol, T | undefined>)[key];
      if (value !== undefined) return value;
    }
    return undefined;
  }
}

/** A `Check` that names the construct path and skips deploy-time tokens. */
export function checkFor(scope: IConstruct): Check {
  return new Check(scope.node.path, (x) => Token.isUnresolved(x));
}

/** How stateful resources are removed under a profile: destroyed only where the profile allows it. */
export function statefulRemovalPolicy(profile: EnvironmentProfile): RemovalPolicy {
  return profile.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
}
