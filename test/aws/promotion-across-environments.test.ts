// Promotion across environments (#20.9): prod promotes the package staging approved, by its ARN (the same artifact),
// and never retrains. Claims on the synthesized templates of a staging and a prod platform in their own accounts, as a
// user builds them in a plain App: what staging grants prod (served/ archives and model packages, read only, to prod's
// promotion role only), and what prod's promotion role may do there.
import { App } from 'aws-cdk-lib';
import { TEST_CERTIFICATE_ARN } from '../support/certificates';
import { newApp } from '../support/gate';
import { environmentTemplates, IamWalk } from '../support/iam-walk';
import { EnvironmentProfile, MlopsPlatform, MlopsPlatformProps, ServingBackend, ValidationError } from 'mlops-constructs';

const STAGING = '222222222222';
const PROD = '333333333333';
const REGION = 'us-east-1';

function withZones(app: App): App {
  for (const account of [STAGING, PROD]) app.node.setContext(`availability-zones:account=${account}:region=${REGION}`, ['a', 'b', 'c'].map((z) => `${REGION}${z}`));
  return app;
}

function props(profile: EnvironmentProfile, account: string): MlopsPlatformProps {
  return {
    profile,
    project: 'acme',
    costCenter: 'cc-1',
    env: { account, region: REGION },
    certificateArn: TEST_CERTIFICATE_ARN,
    experimentTracking: false,
    modelFamilies: ['fraud'],
    servedModels: [{ name: 'fraud', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 'serve-1' }],
  };
}

describe('staging shares its approved versions with prod; prod promotes them by ARN and does not retrain', () => {
  const app = withZones(newApp());
  const staging = new MlopsPlatform(app, 'acme-staging', props(EnvironmentProfile.staging(), STAGING));
  const prod = new MlopsPlatform(app, 'acme-prod', { ...props(EnvironmentProfile.prod(), PROD), promoteFrom: { account: STAGING, region: REGION } });
  staging.shareServedModelsWith({ account: PROD, promotionRoleName: prod.artifactStore.promotionRoleName });
  const outdir = app.synth().directory;
  const stagingWalk = new IamWalk(environmentTemplates(outdir, ['acmestaging']));
  const prodWalk = new IamWalk(environmentTemplates(outdir, ['acmeprod']));
  const prodRoleArn = `arn:aws:iam::${PROD}:role/${prod.artifactStore.promotionRoleName}`;
  /** Every statement of a resource policy in staging's templates that names the prod account. */
  const grantsToProd = (type: string, policyProp: string) => stagingWalk.resources(type).flatMap((r) =>
    stagingWalk.statements(r.template, r.properties[policyProp]).filter((s) => JSON.stringify(s.Principal ?? '').includes(PROD))
      .map((s) => ({ logicalId: r.logicalId, ...s })));

  test('staging\'s models bucket lets prod\'s promotion role (only) read served/ (only): not candidates/, not the datasets, no writes', () => {
    const grants = grantsToProd('AWS::S3::BucketPolicy', 'PolicyDocument');
    expect(grants).toHaveLength(1);
    const [grant] = grants;
    expect(grant.Effect).toBe('Allow');
    expect(grant.Action).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    expect(grant.Resource).toHaveLength(1);
    expect(grant.Resource![0]).toMatch(/ArtifactStoreModels[0-9A-F]{8}\.Arn\}\/served\/\*$/);
    expect(grant.Condition).toEqual({ ArnEquals: { 'aws:PrincipalArn': prodRoleArn } });
    // The policy is the models bucket's, not the datasets' (whose policy grants the prod account nothing).
    const policy = stagingWalk.resources('AWS::S3::BucketPolicy').find((r) => r.logicalId === grant.logicalId)!;
    expect(JSON.stringify(policy.properties.Bucket)).toMatch(/ArtifactStoreModels/);
  });

  test('staging\'s key lets prod\'s promotion role decrypt only through S3 (whose bucket policies grant served/ only); the groups let it describe packages only', () => {
    const keyGrants = grantsToProd('AWS::KMS::Key', 'KeyPolicy');
    expect(keyGrants).toHaveLength(1);
    expect(keyGrants[0]).toMatchObject({ Effect: 'Allow', Action: ['kms:Decrypt'] });
    expect(keyGrants[0].Condition).toMatchObject({
      ArnEquals: { 'aws:PrincipalArn': prodRoleArn },
      StringEquals: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` },
    });
    const groupGrants = grantsToProd('AWS::SageMaker::ModelPackageGroup', 'ModelPackageGroupPolicy');
    expect(groupGrants).toHaveLength(1);
    expect(groupGrants[0]).toMatchObject({
      Effect: 'Allow',
      Action: ['sagemaker:DescribeModelPackage', 'sagemaker:DescribeModelPackageGroup'],
      Resource: [`arn:aws:sagemaker:${REGION}:${STAGING}:model-package-group/fraud`, `arn:aws:sagemaker:${REGION}:${STAGING}:model-package/fraud/*`],
      Condition: { ArnEquals: { 'aws:PrincipalArn': prodRoleArn } },
    });
  });

  test('staging grants the prod account nothing else: its account appears only in those three resource policies', () => {
    const where = environmentTemplates(outdir, ['acmestaging']).flatMap((t) =>
      Object.entries<any>(t.json.Resources ?? {}).filter(([, r]) => JSON.stringify(r).includes(PROD)).map(([id, r]) => `${r.Type} ${id.replace(/[0-9A-F]{8}$/, '')}`));
    expect(where.sort()).toEqual([
      'AWS::KMS::Key PlatformKey',
      'AWS::S3::BucketPolicy ArtifactStoreModelsPolicy',
      'AWS::SageMaker::ModelPackageGroup ModelRegistryModelPackageGroupfraud',
    ].sort());
  });

  test('prod\'s promotion role reads staging\'s packages and served/ archives (with the key through S3), and nothing of staging it could change', () => {
    const role = prodWalk.role(/^ModelPromotionRole[0-9A-F]{8}$/);
    const inStaging = { 's3:ResourceAccount': STAGING, 'aws:RequestedRegion': REGION };
    const can = (action: string, resource: string, context: Record<string, string> = inStaging) => prodWalk.allows(role, action, resource, context);
    expect(can('sagemaker:DescribeModelPackage', `arn:aws:sagemaker:${REGION}:${STAGING}:model-package/fraud/7`)).toBe(true);
    expect(can('s3:GetObject', 'arn:aws:s3:::acme-staging-models/served/fraud/s7/model.tar.gz')).toBe(true);
    expect(can('kms:Decrypt', `arn:aws:kms:${REGION}:${STAGING}:key/0000`, { 'kms:ViaService': `s3.${REGION}.amazonaws.com`, 'aws:RequestedRegion': REGION })).toBe(true);
    for (const [action, resource] of [
      ['s3:GetObject', 'arn:aws:s3:::acme-staging-models/candidates/fraud/run-1/model.tar.gz'],
      ['s3:GetObject', 'arn:aws:s3:::acme-staging-datasets/fraud/train.csv'],
      ['s3:PutObject', 'arn:aws:s3:::acme-staging-models/served/fraud/s8/model.tar.gz'],
      ['sagemaker:UpdateModelPackage', `arn:aws:sagemaker:${REGION}:${STAGING}:model-package/fraud/7`],
      ['sagemaker:CreateModelPackage', `arn:aws:sagemaker:${REGION}:${STAGING}:model-package/fraud/8`],
    ]) {
      expect([action, resource, can(action, resource)]).toEqual([action, resource, false]);
    }
    // served/ of a bucket in any other account is not readable either.
    expect(can('s3:GetObject', 'arn:aws:s3:::elsewhere/served/fraud/v1/model.tar.gz', { 's3:ResourceAccount': '444444444444', 'aws:RequestedRegion': REGION })).toBe(false);
    expect(can('kms:Decrypt', `arn:aws:kms:${REGION}:${STAGING}:key/0000`, { 'aws:RequestedRegion': REGION })).toBe(false);
  });

  test('prod does not retrain: adding a retraining pipeline is refused, and no state machine of prod submits a training job', () => {
    const job = (id: string) => prod.trainingCluster.addJobDefinition(id, { imageUri: 'public.ecr.aws/acme/train:1', datasetPrefix: 'fraud/' });
    const jobs = { validateJob: job('V'), trainJob: job('T'), evaluateJob: job('E') };
    const add = () => prod.addModelPipeline('FraudPipeline', { modelName: 'fraud', servingImageUri: 'public.ecr.aws/acme/serve:1', ...jobs });
    expect(add).toThrow(ValidationError);
    expect(add).toThrow(/acme-prod: 'addModelPipeline' .*promoteFrom.*\(received "fraud"\)\. Fix: retrain in the source environment .*"modelPackageArn"/s);
    const machines = prodWalk.resources('AWS::StepFunctions::StateMachine');
    expect(machines.length).toBeGreaterThan(0);
    expect(machines.filter((m) => /batch:submitJob/i.test(JSON.stringify(m.properties.DefinitionString))).map((m) => m.logicalId)).toEqual([]);
    // What prod serves comes from its promotion, which accepts staging's package ARN.
    expect(JSON.stringify(machines.find((m) => m.logicalId.startsWith('ModelPromotionStateMachine'))!.properties.DefinitionString)).toContain('describeModelPackage');
  });
});

describe('promotion across environments, bad input', () => {
  test('a malformed account or role name to share with, or to promote from, is refused naming the prop and the fix', () => {
    const app = withZones(new App());
    const staging = new MlopsPlatform(app, 'acme-staging', props(EnvironmentProfile.staging(), STAGING));
    expect(() => staging.shareServedModelsWith({ account: '3333', promotionRoleName: 'r' }))
      .toThrow(/'shareServedModelsWith.account' .*\(received "3333"\).*12-digit/);
    expect(() => staging.shareServedModelsWith({ account: PROD, promotionRoleName: 'no spaces allowed' }))
      .toThrow(/'shareServedModelsWith.promotionRoleName' .*artifactStore.promotionRoleName/);
    // Each account once: its statements' ids are per account, and a policy's ids must be unique.
    staging.shareServedModelsWith({ account: PROD, promotionRoleName: 'acme-prod-promotion' });
    expect(() => staging.shareServedModelsWith({ account: PROD, promotionRoleName: 'another-promotion' }))
      .toThrow(/'shareServedModelsWith.account' is shared with already \(received "333333333333"\)/);
    expect(() => new MlopsPlatform(app, 'acme-prod', { ...props(EnvironmentProfile.prod(), PROD), promoteFrom: { account: 'staging' } }))
      .toThrow(/'promoteFrom.account' .*\(received "staging"\).*12-digit/);
  });
});
