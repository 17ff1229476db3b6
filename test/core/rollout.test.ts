import { Duration } from 'aws-cdk-lib';
import { Rollout, RolloutKind, ValidationError } from 'mlops-constructs';

describe('Rollout', () => {
  test('canary: 10% for 30 minutes, then everything', () => {
    const r = Rollout.canary({ percent: 10, bake: Duration.minutes(30) });
    expect(r.kind).toBe(RolloutKind.CANARY);
    expect(r.initialSplit()).toEqual([{ variant: 'current', percent: 90 }, { variant: 'candidate', percent: 10 }]);
    expect(r.steps()).toEqual([{ candidatePercent: 10, waitSeconds: 1800 }, { candidatePercent: 100, waitSeconds: 0 }]);
    expect(r.isProgressive).toBe(true);
    expect(r.describe()).toBe('canary 10% for 30 min, then 100%');
  });

  test('linear: +25% every 10 minutes ends at 100%', () => {
    const r = Rollout.linear({ stepPercent: 25, interval: Duration.minutes(10) });
    expect(r.steps().map((s) => s.candidatePercent)).toEqual([25, 50, 75, 100]);
    expect(r.steps()[0].waitSeconds).toBe(600);
  });

  test('A/B weights are kept per variant', () => {
    const r = Rollout.abTest({ weights: { champion: 70, challenger: 30 } });
    expect(r.initialSplit()).toEqual([{ variant: 'champion', percent: 70 }, { variant: 'challenger', percent: 30 }]);
    expect(r.isProgressive).toBe(false);
    expect(r.describe()).toBe('A/B champion 70%, challenger 30%');
  });

  test('blue/green keeps the old fleet 10 minutes by default', () => {
    const r = Rollout.blueGreen();
    expect(r.initialSplit()).toEqual([{ variant: 'current', percent: 100 }, { variant: 'candidate', percent: 0 }]);
    expect(r.steps()).toEqual([{ candidatePercent: 100, waitSeconds: 600 }]);
  });

  test('shadow mirrors 100% by default and serves only the current version', () => {
    expect(Rollout.shadow().mirrorPercent).toBe(100);
    expect(Rollout.shadow({ mirrorPercent: 20 }).initialSplit()).toEqual([{ variant: 'current', percent: 100 }]);
    expect(Rollout.shadow().variantNames()).toEqual(['current', 'candidate']);
  });

  test('all-at-once sends everything to the candidate', () => {
    expect(Rollout.allAtOnce().initialSplit()).toEqual([{ variant: 'candidate', percent: 100 }]);
  });

  test('accepts any duration-like value (cdk8s Duration works the same)', () => {
    expect(Rollout.canary({ percent: 5, bake: { toSeconds: () => 90 } }).steps()[0].waitSeconds).toBe(90);
  });

  test('assertSupportedBy names the backend and the alternative', () => {
    expect(() => Rollout.shadow().assertSupportedBy('Stack/Fleet', 'rollout', 'InferenceFleet',
      [RolloutKind.CANARY, RolloutKind.AB_TEST], 'use ModelEndpoint or the Kubernetes InferenceService for shadow'))
      .toThrow(/Stack\/Fleet: 'rollout' is a rollout InferenceFleet cannot perform \(received "shadow"\)\. Fix: use one of "canary", "ab-test" on InferenceFleet, or use ModelEndpoint/);
  });

  test.each([
    ['canary percent 0', () => Rollout.canary({ percent: 0, bake: Duration.minutes(5) }), /'canary.percent' must be a whole number between 1 and 50 \(received 0\)/],
    ['canary percent 60', () => Rollout.canary({ percent: 60, bake: Duration.minutes(5) }), /'canary.percent'.*received 60.*Rollout.abTest\(\)/],
    ['canary percent fractional', () => Rollout.canary({ percent: 2.5, bake: Duration.minutes(5) }), /'canary.percent'.*received 2.5/],
    ['canary without bake', () => Rollout.canary({ percent: 10 } as any), /'canary.bake' is required/],
    ['canary with zero bake', () => Rollout.canary({ percent: 10, bake: Duration.seconds(0) }), /'canary.bake' must be positive/],
    ['bake longer than 7 days', () => Rollout.canary({ percent: 10, bake: Duration.days(8) }), /'canary.bake' must be positive and at most 7 days/],
    ['bake not a duration', () => Rollout.canary({ percent: 10, bake: 30 as any }), /'canary.bake' must be a Duration/],
    ['linear step 0', () => Rollout.linear({ stepPercent: 0, interval: Duration.minutes(1) }), /'linear.stepPercent'/],
    ['weights not summing to 100', () => Rollout.abTest({ weights: { a: 50, b: 40 } }), /'abTest.weights' must sum to 100 \(they sum to 90\)/],
    ['a single variant', () => Rollout.abTest({ weights: { a: 100 } }), /'abTest.weights' must name 2 to 10 variants/],
    ['negative weight', () => Rollout.abTest({ weights: { a: 90, b: -10 } }), /'abTest.weights.b' must be a whole number between 0 and 100/],
    ['bad variant name', () => Rollout.abTest({ weights: { 'Model A': 50, 'b': 50 } }), /'abTest.weights.Model A' must be a variant name/],
    ['shadow mirror 0', () => Rollout.shadow({ mirrorPercent: 0 }), /'shadow.mirrorPercent' must be a whole number between 1 and 100/],
  ])('rejects %s', (_name, build, message) => {
    expect(build).toThrow(ValidationError);
    expect(build).toThrow(message);
  });
});
