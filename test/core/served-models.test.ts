import {
  checkServedState, encodeServedState, MODEL_ARTIFACT_LAYOUT, parseServedState, servedStateParameterName, shiftServedState, ValidationError,
} from 'mlops-constructs';

describe('model artifact layout', () => {
  test('training writes candidates, serving reads one promoted version', () => {
    expect(MODEL_ARTIFACT_LAYOUT.candidateRunPrefix('fraud', 'run-42')).toBe('candidates/fraud/run-42/');
    expect(MODEL_ARTIFACT_LAYOUT.servedVersionPrefix('fraud', 'v7')).toBe('served/fraud/v7/');
    // A served version prefix is never below a candidates prefix: a training grant cannot reach it.
    expect(MODEL_ARTIFACT_LAYOUT.servedVersionPrefix('fraud', 'v7').startsWith(MODEL_ARTIFACT_LAYOUT.candidatesRoot)).toBe(false);
    expect(MODEL_ARTIFACT_LAYOUT.servedPrefix('fraud').startsWith(MODEL_ARTIFACT_LAYOUT.servedRoot)).toBe(true);
  });

  test('served state lives under the environment namespace', () => {
    expect(servedStateParameterName('fraud-prod', 'scoring')).toBe('/mlops/fraud-prod/served/scoring');
  });
});

describe('served state', () => {
  const canary = { variants: [{ variant: 'current', version: 'v7', weight: 90 }, { variant: 'candidate', version: 'v8', weight: 10 }] };

  test('round-trips through its SSM encoding', () => {
    expect(encodeServedState(canary)).toBe('current=v7@90,candidate=v8@10');
    expect(parseServedState('current=v7@90,candidate=v8@10')).toEqual(canary);
  });

  test('shifting moves traffic between current and candidate only', () => {
    expect(encodeServedState(shiftServedState(canary, 'candidate', 100))).toBe('current=v7@0,candidate=v8@100');
    expect(() => shiftServedState(canary, 'candidate', 101)).toThrow(/'candidatePercent' must be a whole number between 0 and 100/);
    const ab = { variants: [...canary.variants.map((v) => ({ ...v, weight: 40 })), { variant: 'b', version: 'v9', weight: 20 }] };
    expect(() => shiftServedState(ab, 'candidate', 50)).toThrow(/'candidate' is not one of exactly two variants/);
  });

  test.each([
    ['weights not summing to 100', 'current=v7@90,candidate=v8@20', /'variants\[\]\.weight' must sum to 100 across variants \(received 110\)/],
    ['an entry without a weight', 'current=v7', /has an entry that is not <variant>=<version>@<weight> \("current=v7"\)/],
    ['a duplicate variant', 'current=v7@50,current=v8@50', /'variants\[1\]\.variant' is listed twice/],
    ['a bad version', 'current=v 7@100', /'variants\[0\]\.version' must be a version of letters/],
    ['an empty value', '', /'value' is not a served state/],
  ])('rejects %s with a ValidationError', (_what, value, message) => {
    expect(() => parseServedState(value, 'fraud-prod/served/scoring')).toThrow(message);
    expect(() => parseServedState(value)).toThrow(ValidationError);
  });

  test('checks the fields a JavaScript caller may leave out', () => {
    expect(() => checkServedState({ variants: [{ variant: 'current', weight: 100 } as never] })).toThrow(/'variants\[0\]\.version' is required/);
    expect(() => checkServedState({ variants: [] })).toThrow(/'variants' must list at least one variant/);
  });
});
