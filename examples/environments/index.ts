import { App, Aws, Duration } from 'aws-cdk-lib';
import { Schedule } from 'aws-cdk-lib/aws-events';
import {
  ArtifactPurpose, EksGpuCluster, EnvironmentProfile, MlopsPlatform, MlopsPlatformProps, MODEL_ARTIFACT_LAYOUT, Rollout, ServedModelOptions,
  ServingBackend,
} from 'mlops-constructs';

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
 * The certificate the load balancers of an environment whose profile requires TLS (staging, prod) serve HTTPS with: a
 * wildcard certificate of the private name `*.ml.example.internal`, issued by ACM Private CA in the environment's
 * region (internal load balancers need no public name). Replace the placeholder ARNs with your certificates'.
 */
export function referenceCertificateArn(profile: EnvironmentProfile): string | undefined {
  if (!profile.requireTls) return undefined;
  return `arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-0000${profile.name === 'prod' ? '00000001' : '00000002'}`;
}

/** Accounts of the reference environments by profile name (`staging`, `prod`); unset: the environment's own account. */
export interface ReferenceAccounts {
  readonly staging?: string;
  readonly prod?: string;
}

/**
 * Lets prod promote what staging approved: staging's model packages and served archives, readable by prod's promotion
 * role only (prod's `promoteFrom`, set by `referencePlatformProps`, names staging's account).
 */
export function shareStagingWithProd(staging: MlopsPlatform, prod: MlopsPlatform, prodAccount: string = Aws.ACCOUNT_ID): void {
  staging.shareServedModelsWith({ account: prodAccount, promotionRoleName: prod.artifactStore.promotionRoleName });
}

/**
 * The platform of one reference environment (without its account and region), shared by this app, the delivery
 * pipeline example (examples/pipeline) and the emulator app (scripts/local-app.ts).
 */
export function referencePlatformProps(profile: EnvironmentProfile, accounts: ReferenceAccounts = {}): MlopsPlatformProps {
  return {
    // Prod serves what staging approved (the same artifact, by its model package ARN) and does not retrain.
    ...(profile.name === 'prod' ? { promoteFrom: { account: accounts.staging } } : {}),
    profile,
    project: 'mlops',
    costCenter: 'ml-platform',
    teams: [
      { name: 'fraud', costCenter: 'cc-risk', gpuSharePercent: 60, monthlyBudgetUsd: profile.budget.monthlyLimitUsd * 0.4 },
      { name: 'recsys', costCenter: 'cc-growth', gpuSharePercent: 40, monthlyBudgetUsd: profile.budget.monthlyLimitUsd * 0.3 },
    ],
    modelFamilies: ['fraud-detector', 'recommender'],
    notifyEmails: ['mlops-oncall@example.com'],
    servedModels: referenceModels(profile),
    certificateArn: referenceCertificateArn(profile),
    // The certificate's name for the tracking server (a DNS record points it at the load balancer): the sign-in callback.
    trackingDomainName: profile.requireTls ? `mlflow.${profile.name}.ml.example.internal` : undefined,
  };
}

/**
 * Adds one platform per reference environment to `app`: stacks `mlops-<env>-data` and `mlops-<env>-platform`,
 * with construct paths `mlops-<env>/Data` and `mlops-<env>/Platform`. Dev and staging retrain the recommender; prod
 * promotes the package staging approved (`platform.modelPromotion` with `{"model", "version", "modelPackageArn"}`).
 */
export function buildReferenceApp(app: App): MlopsPlatform[] {
  const region = process.env.CDK_DEFAULT_REGION ?? 'us-east-1';
  const platforms = REFERENCE_PROFILES.map((profile) => {
    const platform = new MlopsPlatform(app, `mlops-${profile.name}`, {
      ...referencePlatformProps(profile),
      env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
    });
    platform.trainingCluster.addJobDefinition('FraudTrain', {
      imageRepository: platform.trainingImages,
      imageTag: 'fraud-train-1',
      datasetPrefix: 'fraud/',
      command: ['python', 'train.py'],
    });
    // Retraining of the recommender: weekly and on new data, gated on evaluation, fairness and approval.
    const recsJob = (id: string, tag: string) => platform.trainingCluster.addJobDefinition(id, {
      imageRepository: platform.trainingImages, imageTag: tag, datasetPrefix: 'recommender/',
    });
    if (profile.name !== 'prod') {
      platform.addModelPipeline('RecommenderPipeline', {
        modelName: 'recommender',
        servingImageUri: platform.servingImages.imageUri('recs-serve-2'),
        validateJob: recsJob('RecsValidate', 'recs-validate-1'),
        trainJob: recsJob('RecsTrain', 'recs-train-1'),
        evaluateJob: recsJob('RecsEvaluate', 'recs-eval-1'),
        triggers: { schedule: Schedule.rate(Duration.days(7)), onNewData: true },
      });
    } else {
      // Prod also runs team workloads on Kubernetes (examples/k8s): a GPU EKS cluster whose team service accounts
      // reach only their own prefixes of the artifact store through EKS Pod Identity.
      const eks = new EksGpuCluster(platform.platformStack, 'Eks', {
        vpc: platform.network.vpc,
        encryptionKey: platform.platformKey.key,
        personas: platform.governance,
        teamNamespaces: platform.teams.map((t) => t.name),
      });
      for (const team of platform.teams) {
        // A team's pods read its datasets and write candidates of its models; only promotion writes what is served.
        const models = referenceModels(profile).filter((m) => m.team === team.name);
        eks.addTeamServiceAccount(team.name, `${team.name}-workloads`, {
          artifactStore: platform.artifactStore,
          artifacts: [
            { purpose: ArtifactPurpose.DATASETS, prefix: `${team.name}/` },
            ...models.map((m) => ({ purpose: ArtifactPurpose.MODELS, prefix: MODEL_ARTIFACT_LAYOUT.candidatesPrefix(m.name), write: true })),
          ],
        });
      }
    }
    return platform;
  });
  const byName = (name: string) => platforms[REFERENCE_PROFILES.findIndex((p) => p.name === name)];
  shareStagingWithProd(byName('staging'), byName('prod'));
  return platforms;
}
