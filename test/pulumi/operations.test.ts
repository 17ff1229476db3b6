import * as fs from 'fs';
import * as path from 'path';
import { errorOf, installMocks, MLFLOW_IMAGE, mockArn, one, ofType, promiseOf, pulumiIam, RecordedResource, resourcesOf } from './support';
import { IamWalk } from '../support/iam-walk';
import { ArtifactPurpose, EnvironmentProfile, MLFLOW_DEFAULT_IMAGE_DRIVERS, MLFLOW_VERSION, mlflowDatabaseUserSql, MlopsTags, ValidationError } from 'mlops-constructs';
import {
  ArtifactStore, ExperimentTracking, GpuTrainingCluster, ImageRepository, InferenceFleet, MlopsGovernance, MlopsMonitoring, ModelRegistry,
  TrackingAuthentication,
} from 'mlops-constructs/pulumi';

installMocks();

const dev = () => EnvironmentProfile.dev();
const prod = () => EnvironmentProfile.prod();
const tags = (profile: EnvironmentProfile) => MlopsTags.of({ project: 'p', environment: profile.name, team: 'fraud' });
const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Statement = { Effect: string; Action: string | string[]; Resource: any; Condition?: any; Sid?: string };
const statementsOf = (policyJson: string): Statement[] => JSON.parse(policyJson).Statement;
const actions = (s: Statement) => [s.Action].flat();
const resourcesIn = (s: Statement): string[] => [s.Resource].flat();

describe('Pulumi MlopsMonitoring', () => {
  test('GIVEN a fleet WHEN monitored THEN latency (in the ALB\'s seconds), 5xx-rate and GPU alarms notify an encrypted TLS-only topic, with a rollout-health composite', async () => {
    const profile = dev();
    const monitoring = new MlopsMonitoring('mon1', { profile, tags: tags(profile), notifyEmails: ['ops@example.com'] });
    const artifactStore = new ArtifactStore('mon1-store', { profile });
    const fleet = new InferenceFleet('mon1-fleet', { ...net, artifactStore, allowedCidrBlocks: ['10.0.0.0/16'], imageUri: 'repo/fraud:1', modelName: 'fraud', modelVersion: 'v3', profile });
    const alarms = monitoring.monitorServing(fleet);
    const resources = await resourcesOf('mon1');
    const key = one(resources, 'aws:kms/key:Key', 'topic-key');
    const topic = one(resources, 'aws:sns/topic:Topic');
    expect(topic.inputs.kmsMasterKeyId).toBe(mockArn(key.type, key.name));
    const topicPolicy = statementsOf(one(resources, 'aws:sns/topicPolicy:TopicPolicy').inputs.policy);
    expect(topicPolicy.find((s) => s.Effect === 'Deny')?.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    expect(topicPolicy.find((s) => s.Effect === 'Allow')?.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': '123456789012' } });
    expect(one(resources, 'aws:sns/topicSubscription:TopicSubscription').inputs).toMatchObject({ protocol: 'email', endpoint: 'ops@example.com' });

    const latency = one(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'Latency-fraud').inputs;
    expect(latency).toMatchObject({ namespace: 'AWS/ApplicationELB', metricName: 'TargetResponseTime', extendedStatistic: 'p99' });
    expect(latency.threshold).toBeCloseTo(profile.alarms.latencyP99Ms / 1000);
    const errorRate = one(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm', 'Errors-fraud').inputs;
    expect(errorRate.metricQueries[0].expression).toBe('100 * FILL(errors, 0) / requests');
    for (const alarm of [latency, errorRate]) {
      expect(alarm.alarmActions).toEqual([mockArn(topic.type, topic.name)]);
      expect(alarm.okActions).toEqual([mockArn(topic.type, topic.name)]);
    }
    expect(alarms.gpuUnderused).toBeDefined();
    const composite = one(resources, 'aws:cloudwatch/compositeAlarm:CompositeAlarm').inputs;
    expect(composite.alarmRule).toMatch(/^ALARM\(".+Latency-fraud.*"\) OR ALARM\(".+Errors-fraud.*"\)$/);
    expect(composite.alarmActions).toEqual([mockArn(topic.type, topic.name)]);
    expect(monitoring.rolloutHealthAlarm('fraud')).toBe(alarms.rolloutHealth);
  });

  test('GIVEN quality, drift and fairness alarms WHEN added THEN they alarm on the metric contract and show on the environment dashboard', async () => {
    const monitoring = new MlopsMonitoring('mon2', { profile: prod(), tags: tags(prod()) });
    monitoring.addModelQualityAlarm({ model: 'fraud', metric: 'auc', threshold: 0.9 });
    monitoring.addDriftAlarm({ model: 'fraud', feature: 'amount' });
    monitoring.addFairnessAlarm({ model: 'fraud', metric: 'demographic-parity' });
    const resources = await resourcesOf('mon2');
    const namespaces = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').map((a) => a.inputs.namespace).sort();
    expect(namespaces).toEqual(['MLOps/DataDrift', 'MLOps/Fairness', 'MLOps/ModelQuality']);
    const quality = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').find((a) => a.inputs.namespace === 'MLOps/ModelQuality')!.inputs;
    expect(quality).toMatchObject({ threshold: 0.9, comparisonOperator: 'LessThanThreshold' });
    const body = JSON.parse(one(resources, 'aws:cloudwatch/dashboard:Dashboard').inputs.dashboardBody);
    expect(body.widgets.filter((w: { properties: { annotations?: unknown } }) => w.properties.annotations)).toHaveLength(3);
  });

  test('GIVEN a duplicate alarm or a bad email WHEN added THEN a ValidationError', () => {
    const monitoring = new MlopsMonitoring('mon3', { profile: dev(), tags: tags(dev()) });
    monitoring.addDriftAlarm({ model: 'fraud', feature: 'amount' });
    expect(errorOf(() => monitoring.addDriftAlarm({ model: 'fraud', feature: 'amount' })).prop).toBe('alarm');
    const email = errorOf(() => new MlopsMonitoring('mon4', { profile: dev(), notifyEmails: ['not-an-email'] }));
    expect(email).toBeInstanceOf(ValidationError);
    expect(email.prop).toMatch(/^notifyEmails/);
  });
});

describe('Pulumi MlopsGovernance', () => {
  test('GIVEN governance over a store WHEN created THEN a validated, encrypted, multi-region trail logs the store\'s data events, and the boundary is a cap', async () => {
    const store = new ArtifactStore('gov1-store', { profile: prod(), tags: tags(prod()) });
    const governance = new MlopsGovernance('gov1', { profile: prod(), tags: tags(prod()), artifactStore: store, allowedRegions: ['us-east-1'] });
    const resources = await resourcesOf('gov1');
    const trail = one(resources, 'aws:cloudtrail/trail:Trail').inputs;
    expect(trail).toMatchObject({ enableLogFileValidation: true, isMultiRegionTrail: true, includeGlobalServiceEvents: true, enableLogging: true });
    expect(trail.kmsKeyId).toBe(mockArn('aws:kms/key:Key', 'gov1-key'));
    expect(trail.eventSelectors[0].dataResources[0].values.sort()).toEqual([
      `${mockArn('aws:s3/bucket:Bucket', 'gov1-store-datasets')}/`, `${mockArn('aws:s3/bucket:Bucket', 'gov1-store-models')}/`,
    ]);
    const boundary = statementsOf(one(resources, 'aws:iam/policy:Policy', 'gov1-boundary').inputs.policy);
    // A cap, as the CDK PermissionBoundary: only the platform's services, no escalation, no other regions.
    const sids = boundary.map((s) => s.Sid);
    expect(sids).toEqual(expect.arrayContaining(['AllowPlatformServices', 'DenyPrivilegeEscalation', 'DenyAttachingAnyOtherPolicy', 'DenyOtherRegions']));
    expect(boundary.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat())).not.toContain('*');
    expect(boundary.find((s) => s.Sid === 'DenyPrivilegeEscalation')?.Action).toEqual(expect.arrayContaining(['iam:Put*', 'iam:CreateRole', 'sts:AssumeRole']));
    // Every persona role and the trail's delivery role carry the boundary; the auditor has read-only AWS access.
    const roles = ofType(resources, 'aws:iam/role:Role');
    expect(roles).toHaveLength(5);
    for (const role of roles) expect(role.inputs.permissionsBoundary).toBe(mockArn('aws:iam/policy:Policy', 'gov1-boundary'));
    expect(one(resources, 'aws:iam/role:Role', 'Auditor').inputs.managedPolicyArns).toEqual(['arn:aws:iam::aws:policy/SecurityAudit']);
    expect(await promiseOf(governance.trailArn)).toMatch(/:trail\//);
    const bucketPolicy = statementsOf(one(resources, 'aws:s3/bucketPolicy:BucketPolicy', 'trail-bucket-policy').inputs.policy);
    expect(bucketPolicy.find((s) => s.Sid === 'AllowCloudTrailWrite')?.Condition.StringEquals['aws:SourceArn']).toMatch(/:trail\//);
    expect(bucketPolicy.find((s) => s.Sid === 'DenyInsecureTransport')?.Effect).toBe('Deny');
    expect(bucketPolicy.find((s) => s.Sid === 'DenyDeletingTrailLogs')).toMatchObject({ Effect: 'Deny', Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'] });
  });

  test('GIVEN governance without a store WHEN created THEN the trail bucket logs its access to a terminal log bucket of its own that only S3 logging of that bucket writes', async () => {
    const governance = new MlopsGovernance('gov6', { profile: prod(), tags: tags(prod()) });
    const resources = await resourcesOf('gov6');
    const logging = one(resources, 'aws:s3/bucketLogging:BucketLogging', 'gov6-trail-bucket-logging').inputs;
    expect(logging).toMatchObject({ bucket: 'gov6-trail-bucket-id', targetBucket: 'gov6-trail-access-logs-id', targetPrefix: 's3/cloudtrail/' });
    expect(await promiseOf(governance.accessLogBucket.id)).toBe('gov6-trail-access-logs-id');
    // S3 delivers server access logs only to SSE-S3 buckets; versioned, private, events to EventBridge.
    expect(one(resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', 'gov6-trail-access-logs-encryption')
      .inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe('AES256');
    expect(one(resources, 'aws:s3/bucketVersioning:BucketVersioning', 'gov6-trail-access-logs-versioning').inputs.versioningConfiguration.status).toBe('Enabled');
    expect(one(resources, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', 'gov6-trail-access-logs-public-access-block').inputs)
      .toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(one(resources, 'aws:s3/bucketNotification:BucketNotification', 'gov6-trail-access-logs-notification').inputs.eventbridge).toBe(true);
    expect(one(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', 'gov6-trail-access-logs-lifecycle').inputs.rules[0].expiration.days)
      .toBe(prod().logRetentionDays);
    // The terminal bucket: nothing logs it (logging it to itself would log its own logs).
    expect(ofType(resources, 'aws:s3/bucketLogging:BucketLogging').map((r) => r.inputs.bucket)).toEqual(['gov6-trail-bucket-id']);
    // Who may write: S3 logging on behalf of the trail bucket of this account, over TLS; nobody else is allowed anything.
    const policy = statementsOf(one(resources, 'aws:s3/bucketPolicy:BucketPolicy', 'gov6-trail-access-logs-policy').inputs.policy);
    expect(policy.filter((st) => st.Effect === 'Allow')).toEqual([{
      Sid: 'AllowTrailBucketAccessLogs',
      Effect: 'Allow',
      Principal: { Service: 'logging.s3.amazonaws.com' },
      Action: 's3:PutObject',
      Resource: `${mockArn('aws:s3/bucket:Bucket', 'gov6-trail-access-logs')}/s3/cloudtrail/*`,
      Condition: { ArnLike: { 'aws:SourceArn': mockArn('aws:s3/bucket:Bucket', 'gov6-trail-bucket') }, StringEquals: { 'aws:SourceAccount': '123456789012' } },
    }]);
    expect(policy.map((st) => st.Sid)).toEqual(expect.arrayContaining(['DenyInsecureTransport', 'DenyOutdatedTLS']));
  });

  test('GIVEN governance over a store WHEN created THEN the trail bucket logs to the store\'s access-log bucket, which admits it, and no other log bucket is made', async () => {
    const store = new ArtifactStore('gov7-store', { profile: prod(), tags: tags(prod()) });
    new MlopsGovernance('gov7', { profile: prod(), tags: tags(prod()), artifactStore: store });
    const resources = await resourcesOf('gov7');
    expect(one(resources, 'aws:s3/bucketLogging:BucketLogging', 'gov7-trail-bucket-logging').inputs.targetBucket).toBe('gov7-store-access-logs-id');
    expect(resources.filter((r) => r.name.startsWith('gov7-trail-access-logs'))).toEqual([]);
    const storeLogs = statementsOf(one(resources, 'aws:s3/bucketPolicy:BucketPolicy', 'gov7-store-access-logs-policy').inputs.policy);
    expect(storeLogs.find((st) => st.Condition?.ArnLike?.['aws:SourceArn'] === mockArn('aws:s3/bucket:Bucket', 'gov7-trail-bucket'))?.Resource)
      .toBe(`${mockArn('aws:s3/bucket:Bucket', 'gov7-store-access-logs')}/s3/cloudtrail/*`);
  });

  test('GIVEN personas without principals WHEN created THEN only this account with MFA may assume them', async () => {
    new MlopsGovernance('gov2', { profile: dev(), tags: tags(dev()) });
    const trust = JSON.parse(one(await resourcesOf('gov2'), 'aws:iam/role:Role', 'DataScientist').inputs.assumeRolePolicy).Statement[0];
    expect(trust.Principal).toEqual({ AWS: 'arn:aws:iam::123456789012:root' });
    expect(JSON.stringify(trust.Condition)).toContain('aws:MultiFactorAuthPresent');
  });

  test('GIVEN grantPersonas WHEN granted THEN the data scientist writes only experiments/, the ML engineer pushes images, operator and auditor are denied object reads', async () => {
    const store = new ArtifactStore('gov3-store', { profile: dev(), tags: tags(dev()) });
    const images = ImageRepository.fromRepositoryName('gov3-images', 'ml/training');
    const governance = new MlopsGovernance('gov3', { profile: dev(), tags: tags(dev()) });
    governance.grantPersonas({ artifactStore: store, trainingImages: images });
    const resources = await resourcesOf('gov3');
    const grants = (persona: string) => statementsOf(one(resources, 'aws:iam/policy:Policy', `${persona}-grants-1`).inputs.policy);
    const writes = grants('DataScientist').filter((s) => actions(s).includes('s3:PutObject')).flatMap(resourcesIn);
    expect(writes).toEqual([`${mockArn('aws:s3/bucket:Bucket', 'gov3-store-artifacts')}/experiments/*`]);
    expect(grants('DataScientist').flatMap(actions)).not.toContain('ecr:PutImage');
    expect(grants('MlEngineer').flatMap(actions)).toContain('ecr:PutImage');
    for (const persona of ['PlatformOperator', 'Auditor']) {
      const deny = grants(persona).find((s) => s.Sid === 'DenyArtifactObjectReads')!;
      expect(deny.Effect).toBe('Deny');
      expect(actions(deny)).toContain('s3:GetObject');
    }
    expect(errorOf(() => governance.grantPersonas({})).prop).toBe('resources');
  });
});

describe('Pulumi ExperimentTracking', () => {
  test('GIVEN dev WHEN created THEN MLflow on Fargate behind an internal ALB with WAF, no secret in the task definition, artifacts under mlflow/ only', async () => {
    const profile = dev();
    const store = new ArtifactStore('exp1-store', { profile, tags: tags(profile) });
    const registry = new ModelRegistry('exp1-registry', { ...net, profile, tags: tags(profile) });
    const tracking = new ExperimentTracking('exp1', { ...net, vpcCidrBlock: '10.0.0.0/16', image: MLFLOW_IMAGE, registry, artifactStore: store, profile, tags: tags(profile) });
    const resources = await resourcesOf('exp1');
    expect(one(resources, 'aws:lb/loadBalancer:LoadBalancer').inputs).toMatchObject({ internal: true, dropInvalidHeaderFields: true });
    expect(one(resources, 'aws:wafv2/webAclAssociation:WebAclAssociation').inputs.webAclArn).toBe(mockArn('aws:wafv2/webAcl:WebAcl', 'exp1-waf'));
    expect(one(resources, 'aws:ec2/securityGroup:SecurityGroup', 'lb-sg').inputs.ingress[0]).toMatchObject({ cidrBlocks: ['10.0.0.0/16'], fromPort: 80 });
    const container = JSON.parse(one(resources, 'aws:ecs/taskDefinition:TaskDefinition').inputs.containerDefinitions)[0];
    // No secret and no password anywhere in the task definition: the URI names the IAM-authenticated user, TLS verify-full.
    expect(container.secrets).toBeUndefined();
    expect(JSON.stringify(one(resources, 'aws:ecs/taskDefinition:TaskDefinition').inputs)).not.toMatch(/secretsmanager|PASSWORD|password/i);
    expect(container.command[0]).toContain('MLFLOW_DB_IAM_AUTH=1 AWS_REGION=us-east-1 && exec mlflow server');
    expect(container.command[0]).toContain('--backend-store-uri "postgresql://mlflow@exp1-registry-cluster.cluster-mock.us-east-1.rds.amazonaws.com:5433/registry'
      + '?sslmode=verify-full&sslrootcert=/opt/mlflow-iam-auth/rds-ca.pem"');
    const task = statementsOf(one(resources, 'aws:iam/policy:Policy', 'task-policy').inputs.policy);
    const objects = task.filter((s) => actions(s).includes('s3:PutObject')).flatMap(resourcesIn);
    expect(objects).toEqual([`${mockArn('aws:s3/bucket:Bucket', 'exp1-store-models')}/mlflow/*`]);
    expect(one(resources, 'aws:ecs/service:Service').inputs).toMatchObject({ deploymentCircuitBreaker: { enable: true }, networkConfiguration: { assignPublicIp: false } });
    expect(await promiseOf(tracking.trackingUri)).toMatch(/^http:\/\//);
    // dev without a certificate: one plain listener on 80 of the internal load balancer, no redirect.
    expect(ofType(resources, 'aws:lb/listener:Listener').map((l) => [l.inputs.port, l.inputs.protocol])).toEqual([[80, 'HTTP']]);
    expect(tracking.redirectListener).toBeUndefined();
  });

  test('GIVEN dev WHEN created THEN the MLflow container runs as uid 1000 with a read-only root filesystem, writes only to a /tmp task volume, and cannot exceed the task memory', async () => {
    const container = JSON.parse(one(await resourcesOf('exp1'), 'aws:ecs/taskDefinition:TaskDefinition').inputs.containerDefinitions)[0];
    const task = one(await resourcesOf('exp1'), 'aws:ecs/taskDefinition:TaskDefinition').inputs;
    expect(container.user).toBe('1000:1000');
    expect(container.readonlyRootFilesystem).toBe(true);
    // The only writable path: the task's own volume (no host path, no EFS) at /tmp, which HOME points to.
    expect(task.volumes).toEqual([{ name: 'scratch' }]);
    expect(container.mountPoints).toEqual([{ sourceVolume: 'scratch', containerPath: '/tmp', readOnly: false }]);
    // Nothing is installed at start: the image (built from the package's Dockerfile) has everything.
    expect(container.command[0]).toMatch(/^export HOME=\/tmp /);
    expect(JSON.stringify([container.entryPoint, container.command])).not.toMatch(/pip|install/);
    expect(container.image).toBe(MLFLOW_IMAGE);
    // A hard limit equal to the task's memory (2048 MiB by default).
    expect([container.memory, Number(task.memory)]).toEqual([2048, 2048]);
  });

  test('GIVEN prod with a certificate WHEN created THEN MLflow is served over HTTPS on 443 (TLS 1.2+) only, and port 80 answers only with a redirect to 443', async () => {
    const profile = prod();
    const store = new ArtifactStore('exp2-store', { profile, tags: tags(profile) });
    const registry = new ModelRegistry('exp2-registry', { ...net, profile, tags: tags(profile) });
    const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/x';
    const tracking = new ExperimentTracking('exp2', { ...net, vpcCidrBlock: '10.0.0.0/16', image: MLFLOW_IMAGE, registry, artifactStore: store, profile, tags: tags(profile), certificateArn });
    const resources = await resourcesOf('exp2');
    const listeners = ofType(resources, 'aws:lb/listener:Listener').map((l) => l.inputs);
    const forwarding = listeners.filter((l) => l.defaultActions.some((a: { type: string }) => a.type === 'forward'));
    expect(forwarding.map((l) => [l.port, l.protocol, l.sslPolicy, l.certificateArn])).toEqual([[443, 'HTTPS', 'ELBSecurityPolicy-TLS13-1-2-2021-06', certificateArn]]);
    const redirect = listeners.filter((l) => !forwarding.includes(l));
    expect(redirect.map((l) => [l.port, l.protocol, l.defaultActions])).toEqual([
      [80, 'HTTP', [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }]],
    ]);
    const ingress = one(resources, 'aws:ec2/securityGroup:SecurityGroup', 'lb-sg').inputs.ingress;
    expect(ingress.map((r: { fromPort: number; cidrBlocks: string[] }) => [r.fromPort, r.cidrBlocks])).toEqual([[443, ['10.0.0.0/16']], [80, ['10.0.0.0/16']]]);
    expect(await promiseOf(tracking.trackingUri)).toMatch(/^https:\/\//);
  });

  test('GIVEN staging without a certificate WHEN created THEN a ValidationError names certificateArn and how to get one', () => {
    const profile = EnvironmentProfile.staging();
    const store = new ArtifactStore('exp3-store', { profile, tags: tags(profile) });
    const registry = new ModelRegistry('exp3-registry', { ...net, profile, tags: tags(profile) });
    const error = errorOf(() => new ExperimentTracking('exp3', { ...net, vpcCidrBlock: '10.0.0.0/16', image: MLFLOW_IMAGE, registry, artifactStore: store, profile, tags: tags(profile) }));
    expect(error).toBeInstanceOf(ValidationError);
    expect([error.prop, error.problem]).toEqual(['certificateArn', "is required under the 'staging' profile (requireTls): its load balancer serves HTTPS only"]);
    expect(error.fix).toMatch(/ACM Private CA.*and pass its ARN as 'certificateArn'; or accept plain HTTP with a profile override requireTls: false\.$/);
  });
});

describe('Pulumi ExperimentTracking authentication (the load balancer authenticates every request before MLflow)', () => {
  const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/x';
  const args = (n: string, profile: EnvironmentProfile) => ({
    ...net,
    vpcCidrBlock: '10.0.0.0/16',
    image: MLFLOW_IMAGE,
    registry: new ModelRegistry(`${n}-registry`, { ...net, profile, tags: tags(profile) }),
    artifactStore: new ArtifactStore(`${n}-store`, { profile, tags: tags(profile) }),
    profile,
    tags: tags(profile),
  });
  type Action = { type: string; order?: number; targetGroupArn?: string; jwtValidation?: { issuer: string; jwksEndpoint: string } };
  /** Pulumi's marker of a secret value in the inputs the mocks receive. */
  const SECRET_SIG = '4dabf18193072939515e22adb298388d';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const revealed = (value: any) => (value && typeof value === 'object' && SECRET_SIG in value ? value.value : value);
  /** Every way a request reaches MLflow's target group: each listener's default actions and each rule's, in order. */
  const pathsToMlflow = (resources: RecordedResource[], prefix: string) => {
    const targetGroup = mockArn('aws:lb/targetGroup:TargetGroup', `${prefix}-tg`);
    const ordered = (list: Action[]) => [...revealed(list)].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
    return [
      ...ofType(resources, 'aws:lb/listener:Listener').map((l) => ({ where: `${l.inputs.port}`, actions: ordered(l.inputs.defaultActions) })),
      ...ofType(resources, 'aws:lb/listenerRule:ListenerRule').map((r) => ({ where: `rule ${r.inputs.priority}`, actions: ordered(r.inputs.actions) })),
    ].filter((p) => p.actions.some((a) => a.type === 'forward' && a.targetGroupArn === targetGroup));
  };
  const authenticates = (list: Action[]) => {
    const forward = list.findIndex((a) => a.type === 'forward');
    return list.slice(0, forward).some((a) => ['authenticate-cognito', 'authenticate-oidc', 'jwt-validation'].includes(a.type));
  };

  test('GIVEN prod with a certificate WHEN created THEN every path to MLflow starts with authentication (a Cognito user pool; bearer JWTs the load balancer verifies), and port 80 only redirects', async () => {
    const tracking = new ExperimentTracking('auth1', { ...args('auth1', prod()), certificateArn, domainName: 'mlflow.ml.example.internal' });
    const resources = await resourcesOf('auth1');
    const paths = pathsToMlflow(resources, 'auth1');
    expect(paths.map((p) => p.where).sort()).toEqual(['443', 'rule 10']);
    for (const each of paths) expect([each.where, authenticates(each.actions)]).toEqual([each.where, true]);
    expect(one(resources, 'aws:lb/listener:Listener', 'http-redirect').inputs.defaultActions.map((a: Action) => a.type)).toEqual(['redirect']);
    const pool = mockArn('aws:cognito/userPool:UserPool', 'auth1-user-pool');
    expect(paths.find((p) => p.where === '443')!.actions[0]).toMatchObject({
      type: 'authenticate-cognito', authenticateCognito: { userPoolArn: pool, userPoolClientId: 'auth1-load-balancer-client-id', scope: 'openid email', sessionTimeout: 28800 },
    });
    const bearer = one(resources, 'aws:lb/listenerRule:ListenerRule', 'bearer-token').inputs;
    expect(bearer.conditions).toEqual([{ httpHeader: { httpHeaderName: 'Authorization', values: ['Bearer *'] } }]);
    expect(bearer.actions[0].jwtValidation).toEqual({
      issuer: 'https://cognito-idp.us-east-1.amazonaws.com/auth1-user-pool-id', jwksEndpoint: 'https://cognito-idp.us-east-1.amazonaws.com/auth1-user-pool-id/.well-known/jwks.json',
    });
    expect(tracking.authentication).toBe('cognito');
    expect(await promiseOf(tracking.trackingUri)).toBe('https://mlflow.ml.example.internal');
  });

  test('GIVEN the Cognito default WHEN created THEN administrators create the users, TOTP MFA is required, threat protection enforces, the pool is protected outside dev', async () => {
    const resources = await resourcesOf('auth1');
    expect(one(resources, 'aws:cognito/userPool:UserPool').inputs).toMatchObject({
      adminCreateUserConfig: { allowAdminCreateUserOnly: true },
      mfaConfiguration: 'ON',
      softwareTokenMfaConfiguration: { enabled: true },
      passwordPolicy: { minimumLength: 14, requireLowercase: true, requireNumbers: true, requireSymbols: true, requireUppercase: true },
      userPoolTier: 'PLUS',
      userPoolAddOns: { advancedSecurityMode: 'ENFORCED' },
      deletionProtection: 'ACTIVE',
    });
    const client = one(resources, 'aws:cognito/userPoolClient:UserPoolClient', 'load-balancer-client').inputs;
    expect(client).toMatchObject({ allowedOauthFlows: ['code'], generateSecret: true, callbackUrls: ['https://mlflow.ml.example.internal/oauth2/idpresponse'] });
    const machine = one(resources, 'aws:cognito/userPoolClient:UserPoolClient', 'machine-client').inputs;
    expect(machine).toMatchObject({ allowedOauthFlows: ['client_credentials'], allowedOauthScopes: ['mlflow/api'], accessTokenValidity: 60, tokenValidityUnits: { accessToken: 'minutes' } });
    expect(one(resources, 'aws:cognito/userPoolDomain:UserPoolDomain').inputs.domain).toMatch(/^mlflow-[0-9a-f]{10}-123456789012$/);
  });

  test('GIVEN the organization\'s OIDC provider WHEN created THEN browsers sign in with it (secret kept secret), bearer JWTs are verified only with its JWKS endpoint, and no user pool is made', async () => {
    const oidc = {
      issuer: 'https://login.example.com',
      authorizationEndpoint: 'https://login.example.com/authorize',
      tokenEndpoint: 'https://login.example.com/token',
      userInfoEndpoint: 'https://login.example.com/userinfo',
      clientId: 'mlflow',
      clientSecret: 'shh',
    };
    new ExperimentTracking('auth2', { ...args('auth2', prod()), certificateArn, authentication: TrackingAuthentication.oidc({ ...oidc, jwksEndpoint: 'https://login.example.com/jwks' }) });
    new ExperimentTracking('auth3', { ...args('auth3', prod()), certificateArn, authentication: TrackingAuthentication.oidc(oidc) });
    const withJwks = await resourcesOf('auth2');
    for (const each of pathsToMlflow(withJwks, 'auth2')) expect([each.where, authenticates(each.actions)]).toEqual([each.where, true]);
    // The listener's actions hold the client secret: Pulumi keeps them secret (encrypted in the state, masked in output).
    const recorded = one(withJwks, 'aws:lb/listener:Listener', 'auth2-listener').inputs.defaultActions;
    expect(SECRET_SIG in recorded).toBe(true);
    const signIn = revealed(recorded)[0];
    expect(signIn).toMatchObject({ type: 'authenticate-oidc', authenticateOidc: { issuer: oidc.issuer, clientId: 'mlflow', scope: 'openid', sessionTimeout: 28800 } });
    expect(one(withJwks, 'aws:lb/listenerRule:ListenerRule').inputs.actions[0].jwtValidation).toEqual({ issuer: oidc.issuer, jwksEndpoint: 'https://login.example.com/jwks' });
    expect(ofType(withJwks, 'aws:cognito/userPool:UserPool')).toEqual([]);
    const withoutJwks = await resourcesOf('auth3');
    expect(pathsToMlflow(withoutJwks, 'auth3').map((p) => p.where)).toEqual(['443']);
    expect(ofType(withoutJwks, 'aws:lb/listenerRule:ListenerRule')).toEqual([]);
  });

  test('GIVEN clients WHEN created THEN only those security groups reach the load balancer (no address range unless allowedCidrs)', async () => {
    new ExperimentTracking('auth4', { ...args('auth4', prod()), certificateArn, clients: ['sg-notebooks', 'sg-training'] });
    const ingress = one(await resourcesOf('auth4'), 'aws:ec2/securityGroup:SecurityGroup', 'lb-sg').inputs.ingress;
    expect(ingress.map((r: { fromPort: number; cidrBlocks: string[]; securityGroups: string[] }) => [r.fromPort, r.cidrBlocks, r.securityGroups]))
      .toEqual([[443, [], ['sg-notebooks', 'sg-training']], [80, [], ['sg-notebooks', 'sg-training']]]);
  });

  test('GIVEN authentication a profile or the listener cannot take, or a bad name WHEN created THEN the CDK\'s ValidationErrors, naming certificateArn', () => {
    const none = errorOf(() => new ExperimentTracking('auth5', { ...args('auth5', prod()), certificateArn, authentication: TrackingAuthentication.none() }));
    expect([none.prop, none.value]).toEqual(['authentication', 'TrackingAuthentication.none()']);
    expect(none.problem).toMatch(/^is not accepted under the 'prod' profile \(requireTls\): MLflow has no login of its own/);
    const noHttps = errorOf(() => new ExperimentTracking('auth6', { ...args('auth6', dev()), authentication: TrackingAuthentication.cognito() }));
    expect([noHttps.prop, noHttps.problem]).toEqual(['authentication', 'needs an HTTPS listener: a load balancer authenticates only on HTTPS']);
    expect(noHttps.fix).toMatch(/^pass 'certificateArn'/);
    const prefix = errorOf(() => new ExperimentTracking('auth7', { ...args('auth7', prod()), certificateArn, authentication: TrackingAuthentication.cognito({ domainPrefix: 'my-cognito' }) }));
    expect([prefix.prop, prefix.value]).toEqual(['authentication.domainPrefix', 'my-cognito']);
    expect(errorOf(() => new ExperimentTracking('auth8', { ...args('auth8', prod()), certificateArn, domainName: 'not a name' })).prop).toBe('domainName');
    // dev with a certificate may opt out; the listener then forwards directly.
    expect(() => new ExperimentTracking('auth9', { ...args('auth9', dev()), certificateArn, authentication: TrackingAuthentication.none() })).not.toThrow();
  });
});

describe('Pulumi ExperimentTracking database user (IAM authentication, RDS Data API)', () => {
  let resources: RecordedResource[];
  let walk: IamWalk;
  let secretArn: string;
  let cluster: string;
  beforeAll(async () => {
    resources = await resourcesOf('exp1');
    walk = pulumiIam(resources.filter((r) => !/^exp1-(registry|store)-/.test(r.name)));
    secretArn = mockArn('aws:secretsmanager/secret:Secret', 'exp1-registry-cluster-admin');
    cluster = mockArn('aws:rds/cluster:Cluster', 'exp1-registry-cluster');
  });
  const dbUser = (user: string) => `arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-exp1-registry-cluster/${user}`;

  test('GIVEN the registry WHEN created THEN its RDS Data API is on (how the user is created at deploy time)', () => {
    expect(one(resources, 'aws:rds/cluster:Cluster', 'exp1-registry-cluster').inputs).toMatchObject({ enableHttpEndpoint: true, iamDatabaseAuthenticationEnabled: true });
  });

  test('GIVEN the tracking server WHEN its task role is evaluated THEN it connects to the database as mlflow only, never as the admin or another user', () => {
    const task = walk.role('exp1-task-role');
    expect(walk.allows(task, 'rds-db:connect', dbUser('mlflow'))).toBe(true);
    for (const other of ['registry_admin', 'postgres', 'rdsadmin', '*']) expect([other, walk.allows(task, 'rds-db:connect', dbUser(other))]).toEqual([other, false]);
    expect(walk.allows(task, 'rds-data:ExecuteStatement', cluster)).toBe(false);
  });

  test('GIVEN the tracking server WHEN every role of it is evaluated THEN only the deploy-time database-user step reads the admin secret, and only it runs statements', () => {
    const roles = walk.roles.map((r) => r.logicalId).sort();
    expect(roles).toEqual(['exp1-database-user-role', 'exp1-execution-role', 'exp1-task-role']);
    const readers = roles.filter((r) => walk.allows(walk.role(r), 'secretsmanager:GetSecretValue', secretArn));
    expect(readers).toEqual(['exp1-database-user-role']);
    expect(roles.filter((r) => walk.allows(walk.role(r), 'rds-data:ExecuteStatement', cluster))).toEqual(['exp1-database-user-role']);
    // It decrypts the secret only through Secrets Manager.
    const step = walk.role('exp1-database-user-role');
    const key = mockArn('aws:kms/key:Key', 'exp1-registry-key');
    expect(walk.allows(step, 'kms:Decrypt', key, { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' })).toBe(true);
    expect(walk.allows(step, 'kms:Decrypt', key, { 'kms:ViaService': 's3.us-east-1.amazonaws.com' })).toBe(false);
  });

  test('GIVEN the step WHEN deployed THEN it sends core\'s statement (the same SQL as the CDK) as the admin, after the writer exists, and the service waits for it', () => {
    const fn = one(resources, 'aws:lambda/function:Function', 'exp1-database-user').inputs;
    expect(JSON.parse(fn.environment.variables.STATEMENT)).toEqual({ resourceArn: cluster, secretArn, database: 'registry', sql: mlflowDatabaseUserSql() });
    expect(fn.vpcConfig).toBeUndefined();
    const invocation = one(resources, 'aws:lambda/invocation:Invocation', 'exp1-database-user').inputs;
    expect(invocation.functionName).toBe('exp1-database-user');
    expect(JSON.parse(invocation.input)).toMatchObject({ database: 'registry', user: 'mlflow' });
    expect(Object.keys(invocation.triggers).sort()).toEqual(['cluster', 'database', 'secret', 'statement']);
    const logs = one(resources, 'aws:cloudwatch/logGroup:LogGroup', 'exp1-database-user-logs').inputs;
    expect([fn.loggingConfig.logGroup, logs.retentionInDays, logs.kmsKeyId === undefined]).toEqual(['exp1-database-user-logs', dev().logRetentionDays, false]);
  });

  test('GIVEN the step WHEN run THEN its function sends the STATEMENT it was given through the RDS Data API and fails the deployment when the statement fails', async () => {
    const fn = one(resources, 'aws:lambda/function:Function', 'exp1-database-user').inputs;
    const assets = await fn.code.assets;
    const source: string = await assets['index.js'].text;
    const sent: unknown[] = [];
    const fail = { now: false };
    class ExecuteStatementCommand { constructor(public readonly input: unknown) {} }
    const sdk = {
      RDSDataClient: class {
        public async send(command: ExecuteStatementCommand) {
          if (fail.now) throw Object.assign(new Error('permission denied'), { name: 'BadRequestException' });
          sent.push(command.input);
        }
      },
      ExecuteStatementCommand,
    };
    const module = { exports: {} as { handler: () => Promise<unknown> } };
    new Function('require', 'module', 'exports', 'process', source)((id: string) => (id === '@aws-sdk/client-rds-data' ? sdk : undefined), module, module.exports,
      { env: { STATEMENT: fn.environment.variables.STATEMENT } });
    await module.exports.handler();
    expect(sent).toEqual([JSON.parse(fn.environment.variables.STATEMENT)]);
    fail.now = true;
    await expect(module.exports.handler()).rejects.toThrow('permission denied');
  });
});

describe('Pulumi ExperimentTracking image', () => {
  const args = (n: string, profile: EnvironmentProfile) => ({
    ...net,
    vpcCidrBlock: '10.0.0.0/16',
    registry: new ModelRegistry(`${n}-registry`, { ...net, profile, tags: tags(profile) }),
    artifactStore: new ArtifactStore(`${n}-store`, { profile, tags: tags(profile) }),
    profile,
    tags: tags(profile),
  });

  test('GIVEN no image WHEN created THEN a ValidationError says how to build the shipped Dockerfile (Pulumi builds none, nothing is installed at start)', () => {
    const error = errorOf(() => new ExperimentTracking('img1', { ...args('img1', dev()) } as never));
    expect(error).toBeInstanceOf(ValidationError);
    expect([error.prop, error.problem]).toEqual(['image', 'is required: the Pulumi ExperimentTracking builds no image and its container installs nothing when it starts']);
    expect(error.fix).toContain(`docker build --platform linux/amd64 --build-arg MLFLOW_VERSION='${MLFLOW_VERSION}' --build-arg MLFLOW_DRIVERS='${MLFLOW_DEFAULT_IMAGE_DRIVERS.join(' ')}'`);
    expect(error.fix).toMatch(/node_modules\/mlops-constructs\/assets\/mlflow$/);
    // The directory the command builds is the one the package ships.
    expect(fs.existsSync(path.join(__dirname, '..', '..', 'assets', 'mlflow', 'Dockerfile'))).toBe(true);
  });

  test('GIVEN prod and an image named by tag WHEN created THEN a ValidationError asks for a digest; dev accepts a tag', async () => {
    const tagged = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mlflow:2.22.0';
    const error = errorOf(() => new ExperimentTracking('img2', { ...args('img2', prod()), certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/x', image: tagged }));
    expect([error.prop, error.value, error.problem]).toEqual(['image', tagged,
      "must be pinned by digest under the 'prod' profile (requireTls): a tag can move, so tasks could run different images"]);
    new ExperimentTracking('img3', { ...args('img3', dev()), image: tagged });
    const resources = await resourcesOf('img3');
    expect(JSON.parse(one(resources, 'aws:ecs/taskDefinition:TaskDefinition').inputs.containerDefinitions)[0].image).toBe(tagged);
    // The execution role pulls from that ECR repository only (the token action has no resource-level permissions).
    const pulls = statementsOf(one(resources, 'aws:iam/policy:Policy', 'img3-execution-policy').inputs.policy).filter((s) => actions(s).some((a) => a.startsWith('ecr:')));
    expect(pulls.map((s) => [actions(s).sort(), resourcesIn(s)])).toEqual([
      [['ecr:GetAuthorizationToken'], ['*']],
      [['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], ['arn:aws:ecr:us-east-1:123456789012:repository/mlflow']],
    ]);
  });

  test('GIVEN an image from another registry WHEN created THEN the execution role gets no ECR permission', async () => {
    new ExperimentTracking('img4', { ...args('img4', dev()), image: `ghcr.io/acme/mlflow@sha256:${'a'.repeat(64)}` });
    const policy = statementsOf(one(await resourcesOf('img4'), 'aws:iam/policy:Policy', 'img4-execution-policy').inputs.policy);
    expect(policy.flatMap(actions).filter((a) => a.startsWith('ecr:'))).toEqual([]);
  });
});

describe('Pulumi ArtifactStore replication', () => {
  test('GIVEN replication WHEN created THEN every purpose bucket replicates KMS objects to its destination, and the role decrypts and encrypts only through S3 in each region', async () => {
    const destinationKeyArn = 'arn:aws:kms:eu-west-1:123456789012:key/dest';
    new ArtifactStore('repl1', {
      profile: prod(), tags: tags(prod()), replication: { destinationRegion: 'eu-west-1', destinationKeyArn, destinationBucketNamePattern: 'dr-{purpose}' },
    });
    const resources = await resourcesOf('repl1');
    const configs = ofType(resources, 'aws:s3/bucketReplicationConfig:BucketReplicationConfig');
    expect(configs.map((c) => c.inputs.rules[0].destination.bucket).sort())
      .toEqual(Object.values(ArtifactPurpose).map((p) => `arn:aws:s3:::dr-${p}`).sort());
    for (const c of configs) {
      expect(c.inputs.rules[0]).toMatchObject({
        status: 'Enabled',
        sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: 'Enabled' } },
        destination: { encryptionConfiguration: { replicaKmsKeyId: destinationKeyArn } },
      });
    }
    const statements = statementsOf(one(resources, 'aws:iam/policy:Policy', 'replication-policy').inputs.policy);
    const kms = statements.filter((s) => actions(s).some((a) => a.startsWith('kms:')));
    expect(kms.map((s) => s.Condition.StringEquals['kms:ViaService']).sort()).toEqual(['s3.eu-west-1.amazonaws.com', 's3.us-east-1.amazonaws.com']);
    for (const s of statements) expect(resourcesIn(s)).not.toContain('*');
  });
});

describe('Pulumi GpuTrainingCluster job definitions', () => {
  test('GIVEN single- and multi-node jobs WHEN added THEN each role reads datasets and writes only its own checkpoints; multi-node runs on the on-demand queue', async () => {
    const profile = prod();
    const store = new ArtifactStore('jobs1-store', { profile, tags: tags(profile) });
    const images = ImageRepository.fromRepositoryName('jobs1-images', 'ml/training');
    const cluster = new GpuTrainingCluster('jobs1', { ...net, profile, tags: tags(profile), artifactStore: store, teams: [{ name: 'fraud' }] });
    const single = cluster.addJobDefinition('train', { imageRepository: images, imageTag: 'train-1', gpus: 1 });
    const multi = cluster.addMultiNodeJobDefinition('dist', { imageRepository: images, imageTag: 'train-1', nodes: 2, instanceType: 'g5.2xlarge' });
    const resources = await resourcesOf('jobs1');
    const definition = one(resources, 'aws:batch/jobDefinition:JobDefinition', 'jobs1-train').inputs;
    const container = JSON.parse(definition.containerProperties);
    expect(container.resourceRequirements).toContainEqual({ type: 'GPU', value: '1' });
    expect(container.environment).toContainEqual({ name: 'CHECKPOINT_URI', value: 's3://jobs1-store-models/checkpoints/train/' });
    expect(definition.retryStrategy.attempts).toBe(3);
    expect(definition.retryStrategy.evaluateOnExits.at(-1)).toMatchObject({ action: 'EXIT' });
    const policy = statementsOf(one(resources, 'aws:iam/policy:Policy', 'jobs1-train-job-policy').inputs.policy);
    expect(policy.filter((s) => actions(s).includes('s3:PutObject')).flatMap(resourcesIn))
      .toEqual([`${mockArn('aws:s3/bucket:Bucket', 'jobs1-store-models')}/checkpoints/train/*`]);
    expect(JSON.parse(one(resources, 'aws:batch/jobDefinition:JobDefinition', 'jobs1-dist').inputs.nodeProperties).numNodes).toBe(2);
    expect(multi.jobQueue).toBe(cluster.multiNodeQueue);
    expect(one(resources, 'aws:batch/jobQueue:JobQueue', 'multi-node-queue').inputs.computeEnvironmentOrders[0].computeEnvironment)
      .toBe(mockArn('aws:batch/computeEnvironment:ComputeEnvironment', 'jobs1-on-demand'));
    const submit = cluster.submitJobStatements('fraud')[0];
    expect(submit.Condition).toEqual({ StringEquals: { 'batch:ShareIdentifier': 'fraud' } });
    expect(single.jobQueue).toBe(cluster.jobQueue);
  });

  test('GIVEN a cluster without a store, a duplicate job or an unknown team WHEN used THEN a ValidationError', () => {
    const bare = new GpuTrainingCluster('jobs2', { ...net, profile: dev(), tags: tags(dev()) });
    expect(errorOf(() => bare.addJobDefinition('train', { imageUri: 'repo/train:1' })).prop).toBe('artifactStore');
    expect(errorOf(() => bare.submitJobStatements()).prop).toBe('jobDefinitions');
    const store = new ArtifactStore('jobs3-store', { profile: dev(), tags: tags(dev()) });
    const cluster = new GpuTrainingCluster('jobs3', { ...net, profile: dev(), tags: tags(dev()), artifactStore: store });
    cluster.addJobDefinition('train', { imageUri: 'repo/train:1' });
    expect(errorOf(() => cluster.addJobDefinition('train', { imageUri: 'repo/train:1' })).message).toContain('train');
    expect(errorOf(() => cluster.submitJobStatements('nobody')).prop).toBe('team');
  });
});
