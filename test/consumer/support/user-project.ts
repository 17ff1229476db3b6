// A user's project with the packed library installed: write the user's code, run or synthesize it as the
// user would (a separate Node process, TypeScript through tsx as `cdk init` sets up, the library and aws-cdk-lib
// resolved from node_modules by their package names), and get templates, findings or the error back.
//
//   const project = UserProject.get();
//   const result = project.synth('first-stack', `
//     import { App, Stack } from 'aws-cdk-lib';
//     import { ArtifactStore } from 'mlops-constructs';
//     const app = new App();
//     new ArtifactStore(new Stack(app, 'Data'), 'Store');
//   `, { flags: 'none' });
//   expect(result.failure()).toBe('');
//   result.template('Data').Resources ...
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CURRENTLY_RECOMMENDED_FLAGS } from 'aws-cdk-lib/cx-api';
import { CDK_INIT_COMPILER_OPTIONS, installLibrary, InstallOptions } from './package';
import { typeCheck } from './type-check';
import { builtinValidationFindings, readValidationReport, NagFinding } from '../../support/gate';

/**
 * The feature flags an app runs with:
 * - `none`: a plain `new App()` (what a user's jest tests build, and any app whose cdk.json predates a flag);
 * - `recommended`: every flag aws-cdk-lib currently recommends (what `cdk init` writes into cdk.json today),
 *   including `"@aws-cdk/core:defaultCrossStackReferences": "weak"`;
 * - or any context of your own.
 */
export type FeatureFlags = 'none' | 'recommended' | Record<string, unknown>;

/** Both flag states every user-facing case is run in. */
export const FLAG_STATES: Array<'none' | 'recommended'> = ['none', 'recommended'];

export function flagContext(flags: FeatureFlags): Record<string, unknown> {
  if (flags === 'none') return {};
  if (flags === 'recommended') return { ...CURRENTLY_RECOMMENDED_FLAGS };
  return flags;
}

export interface RunOptions {
  /** @default 'none' */
  readonly flags?: FeatureFlags;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
  /**
   * `ts`: the source is TypeScript, type-checked with the tsconfig `cdk init` writes (strict) before it runs;
   * `js`: plain JavaScript, as a JavaScript user calls the library (no type checks protect the props).
   * @default 'ts'
   */
  readonly language?: 'ts' | 'js';
}

/** What a thrown error looked like when it reached the user's process. */
export interface UserError {
  readonly name: string;
  readonly message: string;
  /** True when it is the library's ValidationError (checked with `ValidationError.isValidationError`). */
  readonly isValidationError: boolean;
  readonly stack: string;
}

export interface UserRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The uncaught error, if the program failed with one. */
  readonly error?: UserError;
}

export class UserSynth {
  constructor(public readonly outdir: string, public readonly run: UserRun, public readonly findings: NagFinding[]) {}

  /** '' when synthesis succeeded with no finding; otherwise a readable account of what went wrong. */
  public failure(): string {
    const lines: string[] = [];
    if (this.run.error) lines.push(`${this.run.error.name}: ${this.run.error.message}`);
    for (const f of this.findings) lines.push(`  ${f.rule} at ${f.resource}`);
    // aws-cdk-lib's own template validation, on in a user's app: its findings are warnings a user sees on every synth.
    for (const f of builtinValidationFindings(this.outdir)) lines.push(`  ${f}`);
    if (this.run.status !== 0 && lines.length === 0) lines.push(`exit ${this.run.status}: ${this.run.stderr.slice(-4000)}`);
    return lines.join('\n');
  }

  /** The error a failed synthesis threw. */
  public get error(): UserError {
    if (!this.run.error) throw new Error(`synthesis did not fail with an error:\n${this.failure() || 'it succeeded'}`);
    return this.run.error;
  }

  /** Top-level stacks of the assembly by artifact id (the construct id of a top-level stack). */
  public get manifest(): Record<string, any> {
    return JSON.parse(fs.readFileSync(path.join(this.outdir, 'manifest.json'), 'utf8'));
  }

  /** stack name (as deployed) for every stack artifact, by artifact id. */
  public stackNames(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.manifest.artifacts as Record<string, any>)
      .filter(([, a]) => a.type === 'aws:cloudformation:stack')
      .map(([id, a]) => [id, a.properties.stackName]));
  }

  /** The template of a top-level stack, by stack name or artifact id. */
  public template(stack: string): any {
    const artifacts = this.manifest.artifacts as Record<string, any>;
    const entry = Object.entries(artifacts).find(([id, a]) => a.type === 'aws:cloudformation:stack' && (id === stack || a.properties.stackName === stack));
    if (!entry) throw new Error(`no stack ${stack} in the assembly (stacks: ${JSON.stringify(this.stackNames())})`);
    return JSON.parse(fs.readFileSync(path.join(this.outdir, entry[1].properties.templateFile), 'utf8'));
  }

  /** Every template file of the assembly (nested stacks included), by file name. */
  public templates(): Record<string, any> {
    return Object.fromEntries(fs.readdirSync(this.outdir).filter((f) => f.endsWith('.template.json'))
      .map((f) => [f, JSON.parse(fs.readFileSync(path.join(this.outdir, f), 'utf8'))]));
  }
}

// The harness side of a user process: reports an uncaught error (construction or the autoSynth on exit) as JSON.
const CAPTURE = `
const fs = require('fs');
process.on('uncaughtException', (e) => {
  let isValidationError = false;
  try { isValidationError = require('mlops-constructs').ValidationError.isValidationError(e); } catch {}
  fs.writeFileSync(process.env.MLOPS_CONSUMER_ERROR, JSON.stringify({
    name: (e && e.name) || typeof e, message: String(e && e.message !== undefined ? e.message : e), stack: String(e && e.stack), isValidationError,
  }));
  process.stderr.write(String(e && e.stack) + '\\n');
  process.exit(1);
});
`;

const projects = new Map<string, UserProject>();

export class UserProject {
  /** The shared project for these install options (built once, see package.ts). */
  public static get(options: InstallOptions = {}): UserProject {
    const key = JSON.stringify([...(options.withoutPeers ?? [])].sort());
    let project = projects.get(key);
    if (!project) {
      project = new UserProject(installLibrary(options));
      projects.set(key, project);
    }
    return project;
  }

  /** This test process's own folder inside the project (jest workers share the project). */
  public readonly dir: string;

  private constructor(public readonly root: string) {
    const work = path.join(root, 'work');
    this.dir = path.join(work, `${process.pid}-${crypto.randomBytes(3).toString('hex')}`);
    fs.mkdirSync(this.dir, { recursive: true });
    // Earlier runs' folders (kept for a look after a failure) go after an hour.
    for (const old of fs.readdirSync(work)) {
      const full = path.join(work, old);
      try {
        if (Date.now() - fs.statSync(full).mtimeMs > 3600_000) fs.rmSync(full, { recursive: true, force: true });
      } catch { /* removed by another worker */ }
    }
    fs.writeFileSync(path.join(this.dir, '.capture.cjs'), CAPTURE);
  }

  /** Writes a file of the user's project (relative to this process's folder) and returns its absolute path. */
  public write(file: string, content: string): string {
    const full = path.join(this.dir, file);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content.replace(/^\n/, ''));
    return full;
  }

  /** Runs a user's program (`<name>.ts` or `.js`) in its own Node process; type-checks TypeScript first. */
  public run(name: string, source: string, options: RunOptions = {}): UserRun {
    const file = this.write(/\.[cm]?[jt]s$/.test(name) ? name : `${name}.${options.language ?? 'ts'}`, source);
    if (/\.[cm]?ts$/.test(file)) {
      const diagnostics = this.typeCheck([file]);
      if (diagnostics.length > 0) throw new Error(`the user's code does not compile:\n${diagnostics.join('\n')}`);
    }
    return this.exec(file, options.env ?? {});
  }

  /**
   * Runs a user's CDK app as `cdk synth` does (CDK_OUTDIR and CDK_CONTEXT_JSON set, the app synthesizes on exit)
   * and returns the assembly. Deliberately no AWS environment: `CDK_DEFAULT_ACCOUNT/REGION` are unset.
   */
  public synth(name: string, source: string, options: RunOptions = {}): UserSynth {
    const outdir = fs.mkdtempSync(path.join(this.dir, `${name}.out-`));
    const run = this.run(name, source, {
      ...options,
      env: { ...options.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(flagContext(options.flags ?? 'none')) },
    });
    return new UserSynth(outdir, run, readValidationReport(outdir));
  }

  /**
   * Type-checks files of the user's project and returns the diagnostics as text (empty when it compiles).
   * `compilerOptions` default to the tsconfig `cdk init` writes. With `skipLibCheck: false`, the declarations of
   * mlops-constructs are checked too (other packages' declarations are not this library's to fix).
   */
  public typeCheck(files: string[], compilerOptions: Record<string, unknown> = CDK_INIT_COMPILER_OPTIONS): string[] {
    return typeCheck({ root: this.root, files, compilerOptions });
  }

  /** Runs the real `cdk` CLI in this process's folder of the project (write a cdk.json there first). */
  public cdk(args: string[]): SpawnSyncReturns<string> {
    return spawnSync(path.join(this.root, 'node_modules', '.bin', 'cdk'), args, {
      cwd: this.dir,
      encoding: 'utf8',
      env: { ...userEnv(), CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true' },
      timeout: 240_000,
    });
  }

  private exec(file: string, env: Record<string, string>): UserRun {
    const errorFile = `${file}.error.json`;
    fs.rmSync(errorFile, { force: true });
    const args = ['--require', path.join(this.dir, '.capture.cjs')];
    if (/\.[cm]?ts$/.test(file)) args.push('--import', 'tsx');
    const result = spawnSync(process.execPath, [...args, file], {
      cwd: this.dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...userEnv(), ...env, MLOPS_CONSUMER_ERROR: errorFile },
      timeout: 300_000,
    });
    if (result.error) throw result.error;
    const error = fs.existsSync(errorFile) ? JSON.parse(fs.readFileSync(errorFile, 'utf8')) as UserError : undefined;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, error };
  }
}

/** The environment of a user's shell on a machine with no AWS account: no jest or CDK variables leak in. */
function userEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(AWS_|CDK_|JEST_|NODE_OPTIONS$|TS_NODE_|npm_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, NODE_NO_WARNINGS: '1' };
}
