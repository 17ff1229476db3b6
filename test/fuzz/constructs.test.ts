// Bad input at scale: RUNS random prop combinations per public construct. Each either constructs (and, for a
// sample, synthesizes to a template cfn-lint accepts) or throws a ValidationError that quotes a prop of the
// construct with a fix. Anything else (TypeError, a CDK error, a lint finding) fails. FC_SEED replays a run.
import { formatCounts, fuzz, FuzzCounts, removeScratch, RUNS, SEED } from './harness';
import { AWS_TARGETS, CORE_TARGETS } from './targets';
import { cfnLint, describe as describeFindings } from '../support/gate';

/** Synthesized samples per AWS construct; all templates are linted in one cfn-lint run at the end. */
const SAMPLES_PER_CONSTRUCT = 5;
const MIN_TEMPLATES = 50;

const templates: string[] = [];
const summary: FuzzCounts[] = [];

beforeAll(() => {
  process.stdout.write(`fuzz: seed ${SEED} (replay with FC_SEED=${SEED}), ${RUNS} combinations per construct\n`);
});

afterAll(() => {
  process.stdout.write(`${summary.map(formatCounts).join('\n')}\n`);
  removeScratch();
});

describe.each([...CORE_TARGETS, ...AWS_TARGETS].map((t) => [t.name, t] as const))('%s', (_name, target) => {
  test(`${RUNS} combinations construct or throw a ValidationError naming a prop`, () => {
    const result = fuzz(target, SAMPLES_PER_CONSTRUCT);
    summary.push(result.counts);
    templates.push(...result.templates);
    expect(result.counts.runs).toBeGreaterThanOrEqual(1000);
    // Both outcomes occur: the arbitraries reach valid and invalid input.
    expect(result.counts.valid).toBeGreaterThan(0);
    expect(result.counts.rejected).toBeGreaterThan(0);
    if (target.synthesize) expect(result.counts.synthesized).toBeGreaterThan(0);
  });
});

test(`the sampled templates (at least ${MIN_TEMPLATES}) pass cfn-lint in one run`, () => {
  expect(templates.length).toBeGreaterThanOrEqual(MIN_TEMPLATES);
  process.stdout.write(`fuzz: linting ${templates.length} sampled templates\n`);
  expect(describeFindings(cfnLint(templates))).toBe('');
});
