// The README's "A whole environment in one construct" example, kept compiling and synthesizing by
// test/examples/readme.test.ts.
import { App, Duration } from 'aws-cdk-lib';
import { applyCompliancePacks, EnvironmentProfile, MlopsPlatform, Rollout, ServingBackend } from 'mlops-constructs';

export function buildReadmeApp(app: App): MlopsPlatform[] {
  const platforms: MlopsPlatform[] = [];
  for (const profile of [EnvironmentProfile.dev({ budget: { monthlyLimitUsd: 1500 } }), EnvironmentProfile.prod()]) {
    const platform = new MlopsPlatform(app, `fraud-${profile.name}`, {
      profile,
      project: 'fraud',
      costCenter: 'ml-platform',
      env: { region: 'us-east-1' },
      teams: [
        { name: 'risk', costCenter: 'cc-risk', gpuSharePercent: 70, monthlyBudgetUsd: 800 },
        { name: 'growth', costCenter: 'cc-growth', gpuSharePercent: 30 },
      ],
      modelFamilies: ['fraud-detector'],
      notifyEmails: ['mlops-oncall@example.com'],
      servedModels: [{
        name: 'fraud-detector',
        backend: ServingBackend.FLEET, // or ServingBackend.ENDPOINT (SageMaker)
        modelVersion: 'v3',
        imageTag: 'serve-1',
        team: 'risk',
        rollout: profile.scalesToZeroOffHours ? undefined : Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
        variantVersions: profile.scalesToZeroOffHours ? undefined : { candidate: 'v4' },
      }],
      // HTTPS on every load balancer where the profile requires TLS (staging, prod): a certificate of a private name
      // (e.g. *.ml.example.internal from ACM Private CA) in the environment's region. Dev serves HTTP without one.
      certificateArn: profile.requireTls ? 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000001' : undefined,
    });
    platform.trainingCluster.addJobDefinition('Train', { imageRepository: platform.trainingImages, imageTag: 'train-1', datasetPrefix: 'fraud/' });
    platforms.push(platform);
  }
  // AwsSolutions, NIST 800-53 rev 5, HIPAA Security and MlopsChecks: an unacknowledged finding fails `cdk synth`.
  applyCompliancePacks(app);
  return platforms;
}
