import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import * as fc from 'fast-check';
import { cdkJsonContext, templatesIn } from '../support/gate';
import { ValidationError } from 'mlops-constructs';

/** The seed of every property of the fuzz suite; set FC_SEED to replay a run. */
export const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 20250611;
/** Combinations per construct (at least 1,000; FC_RUNS raises it). */
export const RUNS = Math.max(1000, Number(process.env.FC_RUNS ?? 1000));

// Creation stack traces only help debugging; capturing them (through source maps) is most of the construction time.
const CONTEXT = { ...cdkJsonContext(), 'aws:cdk:disable-stack-trace': true, 'aws:cdk:disable-creation-stack-traces': true };
const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-fuzz-'));
// Apps that are never synthesized still create their (empty) output directory: share one.
const UNSYNTHESIZED = path.join(SCRATCH, 'unsynthesized');

/** An App that is only constructed, never synthesized. */
export function constructionApp(): App {
  return new App({ outdir: UNSYNTHESIZED, context: CONTEXT });
}

/** An App with its own output directory, for a sampled combination that is synthesized. */
export function synthesisApp(): App {
  return new App({ outdir: fs.mkdtempSync(path.join(SCRATCH, 'synth-')), context: CONTEXT });
}

export function removeScratch(): void {
  fs.rmSync(SCRATCH, { recursive: true, force: true });
}

export interface FuzzTarget<T> {
  /** Public construct or value-class name. */
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /**
   * Builds the combination into a fresh app; returns the app (to synthesize a sample) or nothing for pure
   * value classes.
   */
  readonly build: (input: T, app: App) => void;
  /** Prop names (the first segment of a ValidationError's `prop`) the target may blame. */
  readonly props: readonly string[];
  /** Whether valid combinations are synthesized and linted (AWS constructs) or only constructed (core). */
  readonly synthesize: boolean;
}

export interface FuzzCounts {
  readonly name: string;
  runs: number;
  valid: number;
  rejected: number;
  synthesized: number;
  templates: number;
  readonly blamed: Map<string, number>;
}

/** The first segment of a prop path: `servedModels(x).backend` and `teams[0].name` blame `servedModels`, `teams`. */
export function propRoot(prop: string): string {
  return prop.split(/[.[(]/)[0];
}

/**
 * Checks the outcome of one combination: nothing thrown, or a ValidationError whose message quotes a prop of the
 * target. Anything else (TypeError, a CDK error, an error naming no prop) fails the property.
 */
export function expectValidationErrorNamingProp(e: unknown, props: readonly string[]): ValidationError {
  if (!ValidationError.isValidationError(e)) throw e;
  const err = e as ValidationError;
  if (typeof err.prop !== 'string' || err.prop === '' || !err.message.includes(`'${err.prop}'`)) {
    throw new Error(`ValidationError does not quote its prop: ${err.message}`);
  }
  if (!props.includes(propRoot(err.prop))) {
    throw new Error(`ValidationError blames '${err.prop}', not a prop of the target (${props.join(', ')}): ${err.message}`);
  }
  if (!/Fix: \S/.test(err.message)) throw new Error(`ValidationError gives no fix: ${err.message}`);
  return err;
}

/**
 * Runs RUNS combinations of a target by construction only. A random sample of `samples` valid combinations is then
 * built again in fresh apps and synthesized; their templates are returned for one cfn-lint run.
 */
export function fuzz<T>(target: FuzzTarget<T>, samples: number): { counts: FuzzCounts; templates: string[] } {
  const counts: FuzzCounts = { name: target.name, runs: 0, valid: 0, rejected: 0, synthesized: 0, templates: 0, blamed: new Map() };
  const templates: string[] = [];
  // A uniform sample of the valid combinations (reservoir sampling with a seeded generator), synthesized afterwards:
  // fast-check generates small values first, so taking the first valid ones would sample only the simplest.
  const reservoir: T[] = [];
  const random = seededRandom(SEED);
  fc.assert(fc.property(target.arbitrary, (input) => {
    counts.runs++;
    try {
      target.build(input, constructionApp());
    } catch (e) {
      const err = expectValidationErrorNamingProp(e, target.props);
      counts.rejected++;
      counts.blamed.set(propRoot(err.prop), (counts.blamed.get(propRoot(err.prop)) ?? 0) + 1);
      return;
    }
    counts.valid++;
    if (reservoir.length < samples) {reservoir.push(input);} else {
      const slot = Math.floor(random() * counts.valid);
      if (slot < samples) reservoir[slot] = input;
    }
  }), { seed: SEED, numRuns: RUNS, endOnFailure: process.env.FC_SHRINK === undefined });
  if (target.synthesize) {
    for (const input of reservoir) {
      const app = synthesisApp();
      target.build(input, app);
      const found = templatesIn(app.synth().directory);
      counts.synthesized++;
      counts.templates += found.length;
      templates.push(...found);
    }
  }
  return { counts, templates };
}

export function formatCounts(c: FuzzCounts): string {
  const blamed = [...c.blamed.entries()].sort((a, b) => b[1] - a[1]).map(([p, n]) => `${p} ${n}`).join(', ');
  return `${c.name}: ${c.runs} combinations, ${c.valid} valid, ${c.rejected} rejected with a ValidationError`
    + `${c.synthesized ? `, ${c.synthesized} synthesized (${c.templates} templates)` : ''}${blamed ? ` [blamed: ${blamed}]` : ''}`;
}

/** A small seeded PRNG (Park-Miller), so the sample is the same for the same seed. */
function seededRandom(seed: number): () => number {
  let state = (Math.abs(Math.floor(seed)) % 2147483646) + 1;
  return () => {
    state = (state * 48271) % 2147483647;
    return state / 2147483647;
  };
}
