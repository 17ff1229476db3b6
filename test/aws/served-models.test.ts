import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { servedUris, servedWrites } from '../../lib/aws/checks/served-writes';
import { ServedStateParameter } from '../../lib/aws/private/served-state';
import { certificateArnFor, TEST_CERTIFICATE_ARN } from '../support/certificates';
import { EnvironmentProfile, MlopsPlatform, Rollout, ServingBackend } from 'mlops-constructs';

/**
 * docs/design/served-models.md, claims 1 and 2, on a platform a newcomer builds with defaults in a plain App (no
 * feature flags): every URI a served model reads is below served/<model>/<version>/ of the models bucket, and no role
 * of any stack but the promotion role the bucket policy designates can put, delete or unlock it.
 */
describe.each([EnvironmentProfile.dev(), EnvironmentProfile.prod()])('served models of a default $name platform', (profile) => {
  const app = new App();
  const platform = new MlopsPlatform(app, `fraud-${profile.name}`, {
    profile,
    ...certificateArnFor(profile),
    project: 'fraud',
    costCenter: 'ml-platform',
    env: { region: 'us-east-1' },
    modelFamilies: ['fraud-detector', 'recommender'],
    servedModels: [
      { name: 'fraud-detector', backend: ServingBackend.FLEET, modelVersion: 'v3', imageTag: 'serve-1' },
      { name: 'recommender', backend: ServingBackend.ENDPOINT, modelVersion: 'v7', imageTag: 'recs-1', rollout: profile.allowDestroy ? undefined : Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) },
    ],
  });
  const job = (id: string) => platform.trainingCluster.addJobDefinition(id, {
    imageRepository: platform.trainingImages, imageTag: id.toLowerCase(), datasetPrefix: 'recommender/',
  });
  platform.trainingCluster.addJobDefinition('Train', { imageRepository: platform.trainingImages, imageTag: 'train-1', datasetPrefix: 'fraud/' });
  job('RecsValidate');
  job('RecsTrain');
  job('RecsEvaluate');
  // Aspects (tags) are applied at synthesis.
  app.synth();

  test('every served model reads exactly one promoted version: served/<model>/<version>/model.tar.gz', () => {
    const keys = servedUris(app).map((u) => `${Stack.of(u.servedBy).nestedStackParent ? 'nested' : 'top'}:${u.key}`);
    // The version is one path segment (`*`) resolved at deploy time from the model's served state, which promotion
    // (and a fleet's rollout) moves (next test).
    expect(new Set(keys)).toEqual(new Set([
      'nested:served/fraud-detector/*/model.tar.gz',
      'nested:served/recommender/*/model.tar.gz',
    ]));
  });

  test("the fleet's version segment is the served state's version of its variant, which starts at the configured version", () => {
    const fleetUris = servedUris(app).filter((u) => u.servedBy.cfnResourceType === 'AWS::EC2::LaunchTemplate');
    expect(fleetUris.length).toBeGreaterThan(0);
    for (const uri of fleetUris) {
      const userData = JSON.stringify(Stack.of(uri.servedBy).resolve((uri.servedBy as any)._cfnProperties));
      // MODEL_URI=s3://<bucket>/served/fraud-detector/ + Fn::Select(0, Fn::Split('@', <variant's entry of the served state>))
      expect(userData).toMatch(/served\/fraud-detector\/",\{"Fn::Select":\[0,\{"Fn::Split":\["@",\{"Fn::Select":\[1,\{"Fn::Split":\["=",\{"Fn::Select":\[[01],\{"Fn::Split":\[",",\{"Ref":"ServedStatefrauddetector[0-9A-F]{8}"\}/);
    }
    const states = app.node.findAll().filter(ServedStateParameter.isServedStateParameter);
    expect(states.map((state) => `${state.model} ${state.initialValue}`)).toEqual([expect.stringMatching(/^fraud-detector (\w+=v3@\d+,?)+$/), 'recommender current=v7@100']);
  });

  test('no role of any stack can put, delete or unlock what production serves (ML engineer, training, serving roles included)', () => {
    const writes = servedWrites(app).filter((w) => !w.designated);
    expect(writes.map((w) => `${w.role.node.path} ${w.action} ${w.uri.key}`)).toEqual([]);
  });

  test('the models bucket is Object Lock-ed (GOVERNANCE) and its policy is the enforcement point', () => {
    const bucket = platform.artifactStore.bucket('models' as never);
    const resource = Template.fromStack(platform.dataStack).toJSON().Resources[platform.dataStack.getLogicalId(bucket.node.defaultChild as never)];
    expect(resource.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode).toBe('GOVERNANCE');
    const policies = JSON.stringify(Template.fromStack(platform.dataStack).findResources('AWS::S3::BucketPolicy'));
    for (const sid of ['OnlyPromotionWritesServedModels', 'ServedModelsAreWriteOnce', 'ServedModelsAreNeverDeletedOrUnlocked']) expect(policies).toContain(sid);
  });
});

describe('platforms of several environments in one app (environment-agnostic and region-bound)', () => {
  const app = new App();
  const servedModels = [
    { name: 'fraud', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 'serve-1' },
    { name: 'churn', backend: ServingBackend.ENDPOINT, modelVersion: 'v2', imageTag: 'serve-1' },
  ];
  const common = { project: 'fraud', costCenter: 'cc-1042', servedModels };
  new MlopsPlatform(app, 'fraud-dev', { ...common, profile: EnvironmentProfile.dev() });
  const certificateArn = TEST_CERTIFICATE_ARN;
  new MlopsPlatform(app, 'fraud-staging', { ...common, profile: EnvironmentProfile.staging(), env: { account: '123456789012', region: 'eu-west-1' }, certificateArn });
  new MlopsPlatform(app, 'fraud-prod', { ...common, profile: EnvironmentProfile.prod(), env: { account: '210987654321', region: 'us-east-1' }, certificateArn });
  // After synthesis, as the compliance rule runs: references are prepared, and each environment's resources
  // reference only their own bucket (resolving one environment's resource in another's stack would throw).
  app.synth();

  test("the analysis covers every environment's served models without throwing, and finds no undesignated writer", () => {
    const uris = servedUris(app).map((u) => `${Stack.of(u.bucket).stackName} ${u.key}`);
    for (const env of ['dev', 'staging', 'prod']) {
      expect(uris).toEqual(expect.arrayContaining([`fraud-${env}-data served/churn/*/model.tar.gz`, `fraud-${env}-data served/fraud/*/model.tar.gz`]));
    }
    expect(servedWrites(app).filter((w) => !w.designated).map((w) => w.role.node.path)).toEqual([]);
  });
});
