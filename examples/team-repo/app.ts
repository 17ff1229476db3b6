import { App, Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  EnvironmentProfile, GpuTrainingCluster, InferenceFleet, managedPolicyGrantee, MlopsMonitoring, MlopsPlatform, MlopsStack, Rollout,
} from 'mlops-constructs';

/**
 * Which shared environment the team deploys against: the platform's project and profile name it (its data stack
 * `mlops-prod-data` publishes every attribute under `/mlops/mlops-prod/shared/...` in Parameter Store), and the
 * account and region it lives in. Nothing else: bucket, key, database, subnet and repository names are read from
 * those parameters when the team's stack deploys.
 */
export interface SharedEnvironment {
  readonly project: string;
  readonly profile: EnvironmentProfile;
  readonly account: string;
  readonly region: string;
  /**
   * ARN of the certificate the team's load balancers serve HTTPS with, required where the profile requires TLS
   * (staging, prod): for example the platform's wildcard certificate of a private name from ACM Private CA.
   */
  readonly certificateArn?: string;
}

/** The fraud team's shared prod environment. */
export const SHARED_PROD: SharedEnvironment = {
  project: 'mlops',
  profile: EnvironmentProfile.prod(),
  account: '123456789012',
  region: 'us-east-1',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000001',
};

/** The team's own settings. */
export const TEAM = { name: 'fraud', costCenter: 'cc-risk', project: 'mlops' } as const;

/**
 * The fraud team's CDK app: one stack (`fraud-<env>`) with the team's tags, in the shared environment's account and
 * region, using its VPC, artifact store, model registry and image repositories through `MlopsPlatform.fromEnvironment`
 * and owning only what the team runs: a GPU training queue whose jobs read `fraud/` datasets and write their
 * checkpoints, a model fleet serving `fraud-detector` from the shared models bucket, and their alarms.
 */
export function buildTeamApp(app: App, shared: SharedEnvironment = SHARED_PROD): MlopsStack {
  const profile = shared.profile;
  const stack = new MlopsStack(app, `${TEAM.name}-${profile.name}`, {
    profile,
    project: TEAM.project,
    team: TEAM.name,
    costCenter: TEAM.costCenter,
    env: { account: shared.account, region: shared.region },
    description: `Team ${TEAM.name} (${profile.name}): training queue and served models on the shared MLOps platform`,
  });

  // Imported, never owned: nothing here can change or delete the platform's data. Each attribute the team's resources
  // use becomes a template parameter that CloudFormation reads from Parameter Store on deploy.
  const platform = MlopsPlatform.fromEnvironment(stack, 'SharedPlatform', { project: shared.project, profile });
  const { vpc, artifactStore, encryptionKey: key, modelRegistry: registry, trainingImages, servingImages } = platform;

  const monitoring = new MlopsMonitoring(stack, 'Monitoring', { encryptionKey: key });

  // The team's training queue: spot GPUs, scaling to zero when no job waits.
  const training = new GpuTrainingCluster(stack, 'Training', {
    vpc,
    artifactStore,
    encryptionKey: key,
    instanceTypes: ['g5.xlarge', 'g5.2xlarge', 'g6.xlarge'],
    maxGpus: 8,
    teams: [{ name: TEAM.name }],
  });
  const job = training.addJobDefinition('FraudTrain', {
    imageRepository: trainingImages,
    imageTag: 'fraud-train-4',
    datasetPrefix: `${TEAM.name}/`,
    command: ['python', 'train.py', '--register'],
    timeout: Duration.hours(6),
  });
  // Training registers the new model version in the shared registry as the team's database user.
  const registryAccess = new iam.ManagedPolicy(stack, 'FraudTrainRegistryAccess', {
    roles: [job.jobRole],
    description: 'Model registry access of the fraud training job',
  });
  registry.grantConnect(managedPolicyGrantee(job.jobRole, registryAccess), 'fraud_trainer');
  registry.allowConnectionsFrom(training.securityGroup);
  monitoring.monitor(training);

  // The team's served model, from the shared models bucket; a new version goes out as a 10% canary.
  const fleet = new InferenceFleet(stack, 'FraudDetector', {
    vpc,
    modelName: 'fraud-detector',
    modelVersion: 'v4',
    variantVersions: { candidate: 'v5' },
    artifactStore,
    image: servingImages,
    imageTag: 'fraud-serve-2',
    instanceType: 'g5.xlarge',
    encryptionKey: key,
    rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    notificationTopic: monitoring.alarmTopic,
    // HTTPS on 443 (port 80 redirects); required where the profile requires TLS.
    certificate: shared.certificateArn ? acm.Certificate.fromCertificateArn(stack, 'Certificate', shared.certificateArn) : undefined,
  });
  monitoring.monitorServing('fraud-detector', fleet, { gpu: true });
  return stack;
}

if (require.main === module) {
  const app = new App();
  buildTeamApp(app);
  app.synth();
}
