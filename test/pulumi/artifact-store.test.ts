import * as pulumi from '@pulumi/pulumi';
import { errorOf, installMocks, mockArn, one, ofType, promiseOf, resourcesOf } from './support';
import { IamWalk, RequestContext, Statement } from '../support/iam-walk';
import { ArtifactPurpose, DataClassification, EnvironmentProfile, MlopsTags, ValidationError } from 'mlops-constructs';
import { ArtifactStore, principalArnPatterns } from 'mlops-constructs/pulumi';

installMocks();

const dev = () => EnvironmentProfile.dev();
const tags = (profile = dev()) => MlopsTags.of({ project: 'p', environment: profile.name });

describe('Pulumi ArtifactStore', () => {
  test('GIVEN dev WHEN created with defaults THEN every purpose bucket is versioned, KMS-encrypted with the store key, private, TLS-only and logged', async () => {
    new ArtifactStore('store1', { profile: dev(), tags: tags() });
    const resources = await resourcesOf('store1');
    const key = one(resources, 'aws:kms/key:Key');
    expect(key.inputs).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 7 });
    expect(ofType(resources, 'aws:s3/bucket:Bucket')).toHaveLength(4);
    for (const purpose of Object.values(ArtifactPurpose)) {
      const id = `store1-${purpose}`;
      expect(one(resources, 'aws:s3/bucketVersioning:BucketVersioning', `${purpose}-versioning`).inputs)
        .toMatchObject({ bucket: `${id}-id`, versioningConfiguration: { status: 'Enabled' } });
      expect(one(resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', `${purpose}-encryption`).inputs.rules)
        .toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: mockArn(key.type, key.name) }, bucketKeyEnabled: true }]);
      expect(one(resources, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', `${purpose}-public-access-block`).inputs)
        .toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
      expect(one(resources, 'aws:s3/bucketOwnershipControls:BucketOwnershipControls', `${purpose}-ownership`).inputs.rule)
        .toEqual({ objectOwnership: 'BucketOwnerEnforced' });
      const policy = JSON.parse(one(resources, 'aws:s3/bucketPolicy:BucketPolicy', `${purpose}-policy`).inputs.policy);
      const served = purpose === ArtifactPurpose.MODELS
        ? ['Deny:OnlyPromotionWritesServedModels', 'Deny:ServedModelsAreWriteOnce', 'Deny:ServedModelsAreNeverDeletedOrUnlocked'] : [];
      expect(policy.Statement.map((s: { Sid: string; Effect: string }) => `${s.Effect}:${s.Sid}`)).toEqual(['Deny:DenyInsecureTransport', 'Deny:DenyOutdatedTLS', ...served]);
      if (purpose === ArtifactPurpose.MODELS) {
        expect(policy.Statement[2]).toMatchObject({
          Resource: `${mockArn('aws:s3/bucket:Bucket', 'store1-models')}/served/*`, Condition: { ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/store1-promotion' } },
        });
      }
      expect(one(resources, 'aws:s3/bucketLogging:BucketLogging', `${purpose}-logging`).inputs)
        .toMatchObject({ targetBucket: 'store1-access-logs-id', targetPrefix: `s3/${purpose}/` });
      const lifecycle = one(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', `${purpose}-lifecycle`).inputs.rules;
      expect(lifecycle[0]).toMatchObject({
        id: 'noncurrent-versions',
        noncurrentVersionTransitions: [{ noncurrentDays: 30, storageClass: 'STANDARD_IA' }],
        noncurrentVersionExpiration: { noncurrentDays: 90 },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
      });
    }
    // The access-log bucket is SSE-S3 (log delivery requires it) and expires logs after the profile's log retention.
    expect(one(resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', 'access-logs-encryption').inputs.rules[0]
      .applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: 'AES256' });
    expect(one(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', 'access-logs-lifecycle').inputs.rules[0].expiration).toEqual({ days: 14 });
  });

  test('GIVEN a caller key WHEN created THEN buckets use it and no store key is made; tags carry the classification', async () => {
    const { Key } = await import('@pulumi/aws/kms');
    const platformKey = new Key('platform2', { enableKeyRotation: true });
    new ArtifactStore('store2', { profile: dev(), tags: tags(), encryptionKey: platformKey, dataClassification: DataClassification.CONFIDENTIAL });
    const resources = await resourcesOf('store2');
    expect(ofType(resources, 'aws:kms/key:Key')).toHaveLength(0);
    const sse = one(resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', 'models-encryption');
    expect(sse.inputs.rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId).toBe(mockArn('aws:kms/key:Key', 'platform2'));
    expect(one(resources, 'aws:s3/bucket:Bucket', 'store2-models').inputs.tags).toEqual({
      'mlops:project': 'p', 'mlops:environment': 'dev', 'mlops:data-classification': 'confidential',
    });
  });

  test('GIVEN prod WHEN created THEN the profile lifecycle and a 30-day key window apply, and forceDestroy stays off', async () => {
    const prod = EnvironmentProfile.prod();
    new ArtifactStore('store3', { profile: prod, tags: tags(prod) });
    const resources = await resourcesOf('store3');
    expect(one(resources, 'aws:kms/key:Key').inputs.deletionWindowInDays).toBe(30);
    expect(one(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', 'datasets-lifecycle').inputs.rules[0].noncurrentVersionExpiration)
      .toEqual({ noncurrentDays: 365 });
    expect(one(resources, 'aws:s3/bucket:Bucket', 'store3-datasets').inputs.forceDestroy).toBe(false);
  });

  test('GIVEN object lock WHEN created THEN only the models bucket is locked with the given retention', async () => {
    new ArtifactStore('store4', { profile: dev(), tags: tags(), objectLock: { mode: 'COMPLIANCE', retentionDays: 365 }, retentionDays: 400 });
    const resources = await resourcesOf('store4');
    expect(one(resources, 'aws:s3/bucket:Bucket', 'store4-models').inputs.objectLockEnabled).toBe(true);
    expect(one(resources, 'aws:s3/bucket:Bucket', 'store4-datasets').inputs.objectLockEnabled).toBeUndefined();
    expect(ofType(resources, 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration')).toHaveLength(1);
    expect(one(resources, 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration').inputs.rule)
      .toEqual({ defaultRetention: { mode: 'COMPLIANCE', days: 365 } });
    expect(one(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', 'models-lifecycle').inputs.rules[1])
      .toMatchObject({ id: 'retention', expiration: { days: 400 } });
  });

  test('GIVEN autoDeleteObjects in prod WHEN created THEN a ValidationError names the prop and the fix', () => {
    expect(() => new ArtifactStore('store5', { profile: EnvironmentProfile.prod(), autoDeleteObjects: true }))
      .toThrow(ValidationError);
    expect(() => new ArtifactStore('store6', { profile: EnvironmentProfile.prod(), autoDeleteObjects: true }))
      .toThrow(/mlops:aws:ArtifactStore\(store6\): 'autoDeleteObjects' cannot be used .* Fix: remove 'autoDeleteObjects'/);
  });
});

describe('Pulumi ArtifactStore served models (docs/design/served-models.md)', () => {
  const served = `${mockArn('aws:s3/bucket:Bucket', 'store7-models')}/served/fraud/v3/model.tar.gz`;
  const candidate = `${mockArn('aws:s3/bucket:Bucket', 'store7-models')}/candidates/fraud/run-1/model.tar.gz`;
  // A request over TLS 1.3, as every SDK sends it; a create-only put carries If-None-Match: *.
  const tls = { 'aws:SecureTransport': true, 's3:TlsVersion': '1.3' };
  const createOnly = { ...tls, 's3:ObjectCreationOperation': true, 's3:if-none-match': '*' };
  let walk: IamWalk;
  let bucketPolicy: Statement[];
  let promotionArn: string;

  beforeAll(async () => {
    const store = new ArtifactStore('store7', { profile: dev(), tags: tags() });
    promotionArn = await promiseOf(store.promotionRoleArn);
    const grants = await promiseOf(pulumi.output(store.grantStatements('read-write', ArtifactPurpose.MODELS)));
    const policy = JSON.parse(one(await resourcesOf('store7'), 'aws:s3/bucketPolicy:BucketPolicy', 'models-policy').inputs.policy);
    // Principals in the store's account: one granted read-write on the whole models bucket (the broadest grant), one
    // allowed every S3 action (an administrator), and the promotion role with the same grant.
    const role = (name: string, statements: unknown[]) => ({
      Type: 'AWS::IAM::Role', Properties: { RoleName: name, AssumeRolePolicyDocument: { Statement: [] }, Policies: [{ PolicyDocument: { Statement: statements } }] },
    });
    walk = new IamWalk([{
      name: 'P',
      json: {
        Resources: {
          Writer: role('writer', grants),
          Admin: role('admin', [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]),
          Promotion: role('store7-promotion', grants),
        },
      },
    }]);
    bucketPolicy = walk.statements('P', policy);
  });

  const can = (who: 'Writer' | 'Admin' | 'Promotion', action: string, resource: string, context: RequestContext = tls) => walk.allows(walk.role(who), action, resource, {
    ...context, 'aws:PrincipalArn': who === 'Promotion' ? promotionArn : `arn:aws:iam::123456789012:role/${who.toLowerCase()}`,
  }, bucketPolicy);

  test('GIVEN the store WHEN any principal but the promotion role puts an object under served/ THEN the bucket policy denies it, whatever its grants', () => {
    expect(promotionArn).toBe('arn:aws:iam::123456789012:role/store7-promotion');
    expect(can('Writer', 's3:PutObject', served, createOnly)).toBe(false);
    expect(can('Admin', 's3:PutObject', served, createOnly)).toBe(false);
    expect(can('Promotion', 's3:PutObject', served, createOnly)).toBe(true);
    // Training writes candidates, which the same grant still allows.
    expect(can('Writer', 's3:PutObject', candidate, { ...tls, 's3:ObjectCreationOperation': true })).toBe(true);
  });

  test('GIVEN a served version WHEN anyone (the promotion role too) overwrites, deletes or unlocks it THEN denied: served versions are written once', () => {
    expect(can('Promotion', 's3:PutObject', served, { ...tls, 's3:ObjectCreationOperation': true })).toBe(false);
    for (const who of ['Writer', 'Admin', 'Promotion'] as const) {
      for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:PutObjectLegalHold', 's3:BypassGovernanceRetention']) {
        expect([who, action, can(who, action, served)]).toEqual([who, action, false]);
      }
    }
  });

  test('GIVEN defaults WHEN created THEN the models bucket is under Object Lock (GOVERNANCE, the noncurrent-version days); with autoDeleteObjects in dev it is not', async () => {
    const resources = await resourcesOf('store7');
    expect(one(resources, 'aws:s3/bucket:Bucket', 'store7-models').inputs.objectLockEnabled).toBe(true);
    expect(ofType(resources, 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration').map((l) => [l.name, l.inputs.rule])).toEqual([
      ['store7-models-object-lock', { defaultRetention: { mode: 'GOVERNANCE', days: dev().noncurrentVersionExpirationDays } }],
    ]);
    new ArtifactStore('store8', { profile: dev(), tags: tags(), autoDeleteObjects: true });
    expect(ofType(await resourcesOf('store8'), 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration')).toEqual([]);
  });

  test('GIVEN autoDeleteObjects in dev WHEN `pulumi destroy` empties the models bucket THEN whoever runs the program may delete served versions, nobody else (as the CDK store exempts its auto-delete function alone)', async () => {
    new ArtifactStore('store11', { profile: dev(), tags: tags(), autoDeleteObjects: true });
    new ArtifactStore('store12', { profile: dev(), tags: tags(), autoDeleteObjects: true, emptiedBy: ['arn:aws:iam::123456789012:role/ci-*'] });
    const admin = { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [] }, Policies: [{ PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } }] } };
    const storeWalk = new IamWalk([{ name: 'P', json: { Resources: { Admin: admin } } }]);
    const mayDelete = async (store: string, principalArn: string) => {
      const resources = await resourcesOf(store);
      expect(one(resources, 'aws:s3/bucket:Bucket', `${store}-models`).inputs.forceDestroy).toBe(true);
      const policy = storeWalk.statements('P', JSON.parse(one(resources, 'aws:s3/bucketPolicy:BucketPolicy', `${store}-models-policy`).inputs.policy));
      const object = `${mockArn('aws:s3/bucket:Bucket', `${store}-models`)}/served/fraud/v3/model.tar.gz`;
      return ['s3:DeleteObject', 's3:DeleteObjectVersion'].map((action) => storeWalk.allows(storeWalk.role('Admin'), action, object, { ...tls, 'aws:PrincipalArn': principalArn }, policy));
    };
    // The mocks' caller is arn:aws:iam::123456789012:user/test.
    expect(await mayDelete('store11', 'arn:aws:iam::123456789012:user/test')).toEqual([true, true]);
    expect(await mayDelete('store11', 'arn:aws:iam::123456789012:role/admin')).toEqual([false, false]);
    expect(await mayDelete('store12', 'arn:aws:iam::123456789012:role/ci-deployer')).toEqual([true, true]);
    expect(await mayDelete('store12', 'arn:aws:iam::123456789012:user/test')).toEqual([false, false]);
    // Overwrites stay denied to everyone: the exemption is for emptying the bucket only.
    const policy = storeWalk.statements('P', JSON.parse(one(await resourcesOf('store11'), 'aws:s3/bucketPolicy:BucketPolicy', 'store11-models-policy').inputs.policy));
    expect(storeWalk.allows(storeWalk.role('Admin'), 's3:PutObject', `${mockArn('aws:s3/bucket:Bucket', 'store11-models')}/served/fraud/v3/model.tar.gz`,
      { ...createOnly, 'aws:PrincipalArn': 'arn:aws:iam::123456789012:user/test' }, policy)).toBe(false);
  });

  test('GIVEN an assumed-role session WHEN it runs the program THEN its role is exempt, with or without a path (IAM Identity Center roles have one)', () => {
    expect(principalArnPatterns('arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/jane@example.com')).toEqual([
      'arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123', 'arn:aws:iam::123456789012:role/*/AWSReservedSSO_Admin_0123',
    ]);
    expect(principalArnPatterns('arn:aws-us-gov:iam::123456789012:user/ops/jane')).toEqual(['arn:aws-us-gov:iam::123456789012:user/ops/jane']);
  });

  test('GIVEN emptiedBy without autoDeleteObjects, or naming nobody WHEN created THEN a ValidationError names the prop and the fix', () => {
    const useless = errorOf(() => new ArtifactStore('store13', { profile: dev(), tags: tags(), emptiedBy: ['arn:aws:iam::123456789012:role/ci'] }));
    expect(useless).toBeInstanceOf(ValidationError);
    expect(useless.prop).toBe('emptiedBy');
    expect(useless.fix).toMatch(/autoDeleteObjects: true/);
    const nobody = errorOf(() => new ArtifactStore('store14', { profile: dev(), tags: tags(), autoDeleteObjects: true, emptiedBy: [] }));
    expect([nobody.prop, nobody.problem]).toEqual(['emptiedBy', 'names nobody, so `pulumi destroy` could not empty the models bucket']);
  });

  test('GIVEN a grant to write below served/ WHEN asked THEN a ValidationError points to candidates/ and ModelPromotion', () => {
    const store = new ArtifactStore('store9', { profile: dev(), tags: tags() });
    const error = errorOf(() => store.grantStatements('read-write', ArtifactPurpose.MODELS, 'served/fraud/'));
    expect(error).toBeInstanceOf(ValidationError);
    expect([error.prop, error.value]).toEqual(['prefix', 'served/fraud/']);
    expect(error.fix).toMatch(/candidates\/<model>\/.*ModelPromotion/);
    expect(store.grantStatements('read', ArtifactPurpose.MODELS, 'served/fraud/')).toHaveLength(3);
    expect(errorOf(() => new ArtifactStore('store10', { profile: dev(), promotionRoleName: 'x'.repeat(65) })).prop).toBe('promotionRoleName');
  });
});
