// Every construct that takes a VPC, given an imported VPC without `vpcCidrBlock` (Vpc.fromVpcAttributes needs it only
// for some uses): it works, or fails with the library's ValidationError saying which prop to set, never with
// aws-cdk-lib's CannotPerformOperationVpcCidr.
import { App } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import {
  ArtifactStore, EksGpuCluster, EnvironmentProfile, ExperimentTracking, GpuTrainingCluster, ImageRepository, InferenceFleet, MlopsStack,
  ModelEndpoint, ModelRegistry, ValidationError,
} from 'mlops-constructs';

function importedVpc() {
  const stack = new MlopsStack(new App(), 'Team', {
    profile: EnvironmentProfile.dev(), project: 'p', costCenter: 'cc-1', env: { account: '123456789012', region: 'us-east-1' },
  });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
    isolatedSubnetIds: ['subnet-0bbbbbbbbbbbbbbb1', 'subnet-0bbbbbbbbbbbbbbb2'],
  });
  const artifactStore = new ArtifactStore(stack, 'Store');
  const serving = { vpc, artifactStore, image: new ImageRepository(stack, 'Images'), imageTag: 't', modelName: 'm', modelVersion: 'v1' };
  return { stack, vpc, artifactStore, serving };
}

test.each([
  ['GpuTrainingCluster', () => { const s = importedVpc(); new GpuTrainingCluster(s.stack, 'X', { vpc: s.vpc, artifactStore: s.artifactStore }); }],
  ['ModelEndpoint', () => { const s = importedVpc(); new ModelEndpoint(s.stack, 'X', s.serving); }],
  ['ModelRegistry', () => { const s = importedVpc(); new ModelRegistry(s.stack, 'X', { vpc: s.vpc }); }],
  ['EksGpuCluster', () => { const s = importedVpc(); new EksGpuCluster(s.stack, 'X', { vpc: s.vpc }); }],
  ['InferenceFleet with allowedPeers', () => {
    const s = importedVpc();
    new InferenceFleet(s.stack, 'X', { ...s.serving, allowedPeers: [ec2.Peer.ipv4('10.0.0.0/16')] });
  }],
  ['ExperimentTracking with allowedCidrs', () => {
    const s = importedVpc();
    new ExperimentTracking(s.stack, 'X', { vpc: s.vpc, artifactStore: s.artifactStore, registry: new ModelRegistry(s.stack, 'R', { vpc: s.vpc }), allowedCidrs: ['10.0.0.0/16'] });
  }],
])('%s works on it', (_name, build) => {
  expect(build).not.toThrow();
});

test.each([
  ['InferenceFleet', "'allowedPeers'", () => { const s = importedVpc(); new InferenceFleet(s.stack, 'X', s.serving); }],
  ['ExperimentTracking', "'allowedCidrs'", () => {
    const s = importedVpc();
    new ExperimentTracking(s.stack, 'X', { vpc: s.vpc, artifactStore: s.artifactStore, registry: new ModelRegistry(s.stack, 'R', { vpc: s.vpc }) });
  }],
])('%s, whose default network access needs the VPC range, says to pass vpcCidrBlock or %s', (_name, instead, build) => {
  expect(build).toThrow(ValidationError);
  expect(build).toThrow(new RegExp('Team/X: \'vpc\' is an imported VPC without vpcCidrBlock, which the default network access needs \\(received "Team/Vpc"\\)\\. '
    + `Fix: pass vpcCidrBlock to Vpc.fromVpcAttributes \\(or Vpc.fromLookup\\), or set ${instead}\\.`));
});
