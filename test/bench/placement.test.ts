// Placement of served models: inserting a model in the middle, removing one or reordering them never moves an
// existing model's resources (same logical id in the same top-level and nested stack), in the serving shards and in
// the data stack's served states alike.
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { benchModel, benchTeams } from '../../scripts/bench';
import { certificateArnFor } from '../support/certificates';
import { newApp } from '../support/gate';
import { EnvironmentProfile, MlopsPlatform, ServedModelOptions, servingShardOf, ValidationError } from 'mlops-constructs';

function platform(models: ServedModelOptions[], profile = EnvironmentProfile.prod(), app: App = newApp()): MlopsPlatform {
  return new MlopsPlatform(app, 'env', {
    profile,
    project: 'bench',
    costCenter: 'ml-platform',
    env: { region: 'us-east-1' },
    teams: benchTeams(profile.budget.monthlyLimitUsd),
    servedModels: models,
    experimentTracking: false,
    ...certificateArnFor(profile),
  });
}

/** Every CloudFormation resource of the environment: construct path -> "<top-level stack> / <stack> <logical id>". */
function placement(p: MlopsPlatform): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of p.node.findAll()) {
    if (!CfnResource.isCfnResource(c)) continue;
    const stack = Stack.of(c);
    let top = stack;
    while (top.nestedStackParent) top = top.nestedStackParent;
    out.set(c.node.path, `${top.stackName} / ${stack.node.path} ${stack.resolve(stack.getLogicalId(c))}`);
  }
  return out;
}

/** The resources of one model (its nested stack and its served state). */
function ofModel(where: Map<string, string>, model: string): Array<[string, string]> {
  return [...where].filter(([path]) => path.includes(`/Model-${model}/`) || path.endsWith(`/${model}/Resource`));
}

describe('served model placement', () => {
  // Ten models: fleets (with served states) and endpoints, some with canary rollouts.
  const base = Array.from({ length: 10 }, (_, i) => benchModel(i));
  const names = base.map((m) => m.name);
  let before: Map<string, string>;
  beforeAll(() => {
    before = placement(platform(base));
  });

  test('the baseline spreads the models over several shards', () => {
    const shards = new Set(names.map((n) => servingShardOf(n, 16)));
    expect(shards.size).toBeGreaterThan(3);
    for (const name of names) expect(ofModel(before, name).length).toBeGreaterThan(5);
  });

  test.each<[string, () => ServedModelOptions[], string[]]>([
    ['inserting a model in the middle', () => [...base.slice(0, 5), benchModel(100), ...base.slice(5)], names],
    ['removing a model', () => base.filter((m) => m.name !== 'model-4'), names.filter((n) => n !== 'model-4')],
    ['reordering the models', () => [...base].reverse(), names],
  ])('%s moves no resource of another model', (_name, models, kept) => {
    const after = placement(platform(models()));
    for (const name of kept) {
      const moved = ofModel(before, name).filter(([path, where]) => after.get(path) !== where);
      expect(moved).toEqual([]);
    }
  });

  test('a model pinned to a shard stays there and moves nothing else', () => {
    const pinned = base.map((m) => (m.name === 'model-3' ? { ...m, shard: 15 } : m));
    const p = platform(pinned);
    expect(p.servingStackOf('model-3')!.stackName).toBe('bench-prod-serving-15');
    const after = placement(p);
    for (const name of names.filter((n) => n !== 'model-3')) {
      expect(ofModel(before, name).filter(([path, where]) => after.get(path) !== where)).toEqual([]);
    }
  });

  test('a full shard is refused with the shard to pin the model to', () => {
    // 151 models hashing to one shard of 16: found by name, as a user would hit it.
    const full = Array.from({ length: 5000 }, (_, i) => `m-${i}`).filter((n) => servingShardOf(n, 16) === 7).slice(0, 151);
    const app = newApp();
    const p = platform([], EnvironmentProfile.dev(), app);
    const add = (name: string) => p.addServedModel({ name, backend: 'endpoint' as any, modelVersion: 'v1', imageTag: 't' });
    full.slice(0, 150).forEach(add);
    expect(() => add(full[150])).toThrow(ValidationError);
    expect(() => add(full[150])).toThrow(new RegExp(`'servedModels\\(${full[150]}\\)\\.shard' is full: serving shard 07 holds 150 models already.*`
      + 'pin the model to a shard with room, e.g. shard: 0 \\(it holds 0\\)'));
  });
});
