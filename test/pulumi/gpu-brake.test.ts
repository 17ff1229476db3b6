import { ACCOUNT, installMocks, mockArn, one, RecordedResource, REGION, resourcesOf } from './support';
import { FakeAccount, taskStates } from '../support/brake-fakes';
import { IamWalk, RoleInfo } from '../support/iam-walk';
import { BRAKE, EnvironmentProfile, MlopsTags } from 'mlops-constructs';
import { CostGuard } from 'mlops-constructs/pulumi';

/*
 * The Pulumi CostGuard's GPU brake: the state machine definitions as the Pulumi program renders them (the inputs of
 * the aws.sfn.StateMachine resources) executed offline against an in-memory account; the path from the budget to the
 * engage state machine; and the brake role allowed every call the definitions make, on this environment only.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const TYPES = {
  machine: 'aws:sfn/stateMachine:StateMachine', policy: 'aws:iam/policy:Policy', topic: 'aws:sns/topic:Topic', queue: 'aws:sqs/queue:Queue',
};

let built: Record<'dev' | 'prod', { resources: RecordedResource[]; engage: Json; release: Json; denyPolicyArn: string }>;

beforeAll(async () => {
  const build = async (name: string, profile: EnvironmentProfile) => {
    const guard = new CostGuard(name, {
      profile, tags: MlopsTags.of({ project: 'p', environment: profile.name }), denyGpuFor: [{ name: 'pipeline', arn: `arn:aws:iam::${ACCOUNT}:role/pipeline` }],
    });
    // Roles added after the guard exists are denied too (the definitions are rendered once the program's synchronous part is done).
    guard.denyGpuFor({ name: 'persona', arn: `arn:aws:iam::${ACCOUNT}:role/persona` });
    const resources = await resourcesOf(name);
    const definition = (suffix: string) => JSON.parse(one(resources, TYPES.machine, suffix).inputs.definition);
    return { resources, engage: definition('brake-engage'), release: definition('brake-release'), denyPolicyArn: mockArn(TYPES.policy, `${name}-brake-deny`) };
  };
  built = { dev: await build('bkd', EnvironmentProfile.dev()), prod: await build('bkp', EnvironmentProfile.prod()) };
});

const THIS = { 'mlops:environment': 'dev', 'mlops:project': 'p' };

function account(environment: string): FakeAccount {
  const tags = { ...THIS, 'mlops:environment': environment };
  const acct = new FakeAccount();
  for (let i = 0; i < 9; i++) acct.addFleet(`fleet-${i}`, { min: i % 3 === 0 ? 2 : 1, max: 10, desired: 5 }, tags);
  acct.addFleet('other-env', { min: 1, max: 10, desired: 5 }, { ...tags, 'mlops:environment': 'elsewhere' });
  acct.addCompute('spot', { min: 0, max: 64 }, tags);
  acct.addCompute('untagged', { min: 0, max: 64 }, {});
  acct.addEndpoint('recs', [{ variant: 'current', min: 3, max: 8 }], tags);
  acct.addNodeGroup('eks', 'gpu', { min: 0, max: 4, desired: 2 }, { 'nvidia.com/gpu.present': 'true' }, tags);
  return acct;
}

const bounds = (acct: FakeAccount) => JSON.parse(JSON.stringify({
  // A fleet's desired capacity is its scaling policies' after release (the brake restores bounds).
  fleets: [...acct.fleets.values()].map((f) => [f.name, f.min, f.max, [...f.suspended], f.tags[BRAKE.tagKey] ?? null]),
  computes: [...acct.computes.values()].map((c) => [c.name, c.min, c.max, c.tags[BRAKE.tagKey] ?? null]),
  targets: [...acct.targets.values()],
  nodeGroups: [...acct.nodeGroups.values()].map((g) => [g.name, g.min, g.max, g.desired, g.taints]),
}));

describe('Pulumi GPU brake, the deployed definitions executed offline', () => {
  test('dev: engaging caps the environment\'s fleets, training, endpoints and GPU node groups and denies the roles; releasing restores all of it', async () => {
    const b = built.dev;
    const acct = account('dev');
    const before = bounds(acct);
    await acct.run(b.engage);
    for (let i = 0; i < 9; i++) {
      const f = acct.fleets.get(`fleet-${i}`)!;
      expect([f.name, f.min, f.max, f.desired, [...f.suspended], f.tags[BRAKE.tagKey]]).toEqual([f.name, 0, 0, 0, ['ScheduledActions'], BRAKE.engagedValue]);
    }
    expect(acct.fleets.get('other-env')).toEqual(expect.objectContaining({ min: 1, max: 10, desired: 5 }));
    const compute = (name: string) => [...acct.computes.values()].find((c) => c.name === name)!;
    expect([compute('spot').max, compute('untagged').max]).toEqual([0, 64]);
    expect(acct.targets.get('endpoint/recs/variant/current')).toEqual(expect.objectContaining({ min: 3, max: 3, scheduledSuspended: true }));
    const gpu = [...acct.nodeGroups.values()][0];
    expect([gpu.min, gpu.max, gpu.desired, gpu.taints.map((t) => t.Key)]).toEqual([0, 1, 0, [BRAKE.eksTaint.key]]);
    expect(acct.attachedPolicies.get('pipeline')).toEqual(new Set([b.denyPolicyArn]));
    expect(acct.attachedPolicies.get('persona')).toEqual(new Set([b.denyPolicyArn]));
    expect([...acct.parameters.keys()]).toEqual(['/mlops/p-dev/brake']);
    expect([...acct.parameters.values()][0]).toMatch(/^engaged /);
    expect(acct.notifications.map((n) => n.subject)).toEqual(['GPU brake of p/dev engaged']);

    await acct.run(b.release);
    expect(bounds(acct)).toEqual(before);
    expect([acct.attachedPolicies.get('pipeline'), acct.attachedPolicies.get('persona')]).toEqual([new Set(), new Set()]);
    expect(acct.ledger.size).toBe(0);
    expect([...acct.parameters.values()][0]).toMatch(/^released /);
  });

  test('prod: nothing is capped or denied without a person\'s approval; approved, fleets keep their own minimum', async () => {
    const b = built.prod;
    const declined = account('prod');
    const before = bounds(declined);
    await declined.run(b.engage, {}, { RequestApproval: () => { throw Object.assign(new Error('declined'), { name: 'Declined' }); } });
    expect(bounds(declined)).toEqual(before);
    expect(declined.attachedPolicies.size).toBe(0);

    const approved = account('prod');
    await approved.run(b.engage, {}, { RequestApproval: () => true });
    const floor = EnvironmentProfile.prod().minCapacity.inferenceInstances;
    for (let i = 0; i < 9; i++) {
      const f = approved.fleets.get(`fleet-${i}`)!;
      const own = i % 3 === 0 ? 2 : 1;
      expect([f.name, f.min, f.max]).toEqual([f.name, own, Math.max(own, floor)]);
    }
    expect(approved.attachedPolicies.get('persona')).toEqual(new Set([b.denyPolicyArn]));
  });
});

describe('Pulumi GPU brake, wiring', () => {
  test('the budget\'s notification at the deny threshold goes to the brake\'s trigger topic, which reaches the engage state machine through SQS and the pipe', () => {
    const r = built.dev.resources;
    const trigger = mockArn(TYPES.topic, 'bkd-brake-trigger');
    const queue = mockArn(TYPES.queue, 'bkd-brake-trigger-queue');
    const engage = mockArn(TYPES.machine, 'bkd-brake-engage');
    const budget = one(r, 'aws:budgets/budget:Budget').inputs;
    expect(budget.notifications.map((n: Json) => [`${n.notificationType}:${n.threshold}`, n.subscriberSnsTopicArns])).toEqual([
      ['ACTUAL:50', [mockArn(TYPES.topic, 'bkd-alerts')]],
      ['ACTUAL:80', [mockArn(TYPES.topic, 'bkd-alerts')]],
      ['ACTUAL:100', [trigger]],
      ['FORECASTED:100', [mockArn(TYPES.topic, 'bkd-alerts')]],
    ]);
    // Budgets may publish to the trigger topic (and use its key).
    const topicPolicy = JSON.parse(one(r, 'aws:sns/topicPolicy:TopicPolicy', 'brake-trigger-policy').inputs.policy).Statement;
    expect(topicPolicy[0]).toMatchObject({ Effect: 'Allow', Principal: { Service: 'budgets.amazonaws.com' }, Action: 'sns:Publish', Resource: trigger });
    const key = JSON.parse(one(r, 'aws:kms/key:Key', 'brake-key').inputs.policy).Statement;
    expect(key.find((s: Json) => s.Principal?.Service === 'budgets.amazonaws.com').Action).toContain('kms:GenerateDataKey*');
    // Topic → queue (which admits that topic) → pipe → engage.
    expect(one(r, 'aws:sns/topicSubscription:TopicSubscription', 'brake-trigger-subscription').inputs).toMatchObject({ topic: trigger, protocol: 'sqs', endpoint: queue });
    const queuePolicy = JSON.parse(one(r, 'aws:sqs/queuePolicy:QueuePolicy', 'brake-trigger-queue-policy').inputs.policy).Statement;
    expect(queuePolicy[0]).toMatchObject({ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queue, Condition: { ArnEquals: { 'aws:SourceArn': trigger } } });
    const pipe = one(r, 'aws:pipes/pipe:Pipe').inputs;
    expect(pipe).toMatchObject({ source: queue, target: engage, roleArn: mockArn('aws:iam/role:Role', 'bkd-brake-pipe-role') });
    const pipeGrants = JSON.parse(one(r, TYPES.policy, 'brake-pipe-role-policy').inputs.policy).Statement;
    expect(pipeGrants).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'states:StartExecution', Resource: engage }),
      expect.objectContaining({ Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']), Resource: queue }),
    ]));
    expect(JSON.parse(one(r, TYPES.queue, 'trigger-queue').inputs.redrivePolicy).deadLetterTargetArn).toBe(mockArn(TYPES.queue, 'bkd-brake-trigger-dead-letters'));
    // Automatic in dev, a person's approval elsewhere.
    expect([built.dev.engage.StartAt, built.prod.engage.StartAt]).toEqual(['MarkEngaged', 'RequestApproval']);
    expect(ofBudgetActions(r)).toEqual([]);
  });

  test('the brake role may make every call of both definitions, on this environment\'s resources only; it is the tagged controller', () => {
    for (const [name, b] of [['bkd', built.dev], ['bkp', built.prod]] as const) {
      const r = b.resources;
      const roleInputs = one(r, 'aws:iam/role:Role', 'brake-role').inputs;
      expect(roleInputs.tags[BRAKE.controllerTagKey]).toBe('true');
      const walk = new IamWalk([]);
      const role: RoleInfo = {
        id: name,
        template: 'x',
        logicalId: name,
        arn: mockArn('aws:iam/role:Role', `${name}-brake-role`),
        name,
        tags: roleInputs.tags,
        trust: [],
        identity: walk.statements('x', JSON.parse(one(r, TYPES.policy, 'brake-role-policy').inputs.policy)),
        opaquePolicies: [],
      };
      const environment = name === 'bkd' ? 'dev' : 'prod';
      const here = { 'aws:ResourceTag/mlops:environment': environment, 'aws:ResourceTag/mlops:project': 'p' };
      const elsewhere = { ...here, 'aws:ResourceTag/mlops:environment': 'elsewhere' };
      const resourceOf: Record<string, string> = {
        'autoscaling': `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:0abc:autoScalingGroupName/fleet-1`,
        'batch': `arn:aws:batch:${REGION}:${ACCOUNT}:compute-environment/spot`,
        'sagemaker': `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/recs`,
        'eks': `arn:aws:eks:${REGION}:${ACCOUNT}:nodegroup/eks/gpu/0abc`,
        'application-autoscaling': `arn:aws:application-autoscaling:${REGION}:${ACCOUNT}:scalable-target/0abc`,
        'dynamodb': mockArn('aws:dynamodb/table:Table', `${name}-brake-ledger`),
        'ssm': mockArn('aws:ssm/parameter:Parameter', `${name}-brake-state`),
        'sns': mockArn(TYPES.topic, `${name}-alerts`),
        'iam': `arn:aws:iam::${ACCOUNT}:role/pipeline`,
      };
      const calls = new Set<string>();
      for (const [, state] of [...taskStates(b.engage), ...taskStates(b.release)]) {
        const [, service, api] = /^arn:aws:states:::(?:aws-sdk:)?([a-z]+):([a-zA-Z]+)/.exec(state.Resource)!;
        const iamService = ({ applicationautoscaling: 'application-autoscaling', resourcegroupstaggingapi: 'tag' } as Record<string, string>)[service] ?? service;
        calls.add(`${iamService}:${api[0].toUpperCase()}${api.slice(1)}`);
      }
      expect(calls.size).toBeGreaterThan(20);
      for (const action of calls) {
        const service = action.split(':')[0];
        const readOnly = /:(Describe|Get|Scan)/.test(action) && !['sagemaker', 'eks', 'dynamodb'].includes(service);
        const resource = readOnly ? '*' : resourceOf[service];
        const context = { ...here, 'iam:PolicyARN': b.denyPolicyArn };
        expect([action, walk.allows(role, action, resource, context)]).toEqual([action, true]);
        // Writes to what carries another environment's tags, or another policy attached, are not allowed.
        if (/^(autoscaling|batch|eks|sagemaker):(Update|Suspend|Resume|Create|Delete|Tag|Untag|Add)/.test(action)) {
          expect([action, walk.allows(role, action, resource, elsewhere)]).toEqual([action, false]);
        }
        if (service === 'iam') {
          expect(walk.allows(role, action, resource, { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' })).toBe(false);
        }
      }
    }
  });
});

function ofBudgetActions(resources: RecordedResource[]): RecordedResource[] {
  return resources.filter((x) => x.type === 'aws:budgets/budgetAction:BudgetAction');
}
