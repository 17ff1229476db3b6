// Synthesis benchmark (`npm run bench`): three environments (dev, staging, prod) of MlopsPlatform with 10, 50, 100
// and 200 served models, and one environment (prod) with 500 and 1,000, measuring wall time, peak memory and the size
// of every stack; writes docs/benchmarks.md.
// Each size runs in its own child process so peak RSS belongs to that size alone.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration } from 'aws-cdk-lib';
import { EnvironmentProfile, MlopsPlatform, PlatformTeam, Rollout, ServedModelOptions, ServingBackend } from '../lib';

export const SIZES = [10, 50, 100, 200, 500, 1000];
/** From this many models per environment a size is measured on one environment (prod): the limits are per environment. */
export const SINGLE_ENVIRONMENT_FROM = 500;
export const TEAMS = 5;
export const JOB_DEFINITIONS_PER_TEAM = 5;
/** The library's limits per template (CloudFormation's are 500 resources and 1 MB), and CloudFormation's own. */
export const MAX_RESOURCES = 400;
export const MAX_TEMPLATE_BYTES = 800 * 1024;
export const MAX_PARAMETERS = 200;
export const MAX_OUTPUTS = 200;
/** Peak memory of synthesizing one environment. */
export const MAX_PEAK_RSS_MB = 2048;
/** Runs per measurement; the fastest is reported (the machine is shared: slower runs measure other load). */
export const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
/** Runs per single-environment measurement (500 and 1,000 models take minutes each). */
export const REPEAT_LARGE = Math.max(1, Number(process.env.BENCH_REPEAT_LARGE ?? 1));

const ROOT = path.resolve(__dirname, '..');
const DOC = path.join(ROOT, 'docs', 'benchmarks.md');

export interface StackSize {
  readonly name: string;
  readonly resources: number;
  readonly bytes: number;
  readonly parameters: number;
  readonly outputs: number;
  readonly nested: boolean;
}

export interface RunResult {
  readonly label: string;
  readonly models: number;
  /** Environments in the app (3: dev, staging, prod; 1: prod). */
  readonly environments: number;
  readonly constructMs: number;
  readonly synthMs: number;
  readonly wallMs: number;
  readonly peakRssMb: number;
  readonly stacks: StackSize[];
}

/** The teams of a benchmark environment: five teams sharing the training cluster's fair-share queue. */
/** The certificate of the bench environments' load balancers where the profile requires TLS (a placeholder ARN). */
export const BENCH_CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:111111111111:certificate/00000000-0000-4000-8000-00000000be1c';

export function benchTeams(budgetUsd: number): PlatformTeam[] {
  return Array.from({ length: TEAMS }, (_, i) => ({
    name: `team-${i + 1}`, costCenter: `cc-${1000 + i}`, gpuSharePercent: 100 / TEAMS, monthlyBudgetUsd: Math.round(budgetUsd / (TEAMS + 1)),
  }));
}

/**
 * `n` served models, alternating FLEET and ENDPOINT, owned round-robin by the teams; every other fleet rolls a
 * candidate out as a canary (so half the fleets carry a rollout state machine).
 */
export function benchModels(n: number, offset = 0): ServedModelOptions[] {
  return Array.from({ length: n }, (_, j) => benchModel(j + offset));
}

/** The `i`-th benchmark model (see `benchModels`). */
export function benchModel(i: number): ServedModelOptions {
  const canary = i % 4 === 0;
  return {
    name: `model-${i}`,
    backend: i % 2 === 0 ? ServingBackend.FLEET : ServingBackend.ENDPOINT,
    modelVersion: 'v1',
    imageTag: `serve-${i}`,
    team: `team-${(i % TEAMS) + 1}`,
    rollout: canary ? Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) : undefined,
    variantVersions: canary ? { candidate: 'v2' } : undefined,
  };
}

/** The profiles a size is measured on: dev, staging and prod, or prod alone from `SINGLE_ENVIRONMENT_FROM` models. */
export function benchProfiles(models: number): EnvironmentProfile[] {
  return models >= SINGLE_ENVIRONMENT_FROM
    ? [EnvironmentProfile.prod()]
    : [EnvironmentProfile.dev(), EnvironmentProfile.staging(), EnvironmentProfile.prod()];
}

/** Builds the benchmark environments into `app` (see `benchProfiles`). */
export function buildBenchApp(app: App, models: number): MlopsPlatform[] {
  const env = { account: '111111111111', region: 'us-east-1' };
  return benchProfiles(models).map((profile) => {
    const platform = new MlopsPlatform(app, `bench-${profile.name}`, {
      profile,
      project: 'bench',
      costCenter: 'ml-platform',
      env,
      teams: benchTeams(profile.budget.monthlyLimitUsd),
      servedModels: benchModels(models),
      notifyEmails: ['oncall@example.com'],
      certificateArn: profile.requireTls ? BENCH_CERTIFICATE_ARN : undefined,
    });
    // Five training job definitions per team, all on the cluster's fair-share queue.
    for (const team of platform.teams) {
      for (let k = 0; k < JOB_DEFINITIONS_PER_TEAM; k++) {
        platform.trainingCluster.addJobDefinition(`${team.name}-job-${k}`, {
          imageRepository: platform.trainingImages, imageTag: `${team.name}-train-${k}`, datasetPrefix: `${team.name}/`, command: ['python', 'train.py'],
        });
      }
    }
    return platform;
  });
}

/** Every template of an assembly directory (nested stacks included) with its resource count and size. */
export function stackSizes(outdir: string): StackSize[] {
  const out: StackSize[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && entry.name.startsWith('assembly-')) {walk(full);} else if (entry.isFile() && entry.name.endsWith('.template.json')) {
        const text = fs.readFileSync(full, 'utf8');
        const template = JSON.parse(text);
        out.push({
          name: entry.name.replace(/\.template\.json$/, ''),
          resources: Object.keys(template.Resources ?? {}).length,
          bytes: Buffer.byteLength(text),
          parameters: Object.keys(template.Parameters ?? {}).length,
          outputs: Object.keys(template.Outputs ?? {}).length,
          nested: entry.name.includes('.nested.'),
        });
      }
    }
  };
  walk(outdir);
  return out;
}

/** Runs one measurement in this process: build, synthesize, measure. */
export function measure(label: string, models: number, environments: number, build: (app: App) => void): RunResult {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-bench-'));
  const context = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context ?? {};
  const t0 = process.hrtime.bigint();
  const app = new App({ outdir, context });
  build(app);
  const t1 = process.hrtime.bigint();
  app.synth();
  const t2 = process.hrtime.bigint();
  const stacks = stackSizes(outdir);
  fs.rmSync(outdir, { recursive: true, force: true });
  return {
    label,
    models,
    environments,
    constructMs: Number(t1 - t0) / 1e6,
    synthMs: Number(t2 - t1) / 1e6,
    wallMs: Number(t2 - t0) / 1e6,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    stacks,
  };
}

/** The fastest of REPEAT runs of `script --child <args>`, with the highest peak memory seen. */
export function bestOf(script: string, args: string[], repeat = REPEAT): RunResult {
  const runs = Array.from({ length: repeat }, () => runChild(script, args));
  const best = runs.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  return { ...best, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)) };
}

/** Runs `script --child <args>` in a fresh Node process (same loader) and parses its JSON result. */
export function runChild(script: string, args: string[]): RunResult {
  const result = spawnSync(process.execPath, [...process.execArgv, script, '--child', ...args], {
    encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=8192' },
  });
  if (result.status !== 0) throw new Error(`benchmark child ${args.join(' ')} failed:\n${result.stderr}\n${result.stdout}`);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
}

function largest(stacks: StackSize[], by: 'resources' | 'bytes' | 'parameters'): StackSize {
  return stacks.reduce((a, b) => (b[by] > a[by] ? b : a));
}

/** Wall time per served model and environment. */
function perModel(r: RunResult): string {
  return `${(r.wallMs / (r.models * r.environments)).toFixed(0)} ms`;
}

/** The row a stack is reported in: its own, or one row per kind of repeated stack (shards, model and state nested stacks). */
function stackGroup(s: StackSize): string {
  const env = /^(.*?)(Data|Platform|Serving)/.exec(s.name)?.[1] ?? '';
  if (s.nested && s.name.includes('DataServedState')) return `\`${env}\` served-state nested stacks of the data stack (one per shard)`;
  if (s.nested && /Serving\d\d/.test(s.name)) return `\`${env}\` model nested stacks (one per model)`;
  if (s.nested) return `\`${env}\` other nested stacks`;
  if (/Serving\d\d[0-9A-F]{8}$/.test(s.name)) return `\`${env}\` serving shard stacks`;
  return s.name;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The top-level platform stacks (artifact ids like `benchprodPlatform97A44333`), not the data stacks. */
function platformStacks(r: RunResult): StackSize[] {
  return r.stacks.filter((s) => !s.nested && /Platform[0-9A-F]{8}$/.test(s.name));
}

export function renderDoc(results: RunResult[], baseline: RunResult | undefined, library50: RunResult | undefined): string {
  const rows = results.map((r) => {
    const topLevel = r.stacks.filter((s) => !s.nested);
    const byRes = largest(r.stacks, 'resources');
    const byBytes = largest(r.stacks, 'bytes');
    const platform = largest(platformStacks(r), 'resources');
    const platformBytes = largest(platformStacks(r), 'bytes');
    const params = largest(r.stacks, 'parameters');
    const outputs = r.stacks.reduce((a, b) => (b.outputs > a.outputs ? b : a));
    return `| ${r.models} | ${r.environments} | ${sec(r.wallMs)} (${sec(r.constructMs)} + ${sec(r.synthMs)}) | ${perModel(r)} | ${r.peakRssMb.toFixed(0)} MB `
      + `| ${topLevel.length} + ${r.stacks.length - topLevel.length} nested | ${platform.resources} / ${kb(platformBytes.bytes)} `
      + `| ${byRes.resources} (\`${byRes.name}\`) | ${kb(byBytes.bytes)} (\`${byBytes.name}\`) | ${params.parameters} / ${outputs.outputs} |`;
  });
  const worstResources = Math.max(...results.flatMap((r) => r.stacks.map((s) => s.resources)));
  const worstBytes = Math.max(...results.flatMap((r) => r.stacks.map((s) => s.bytes)));
  const worstParameters = Math.max(...results.flatMap((r) => r.stacks.map((s) => s.parameters)));
  const worstOutputs = Math.max(...results.flatMap((r) => r.stacks.map((s) => s.outputs)));
  const single = results.filter((r) => r.environments === 1);
  const perStack = results.map((r) => {
    const groups = new Map<string, StackSize[]>();
    for (const s of r.stacks) {
      const key = stackGroup(s);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    const lines = [...groups.entries()].map(([name, list]) => {
      const res = list.map((s) => s.resources);
      const bytes = list.map((s) => s.bytes);
      return list.length === 1
        ? `| ${r.models} | \`${name}\` | ${res[0]} | ${kb(bytes[0])} |`
        : `| ${r.models} | ${name} x${list.length} | ${Math.min(...res)}-${Math.max(...res)} | ${kb(Math.min(...bytes))}-${kb(Math.max(...bytes))} |`;
    });
    return lines.join('\n');
  });
  let overhead = '';
  if (baseline && library50) {
    const libRes = library50.stacks.reduce((s, x) => s + x.resources, 0);
    const baseRes = baseline.stacks.reduce((s, x) => s + x.resources, 0);
    overhead = [
      '',
      '## Overhead against plain aws-cdk-lib (50 models)',
      '',
      '`scripts/bench-baseline.ts` builds the same environments by hand with aws-cdk-lib only: per environment a KMS key,',
      'a VPC with flow logs, the artifact buckets, two ECR repositories, an Aurora Serverless v2 registry, a Batch GPU',
      'cluster with a fair-share queue and the same job definitions, an alarm topic, a dashboard and a budget; per model a nested',
      'stack with either an Auto Scaling group behind an ALB (fleet) or a SageMaker model, endpoint configuration and endpoint',
      '(endpoint), with alarms. It has none of the library\'s extras (tracking server, governance roles and trail, cost',
      'guard actions, rollout variants, boundaries, per-model grants), so it is a floor, not an equal.',
      '',
      '| App | Wall time | Peak RSS | Resources (all stacks) | Time per resource |',
      '|---|---|---|---|---|',
      `| mlops-constructs | ${sec(library50.wallMs)} | ${library50.peakRssMb.toFixed(0)} MB | ${libRes} | ${(library50.wallMs / libRes).toFixed(1)} ms |`,
      `| hand-written aws-cdk-lib | ${sec(baseline.wallMs)} | ${baseline.peakRssMb.toFixed(0)} MB | ${baseRes} | ${(baseline.wallMs / baseRes).toFixed(1)} ms |`,
      '',
      `Overhead: ${(library50.wallMs / baseline.wallMs).toFixed(2)}x the time and ${(library50.peakRssMb / baseline.peakRssMb).toFixed(2)}x the memory for `
      + `${(libRes / baseRes).toFixed(2)}x the resources; per resource the library costs ${((library50.wallMs / libRes) / (baseline.wallMs / baseRes)).toFixed(2)}x `
      + 'what plain aws-cdk-lib does.',
    ].join('\n');
  }
  return [
    '# Benchmarks',
    '',
    '<!-- generated: npm run bench -->',
    '',
    `Measured by \`npm run bench\` (scripts/bench.ts) on ${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version},`,
    `${new Date().toISOString().slice(0, 10)}. Each size is one app with three \`MlopsPlatform\` environments (dev, staging, prod),`,
    `built and synthesized in a fresh Node process (no compliance packs; they add a fixed cost per resource). Times are the fastest of ${REPEAT}`
      + ` (from ${SINGLE_ENVIRONMENT_FROM} models: ${REPEAT_LARGE})`,
    'runs (the build machine is shared), peak RSS the highest of them.',
    `Load average when the report was written: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (1, 5, 15 min): above ${os.cpus().length}, other work`,
    'shared the CPUs and the absolute times are inflated; the ratios between sizes are what to compare.',
    '',
    'What one environment holds:',
    `- ${TEAMS} teams sharing the training cluster through its fair-share scheduling policy (20% each) and`,
    `  ${JOB_DEFINITIONS_PER_TEAM} training job definitions per team (${TEAMS * JOB_DEFINITIONS_PER_TEAM} per environment). \`GpuTrainingCluster\` has one GPU job queue`,
    '  (plus a multi-node queue where EFA is on) shared by all teams with a share identifier per team, not a queue per team, so',
    '  "5 training queues per team" is modelled as 5 job definitions per team on the shared fair-share queue;',
    '- the served models, alternating `FLEET` (Auto Scaling group + ALB) and `ENDPOINT` (SageMaker), owned round-robin by the teams;',
    '- a team budget per team.',
    '',
    '| Models per env | Environments | Wall time (construct + synth) | Per model and environment | Peak RSS | Stacks | Platform stack (resources / size) '
      + '| Most resources in one stack | Largest template | Most parameters / outputs in one stack |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Largest stack over all sizes: ${worstResources} resources (limit ${MAX_RESOURCES}), largest template ${kb(worstBytes)} (limit ${kb(MAX_TEMPLATE_BYTES)}), `
      + `most template parameters ${worstParameters} and outputs ${worstOutputs} (CloudFormation's limits: ${MAX_PARAMETERS} each).`,
    ...single.map((r) => `${r.models} models in one environment: peak RSS ${r.peakRssMb.toFixed(0)} MB (limit ${MAX_PEAK_RSS_MB} MB), `
      + `${r.stacks.length} templates (CloudFormation counts nested stacks against its 2,000 stacks per Region).`),
    '',
    '## Resources and template size per stack',
    '',
    '| Models | Stack | Resources | Template |',
    '|---|---|---|---|',
    ...perStack,
    overhead,
    '',
    '## Notes',
    '',
    '- Stack traces are left on, as `cdk synth` leaves them (creation stack metadata): about half of construction time.',
    '- Served models are placed by a hash of their name into serving shard stacks (`<prefix>-serving-<nn>`, 16 by default,',
    '  at most 150 models each): a model costs its shard one resource (its nested stack) and one template parameter (its',
    '  served state), and its served state costs one resource in a nested stack of the data stack. The platform stack no',
    '  longer grows with the models. Placement never moves a model when others are added, removed or reordered',
    '  (test/bench/placement.test.ts); test/bench/scale.test.ts asserts every limit at 1,000 models.',
    `- Sizes from ${SINGLE_ENVIRONMENT_FROM} models are measured on one environment (prod), ${REPEAT_LARGE} run(s) each: the limits (and the 2 GB`,
    '  of memory) are per environment, and three environments of 1,000 models are three times the work.',
    '- Found by this benchmark and fixed: the environment dashboard carried six widgets per model (834 KB platform',
    '  template at 100 models, over CloudWatch\'s 500 widgets per dashboard from 84 models), so a model monitored in its',
    '  own nested stack now gets its own dashboard there; and the cost guard\'s deny-GPU budget action named every serving',
    '  role, which AWS Budgets caps at 100 roles per action, so roles are now split into actions of 100, appended in order.',
    '',
  ].join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const [, kind, n] = args;
    const models = Number(n);
    const result = kind === 'baseline'
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ? measure('baseline', models, 3, (app) => require('./bench-baseline').buildBaselineApp(app, models))
      : measure('library', models, benchProfiles(models).length, (app) => buildBenchApp(app, models));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const sizes = args.length > 0 ? args.map(Number) : SIZES;
  const results: RunResult[] = [];
  for (const n of sizes) {
    const r = bestOf(__filename, ['library', String(n)], n >= SINGLE_ENVIRONMENT_FROM ? REPEAT_LARGE : REPEAT);
    const worst = largest(r.stacks, 'resources');
    console.log(`${n} models: ${sec(r.wallMs)} (construct ${sec(r.constructMs)}, synth ${sec(r.synthMs)}), peak RSS ${r.peakRssMb.toFixed(0)} MB, `
      + `${r.stacks.length} templates, most resources ${worst.resources} (${worst.name}), largest ${kb(largest(r.stacks, 'bytes').bytes)}`);
    results.push(r);
  }
  const baseline = bestOf(__filename, ['baseline', '50']);
  console.log(`baseline 50 models: ${sec(baseline.wallMs)}, peak RSS ${baseline.peakRssMb.toFixed(0)} MB, ${baseline.stacks.reduce((s, x) => s + x.resources, 0)} resources`);
  const violations = results.flatMap((r) => r.stacks
    .filter((s) => s.resources > MAX_RESOURCES || s.bytes > MAX_TEMPLATE_BYTES || s.parameters > MAX_PARAMETERS || s.outputs > MAX_OUTPUTS)
    .map((s) => `${r.models} models: ${s.name} has ${s.resources} resources, ${kb(s.bytes)}, ${s.parameters} parameters, ${s.outputs} outputs`))
    .concat(results.filter((r) => r.environments === 1 && r.peakRssMb >= MAX_PEAK_RSS_MB)
      .map((r) => `${r.models} models: peak RSS ${r.peakRssMb.toFixed(0)} MB for one environment (limit ${MAX_PEAK_RSS_MB} MB)`));
  fs.writeFileSync(DOC, renderDoc(results, baseline, results.find((r) => r.models === 50)));
  console.log(`wrote ${path.relative(ROOT, DOC)}`);
  if (violations.length > 0) {
    console.error(`Stacks over the limits:\n${violations.join('\n')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) main();
