import { Duration } from 'cdk8s';
import { IConstruct } from 'constructs';
import { Check, EnvironmentProfile, MlopsTags } from '../../core';

// The same symbols the AWS side uses, so one attachment convention serves every engine.
const PROFILE = Symbol.for('mlops-constructs.profile');
const TAGS = Symbol.for('mlops-constructs.tags');

/** Attaches a profile (and tags) to a scope and everything below it. */
export function attachProfile(scope: IConstruct, profile: EnvironmentProfile, tags?: MlopsTags): void {
  const target = scope as unknown as Record<symbol, unknown>;
  target[PROFILE] = profile;
  if (tags) target[TAGS] = tags;
}

/**
 * The profile in force at `scope`, or `EnvironmentProfile.prod()` outside any profiled scope: forgetting a
 * profile must never loosen a default.
 */
export function profileOf(scope: IConstruct): EnvironmentProfile {
  return find<EnvironmentProfile>(scope, PROFILE) ?? EnvironmentProfile.prod();
}

/** The tags in force at `scope`, if a scope above attached some. */
export function tagsOf(scope: IConstruct): MlopsTags | undefined {
  return find<MlopsTags>(scope, TAGS);
}

/** A `Check` naming the construct path (cdk8s has no deploy-time tokens to skip). */
export function checkFor(scope: IConstruct): Check {
  return new Check(scope.node.path);
}

function find<T>(scope: IConstruct, key: symbol): T | undefined {
  const scopes = scope.node.scopes;
  for (let i = scopes.length - 1; i >= 0; i--) {
    const value = (scopes[i] as unknown as Record<symbol, T | undefined>)[key];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Seconds of a cdk8s Duration as a whole number, or a ValidationError naming `prop` (never cdk8s's own error). */
export function wholeSeconds(check: Check, prop: string, duration: Duration | undefined, min: number, max: number, fix: string): number | undefined {
  if (duration === undefined) return undefined;
  if (typeof duration?.toSeconds !== 'function') check.fail(prop, duration, 'must be a Duration', 'pass Duration.seconds(n), .minutes(n) or .hours(n) from cdk8s.');
  const seconds = duration.toSeconds({ integral: false });
  check.integerInRange(prop, seconds, min, max, fix);
  return seconds;
}
