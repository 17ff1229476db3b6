import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { FakeAccount } from '../support/brake-fakes';
import { newApp } from '../support/gate';
import { IamWalk, RoleInfo } from '../support/iam-walk';
import { BRAKE, CostGuard, EnvironmentProfile, MlopsStack, OrganizationGpuBrake, OrganizationGpuBrakeProps } from 'mlops-constructs';

/**
 * The brake's state machines, as CostGuard deploys them (the synthesized definitions, references rendered
 * `{<stack>:<LogicalId>}`), executed offline against an in-memory account: what stops, what does not, and the way back.
 */
function brakeOf(profile: EnvironmentProfile) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Env', { profile, project: 'p' });
  const pipeline = new iam.Role(stack, 'Pipeline', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
  const persona = new iam.Role(stack, 'Persona', { assumedBy: new iam.AccountRootPrincipal() });
  const guard = new CostGuard(stack, 'Cost', { denyGpuFor: [pipeline, persona] });
  const json = Template.fromStack(stack).toJSON();
  const walk = new IamWalk([{ name: stack.stackName, json }]);
  const definition = (machine: { node: { defaultChild?: unknown } }) => {
    const id = stack.resolve((machine.node.defaultChild as any).logicalId);
    return JSON.parse(walk.render(stack.stackName, json.Resources[id].Properties.DefinitionString));
  };
  const ref = (c: { node: { defaultChild?: unknown } }) => `{${stack.stackName}:${stack.resolve((c.node.defaultChild as any).logicalId)}}`;
  return {
    stack,
    engage: definition(guard.brake.engageStateMachine),
    release: definition(guard.brake.releaseStateMachine),
    pipelineName: ref(pipeline),
    personaName: ref(persona),
    denyPolicy: ref(guard.brake.denyPolicy as any),
    guard,
  };
}

const THIS = { 'mlops:environment': 'prod', 'mlops:project': 'p' };

/** An account with 20 fleets (3 pages), training, endpoints and EKS node groups of this environment, and others that are not. */
function account(environment: string): FakeAccount {
  const tags = { ...THIS, 'mlops:environment': environment };
  const acct = new FakeAccount();
  for (let i = 0; i < 20; i++) acct.addFleet(`fleet-${i}`, { min: i % 3 === 0 ? 4 : 1, max: 10, desired: 5 }, tags);
  acct.addFleet('other-env', { min: 1, max: 10, desired: 5 }, { ...tags, 'mlops:environment': 'elsewhere' });
  acct.addFleet('other-project', { min: 1, max: 10, desired: 5 }, { ...tags, 'mlops:project': 'q' });
  acct.addCompute('spot', { min: 0, max: 64 }, tags);
  acct.addCompute('on-demand', { min: 2, max: 32 }, tags);
  acct.addCompute('untagged', { min: 0, max: 64 }, {});
  acct.addCompute('unmanaged', { min: 0, max: 64 }, tags, false);
  acct.addEndpoint('recs', [{ variant: 'current', min: 3, max: 8 }, { variant: 'candidate', min: 1, max: 4 }, 'unscaled'], tags);
  acct.addEndpoint('other', [{ variant: 'current', min: 1, max: 8 }], { ...tags, 'mlops:environment': 'elsewhere' });
  // An endpoint that scales to zero: its variant has no scalable target, its inference component's copies scale.
  acct.addEndpoint('churn', ['current'], tags, [{ component: 'churn', min: 1, max: 6 }]);
  // An endpoint still being created: DescribeEndpoint lists no variants yet.
  acct.addEndpoint('creating', [], tags);
  acct.addEndpoint('other-churn', ['current'], { ...tags, 'mlops:environment': 'elsewhere' }, [{ component: 'other-churn', min: 1, max: 6 }]);
  acct.addNodeGroup('eks', 'gpu-spot', { min: 0, max: 4, desired: 2 }, { 'nvidia.com/gpu.present': 'true' }, tags);
  acct.addNodeGroup('eks', 'system', { min: 2, max: 4, desired: 2 }, { 'mlops-constructs/node-group': 'system' }, tags);
  return acct;
}

type Snapshot = ReturnType<typeof snapshot>;
function snapshot(acct: FakeAccount) {
  return JSON.parse(JSON.stringify({
    fleets: [...acct.fleets.values()].map((f) => ({ ...f, suspended: [...f.suspended] })),
    computes: [...acct.computes.values()],
    targets: [...acct.targets.values()],
    endpoints: [...acct.endpoints.values()],
    nodeGroups: [...acct.nodeGroups.values()],
  }));
}

function expectUntouched(before: Snapshot, after: Snapshot, pick: (s: Snapshot) => any[], names: string[], key = 'name'): void {
  for (const name of names) {
    expect(pick(after).find((x) => x[key] === name)).toEqual(pick(before).find((x) => x[key] === name));
  }
}

describe('GPU brake, executed offline', () => {
  test('dev: engaging caps every GPU resource of the environment found by tags, denies the roles, and releasing restores all of it', async () => {
    const b = brakeOf(EnvironmentProfile.dev());
    const acct = account('dev');
    const before = snapshot(acct);
    await acct.run(b.engage);

    // Fleets (all 20, across pages): at the dev floor (the profile minimum, 0), desired too; scheduled scale-ups suspended; tagged.
    const floor = EnvironmentProfile.dev().minCapacity.inferenceInstances;
    for (let i = 0; i < 20; i++) {
      const f = acct.fleets.get(`fleet-${i}`)!;
      expect({ name: f.name, max: f.max, min: f.min, desired: f.desired }).toEqual({ name: f.name, max: floor, min: floor, desired: floor });
      expect([...f.suspended]).toEqual(['ScheduledActions']);
      expect(f.tags[BRAKE.tagKey]).toBe(BRAKE.engagedValue);
    }
    // Training: 0 vCPUs for the environment's managed compute environments.
    for (const name of ['spot', 'on-demand']) {
      const c = [...acct.computes.values()].find((x) => x.name === name)!;
      expect([c.min, c.max, c.tags[BRAKE.tagKey]]).toEqual([0, 0, BRAKE.engagedValue]);
    }
    // Endpoint variants: maximum at their minimum (or the floor), scheduled scaling suspended; the endpoint tagged.
    expect(acct.targets.get('endpoint/recs/variant/current')).toEqual(expect.objectContaining({ min: 3, max: 3, scheduledSuspended: true }));
    expect(acct.targets.get('endpoint/recs/variant/candidate')).toEqual(expect.objectContaining({ min: 1, max: Math.max(floor, 1), scheduledSuspended: true }));
    expect(acct.endpoints.get('recs')!.tags[BRAKE.tagKey]).toBe(BRAKE.engagedValue);
    // Inference components (endpoints that scale to zero): copies, and so instances, capped the same way.
    expect(acct.targets.get('inference-component/churn')).toEqual(expect.objectContaining({ min: 1, max: Math.max(floor, 1), scheduledSuspended: true }));
    expect(acct.endpoints.get('churn')!.tags[BRAKE.tagKey]).toBe(BRAKE.engagedValue);
    // ...and the component tagged, so the permission boundary denies updating it to every role but the brake's.
    expect(acct.endpoints.get('churn')!.components[0].tags[BRAKE.tagKey]).toBe(BRAKE.engagedValue);
    // EKS GPU node groups: no nodes, EKS's lowest maximum, tainted so that no pod lands on a new node.
    const gpu = [...acct.nodeGroups.values()].find((g) => g.name === 'gpu-spot')!;
    expect([gpu.min, gpu.max, gpu.desired]).toEqual([0, 1, 0]);
    expect(gpu.taints).toEqual([{ Key: BRAKE.eksTaint.key, Value: BRAKE.eksTaint.value, Effect: BRAKE.eksTaint.effect }]);
    // Roles: the deny policy attached to the pipeline and persona roles.
    expect(acct.attachedPolicies.get(b.pipelineName)).toEqual(new Set([b.denyPolicy]));
    expect(acct.attachedPolicies.get(b.personaName)).toEqual(new Set([b.denyPolicy]));
    // What is not this environment's, not GPU, or not scalable is untouched.
    const after = snapshot(acct);
    expectUntouched(before, after, (s) => s.fleets, ['other-env', 'other-project']);
    expectUntouched(before, after, (s) => s.computes, ['untagged', 'unmanaged']);
    expectUntouched(before, after, (s) => s.nodeGroups, ['system']);
    expectUntouched(before, after, (s) => s.targets, ['endpoint/other/variant/current', 'inference-component/other-churn'], 'resourceId');
    expect([...acct.parameters.values()][0]).toMatch(/^engaged \S+Z arn:aws:states:us-east-1:123456789012:execution:/);
    expect(acct.notifications.map((n) => n.subject)).toEqual(['GPU brake of p/dev engaged']);
    const ledgerSize = acct.ledger.size;
    // 20 fleets, 2 compute environments, 3 endpoints (recs, churn, creating) with 2 variants and 1 component, 1 node group.
    expect(ledgerSize).toBe(20 + 2 + 3 + 2 + 1 + 1);

    // A second engagement (a second alert) never overwrites the bounds the first one saved.
    await acct.run(b.engage);
    expect(acct.ledger.size).toBe(ledgerSize);
    expect(acct.ledger.get('fleet/fleet-0')!.Max).toEqual({ N: '10' });

    // Release: every bound back, tags and taint gone, schedules resumed, deny detached, ledger empty.
    await acct.run(b.release);
    const released = snapshot(acct);
    expect(released.fleets.map((f: any) => [f.name, f.min, f.max, f.suspended, f.tags[BRAKE.tagKey]]))
      .toEqual(before.fleets.map((f: any) => [f.name, f.min, f.max, [], undefined]));
    const bounds = (c: any) => [c.name, c.min, c.max, c.tags];
    expect(released.computes.map(bounds)).toEqual(before.computes.map(bounds));
    expect(released.targets).toEqual(before.targets);
    expect(released.endpoints).toEqual(before.endpoints);
    expect(released.nodeGroups).toEqual(before.nodeGroups);
    expect(acct.attachedPolicies.get(b.pipelineName)).toEqual(new Set());
    expect(acct.ledger.size).toBe(0);
    expect([...acct.parameters.values()][0]).toMatch(/^released /);
  });

  test('prod: nothing is capped without approval; approved, production keeps its promised minimum and only growth stops', async () => {
    const b = brakeOf(EnvironmentProfile.prod());
    const declined = account('prod');
    const before = snapshot(declined);
    await declined.run(b.engage, {}, { RequestApproval: () => { throw Object.assign(new Error('declined'), { name: 'Declined' }); } });
    expect(snapshot(declined)).toEqual(before);
    expect(declined.attachedPolicies.size).toBe(0);
    expect(declined.notifications.map((n) => n.subject)).toEqual(['GPU brake of p/prod not engaged']);

    const acct = account('prod');
    await acct.run(b.engage, {}, { RequestApproval: () => true });
    const floor = EnvironmentProfile.prod().minCapacity.inferenceInstances;
    for (let i = 0; i < 20; i++) {
      const f = acct.fleets.get(`fleet-${i}`)!;
      const kept = Math.max(before.fleets[i].min, floor);
      // Never below the group's own minimum; never above what it keeps.
      expect([f.name, f.min, f.max, f.desired]).toEqual([f.name, before.fleets[i].min, kept, Math.min(5, kept)]);
    }
    expect(acct.attachedPolicies.get(b.pipelineName)).toEqual(new Set([b.denyPolicy]));
  });

  test('a role deleted since it was denied, or one resource kind failing, does not stop the rest of the brake', async () => {
    const b = brakeOf(EnvironmentProfile.dev());
    const acct = account('dev');
    const engage = JSON.parse(JSON.stringify(b.engage));
    const roles = engage.States.Brake.Branches.find((x: any) => x.StartAt === 'DeniedRoles').States.DeniedRoles;
    roles.Result = ['deleted-role', ...roles.Result];
    await acct.run(engage, {}, {
      CapTraining: () => { throw Object.assign(new Error('no access'), { name: 'Batch.ClientException' }); },
    });
    expect(acct.fleets.get('fleet-1')!.max).toBe(0);
    expect(acct.attachedPolicies.get(b.pipelineName)).toEqual(new Set([b.denyPolicy]));
    expect(acct.notifications.map((n) => n.subject)).toEqual(['GPU brake of p/dev: training compute environments not capped', 'GPU brake of p/dev engaged']);
  });

  test('the deployed definitions use only SDK integrations and SNS, and never a Lambda function', () => {
    const b = brakeOf(EnvironmentProfile.prod());
    const resources = JSON.stringify([b.engage, b.release]).match(/"Resource":"[^"]+"/g)!;
    for (const r of resources) expect(r).toMatch(/arn:aws:states:::(aws-sdk:|sns:publish)/);
    expect(Stack.of(b.guard).resolve(b.guard.brake.automatic)).toBe(false);
  });
});

describe('OrganizationGpuBrake (the SCP form)', () => {
  function scp(props: Partial<OrganizationGpuBrakeProps> = {}) {
    const app = newApp();
    const stack = new Stack(app, 'Management');
    const brake = new OrganizationGpuBrake(stack, 'GpuBrake', { targetIds: ['ou-ab12-cdef3456'], exemptPrincipalArns: ['arn:aws:iam::*:role/break-glass'], ...props });
    const resource = Template.fromStack(stack).findResources('AWS::Organizations::Policy');
    const walkRole = (name: string, tags: Record<string, string> = {}): RoleInfo => ({
      id: name,
      template: 'x',
      logicalId: name,
      arn: `arn:aws:iam::123456789012:role/${name}`,
      name,
      tags,
      trust: [],
      identity: [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }],
      opaquePolicies: [],
      // The SCP caps like a boundary: an allow-all plus its denies.
      boundary: [{ Effect: 'Allow', Action: ['*'], Resource: ['*'] }, ...new IamWalk([]).statements('x', Object.values(resource)[0].Properties.Content)],
    });
    return { brake, resource: Object.values(resource)[0], walkRole };
  }
  const walk = new IamWalk([]);
  const braked = { 'aws:RequestedRegion': 'us-east-1', [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue };

  test('an administrator (or the deploy role) cannot raise braked capacity, untag it or detach the brake; the brake and break-glass can', () => {
    const { resource, walkRole } = scp();
    expect(resource.Properties).toEqual(expect.objectContaining({ Type: 'SERVICE_CONTROL_POLICY', TargetIds: ['ou-ab12-cdef3456'], Name: 'mlops-gpu-brake' }));
    const admin = walkRole('Admin');
    for (const action of ['autoscaling:UpdateAutoScalingGroup', 'batch:UpdateComputeEnvironment', 'sagemaker:UpdateEndpoint', 'eks:UpdateNodegroupConfig']) {
      expect([action, walk.allows(admin, action, '*', braked)]).toEqual([action, false]);
      expect([action, walk.allows(admin, action, '*', { 'aws:RequestedRegion': 'us-east-1' })]).toEqual([action, true]);
      expect(walk.allows(walkRole('break-glass'), action, '*', braked)).toBe(true);
      expect(walk.allows(walkRole('Brake', { [BRAKE.controllerTagKey]: 'true' }), action, '*', braked)).toBe(true);
    }
    expect(walk.allows(admin, 'autoscaling:DeleteTags', '*', { 'aws:TagKeys': [BRAKE.tagKey] })).toBe(false);
    expect(walk.allows(admin, 'iam:DetachRolePolicy', 'arn:aws:iam::123456789012:role/p', { 'iam:PolicyARN': `arn:aws:iam::123456789012:policy${BRAKE.policyPath}x` })).toBe(false);
    // Not engaged for the whole account: GPU launches stay allowed.
    expect(walk.allows(admin, 'ec2:RunInstances', 'arn:aws:ec2:us-east-1:123456789012:instance/*', { 'ec2:InstanceType': 'g5.xlarge' })).toBe(true);
  });

  test('denyAllGpuGrowth: no GPU growth or accelerated launch for anyone but the exempt', () => {
    const { walkRole } = scp({ denyAllGpuGrowth: true });
    const admin = walkRole('Admin');
    expect(walk.allows(admin, 'ec2:RunInstances', 'arn:aws:ec2:us-east-1:123456789012:instance/i-1', { 'ec2:InstanceType': 'g5.xlarge' })).toBe(false);
    expect(walk.allows(admin, 'ec2:RunInstances', 'arn:aws:ec2:us-east-1:123456789012:instance/i-1', { 'ec2:InstanceType': 'm7i.large' })).toBe(true);
    expect(walk.allows(admin, 'sagemaker:CreateEndpointConfig', '*', { 'sagemaker:InstanceTypes': ['ml.g5.xlarge'] })).toBe(false);
    expect(walk.allows(admin, 'autoscaling:SetDesiredCapacity', '*')).toBe(false);
    expect(walk.allows(walkRole('break-glass'), 'autoscaling:SetDesiredCapacity', '*')).toBe(true);
  });

  test('bad input names the prop and the fix', () => {
    expect(() => scp({ targetIds: [] })).toThrow(/'targetIds' must name at least one account, organizational unit or root.*Fix: give the OU/);
    expect(() => scp({ targetIds: ['my-ou'] })).toThrow(/'targetIds\[0\]'.*\(received "my-ou"\)/);
    expect(() => scp({ exemptPrincipalArns: ['break-glass'] })).toThrow(/'exemptPrincipalArns\[0\]'.*\(received "break-glass"\)/);
  });
});
