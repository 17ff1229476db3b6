import { App } from 'aws-cdk-lib';
import { buildReferenceApp } from '../../examples/environments';
import { TEST_CERTIFICATE_ARN } from '../support/certificates';
import { newApp } from '../support/gate';
import { environmentTemplates, IamWalk, REGION, RoleInfo, Statement, wildcard } from '../support/iam-walk';
import { BRAKE, EnvironmentProfile, gpuGrowthActions, MlopsPlatform, ServingBackend } from 'mlops-constructs';

/**
 * The governance claims of issue #15, tested on what CloudFormation will create: every template of an environment
 * (data, platform and nested stacks), walked as IAM evaluates requests. Each claim failed on the templates before.
 */
function environment(build: (app: App) => void, artifactPrefix: string): IamWalk {
  const app = newApp();
  build(app);
  const outdir = app.synth().directory;
  return new IamWalk(environmentTemplates(outdir, [artifactPrefix]));
}

const ENVIRONMENTS: Array<[string, () => IamWalk]> = [
  ['reference app, prod', () => environment((app) => buildReferenceApp(app), 'mlopsprod')],
  ['reference app, dev', () => environment((app) => buildReferenceApp(app), 'mlopsdev')],
  ['a platform built with defaults and a replicated store (staging)', () => environment((app) => new MlopsPlatform(app, 'acme-staging', {
    profile: EnvironmentProfile.staging(),
    certificateArn: TEST_CERTIFICATE_ARN,
    project: 'acme',
    costCenter: 'cc',
    env: { region: REGION },
    servedModels: [
      { name: 'fleet-model', backend: ServingBackend.FLEET, modelVersion: 'v1', imageTag: 't1' },
      { name: 'endpoint-model', backend: ServingBackend.ENDPOINT, modelVersion: 'v1', imageTag: 't1' },
    ],
    artifactStore: { replication: { destinationRegion: 'eu-west-1', destinationKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/dr', destinationBucketNamePattern: 'dr-{purpose}' } },
  }), 'acmestaging')],
];

const isBrakeController = (role: RoleInfo) => role.tags[BRAKE.controllerTagKey] === 'true';
const IN_REGION = { 'aws:RequestedRegion': REGION };

describe.each(ENVIRONMENTS)('governance claims: %s', (_name, build) => {
  let walk: IamWalk;
  beforeAll(() => {
    walk = build();
  });

  test('every role the library creates, data stack included, carries the permission boundary, and the boundary is a cap', () => {
    expect(walk.roles.length).toBeGreaterThan(10);
    const unbounded = walk.roles.filter((r) => r.boundary === undefined || r.boundary.length === 0).map((r) => r.id);
    expect(unbounded).toEqual([]);
    // A cap: no statement of the boundary allows every action.
    for (const role of walk.roles) {
      const allowAll = role.boundary!.filter((s) => s.Effect === 'Allow' && (s.NotAction !== undefined || (s.Action ?? []).includes('*')));
      expect([role.id, allowAll]).toEqual([role.id, []]);
    }
  });

  test('the claims cover the store\'s replication role where the environment replicates its store', () => {
    const replication = walk.roles.filter((r) => /^ArtifactStoreReplicationRole/.test(r.logicalId));
    expect(replication.length).toBe(_name.includes('replicated store') ? 1 : 0);
  });

  test('no role can escalate: write policies or trust, attach policies, pass another environment\'s role, detach the brake', () => {
    const roleArn = 'arn:aws:iam::123456789012:role/someone-else';
    const denyPolicyArn = `arn:aws:iam::123456789012:policy${BRAKE.policyPath}deny`;
    for (const role of walk.roles) {
      const can = (action: string, resource = '*', context = {}) => walk.allows(role, action, resource, { ...IN_REGION, ...context });
      const escalations = [
        ['iam:PutRolePolicy', roleArn], ['iam:AttachRolePolicy', roleArn, { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' }],
        ['iam:UpdateAssumeRolePolicy', roleArn], ['iam:CreateRole', roleArn], ['iam:CreatePolicyVersion', '*'], ['iam:DeleteRolePermissionsBoundary', roleArn],
        ['iam:PassRole', roleArn], ['sts:AssumeRole', roleArn], ['iam:CreateAccessKey', '*'],
        ['cloudwatch:DisableAlarmActions', '*'], ['cloudwatch:SetAlarmState', '*'],
      ] as Array<[string, string, Record<string, string>?]>;
      for (const [action, resource, context] of escalations) {
        expect([role.id, action, can(action, resource, context)]).toEqual([role.id, action, false]);
      }
      if (!isBrakeController(role)) {
        expect([role.id, can('iam:DetachRolePolicy', roleArn, { 'iam:PolicyARN': denyPolicyArn })]).toEqual([role.id, false]);
      }
    }
  });

  test('who may start and abort a fleet rollout: the platform operator persona by hand, promotion and the fleet\'s deploy trigger; the operator starts no promotion', () => {
    const names: string[] = walk.resources('AWS::StepFunctions::StateMachine').map((m) => walk.render(m.template, m.properties.StateMachineName));
    const rollouts = names.filter((n) => n.endsWith('-rollout'));
    const promotion = names.find((n) => n.endsWith('-promotion'))!;
    const arn = (resource: string) => `arn:aws:states:${REGION}:123456789012:${resource}`;
    if (_name === 'reference app, prod') expect(rollouts.length).toBeGreaterThan(0);
    expect(promotion).toBeDefined();
    // (the EKS cluster role holds AmazonEKSClusterPolicy, which the walker cannot read and which grants nothing of Step Functions)
    const readable = walk.roles.filter((r) => !(r.opaquePolicies.length === 1 && r.opaquePolicies[0].endsWith('policy/AmazonEKSClusterPolicy')));
    const who = (action: string, resource: string) => readable.filter((r) => walk.allows(r, action, resource, IN_REGION)).map((r) => r.logicalId);
    for (const rollout of rollouts) {
      const starters = who('states:StartExecution', arn(`stateMachine:${rollout}`));
      expect([rollout, starters.filter((id) => !/PlatformOperator|ModelPromotionRole|RolloutTriggerRole/.test(id))]).toEqual([rollout, []]);
      expect([rollout, starters.some((id) => /PlatformOperator/.test(id)), starters.some((id) => /ModelPromotionRole/.test(id))]).toEqual([rollout, true, true]);
      const execution = arn(`execution:${rollout}:run-1`);
      expect([rollout, who('states:StopExecution', execution).filter((id) => !/PlatformOperator|ModelPromotionRole/.test(id))]).toEqual([rollout, []]);
      expect([rollout, who('states:StopExecution', execution).some((id) => /PlatformOperator/.test(id))]).toEqual([rollout, true]);
    }
    const operator = walk.roles.find((r) => /PlatformOperator/.test(r.logicalId))!;
    expect(walk.allows(operator, 'states:StartExecution', arn(`stateMachine:${promotion}`), IN_REGION)).toBe(false);
  });

  test('after the brake, no role can grow GPU capacity; no role can create GPU capacity at all', () => {
    // The roles the engage state machine attaches the deny policy to, and the deny policy itself.
    const machines = walk.resources('AWS::StepFunctions::StateMachine').filter((m) => /BrakeEngage/.test(m.logicalId));
    expect(machines).toHaveLength(1);
    const engage = JSON.parse(walk.render(machines[0].template, machines[0].properties.DefinitionString));
    const denied: string[] = engage.States.Brake.Branches.find((b: any) => b.StartAt === 'DeniedRoles').States.DeniedRoles.Result;
    const denyPolicy = walk.resources('AWS::IAM::ManagedPolicy').find((p) => p.properties.Path === BRAKE.policyPath)!;
    const denyStatements: Statement[] = walk.statements(denyPolicy.template, denyPolicy.properties.PolicyDocument);
    // Every role the brake denies exists in the environment (a typo'd name would deny nothing).
    for (const name of denied) expect(walk.roles.map((r) => r.name)).toContain(name);

    const braked = { ...IN_REGION, [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue };
    const creates = ['autoscaling:CreateAutoScalingGroup', 'batch:CreateComputeEnvironment', 'sagemaker:CreateEndpoint', 'eks:CreateNodegroup'];
    const failures: string[] = [];
    for (const role of walk.roles.filter((r) => !isBrakeController(r))) {
      const extra = denied.includes(role.name) ? denyStatements : [];
      for (const action of gpuGrowthActions()) {
        if (walk.allows(role, action, '*', braked, extra)) failures.push(`${role.id} ${action} on braked capacity`);
      }
      for (const action of creates) if (walk.allows(role, action, '*', IN_REGION)) failures.push(`${role.id} ${action}`);
      const gpuInstance = { ...IN_REGION, 'ec2:InstanceType': 'g5.xlarge' };
      if (walk.allows(role, 'ec2:RunInstances', 'arn:aws:ec2:us-east-1:123456789012:instance/*', gpuInstance)) failures.push(`${role.id} ec2:RunInstances`);
    }
    expect(failures).toEqual([]);
    // The roles that can launch or update GPU capacity by their own policies (pipelines, personas) are the ones denied.
    // Not the EKS control plane's role (AmazonEKSClusterPolicy may update Auto Scaling groups): denying it would break the
    // cluster; it is bounded (the first claim: nothing braked) and node groups are capped through the EKS API.
    const eksControlPlane = (r: RoleInfo) => JSON.stringify(r.trust).includes('"eks.amazonaws.com"');
    const updaters = walk.roles.filter((r) => !isBrakeController(r) && !eksControlPlane(r)
      && ['sagemaker:UpdateEndpoint', 'batch:SubmitJob', 'autoscaling:UpdateAutoScalingGroup'].some((a) => walk.allows(r, a, '*', IN_REGION)));
    for (const role of updaters) expect([role.id, denied.includes(role.name)]).toEqual([role.id, true]);
  });

  test('a model pipeline submits only its own job definitions, never another team\'s', () => {
    const pipelines = walk.roles.filter((r) => /PipelineRole/.test(r.logicalId));
    if (pipelines.length === 0) return;
    for (const role of pipelines) {
      const other = 'arn:aws:batch:us-east-1:123456789012:job-definition/other-team-train:1';
      expect([role.id, walk.allows(role, 'batch:SubmitJob', other, IN_REGION)]).toEqual([role.id, false]);
      const deny = role.identity.find((s) => s.Sid === 'SubmitOnlyThisPipelinesJobs')!;
      const jobDefinitions = walk.resources('AWS::Batch::JobDefinition').map((j) => `{${j.template}:${j.logicalId}}`);
      expect(deny.NotResource!.filter((r) => r.includes('JobDefinition') || jobDefinitions.includes(r))).toHaveLength(3);
    }
  });

  test('the brake finds every GPU capacity resource: each carries the environment tags its listings filter on', () => {
    const tagsOf = (tags: unknown, template: string): Record<string, string> => (Array.isArray(tags)
      ? Object.fromEntries(tags.map((t: any) => [t.Key, walk.render(template, t.Value)]))
      : Object.fromEntries(Object.entries((tags ?? {}) as Record<string, unknown>).map(([k, v]) => [k, walk.render(template, v)])));
    const capacity = ['AWS::AutoScaling::AutoScalingGroup', 'AWS::Batch::ComputeEnvironment', 'AWS::SageMaker::Endpoint', 'AWS::EKS::Nodegroup']
      .flatMap((type) => walk.resources(type).map((r) => ({ type, ...r })));
    expect(capacity.length).toBeGreaterThan(0);
    const environments = new Set<string>();
    for (const r of capacity) {
      const tags = tagsOf(r.properties.Tags, r.template);
      expect([r.type, r.logicalId, typeof tags['mlops:environment'], typeof tags['mlops:project']])
        .toEqual([r.type, r.logicalId, 'string', 'string']);
      environments.add(`${tags['mlops:project']}/${tags['mlops:environment']}`);
    }
    // One environment per walk: the brake's filters (project and environment) match all of it.
    expect(environments.size).toBe(1);
    // Scheduled scale-ups are Auto Scaling scheduled actions of those groups, which the brake suspends.
    for (const action of walk.resources('AWS::AutoScaling::ScheduledAction')) {
      const group = walk.render(action.template, action.properties.AutoScalingGroupName);
      expect(capacity.some((c) => `{${c.template}:${c.logicalId}}` === group)).toBe(true);
    }
  });

  test('the boundary lets the brake do everything its state machines call (a cap that stopped the brake would stop nothing)', () => {
    const brake = walk.roles.filter(isBrakeController).filter((r) => r.trust.some((t) => JSON.stringify(t.Principal).includes('states.amazonaws.com')));
    expect(brake).toHaveLength(1);
    const role = brake[0];
    const machines = walk.resources('AWS::StepFunctions::StateMachine').filter((m) => /Brake(Engage|Release)/.test(m.logicalId));
    const definitions = machines.map((m) => walk.render(m.template, m.properties.DefinitionString)).join('\n');
    const service: Record<string, string> = { resourcegroupstaggingapi: 'tag', applicationautoscaling: 'application-autoscaling' };
    const actions = [...new Set([...definitions.matchAll(/arn:aws:states:::aws-sdk:([a-z]+):(\w+)/g)]
      .map(([, svc, api]) => `${service[svc] ?? svc}:${api.charAt(0).toUpperCase()}${api.slice(1)}`))];
    expect(actions.length).toBeGreaterThan(15);
    const failures: string[] = [];
    for (const action of [...actions, 'sns:Publish']) {
      // The brake's own policy grants it with a resource and conditions: satisfy those, then ask the boundary too.
      const grant = role.identity.find((st) => st.Effect === 'Allow' && (st.Action ?? []).some((a) => wildcard(a, action, true)));
      if (!grant) {
        failures.push(`${action}: not granted`);
        continue;
      }
      const resource = (grant.Resource ?? ['*'])[0].replace(/\*/g, 'x');
      const context: Record<string, string> = { ...IN_REGION, [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue };
      for (const byKey of Object.values(grant.Condition ?? {})) {
        for (const [key, value] of Object.entries(byKey)) context[key] = String([value].flat()[0]).replace(/\*/g, 'x');
      }
      if (action.startsWith('iam:')) {
        // The grant names the deny policy by reference; the boundary by its path (/mlops-brake/), which the policy has.
        const denyPolicy = walk.resources('AWS::IAM::ManagedPolicy').find((mp) => `{${mp.template}:${mp.logicalId}}` === context['iam:PolicyARN']);
        expect(denyPolicy?.properties.Path).toBe(BRAKE.policyPath);
        const boundaryOnly = { ...role, identity: [{ Effect: 'Allow' as const, Action: ['*'], Resource: ['*'] }], opaquePolicies: [] };
        const policyArn = `arn:aws:iam::123456789012:policy${BRAKE.policyPath}${denyPolicy?.logicalId}`;
        if (!walk.allows(boundaryOnly, action, resource, { ...context, 'iam:PolicyARN': policyArn })) failures.push(`${action} (boundary)`);
      } else if (!walk.allows(role, action, resource, context)) {
        failures.push(`${action} on ${resource}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test('no persona gets through Kubernetes what its IAM role forbids (access entries x namespaces x Pod Identity roles)', () => {
    const entries = walk.resources('AWS::EKS::AccessEntry');
    const associations = walk.resources('AWS::EKS::PodIdentityAssociation');
    if (entries.length === 0) return;
    expect(associations.length).toBeGreaterThan(0);
    // Access policies that let a principal create pods (and so run them as any service account of the namespace).
    const runsPods = (policyArn: string) => /AmazonEKS(ClusterAdmin|Admin|Edit)Policy$/.test(policyArn);
    const failures: string[] = [];
    let checked = 0;
    for (const entry of entries) {
      const principal = walk.render(entry.template, entry.properties.PrincipalArn);
      const persona = walk.roles.find((r) => r.arn === principal);
      expect(persona).toBeDefined();
      for (const policy of entry.properties.AccessPolicies ?? []) {
        if (!runsPods(walk.render(entry.template, policy.PolicyArn))) continue;
        const scope = policy.AccessScope;
        for (const association of associations) {
          const namespace = association.properties.Namespace;
          if (scope.Type === 'namespace' && !scope.Namespaces.includes(namespace)) continue;
          const podRole = walk.roles.find((r) => r.arn === walk.render(association.template, association.properties.RoleArn))!;
          for (const st of podRole.identity.filter((x) => x.Effect === 'Allow')) {
            for (const action of st.Action ?? []) {
              for (const resource of st.Resource ?? []) {
                checked++;
                // The request the pod could make: within the service account role's own conditions.
                const context: Record<string, string> = { ...IN_REGION };
                for (const byKey of Object.values(st.Condition ?? {})) {
                  for (const [key, value] of Object.entries(byKey)) context[key] = String([value].flat()[0]).replace(/\*/g, 'x');
                }
                if (!walk.allows(persona!, action, resource, context)) failures.push(`${persona!.logicalId} -> ${namespace}/${association.properties.ServiceAccount}: ${action} ${resource}`);
              }
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });

  test('KMS: no key policy lets any principal use a key through a service; every CreateGrant is for AWS resources only', () => {
    const failures: string[] = [];
    for (const key of walk.resources('AWS::KMS::Key')) {
      // Whatever the allows say (the account's administrators have kms:*), nobody creates a grant on the key except for
      // an AWS resource or as an AWS service (CT.KMS.PR.3): a deny to every principal.
      const denied = walk.statements(key.template, key.properties.KeyPolicy).some((s) => s.Effect === 'Deny'
        && JSON.stringify(s.Principal) === '{"AWS":"*"}' && (s.Action ?? []).includes('kms:CreateGrant')
        && s.Condition?.BoolIfExists?.['kms:GrantIsForAWSResource'] === 'false' && s.Condition?.BoolIfExists?.['aws:PrincipalIsAWSService'] === 'false');
      if (!denied) failures.push(`${key.logicalId} lets principals create grants that are not for AWS resources`);
      for (const s of walk.statements(key.template, key.properties.KeyPolicy)) {
        const principal = JSON.stringify(s.Principal);
        if (s.Effect === 'Allow' && (principal === '"*"' || principal === '{"AWS":"*"}')) failures.push(`${key.logicalId} ${s.Sid} allows principal *`);
        if (s.Effect === 'Allow' && (s.Action ?? []).some((a) => /^kms:(CreateGrant|\*)$/.test(a)) && !/root/.test(principal ?? '')) {
          if (s.Condition?.Bool?.['kms:GrantIsForAWSResource'] !== 'true') failures.push(`${key.logicalId} ${s.Sid} CreateGrant without GrantIsForAWSResource`);
        }
      }
    }
    for (const role of walk.roles) {
      for (const s of role.identity) {
        if (s.Effect === 'Allow' && (s.Action ?? []).some((a) => /^kms:(CreateGrant|\*)$/.test(a)) && s.Condition?.Bool?.['kms:GrantIsForAWSResource'] !== 'true') {
          failures.push(`${role.id} ${s.Sid ?? ''} CreateGrant without GrantIsForAWSResource`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  test('Batch job containers cannot reach the instance role (metadata hop limit 1); the S3 endpoint admits only the account\'s buckets', () => {
    const batchTemplates = walk.resources('AWS::EC2::LaunchTemplate').filter((t) => /TrainingCluster/.test(t.logicalId));
    expect(batchTemplates.length).toBeGreaterThan(0);
    for (const t of batchTemplates) expect(t.properties.LaunchTemplateData.MetadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    const endpoints = walk.resources('AWS::EC2::VPCEndpoint').filter((e) => JSON.stringify(e.properties.ServiceName).includes('.s3'));
    expect(endpoints).toHaveLength(1);
    const statements = walk.statements(endpoints[0].template, endpoints[0].properties.PolicyDocument);
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      const scoped = s.Condition?.StringEquals?.['aws:ResourceAccount'] !== undefined || (s.Resource ?? []).every((r) => r !== '*');
      expect([s.Sid, scoped]).toEqual([s.Sid, true]);
    }
  });
});
