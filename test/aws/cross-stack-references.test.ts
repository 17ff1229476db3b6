// The library's acknowledgements of findings on values from another stack match what aws-cdk-lib renders for every
// cross-stack reference strength (`@aws-cdk/core:defaultCrossStackReferences`): `Fn::ImportValue` for strong
// references, `Fn::GetStackOutput` for weak ones (what `cdk init` writes today) and for the transitional `both`.
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { describe as describeFindings, synthesizeWithPacks, tempDir } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, ExperimentTracking, GpuTrainingCluster, ImageRepository, InferenceFleet,
  MlopsStack, ModelEndpoint, ModelRegistry, PlatformNetwork,
} from 'mlops-constructs';

function build(strength: string) {
  const app = new App({ outdir: tempDir('cross-stack'), context: { '@aws-cdk/core:defaultCrossStackReferences': strength } });
  const props = { profile: EnvironmentProfile.dev(), project: 'p', costCenter: 'cc-1' };
  const data = new MlopsStack(app, 'Data', props);
  const vpc = new PlatformNetwork(data, 'Network').vpc;
  const artifactStore = new ArtifactStore(data, 'Store');
  const image = new ImageRepository(data, 'Images');
  const registry = new ModelRegistry(data, 'Registry', { vpc });
  new ExperimentTracking(new MlopsStack(app, 'Tracking', props), 'Tracking', { vpc, registry, artifactStore });
  const cluster = new GpuTrainingCluster(new MlopsStack(app, 'Training', props), 'Cluster', { vpc, artifactStore });
  cluster.addJobDefinition('Train', { imageRepository: image, imageTag: 'train-1' });
  const serving = { vpc, modelName: 'fraud', modelVersion: 'v1', artifactStore, image, imageTag: 'serve-1' };
  new InferenceFleet(new MlopsStack(app, 'Fleet', props), 'Fleet', serving);
  new ModelEndpoint(new MlopsStack(app, 'Endpoint', props), 'Endpoint', serving);
  applyCompliancePacks(app);
  const result = synthesizeWithPacks(app);
  const template = (name: string) => JSON.parse(fs.readFileSync(path.join(result.outdir, `${name}.template.json`), 'utf8'));
  return { result, template };
}

describe.each(['strong', 'weak', 'both'])('cross-stack references: %s', (strength) => {
  const { result, template } = build(strength);

  test('every construct consuming the data stack synthesizes with no unacknowledged finding', () => {
    expect(describeFindings(result.findings)).toBe('');
  });

  test('consumers read the data stack the way the strength says', () => {
    const consumers = JSON.stringify(['Tracking', 'Training', 'Fleet', 'Endpoint'].map(template));
    expect(consumers.includes('Fn::GetStackOutput')).toBe(strength !== 'strong');
    expect(consumers.includes('Fn::ImportValue')).toBe(strength === 'strong');
    // Acknowledging a weak reference must not add the strong export that would pin the data stack.
    expect(Object.keys(template('Data').Outputs ?? {}).some((k) => JSON.stringify(template('Data').Outputs[k]).includes('Export'))).toBe(strength !== 'weak');
  });
});
