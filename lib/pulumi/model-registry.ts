import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  Check, checkPromotingEnvironments, ModelRegistrySpec, ModelRegistrySpecInput, PromotingEnvironment, resolveModelRegistrySpec,
  sharedModelPackagesPolicy, SpecScope, validateDbUser, validateModelPackageGroup,
} from '../core';
import {
  accountContext, childOptions, componentSpecScope, keyPolicyJson, logsKeyStatement, MlopsComponentArgs, policyJson, resolveProfileAndTags,
} from './component-support';

export interface ModelRegistryArgs extends MlopsComponentArgs, ModelRegistrySpecInput {
  /** VPC of the platform. */
  readonly vpcId: pulumi.Input<string>;
  /** Isolated subnets of the database (at least two zones, an RDS rule). */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * ARN of the key encrypting storage, the managed credentials secret, Performance Insights and the log group;
   * its policy must let CloudWatch Logs use it.
   * @default - a new key with rotation
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
  /**
   * Other environments that promote what this one approved (prod, for staging): each model package group gets a
   * resource policy letting their promotion role (and nobody else of their account) describe the group and its
   * packages, nothing else (core's `sharedModelPackagesPolicy`, as the CDK registry's `shareModelPackagesWith`
   * renders it). An argument rather than a method, as the Pulumi `ArtifactStore`'s.
   * @default - shared with no other environment (the groups have no resource policy)
   */
  readonly sharesServedModelsWith?: PromotingEnvironment[];
}

/**
 * The Pulumi counterpart of the CDK `ModelRegistry`: an Aurora PostgreSQL Serverless v2 cluster with the same
 * capacity, backup, port, deletion-protection, encryption, IAM-authentication and monitoring settings (from core's
 * `resolveModelRegistrySpec`), the RDS Data API on (ExperimentTracking creates its database user through it), an
 * RDS-managed admin secret rotated every `rotationDays`, no ingress until `allowConnectionsFrom`, and SageMaker model
 * package groups.
 */
export class ModelRegistry extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:ModelRegistry';

  public readonly spec: ModelRegistrySpec;
  public readonly cluster: aws.rds.Cluster;
  public readonly instances: aws.rds.ClusterInstance[];
  public readonly securityGroup: aws.ec2.SecurityGroup;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly encryptionKeyArn: pulumi.Output<string>;
  /** ARN of the admin's secret RDS manages (rotated every `rotationDays`); only deploy-time administration should read it. */
  public readonly masterUserSecretArn: pulumi.Output<string>;
  /** ARN of the key encrypting the admin's secret. */
  public readonly masterUserSecretKeyArn: pulumi.Output<string>;
  public readonly modelPackageGroups = new Map<string, aws.sagemaker.ModelPackageGroup>();
  /** The resource policies of the model package groups, by group name (only with `sharesServedModelsWith`). */
  public readonly modelPackageGroupPolicies = new Map<string, aws.sagemaker.ModelPackageGroupPolicy>();
  private readonly sharedWith: readonly PromotingEnvironment[];
  private readonly specScope: SpecScope;
  private readonly tags: Record<string, string>;
  /** The component's resource name. */
  public readonly resourceName: string;

  constructor(name: string, args: ModelRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags } = resolveProfileAndTags(args);
    const specScope = componentSpecScope(ModelRegistry.TYPE, name);
    const spec = resolveModelRegistrySpec(specScope, args, profile);
    checkPromotingEnvironments(new Check(specScope.scope, specScope.isUnresolved), 'sharesServedModelsWith', args.sharesServedModelsWith ?? []);
    super(ModelRegistry.TYPE, name, {}, opts);
    this.spec = spec;
    this.specScope = specScope;
    this.sharedWith = [...args.sharesServedModelsWith ?? []];
    this.resourceName = name;
    this.tags = tags.toAwsTags();
    const retain = spec.retainData;

    this.encryptionKeyArn = pulumi.output(args.encryptionKeyArn ?? this.newKey(name, retain).arn);
    this.securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
      vpcId: args.vpcId,
      description: `Model registry database ${name}; ingress only via allowConnectionsFrom()`,
      egress: [],
      tags: this.tags,
    }, childOptions(this));
    const subnetGroup = new aws.rds.SubnetGroup(`${name}-subnets`, { subnetIds: args.subnetIds, tags: this.tags }, childOptions(this));
    const clusterIdentifier = `${name}-registry`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 60);
    // Created before the cluster so RDS writes into an encrypted log group with retention instead of making its own.
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-postgresql-log`, {
      name: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      kmsKeyId: this.encryptionKeyArn,
      retentionInDays: spec.logRetentionDays,
      tags: this.tags,
    }, childOptions(this, retain));
    const monitoringRole = new aws.iam.Role(`${name}-monitoring-role`, {
      assumeRolePolicy: policyJson({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'monitoring.rds.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
      managedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole'],
      permissionsBoundary: args.permissionsBoundary,
      tags: this.tags,
    }, childOptions(this));

    this.cluster = new aws.rds.Cluster(`${name}-cluster`, {
      clusterIdentifier,
      engine: 'aurora-postgresql',
      engineMode: 'provisioned',
      engineVersion: spec.engineVersion,
      databaseName: spec.databaseName,
      masterUsername: spec.masterUsername,
      manageMasterUserPassword: true,
      masterUserSecretKmsKeyId: this.encryptionKeyArn,
      port: spec.port,
      dbSubnetGroupName: subnetGroup.name,
      vpcSecurityGroupIds: [this.securityGroup.id],
      storageEncrypted: spec.storageEncrypted,
      kmsKeyId: this.encryptionKeyArn,
      iamDatabaseAuthenticationEnabled: spec.iamAuthentication,
      // The RDS Data API: how ExperimentTracking creates its IAM-authenticated database user at deploy time.
      enableHttpEndpoint: spec.dataApi,
      serverlessv2ScalingConfiguration: { minCapacity: spec.minCapacity, maxCapacity: spec.maxCapacity },
      backupRetentionPeriod: spec.backupRetentionDays,
      deletionProtection: spec.deletionProtection,
      skipFinalSnapshot: !spec.finalSnapshot,
      finalSnapshotIdentifier: spec.finalSnapshot ? `${clusterIdentifier}-final` : undefined,
      enabledCloudwatchLogsExports: [...spec.logExports],
      copyTagsToSnapshot: true,
      tags: this.tags,
    }, { parent: this, dependsOn: [this.logGroup], retainOnDelete: retain || undefined });

    const instanceArgs = (role: string): aws.rds.ClusterInstanceArgs => ({
      identifier: `${clusterIdentifier}-${role}`.slice(0, 63),
      clusterIdentifier: this.cluster.id,
      instanceClass: 'db.serverless',
      engine: 'aurora-postgresql',
      engineVersion: this.cluster.engineVersion,
      publiclyAccessible: spec.publiclyAccessible,
      autoMinorVersionUpgrade: true,
      performanceInsightsEnabled: spec.performanceInsights,
      performanceInsightsKmsKeyId: this.encryptionKeyArn,
      monitoringInterval: spec.monitoringIntervalSeconds,
      monitoringRoleArn: monitoringRole.arn,
      promotionTier: role === 'writer' ? 0 : 1,
      tags: this.tags,
    });
    this.instances = [new aws.rds.ClusterInstance(`${name}-writer`, instanceArgs('writer'), childOptions(this))];
    if (spec.reader) this.instances.push(new aws.rds.ClusterInstance(`${name}-reader`, instanceArgs('reader'), childOptions(this)));

    this.masterUserSecretArn = this.cluster.masterUserSecrets.apply((s) => s?.[0]?.secretArn ?? '');
    this.masterUserSecretKeyArn = this.cluster.masterUserSecrets.apply((s) => s?.[0]?.kmsKeyId ?? '');
    new aws.secretsmanager.SecretRotation(`${name}-rotation`, {
      secretId: this.masterUserSecretArn,
      rotationRules: { automaticallyAfterDays: spec.rotationDays },
    }, childOptions(this));

    this.registerOutputs({
      clusterEndpoint: this.cluster.endpoint,
      port: spec.port,
      databaseName: spec.databaseName,
      securityGroupId: this.securityGroup.id,
    });
  }

  /** Lets a security group reach the database port; the only way in. */
  public allowConnectionsFrom(name: string, sourceSecurityGroupId: pulumi.Input<string>): aws.vpc.SecurityGroupIngressRule {
    return new aws.vpc.SecurityGroupIngressRule(name, {
      securityGroupId: this.securityGroup.id,
      referencedSecurityGroupId: sourceSecurityGroupId,
      ipProtocol: 'tcp',
      fromPort: this.spec.port,
      toPort: this.spec.port,
      description: 'Model registry clients',
      tags: this.tags,
    }, { parent: this });
  }

  /** The `rds-db:connect` policy statement for `dbUser` (IAM database authentication). */
  public connectStatement(dbUser: string): pulumi.Output<object> {
    validateDbUser(this.specScope, dbUser);
    const account = accountContext(this);
    const parts = pulumi.all([account.partition, account.region, account.accountId, this.cluster.clusterResourceId]);
    return parts.apply(([partition, r, accountId, id]) => ({
      Effect: 'Allow', Action: 'rds-db:connect', Resource: `arn:${partition}:rds-db:${r}:${accountId}:dbuser:${id}/${dbUser}`,
    }));
  }

  /** Adds a SageMaker model package group for one model family. */
  public addModelPackageGroup(name: string, description?: string): aws.sagemaker.ModelPackageGroup {
    validateModelPackageGroup(this.specScope, name, this.modelPackageGroups, description);
    const group = new aws.sagemaker.ModelPackageGroup(`${this.resourceName}-${name}`, {
      modelPackageGroupName: name,
      modelPackageGroupDescription: description,
      tags: this.tags,
    }, childOptions(this, this.spec.retainData));
    this.modelPackageGroups.set(name, group);
    if (this.sharedWith.length > 0) {
      const account = accountContext(this);
      const policy = pulumi.all([account.partition, account.region, account.accountId]).apply(([partition, region, accountId]) =>
        sharedModelPackagesPolicy(this.sharedWith, partition, name, (type, resourceName) => `arn:${partition}:sagemaker:${region}:${accountId}:${type}/${resourceName}`));
      this.modelPackageGroupPolicies.set(name, new aws.sagemaker.ModelPackageGroupPolicy(`${this.resourceName}-${name}-policy`, {
        modelPackageGroupName: group.modelPackageGroupName,
        resourcePolicy: policyJson(policy as pulumi.Output<object>),
      }, childOptions(this)));
    }
    return group;
  }

  private newKey(name: string, retain: boolean): aws.kms.Key {
    const account = accountContext(this);
    return new aws.kms.Key(`${name}-key`, {
      description: `Model registry ${name}`,
      enableKeyRotation: true,
      deletionWindowInDays: retain ? 30 : 7,
      policy: keyPolicyJson(account, [logsKeyStatement(account)]),
      tags: this.tags,
    }, childOptions(this, retain));
  }
}
