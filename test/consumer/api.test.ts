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

describe('without the optional peer @pulumi/kubernetes', () => {
  const project = UserProject.get({ withoutPeers: ['@pulumi/kubernetes'] });

  test('mlops-constructs/pulumi loads, and only KubernetesWorkloads asks for the peer, saying how to install it', () => {
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
});
