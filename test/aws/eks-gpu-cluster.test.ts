import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { KubernetesVersion } from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { TEST_CERTIFICATE_ARN } from '../support/certificates';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactPurpose, ArtifactStore, EksAccessLevel, EksGpuCluster, EksGpuClusterProps, EnvironmentProfile, GpuCapacity,
  GpuNodeImage, MlopsGovernance, MlopsPlatform, MlopsStack, PlatformKey, PlatformNetwork,
} from 'mlops-constructs';

function build(profile: EnvironmentProfile = EnvironmentProfile.dev(), props: Partial<EksGpuClusterProps> = {}) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Env', { profile, project: 'p', team: 'ml', costCenter: 'cc-1' });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, restrictDefaultSecurityGroup: false });
  const eks = new EksGpuCluster(stack, 'Eks', { vpc, ...props });
  return { app, stack, vpc, eks, template: () => Template.fromStack(stack) };
}

function nodegroup(t: Template, name: string): Record<string, any> {
  const groups = Object.values(t.findResources('AWS::EKS::Nodegroup', { Properties: { NodegroupName: name } }));
  expect(groups).toHaveLength(1);
  return groups[0].Properties;
}

describe('EksGpuCluster control plane', () => {
  test('private endpoint, every log type, secrets encrypted with the customer managed key, access entries only', () => {
    const { template, stack, eks } = build();
    const t = template();
    t.resourceCountIs('AWS::EKS::Cluster', 1);
    t.hasResourceProperties('AWS::EKS::Cluster', {
      Name: eks.clusterName,
      Version: '1.34',
      ResourcesVpcConfig: Match.objectLike({ EndpointPrivateAccess: true, EndpointPublicAccess: false }),
      Logging: { ClusterLogging: { EnabledTypes: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].map((type) => ({ Type: type })) } },
      EncryptionConfig: [Match.objectLike({ Provider: { KeyArn: stack.resolve(eks.encryptionKey.keyArn) } })],
      AccessConfig: { AuthenticationMode: 'API', BootstrapClusterCreatorAdminPermissions: false },
    });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: `/aws/eks/${eks.clusterName}/cluster`,
      RetentionInDays: 14,
      KmsKeyId: stack.resolve(eks.encryptionKey.keyArn),
    });
    t.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' });
    t.resourceCountIs('AWS::EKS::AccessEntry', 0);
  });

  test('installs nothing through custom resources: no kubectl Lambda function, no Custom::AWSCDK-EKS-* resources', () => {
    const { template } = build(EnvironmentProfile.prod());
    const types = Object.values(template().toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type);
    expect(types.filter((type) => type.startsWith('Custom::') || type === 'AWS::Lambda::Function' || type === 'AWS::CloudFormation::CustomResource')).toEqual([]);
  });

  test('dev destroys, prod retains the key, the log group and the cluster; prod keeps logs 365 days and runs 2 system nodes', () => {
    const dev = build().template();
    dev.hasResource('AWS::EKS::Cluster', { DeletionPolicy: 'Delete' });
    dev.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    expect(nodegroup(dev, 'system').ScalingConfig).toEqual({ MinSize: 1, DesiredSize: 1, MaxSize: 4 });
    const prod = build(EnvironmentProfile.prod()).template();
    prod.hasResource('AWS::EKS::Cluster', { DeletionPolicy: 'Retain' });
    prod.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ PendingWindowInDays: 30 }) });
    prod.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ RetentionInDays: 365 }) });
    expect(nodegroup(prod, 'system').ScalingConfig).toEqual({ MinSize: 2, DesiredSize: 2, MaxSize: 4 });
  });

  test('options: name, version, given key, log retention, system node group', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, restrictDefaultSecurityGroup: false });
    const platformKey = new PlatformKey(stack, 'Key');
    new EksGpuCluster(stack, 'Eks', {
      vpc,
      clusterName: 'ml-gpu',
      kubernetesVersion: KubernetesVersion.V1_33,
      encryptionKey: platformKey.key,
      logRetentionDays: 30,
      systemNodeGroup: { instanceTypes: ['m7i.xlarge'], minSize: 3, maxSize: 6 },
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::KMS::Key', 1);
    t.hasResourceProperties('AWS::EKS::Cluster', {
      Name: 'ml-gpu', Version: '1.33', EncryptionConfig: [Match.objectLike({ Provider: { KeyArn: stack.resolve(platformKey.key.keyArn) } })],
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/eks/ml-gpu/cluster', RetentionInDays: 30 });
    const system = nodegroup(t, 'system');
    expect(system).toMatchObject({
      InstanceTypes: ['m7i.xlarge'],
      AmiType: 'AL2023_x86_64_STANDARD',
      CapacityType: 'ON_DEMAND',
      ScalingConfig: { MinSize: 3, DesiredSize: 3, MaxSize: 6 },
      Labels: { 'mlops-constructs/node-group': 'system' },
    });
    expect(system.Taints).toBeUndefined();
    // The launching service-linked roles (Auto Scaling included) may encrypt node volumes with the given key, grants only for AWS resources.
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'AllowLaunchingServiceLinkedRolesToGrantForVolumes', Action: 'kms:CreateGrant', Condition: Match.objectLike({ Bool: { 'kms:GrantIsForAWSResource': 'true' } }),
        })]),
      },
    });
  });
});

describe('EksGpuCluster GPU node groups', () => {
  test('defaults: a spot and an on-demand group on AL2023 NVIDIA, scaling from zero, tainted and labelled', () => {
    const t = build().template();
    t.resourceCountIs('AWS::EKS::Nodegroup', 3);
    const taint = [{ Key: 'nvidia.com/gpu', Value: 'true', Effect: 'NO_SCHEDULE' }];
    expect(nodegroup(t, 'gpu-spot')).toMatchObject({
      InstanceTypes: ['g5.xlarge', 'g6.xlarge', 'g5.2xlarge'],
      AmiType: 'AL2023_x86_64_NVIDIA',
      CapacityType: 'SPOT',
      ScalingConfig: { MinSize: 0, DesiredSize: 0, MaxSize: 4 },
      Taints: taint,
      Labels: { 'nvidia.com/gpu.present': 'true', 'mlops-constructs/node-group': 'gpu-spot' },
    });
    expect(nodegroup(t, 'gpu-on-demand')).toMatchObject({
      InstanceTypes: ['g5.xlarge'],
      AmiType: 'AL2023_x86_64_NVIDIA',
      CapacityType: 'ON_DEMAND',
      ScalingConfig: { MinSize: 0, DesiredSize: 0, MaxSize: 4 },
      Taints: taint,
    });
  });

  test('node launch templates: IMDSv2 with one hop, KMS-encrypted gp3 volumes', () => {
    const { template, stack, eks } = build();
    const t = template();
    t.resourceCountIs('AWS::EC2::LaunchTemplate', 3);
    t.allResourcesProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [Match.objectLike({
          Ebs: Match.objectLike({ Encrypted: true, KmsKeyId: stack.resolve(eks.encryptionKey.keyArn), VolumeType: 'gp3' }),
        })],
      }),
    });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ BlockDeviceMappings: [Match.objectLike({ DeviceName: '/dev/xvda', Ebs: Match.objectLike({ VolumeSize: 200 }) })] }),
    });
  });

  test('options: Bottlerocket, on-demand, min and max, labels, disk; addGpuNodeGroup adds more', () => {
    const { template, eks } = build(EnvironmentProfile.dev(), {
      gpuNodeGroups: [{
        name: 'train',
        instanceTypes: ['p4d.24xlarge'],
        capacity: GpuCapacity.ON_DEMAND,
        image: GpuNodeImage.BOTTLEROCKET_NVIDIA,
        minSize: 1,
        maxSize: 2,
        labels: { 'example.com/pool': 'train' },
        diskSizeGiB: 500,
      }],
    });
    eks.addGpuNodeGroup({ name: 'serve', instanceTypes: ['g6.xlarge'] });
    const t = template();
    t.resourceCountIs('AWS::EKS::Nodegroup', 3);
    expect(nodegroup(t, 'train')).toMatchObject({
      AmiType: 'BOTTLEROCKET_x86_64_NVIDIA',
      CapacityType: 'ON_DEMAND',
      ScalingConfig: { MinSize: 1, DesiredSize: 1, MaxSize: 2 },
      Labels: { 'example.com/pool': 'train', 'nvidia.com/gpu.present': 'true', 'mlops-constructs/node-group': 'train' },
    });
    expect(nodegroup(t, 'serve')).toMatchObject({ CapacityType: 'SPOT', ScalingConfig: { MinSize: 0, DesiredSize: 0, MaxSize: 4 } });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ BlockDeviceMappings: [Match.objectLike({ DeviceName: '/dev/xvdb', Ebs: Match.objectLike({ VolumeSize: 500 }) })] }),
    });
    expect([...eks.gpuNodeGroups.keys()]).toEqual(['train', 'serve']);
  });
});

describe('EksGpuCluster access', () => {
  test.each([
    ['dev', EnvironmentProfile.dev(), 'AmazonEKSEditPolicy'],
    ['prod', EnvironmentProfile.prod(), 'AmazonEKSViewPolicy'],
  ])('personas (%s): operator admin of kube-system only, ML engineer edit in team namespaces, data scientist edit in dev and view elsewhere, auditor view', (_name, profile, scientistPolicy) => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile, project: 'p' });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1, restrictDefaultSecurityGroup: false });
    const governance = new MlopsGovernance(stack, 'Governance');
    new EksGpuCluster(stack, 'Eks', { vpc, personas: governance, teamNamespaces: ['fraud', 'recsys'] });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EKS::AccessEntry', 4);
    const policyArn = (name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:eks::aws:cluster-access-policy/${name}`]] });
    const entries = Object.values(t.findResources('AWS::EKS::AccessEntry')).map((r) => r.Properties);
    const of = (role: iam.Role) => entries.find((e) => JSON.stringify(e.PrincipalArn) === JSON.stringify(stack.resolve(role.roleArn)));
    // The operator never reads data: no cluster admin (which would bypass its denied object reads through the team service accounts).
    expect(of(governance.platformOperator)?.AccessPolicies).toEqual([
      { PolicyArn: policyArn('AmazonEKSAdminPolicy'), AccessScope: { Type: 'namespace', Namespaces: ['kube-system'] } },
      { PolicyArn: policyArn('AmazonEKSViewPolicy'), AccessScope: { Type: 'cluster' } },
    ]);
    expect(of(governance.mlEngineer)?.AccessPolicies).toEqual([{ PolicyArn: policyArn('AmazonEKSEditPolicy'), AccessScope: { Type: 'namespace', Namespaces: ['fraud', 'recsys'] } }]);
    expect(of(governance.dataScientist)?.AccessPolicies).toEqual([{ PolicyArn: policyArn(scientistPolicy), AccessScope: { Type: 'namespace', Namespaces: ['fraud', 'recsys'] } }]);
    expect(of(governance.auditor)?.AccessPolicies).toEqual([{ PolicyArn: policyArn('AmazonEKSViewPolicy'), AccessScope: { Type: 'cluster' } }]);
  });

  test('grantAccess: namespace admin in given namespaces', () => {
    const { template, eks, stack } = build();
    const role = new iam.Role(stack, 'Lead', { assumedBy: new iam.AccountRootPrincipal() });
    eks.grantAccess('Lead', role, EksAccessLevel.NAMESPACE_ADMIN, ['fraud']);
    template().hasResourceProperties('AWS::EKS::AccessEntry', {
      PrincipalArn: stack.resolve(role.roleArn),
      AccessPolicies: [Match.objectLike({ AccessScope: { Type: 'namespace', Namespaces: ['fraud'] } })],
    });
  });

  test('addTeamServiceAccount: a role trusted by Pod Identity for one service account, store grants in a managed policy', () => {
    const { template, eks, stack } = build();
    const store = new ArtifactStore(stack, 'Store');
    const role = eks.addTeamServiceAccount('fraud', 'fraud-workloads', {
      artifactStore: store,
      artifacts: [{ purpose: ArtifactPurpose.DATASETS, prefix: 'fraud/' }, { purpose: ArtifactPurpose.MODELS, prefix: 'candidates/fraud-detector/', write: true }],
    });
    // Pods never write what production serves.
    expect(() => eks.addTeamServiceAccount('fraud', 'other', {
      artifactStore: store, artifacts: [{ purpose: ArtifactPurpose.MODELS, prefix: 'fraud/', write: true }],
    })).toThrow(/'grants.artifacts\[0\].prefix' lets pods write models outside 'candidates\/' \(received "fraud\/"\)\. Fix: write model candidates only/);
    const t = template();
    t.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      ClusterName: stack.resolve(eks.cluster.clusterName), Namespace: 'fraud', ServiceAccount: 'fraud-workloads', RoleArn: stack.resolve(role.roleArn),
    });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Principal: { Service: 'pods.eks.amazonaws.com' },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Condition: {
            StringEquals: {
              'aws:RequestTag/eks-cluster-arn': stack.resolve(eks.cluster.clusterArn),
              'aws:RequestTag/kubernetes-namespace': 'fraud',
              'aws:RequestTag/kubernetes-service-account': 'fraud-workloads',
            },
          },
        }],
      },
    });
    const policies = Object.values(t.findResources('AWS::IAM::ManagedPolicy', { Properties: { Roles: [stack.resolve(role.roleName)] } }));
    expect(policies).toHaveLength(1);
    const statements = JSON.stringify(stack.resolve(policies[0].Properties.PolicyDocument));
    expect(statements).toContain('fraud/*');
    expect(statements).toContain('s3:PutObject');
    expect(statements).not.toContain('s3:DeleteObject');
  });
});

describe('EksGpuCluster bad input', () => {
  const cases: Array<[string, Partial<EksGpuClusterProps>, RegExp]> = [
    ['GPU type not in the catalog', { gpuNodeGroups: [{ name: 'g', instanceTypes: ['g5.3xlarge'] }] },
      /gpuNodeGroups\[0\]\.instanceTypes\[0\]' is not in the instance catalog \(received "g5\.3xlarge"\)\. Fix: use one of g5\.xlarge/],
    ['not an NVIDIA GPU type', { gpuNodeGroups: [{ name: 'g', instanceTypes: ['inf2.xlarge'] }] },
      /gpuNodeGroups\[0\]\.instanceTypes\[0\]' is not an NVIDIA GPU type \(Inferentia2\).*Fix: use an NVIDIA GPU type/],
    ['max below min', { gpuNodeGroups: [{ name: 'g', instanceTypes: ['g5.xlarge'], minSize: 3, maxSize: 2 }] },
      /gpuNodeGroups\[0\]\.maxSize' must not be below 'gpuNodeGroups\[0\]\.minSize' \(3\).*Fix: raise/],
    ['duplicate node group', { gpuNodeGroups: [{ name: 'g', instanceTypes: ['g5.xlarge'] }, { name: 'g', instanceTypes: ['g6.xlarge'] }] },
      /gpuNodeGroups\[\]\.name' is a duplicate node group name \(received "g"\).*Fix: give each GPU node group a unique name/],
    ['no instance types', { gpuNodeGroups: [{ name: 'g', instanceTypes: [] }] }, /gpuNodeGroups\[0\]\.instanceTypes' must name at least one instance type/],
    ['accelerated system nodes', { systemNodeGroup: { instanceTypes: ['g5.xlarge'] } }, /systemNodeGroup\.instanceTypes\[0\]' is an accelerated type.*Fix: run add-ons/],
    ['edit personas without namespaces', { personas: { mlEngineer: undefined, dataScientist: {} as iam.IRole } },
      /'teamNamespaces' must name at least one namespace.*Fix: list the team namespaces/],
    ['bad namespace', { teamNamespaces: ['Fraud'] }, /'teamNamespaces\[0\]' must be a Kubernetes namespace name/],
    ['bad cluster name', { clusterName: '-x' }, /'clusterName' must be 1-100 letters/],
    ['bad log retention', { logRetentionDays: 10 }, /'logRetentionDays' must be one of .*Fix: use a value CloudWatch Logs accepts/],
    ['reserved label', { gpuNodeGroups: [{ name: 'g', instanceTypes: ['g5.xlarge'], labels: { 'nvidia.com/gpu.present': 'false' } }] },
      /gpuNodeGroups\[0\]\.labels' is set by the construct/],
  ];
  test.each(cases)('%s', (_name, props, message) => {
    expect(() => build(EnvironmentProfile.dev(), props)).toThrow(message);
  });

  test('unknown access level, cluster admin limited to namespaces, edit without namespaces, duplicate ids', () => {
    const { eks, stack } = build();
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.AccountRootPrincipal() });
    expect(() => eks.grantAccess('A', role, 'superuser' as EksAccessLevel)).toThrow(/'level' must be one of "cluster-admin", .*\(received "superuser"\)\. Fix: use one of EksAccessLevel\.CLUSTER_ADMIN/);
    expect(() => eks.grantAccess('A', role, EksAccessLevel.CLUSTER_ADMIN, ['fraud'])).toThrow(/'namespaces' cannot limit cluster admin access.*NAMESPACE_ADMIN/);
    expect(() => eks.grantAccess('A', role, EksAccessLevel.EDIT)).toThrow(/'namespaces' must name at least one namespace for edit access/);
    eks.grantAccess('A', role, EksAccessLevel.VIEW);
    expect(() => eks.grantAccess('A', role, EksAccessLevel.VIEW)).toThrow(/'id' already has an access entry/);
    expect(() => eks.addGpuNodeGroup({ name: 'gpu-spot', instanceTypes: ['g5.xlarge'] })).toThrow(/is a duplicate node group name/);
  });

  test('addTeamServiceAccount: bad names, no grants, twice', () => {
    const { eks, stack } = build();
    const store = new ArtifactStore(stack, 'Store');
    const artifacts = [{ purpose: ArtifactPurpose.DATASETS }];
    expect(() => eks.addTeamServiceAccount('Fraud', 'sa', { artifactStore: store, artifacts })).toThrow(/'namespace' must be a Kubernetes namespace name/);
    expect(() => eks.addTeamServiceAccount('fraud', 'sa', { artifactStore: store, artifacts: [] })).toThrow(/'grants\.artifacts' must grant at least one purpose/);
    eks.addTeamServiceAccount('fraud', 'sa', { artifactStore: store, artifacts });
    expect(() => eks.addTeamServiceAccount('fraud', 'sa', { artifactStore: store, artifacts })).toThrow(/'serviceAccount' already has a Pod Identity association/);
  });
});

describe('EksGpuCluster gate', () => {
  test('with only required props (prod): cdk-nag (with MlopsChecks) and cfn-lint clean', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.prod(), project: 'p', team: 'ml', costCenter: 'cc-1' });
    const network = new PlatformNetwork(stack, 'Network');
    new EksGpuCluster(stack, 'Eks', { vpc: network.vpc });
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('in a prod MlopsPlatform (as the reference app would add it): personas, team service accounts, clean', () => {
    const app = newApp();
    const platform = new MlopsPlatform(app, 'mlops-prod', {
      profile: EnvironmentProfile.prod(),
      certificateArn: TEST_CERTIFICATE_ARN,
      project: 'mlops',
      costCenter: 'ml-platform',
      env: { region: 'us-east-1' },
      teams: [{ name: 'fraud', costCenter: 'cc-risk', gpuSharePercent: 60 }, { name: 'recsys', costCenter: 'cc-growth', gpuSharePercent: 40 }],
    });
    const eks = new EksGpuCluster(platform.platformStack, 'Eks', {
      vpc: platform.network.vpc,
      encryptionKey: platform.platformKey.key,
      personas: platform.governance,
      teamNamespaces: platform.teams.map((t) => t.name),
    });
    for (const team of platform.teams) {
      eks.addTeamServiceAccount(team.name, `${team.name}-workloads`, {
        artifactStore: platform.artifactStore,
        artifacts: [{ purpose: ArtifactPurpose.DATASETS, prefix: `${team.name}/` }, { purpose: ArtifactPurpose.MODELS, prefix: `candidates/${team.name}-model/`, write: true }],
      });
    }
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
    const t = Template.fromStack(platform.platformStack);
    t.resourceCountIs('AWS::EKS::Cluster', 1);
    t.resourceCountIs('AWS::EKS::AccessEntry', 4);
    t.resourceCountIs('AWS::EKS::PodIdentityAssociation', 2);
  });
});
