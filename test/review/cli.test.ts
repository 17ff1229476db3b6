import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { parse } from 'yaml';
import { buildReferenceApp } from '../../examples/environments';
import { newApp, REPO_ROOT, tempDir } from '../support/gate';
import { CostModel, PurchaseOption } from 'mlops-constructs';
import { loadAssembly, main, REVIEW_COMMENT_MARKER, renderMarkdown, reviewAssemblies } from 'mlops-constructs/review';

// The CLI end to end on two synthesized versions of the reference app (examples/environments): the base has a
// retained scratch bucket in staging, the head drops it and adds a spot GPU fleet to dev. Both sides are built
// from the same reference code, so the review sees only these changes however the reference app grows.

function synthReference(change: (app: App) => void): string {
  const app = newApp();
  buildReferenceApp(app);
  change(app);
  app.synth();
  return app.outdir;
}

function baseChange(app: App): void {
  new s3.Bucket(app.node.findChild('mlops-staging').node.findChild('Data'), 'Scratch', { removalPolicy: RemovalPolicy.RETAIN, enforceSSL: true });
}

function headChange(app: App): void {
  const dev = app.node.findChild('mlops-dev').node.findChild('Platform');
  const template = new ec2.CfnLaunchTemplate(dev, 'GpuTemplate', {
    launchTemplateData: {
      instanceType: 'g5.xlarge',
      instanceMarketOptions: { marketType: 'spot' },
      metadataOptions: { httpTokens: 'required' },
    },
  });
  new autoscaling.CfnAutoScalingGroup(dev, 'GpuFleet', {
    minSize: '0',
    maxSize: '2',
    availabilityZones: Fn.getAzs(),
    launchTemplate: { launchTemplateId: template.ref, version: template.attrLatestVersionNumber },
  });
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

describe('mlops-review on the reference app', () => {
  const baseDir = synthReference(baseChange);
  const headDir = synthReference(headChange);
  const fleetMax = CostModel.default().monthlyInstanceCost({ instance: 'g5.xlarge', count: 2, purchase: PurchaseOption.SPOT });

  test('Markdown: summary, blocking list, ML and cost delta figures; exit code 1', async () => {
    const { code, stdout, stderr } = await run(['--base', baseDir, '--head', headDir]);
    expect(stderr).toBe('');
    expect(code).toBe(1);
    // 2 x g5.xlarge on spot at the g5 family's 42% of on-demand: 2 * 1.006 * 0.42 * 730
    expect(fleetMax).toBe(616.88);
    const cost = reviewAssemblies(loadAssembly(baseDir), loadAssembly(headDir)).cost;
    expect(cost.deltaMinUsd).toBe(0);
    expect(cost.deltaMaxUsd).toBe(fleetMax);
    const usd = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    expect(stdout.startsWith(`${REVIEW_COMMENT_MARKER}\n## MLOps infrastructure review`)).toBe(true);
    expect(stdout).toContain('**⛔ 1 blocking change(s)**');
    expect(stdout).toContain('- Stacks changed: 2 of 18');
    const range = (min: number, max: number) => (min === max ? usd(min) : `${usd(min)} – ${usd(max)}`);
    expect(stdout).toContain(`- Monthly cost: ${range(cost.baseMinUsd, cost.baseMaxUsd)} → ${range(cost.headMinUsd, cost.headMaxUsd)} `
      + '($0.00 at minimum, +$616.88 at maximum capacity)');
    expect(stdout).toMatch(/### ⛔ Blocking\n\n- \*\*mlops-staging\/Data\*\* `mlops-staging\/Data\/Scratch\/Resource` \(Scratch\w+\) `AWS::S3::Bucket` orphaned: /);
    expect(stdout).toContain('### ML changes\n\n- **mlops-dev/Platform** gpu-capacity: GPUs at maximum capacity 8 → 10');
    expect(stdout).toMatch(/\| mlops-dev\/Platform \| \$[\d,.]+( – \$[\d,.]+)? \| \$[\d,.]+ – \$[\d,.]+ \| \$0\.00 \| \+\$616\.88 \|/);
    expect(stdout).toMatch(/\| \*\*Total\*\* \| .* \| \*\*\$0\.00\*\* \| \*\*\+\$616\.88\*\* \|/);
    expect(stdout).toContain('Spot is priced per family as a share of on-demand');
    expect(stdout).toContain('<details>\n<summary>mlops-dev/Platform: changed — 2 added</summary>');
    expect(stdout).toMatch(/<summary>mlops-staging\/Data: changed — [\d a-z,]*orphaned — ⛔ 1 blocking<\/summary>/);
    expect(stdout).not.toContain('<summary>mlops-prod');
    expect(stdout).toContain('- GpuFleet: Auto Scaling group: 0-2 x g5.xlarge (spot), $0.00 – $616.88');
  });

  test('--allow-destroy lets the intended removal through: exit code 0', async () => {
    const { code, stdout } = await run(['--base', baseDir, '--head', headDir, '--allow-destroy', 'mlops-staging/Data/Scratch']);
    expect(code).toBe(0);
    expect(stdout).toContain('**✅ No blocking changes.**');
    expect(stdout).toMatch(/### Allowed destructive changes\n\n- \*\*mlops-staging\/Data\*\* .* orphaned \(allowed by allow-destroy\)/);
  });

  test('--disposable-stack lets it through too', async () => {
    const { code } = await run(['--base', baseDir, '--head', headDir, '--disposable-stack', 'mlops-staging-data']);
    expect(code).toBe(0);
  });

  test('--stack reviews only the named stacks, of base and head', async () => {
    const staging = await run(['--base', baseDir, '--head', headDir, '--stack', 'mlops-staging-data']);
    expect(staging.code).toBe(1);
    const dev = await run(['--base', baseDir, '--head', headDir, '--stack', 'mlops-dev-platform', '--json']);
    expect(dev.code).toBe(0);
    const ids: string[] = JSON.parse(dev.stdout).stacks.map((s: { id: string }) => s.id);
    expect(ids).toContain('mlops-dev/Platform');
    expect(ids.filter((id) => !id.startsWith('mlops-dev/Platform'))).toEqual([]);
  });

  test('--json prints the report for machines; --output writes it to a file', async () => {
    const json = await run(['--base', baseDir, '--head', headDir, '--json']);
    const report = JSON.parse(json.stdout);
    expect(report.blocking).toHaveLength(1);
    expect(report.cost).toMatchObject({ deltaMinUsd: 0, deltaMaxUsd: 616.88 });
    expect(report.cost.headMaxUsd).toBeCloseTo(report.cost.baseMaxUsd + 616.88, 2);
    const statuses = Object.fromEntries(report.stacks.map((s: any) => [s.id, s.status]));
    // Per environment: Data, its served-state nested stack, Platform, one serving shard and its two model nested stacks.
    expect(Object.keys(statuses)).toHaveLength(18);
    expect(Object.entries(statuses).filter(([, status]) => status === 'changed').map(([id]) => id)).toEqual(['mlops-dev/Platform', 'mlops-staging/Data']);

    const file = path.join(tempDir('review'), 'review.md');
    const written = await run(['--base', baseDir, '--head', headDir, '--output', file]);
    expect(written.stdout).toBe('');
    expect(fs.readFileSync(file, 'utf8')).toContain('### ⛔ Blocking');
  });

  test('an unchanged app: no blocking, nothing changed, exit code 0', async () => {
    const { code, stdout } = await run(['--base', baseDir, '--head', baseDir]);
    expect(code).toBe(0);
    expect(stdout).toContain('- Stacks changed: 0 of 18');
    expect(stdout).not.toContain('<details>');
  });

  test('Markdown stays under the limit, dropping stack sections with a note', () => {
    const report = reviewAssemblies(loadAssembly(baseDir), loadAssembly(headDir));
    const full = renderMarkdown(report);
    expect(full.length).toBeLessThan(60_000);
    const limit = full.indexOf('<details>') + 200;
    const cut = renderMarkdown(report, { maxChars: limit });
    expect(cut.length).toBeLessThanOrEqual(limit);
    expect(cut).toContain('**Truncated:** 2 stack section(s) left out');
    expect(cut).toContain('### ⛔ Blocking');
    const tiny = renderMarkdown(report, { maxChars: 500 });
    expect(tiny.length).toBeLessThanOrEqual(500);
    expect(tiny).toContain('the summary alone is too long');
  });

  test('--base-ref synthesizes the base in a temporary git worktree and removes it afterwards', async () => {
    const repo = tempDir('repo');
    fs.cpSync(baseDir, path.join(repo, 'prebuilt'), { recursive: true });
    const git = (...args: string[]) => spawnSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'base');
    const { code, stdout, stderr } = await run(['--base-ref', 'HEAD', '--repo', repo, '--head', headDir, '--synth-command', 'cp -r prebuilt {out}']);
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(stdout).toContain('### ⛔ Blocking');
    expect(git('worktree', 'list').stdout.trim().split('\n')).toHaveLength(1);

    const failing = await run(['--base-ref', 'HEAD', '--repo', repo, '--head', headDir, '--synth-command', 'echo "boom: no app" >&2; exit 3']);
    expect(failing.code).toBe(2);
    expect(failing.stderr).toMatch(/^mlops-review: synthesizing 'HEAD' failed \(.*\): boom: no app\n$/);
    expect(git('worktree', 'list').stdout.trim().split('\n')).toHaveLength(1);
  });
});

describe('mlops-review usage', () => {
  const assembly = (() => {
    const app = newApp();
    buildReferenceApp(app);
    app.synth();
    return app.outdir;
  })();

  test('--help documents every option; exit code 0', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const option of ['--base <dir>', '--base-ref <ref>', '--head <dir>', '--allow-destroy <id>', '--disposable-stack <name>', '--json',
      '--output <file>', '--max-chars <n>', '--synth-command <command>', '--repo <dir>', '--deployed', '--change-set <name>', '--stack <name>',
      '--top-level', '-h, --help']) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toContain('Exit codes: 0 nothing blocks, 1 a change would lose data');
  });

  test.each([
    [['--base', assembly], /^error: required option '--head <dir>' not specified\n$/],
    [['--base', '/nonexistent/base', '--head', assembly], /^mlops-review: \/nonexistent\/base: directory not found; pass the output of 'cdk synth -o <dir>'\.\n$/],
    [['--base', REPO_ROOT + '/lib', '--head', assembly], /^mlops-review: .*\/lib: not a cloud assembly \(no manifest\.json\); pass the output of 'cdk synth -o <dir>'\.\n$/],
    [['--head', assembly], /^mlops-review: give exactly one of --base <dir>, --base-ref <git ref> and --deployed\.\n$/],
    [['--base', assembly, '--base-ref', 'main', '--head', assembly], /^mlops-review: give exactly one of --base <dir>, --base-ref <git ref> and --deployed\.\n$/],
    [['--base-ref', 'no-such-ref-d41d8cd9', '--repo', REPO_ROOT, '--head', assembly],
      /^mlops-review: unknown git ref 'no-such-ref-d41d8cd9'; fetch it first \(git fetch origin no-such-ref-d41d8cd9\) or pass --base <dir>\.\n$/],
    [['--base-ref', 'main', '--repo', tempDir('norepo'), '--head', assembly], /^mlops-review: .*: not a git repository; run from your checkout or pass --repo <dir>\.\n$/],
    [['--base', assembly, '--head', assembly, '--max-chars', 'ten'], /^error: option '--max-chars <n>' argument 'ten' is invalid\. must be a whole number of at least 1000\.\n$/],
    [['--base', assembly, '--head', assembly, '--colour'], /^error: unknown option '--colour'/],
    [['--base', assembly, '--head', assembly, '--change-set', 'PipelineChange'],
      /^mlops-review: --change-set reviews a prepared change set against what is deployed: add --deployed\.\n$/],
    [['--base', assembly, '--head', assembly, '--stack', 'no-such-stack'], /^mlops-review: --stack no-such-stack: no such stack in .* \(stacks: mlops-dev-data, /],
  ])('bad input %j: one-line error, exit code 2', async (argv, message) => {
    const { code, stdout, stderr } = await run(argv as string[]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message as RegExp);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  test('a manifest.json that is not an assembly manifest is rejected', async () => {
    const dir = tempDir('notassembly');
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"name": "web-app"}');
    const { code, stderr } = await run(['--base', dir, '--head', assembly]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/manifest\.json is not a cloud assembly manifest\.\n$/);
  });
});

describe('examples/github/mlops-review.yml', () => {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'github', 'mlops-review.yml'), 'utf8');
  const workflow = parse(text);

  test('synthesizes head, reviews against the base commit and fails on blocking changes', () => {
    const steps: any[] = workflow.jobs.review.steps;
    expect(workflow.permissions).toEqual({ 'contents': 'read', 'pull-requests': 'write' });
    expect(steps.find((s) => s.name === 'Synthesize head').run).toContain('npx cdk synth --quiet -o "$RUNNER_TEMP/head.out"');
    const review = steps.find((s) => s.name === 'Review');
    expect(review.run).toContain('args=(--base-ref "$BASE_SHA" --head "$RUNNER_TEMP/head.out" --output "$RUNNER_TEMP/review.md" '
      + '--full-report "$RUNNER_TEMP/review-full")');
    expect(steps.find((s) => s.name === 'Upload the full report (review.md, review.json)').with).toEqual({ name: 'mlops-review-full-report', path: '${{ runner.temp }}/review-full' });
    expect(review.run).toContain('args+=(--allow-destroy "${BASH_REMATCH[1]}")');
    expect(steps.find((s) => s.name === 'Fail on blocking changes').if).toBe("steps.review.outputs.code == '1'");
  });

  test('updates the previous comment found by the hidden marker', () => {
    const post = workflow.jobs.review.steps.find((s: any) => s.name === 'Post or update the review comment');
    expect(post.with.script).toContain(`const marker = '${REVIEW_COMMENT_MARKER}';`);
    expect(post.with.script).toContain('github.rest.issues.updateComment');
    expect(post.with.script).toContain('github.rest.issues.createComment');
  });
});
