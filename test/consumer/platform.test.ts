// MlopsPlatform as a newcomer first writes it: only profile, project and costCenter, with and without an `env`, served
// models of both backends owned by no team; in a plain `new App()` and under every flag aws-cdk-lib recommends, with
// the compliance packs applied and no acknowledgement of the user's own.
import { FLAG_STATES, UserProject, UserSynth } from './support/user-project';

const PLATFORMS = `
import { App } from 'aws-cdk-lib';
import { applyCompliancePacks, EnvironmentProfile, MlopsPlatform, ServingBackend } from 'mlops-constructs';

const app = new App();
const models = [
  { name: 'fraud', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 'serve-1' },
  { name: 'churn', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 'serve-1' },
];
// Staging and prod serve HTTPS only: their load balancers need a certificate (dev serves HTTP without one).
const certificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/5a1e2f3b-6c7d-4e8f-9a0b-1c2d3e4f5a6b';
// Environment-agnostic (no env: the most common first try), with served models that name no team.
new MlopsPlatform(app, 'fraud-dev', { profile: EnvironmentProfile.dev(), project: 'fraud', costCenter: 'cc-1042', servedModels: models });
new MlopsPlatform(app, 'fraud-prod', { profile: EnvironmentProfile.prod(), project: 'fraud', costCenter: 'cc-1042', servedModels: models, certificateArn });
// Region-bound.
new MlopsPlatform(app, 'fraud-staging', {
  profile: EnvironmentProfile.staging(), project: 'fraud', costCenter: 'cc-1042', env: { account: '123456789012', region: 'eu-west-1' }, certificateArn,
});
applyCompliancePacks(app);
`;

describe.each(FLAG_STATES)('MlopsPlatform with only its required props (feature flags: %s)', (flags) => {
  let result: UserSynth;
  beforeAll(() => {
    result = UserProject.get().synth(`platforms-${flags}`, PLATFORMS, { flags });
  });

  test('synthesizes with no compliance finding, environment-agnostic or not', () => {
    expect(result.failure()).toBe('');
    expect(Object.values(result.stackNames()).sort()).toEqual([
      // The two served models hash to shards 13 (fraud) and 14 (churn); staging serves none, so has no shard.
      'fraud-dev-data', 'fraud-dev-platform', 'fraud-dev-serving-13', 'fraud-dev-serving-14',
      'fraud-prod-data', 'fraud-prod-platform', 'fraud-prod-serving-13', 'fraud-prod-serving-14',
      'fraud-staging-data', 'fraud-staging-platform',
    ]);
  });

  test('platform-owned GPU capacity (served models of no team, the training cluster) is charged to the platform', () => {
    const gpu = Object.values(result.templates()).flatMap((t) => Object.values(t.Resources as Record<string, any>))
      .filter((r) => ['AWS::EC2::LaunchTemplate', 'AWS::SageMaker::EndpointConfig', 'AWS::Batch::ComputeEnvironment'].includes(r.Type));
    // 3 platforms' training clusters (on-demand and spot) + a fleet's launch template and an endpoint config in 2 of them.
    expect(gpu.length).toBeGreaterThanOrEqual(10);
    const tagged = (r: any, key: string, value: string) => {
      const json = JSON.stringify(r.Properties);
      return json.includes(`{"Key":"${key}","Value":"${value}"}`) || json.includes(`"${key}":"${value}"`);
    };
    for (const r of gpu) expect([r.Type, tagged(r, 'mlops:team', 'shared'), tagged(r, 'mlops:cost-center', 'cc-1042')]).toEqual([r.Type, true, true]);
  });

  test('staging and prod load balancers serve HTTPS with the certificate (the tracking servers authenticate first) and port 80 only redirects; dev serves HTTP', () => {
    const listeners = Object.values(result.templates()).flatMap((t) => Object.values(t.Resources as Record<string, any>))
      .filter((r) => r.Type === 'AWS::ElasticLoadBalancingV2::Listener')
      .map((r) => `${r.Properties.Port}/${r.Properties.Protocol}/${r.Properties.DefaultActions[0].Type}`);
    // Tracking servers of dev, staging and prod (signing users in with their Cognito user pools outside dev), and the
    // fraud fleets of dev and prod.
    expect(listeners.sort()).toEqual([
      '443/HTTPS/authenticate-cognito', '443/HTTPS/authenticate-cognito', '443/HTTPS/forward',
      '80/HTTP/forward', '80/HTTP/forward',
      '80/HTTP/redirect', '80/HTTP/redirect', '80/HTTP/redirect',
    ]);
  });
});

describe('a prod MlopsPlatform without a certificate', () => {
  test('fails with a ValidationError naming the platform, certificateArn, the profile and how to get a certificate', () => {
    const result = UserProject.get().synth('platform-prod-no-certificate', `
import { App } from 'aws-cdk-lib';
import { EnvironmentProfile, MlopsPlatform } from 'mlops-constructs';

const app = new App();
new MlopsPlatform(app, 'fraud-prod', { profile: EnvironmentProfile.prod(), project: 'fraud', costCenter: 'cc-1042' });
`);
    expect(result.error.isValidationError).toBe(true);
    expect(result.error.message).toMatch(/^fraud-prod: 'certificateArn' is required under the 'prod' profile \(requireTls\): the experiment tracking server serves HTTPS only \(received undefined\)\. Fix: .*ACM Private CA.*pass its ARN as 'certificateArn'/);
  });
});
