import * as pulumi from '@pulumi/pulumi';
import { ACCOUNT, errorOf, installMocks, mockArn, one, promiseOf, RecordedResource, REGION, resourcesOf } from './support';
import { IamWalk, RequestContext, Statement } from '../support/iam-walk';
import { FakeAws, run, STAGING_PACKAGE, stagingPackage, TaskError, withFleetRollout } from '../support/promotion-fakes';
import { allStates } from '../support/state-machines';
import {
  ArtifactPurpose, BOUNDARY_ALLOWED_ACTIONS, boundaryStatements, EnvironmentProfile, MlopsTags, promotionDefinition, SERVED_VARIANT_TAG,
  ValidationError,
} from 'mlops-constructs';
import { ArtifactStore, ModelPromotion } from 'mlops-constructs/pulumi';

/*
 * The Pulumi ModelPromotion (#18): THE promotion role and its state machine as the Pulumi program renders them (the
 * inputs of the aws.sfn.StateMachine and aws.iam resources). The definition is executed offline against the fakes the
 * CDK promotion tests use (S3 enforcing the models bucket's write-once rule); the role's claims are evaluated with the
 * IAM walker against the Pulumi store's own bucket policy.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errorsText: () => string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const profile = EnvironmentProfile.dev();
const tags = MlopsTags.of({ project: 'p', environment: 'dev' });
const ALARMS = `arn:aws:sns:${REGION}:${ACCOUNT}:alarms`;
const WHERE = { prefix: 'p-dev', bucket: 'pp-store-models' };
/** The served states' promotion target tags (`<mode> <Pulumi stack> none`: no rollout state machine named, so none is started). */
const SHARDS = { fraud: 'rollout dev none', churn: 'direct dev none' };
const promote = { model: 'fraud', version: 'v8', candidate: 'run-42' };

let resources: RecordedResource[];
let definition: Json;
let store: ArtifactStore;
let promotion: ModelPromotion;

beforeAll(async () => {
  store = new ArtifactStore('pp-store', { profile, tags });
  promotion = new ModelPromotion('pp-promotion', { profile, tags, artifactStore: store, environmentPrefix: 'p-dev', alarmTopicArn: ALARMS });
  resources = await resourcesOf('pp');
  definition = JSON.parse(one(resources, 'aws:sfn/stateMachine:StateMachine', 'pp-promotion-state-machine').inputs.definition);
});

const aws = () => new FakeAws(SHARDS, WHERE);
const promoteHere = (fake: FakeAws, input: Record<string, unknown>) => run(definition, fake, input, 'p-dev-promotion');

describe('Pulumi ModelPromotion, the deployed definition executed offline', () => {
  test('core\'s definition with instance refreshes instead of the CloudFormation steps: valid ASL, SDK and optimized integrations only, Retry on throttling and Catch on every Task', () => {
    // (the validator adds its defaults to what it is given)
    expect(aslValidator(structuredClone(definition)).errorsText()).toBe('');
    expect(definition).toEqual(promotionDefinition({
      partition: 'aws',
      region: REGION,
      account: ACCOUNT,
      environmentPrefix: 'p-dev',
      modelsBucketName: WHERE.bucket,
      lockTableName: 'pp-promotion-locks',
      alarmTopicArn: ALARMS,
      servingUpdate: 'instance-refresh',
    }));
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(10);
    for (const [name, task] of tasks) {
      expect([name, task.Resource]).toEqual([name, expect.stringMatching(/^arn:aws:states:::(aws-sdk:(s3|ssm|sagemaker|resourcegroupstaggingapi|autoscaling):[A-Za-z]+|sns:publish|dynamodb:(putItem|deleteItem)|states:startExecution\.sync:2)$/)]);
      expect([name, task.Retry.some((r: Json) => r.ErrorEquals.includes('ThrottlingException'))]).toEqual([name, true]);
      expect([name, (task.Catch ?? []).some((c: Json) => c.ErrorEquals.includes('States.ALL'))]).toEqual([name, true]);
    }
    // No CloudFormation stack to update on Pulumi.
    expect(tasks.filter(([, task]) => /cloudformation|lambda/i.test(task.Resource))).toEqual([]);
  });

  test('happy path (stepped fleet, no group tagged for its served state, e.g. an endpoint): lock, write-once copy, served state (candidate at 0), release; nothing else is called', async () => {
    const fake = aws();
    expect(await promoteHere(fake, promote)).toEqual({ ok: true });
    expect(fake.calls).toEqual(['lock fraud', 'copy served/fraud/v8/model.tar.gz', 'state current=v7@100,candidate=v8@0', 'release fraud']);
    expect(fake.objects.get('served/fraud/v8/model.tar.gz')).toBe('archive-42');
    expect([fake.stackUpdates, fake.rolloutsStarted, fake.notifications, fake.locks.size]).toEqual([[], [], [], 0]);
  });

  test('all at once: the new version is current with all traffic', async () => {
    const direct = aws();
    expect(await promoteHere(direct, { model: 'churn', version: 'v3', candidate: 'run-9' })).toEqual({ ok: true });
    expect(direct.servedStates.churn).toBe('current=v3@100');
  });

  test('the lock is held, the version exists, the candidate is missing, the model is not served here, the input is malformed: each fails with its error', async () => {
    const held = aws();
    held.locks.set('fraud', 'arn:other-execution');
    expect(await promoteHere(held, promote)).toMatchObject({ ok: false, error: 'PromotionInProgress' });
    expect([held.calls, held.locks.get('fraud')]).toEqual([['lock fraud', 'notify'], 'arn:other-execution']);
    expect(held.notifications[0]).toMatchObject({ event: 'promotion-failed', model: 'fraud', version: 'v8', error: 'PromotionInProgress' });

    const exists = aws();
    exists.objects.set('served/fraud/v8/model.tar.gz', 'the-promoted-one');
    expect(await promoteHere(exists, promote)).toMatchObject({ ok: false, error: 'VersionExists' });
    expect(exists.objects.get('served/fraud/v8/model.tar.gz')).toBe('the-promoted-one');
    expect(exists.calls).toEqual(['lock fraud', 'abort served/fraud/v8/model.tar.gz', 'release fraud', 'notify']);

    const missing = aws();
    expect(await promoteHere(missing, { ...promote, candidate: 'run-missing' })).toMatchObject({ ok: false, error: 'CandidateNotFound' });
    expect(missing.calls).toEqual(['lock fraud', 'abort served/fraud/v8/model.tar.gz', 'release fraud', 'notify']);

    const ghost = aws();
    expect(await promoteHere(ghost, { model: 'ghost', version: 'v2', candidate: 'run-1' })).toMatchObject({ ok: false, error: 'NotPromotable' });
    expect(ghost.calls).toEqual(['lock ghost', 'release ghost', 'notify']);

    for (const input of [{ model: 'fraud', version: 'v8' }, { model: 'fraud', version: 'v8', modelPackageArn: 7 }]) {
      const bad = aws();
      expect([input, await promoteHere(bad, input)]).toMatchObject([input, { ok: false, error: 'InvalidInput' }]);
      expect(bad.calls).toEqual([]);
    }
  });

  test('by ARN: the approved package\'s served archive is copied with its SHA-256 checked and registered here Approved; refused packages copy nothing', async () => {
    const byArn = { model: 'fraud', version: 'v8', modelPackageArn: STAGING_PACKAGE };
    const fake = aws();
    expect(await promoteHere(fake, byArn)).toEqual({ ok: true });
    expect(fake.calls).toEqual([
      'lock fraud', `describe ${STAGING_PACKAGE}`, 'copy served/fraud/v8/model.tar.gz', 'register fraud Approved', 'state current=v7@100,candidate=v8@0', 'release fraud',
    ]);
    expect(fake.objects.get('served/fraud/v8/model.tar.gz')).toBe('archive-s7');
    const [registered] = [...fake.packages.values()].filter((p) => p.ModelPackageArn !== STAGING_PACKAGE);
    expect(registered.CustomerMetadataProperties).toMatchObject({
      sourceModelPackageArn: STAGING_PACKAGE, approvedBy: 'alice', sha256: 'sha-archive-s7', servedObject: `${WHERE.bucket}/served/fraud/v8/model.tar.gz`,
    });

    const changed = aws();
    changed.otherBuckets.set('acme-staging-models/served/fraud/s7/model.tar.gz', 'another-archive');
    expect(await promoteHere(changed, byArn)).toMatchObject({ ok: false, error: 'ChecksumMismatch' });
    expect([changed.objects.has('served/fraud/v8/model.tar.gz'), changed.packages.size]).toEqual([false, 1]);

    const pending = aws();
    pending.packages.get(STAGING_PACKAGE).ModelApprovalStatus = 'PendingManualApproval';
    expect(await promoteHere(pending, byArn)).toMatchObject({ ok: false, error: 'PackageNotApproved' });
    const incomplete = aws();
    delete incomplete.packages.get(STAGING_PACKAGE).CustomerMetadataProperties.sha256;
    expect(await promoteHere(incomplete, byArn)).toMatchObject({ ok: false, error: 'PackageIncomplete' });
    for (const refused of [pending, incomplete]) {
      expect(refused.calls.filter((c) => /^(copy|register|state)/.test(c))).toEqual([]);
      expect(refused.locks.size).toBe(0);
    }
  });

  test('a failed served-state write after registration restores the previous state, marks the package registered here Rejected, releases the lock', async () => {
    const fake = aws();
    const put = fake['ssm:putParameter'].bind(fake);
    let writes = 0;
    fake['ssm:putParameter'] = (input: Json) => {
      writes += 1;
      if (writes === 1) throw new TaskError('Ssm.InternalServerError', 'SSM is down');
      return put(input);
    };
    expect(await promoteHere(fake, { model: 'fraud', version: 'v8', modelPackageArn: STAGING_PACKAGE })).toMatchObject({ ok: false, error: 'PromotionFailed' });
    expect(fake.calls.slice(-4)).toEqual(['state current=v7@100,candidate=v7@0', 'update package Rejected', 'release fraud', 'notify']);
    expect(fake.packages.get(STAGING_PACKAGE)).toEqual(stagingPackage());
  });
});

describe('Pulumi ModelPromotion, instance refresh of the fleets whose version changed (their instances boot with the served state)', () => {
  const ROLLOUT = 'p-dev-fraud-rollout';
  const fleets = () => {
    const fake = new FakeAws({ fraud: `rollout dev ${ROLLOUT}`, churn: 'direct dev none', scorer: 'direct dev none' }, WHERE);
    fake.servedStates.scorer = 'current=v1@100';
    fake.objects.set('candidates/scorer/run-5/model.tar.gz', 'archive-5');
    fake.servedGroups = { '/mlops/p-dev/served/fraud:0': 'fraud-current-asg', '/mlops/p-dev/served/fraud:1': 'fraud-candidate-asg', '/mlops/p-dev/served/churn:0': 'churn-asg' };
    return fake;
  };

  test('stepped fleet: the candidate\'s group is refreshed and waited for, then the rollout runs; the current group (same version) is not refreshed', async () => {
    const fake = fleets();
    fake.refreshStatuses = ['Pending', 'InProgress', 'Successful'];
    expect(await promoteHere(fake, promote)).toEqual({ ok: true });
    expect(fake.calls).toEqual(['lock fraud', 'copy served/fraud/v8/model.tar.gz', 'state current=v7@100,candidate=v8@0', 'refresh fraud-candidate-asg', `rollout ${ROLLOUT}`, 'release fraud']);
    expect(fake.refreshStatuses).toEqual(['Successful']);
    expect(fake.rolloutsStarted[0]).toMatchObject({ StateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${ROLLOUT}`, Input: { version: 'v8' } });
  });

  test('all at once: its one group is refreshed, no rollout; an endpoint (no group) and an unchanged version refresh nothing', async () => {
    const direct = fleets();
    expect(await promoteHere(direct, { model: 'churn', version: 'v3', candidate: 'run-9' })).toEqual({ ok: true });
    expect(direct.calls).toEqual(['lock churn', 'copy served/churn/v3/model.tar.gz', 'state current=v3@100', 'refresh churn-asg', 'release churn']);
    const endpoint = fleets();
    expect(await promoteHere(endpoint, { model: 'scorer', version: 'v2', candidate: 'run-5' })).toEqual({ ok: true });
    expect([endpoint.servedStates.scorer, endpoint.refreshes]).toEqual(['current=v2@100', []]);
    const same = fleets();
    expect(await promoteHere(same, { model: 'churn', version: 'v2', candidate: 'run-9' })).toEqual({ ok: true });
    expect([same.servedStates.churn, same.refreshes]).toEqual(['current=v2@100', []]);
  });

  test('a refresh that fails, is cancelled or times out: the previous served state is restored, the topic told, the lock released, no rollout', async () => {
    for (const [statuses, cancelled] of [[['InProgress', 'Failed'], false], [['Cancelled'], false], [['InProgress'], true]] as const) {
      const fake = fleets();
      fake.refreshStatuses = [...statuses];
      expect([statuses, await promoteHere(fake, promote)]).toMatchObject([statuses, { ok: false, error: 'InstanceRefreshFailed' }]);
      expect(fake.servedStates.fraud).toBe('current=v7@100,candidate=v7@0');
      expect(fake.calls.slice(fake.calls.indexOf('state current=v7@100,candidate=v8@0'))).toEqual([
        'state current=v7@100,candidate=v8@0', 'refresh fraud-candidate-asg', ...(cancelled ? ['cancel refresh fraud-candidate-asg'] : []),
        'state current=v7@100,candidate=v7@0', 'release fraud', 'notify',
      ]);
      expect([fake.rolloutsStarted, fake.locks.size, fake.notifications[0]]).toMatchObject([[], 0, { event: 'promotion-failed', model: 'fraud', error: 'InstanceRefreshFailed' }]);
    }
  });

  test('the rollout rolls back: the previous served state is restored (RolledBack)', async () => {
    const fake = fleets();
    fake.rolloutOutcome = 'RolledBack';
    expect(await promoteHere(fake, promote)).toMatchObject({ ok: false, error: 'RolledBack' });
    expect(fake.servedStates.fraud).toBe('current=v7@100,candidate=v7@0');
    expect(fake.locks.size).toBe(0);
  });

  /** The fleet's rollout state machine (core's definition, which the Pulumi FleetRollout renders), run for real. */
  const withRollout = (fake: FakeAws, state: string, weights: number[]) => withFleetRollout(fake, ROLLOUT, 'fraud', '/mlops/p-dev/served/fraud', state, weights, 'p-dev-promotion');

  test('after a finished rollout: the first variant\'s group is refreshed to the served version while idle, the rollout settles all traffic on it, then the new version rolls out; and again', async () => {
    const fake = withRollout(fleets(), 'current=v7@0,candidate=v7@100', [0, 100]);
    fake.refreshStatuses = ['Successful'];
    expect(await promoteHere(fake, promote)).toEqual({ ok: true });
    expect(fake.calls).toEqual([
      'lock fraud',
      // Its instances may still run v6 (the served state changed, the group did not): refreshed while it has no traffic.
      'refresh fraud-current-asg',
      `rollout ${ROLLOUT} settle`, '  listener 100/0', '  state current=v7@100,candidate=v7@0',
      'copy served/fraud/v8/model.tar.gz',
      'state current=v7@100,candidate=v8@0',
      'refresh fraud-candidate-asg',
      `rollout ${ROLLOUT}`, '  listener 90/10', '  state current=v7@90,candidate=v8@10', '  listener 0/100', '  state current=v7@0,candidate=v8@100',
      '  state current=v8@0,candidate=v8@100',
      'release fraud',
    ]);
    expect([fake.listenerWeights.fraud, fake.notifications]).toEqual([[0, 100], []]);
    // The next promotion is not refused: the same path again.
    fake.calls = [];
    fake.objects.set('candidates/fraud/run-43/model.tar.gz', 'archive-43');
    expect(await promoteHere(fake, { model: 'fraud', version: 'v9', candidate: 'run-43' })).toEqual({ ok: true });
    expect(fake.calls.filter((c) => !c.startsWith('  '))).toEqual(['lock fraud', 'refresh fraud-current-asg', `rollout ${ROLLOUT} settle`,
      'copy served/fraud/v9/model.tar.gz', 'state current=v8@100,candidate=v9@0', 'refresh fraud-candidate-asg', `rollout ${ROLLOUT}`, 'release fraud']);
    expect(fake.servedStates.fraud).toBe('current=v9@0,candidate=v9@100');
  });

  test('the candidate serves traffic and cannot be moved back (a rollout in flight, no rollout state machine, no group for the first variant): refused before anything is copied (CandidateServing)', async () => {
    const inFlight = withRollout(fleets(), 'current=v6@90,candidate=v7@10', [90, 10]);
    const noRollout = withRollout(fleets(), 'current=v7@0,candidate=v7@100', [0, 100]);
    (noRollout as Json).shards.fraud = 'rollout dev none';
    const noGroup = withRollout(fleets(), 'current=v7@0,candidate=v7@100', [0, 100]);
    delete noGroup.servedGroups['/mlops/p-dev/served/fraud:0'];
    for (const [fake, state] of [[inFlight, 'current=v6@90,candidate=v7@10'], [noRollout, 'current=v7@0,candidate=v7@100'], [noGroup, 'current=v7@0,candidate=v7@100']] as const) {
      const result = await promoteHere(fake, promote);
      expect(result).toMatchObject({ ok: false, error: 'CandidateServing' });
      expect(result.cause).toMatch(/a rollout is in flight .* no rollout state machine, or no Auto Scaling group is tagged for its first variant/);
      expect([fake.calls, fake.servedStates.fraud, fake.refreshes, fake.rolloutsStarted]).toEqual([['lock fraud', 'release fraud', 'notify'], state, [], []]);
    }
  });

  test('the first variant\'s refresh fails, or the settle fails: nothing copied, served state and listener unchanged, the lock released, the topic told', async () => {
    const refreshFails = withRollout(fleets(), 'current=v7@0,candidate=v7@100', [0, 100]);
    refreshFails.refreshStatuses = ['InProgress', 'Failed'];
    expect(await promoteHere(refreshFails, promote)).toMatchObject({ ok: false, error: 'InstanceRefreshFailed', cause: expect.stringContaining('the served state is unchanged') });
    expect(refreshFails.calls).toEqual(['lock fraud', 'refresh fraud-current-asg', 'release fraud', 'notify']);
    // The rollout state machine refuses to settle (someone started a rollout meanwhile: the variants serve different versions).
    const settleFails = withRollout(fleets(), 'current=v7@0,candidate=v7@100', [0, 100]);
    settleFails['autoscaling:startInstanceRefresh'] = (input: Json) => {
      settleFails.servedStates.fraud = 'current=v7@100,candidate=v9@0';
      return FakeAws.prototype['autoscaling:startInstanceRefresh'].call(settleFails, input);
    };
    expect(await promoteHere(settleFails, promote)).toMatchObject({ ok: false, error: 'PromotionFailed', cause: expect.stringContaining('NotSettled') });
    expect(settleFails.calls).toEqual(['lock fraud', 'refresh fraud-current-asg', `rollout ${ROLLOUT} settle`, 'release fraud', 'notify']);
    expect([settleFails.servedStates.fraud, settleFails.listenerWeights.fraud, settleFails.objects.has('served/fraud/v8/model.tar.gz')]).toEqual(['current=v7@100,candidate=v9@0', [0, 100], false]);
  });
});

describe('Pulumi ModelPromotion, the promotion role', () => {
  const models = mockArn('aws:s3/bucket:Bucket', 'pp-store-models');
  const tls = { 'aws:SecureTransport': true, 's3:TlsVersion': '1.3', 'aws:RequestedRegion': REGION };
  const createOnly = { ...tls, 's3:ObjectCreationOperation': true, 's3:if-none-match': '*' };
  let walk: IamWalk;
  let bucketPolicy: Statement[];
  let promotionArn: string;

  beforeAll(async () => {
    promotionArn = await promiseOf(store.promotionRoleArn);
    const policy = JSON.parse(one(resources, 'aws:s3/bucketPolicy:BucketPolicy', 'pp-store-models-policy').inputs.policy);
    const promotionPolicy = JSON.parse(one(resources, 'aws:iam/policy:Policy', 'pp-promotion-role-policy').inputs.policy);
    // A training role with the broadest grant a training job gets (read-write on the whole models bucket).
    const trainerGrants = await promiseOf(pulumi.output(store.grantStatements('read-write', ArtifactPurpose.MODELS)));
    const role = (name: string, statements: unknown[]) => ({
      Type: 'AWS::IAM::Role', Properties: { RoleName: name, AssumeRolePolicyDocument: { Statement: [] }, Policies: [{ PolicyDocument: { Statement: statements } }] },
    });
    walk = new IamWalk([{ name: 'P', json: { Resources: { Promotion: role(store.promotionRoleName, promotionPolicy.Statement), Trainer: role('trainer', trainerGrants) } } }]);
    bucketPolicy = walk.statements('P', policy);
  });

  const can = (who: 'Promotion' | 'Trainer', action: string, resource: string, context: RequestContext = tls) => walk.allows(walk.role(who), action, resource, {
    ...context, 'aws:PrincipalArn': who === 'Promotion' ? promotionArn : `arn:aws:iam::${ACCOUNT}:role/trainer`,
  }, bucketPolicy);

  test('the role is the one the store\'s bucket policy designates, trusted only by this state machine of this account', () => {
    const roleInputs = one(resources, 'aws:iam/role:Role', 'pp-promotion-role').inputs;
    expect(roleInputs.name).toBe('pp-store-promotion');
    expect(promotionArn).toBe(`arn:aws:iam::${ACCOUNT}:role/pp-store-promotion`);
    expect(JSON.parse(roleInputs.assumeRolePolicy).Statement).toEqual([{
      Effect: 'Allow',
      Principal: { Service: 'states.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnEquals: { 'aws:SourceArn': `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:p-dev-promotion` } },
    }]);
    const machine = one(resources, 'aws:sfn/stateMachine:StateMachine', 'pp-promotion-state-machine').inputs;
    expect([machine.name, machine.roleArn, machine.tracingConfiguration, machine.loggingConfiguration.level])
      .toEqual(['p-dev-promotion', mockArn('aws:iam/role:Role', 'pp-promotion-role'), { enabled: true }, 'ALL']);
    expect(promotion.stateMachineName).toBe('p-dev-promotion');
  });

  test('the promotion role writes served/ only create-once (If-None-Match), deletes and unlocks nothing; a training role cannot write served/ at all', () => {
    const served = `${models}/served/fraud/v8/model.tar.gz`;
    expect(can('Promotion', 's3:PutObject', served, createOnly)).toBe(true);
    expect(can('Promotion', 's3:PutObject', served, { ...tls, 's3:ObjectCreationOperation': true })).toBe(false);
    // The multipart upload's first calls are not creating operations (the completing call carries the header).
    expect(can('Promotion', 's3:PutObject', served, { ...tls, 's3:ObjectCreationOperation': false })).toBe(true);
    expect(can('Promotion', 's3:AbortMultipartUpload', served)).toBe(true);
    for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:BypassGovernanceRetention', 's3:PutBucketPolicy']) {
      expect([action, can('Promotion', action, served)]).toEqual([action, false]);
    }
    for (const key of ['candidates/fraud/run-1/model.tar.gz', 'mlflow/1/x']) expect([key, can('Promotion', 's3:PutObject', `${models}/${key}`, createOnly)]).toEqual([key, false]);
    expect(can('Promotion', 's3:GetObject', `${models}/candidates/fraud/run-42/model.tar.gz`)).toBe(true);
    expect(can('Trainer', 's3:PutObject', served, createOnly)).toBe(false);
    expect(can('Trainer', 's3:PutObject', `${models}/candidates/fraud/run-1/model.tar.gz`, { ...tls, 's3:ObjectCreationOperation': true })).toBe(true);
  });

  test('the role may make every call of its definition, on this environment\'s resources; nothing of CloudFormation', () => {
    const resourceOf: Record<string, string> = {
      dynamodb: mockArn('aws:dynamodb/table:Table', 'pp-promotion-locks'),
      sns: ALARMS,
      ssm: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/mlops/p-dev/served/fraud`,
      s3: `${models}/served/fraud/v8/model.tar.gz`,
      sagemaker: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/fraud/3`,
      tag: '*',
      autoscaling: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/fraud-candidate-asg`,
      states: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:p-dev-fraud-rollout`,
      events: `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`,
    };
    const calls = new Set<string>();
    for (const [, state] of allStates(definition).filter(([, s]) => s.Type === 'Task')) {
      const [, service, api] = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):([a-zA-Z]+)/.exec(state.Resource)!;
      const action = `${service === 'resourcegroupstaggingapi' ? 'tag' : service}:${api[0].toUpperCase()}${api.slice(1)}`;
      // S3 authorizes the multipart calls as s3:PutObject (create, upload part copy, complete).
      calls.add(/^s3:(CreateMultipartUpload|UploadPartCopy|CompleteMultipartUpload)$/.test(action) ? 's3:PutObject' : action);
    }
    expect([...calls].sort()).toEqual([
      'autoscaling:CancelInstanceRefresh', 'autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeInstanceRefreshes', 'autoscaling:StartInstanceRefresh',
      'dynamodb:DeleteItem', 'dynamodb:PutItem', 's3:AbortMultipartUpload', 's3:PutObject', 'sagemaker:CreateModelPackage', 'sagemaker:DescribeModelPackage',
      'sagemaker:UpdateModelPackage', 'sns:Publish', 'ssm:GetParameter', 'ssm:PutParameter', 'states:StartExecution', 'tag:GetResources',
    ]);
    const servedGroup = { ...createOnly, [`aws:ResourceTag/${SERVED_VARIANT_TAG}`]: '/mlops/p-dev/served/fraud:1' };
    for (const action of calls) {
      const resource = action === 'sagemaker:CreateModelPackage' ? `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package-group/fraud` : resourceOf[action.split(':')[0]];
      expect([action, can('Promotion', action, resource, servedGroup)]).toEqual([action, true]);
    }
    expect(can('Promotion', 'ssm:PutParameter', `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/mlops/p-prod/served/fraud`)).toBe(false);
    expect(can('Promotion', 'ssm:PutParameter', `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/mlops/p-dev/brake`)).toBe(false);
    for (const action of ['cloudformation:UpdateStack', 'states:StartExecution', 'iam:PassRole']) expect([action, can('Promotion', action, '*')]).toEqual([action, false]);
    expect(can('Promotion', 'states:StartExecution', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:p-prod-fraud-rollout`)).toBe(false);
  });

  test('under the governance boundary the role refreshes only groups whose instances read a served state of this environment, never a braked one', () => {
    const boundary = walk.statements('P', {
      Statement: boundaryStatements({
        partition: 'aws', account: ACCOUNT, allowedActions: BOUNDARY_ALLOWED_ACTIONS, allowedRegions: [REGION], roleNamePrefix: 'p-dev', environment: 'dev', project: 'p',
      }),
    });
    const promoter = { ...walk.role('Promotion'), boundary };
    const group = `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/fraud-candidate-asg`;
    const refresh = (action: string, tagValue?: string, extra: RequestContext = {}) => walk.allows(promoter, action, group, {
      ...tls, 'aws:PrincipalArn': promotionArn, ...(tagValue === undefined ? {} : { [`aws:ResourceTag/${SERVED_VARIANT_TAG}`]: tagValue }), ...extra,
    });
    for (const action of ['autoscaling:StartInstanceRefresh', 'autoscaling:CancelInstanceRefresh']) {
      expect([action, refresh(action, '/mlops/p-dev/served/fraud:1')]).toEqual([action, true]);
      expect([action, refresh(action, '/mlops/p-prod/served/fraud:1')]).toEqual([action, false]);
      expect([action, refresh(action)]).toEqual([action, false]);
    }
    expect(refresh('autoscaling:StartInstanceRefresh', '/mlops/p-dev/served/fraud:1', { 'aws:ResourceTag/mlops:brake': 'engaged' })).toBe(false);
    for (const action of ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:SetDesiredCapacity', 'autoscaling:DeleteAutoScalingGroup', 'autoscaling:CreateOrUpdateTags']) {
      expect([action, refresh(action, '/mlops/p-dev/served/fraud:1')]).toEqual([action, false]);
    }
  });
});

describe('Pulumi ModelPromotion, bad input', () => {
  test('no artifact store, a bad environment prefix, state machine name or promoteFrom: the CDK construct\'s ValidationErrors', () => {
    const base = { profile, tags, artifactStore: store, environmentPrefix: 'p-dev', alarmTopicArn: ALARMS };
    const noStore = errorOf(() => new ModelPromotion('bad1', { ...base, artifactStore: undefined as never }));
    expect(noStore).toBeInstanceOf(ValidationError);
    expect([noStore.prop, noStore.problem]).toEqual(['artifactStore', 'is required']);
    expect(errorOf(() => new ModelPromotion('bad2', { ...base, environmentPrefix: 'p dev' })).prop).toBe('environmentPrefix');
    expect(errorOf(() => new ModelPromotion('bad3', { ...base, stateMachineName: 'x'.repeat(81) })).prop).toBe('stateMachineName');
    const account = errorOf(() => new ModelPromotion('bad4', { ...base, promoteFrom: { account: '1234' } }));
    expect([account.prop, account.fix]).toEqual(['promoteFrom.account', expect.stringContaining('the source environment\'s 12-digit account id')]);
    expect(errorOf(() => new ModelPromotion('bad5', { ...base, promoteFrom: { region: 'mars' } })).prop).toBe('promoteFrom.region');
    expect(errorOf(() => new ModelPromotion('bad6', { ...base, alarmTopicArn: undefined as never })).prop).toBe('alarmTopicArn');
  });
});
