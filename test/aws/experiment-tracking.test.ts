import * as fs from 'fs';
import * as path from 'path';
import { App, SecretValue } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import { certificateFor } from '../support/certificates';
import { cfnLint, collectAcknowledgements, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, ExperimentTracking, ExperimentTrackingProps, MLFLOW_DEFAULT_IMAGE_DRIVERS,
  MLFLOW_IMAGE_DIRECTORY, MLFLOW_VERSION, mlflowDatabaseUserSql,
  MlopsStack, ModelRegistry, PlatformNetwork, TrackingAuthentication, TrackingAuthenticationKind,
} from 'mlops-constructs';

const CERT_ARN = 'arn:aws:acm:eu-west-1:111111111111:certificate/0f6a8a8e-1111-2222-3333-444444444444';

const OIDC = {
  issuer: 'https://login.example.com',
  authorizationEndpoint: 'https://login.example.com/oauth2/v1/authorize',
  tokenEndpoint: 'https://login.example.com/oauth2/v1/token',
  userInfoEndpoint: 'https://login.example.com/oauth2/v1/userinfo',
  clientId: 'mlflow',
  clientSecret: SecretValue.secretsManager('mlflow/oidc', { jsonField: 'secret' }),
  jwksEndpoint: 'https://login.example.com/oauth2/v1/keys',
};

/**
 * Every way a request reaches MLflow through the load balancer, as the listeners' action chains (default actions and
 * rules, in order), each with the listener's port and protocol.
 */
function actionChains(template: Template): { port: number; protocol: string; actions: any[] }[] {
  const listeners = template.findResources('AWS::ElasticLoadBalancingV2::Listener');
  const rules = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::ListenerRule')).map((r) => r.Properties);
  const sorted = (actions: any[]) => [...actions].sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0));
  return Object.entries(listeners).flatMap(([id, l]) => [
    { port: l.Properties.Port, protocol: l.Properties.Protocol, actions: sorted(l.Properties.DefaultActions) },
    ...rules.filter((r) => r.ListenerArn?.Ref === id)
      .map((r) => ({ port: l.Properties.Port, protocol: l.Properties.Protocol, actions: sorted(r.Actions) })),
  ]);
}

const AUTHENTICATE = ['authenticate-cognito', 'authenticate-oidc', 'jwt-validation'];

/** The claim: no chain forwards to a target without an authentication action before the forward; port 80 only redirects. */
function expectNoUnauthenticatedPath(template: Template): void {
  const chains = actionChains(template);
  expect(chains.some((c) => c.actions.some((a) => a.Type === 'forward'))).toBe(true);
  for (const chain of chains) {
    const forward = chain.actions.findIndex((a) => a.Type === 'forward');
    if (forward >= 0) {
      expect(chain.protocol).toBe('HTTPS');
      const before = chain.actions.slice(0, forward).map((a) => a.Type);
      expect(before).toHaveLength(1);
      expect(AUTHENTICATE).toContain(before[0]);
      expect(chain.actions[forward - 1].AuthenticateCognitoConfig?.OnUnauthenticatedRequest ?? 'authenticate').not.toBe('allow');
      expect(chain.actions[forward - 1].AuthenticateOidcConfig?.OnUnauthenticatedRequest ?? 'authenticate').not.toBe('allow');
    }
    if (chain.port === 80) expect(chain.actions.map((a) => a.Type)).toEqual(['redirect']);
  }
}

type PropsFor = Partial<ExperimentTrackingProps> | ((stack: MlopsStack) => Partial<ExperimentTrackingProps>);

function build(profile: EnvironmentProfile, propsFor: PropsFor = {}, app: App = newApp(), id = 'Env') {
  const stack = new MlopsStack(app, id, { profile, project: 'p', env: { region: 'eu-west-1' } });
  const props = typeof propsFor === 'function' ? propsFor(stack) : propsFor;
  const network = new PlatformNetwork(stack, 'Network');
  const registry = new ModelRegistry(stack, 'Registry', { vpc: network.vpc });
  const artifactStore = new ArtifactStore(stack, 'Store');
  // Where the profile requires TLS, the certificate a user must give (unless the test gives its own, or none).
  const tracking = new ExperimentTracking(stack, 'Tracking', {
    vpc: network.vpc, registry, artifactStore, certificate: certificateFor(stack, profile), ...props,
  });
  return { app, stack, network, registry, artifactStore, tracking, template: () => Template.fromStack(stack) };
}

function command(template: Template): string {
  const defs = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  return JSON.stringify(defs[0].Properties.ContainerDefinitions[0].Command);
}

describe('ExperimentTracking', () => {
  test('dev: the MLflow image built from the shipped Dockerfile, on Fargate with the registry as backend store and the models bucket for artifacts', () => {
    const template = build(EnvironmentProfile.dev()).template();
    template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '1024',
      Memory: '2048',
      RequiresCompatibilities: ['FARGATE'],
      ContainerDefinitions: [Match.objectLike({
        Image: { 'Fn::Sub': Match.stringLikeRegexp('^\\$\\{AWS::AccountId\\}\\.dkr\\.ecr\\.eu-west-1\\.\\$\\{AWS::URLSuffix\\}/cdk-[a-z0-9]+-container-assets-.*:[0-9a-f]{64}$') },
        EntryPoint: ['sh', '-c'],
        PortMappings: [{ ContainerPort: 5000, Protocol: 'tcp' }],
        Secrets: Match.absent(),
        HealthCheck: Match.objectLike({ Command: ['CMD-SHELL', Match.stringLikeRegexp('localhost:5000/health')] }),
        LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
      })],
    });
    const cmd = command(template);
    expect(cmd).toContain('"export HOME=/tmp MLFLOW_DB_IAM_AUTH=1 AWS_REGION=eu-west-1 && exec mlflow server');
    // Its own user with IAM authentication: no password in the URI; the database's certificate and name are verified.
    expect(cmd).toMatch(/--backend-store-uri \\"postgresql:\/\/mlflow@",\{"Fn::GetAtt":\["RegistryCluster[0-9A-F]+","Endpoint.Address"\]\},":",\{"Fn::GetAtt":\["RegistryCluster[0-9A-F]+","Endpoint.Port"\]\},"\/registry\?sslmode=verify-full&sslrootcert=\/opt\/mlflow-iam-auth\/rds-ca.pem\\"/);
    expect(cmd).toMatch(/--artifacts-destination \\"s3:\/\/",\{"Ref":"StoreModels[0-9A-F]+"\},"\/mlflow\/\\" --serve-artifacts/);
    // No plain environment variables (AwsSolutions-ECS2) and no secrets: the command holds everything but the token.
    expect(JSON.stringify(template.findResources('AWS::ECS::TaskDefinition'))).not.toContain('"Environment"');
  });

  test('dev: one task in private subnets without public IPs, scaling 1-2 on 70% CPU', () => {
    const template = build(EnvironmentProfile.dev()).template();
    template.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 1,
      LaunchType: 'FARGATE',
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED', Subnets: [{ Ref: Match.stringLikeRegexp('PrivateSubnet1') }, { Ref: Match.stringLikeRegexp('PrivateSubnet2') }] }) },
      DeploymentConfiguration: Match.objectLike({ DeploymentCircuitBreaker: { Enable: true, Rollback: true } }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 2 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: 70,
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      }),
    });
  });

  test('prod: two tasks scaling to four, deletion-protected load balancer, logs retained a year', () => {
    const template = build(EnvironmentProfile.prod()).template();
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 4 });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'deletion_protection.enabled', Value: 'true' }]),
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrackingKey'), 'Arn'] } },
      DeletionPolicy: 'Retain',
    });
  });

  test('internal load balancer: invalid headers dropped, access logs to the artifact store under alb/, HTTP 80 without a certificate', () => {
    const template = build(EnvironmentProfile.dev()).template();
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'deletion_protection.enabled', Value: 'false' },
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.bucket', Value: { Ref: Match.stringLikeRegexp('StoreAccessLogs') } },
        { Key: 'access_logs.s3.prefix', Value: 'alb' },
      ]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 5000, Protocol: 'HTTP', HealthCheckPath: '/health', TargetType: 'ip',
    });
    // Only the private subnets reach the load balancer.
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [
        { CidrIp: '10.0.16.0/20', Description: 'MLflow clients', FromPort: 80, IpProtocol: 'tcp', ToPort: 80 },
        { CidrIp: '10.0.32.0/20', Description: 'MLflow clients', FromPort: 80, IpProtocol: 'tcp', ToPort: 80 },
      ],
    });
  });

  test('the tracking URI points at the load balancer', () => {
    const { tracking, stack } = build(EnvironmentProfile.dev());
    const uri = stack.resolve(tracking.trackingUri);
    expect(uri['Fn::Join'][1][0]).toBe('http://');
    expect(uri['Fn::Join'][1][1]['Fn::GetAtt']).toEqual([expect.stringMatching(/^TrackingLoadBalancer/), 'DNSName']);
  });

  test('a certificate gives an HTTPS listener on 443 with a TLS 1.2+ policy, and port 80 only redirects to it', () => {
    const { stack, tracking, template } = build(EnvironmentProfile.prod(), (st) => ({ certificate: acm.Certificate.fromCertificateArn(st, 'Cert', CERT_ARN) }));
    const listeners = Object.values(template().findResources('AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties);
    expect(listeners).toHaveLength(2);
    expect(listeners.find((l) => l.Port === 443)).toMatchObject({
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERT_ARN }],
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      DefaultActions: [{ Type: 'authenticate-cognito', Order: 1 }, { Type: 'forward', Order: 2 }],
    });
    expect(listeners.find((l) => l.Port === 80)?.DefaultActions)
      .toEqual([{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }]);
    // The private subnets on the two listener ports, nothing else.
    const groups = Object.values(template().findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('LoadBalancer') } }));
    expect(groups).toHaveLength(1);
    expect(groups[0].Properties.SecurityGroupIngress.map((r: any) => `${r.CidrIp}:${r.FromPort}-${r.ToPort}`).sort())
      .toEqual(['10.0.16.0/20:443-443', '10.0.16.0/20:80-80', '10.0.32.0/20:443-443', '10.0.32.0/20:80-80', '10.0.48.0/20:443-443', '10.0.48.0/20:80-80']);
    expect(stack.resolve(tracking.trackingUri)['Fn::Join'][1][0]).toBe('https://');
  });

  test('staging and prod without a certificate: an error naming the construct, the prop, the profile and how to get one', () => {
    for (const profile of [EnvironmentProfile.staging(), EnvironmentProfile.prod()]) {
      expect(() => build(profile, { certificate: undefined })).toThrow(new RegExp(
        `Env/Tracking: 'certificate' is required under the '${profile.name}' profile \\(requireTls\\).*ACM Private CA.*fromCertificateArn`));
    }
  });

  test('the MLflow container runs as a non-root user with a read-only root filesystem, writes only to a /tmp task volume, and has a hard memory limit', () => {
    const { template, tracking } = build(EnvironmentProfile.prod());
    const t = template();
    const definition = Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0].Properties;
    expect(definition.Volumes).toEqual([{ Name: 'scratch' }]);
    const [container] = definition.ContainerDefinitions;
    expect(container).toMatchObject({
      User: '1000:1000',
      ReadonlyRootFilesystem: true,
      Memory: Number(definition.Memory),
      MountPoints: [{ SourceVolume: 'scratch', ContainerPath: '/tmp', ReadOnly: false }],
    });
    expect(container.User).not.toMatch(/^(0|root)(:|$)/);
    expect(command(t)).toContain('["export HOME=/tmp MLFLOW_DB_IAM_AUTH=1 AWS_REGION=eu-west-1 && exec mlflow server');
    expect(tracking.taskDefinition.defaultContainer?.containerName).toBe('mlflow');
  });

  test('nothing is installed at start: the default image is built from the Dockerfile the package ships, pinned by content hash', () => {
    const { app, stack, template } = build(EnvironmentProfile.prod());
    const cmd = command(template());
    for (const installer of ['pip', 'apt', 'curl', 'wget', 'conda', 'uv ']) expect(cmd).not.toContain(installer);
    // The asset CDK stages: the shipped directory, built with the pinned MLflow release and drivers.
    const assembly = app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8'));
    const images = Object.values<any>(manifest.dockerImages ?? {});
    expect(images).toHaveLength(1);
    expect(images[0].source).toMatchObject({
      dockerBuildArgs: { MLFLOW_VERSION, MLFLOW_DRIVERS: MLFLOW_DEFAULT_IMAGE_DRIVERS.join(' ') },
      platform: 'linux/amd64',
    });
    const staged = path.join(assembly.directory, images[0].source.directory);
    const dockerfile = fs.readFileSync(path.join(staged, 'Dockerfile'), 'utf8');
    expect(dockerfile).toBe(fs.readFileSync(path.join(MLFLOW_IMAGE_DIRECTORY, 'Dockerfile'), 'utf8'));
    expect(dockerfile).toContain('FROM ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}');
    expect(dockerfile).toMatch(/^RUN pip install --no-cache-dir \$\{MLFLOW_DRIVERS\}$/m);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    // Every driver is pinned to one version.
    for (const driver of MLFLOW_DEFAULT_IMAGE_DRIVERS) expect(driver).toMatch(/^[a-z0-9-]+==\d+(\.\d+)+$/);
  });

  test('a given image must be pinned by digest outside dev; an asset image or a digest passes; dev takes a tag', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(() => build(EnvironmentProfile.prod(), { image: ecs.ContainerImage.fromRegistry('example.com/mlflow:2.22') })).toThrow(new RegExp(
      "Env/Tracking: 'image' must be pinned by digest under the 'prod' profile \\(requireTls\\).*received \"example.com/mlflow:2.22\".*"
      + 'repository@sha256:<64 hex digits>.*ContainerImage.fromAsset'));
    expect(() => build(EnvironmentProfile.staging(), (st) => ({
      image: ecs.ContainerImage.fromEcrRepository(new ecr.Repository(st, 'Repo'), 'latest'),
    }))).toThrow(/'image' must be pinned by digest under the 'staging' profile.*received "an image named by tag"/);
    const byDigest = build(EnvironmentProfile.prod(), { image: ecs.ContainerImage.fromRegistry(`example.com/mlflow@${digest}`) }).template();
    byDigest.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [Match.objectLike({ Image: `example.com/mlflow@${digest}` })] });
    expect(() => build(EnvironmentProfile.prod(), (st) => ({
      image: ecs.ContainerImage.fromEcrRepository(new ecr.Repository(st, 'Repo'), digest),
    }))).not.toThrow();
    expect(() => build(EnvironmentProfile.prod(), { image: ecs.ContainerImage.fromAsset(MLFLOW_IMAGE_DIRECTORY) })).not.toThrow();
    expect(() => build(EnvironmentProfile.dev(), { image: ecs.ContainerImage.fromRegistry('example.com/mlflow:2.22') })).not.toThrow();
  });

  test('only the load balancer reaches the server: the service security group admits the load balancer\'s group on 5000 and nothing else', () => {
    const { stack, tracking, template } = build(EnvironmentProfile.prod());
    const t = template().toJSON();
    const serviceGroup = stack.resolve(tracking.service.connections.securityGroups[0].securityGroupId);
    const lbGroup = stack.resolve(tracking.loadBalancer.connections.securityGroups[0].securityGroupId);
    // No inline rule on the group itself, one separate rule from the load balancer's group.
    expect(t.Resources[serviceGroup['Fn::GetAtt'][0]].Properties.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values<any>(t.Resources)
      .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && JSON.stringify(r.Properties.GroupId) === JSON.stringify(serviceGroup))
      .map((r) => r.Properties);
    expect(ingress).toEqual([expect.objectContaining({ SourceSecurityGroupId: lbGroup, FromPort: 5000, ToPort: 5000, IpProtocol: 'tcp' })]);
  });

  test('the backend store connection is allowed through the registry security group on its port', () => {
    const template = build(EnvironmentProfile.dev()).template();
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('RegistrySecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrackingServiceSecurityGroup'), 'GroupId'] },
      FromPort: 5433,
      ToPort: 5433,
      IpProtocol: 'tcp',
    });
  });

  test('least privilege: managed policies only, the task role reaches models/mlflow/ and the database as mlflow only, the execution role only its image and logs', () => {
    const template = build(EnvironmentProfile.dev()).template();
    expect(Object.keys(template.findResources('AWS::IAM::Policy')).filter((id) => id.startsWith('Tracking'))).toEqual([]);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [{ Ref: Match.stringLikeRegexp('TrackingTaskRole') }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          Match.objectLike({ Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('StoreModels'), 'Arn'] }, '/mlflow/*']] } }),
          Match.objectLike({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['mlflow/*'] } } }),
          Match.objectLike({ Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('StoreKey'), 'Arn'] } }),
          {
            Action: 'rds-db:connect',
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:aws:rds-db:eu-west-1:', { Ref: 'AWS::AccountId' }, ':dbuser:', { 'Fn::GetAtt': [Match.stringLikeRegexp('^RegistryCluster'), 'DBClusterResourceId'] }, '/mlflow']] },
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [{ Ref: Match.stringLikeRegexp('TrackingExecutionRole') }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          // Pulling the image from the asset repository (GetAuthorizationToken has no resource-level permissions).
          {
            Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
            Effect: 'Allow',
            Resource: { 'Fn::Join': ['', ['arn:aws:ecr:eu-west-1:', { Ref: 'AWS::AccountId' }, ':repository/', { 'Fn::Sub': 'cdk-hnb659fds-container-assets-${AWS::AccountId}-eu-west-1' }]] },
          },
          { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
          { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrackingLogs'), 'Arn'] } },
        ],
      },
    });
  });

  test("MLflow cannot read the registry's admin secret: only the deploy-time database-user step does, and MLflow connects as its own user", () => {
    for (const profile of [EnvironmentProfile.dev(), EnvironmentProfile.prod()]) {
      const { template, stack, registry } = build(profile);
      const t = template();
      const secretRef = JSON.stringify(stack.resolve(registry.secret.secretArn));
      const policies = { ...t.findResources('AWS::IAM::ManagedPolicy'), ...t.findResources('AWS::IAM::Policy') };
      const readers = Object.entries(policies)
        .filter(([, p]) => p.Properties.PolicyDocument.Statement.some((st: any) => [st.Action].flat().some((a: string) => a.startsWith('secretsmanager:'))
          && JSON.stringify(st.Resource).includes(secretRef.slice(1, -1))))
        .flatMap(([, p]) => [...(p.Properties.Roles ?? [])].map((r: any) => r.Ref as string));
      // The registry's own rotation aside, the only reader is the database-user step's role.
      expect(readers.filter((r) => r.startsWith('Tracking'))).toEqual([expect.stringMatching(/^TrackingDatabaseUserRole[0-9A-F]{8}$/)]);
      // The task definition names no secret, and the roles that run MLflow hold no Secrets Manager action at all.
      const definition = Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0].Properties;
      expect(JSON.stringify(definition)).not.toContain('secretsmanager');
      expect(JSON.stringify(definition)).not.toContain('Secret');
      const roleIds = [definition.TaskRoleArn['Fn::GetAtt'][0], definition.ExecutionRoleArn['Fn::GetAtt'][0]];
      const ofMlflow = Object.values(policies).filter((p) => (p.Properties.Roles ?? []).some((r: any) => roleIds.includes(r.Ref)));
      expect(ofMlflow.length).toBeGreaterThan(0);
      expect(JSON.stringify(ofMlflow)).not.toContain('secretsmanager:');
      // The key policy of the registry's key names neither role either.
      const keyPolicies = JSON.stringify(Object.values(t.findResources('AWS::KMS::Key')).map((k) => k.Properties.KeyPolicy));
      for (const role of roleIds) expect(keyPolicies).not.toContain(role);
    }
  });

  test('the database user is made at deploy time by one Data API statement, as the admin, before the service starts', () => {
    const { template, stack } = build(EnvironmentProfile.prod());
    const t = template();
    const [id, resource] = Object.entries(t.findResources('Custom::AWS'))[0];
    expect(id).toMatch(/^TrackingDatabaseUser/);
    const create = JSON.parse(JSON.stringify(stack.resolve(resource.Properties.Create)));
    const joined = (v: any) => (typeof v === 'string' ? v : v['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : JSON.stringify(p))).join(''));
    const call = joined(create);
    expect(joined(stack.resolve(resource.Properties.Update))).toBe(call);
    expect(call).toContain('"service":"rds-data","action":"ExecuteStatement"');
    expect(call).toContain(`"database":"registry","sql":${JSON.stringify(mlflowDatabaseUserSql())}`);
    expect(call).toMatch(/"resourceArn":"arn:aws:rds:eu-west-1:\{"Ref":"AWS::AccountId"\}:cluster:\{"Ref":"RegistryCluster[0-9A-F]+"\}"/);
    expect(call).toMatch(/"secretArn":"\{"Ref":"RegistryClusterSecretAttachment[0-9A-F]+"\}"/);
    // After the database's instances exist; the service's tasks start after it.
    expect(resource.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^RegistryClusterWriter/), expect.stringMatching(/^RegistryClusterReader/)]));
    const service = Object.values(t.findResources('AWS::ECS::Service'))[0];
    expect(service.DependsOn).toContain(id);
    // Its role: the statement on this cluster, the admin secret, its own log group; nothing else.
    const rolePolicy = Object.values(t.findResources('AWS::IAM::ManagedPolicy'))
      .find((p) => p.Properties.Roles?.some((r: any) => /^TrackingDatabaseUserRole/.test(r.Ref)))!;
    expect(rolePolicy.Properties.PolicyDocument.Statement.map((st: any) => st.Action).flat().sort())
      .toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'rds-data:ExecuteStatement', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    t.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('a WAF web ACL with AWS managed rules protects the load balancer and logs to an encrypted log group', () => {
    const template = build(EnvironmentProfile.dev()).template();
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({
          Name: 'AWSManagedRulesCommonRuleSet',
          Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet', RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }] } },
        }),
        Match.objectLike({ Name: 'AWSManagedRulesKnownBadInputsRuleSet' }),
      ],
    });
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      ResourceArn: { Ref: Match.stringLikeRegexp('TrackingLoadBalancer') },
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('TrackingWebAcl'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: Match.stringLikeRegexp('^aws-waf-logs-'), KmsKeyId: Match.anyValue(), RetentionInDays: 14,
    });
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      LogDestinationConfigs: [{ 'Fn::Join': ['', [Match.stringLikeRegexp(':logs:eu-west-1:$'), { Ref: 'AWS::AccountId' }, Match.stringLikeRegexp('^:log-group:aws-waf-logs-')]] }],
    });
  });

  test('options: image, database, size, task counts, CPU target, client ranges, web ACL and key', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p', env: { region: 'eu-west-1' } });
    const network = new PlatformNetwork(stack, 'Network');
    const registry = new ModelRegistry(stack, 'Registry', { vpc: network.vpc });
    const artifactStore = new ArtifactStore(stack, 'Store');
    const key = new kms.Key(stack, 'Given');
    new ExperimentTracking(stack, 'Tracking', {
      vpc: network.vpc,
      registry,
      artifactStore,
      image: ecs.ContainerImage.fromRegistry('example.com/mlflow-pg:1.0'),
      databaseName: 'mlflow',
      cpu: 2048,
      memoryLimitMiB: 4096,
      minTasks: 3,
      maxTasks: 9,
      targetCpuPercent: 55,
      allowedCidrs: ['10.50.0.0/16'],
      webAclArn: 'arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/shared/abc',
      encryptionKey: key,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048', Memory: '4096', ContainerDefinitions: [Match.objectLike({ Image: 'example.com/mlflow-pg:1.0' })],
    });
    const cmd = command(template);
    expect(cmd).not.toContain('pip install');
    expect(cmd).toContain('"/mlflow?sslmode=verify-full');
    template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 3 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 3, MaxCapacity: 9 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 55 }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [{ CidrIp: '10.50.0.0/16', Description: 'MLflow clients', FromPort: 80, IpProtocol: 'tcp', ToPort: 80 }],
    });
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: 'arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/shared/abc' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Given'), 'Arn'] } });
  });

  test('acknowledges HTTP and deletion protection only where they apply', () => {
    const acks = (profile: EnvironmentProfile, props: Partial<ExperimentTrackingProps> = {}) => {
      const built = build(profile, props);
      return collectAcknowledgements(built.app).filter((a) => a.path.startsWith('Tracking/')).map((a) => `${a.id} ${a.path}`).sort();
    };
    const dev = acks(EnvironmentProfile.dev());
    expect(dev).toEqual(expect.arrayContaining([
      'NIST.800.53.R5-ELBDeletionProtectionEnabled Tracking/LoadBalancer/Resource',
      'HIPAA.Security-ELBDeletionProtectionEnabled Tracking/LoadBalancer/Resource',
      'NIST.800.53.R5-ALBHttpToHttpsRedirection Tracking/LoadBalancer/Listener/Resource',
      'NIST.800.53.R5-ELBv2ACMCertificateRequired Tracking/LoadBalancer/Listener/Resource',
      'AwsSolutions-IAM5[Resource::<StoreModels7414EF8F.Arn>/mlflow/*] Tracking/TaskRole/Policy',
    ]));
    const { app } = build(EnvironmentProfile.prod(), (st) => ({ certificate: acm.Certificate.fromCertificateArn(st, 'Cert', CERT_ARN) }));
    const prod = collectAcknowledgements(app).filter((a) => a.path.startsWith('Tracking/')).map((a) => `${a.id} ${a.path}`).sort();
    // With a certificate no HTTP acknowledgement remains; only the redirect listener, which serves no content, holds no certificate.
    expect(prod).toEqual([
      // ecr:GetAuthorizationToken (no resource-level permissions), to pull the default image from ECR.
      'AwsSolutions-IAM5[Resource::*] Tracking/ExecutionRole/Policy',
      'AwsSolutions-IAM5[Resource::<StoreModels7414EF8F.Arn>/mlflow/*] Tracking/TaskRole/Policy',
      'HIPAA.Security-ELBv2ACMCertificateRequired Tracking/LoadBalancer/HttpRedirect/Resource',
      'NIST.800.53.R5-ELBv2ACMCertificateRequired Tracking/LoadBalancer/HttpRedirect/Resource',
    ]);
    // An image from another registry needs no ECR token: no acknowledgement.
    expect(acks(EnvironmentProfile.dev(), { image: ecs.ContainerImage.fromRegistry('example.com/mlflow:2.22') }))
      .not.toContain('AwsSolutions-IAM5[Resource::*] Tracking/ExecutionRole/Policy');
  });

  describe('rejects bad input', () => {
    const cases: Array<[string, Partial<ExperimentTrackingProps>, RegExp]> = [
      ['a CPU size Fargate does not offer', { cpu: 300 }, /'cpu' must be one of 256, 512, 1024.*\(received 300\).*Fix: use a Fargate CPU size/],
      ['too little memory', { memoryLimitMiB: 256 }, /'memoryLimitMiB' must be a whole number between 512 and 122880 \(received 256\)/],
      ['memory Fargate does not pair with the CPU size', { cpu: 256, memoryLimitMiB: 4096 }, /'memoryLimitMiB' must be a whole number between 512 and 2048 \(received 4096\).*Fix: Fargate pairs 256 CPU units with 512-2048 MiB/],
      ['zero tasks', { minTasks: 0 }, /'minTasks' must be a whole number between 1 and 100 \(received 0\)/],
      ['min above max tasks', { minTasks: 5, maxTasks: 2 }, /'minTasks' must not be greater than 'maxTasks' \(2\) \(received 5\).*Fix: lower 'minTasks' or raise 'maxTasks'/],
      ['CPU target of 95%', { targetCpuPercent: 95 }, /'targetCpuPercent' must be a number between 10 and 90 \(received 95\)/],
      ['a malformed client range', { allowedCidrs: ['10.0.0.0/33'] }, /'allowedCidrs\[0\]' must be an IPv4 CIDR block.*"10.0.0.0\/33"/],
      ['no client ranges', { allowedCidrs: [] }, /'allowedCidrs' must list at least one CIDR block.*Fix: leave it unset/],
      ['a bad database name', { databaseName: 'my-db' }, /'databaseName' must be a PostgreSQL database name.*"my-db"/],
    ];
    test.each(cases)('%s', (_name, props, message) => {
      expect(() => build(EnvironmentProfile.dev(), props)).toThrow(message);
    });

    test('a stack without a region synthesizes (ALB log delivery per region: test/aws/alb-access-logs.test.ts)', () => {
      const app = newApp();
      const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
      const network = new PlatformNetwork(stack, 'Network');
      new ExperimentTracking(stack, 'Tracking', {
        vpc: network.vpc,
        registry: new ModelRegistry(stack, 'Registry', { vpc: network.vpc }),
        artifactStore: new ArtifactStore(stack, 'Store'),
      });
      expect(Template.fromStack(stack).findMappings('MlopsElbLogDeliveryAccounts')).not.toEqual({});
    });
  });

  test('with only required props it is cfn-lint clean and cdk-nag clean (dev, staging and prod with a certificate)', () => {
    const app = newApp();
    build(EnvironmentProfile.dev(), {}, app, 'dev');
    build(EnvironmentProfile.staging(), {}, app, 'staging');
    build(EnvironmentProfile.prod(), (st) => ({ certificate: acm.Certificate.fromCertificateArn(st, 'Cert', CERT_ARN) }), app, 'prodtls');
    build(EnvironmentProfile.prod(), { authentication: TrackingAuthentication.oidc(OIDC) }, app, 'prodoidc');
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  describe('authentication', () => {
    const stagingProdDev = [EnvironmentProfile.staging(), EnvironmentProfile.prod()];

    test('staging and prod with only required props: no path reaches MLflow unauthenticated, and port 80 only redirects', () => {
      for (const profile of stagingProdDev) {
        const { template, tracking } = build(profile, {}, newApp(), profile.name);
        expect(tracking.authentication).toBe(TrackingAuthenticationKind.COGNITO);
        expectNoUnauthenticatedPath(template());
      }
    });

    test('with an OIDC provider and in dev with a certificate, too; an OIDC provider without a JWKS endpoint has no bearer path', () => {
      expectNoUnauthenticatedPath(build(EnvironmentProfile.prod(), { authentication: TrackingAuthentication.oidc(OIDC) }).template());
      const devWithCertificate = build(EnvironmentProfile.dev(), (st) => ({ certificate: certificateFor(st, EnvironmentProfile.prod()) }));
      expectNoUnauthenticatedPath(devWithCertificate.template());
      const { jwksEndpoint, ...browserOnly } = OIDC;
      const t = build(EnvironmentProfile.prod(), { authentication: TrackingAuthentication.oidc(browserOnly) }).template();
      expectNoUnauthenticatedPath(t);
      t.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
      t.resourceCountIs('AWS::Cognito::UserPool', 0);
      expect(actionChains(t).find((c) => c.port === 443)?.actions[0]).toMatchObject({
        Type: 'authenticate-oidc',
        AuthenticateOidcConfig: {
          Issuer: OIDC.issuer,
          ClientId: 'mlflow',
          Scope: 'openid',
          SessionTimeout: '28800',
          ClientSecret: '{{resolve:secretsmanager:mlflow/oidc:SecretString:secret::}}',
        },
      });
    });

    test('the claim fails on a listener that forwards without authenticating (dev, HTTP, and the none() opt-out)', () => {
      expect(() => expectNoUnauthenticatedPath(build(EnvironmentProfile.dev()).template())).toThrow();
      const optedOut = build(EnvironmentProfile.dev(), (st) => ({
        certificate: certificateFor(st, EnvironmentProfile.prod()), authentication: TrackingAuthentication.none(),
      }));
      expect(optedOut.tracking.authentication).toBe(TrackingAuthenticationKind.NONE);
      expect(() => expectNoUnauthenticatedPath(optedOut.template())).toThrow();
    });

    test('the Cognito user pool: administrators create users, TOTP MFA required, threat protection enforcing, strong passwords, retained outside dev', () => {
      const { template, stack, tracking } = build(EnvironmentProfile.prod(), { domainName: 'mlflow.ml.example.internal' });
      const t = template();
      t.resourceCountIs('AWS::Cognito::UserPool', 1);
      t.hasResource('AWS::Cognito::UserPool', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
          MfaConfiguration: 'ON',
          EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
          UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
          UserPoolTier: 'PLUS',
          DeletionProtection: 'ACTIVE',
          Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 14, RequireSymbols: true }) },
        }),
      });
      // The load balancer's client: the authorization code flow back to the name clients call.
      t.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        GenerateSecret: true,
        AllowedOAuthFlows: ['code'],
        AllowedOAuthFlowsUserPoolClient: true,
        CallbackURLs: ['https://mlflow.ml.example.internal/oauth2/idpresponse'],
        SupportedIdentityProviders: ['COGNITO'],
      });
      // The machine client: client credentials for the mlflow/api scope only.
      t.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        GenerateSecret: true,
        AllowedOAuthFlows: ['client_credentials'],
        AllowedOAuthScopes: [{ 'Fn::Join': ['', [{ Ref: Match.stringLikeRegexp('^TrackingUserPoolApi') }, '/api']] }],
      });
      t.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', { Identifier: 'mlflow', Scopes: [Match.objectLike({ ScopeName: 'api' })] });
      expect(stack.resolve(t.findResources('AWS::Cognito::UserPoolDomain'))).toEqual({
        [Object.keys(t.findResources('AWS::Cognito::UserPoolDomain'))[0]]: expect.objectContaining({
          Properties: expect.objectContaining({ Domain: { 'Fn::Join': ['', [expect.stringMatching(/^mlflow-[0-9a-f]{10}-$/), { Ref: 'AWS::AccountId' }]] } }),
        }),
      });
      // A request with a bearer token is admitted only when the load balancer verifies it was issued by this pool.
      const bearer = actionChains(t).filter((c) => c.actions[0].Type === 'jwt-validation');
      expect(bearer).toHaveLength(1);
      const rule = Object.values(t.findResources('AWS::ElasticLoadBalancingV2::ListenerRule'))[0].Properties;
      expect(rule.Conditions).toEqual([{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'Authorization', Values: ['Bearer *'] } }]);
      const issuer = stack.resolve(rule.Actions.find((a: any) => a.Type === 'jwt-validation').JwtValidationConfig.Issuer);
      expect(JSON.stringify(issuer)).toMatch(/https:\/\/cognito-idp\.eu-west-1\.","?.*TrackingUserPool/);
      expect(stack.resolve(tracking.trackingUri)).toBe('https://mlflow.ml.example.internal');
    });

    test('the load balancer reaches the identity provider on 443 only', () => {
      const t = build(EnvironmentProfile.prod()).template();
      const groups = Object.values(t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('LoadBalancer') } }));
      expect(groups[0].Properties.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ]);
    });

    test('clients: given security groups are the only ones admitted (no private subnet ranges); allowClientsFrom adds more', () => {
      const { template, tracking, network, stack } = build(EnvironmentProfile.prod(), (st) => ({
        clients: [ec2.SecurityGroup.fromSecurityGroupId(st, 'Notebooks', 'sg-0123456789abcdef0')],
      }));
      tracking.allowClientsFrom(new ec2.SecurityGroup(stack, 'Training', { vpc: network.vpc }));
      const t = template();
      const groups = Object.values(t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('LoadBalancer') } }));
      expect(groups[0].Properties.SecurityGroupIngress).toBeUndefined();
      const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties)
        .filter((r) => JSON.stringify(r.GroupId).includes('TrackingLoadBalancer'));
      const source = (r: any) => (typeof r.SourceSecurityGroupId === 'string' ? r.SourceSecurityGroupId
        : r.SourceSecurityGroupId['Fn::GetAtt'][0].replace(/[0-9A-F]{8}$/, ''));
      expect(ingress.map((r) => `${source(r)}:${r.FromPort}`).sort())
        .toEqual(['Training:443', 'Training:80', 'sg-0123456789abcdef0:443', 'sg-0123456789abcdef0:80']);
    });

    describe('rejects', () => {
      test('no authentication in staging and prod', () => {
        for (const profile of stagingProdDev) {
          expect(() => build(profile, { authentication: TrackingAuthentication.none() })).toThrow(new RegExp(
            `Env/Tracking: 'authentication' is not accepted under the '${profile.name}' profile \\(requireTls\\).*`
            + 'received "TrackingAuthentication.none\\(\\)".*Cognito user pool.*TrackingAuthentication.oidc'));
        }
      });
      test('authentication without a certificate (HTTP)', () => {
        expect(() => build(EnvironmentProfile.dev(), { authentication: TrackingAuthentication.cognito() }))
          .toThrow(/Env\/Tracking: 'authentication' needs an HTTPS listener.*received "TrackingAuthentication.cognito\(\)".*pass 'certificate'/);
      });
      test('a Cognito domain prefix Cognito refuses, and a malformed domain name', () => {
        expect(() => build(EnvironmentProfile.prod(), { authentication: TrackingAuthentication.cognito({ domainPrefix: 'aws-mlflow' }) }))
          .toThrow(/Env\/Tracking: 'authentication.domainPrefix' must not contain 'aws'.*received "aws-mlflow"/);
        expect(() => build(EnvironmentProfile.prod(), { authentication: TrackingAuthentication.cognito({ domainPrefix: 'Bad_Prefix' }) }))
          .toThrow(/'authentication.domainPrefix'.*lower-case/);
        expect(() => build(EnvironmentProfile.prod(), { domainName: 'https://mlflow.example.com' })).toThrow(/'domainName'.*a DNS name/);
      });
    });
  });
});
