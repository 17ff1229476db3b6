// The public constructs and value classes the fuzz suite drives, with the props each may blame.
import { App } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as fc from 'fast-check';
import {
  bool, duration, emails, identifier, imageTag, instanceType, instanceTypes, num, profileName, profileOf, reqNum, rollout, str,
  variantVersions, version,
} from './arbitraries';
import { FuzzTarget } from './harness';
import { certificateArnFor, certificateFor } from '../support/certificates';
import {
  ArtifactPurpose, ArtifactStore, CostGuard, DataClassification, EnvironmentProfile, GpuTrainingCluster, ImageRepository, InferenceFleet,
  MlopsMonitoring, MlopsPlatform, MlopsStack, ModelEndpoint, ModelRegistry, PlatformNetwork, Rollout, ServingBackend,
} from 'mlops-constructs';

// Region only: the account stays a token, so VPCs use Fn::GetAZs rather than context-lookup dummy zones.
const ENV = { region: 'us-east-1' };

/** A fresh environment stack with the platform's shared pieces imported (cheap: no VPC or buckets are built). */
function environment(app: App, profile: string) {
  const stack = new MlopsStack(app, 'Fuzz', { profile: profileOf(profile), project: 'fuzz', team: 'ml', costCenter: 'cc-1', env: ENV });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidrBlock: '10.0.0.0/16',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    publicSubnetIds: ['subnet-0a000000000000001', 'subnet-0a000000000000002'],
    privateSubnetIds: ['subnet-0b000000000000001', 'subnet-0b000000000000002'],
    isolatedSubnetIds: ['subnet-0c000000000000001', 'subnet-0c000000000000002'],
    publicSubnetRouteTableIds: ['rtb-0a000000000000001', 'rtb-0a000000000000002'],
    privateSubnetRouteTableIds: ['rtb-0b000000000000001', 'rtb-0b000000000000002'],
    isolatedSubnetRouteTableIds: ['rtb-0c000000000000001', 'rtb-0c000000000000002'],
  });
  const artifactStore = ArtifactStore.fromArtifactStoreAttributes(stack, 'Store', {
    bucketNames: { datasets: 'fuzz-datasets', models: 'fuzz-models', artifacts: 'fuzz-artifacts' },
    encryptionKeyArn: 'arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555',
    accessLogBucketName: 'fuzz-access-logs',
  });
  const image = ImageRepository.fromRepositoryName(stack, 'Images', 'fuzz/serving');
  return { stack, vpc, artifactStore, image };
}

type Input = { profile: string; props: Record<string, any> };
const withProfile = (props: fc.Arbitrary<Record<string, any>>): fc.Arbitrary<Input> => fc.record({ profile: profileName, props });
const keysOf = (r: Record<string, fc.Arbitrary<unknown>>) => Object.keys(r);

const days = (max: number) => fc.integer({ min: 1, max });

const artifactStoreProps = {
  lifecycle: fc.option(fc.record({
    noncurrentVersionTransitionDays: num(fc.integer({ min: 30, max: 400 })),
    noncurrentVersionExpirationDays: num(fc.integer({ min: 31, max: 3000 })),
    abortIncompleteMultipartUploadDays: num(days(30)),
  }), { nil: undefined }),
  objectLock: fc.option(fc.record({
    mode: str(fc.constantFrom('GOVERNANCE', 'COMPLIANCE')),
    retentionDays: num(days(3650)),
    purposes: fc.option(fc.array(str(fc.constantFrom(...Object.values(ArtifactPurpose)), false), { maxLength: 3 }), { nil: undefined }),
  }), { nil: undefined, freq: 3 }),
  replication: fc.option(fc.record({
    destinationRegion: str(fc.constantFrom('eu-west-1', 'us-west-2', 'us-east-1')),
    destinationBucketNamePattern: str(fc.constantFrom('acme-ml-{purpose}-replica', 'acme-replica')),
    destinationKeyArn: str(fc.constant('arn:aws:kms:eu-west-1:111111111111:key/abc')),
  }), { nil: undefined, freq: 3 }),
  dataClassification: str(fc.constantFrom(...Object.values(DataClassification))),
  retentionDays: num(days(3650)),
  allowIndefiniteRetention: bool(),
  autoDeleteObjects: bool(),
};

const imageRepositoryProps = {
  repositoryName: str(fc.constantFrom('team/serving', 'training', 'a-b_c.d/e')),
  keepUntaggedImages: num(days(1000)),
  untaggedImageExpiryDays: num(days(365)),
};

const networkProps = {
  cidr: str(fc.constantFrom('10.0.0.0/16', '10.20.0.0/17', '172.16.0.0/16', '10.0.0.0/24', '300.0.0.0/16')),
  maxAzs: num(fc.integer({ min: 1, max: 6 })),
  natGateways: num(fc.integer({ min: 1, max: 6 })),
  flowLogTrafficType: str(fc.constantFrom(...Object.values(ec2.FlowLogTrafficType))),
};

const halfAcu = fc.integer({ min: 0, max: 64 }).map((n) => n / 2);
const registryProps = {
  minCapacity: num(halfAcu),
  maxCapacity: num(halfAcu),
  backupRetentionDays: num(days(35)),
  rotationDays: num(days(365)),
  port: num(fc.integer({ min: 1150, max: 65535 })),
  databaseName: str(fc.constantFrom('registry', 'mlflow_db', 'Models1')),
};

const clusterProps = {
  instanceTypes,
  maxGpus: num(fc.integer({ min: 1, max: 256 })),
  spot: bool(),
  onDemandFallback: bool(),
  rootVolumeSizeGiB: num(fc.integer({ min: 30, max: 2000 })),
  efa: bool(),
  placementGroup: bool(),
  teams: fc.option(fc.array(fc.record({ name: str(identifier, false), weight: num(fc.integer({ min: 1, max: 100 })) }), { maxLength: 4 }),
    { nil: undefined }),
  shareDecay: duration,
  priority: num(fc.integer({ min: 0, max: 1000 })),
  logRetentionDays: num(fc.constantFrom(1, 7, 14, 30, 90, 365)),
};

const servingCommon = {
  modelName: str(identifier, false),
  modelVersion: version,
  variantVersions,
  imageTag,
  instanceType,
  minCapacity: num(fc.integer({ min: 0, max: 8 })),
  maxCapacity: num(fc.integer({ min: 1, max: 20 })),
  rollout,
};

const fleetProps = {
  ...servingCommon,
  containerPort: num(fc.integer({ min: 1, max: 65535 })),
  healthCheckPath: str(fc.constantFrom('/health', '/ping', '/v1/models/m')),
  rootVolumeSizeGiB: num(fc.integer({ min: 30, max: 1000 })),
  allowScaleToZero: bool(),
  scaleToZeroOffHours: bool(),
  targetRequestsPerInstancePerMinute: num(fc.integer({ min: 1, max: 100000 })),
  targetGpuUtilizationPercent: num(fc.integer({ min: 1, max: 100 })),
  healthCheckGracePeriod: duration,
  minHealthyPercent: num(fc.integer({ min: 0, max: 100 })),
  internetFacing: bool(),
};

const endpointProps = {
  ...servingCommon,
  endpointName: str(identifier),
  targetInvocationsPerInstancePerMinute: num(fc.integer({ min: 1, max: 100000 })),
  scaleDownOffHours: bool(),
  dataCapturePercent: num(fc.integer({ min: 0, max: 100 })),
};

const costGuardProps = {
  monthlyLimitUsd: num(fc.integer({ min: 1, max: 1_000_000 })),
  alertThresholdsPercent: fc.option(fc.oneof(
    fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }).map((a) => a.sort((x, y) => x - y)),
    fc.array(fc.integer({ min: -10, max: 2000 }), { maxLength: 5 }),
  ), { nil: undefined }),
  denyGpuAtPercent: num(fc.integer({ min: 1, max: 1000 })),
  automaticDeny: bool(),
  notifyEmails: emails,
  anomalyImpactUsd: num(fc.integer({ min: 1, max: 100000 })),
  anomalyDetection: bool(),
};

const monitoringProps = {
  notifyEmails: emails,
  dashboardName: str(fc.constantFrom('mlops-dev', 'team_a-dashboard', 'x')),
  estimatedChargesThresholdUsd: num(fc.integer({ min: 1, max: 1_000_000 })),
};

/** Teams whose shares sum to 100 most of the time (equal shares), arbitrary shares otherwise. */
const platformTeams = fc.option(fc.integer({ min: 1, max: 6 }).chain((n) => fc.record({
  names: fc.array(str(identifier, false), { minLength: n, maxLength: n }),
  costCenters: fc.array(str(fc.constantFrom('cc-1', 'cc-risk', 'growth'), true), { minLength: n, maxLength: n }),
  shares: fc.oneof(
    { arbitrary: fc.constant(Array.from({ length: n }, () => 100 / n)), weight: 6 },
    { arbitrary: fc.array(reqNum(fc.integer({ min: 1, max: 100 })), { minLength: n, maxLength: n }), weight: 3 },
  ),
  budgets: fc.array(num(fc.integer({ min: 1, max: 60000 })), { minLength: n, maxLength: n }),
})).map(({ names, costCenters, shares, budgets }) => names.map((name: any, i: number) => ({
  name, costCenter: costCenters[i], gpuSharePercent: shares[i], monthlyBudgetUsd: budgets[i],
}))), { nil: undefined, freq: 3 });

const servedModel = fc.record({
  name: str(identifier, false),
  backend: str(fc.constantFrom(ServingBackend.FLEET, ServingBackend.ENDPOINT), false),
  modelVersion: version,
  imageTag,
  instanceType,
  rollout,
  variantVersions,
  minCapacity: num(fc.integer({ min: 0, max: 4 })),
  maxCapacity: num(fc.integer({ min: 1, max: 8 })),
  team: str(identifier),
}, { requiredKeys: ['name', 'backend', 'modelVersion', 'imageTag'] });

const platformProps = {
  teams: platformTeams,
  servedModels: fc.option(fc.array(servedModel, { maxLength: 3 }), { nil: undefined }),
};

const PLATFORM_BLAMES = [
  'profile', 'project', 'costCenter', 'env', 'teams', 'servedModels', 'experimentTracking',
  // A served model's options are handed to its InferenceFleet / ModelEndpoint, which blame them by their own names
  // under the model's construct path (`<platform>/Platform/Model-<name>/Fleet: 'maxCapacity' ...`).
  'modelName', 'modelVersion', 'variantVersions', 'imageTag', 'instanceType', 'minCapacity', 'maxCapacity', 'rollout',
];

const profileOverrides = {
  name: str(fc.constantFrom('dev', 'qa', 'perf-1')),
  allowDestroy: bool(),
  deletionProtection: bool(),
  multiAz: bool(),
  minCapacity: fc.option(fc.record({
    inferenceInstances: num(fc.integer({ min: 0, max: 10 })),
    trainingVcpus: num(fc.integer({ min: 0, max: 256 })),
    databaseAcu: num(halfAcu),
  }, { requiredKeys: [] }), { nil: undefined }),
  alarms: fc.option(fc.record({
    latencyP99Ms: num(fc.integer({ min: 1, max: 10000 })),
    errorRatePercent: num(fc.integer({ min: 1, max: 100 })),
    gpuUtilizationLowPercent: num(fc.integer({ min: 0, max: 100 })),
    driftScore: num(fc.double({ min: 0.001, max: 1, noNaN: true })),
    fairnessGap: num(fc.double({ min: 0.001, max: 1, noNaN: true })),
  }, { requiredKeys: [] }), { nil: undefined }),
  budget: fc.option(fc.record({
    monthlyLimitUsd: num(fc.integer({ min: 1, max: 100000 })),
    alertThresholdsPercent: fc.array(fc.integer({ min: -5, max: 1200 }), { maxLength: 4 }),
    denyGpuAtPercent: num(fc.integer({ min: 1, max: 1000 })),
  }, { requiredKeys: [] }), { nil: undefined }),
  workingHours: fc.option(fc.oneof(fc.constant(null), fc.record({
    startHour: reqNum(fc.integer({ min: 0, max: 23 })),
    endHour: reqNum(fc.integer({ min: 1, max: 24 })),
    days: fc.option(fc.array(str(fc.constantFrom('MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'), false), { maxLength: 7 }), { nil: undefined }),
    timeZone: str(fc.constantFrom('UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires')),
  }, { requiredKeys: ['startHour', 'endHour'] })), { nil: undefined }),
  logRetentionDays: num(fc.constantFrom(1, 14, 30, 90, 365, 3653)),
  backupRetentionDays: num(days(35)),
  noncurrentVersionTransitionDays: num(fc.integer({ min: 30, max: 400 })),
  noncurrentVersionExpirationDays: num(fc.integer({ min: 31, max: 3000 })),
};

const rolloutInput = fc.oneof(
  fc.record({ kind: fc.constant('canary'), options: fc.record({ percent: reqNum(fc.integer({ min: 1, max: 50 })), bake: duration }) }),
  fc.record({ kind: fc.constant('linear'), options: fc.record({ stepPercent: reqNum(fc.integer({ min: 1, max: 50 })), interval: duration }) }),
  fc.record({ kind: fc.constant('abTest'), options: fc.record({ weights: fc.option(fc.dictionary(str(fc.constantFrom('a', 'b', 'c', 'control'), false), reqNum(fc.integer({ min: 0, max: 100 })), { maxKeys: 11 }), { nil: undefined }) }) }),
  fc.record({ kind: fc.constant('blueGreen'), options: fc.record({ bake: duration }, { requiredKeys: [] }) }),
  fc.record({ kind: fc.constant('shadow'), options: fc.record({ mirrorPercent: num(fc.integer({ min: 1, max: 100 })) }, { requiredKeys: [] }) }),
);

export const CORE_TARGETS: FuzzTarget<any>[] = [
  {
    name: 'EnvironmentProfile',
    arbitrary: fc.record({ base: profileName, overrides: fc.record(profileOverrides, { requiredKeys: [] }) }),
    build: ({ base, overrides }) => EnvironmentProfile.named(base, overrides),
    props: [...keysOf(profileOverrides)],
    synthesize: false,
  },
  {
    name: 'Rollout',
    arbitrary: rolloutInput,
    build: ({ kind, options }) => (Rollout as any)[kind](options),
    props: ['canary', 'linear', 'abTest', 'blueGreen', 'shadow'],
    synthesize: false,
  },
];

export const AWS_TARGETS: FuzzTarget<Input>[] = [
  {
    name: 'ArtifactStore',
    arbitrary: withProfile(fc.record(artifactStoreProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => new ArtifactStore(environment(app, profile).stack, 'Store2', props),
    props: [...keysOf(artifactStoreProps), 'encryptionKey', 'profile'],
    synthesize: true,
  },
  {
    name: 'ImageRepository',
    arbitrary: withProfile(fc.record(imageRepositoryProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => new ImageRepository(environment(app, profile).stack, 'Repo', props),
    props: [...keysOf(imageRepositoryProps), 'encryptionKey', 'profile'],
    synthesize: true,
  },
  {
    name: 'PlatformNetwork',
    arbitrary: withProfile(fc.record(networkProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => new PlatformNetwork(environment(app, profile).stack, 'Network', props),
    props: [...keysOf(networkProps), 'encryptionKey', 'profile'],
    synthesize: true,
  },
  {
    name: 'ModelRegistry',
    arbitrary: withProfile(fc.record(registryProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => {
      const { stack, vpc } = environment(app, profile);
      new ModelRegistry(stack, 'Registry', { vpc, ...props });
    },
    props: [...keysOf(registryProps), 'vpc', 'vpcSubnets', 'rotationSubnets', 'encryptionKey', 'engineVersion', 'profile'],
    synthesize: true,
  },
  {
    name: 'GpuTrainingCluster',
    arbitrary: withProfile(fc.record(clusterProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => {
      const { stack, vpc, artifactStore } = environment(app, profile);
      new GpuTrainingCluster(stack, 'Cluster', { vpc, artifactStore, ...props });
    },
    props: [...keysOf(clusterProps), 'vpc', 'vpcSubnets', 'artifactStore', 'machineImageType', 'serviceRole', 'costModel', 'encryptionKey', 'profile'],
    synthesize: true,
  },
  {
    name: 'InferenceFleet',
    arbitrary: withProfile(fc.record(fleetProps, { requiredKeys: ['modelName', 'modelVersion', 'imageTag'] })),
    build: ({ profile, props }, app) => {
      const { stack, vpc, artifactStore, image } = environment(app, profile);
      new InferenceFleet(stack, 'Fleet', { vpc, artifactStore, image, certificate: certificateFor(stack, profileOf(profile)), ...(props as any) });
    },
    props: [...keysOf(fleetProps), 'vpc', 'artifactStore', 'image', 'machineImage', 'encryptionKey', 'warmPool', 'notificationTopic', 'certificate', 'allowedPeers', 'profile'],
    synthesize: true,
  },
  {
    name: 'ModelEndpoint',
    arbitrary: withProfile(fc.record(endpointProps, { requiredKeys: ['modelName', 'modelVersion', 'imageTag'] })),
    build: ({ profile, props }, app) => {
      const { stack, vpc, artifactStore, image } = environment(app, profile);
      new ModelEndpoint(stack, 'Endpoint', { vpc, artifactStore, image, ...(props as any) });
    },
    props: [...keysOf(endpointProps), 'vpc', 'artifactStore', 'image', 'encryptionKey', 'rollbackAlarms', 'alarmTopic', 'profile'],
    synthesize: true,
  },
  {
    name: 'CostGuard',
    arbitrary: withProfile(fc.record(costGuardProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => new CostGuard(environment(app, profile).stack, 'Cost', props),
    props: [...keysOf(costGuardProps), 'denyGpuFor', 'alertTopic', 'encryptionKey', 'profile'],
    synthesize: true,
  },
  {
    name: 'MlopsMonitoring',
    arbitrary: withProfile(fc.record(monitoringProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => new MlopsMonitoring(environment(app, profile).stack, 'Monitoring', props),
    props: [...keysOf(monitoringProps), 'encryptionKey', 'profile'],
    synthesize: true,
  },
  {
    name: 'MlopsPlatform',
    arbitrary: withProfile(fc.record(platformProps, { requiredKeys: [] })),
    build: ({ profile, props }, app) => new MlopsPlatform(app, 'P', {
      // The tracking server does not depend on teams or models: left out to keep 1,000 platform builds fast.
      profile: profileOf(profile),
      project: 'fuzz',
      costCenter: 'cc-1',
      env: ENV,
      notifyEmails: ['ops@example.com'],
      experimentTracking: false,
      ...certificateArnFor(profileOf(profile)),
      ...(props as any),
    }),
    props: PLATFORM_BLAMES,
    synthesize: true,
  },
];

