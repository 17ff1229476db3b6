import { App, Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  ArtifactPurpose, ArtifactStore, ArtifactStoreAttributes, EnvironmentProfile, GpuTrainingCluster, ImageRepository, InferenceFleet,
  managedPolicyGrantee, MlopsMonitoring, MlopsStack, ModelRegistry, ModelRegistryAttributes, Rollout,
} from 'mlops-constructs';

/**
 * What the platform team publishes about one environment (for example as stack outputs or SSM parameters copied
 * into the team's repository): names and ARNs only, so the team's app never owns, replaces or deletes shared data.
 */
export interface SharedPlatformAttributes {
  readonly profile: EnvironmentProfile;
  readonly account: string;
  readonly region: string;
  readonly vpc: ec2.VpcAttributes;
  readonly artifactStore: ArtifactStoreAttributes;
  readonly modelRegistry: ModelRegistryAttributes;
  /** ECR repository names of the platform's images. */
  readonly trainingImagesRepositoryName: string;
  readonly servingImagesRepositoryName: string;
}

/** The fraud team's view of the shared prod platform (`mlops-prod-data`), as the platform team published it. */
export const SHARED_PROD_PLATFORM: SharedPlatformAttributes = {
  profile: EnvironmentProfile.prod(),
  account: '123456789012',
  region: 'us-east-1',
  vpc: {
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    vpcCidrBlock: '10.40.0.0/16',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    privateSubnetIds: ['subnet-0aa00000000000001', 'subnet-0aa00000000000002'],
    privateSubnetRouteTableIds: ['rtb-0aa00000000000001', 'rtb-0aa00000000000002'],
    isolatedSubnetIds: ['subnet-0bb00000000000001', 'subnet-0bb00000000000002'],
    isolatedSubnetRouteTableIds: ['rtb-0bb00000000000001', 'rtb-0bb00000000000002'],
  },
  artifactStore: {
    bucketNames: {
      [ArtifactPurpose.DATASETS]: 'mlops-prod-datasets-123456789012',
      [ArtifactPurpose.MODELS]: 'mlops-prod-models-123456789012',
      [ArtifactPurpose.ARTIFACTS]: 'mlops-prod-artifacts-123456789012',
    },
    encryptionKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    accessLogBucketName: 'mlops-prod-access-logs-123456789012',
  },
  modelRegistry: {
    clusterIdentifier: 'mlops-prod-data-modelregistry',
    clusterResourceIdentifier: 'cluster-7QJ3X2KQ4ZB6YHT5RWDMNC2ESA',
    clusterEndpointAddress: 'mlops-prod-data-modelregistry.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com',
    port: 5433,
    securityGroupId: 'sg-0cc00000000000001',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mlops-prod-data-registry-Ab12Cd',
  },
  trainingImagesRepositoryName: 'mlops-prod/training',
  servingImagesRepositoryName: 'mlops-prod/serving',
};

/** The team's own settings. */
export const TEAM = { name: 'fraud', costCenter: 'cc-risk', project: 'mlops' } as const;

/**
 * The fraud team's CDK app: one stack (`fraud-<env>`) with the team's tags, using the shared platform's VPC,
 * artifact store, model registry and image repositories by attribute, and owning only what the team runs: a
 * GPU training queue whose jobs read `fraud/` datasets and write `fraud/` models, a model fleet serving
 * `fraud-detector` from the shared models bucket, and their alarms.
 */
export function buildTeamApp(app: App, shared: SharedPlatformAttributes = SHARED_PROD_PLATFORM): MlopsStack {
  const profile = shared.profile;
  const stack = new MlopsStack(app, `${TEAM.name}-${profile.name}`, {
    profile,
    project: TEAM.project,
    team: TEAM.name,
    costCenter: TEAM.costCenter,
    env: { account: shared.account, region: shared.region },
    description: `Team ${TEAM.name} (${profile.name}): training queue and served models on the shared MLOps platform`,
  });

  // Imported, never owned: nothing here can change or delete the platform's data.
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'SharedVpc', shared.vpc);
  const artifactStore = ArtifactStore.fromArtifactStoreAttributes(stack, 'SharedArtifactStore', shared.artifactStore);
  const registry = ModelRegistry.fromModelRegistryAttributes(stack, 'SharedModelRegistry', shared.modelRegistry);
  const trainingImages = ImageRepository.fromRepositoryName(stack, 'SharedTrainingImages', shared.trainingImagesRepositoryName);
  const servingImages = ImageRepository.fromRepositoryName(stack, 'SharedServingImages', shared.servingImagesRepositoryName);
  const key = artifactStore.encryptionKey;

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
  });
  monitoring.monitorServing('fraud-detector', fleet, { gpu: true });
  return stack;
}

if (require.main === module) {
  const app = new App();
  buildTeamApp(app);
  app.synth();
}
