import * as fs from 'fs';
import * as path from 'path';
import { buildReadmeApp } from '../../examples/readme/app';
import { TEST_CERTIFICATE_ARN } from '../support/certificates';
import { cfnLint, describe as describeFindings, newApp, REPO_ROOT, synthesizeWithPacks } from '../support/gate';
import { EnvironmentProfile, MlopsPlatform, Rollout, ServingBackend } from 'mlops-constructs';

describe('the README', () => {
  test('its main example synthesizes cdk-nag clean and cfn-lint clean', () => {
    const app = newApp();
    const platforms = buildReadmeApp(app);
    expect(platforms.map((p) => p.platformStack.stackName)).toEqual(['fraud-dev-platform', 'fraud-prod-platform']);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('shows the example as it is in examples/readme/app.ts', () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const source = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'readme', 'app.ts'), 'utf8');
    for (const line of ['teams: [', "{ name: 'risk', costCenter: 'cc-risk', gpuSharePercent: 70, monthlyBudgetUsd: 800 },",
      'rollout: profile.scalesToZeroOffHours ? undefined : Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),']) {
      expect(readme).toContain(line);
      expect(source).toContain(line);
    }
  });

  test('quotes a real error message', () => {
    const app = newApp();
    let message = '';
    try {
      new MlopsPlatform(app, 'mlops-prod', {
        profile: EnvironmentProfile.prod(),
        project: 'p',
        costCenter: 'c',
        env: { region: 'us-east-1' },
        certificateArn: TEST_CERTIFICATE_ARN,
        experimentTracking: false,
        servedModels: [{ name: 'fraud', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't', rollout: Rollout.shadow() }],
      });
    } catch (e) {
      message = (e as Error).message;
    }
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    expect(message.length).toBeGreaterThan(0);
    // The README wraps the message over lines.
    expect(readme.replace(/\n/g, ' ')).toContain(`ValidationError: ${message}`);
  });
});
