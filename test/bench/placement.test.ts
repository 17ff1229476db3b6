// Placement of served models: adding a model never moves an existing model's resources (same logical ids in the
// same stack or nested stack), and the stacks stay within CloudFormation's limits at a moderate size.
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { benchModels, benchTeams, MAX_RESOURCES, MAX_TEMPLATE_BYTES, stackSizes } from '../../scripts/bench';
import { newApp } from '../support/gate';
import { EnvironmentProfile, MlopsPlatform } from 'mlops-constructs';

function platform(models: number, profile = EnvironmentProfile.prod()): MlopsPlatform {
  return new MlopsPlatform(newApp(), 'env', {
    profile,
    project: 'bench',
    costCenter: 'ml-platform',
    env: { region: 'us-east-1' },
    teams: benchTeams(profile.budget.monthlyLimitUsd),
    servedModels: benchModels(models),
  });
}

/** Every CloudFormation resource of the platform: construct path -> "<stack path> <logical id>". */
function placement(p: MlopsPlatform): Map<string, string> {
  const out = new Map<string, string>();
  for (const root of [p.dataStack, p.platformStack]) {
    for (const c of root.node.findAll()) {
      if (!CfnResource.isCfnResource(c)) continue;
      const stack = Stack.of(c);
      out.set(c.node.path, `${stack.node.path} ${stack.resolve(stack.getLogicalId(c))}`);
    }
  }
  return out;
}

describe('served model placement', () => {
  test('adding a model (and then another) moves none of the existing resources', () => {
    const before = placement(platform(4));
    const after = placement(platform(5));
    const afterTwo = placement(platform(6));
    expect(before.size).toBeGreaterThan(100);
    const moved = [...before].filter(([path, where]) => after.get(path) !== where || afterTwo.get(path) !== where);
    expect(moved).toEqual([]);
    // The new model's resources are all in its own nested stack.
    const added = [...after.keys()].filter((path) => !before.has(path));
    expect(added.length).toBeGreaterThan(5);
    expect(added.filter((path) => !path.includes('/Model-model-4'))).toEqual([]);
  });

  test('at 60 models the platform stack stays under 400 resources and every template under 800 KB', () => {
    const p = platform(60);
    const sizes = stackSizes((p.node.root as App).synth().directory);
    const platformStack = sizes.find((s) => !s.nested && s.name === p.platformStack.artifactId);
    expect(platformStack).toBeDefined();
    expect(platformStack!.resources).toBeLessThan(MAX_RESOURCES);
    // Each model adds one nested stack resource to the parent, nothing else.
    expect(platformStack!.resources).toBeLessThan(200);
    expect(sizes.filter((s) => s.nested)).toHaveLength(60);
    const over = sizes.filter((s) => s.resources >= MAX_RESOURCES || s.bytes >= MAX_TEMPLATE_BYTES);
    expect(over).toEqual([]);
  });
});
