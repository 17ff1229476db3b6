// The contract between an environment's data stack and the team repositories that use it: the data stack writes one
// SSM parameter per attribute, named from the environment prefix only; `MlopsPlatform.fromEnvironment` reads each of
// them at deploy time; a team stack built on the import grants, connects and serves with no compliance finding.
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { certificateFor } from '../support/certificates';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  allSharedPlatformParameterNames, applyCompliancePacks, ArtifactPurpose, EnvironmentProfile, GpuTrainingCluster, InferenceFleet,
  managedPolicyGrantee, MlopsPlatform, MlopsStack, sharedPlatformParameterNames, ValidationError,
} from 'mlops-constructs';

const SSM_STRING = 'AWS::SSM::Parameter::Value<String>';

function platform(id: string, profile = EnvironmentProfile.prod(), extra: { stackNamePrefix?: string } = {}) {
  return new MlopsPlatform(new App(), id, { profile, project: 'fraud', costCenter: 'cc-1042', experimentTracking: false, ...extra });
}

/** The shared parameters of a data stack: name -> value. */
function publishedParameters(stack: Stack, prefix: string): Record<string, unknown> {
  const resources = Template.fromStack(stack).findResources('AWS::SSM::Parameter');
  return Object.fromEntries(Object.values(resources)
    .filter((r) => String(r.Properties.Name).startsWith(`/mlops/${prefix}/shared/`))
    .map((r) => [r.Properties.Name, r.Properties.Value]));
}

describe('the data stack publishes the shared attributes', () => {
  const prod = platform('fraud-prod');
  const published = publishedParameters(prod.dataStack, 'fraud-prod');
  const names = sharedPlatformParameterNames('fraud-prod');
  const ref = (c: { node: { defaultChild?: unknown } } | CfnResource) =>
    ({ Ref: prod.dataStack.getLogicalId((c instanceof CfnResource ? c : c.node.defaultChild) as CfnResource) });
  const getAtt = (c: CfnResource, attribute: string) => ({ 'Fn::GetAtt': [prod.dataStack.getLogicalId(c), attribute] });

  test('one parameter per attribute, exactly the documented names (/mlops/<project>-<env>/shared/...)', () => {
    expect(Object.keys(published).sort()).toEqual(allSharedPlatformParameterNames('fraud-prod').sort());
    expect(Object.keys(published)).toHaveLength(23);
    expect(prod.sharedParameterNames).toEqual(names);
    expect(names.artifactStore.bucketNames.datasets).toBe('/mlops/fraud-prod/shared/artifact-store/bucket-names/datasets');
    expect(names.network.privateSubnetIds).toBe('/mlops/fraud-prod/shared/network/private-subnet-ids');
  });

  test('each value is a Ref or GetAtt of the data stack resource it describes', () => {
    const store = prod.artifactStore;
    const cluster = prod.modelRegistry.cluster.node.defaultChild as CfnResource;
    const vpc = prod.network.vpc;
    const join = (subnets: Array<{ subnetId: string; routeTable: { routeTableId: string } }>, of: 'subnetId' | 'routeTableId') =>
      ({ 'Fn::Join': [',', subnets.map((s) => prod.dataStack.resolve(of === 'subnetId' ? s.subnetId : s.routeTable.routeTableId))] });
    expect(published).toEqual({
      [names.artifactStore.bucketNames.datasets]: ref(store.bucket(ArtifactPurpose.DATASETS)),
      [names.artifactStore.bucketNames.models]: ref(store.bucket(ArtifactPurpose.MODELS)),
      [names.artifactStore.bucketNames.artifacts]: ref(store.bucket(ArtifactPurpose.ARTIFACTS)),
      [names.artifactStore.accessLogBucketName]: ref(store.accessLogBucket),
      [names.artifactStore.encryptionKeyArn]: getAtt(prod.platformKey.key.node.defaultChild as CfnResource, 'Arn'),
      [names.artifactStore.promotionRoleName]: store.promotionRoleName,
      [names.modelRegistry.clusterIdentifier]: { Ref: prod.dataStack.getLogicalId(cluster) },
      [names.modelRegistry.clusterResourceIdentifier]: getAtt(cluster, 'DBClusterResourceId'),
      [names.modelRegistry.clusterEndpointAddress]: getAtt(cluster, 'Endpoint.Address'),
      [names.modelRegistry.port]: getAtt(cluster, 'Endpoint.Port'),
      [names.modelRegistry.securityGroupId]: getAtt(prod.modelRegistry.node.findChild('SecurityGroup').node.defaultChild as CfnResource, 'GroupId'),
      [names.modelRegistry.secretArn]: ref(prod.modelRegistry.secret),
      [names.images.trainingRepositoryName]: ref(prod.trainingImages.repository),
      [names.images.servingRepositoryName]: ref(prod.servingImages.repository),
      [names.network.vpcId]: ref(vpc),
      [names.network.vpcCidrBlock]: getAtt(vpc.node.defaultChild as CfnResource, 'CidrBlock'),
      [names.network.availabilityZones]: { 'Fn::Join': [',', prod.dataStack.resolve(vpc.availabilityZones)] },
      [names.network.publicSubnetIds]: join(vpc.publicSubnets, 'subnetId'),
      [names.network.publicSubnetRouteTableIds]: join(vpc.publicSubnets, 'routeTableId'),
      [names.network.privateSubnetIds]: join(vpc.privateSubnets, 'subnetId'),
      [names.network.privateSubnetRouteTableIds]: join(vpc.privateSubnets, 'routeTableId'),
      [names.network.isolatedSubnetIds]: join(vpc.isolatedSubnets, 'subnetId'),
      [names.network.isolatedSubnetRouteTableIds]: join(vpc.isolatedSubnets, 'routeTableId'),
    });
    // A multi-AZ environment: three zones, one subnet per zone and group.
    expect(vpc.privateSubnets).toHaveLength(3);
  });

  test('the names depend on project and environment only, not on construct ids', () => {
    const renamed = platform('SomethingElse');
    expect(publishedParameters(renamed.dataStack, 'fraud-prod')).toEqual(expect.objectContaining(
      Object.fromEntries(allSharedPlatformParameterNames('fraud-prod').map((n) => [n, expect.anything()]))));
    expect(Object.keys(publishedParameters(renamed.dataStack, 'fraud-prod')).sort()).toEqual(Object.keys(published).sort());
    // A platform with its own stack name prefix publishes under that prefix.
    const prefixed = platform('fraud-prod', EnvironmentProfile.prod(), { stackNamePrefix: 'risk-eu' });
    expect(Object.keys(publishedParameters(prefixed.dataStack, 'risk-eu')).sort()).toEqual(allSharedPlatformParameterNames('risk-eu').sort());
    expect(prefixed.sharedParameterNames).toEqual(sharedPlatformParameterNames('risk-eu'));
  });
});

test('a data stack whose network has fewer zones than its profile says warns that teams must pass availabilityZoneCount', () => {
  // A region with two zones (as the context of a real lookup would say) under the multi-AZ prod profile.
  const app = new App({ context: { 'availability-zones:account=123456789012:region=us-west-1': ['us-west-1a', 'us-west-1c'] } });
  const twoZones = new MlopsPlatform(app, 'fraud-prod', {
    profile: EnvironmentProfile.prod(), project: 'fraud', costCenter: 'cc', experimentTracking: false, env: { account: '123456789012', region: 'us-west-1' },
  });
  const warnings = Annotations.fromStack(twoZones.dataStack).findWarning('*', Match.stringLikeRegexp('availabilityZoneCount: 2'));
  expect(warnings.map((w) => w.entry.data)).toEqual([expect.stringContaining("where a 'prod' environment normally has 3")]);
  // The default network of each profile needs no such warning.
  expect(Annotations.fromStack(platform('fraud-prod').dataStack).findWarning('*', Match.stringLikeRegexp('availabilityZoneCount'))).toEqual([]);
});

describe('a team stack on MlopsPlatform.fromEnvironment', () => {
  function teamApp(profile = EnvironmentProfile.prod()) {
    const app = newApp();
    const stack = new MlopsStack(app, 'fraud-team', {
      profile, project: 'fraud', team: 'fraud', costCenter: 'cc-risk', env: { account: '123456789012', region: 'us-east-1' },
    });
    const shared = MlopsPlatform.fromEnvironment(stack, 'Shared', { project: 'fraud', profile });
    return { app, stack, shared };
  }
  const { app, stack, shared } = teamApp();
  const names = sharedPlatformParameterNames('fraud-prod');
  const training = new GpuTrainingCluster(stack, 'Training', {
    vpc: shared.vpc, artifactStore: shared.artifactStore, encryptionKey: shared.encryptionKey, teams: [{ name: 'fraud' }],
  });
  const job = training.addJobDefinition('Train', {
    imageRepository: shared.trainingImages, imageTag: 'train-1', datasetPrefix: 'fraud/', command: ['python', 'train.py'],
  });
  const registryAccess = new iam.ManagedPolicy(stack, 'RegistryAccess', { roles: [job.jobRole] });
  shared.modelRegistry.grantConnect(managedPolicyGrantee(job.jobRole, registryAccess), 'fraud_trainer');
  shared.modelRegistry.allowConnectionsFrom(training.securityGroup);
  new InferenceFleet(stack, 'Fleet', {
    vpc: shared.vpc,
    modelName: 'fraud-detector',
    modelVersion: 'v1',
    artifactStore: shared.artifactStore,
    image: shared.servingImages,
    imageTag: 'serve-1',
    encryptionKey: shared.encryptionKey,
    certificate: certificateFor(stack, EnvironmentProfile.prod()),
  });
  applyCompliancePacks(app);
  const result = synthesizeWithPacks(app);
  const template = Template.fromStack(stack).toJSON();
  const json = JSON.stringify(template);
  /** The template parameter that resolves an SSM name. */
  const parameterOf = (name: string) => {
    const found = Object.entries(template.Parameters as Record<string, any>).find(([, p]) => p.Type === SSM_STRING && p.Default === name);
    if (!found) throw new Error(`no template parameter reads ${name}`);
    return found[0];
  };

  test('reads the attributes its resources use at deploy time, each a template parameter of type AWS::SSM::Parameter::Value<String>', () => {
    const read = Object.values(template.Parameters as Record<string, any>)
      .filter((p) => p.Type === SSM_STRING && p.Default.startsWith('/mlops/')).map((p) => p.Default);
    const used = [
      names.artifactStore.bucketNames.datasets, names.artifactStore.bucketNames.models, names.artifactStore.encryptionKeyArn,
      names.artifactStore.accessLogBucketName, names.modelRegistry.clusterResourceIdentifier, names.modelRegistry.securityGroupId,
      names.images.trainingRepositoryName, names.images.servingRepositoryName, names.network.vpcId, names.network.vpcCidrBlock,
      names.network.privateSubnetIds,
      // The fleet's Auto Scaling groups name the zones of their subnets.
      names.network.availabilityZones,
    ];
    expect(read.filter((name) => !used.includes(name))).toEqual([]);
    expect(used.filter((name) => !read.includes(name))).toEqual([]);
    // Each one is referenced by the team's resources (an unreferenced parameter is left out).
    for (const name of used) expect([name, json.includes(`{"Ref":"${parameterOf(name)}"}`)]).toEqual([name, true]);
    expect(shared.environmentPrefix).toBe('fraud-prod');
    expect(shared.parameterNames).toEqual(names);
  });

  test('subnets come from the list parameter (three zones in prod), the registry port is a literal', () => {
    const asg = Object.values(template.Resources as Record<string, any>).find((r) => r.Type === 'AWS::AutoScaling::AutoScalingGroup');
    expect(asg.Properties.VPCZoneIdentifier).toEqual([0, 1, 2].map((i) => ({ 'Fn::Select': [i, { 'Fn::Split': [',', { Ref: parameterOf(names.network.privateSubnetIds) }] }] })));
    const ingress = Object.values(template.Resources as Record<string, any>)
      .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && JSON.stringify(r.Properties.GroupId).includes(parameterOf(names.modelRegistry.securityGroupId)));
    expect(ingress.map((r) => [r.Properties.FromPort, r.Properties.ToPort])).toEqual([[5433, 5433]]);
  });

  test("grants on the imported store: a team role reads the team's datasets and writes its candidates, never served/", () => {
    const grantStack = new MlopsStack(newApp(), 'grants', { profile: EnvironmentProfile.prod(), project: 'fraud', costCenter: 'cc' });
    const store = MlopsPlatform.fromEnvironment(grantStack, 'Shared', { project: 'fraud', profile: EnvironmentProfile.prod() }).artifactStore;
    const role = new iam.Role(grantStack, 'Trainer', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    store.grantRead(role, ArtifactPurpose.DATASETS, 'fraud/');
    store.grantWrite(role, ArtifactPurpose.MODELS, 'candidates/fraud/');
    expect(() => store.grantWrite(role, ArtifactPurpose.MODELS, 'served/fraud/')).toThrow(/only the promotion role writes/);
    const t = Template.fromStack(grantStack).toJSON();
    const param = (name: string) => Object.entries(t.Parameters as Record<string, any>).find(([, p]) => p.Default === name)![0];
    const statements = Object.values(t.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => r.Properties.PolicyDocument.Statement);
    const objects = (name: string, prefix: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { Ref: param(name) }, `/${prefix}*`]] });
    const actionsOn = (resource: unknown) => statements
      .filter((st) => JSON.stringify(st.Resource) === JSON.stringify(resource)).flatMap((st) => [st.Action].flat());
    expect(actionsOn(objects(names.artifactStore.bucketNames.datasets, 'fraud/'))).toContain('s3:GetObject');
    expect(actionsOn(objects(names.artifactStore.bucketNames.datasets, 'fraud/'))).not.toContain('s3:PutObject');
    expect(actionsOn(objects(names.artifactStore.bucketNames.models, 'candidates/fraud/'))).toContain('s3:PutObject');
    // The key of the environment, by its ARN from the parameter.
    expect(statements.some((st) => JSON.stringify(st.Resource) === JSON.stringify({ Ref: param(names.artifactStore.encryptionKeyArn) })
      && [st.Action].flat().includes('kms:Decrypt'))).toBe(true);
  });

  test('owns nothing shared: no bucket, key, database, secret, VPC, repository or parameter is created', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::RDS::DBCluster', 'AWS::SecretsManager::Secret', 'AWS::EC2::VPC', 'AWS::ECR::Repository', 'AWS::SSM::Parameter']) {
      expect([type, Object.values(template.Resources as Record<string, any>).filter((r) => r.Type === type).length]).toEqual([type, 0]);
    }
  });

  test('synthesizes with no compliance finding and lints clean', () => {
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('a single-AZ environment (dev) is read as two zones; availabilityZoneCount overrides it', () => {
    const dev = teamApp(EnvironmentProfile.dev());
    expect(dev.shared.vpc.privateSubnets).toHaveLength(2);
    expect(dev.shared.environmentPrefix).toBe('fraud-dev');
    const stack2 = new MlopsStack(newApp(), 'team', { profile: EnvironmentProfile.prod(), project: 'fraud', costCenter: 'cc' });
    const two = MlopsPlatform.fromEnvironment(stack2, 'Shared', { project: 'fraud', profile: EnvironmentProfile.prod(), availabilityZoneCount: 2 });
    expect(two.vpc.isolatedSubnets).toHaveLength(2);
    const prefixed = MlopsPlatform.fromEnvironment(stack2, 'Prefixed', { environmentPrefix: 'risk-eu', profile: EnvironmentProfile.prod() });
    expect(prefixed.parameterNames).toEqual(sharedPlatformParameterNames('risk-eu'));
    new ec2.SecurityGroup(stack2, 'Clients', { vpc: prefixed.vpc });
    // Only what a resource uses is read: the VPC id of the prefixed environment; nothing of the unused import.
    expect(Object.values(Template.fromStack(stack2).toJSON().Parameters as Record<string, { Type: string; Default: string }>)
      .filter((p) => p.Type === SSM_STRING && p.Default.startsWith('/mlops/')).map((p) => p.Default)).toEqual(['/mlops/risk-eu/shared/network/vpc-id']);
  });
});

describe('MlopsPlatform.fromEnvironment validation', () => {
  const stack = () => new MlopsStack(new App(), 'team', { profile: EnvironmentProfile.prod(), project: 'fraud', costCenter: 'cc' });
  test.each([
    ['a project that is not a name', { project: 'fraud team', profile: EnvironmentProfile.prod() }, /team\/Shared: 'project' must be letters, digits and hyphens.*"fraud team"/],
    ['no project and no prefix', { profile: EnvironmentProfile.prod() }, /'project'.*is required without environmentPrefix/],
    // Profiles validate their names; a JavaScript caller can still hand over a look-alike.
    ['a profile whose name is not a name', { project: 'fraud', profile: { name: 'prod eu', multiAz: true } }, /'profile.name'.*fraud-prod eu/],
    ['a prefix that is not a stack name prefix', { environmentPrefix: '/mlops/x', profile: EnvironmentProfile.prod() }, /'environmentPrefix'.*stackNamePrefix/],
    ['no profile', { project: 'fraud' }, /'profile'.*must be an EnvironmentProfile/],
    ['a registry port out of range', { project: 'fraud', profile: EnvironmentProfile.prod(), modelRegistryPort: 80 }, /'modelRegistryPort'.*between 1150 and 65535/],
    ['a zone count out of range', { project: 'fraud', profile: EnvironmentProfile.prod(), availabilityZoneCount: 0 }, /'availabilityZoneCount'.*between 1 and 6/],
  ])('%s is a ValidationError naming the prop and the fix', (_name, props, message) => {
    let error: unknown;
    try {
      MlopsPlatform.fromEnvironment(stack(), 'Shared', props as never);
    } catch (e) {
      error = e;
    }
    expect(ValidationError.isValidationError(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });
});
