import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT, tempDir, templatesIn } from '../support/gate';

// The README's main job uses the real cdk CLI through cdk.json: it must synthesize every environment with no
// AWS account (the compliance packs run inside bin/mlops-app.ts, so a finding would fail this too).
test('`cdk synth` (the real CLI, via cdk.json) writes the templates of every environment', () => {
  const out = tempDir('cli');
  const result = spawnSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '' },
    timeout: 240_000,
  });
  expect(result.stderr).not.toMatch(/Error|error TS/);
  expect(result.status).toBe(0);
  const names = templatesIn(out).map((t) => path.basename(t));
  for (const env of ['dev', 'staging', 'prod']) {
    expect(names.filter((n) => n.startsWith(`mlops${env}Data`) && n.endsWith('.template.json'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith(`mlops${env}Platform`) && !n.includes('.nested.'))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith(`mlops${env}PlatformModel`) && n.includes('.nested.'))).toHaveLength(2);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  const stackNames = Object.values(manifest.artifacts as Record<string, any>)
    .filter((a) => a.type === 'aws:cloudformation:stack')
    .map((a) => a.properties.stackName)
    .sort();
  expect(stackNames).toEqual([
    'mlops-dev-data', 'mlops-dev-platform', 'mlops-prod-data', 'mlops-prod-platform', 'mlops-staging-data', 'mlops-staging-platform',
  ]);
});
