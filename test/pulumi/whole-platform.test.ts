import { ACCOUNT, errorOf, installMocks, MLFLOW_IMAGE, mockArn, ofType, one, REGION, resourcesOf, setParameterValue } from './support';
import { runBootScript } from '../support/boot-script';
import { newApp } from '../support/gate';
import { IamWalk, RoleInfo } from '../support/iam-walk';
import { allStates } from '../support/state-machines';
import * as cdk from 'mlops-constructs';
import { BRAKE, EnvironmentProfile, Rollout, ValidationError } from 'mlops-constructs';
import { CostGuard, InferenceFleet, MlopsGovernance, MlopsPlatform, ModelEndpoint } from 'mlops-constructs/pulumi';

installMocks();

const network = { vpcId: 'vpc-1', vpcCidrBlock: '10.0.0.0/16', privateSubnetIds: ['subnet-p1', 'subnet-p2'], isolatedSubnetIds: ['subnet-i1', 'subnet-i2'] };
const teams = [
  { name: 'fraud', costCenter: 'risk-ml', gpuSharePercent: 60, monthlyBudgetUsd: 500 },
  { name: 'recs', costCenter: 'growth-ml', gpuSharePercent: 40 },
];
const bake = { toSeconds: () => 1800 };
const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/wildcard-internal';

describe('Pulumi MlopsPlatform composing the whole platform', () => {
  let platform: MlopsPlatform;
  let resources: Awaited<ReturnType<typeof resourcesOf>>;
  beforeAll(async () => {
    // Since the program was written, promotion served fraud v5 (its rollout moved 40% so far) and recs v8.
    setParameterValue('/mlops/acme-prod/served/fraud', 'current=v4@60,candidate=v5@40');
    setParameterValue('/mlops/acme-prod/served/recs', 'current=v8@100');
    platform = new MlopsPlatform('whole', {
      profile: EnvironmentProfile.prod(),
      project: 'acme',
      costCenter: 'ml-platform',
      network,
      teams,
      modelFamilies: ['fraud', 'recs'],
      servedModels: [
        { name: 'fraud', backend: 'fleet', modelVersion: 'v3', imageTag: 'serve-1', team: 'fraud', rollout: Rollout.canary({ percent: 10, bake }), variantVersions: { candidate: 'v4' } },
        { name: 'recs', backend: 'endpoint', modelVersion: 'v7', imageTag: 'serve-2', team: 'recs' },
      ],
      notifyEmails: ['ops@example.com'],
      certificateArn,
      trackingImage: MLFLOW_IMAGE,
      artifactStore: { replication: { destinationRegion: 'eu-west-1', destinationKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/dr', destinationBucketNamePattern: 'dr-{purpose}' } },
    });
    resources = await resourcesOf('whole');
  });

  test('GIVEN served models of both backends WHEN built THEN each is served from the serving images, monitored, and priced', () => {
    expect(platform.servedModels.fraud).toBeInstanceOf(InferenceFleet);
    expect(platform.servedModels.recs).toBeInstanceOf(ModelEndpoint);
    const serving = platform.servingImages.repositoryUrl;
    expect(serving).toBeDefined();
    // The fleet's canary: two groups, 90/10 on the listener.
    expect(ofType(resources, 'aws:autoscaling/group:Group').map((g) => g.name).sort()).toEqual(['whole-model-fraud-candidate-asg', 'whole-model-fraud-current-asg']);
    // Serving alarms of both, in the backend's unit (prod p99 500 ms: 0.5 s on the ALB, 500000 µs on SageMaker).
    const alarm = (id: string) => ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').find((a) => a.name === `whole-monitoring-${id}`)!.inputs;
    expect(alarm('Latency-fraud').threshold).toBeCloseTo(0.5);
    expect(alarm('Latency-recs').threshold).toBe(500_000);
    expect(ofType(resources, 'aws:cloudwatch/compositeAlarm:CompositeAlarm')).toHaveLength(2);
    // Training and registry alarms too.
    expect(ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').some((a) => a.name.startsWith('whole-monitoring-FailedJobs'))).toBe(true);
    expect(ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').some((a) => a.name.startsWith('whole-monitoring-RegistryCpu'))).toBe(true);
    expect(Object.keys(platform.costGuard.estimatedMonthlyCost.pieces)).toEqual(expect.arrayContaining(['model fraud', 'model recs', 'model registry']));
    expect(platform.estimatedMonthlyCost.maxUsd).toBeGreaterThan(platform.servedModels.recs.spec.costEstimate.maxUsd);
  });

  test('GIVEN a fleet stepped by its rollout WHEN built THEN its dashboard graphs the rollout\'s progress beside p99 latency and the 5xx rate, as the CDK platform\'s serving dashboard does; the endpoint\'s graph has no progress', () => {
    const widgets = (model: string) => JSON.parse(one(resources, 'aws:cloudwatch/dashboard:Dashboard', `whole-monitoring-${model}-dashboard`).inputs.dashboardBody).widgets;
    const [graph] = widgets('fraud');
    expect(graph).toMatchObject({ type: 'metric', width: 8, height: 6, x: 0, y: 0 });
    expect(graph.properties.title).toBe('fraud: p99 latency (s), 5xx % and rollout %');
    expect(graph.properties.yAxis).toEqual({ right: { min: 0, max: 100, showUnits: false } });
    const rows: unknown[][] = graph.properties.metrics;
    // The candidate's share of traffic the rollout state machine records (the metric its role may put), right axis.
    expect(rows.filter((row) => row[0] === 'MLOps/Rollouts')).toEqual([
      ['MLOps/Rollouts', 'CandidateTrafficPercent', 'Model', 'fraud', { label: 'fraud rollout %', yAxis: 'right', period: 60, stat: 'Maximum' }],
    ]);
    expect(rows[0].slice(0, 2)).toEqual(['AWS/ApplicationELB', 'TargetResponseTime']);
    expect(rows.find((row) => (row[0] as { expression?: string }).expression)).toEqual([expect.objectContaining({ expression: '100 * FILL(errors, 0) / requests', yAxis: 'right' })]);
    // Every served model gets that graph (core's servingGraphSpec), and its rollout health status, as on a CDK serving dashboard.
    expect(widgets('recs')[0].properties.title).toBe('recs: p99 latency (µs), 5xx % and rollout %');
    expect(JSON.stringify(widgets('recs'))).not.toContain('MLOps/Rollouts');
    for (const model of ['fraud', 'recs']) {
      expect(widgets(model).filter((w: { type: string }) => w.type === 'alarm').map((w: { properties: unknown }) => w.properties)).toEqual([
        { title: `${model}: rollout health`, alarms: [mockArn('aws:cloudwatch/compositeAlarm:CompositeAlarm', `whole-monitoring-RolloutHealth-${model}`)], sortBy: 'stateUpdatedTimestamp' },
      ]);
    }
  });

  test('GIVEN served models WHEN built THEN their alarms are on their own dashboards: the environment dashboard does not grow with the models (CloudWatch takes 500 widgets)', () => {
    const body = one(resources, 'aws:cloudwatch/dashboard:Dashboard', 'whole-monitoring-dashboard').inputs.dashboardBody;
    // The training and registry alarms are there; no served model's.
    expect(body).toContain('a training job failed');
    expect(body).toContain('CPU above 80%');
    expect(body).not.toMatch(/fraud|recs/);
    const fraud = one(resources, 'aws:cloudwatch/dashboard:Dashboard', 'whole-monitoring-fraud-dashboard').inputs.dashboardBody;
    for (const alarm of ['Latency-fraud', 'Errors-fraud', 'GpuUnderused-fraud']) {
      expect(fraud).toContain(mockArn('aws:cloudwatch/metricAlarm:MetricAlarm', `whole-monitoring-${alarm}`));
    }
  });

  test('GIVEN promotions since the program was written WHEN pulumi up runs THEN the served models serve the served states\' versions and weights, not the program\'s (claim 3)', () => {
    const fraudState = mockArn('aws:ssm/parameter:Parameter', 'whole-served-fraud');
    // The fleet's listener: the rollout state machine's 60/40, not the program's 90/10.
    const listener = one(resources, 'aws:lb/listener:Listener', 'whole-model-fraud-listener').inputs;
    expect(listener.defaultActions[0].forward.targetGroups.map((g: { arn: string; weight: number }) => [g.arn.replace(/.*\/whole-model-fraud-/, ''), g.weight]))
      .toEqual([['current-tg', 60], ['candidate-tg', 40]]);
    // Its launch templates name no version; an instance boots serving its variant's version of the served state.
    for (const variant of ['current', 'candidate']) {
      const script = Buffer.from(one(resources, 'aws:ec2/launchTemplate:LaunchTemplate', `whole-model-fraud-${variant}-lt`).inputs.userData, 'base64').toString('utf8');
      expect(script).not.toMatch(/\bv[3-5]\b/);
      expect(runBootScript(script, 'current=v4@60,candidate=v5@40').modelUri).toMatch(new RegExp(`^s3://[^/]+/served/fraud/${variant === 'current' ? 'v4' : 'v5'}/model\\.tar\\.gz$`));
    }
    // The instances may read their served state, and no other parameter.
    const instanceSsm = JSON.parse(one(resources, 'aws:iam/policy:Policy', 'whole-model-fraud-instance-policy').inputs.policy).Statement
      .filter((st: { Action: string | string[] }) => [st.Action].flat().some((a) => a.startsWith('ssm:')));
    expect(instanceSsm).toEqual([{ Sid: 'ReadServedState', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: fraudState }]);
    // The endpoint's model is the promoted version (the update replaces it through the guardrails), not modelVersion v7.
    const model = one(resources, 'aws:sagemaker/model:Model', 'whole-model-recs-current-model').inputs.primaryContainer;
    expect(model.modelDataUrl).toMatch(/^s3:\/\/[^/]+\/served\/recs\/v8\/model\.tar\.gz$/);
    expect(model.environment.MODEL_URI).toBe(model.modelDataUrl);
    // The served states exist before what reads them: pulumi up reads each after creating it (the first up reads the initial state).
    const order = (name: string) => resources.findIndex((r) => r.name === name);
    expect(order('whole-served-fraud')).toBeLessThan(order('whole-model-fraud-listener'));
    expect(order('whole-served-recs')).toBeLessThan(order('whole-model-recs-current-model'));
  });

  test('GIVEN governance WHEN built THEN every role of the platform (store replication, tracking, training, serving, promotion, brake) carries the boundary, and the personas may not launch GPUs past the budget', () => {
    const boundary = mockArn('aws:iam/policy:Policy', 'whole-governance-boundary');
    const roles = ofType(resources, 'aws:iam/role:Role');
    expect(roles.filter((r) => /^whole-tracking-/.test(r.name)).length).toBeGreaterThanOrEqual(2);
    expect(roles.filter((r) => /^whole-(training|model-|governance-)/.test(r.name)).length).toBeGreaterThan(8);
    // The store is created before governance: its replication role (same name as ever) gets the boundary once it exists.
    expect(roles.map((r) => r.name)).toContain('whole-artifacts-replication-role');
    expect(roles.filter((r) => r.inputs.permissionsBoundary !== boundary).map((r) => r.name)).toEqual([]);
    const order = (name: string) => resources.findIndex((r) => r.name === name);
    expect(order('whole-governance-boundary')).toBeLessThan(order('whole-artifacts-replication-role'));
    // The brake attaches its deny policy to the personas (the engage definition names them).
    const engage = JSON.parse(ofType(resources, 'aws:sfn/stateMachine:StateMachine').find((m) => m.name === 'whole-cost-brake-engage')!.inputs.definition);
    const deniedRoles = engage.States.Brake.Branches.find((b: { StartAt: string }) => b.StartAt === 'DeniedRoles').States.DeniedRoles.Result;
    expect([...deniedRoles].sort()).toEqual(['whole-governance-DataScientist', 'whole-governance-MlEngineer']);
    // The brake's roles carry the governance boundary too.
    for (const role of ofType(resources, 'aws:iam/role:Role').filter((r) => r.name.startsWith('whole-cost-brake-'))) {
      expect([role.name, role.inputs.permissionsBoundary]).toEqual([role.name, boundary]);
    }
    expect(ofType(resources, 'aws:cloudtrail/trail:Trail')).toHaveLength(1);
    // Personas got their grants on the platform's store, registry and images.
    expect(ofType(resources, 'aws:iam/policy:Policy').filter((p) => /whole-governance-.*-grants-1$/.test(p.name))).toHaveLength(4);
  });

  test('GIVEN the platform WHEN built THEN its promotion role is the one the store designates, bounded by governance, which lets it make every call of its definition; served states are tagged for promotion; the ML engineer may start it', () => {
    const boundaryArn = mockArn('aws:iam/policy:Policy', 'whole-governance-boundary');
    const roleInputs = ofType(resources, 'aws:iam/role:Role').find((r) => r.name === 'whole-promotion-role')!.inputs;
    expect([roleInputs.name, roleInputs.permissionsBoundary]).toEqual([platform.artifactStore.promotionRoleName, boundaryArn]);
    expect(platform.artifactStore.promotionRoleName).toBe('whole-artifacts-promotion');
    const policy = (name: string) => JSON.parse(ofType(resources, 'aws:iam/policy:Policy').find((p) => p.name === name)!.inputs.policy);
    const walk = new IamWalk([]);
    const role: RoleInfo = {
      id: 'promotion',
      template: 'x',
      logicalId: 'promotion',
      arn: `arn:aws:iam::${ACCOUNT}:role/whole-artifacts-promotion`,
      name: 'whole-artifacts-promotion',
      tags: roleInputs.tags,
      trust: [],
      identity: walk.statements('x', policy('whole-promotion-role-policy')),
      opaquePolicies: [],
      boundary: walk.statements('x', policy('whole-governance-boundary')),
      boundaryArn,
    };
    const definition = JSON.parse(ofType(resources, 'aws:sfn/stateMachine:StateMachine').find((m) => m.name === 'whole-promotion-state-machine')!.inputs.definition);
    const models = mockArn('aws:s3/bucket:Bucket', 'whole-artifacts-models');
    const resourceOf: Record<string, string> = {
      dynamodb: mockArn('aws:dynamodb/table:Table', 'whole-promotion-locks'),
      sns: mockArn('aws:sns/topic:Topic', 'whole-monitoring-alarms'),
      ssm: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/mlops/acme-prod/served/fraud`,
      s3: `${models}/served/fraud/v8/model.tar.gz`,
      sagemaker: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/fraud/3`,
      tag: '*',
      autoscaling: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/fraud-candidate`,
      states: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:acme-prod-fraud-rollout`,
      events: `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`,
    };
    // (the refreshed group: tagged with its served state, as the platform's fleet tags its groups; below)
    const context = {
      'aws:RequestedRegion': REGION,
      'aws:SecureTransport': true,
      's3:ObjectCreationOperation': true,
      's3:if-none-match': '*',
      'aws:ResourceTag/mlops:served-variant': '/mlops/acme-prod/served/fraud:1',
    };
    const tasks = allStates(definition).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(10);
    for (const [name, task] of tasks) {
      const [, service, api] = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):([a-zA-Z]+)/.exec(task.Resource)!;
      const iamService = service === 'resourcegroupstaggingapi' ? 'tag' : service;
      const action = iamService === 's3' && api !== 'abortMultipartUpload' ? 's3:PutObject' : `${iamService}:${api[0].toUpperCase()}${api.slice(1)}`;
      const resource = action === 'sagemaker:CreateModelPackage' ? `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package-group/fraud` : resourceOf[iamService];
      expect([name, action, walk.allows(role, action, resource, context)]).toEqual([name, action, true]);
    }
    // Where promotion finds each model: its served state, created with the program's versions and tagged with how to promote it.
    const states = ofType(resources, 'aws:ssm/parameter:Parameter').filter((p) => p.name.startsWith('whole-served-'))
      .map((p) => [p.inputs.name, p.inputs.value?.value ?? p.inputs.value, p.inputs.tags['mlops:promotion']]); // (the provider marks values secret)
    expect(states).toEqual([
      ['/mlops/acme-prod/served/fraud', 'current=v3@90,candidate=v4@10', 'rollout dev acme-prod-fraud-rollout'],
      ['/mlops/acme-prod/served/recs', 'current=v7@100', 'direct dev none'],
    ]);
    expect(Object.keys(platform.servedStates)).toEqual(['fraud', 'recs']);
    // The rollout the tag names is the fleet's FleetRollout: promotion starts it after refreshing the candidate group.
    expect(platform.fleetRolloutOf('fraud')?.stateMachineName).toBe('acme-prod-fraud-rollout');
    // The fleet's groups are tagged with their served state and position; under the boundary the role may refresh each of them.
    const groupTags = ofType(resources, 'aws:autoscaling/group:Group')
      .flatMap((g) => g.inputs.tags.filter((t: { key: string }) => t.key === 'mlops:served-variant').map((t: { value: string }) => t.value)).sort();
    expect(groupTags).toEqual(['/mlops/acme-prod/served/fraud:0', '/mlops/acme-prod/served/fraud:1']);
    for (const value of groupTags) {
      expect([value, walk.allows(role, 'autoscaling:StartInstanceRefresh', resourceOf.autoscaling, { ...context, 'aws:ResourceTag/mlops:served-variant': value })])
        .toEqual([value, true]);
    }
    // The ML engineer starts promotions (the documented manual path), nothing else of it.
    expect(policy('whole-ml-engineer-promotes').Statement).toEqual([
      { Sid: 'StartPromotions', Effect: 'Allow', Action: ['states:StartExecution'], Resource: mockArn('aws:sfn/stateMachine:StateMachine', 'whole-promotion-state-machine') },
    ]);
    expect(ofType(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment').find((a) => a.name === 'whole-ml-engineer-promotes-attachment')!.inputs.role)
      .toBe('whole-governance-MlEngineer');
  });

  test('GIVEN the platform WHEN built THEN the platform operator may start, follow and abort the fleet rollouts by hand (as on CDK), under the boundary, and start no promotion; the platform\'s rollout settles only for its promotion', () => {
    const policy = (name: string) => JSON.parse(ofType(resources, 'aws:iam/policy:Policy').find((p) => p.name === name)!.inputs.policy);
    const operatorPolicies = ofType(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment')
      .filter((a) => a.inputs.role === 'whole-governance-PlatformOperator')
      .map((a) => ofType(resources, 'aws:iam/policy:Policy').find((p) => mockArn('aws:iam/policy:Policy', p.name) === a.inputs.policyArn)!.name);
    expect(operatorPolicies).toContain('whole-operator-rollouts');
    const walk = new IamWalk([]);
    const operator: RoleInfo = {
      id: 'operator',
      template: 'x',
      logicalId: 'operator',
      arn: `arn:aws:iam::${ACCOUNT}:role/whole-governance-PlatformOperator`,
      name: 'whole-governance-PlatformOperator',
      tags: {},
      trust: [],
      identity: operatorPolicies.flatMap((n) => walk.statements('x', policy(n))),
      opaquePolicies: [],
      boundary: walk.statements('x', policy('whole-governance-boundary')),
      boundaryArn: mockArn('aws:iam/policy:Policy', 'whole-governance-boundary'),
    };
    const states = (resource: string) => `arn:aws:states:${REGION}:${ACCOUNT}:${resource}`;
    const context = { 'aws:RequestedRegion': REGION };
    expect(platform.fleetRolloutOf('fraud')!.stateMachineName).toBe('acme-prod-fraud-rollout');
    expect([
      walk.allows(operator, 'states:StartExecution', states('stateMachine:acme-prod-fraud-rollout'), context),
      walk.allows(operator, 'states:StopExecution', states('execution:acme-prod-fraud-rollout:abc'), context),
      walk.allows(operator, 'states:StartExecution', states(`stateMachine:${platform.modelPromotion.stateMachineName}`), context),
      walk.allows(operator, 'states:StopExecution', states(`execution:${platform.modelPromotion.stateMachineName}:abc`), context),
    ]).toEqual([true, true, false, false]);
    // The rollout may describe the executions of this promotion only (what settle checks).
    const rolloutPolicy = policy('whole-rollout-fraud-role-policy');
    expect(rolloutPolicy.Statement.filter((st: { Sid: string }) => st.Sid === 'CheckThePromotion')).toEqual([expect.objectContaining({
      Action: ['states:DescribeExecution'], Resource: [states(`execution:${platform.modelPromotion.stateMachineName}:*`)],
    })]);
  });

  test('GIVEN teams WHEN built THEN fair share on the training queue, a team budget, team tags on the models they own', () => {
    const policy = ofType(resources, 'aws:batch/schedulingPolicy:SchedulingPolicy')[0].inputs;
    expect(policy.fairSharePolicy.shareDistributions.map((d: { shareIdentifier: string }) => d.shareIdentifier).sort()).toEqual(['fraud', 'recs']);
    const budgets = ofType(resources, 'aws:budgets/budget:Budget');
    expect(budgets.map((b) => b.inputs.limitAmount).sort()).toEqual([String(EnvironmentProfile.prod().budget.monthlyLimitUsd), '500'].sort());
    const endpoint = ofType(resources, 'aws:sagemaker/endpoint:Endpoint')[0].inputs;
    expect(endpoint.tags).toMatchObject({ 'mlops:team': 'recs', 'mlops:cost-center': 'growth-ml', 'mlops:model': 'recs' });
    const cluster = ofType(resources, 'aws:batch/jobQueue:JobQueue')[0].inputs;
    expect(cluster.tags).toMatchObject({ 'mlops:team': 'shared' });
    expect(ofType(resources, 'aws:ecs/service:Service')).toHaveLength(1);
    expect(ofType(resources, 'aws:sagemaker/modelPackageGroup:ModelPackageGroup')).toHaveLength(2);
    // No team budget denies roles here, so no budget-action role (as on CDK): only the brake's own roles may attach its
    // deny policy (the boundary lets the brake-controller tag do it), no idle one.
    const controllers = ofType(resources, 'aws:iam/role:Role').filter((r) => r.inputs.tags?.[BRAKE.controllerTagKey] === 'true').map((r) => r.name);
    expect(controllers).toEqual(['whole-cost-brake-role']);
  });

  test('GIVEN prod with the environment\'s certificate WHEN built THEN every load balancer (MLflow, the fleet model) forwards only on HTTPS 443 and answers port 80 only with a redirect', () => {
    const balancers = ofType(resources, 'aws:lb/loadBalancer:LoadBalancer').map((lb) => lb.name).sort();
    expect(balancers).toEqual(['whole-model-fraud-alb', 'whole-tracking-alb']);
    const listeners = ofType(resources, 'aws:lb/listener:Listener').map((l) => ({ name: l.name, ...l.inputs }));
    // MLflow's HTTPS listener signs every request in first (it has no login of its own); the model's serves its clients.
    for (const [owner, serving] of [['whole-model-fraud', ['forward']], ['whole-tracking', ['authenticate-cognito', 'forward']]] as const) {
      const own = listeners.filter((l) => l.name.startsWith(`${owner}-`));
      const shape = own.map((l) => [l.port, l.protocol, l.certificateArn, l.defaultActions.map((a: { type: string }) => a.type)]).sort();
      expect([owner, shape]).toEqual([owner, [[443, 'HTTPS', certificateArn, serving], [80, 'HTTP', undefined, ['redirect']]].sort()]);
    }
    // The only other way to MLflow: a bearer token the load balancer verifies against the platform's user pool.
    const rules = ofType(resources, 'aws:lb/listenerRule:ListenerRule').filter((r) => r.name.startsWith('whole-tracking-'));
    expect(rules.map((r) => r.inputs.actions.map((a: { type: string }) => a.type))).toEqual([['jwt-validation', 'forward']]);
    expect(one(resources, 'aws:cognito/userPool:UserPool', 'whole-tracking-user-pool').inputs)
      .toMatchObject({ adminCreateUserConfig: { allowAdminCreateUserOnly: true }, mfaConfiguration: 'ON', deletionProtection: 'ACTIVE' });
  });

  test('GIVEN the whole platform WHEN built THEN every KMS key it creates denies kms:CreateGrant to everybody unless the grant is for an AWS resource or the caller is an AWS service (CT.KMS.PR.3), and the account still administers it', () => {
    const keys = ofType(resources, 'aws:kms/key:Key');
    // The platform key, the budget alerts' and the brake's (the components of the platform share the platform key).
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const key of keys) {
      const statements: Array<Record<string, unknown>> = key.inputs.policy === undefined ? [] : JSON.parse(key.inputs.policy).Statement;
      const grantDenies = statements.filter((s) => s.Effect === 'Deny' && [s.Action].flat().includes('kms:CreateGrant'))
        .map((s) => ({ principal: s.Principal, resource: s.Resource, condition: s.Condition }));
      expect([key.name, grantDenies]).toEqual([key.name, [{
        principal: { AWS: '*' },
        resource: '*',
        condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      }]]);
      const administers = statements.some((s) => s.Effect === 'Allow' && s.Action === 'kms:*' && s.Condition === undefined
        && s.Principal && /^arn:aws:iam::123456789012:root$/.test((s.Principal as { AWS?: string }).AWS ?? ''));
      expect([key.name, administers]).toEqual([key.name, true]);
    }
  });

  test('GIVEN the whole platform WHEN built THEN every bucket it creates, log buckets included, sends its object events to EventBridge (CT.S3.PR.4)', () => {
    const buckets = ofType(resources, 'aws:s3/bucket:Bucket');
    // The store's three purpose buckets and its access-log bucket, and the audit trail's bucket.
    expect(buckets.length).toBeGreaterThanOrEqual(5);
    const notifications = ofType(resources, 'aws:s3/bucketNotification:BucketNotification').map((n) => n.inputs);
    for (const bucket of buckets) {
      const own = notifications.filter((n) => n.bucket === `${bucket.name}-id`);
      // One configuration per bucket: a second BucketNotification of the same bucket would replace the first.
      expect([bucket.name, own.map((n) => n.eventbridge)]).toEqual([bucket.name, [true]]);
    }
  });

  test('GIVEN prod without a certificate WHEN built THEN the same ValidationError as the CDK MlopsPlatform', () => {
    const args = {
      profile: EnvironmentProfile.prod(),
      project: 'acme',
      costCenter: 'ml-platform',
      servedModels: [{ name: 'fraud', backend: 'fleet' as const, modelVersion: 'v3', imageTag: 'serve-1' }],
    };
    const fromPulumi = errorOf(() => new MlopsPlatform('nocert', { ...args, network }));
    const fromCdk = errorOf(() => new cdk.MlopsPlatform(newApp(), 'acme-prod', { ...args, servedModels: [{ ...args.servedModels[0], backend: cdk.ServingBackend.FLEET }] }));
    expect(fromPulumi).toBeInstanceOf(ValidationError);
    expect(fromPulumi.prop).toBe('certificateArn');
    const said = (e: typeof fromCdk) => ({ prop: e.prop, problem: e.problem, fix: e.fix });
    expect(said(fromPulumi)).toEqual(said(fromCdk));
    expect(fromPulumi.problem).toBe("is required under the 'prod' profile (requireTls): the load balancer of served model 'fraud' serves HTTPS only");
    // Without a fleet model, MLflow's load balancer still needs it; without either, no certificate is needed.
    expect(errorOf(() => new MlopsPlatform('nocert2', { ...args, servedModels: [], network })).problem).toMatch(/the experiment tracking server serves HTTPS only$/);
    expect(() => new MlopsPlatform('nocert3', { ...args, servedModels: [], experimentTracking: false, network })).not.toThrow();
  });

  test('GIVEN experiment tracking without trackingImage WHEN built THEN a ValidationError says how to build the shipped Dockerfile', () => {
    const args = { profile: EnvironmentProfile.dev(), project: 'acme', network };
    const error = errorOf(() => new MlopsPlatform('noimage', args));
    expect([error.prop, error.problem]).toEqual(['trackingImage',
      'is required with experimentTracking: the Pulumi ExperimentTracking builds no image and its container installs nothing when it starts']);
    expect(error.fix).toMatch(/^build the tracking server image .*docker build .*assets\/mlflow; or set experimentTracking: false\.$/);
    expect(() => new MlopsPlatform('noimage2', { ...args, experimentTracking: false })).not.toThrow();
  });

  test('GIVEN a served model of an unknown team, a duplicate name or an unknown backend WHEN built THEN a ValidationError names the model\'s prop', () => {
    const base = { profile: EnvironmentProfile.dev(), project: 'acme', network, teams };
    const model = { name: 'm', backend: 'fleet' as const, modelVersion: 'v1', imageTag: 't1' };
    const unknownTeam = errorOf(() => new MlopsPlatform('bad1', { ...base, servedModels: [{ ...model, team: 'nobody' }] }));
    expect(unknownTeam).toBeInstanceOf(ValidationError);
    expect(unknownTeam.prop).toBe('servedModels(m).team');
    expect(unknownTeam.fix).toContain('fraud, recs');
    expect(errorOf(() => new MlopsPlatform('bad2', { ...base, servedModels: [model, model] })).prop).toBe('servedModels[].name');
    expect(errorOf(() => new MlopsPlatform('bad3', { ...base, servedModels: [{ ...model, backend: 'lambda' as never }] })).prop).toBe('servedModels(m).backend');
    expect(errorOf(() => new MlopsPlatform('bad4', { ...base, teams: [{ ...teams[0], gpuSharePercent: 50 }] })).prop).toBe('teams[].gpuSharePercent');
  });
});

test('GIVEN a team budget acting on a persona under the governance boundary WHEN AWS Budgets acts THEN its role may attach and detach only the brake\'s deny policy', async () => {
  const governance = new MlopsGovernance('bud-governance', { profile: EnvironmentProfile.prod() });
  const boundaryArn = mockArn('aws:iam/policy:Policy', 'bud-governance-boundary');
  const guard = new CostGuard('bud-cost', { profile: EnvironmentProfile.prod(), permissionsBoundary: governance.permissionBoundary.arn, monthlyLimitUsd: 1000 });
  guard.addTeamBudget('fraud', { monthlyLimitUsd: 500, denyGpuFor: [{ name: 'bud-governance-DataScientist', arn: `arn:aws:iam::${ACCOUNT}:role/bud-governance-DataScientist` }] });
  const resources = await resourcesOf('bud');
  const roleInputs = ofType(resources, 'aws:iam/role:Role').find((r) => r.name === 'bud-cost-budget-action-role')!.inputs;
  expect(roleInputs.permissionsBoundary).toBe(boundaryArn);
  // Only budgets of this account have AWS Budgets assume it (confused-deputy prevention, as on CDK).
  expect(JSON.parse(roleInputs.assumeRolePolicy).Statement).toEqual([{
    Effect: 'Allow',
    Principal: { Service: 'budgets.amazonaws.com' },
    Action: 'sts:AssumeRole',
    Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT }, ArnLike: { 'aws:SourceArn': `arn:aws:budgets::${ACCOUNT}:budget/*` } },
  }]);
  const walk = new IamWalk([]);
  // The deny policy's ARN as IAM gives it: its path (BRAKE.policyPath, which the boundary names) and its name; the
  // mocks' ARN stands for it in the documents.
  const deny = ofType(resources, 'aws:iam/policy:Policy').find((p) => p.name === 'bud-cost-brake-deny')!.inputs;
  const denyArn = `arn:aws:iam::${ACCOUNT}:policy${deny.path}bud-cost-brake-deny`;
  const documents = (type: string, filter: (name: string) => boolean) => ofType(resources, type).filter((r) => filter(r.name))
    .map((r) => JSON.parse(r.inputs.policy.split(mockArn('aws:iam/policy:Policy', 'bud-cost-brake-deny')).join(denyArn)));
  const role: RoleInfo = {
    id: 'budget-action',
    template: 'x',
    logicalId: 'budget-action',
    arn: `arn:aws:iam::${ACCOUNT}:role/bud-cost-budget-action-role`,
    name: 'bud-cost-budget-action-role',
    tags: roleInputs.tags,
    trust: [],
    identity: documents('aws:iam/rolePolicy:RolePolicy', (n) => n.startsWith('bud-cost-')).flatMap((d) => walk.statements('x', d)),
    opaquePolicies: [],
    boundary: documents('aws:iam/policy:Policy', (n) => n === 'bud-governance-boundary').flatMap((d) => walk.statements('x', d)),
    boundaryArn,
  };
  expect(role.identity.length).toBeGreaterThan(0);
  const persona = `arn:aws:iam::${ACCOUNT}:role/bud-governance-DataScientist`;
  const context = { 'aws:RequestedRegion': REGION, 'iam:PolicyARN': denyArn };
  for (const action of ['iam:AttachRolePolicy', 'iam:DetachRolePolicy']) expect([action, walk.allows(role, action, persona, context)]).toEqual([action, true]);
  // Not another policy, not another role.
  expect(walk.allows(role, 'iam:AttachRolePolicy', persona, { ...context, 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' })).toBe(false);
  expect(walk.allows(role, 'iam:AttachRolePolicy', `arn:aws:iam::${ACCOUNT}:role/bud-governance-PlatformOperator`, context)).toBe(false);
});
