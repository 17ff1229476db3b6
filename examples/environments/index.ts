import { App, Duration } from 'aws-cdk-lib';
import { EnvironmentProfile, MlopsPlatform, Rollout, ServedModelOptions, ServingBackend } from 'mlops-constructs';

/** The three environments of the reference app, each from a preset with the overrides a real team would set. */
export const REFERENCE_PROFILES: readonly EnvironmentProfile[] = [
  EnvironmentProfile.dev({ budget: { monthlyLimitUsd: 1500 } }),
  EnvironmentProfile.staging(),
  EnvironmentProfile.prod(),
];

/**
 * The models the reference platform serves. Where the profile has working hours (dev) they scale to zero at night
 * and a new version replaces the old at once; elsewhere a new version goes out as a 10% canary for 30 minutes.
 */
export function referenceModels(profile: EnvironmentProfile): ServedModelOptions[] {
  const canary = profile.scalesToZeroOffHours ? undefined : Rollout.canary({ percent: 10, bake: Duration.minutes(30) });
  return [
    {
      name: 'fraud-detector',
      backend: ServingBackend.FLEET,
      modelVersion: 'v3',
      imageTag: 'fraud-serve-1',
      instanceType: 'g5.xlarge',
      team: 'fraud',
      rollout: canary,
      variantVersions: canary ? { candidate: 'v4' } : undefined,
    },
    {
      name: 'recommender',
      backend: ServingBackend.ENDPOINT,
      // SageMaker deploys a new 'modelVersion' itself, shifting traffic by the rollout with rollback alarms.
      modelVersion: 'v7',
      imageTag: 'recs-serve-2',
      instanceType: 'g5.xlarge',
      team: 'recsys',
      rollout: canary,
    },
  ];
}

/**
 * Adds one platform per reference environment to `app`: stacks `mlops-<env>-data` and `mlops-<env>-platform`,
 * with construct paths `mlops-<env>/Data` and `mlops-<env>/Platform`.
 */
export function buildReferenceApp(app: App): MlopsPlatform[] {
  const region = process.env.CDK_DEFAULT_REGION ?? 'us-east-1';
  return REFERENCE_PROFILES.map((profile) => {
    const platform = new MlopsPlatform(app, `mlops-${profile.name}`, {
      profile,
      project: 'mlops',
      costCenter: 'ml-platform',
      env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
      teams: [
        { name: 'fraud', costCenter: 'cc-risk', gpuSharePercent: 60, monthlyBudgetUsd: profile.budget.monthlyLimitUsd * 0.4 },
        { name: 'recsys', costCenter: 'cc-growth', gpuSharePercent: 40, monthlyBudgetUsd: profile.budget.monthlyLimitUsd * 0.3 },
      ],
      modelFamilies: ['fraud-detector', 'recommender'],
      notifyEmails: ['mlops-oncall@example.com'],
      servedModels: referenceModels(profile),
    });
    platform.trainingCluster.addJobDefinition('FraudTrain', {
      imageRepository: platform.trainingImages,
      imageTag: 'fraud-train-1',
      datasetPrefix: 'fraud/',
      command: ['python', 'train.py'],
    });
    return platform;
  });
}
