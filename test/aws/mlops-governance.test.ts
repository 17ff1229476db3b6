import { Duration, Stack, Tags } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { ACCOUNT, IamWalk } from '../support/iam-walk';
import {
  applyCompliancePacks, ArtifactPurpose, ArtifactStore, BRAKE, EnvironmentProfile, ImageRepository, MlopsGovernance, MlopsStack, ModelRegistry,
  PlatformKey, PlatformNetwork, ValidationError,
} from 'mlops-constructs';

const REGION = 'us-east-1';

function stackFor(profile: EnvironmentProfile): MlopsStack {
  return new MlopsStack(newApp(), profile.name === 'dev' ? 'Dev' : 'Prod', { profile, project: 'p', env: { region: REGION } });
}

const devStack = () => stackFor(EnvironmentProfile.dev());
const prodStack = () => stackFor(EnvironmentProfile.prod());

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.resolve((construct.node.defaultChild as any).logicalId);
}

function resourceOf(stack: Stack, construct: { node: { defaultChild?: unknown } }): any {
  return Template.fromStack(stack).toJSON().Resources[logicalId(stack, construct)];
}

/** Every statement of a persona's customer managed policy. */
function personaStatements(stack: Stack, role: iam.Role): any[] {
  const roleId = logicalId(stack, role);
  const policies = Template.fromStack(stack).findResources('AWS::IAM::ManagedPolicy', {
    Properties: { Roles: [{ Ref: roleId }] },
  });
  return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(statements: any[], effect = 'Allow'): string[] {
  return statements.filter((s) => s.Effect === effect).flatMap((s) => [].concat(s.Action ?? []));
}

/** The platform pieces the personas work with, wired as in the reference environments. */
function platform(stack: Stack) {
  const platformKey = new PlatformKey(stack, 'PlatformKey');
  const artifactStore = new ArtifactStore(stack, 'ArtifactStore', { encryptionKey: platformKey.key });
  const trainingImages = new ImageRepository(stack, 'TrainingImages', { repositoryName: 'p/training', encryptionKey: platformKey.key });
  const servingImages = new ImageRepository(stack, 'ServingImages', { repositoryName: 'p/serving', encryptionKey: platformKey.key });
  const network = new PlatformNetwork(stack, 'Network', { encryptionKey: platformKey.key });
  const modelRegistry = new ModelRegistry(stack, 'ModelRegistry', { vpc: network.vpc, encryptionKey: platformKey.key });
  return { platformKey, artifactStore, trainingImages, servingImages, modelRegistry };
}

describe('MlopsGovernance defaults', () => {
  test('creates four persona roles trusted by the account root with MFA, one hour sessions, each bounded', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const boundaryId = logicalId(stack, gov.permissionBoundary);
    for (const role of [gov.dataScientist, gov.mlEngineer, gov.platformOperator, gov.auditor]) {
      const r = resourceOf(stack, role);
      expect(r.Properties.MaxSessionDuration).toBe(3600);
      expect(r.Properties.PermissionsBoundary).toEqual({ Ref: boundaryId });
      expect(r.Properties.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({
        Action: 'sts:AssumeRole',
        Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
        Principal: { AWS: { 'Fn::Join': ['', ['arn:aws:iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
      })]);
    }
  });

  test('the trail is multi-region, validated, KMS-encrypted, logging to CloudWatch Logs and its bucket', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsLogging: true,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      KMSKeyId: { 'Fn::GetAtt': [logicalId(stack, gov.encryptionKey as any), 'Arn'] },
      S3BucketName: { Ref: logicalId(stack, gov.trailBucket) },
      CloudWatchLogsLogGroupArn: { 'Fn::GetAtt': [logicalId(stack, gov.trailLogGroup), 'Arn'] },
      EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true }],
    });
    const trail = resourceOf(stack, { node: { defaultChild: gov.trail } });
    expect(trail.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/TrailBucketPolicy/), expect.stringMatching(/TrailDeliveryPolicy/)]));
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('dev: trail bucket and logs keep the profile log retention and are destroyed with the stack', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const bucket = resourceOf(stack, gov.trailBucket);
    expect(bucket.DeletionPolicy).toBe('Delete');
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ Id: 'trail-retention', ExpirationInDays: 14, NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
    ]));
    const logGroup = resourceOf(stack, gov.trailLogGroup);
    expect(logGroup.Properties.RetentionInDays).toBe(14);
    expect(logGroup.DeletionPolicy).toBe('Delete');
  });

  test('prod: trail bucket, logs and key are retained; log files kept 7 years, logs 365 days', () => {
    const stack = prodStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const bucket = resourceOf(stack, gov.trailBucket);
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ Id: 'trail-retention', ExpirationInDays: 2557 }),
    ]));
    expect(resourceOf(stack, gov.trailLogGroup)).toEqual(expect.objectContaining({ DeletionPolicy: 'Retain', Properties: expect.objectContaining({ RetentionInDays: 365 }) }));
    expect(resourceOf(stack, gov.encryptionKey as any)).toEqual(expect.objectContaining({ DeletionPolicy: 'Retain', Properties: expect.objectContaining({ PendingWindowInDays: 30 }) }));
  });

  test('the trail bucket is TLS-only and only CloudTrail of this trail may write to it', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const trailArn = stack.resolve(gov.trailArn);
    Template.fromStack(stack).hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(stack, gov.trailBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Sid: 'AllowCloudTrailWrite', Action: 's3:PutObject', Condition: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': trailArn } } }),
        ]),
      },
    });
  });

  test('the permission boundary is a cap: a role granted everything may use only the platform\'s services and never escalate', () => {
    const stack = stackFor(EnvironmentProfile.dev());
    const gov = new MlopsGovernance(stack, 'Governance');
    // A role of the stack whose own policy allows everything (a user's mistake, or an attacker's wish).
    const anything = new iam.Role(stack, 'Anything', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    anything.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['*'], resources: ['*'] }));
    const controller = new iam.Role(stack, 'Controller', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
    controller.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['*'], resources: ['*'] }));
    Tags.of(controller).add(BRAKE.controllerTagKey, 'true');
    gov.applyBoundaryTo(stack);
    const walk = new IamWalk([{ name: 'Dev', json: Template.fromStack(stack).toJSON() }]);
    const role = walk.role(/^Anything/);
    const brakeController = walk.role(/^Controller/);
    expect(role.boundaryArn).toBe(`{Dev:${logicalId(stack, gov.permissionBoundary)}}`);
    const can = (action: string, resource = '*', context = {}) => walk.allows(role, action, resource, { 'aws:RequestedRegion': REGION, ...context });
    // Within the cap.
    expect(can('s3:GetObject', 'arn:aws:s3:::data/x')).toBe(true);
    expect(can('autoscaling:UpdateAutoScalingGroup')).toBe(true);
    expect(can('kms:CreateGrant', '*', { 'kms:GrantIsForAWSResource': 'true' })).toBe(true);
    // Outside it, or denied whatever the identity policy says.
    for (const action of ['ec2:RunInstances', 'iam:PutRolePolicy', 'iam:CreateRole', 'iam:UpdateAssumeRolePolicy', 'iam:DeleteRolePermissionsBoundary',
      'iam:CreatePolicyVersion', 'iam:CreateAccessKey', 'sts:AssumeRole', 's3:PutBucketPolicy', 's3:DeleteBucket', 's3:DeleteObjectVersion',
      'kms:ScheduleKeyDeletion', 'cloudtrail:StopLogging', 'cloudwatch:DisableAlarmActions', 'cloudwatch:SetAlarmState', 'cloudwatch:DeleteAlarms']) {
      expect([action, can(action)]).toEqual([action, false]);
    }
    expect(can('kms:CreateGrant')).toBe(false);
    expect(can('s3:GetObject', 'arn:aws:s3:::data/x', { 'aws:RequestedRegion': 'eu-west-1' })).toBe(false);
    // Attaching: no policy at all, but the brake's deny policy, and that only by the brake's own role.
    const brakePolicy = `arn:aws:iam::${ACCOUNT}:policy${BRAKE.policyPath}deny`;
    expect(can('iam:AttachRolePolicy', 'arn:aws:iam::123456789012:role/x', { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' })).toBe(false);
    expect(can('iam:DetachRolePolicy', 'arn:aws:iam::123456789012:role/x', { 'iam:PolicyARN': brakePolicy })).toBe(false);
    expect(walk.allows(brakeController, 'iam:DetachRolePolicy', 'arn:aws:iam::123456789012:role/x', { 'iam:PolicyARN': brakePolicy, 'aws:RequestedRegion': REGION })).toBe(true);
    expect(walk.allows(brakeController, 'iam:AttachRolePolicy', 'arn:aws:iam::123456789012:role/x', {
      'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess', 'aws:RequestedRegion': REGION,
    })).toBe(false);
    // Capacity the brake capped: only the brake's role may raise it or touch its tag.
    const braked = { [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue };
    expect(can('autoscaling:UpdateAutoScalingGroup', '*', braked)).toBe(false);
    expect(can('sagemaker:UpdateEndpointWeightsAndCapacities', '*', braked)).toBe(false);
    expect(can('autoscaling:DeleteTags', '*', { 'aws:TagKeys': [BRAKE.tagKey] })).toBe(false);
    expect(walk.allows(brakeController, 'autoscaling:UpdateAutoScalingGroup', '*', { ...braked, 'aws:RequestedRegion': REGION })).toBe(true);
    // Passing roles: the environment's only (this stack's name prefix, or both environment tags).
    expect(can('iam:PassRole', 'arn:aws:iam::123456789012:role/Dev-Training-abc')).toBe(true);
    expect(can('iam:PassRole', 'arn:aws:iam::123456789012:role/other-admin')).toBe(false);
    expect(can('iam:PassRole', 'arn:aws:iam::123456789012:role/other-admin', { 'aws:ResourceTag/mlops:environment': 'dev', 'aws:ResourceTag/mlops:project': 'p' })).toBe(true);
    // No acknowledgement of admin or full access is needed any more.
    const acknowledged = JSON.stringify(gov.permissionBoundary.node.metadata);
    expect(acknowledged).not.toMatch(/NoStatementsWithAdminAccess|NoStatementsWithFullAccess|IAM5\[Action::\*\]/);
  });

  test('the trail\'s log files cannot be deleted by anyone (bucket policy)', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const statements = Template.fromStack(stack).toJSON().Resources[logicalId(stack, gov.trailBucket.policy!)].Properties.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({
      Sid: 'DenyDeletingTrailLogs', Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
    })]));
  });

  test('the platform operator observes and operates only this environment; the auditor gets SecurityAudit and the trail', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const operator = personaStatements(stack, gov.platformOperator);
    expect(operator).toEqual(expect.arrayContaining([expect.objectContaining({
      Sid: 'OperateThisEnvironment', Condition: { StringEquals: { 'aws:ResourceTag/mlops:environment': 'dev' } },
    })]));
    expect(actionsOf(operator)).not.toEqual(expect.arrayContaining([expect.stringMatching(/^s3:GetObject|secretsmanager:GetSecretValue|rds-db:connect/)]));
    const auditorRole = resourceOf(stack, gov.auditor);
    expect(JSON.stringify(auditorRole.Properties.ManagedPolicyArns)).toContain(':iam::aws:policy/SecurityAudit');
    const auditor = personaStatements(stack, gov.auditor);
    expect(auditor).toEqual(expect.arrayContaining([
      expect.objectContaining({ Sid: 'ReadTrailBucket', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack, gov.trailBucket), 'Arn'] }, '/AWSLogs/*']] } }),
      expect.objectContaining({ Action: 'kms:Decrypt', Condition: expect.objectContaining({ StringEquals: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } }) }),
    ]));
  });
});

describe('MlopsGovernance options', () => {
  test('trustedPrincipal and personaPrincipals replace the MFA-conditioned root; maxSessionDuration applies', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance', {
      trustedPrincipal: new iam.AccountPrincipal('111111111111'),
      personaPrincipals: { auditor: new iam.ArnPrincipal('arn:aws:iam::222222222222:role/AuditorSso') },
      maxSessionDuration: Duration.hours(4),
    });
    const trust = (role: iam.Role) => resourceOf(stack, role).Properties.AssumeRolePolicyDocument.Statement[0];
    expect(trust(gov.dataScientist).Condition).toBeUndefined();
    expect(JSON.stringify(trust(gov.dataScientist).Principal)).toContain('111111111111');
    expect(trust(gov.auditor).Principal).toEqual({ AWS: 'arn:aws:iam::222222222222:role/AuditorSso' });
    expect(resourceOf(stack, gov.mlEngineer).Properties.MaxSessionDuration).toBe(14400);
  });

  test('encryptionKey, trailName, retention days and allowedRegions are used as given', () => {
    const stack = prodStack();
    const key = new PlatformKey(stack, 'PlatformKey');
    const gov = new MlopsGovernance(stack, 'Governance', {
      encryptionKey: key.key, trailName: 'org-audit', trailRetentionDays: 3650, logRetentionDays: 731, allowedRegions: ['us-east-1', 'eu-west-1'],
    });
    expect(gov.encryptionKey).toBe(key.key);
    Template.fromStack(stack).resourceCountIs('AWS::KMS::Key', 1);
    Template.fromStack(stack).hasResourceProperties('AWS::CloudTrail::Trail', {
      TrailName: 'org-audit', KMSKeyId: { 'Fn::GetAtt': [logicalId(stack, key.key), 'Arn'] },
    });
    // The key policy lets CloudTrail (this trail only) encrypt.
    Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'AllowCloudTrailToEncryptLogs', Action: 'kms:GenerateDataKey*' })]) },
    });
    expect(resourceOf(stack, gov.trailBucket).Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(3650);
    expect(resourceOf(stack, gov.trailLogGroup).Properties.RetentionInDays).toBe(731);
    const regions = resourceOf(stack, gov.permissionBoundary).Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'DenyOtherRegions');
    expect(regions.Condition).toEqual({ StringNotEquals: { 'aws:RequestedRegion': ['us-east-1', 'eu-west-1'] } });
  });

  test('artifactStore adds S3 data events for datasets and models; its access-log bucket is reused', () => {
    const stack = devStack();
    const { artifactStore } = platform(stack);
    const gov = new MlopsGovernance(stack, 'Governance', { artifactStore });
    const trail = resourceOf(stack, { node: { defaultChild: gov.trail } });
    const values = trail.Properties.EventSelectors[0].DataResources[0];
    expect(values.Type).toBe('AWS::S3::Object');
    expect(values.Values).toEqual([ArtifactPurpose.DATASETS, ArtifactPurpose.MODELS].map((p) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack, artifactStore.bucket(p)), 'Arn'] }, '/']],
    })));
    expect(resourceOf(stack, gov.trailBucket).Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logicalId(stack, artifactStore.accessLogBucket) }, LogFilePrefix: 's3/cloudtrail/',
    });
    // Calling addS3DataEvents again adds nothing twice.
    gov.addS3DataEvents(artifactStore);
    expect(resourceOf(stack, { node: { defaultChild: gov.trail } }).Properties.EventSelectors[0].DataResources[0].Values).toHaveLength(2);
  });

  test('grantPersonas: least privilege per persona through the constructs\' grants', () => {
    const stack = devStack();
    const p = platform(stack);
    const gov = new MlopsGovernance(stack, 'Governance');
    gov.grantPersonas({
      artifactStore: p.artifactStore, modelRegistry: p.modelRegistry, trainingImages: p.trainingImages, servingImages: p.servingImages,
    });
    const objects = (purpose: ArtifactPurpose, suffix: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack, p.artifactStore.bucket(purpose)), 'Arn'] }, suffix]],
    });
    const scientist = personaStatements(stack, gov.dataScientist);
    const allowing = (statements: any[], action: string) => statements.filter((s) => s.Effect === 'Allow' && ([] as string[]).concat(s.Action).includes(action));
    const writes = (statements: any[]) => allowing(statements, 's3:PutObject').map((s) => s.Resource);
    expect(writes(scientist)).toEqual([objects(ArtifactPurpose.ARTIFACTS, '/experiments/*')]);
    const reads = (statements: any[]) => allowing(statements, 's3:GetObject').flatMap((s) => [].concat(s.Resource));
    expect(reads(scientist)).toEqual(expect.arrayContaining([objects(ArtifactPurpose.DATASETS, '/*'), objects(ArtifactPurpose.ARTIFACTS, '/experiments/*')]));
    expect(reads(scientist)).toHaveLength(2);
    expect(actionsOf(scientist)).toEqual(expect.arrayContaining(['ecr:BatchGetImage']));
    expect(actionsOf(scientist)).not.toEqual(expect.arrayContaining(['ecr:PutImage', 'rds-db:connect']));

    const engineer = personaStatements(stack, gov.mlEngineer);
    // ML engineers write candidates, never what production serves (served/ is the promotion role's).
    expect(writes(engineer)).toEqual([objects(ArtifactPurpose.MODELS, '/candidates/*')]);
    expect(reads(engineer)).toEqual(expect.arrayContaining([objects(ArtifactPurpose.DATASETS, '/*'), objects(ArtifactPurpose.MODELS, '/*')]));
    expect(actionsOf(engineer)).toEqual(expect.arrayContaining(['ecr:PutImage', 'ecr:BatchGetImage', 'rds-db:connect']));
    expect(JSON.stringify(engineer.find((s) => s.Action === 'rds-db:connect').Resource)).toContain('/ml_engineer');

    for (const role of [gov.platformOperator, gov.auditor]) {
      const statements = personaStatements(stack, role);
      expect(statements).toEqual(expect.arrayContaining([
        expect.objectContaining({ Sid: 'DenyArtifactObjectReads', Effect: 'Deny', Action: expect.arrayContaining(['s3:GetObject']) }),
        expect.objectContaining({ Sid: 'DenyRegistryData', Effect: 'Deny', Action: ['rds-db:connect', 'secretsmanager:GetSecretValue'] }),
      ]));
      expect(writes(statements)).toEqual([]);
    }
  });

  test('mlEngineerDatabaseUser names the database user the ML engineer connects as', () => {
    const stack = devStack();
    const p = platform(stack);
    const gov = new MlopsGovernance(stack, 'Governance', { mlEngineerDatabaseUser: 'model_publisher' });
    gov.grantPersonas({ modelRegistry: p.modelRegistry });
    const engineer = personaStatements(stack, gov.mlEngineer);
    expect(JSON.stringify(engineer.find((s) => s.Action === 'rds-db:connect').Resource)).toContain('/model_publisher');
  });

  test('applyBoundaryTo bounds the roles below the scope it is given, and only those', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    const other = new iam.Role(stack, 'JobRole', { assumedBy: new iam.ServicePrincipal('batch.amazonaws.com') });
    const unbounded = new iam.Role(stack, 'Unbounded', { assumedBy: new iam.ServicePrincipal('batch.amazonaws.com') });
    gov.applyBoundaryTo(other);
    expect(resourceOf(stack, other).Properties.PermissionsBoundary).toEqual({ Ref: logicalId(stack, gov.permissionBoundary) });
    expect(resourceOf(stack, unbounded).Properties.PermissionsBoundary).toBeUndefined();
  });

  test('applyBoundaryTo(stack) bounds every role of the stack, including ones added later', () => {
    const stack = devStack();
    const gov = new MlopsGovernance(stack, 'Governance');
    gov.applyBoundaryTo(stack);
    const later = new iam.Role(stack, 'Later', { assumedBy: new iam.ServicePrincipal('batch.amazonaws.com') });
    expect(resourceOf(stack, later).Properties.PermissionsBoundary).toEqual({ Ref: logicalId(stack, gov.permissionBoundary) });
  });
});

describe('MlopsGovernance bad input', () => {
  const cases: Array<[string, (stack: Stack) => void, RegExp]> = [
    ['maxSessionDuration', (s) => new MlopsGovernance(s, 'G', { maxSessionDuration: Duration.hours(13) }), /'maxSessionDuration' .*13.*Duration\.hours\(1\)/],
    ['trailRetentionDays', (s) => new MlopsGovernance(s, 'G', { trailRetentionDays: 0 }), /'trailRetentionDays' must be a whole number between 1 and 36500 \(received 0\)/],
    ['logRetentionDays', (s) => new MlopsGovernance(s, 'G', { logRetentionDays: 10 }), /'logRetentionDays' must be one of .*\(received 10\)\. Fix: use a value CloudWatch Logs accepts/],
    ['allowedRegions', (s) => new MlopsGovernance(s, 'G', { allowedRegions: [] }), /'allowedRegions' must name at least one region/],
    ['allowedRegions[1]', (s) => new MlopsGovernance(s, 'G', { allowedRegions: ['us-east-1', 'Europe'] }), /'allowedRegions\[1\]' must be a region name .*"Europe"/],
    ['trailName', (s) => new MlopsGovernance(s, 'G', { trailName: '-bad name' }), /'trailName' must be 3-128 letters/],
    ['mlEngineerDatabaseUser', (s) => new MlopsGovernance(s, 'G', { mlEngineerDatabaseUser: 'ML-Engineer' }), /'mlEngineerDatabaseUser' must be a PostgreSQL user name/],
    ['resources', (s) => new MlopsGovernance(s, 'G').grantPersonas({}), /'resources' must name at least one of artifactStore.*Fix: pass the pieces/],
  ];
  test.each(cases)('%s', (_prop, build, message) => {
    const stack = devStack();
    let error: unknown;
    try {
      build(stack);
    } catch (e) {
      error = e;
    }
    expect(ValidationError.isValidationError(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/^Dev\/G: /);
  });
});

describe('MlopsGovernance is cfn-lint and cdk-nag clean', () => {
  test.each([['dev', EnvironmentProfile.dev()], ['prod', EnvironmentProfile.prod()]])('with only required props (%s)', (_name, profile) => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Gov', { profile, project: 'p', env: { region: REGION } });
    new MlopsGovernance(stack, 'Governance');
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test.each([['dev', EnvironmentProfile.dev()], ['prod', EnvironmentProfile.prod()]])('wired to the platform with personas granted (%s)', (_name, profile) => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Gov', { profile, project: 'p', env: { region: REGION } });
    const p = platform(stack);
    const gov = new MlopsGovernance(stack, 'Governance', { encryptionKey: p.platformKey.key, artifactStore: p.artifactStore });
    gov.grantPersonas({
      artifactStore: p.artifactStore, modelRegistry: p.modelRegistry, trainingImages: p.trainingImages, servingImages: p.servingImages,
    });
    gov.applyBoundaryTo(stack);
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});
