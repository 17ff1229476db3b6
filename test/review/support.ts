import * as fs from 'fs';
import * as path from 'path';
import { App, CfnWaitConditionHandle } from 'aws-cdk-lib';
import { newApp, tempDir } from '../support/gate';
import { EnvironmentProfile, MlopsStack, MlopsStackProps } from 'mlops-constructs';
import { LoadedAssembly, loadAssembly, ReviewOptions, ReviewReport, reviewAssemblies } from 'mlops-constructs/review';

/** Which side of a base/head pair is being built. */
export type Side = 'base' | 'head';

export interface PairOptions {
  /** @default EnvironmentProfile.prod() */
  readonly profile?: EnvironmentProfile;
  /** Extra stack props, per side. */
  readonly stackProps?: (side: Side) => Partial<MlopsStackProps>;
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

/** One stack of a hand-written cloud assembly: its id (display name), environment tag and resources. */
export interface TemplateStack {
  readonly id: string;
  /** `mlops:environment` stack tag. @default 'prod' */
  readonly environment?: string;
  /** CloudFormation stack name. @default - the id without its non-alphanumeric characters */
  readonly stackName?: string;
  /** Manifest environment. @default 'aws://123456789012/us-east-1' */
  readonly env?: string;
  readonly resources: Record<string, unknown>;
  readonly parameters?: Record<string, unknown>;
  readonly outputs?: Record<string, unknown>;
}

/**
 * Writes a cloud assembly as `cdk synth -o` lays it out (manifest.json with stack artifacts, their tags and
 * templates), for pairs whose templates are easier to state than to build.
 */
export function writeAssembly(stacks: readonly TemplateStack[]): string {
  const dir = tempDir('assembly');
  const artifacts: Record<string, unknown> = {};
  for (const s of stacks) {
    const artifactId = s.id.replace(/[^A-Za-z0-9-]/g, '');
    const templateFile = `${artifactId}.template.json`;
    fs.writeFileSync(path.join(dir, templateFile), JSON.stringify({ Parameters: s.parameters, Resources: s.resources, Outputs: s.outputs }));
    artifacts[artifactId] = {
      type: 'aws:cloudformation:stack',
      environment: s.env ?? 'aws://123456789012/us-east-1',
      displayName: s.id,
      properties: { templateFile, stackName: s.stackName ?? artifactId, tags: { 'mlops:environment': s.environment ?? 'prod', 'mlops:project': 'p' } },
    };
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ version: '48.0.0', artifacts }));
  return dir;
}

/** Reviews two hand-written assemblies. */
export function reviewTemplates(base: readonly TemplateStack[], head: readonly TemplateStack[], review: ReviewOptions = {}): ReviewReport {
  return reviewAssemblies(loadAssembly(writeAssembly(base)), loadAssembly(writeAssembly(head)), review);
}
