import { createHash } from 'crypto';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ArtifactPurpose, Check, checkPinnedMlflowImage, EnvironmentProfile, ExperimentTrackingSpec, ExperimentTrackingSpecInput, MLFLOW_CONTAINER_USER,
  MLFLOW_DATABASE_USER, MLFLOW_SCRATCH_PATH, mlflowDatabaseUserSql, mlflowDatabaseUserStatement, mlflowHealthCheckCommand, mlflowIamAuthServerCommand,
  mlflowImageBuildCommand, physicalName, resolveExperimentTrackingSpec, resolveListenerTls, resolveTrackingAuthenticationKind, SpecScope,
  checkTrackingDomainName, TrackingAuthenticationKindName,
} from '../core';
import { ArtifactStore } from './artifact-store';
import {
  AccountContext, accountContext, attachStatements, childOptions, componentSpecScope, logsKeyStatement, MlopsComponentArgs, PolicyStatement,
  resolveProfileAndTags, rotatingKey, serviceRole, statementsJson,
} from './component-support';
import { loadBalancerListeners, PULUMI_CERTIFICATE_PROP } from './listeners';
import { ModelRegistry } from './model-registry';
import { TrackingAuthentication, trackingBearerRule, trackingListenerAuthentication } from './tracking-authentication';

export interface ExperimentTrackingArgs extends MlopsComponentArgs, ExperimentTrackingSpecInput {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets (with egress) the server and its internal load balancer run in. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Address ranges allowed to reach the load balancer.
   * @default - none when `clients` is given; otherwise the VPC's CIDR block (`vpcCidrBlock`)
   */
  readonly allowedCidrs?: string[];
  /**
   * Security groups allowed to reach the load balancer, such as the notebooks' and training jobs'. Given without
   * `allowedCidrs`, they are the only clients: the VPC's CIDR block is not admitted.
   * @default - none; clients are admitted by address (`allowedCidrs`)
   */
  readonly clients?: pulumi.Input<string>[];
  /**
   * The name clients call the tracking server by (the certificate's name, with a DNS record pointing at the load
   * balancer): `trackingUri` and the sign-in callback (`https://<domainName>/oauth2/idpresponse`) use it.
   * @default - the load balancer's DNS name, which a certificate does not cover: set it wherever there is a certificate
   */
  readonly domainName?: string;
  /**
   * How the HTTPS listener authenticates every request before it reaches MLflow, which has no login of its own.
   * Requires `certificateArn`: the load balancer authenticates only on HTTPS. `TrackingAuthentication.none()` is
   * accepted only where the profile does not require TLS (dev).
   * @default - with a certificate, `TrackingAuthentication.cognito()` (a user pool with MFA, no self sign-up); without
   * one (HTTP, dev only), none
   */
  readonly authentication?: TrackingAuthentication;
  /** CIDR block of the VPC, admitted when `allowedCidrs` is not given. */
  readonly vpcCidrBlock?: pulumi.Input<string>;
  /** Model registry whose database is MLflow's backend store. */
  readonly registry: ModelRegistry;
  /** Artifact store: MLflow artifacts under `mlflow/` in MODELS, load balancer access logs to its log bucket. */
  readonly artifactStore: ArtifactStore;
  /**
   * ACM certificate of the HTTPS listener on 443 (TLS 1.2 and 1.3; port 80 only redirects to it). Required where the
   * profile requires TLS (staging, prod): a certificate of a private name (for example from ACM Private CA).
   * @default - HTTP on port 80 of the internal load balancer, only where the profile allows it (dev)
   */
  readonly certificateArn?: pulumi.Input<string>;
  /**
   * Image of the tracking server, built from the Dockerfile the package ships (`assets/mlflow/`: the MLflow release with
   * pinned psycopg2 and boto3, the IAM database token hook and the RDS certificate authorities, uid 1000) with
   * `mlflowImageBuildCommand()`, and pushed to a registry the tasks can pull from (an ECR repository of this account
   * gets pull permissions on the execution role). The container installs nothing when it starts, and Pulumi builds no
   * image here (no Docker at preview), so there is no default. Where the profile requires TLS (staging, prod) it must be
   * pinned by digest (`repository@sha256:<64 hex digits>`).
   */
  readonly image: pulumi.Input<string>;
  /** ARN of an existing regional WAFv2 web ACL. @default - a new one with the AWS managed common and known-bad-inputs rule groups, logged */
  readonly webAclArn?: pulumi.Input<string>;
  /** ARN of the key of the log groups; CloudWatch Logs must be allowed to use it. @default - a new key with rotation that allows it */
  readonly encryptionKeyArn?: pulumi.Input<string>;
}

/**
 * The Pulumi counterpart of the CDK `ExperimentTracking`: an MLflow tracking server on ECS Fargate in private subnets
 * behind an internal Application Load Balancer with a WAF web ACL, backend store on the model registry's database as
 * its own database user with IAM authentication (created at deploy time through the RDS Data API; MLflow never reads
 * the admin secret, and the task definition holds none), artifacts proxied to `mlflow/` of the models
 * bucket, container insights, deployment circuit breaker with rollback, CPU autoscaling and KMS-encrypted logs.
 * Sizes and defaults from core's `resolveExperimentTrackingSpec`, as in the CDK construct.
 */
export class ExperimentTracking extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:ExperimentTracking';

  public readonly spec: ExperimentTrackingSpec;
  public readonly cluster: aws.ecs.Cluster;
  public readonly service: aws.ecs.Service;
  public readonly taskDefinition: aws.ecs.TaskDefinition;
  public readonly loadBalancer: aws.lb.LoadBalancer;
  /** The listener that forwards to MLflow (HTTPS on 443 with a certificate). */
  public readonly listener: aws.lb.Listener;
  /** With a certificate: HTTP on port 80, answering every request with a permanent redirect to HTTPS. */
  public readonly redirectListener?: aws.lb.Listener;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  /** Role of the MLflow server (artifact store access; connects to the database as `MLFLOW_DATABASE_USER` with IAM). */
  public readonly taskRole: aws.iam.Role;
  /**
   * The deploy-time step that creates MLflow's database user (`MLFLOW_DATABASE_USER`, IAM authentication only) in the
   * registry's database: a function that sends core's statement through the RDS Data API with the registry's admin
   * secret (its role is the only one of this component that reads it), invoked whenever the statement or its target changes.
   */
  public readonly databaseUser: aws.lambda.Invocation;
  public readonly executionRole: aws.iam.Role;
  public readonly serviceSecurityGroup: aws.ec2.SecurityGroup;
  /** URL clients set as `MLFLOW_TRACKING_URI`. */
  public readonly trackingUri: pulumi.Output<string>;
  public readonly webAclArn: pulumi.Output<string>;
  /** How requests are authenticated before they reach MLflow (`none` only in dev). */
  public readonly authentication: TrackingAuthenticationKindName;
  /** With Cognito authentication: the user pool whose users may use MLflow (administrators create them). */
  public readonly userPool?: aws.cognito.UserPool;
  /** With Cognito authentication: the client the load balancer signs browsers in with. */
  public readonly userPoolClient?: aws.cognito.UserPoolClient;
  /**
   * With Cognito authentication: a confidential client for programmatic clients (training jobs, CI), which obtain a
   * token with the client-credentials grant at `https://<domain>/oauth2/token` (scope `mlflow/api`) and send it as
   * `MLFLOW_TRACKING_TOKEN`.
   */
  public readonly machineClient?: aws.cognito.UserPoolClient;
  /** With Cognito authentication: the domain of the sign-in pages and the token endpoint. */
  public readonly userPoolDomain?: aws.cognito.UserPoolDomain;
  /** With a JWKS endpoint (Cognito, or OIDC with `jwksEndpoint`): the rule admitting verified bearer tokens. */
  public readonly bearerTokenRule?: aws.lb.ListenerRule;

  constructor(name: string, args: ExperimentTrackingArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(ExperimentTracking.TYPE, name);
    const check = new Check(scope.scope, scope.isUnresolved);
    const tls = resolveListenerTls(check, profile, args.certificateArn !== undefined, PULUMI_CERTIFICATE_PROP);
    // The same decisions and errors as the CDK construct (core), with this component's certificate prop.
    const authentication = args.authentication ?? (tls.https ? TrackingAuthentication.cognito() : TrackingAuthentication.none());
    resolveTrackingAuthenticationKind(check, profile, authentication.kind, tls.https, authentication.cognitoOptions?.domainPrefix, { prop: 'certificateArn' });
    checkTrackingDomainName(check, args.domainName);
    // The image has its drivers built in: the container installs nothing at start.
    const spec = resolveExperimentTrackingSpec(scope, args, profile);
    const image = checkTrackingImage(scope, profile, args.image);
    super(ExperimentTracking.TYPE, name, {}, opts);
    this.spec = spec;
    const tags = mlopsTags.toAwsTags();
    const account = accountContext(this);
    const registry = args.registry;
    const store = args.artifactStore;
    const databaseName = spec.databaseName ?? registry.spec.databaseName;
    const boundary = args.permissionsBoundary;

    const keyArn = args.encryptionKeyArn ?? rotatingKey(`${name}-key`, `MLflow tracking logs of ${name}`, {
      retain: spec.retainData, pendingWindowDays: profile.allowDestroy ? 7 : 30, tags, statements: [logsKeyStatement(account)],
    }, this).arn;
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { kmsKeyId: keyArn, retentionInDays: spec.logRetentionDays, tags }, childOptions(this, spec.retainData));
    this.cluster = new aws.ecs.Cluster(`${name}-cluster`, { settings: [{ name: 'containerInsights', value: 'enabled' }], tags }, childOptions(this));

    this.executionRole = serviceRole(`${name}-execution-role`, {
      service: 'ecs-tasks.amazonaws.com', description: `Starts the MLflow tracking server of ${name} (image pull, logs)`, tags, permissionsBoundary: boundary,
    }, this);
    const pull = pulumi.all([pulumi.output(image), account.partition]).apply(([uri, partition]) => ecrPullStatements(uri, partition));
    const logs: PolicyStatement = { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: pulumi.interpolate`${this.logGroup.arn}:*` };
    attachStatements(`${name}-execution-policy`, this.executionRole, pull.apply((ecr) => [logs, ...ecr]), this,
      `Permissions of the MLflow execution role of ${name}`, tags);
    this.taskRole = serviceRole(`${name}-task-role`, {
      service: 'ecs-tasks.amazonaws.com',
      description: `MLflow tracking server of ${name} (artifact store access, database user ${MLFLOW_DATABASE_USER} with IAM)`,
      tags,
      permissionsBoundary: boundary,
    }, this);
    // Its own database user, with IAM authentication: no password, no secret to read.
    const artifacts = pulumi.output(store.grantStatements('read-write', ArtifactPurpose.MODELS, 'mlflow/'));
    const taskStatements = pulumi.all([artifacts, registry.connectStatement(MLFLOW_DATABASE_USER)])
      .apply(([granted, connect]) => [...granted, connect as PolicyStatement]);
    attachStatements(`${name}-task-policy`, this.taskRole, taskStatements, this,
      `Artifact store access and database user ${MLFLOW_DATABASE_USER} of the MLflow server of ${name}`, tags);
    this.databaseUser = this.newDatabaseUser(name, { registry, databaseName, keyArn, spec, tags, boundary, account });

    // The URI holds no password: the image's hook signs an IAM token for every new connection.
    const command = pulumi.all([store.s3Uri(ArtifactPurpose.MODELS, 'mlflow/'), registry.cluster.endpoint, account.region])
      .apply(([destination, host, region]) => mlflowIamAuthServerCommand(spec, {
        host, port: String(registry.spec.port), databaseName, region,
      }, destination));
    this.taskDefinition = new aws.ecs.TaskDefinition(`${name}-task`, {
      family: physicalName([pulumi.getProject(), pulumi.getStack(), name, 'mlflow'], { maxLength: 255 }),
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(spec.cpu),
      memory: String(spec.memoryLimitMiB),
      executionRoleArn: this.executionRole.arn,
      taskRoleArn: this.taskRole.arn,
      runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
      // A task volume (Fargate ephemeral storage) is the only writable path: HOME, temporary files, the drivers.
      volumes: [{ name: 'scratch' }],
      containerDefinitions: pulumi.jsonStringify([{
        name: 'mlflow',
        image,
        essential: true,
        // Not root, a read-only root filesystem, and a hard memory limit (the task's memory) the container cannot exceed.
        user: MLFLOW_CONTAINER_USER,
        readonlyRootFilesystem: true,
        memory: spec.memoryLimitMiB,
        mountPoints: [{ sourceVolume: 'scratch', containerPath: MLFLOW_SCRATCH_PATH, readOnly: false }],
        entryPoint: ['sh', '-c'],
        command: [command],
        portMappings: [{ containerPort: spec.port, protocol: 'tcp' }],
        logConfiguration: {
          logDriver: 'awslogs',
          options: { 'awslogs-group': this.logGroup.name, 'awslogs-region': account.region, 'awslogs-stream-prefix': 'mlflow' },
        },
        healthCheck: { command: mlflowHealthCheckCommand(spec.port), interval: 30, timeout: 5, retries: 3, startPeriod: 120 },
      }]),
      tags,
    }, childOptions(this));

    const listenerPorts = tls.redirectPort === undefined ? [tls.port] : [tls.port, tls.redirectPort];
    const clients = args.clients ?? [];
    // Given without allowedCidrs, the client security groups are the only clients.
    const defaultCidrs = clients.length > 0 || !args.vpcCidrBlock ? [] : [args.vpcCidrBlock];
    const allowedCidrs: pulumi.Input<string>[] = spec.allowedCidrs ? [...spec.allowedCidrs] : defaultCidrs;
    const lbSecurityGroup = new aws.ec2.SecurityGroup(`${name}-lb-sg`, {
      vpcId: args.vpcId,
      description: `Load balancer of the MLflow server ${name}: MLflow clients only`,
      // The HTTPS port and the port-80 redirect, or plain HTTP on 80 (dev without a certificate).
      ingress: listenerPorts.map((port) => ({
        protocol: 'tcp',
        fromPort: port,
        toPort: port,
        cidrBlocks: allowedCidrs,
        securityGroups: clients.length > 0 ? clients : undefined,
        // (One port: the description dev environments were deployed with.)
        description: listenerPorts.length === 1 ? 'MLflow clients' : `MLflow clients (port ${port})`,
      })),
      tags,
    }, childOptions(this));
    this.serviceSecurityGroup = new aws.ec2.SecurityGroup(`${name}-service-sg`, {
      vpcId: args.vpcId,
      description: `MLflow tasks of ${name}: only the load balancer may connect`,
      ingress: [{ protocol: 'tcp', fromPort: spec.port, toPort: spec.port, securityGroups: [lbSecurityGroup.id], description: 'Load balancer' }],
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'Database, S3 and image registry' }],
      tags,
    }, childOptions(this));
    new aws.vpc.SecurityGroupEgressRule(`${name}-lb-to-service`, {
      securityGroupId: lbSecurityGroup.id, referencedSecurityGroupId: this.serviceSecurityGroup.id, ipProtocol: 'tcp', fromPort: spec.port, toPort: spec.port, tags,
    }, childOptions(this));
    registry.allowConnectionsFrom(`${name}-to-registry`, this.serviceSecurityGroup.id);

    this.loadBalancer = new aws.lb.LoadBalancer(`${name}-alb`, {
      loadBalancerType: 'application',
      internal: true,
      subnets: args.subnetIds,
      securityGroups: [lbSecurityGroup.id],
      dropInvalidHeaderFields: true,
      enableDeletionProtection: spec.deletionProtection,
      accessLogs: { bucket: store.accessLogBucket.bucket, prefix: 'alb', enabled: true },
      tags,
    }, childOptions(this));
    const targetGroup = new aws.lb.TargetGroup(`${name}-tg`, {
      vpcId: args.vpcId,
      port: spec.port,
      protocol: 'HTTP',
      targetType: 'ip',
      deregistrationDelay: 30,
      healthCheck: { path: spec.healthCheckPath, matcher: '200', interval: 30 },
      tags,
    }, childOptions(this));
    const auth = trackingListenerAuthentication(name, this, {
      authentication,
      targetGroupArn: targetGroup.arn,
      host: args.domainName ?? this.loadBalancer.dnsName,
      deletionProtection: spec.deletionProtection,
      retain: spec.retainData,
      tags,
    });
    this.authentication = authentication.kind;
    this.userPool = auth.pool?.userPool;
    this.userPoolClient = auth.pool?.userPoolClient;
    this.userPoolDomain = auth.pool?.userPoolDomain;
    this.machineClient = auth.pool?.machineClient;
    const listeners = loadBalancerListeners(name, this, {
      loadBalancerArn: this.loadBalancer.arn, tls, certificateArn: args.certificateArn, defaultActions: auth.defaultActions, tags,
    });
    this.listener = listeners.listener;
    this.redirectListener = listeners.redirectListener;
    if (auth.bearer) {
      this.bearerTokenRule = trackingBearerRule(name, this, {
        listenerArn: this.listener.arn, bearer: auth.bearer, targetGroupArn: targetGroup.arn, tags,
      });
    }

    this.service = new aws.ecs.Service(`${name}-service`, {
      cluster: this.cluster.arn,
      taskDefinition: this.taskDefinition.arn,
      launchType: 'FARGATE',
      desiredCount: spec.minTasks,
      deploymentMinimumHealthyPercent: spec.deployment.minHealthyPercent,
      deploymentMaximumPercent: spec.deployment.maxHealthyPercent,
      deploymentCircuitBreaker: { enable: true, rollback: spec.deployment.circuitBreakerRollback },
      healthCheckGracePeriodSeconds: spec.healthCheckGracePeriodSeconds,
      networkConfiguration: { subnets: args.subnetIds, securityGroups: [this.serviceSecurityGroup.id], assignPublicIp: false },
      loadBalancers: [{ targetGroupArn: targetGroup.arn, containerName: 'mlflow', containerPort: spec.port }],
      propagateTags: 'SERVICE',
      tags,
      // Tasks start once their database user exists.
    }, { parent: this, dependsOn: [this.listener, this.databaseUser] });
    const scaling = new aws.appautoscaling.Target(`${name}-scaling`, {
      serviceNamespace: 'ecs',
      resourceId: pulumi.interpolate`service/${this.cluster.name}/${this.service.name}`,
      scalableDimension: 'ecs:service:DesiredCount',
      minCapacity: spec.minTasks,
      maxCapacity: spec.maxTasks,
      tags,
    }, childOptions(this));
    new aws.appautoscaling.Policy(`${name}-cpu`, {
      policyType: 'TargetTrackingScaling',
      resourceId: scaling.resourceId,
      scalableDimension: scaling.scalableDimension,
      serviceNamespace: scaling.serviceNamespace,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        targetValue: spec.targetCpuPercent,
        scaleInCooldown: spec.scaleInCooldownSeconds,
        scaleOutCooldown: spec.scaleOutCooldownSeconds,
      },
    }, childOptions(this));

    this.webAclArn = pulumi.output(args.webAclArn ?? this.newWebAcl(name, spec, keyArn, tags));
    new aws.wafv2.WebAclAssociation(`${name}-waf-association`, { resourceArn: this.loadBalancer.arn, webAclArn: this.webAclArn }, childOptions(this));
    this.trackingUri = pulumi.interpolate`${tls.https ? 'https' : 'http'}://${args.domainName ?? this.loadBalancer.dnsName}`;
    this.registerOutputs({ trackingUri: this.trackingUri, webAclArn: this.webAclArn });
  }

  /**
   * MLflow's database user, made at deploy time by one idempotent statement (core's `mlflowDatabaseUserStatement`) the
   * RDS Data API runs as the registry's admin, before the service starts. The function runs only that statement (its
   * input only triggers it); outside the VPC, as it calls only the RDS Data API and Secrets Manager.
   */
  private newDatabaseUser(name: string, context: {
    readonly registry: ModelRegistry;
    readonly databaseName: string;
    readonly keyArn: pulumi.Input<string>;
    readonly spec: ExperimentTrackingSpec;
    readonly tags: Record<string, string>;
    readonly boundary?: pulumi.Input<string>;
    readonly account: AccountContext;
  }): aws.lambda.Invocation {
    const { registry, databaseName, spec, tags, account } = context;
    const logGroup = new aws.cloudwatch.LogGroup(`${name}-database-user-logs`, {
      kmsKeyId: context.keyArn, retentionInDays: spec.logRetentionDays, tags,
    }, childOptions(this, spec.retainData));
    const statements: PolicyStatement[] = [
      { Effect: 'Allow', Action: 'rds-data:ExecuteStatement', Resource: registry.cluster.arn },
      { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: registry.masterUserSecretArn },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: registry.masterUserSecretKeyArn,
        Condition: { StringEquals: { 'kms:ViaService': pulumi.interpolate`secretsmanager.${account.region}.amazonaws.com` } },
      },
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: pulumi.interpolate`${logGroup.arn}:*` },
    ];
    // The policy before the role (as a managed policy of it): the function never runs without its permissions.
    const policy = new aws.iam.Policy(`${name}-database-user-policy`, {
      description: `Creates the MLflow database user of ${name} (RDS Data API as the registry admin)`, policy: statementsJson(statements), tags,
    }, childOptions(this));
    const role = serviceRole(`${name}-database-user-role`, {
      service: 'lambda.amazonaws.com',
      description: `Creates the MLflow database user of ${name} (RDS Data API as the registry admin)`,
      tags,
      permissionsBoundary: context.boundary,
      managedPolicyArns: [policy.arn],
    }, this);
    const request = pulumi.all([registry.cluster.arn, registry.masterUserSecretArn])
      .apply(([cluster, secret]) => JSON.stringify(mlflowDatabaseUserStatement(cluster, secret, databaseName)));
    const handler = new aws.lambda.Function(`${name}-database-user`, {
      description: `Creates the MLflow database user ${MLFLOW_DATABASE_USER} of ${name} (RDS Data API as the registry admin)`,
      role: role.arn,
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      code: new pulumi.asset.AssetArchive({ 'index.js': new pulumi.asset.StringAsset(DATABASE_USER_HANDLER) }),
      timeout: 120,
      environment: { variables: { STATEMENT: request } },
      loggingConfig: { logFormat: 'Text', logGroup: logGroup.name },
      tags,
    }, childOptions(this));
    const statementDigest = createHash('sha256').update(mlflowDatabaseUserSql()).digest('hex');
    return new aws.lambda.Invocation(`${name}-database-user`, {
      functionName: handler.name,
      input: JSON.stringify({ database: databaseName, user: MLFLOW_DATABASE_USER, statementSha256: statementDigest }),
      // Again whenever the statement, the cluster or the secret changes (the statement is idempotent).
      triggers: { statement: statementDigest, cluster: registry.cluster.arn, secret: registry.masterUserSecretArn, database: databaseName },
    }, { parent: this, dependsOn: registry.instances });
  }

  private newWebAcl(name: string, spec: ExperimentTrackingSpec, keyArn: pulumi.Input<string>, tags: Record<string, string>): pulumi.Output<string> {
    const metricName = physicalName([name, 'waf'], { maxLength: 100, lowerCase: false });
    const webAcl = new aws.wafv2.WebAcl(`${name}-waf`, {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description: `MLflow tracking server ${name}`,
      visibilityConfig: { cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName },
      rules: spec.wafRules.map((rule) => ({
        name: rule.name,
        priority: rule.priority,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: {
            vendorName: 'AWS',
            name: rule.name,
            ruleActionOverrides: rule.countRules.length === 0 ? undefined : rule.countRules.map((r) => ({ name: r, actionToUse: { count: {} } })),
          },
        },
        visibilityConfig: { cloudwatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `${metricName}-${rule.name}`.slice(-128) },
      })),
      tags,
    }, childOptions(this));
    const wafLogs = new aws.cloudwatch.LogGroup(`${name}-waf-logs`, {
      name: `aws-waf-logs-${physicalName([pulumi.getProject(), pulumi.getStack(), name], { maxLength: 100 })}`,
      kmsKeyId: keyArn,
      retentionInDays: spec.logRetentionDays,
      tags,
    }, childOptions(this, spec.retainData));
    new aws.wafv2.WebAclLoggingConfiguration(`${name}-waf-logging`, {
      resourceArn: webAcl.arn, logDestinationConfigs: [wafLogs.arn],
    }, childOptions(this));
    return webAcl.arn;
  }
}

/**
 * The function that sends the statement in STATEMENT (core's `mlflowDatabaseUserStatement`) through the RDS Data API,
 * waiting while a paused Serverless v2 cluster resumes. The AWS SDK v3 is part of the Node.js runtime.
 */
const DATABASE_USER_HANDLER = `const { RDSDataClient, ExecuteStatementCommand } = require('@aws-sdk/client-rds-data');
const client = new RDSDataClient({});
exports.handler = async () => {
  const statement = JSON.parse(process.env.STATEMENT);
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(new ExecuteStatementCommand(statement));
      return { database: statement.database };
    } catch (error) {
      if (error.name !== 'DatabaseResumingException' || attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10000));
    }
  }
};
`;

const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9._\/-]+?)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

/** What the execution role needs to pull an image from an ECR repository (nothing for another registry). */
function ecrPullStatements(image: string, partition: string): PolicyStatement[] {
  const ecr = ECR_IMAGE.exec(image);
  if (!ecr) return [];
  const [, account, region, repository] = ecr;
  return [
    // GetAuthorizationToken supports no resource-level permissions.
    { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      Resource: `arn:${partition}:ecr:${region}:${account}:repository/${repository}`,
    },
  ];
}

/**
 * The tracking server's image: required (Pulumi builds none from the shipped Dockerfile, and the container installs
 * nothing at start), and pinned by digest where the profile requires TLS; an image known only at deploy time (an
 * output) is checked when it is known.
 */
function checkTrackingImage(scope: SpecScope, profile: EnvironmentProfile, image: pulumi.Input<string> | undefined): pulumi.Input<string> {
  // (A JavaScript caller, or a TypeScript one past the type, may leave it out.)
  const check = new Check(scope.scope);
  const fix = "build the image from the package's Dockerfile, push it and pass it by digest ('repository@sha256:<64 hex digits>', "
    + `e.g. from \`docker buildx imagetools inspect\`): ${mlflowImageBuildCommand()}`;
  if (image === undefined || image === '') {
    check.fail('image', image, 'is required: the Pulumi ExperimentTracking builds no image and its container installs nothing when it starts', fix);
  }
  if (typeof image === 'string') {
    checkPinnedMlflowImage(check, profile, image, image, fix);
    return image;
  }
  return pulumi.output(image as pulumi.Input<string>).apply((uri) => {
    checkPinnedMlflowImage(check, profile, uri, uri, fix);
    return uri;
  });
}
