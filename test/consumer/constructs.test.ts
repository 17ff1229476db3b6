// Every public AWS construct with only its required props, as a newcomer writes it, in a plain `new App()` and
// under every feature flag aws-cdk-lib recommends (weak cross-stack references included), with the compliance
// packs applied and no acknowledgement of the user's own: defaults must pass the library's own rules.
import { FLAG_STATES, UserProject, UserSynth } from './support/user-project';

/**
 * One stack per construct (dependencies made with their required props too), in MlopsStacks that name a cost center
 * but no team, plus the data-side constructs in plain Stacks. Stacks in one app, so each flag state is one process.
 */
const EVERY_CONSTRUCT = `
import { App, Stack, Stage, CfnWaitConditionHandle } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import {
  applyCompliancePacks, ArtifactStore, CostGuard, EksGpuCluster, EnvironmentPipeline, EnvironmentProfile, ExperimentTracking,
  GpuTrainingCluster, ImageRepository, InferenceFleet, MlopsGovernance, MlopsMonitoring, MlopsStack, ModelEndpoint, ModelPipeline,
  ModelRegistry, PipelineSource, PlatformKey, PlatformNetwork,
} from 'mlops-constructs';

const app = new App();
const stackProps = { profile: EnvironmentProfile.prod(), project: 'fraud', costCenter: 'cc-1042' };

// Plain stacks: the profile defaults to prod, the most protective preset.
new PlatformKey(new Stack(app, 'PlainKey'), 'Key');
new PlatformNetwork(new Stack(app, 'PlainNetwork'), 'Network');
new ArtifactStore(new Stack(app, 'PlainStore'), 'Store');
new ImageRepository(new Stack(app, 'PlainImages'), 'Images');
new CostGuard(new Stack(app, 'PlainCostGuard'), 'CostGuard');
new MlopsMonitoring(new Stack(app, 'PlainMonitoring'), 'Monitoring');
new MlopsGovernance(new Stack(app, 'PlainGovernance'), 'Governance');
const plainRegistry = new Stack(app, 'PlainRegistry');
new ModelRegistry(plainRegistry, 'Registry', { vpc: new PlatformNetwork(plainRegistry, 'Network').vpc });

// The same data stack a team builds, then one stack per construct that uses it.
const data = new MlopsStack(app, 'Data', stackProps);
const vpc = new PlatformNetwork(data, 'Network').vpc;
const artifactStore = new ArtifactStore(data, 'Store');
const image = new ImageRepository(data, 'Images');
const registry = new ModelRegistry(data, 'Registry', { vpc });
registry.addModelPackageGroup('fraud');

// Outside dev the load balancers serve HTTPS only: a certificate is required there (a clear ValidationError otherwise,
// tested in test/consumer/platform.test.ts and test/aws/inference-fleet.test.ts).
const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/5a1e2f3b-6c7d-4e8f-9a0b-1c2d3e4f5a6b';
const trackingStack = new MlopsStack(app, 'Tracking', stackProps);
new ExperimentTracking(trackingStack, 'Tracking', {
  vpc, registry, artifactStore, certificate: acm.Certificate.fromCertificateArn(trackingStack, 'Certificate', CERTIFICATE_ARN),
});
const training = new MlopsStack(app, 'Training', stackProps);
const cluster = new GpuTrainingCluster(training, 'Cluster', { vpc, artifactStore });
const job = (id: string) => cluster.addJobDefinition(id, { imageRepository: image, imageTag: id.toLowerCase() });
const serving = { vpc, modelName: 'fraud', modelVersion: 'v1', artifactStore, image, imageTag: 'serve-1' };
const fleetStack = new MlopsStack(app, 'Fleet', stackProps);
const fleet = new InferenceFleet(fleetStack, 'Fleet', {
  ...serving, certificate: acm.Certificate.fromCertificateArn(fleetStack, 'Certificate', CERTIFICATE_ARN),
});
const endpoint = new ModelEndpoint(new MlopsStack(app, 'Endpoint', stackProps), 'Endpoint', { ...serving, modelName: 'churn' });
// One monitoring for everything, as the README documents it (monitor() takes each construct as it is).
new MlopsMonitoring(new MlopsStack(app, 'Monitoring', stackProps), 'Monitoring').monitor(fleet).monitor(endpoint).monitor(cluster).monitor(registry);
const pipelineProps = {
  modelName: 'fraud', registry, artifactStore, validateJob: job('Validate'), trainJob: job('Train'), evaluateJob: job('Evaluate'),
  servingImageUri: image.imageUri('serve-1'),
};
// Outside dev approval is manual, and a request nobody hears or may answer would end every run Rejected: the
// approvers are required there (a clear ValidationError otherwise, tested in test/aws/model-pipeline.test.ts).
const approvers = new MlopsGovernance(new MlopsStack(app, 'Approvers', stackProps), 'Governance').mlEngineer;
new ModelPipeline(training, 'Pipeline', { ...pipelineProps, approvers: { grantees: [approvers], emails: ['ml-oncall@example.com'] } });
// In dev (automatic approval) the required props are all a pipeline needs.
new ModelPipeline(new MlopsStack(app, 'DevTraining', { ...stackProps, profile: EnvironmentProfile.dev() }), 'Pipeline', {
  ...pipelineProps, validateJob: job('DevValidate'), trainJob: job('DevTrain'), evaluateJob: job('DevEvaluate'),
});
new EksGpuCluster(new MlopsStack(app, 'Eks', stackProps), 'Eks', { vpc });

// A GPU training cluster on an imported VPC (a team repository's usual case).
const imported = new MlopsStack(app, 'ImportedVpc', stackProps);
const importedVpc = ec2.Vpc.fromVpcAttributes(imported, 'Vpc', {
  vpcId: 'vpc-0123456789abcdef0', vpcCidrBlock: '10.0.0.0/16', availabilityZones: ['us-east-1a', 'us-east-1b'],
  privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
});
new GpuTrainingCluster(imported, 'Cluster', { vpc: importedVpc, artifactStore });

// Delivery: a pipeline in the tooling account deploying one environment.
const delivery = new MlopsStack(app, 'Delivery', { ...stackProps, env: { account: '111111111111', region: 'eu-west-1' } });
const stage = new Stage(app, 'fraud-dev', { env: { account: '222222222222', region: 'eu-west-1' } });
new CfnWaitConditionHandle(new Stack(stage, 'Service'), 'Placeholder');
new EnvironmentPipeline(delivery, 'Pipeline', {
  source: PipelineSource.connection('acme/ml-platform', 'main', 'arn:aws:codeconnections:eu-west-1:111111111111:connection/12345678-1234-1234-1234-123456789012'),
  environments: [{ stage, profile: EnvironmentProfile.dev() }],
});

applyCompliancePacks(app);
`;

describe.each(FLAG_STATES)('every AWS construct with its required props only (feature flags: %s)', (flags) => {
  let result: UserSynth;
  beforeAll(() => {
    result = UserProject.get().synth(`every-construct-${flags}`, EVERY_CONSTRUCT, { flags });
  });

  test('synthesizes with no compliance finding', () => {
    expect(result.failure()).toBe('');
  });
});

// The other side of "no finding": in a user's app aws-cdk-lib's own template validation runs, and a finding of it
// fails these tests (UserSynth.failure lists it), as a compliance finding does.
test("aws-cdk-lib's template validation runs in a user's app and its findings fail the consumer tests", () => {
  const result = UserProject.get().synth('builtin-validation', `
import { App, CfnResource, Stack } from 'aws-cdk-lib';
const app = new App();
new CfnResource(new Stack(app, 'Typo'), 'Bucket', { type: 'AWS::S3::Bucket', properties: { BucketNam: 'typo' } });
`);
  expect(result.failure()).toMatch(/F3002 Typo\/Bucket: BucketNam: Additional properties are not allowed/);
});
