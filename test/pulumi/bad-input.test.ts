import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { errorOf, installMocks, MLFLOW_IMAGE } from './support';
import { newApp } from '../support/gate';
import * as cdk from 'mlops-constructs';
import { ArtifactPurpose, certificateFix, DataClassification, EnvironmentProfile, MlopsTags, ValidationError } from 'mlops-constructs';
import * as pl from 'mlops-constructs/pulumi';

/*
 * The same bad input gives the same ValidationError from the CDK construct and from the Pulumi component: the same
 * prop, value, problem and fix, and the same message after the scope (a construct path or a component name).
 */

installMocks();

interface Case {
  readonly name: string;
  readonly profile?: EnvironmentProfile;
  readonly cdk: (stack: cdk.MlopsStack, vpc: ec2.Vpc) => unknown;
  readonly pulumi: (name: string, profile: EnvironmentProfile, tags: MlopsTags) => unknown;
  readonly prop: string;
}

const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a'] };
const fleet = { modelName: 'fraud', modelVersion: 'v3' };
const fleetCdk = (stack: cdk.MlopsStack, vpc: ec2.Vpc) => ({
  vpc, ...fleet, artifactStore: new cdk.ArtifactStore(stack, 'Store'), image: new cdk.ImageRepository(stack, 'Images'), imageTag: '1',
});
// The store the Pulumi fleets load their model from (required, as on the CDK fleet).
const fleetStore = new pl.ArtifactStore('bad-fleet-store', { profile: EnvironmentProfile.dev() });
const fleetPulumi = { ...net, ...fleet, allowedCidrBlocks: ['10.0.0.0/16'], imageUri: 'repo/fraud:1', artifactStore: fleetStore };
const endpointPulumi = (n: string, profile: EnvironmentProfile, tags: MlopsTags) => ({
  ...net,
  ...fleet,
  artifactStore: new pl.ArtifactStore(`${n}-store`, { profile, tags }),
  image: pl.ImageRepository.fromRepositoryName(`${n}-images`, 'ml/serving'),
  imageTag: '1',
});
const trackingCdk = (stack: cdk.MlopsStack, vpc: ec2.Vpc) => ({
  vpc, registry: new cdk.ModelRegistry(stack, 'Registry', { vpc }), artifactStore: new cdk.ArtifactStore(stack, 'Store'),
});
const trackingPulumi = (n: string, profile: EnvironmentProfile, tags: MlopsTags) => ({
  ...net, image: MLFLOW_IMAGE, registry: new pl.ModelRegistry(`${n}-registry`, { profile, tags, ...net }), artifactStore: new pl.ArtifactStore(`${n}-store`, { profile, tags }),
});

const CASES: Case[] = [
  {
    name: 'ArtifactStore: transition before 30 days',
    prop: 'lifecycle.noncurrentVersionTransitionDays',
    cdk: (s) => new cdk.ArtifactStore(s, 'X', { lifecycle: { noncurrentVersionTransitionDays: 10 } }),
    pulumi: (n, profile, tags) => new pl.ArtifactStore(n, { profile, tags, lifecycle: { noncurrentVersionTransitionDays: 10 } }),
  },
  {
    name: 'ArtifactStore: expiry not after transition',
    prop: 'lifecycle.noncurrentVersionExpirationDays',
    cdk: (s) => new cdk.ArtifactStore(s, 'X', { lifecycle: { noncurrentVersionExpirationDays: 20 } }),
    pulumi: (n, profile, tags) => new pl.ArtifactStore(n, { profile, tags, lifecycle: { noncurrentVersionExpirationDays: 20 } }),
  },
  {
    name: 'ArtifactStore: RESTRICTED data without retention',
    prop: 'retentionDays',
    cdk: (s) => new cdk.ArtifactStore(s, 'X', { dataClassification: DataClassification.RESTRICTED }),
    pulumi: (n, profile, tags) => new pl.ArtifactStore(n, { profile, tags, dataClassification: DataClassification.RESTRICTED }),
  },
  {
    name: 'ArtifactStore: autoDeleteObjects where data is retained',
    prop: 'autoDeleteObjects',
    profile: EnvironmentProfile.prod(),
    cdk: (s) => new cdk.ArtifactStore(s, 'X', { autoDeleteObjects: true }),
    pulumi: (n, profile, tags) => new pl.ArtifactStore(n, { profile, tags, autoDeleteObjects: true }),
  },
  {
    name: 'ArtifactStore: Object Lock retention of 0 days',
    prop: 'objectLock.retentionDays',
    cdk: (s) => new cdk.ArtifactStore(s, 'X', { objectLock: { mode: 'GOVERNANCE' as never, retentionDays: 0 } }),
    pulumi: (n, profile, tags) => new pl.ArtifactStore(n, { profile, tags, objectLock: { mode: 'GOVERNANCE', retentionDays: 0 } }),
  },
  {
    name: 'ArtifactStore: a write grant below served/ (the promotion role\'s alone)',
    prop: 'prefix',
    cdk: (s) => new cdk.ArtifactStore(s, 'X').grantWrite(new iam.Role(s, 'Trainer', { assumedBy: new iam.ServicePrincipal('batch.amazonaws.com') }),
      ArtifactPurpose.MODELS, 'served/fraud/'),
    pulumi: (n, profile, tags) => new pl.ArtifactStore(n, { profile, tags }).grantStatements('read-write', ArtifactPurpose.MODELS, 'served/fraud/'),
  },
  {
    name: 'ModelRegistry: backups beyond 35 days',
    prop: 'backupRetentionDays',
    cdk: (s, vpc) => new cdk.ModelRegistry(s, 'X', { vpc, backupRetentionDays: 40 }),
    pulumi: (n, profile, tags) => new pl.ModelRegistry(n, { profile, tags, ...net, backupRetentionDays: 40 }),
  },
  {
    name: 'ModelRegistry: capacity not a multiple of 0.5',
    prop: 'minCapacity',
    cdk: (s, vpc) => new cdk.ModelRegistry(s, 'X', { vpc, minCapacity: 0.7 }),
    pulumi: (n, profile, tags) => new pl.ModelRegistry(n, { profile, tags, ...net, minCapacity: 0.7 }),
  },
  {
    name: 'ModelRegistry: minimum above maximum',
    prop: 'minCapacity',
    cdk: (s, vpc) => new cdk.ModelRegistry(s, 'X', { vpc, minCapacity: 8, maxCapacity: 4 }),
    pulumi: (n, profile, tags) => new pl.ModelRegistry(n, { profile, tags, ...net, minCapacity: 8, maxCapacity: 4 }),
  },
  {
    name: 'ModelRegistry: privileged port',
    prop: 'port',
    cdk: (s, vpc) => new cdk.ModelRegistry(s, 'X', { vpc, port: 80 }),
    pulumi: (n, profile, tags) => new pl.ModelRegistry(n, { profile, tags, ...net, port: 80 }),
  },
  {
    name: 'ModelRegistry: model package group registered twice',
    prop: 'modelPackageGroupName',
    cdk: (s, vpc) => {
      const registry = new cdk.ModelRegistry(s, 'X', { vpc });
      registry.addModelPackageGroup('fraud');
      registry.addModelPackageGroup('fraud');
    },
    pulumi: (n, profile, tags) => {
      const registry = new pl.ModelRegistry(n, { profile, tags, ...net });
      registry.addModelPackageGroup('fraud');
      registry.addModelPackageGroup('fraud');
    },
  },
  {
    name: 'CostGuard: thresholds not ascending',
    prop: 'alertThresholdsPercent',
    cdk: (s) => new cdk.CostGuard(s, 'X', { alertThresholdsPercent: [80, 50] }),
    pulumi: (n, profile, tags) => new pl.CostGuard(n, { profile, tags, alertThresholdsPercent: [80, 50] }),
  },
  {
    name: 'CostGuard: not an email address',
    prop: 'notifyEmails[0]',
    cdk: (s) => new cdk.CostGuard(s, 'X', { notifyEmails: ['ml-platform'] }),
    pulumi: (n, profile, tags) => new pl.CostGuard(n, { profile, tags, notifyEmails: ['ml-platform'] }),
  },
  {
    name: 'CostGuard: team budget above the environment',
    prop: 'monthlyLimitUsd',
    cdk: (s) => new cdk.CostGuard(s, 'X').addTeamBudget('fraud', { monthlyLimitUsd: 5000 }),
    pulumi: (n, profile, tags) => new pl.CostGuard(n, { profile, tags }).addTeamBudget('fraud', { monthlyLimitUsd: 5000 }),
  },
  {
    name: 'GpuTrainingCluster: not an NVIDIA type',
    prop: 'instanceTypes[0]',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), instanceTypes: ['inf2.xlarge'] }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, instanceTypes: ['inf2.xlarge'] }),
  },
  {
    name: 'GpuTrainingCluster: GPU cap below the smallest type',
    prop: 'maxGpus',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), instanceTypes: ['g5.12xlarge'], maxGpus: 2 }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, instanceTypes: ['g5.12xlarge'], maxGpus: 2 }),
  },
  {
    name: 'GpuTrainingCluster: EFA on types without it',
    prop: 'efa',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), efa: true }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, efa: true }),
  },
  {
    name: 'GpuTrainingCluster: EFA without a placement group',
    prop: 'placementGroup',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', {
      vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), instanceTypes: ['g5.12xlarge'], efa: true, placementGroup: false,
    }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, instanceTypes: ['g5.12xlarge'], efa: true, placementGroup: false }),
  },
  {
    name: 'GpuTrainingCluster: a repeated team',
    prop: 'teams',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), teams: [{ name: 'fraud' }, { name: 'fraud' }] }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, teams: [{ name: 'fraud' }, { name: 'fraud' }] }),
  },
  {
    name: 'GpuTrainingCluster: a team weight of 0',
    prop: 'teams[1].weight',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', {
      vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), teams: [{ name: 'fraud' }, { name: 'recsys', weight: 0 }],
    }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, teams: [{ name: 'fraud' }, { name: 'recsys', weight: 0 }] }),
  },
  {
    name: 'GpuTrainingCluster: a log retention CloudWatch does not offer',
    prop: 'logRetentionDays',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), logRetentionDays: 10 }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, logRetentionDays: 10 }),
  },
  {
    name: 'GpuTrainingCluster: a root volume too small for the GPU AMI',
    prop: 'rootVolumeSizeGiB',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store'), rootVolumeSizeGiB: 20 }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, rootVolumeSizeGiB: 20 }),
  },
  {
    name: 'GpuTrainingCluster: warm vCPUs of the profile above the GPU cap',
    prop: 'profile.minCapacity.trainingVcpus',
    profile: EnvironmentProfile.dev({ minCapacity: { trainingVcpus: 1000 } }),
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store') }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net }),
  },
  {
    name: 'InferenceFleet: minimum above maximum',
    prop: 'minCapacity',
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), minCapacity: 5, maxCapacity: 3 }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, minCapacity: 5, maxCapacity: 3 }),
  },
  {
    name: 'InferenceFleet: scale to zero off hours in an always-on profile',
    prop: 'scaleToZeroOffHours',
    profile: EnvironmentProfile.prod(),
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), scaleToZeroOffHours: true }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, scaleToZeroOffHours: true }),
  },
  {
    name: 'InferenceFleet: scale to zero under a profile that keeps instances warm',
    prop: 'minCapacity',
    profile: EnvironmentProfile.prod(),
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), minCapacity: 0 }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, minCapacity: 0 }),
  },
  {
    name: 'InferenceFleet: a model name with upper case',
    prop: 'modelName',
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), modelName: 'Fraud_Model' }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, modelName: 'Fraud_Model' }),
  },
  {
    name: 'InferenceFleet: an instance type not in the catalog',
    prop: 'instanceType',
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), instanceType: 'g5.3xlarge' }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, instanceType: 'g5.3xlarge' }),
  },
  {
    name: 'InferenceFleet: a health check grace period over 2 hours',
    prop: 'healthCheckGracePeriod',
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), healthCheckGracePeriod: Duration.hours(3) }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, healthCheckGracePeriodSeconds: 3 * 3600 }),
  },
  {
    name: 'InferenceFleet: a GPU utilization target above 95%',
    prop: 'targetGpuUtilizationPercent',
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), targetGpuUtilizationPercent: 99 }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, targetGpuUtilizationPercent: 99 }),
  },
  {
    name: 'ImageRepository: a name with spaces and capitals',
    prop: 'repositoryName',
    cdk: (s) => new cdk.ImageRepository(s, 'X', { repositoryName: 'ML Serving' }),
    pulumi: (n, profile, tags) => new pl.ImageRepository(n, { profile, tags, repositoryName: 'ML Serving' }),
  },
  {
    name: 'ImageRepository: keeping no untagged image',
    prop: 'keepUntaggedImages',
    cdk: (s) => new cdk.ImageRepository(s, 'X', { keepUntaggedImages: 0 }),
    pulumi: (n, profile, tags) => new pl.ImageRepository(n, { profile, tags, keepUntaggedImages: 0 }),
  },
  {
    name: 'ModelEndpoint: capturing no request',
    prop: 'dataCapturePercent',
    cdk: (s, vpc) => new cdk.ModelEndpoint(s, 'X', { ...fleetCdk(s, vpc), dataCapturePercent: 0 }),
    pulumi: (n, profile, tags) => new pl.ModelEndpoint(n, { profile, tags, ...endpointPulumi(n, profile, tags), dataCapturePercent: 0 }),
  },
  {
    name: 'ModelEndpoint: more instances at least than at most',
    prop: 'minCapacity',
    cdk: (s, vpc) => new cdk.ModelEndpoint(s, 'X', { ...fleetCdk(s, vpc), minCapacity: 4, maxCapacity: 2 }),
    pulumi: (n, profile, tags) => new pl.ModelEndpoint(n, { profile, tags, ...endpointPulumi(n, profile, tags), minCapacity: 4, maxCapacity: 2 }),
  },
  {
    name: 'ModelEndpoint: scaling down off hours in an always-on profile',
    prop: 'scaleDownOffHours',
    profile: EnvironmentProfile.prod(),
    cdk: (s, vpc) => new cdk.ModelEndpoint(s, 'X', { ...fleetCdk(s, vpc), scaleDownOffHours: true }),
    pulumi: (n, profile, tags) => new pl.ModelEndpoint(n, { profile, tags, ...endpointPulumi(n, profile, tags), scaleDownOffHours: true }),
  },
  {
    name: 'MlopsMonitoring: a drift threshold above 1',
    prop: 'threshold',
    cdk: (s) => new cdk.MlopsMonitoring(s, 'X').addDriftAlarm({ model: 'fraud', feature: 'amount', threshold: 2 }),
    pulumi: (n, profile, tags) => new pl.MlopsMonitoring(n, { profile, tags }).addDriftAlarm({ model: 'fraud', feature: 'amount', threshold: 2 }),
  },
  {
    name: 'MlopsGovernance: sessions of 20 hours',
    prop: 'maxSessionDuration',
    cdk: (s) => new cdk.MlopsGovernance(s, 'X', { maxSessionDuration: Duration.hours(20) }),
    pulumi: (n, profile, tags) => new pl.MlopsGovernance(n, { profile, tags, maxSessionHours: 20 }),
  },
  {
    name: 'MlopsGovernance: no allowed region',
    prop: 'allowedRegions',
    cdk: (s) => new cdk.MlopsGovernance(s, 'X', { allowedRegions: [] }),
    pulumi: (n, profile, tags) => new pl.MlopsGovernance(n, { profile, tags, allowedRegions: [] }),
  },
  {
    name: 'ExperimentTracking: a CPU size Fargate does not offer',
    prop: 'cpu',
    cdk: (s, vpc) => new cdk.ExperimentTracking(s, 'X', { ...trackingCdk(s, vpc), cpu: 3000 }),
    pulumi: (n, profile, tags) => new pl.ExperimentTracking(n, { profile, tags, ...trackingPulumi(n, profile, tags), cpu: 3000 }),
  },
  {
    name: 'GpuTrainingCluster: a job wanting more GPUs than any allowed type has',
    prop: 'gpus',
    cdk: (s, vpc) => new cdk.GpuTrainingCluster(s, 'X', { vpc, artifactStore: new cdk.ArtifactStore(s, 'Store') })
      .addJobDefinition('Train', { imageUri: 'repo/train:1', gpus: 16 }),
    pulumi: (n, profile, tags) => new pl.GpuTrainingCluster(n, { profile, tags, ...net, artifactStore: new pl.ArtifactStore(`${n}-store`, { profile, tags }) })
      .addJobDefinition('train', { imageUri: 'repo/train:1', gpus: 16 }),
  },
];

/** The error of a case from each engine. */
function errorsOf(c: Case, name: string) {
  const profile = c.profile ?? EnvironmentProfile.dev();
  const stack = new cdk.MlopsStack(newApp(), 'Env', { profile, project: 'p' });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  return {
    fromCdk: errorOf(() => c.cdk(stack, vpc)),
    fromPulumi: errorOf(() => c.pulumi(name, profile, MlopsTags.of({ project: 'p', environment: profile.name }))),
  };
}

describe('the same bad input gives the same ValidationError in CDK and Pulumi', () => {
  test.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const { fromCdk, fromPulumi } = errorsOf(c, `bad${i}`);
    for (const error of [fromCdk, fromPulumi]) {
      expect(ValidationError.isValidationError(error)).toBe(true);
      expect(error.prop).toBe(c.prop);
    }
    expect({ value: fromPulumi.value, problem: fromPulumi.problem, fix: fromPulumi.fix })
      .toEqual({ value: fromCdk.value, problem: fromCdk.problem, fix: fromCdk.fix });
    const afterScope = (e: Error & { scope?: string }) => e.message.slice((e as ValidationError).scope.length);
    expect(afterScope(fromPulumi)).toBe(afterScope(fromCdk));
    expect(fromCdk.message.startsWith('Env/X')).toBe(true);
    expect((fromPulumi as unknown as ValidationError).scope).toMatch(new RegExp(`^mlops:aws:[A-Za-z]+\\(bad${i}\\)$`));
  });
});

/*
 * A missing certificate: the CDK constructs take an imported `certificate`, the Pulumi components its `certificateArn`,
 * so the error names each engine's prop and says how to pass it there; the problem and the rest of the fix are the same.
 */
const MISSING_CERTIFICATE: Case[] = [
  {
    name: 'InferenceFleet: internet-facing without a certificate',
    prop: 'certificate',
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', { ...fleetCdk(s, vpc), internetFacing: true }),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi, internetFacing: true }),
  },
  {
    name: 'InferenceFleet: staging (requireTls) without a certificate',
    prop: 'certificate',
    profile: EnvironmentProfile.staging(),
    cdk: (s, vpc) => new cdk.InferenceFleet(s, 'X', fleetCdk(s, vpc)),
    pulumi: (n, profile, tags) => new pl.InferenceFleet(n, { profile, tags, ...fleetPulumi }),
  },
  {
    name: 'ExperimentTracking: prod (requireTls) without a certificate',
    prop: 'certificate',
    profile: EnvironmentProfile.prod(),
    cdk: (s, vpc) => new cdk.ExperimentTracking(s, 'X', trackingCdk(s, vpc)),
    pulumi: (n, profile, tags) => new pl.ExperimentTracking(n, { profile, tags, ...trackingPulumi(n, profile, tags) }),
  },
];

describe('a missing certificate gives the same ValidationError in CDK and Pulumi, naming each engine\'s prop', () => {
  test.each(MISSING_CERTIFICATE.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const { fromCdk, fromPulumi } = errorsOf(c, `cert${i}`);
    for (const error of [fromCdk, fromPulumi]) expect(ValidationError.isValidationError(error)).toBe(true);
    expect([fromCdk.prop, fromPulumi.prop]).toEqual(['certificate', 'certificateArn']);
    expect({ value: fromPulumi.value, problem: fromPulumi.problem }).toEqual({ value: fromCdk.value, problem: fromCdk.problem });
    if (fromCdk.fix === certificateFix()) {
      expect(fromPulumi.fix).toBe(certificateFix("and pass its ARN as 'certificateArn'"));
    } else {
      expect(fromPulumi.fix).toBe(fromCdk.fix);
    }
  });
});

test('GIVEN a Pulumi InferenceFleet without artifactStore (JavaScript) WHEN created THEN a ValidationError says the instances load the model from it', () => {
  const { artifactStore: _store, ...withoutStore } = fleetPulumi;
  const error = errorOf(() => new pl.InferenceFleet('bad-fleet-nostore', { ...withoutStore, profile: EnvironmentProfile.dev() } as unknown as pl.InferenceFleetArgs));
  expect(error).toBeInstanceOf(ValidationError);
  expect([error.prop, error.message]).toEqual(['artifactStore', expect.stringContaining('is required (the instances load the model from its MODELS bucket')]);
});
