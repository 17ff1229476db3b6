import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { Duration } from 'aws-cdk-lib';
import { ACCOUNT, errorOf, installMocks, mockArn, one, promiseOf, pulumiIam, RecordedResource, REGION, resourcesOf } from './support';
import { FakeAws, runRollout } from '../support/rollout-fakes';
import { allStates } from '../support/state-machines';
import {
  BOUNDARY_ALLOWED_ACTIONS, boundaryStatements, BRAKE, encodeServedState, EnvironmentProfile, fleetRolloutDefinition, fleetRolloutStateMachineName,
  MlopsTags, Rollout, servedStateParameterName, ValidationError,
} from 'mlops-constructs';
import { ArtifactStore, FleetRollout, InferenceFleet, MlopsMonitoring, MlopsPlatform } from 'mlops-constructs/pulumi';

/*
 * The Pulumi FleetRollout (#18): the fleet rollout state machine as the Pulumi program renders it (the inputs of the
 * aws.sfn.StateMachine and aws.iam resources), for every rollout kind the fleet steps. The definition is executed
 * offline against the fakes the CDK rollout tests use; the role's claims are evaluated with the IAM walker.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errorsText: () => string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const profile = EnvironmentProfile.dev();
const tags = MlopsTags.of({ project: 'p', environment: 'dev' });
const ALARM_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:alarms`;
const stateArn = (model: string) => mockArn('aws:ssm/parameter:Parameter', `fr-${model}-served`);
const listenerArn = (kind: string) => mockArn('aws:lb/listener:Listener', `fr-${kind}-listener`);
const FLEET = {
  profile,
  tags,
  vpcId: 'vpc-1',
  subnetIds: ['subnet-1', 'subnet-2'],
  artifactStore: new ArtifactStore('fr-store', { profile, tags }),
  allowedCidrBlocks: ['10.0.0.0/16'],
  imageUri: 'repo/serve:1',
};

const KINDS: Array<[string, Rollout, Record<string, string>, number[][]]> = [
  ['canary', Rollout.canary({ percent: 10, bake: Duration.minutes(30) }), { candidate: 'v2' }, [[90, 10], [0, 100]]],
  ['linear', Rollout.linear({ stepPercent: 25, interval: Duration.minutes(10) }), { candidate: 'v2' }, [[75, 25], [50, 50], [25, 75], [0, 100]]],
  ['bluegreen', Rollout.blueGreen({ bake: Duration.minutes(15) }), { candidate: 'v2' }, [[0, 100]]],
  ['ab', Rollout.abTest({ weights: { a: 60, b: 30, c: 10 } }), { a: 'v1', b: 'v2', c: 'v3' }, [[60, 30, 10]]],
];

interface Built {
  readonly fleet: InferenceFleet;
  readonly rollout: FleetRollout;
  readonly definition: Json;
  readonly initialState: string;
  /** The rollout alarms' names and ARNs (latency, error rate, rollout health). */
  readonly alarms: { names: string[]; arns: string[] };
}

let resources: RecordedResource[];
const built = new Map<string, Built>();

beforeAll(async () => {
  const monitoring = new MlopsMonitoring('fr-monitoring', { profile, tags });
  const pending: Array<[string, InferenceFleet, FleetRollout, pulumi.Output<string[][]>]> = [];
  for (const [kind, rollout, variantVersions] of KINDS) {
    const args = { ...FLEET, modelName: kind, modelVersion: 'v1', variantVersions, rollout };
    const initialState = InferenceFleet.initialServedState(args);
    const name = servedStateParameterName('p-dev', kind);
    const parameter = new aws.ssm.Parameter(`fr-${kind}-served`, { name, type: 'String', value: encodeServedState(initialState) }, { ignoreChanges: ['value'] });
    const fleet = new InferenceFleet(`fr-${kind}`, { ...args, servedState: { name, arn: parameter.arn, initialState } });
    const alarms = monitoring.monitorServing(fleet);
    const rolloutAlarms = [alarms.latency, alarms.errorRate, alarms.rolloutHealth];
    const names = pulumi.all([alarms.latency.name, alarms.errorRate.name, alarms.rolloutHealth.alarmName]);
    const alarmIds = pulumi.all([names, pulumi.all(rolloutAlarms.map((a) => a.arn))]);
    pending.push([kind, fleet, new FleetRollout(`fr-${kind}-rollout`, {
      profile,
      tags,
      fleet,
      alarms: rolloutAlarms,
      alarmTopicArn: ALARM_TOPIC,
    }), alarmIds]);
  }
  resources = await resourcesOf('fr');
  for (const [kind, fleet, rollout, alarmIds] of pending) {
    const [names, arns] = await promiseOf(alarmIds);
    built.set(kind, {
      alarms: { names, arns },
      fleet,
      rollout,
      definition: JSON.parse(one(resources, 'aws:sfn/stateMachine:StateMachine', `fr-${kind}-rollout-state-machine`).inputs.definition),
      initialState: encodeServedState({ variants: fleet.variants.map((v) => ({ variant: v.name, version: v.version, weight: v.weight })) }),
    });
  }
});

describe.each(KINDS)('Pulumi %s fleet rollout, the deployed definition executed offline', (kind, rollout, _versions, expectedWeights) => {
  const b = () => built.get(kind)!;

  test('core\'s definition of this fleet without the deploy wait: valid ASL, SDK integrations only', () => {
    const { definition, fleet } = b();
    // (the validator adds its defaults to what it is given)
    expect(aslValidator(structuredClone(definition)).errorsText()).toBe('');
    expect(definition).toEqual(fleetRolloutDefinition({
      partition: 'aws',
      modelName: kind,
      rollout,
      variants: fleet.variants.map((v) => ({ name: v.name, targetGroupArn: mockArn('aws:lb/targetGroup:TargetGroup', `fr-${kind}-${v.name}-tg`) })),
      listenerArn: mockArn('aws:lb/listener:Listener', `fr-${kind}-listener`),
      servedStateParameterName: `/mlops/p-dev/served/${kind}`,
      alarmNames: b().alarms.names,
      alarmTopicArn: ALARM_TOPIC,
    }));
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task').map(([, s]) => s.Resource);
    expect(tasks.every((r: string) => /^arn:aws:states:::(aws-sdk:(ssm|cloudwatch|elasticloadbalancingv2|sfn):[A-Za-z]+|sns:publish)$/.test(r))).toBe(true);
    // No CloudFormation stack to wait for on Pulumi (nothing starts it on a deploy): it starts by checking it is the only run.
    expect(definition.StartAt).toBe('ListRunning');
    expect(b().rollout.plannedWeights).toEqual(expectedWeights);
  });

  test('healthy: the listener and the served state take every step, the metric records each; a stepped rollout ends with the candidate current', async () => {
    const fake = new FakeAws(b().initialState);
    expect(await runRollout(b().definition, fake)).toEqual({ ok: true });
    expect(fake.calls.filter((c) => c.startsWith('listener'))).toEqual(expectedWeights.map((w) => `listener ${w.join('/')}`));
    expect(fake.calls.filter((c) => c.startsWith('metric')).map((c) => Number(c.split(' ')[1]))).toEqual(expectedWeights.map((w) => 100 - w[0]));
    expect(fake.weights).toEqual(expectedWeights[expectedWeights.length - 1]);
    // A/B: the weights applied and recorded; stepped: at 100% the candidate's version became current (at weight 0).
    expect(fake.servedState).toBe(kind === 'ab' ? 'a=v1@60,b=v2@30,c=v3@10' : 'current=v2@0,candidate=v2@100');
    expect(fake.notifications).toEqual([]);
  });

  test('alarm before the last step: listener and served state back to the stable variant, the topic told, the run failed', async () => {
    const fake = new FakeAws(b().initialState, expectedWeights.length);
    const result = await runRollout(b().definition, fake);
    expect(result.error).toMatch(new RegExp(`^RolledBack: Traffic of ${kind} went back to '(current|a)'`));
    const stable = expectedWeights[0].map((_, i) => (i === 0 ? 100 : 0));
    expect(fake.weights).toEqual(stable);
    expect(fake.servedState).toBe(kind === 'ab' ? 'a=v1@100,b=v2@0,c=v3@0' : 'current=v1@100,candidate=v2@0');
    expect(fake.calls.slice(-4)).toEqual([`listener ${stable.join('/')}`, expect.stringMatching(/^state /), 'metric 0', 'notify']);
    expect(fake.notifications).toEqual([expect.objectContaining({ model: kind, event: 'rollback', reason: expect.stringMatching(/^rollout alarms in ALARM before/) })]);
  });
});

describe('Pulumi fleet rollout, runs', () => {
  test('nothing to roll out after a completed rollout; { "action": "rollback" } rolls back at once; a deploy trigger input just walks', async () => {
    const { definition } = built.get('canary')!;
    const done = new FakeAws('current=v2@0,candidate=v2@100');
    expect(await runRollout(definition, done)).toEqual({ ok: true });
    expect(done.calls).toEqual(['read /mlops/p-dev/served/canary']);
    const abort = new FakeAws('current=v1@90,candidate=v2@10');
    expect((await runRollout(definition, abort, { action: 'rollback' })).error).toMatch(/^RolledBack/);
    expect(abort.calls).toEqual(['read /mlops/p-dev/served/canary', 'listener 100/0', 'state current=v1@100,candidate=v2@0', 'metric 0', 'notify']);
    const deploy = new FakeAws('current=v1@90,candidate=v2@10');
    expect(await runRollout(definition, deploy, { trigger: 'deploy' })).toEqual({ ok: true });
    expect(deploy.calls.filter((c) => c.startsWith('describe'))).toEqual([]);
  });

  test('a FleetRollout given no promotion refuses { "action": "settle" }: nothing is moved', async () => {
    const { definition } = built.get('canary')!;
    const fake = new FakeAws('current=v2@0,candidate=v2@100');
    fake.executions['arn:aws:states:us-east-1:111111111111:execution:p-dev-promotion:run-1'] = { Status: 'RUNNING', Input: '{"model":"canary"}' };
    expect((await runRollout(definition, fake, { action: 'settle', promotion: 'arn:aws:states:us-east-1:111111111111:execution:p-dev-promotion:run-1' })).error)
      .toMatch(/^NotSettled: The rollout of canary was built without a promotion, .* Give the FleetRollout promotionStateMachineName \(ModelPromotion\.stateMachineName; MlopsPlatform does\)\.$/);
    expect(fake.calls).toEqual(['read /mlops/p-dev/served/canary']);
  });

  test('A/B: { "action": "rollback" } sends all traffic to the first variant; there is no settle (an unknown action changes nothing)', async () => {
    const { definition, initialState } = built.get('ab')!;
    const settle = new FakeAws(initialState);
    expect((await runRollout(definition, settle, { action: 'settle' })).error).toMatch(/^UnknownAction: "action" is "rollback";/);
    expect(settle.calls).toEqual(['read /mlops/p-dev/served/ab']);
    const rollback = new FakeAws('a=v1@60,b=v2@30,c=v3@10');
    expect((await runRollout(definition, rollback, { action: 'rollback' })).error).toMatch(/^RolledBack/);
    expect(rollback.servedState).toBe('a=v1@100,b=v2@0,c=v3@0');
  });
});

describe('Pulumi fleet rollout, the role', () => {
  const listener = listenerArn;

  test('trusted by Step Functions of this account for this state machine only; named for promotion; logged and traced', () => {
    const role = one(resources, 'aws:iam/role:Role', 'fr-canary-rollout-role').inputs;
    expect(JSON.parse(role.assumeRolePolicy).Statement).toEqual([{
      Effect: 'Allow',
      Principal: { Service: 'states.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: {
        StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnEquals: { 'aws:SourceArn': `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:p-dev-canary-rollout` },
      },
    }]);
    const machine = one(resources, 'aws:sfn/stateMachine:StateMachine', 'fr-canary-rollout-state-machine').inputs;
    const logging = machine.loggingConfiguration;
    expect([machine.name, machine.roleArn, machine.tracingConfiguration, logging.level, logging.includeExecutionData, logging.logDestination])
      .toEqual([fleetRolloutStateMachineName('p-dev', 'canary'), mockArn('aws:iam/role:Role', 'fr-canary-rollout-role'), { enabled: true }, 'ALL', true,
        `${mockArn('aws:cloudwatch/logGroup:LogGroup', 'fr-canary-rollout-logs')}:*`]);
    expect(built.get('canary')!.rollout.stateMachineName).toBe('p-dev-canary-rollout');
  });

  test('may make every call of its definition on its fleet\'s listener and its model\'s served state, and nothing on another fleet or model', () => {
    const walk = pulumiIam(resources);
    const role = walk.role('fr-canary-rollout-role');
    const alarms = built.get('canary')!.alarms.arns;
    expect(new Set(alarms).size).toBe(3);
    const resourceOf: Record<string, string> = {
      'ssm:GetParameter': stateArn('canary'),
      'ssm:PutParameter': stateArn('canary'),
      'elasticloadbalancing:ModifyListener': listener('canary'),
      'sns:Publish': ALARM_TOPIC,
      'cloudwatch:PutMetricData': '*',
      'states:ListExecutions': `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${built.get('canary')!.rollout.stateMachineName}`,
    };
    const calls = new Set(allStates(built.get('canary')!.definition).filter(([, s]) => s.Type === 'Task').map(([, s]) => {
      const [, service, api] = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):([a-zA-Z]+)/.exec(s.Resource)!;
      const iamService = ({ elasticloadbalancingv2: 'elasticloadbalancing', sfn: 'states' } as Record<string, string>)[service] ?? service;
      return `${iamService}:${api[0].toUpperCase()}${api.slice(1)}`;
    }));
    expect([...calls].sort()).toEqual(['cloudwatch:DescribeAlarms', 'cloudwatch:PutMetricData', 'elasticloadbalancing:ModifyListener', 'sns:Publish',
      'ssm:GetParameter', 'ssm:PutParameter', 'states:ListExecutions']);
    // It lists the runs of its own state machine only (one run at a time).
    expect(walk.allows(role, 'states:ListExecutions', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${built.get('linear')!.rollout.stateMachineName}`)).toBe(false);
    const metricContext = { 'cloudwatch:namespace': 'MLOps/Rollouts' };
    for (const action of calls) {
      if (action === 'cloudwatch:DescribeAlarms') {
        for (const alarm of alarms) expect([action, alarm, walk.allows(role, action, alarm)]).toEqual([action, alarm, true]);
        expect(walk.allows(role, action, built.get('linear')!.alarms.arns[0])).toBe(false);
      } else {
        expect([action, walk.allows(role, action, resourceOf[action], metricContext)]).toEqual([action, true]);
      }
    }
    // Only its own fleet's listener and its own model's served state.
    expect(walk.allows(role, 'elasticloadbalancing:ModifyListener', listener('linear'))).toBe(false);
    expect(walk.allows(role, 'elasticloadbalancing:ModifyRule', listener('canary'))).toBe(false);
    expect(walk.allows(role, 'ssm:PutParameter', stateArn('linear'))).toBe(false);
    expect(walk.allows(role, 'ssm:PutParameter', `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/mlops/p-dev/brake`)).toBe(false);
    expect(walk.allows(role, 'cloudwatch:PutMetricData', '*', { 'cloudwatch:namespace': 'AWS/EC2' })).toBe(false);
    for (const action of ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:SetDesiredCapacity', 'elasticloadbalancing:DeleteListener', 'iam:PassRole',
      'cloudwatch:DisableAlarmActions', 'states:StartExecution']) {
      expect([action, walk.allows(role, action, '*')]).toEqual([action, false]);
    }
  });
});

describe('Pulumi fleet rollout under the governance boundary', () => {
  test('the boundary (core\'s, as MlopsGovernance renders it) lets every call of the definition through, while the brake is on too; it stops capacity', () => {
    const walk = pulumiIam(resources);
    const boundary = walk.statements('x', {
      Statement: boundaryStatements({
        partition: 'aws', account: ACCOUNT, allowedActions: BOUNDARY_ALLOWED_ACTIONS, allowedRegions: [REGION], roleNamePrefix: 'p-dev', environment: 'dev', project: 'p',
      }),
    });
    const role = { ...walk.role('fr-canary-rollout-role'), boundary };
    // The rollout's targets carry the brake's tag while it is on (a rollout moves weights, which are not capacity).
    const braked = { 'aws:RequestedRegion': REGION, [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue, 'cloudwatch:namespace': 'MLOps/Rollouts' };
    const calls: Array<[string, string]> = [
      ['ssm:GetParameter', stateArn('canary')], ['ssm:PutParameter', stateArn('canary')], ['elasticloadbalancing:ModifyListener', listenerArn('canary')],
      ['cloudwatch:DescribeAlarms', built.get('canary')!.alarms.arns[2]], ['cloudwatch:PutMetricData', '*'], ['sns:Publish', ALARM_TOPIC],
      ['logs:CreateLogDelivery', '*'], ['xray:PutTraceSegments', '*'],
    ];
    for (const [action, resource] of calls) expect([action, walk.allows(role, action, resource, braked)]).toEqual([action, true]);
    // Even granted, the boundary would stop raising a braked group.
    const granted = { ...role, identity: [...role.identity, { Effect: 'Allow' as const, Action: ['autoscaling:*'], Resource: ['*'] }] };
    expect(walk.allows(granted, 'autoscaling:SetDesiredCapacity', '*', braked)).toBe(false);
    expect(walk.allows(granted, 'autoscaling:SetDesiredCapacity', '*', { 'aws:RequestedRegion': REGION })).toBe(true);
  });
});

describe('Pulumi MlopsPlatform fleet rollouts', () => {
  test('a stepped fleet gets its rollout (served state, alarms, platform key, governance boundary); all-at-once fleets and endpoints none; the boundary stops no call', async () => {
    const platform = new MlopsPlatform('pfr', {
      profile,
      project: 'p',
      network: { vpcId: 'vpc-1', vpcCidrBlock: '10.1.0.0/16', privateSubnetIds: ['subnet-a', 'subnet-b'], isolatedSubnetIds: ['subnet-c', 'subnet-d'] },
      experimentTracking: false,
      servedModels: [
        { name: 'fraud', backend: 'fleet', modelVersion: 'v3', variantVersions: { candidate: 'v4' }, imageTag: 's1', rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }) },
        { name: 'recs', backend: 'fleet', modelVersion: 'v1', variantVersions: { a: 'v1', b: 'v2' }, imageTag: 's1', rollout: Rollout.abTest({ weights: { a: 50, b: 50 } }) },
        { name: 'scorer', backend: 'fleet', modelVersion: 'v1', imageTag: 's1' },
        { name: 'churn', backend: 'endpoint', modelVersion: 'v1', imageTag: 's1' },
      ],
    });
    const r = await resourcesOf('pfr');
    expect(Object.keys(platform.fleetRollouts).sort()).toEqual(['fraud', 'recs']);
    expect([platform.fleetRolloutOf('scorer'), platform.fleetRolloutOf('churn')]).toEqual([undefined, undefined]);
    const rollout = platform.fleetRolloutOf('fraud')!;
    expect(rollout.stateMachineName).toBe(fleetRolloutStateMachineName('p-dev', 'fraud'));
    expect(rollout.plannedWeights).toEqual([[90, 10], [0, 100]]);
    const definition = JSON.parse(one(r, 'aws:sfn/stateMachine:StateMachine', 'pfr-rollout-fraud-state-machine').inputs.definition);
    expect(definition.States.ReadServedState.Parameters.Name).toBe('/mlops/p-dev/served/fraud');
    expect(definition.States.Step1Shift.Parameters.ListenerArn).toBe(mockArn('aws:lb/listener:Listener', 'pfr-model-fraud-listener'));
    expect(definition.States.NotifyRollback.Parameters.TopicArn).toBe(mockArn('aws:sns/topic:Topic', 'pfr-monitoring-alarms'));
    const platformKey = mockArn('aws:kms/key:Key', 'pfr-key');
    expect(one(r, 'aws:cloudwatch/logGroup:LogGroup', 'pfr-rollout-fraud-logs').inputs.kmsKeyId).toBe(platformKey);
    const roleInputs = one(r, 'aws:iam/role:Role', 'pfr-rollout-fraud-role').inputs;
    const boundaryArn = mockArn('aws:iam/policy:Policy', 'pfr-governance-boundary');
    expect(roleInputs.permissionsBoundary).toBe(boundaryArn);
    // Under the platform's boundary (as rendered): every call of the definition, on its served state and listener, while the brake is on.
    const walk = pulumiIam(r);
    const role = { ...walk.role('pfr-rollout-fraud-role'), boundary: walk.statements('x', JSON.parse(one(r, 'aws:iam/policy:Policy', 'pfr-governance-boundary').inputs.policy)) };
    const braked = { 'aws:RequestedRegion': REGION, [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue, 'cloudwatch:namespace': 'MLOps/Rollouts' };
    const state = mockArn('aws:ssm/parameter:Parameter', 'pfr-served-fraud');
    for (const [action, resource] of [
      ['ssm:GetParameter', state], ['ssm:PutParameter', state], ['elasticloadbalancing:ModifyListener', definition.States.Step1Shift.Parameters.ListenerArn],
      ['cloudwatch:PutMetricData', '*'], ['sns:Publish', definition.States.NotifyRollback.Parameters.TopicArn], ['kms:GenerateDataKey', platformKey],
    ]) {
      expect([action, walk.allows(role, action, resource, braked)]).toEqual([action, true]);
    }
    expect(walk.allows(role, 'ssm:PutParameter', mockArn('aws:ssm/parameter:Parameter', 'pfr-served-recs'))).toBe(false);
    expect(walk.allows(role, 'elasticloadbalancing:ModifyListener', mockArn('aws:lb/listener:Listener', 'pfr-model-recs-listener'))).toBe(false);
  });
});

describe('Pulumi FleetRollout, bad input', () => {
  test('an all-at-once fleet, a fleet without a served state, no alarms, no topic: the CDK construct\'s ValidationErrors', () => {
    const { fleet } = built.get('canary')!;
    const base = { profile, tags, fleet, alarms: [], alarmTopicArn: ALARM_TOPIC };
    const all = new InferenceFleet('frbad-all', { ...FLEET, modelName: 'all', modelVersion: 'v1' });
    const allAtOnce = errorOf(() => new FleetRollout('frbad1', { ...base, fleet: all }));
    expect(allAtOnce).toBeInstanceOf(ValidationError);
    expect([allAtOnce.prop, allAtOnce.problem]).toEqual(['fleet', 'has a rollout with nothing to step (all at once)']);
    const unserved = new InferenceFleet('frbad-unserved', {
      ...FLEET, modelName: 'unserved', modelVersion: 'v1', rollout: Rollout.blueGreen(), variantVersions: { candidate: 'v2' },
    });
    const noState = errorOf(() => new FleetRollout('frbad2', { ...base, fleet: unserved }));
    expect([noState.prop, noState.problem, noState.fix]).toEqual([
      'fleet', expect.stringMatching(/^has no servedState: the next pulumi up would reset/), expect.stringContaining('give the fleet a servedState'),
    ]);
    expect(errorOf(() => new FleetRollout('frbad3', base)).problem).toBe('must list 1 to 100 alarms');
    expect(errorOf(() => new FleetRollout('frbad4', { ...base, fleet: undefined as never })).prop).toBe('fleet');
    expect(errorOf(() => new FleetRollout('frbad5', { ...base, alarms: [{} as never], alarmTopicArn: undefined as never })).prop).toBe('alarmTopicArn');
    expect(errorOf(() => new FleetRollout('frbad6', { ...base, alarms: [{} as never], stateMachineName: 'x'.repeat(81) })).prop).toBe('stateMachineName');
  });
});
