import * as path from 'path';
import { ArnFormat, CfnResource, Duration, Lazy, Names, Stack, Token, Tokenization, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as elbv2Actions from 'aws-cdk-lib/aws-elasticloadbalancingv2-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  Check, checkPinnedMlflowImage, checkTrackingDomainName, cognitoIssuer, EnvironmentProfile, resolveTrackingAuthenticationKind, TRACKING_BEARER_RULE,
  TRACKING_OAUTH, TRACKING_USER_POOL, MLFLOW_CONTAINER_USER, MLFLOW_PORT, MLFLOW_SCRATCH_PATH, mlflowImageBuildArgs,
  MLFLOW_DATABASE_USER, mlflowDatabaseUserStatement, mlflowHealthCheckCommand, mlflowIamAuthServerCommand, resolveExperimentTrackingSpec,
  resolveListenerTls,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { IModelRegistry } from './model-registry';
import { logAlbAccessLogs } from './private/alb-access-logs';
import { newRotatingKey } from './private/keys';
import { addLoadBalancerListeners } from './private/listeners';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyRole } from './private/managed-policy-role';
import { nagResourceId } from './private/nag';
import { vpcCidrFor } from './private/vpc-cidr';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';
import { TrackingAuthentication, TrackingAuthenticationKind } from './tracking-authentication';

// Defined in core (shared with the Pulumi ExperimentTracking); re-exported where CDK users found it.
export { MLFLOW_VERSION } from '../core';

/**
 * The directory of the default tracking server image's Dockerfile, shipped in the package: the MLflow release
 * (`MLFLOW_VERSION`) with its pinned drivers installed at build time, running as uid 1000.
 */
export const MLFLOW_IMAGE_DIRECTORY = path.join(__dirname, '..', '..', 'assets', 'mlflow');

export interface ExperimentTrackingProps {
  /** VPC of the platform; the server and its load balancer run in its PRIVATE_WITH_EGRESS subnets. */
  readonly vpc: ec2.IVpc;
  /** Model registry whose database is MLflow's backend store. */
  readonly registry: IModelRegistry;
  /** Artifact store; MLflow artifacts go to its MODELS bucket under `mlflow/`, ALB access logs to its log bucket. */
  readonly artifactStore: IArtifactStore;
  /**
   * Certificate of the HTTPS listener on 443 (TLS 1.2 and 1.3; port 80 redirects to it). Required where the profile
   * requires TLS (staging, prod): a certificate of a private name (for example from ACM Private CA), imported with
   * `acm.Certificate.fromCertificateArn`, with a DNS record of that name pointing at the load balancer.
   * @default - HTTP on port 80 of the internal load balancer, only where the profile allows it (dev)
   */
  readonly certificate?: acm.ICertificate;
  /**
   * The name clients call the tracking server by (the certificate's name, with a DNS record pointing at the load
   * balancer): `trackingUri` and the sign-in callback (`https://<domainName>/oauth2/idpresponse`) use it.
   * @default - the load balancer's DNS name, which a certificate does not cover: set it wherever there is a certificate
   */
  readonly domainName?: string;
  /**
   * How the HTTPS listener authenticates every request before it reaches MLflow, which has no login of its own.
   * Requires a `certificate`: the load balancer authenticates only on HTTPS. `TrackingAuthentication.none()` is accepted
   * only where the profile does not require TLS (dev).
   * @default - with a certificate, `TrackingAuthentication.cognito()` (a user pool with MFA, no self sign-up); without
   * one (HTTP, dev only), none
   */
  readonly authentication?: TrackingAuthentication;
  /**
   * Security groups (or other connectables) allowed to reach the load balancer, such as the notebooks' and training
   * jobs'. Given without `allowedCidrs`, they are the only clients: the private subnets are not admitted.
   * @default - none; clients are admitted by address (`allowedCidrs`)
   */
  readonly clients?: ec2.IConnectable[];
  /**
   * Container image of the tracking server. It must contain MLflow, psycopg2 and boto3, the IAM token hook and the RDS
   * certificate authorities at `MLFLOW_IAM_AUTH_PATH` (build it from the default image, or from a copy of
   * `MLFLOW_IMAGE_DIRECTORY`), and run as uid 1000 with a read-only root filesystem (the container writes only to
   * `/tmp`, a task volume, which is also HOME); the container installs nothing at start. Where the profile requires TLS (staging, prod) it must be pinned: an image built by CDK
   * (`ContainerImage.fromAsset`, tagged by content hash) or one named by digest (`repository@sha256:<64 hex digits>`,
   * e.g. `ContainerImage.fromRegistry(...)` or `ContainerImage.fromEcrRepository(repo, 'sha256:...')`).
   * @default - built by `cdk deploy` from the Dockerfile shipped in the package (`MLFLOW_IMAGE_DIRECTORY`):
   * `ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}` with pinned psycopg2 and boto3 installed at build time; deploying it
   * needs Docker (or Finch) where `cdk deploy` runs
   */
  readonly image?: ecs.ContainerImage;
  /**
   * Name of the database on the registry cluster MLflow uses.
   * @default - the registry's `databaseName` when it is a `ModelRegistry`, otherwise 'postgres'
   */
  readonly databaseName?: string;
  /**
   * vCPU units of the task (256, 512, 1024, 2048, 4096, 8192 or 16384).
   * @default 1024
   */
  readonly cpu?: number;
  /**
   * Memory of the task in MiB, within the range Fargate pairs with `cpu` (2048-8192 for 1024 CPU units).
   * @default 2048
   */
  readonly memoryLimitMiB?: number;
  /**
   * Fewest running tasks, 1-100.
   * @default - the profile's `minCapacity.inferenceInstances`, at least 1 (1 in dev and staging, 2 in prod)
   */
  readonly minTasks?: number;
  /**
   * Most running tasks, 1-100, not below `minTasks`.
   * @default - twice `minTasks`
   */
  readonly maxTasks?: number;
  /**
   * Average CPU utilization the service scales to, 10-90 percent.
   * @default 70
   */
  readonly targetCpuPercent?: number;
  /**
   * Address ranges allowed to reach the load balancer.
   * @default - none when `clients` is given; otherwise the CIDR blocks of the VPC's PRIVATE_WITH_EGRESS subnets, where
   * training and notebooks run
   */
  readonly allowedCidrs?: string[];
  /**
   * ARN of an existing regional WAFv2 web ACL to associate with the load balancer.
   * @default - a new web ACL with the AWS managed common and known-bad-inputs rule groups, logged to an
   * encrypted log group
   */
  readonly webAclArn?: string;
  /**
   * Key the server's log group is encrypted with; its key policy must let CloudWatch Logs use it.
   * @default - a new key with rotation, usable by CloudWatch Logs
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/**
 * An MLflow tracking server on ECS Fargate in private subnets behind an internal Application Load Balancer that
 * authenticates every request (HTTPS): backend store on the model registry's database, as its own database user with
 * IAM authentication (created at deploy time; MLflow never reads the admin secret), artifacts in the artifact store (proxied by the server,
 * so clients need no S3 access), access logs to the artifact store's log bucket, container insights, CPU
 * autoscaling and KMS-encrypted logs. Roles hold customer managed policies only.
 */
export class ExperimentTracking extends Construct {
  public readonly cluster: ecs.Cluster;
  public readonly service: ecs.FargateService;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The listener that forwards to MLflow (HTTPS on 443 with a certificate). */
  public readonly listener: elbv2.ApplicationListener;
  /** With a certificate: HTTP on port 80, redirecting every request to HTTPS. */
  public readonly redirectListener?: elbv2.ApplicationListener;
  public readonly logGroup: logs.LogGroup;
  /** Role of the MLflow server (artifact store access; connects to the database as `MLFLOW_DATABASE_USER` with IAM). */
  public readonly taskRole: iam.IRole;
  /**
   * The deploy-time step that creates MLflow's database user (`MLFLOW_DATABASE_USER`, IAM authentication only) in the
   * registry's database, through the RDS Data API with the registry's admin secret, which only this step reads.
   */
  public readonly databaseUser: cr.AwsCustomResource;
  /** URL clients set as `MLFLOW_TRACKING_URI`. */
  public readonly trackingUri: string;
  /** The WAFv2 web ACL protecting the load balancer. */
  public readonly webAclArn: string;
  /** How requests are authenticated before they reach MLflow (`NONE` only in dev). */
  public readonly authentication: TrackingAuthenticationKind;
  /** With Cognito authentication: the user pool whose users may use MLflow (administrators create them). */
  public readonly userPool?: cognito.UserPool;
  /** With Cognito authentication: the client the load balancer signs browsers in with. */
  public readonly userPoolClient?: cognito.UserPoolClient;
  /**
   * With Cognito authentication: a confidential client for programmatic clients (training jobs, CI), which obtain a
   * token with the client-credentials grant at `https://<domain>/oauth2/token` (scope `mlflow/api`) and send it as
   * `MLFLOW_TRACKING_TOKEN`.
   */
  public readonly machineClient?: cognito.UserPoolClient;
  /** With Cognito authentication: the domain of the sign-in pages and the token endpoint. */
  public readonly userPoolDomain?: cognito.UserPoolDomain;

  private readonly clientPorts: number[];

  constructor(scope: Construct, id: string, props: ExperimentTrackingProps) {
    super(scope, id);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const tls = resolveListenerTls(checkFor(this), profile, props.certificate !== undefined);

    // Defaults and validation shared with the Pulumi ExperimentTracking.
    // The default image has its drivers built in: the container installs nothing at start.
    const spec = resolveExperimentTrackingSpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, props, profile);
    const { cpu, memoryLimitMiB, minTasks, maxTasks, targetCpuPercent } = spec;
    const allowedCidrs = spec.allowedCidrs ?? (props.clients?.length ? [] : privateSubnetCidrs(checkFor(this), props.vpc));
    const databaseName = spec.databaseName ?? (props.registry as { databaseName?: string }).databaseName ?? 'postgres';
    const authentication = resolveAuthentication(checkFor(this), profile, props.authentication, tls.https);
    checkTrackingDomainName(checkFor(this), props.domainName);

    const encryptionKey = props.encryptionKey ?? this.newLogsKey(profile);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(this.logGroup, profile.logRetentionDays);

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    const executionRole = new ManagedPolicyRole(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Starts the MLflow tracking server of ${this.node.path} (image pull, logs)`,
    });
    const taskRole = new ManagedPolicyRole(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `MLflow tracking server of ${this.node.path} (artifact store access, database user ${MLFLOW_DATABASE_USER} with IAM)`,
    });
    this.taskRole = taskRole;
    props.artifactStore.grantReadWrite(taskRole, ArtifactPurpose.MODELS, 'mlflow/');
    // Its own database user, with IAM authentication: no password, no secret to read.
    props.registry.grantConnect(taskRole, MLFLOW_DATABASE_USER);

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu,
      memoryLimitMiB,
      executionRole,
      taskRole,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });

    const artifactsDestination = props.artifactStore.s3Uri(ArtifactPurpose.MODELS, 'mlflow/');
    this.databaseUser = this.newDatabaseUser(props.registry, databaseName, encryptionKey, profile);
    // A task volume (Fargate ephemeral storage) is the only writable path: HOME, temporary files, the drivers.
    this.taskDefinition.addVolume({ name: 'scratch' });
    const container = this.taskDefinition.addContainer('mlflow', {
      image: props.image ?? ecs.ContainerImage.fromAsset(MLFLOW_IMAGE_DIRECTORY, {
        buildArgs: mlflowImageBuildArgs(),
        platform: ecrAssets.Platform.LINUX_AMD64,
      }),
      // Not root, a read-only root filesystem, and a hard memory limit (the task's memory) the container cannot exceed.
      user: MLFLOW_CONTAINER_USER,
      readonlyRootFilesystem: true,
      memoryLimitMiB,
      entryPoint: ['sh', '-c'],
      // The URI holds no password: the image's hook signs an IAM token for every new connection.
      command: [mlflowIamAuthServerCommand(spec, {
        host: props.registry.cluster.clusterEndpoint.hostname,
        port: Tokenization.stringifyNumber(props.registry.cluster.clusterEndpoint.port),
        databaseName,
        region: Stack.of(this).region,
      }, artifactsDestination)],
      portMappings: [{ containerPort: MLFLOW_PORT, protocol: ecs.Protocol.TCP }],
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'mlflow' }),
      healthCheck: {
        command: mlflowHealthCheckCommand(),
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(120),
      },
    });

    if (props.image && !(props.image instanceof ecs.AssetImage)) checkPinnedImage(checkFor(this), profile, container.imageName);
    container.addMountPoints({ sourceVolume: 'scratch', containerPath: MLFLOW_SCRATCH_PATH, readOnly: false });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: minTasks,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      assignPublicIp: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { rollback: true },
      healthCheckGracePeriod: Duration.seconds(180),
    });
    props.registry.allowConnectionsFrom(this.service);
    // Tasks start once their database user exists.
    this.service.node.addDependency(this.databaseUser);

    const scaling = this.service.autoScaleTaskCount({ minCapacity: minTasks, maxCapacity: maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: targetCpuPercent,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      dropInvalidHeaderFields: true,
      deletionProtection: profile.deletionProtection,
    });
    logAlbAccessLogs(this.loadBalancer, props.artifactStore.accessLogBucket, 'alb');

    const listeners = addLoadBalancerListeners(this.loadBalancer, tls, props.certificate, undefined,
      `No certificate was given and the '${profile.name}' profile allows HTTP (requireTls is off), so the internal-only load balancer `
      + 'serves HTTP inside the VPC; its security group admits only the private subnets (or allowedCidrs). Pass `certificate` for an '
      + 'HTTPS listener, which satisfies the rule.');
    this.listener = listeners.listener;
    this.redirectListener = listeners.redirectListener;
    this.clientPorts = listeners.ports;
    for (const cidr of allowedCidrs) {
      for (const port of listeners.ports) {
        // (One port: the description dev environments were deployed with.)
        const description = listeners.ports.length === 1 ? 'MLflow clients' : `MLflow clients (port ${port})`;
        this.loadBalancer.connections.allowFrom(ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), description);
      }
    }
    for (const client of props.clients ?? []) this.allowClientsFrom(client);
    // Under the listener, with the id `addTargets` gave it: deployed target groups keep their logical id.
    const targetGroup = new elbv2.ApplicationTargetGroup(this.listener, 'MlflowGroup', {
      vpc: props.vpc,
      port: MLFLOW_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service.loadBalancerTarget({ containerName: container.containerName, containerPort: MLFLOW_PORT })],
      healthCheck: { path: '/health', healthyHttpCodes: '200', interval: Duration.seconds(30) },
      deregistrationDelay: Duration.seconds(30),
    });
    this.authentication = authentication.kind;
    const pool = this.authenticate(authentication, profile, targetGroup, props.domainName);
    this.userPool = pool?.userPool;
    this.userPoolClient = pool?.userPoolClient;
    this.userPoolDomain = pool?.userPoolDomain;
    this.machineClient = pool?.machineClient;
    this.trackingUri = `${tls.https ? 'https' : 'http'}://${props.domainName ?? this.loadBalancer.loadBalancerDnsName}`;
    dropRedundantTargetGroupDependency(this.service, targetGroup);

    this.webAclArn = props.webAclArn ?? this.newWebAcl(encryptionKey, profile).attrArn;
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.loadBalancer.loadBalancerArn,
      webAclArn: this.webAclArn,
    });

    this.acknowledgeFindings(profile, props.artifactStore, executionRole);
  }

  /** Lets `peer` (for example a notebook's or a training job's security group) reach the load balancer on the client ports. */
  public allowClientsFrom(peer: ec2.IConnectable): void {
    for (const port of this.clientPorts) {
      const description = this.clientPorts.length === 1 ? 'MLflow clients' : `MLflow clients (port ${port})`;
      this.loadBalancer.connections.allowFrom(peer, ec2.Port.tcp(port), description);
    }
  }

  /**
   * The listener's actions: every path to the targets starts with an authentication action, unless authentication is
   * off (dev only). Browsers are signed in (session cookie); with a JWKS endpoint, a request carrying
   * `Authorization: Bearer <JWT>` is admitted when the load balancer verifies the token.
   */
  private authenticate(auth: TrackingAuthentication, profile: EnvironmentProfile, targetGroup: elbv2.ApplicationTargetGroup,
    domainName: string | undefined): TrackingUserPool | undefined {
    const forward = elbv2.ListenerAction.forward([targetGroup]);
    const host = domainName ?? this.loadBalancer.loadBalancerDnsName;
    let signIn: elbv2.ListenerAction;
    let bearer: { issuer: string; jwksEndpoint: string } | undefined;
    let cognitoAuth: TrackingUserPool | undefined;
    if (auth.kind === TrackingAuthenticationKind.COGNITO) {
      cognitoAuth = this.newUserPool(auth, profile, host);
      signIn = new elbv2Actions.AuthenticateCognitoAction({
        userPool: cognitoAuth.userPool,
        userPoolClient: cognitoAuth.userPoolClient,
        userPoolDomain: cognitoAuth.userPoolDomain,
        scope: TRACKING_OAUTH.signInScopes.join(' '),
        sessionTimeout: Duration.seconds(TRACKING_OAUTH.sessionTimeoutSeconds),
        next: forward,
      });
      bearer = cognitoIssuer(Stack.of(this).region, Stack.of(this).urlSuffix, cognitoAuth.userPool.userPoolId);
    } else if (auth.kind === TrackingAuthenticationKind.OIDC) {
      const oidc = auth.oidcOptions!;
      signIn = elbv2.ListenerAction.authenticateOidc({
        issuer: oidc.issuer,
        authorizationEndpoint: oidc.authorizationEndpoint,
        tokenEndpoint: oidc.tokenEndpoint,
        userInfoEndpoint: oidc.userInfoEndpoint,
        clientId: oidc.clientId,
        clientSecret: oidc.clientSecret,
        scope: oidc.scope ?? 'openid',
        sessionTimeout: Duration.seconds(TRACKING_OAUTH.sessionTimeoutSeconds),
        next: forward,
      });
      bearer = oidc.jwksEndpoint ? { issuer: oidc.issuer, jwksEndpoint: oidc.jwksEndpoint } : undefined;
    } else {
      this.listener.addAction('Default', { action: forward });
      return undefined;
    }
    this.listener.addAction('Default', { action: signIn });
    if (bearer) {
      this.listener.addAction('BearerToken', {
        priority: TRACKING_BEARER_RULE.priority,
        conditions: [elbv2.ListenerCondition.httpHeader(TRACKING_BEARER_RULE.header, [...TRACKING_BEARER_RULE.values])],
        action: elbv2.ListenerAction.authenticateJwt({ ...bearer, next: forward }),
      });
    }
    return cognitoAuth;
  }

  /**
   * The Cognito user pool of the tracking server: no self sign-up, TOTP MFA required, threat protection enforcing
   * (Plus feature plan), strong passwords, kept with the data outside dev.
   */
  private newUserPool(auth: TrackingAuthentication, profile: EnvironmentProfile, host: string): TrackingUserPool {
    const domainPrefix = auth.cognitoOptions?.domainPrefix ?? `mlflow-${this.node.addr.slice(0, 10)}-${Stack.of(this).account}`;
    // Core's TRACKING_USER_POOL, as the Pulumi ExperimentTracking renders it (the parity test compares both).
    const settings = TRACKING_USER_POOL;
    const password = settings.passwordPolicy;
    const userPool = new cognito.UserPool(this, 'UserPool', {
      selfSignUpEnabled: settings.selfSignUp,
      signInAliases: { email: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: settings.enabledMfas.includes('SOFTWARE_TOKEN_MFA'), sms: false },
      passwordPolicy: {
        minLength: password.minimumLength,
        requireDigits: password.requireNumbers,
        requireLowercase: password.requireLowercase,
        requireUppercase: password.requireUppercase,
        requireSymbols: password.requireSymbols,
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: profile.deletionProtection,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    const userPoolDomain = userPool.addDomain('Domain', { cognitoDomain: { domainPrefix } });
    const userPoolClient = userPool.addClient('LoadBalancerClient', {
      generateSecret: true,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
        callbackUrls: [`https://${host}${TRACKING_OAUTH.callbackPath}`],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
    });
    const api = new cognito.ResourceServerScope({ scopeName: TRACKING_OAUTH.apiScope, scopeDescription: TRACKING_OAUTH.apiScopeDescription });
    const resourceServer = userPool.addResourceServer('Api', { identifier: TRACKING_OAUTH.resourceServer, scopes: [api] });
    const machineClient = userPool.addClient('MachineClient', {
      generateSecret: true,
      authFlows: {},
      oAuth: {
        flows: { clientCredentials: true },
        scopes: [cognito.OAuthScope.resourceServer(resourceServer, api)],
      },
      accessTokenValidity: Duration.minutes(TRACKING_OAUTH.machineTokenMinutes),
      preventUserExistenceErrors: true,
    });
    return { userPool, userPoolClient, userPoolDomain, machineClient };
  }

  private acknowledgeFindings(profile: EnvironmentProfile, artifactStore: IArtifactStore, executionRole: ManagedPolicyRole): void {
    const pullsFromEcr = executionRole.policy?.document.toJSON()?.Statement
      ?.some((st: { Action?: string | string[] }) => [st.Action].flat().includes('ecr:GetAuthorizationToken'));
    if (pullsFromEcr) {
      Validations.of(executionRole.policy!).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken, which ECS needs to pull the image from ECR, supports no resource-level permissions; '
          + 'the pull actions themselves (BatchGetImage, GetDownloadUrlForLayer) name the image\'s repository.',
      });
    }
    const alb = this.loadBalancer.node.defaultChild!;
    if (!profile.deletionProtection) {
      const reason = `The '${profile.name}' profile lets its resources be destroyed with the stack, so the stateless tracking `
        + 'load balancer is not deletion-protected there; protected profiles turn deletion protection on.';
      Validations.of(alb).acknowledge(
        { id: 'NIST.800.53.R5-ELBDeletionProtectionEnabled', reason },
        { id: 'HIPAA.Security-ELBDeletionProtectionEnabled', reason },
        { id: 'cdk-validator-cfnguard::elbv2_deletion_protection_enabled_check', reason },
      );
    }
    const objects = nagResourceId(this, artifactStore.bucket(ArtifactPurpose.MODELS).arnForObjects('mlflow/*'));
    const policy = this.taskRole.node.tryFindChild('Policy');
    if (policy) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${objects}]`,
        reason: 'MLflow writes one object per run artifact under keys it generates; the wildcard is limited to the mlflow/ '
          + 'prefix of the models bucket (ArtifactStore.grantReadWrite).',
      });
    }
  }

  private newWebAcl(encryptionKey: kms.IKey, profile: EnvironmentProfile): wafv2.CfnWebACL {
    const metricName = Names.uniqueId(this).slice(-128);
    type Override = wafv2.CfnWebACL.RuleActionOverrideProperty;
    const managed = (name: string, priority: number, ruleActionOverrides?: Override[]): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name, ruleActionOverrides } },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `${metricName}-${name}`.slice(-128) },
    });
    const webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      description: `MLflow tracking server at ${this.node.path}`,
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName },
      rules: [
        // Artifact uploads go through the server (--serve-artifacts): count, not block, large bodies.
        managed('AWSManagedRulesCommonRuleSet', 0, [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }]),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 1),
      ],
    });
    const logGroupName = `aws-waf-logs-${Names.uniqueResourceName(this, { maxLength: 100, separator: '-' })}`;
    const wafLogs = new logs.LogGroup(this, 'WebAclLogs', {
      logGroupName,
      encryptionKey,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(wafLogs, profile.logRetentionDays);
    const logging = new wafv2.CfnLoggingConfiguration(this, 'WebAclLogging', {
      resourceArn: webAcl.attrArn,
      // WAF wants the log group ARN without the ':*' suffix CDK's logGroupArn carries.
      logDestinationConfigs: [Stack.of(this).formatArn({
        service: 'logs', resource: 'log-group', resourceName: logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })],
    });
    logging.node.addDependency(wafLogs);
    return webAcl;
  }

  /**
   * MLflow's database user, made at deploy time by one idempotent statement (`mlflowDatabaseUserSql`) the RDS Data API
   * runs as the registry's admin, before the service starts. Its role is the only one of this construct that reads the
   * admin secret.
   */
  private newDatabaseUser(
    registry: IModelRegistry, databaseName: string, encryptionKey: kms.IKey, profile: EnvironmentProfile,
  ): cr.AwsCustomResource {
    const role = new ManagedPolicyRole(this, 'DatabaseUserRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Creates the MLflow database user of ${this.node.path} (RDS Data API as the registry admin)`,
    });
    const logGroup = new logs.LogGroup(this, 'DatabaseUserLogs', {
      encryptionKey,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(logGroup, profile.logRetentionDays);
    logGroup.grantWrite(role);
    const secret = this.registrySecret(registry, role);
    secret.grantRead(role);
    const statement = mlflowDatabaseUserStatement(registry.cluster.clusterArn, registry.secret.secretArn, databaseName);
    const call: cr.AwsSdkCall = {
      service: 'rds-data',
      action: 'ExecuteStatement',
      parameters: statement,
      physicalResourceId: cr.PhysicalResourceId.of(`${databaseName}/${MLFLOW_DATABASE_USER}`),
    };
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['rds-data:ExecuteStatement'], resources: [registry.cluster.clusterArn] }));
    // Outside the VPC: it calls only the RDS Data API and Secrets Manager, public AWS endpoints, never the database's port.
    const databaseUser = new cr.AwsCustomResource(this, 'DatabaseUser', {
      onCreate: call,
      onUpdate: call,
      role,
      installLatestAwsSdk: false,
      timeout: Duration.minutes(2),
      logGroup,
    });
    // After the database's instances exist (the statement needs a writer); the cluster itself is referenced already.
    for (const instance of registry.cluster.node.findAll().filter((c) => c instanceof rds.CfnDBInstance)) {
      databaseUser.node.addDependency(instance);
    }
    const handler = Stack.of(this).node.tryFindChild(AWS_CUSTOM_RESOURCE_HANDLER)?.node.defaultChild;
    if (handler instanceof CfnResource) {
      dropRedundantDependencies(handler, [role.node.defaultChild as CfnResource]);
      this.acknowledgeHandler(handler);
    }
    return databaseUser;
  }

  /** The findings of aws-cdk-lib's AwsCustomResource handler that do not fit a function CloudFormation alone invokes. */
  private acknowledgeHandler(handler: CfnResource): void {
    const concurrency = 'The function runs only when CloudFormation creates or updates MLflow\'s database user (one invocation per '
      + 'deploy that changes the statement); reserved concurrency would take from the account\'s unreserved pool, and fails in '
      + 'accounts at the minimum of 10.';
    const dlq = 'CloudFormation invokes the function and receives every failure as the custom resource\'s response, which fails '
      + 'the deployment; a dead-letter queue would hold events nobody replays.';
    const vpc = 'The function reaches nothing in the VPC: it calls the RDS Data API and Secrets Manager, public AWS endpoints, '
      + 'never the database port; inside the VPC its role would need network-interface permissions on every resource.';
    Validations.of(handler).acknowledge(
      { id: 'NIST.800.53.R5-LambdaConcurrency', reason: concurrency },
      { id: 'HIPAA.Security-LambdaConcurrency', reason: concurrency },
      { id: 'NIST.800.53.R5-LambdaDLQ', reason: dlq },
      { id: 'HIPAA.Security-LambdaDLQ', reason: dlq },
      { id: 'NIST.800.53.R5-LambdaInsideVPC', reason: vpc },
      { id: 'HIPAA.Security-LambdaInsideVPC', reason: vpc },
      { id: 'cdk-validator-cfnguard::lambda_inside_vpc_check', reason: vpc },
    );
  }

  /**
   * The registry's secret as `grantee` reads it. In another stack than the registry, the grant goes into the grantee's
   * own policy (the secret read and a decrypt through Secrets Manager only), not into the registry key's policy: naming
   * the role there would make the registry's stack depend on this one, a cycle with this stack's references to the
   * registry.
   */
  private registrySecret(registry: IModelRegistry, grantee: iam.IGrantable): secretsmanager.ISecret {
    const secret = registry.secret;
    if (Stack.of(secret) === Stack.of(this) || !secret.encryptionKey) return secret;
    const key = secret.encryptionKey;
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.${Stack.of(this).urlSuffix}` } },
    }));
    return secretsmanager.Secret.fromSecretAttributes(this, 'RegistrySecret', { secretCompleteArn: secret.secretArn });
  }

  private newLogsKey(profile: EnvironmentProfile): kms.Key {
    return newRotatingKey(this, `MLflow tracking logs of ${this.node.path}`, statefulRemovalPolicy(profile));
  }
}


interface TrackingUserPool {
  readonly userPool: cognito.UserPool;
  readonly userPoolClient: cognito.UserPoolClient;
  readonly userPoolDomain: cognito.UserPoolDomain;
  readonly machineClient: cognito.UserPoolClient;
}

/** Construct id of aws-cdk-lib's AwsCustomResource handler (a singleton function of the stack). */
const AWS_CUSTOM_RESOURCE_HANDLER = 'AWS679f53fac002430cb0da5b7982bd2287';

/**
 * The authentication in effect (core's decision, shared with the Pulumi ExperimentTracking): by default the load
 * balancer authenticates with a Cognito user pool wherever it serves HTTPS; none is accepted only where the profile
 * allows plain HTTP (dev).
 */
function resolveAuthentication(check: Check, profile: EnvironmentProfile, given: TrackingAuthentication | undefined,
  https: boolean): TrackingAuthentication {
  const auth = given ?? (https ? TrackingAuthentication.cognito() : TrackingAuthentication.none());
  resolveTrackingAuthenticationKind(check, profile, auth.kind, https, auth.cognitoOptions?.domainPrefix);
  return auth;
}

/**
 * Where the profile requires TLS (staging, prod), an image the user names must be pinned by digest: a tag can move, so
 * two tasks (or a task and its replacement) could run different bits.
 */
function checkPinnedImage(check: Check, profile: EnvironmentProfile, imageName: string): void {
  checkPinnedMlflowImage(check, profile, imageName, Token.isUnresolved(imageName) ? 'an image named by tag' : imageName,
    "name it by digest ('repository@sha256:<64 hex digits>', e.g. from `docker buildx imagetools inspect`), use "
    + 'ContainerImage.fromAsset (pinned by content hash), or leave it unset for the image built from the shipped Dockerfile.');
}

/** The CIDR blocks of the VPC's private subnets, or the VPC's block when they are not known. */
function privateSubnetCidrs(check: Check, vpc: ec2.IVpc): string[] {
  const subnets = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets;
  try {
    const cidrs = subnets.map((s) => s.ipv4CidrBlock);
    if (cidrs.length > 0) return cidrs;
  } catch {
    // Imported subnets without `ipv4CidrBlock` throw when asked for it.
  }
  return [vpcCidrFor(check, vpc, "'allowedCidrs'")];
}

/**
 * The service's DependsOn, without the target group its LoadBalancers property already references (cfn-lint
 * W3005); the dependency on the listener, which ECS needs, stays.
 */
function dropRedundantTargetGroupDependency(service: ecs.FargateService, targetGroup: elbv2.ApplicationTargetGroup): void {
  dropRedundantDependencies(service.node.defaultChild as ecs.CfnService, [targetGroup.node.defaultChild as elbv2.CfnTargetGroup]);
}

/**
 * A resource's DependsOn without `redundant`, resources its properties already reference (cfn-lint W3005). Computed
 * when the template is resolved, after construct dependencies became resource dependencies.
 */
function dropRedundantDependencies(resource: CfnResource, redundant: CfnResource[]): void {
  resource.addOverride('DependsOn', Lazy.list({
    produce: () => resource.obtainDependencies()
      .filter((d): d is CfnResource => CfnResource.isCfnResource(d) && !redundant.includes(d))
      .map((d) => d.logicalId)
      .sort(),
  }));
}
