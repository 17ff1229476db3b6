import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { builtinValidationFindings, REPO_ROOT, tempDir, templatesIn } from '../support/gate';

// The README's main job uses the real cdk CLI through cdk.json: it must synthesize every environment with no
// AWS account (the compliance packs run inside bin/mlops-app.ts, so a finding would fail this too). aws-cdk-lib's
// built-in template validation runs as it does for a user (the jest setup turns it off elsewhere) and finds nothing.
test('`cdk synth` (the real CLI, via cdk.json) writes the templates of every environment; CDK\'s own template validation finds nothing', () => {
  const out = tempDir('cli');
  const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env, CDK_VALIDATION: 'true', CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '',
    },
    timeout: 480_000,
  });
  // On a loaded machine the synthesis (three environments, every compliance pack) has taken over 240 s: a timeout
  // reports itself (spawnSync ... ETIMEDOUT) rather than as a status of null.
  expect(result.error).toBeUndefined();
  expect(result.stderr).not.toMatch(/Error|error TS/);
  expect(result.status).toBe(0);
  // test/consumer/constructs.test.ts shows the validation reports a bad template where CDK_VALIDATION is not false.
  expect(builtinValidationFindings(out)).toEqual([]);
  const names = templatesIn(out).map((t) => path.basename(t));
  for (const env of ['dev', 'staging', 'prod']) {
    expect(names.filter((n) => n.startsWith(`mlops${env}Data`) && !n.includes('.nested.'))).toHaveLength(1);
    // The served state of the fleet of shard 07, in the data stack's nested stack of that shard.
    expect(names.filter((n) => n.startsWith(`mlops${env}DataServedState07`) && n.includes('.nested.'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith(`mlops${env}Platform`) && !n.includes('.nested.'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith(`mlops${env}Serving07`) && !n.includes('.nested.'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith(`mlops${env}Serving07Model`) && n.includes('.nested.'))).toHaveLength(2);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  const stackNames = Object.values(manifest.artifacts as Record<string, any>)
    .filter((a) => a.type === 'aws:cloudformation:stack')
    .map((a) => a.properties.stackName)
    .sort();
  expect(stackNames).toEqual(['dev', 'prod', 'staging'].flatMap((env) => [`mlops-${env}-data`, `mlops-${env}-platform`, `mlops-${env}-serving-07`]));
});

// The example apps synthesize with the real CLI as they ship, with no AWS account and lookups off: whatever context
// they need (the placeholder accounts' availability zones) comes with them.
test.each([
  ['examples/pipeline/main.ts', 'mlops-pipeline'],
  ['examples/team-repo/app.ts', 'fraud-prod'],
])('`cdk synth` of %s works offline; CDK\'s own template validation finds nothing', (app, stackName) => {
  const out = tempDir('cli-example');
  const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--lookups', 'false', '--output', out, '--app', `npx tsx --tsconfig tsconfig.dev.json ${app}`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env, CDK_VALIDATION: 'true', CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '',
    },
    timeout: 480_000,
  });
  expect(result.error).toBeUndefined();
  expect(result.stderr).not.toMatch(/Need to perform AWS calls|Error|error TS/);
  expect(result.status).toBe(0);
  expect(builtinValidationFindings(out)).toEqual([]);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  // A stack named after its id has no stackName property in the manifest: its artifact id is its name.
  const stackNames = Object.entries(manifest.artifacts as Record<string, any>)
    .filter(([, a]) => a.type === 'aws:cloudformation:stack').map(([id, a]) => a.properties.stackName ?? id);
  expect(stackNames).toContain(stackName);
});
