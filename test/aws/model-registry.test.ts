import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { cfnLint, collectAcknowledgements, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, EnvironmentProfile, IModelRegistry, MlopsStack, ModelRegistry, ModelRegistryProps, PlatformNetwork,
} from 'mlops-constructs';

function build(profile: EnvironmentProfile, props: Partial<ModelRegistryProps> = {}) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Env', { profile, project: 'p' });
  const network = new PlatformNetwork(stack, 'Network');
  const registry = new ModelRegistry(stack, 'Registry', { vpc: network.vpc, ...props });
  return { app, stack, network, registry, template: () => Template.fromStack(stack) };
}

describe('ModelRegistry', () => {
  test('dev: Aurora PostgreSQL 16 Serverless v2 scaling to 0 ACU, destroyable, no reader', () => {
    const template = build(EnvironmentProfile.dev()).template();
    template.hasResource('AWS::RDS::DBCluster', {
      Properties: Match.objectLike({
        Engine: 'aurora-postgresql',
        EngineVersion: '16.6',
        ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4 },
        BackupRetentionPeriod: 1,
        DeletionProtection: false,
        StorageEncrypted: true,
        EnableIAMDatabaseAuthentication: true,
        // The RDS Data API, through which ExperimentTracking creates its IAM-authenticated user at deploy time.
        EnableHttpEndpoint: true,
        EnableCloudwatchLogsExports: ['postgresql'],
        Port: 5433,
        DatabaseName: 'registry',
        PerformanceInsightsEnabled: true,
        PerformanceInsightsKmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('RegistryKey'), 'Arn'] },
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('RegistryKey'), 'Arn'] },
      }),
      DeletionPolicy: 'Delete',
    });
    template.resourceCountIs('AWS::RDS::DBInstance', 1);
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.serverless', PubliclyAccessible: false, MonitoringInterval: 60, EnablePerformanceInsights: true,
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: Match.stringLikeRegexp('^/aws/rds/cluster/env-registry-[0-9a-f]{8}/postgresql$'), RetentionInDays: 14 },
      DeletionPolicy: 'Delete',
    });
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
  });

  test('prod: snapshot on removal, deletion protection, a reader, 1-16 ACU, 30 days of backups, retained logs', () => {
    const template = build(EnvironmentProfile.prod()).template();
    template.hasResource('AWS::RDS::DBCluster', {
      Properties: Match.objectLike({
        ServerlessV2ScalingConfiguration: { MinCapacity: 1, MaxCapacity: 16 },
        BackupRetentionPeriod: 30,
        DeletionProtection: true,
      }),
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
    });
    template.resourceCountIs('AWS::RDS::DBInstance', 2);
    template.hasResourceProperties('AWS::RDS::DBInstance', { PromotionTier: 1 });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: Match.stringLikeRegexp('postgresql$'), RetentionInDays: 365 }, DeletionPolicy: 'Retain',
    });
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
  });

  test('staging takes 0.5 ACU and 7 days of backups from its profile', () => {
    build(EnvironmentProfile.staging()).template().hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 }, BackupRetentionPeriod: 7,
    });
  });

  test('the database sits in the isolated subnets', () => {
    const { template, network } = build(EnvironmentProfile.dev());
    expect(network.vpc.isolatedSubnets).toHaveLength(2);
    template().hasResourceProperties('AWS::RDS::DBSubnetGroup', {
      SubnetIds: network.vpc.isolatedSubnets.map((s) => s.stack.resolve(s.subnetId)),
    });
  });

  test('credentials are encrypted with the key and rotated every 30 days by a hosted single-user rotation', () => {
    const template = build(EnvironmentProfile.dev()).template();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('RegistryKey'), 'Arn'] },
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"username":"registry_admin"}' }),
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      HostedRotationLambda: Match.objectLike({
        RotationType: 'PostgreSQLSingleUser',
        KmsKeyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RegistryKey'), 'Arn'] },
      }),
    });
  });

  test('the security group has no ingress but the rotation function\'s, and no egress', () => {
    const template = build(EnvironmentProfile.dev()).template();
    const rules = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'));
    expect(rules.map((r) => r.Properties.Description)).toEqual(['Secret rotation']);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Model registry database'),
      SecurityGroupEgress: [Match.objectLike({ Description: 'Disallow all traffic' })],
    });
  });

  test('allowConnectionsFrom opens only the database port to the peer', () => {
    const { stack, registry, network, template } = build(EnvironmentProfile.dev());
    const client = new ec2.SecurityGroup(stack, 'Client', { vpc: network.vpc });
    registry.allowConnectionsFrom(client);
    template().hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 5433,
      ToPort: 5433,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Client'), 'GroupId'] },
      Description: 'Model registry clients: Env/Client',
    });
  });

  test('a client in another stack carries the ingress rule: the client stack depends on the registry, never the reverse', () => {
    const { app, stack, registry, network } = build(EnvironmentProfile.dev());
    const clientStack = new MlopsStack(app, 'Client', { profile: EnvironmentProfile.dev(), project: 'p' });
    const client = new ec2.SecurityGroup(clientStack, 'Client', { vpc: network.vpc });
    registry.allowConnectionsFrom(client);
    Template.fromStack(stack).resourceCountIs('AWS::EC2::SecurityGroupIngress', 1); // the rotation function's only
    Template.fromStack(clientStack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 5433,
      ToPort: 5433,
      GroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('RegistrySecurityGroup') },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Client'), 'GroupId'] },
    });
    expect(clientStack.dependencies).toContain(stack);
    expect(stack.dependencies).not.toContain(clientStack);
    // The client's group allows all outbound traffic: no egress rule, and no warning about one.
    Annotations.fromStack(clientStack).hasNoWarning('*', Match.anyValue());
    Template.fromStack(clientStack).resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
  });

  test('grantConnect allows rds-db:connect on the cluster resource id and that user only', () => {
    const { stack, registry } = build(EnvironmentProfile.dev());
    const role = new iam.Role(stack, 'App', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const asInterface: IModelRegistry = registry;
    const grant = asInterface.grantConnect(role, 'mlflow');
    expect(grant.success).toBe(true);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('App') }],
      PolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Action: 'rds-db:connect',
          Resource: {
            'Fn::Join': ['', [
              'arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:',
              { 'Fn::GetAtt': [Match.stringLikeRegexp('RegistryCluster'), 'DBClusterResourceId'] }, '/mlflow',
            ]],
          },
        }],
      },
    });
  });

  test('options: key, engine version, capacity, backups, rotation, port and database name', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    const network = new PlatformNetwork(stack, 'Network');
    const key = new kms.Key(stack, 'Given');
    new ModelRegistry(stack, 'Registry', {
      vpc: network.vpc,
      encryptionKey: key,
      engineVersion: rds.AuroraPostgresEngineVersion.VER_17_5,
      minCapacity: 0.5,
      maxCapacity: 8.5,
      backupRetentionDays: 35,
      rotationDays: 7,
      port: 6543,
      databaseName: 'mlflow',
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      EngineVersion: '17.5',
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 8.5 },
      BackupRetentionPeriod: 35,
      Port: 6543,
      DatabaseName: 'mlflow',
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Given'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(7 days)' } });
    // Only the network's key and the given one.
    template.resourceCountIs('AWS::KMS::Key', 2);
  });

  test('addModelPackageGroup creates a SageMaker model package group, retained outside dev', () => {
    const dev = build(EnvironmentProfile.dev());
    const group = dev.registry.addModelPackageGroup('fraud-detector', 'Card fraud scoring');
    expect(group.modelPackageGroupName).toBe('fraud-detector');
    expect([...dev.registry.modelPackageGroups.keys()]).toEqual(['fraud-detector']);
    dev.template().hasResource('AWS::SageMaker::ModelPackageGroup', {
      Properties: Match.objectLike({ ModelPackageGroupName: 'fraud-detector', ModelPackageGroupDescription: 'Card fraud scoring' }),
      DeletionPolicy: 'Delete',
    });
    const prod = build(EnvironmentProfile.prod());
    prod.registry.addModelPackageGroup('churn');
    prod.template().hasResource('AWS::SageMaker::ModelPackageGroup', {
      Properties: Match.objectLike({ ModelPackageGroupName: 'churn' }), DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain',
    });
  });

  test('acknowledges deletion protection in dev only, and the backup-plan rule on instances', () => {
    const ids = (profile: EnvironmentProfile) => collectAcknowledgements(build(profile).app)
      .filter((a) => a.path.startsWith('Registry/')).map((a) => `${a.id} ${a.path}`).sort();
    const dev = ids(EnvironmentProfile.dev());
    expect(dev).toEqual(expect.arrayContaining([
      'AwsSolutions-RDS10 Registry/Cluster/Resource',
      'NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled Registry/Cluster/Resource',
      'HIPAA.Security-RDSInstanceDeletionProtectionEnabled Registry/Cluster/Resource',
      'NIST.800.53.R5-RDSInBackupPlan Registry/Cluster/Writer/Resource',
    ]));
    const prod = ids(EnvironmentProfile.prod());
    expect(prod.filter((a) => a.includes('DeletionProtection') || a.includes('RDS10'))).toEqual([]);
    expect(prod).toEqual(expect.arrayContaining([
      'HIPAA.Security-RDSInBackupPlan Registry/Cluster/Reader/Resource',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:RDSOSMetrics:log-stream:*] Registry/MonitoringPolicy',
    ]));
  });

  describe('rejects bad input', () => {
    const cases: Array<[string, Partial<ModelRegistryProps>, RegExp]> = [
      ['backup retention 0', { backupRetentionDays: 0 }, /'backupRetentionDays' must be a whole number between 1 and 35 \(received 0\).*Fix: Aurora keeps automated backups/],
      ['backup retention 36', { backupRetentionDays: 36 }, /'backupRetentionDays'.*received 36.*set 'backupRetentionDays' in that range/],
      ['min above max capacity', { minCapacity: 8, maxCapacity: 4 }, /'minCapacity' must not be greater than 'maxCapacity' \(4\) \(received 8\).*Fix: lower 'minCapacity' or raise 'maxCapacity'/],
      ['max capacity not a multiple of 0.5', { maxCapacity: 2.3 }, /'maxCapacity' must be a multiple of 0.5.*received 2.3.*e.g. 2.5/],
      ['min capacity not a multiple of 0.5', { minCapacity: 0.7 }, /'minCapacity' must be a multiple of 0.5.*received 0.7/],
      ['max capacity above 256', { maxCapacity: 300 }, /'maxCapacity' must be a number between 1 and 256 \(received 300\)/],
      ['negative min capacity', { minCapacity: -1 }, /'minCapacity' must be a number between 0 and 256/],
      ['rotation of 0 days', { rotationDays: 0 }, /'rotationDays'.*between 1 and 365.*received 0/],
      ['privileged port', { port: 80 }, /'port'.*between 1150 and 65535.*received 80/],
      ['database name with a hyphen', { databaseName: 'my-db' }, /'databaseName' must be a letter followed by.*"my-db"/],
    ];
    test.each(cases)('%s', (_name, props, message) => {
      expect(() => build(EnvironmentProfile.dev(), props)).toThrow(message);
    });

    test('an invalid model package group name', () => {
      const { registry } = build(EnvironmentProfile.dev());
      expect(() => registry.addModelPackageGroup('fraud_detector')).toThrow(
        /Env\/Registry: 'modelPackageGroupName' must be 1-63 letters, digits or hyphens.*"fraud_detector"/);
      expect(() => registry.addModelPackageGroup('-fraud')).toThrow(/'modelPackageGroupName'/);
      expect(() => registry.addModelPackageGroup('x'.repeat(64))).toThrow(/'modelPackageGroupName'/);
    });

    test('a duplicate model package group name', () => {
      const { registry } = build(EnvironmentProfile.dev());
      registry.addModelPackageGroup('fraud-detector');
      expect(() => registry.addModelPackageGroup('fraud-detector')).toThrow(
        /'modelPackageGroupName' is already registered in this model registry \(received "fraud-detector"\).*Fix: use a different name/);
    });

    test('a description that is too long', () => {
      const { registry } = build(EnvironmentProfile.dev());
      expect(() => registry.addModelPackageGroup('ok', 'x'.repeat(1025))).toThrow(/'description' must be at most 1024 printable characters/);
    });

    test('an invalid database user for grantConnect', () => {
      const { stack, registry } = build(EnvironmentProfile.dev());
      const role = new iam.Role(stack, 'App', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
      expect(() => registry.grantConnect(role, 'bad user')).toThrow(/'dbUser' must be a PostgreSQL user name.*"bad user"/);
    });
  });

  test('with only required props it is cfn-lint clean and cdk-nag clean (dev and prod)', () => {
    const app = newApp();
    for (const profile of [EnvironmentProfile.dev(), EnvironmentProfile.prod()]) {
      const stack = new MlopsStack(app, profile.name, { profile, project: 'p' });
      const network = new PlatformNetwork(stack, 'Network');
      new ModelRegistry(stack, 'Registry', { vpc: network.vpc }).addModelPackageGroup('fraud-detector');
    }
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});

describe('ModelRegistry.fromModelRegistryAttributes', () => {
  const attrs = {
    clusterIdentifier: 'mlops-prod-registry',
    clusterResourceIdentifier: 'cluster-ABCDEFGHIJKL234',
    clusterEndpointAddress: 'mlops-prod-registry.cluster-abc.us-east-1.rds.amazonaws.com',
    port: 5433,
    securityGroupId: 'sg-0123456789abcdef0',
    secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mlops-prod-registry-AbC123',
  };

  test('imports the cluster, secret and security group: grants name the resource id, ingress goes to the imported group', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Team', { profile: EnvironmentProfile.prod(), project: 'p' });
    const registry: IModelRegistry = ModelRegistry.fromModelRegistryAttributes(stack, 'Registry', attrs);
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    registry.grantConnect(role, 'trainer');
    const client = new ec2.SecurityGroup(stack, 'Client', { vpc: new ec2.Vpc(stack, 'Vpc', { restrictDefaultSecurityGroup: false }) });
    registry.allowConnectionsFrom(client);
    expect(registry.cluster.clusterIdentifier).toBe(attrs.clusterIdentifier);
    expect(registry.cluster.clusterEndpoint.hostname).toBe(attrs.clusterEndpointAddress);
    expect(registry.secret.secretArn).toBe(attrs.secretArn);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::RDS::DBCluster', 0);
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [Match.objectLike({
          Action: 'rds-db:connect',
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:cluster-ABCDEFGHIJKL234/trainer']] },
        })],
      },
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: attrs.securityGroupId, FromPort: 5433, ToPort: 5433, IpProtocol: 'tcp' });
  });

  test.each([
    ['clusterResourceIdentifier', { clusterResourceIdentifier: 'mlops-prod-registry' }, /'clusterResourceIdentifier' must be a DB cluster resource id/],
    ['secretArn', { secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:partial' }, /'secretArn' must be the complete ARN/],
    ['securityGroupId', { securityGroupId: 'default' }, /'securityGroupId' must be a security group id/],
    ['port', { port: 80 }, /'port' must be a whole number between 1150 and 65535/],
  ])('rejects a bad %s', (_name, bad, message) => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Team', { profile: EnvironmentProfile.prod(), project: 'p' });
    expect(() => ModelRegistry.fromModelRegistryAttributes(stack, 'Registry', { ...attrs, ...bad })).toThrow(message);
  });

  test('grantConnect validates the database user', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Team', { profile: EnvironmentProfile.prod(), project: 'p' });
    const registry = ModelRegistry.fromModelRegistryAttributes(stack, 'Registry', attrs);
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    expect(() => registry.grantConnect(role, 'Bad User')).toThrow(/dbUser/);
  });
});
