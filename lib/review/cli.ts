import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { loadAssembly, ReviewInputError } from './assembly';
import { PlannedChange } from './classify';
import { fetchDeployedBase } from './deployed';
import { DEFAULT_MAX_MARKDOWN_CHARS, renderMarkdown } from './render-markdown';
import { reviewAssemblies } from './review';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const PROCESS_IO: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Exit codes of `mlops-review`. */
export const EXIT_OK = 0;
export const EXIT_BLOCKING = 1;
export const EXIT_USAGE = 2;

/** The default command that synthesizes the base in its worktree; `{out}` is replaced by the output directory. */
export const DEFAULT_SYNTH_COMMAND = 'npx cdk synth --quiet -o {out}';

interface CliOptions {
  readonly base?: string;
  readonly baseRef?: string;
  readonly deployed?: boolean;
  readonly changeSet?: string;
  readonly stack: string[];
  readonly topLevel?: boolean;
  readonly head: string;
  readonly allowDestroy: string[];
  readonly disposableStack: string[];
  readonly json?: boolean;
  readonly output?: string;
  readonly fullReport?: string;
  readonly maxChars: number;
  readonly synthCommand: string;
  readonly repo: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1000) throw new InvalidArgumentError('must be a whole number of at least 1000.');
  return n;
}

function program(io: CliIo): Command {
  return new Command('mlops-review')
    .description('Reviews an infrastructure change for a pull request: compares two synthesized versions of a CDK app '
      + '(every stack, nested stacks and Kubernetes manifests) and reports data loss (blocking), access broadening, '
      + 'ML rollout/scaling/GPU changes, new cdk-nag findings and the monthly cost delta. Works offline, without an AWS account.')
    .option('--base <dir>', 'cloud assembly of the base version (output of `cdk synth -o <dir>`)')
    .option('--base-ref <ref>', 'git ref of the base version; it is synthesized in a temporary worktree that reuses this checkout\'s node_modules')
    .option('--deployed', 'review against what is deployed: the CloudFormation template of each stack of the head (and its nested '
      + 'stacks), read with the stack\'s CDK bootstrap lookup role through the AWS CLI; fails (exit 2) when a template cannot be read')
    .option('--change-set <name>', 'with --deployed: review the change set of this name prepared for each stack (CDK Pipelines: '
      + 'PipelineChange), the change that executes: it must exist, be ready to execute (or contain no change) and hold the head\'s '
      + 'template, else exit 2; a stack it creates is reviewed as new')
    .option('--stack <name>', 'review only this stack of the head (stack name, display path or artifact id); repeatable', collect, [])
    .option('--top-level', 'review only the stacks at the top of the assemblies, not those of their Stages (nested assemblies)')
    .requiredOption('--head <dir>', 'cloud assembly of the head version (the pull request)')
    .option('--allow-destroy <id>', 'let an intended replacement/removal through: <stack>/<logical id>, a construct path '
      + '(or a prefix of one), or for Kubernetes <Kind>/<name>; a bare logical id is refused and one that matches nothing exits 2; repeatable', collect, [])
    .option('--disposable-stack <name>', 'treat a stack (id, name or stage prefix) as disposable: its data may be destroyed; '
      + 'stacks tagged mlops:disposable=true (or with that template metadata) in the base are disposable already; '
      + '"kubernetes-manifests" for the Kubernetes objects; repeatable', collect, [])
    .option('--json', 'print the report as JSON instead of Markdown')
    .option('--output <file>', 'write the report to a file instead of standard output')
    .option('--full-report <dir>', 'also write the whole report, never shortened, as review.md and review.json into this directory '
      + '(the workflow uploads it as an artifact; the comment refers to it when a section is shortened)')
    .option('--max-chars <n>', 'longest Markdown to produce; per-stack sections are dropped with a note to fit', positiveInt, DEFAULT_MAX_MARKDOWN_CHARS)
    .option('--synth-command <command>', 'command that synthesizes the base in its worktree ({out} is the output directory)', DEFAULT_SYNTH_COMMAND)
    .option('--repo <dir>', 'git repository the --base-ref is resolved in', '.')
    .addHelpText('after', [
      '',
      'Exit codes: 0 nothing blocks, 1 a change would lose data (see the Blocking section), 2 usage error, or (--deployed) what is deployed could not be read.',
      '',
      'Examples:',
      '  $ npx cdk synth -o head.out && mlops-review --base-ref origin/main --head head.out > review.md',
      '  $ mlops-review --base base.out --head head.out --allow-destroy mlops-dev/Store --json',
      '  $ mlops-review --deployed --head cdk.out/assembly-mlops-prod --output review.md',
      '  $ mlops-review --deployed --change-set PipelineChange --stack mlops-prod-data --head cdk.out/assembly-mlops-prod',
    ].join('\n'))
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(text) });
}

/**
 * Runs `mlops-review` with `argv` (the arguments after the command name). Returns the exit code: 0 when nothing
 * blocks, 1 when a change would lose data, 2 on a usage error (printed as one line on stderr).
 */
export async function main(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  const cmd = program(io);
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT_OK : EXIT_USAGE;
    }
    throw e;
  }
  const options = cmd.opts<CliOptions>();
  let cleanup: (() => void) | undefined;
  try {
    if ([options.base, options.baseRef, options.deployed].filter((x) => x !== undefined).length !== 1) {
      throw new ReviewInputError('give exactly one of --base <dir>, --base-ref <git ref> and --deployed.');
    }
    if (options.changeSet !== undefined && !options.deployed) throw new ReviewInputError('--change-set reviews a prepared change set against what is deployed: add --deployed.');
    const loadOptions = { nestedAssemblies: !options.topLevel };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-review-'));
    cleanup = () => fs.rmSync(work, { recursive: true, force: true });
    const headDir = options.stack.length > 0 ? selectStacks(options.head, options.stack, path.join(work, 'head')) : options.head;
    const head = loadAssembly(headDir, loadOptions);
    let baseDir = options.base;
    let plannedChanges: PlannedChange[] | undefined;
    if (options.deployed) {
      const dir = path.join(work, 'deployed');
      const deployed = fetchDeployedBase(headDir, dir, { ...loadOptions, changeSet: options.changeSet });
      io.stderr(`mlops-review: base is what is deployed: ${deployed.read.length} stack(s) read`
        + `${options.changeSet !== undefined ? `; head is change set ${options.changeSet}, checked to hold the synthesized templates` : ''}`
        + `${deployed.notDeployed.length > 0 ? `; not deployed yet (reviewed as new): ${deployed.notDeployed.join(', ')}` : ''}`
        + `${deployed.unchanged.length > 0 ? `; no change (CloudFormation): ${deployed.unchanged.join(', ')}` : ''}.\n`);
      baseDir = dir;
      plannedChanges = deployed.planned;
    } else if (options.baseRef !== undefined) {
      const synthesized = synthesizeRef(options.baseRef, options.repo, options.synthCommand);
      const removeWork = cleanup;
      cleanup = () => {
        synthesized.cleanup();
        removeWork();
      };
      baseDir = synthesized.outdir;
    }
    if (options.stack.length > 0 && !options.deployed) baseDir = selectStacks(baseDir!, options.stack, path.join(work, 'base'), { inBase: true });
    const base = loadAssembly(baseDir!, loadOptions);
    const report = reviewAssemblies(base, head, { allowDestroy: options.allowDestroy, disposableStacks: options.disposableStack, plannedChanges });
    const text = options.json ? `${JSON.stringify(report, undefined, 2)}\n` : renderMarkdown(report, { maxChars: options.maxChars });
    if (options.fullReport) {
      fs.mkdirSync(options.fullReport, { recursive: true });
      fs.writeFileSync(path.join(options.fullReport, 'review.md'), renderMarkdown(report, { maxChars: Number.MAX_SAFE_INTEGER }));
      fs.writeFileSync(path.join(options.fullReport, 'review.json'), `${JSON.stringify(report, undefined, 2)}\n`);
    }
    if (options.output) fs.writeFileSync(options.output, text);
    else io.stdout(text);
    return report.blocking.length > 0 ? EXIT_BLOCKING : EXIT_OK;
  } catch (e) {
    if (e instanceof ReviewInputError) {
      io.stderr(`mlops-review: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  } finally {
    cleanup?.();
  }
}

/**
 * A copy of the assembly `head` (files linked, manifests rewritten into `out`) holding only the stacks named in `names`
 * (stack name, display path or artifact id), in every nested assembly. A name that matches no stack is an error, except
 * in a base (`inBase`: the stack is new).
 */
export function selectStacks(head: string, names: readonly string[], out: string, options: { inBase?: boolean } = {}): string {
  const found = new Set<string>();
  const available: string[] = [];
  const copy = (from: string, to: string): void => {
    const manifestFile = path.join(from, 'manifest.json');
    if (!fs.existsSync(manifestFile)) throw new ReviewInputError(`${from}: not a cloud assembly (no manifest.json); pass the output of 'cdk synth -o <dir>'.`);
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    fs.mkdirSync(to, { recursive: true });
    const nested = new Set<string>();
    const artifacts: Record<string, any> = {};
    for (const [id, artifact] of Object.entries<any>(manifest.artifacts ?? {})) {
      if (artifact.type === 'cdk:cloud-assembly') {
        nested.add(artifact.properties?.directoryName ?? id);
      } else if (artifact.type === 'aws:cloudformation:stack') {
        const aliases = [id, artifact.displayName, artifact.properties?.stackName].filter((a): a is string => typeof a === 'string');
        available.push(artifact.properties?.stackName ?? id);
        const match = names.find((n) => aliases.includes(n));
        if (match === undefined) continue;
        found.add(match);
      }
      artifacts[id] = artifact;
    }
    for (const entry of fs.readdirSync(from)) {
      if (entry === 'manifest.json') continue;
      if (nested.has(entry)) copy(path.join(from, entry), path.join(to, entry));
      else fs.symlinkSync(path.join(from, entry), path.join(to, entry));
    }
    fs.writeFileSync(path.join(to, 'manifest.json'), JSON.stringify({ ...manifest, artifacts }, undefined, 1));
  };
  copy(path.resolve(head), out);
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0 && !options.inBase) {
    throw new ReviewInputError(`--stack ${missing.join(', ')}: no such stack in ${head} (stacks: ${available.join(', ') || 'none'}).`);
  }
  return out;
}

function git(repo: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
  if (r.error) throw new ReviewInputError(`git could not run (${r.error.message}); install git or pass --base <dir>.`);
  return { ok: r.status === 0, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

/**
 * Synthesizes `ref` in a temporary `git worktree` beside the repository. `node_modules` is symlinked from the
 * current checkout rather than installed, so this takes seconds, not minutes (the base must build with today's
 * dependencies; if it cannot, synthesize it yourself and pass --base).
 */
export function synthesizeRef(ref: string, repo: string, synthCommand: string = DEFAULT_SYNTH_COMMAND): { outdir: string; cleanup: () => void } {
  if (!fs.existsSync(repo)) throw new ReviewInputError(`${repo}: repository directory not found (--repo).`);
  const top = git(repo, ['rev-parse', '--show-toplevel']);
  if (!top.ok) throw new ReviewInputError(`${repo}: not a git repository; run from your checkout or pass --repo <dir>.`);
  const commit = git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!commit.ok) throw new ReviewInputError(`unknown git ref '${ref}'; fetch it first (git fetch origin ${ref}) or pass --base <dir>.`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-review-'));
  const worktree = path.join(root, 'src');
  const outdir = path.join(root, 'cdk.out');
  const added = git(top.stdout, ['worktree', 'add', '--detach', worktree, commit.stdout]);
  const cleanup = () => {
    if (added.ok) git(top.stdout, ['worktree', 'remove', '--force', worktree]);
    fs.rmSync(root, { recursive: true, force: true });
  };
  if (!added.ok) {
    cleanup();
    throw new ReviewInputError(`git worktree add failed for '${ref}': ${added.stderr.split('\n')[0]}`);
  }
  // The worktree sits at the same relative path as the repository root, so link node_modules at that level.
  const relative = path.relative(top.stdout, path.resolve(repo));
  const modules = path.join(top.stdout, relative, 'node_modules');
  const target = path.join(worktree, relative, 'node_modules');
  if (fs.existsSync(modules) && !fs.existsSync(target)) fs.symlinkSync(modules, target, 'dir');
  const command = synthCommand.includes('{out}') ? synthCommand.split('{out}').join(JSON.stringify(outdir)) : `${synthCommand} ${JSON.stringify(outdir)}`;
  const run = spawnSync(command, { cwd: path.join(worktree, relative), shell: true, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (run.status !== 0) {
    cleanup();
    const last = `${run.stderr ?? ''}${run.stdout ?? ''}`.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? `exit code ${run.status}`;
    throw new ReviewInputError(`synthesizing '${ref}' failed (${command}): ${last}`);
  }
  return { outdir, cleanup };
}
