// ModelPromotion (#15 "immutable served models", #20 items 4 and 9): THE promotion role and its state machine, on a
// platform a newcomer builds in a plain App. IAM claims on the synthesized templates; the definition executed offline
// with aws-local-stepfunctions against fakes of every service call (S3 enforcing the models bucket's write-once rule).
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { servedWrites } from '../../lib/aws/checks/served-writes';
import { certificateArnFor } from '../support/certificates';
import { evaluate } from '../support/cfn-eval';
import { newApp } from '../support/gate';
import { environmentTemplates, IamWalk, REGION } from '../support/iam-walk';
import { FakeAws, run, STAGING_BUCKET, STAGING_PACKAGE, stagingPackage, withFleetRollout, writeOnceDenies } from '../support/promotion-fakes';
import {
  EnvironmentProfile, InferenceFleet, MlopsPlatform, ModelEndpoint, ModelPromotion, PROMOTION_TARGET_TAG, Rollout, ServingBackend, ValidationError,
} from 'mlops-constructs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errorsText: () => string };

const SERVED_MODELS = [
  { name: 'fraud', backend: ServingBackend.FLEET, modelVersion: 'v7', variantVersions: { candidate: 'v7' }, imageTag: 'serve-1', rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) },
  { name: 'churn', backend: ServingBackend.FLEET, modelVersion: 'v2', imageTag: 'serve-1' },
  { name: 'recs', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 'serve-1' },
];

function platformIn(app: App, profile = EnvironmentProfile.prod()): MlopsPlatform {
  return new MlopsPlatform(app, `acme-${profile.name}`, {
    profile, project: 'acme', costCenter: 'cc-1', env: { region: REGION }, servedModels: SERVED_MODELS, ...certificateArnFor(profile),
  });
}

describe('the promotion role: IAM claims on the synthesized templates (prod platform with defaults)', () => {
  const app = newApp();
  const platform = platformIn(app);
  const outdir = app.synth().directory;
  const walk = new IamWalk(environmentTemplates(outdir, ['acmeprod']));
  const promotionRole = walk.role(/^ModelPromotionRole[0-9A-F]{8}$/);
  const models = walk.symbol('AWS::S3::Bucket', /ArtifactStoreModels/, 'Arn');
  const datasets = walk.symbol('AWS::S3::Bucket', /ArtifactStoreDatasets/, 'Arn');
  const can = (role: typeof promotionRole, action: string, resource: string) => walk.allows(role, action, resource, { 'aws:RequestedRegion': REGION });

  test('the promotion role is the role the models bucket policy designates (its name), and the only role that writes served/', () => {
    expect(walk.resources('AWS::IAM::Role').find((r) => r.logicalId === promotionRole.logicalId)!.properties.RoleName)
      .toBe(platform.artifactStore.promotionRoleName);
    const writes = servedWrites(app);
    expect(writes.filter((w) => !w.designated).map((w) => `${w.role.node.path} ${w.action}`)).toEqual([]);
    // The claim is not empty: the promotion role's writes are found, and they are designated.
    const writers = new Set(writes.map((w) => w.role.node.path));
    expect([...writers]).toEqual([platform.modelPromotion.role.node.defaultChild!.node.path]);
    expect(writes.map((w) => w.action)).toContain('s3:PutObject');
    // Every role of the environment, walked: none but the promotion role may put below served/.
    const writersByWalk = walk.roles.filter((r) => can(r, 's3:PutObject', `${models}/served/fraud/v8/model.tar.gz`)).map((r) => r.logicalId);
    expect(writersByWalk).toEqual([promotionRole.logicalId]);
  });

  test('the promotion role writes nothing else of the models bucket, deletes nothing, and cannot read the datasets bucket', () => {
    expect(can(promotionRole, 's3:PutObject', `${models}/served/fraud/v8/model.tar.gz`)).toBe(true);
    expect(can(promotionRole, 's3:GetObject', `${models}/candidates/fraud/run-1/model.tar.gz`)).toBe(true);
    for (const key of ['candidates/fraud/run-1/model.tar.gz', 'mlflow/1/x', 'fraud/v1/model.tar.gz']) {
      expect([key, can(promotionRole, 's3:PutObject', `${models}/${key}`)]).toEqual([key, false]);
    }
    for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:BypassGovernanceRetention', 's3:PutBucketPolicy']) {
      expect([action, can(promotionRole, action, `${models}/served/fraud/v8/model.tar.gz`)]).toEqual([action, false]);
    }
    for (const action of ['s3:GetObject', 's3:ListBucket', 's3:PutObject']) {
      expect([action, can(promotionRole, action, `${datasets}/fraud/train.csv`), can(promotionRole, action, datasets)]).toEqual([action, false, false]);
    }
  });

  test('only the promotion state machine can assume the promotion role, and no role can repoint a state machine at it', () => {
    const trust = promotionRole.trust;
    expect(trust).toHaveLength(1);
    expect(trust[0]).toMatchObject({ Effect: 'Allow', Action: ['sts:AssumeRole'], Principal: { Service: 'states.amazonaws.com' } });
    const machine = walk.resources('AWS::StepFunctions::StateMachine').find((m) => m.logicalId.startsWith('ModelPromotionStateMachine'))!;
    expect(machine.properties.StateMachineName).toBe('acme-prod-promotion');
    expect(walk.render(machine.template, machine.properties.RoleArn)).toBe(promotionRole.arn);
    expect(JSON.stringify(trust[0].Condition)).toContain('"aws:SourceArn":"arn:aws:states:us-east-1:123456789012:stateMachine:acme-prod-promotion"');
    expect(JSON.stringify(trust[0].Condition)).toContain('"aws:SourceAccount":"123456789012"');
    // The only state machine that may carry the role: no role may create or update state machines, or pass the role.
    for (const role of walk.roles) {
      for (const action of ['states:CreateStateMachine', 'states:UpdateStateMachine', 'sts:AssumeRole']) {
        expect([role.logicalId, action, can(role, action, '*')]).toEqual([role.logicalId, action, false]);
      }
    }
  });

  test('the promotion role may make every call of its definition (core\'s statements), under the boundary, on this environment only', () => {
    const machine = walk.resources('AWS::StepFunctions::StateMachine').find((m) => m.logicalId.startsWith('ModelPromotionStateMachine'))!;
    const definition = JSON.parse(walk.render(machine.template, machine.properties.DefinitionString));
    const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:123456789012:${resource}`;
    const resourceOf: Record<string, string> = {
      dynamodb: walk.symbol('AWS::DynamoDB::Table', /^ModelPromotionLocks/, 'Arn'),
      sns: walk.symbol('AWS::SNS::Topic', /AlarmTopic/),
      ssm: arn('ssm', 'parameter/mlops/acme-prod/served/fraud'),
      s3: `${models}/served/fraud/v8/model.tar.gz`,
      sagemaker: arn('sagemaker', 'model-package/fraud/3'),
      tag: '*',
      cloudformation: arn('cloudformation', 'stack/acme-prod-serving-07/0abc'),
      states: arn('states', 'stateMachine:acme-prod-fraud-rollout'),
    };
    const context = { 'aws:RequestedRegion': REGION, 's3:ObjectCreationOperation': true, 's3:if-none-match': '*' };
    const tasks = Object.entries<any>(definition.States).filter(([, s]) => s.Type === 'Task');
    for (const [name, task] of tasks) {
      const [, service, api] = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):([a-zA-Z]+)/.exec(task.Resource)!;
      const iamService = service === 'resourcegroupstaggingapi' ? 'tag' : service;
      const action = iamService === 's3' && api !== 'abortMultipartUpload' ? 's3:PutObject' : `${iamService}:${api[0].toUpperCase()}${api.slice(1)}`;
      const resource = action === 'sagemaker:CreateModelPackage' ? arn('sagemaker', 'model-package-group/fraud') : resourceOf[iamService];
      expect([name, action, walk.allows(promotionRole, action, resource, context)]).toEqual([name, action, true]);
    }
    // Another environment's served states, stacks and rollouts are not its to change.
    expect(can(promotionRole, 'ssm:PutParameter', arn('ssm', 'parameter/mlops/acme-staging/served/fraud'))).toBe(false);
    expect(can(promotionRole, 'cloudformation:UpdateStack', arn('cloudformation', 'stack/acme-staging-serving-07/0abc'))).toBe(false);
    expect(can(promotionRole, 'states:StartExecution', arn('states', 'stateMachine:acme-staging-fraud-rollout'))).toBe(false);
  });

  test('the ML engineer persona can start a promotion (the documented manual path) but cannot write served/ itself', () => {
    const engineer = walk.role(/MlEngineer/);
    const machine = walk.symbol('AWS::StepFunctions::StateMachine', /^ModelPromotionStateMachine/);
    expect(can(engineer, 'states:StartExecution', machine)).toBe(true);
    expect(can(engineer, 's3:PutObject', `${models}/served/fraud/v8/model.tar.gz`)).toBe(false);
  });

  test('the served states carry where promotion finds them: stepped fleets roll out, the rest are updated directly', () => {
    const tags: Record<string, string> = {};
    for (const r of walk.resources('AWS::SSM::Parameter')) {
      const name = r.properties.Name as string;
      if (name?.startsWith('/mlops/acme-prod/served/')) tags[name] = r.properties.Tags?.[PROMOTION_TARGET_TAG];
    }
    const fraudShard = platform.servingStackOf('fraud')!.stackName;
    const churnShard = platform.servingStackOf('churn')!.stackName;
    expect(tags).toEqual({
      '/mlops/acme-prod/served/fraud': `rollout ${fraudShard} acme-prod-fraud-rollout`,
      '/mlops/acme-prod/served/churn': `direct ${churnShard} none`,
      '/mlops/acme-prod/served/recs': `direct ${platform.servingStackOf('recs')!.stackName} none`,
    });
    expect(platform.fleetRolloutOf('fraud')!.stateMachineName).toBe('acme-prod-fraud-rollout');
  });
});

describe('ModelPromotion, bad input', () => {
  test('an imported artifact store without a promotion role name is refused, naming the prop and the fix', () => {
    const app = new App();
    const platform = platformIn(app, EnvironmentProfile.dev());
    const stack = new Stack(app, 'Other');
    const imported = { ...platform.artifactStore, promotionRoleName: undefined, node: platform.artifactStore.node } as never;
    expect(() => new ModelPromotion(stack, 'P', { artifactStore: imported, environmentPrefix: 'acme-dev', alarmTopic: platform.monitoring.alarmTopic }))
      .toThrow(ValidationError);
    expect(() => new ModelPromotion(stack, 'Q', { artifactStore: imported, environmentPrefix: 'acme-dev', alarmTopic: platform.monitoring.alarmTopic }))
      .toThrow(/artifactStore.*names no promotion role.*promotionRoleName/);
  });
});

describe('ModelEndpoint reading its version from a served state (promotion owns it; a deploy keeps it)', () => {
  test('the model archive is the served state\'s version, resolved at deploy time from the SSM-typed parameter of its stack', () => {
    const app = new App();
    const platform = platformIn(app, EnvironmentProfile.dev());
    const endpoint = platform.servedModel('recs') as ModelEndpoint;
    expect(endpoint.servedState!.initialValue).toBe('current=v1@100');
    const url = JSON.stringify(Stack.of(endpoint).resolve(endpoint.variants[0].model.primaryContainer));
    expect(url).toMatch(/served\/recs\/",\{"Fn::Select":\[0,\{"Fn::Split":\["@",\{"Fn::Select":\[1,\{"Fn::Split":\["=",\{"Fn::Select":\[0,\{"Fn::Split":\[",",\{"Ref":"/);
    expect(url).not.toContain('/v1/');
  });

  test('a served state that does not list the endpoint\'s variants is refused, naming the prop and the fix', () => {
    expect(ModelEndpoint.initialServedState({ modelVersion: 'v1', rollout: Rollout.shadow({ mirrorPercent: 20 }), variantVersions: { candidate: 'v2' } }))
      .toEqual({ variants: [{ variant: 'current', version: 'v1', weight: 100 }, { variant: 'candidate', version: 'v2', weight: 0 }] });
    const app = new App();
    const platform = platformIn(app, EnvironmentProfile.dev());
    const state = (platform.servedModel('fraud') as InferenceFleet).servedState!;
    const stack = new Stack(app, 'Other');
    expect(() => new ModelEndpoint(stack, 'E', {
      vpc: platform.network.vpc,
      artifactStore: platform.artifactStore,
      image: platform.servingImages,
      imageTag: 't',
      modelName: 'fraud',
      modelVersion: 'v1',
      servedState: state,
    })).toThrow(/E: 'servedState' does not list the endpoint's variants \(current\) in order.*initialServedState/);
  });
});

// ---- Executing the definition ----

/** The promotion state machine's definition as CloudFormation deploys it (references resolved to stand-ins). */
function deployedDefinition(platform: MlopsPlatform): any {
  const template = Template.fromStack(platform.platformStack).toJSON();
  const [id] = Object.keys(template.Resources).filter((k) => k.startsWith('ModelPromotionStateMachine') && template.Resources[k].Type === 'AWS::StepFunctions::StateMachine');
  const withoutImports = JSON.parse(JSON.stringify(template.Resources[id].Properties.DefinitionString), (_k, v) =>
    (v && typeof v === 'object' && 'Fn::ImportValue' in v ? 'models-bucket' : v));
  const refs = Object.fromEntries([...Object.keys(template.Resources), ...Object.keys(template.Parameters ?? {})].map((k) => [k, `ref:${k}`]));
  const attributes = new Proxy({}, { has: () => true, get: (_t, key) => `att:${String(key)}` }) as Record<string, string>;
  return JSON.parse(evaluate(withoutImports, refs, { 'AWS::Region': 'us-east-1', 'AWS::AccountId': '111111111111' }, attributes));
}


describe('the promotion state machine, executed offline', () => {
  const app = new App();
  const platform = platformIn(app);
  app.synth();
  const definition = deployedDefinition(platform);
  const shards = {
    fraud: `rollout ${platform.servingStackOf('fraud')!.stackName} acme-prod-fraud-rollout`,
    churn: `direct ${platform.servingStackOf('churn')!.stackName} none`,
  };
  const promote = { model: 'fraud', version: 'v8', candidate: 'run-42' };

  test('a valid definition (asl-validator), SDK and optimized integrations only, no Lambda; Retry on throttling and Catch on every Task', () => {
    expect(aslValidator(definition).errorsText()).toBe('');
    const tasks = Object.entries<any>(definition.States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(10);
    for (const [name, task] of tasks) {
      expect([name, task.Resource]).toEqual([name, expect.stringMatching(/^arn:aws:states:::(aws-sdk:[a-z0-9]+:[A-Za-z]+|sns:publish|dynamodb:(putItem|deleteItem)|states:startExecution\.sync:2)$/)]);
      expect([name, (task.Retry ?? []).some((r: any) => r.ErrorEquals.includes('ThrottlingException'))]).toEqual([name, true]);
      // Every Task but the last notification catches every error (the notification itself catches into the Fail).
      expect([name, (task.Catch ?? []).some((c: any) => c.ErrorEquals.includes('States.ALL'))]).toEqual([name, true]);
    }
    expect(JSON.stringify(definition)).not.toMatch(/lambda/i);
  });

  test('the write-once copy is the one S3 lets through the bucket policy: a multipart copy completed with If-None-Match', () => {
    const states = definition.States;
    expect(states.StartCopy.Resource).toMatch(/:s3:createMultipartUpload$/);
    expect(states.CopyArchive.Resource).toMatch(/:s3:uploadPartCopy$/);
    expect(states.FinishCopy.Resource).toMatch(/:s3:completeMultipartUpload$/);
    expect(states.FinishCopy.Parameters.IfNoneMatch).toBe('*');
    // CopyObject would be refused below served/ (403 without If-None-Match, 501 with it): never used.
    expect(Object.values<any>(states).some((s) => /copyObject|putObject$/i.test(String(s.Resource)))).toBe(false);
    // And the fake S3 refuses a completion without the header, as the bucket policy does.
    expect(writeOnceDenies('served/fraud/v8/model.tar.gz', { 's3:ObjectCreationOperation': true })).toBe(true);
    expect(writeOnceDenies('served/fraud/v8/model.tar.gz', { 's3:ObjectCreationOperation': true, 's3:if-none-match': '*' })).toBe(false);
    expect(writeOnceDenies('served/fraud/v8/model.tar.gz', { 's3:ObjectCreationOperation': false })).toBe(false);
  });

  test('happy path (stepped fleet): lock, write-once copy, served state, stack update with previous template and values, rollout, release', async () => {
    const aws = new FakeAws(shards);
    expect(await run(definition, aws, promote)).toEqual({ ok: true });
    const shard = platform.servingStackOf('fraud')!.stackName;
    expect(aws.calls).toEqual([
      'lock fraud',
      'copy served/fraud/v8/model.tar.gz',
      'state current=v7@100,candidate=v8@0',
      `update ${shard}`,
      'rollout acme-prod-fraud-rollout',
      'release fraud',
    ]);
    expect(aws.objects.get('served/fraud/v8/model.tar.gz')).toBe('archive-42');
    expect(aws.stackUpdates[0]).toMatchObject({
      StackName: shard,
      UsePreviousTemplate: true,
      // Every parameter keeps its value: for SSM-typed ones that is the parameter's name, resolved again by CloudFormation.
      Parameters: [{ ParameterKey: 'BootstrapVersion', UsePreviousValue: true }, { ParameterKey: 'ServedStatefraudABCD1234', UsePreviousValue: true }],
    });
    expect(aws.stackUpdates[0].Parameters.every((p: any) => p.ParameterValue === undefined)).toBe(true);
    expect(aws.rolloutsStarted[0].StateMachineArn).toBe('arn:aws:states:us-east-1:111111111111:stateMachine:acme-prod-fraud-rollout');
    expect(aws.locks.size).toBe(0);
    expect(aws.notifications).toEqual([]);
  });

  test('after a finished rollout: the stack update first brings the first variant\'s group to the served version while it has no traffic, the rollout settles all traffic on it, then the new version rolls out; and again', async () => {
    const shard = platform.servingStackOf('fraud')!.stackName;
    const aws = withFleetRollout(new FakeAws(shards), 'acme-prod-fraud-rollout', 'fraud', '/mlops/acme-prod/served/fraud', 'current=v7@0,candidate=v7@100', [0, 100], 'acme-prod-promotion');
    expect(await run(definition, aws, promote)).toEqual({ ok: true });
    expect(aws.calls).toEqual([
      'lock fraud',
      // The group of `current` still runs the version before v7 (the rollout changed the served state only): updated at weight 0.
      `update ${shard}`,
      'rollout acme-prod-fraud-rollout settle', '  listener 100/0', '  state current=v7@100,candidate=v7@0',
      'copy served/fraud/v8/model.tar.gz',
      'state current=v7@100,candidate=v8@0',
      // Only the candidate's group changes now (the listener's weights in the served state are the ones settle set).
      `update ${shard}`,
      'rollout acme-prod-fraud-rollout', '  listener 90/10', '  state current=v7@90,candidate=v8@10', '  listener 0/100', '  state current=v7@0,candidate=v8@100',
      '  state current=v8@0,candidate=v8@100',
      'release fraud',
    ]);
    expect([aws.listenerWeights.fraud, aws.notifications, aws.stackUpdates.map((u) => u.UsePreviousTemplate)]).toEqual([[0, 100], [], [true, true]]);
    aws.calls = [];
    aws.objects.set('candidates/fraud/run-43/model.tar.gz', 'archive-43');
    expect(await run(definition, aws, { model: 'fraud', version: 'v9', candidate: 'run-43' })).toEqual({ ok: true });
    expect(aws.servedStates.fraud).toBe('current=v9@0,candidate=v9@100');
  });

  test('after a finished rollout whose stack already serves the state (no updates to perform), settles at once; a failed first update or a rollout in flight copies nothing', async () => {
    const shard = platform.servingStackOf('fraud')!.stackName;
    const upToDate = withFleetRollout(new FakeAws(shards), 'acme-prod-fraud-rollout', 'fraud', '/mlops/acme-prod/served/fraud', 'current=v7@0,candidate=v7@100', [0, 100], 'acme-prod-promotion');
    upToDate.stackUpToDate = true;
    upToDate['cloudformation:updateStack'] = ((update) => (input: any) => {
      try {
        return update.call(upToDate, input);
      } finally {
        upToDate.stackUpToDate = false;
      }
    })(upToDate['cloudformation:updateStack']);
    expect(await run(definition, upToDate, promote)).toEqual({ ok: true });
    expect(upToDate.calls.slice(0, 4)).toEqual(['lock fraud', `update ${shard}`, 'rollout acme-prod-fraud-rollout settle', '  listener 100/0']);
    expect(upToDate.servedStates.fraud).toBe('current=v8@0,candidate=v8@100');

    const failed = withFleetRollout(new FakeAws(shards), 'acme-prod-fraud-rollout', 'fraud', '/mlops/acme-prod/served/fraud', 'current=v7@0,candidate=v7@100', [0, 100], 'acme-prod-promotion');
    failed.stackStatuses = ['UPDATE_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE'];
    expect(await run(definition, failed, promote)).toMatchObject({ ok: false, error: 'StackUpdateFailed', cause: expect.stringContaining('the served state is unchanged') });
    expect([failed.calls, failed.servedStates.fraud, failed.listenerWeights.fraud]).toEqual([['lock fraud', `update ${shard}`, 'release fraud', 'notify'], 'current=v7@0,candidate=v7@100', [0, 100]]);

    const inFlight = withFleetRollout(new FakeAws(shards), 'acme-prod-fraud-rollout', 'fraud', '/mlops/acme-prod/served/fraud', 'current=v6@90,candidate=v7@10', [90, 10], 'acme-prod-promotion');
    const refused = await run(definition, inFlight, promote);
    expect(refused).toMatchObject({ ok: false, error: 'CandidateServing', cause: expect.stringMatching(/a rollout is in flight .* or the fleet has no rollout state machine\. /) });
    expect([inFlight.calls, inFlight.servedStates.fraud]).toEqual([['lock fraud', 'release fraud', 'notify'], 'current=v6@90,candidate=v7@10']);
  });

  test('an all-at-once fleet serves the new version at once', async () => {
    const direct = new FakeAws(shards);
    expect(await run(definition, direct, { model: 'churn', version: 'v3', candidate: 'run-9' })).toEqual({ ok: true });
    expect(direct.servedStates.churn).toBe('current=v3@100');
    expect(direct.calls.some((c) => c.startsWith('rollout'))).toBe(false);
  });

  test('the lock is held by another promotion of the model: nothing is copied or written, the other lock stays, the topic is told', async () => {
    const aws = new FakeAws(shards);
    aws.locks.set('fraud', 'arn:other-execution');
    const result = await run(definition, aws, promote);
    expect(result).toMatchObject({ ok: false, error: 'PromotionInProgress' });
    expect(aws.calls).toEqual(['lock fraud', 'notify']);
    expect(aws.locks.get('fraud')).toBe('arn:other-execution');
    expect(aws.notifications[0]).toMatchObject({ event: 'promotion-failed', model: 'fraud', version: 'v8', error: 'PromotionInProgress' });
  });

  test('the version exists already: S3 refuses the copy (write-once), the upload is aborted, nothing else changes', async () => {
    const aws = new FakeAws(shards);
    aws.objects.set('served/fraud/v8/model.tar.gz', 'the-promoted-one');
    const result = await run(definition, aws, promote);
    expect(result).toMatchObject({ ok: false, error: 'VersionExists' });
    expect(aws.objects.get('served/fraud/v8/model.tar.gz')).toBe('the-promoted-one');
    expect(aws.calls).toEqual(['lock fraud', 'abort served/fraud/v8/model.tar.gz', 'release fraud', 'notify']);
    expect(aws.servedStates.fraud).toBe('current=v7@100,candidate=v7@0');
  });

  test('a missing candidate fails before anything is served', async () => {
    const aws = new FakeAws(shards);
    const result = await run(definition, aws, { ...promote, candidate: 'run-missing' });
    expect(result).toMatchObject({ ok: false, error: 'CandidateNotFound' });
    expect(aws.calls).toEqual(['lock fraud', 'abort served/fraud/v8/model.tar.gz', 'release fraud', 'notify']);
  });

  test('a failed stack update: the previous served state is restored, the lock released, the topic told', async () => {
    const aws = new FakeAws(shards);
    aws.stackStatuses = ['UPDATE_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE'];
    const result = await run(definition, aws, promote);
    expect(result).toMatchObject({ ok: false, error: 'StackUpdateFailed' });
    expect(aws.calls.slice(2)).toEqual([
      'state current=v7@100,candidate=v8@0', `update ${platform.servingStackOf('fraud')!.stackName}`,
      'state current=v7@100,candidate=v7@0', 'release fraud', 'notify',
    ]);
    expect(aws.servedStates.fraud).toBe('current=v7@100,candidate=v7@0');
    expect(aws.calls.some((c) => c.startsWith('rollout'))).toBe(false);
  });

  test('a rolled-back fleet rollout: the promotion fails with RolledBack and restores the previous served state', async () => {
    const aws = new FakeAws(shards);
    aws.rolloutOutcome = 'RolledBack';
    const result = await run(definition, aws, promote);
    expect(result).toMatchObject({ ok: false, error: 'RolledBack' });
    expect(aws.calls.slice(-4)).toEqual(['rollout acme-prod-fraud-rollout', 'state current=v7@100,candidate=v7@0', 'release fraud', 'notify']);
    expect(aws.notifications[0]).toMatchObject({ error: 'RolledBack', model: 'fraud' });
    // The version stays promoted (written once): a later promotion of the same version is refused, a new one goes.
    expect(aws.objects.has('served/fraud/v8/model.tar.gz')).toBe(true);
  });

  test('a model this environment does not serve and malformed input are refused', async () => {
    const aws = new FakeAws(shards);
    expect(await run(definition, aws, { model: 'ghost', version: 'v2', candidate: 'run-1' })).toMatchObject({ ok: false, error: 'NotPromotable' });
    expect(aws.calls).toEqual(['lock ghost', 'release ghost', 'notify']);
    const bad = new FakeAws(shards);
    expect(await run(definition, bad, { model: 'fraud', version: 'v8' })).toMatchObject({ ok: false, error: 'InvalidInput' });
    expect(bad.calls).toEqual([]);
  });

  describe('promotion of an approved model package by ARN (prod promoting what staging approved, #20.9)', () => {
    const byArn = { model: 'fraud', version: 'v8', modelPackageArn: STAGING_PACKAGE };

    test('happy path: the source package is read, its served archive copied write-once with the same SHA-256, registered here Approved, then served', async () => {
      const aws = new FakeAws(shards);
      expect(await run(definition, aws, byArn)).toEqual({ ok: true });
      const shard = platform.servingStackOf('fraud')!.stackName;
      expect(aws.calls).toEqual([
        'lock fraud',
        `describe ${STAGING_PACKAGE}`,
        'copy served/fraud/v8/model.tar.gz',
        'register fraud Approved',
        'state current=v7@100,candidate=v8@0',
        `update ${shard}`,
        'rollout acme-prod-fraud-rollout',
        'release fraud',
      ]);
      // The bytes staging approved and served, not a retrained model.
      expect(aws.objects.get('served/fraud/v8/model.tar.gz')).toBe('archive-s7');
      const [registered] = [...aws.packages.values()].filter((p) => p.ModelPackageArn !== STAGING_PACKAGE);
      const servedUri = 's3://models-bucket/served/fraud/v8/model.tar.gz';
      expect(registered).toMatchObject({
        ModelPackageGroupName: 'fraud',
        ModelApprovalStatus: 'Approved',
        ApprovalDescription: expect.stringContaining(`Approved by alice in its environment (${STAGING_PACKAGE}); promoted by arn:aws:states:`),
        InferenceSpecification: {
          Containers: [{
            Image: stagingPackage().InferenceSpecification.Containers[0].Image, ModelDataUrl: servedUri, Environment: { MODEL_URI: servedUri },
          }],
          SupportedContentTypes: ['application/json'],
        },
        ModelMetrics: stagingPackage().ModelMetrics,
        DriftCheckBaselines: stagingPackage().DriftCheckBaselines,
        CustomerMetadataProperties: {
          sourceModelPackageArn: STAGING_PACKAGE,
          approvedBy: 'alice',
          sha256: 'sha-archive-s7',
          servedObject: 'models-bucket/served/fraud/v8/model.tar.gz',
          promotion: expect.stringContaining(':execution:acme-prod-promotion:'),
        },
      });
      expect(aws.locks.size).toBe(0);
      expect(aws.notifications).toEqual([]);
    });

    test('a source package that is not Approved (pending, rejected) is refused before anything is copied', async () => {
      for (const status of ['PendingManualApproval', 'Rejected']) {
        const aws = new FakeAws(shards);
        aws.packages.get(STAGING_PACKAGE).ModelApprovalStatus = status;
        expect([status, await run(definition, aws, byArn)]).toMatchObject([status, { ok: false, error: 'PackageNotApproved' }]);
        expect(aws.calls).toEqual(['lock fraud', `describe ${STAGING_PACKAGE}`, 'release fraud', 'notify']);
        expect(aws.objects.has('served/fraud/v8/model.tar.gz')).toBe(false);
        expect(aws.notifications[0]).toMatchObject({ event: 'promotion-failed', model: 'fraud', version: 'v8', error: 'PackageNotApproved' });
      }
    });

    test('an archive whose SHA-256 is not the one the package records: the upload is aborted, nothing is written or registered', async () => {
      const aws = new FakeAws(shards);
      aws.otherBuckets.set(`${STAGING_BUCKET}/served/fraud/s7/model.tar.gz`, 'another-archive');
      expect(await run(definition, aws, byArn)).toMatchObject({ ok: false, error: 'ChecksumMismatch' });
      expect(aws.calls).toEqual(['lock fraud', `describe ${STAGING_PACKAGE}`, 'abort served/fraud/v8/model.tar.gz', 'release fraud', 'notify']);
      expect(aws.objects.has('served/fraud/v8/model.tar.gz')).toBe(false);
      expect(aws.packages.size).toBe(1);
      expect(aws.servedStates.fraud).toBe('current=v7@100,candidate=v7@0');
    });

    test('the version exists here already: S3 refuses the copy (write-once), nothing is registered or served', async () => {
      const aws = new FakeAws(shards);
      aws.objects.set('served/fraud/v8/model.tar.gz', 'the-promoted-one');
      expect(await run(definition, aws, byArn)).toMatchObject({ ok: false, error: 'VersionExists' });
      expect(aws.objects.get('served/fraud/v8/model.tar.gz')).toBe('the-promoted-one');
      expect(aws.calls).toEqual(['lock fraud', `describe ${STAGING_PACKAGE}`, 'abort served/fraud/v8/model.tar.gz', 'release fraud', 'notify']);
      expect(aws.packages.size).toBe(1);
    });

    test('unreadable, incomplete, other-model and misdirected packages are refused, each with its error', async () => {
      const cases: Array<[string, (p: any) => void, string]> = [
        ['not shared / missing', () => undefined, 'PackageNotFound'],
        ['never served in its environment (no checksum)', (p) => delete p.CustomerMetadataProperties.sha256, 'PackageIncomplete'],
        ['no drift check baselines', (p) => delete p.DriftCheckBaselines, 'PackageIncomplete'],
        ['no approver recorded', (p) => delete p.CustomerMetadataProperties.approvedBy, 'PackageIncomplete'],
        ['a version of another model', (p) => { p.ModelPackageGroupName = 'churn'; }, 'InvalidInput'],
        ['serves another archive than the one it records', (p) => { p.InferenceSpecification.Containers[0].ModelDataUrl = `s3://${STAGING_BUCKET}/candidates/fraud/s7/model.tar.gz`; }, 'PackageIncomplete'],
      ];
      for (const [name, change, error] of cases) {
        const aws = new FakeAws(shards);
        if (error === 'PackageNotFound') aws.packages.clear(); else change(aws.packages.get(STAGING_PACKAGE));
        expect([name, await run(definition, aws, byArn)]).toMatchObject([name, { ok: false, error }]);
        expect([name, aws.calls.filter((c) => c.startsWith('copy') || c.startsWith('register') || c.startsWith('state'))]).toEqual([name, []]);
        expect([name, aws.locks.size]).toEqual([name, 0]);
      }
    });

    test('a failed stack update after registration marks the package registered here Rejected and restores the served state', async () => {
      const aws = new FakeAws(shards);
      aws.stackStatuses = ['UPDATE_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE'];
      expect(await run(definition, aws, byArn)).toMatchObject({ ok: false, error: 'StackUpdateFailed' });
      expect(aws.calls.slice(-4)).toEqual(['state current=v7@100,candidate=v7@0', 'update package Rejected', 'release fraud', 'notify']);
      const [registered] = [...aws.packages.values()].filter((p) => p.ModelPackageArn !== STAGING_PACKAGE);
      expect(registered.ModelApprovalStatus).toBe('Rejected');
      // The source package is never changed by the environment promoting it.
      expect(aws.packages.get(STAGING_PACKAGE)).toEqual(stagingPackage());
    });

    test('a candidate promoted with its package (the model pipeline\'s) records the served archive and its SHA-256 in that package', async () => {
      const aws = new FakeAws(shards);
      const own = 'arn:aws:sagemaker:us-east-1:111111111111:model-package/fraud/3';
      aws.packages.set(own, { ModelPackageArn: own, ModelPackageGroupName: 'fraud', ModelApprovalStatus: 'Approved', CustomerMetadataProperties: { run: 'run-42', approvedBy: 'bob' } });
      expect(await run(definition, aws, { ...promote, modelPackageArn: own })).toEqual({ ok: true });
      expect(aws.calls.slice(0, 3)).toEqual(['lock fraud', 'copy served/fraud/v8/model.tar.gz', 'update package servedObject,sha256,promotion']);
      expect(aws.packages.get(own).CustomerMetadataProperties).toMatchObject({
        run: 'run-42', approvedBy: 'bob', servedObject: 'models-bucket/served/fraud/v8/model.tar.gz', sha256: 'sha-archive-42',
      });
      expect(aws.calls.some((c) => c.startsWith('register') || c.startsWith('describe'))).toBe(false);
    });

    test('malformed input by ARN is refused before the lock', async () => {
      for (const input of [{ model: 'fraud', version: 'v8', modelPackageArn: 7 }, { model: 'fraud', modelPackageArn: STAGING_PACKAGE }, { model: 'fraud', version: 'v8' }]) {
        const aws = new FakeAws(shards);
        expect([input, await run(definition, aws, input)]).toMatchObject([input, { ok: false, error: 'InvalidInput' }]);
        expect(aws.calls).toEqual([]);
      }
    });
  });
});
