// The fleet rollout state machine (#17): its definition walked state by state for every rollout kind, validated with
// asl-validator, and executed offline with aws-local-stepfunctions against a fake listener, served state and alarms.
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { certificateArnFor, certificateFor } from '../support/certificates';
import { evaluate } from '../support/cfn-eval';
import { newApp } from '../support/gate';
import { EARLIER, FakeAws, LATER, runRollout } from '../support/rollout-fakes';
import {
  ArtifactStore, EnvironmentProfile, FLEET_ROLLOUT_METRIC, FleetRollout, fleetRolloutStateMachineName, ImageRepository, InferenceFleet,
  MlopsMonitoring, MlopsPlatform, MlopsStack, Rollout, ServedStateParameter, ServingBackend, ValidationError,
} from 'mlops-constructs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errorsText: () => string };

/** How the emulator reports the RolledBack Fail state (its cause). */
const ROLLED_BACK = /Traffic of fraud went back to '(current|a)'/;
const AB_VERSIONS = { a: 'v1', b: 'v2', c: 'v3' };

interface Built {
  readonly rollout: FleetRollout;
  readonly fleet: InferenceFleet;
  readonly template: Template;
  /** The state machine's definition as CloudFormation deploys it (references resolved to stand-in values). */
  readonly definition: any;
}

/** The environment's promotion state machine (as MlopsPlatform passes it). */
const PROMOTION = 'fraud-prod-promotion';
const promotionRun = (name = PROMOTION) => `arn:aws:states:us-east-1:111111111111:execution:${name}:run-7`;

function build(rollout: Rollout, options: { variantVersions?: Record<string, string>; modelVersion?: string } = {}): Built {
  const app = newApp();
  const profile = EnvironmentProfile.prod();
  const data = new MlopsStack(app, 'Data', { profile, project: 'fraud', stackName: 'fraud-prod-data' });
  const serving = new MlopsStack(app, 'Serving', { profile, project: 'fraud', stackName: 'fraud-prod-serving' });
  const modelVersion = options.modelVersion ?? 'v1';
  const variantVersions = options.variantVersions ?? (rollout.isProgressive ? { candidate: 'v2' } : AB_VERSIONS);
  const servedState = new ServedStateParameter(data, 'State', {
    environmentPrefix: 'fraud-prod', model: 'fraud', initialState: InferenceFleet.initialServedState({ modelVersion, variantVersions, rollout }),
  });
  const fleet = new InferenceFleet(serving, 'Fleet', {
    vpc: new ec2.Vpc(serving, 'Vpc'),
    artifactStore: new ArtifactStore(serving, 'Store'),
    image: new ImageRepository(serving, 'Images'),
    imageTag: '1.0',
    modelName: 'fraud',
    modelVersion,
    variantVersions,
    rollout,
    servedState,
    certificate: certificateFor(serving, profile),
  });
  const monitoring = new MlopsMonitoring(serving, 'Monitoring');
  const alarms = monitoring.monitorServing('fraud', fleet);
  const fleetRollout = new FleetRollout(serving, 'Rollout', {
    fleet, alarmTopic: monitoring.alarmTopic, alarms: [alarms.latency, alarms.errorRate, alarms.rolloutHealth], promotionStateMachineName: PROMOTION,
  });
  const template = Template.fromStack(serving);
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  expect(machines).toHaveLength(1);
  const refs = Object.fromEntries([
    ...Object.keys(template.toJSON().Resources ?? {}),
    ...Object.keys(template.toJSON().Parameters ?? {}),
  ].map((id) => [id, `ref:${id}`]));
  const attributes = new Proxy({}, { has: () => true, get: (_t, key) => `att:${String(key)}` }) as Record<string, string>;
  const text = evaluate(machines[0].Properties.DefinitionString, refs, { 'AWS::Region': 'us-east-1', 'AWS::AccountId': '111111111111' }, attributes);
  return { rollout: fleetRollout, fleet, template, definition: JSON.parse(text) };
}

/** The states from StartAt, following `Next` and a Choice's `Default` (the healthy path). */
function healthyPath(definition: any): string[] {
  const out: string[] = [];
  let name: string | undefined = definition.StartAt;
  while (name && out.length < 200) {
    out.push(name);
    const state = definition.States[name];
    name = state.Type === 'Choice' ? state.Default : state.Next;
  }
  return out;
}

function weightsOf(state: any): number[] {
  return state.Parameters.DefaultActions[0].ForwardConfig.TargetGroups.map((t: any) => t.Weight);
}

function run(built: Built, aws: FakeAws, input: Record<string, unknown> = {}): Promise<{ ok: boolean; error?: string }> {
  return runRollout(built.definition, aws, input);
}

const KINDS: Array<[string, Rollout, number[][]]> = [
  ['canary', Rollout.canary({ percent: 10, bake: Duration.minutes(30) }), [[90, 10], [0, 100]]],
  ['linear', Rollout.linear({ stepPercent: 25, interval: Duration.minutes(10) }), [[75, 25], [50, 50], [25, 75], [0, 100]]],
  ['blue/green', Rollout.blueGreen({ bake: Duration.minutes(15) }), [[0, 100]]],
  ['A/B', Rollout.abTest({ weights: { a: 60, b: 30, c: 10 } }), [[60, 30, 10]]],
];

describe.each(KINDS)('%s fleet rollout state machine', (kind, rollout, expectedWeights) => {
  let built: Built;
  beforeAll(() => {
    built = build(rollout);
  });

  test('a valid Amazon States Language definition (asl-validator), SDK integrations only', () => {
    const result = aslValidator(built.definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
    const resources = Object.values<any>(built.definition.States).filter((s) => s.Type === 'Task').map((s) => s.Resource);
    expect(resources.every((r: string) => /^arn:aws:states:::(aws-sdk:[a-z0-9]+:[A-Za-z]+|sns:publish)$/.test(r))).toBe(true);
    expect(resources.some((r: string) => r.includes('lambda'))).toBe(false);
  });

  test('steps in order, an alarm check right before each step, the rollout\'s bake times', () => {
    const path = healthyPath(built.definition);
    const states = built.definition.States;
    const shifts = path.filter((n) => states[n].Resource?.endsWith(':modifyListener'));
    expect(shifts.map((n) => weightsOf(states[n]))).toEqual(expectedWeights);
    expect(built.rollout.plannedWeights).toEqual(expectedWeights);
    for (const shift of shifts) {
      const i = path.indexOf(shift);
      // <check> -> <healthy?> -> <shift>
      expect(states[path[i - 2]].Resource).toMatch(/:cloudwatch:describeAlarms$/);
      expect(states[path[i - 2]].Parameters.StateValue).toBe('ALARM');
      expect(states[path[i - 2]].Parameters.AlarmNames).toHaveLength(3);
      expect(states[path[i - 1]].Type).toBe('Choice');
    }
    const bakes = path.filter((n) => states[n].Type === 'Wait').map((n) => states[n].Seconds);
    expect(bakes).toEqual(rollout.steps().map((s) => s.waitSeconds).filter((s) => s > 0));
    // The last state of the healthy path succeeds; a progressive rollout ends with the candidate at 100%.
    expect(states[path[path.length - 1]].Type).toBe('Succeed');
    if (kind !== 'A/B') expect(expectedWeights[expectedWeights.length - 1]).toEqual([0, 100]);
  });

  test('every alarm check can branch to the rollback, which sends all traffic to the stable variant and notifies the alarm topic', () => {
    const states = built.definition.States;
    const choices = Object.entries<any>(states).filter(([n]) => n.endsWith('Healthy') && states[n].Type === 'Choice');
    expect(choices.length).toBeGreaterThanOrEqual(expectedWeights.length);
    for (const [, choice] of choices) {
      let next = choice.Choices[0].Next;
      while (states[next].Type === 'Pass') next = states[next].Next;
      expect(next).toBe('RollBack');
    }
    expect(weightsOf(states.RollBack)).toEqual(expectedWeights[0].map((_, i) => (i === 0 ? 100 : 0)));
    expect(states[states[states[states.RollBack.Next].Next].Next].Resource).toBe('arn:aws:states:::sns:publish');
    expect(states.NotifyRollback.Parameters.TopicArn).toMatch(/^ref:MonitoringAlarmTopic/);
  });

  test('run offline, healthy: the listener and the served state take every step, the metric records each', async () => {
    const initial = built.fleet.servedState!.initialValue;
    const aws = new FakeAws(initial);
    expect(await run(built, aws)).toEqual({ ok: true });
    expect(aws.calls.filter((c) => c.startsWith('listener'))).toEqual(expectedWeights.map((w) => `listener ${w.join('/')}`));
    expect(aws.calls.filter((c) => c === 'check')).toHaveLength(expectedWeights.length + (rollout.steps().at(-1)?.waitSeconds ? 1 : 0));
    const candidateShares = expectedWeights.map((w) => 100 - w[0]);
    expect(aws.calls.filter((c) => c.startsWith('metric')).map((c) => Number(c.split(' ')[1]))).toEqual(candidateShares);
    expect(aws.weights).toEqual(expectedWeights[expectedWeights.length - 1]);
    if (kind === 'A/B') {
      expect(aws.servedState).toBe('a=v1@60,b=v2@30,c=v3@10');
    } else {
      // The candidate's version became current (at weight 0), so the next rollout starts from it.
      expect(aws.servedState).toBe('current=v2@0,candidate=v2@100');
      expect(aws.calls).toContain('state current=v1@0,candidate=v2@100');
    }
    expect(aws.notifications).toEqual([]);
  });

  test('run offline, alarm before the last step: rolled back to the stable variant, told, failed', async () => {
    const aws = new FakeAws(built.fleet.servedState!.initialValue, expectedWeights.length);
    const result = await run(built, aws);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(ROLLED_BACK);
    const stable = expectedWeights[0].map((_, i) => (i === 0 ? 100 : 0));
    expect(aws.weights).toEqual(stable);
    expect(aws.calls.slice(-4)).toEqual([`listener ${stable.join('/')}`, expect.stringMatching(/^state /), 'metric 0', 'notify']);
    // Never stepped past the check that found the alarm.
    expect(aws.calls.filter((c) => c.startsWith('listener')).slice(0, -1)).toEqual(expectedWeights.slice(0, -1).map((w) => `listener ${w.join('/')}`));
    expect(aws.notifications[0]).toMatchObject({ model: 'fraud', event: 'rollback', execution: expect.stringContaining('run-1') });
    if (kind !== 'A/B') expect(aws.servedState).toBe('current=v1@100,candidate=v2@0');
  });
});

describe('fleet rollout state machine, runs', () => {
  let canary: Built;
  beforeAll(() => {
    canary = build(Rollout.canary({ percent: 10, bake: Duration.minutes(30) }));
  });

  test('{ "action": "rollback" } aborts: all traffic back to current at once, without stepping', async () => {
    const aws = new FakeAws('current=v1@90,candidate=v2@10');
    const result = await run(canary, aws, { action: 'rollback' });
    expect(result.error).toMatch(ROLLED_BACK);
    expect(aws.calls).toEqual(['read /mlops/fraud-prod/served/fraud', 'listener 100/0', 'state current=v1@100,candidate=v2@0', 'metric 0', 'notify']);
    expect(aws.notifications[0].reason).toBe('rollback requested');
  });

  test('nothing to roll out when the candidate already serves the current version (after a completed rollout)', async () => {
    const aws = new FakeAws('current=v2@0,candidate=v2@100');
    expect(await run(canary, aws)).toEqual({ ok: true });
    expect(aws.calls).toEqual(['read /mlops/fraud-prod/served/fraud']);
  });

  test('{ "action": "rollback" } with no rollout in flight (both variants serve one version) is refused: the first variant\'s instances may still run the version before it', async () => {
    for (const state of ['current=v2@0,candidate=v2@100', 'current=v2@100,candidate=v2@0']) {
      const aws = new FakeAws(state);
      const result = await run(canary, aws, { action: 'rollback' });
      expect(result.error).toMatch(/^NothingToRollBack: No rollout of fraud is in flight.*promote it/);
      expect([aws.calls, aws.servedState, aws.notifications]).toEqual([['read /mlops/fraud-prod/served/fraud'], state, []]);
    }
  });

  test('{ "action": "settle" } by a running promotion of this model after a finished rollout: all traffic to the first variant, recorded, no alarm check, no notification', async () => {
    const done = new FakeAws('current=v2@0,candidate=v2@100');
    done.executions[promotionRun()] = { Status: 'RUNNING', Input: JSON.stringify({ model: 'fraud', version: 'v3', candidate: 'run-9' }) };
    expect(await run(canary, done, { action: 'settle', promotion: promotionRun() })).toEqual({ ok: true });
    expect(done.calls).toEqual(['read /mlops/fraud-prod/served/fraud', `describe execution ${promotionRun()}`, 'listener 100/0', 'state current=v2@100,candidate=v2@0', 'metric 0']);
    // While a rollout is in flight, even the promotion is refused.
    const inFlight = new FakeAws('current=v1@90,candidate=v2@10');
    inFlight.executions = done.executions;
    expect((await run(canary, inFlight, { action: 'settle', promotion: promotionRun() })).error).toMatch(/^NotSettled: A rollout of fraud is in flight/);
    expect([inFlight.calls.filter((c) => /^(listener|state)/.test(c)), inFlight.servedState]).toEqual([[], 'current=v1@90,candidate=v2@10']);
  });

  test('{ "action": "settle" } from anyone else changes nothing: no promotion named, another state machine\'s execution, a finished promotion or one of another model', async () => {
    const attempts: Array<[Record<string, unknown>, Record<string, { Status: string; Input: string }>]> = [
      [{ action: 'settle' }, {}],
      [{ action: 'settle', promotion: 42 }, {}],
      [{ action: 'settle', promotion: promotionRun('fraud-prod-fraud-rollout') }, { [promotionRun('fraud-prod-fraud-rollout')]: { Status: 'RUNNING', Input: '{"model":"fraud"}' } }],
      [{ action: 'settle', promotion: promotionRun() }, {}],
      [{ action: 'settle', promotion: promotionRun() }, { [promotionRun()]: { Status: 'SUCCEEDED', Input: '{"model":"fraud"}' } }],
      [{ action: 'settle', promotion: promotionRun() }, { [promotionRun()]: { Status: 'RUNNING', Input: '{"model":"churn"}' } }],
      [{ action: 'settle', promotion: promotionRun() }, { [promotionRun()]: { Status: 'RUNNING', Input: '{"version":"v3"}' } }],
    ];
    for (const [input, executions] of attempts) {
      const aws = new FakeAws('current=v2@0,candidate=v2@100');
      aws.executions = executions;
      expect([input, (await run(canary, aws, input)).error]).toEqual([input, expect.stringMatching(/^NotSettled: Settle is a step of a running promotion of fraud/)]);
      expect([input, aws.calls.filter((c) => !/^(read|describe)/.test(c)), aws.servedState]).toEqual([input, [], 'current=v2@0,candidate=v2@100']);
    }
  });

  test('the role may describe the executions of the environment\'s promotion only (what settle checks), and list its own runs only', () => {
    const policies = ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].flatMap((type) => Object.values<any>(canary.template.findResources(type)));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements.length).toBeGreaterThan(3);
    const describe = statements.filter((st) => [st.Action].flat().some((a: string) => /^states:(Describe|\*|Get)/.test(a)));
    expect(describe).toEqual([expect.objectContaining({ Sid: 'CheckThePromotion', Action: 'states:DescribeExecution' })]);
    expect(JSON.stringify(describe[0].Resource)).toMatch(/:execution:fraud-prod-promotion:\*"/);
    // And list the runs of its own state machine, no other (one run at a time).
    const list = statements.filter((st) => [st.Action].flat().includes('states:ListExecutions'));
    expect(list).toEqual([expect.objectContaining({ Sid: 'OneRunAtATime' })]);
    expect(JSON.stringify(list[0].Resource)).toMatch(new RegExp(`:stateMachine:${canary.rollout.stateMachineName}"`));
  });

  test('one run at a time: while another run of the rollout is RUNNING, a walk, a rollback or a settle changes nothing (RolloutInProgress)', async () => {
    for (const input of [{}, { action: 'rollback' }, { action: 'settle', promotion: promotionRun() }]) {
      const aws = new FakeAws('current=v1@90,candidate=v2@10');
      aws.running = 2;
      expect([input, (await run(canary, aws, input)).error]).toEqual([input, expect.stringMatching(/^RolloutInProgress: Another run of this state machine is moving the traffic of fraud; nothing was changed\. Stop it first/)]);
      expect([input, aws.calls, aws.servedState]).toEqual([input, [], 'current=v1@90,candidate=v2@10']);
    }
  });

  test('a misspelled action changes nothing (it used to walk the rollout)', async () => {
    const aws = new FakeAws('current=v1@90,candidate=v2@10');
    expect((await run(canary, aws, { action: 'rolback' })).error).toMatch(/^UnknownAction: "action" is "rollback" or "settle"; start with \{\} to walk the rollout/);
    expect(aws.calls).toEqual(['read /mlops/fraud-prod/served/fraud']);
  });

  test('started by a deploy: waits for the serving stack to finish an update begun after the run started, then steps', async () => {
    const aws = new FakeAws('current=v1@90,candidate=v2@10');
    // Not updated yet (the data stack deploys first), then in progress, then done.
    aws.stackUpdates = [{ status: 'UPDATE_COMPLETE', updated: EARLIER }, { status: 'UPDATE_IN_PROGRESS', updated: LATER }, { status: 'UPDATE_COMPLETE', updated: LATER }];
    expect(await run(canary, aws, { trigger: 'deploy' })).toEqual({ ok: true });
    expect(aws.calls.slice(0, 5)).toEqual([
      'describe fraud-prod-serving', 'describe fraud-prod-serving', 'describe fraud-prod-serving', 'read /mlops/fraud-prod/served/fraud', 'check',
    ]);
    expect(aws.weights).toEqual([0, 100]);
  });

  test('started by a deploy that never updates the serving stack, or rolls it back: traffic is never moved', async () => {
    const stale = new FakeAws('current=v1@90,candidate=v2@10');
    stale.stackUpdates = [{ status: 'CREATE_COMPLETE' }];
    const result = await run(canary, stale, { trigger: 'deploy' });
    expect(result.error).toMatch(/fraud-prod-serving was not updated within 60 minutes.*use --force/);
    expect(stale.calls.filter((c) => !c.startsWith('describe'))).toEqual([]);
    const rolledBack = new FakeAws('current=v1@90,candidate=v2@10');
    rolledBack.stackUpdates = [{ status: 'UPDATE_ROLLBACK_COMPLETE', updated: LATER }];
    expect((await run(canary, rolledBack, { trigger: 'deploy' })).error).toMatch(/rolled its update back; traffic was not moved/);
    expect(rolledBack.calls).toEqual(['describe fraud-prod-serving']);
  });

  test('versions are taken from the served state at run time, not from the template', async () => {
    const aws = new FakeAws('current=2024-06-01.3@90,candidate=2024-07-15_rc1@10');
    expect(await run(canary, aws)).toEqual({ ok: true });
    expect(aws.servedState).toBe('current=2024-07-15_rc1@0,candidate=2024-07-15_rc1@100');
  });

  test('started by CloudFormation writing the served state only (CloudTrail PutParameter invoked by CloudFormation)', () => {
    const rules = Object.values(canary.template.findResources('AWS::Events::Rule'));
    const trigger = rules.find((r: any) => r.Properties.EventPattern?.detail?.eventName?.[0] === 'PutParameter') as any;
    expect(trigger.Properties.EventPattern).toEqual({
      'source': ['aws.ssm'],
      'detail-type': ['AWS API Call via CloudTrail'],
      'detail': {
        eventSource: ['ssm.amazonaws.com'],
        eventName: ['PutParameter'],
        requestParameters: { name: ['/mlops/fraud-prod/served/fraud'] },
        userIdentity: { invokedBy: ['cloudformation.amazonaws.com'] },
      },
    });
    expect(trigger.Properties.Targets[0].Arn.Ref).toMatch(/^RolloutStateMachine/);
  });

  test('a name promotion can build the ARN from, and the role can touch only this fleet\'s listener, served state and alarms', () => {
    expect(canary.rollout.stateMachineName).toBe(fleetRolloutStateMachineName('fraud-prod-serving', 'fraud'));
    canary.template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'fraud-prod-serving-fraud-rollout' });
    const roles = canary.template.findResources('AWS::IAM::Role');
    const role = Object.entries(roles).find(([id]) => id.startsWith('RolloutRole'))![1] as any;
    // Assumable by Step Functions of this account for this state machine only.
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{
      Action: 'sts:AssumeRole',
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnEquals: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':stateMachine:fraud-prod-serving-fraud-rollout']] } },
      },
      Effect: 'Allow',
      Principal: { Service: 'states.amazonaws.com' },
    }]);
    expect(role.Properties.ManagedPolicyArns).toHaveLength(1);
    const policy = canary.template.toJSON().Resources[role.Properties.ManagedPolicyArns[0].Ref];
    const statements: any[] = policy.Properties.PolicyDocument.Statement;
    const byAction = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    const modified = byAction('elasticloadbalancing:ModifyListener').map((s) => s.Resource);
    expect(modified).toEqual([{ Ref: expect.stringMatching(/^FleetLoadBalancerListener/) }]);
    // The listener it reweights is the HTTPS one (prod requires TLS), not the port-80 redirect.
    expect(canary.template.toJSON().Resources[modified[0].Ref].Properties).toMatchObject({ Port: 443, Protocol: 'HTTPS' });
    const machine = Object.values(canary.template.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    expect(JSON.stringify(machine.Properties.DefinitionString)).toContain(`"Ref":"${modified[0].Ref}"`);
    expect(JSON.stringify(byAction('ssm:PutParameter').map((s) => s.Resource))).toContain('parameter/mlops/fraud-prod/served/fraud');
    expect(byAction('cloudwatch:PutMetricData')[0].Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'MLOps/Rollouts' } });
    expect(byAction('cloudwatch:DescribeAlarms')[0].Resource).toHaveLength(3);
    // No inline policy on the role (NIST 800-53 / HIPAA).
    // No inline policy on the state machine's role nor on the role EventBridge starts it with (NIST 800-53 / HIPAA).
    expect(Object.keys(canary.template.findResources('AWS::IAM::Policy')).filter((id) => id.startsWith('Rollout'))).toEqual([]);
    const trigger = Object.values(canary.template.findResources('AWS::Events::Rule'))
      .find((r: any) => r.Properties.EventPattern?.detail?.eventName?.[0] === 'PutParameter') as any;
    const triggerRole = canary.template.toJSON().Resources[trigger.Properties.Targets[0].RoleArn['Fn::GetAtt'][0]];
    const triggerPolicy = canary.template.toJSON().Resources[triggerRole.Properties.ManagedPolicyArns[0].Ref];
    expect(triggerPolicy.Properties.PolicyDocument.Statement).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: expect.stringMatching(/^RolloutStateMachine/) } },
    ]);
  });

  test('a later deploy renders the weights the state machine wrote (read from the served state), not the initial split', () => {
    const reader = canary.fleet.servedState!.readIn(canary.fleet);
    const parameter = Stack.of(canary.fleet).resolve(reader.templateParameter.logicalId);
    const listener = Object.values(canary.template.findResources('AWS::ElasticLoadBalancingV2::Listener', { Properties: { Port: 443 } }))[0] as any;
    const targetGroups = listener.Properties.DefaultActions[0].ForwardConfig.TargetGroups;
    const weights = (value: string) => evaluate(targetGroups.map((t: any) => t.Weight), { [parameter]: value });
    expect(weights('current=v1@90,candidate=v2@10').map(Number)).toEqual([90, 10]);
    // After step 2 and after a rollback: what the next deploy renders.
    expect(weights('current=v1@0,candidate=v2@100').map(Number)).toEqual([0, 100]);
    expect(weights('current=v1@100,candidate=v2@0').map(Number)).toEqual([100, 0]);
  });

  test('long names are shortened to Step Functions\' 80 characters, stably', () => {
    const name = fleetRolloutStateMachineName('a-very-long-project-name-prod', 'a-very-long-model-name-for-one-customer-in-one-region');
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^a-very-long-project-name-prod-a-very-long-model.*-[0-9a-f]{8}-rollout$/);
    expect(fleetRolloutStateMachineName('a-very-long-project-name-prod', 'a-very-long-model-name-for-one-customer-in-one-region')).toBe(name);
  });
});

describe('FleetRollout bad input', () => {
  test('a fleet without a served state is refused: a deploy would reset the weights', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Serving', { profile: EnvironmentProfile.dev(), project: 'fraud' });
    const rollout = Rollout.canary({ percent: 10, bake: Duration.minutes(5) });
    const fleet = new InferenceFleet(stack, 'Fleet', {
      vpc: new ec2.Vpc(stack, 'Vpc'),
      artifactStore: new ArtifactStore(stack, 'Store'),
      image: new ImageRepository(stack, 'Images'),
      imageTag: '1.0',
      modelName: 'fraud',
      modelVersion: 'v1',
      variantVersions: { candidate: 'v2' },
      rollout,
    });
    const monitoring = new MlopsMonitoring(stack, 'Monitoring');
    const alarms = monitoring.monitorServing('fraud', fleet);
    let n = 0;
    const add = () => new FleetRollout(stack, `Rollout${n++}`, { fleet, alarmTopic: monitoring.alarmTopic, alarms: [alarms.rolloutHealth] });
    expect(add).toThrow(ValidationError);
    expect(add).toThrow(/Serving\/Rollout1: 'fleet' .*has no servedState.*give the fleet a servedState/);
  });

  test('an all-at-once fleet and an empty alarm list are refused with the fix', () => {
    expect(() => build(Rollout.allAtOnce(), { variantVersions: {} })).toThrow(/'fleet' .*has a rollout with nothing to step.*give the fleet a canary, linear, blue\/green or A\/B rollout/);
    const built = build(Rollout.canary({ percent: 10, bake: Duration.minutes(5) }));
    const scope = built.fleet.node.scope!;
    expect(() => new FleetRollout(scope, 'NoAlarms', { fleet: built.fleet, alarmTopic: undefined as any, alarms: [] }))
      .toThrow(/'alarms' .*must list 1 to 100 alarms/);
  });
});

describe('MlopsPlatform fleet rollouts', () => {
  test('a stepped fleet gets its state machine in its own nested stack, named for promotion, its progress on the shard dashboard', () => {
    const profile = EnvironmentProfile.prod();
    const platform = new MlopsPlatform(newApp(), 'fraud-prod', {
      profile,
      ...certificateArnFor(profile),
      project: 'fraud',
      costCenter: 'ml-platform',
      env: { region: 'us-east-1' },
      teams: [{ name: 'risk', costCenter: 'cc-risk', gpuSharePercent: 100 }],
      experimentTracking: false,
      servedModels: [
        {
          name: 'fraud-detector',
          backend: ServingBackend.FLEET,
          modelVersion: 'v3',
          imageTag: 's1',
          variantVersions: { candidate: 'v4' },
          rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
        },
        { name: 'scorer', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 's1' },
        { name: 'recommender', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 's1' },
      ],
    });
    const rollout = platform.fleetRolloutOf('fraud-detector')!;
    expect(rollout.stateMachineName).toBe('fraud-prod-fraud-detector-rollout');
    expect(rollout.stateMachineName).toBe(fleetRolloutStateMachineName(platform.stackNamePrefix, 'fraud-detector'));
    expect(Stack.of(rollout)).toBe(Stack.of(platform.servedModel('fraud-detector')!));
    expect(rollout.plannedWeights).toEqual([[90, 10], [0, 100]]);
    // All at once and endpoints (SageMaker guardrails) have nothing to step.
    expect(platform.fleetRolloutOf('scorer')).toBeUndefined();
    expect(platform.fleetRolloutOf('recommender')).toBeUndefined();
    const dashboards = Template.fromStack(platform.servingStackOf('fraud-detector')!).findResources('AWS::CloudWatch::Dashboard');
    expect(JSON.stringify(dashboards)).toMatch(new RegExp(`${FLEET_ROLLOUT_METRIC.namespace}.{1,12}${FLEET_ROLLOUT_METRIC.metricName}.{1,12}Model.{1,12}fraud-detector`));
  });
});
