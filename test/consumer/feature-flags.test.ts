// The library sets what it relies on instead of depending on the user's feature flags: the same user code
// synthesizes compliance-clean in a plain `new App()` and under every flag aws-cdk-lib recommends today.
import { FLAG_STATES, UserProject } from './support/user-project';

const DATA_CONSTRUCTS = `
import { App, Stack } from 'aws-cdk-lib';
import { applyCompliancePacks, ArtifactStore, ImageRepository, PlatformKey, PlatformNetwork } from 'mlops-constructs';

const app = new App();
new ArtifactStore(new Stack(app, 'Store'), 'Store');
new ImageRepository(new Stack(app, 'Images'), 'Images');
new PlatformKey(new Stack(app, 'Key'), 'Key');
new PlatformNetwork(new Stack(app, 'Network'), 'Network');
applyCompliancePacks(app);
`;

describe.each(FLAG_STATES)('with feature flags: %s', (flags) => {
  const project = UserProject.get();

  test('the data constructs synthesize with only their required props and pass every compliance pack', () => {
    const result = project.synth(`data-${flags}`, DATA_CONSTRUCTS, { flags });
    expect(result.failure()).toBe('');
    // Server access logs reach the log bucket through its policy, whatever the flags say.
    const store = result.template('Store');
    const logBuckets = Object.values(store.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::S3::Bucket' && !r.Properties.LoggingConfiguration);
    expect(logBuckets).toHaveLength(1);
    expect(logBuckets[0].Properties.AccessControl).toBeUndefined();
    const policies = Object.values(store.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::S3::BucketPolicy');
    expect(JSON.stringify(policies)).toContain('logging.s3.amazonaws.com');
  });
});
