// GPU capacity in an MlopsStack that names no team is charged to the platform (`mlops:team: shared`), below every
// other way of naming the team, on exactly the resources the stack's own tags reach (templates stay cfn-lint clean).
import * as fs from 'fs';
import { App, Tags } from 'aws-cdk-lib';
import { cfnLint, describe as describeFindings, synthesizeWithPacks, tempDir } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, GpuTrainingCluster, ImageRepository, InferenceFleet, MlopsStack, ModelEndpoint,
  PlatformNetwork, SHARED_TEAM,
} from 'mlops-constructs';

const GPU_TYPES = ['AWS::EC2::LaunchTemplate', 'AWS::SageMaker::EndpointConfig', 'AWS::Batch::ComputeEnvironment'];

function build(team?: string, userTeam?: string) {
  const app = new App({ outdir: tempDir('capacity-tags') });
  const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p', costCenter: 'cc-1', team });
  const vpc = new PlatformNetwork(stack, 'Network').vpc;
  const artifactStore = new ArtifactStore(stack, 'Store');
  const serving = { vpc, artifactStore, image: new ImageRepository(stack, 'Images'), imageTag: 't', modelVersion: 'v1' };
  const fleet = new InferenceFleet(stack, 'Fleet', { ...serving, modelName: 'fraud' });
  new ModelEndpoint(stack, 'Endpoint', { ...serving, modelName: 'churn' });
  new GpuTrainingCluster(stack, 'Training', { vpc, artifactStore });
  if (userTeam) Tags.of(fleet).add('mlops:team', userTeam);
  applyCompliancePacks(app);
  const result = synthesizeWithPacks(app);
  const template = JSON.parse(fs.readFileSync(`${result.outdir}/Env.template.json`, 'utf8'));
  const teams = Object.entries(template.Resources as Record<string, any>).filter(([, r]) => GPU_TYPES.includes(r.Type)).map(([id, r]) => {
    const json = JSON.stringify(r.Properties);
    const match = /"Key":"mlops:team","Value":"([^"]+)"/.exec(json) ?? /"mlops:team":"([^"]+)"/.exec(json);
    return [id.replace(/[0-9A-F]{8}$/, ''), match?.[1]];
  });
  return { result, teams: Object.fromEntries(teams) };
}

test('with no team: the GPU capacity is shared, compliance-clean and cfn-lint clean', () => {
  const { result, teams } = build();
  expect(Object.keys(teams).length).toBeGreaterThanOrEqual(4);
  expect(new Set(Object.values(teams))).toEqual(new Set([SHARED_TEAM]));
  expect(describeFindings(result.findings)).toBe('');
  expect(describeFindings(cfnLint(result.templates))).toBe('');
});

test("the stack's team and a user's Tags.of win over the default", () => {
  expect(new Set(Object.values(build('risk').teams))).toEqual(new Set(['risk']));
  const { teams } = build(undefined, 'growth');
  expect(Object.entries(teams).filter(([id]) => id.startsWith('Fleet')).map(([, t]) => t)).toEqual(['growth']);
  expect(Object.entries(teams).filter(([id]) => !id.startsWith('Fleet')).every(([, t]) => t === SHARED_TEAM)).toBe(true);
});
