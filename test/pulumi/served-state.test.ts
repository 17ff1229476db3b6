import * as aws from '@pulumi/aws';
import { Duration } from 'aws-cdk-lib';
import { errorOf, installMocks, mockArn, ofType, promiseOf, RecordedResource, resourcesOf, setParameterValue } from './support';
import { runBootScript } from '../support/boot-script';
import {
  encodeServedState, EnvironmentProfile, MlopsTags, parseServedState, Rollout, SERVED_VARIANT_TAG, servedStateParameterName, ValidationError,
} from 'mlops-constructs';
import { ArtifactStore, ImageRepository, InferenceFleet, InferenceFleetArgs, ModelEndpoint, ModelEndpointArgs, servedVariant } from 'mlops-constructs/pulumi';

/*
 * Claim 3 of docs/design/served-models.md on Pulumi: a `pulumi up` after a promotion (or a rollout step) serves what the
 * served state holds, never the program's older versions or weights. The mocks answer `aws.ssm.getParameter` with a
 * served state promotion wrote (setParameterValue), which differs from the program's modelVersion.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const profile = EnvironmentProfile.dev();
const tags = MlopsTags.of({ project: 'acme', environment: 'dev' });
const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'], allowedCidrBlocks: ['10.0.0.0/16'] };
const canary = () => Rollout.canary({ percent: 10, bake: Duration.minutes(30) });
const decode = (userData: string) => Buffer.from(userData, 'base64').toString('utf8');
const statementsOf = (resources: RecordedResource[], name: string): Json[] =>
  JSON.parse(ofType(resources, 'aws:iam/policy:Policy').find((p) => p.name === name)!.inputs.policy).Statement;

/** A served-state parameter as the docs (and MlopsPlatform) create it: the initial state, value ignored afterwards. */
function servedStateFor(id: string, model: string, initialState: ReturnType<typeof InferenceFleet.initialServedState>) {
  const name = servedStateParameterName('acme-dev', model);
  const parameter = new aws.ssm.Parameter(id, { name, type: 'String', value: encodeServedState(initialState) }, { ignoreChanges: ['value'] });
  return { name, arn: parameter.arn, initialState };
}

describe('Pulumi InferenceFleet with a served state', () => {
  let resources: RecordedResource[];
  let store: ArtifactStore;
  let fleet: InferenceFleet;
  const fleetArgs = (model: string): InferenceFleetArgs => ({
    profile,
    tags,
    ...net,
    artifactStore: store,
    image: ImageRepository.fromRepositoryName(`${model}-images`, 'ml/serving'),
    imageTag: '1',
    modelName: model,
    modelVersion: 'v3',
    variantVersions: { candidate: 'v4' },
    rollout: canary(),
  });

  beforeAll(async () => {
    store = new ArtifactStore('ssf-store', { profile, tags });
    const args = fleetArgs('fraud');
    const servedState = servedStateFor('ssf-served', 'fraud', InferenceFleet.initialServedState(args));
    // Since the program was written, promotion served v4 and v5 and the rollout state machine moved 30% to v5.
    setParameterValue(servedState.name, 'current=v4@70,candidate=v5@30');
    fleet = new InferenceFleet('ssf-fleet', { ...args, servedState });
    resources = await resourcesOf('ssf');
  });

  test('the program\'s initial served state is the rollout\'s variants, versions and initial split (as the CDK fleet\'s)', () => {
    expect(encodeServedState(InferenceFleet.initialServedState(fleetArgs('fraud')))).toBe('current=v3@90,candidate=v4@10');
    // (An all-at-once rollout's one variant is core's 'candidate', as in CDK.)
    expect(InferenceFleet.initialServedState({ modelVersion: 'v1' })).toEqual({ variants: [{ variant: 'candidate', version: 'v1', weight: 100 }] });
  });

  test('a pulumi up after promotion weighs the listener as the served state does (70/30), not as the program\'s split (90/10)', () => {
    const [listener] = ofType(resources, 'aws:lb/listener:Listener');
    const weights = Object.fromEntries(listener.inputs.defaultActions[0].forward.targetGroups.map((g: Json) => [g.arn.replace(/.*\/ssf-fleet-(\w+)-tg$/, '$1'), g.weight]));
    expect(weights).toEqual({ current: 70, candidate: 30 });
  });

  test('the launch templates name no version: each variant\'s instances boot serving the served state\'s version of their variant', () => {
    const templates = ofType(resources, 'aws:ec2/launchTemplate:LaunchTemplate');
    expect(templates.map((t) => t.name).sort()).toEqual(['ssf-fleet-candidate-lt', 'ssf-fleet-current-lt']);
    for (const template of templates) {
      const script = decode(template.inputs.userData);
      expect(script).not.toMatch(/\bv[345]\b/);
      expect(script).toContain("--name '/mlops/acme-dev/served/fraud'");
      const variant = template.name.replace(/^ssf-fleet-(\w+)-lt$/, '$1');
      const booted = runBootScript(script, 'current=v4@70,candidate=v5@30');
      expect(booted.status).toBe(0);
      expect(booted.modelUri).toBe(`s3://ssf-store-models/served/fraud/${variant === 'current' ? 'v4' : 'v5'}/model.tar.gz`);
      // After the next promotion, a new instance of the same template serves the next version.
      expect(runBootScript(script, 'current=v5@100,candidate=v6@0').modelUri).toBe(`s3://ssf-store-models/served/fraud/${variant === 'current' ? 'v5' : 'v6'}/model.tar.gz`);
    }
  });

  test('each variant\'s group is tagged with the served state and its position, what promotion refreshes it by (not propagated to instances)', () => {
    const groups = ofType(resources, 'aws:autoscaling/group:Group');
    const tagOf = (g: RecordedResource) => g.inputs.tags.filter((t: Json) => t.key === SERVED_VARIANT_TAG);
    expect(Object.fromEntries(groups.map((g) => [g.name, tagOf(g)]))).toEqual({
      'ssf-fleet-current-asg': [{ key: SERVED_VARIANT_TAG, value: '/mlops/acme-dev/served/fraud:0', propagateAtLaunch: false }],
      'ssf-fleet-candidate-asg': [{ key: SERVED_VARIANT_TAG, value: '/mlops/acme-dev/served/fraud:1', propagateAtLaunch: false }],
    });
  });

  test('the instance role reads its own served state and no other parameter', () => {
    const ssm = statementsOf(resources, 'ssf-fleet-instance-policy').filter((s) => JSON.stringify(s.Action).includes('ssm:'));
    expect(ssm).toEqual([{ Sid: 'ReadServedState', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: mockArn('aws:ssm/parameter:Parameter', 'ssf-served') }]);
    expect(JSON.stringify(statementsOf(resources, 'ssf-fleet-instance-policy'))).not.toMatch(/"(ssm:\*|\*)"\s*,?\s*"Resource":"\*"/);
  });

  test('the fleet exposes the served state as pulumi up read it', async () => {
    expect(await promiseOf(fleet.servedState!)).toEqual({
      variants: [{ variant: 'current', version: 'v4', weight: 70 }, { variant: 'candidate', version: 'v5', weight: 30 }],
    });
  });

  test('without a served state the program owns versions and weights (as before) and the role reads no parameter', async () => {
    const plain = new InferenceFleet('ssn-fleet', { ...fleetArgs('churn') });
    const own = await resourcesOf('ssn');
    expect(plain.servedState).toBeUndefined();
    const [listener] = ofType(own, 'aws:lb/listener:Listener');
    expect(listener.inputs.defaultActions[0].forward.targetGroups.map((g: Json) => g.weight)).toEqual([90, 10]);
    expect(ofType(own, 'aws:ec2/launchTemplate:LaunchTemplate').map((t) => /served\/churn\/(v\d)\//.exec(decode(t.inputs.userData))?.[1]).sort()).toEqual(['v3', 'v4']);
    expect(JSON.stringify(statementsOf(own, 'ssn-fleet-instance-policy'))).not.toContain('ssm:');
    expect(JSON.stringify(ofType(own, 'aws:autoscaling/group:Group').map((g) => g.inputs.tags))).not.toContain(SERVED_VARIANT_TAG);
  });

  test('an all-at-once fleet (one variant, core\'s \'candidate\') serves what promotion writes for it (\'current=<version>@100\')', async () => {
    const args = { ...fleetArgs('single'), variantVersions: undefined, rollout: undefined };
    const servedState = servedStateFor('sss-served', 'single', InferenceFleet.initialServedState(args));
    setParameterValue(servedState.name, 'current=v9@100');
    new InferenceFleet('sss-fleet', { ...args, servedState });
    const own = await resourcesOf('sss');
    const [template] = ofType(own, 'aws:ec2/launchTemplate:LaunchTemplate');
    expect(runBootScript(decode(template.inputs.userData), 'current=v9@100').modelUri).toBe('s3://ssf-store-models/served/single/v9/model.tar.gz');
    expect(ofType(own, 'aws:lb/listener:Listener')[0].inputs.defaultActions[0].targetGroupArn).toBe(mockArn('aws:lb/targetGroup:TargetGroup', 'sss-fleet-candidate-tg'));
  });

  test.each([
    ['the served state of another model', (a: InferenceFleetArgs) => ({ ...servedStateFor('x1', 'fraud', InferenceFleet.initialServedState(a)) }),
      /'servedState' is not the served state of this model \(this InferenceFleet serves 'bad'\).*servedStateParameterName\(<environment prefix>, 'bad'\)/],
    ['another initial state (the program\'s rollout changed)', (_a: InferenceFleetArgs) => servedStateFor('x2', 'bad', InferenceFleet.initialServedState({ modelVersion: 'v3' })),
      /'servedState' starts from another state than this InferenceFleet's rollout and versions \(current=v3@90,candidate=v4@10\).*InferenceFleet.initialServedState\(args\)/],
    ['no ARN', (a: InferenceFleetArgs) => ({ name: servedStateParameterName('acme-dev', 'bad'), initialState: InferenceFleet.initialServedState(a) }),
      /'servedState' must be \{ name, arn, initialState \}/],
  ])('%s is refused with a ValidationError naming the fleet, the prop and the fix', (_what, servedState, message) => {
    const args = fleetArgs('bad');
    const error = errorOf(() => new InferenceFleet('ssx-fleet', { ...args, servedState: servedState(args) as Json }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('mlops:aws:InferenceFleet(ssx-fleet)');
    expect(error.message).toMatch(message);
  });

  test('a served state without an entry for one of the fleet\'s variants fails the pulumi up that reads it (the variant set is code)', () => {
    // What the listener's weight (and the fleet's servedState output) does with the value pulumi up read: entries by position.
    const read = parseServedState('current=v4@100');
    expect(servedVariant(read, 0, 'current', '/mlops/acme-dev/served/gone', 'mlops:aws:InferenceFleet(ssg-fleet)').weight).toBe(100);
    const error = errorOf(() => servedVariant(read, 1, 'candidate', '/mlops/acme-dev/served/gone', 'mlops:aws:InferenceFleet(ssg-fleet)'));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toMatch(/InferenceFleet\(ssg-fleet\): 'servedState' \(parameter \/mlops\/acme-dev\/served\/gone\) has no entry 2 \(variant 'candidate'\).*every variant of the rollout/);
  });
});

describe('Pulumi ModelEndpoint with a served state', () => {
  let store: ArtifactStore;
  const endpointArgs = (model: string, extra: Partial<ModelEndpointArgs> = {}): ModelEndpointArgs => ({
    profile,
    tags,
    vpcId: net.vpcId,
    subnetIds: net.subnetIds,
    artifactStore: store,
    image: ImageRepository.fromRepositoryName(`${model}-images`, 'ml/serving'),
    imageTag: '1',
    modelName: model,
    modelVersion: 'v1',
    rollout: canary(),
    ...extra,
  });
  const modelOf = (resources: RecordedResource[], name: string) => ofType(resources, 'aws:sagemaker/model:Model').find((m) => m.name === name)!.inputs;

  beforeAll(() => {
    store = new ArtifactStore('sse-store', { profile, tags });
  });

  test('a pulumi up after promotion serves the promoted version: the model\'s ModelDataUrl is the served state\'s, not modelVersion\'s', async () => {
    const args = endpointArgs('recs');
    expect(ModelEndpoint.initialServedState(args)).toEqual({ variants: [{ variant: 'current', version: 'v1', weight: 100 }] });
    const servedState = servedStateFor('sse-served', 'recs', ModelEndpoint.initialServedState(args));
    setParameterValue(servedState.name, 'current=v2@100');
    const endpoint = new ModelEndpoint('sse-endpoint', { ...args, servedState });
    const resources = await resourcesOf('sse');
    const model = modelOf(resources, 'sse-endpoint-current-model');
    expect(model.primaryContainer.modelDataUrl).toBe('s3://sse-store-models/served/recs/v2/model.tar.gz');
    expect(model.primaryContainer.environment).toEqual({ MODEL_URI: 's3://sse-store-models/served/recs/v2/model.tar.gz' });
    expect(await promiseOf(endpoint.servedState!)).toEqual({ variants: [{ variant: 'current', version: 'v2', weight: 100 }] });
    // Guardrails still own the update that replaces the model: in dev (scale to zero, an inference component) the
    // component's rolling update takes the canary's share first, watched by the rollback alarms.
    const component = ofType(resources, 'aws-native:sagemaker:InferenceComponent')[0].inputs;
    expect(component.specification.modelName).toBe('sse-endpoint-current-model');
    expect(component.deploymentConfig.rollingUpdatePolicy.maximumBatchSize).toEqual({ type: 'CAPACITY_PERCENT', value: 10 });
    expect(component.deploymentConfig.autoRollbackConfiguration.alarms.length).toBeGreaterThan(0);
  });

  test('without a served state the program\'s modelVersion is served (as before)', async () => {
    new ModelEndpoint('ssp-endpoint', endpointArgs('plain'));
    expect(modelOf(await resourcesOf('ssp'), 'ssp-endpoint-current-model').primaryContainer.modelDataUrl).toBe('s3://sse-store-models/served/plain/v1/model.tar.gz');
  });

  test.each([
    ['a shadow endpoint', { rollout: Rollout.shadow({ mirrorPercent: 20 }), variantVersions: { candidate: 'v2' } },
      /'servedState' is only for an endpoint with one production variant \(this shadow endpoint has 2\).*shadow and A\/B endpoints keep the program's versions/],
    ['an A/B endpoint', { rollout: Rollout.abTest({ weights: { current: 50, b: 50 } }), variantVersions: { b: 'v2' } },
      /'servedState' is only for an endpoint with one production variant \(this ab-test endpoint has 2\)/],
  ])('%s with a served state is refused (promotion does not own its versions)', (_what, extra, message) => {
    const args = endpointArgs('multi', extra as Partial<ModelEndpointArgs>);
    const servedState = { name: servedStateParameterName('acme-dev', 'multi'), arn: 'arn:aws:ssm:us-east-1:123456789012:parameter/mlops/acme-dev/served/multi', initialState: ModelEndpoint.initialServedState(args) };
    const error = errorOf(() => new ModelEndpoint('ssm-endpoint', { ...args, servedState }));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain('mlops:aws:ModelEndpoint(ssm-endpoint)');
    expect(error.message).toMatch(message);
  });

  test('the served state of another model, or of other versions, is refused', () => {
    const args = endpointArgs('own');
    const other = { name: servedStateParameterName('acme-dev', 'other'), arn: 'arn:aws:ssm:us-east-1:123456789012:parameter/x', initialState: ModelEndpoint.initialServedState(args) };
    expect(errorOf(() => new ModelEndpoint('sso-endpoint', { ...args, servedState: other })).message)
      .toMatch(/'servedState' is not the served state of this model \(this ModelEndpoint serves 'own'\)/);
    const stale = { ...other, name: servedStateParameterName('acme-dev', 'own'), initialState: ModelEndpoint.initialServedState({ modelVersion: 'v0' }) };
    expect(errorOf(() => new ModelEndpoint('sso-endpoint2', { ...args, servedState: stale })).message)
      .toMatch(/'servedState' starts from another state than this ModelEndpoint's rollout and versions \(current=v1@100\).*ModelEndpoint.initialServedState\(args\)/);
  });
});
