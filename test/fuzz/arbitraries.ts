// Arbitraries for the fuzz suite: each prop is mostly a plausible value, sometimes an edge case (0, negative,
// fractional, NaN, Infinity, huge) and now and then the wrong type, as a JavaScript caller could pass it.
import { Duration } from 'aws-cdk-lib';
import * as fc from 'fast-check';
import { EnvironmentProfile, GpuInstance, Rollout } from 'mlops-constructs';

const EDGE_NUMBERS = [-1, 0, 0.5, 1.5, -0.5, 7.25, 1e9, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_SAFE_INTEGER];
const WRONG_TYPES: unknown[] = [null, '5', true, {}, []];

/** A number prop: `valid` most of the time, an edge case or a wrong type otherwise; undefined a quarter of the time. */
export function num(valid: fc.Arbitrary<number>): fc.Arbitrary<any> {
  return fc.option(fc.oneof(
    { arbitrary: valid, weight: 16 },
    { arbitrary: fc.constantFrom(...EDGE_NUMBERS), weight: 3 },
    { arbitrary: fc.constantFrom(...WRONG_TYPES), weight: 1 },
  ), { nil: undefined, freq: 3 });
}

/** A required number (never undefined). */
export function reqNum(valid: fc.Arbitrary<number>): fc.Arbitrary<any> {
  return fc.oneof({ arbitrary: valid, weight: 17 }, { arbitrary: fc.constantFrom(...EDGE_NUMBERS, undefined), weight: 3 });
}

const EDGE_STRINGS = ['', ' ', 'UPPER', 'with space', 'a'.repeat(300), 'a/b', '-lead', 'trail-', 'ünïcode', '..', '*'];

/** A string prop: `valid` most of the time, an awkward string or a wrong type otherwise. */
export function str(valid: fc.Arbitrary<string>, optional = true): fc.Arbitrary<any> {
  const value = fc.oneof(
    { arbitrary: valid, weight: 16 },
    { arbitrary: fc.oneof(fc.constantFrom(...EDGE_STRINGS), fc.string({ maxLength: 12 })), weight: 3 },
    { arbitrary: fc.constantFrom(...WRONG_TYPES, 7), weight: 1 },
  );
  return optional ? fc.option(value, { nil: undefined, freq: 3 }) : value;
}

export function bool(): fc.Arbitrary<any> {
  return fc.option(fc.oneof({ arbitrary: fc.boolean(), weight: 9 }, { arbitrary: fc.constantFrom('yes', 1), weight: 1 }), { nil: undefined, freq: 3 });
}

/** Lower-case identifiers as names of models, teams and databases use. */
export const identifier = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/);

export const profileName = fc.constantFrom('dev', 'staging', 'prod');

export function profileOf(name: string): EnvironmentProfile {
  return EnvironmentProfile.named(name);
}

const CATALOG = GpuInstance.all().map((i) => i.instanceType);

/** An instance type: from the catalog, or one it does not know. */
export const instanceType = str(fc.constantFrom(...CATALOG, 'm5.large', 'c5.xlarge'));

export const instanceTypes = fc.option(fc.oneof(
  { arbitrary: fc.array(fc.constantFrom(...CATALOG), { minLength: 1, maxLength: 4 }), weight: 6 },
  { arbitrary: fc.array(fc.constantFrom(...CATALOG, 'g7.xlarge', 'm5.large', ''), { maxLength: 4 }), weight: 3 },
  { arbitrary: fc.constantFrom(null, 'g5.xlarge'), weight: 1 },
), { nil: undefined, freq: 3 });

export const email = str(fc.emailAddress());
export const emails = fc.option(fc.oneof(
  { arbitrary: fc.array(fc.emailAddress(), { maxLength: 3 }), weight: 6 },
  { arbitrary: fc.array(fc.oneof(fc.emailAddress(), fc.constantFrom('not-an-email', '', '@x')), { maxLength: 12 }), weight: 3 },
  { arbitrary: fc.constant('ops@example.com'), weight: 1 },
), { nil: undefined, freq: 3 });

/** A valid rollout (the Rollout property covers invalid ones). */
export const rollout: fc.Arbitrary<Rollout | undefined> = fc.option(fc.oneof(
  fc.constant(Rollout.allAtOnce()),
  fc.record({ percent: fc.integer({ min: 1, max: 50 }), bake: fc.integer({ min: 1, max: 120 }) })
    .map(({ percent, bake }) => Rollout.canary({ percent, bake: Duration.minutes(bake) })),
  fc.record({ stepPercent: fc.integer({ min: 1, max: 50 }), interval: fc.integer({ min: 1, max: 60 }) })
    .map(({ stepPercent, interval }) => Rollout.linear({ stepPercent, interval: Duration.minutes(interval) })),
  fc.integer({ min: 0, max: 100 }).map((a) => Rollout.abTest({ weights: { a, b: 100 - a } })),
  fc.constant(Rollout.blueGreen()),
  fc.integer({ min: 1, max: 100 }).map((mirrorPercent) => Rollout.shadow({ mirrorPercent })),
), { nil: undefined, freq: 2 });

export const variantVersions = fc.option(fc.oneof(
  { arbitrary: fc.dictionary(fc.constantFrom('candidate', 'a', 'b', 'shadow', 'blue', 'green'), fc.constantFrom('v2', 'v3')), weight: 6 },
  { arbitrary: fc.dictionary(fc.constantFrom('Bad Name', '', 'x'), fc.constantFrom('', 'v/2', 'v2')), weight: 3 },
), { nil: undefined, freq: 2 });

export const version = str(fc.constantFrom('v1', 'v2', '1.0.3', '2024-06-01'), false);
export const imageTag = str(fc.constantFrom('serve-1', 'latest', '1.0', 'sha-abc123'), false);

/** A Duration with a non-negative amount (CDK itself rejects negative amounts before our constructs see them). */
export const duration = fc.option(fc.oneof(
  fc.integer({ min: 0, max: 100000 }).map((s) => Duration.seconds(s)),
  fc.integer({ min: 0, max: 400 }).map((d) => Duration.days(d)),
), { nil: undefined, freq: 3 });
