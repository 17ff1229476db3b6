// 1,000 served models in one environment (#17): every stack, nested ones included, and everything else that grows
// per model stays inside CloudFormation's and the services' limits. Synthesized once for the whole file.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { SCALE_MODELS, ScaleAppResult } from './scale-app';
import {
  benchModels, MAX_OUTPUTS, MAX_PARAMETERS, MAX_PEAK_RSS_MB, MAX_RESOURCES, MAX_TEMPLATE_BYTES, StackSize, stackSizes,
} from '../../scripts/bench';
import { REPO_ROOT, tempDir } from '../support/gate';
import { fleetRolloutStateMachineName, SERVING_SHARDS } from 'mlops-constructs';

const MODELS = SCALE_MODELS;
/** CloudWatch: widgets and metrics per dashboard; alarms per alarm status widget; a composite rule's size and alarms. */
const DASHBOARD_WIDGETS = 500;
const DASHBOARD_METRICS = 2500;
const COMPOSITE_RULE_CHARS = 10240;
const COMPOSITE_RULE_ALARMS = 100;
/** AWS Budgets: roles per IAM action. */
const BUDGET_ACTION_ROLES = 100;

interface Synthesized extends ScaleAppResult {
  readonly sizes: StackSize[];
  readonly templates: Array<{ file: string; template: any }>;
}

let synthesized: Synthesized;

function resources(type: string): Array<{ file: string; id: string; resource: any }> {
  return synthesized.templates.flatMap(({ file, template }) => Object.entries(template.Resources ?? {})
    .filter(([, r]: [string, any]) => r.Type === type)
    .map(([id, resource]) => ({ file, id, resource })));
}

beforeAll(() => {
  // In a process of its own: peak memory is then this environment's, not the jest worker's lifetime peak.
  const child = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['--tsconfig', 'tsconfig.dev.json', 'test/bench/scale-app.ts', tempDir('scale')], {
    cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=4096' },
  });
  if (child.status !== 0) throw new Error(`the 1,000-model synthesis failed (exit ${child.status}):\n${child.stderr}\n${child.stdout}`);
  const result: ScaleAppResult = JSON.parse(child.stdout.trim().split('\n').pop()!);
  const sizes = stackSizes(result.outdir);
  const files: string[] = [];
  const walk = (dir: string) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory() && e.name.startsWith('assembly-')) walk(full);
    else if (e.isFile() && e.name.endsWith('.template.json')) files.push(full);
  });
  walk(result.outdir);
  const templates = files.map((file) => ({ file: path.basename(file), template: JSON.parse(fs.readFileSync(file, 'utf8')) }));
  synthesized = { ...result, sizes, templates };
}, 600_000);

describe(`${MODELS} served models in one environment`, () => {
  test('every stack, nested ones included, holds at most 400 resources, 800 KB, 200 parameters and 200 outputs', () => {
    const { sizes } = synthesized;
    expect(sizes.filter((s) => s.nested).length).toBeGreaterThanOrEqual(MODELS);
    const over = sizes.filter((s) => s.resources > MAX_RESOURCES || s.bytes > MAX_TEMPLATE_BYTES
      || s.parameters > MAX_PARAMETERS || s.outputs > MAX_OUTPUTS);
    expect(over).toEqual([]);
    // The platform stack no longer grows with the models: no nested stack and no output per model.
    const platformSize = sizes.find((s) => s.name === synthesized.platformArtifactId)!;
    expect(platformSize.resources).toBeLessThan(100);
  });

  test('models spread over the shards without any shard near its capacity, each shard stack one resource and one parameter per model', () => {
    expect(synthesized.servingArtifactIds).toHaveLength(SERVING_SHARDS.defaultCount);
    for (const artifactId of synthesized.servingArtifactIds) {
      const size = synthesized.sizes.find((s) => s.name === artifactId)!;
      const template = synthesized.templates.find((t) => t.file === `${artifactId}.template.json`)!.template;
      const nestedStacks = Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::CloudFormation::Stack').length;
      expect(nestedStacks).toBeLessThanOrEqual(SERVING_SHARDS.maxModelsPerShard * 0.7);
      // Per model: its nested stack and its served-state parameter; the shard's own: dashboard and bootstrap.
      expect(size.resources).toBeLessThanOrEqual(nestedStacks + 2);
      expect(size.parameters).toBeLessThanOrEqual(nestedStacks + 1);
    }
  });

  test(`synthesis takes less than ${MAX_PEAK_RSS_MB} MB of memory at its peak`, () => {
    // The peak of the process that built and synthesized the environment (and loaded TypeScript: tsx).
    expect(synthesized.peakRssMb).toBeLessThan(MAX_PEAK_RSS_MB);
  });

  test('one dashboard per shard within CloudWatch\'s widgets and metrics; the environment dashboard does not grow per model', () => {
    const dashboards = resources('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(SERVING_SHARDS.defaultCount + 1);
    for (const { resource } of dashboards) {
      const body = JSON.stringify(resource.Properties.DashboardBody);
      const widgets = (body.match(/\\"type\\":\\"(metric|alarm|text)\\"/g) ?? []).length;
      expect(widgets).toBeLessThanOrEqual(DASHBOARD_WIDGETS);
      // Every model graph shows at most 6 metrics (latency, error rate over two metrics, rollout progress, expressions).
      expect(widgets * 6).toBeLessThanOrEqual(DASHBOARD_METRICS);
      expect(body.length).toBeLessThan(256 * 1024);
    }
    const environment = dashboards.find(({ file }) => file === `${synthesized.platformArtifactId}.template.json`)!;
    expect(JSON.stringify(environment.resource.Properties.DashboardBody)).not.toMatch(/model-\d+/);
  });

  test('one rollout-health composite alarm per model, each rule far inside CloudWatch\'s limits', () => {
    const composites = resources('AWS::CloudWatch::CompositeAlarm');
    expect(composites).toHaveLength(MODELS);
    for (const { resource } of composites) {
      const rule = JSON.stringify(resource.Properties.AlarmRule);
      expect(rule.length).toBeLessThan(COMPOSITE_RULE_CHARS);
      expect((rule.match(/ALARM\(/g) ?? []).length).toBeLessThanOrEqual(COMPOSITE_RULE_ALARMS);
    }
  });

  test('budgets: one per team and the environment\'s; every budget action names at most 100 roles, none per model', () => {
    const budgets = resources('AWS::Budgets::Budget');
    expect(budgets).toHaveLength(1 + 5);
    for (const { resource } of resources('AWS::Budgets::BudgetsAction')) {
      expect(resource.Properties.Definition.IamActionDefinition?.Roles?.length ?? 0).toBeLessThanOrEqual(BUDGET_ACTION_ROLES);
    }
  });

  test('cost estimate output: one output holding every model\'s piece, well inside the template limit', () => {
    expect(synthesized.costPieces.filter((k) => k.startsWith('model model-'))).toHaveLength(MODELS);
    const template = synthesized.templates.find((t) => t.file === `${synthesized.platformArtifactId}.template.json`)!.template;
    const output = JSON.stringify(template.Outputs.EstimatedMonthlyCostUsd.Value);
    expect(output.length).toBeLessThan(100 * 1024);
  });

  test('cross-stack exports do not grow with the models: shards import only what the data and platform stacks share', () => {
    const exports = synthesized.templates.flatMap(({ template }) => Object.values(template.Outputs ?? {}).filter((o: any) => o.Export));
    expect(exports.length).toBeLessThan(60);
    const exporting = new Set(synthesized.templates.filter(({ template }) => Object.values(template.Outputs ?? {}).some((o: any) => o.Export))
      .map(({ file }) => file));
    expect([...exporting].sort()).toEqual([
      `${synthesized.dataArtifactId}.template.json`,
      `${synthesized.platformArtifactId}.template.json`,
    ].sort());
  });

  test('served states: one SSM parameter per model (fleets and one-variant endpoints), in nested stacks of the data stack, at most 150 each', () => {
    // Every bench endpoint serves one variant (no shadow or A/B), so promotion owns its version too.
    const models = benchModels(MODELS);
    const parameters = resources('AWS::SSM::Parameter').filter(({ resource }) => /\/served\//.test(resource.Properties.Name));
    expect(parameters).toHaveLength(models.length);
    expect(new Set(parameters.map(({ resource }) => resource.Properties.Name)).size).toBe(models.length);
    const perFile = new Map<string, number>();
    for (const { file } of parameters) perFile.set(file, (perFile.get(file) ?? 0) + 1);
    expect(Math.max(...perFile.values())).toBeLessThanOrEqual(SERVING_SHARDS.maxModelsPerShard);
    expect([...perFile.keys()].every((f) => f.includes('.nested.'))).toBe(true);
    expect(synthesized.servedStateOf['model-4']).toBe('current=v1@90,candidate=v2@10');
  });

  test('one rollout state machine per canary fleet, each in its model\'s nested stack, with a unique name promotion can build', () => {
    const canaries = benchModels(MODELS).filter((m) => m.backend === 'fleet' && m.rollout);
    // Besides the GPU brake's two in the platform stack.
    const machines = resources('AWS::StepFunctions::StateMachine').filter(({ id }) => id.startsWith('RolloutStateMachine'));
    expect(machines).toHaveLength(canaries.length);
    expect(machines.every(({ file }) => file.includes('.nested.'))).toBe(true);
    const names = machines.map(({ resource }) => resource.Properties.StateMachineName);
    expect(new Set(names).size).toBe(canaries.length);
    expect(names.every((n: string) => n.length <= 80)).toBe(true);
    expect(names).toContain(fleetRolloutStateMachineName(synthesized.stackNamePrefix, canaries[0].name));
  });

  test('the environment is about 1,050 stacks: CloudFormation counts nested stacks against the 2,000 stacks per Region', () => {
    expect(synthesized.templates.length).toBeLessThan(1100);
    // Recorded for docs/benchmarks.md: how long this file's synthesis took on this machine.
    expect(synthesized.seconds).toBeGreaterThan(0);
  });
});
