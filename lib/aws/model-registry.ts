import { Aws, Duration, Lazy, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import {
  Check, checkPromotingEnvironments, EnvironmentProfile, PromotingEnvironment, resolveModelRegistrySpec, sharedModelPackagesPolicy, SpecScope,
  validateDbUser, validateModelPackageGroup,
} from '../core';
import { newRotatingKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

/** The model registry's database: what other constructs (experiment tracking, pipelines) connect to. */
export interface IModelRegistry extends IConstruct {
  readonly cluster: rds.IDatabaseCluster;
  /** Admin credentials (rotated). */
  readonly secret: secretsmanager.ISecret;
  readonly connections: ec2.Connections;
  /** Lets `peer` reach the database port; the only way in. */
  allowConnectionsFrom(peer: ec2.IConnectable): void;
  /** Lets `grantee` connect as `dbUser` with IAM database authentication. */
  grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant;
}

/** Attributes of a model registry owned by another stack (a shared platform), for `ModelRegistry.fromModelRegistryAttributes`. */
export interface ModelRegistryAttributes {
  /** DB cluster identifier. */
  readonly clusterIdentifier: string;
  /** DB cluster resource id (`cluster-...`), which IAM database authentication names in `rds-db:connect`. */
  readonly clusterResourceIdentifier: string;
  /** Writer endpoint address. */
  readonly clusterEndpointAddress: string;
  /** Port the database listens on. */
  readonly port: number;
  /** Id of the database's security group (`allowConnectionsFrom` adds ingress rules to it). */
  readonly securityGroupId: string;
  /** Complete ARN of the admin credentials secret. */
  readonly secretArn: string;
}

export interface ModelRegistryProps {
  /** VPC of the platform; the database goes in its isolated subnets. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the database.
   * @default - the VPC's PRIVATE_ISOLATED subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Subnets of the secret-rotation function, which needs to reach the Secrets Manager API.
   * @default - the VPC's PRIVATE_WITH_EGRESS subnets
   */
  readonly rotationSubnets?: ec2.SubnetSelection;
  /**
   * Key encrypting storage, the credentials secret and Performance Insights. Its key policy must let
   * CloudWatch Logs use it (`PlatformKey` does), as it also encrypts the database log group.
   * @default - a new key with rotation, usable by CloudWatch Logs
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Aurora PostgreSQL engine version; it must support Aurora Serverless v2 (and auto-pause when the
   * minimum capacity is 0).
   * @default rds.AuroraPostgresEngineVersion.VER_16_6
   */
  readonly engineVersion?: rds.AuroraPostgresEngineVersion;
  /**
   * Minimum capacity in Aurora capacity units (0-256, multiples of 0.5). 0 pauses the database when idle.
   * @default - the profile's `minCapacity.databaseAcu` (0 in dev, 0.5 in staging, 1 in prod)
   */
  readonly minCapacity?: number;
  /**
   * Maximum capacity in Aurora capacity units (1-256, multiples of 0.5).
   * @default - 4 where the profile allows destroying data (dev), otherwise 16
   */
  readonly maxCapacity?: number;
  /**
   * Days automated backups are kept, 1-35.
   * @default - the profile's `backupRetentionDays`
   */
  readonly backupRetentionDays?: number;
  /**
   * Days between rotations of the admin password, 1-365.
   * @default 30
   */
  readonly rotationDays?: number;
  /**
   * Port the database listens on. Not the PostgreSQL default, so scans for 5432 find nothing.
   * @default 5433
   */
  readonly port?: number;
  /**
   * Name of the database created with the cluster.
   * @default 'registry'
   */
  readonly databaseName?: string;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/**
 * The platform's model registry: an Aurora PostgreSQL Serverless v2 cluster (the MLflow backend store)
 * in isolated subnets, encrypted with a customer managed key, IAM authentication on, rotated admin
 * credentials, backups and logs kept as the profile says, and a reader in a second zone where the profile
 * is multi-AZ; plus one SageMaker model package group per registered model family.
 *
 * Nothing can connect until `allowConnectionsFrom(peer)` is called.
 */
export class ModelRegistry extends Construct implements IModelRegistry {
  /** Imports a registry owned by another stack, e.g. a team repo connecting to the shared platform's registry. */
  public static fromModelRegistryAttributes(scope: Construct, id: string, attrs: ModelRegistryAttributes): IModelRegistry {
    return new ImportedModelRegistry(scope, id, attrs);
  }

  public readonly cluster: rds.DatabaseCluster;
  public readonly secret: secretsmanager.ISecret;
  public readonly connections: ec2.Connections;
  public readonly encryptionKey: kms.IKey;
  /** Log group the cluster's PostgreSQL log is exported to. */
  public readonly logGroup: logs.LogGroup;
  /** Port the database listens on. */
  public readonly port: number;
  /** Name of the database created with the cluster. */
  public readonly databaseName: string;

  private readonly profile: EnvironmentProfile;
  private readonly groups = new Map<string, sagemaker.CfnModelPackageGroup>();
  private readonly promoting: PromotingEnvironment[] = [];

  constructor(scope: Construct, id: string, props: ModelRegistryProps) {
    super(scope, id);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    this.profile = profile;
    // Defaults and validation shared with the Pulumi ModelRegistry.
    const spec = resolveModelRegistrySpec(this.specScope(), props, profile);
    const { backupRetentionDays, minCapacity, maxCapacity, rotationDays } = spec;
    this.port = spec.port;
    this.databaseName = spec.databaseName;

    this.encryptionKey = props.encryptionKey ?? this.newKey(profile);
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Model registry database at ${this.node.path}; ingress only via allowConnectionsFrom()`,
      allowAllOutbound: false,
    });

    // Named so its log group can be created (encrypted, with retention) before RDS creates one itself.
    const clusterIdentifier = Names.uniqueResourceName(this, { maxLength: 60, separator: '-' }).toLowerCase().replace(/-+/g, '-');
    this.logGroup = new logs.LogGroup(this, 'PostgresqlLog', {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      encryptionKey: this.encryptionKey,
      retention: spec.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(this.logGroup, spec.logRetentionDays);

    const monitoringRole = this.newMonitoringRole();
    const instanceProps = { enablePerformanceInsights: true, autoMinorVersionUpgrade: true, publiclyAccessible: false };
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: props.engineVersion ?? rds.AuroraPostgresEngineVersion.VER_16_6 }),
      clusterIdentifier,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      port: this.port,
      defaultDatabaseName: this.databaseName,
      credentials: rds.Credentials.fromGeneratedSecret(spec.masterUsername, { encryptionKey: this.encryptionKey }),
      storageEncrypted: true,
      storageEncryptionKey: this.encryptionKey,
      iamAuthentication: true,
      // The RDS Data API: how ExperimentTracking creates its IAM-authenticated database user at deploy time.
      enableDataApi: spec.dataApi,
      serverlessV2MinCapacity: minCapacity,
      serverlessV2MaxCapacity: maxCapacity,
      writer: rds.ClusterInstance.serverlessV2('Writer', instanceProps),
      readers: spec.reader ? [rds.ClusterInstance.serverlessV2('Reader', { ...instanceProps, scaleWithWriter: true })] : [],
      backup: { retention: Duration.days(backupRetentionDays) },
      deletionProtection: spec.deletionProtection,
      removalPolicy: spec.finalSnapshot ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      cloudwatchLogsExports: [...spec.logExports],
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: this.encryptionKey,
      copyTagsToSnapshot: true,
      monitoringInterval: Duration.seconds(spec.monitoringIntervalSeconds),
      monitoringRole,
    });
    this.cluster.node.addDependency(this.logGroup);
    this.secret = this.cluster.secret!;
    // Kept with the snapshot outside dev: a restored cluster still has this password.
    const generatedSecret = this.cluster.node.tryFindChild('Secret');
    if (generatedSecret instanceof secretsmanager.Secret) generatedSecret.applyRemovalPolicy(statefulRemovalPolicy(profile));
    this.acknowledgeFindings(profile);
    this.connections = this.cluster.connections;

    const rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
      vpc: props.vpc,
      description: `Secret rotation of ${this.node.path}`,
      allowAllOutbound: true,
    });
    this.connections.allowFrom(rotationSecurityGroup, ec2.Port.tcp(this.port), 'Secret rotation');
    new secretsmanager.RotationSchedule(this, 'Rotation', {
      secret: this.secret,
      automaticallyAfter: Duration.days(rotationDays),
      hostedRotation: secretsmanager.HostedRotation.postgreSqlSingleUser({
        vpc: props.vpc,
        vpcSubnets: props.rotationSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [rotationSecurityGroup],
      }),
    });
  }

  public allowConnectionsFrom(peer: ec2.IConnectable): void {
    allowClient(this, peer, this.port);
  }

  public grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    validateDbUser(this.specScope(), dbUser);
    const { partition, region, account } = Stack.of(this);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['rds-db:connect'],
      resourceArns: [`arn:${partition}:rds-db:${region}:${account}:dbuser:${this.cluster.clusterResourceIdentifier}/${dbUser}`],
    });
  }

  /**
   * Adds a SageMaker model package group for one model family (versions of one model are registered
   * into it). Retained outside dev like the rest of the registry.
   */
  public addModelPackageGroup(name: string, description?: string): sagemaker.CfnModelPackageGroup {
    validateModelPackageGroup(this.specScope(), name, this.groups, description);
    const group = new sagemaker.CfnModelPackageGroup(this, `ModelPackageGroup-${name}`, {
      modelPackageGroupName: name,
      modelPackageGroupDescription: description,
      modelPackageGroupPolicy: Lazy.any({ produce: () => this.packageGroupPolicy(name) }),
    });
    group.applyRemovalPolicy(statefulRemovalPolicy(this.profile));
    this.groups.set(name, group);
    return group;
  }

  /**
   * Lets the promotion role of another environment (prod promoting what this one, staging, approved) read the model
   * packages of every model package group (`DescribeModelPackage`, `DescribeModelPackageGroup`): a resource policy on
   * each group, naming the account as principal and the role by `aws:PrincipalArn`. Nothing else (no approval, no
   * creation, no update).
   */
  public shareModelPackagesWith(promoting: PromotingEnvironment): void {
    checkPromotingEnvironments(checkFor(this), 'shareModelPackagesWith', [promoting], this.promoting);
    this.promoting.push(promoting);
  }

  private packageGroupPolicy(name: string): unknown {
    const stack = Stack.of(this);
    // Core's policy (the Pulumi registry renders the same).
    return sharedModelPackagesPolicy(this.promoting, stack.partition, name,
      (type, resourceName) => stack.formatArn({ service: 'sagemaker', resource: type, resourceName }));
  }

  /** The model package groups added so far, by name. */
  public get modelPackageGroups(): ReadonlyMap<string, sagemaker.CfnModelPackageGroup> {
    return this.groups;
  }

  private specScope(): SpecScope {
    return { scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) };
  }

  /** The role enhanced monitoring writes OS metrics with: only the RDSOSMetrics log group of this account. */
  private newMonitoringRole(): iam.Role {
    // Pseudo parameters rather than the stack's (possibly literal) region, so the acknowledged finding id is
    // the same in every environment.
    const metricsGroup = `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:RDSOSMetrics`;
    const role = new iam.Role(this, 'MonitoringRole', {
      assumedBy: new iam.ServicePrincipal('monitoring.rds.amazonaws.com'),
      description: `Enhanced monitoring of ${this.node.path}`,
    });
    const policy = new iam.ManagedPolicy(this, 'MonitoringPolicy', {
      description: `Enhanced monitoring of ${this.node.path}: write OS metrics to RDSOSMetrics`,
      statements: [
        new iam.PolicyStatement({ actions: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy'], resources: [metricsGroup] }),
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams', 'logs:GetLogEvents'],
          resources: [`${metricsGroup}:log-stream:*`],
        }),
      ],
    });
    role.addManagedPolicy(policy);
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:RDSOSMetrics:log-stream:*]',
      reason: 'RDS names each enhanced-monitoring log stream after an instance resource id it assigns at creation; '
        + 'the wildcard is limited to streams of the RDSOSMetrics group in this account and region.',
    });
    return role;
  }

  private acknowledgeFindings(profile: EnvironmentProfile): void {
    const cfnCluster = this.cluster.node.defaultChild as rds.CfnDBCluster;
    if (!profile.deletionProtection) {
      const reason = `The '${profile.name}' profile lets its data be destroyed with the stack (allowDestroy), so the registry `
        + 'database is deliberately not deletion-protected there; protected profiles turn deletion protection on.';
      Validations.of(cfnCluster).acknowledge(
        { id: 'AwsSolutions-RDS10', reason },
        { id: 'NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled', reason },
        { id: 'HIPAA.Security-RDSInstanceDeletionProtectionEnabled', reason },
        { id: 'cdk-validator-cfnguard::rds_cluster_deletion_protection_enabled_check', reason },
      );
    }
    for (const instance of this.cluster.node.children.filter((c) => c.node.id === 'Writer' || c.node.id === 'Reader')) {
      const reason = 'Aurora backs up at the cluster level (automated backups kept backupRetentionDays, point-in-time restore); '
        + 'a cluster instance is not a unit AWS Backup can protect on its own.';
      Validations.of(instance.node.defaultChild ?? instance).acknowledge(
        { id: 'NIST.800.53.R5-RDSInBackupPlan', reason },
        { id: 'HIPAA.Security-RDSInBackupPlan', reason },
      );
    }
  }

  private newKey(profile: EnvironmentProfile): kms.Key {
    return newRotatingKey(this, `Model registry at ${this.node.path}`, statefulRemovalPolicy(profile));
  }
}

class ImportedModelRegistry extends Construct implements IModelRegistry {
  public readonly cluster: rds.IDatabaseCluster;
  public readonly secret: secretsmanager.ISecret;
  public readonly connections: ec2.Connections;
  private readonly port: number;

  constructor(scope: Construct, id: string, attrs: ModelRegistryAttributes) {
    super(scope, id);
    const spec: SpecScope = { scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) };
    const check = new Check(spec.scope, spec.isUnresolved);
    check.matches('clusterResourceIdentifier', attrs.clusterResourceIdentifier ?? '', /^cluster-[A-Z0-9]+$/, "a DB cluster resource id such as 'cluster-ABCDEFGHIJKL234'");
    check.matches('secretArn', attrs.secretArn ?? '', /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/,
      'the complete ARN of a Secrets Manager secret (ending in its 6-character suffix)');
    check.matches('securityGroupId', attrs.securityGroupId ?? '', /^sg-[0-9a-f]+$/, "a security group id such as 'sg-0123456789abcdef0'");
    this.port = check.integerInRange('port', attrs.port, 1150, 65535) ?? attrs.port;
    const securityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', attrs.securityGroupId, { allowAllOutbound: false });
    this.cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(this, 'Cluster', {
      clusterIdentifier: attrs.clusterIdentifier,
      clusterResourceIdentifier: attrs.clusterResourceIdentifier,
      clusterEndpointAddress: attrs.clusterEndpointAddress,
      port: this.port,
      securityGroups: [securityGroup],
      engine: rds.DatabaseClusterEngine.AURORA_POSTGRESQL,
    });
    this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', attrs.secretArn);
    this.connections = this.cluster.connections;
  }

  public allowConnectionsFrom(peer: ec2.IConnectable): void {
    allowClient(this, peer, this.port);
  }

  public grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    validateDbUser({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, dbUser);
    const { partition, region, account } = Stack.of(this);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['rds-db:connect'],
      resourceArns: [`arn:${partition}:rds-db:${region}:${account}:dbuser:${this.cluster.clusterResourceIdentifier}/${dbUser}`],
    });
  }
}

/**
 * Lets `peer` reach the database. A peer in another stack than the registry's security group gets the rules in its own
 * stack (aws-cdk-lib's remote-rule placement), so a client stack depends on the registry's stack and never the reverse:
 * an ingress rule in the registry's stack naming the client's security group would make the data stack depend on every
 * client, a cycle as soon as the client references the registry. Within one stack: aws-cdk-lib's `allowFrom`.
 */
function allowClient(registry: IModelRegistry & Construct, peer: ec2.IConnectable, port: number): void {
  const tcp = ec2.Port.tcp(port);
  const description = `Model registry clients: ${peer instanceof Construct ? peer.node.path : 'peer'}`;
  const remote = peer.connections.securityGroups.filter((sg) => Stack.of(sg) !== Stack.of(registry));
  if (remote.length === 0) {
    registry.connections.allowFrom(peer, tcp, description);
    return;
  }
  for (const peerGroup of peer.connections.securityGroups) {
    for (const registryGroup of registry.connections.securityGroups) {
      registryGroup.addIngressRule(peerGroup, tcp, description, true);
      // The peer's own egress, in its own stack; a group that allows all outbound traffic needs none.
      if (!peerGroup.allowAllOutbound) peerGroup.addEgressRule(registryGroup, tcp, description);
    }
  }
}
