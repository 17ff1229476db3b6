// The API as JavaScript users and users without the optional peers meet it.
import { UserProject } from './support/user-project';

describe('in JavaScript', () => {
  test('monitoring.monitor(fleet) and monitor(endpoint) work; anything else is a ValidationError saying what it takes', () => {
    const run = UserProject.get().run('monitor', `
const { App } = require('aws-cdk-lib');
const { ArtifactStore, EnvironmentProfile, ImageRepository, InferenceFleet, MlopsMonitoring, MlopsStack, ModelEndpoint, PlatformNetwork } = require('mlops-constructs');
const stack = new MlopsStack(new App(), 'Serving', { profile: EnvironmentProfile.dev(), project: 'fraud', costCenter: 'cc-1042' });
const serving = {
  vpc: new PlatformNetwork(stack, 'Network').vpc, artifactStore: new ArtifactStore(stack, 'Store'), image: new ImageRepository(stack, 'Images'),
  imageTag: 'serve-1', modelVersion: 'v1',
};
const monitoring = new MlopsMonitoring(stack, 'Monitoring');
monitoring.monitor(new InferenceFleet(stack, 'Fleet', { ...serving, modelName: 'fraud' })).monitor(new ModelEndpoint(stack, 'Endpoint', { ...serving, modelName: 'churn' }));
console.log(['fraud', 'churn'].map((m) => monitoring.rolloutHealthAlarm(m) !== undefined).join(' '));
monitoring.monitor(serving.artifactStore);
`, { language: 'js' });
    expect(run.stdout.trim()).toBe('true true');
    expect(run.error?.isValidationError).toBe(true);
    expect(run.error?.message).toMatch(/Serving\/Monitoring: 'monitor\(target\)' is not an InferenceFleet, ModelEndpoint, GpuTrainingCluster or ModelRegistry \(received "Serving\/Store"\)/);
  });
});

describe('without the optional peers @pulumi/kubernetes and @pulumi/aws-native', () => {
  const project = UserProject.get({ withoutPeers: ['@pulumi/kubernetes', '@pulumi/aws-native'] });

  test('mlops-constructs/pulumi loads, and only KubernetesWorkloads asks for @pulumi/kubernetes, saying how to install it', () => {
    const run = project.run('pulumi-without-k8s', `
const pulumi = require('@pulumi/pulumi');
pulumi.runtime.setMocks({
  newResource: (args) => ({ id: args.name + '-id', state: args.inputs }),
  call: (args) => args.inputs,
}, 'project', 'stack', true);
const lib = require('mlops-constructs/pulumi');
console.log(typeof lib.ArtifactStore, typeof lib.KubernetesWorkloads);
new lib.KubernetesWorkloads('team', { chart: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'risk' } }] });
`, { language: 'js' });
    expect(run.stdout.trim()).toBe('function function');
    expect(run.error?.isValidationError).toBe(true);
    expect(run.error?.message).toContain("'@pulumi/kubernetes' is not installed (KubernetesWorkloads deploys through it)");
    expect(run.error?.message).toContain('Fix: npm install @pulumi/kubernetes');
  });

  test('a dev ModelEndpoint (scale to zero by default, an inference component) asks for @pulumi/aws-native, saying whether scale to zero was the profile\'s default or set; without scale to zero it needs none', () => {
    const run = project.run('pulumi-without-aws-native', `
const pulumi = require('@pulumi/pulumi');
pulumi.runtime.setMocks({
  newResource: (args) => ({ id: args.name + '-id', state: { ...args.inputs, arn: 'arn:aws:mock:us-east-1:123456789012:' + args.name } }),
  call: (args) => ({ accountId: '123456789012', partition: 'aws', region: 'us-east-1', name: 'us-east-1', arn: 'arn:aws:iam::123456789012:user/me', ...args.inputs }),
}, 'project', 'stack', true);
const { EnvironmentProfile, ValidationError } = require('mlops-constructs');
const lib = require('mlops-constructs/pulumi');
const profile = EnvironmentProfile.dev();
const serving = {
  profile, vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'], artifactStore: new lib.ArtifactStore('store', { profile }),
  image: lib.ImageRepository.fromRepositoryName('images', 'ml/serving'), imageTag: 'serve-1', modelName: 'fraud', modelVersion: 'v1',
};
new lib.ModelEndpoint('on-variants', { ...serving, scaleToZeroOffHours: false });
console.log('built without @pulumi/aws-native');
try {
  new lib.ModelEndpoint('scales-to-zero', serving);
} catch (e) {
  console.log(JSON.stringify({ isValidationError: ValidationError.isValidationError(e), message: e.message }));
}
new lib.ModelEndpoint('asked-to-scale-to-zero', { ...serving, scaleToZeroOffHours: true });
`, { language: 'js' });
    const [built, defaulted] = run.stdout.trim().split('\n');
    expect(built).toBe('built without @pulumi/aws-native');
    // Never set: the dev profile's default, which 'scaleToZeroOffHours: false' overrides.
    const byDefault = JSON.parse(defaulted) as { isValidationError: boolean; message: string };
    expect(byDefault.isValidationError).toBe(true);
    expect(byDefault.message).toContain("mlops:aws:ModelEndpoint(scales-to-zero): 'scaleToZeroOffHours' is not set and defaults to true in the 'dev' profile "
      + '(it has working hours): the endpoint hosts the model as a SageMaker inference component, which needs the @pulumi/aws-native package');
    expect(byDefault.message).toContain("(received undefined). Fix: run 'npm install @pulumi/aws-native' (and set 'aws-native:region'), "
      + "or set 'scaleToZeroOffHours: false' to override the 'dev' profile's default");
    // Set by the user: said so, with the value received.
    expect(run.error?.isValidationError).toBe(true);
    expect(run.error?.message).toContain("mlops:aws:ModelEndpoint(asked-to-scale-to-zero): 'scaleToZeroOffHours' is true: the endpoint hosts the model "
      + 'as a SageMaker inference component, which needs the @pulumi/aws-native package');
    expect(run.error?.message).toContain("(received true). Fix: run 'npm install @pulumi/aws-native' (and set 'aws-native:region'), "
      + "or set 'scaleToZeroOffHours: false' (one instance outside working hours).");
    expect(run.error?.message).not.toContain('profile');
  });
});
