import { ACCOUNT, errorOf, installMocks, mockArn, one, ofType, RecordedResource, REGION, resourcesOf } from './support';
import { IamWalk, RequestContext, RoleInfo } from '../support/iam-walk';
import { EnvironmentProfile, MlopsTags, ValidationError } from 'mlops-constructs';
import { ArtifactStore, MlopsPlatform, ModelRegistry } from 'mlops-constructs/pulumi';

/*
 * Promotion across environments on Pulumi (#18, the CDK side is #20.9): staging's Pulumi MlopsPlatform with
 * `sharesServedModelsWith` lets prod's promotion role, in prod's account, read staging's model packages and the
 * archives below served/ (decrypting them through S3), and nothing else; no other principal of prod's account gains
 * anything. Claims on the resource policies Pulumi was asked to create (bucket, key, model package groups), evaluated
 * with the IAM walker as AWS evaluates a cross-account request against a resource policy.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const PROD = '333333333333';
const PROD_ROLE = 'acme-prod-artifacts-promotion';
const PROD_ROLE_ARN = `arn:aws:iam::${PROD}:role/${PROD_ROLE}`;
const network = { vpcId: 'vpc-1', vpcCidrBlock: '10.1.0.0/16', privateSubnetIds: ['subnet-a', 'subnet-b'], isolatedSubnetIds: ['subnet-c', 'subnet-d'] };
const staging = EnvironmentProfile.staging();
const tags = MlopsTags.of({ project: 'acme', environment: 'staging' });
const platformArgs = { profile: staging, project: 'acme', network, experimentTracking: false, training: false as const, modelFamilies: ['fraud', 'Churn'] };

let shared: RecordedResource[];
let unshared: RecordedResource[];

beforeAll(async () => {
  new MlopsPlatform('shr', { ...platformArgs, sharesServedModelsWith: [{ account: PROD, promotionRoleName: PROD_ROLE }] });
  new MlopsPlatform('uns', platformArgs);
  [shared, unshared] = [await resourcesOf('shr'), await resourcesOf('uns')];
});

const walk = new IamWalk([]);
const document = (resources: RecordedResource[], type: string, suffix: string, prop: string) => JSON.parse(one(resources, type, suffix).inputs[prop]);
const bucketPolicy = (resources: RecordedResource[], purpose: string) => document(resources, 'aws:s3/bucketPolicy:BucketPolicy', `artifacts-${purpose}-policy`, 'policy');
const keyPolicy = (resources: RecordedResource[]) => document(resources, 'aws:kms/key:Key', 'shr-key', 'policy');
const groupPolicy = (group: string) => document(shared, 'aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy', `registry-${group}-policy`, 'resourcePolicy');

/**
 * Whether a resource policy lets `principalArn` (of another account) call `action` on `resource`: an Allow whose
 * principal is that account (or the principal itself) and whose conditions hold, and no Deny of the policy applies.
 */
function resourcePolicyAllows(policy: Json, principalArn: string, action: string, resource: string, context: RequestContext = {}): boolean {
  const account = principalArn.split(':')[4];
  const names = (principal: Json): string[] => (principal === '*' ? ['*'] : [principal?.AWS ?? []].flat());
  const applies = (s: Json) => names(s.Principal).some((p) => p === '*' || p === principalArn || p === `arn:aws:iam::${account}:root` || p === account);
  const statements = walk.statements('x', { Statement: [policy.Statement].flat().filter(applies) });
  const principal: RoleInfo = {
    id: principalArn, template: 'x', logicalId: principalArn, arn: principalArn, name: principalArn, tags: {}, trust: [], identity: statements, opaquePolicies: [],
  };
  return walk.allows(principal, action, resource, { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3', ...context });
}

/** A bucket's ARN as the mocks answer it. */
const bucket = (purpose: string, platform = 'shr') => mockArn('aws:s3/bucket:Bucket', `${platform}-artifacts-${purpose}`);
const viaS3 = { 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
const stagingKey = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0000`;
const stagingPackage = (group: string, version: number) => `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/${group}/${version}`;
const stagingGroup = (group: string) => `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package-group/${group}`;

describe('Pulumi MlopsPlatform sharesServedModelsWith: staging shares its approved versions with prod\'s promotion role only', () => {
  test('prod\'s promotion role reads served/ of the models bucket, decrypts through S3, describes every group\'s packages', () => {
    const can = (policy: Json, action: string, resource: string, context?: RequestContext) =>
      resourcePolicyAllows(policy, PROD_ROLE_ARN, action, resource, context);
    expect(can(bucketPolicy(shared, 'models'), 's3:GetObject', `${bucket('models')}/served/fraud/s7/model.tar.gz`)).toBe(true);
    expect(can(bucketPolicy(shared, 'models'), 's3:GetObjectVersion', `${bucket('models')}/served/fraud/s7/model.tar.gz`)).toBe(true);
    expect(can(keyPolicy(shared), 'kms:Decrypt', stagingKey, viaS3)).toBe(true);
    for (const group of ['fraud', 'Churn']) {
      expect(can(groupPolicy(group), 'sagemaker:DescribeModelPackage', stagingPackage(group.toLowerCase(), 7))).toBe(true);
      expect(can(groupPolicy(group), 'sagemaker:DescribeModelPackageGroup', stagingGroup(group))).toBe(true);
    }
  });

  test('and nothing else: not candidates/, not the datasets, no writes or deletes, no decryption outside S3, no approval', () => {
    const cannot: Array<[Json, string, string, RequestContext?]> = [
      [bucketPolicy(shared, 'models'), 's3:GetObject', `${bucket('models')}/candidates/fraud/run-1/model.tar.gz`],
      [bucketPolicy(shared, 'models'), 's3:PutObject', `${bucket('models')}/served/fraud/s8/model.tar.gz`],
      [bucketPolicy(shared, 'models'), 's3:DeleteObject', `${bucket('models')}/served/fraud/s7/model.tar.gz`],
      [bucketPolicy(shared, 'models'), 's3:ListBucket', bucket('models')],
      [bucketPolicy(shared, 'datasets'), 's3:GetObject', `${bucket('datasets')}/served/fraud/train.csv`],
      [bucketPolicy(shared, 'artifacts'), 's3:GetObject', `${bucket('artifacts')}/served/fraud/report.html`],
      [keyPolicy(shared), 'kms:Decrypt', stagingKey],
      [keyPolicy(shared), 'kms:Encrypt', stagingKey, viaS3],
      [groupPolicy('fraud'), 'sagemaker:UpdateModelPackage', stagingPackage('fraud', 7)],
      [groupPolicy('fraud'), 'sagemaker:CreateModelPackage', stagingPackage('fraud', 8)],
    ];
    for (const [policy, action, resource, context] of cannot) {
      expect([action, resource, resourcePolicyAllows(policy, PROD_ROLE_ARN, action, resource, context)]).toEqual([action, resource, false]);
    }
  });

  test('no other principal of prod\'s account (its admin, another role, the account root) gains anything', () => {
    for (const other of [`arn:aws:iam::${PROD}:role/admin`, `arn:aws:iam::${PROD}:user/alice`, `arn:aws:iam::${PROD}:root`]) {
      expect([other, resourcePolicyAllows(bucketPolicy(shared, 'models'), other, 's3:GetObject', `${bucket('models')}/served/fraud/s7/model.tar.gz`)]).toEqual([other, false]);
      expect([other, resourcePolicyAllows(keyPolicy(shared), other, 'kms:Decrypt', stagingKey, viaS3)]).toEqual([other, false]);
      expect([other, resourcePolicyAllows(groupPolicy('fraud'), other, 'sagemaker:DescribeModelPackage', stagingPackage('fraud', 7))]).toEqual([other, false]);
    }
    // A role of that name in a third account neither.
    const elsewhere = `arn:aws:iam::444444444444:role/${PROD_ROLE}`;
    expect(resourcePolicyAllows(bucketPolicy(shared, 'models'), elsewhere, 's3:GetObject', `${bucket('models')}/served/fraud/s7/model.tar.gz`)).toBe(false);
  });

  test('prod\'s account appears only in those policies; without sharesServedModelsWith nothing names another account and the groups have no policy', () => {
    const where = shared.filter((r) => JSON.stringify(r.inputs).includes(PROD)).map((r) => `${r.type} ${r.name}`).sort();
    expect(where).toEqual([
      'aws:kms/key:Key shr-key',
      'aws:s3/bucketPolicy:BucketPolicy shr-artifacts-models-policy',
      'aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy shr-registry-Churn-policy',
      'aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy shr-registry-fraud-policy',
    ]);
    expect(one(shared, 'aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy', 'fraud-policy').inputs.modelPackageGroupName).toBe('fraud');
    expect(ofType(unshared, 'aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy')).toEqual([]);
    const otherAccounts = unshared.filter((r) => /"(Principal|AWS)"/.test(JSON.stringify(r.inputs)))
      .flatMap((r) => [...JSON.stringify(r.inputs).matchAll(/iam::(\d{12}):/g)].map((m) => m[1])).filter((a) => a !== ACCOUNT);
    expect(otherAccounts).toEqual([]);
    expect(resourcePolicyAllows(bucketPolicy(unshared, 'models'), PROD_ROLE_ARN, 's3:GetObject', `${bucket('models', 'uns')}/served/fraud/s7/model.tar.gz`)).toBe(false);
  });
});

describe('sharesServedModelsWith on the components, bad input', () => {
  test('the store alone puts the key statement in its own key; the registry alone gives each group its policy', async () => {
    new ArtifactStore('shs-store', { profile: staging, tags, sharesServedModelsWith: [{ account: PROD, promotionRoleName: PROD_ROLE }] });
    const registry = new ModelRegistry('shs-registry', { profile: staging, tags, vpcId: 'vpc-1', subnetIds: ['subnet-c'], sharesServedModelsWith: [{ account: PROD, promotionRoleName: PROD_ROLE }] });
    registry.addModelPackageGroup('fraud');
    const resources = await resourcesOf('shs');
    const key = document(resources, 'aws:kms/key:Key', 'shs-store-key', 'policy');
    expect(resourcePolicyAllows(key, PROD_ROLE_ARN, 'kms:Decrypt', stagingKey, viaS3)).toBe(true);
    const models = document(resources, 'aws:s3/bucketPolicy:BucketPolicy', 'shs-store-models-policy', 'policy');
    expect(resourcePolicyAllows(models, PROD_ROLE_ARN, 's3:GetObject', `${mockArn('aws:s3/bucket:Bucket', 'shs-store-models')}/served/fraud/v1/model.tar.gz`)).toBe(true);
    const group = document(resources, 'aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy', 'shs-registry-fraud-policy', 'resourcePolicy');
    expect(resourcePolicyAllows(group, PROD_ROLE_ARN, 'sagemaker:DescribeModelPackage', stagingPackage('fraud', 1))).toBe(true);
  });

  test('a malformed account or role name, an account named twice, or a key the store cannot change are refused naming the prop and the fix', () => {
    const platform = (sharesServedModelsWith: Json) => () => new MlopsPlatform('bad-share', { ...platformArgs, sharesServedModelsWith });
    expect(platform([{ account: '3333', promotionRoleName: PROD_ROLE }])).toThrow(ValidationError);
    expect(errorOf(platform([{ account: '3333', promotionRoleName: PROD_ROLE }]))).toMatchObject({ prop: 'sharesServedModelsWith.account', value: '3333' });
    expect(platform([{ account: PROD, promotionRoleName: 'no spaces allowed' }])).toThrow(/'sharesServedModelsWith.promotionRoleName' .*artifactStore.promotionRoleName/);
    expect(platform([{ account: PROD, promotionRoleName: PROD_ROLE }, { account: PROD, promotionRoleName: 'other' }]))
      .toThrow(/'sharesServedModelsWith.account' is shared with already \(received "333333333333"\).*once/);
    expect(platform([undefined])).toThrow(/'sharesServedModelsWith' is required/);
    expect(() => new ModelRegistry('bad-registry', { profile: staging, tags, vpcId: 'v', subnetIds: ['s'], sharesServedModelsWith: [{ account: 'prod', promotionRoleName: 'r' }] }))
      .toThrow(/ModelRegistry\(bad-registry\).*'sharesServedModelsWith.account'.*12-digit/);
    const keyOfItsOwn = () => new ArtifactStore('bad-key-store', {
      profile: staging, tags, encryptionKey: {} as Json, sharesServedModelsWith: [{ account: PROD, promotionRoleName: PROD_ROLE }],
    });
    expect(keyOfItsOwn).toThrow(/'encryptionKey' is a key whose policy the store cannot change.*encryptionKeySharesServedModels: true/);
  });
});
