import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { servedUris, servedWrites } from '../../lib/aws/checks/served-writes';
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
    expect(new Set(keys)).toEqual(new Set([
      'nested:served/fraud-detector/v3/model.tar.gz',
      'nested:served/recommender/v7/model.tar.gz',
    ]));
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
