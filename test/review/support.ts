import { App, CfnWaitConditionHandle, StackProps } from 'aws-cdk-lib';
import { newApp } from '../support/gate';
import { EnvironmentProfile, MlopsStack } from 'mlops-constructs';
import { LoadedAssembly, loadAssembly, ReviewOptions, ReviewReport, reviewAssemblies } from 'mlops-constructs/review';

/** Which side of a base/head pair is being built. */
export type Side = 'base' | 'head';

export interface PairOptions {
  /** @default EnvironmentProfile.prod() */
  readonly profile?: EnvironmentProfile;
  /** Extra stack props, per side. */
  readonly stackProps?: (side: Side) => Partial<StackProps>;
  /** Runs after the stack is built (other stacks, files in the output). */
  readonly afterSynth?: (app: App, side: Side) => void;
}

/** Synthesizes an app built by `build` into a temporary cloud assembly and loads it. */
export function synthSide(build: (app: App) => void, afterSynth?: (app: App) => void): LoadedAssembly {
  const app = newApp();
  build(app);
  app.synth();
  afterSynth?.(app);
  return loadAssembly(app.outdir);
}

/**
 * A base/head pair: one MlopsStack `Svc` per side built by `build(stack, side)`, synthesized to temporary
 * assemblies, then reviewed.
 */
export function reviewPair(build: (stack: MlopsStack, side: Side) => void, options: PairOptions = {}, review: ReviewOptions = {}): ReviewReport {
  const side = (s: Side) => synthSide((app) => {
    const stack = new MlopsStack(app, 'Svc', { profile: options.profile ?? EnvironmentProfile.prod(), project: 'p', ...options.stackProps?.(s) });
    // A stack must keep one resource to synthesize; this one changes nothing in any review.
    new CfnWaitConditionHandle(stack, 'Anchor');
    build(stack, s);
  }, options.afterSynth ? (app) => options.afterSynth!(app, s) : undefined);
  return reviewAssemblies(side('base'), side('head'), review);
}
