import { ApiObject, Testing } from 'cdk8s';
import { one, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { DataClassification, EnvironmentProfile, ValidationError } from 'mlops-constructs';
import { GpuTrainingJob, MlopsChart } from 'mlops-constructs/k8s';

describe('MlopsChart', () => {
  test('labels every object with the cost-allocation tags and exposes profile and tags', () => {
    const chart = new MlopsChart(Testing.app(), 'team', {
      profile: EnvironmentProfile.staging(), project: 'vision', team: 'cv', costCenter: 'cc-7', dataClassification: DataClassification.CONFIDENTIAL,
    });
    new ApiObject(chart, 'Config', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
    expect(one(synth(chart), 'ConfigMap').metadata.labels).toEqual({
      'mlops-constructs.io/project': 'vision',
      'mlops-constructs.io/environment': 'staging',
      'mlops-constructs.io/team': 'cv',
      'mlops-constructs.io/cost-center': 'cc-7',
      'mlops-constructs.io/data-classification': 'confidential',
    });
    expect(chart.profile.name).toBe('staging');
    expect(chart.mlopsTags.team).toBe('cv');
  });

  test('constructs inside take their defaults from the chart\'s profile', () => {
    const chart = new MlopsChart(Testing.app(), 'team', { profile: EnvironmentProfile.dev(), project: 'p' });
    new GpuTrainingJob(chart, 'Train', { image: 'trainer:1.0.0' });
    expect(one(synth(chart), 'Job').spec.backoffLimit).toBe(1);
  });

  test('rejects a missing profile and a bad project name', () => {
    expect(() => new MlopsChart(Testing.app(), 'team', { profile: undefined as unknown as EnvironmentProfile, project: 'p' }))
      .toThrow(/'profile' must be an EnvironmentProfile.*Fix: pass EnvironmentProfile.dev\(\)/);
    expect(() => new MlopsChart(Testing.app(), 'team', { profile: EnvironmentProfile.dev(), project: 'my project' })).toThrow(ValidationError);
    expect(() => new MlopsChart(Testing.app(), 'team', { profile: EnvironmentProfile.dev(), project: 'my project' })).toThrow(/'tags.project'/);
  });
});

validatesEverySynthesizedManifest();
