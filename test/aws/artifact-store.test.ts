import { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactPurpose, ArtifactStore, ArtifactStoreProps, DataClassification, EnvironmentProfile, MlopsStack, ValidationError,
} from 'mlops-constructs';

const REGION = 'us-east-1';
const DEST_KEY = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function stackFor(profile: EnvironmentProfile, props: { dataClassification?: DataClassification } = {}): MlopsStack {
  return new MlopsStack(newApp(), profile.name === 'dev' ? 'Dev' : 'Prod', { profile, project: 'p', env: { region: REGION }, ...props });
}

function devStack(): MlopsStack {
  return stackFor(EnvironmentProfile.dev());
}

function prodStack(): MlopsStack {
  return stackFor(EnvironmentProfile.prod());
}

function logicalId(construct: { node: { defaultChild?: unknown } } | CfnElement): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild as CfnElement;
  return Stack.of(element).resolve(element.logicalId);
}

/** Properties (and policies) of the bucket of one purpose, or of the access-log bucket. */
function bucketResource(stack: Stack, bucket: s3.IBucket): any {
  return Template.fromStack(stack).toJSON().Resources[logicalId(bucket as s3.Bucket)];
}

const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const objectsOf = (id: string, suffix = '/*') => ({ 'Fn::Join': ['', [arnOf(id), suffix]] });

describe('ArtifactStore defaults', () => {
  test('creates one KMS-encrypted, versioned, private, logged bucket per purpose and an access-log bucket', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 4);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const keyId = logicalId(store.encryptionKey as kms.Key);
    for (const purpose of Object.values(ArtifactPurpose)) {
      expect(bucketResource(stack, store.bucket(purpose)).Properties).toEqual(expect.objectContaining({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(keyId) },
          }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(store.accessLogBucket) }, LogFilePrefix: `s3/${purpose}/` },
      }));
    }
    // Every bucket's object events go to EventBridge (CT.S3.PR.4), access logs included, through the bucket's own
    // configuration: no notification Lambda.
    for (const bucket of [...Object.values(ArtifactPurpose).map((p) => store.bucket(p)), store.accessLogBucket]) {
      expect(bucketResource(stack, bucket).Properties.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    }
    template.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('lifecycle: noncurrent versions to STANDARD_IA and expiry from the profile, multipart uploads aborted after 7 days', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    expect(bucketResource(stack, store.bucket(ArtifactPurpose.MODELS)).Properties.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'noncurrent-versions',
          Status: 'Enabled',
          NoncurrentVersionTransitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
          NoncurrentVersionExpiration: { NoncurrentDays: 90 },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
        },
        { Id: 'remove-expired-delete-markers', Status: 'Enabled', ExpiredObjectDeleteMarker: true },
      ],
    });
  });

  test('every bucket denies requests without TLS and below TLS 1.2', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const template = Template.fromStack(stack);
    for (const bucket of [store.accessLogBucket, ...Object.values(ArtifactPurpose).map((p) => store.bucket(p))]) {
      const id = logicalId(bucket);
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
          ]),
        },
      });
    }
  });

  test('the access-log bucket is SSE-S3 (as log delivery requires), versioned, private and expires logs after the profile log retention', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const props = bucketResource(stack, store.accessLogBucket).Properties;
    expect(props).toEqual(expect.objectContaining({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    }));
    expect(props.LoggingConfiguration).toBeUndefined();
    expect(props.LifecycleConfiguration.Rules[0]).toEqual(expect.objectContaining({
      ExpirationInDays: 14, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
    }));
    // S3 log delivery may write only below s3/<purpose>/ for the store's own buckets.
    Template.fromStack(stack).hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(store.accessLogBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: 'logging.s3.amazonaws.com' },
          Action: 's3:PutObject',
          Resource: objectsOf(logicalId(store.accessLogBucket), '/s3/models/*'),
        })]),
      },
    });
  });

  test('tags the store with the stack classification by default', () => {
    const stack = stackFor(EnvironmentProfile.dev(), { dataClassification: DataClassification.CONFIDENTIAL });
    const store = new ArtifactStore(stack, 'Store');
    expect(store.dataClassification).toBe(DataClassification.CONFIDENTIAL);
    Template.fromStack(stack).allResourcesProperties('AWS::S3::Bucket', {
      Tags: Match.arrayWith([{ Key: 'mlops:data-classification', Value: 'confidential' }]),
    });
  });

  test('tags each purpose bucket with mlops:purpose (the MlopsChecks contract), not the access-log bucket', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    for (const purpose of [ArtifactPurpose.DATASETS, ArtifactPurpose.MODELS, ArtifactPurpose.ARTIFACTS]) {
      expect(bucketResource(stack, store.bucket(purpose)).Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'mlops:purpose', Value: purpose }]));
    }
    expect(bucketResource(stack, store.accessLogBucket).Properties.Tags).not.toEqual(expect.arrayContaining([expect.objectContaining({ Key: 'mlops:purpose' })]));
  });

  test('s3Uri names the bucket and prefix', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    expect(stack.resolve(store.s3Uri(ArtifactPurpose.DATASETS, 'fraud/v3/'))).toEqual({
      'Fn::Join': ['', ['s3://', { Ref: logicalId(store.bucket(ArtifactPurpose.DATASETS)) }, '/fraud/v3/']],
    });
    expect(stack.resolve(store.s3Uri(ArtifactPurpose.MODELS))).toEqual({
      'Fn::Join': ['', ['s3://', { Ref: logicalId(store.bucket(ArtifactPurpose.MODELS)) }, '/']],
    });
  });
});

describe('ArtifactStore served models: write-once, by the promotion role only, never deleted (claims 1 and 2)', () => {
  const stack = prodStack();
  const store = new ArtifactStore(stack, 'Store');
  const models = bucketResource(stack, store.bucket(ArtifactPurpose.MODELS));
  const policy = Object.values(Template.fromStack(stack).findResources('AWS::S3::BucketPolicy'))
    .find((p: any) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: logicalId(store.bucket(ArtifactPurpose.MODELS)) })) as any;
  const statement = (sid: string) => policy.Properties.PolicyDocument.Statement.find((st: any) => st.Sid === sid);
  const served = objectsOf(logicalId(store.bucket(ArtifactPurpose.MODELS)), '/served/*');

  test('only the promotion role may create objects below served/', () => {
    expect(statement('OnlyPromotionWritesServedModels')).toEqual({
      Sid: 'OnlyPromotionWritesServedModels',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:PutObject',
      Resource: served,
      Condition: { ArnNotLike: { 'aws:PrincipalArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, `:role/${store.promotionRoleName}`]] } } },
    });
    expect(store.promotionRoleName).toMatch(/^Prod-Store-[A-Za-z0-9]+-promotion$/);
    expect(store.promotionRoleName.length).toBeLessThanOrEqual(64);
  });

  test('every put below served/ must be conditional (If-None-Match), so a served key is never overwritten; multipart parts are exempt', () => {
    expect(statement('ServedModelsAreWriteOnce')).toEqual({
      Sid: 'ServedModelsAreWriteOnce',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:PutObject',
      Resource: served,
      Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
    });
  });

  test('nobody deletes, unlocks or replicates over a served version', () => {
    expect(statement('ServedModelsAreNeverDeletedOrUnlocked')).toEqual({
      Sid: 'ServedModelsAreNeverDeletedOrUnlocked',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: ['s3:BypassGovernanceRetention', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectLegalHold', 's3:PutObjectRetention',
        's3:ReplicateDelete', 's3:ReplicateObject'],
      Resource: served,
    });
  });

  test('the models bucket is Object Lock-ed by default: GOVERNANCE for the profile\'s noncurrent expiry (365 days in prod, 90 in dev)', () => {
    expect(models.Properties).toEqual(expect.objectContaining({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } },
    }));
    const dev = devStack();
    const devStore = new ArtifactStore(dev, 'Store');
    expect(bucketResource(dev, devStore.bucket(ArtifactPurpose.MODELS)).Properties.ObjectLockConfiguration.Rule.DefaultRetention).toEqual({ Mode: 'GOVERNANCE', Days: 90 });
    for (const purpose of [ArtifactPurpose.DATASETS, ArtifactPurpose.ARTIFACTS]) {
      expect(bucketResource(dev, devStore.bucket(purpose)).Properties.ObjectLockEnabled).toBeUndefined();
    }
  });

  test('with autoDeleteObjects (dev): no lock, and the auto-delete function alone may empty served/ when the stack goes', () => {
    const dev = devStack();
    const devStore = new ArtifactStore(dev, 'Store', { autoDeleteObjects: true });
    expect(bucketResource(dev, devStore.bucket(ArtifactPurpose.MODELS)).Properties.ObjectLockEnabled).toBeUndefined();
    const devPolicy = Object.values(Template.fromStack(dev).findResources('AWS::S3::BucketPolicy'))
      .map((p: any) => p.Properties.PolicyDocument.Statement).flat().find((st: any) => st.Sid === 'ServedModelsAreNeverDeletedOrUnlocked');
    expect(devPolicy.Condition).toEqual({ ArnNotLike: { 'aws:PrincipalArn': { 'Fn::GetAtt': [expect.stringMatching(/^CustomS3AutoDeleteObjectsCustomResourceProviderRole/), 'Arn'] } } });
  });

  test('a custom promotion role name; URIs of served versions and candidates follow the layout', () => {
    const other = prodStack();
    const custom = new ArtifactStore(other, 'Store', { promotionRoleName: 'fraud-prod-promotion' });
    expect(custom.promotionRoleName).toBe('fraud-prod-promotion');
    const bucket = { Ref: logicalId(custom.bucket(ArtifactPurpose.MODELS)) };
    expect(other.resolve(custom.servedModelUri('fraud', 'v3'))).toEqual({ 'Fn::Join': ['', ['s3://', bucket, '/served/fraud/v3/model.tar.gz']] });
    expect(other.resolve(custom.candidateUri('fraud', 'run-1'))).toEqual({ 'Fn::Join': ['', ['s3://', bucket, '/candidates/fraud/run-1/']] });
  });

  test('a grant to write below served/ is refused at synth time; candidates may be granted', () => {
    const role = new iam.Role(stack, 'Trainer', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    expect(() => store.grantWrite(role, ArtifactPurpose.MODELS, 'served/fraud/')).toThrow(
      /Prod\/Store: 'prefix' is below 'served\/', which only the promotion role writes \(received "served\/fraud\/"\)\. Fix: write candidates to 'candidates\/<model>\/' and promote them with ModelPromotion/);
    expect(() => store.grantReadWrite(role, ArtifactPurpose.MODELS, 'served/')).toThrow(/'prefix' is below 'served\/'/);
    expect(() => store.grantWrite(role, ArtifactPurpose.MODELS, 'candidates/fraud/')).not.toThrow();
  });
});

describe('ArtifactStore per profile', () => {
  test('dev destroys buckets and key with the stack; prod retains them', () => {
    const dev = devStack();
    new ArtifactStore(dev, 'Store');
    const prod = prodStack();
    new ArtifactStore(prod, 'Store');
    const devTemplate = Template.fromStack(dev);
    const prodTemplate = Template.fromStack(prod);
    devTemplate.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    prodTemplate.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    devTemplate.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ PendingWindowInDays: 7 }) });
    prodTemplate.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ PendingWindowInDays: 30 }) });
  });

  test('no auto-delete custom resource by default, in dev or prod', () => {
    const dev = devStack();
    new ArtifactStore(dev, 'Store');
    const prod = prodStack();
    new ArtifactStore(prod, 'Store');
    Template.fromStack(dev).resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    Template.fromStack(prod).resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('prod takes its lifecycle and log retention from the prod profile', () => {
    const stack = prodStack();
    const store = new ArtifactStore(stack, 'Store');
    const rules = bucketResource(stack, store.bucket(ArtifactPurpose.DATASETS)).Properties.LifecycleConfiguration.Rules;
    expect(rules[0]).toEqual(expect.objectContaining({
      NoncurrentVersionTransitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
      NoncurrentVersionExpiration: { NoncurrentDays: 365 },
    }));
    expect(bucketResource(stack, store.accessLogBucket).Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(365);
  });

  test('autoDeleteObjects: true in dev empties every bucket on delete', () => {
    const stack = devStack();
    new ArtifactStore(stack, 'Store', { autoDeleteObjects: true });
    Template.fromStack(stack).resourceCountIs('Custom::S3AutoDeleteObjects', 4);
  });
});

describe('ArtifactStore options', () => {
  test('uses the given encryption key instead of creating one', () => {
    const stack = devStack();
    const key = new kms.Key(stack, 'PlatformKey', { enableKeyRotation: true });
    const store = new ArtifactStore(stack, 'Store', { encryptionKey: key });
    expect(store.encryptionKey).toBe(key);
    Template.fromStack(stack).resourceCountIs('AWS::KMS::Key', 1);
    expect(bucketResource(stack, store.bucket(ArtifactPurpose.MODELS)).Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]
      .ServerSideEncryptionByDefault.KMSMasterKeyID).toEqual(arnOf(logicalId(key)));
  });

  test('lifecycle overrides replace the profile days and the multipart abort', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store', {
      lifecycle: { noncurrentVersionTransitionDays: 45, noncurrentVersionExpirationDays: 400, abortIncompleteMultipartUploadDays: 2 },
    });
    const rules = bucketResource(stack, store.bucket(ArtifactPurpose.ARTIFACTS)).Properties.LifecycleConfiguration.Rules;
    expect(rules[0]).toEqual(expect.objectContaining({
      NoncurrentVersionTransitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 45 }],
      NoncurrentVersionExpiration: { NoncurrentDays: 400 },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
    }));
  });

  test('Object Lock: the given retention, on the models bucket when no purposes are named', () => {
    const stack = prodStack();
    const store = new ArtifactStore(stack, 'Store', { objectLock: { mode: s3.ObjectLockMode.GOVERNANCE, retentionDays: 365 } });
    expect(bucketResource(stack, store.bucket(ArtifactPurpose.MODELS)).Properties).toEqual(expect.objectContaining({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } },
    }));
    for (const purpose of [ArtifactPurpose.DATASETS, ArtifactPurpose.ARTIFACTS]) {
      expect(bucketResource(stack, store.bucket(purpose)).Properties.ObjectLockEnabled).toBeUndefined();
    }
  });

  test('Object Lock in COMPLIANCE mode for the purposes given', () => {
    const stack = prodStack();
    const purposes = [ArtifactPurpose.MODELS, ArtifactPurpose.ARTIFACTS];
    const store = new ArtifactStore(stack, 'Store', { objectLock: { mode: s3.ObjectLockMode.COMPLIANCE, retentionDays: 30, purposes } });
    for (const purpose of purposes) {
      expect(bucketResource(stack, store.bucket(purpose)).Properties.ObjectLockConfiguration.Rule.DefaultRetention).toEqual({ Mode: 'COMPLIANCE', Days: 30 });
    }
    expect(bucketResource(stack, store.bucket(ArtifactPurpose.DATASETS)).Properties.ObjectLockEnabled).toBeUndefined();
  });

  test('RESTRICTED data with retentionDays expires current objects and is tagged restricted', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store', { dataClassification: DataClassification.RESTRICTED, retentionDays: 180 });
    for (const purpose of Object.values(ArtifactPurpose)) {
      expect(bucketResource(stack, store.bucket(purpose)).Properties.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([
        { Id: 'retention', Status: 'Enabled', ExpirationInDays: 180 },
      ]));
    }
    Template.fromStack(stack).allResourcesProperties('AWS::S3::Bucket', {
      Tags: Match.arrayWith([{ Key: 'mlops:data-classification', Value: 'restricted' }]),
    });
  });

  test('RESTRICTED data may be kept indefinitely only when allowed explicitly', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store', { dataClassification: DataClassification.RESTRICTED, allowIndefiniteRetention: true });
    const rules = bucketResource(stack, store.bucket(ArtifactPurpose.DATASETS)).Properties.LifecycleConfiguration.Rules;
    expect(rules.map((r: any) => r.Id)).toEqual(['noncurrent-versions', 'remove-expired-delete-markers']);
  });

  test('replication: every purpose bucket replicates its SSE-KMS objects to the destination, re-encrypted with the destination key', () => {
    const stack = prodStack();
    const store = new ArtifactStore(stack, 'Store', {
      replication: { destinationRegion: 'eu-west-1', destinationKeyArn: DEST_KEY, destinationBucketNamePattern: 'acme-{purpose}-replica' },
    });
    const role = store.node.findChild('ReplicationRole') as iam.Role;
    for (const purpose of Object.values(ArtifactPurpose)) {
      expect(bucketResource(stack, store.bucket(purpose)).Properties.ReplicationConfiguration).toEqual({
        Role: arnOf(logicalId(role)),
        Rules: [{
          Id: `replicate-${purpose}`,
          Status: 'Enabled',
          Priority: 0,
          Filter: { Prefix: '' },
          DeleteMarkerReplication: { Status: 'Enabled' },
          SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
          Destination: { Bucket: `arn:aws:s3:::acme-${purpose}-replica`, EncryptionConfiguration: { ReplicaKmsKeyID: DEST_KEY } },
        }],
      });
    }
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 's3.amazonaws.com' } })] },
    });
  });

  test('replication role: exactly the replication actions on the store and destination buckets, KMS only via S3', () => {
    const stack = prodStack();
    const store = new ArtifactStore(stack, 'Store', {
      replication: {
        destinationRegion: 'eu-west-1',
        destinationKeyArn: DEST_KEY,
        destinationBucketArns: { datasets: 'arn:aws:s3:::d-rep', models: 'arn:aws:s3:::m-rep', artifacts: 'arn:aws:s3:::a-rep' },
      },
    });
    const statements = Template.fromStack(stack).toJSON().Resources[logicalId(store.node.findChild('ReplicationPolicy') as iam.ManagedPolicy)]
      .Properties.PolicyDocument.Statement;
    const [datasets, models, artifacts] = Object.values(ArtifactPurpose).map((p) => logicalId(store.bucket(p)));
    // Statements for the three buckets are merged per action set (@aws-cdk/aws-iam:minimizePolicies).
    expect(statements).toEqual([
      { Effect: 'Allow', Action: ['s3:GetReplicationConfiguration', 's3:ListBucket'], Resource: [arnOf(artifacts), arnOf(datasets), arnOf(models)] },
      {
        Effect: 'Allow',
        Action: ['s3:GetObjectVersionAcl', 's3:GetObjectVersionForReplication', 's3:GetObjectVersionTagging'],
        Resource: [objectsOf(artifacts), objectsOf(datasets), objectsOf(models)],
      },
      {
        Effect: 'Allow',
        Action: ['s3:ReplicateDelete', 's3:ReplicateObject', 's3:ReplicateTags'],
        Resource: ['arn:aws:s3:::a-rep/*', 'arn:aws:s3:::d-rep/*', 'arn:aws:s3:::m-rep/*'],
      },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: arnOf(logicalId(store.encryptionKey as kms.Key)),
        Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
      },
      { Effect: 'Allow', Action: 'kms:Encrypt', Resource: DEST_KEY, Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } } },
    ]);
  });
});

describe('ArtifactStore grants', () => {
  function grantee(stack: Stack, id: string): iam.Role {
    return new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  }
  function statementsOf(stack: Stack, role: iam.Role): any[] {
    const policy = role.node.findChild('DefaultPolicy').node.defaultChild as CfnElement;
    return Template.fromStack(stack).toJSON().Resources[logicalId(policy)].Properties.PolicyDocument.Statement;
  }

  test('grantRead with a prefix: exactly get/list below the prefix and kms:Decrypt via S3 for that bucket', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const reader = grantee(stack, 'Reader');
    const grant = store.grantRead(reader, ArtifactPurpose.DATASETS, 'fraud/');
    expect(grant.success).toBe(true);
    const bucket = logicalId(store.bucket(ArtifactPurpose.DATASETS));
    expect(statementsOf(stack, reader)).toEqual([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: objectsOf(bucket, '/fraud/*') },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: arnOf(bucket), Condition: { StringLike: { 's3:prefix': ['fraud/*'] } } },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: arnOf(logicalId(store.encryptionKey as kms.Key)),
        Condition: {
          StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [arnOf(bucket), objectsOf(bucket)] },
        },
      },
    ]);
  });

  test('grantRead without a prefix covers the whole bucket and lists without a condition', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const reader = grantee(stack, 'Reader');
    store.grantRead(reader, ArtifactPurpose.MODELS);
    const bucket = logicalId(store.bucket(ArtifactPurpose.MODELS));
    const statements = statementsOf(stack, reader);
    expect(statements[0]).toEqual({ Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: objectsOf(bucket) });
    expect(statements[1]).toEqual({ Effect: 'Allow', Action: 's3:ListBucket', Resource: arnOf(bucket) });
  });

  test('grantWrite: put and multipart below the prefix, no delete, KMS encrypt via S3 for that bucket', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const writer = grantee(stack, 'Writer');
    store.grantWrite(writer, ArtifactPurpose.MODELS, 'fraud/v3/');
    const bucket = logicalId(store.bucket(ArtifactPurpose.MODELS));
    expect(statementsOf(stack, writer)).toEqual([
      { Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:PutObject'], Resource: objectsOf(bucket, '/fraud/v3/*') },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: arnOf(logicalId(store.encryptionKey as kms.Key)),
        Condition: {
          StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': [arnOf(bucket), objectsOf(bucket)] },
        },
      },
    ]);
  });

  test('grantReadWrite combines both and never grants s3:*, delete or a * resource', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const role = grantee(stack, 'Trainer');
    store.grantReadWrite(role, ArtifactPurpose.ARTIFACTS, 'run-42/');
    const statements = statementsOf(stack, role);
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey',
      's3:AbortMultipartUpload', 's3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListMultipartUploadParts', 's3:PutObject',
    ]);
    expect(statements.every((s) => s.Resource !== '*')).toBe(true);
  });

  test('an imported store grants against the named buckets and key', () => {
    const stack = devStack();
    const keyArn = 'arn:aws:kms:us-east-1:111111111111:key/abcd';
    const store = ArtifactStore.fromArtifactStoreAttributes(stack, 'Shared', {
      bucketNames: { datasets: 'acme-datasets', models: 'acme-models', artifacts: 'acme-artifacts' },
      encryptionKeyArn: keyArn,
      accessLogBucketName: 'acme-logs',
    });
    expect(store.s3Uri(ArtifactPurpose.MODELS, 'fraud/')).toBe('s3://acme-models/fraud/');
    expect(store.accessLogBucket.bucketName).toBe('acme-logs');
    const reader = grantee(stack, 'Reader');
    store.grantRead(reader, ArtifactPurpose.MODELS, 'fraud/');
    expect(stack.resolve(statementsOf(stack, reader))).toEqual([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: 'arn:aws:s3:::acme-models/fraud/*' },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::acme-models', Condition: { StringLike: { 's3:prefix': ['fraud/*'] } } },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: keyArn,
        Condition: {
          StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': ['arn:aws:s3:::acme-models', 'arn:aws:s3:::acme-models/*'] },
        },
      },
    ]);
  });
});

describe('ArtifactStore bad input', () => {
  const cases: Array<[string, ArtifactStoreProps, RegExp]> = [
    ['zero transition days', { lifecycle: { noncurrentVersionTransitionDays: 0 } }, /'lifecycle\.noncurrentVersionTransitionDays'.*received 0\).*30 or more/],
    ['transition before 30 days', { lifecycle: { noncurrentVersionTransitionDays: 20 } }, /'lifecycle\.noncurrentVersionTransitionDays'.*received 20\).*30 or more/],
    ['negative expiration days', { lifecycle: { noncurrentVersionExpirationDays: -5 } }, /'lifecycle\.noncurrentVersionExpirationDays'.*at least 1.*received -5/],
    ['expiry before transition', { lifecycle: { noncurrentVersionTransitionDays: 60, noncurrentVersionExpirationDays: 45 } },
      /'lifecycle\.noncurrentVersionExpirationDays' must be later than the noncurrent version transition \(60 days\).*Fix: raise/],
    ['expiry before the profile transition', { lifecycle: { noncurrentVersionExpirationDays: 30 } }, /'lifecycle\.noncurrentVersionExpirationDays'.*\(30 days\)/],
    ['abort after 0 days', { lifecycle: { abortIncompleteMultipartUploadDays: 0 } }, /'lifecycle\.abortIncompleteMultipartUploadDays'.*received 0\).*1 or more/],
    ['retentionDays 0', { retentionDays: 0 }, /'retentionDays'.*received 0\).*Fix: set 'retentionDays' to 1 or more/],
    ['lock retention without mode', { objectLock: { retentionDays: 30 } as any }, /'objectLock\.mode' is required.*GOVERNANCE or ObjectLockMode\.COMPLIANCE/],
    ['lock mode without retention', { objectLock: { mode: s3.ObjectLockMode.GOVERNANCE } as any }, /'objectLock\.retentionDays' is required.*Fix: set 'objectLock\.retentionDays'/],
    ['lock retention 0', { objectLock: { mode: s3.ObjectLockMode.COMPLIANCE, retentionDays: 0 } }, /'objectLock\.retentionDays'.*between 1 and 36500.*received 0/],
    ['lock with no purposes', { objectLock: { mode: s3.ObjectLockMode.COMPLIANCE, retentionDays: 5, purposes: [] } }, /'objectLock\.purposes' must name at least one/],
    ['replication without a region', { replication: { destinationKeyArn: DEST_KEY, destinationBucketNamePattern: 'x-{purpose}' } as any },
      /'replication\.destinationRegion' is required.*another region/],
    ['replication to the same region', { replication: { destinationRegion: REGION, destinationKeyArn: DEST_KEY, destinationBucketNamePattern: 'x-{purpose}' } },
      /'replication\.destinationRegion' must differ from the stack's region \(us-east-1\)/],
    ['replication without a destination key', { replication: { destinationRegion: 'eu-west-1', destinationBucketNamePattern: 'x-{purpose}' } as any },
      /'replication\.destinationKeyArn' is required.*KMS key in the destination region/],
    ['replication without destination buckets', { replication: { destinationRegion: 'eu-west-1', destinationKeyArn: DEST_KEY } },
      /'replication\.destinationBucketArns\.datasets' is required.*destinationBucketNamePattern/],
    ['pattern without placeholder', { replication: { destinationRegion: 'eu-west-1', destinationKeyArn: DEST_KEY, destinationBucketNamePattern: 'replica' } },
      /'replication\.destinationBucketNamePattern' must contain the '\{purpose\}' placeholder/],
    ['Object Lock with autoDeleteObjects', { objectLock: { mode: s3.ObjectLockMode.GOVERNANCE, retentionDays: 5 }, autoDeleteObjects: true },
      /'objectLock' cannot be combined with autoDeleteObjects \(received "GOVERNANCE"\).*Fix: remove 'objectLock'/],
    ['a promotion role name IAM refuses', { promotionRoleName: 'fraud promotion' }, /'promotionRoleName' must be an IAM role name.*received "fraud promotion"/],
    ['restricted without retention', { dataClassification: DataClassification.RESTRICTED },
      /'retentionDays' is required for RESTRICTED data.*GDPR\/CCPA.*allowIndefiniteRetention: true/],
  ];

  test.each(cases)('%s', (_name, props, message) => {
    const stack = devStack();
    let error: unknown;
    try {
      new ArtifactStore(stack, 'Store', props);
    } catch (e) {
      error = e;
    }
    expect(ValidationError.isValidationError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^Dev\/Store: /);
    expect((error as Error).message).toMatch(message);
  });

  test('autoDeleteObjects where the profile retains data', () => {
    expect(() => new ArtifactStore(prodStack(), 'Store', { autoDeleteObjects: true }))
      .toThrow(/'autoDeleteObjects' cannot be used when the profile \(prod\) retains data.*allowDestroy: true/);
  });

  test('a wildcard or absolute prefix in a grant or URI', () => {
    const stack = devStack();
    const store = new ArtifactStore(stack, 'Store');
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    expect(() => store.grantRead(role, ArtifactPurpose.MODELS, 'fraud/*')).toThrow(/'prefix' must be an S3 key prefix without wildcards.*received "fraud\/\*"/);
    expect(() => store.s3Uri(ArtifactPurpose.MODELS, '/fraud/')).toThrow(/'prefix'.*received "\/fraud\/"/);
  });

  test('an unknown purpose', () => {
    const store = new ArtifactStore(devStack(), 'Store');
    expect(() => store.bucket('features' as ArtifactPurpose)).toThrow(/'purpose' is not one of datasets, models, artifacts.*received "features"/);
  });

  test('imported attributes missing a bucket or with a malformed key ARN', () => {
    const stack = devStack();
    expect(() => ArtifactStore.fromArtifactStoreAttributes(stack, 'A', {
      bucketNames: { datasets: 'd-bucket', models: 'm-bucket' } as any, encryptionKeyArn: DEST_KEY, accessLogBucketName: 'logs',
    })).toThrow(/'bucketNames\.artifacts' is required/);
    expect(() => ArtifactStore.fromArtifactStoreAttributes(stack, 'B', {
      bucketNames: { datasets: 'd-bucket', models: 'm-bucket', artifacts: 'a-bucket' }, encryptionKeyArn: 'alias/mine', accessLogBucketName: 'logs',
    })).toThrow(/'encryptionKeyArn' must be a KMS key ARN.*received "alias\/mine"/);
  });
});

describe('ArtifactStore compliance', () => {
  test('with only required props, dev and prod synthesize cfn-lint clean and cdk-nag clean', () => {
    const app = newApp();
    const dev = new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'p' });
    new ArtifactStore(dev, 'Store');
    const prod = new MlopsStack(app, 'Prod', { profile: EnvironmentProfile.prod(), project: 'p' });
    new ArtifactStore(prod, 'Store');
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('with every option (auto-delete in dev; Object Lock, replication, restricted data in prod) still clean', () => {
    const app = newApp();
    const dev = new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'p' });
    new ArtifactStore(dev, 'Store', { autoDeleteObjects: true });
    const prod = new MlopsStack(app, 'Prod', { profile: EnvironmentProfile.prod(), project: 'p', env: { region: REGION } });
    new ArtifactStore(prod, 'Store', {
      objectLock: { mode: s3.ObjectLockMode.GOVERNANCE, retentionDays: 365 },
      replication: { destinationRegion: 'eu-west-1', destinationKeyArn: DEST_KEY, destinationBucketNamePattern: 'acme-{purpose}-replica' },
      dataClassification: DataClassification.RESTRICTED,
      retentionDays: 730,
    });
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});
