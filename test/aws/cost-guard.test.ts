import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { IamWalk } from '../support/iam-walk';
import { applyCompliancePacks, CostGuard, EnvironmentProfile, MlopsStack, ValidationError } from 'mlops-constructs';

/** A state machine's definition as deployed, references rendered `{<stack>:<LogicalId>}`. */
function definitionOf(stack: Stack, machine: { node: { defaultChild?: unknown } }): any {
  const json = Template.fromStack(stack).toJSON();
  const id = stack.resolve((machine.node.defaultChild as any).logicalId);
  return JSON.parse(new IamWalk([{ name: stack.stackName, json }]).render(stack.stackName, json.Resources[id].Properties.DefinitionString));
}

const ref = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => `{${stack.stackName}:${stack.resolve((construct.node.defaultChild as any).logicalId)}}`;

function stackFor(profile: EnvironmentProfile, id = 'Env') {
  const app = newApp();
  const stack = new MlopsStack(app, id, { profile, project: 'p' });
  return { app, stack };
}

describe('CostGuard', () => {
  test('dev defaults: the profile budget, notifications at 50/80/100% and a forecast, filtered on the environment tag', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const guard = new CostGuard(stack, 'Cost');
    expect(guard.monthlyLimitUsd).toBe(2000);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: {
        BudgetName: 'Env-environment',
        BudgetType: 'COST',
        TimeUnit: 'MONTHLY',
        BudgetLimit: { Amount: 2000, Unit: 'USD' },
        CostFilters: { TagKeyValue: ['user:mlops:environment$dev'] },
      },
      NotificationsWithSubscribers: [50, 80, 100].map((threshold) => Match.objectLike({
        Notification: { NotificationType: 'ACTUAL', ComparisonOperator: 'GREATER_THAN', Threshold: threshold, ThresholdType: 'PERCENTAGE' },
        // At the deny threshold (100% in dev) Budgets notifies the brake, which tells the alert topic.
        Subscribers: [{ SubscriptionType: 'SNS', Address: threshold === 100 ? { Ref: Match.stringLikeRegexp('CostBrakeTrigger') } : { Ref: Match.stringLikeRegexp('CostAlertTopic') } }],
      })).concat([Match.objectLike({
        Notification: { NotificationType: 'FORECASTED', ComparisonOperator: 'GREATER_THAN', Threshold: 100, ThresholdType: 'PERCENTAGE' },
      })]),
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    // The brake replaces the Budgets IAM action (which stopped no GPU spend).
    template.resourceCountIs('AWS::Budgets::BudgetsAction', 0);
    // Cost anomaly detection on the environment's tagged spend, alerting at 10% of the limit.
    template.hasResourceProperties('AWS::CE::AnomalyMonitor', {
      MonitorType: 'CUSTOM',
      MonitorSpecification: JSON.stringify({ Tags: { Key: 'mlops:environment', Values: ['dev'], MatchOptions: ['EQUALS'] } }),
    });
    template.hasResourceProperties('AWS::CE::AnomalySubscription', {
      Frequency: 'IMMEDIATE',
      ThresholdExpression: Match.stringLikeRegexp('"ANOMALY_TOTAL_IMPACT_ABSOLUTE","Values":\\["200"\\]'),
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'AllowCostServicesToPublish',
          Principal: { Service: ['budgets.amazonaws.com', 'costalerts.amazonaws.com'] },
        })]),
      },
    });
  });

  test('sums the pieces\' cost estimates into a stack output', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const guard = new CostGuard(stack, 'Cost', { anomalyDetection: false });
    guard.addCostEstimate('fleet', { minUsd: 0, maxUsd: 1769.52 }).addCostEstimate('training', { minUsd: 0, maxUsd: 2000.25 });
    expect(guard.estimatedMonthlyCost).toEqual({
      minUsd: 0, maxUsd: 3769.77, pieces: { fleet: { minUsd: 0, maxUsd: 1769.52 }, training: { minUsd: 0, maxUsd: 2000.25 } },
    });
    const template = Template.fromStack(stack);
    template.hasOutput('EstimatedMonthlyCostUsd', { Value: JSON.stringify(guard.estimatedMonthlyCost) });
    template.resourceCountIs('AWS::CE::AnomalyMonitor', 0);
    expect(() => guard.addCostEstimate('fleet', { minUsd: 0, maxUsd: 1 })).toThrow(/'name' already has a cost estimate \(received "fleet"\)/);
    expect(() => guard.addCostEstimate('x', { minUsd: 5, maxUsd: 1 })).toThrow(/'estimate\(x\).maxUsd' must be a number between 5/);
  });

  test('the budget starts the GPU brake: Budgets → SNS → SQS → Pipe → the engage state machine, which denies the given roles', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const guard = new CostGuard(stack, 'Cost', { denyGpuFor: [trainer] });
    const late = new iam.Role(stack, 'AddedLater', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    guard.denyGpuFor(late);
    guard.denyJobSubmissionTo('arn:aws:batch:us-east-1:111111111111:job-queue/gpu');
    const template = Template.fromStack(stack);
    const brake = guard.brake;
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs', TopicArn: { Ref: Match.stringLikeRegexp('CostBrakeTrigger') }, Endpoint: { 'Fn::GetAtt': [Match.stringLikeRegexp('CostBrakeTriggerQueue'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Pipes::Pipe', {
      Source: { 'Fn::GetAtt': [Match.stringLikeRegexp('CostBrakeTriggerQueue'), 'Arn'] },
      Target: { Ref: Match.stringLikeRegexp('CostBrakeEngage') },
      TargetParameters: { StepFunctionStateMachineParameters: { InvocationType: 'FIRE_AND_FORGET' } },
    });
    // Dev engages at once; the roles denied are the ones given, including one added later.
    const engage = definitionOf(stack, brake.engageStateMachine);
    expect(engage.StartAt).toBe('MarkEngaged');
    const rolesBranch = engage.States.Brake.Branches.find((b: any) => b.StartAt === 'DeniedRoles');
    expect(rolesBranch.States.DeniedRoles.Result).toEqual([ref(stack, trainer), ref(stack, late)]);
    expect(brake.deniedRoleList).toEqual([trainer, late]);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Path: '/mlops-brake/',
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'DenyGpuGrowth', Effect: 'Deny', Action: Match.arrayWith(['autoscaling:SetDesiredCapacity', 'batch:UpdateComputeEnvironment', 'sagemaker:UpdateEndpoint']) }),
          Match.objectLike({
            Sid: 'DenyAcceleratedEc2',
            Effect: 'Deny',
            Action: ['ec2:RunInstances', 'ec2:StartInstances'],
            Condition: { StringLike: { 'ec2:InstanceType': Match.arrayWith(['g5.*', 'p5.*', 'inf2.*', 'trn1.*']) } },
          }),
          Match.objectLike({ Sid: 'DenyAcceleratedSageMaker', Effect: 'Deny', Condition: { 'ForAnyValue:StringLike': { 'sagemaker:InstanceTypes': Match.arrayWith(['ml.g5.*']) } } }),
          Match.objectLike({ Effect: 'Deny', Action: 'batch:SubmitJob', Resource: 'arn:aws:batch:us-east-1:111111111111:job-queue/gpu' }),
        ]),
      },
    });
    expect(guard.denyGpuPolicy).toBe(brake.denyPolicy);
    // The brake's own role carries the controller tag the permission boundary trusts, and may attach only its deny policy.
    const role = Template.fromStack(stack).toJSON().Resources[stack.resolve((brake.role.node.defaultChild as any).logicalId)];
    expect(role.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'mlops:brake-controller', Value: 'true' }]));
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [{ Ref: Match.stringLikeRegexp('CostBrakeRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'AttachAndDetachTheDenyPolicy',
          Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
          Condition: { ArnEquals: { 'iam:PolicyARN': { Ref: Match.stringLikeRegexp('CostBrakeDenyPolicy') } } },
        })]),
      },
    });
  });

  test('prod: the brake asks for approval, 110% deny threshold, 50/80/90/100% alerts, team budgets', () => {
    const { stack } = stackFor(EnvironmentProfile.prod());
    const role = new iam.Role(stack, 'Serving', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const guard = new CostGuard(stack, 'Cost', { denyGpuFor: [role], notifyEmails: ['finops@example.com'] });
    guard.addTeamBudget('vision', { monthlyLimitUsd: 8000, denyGpuFor: [role] });
    const template = Template.fromStack(stack);
    const engage = definitionOf(stack, guard.brake.engageStateMachine);
    expect(engage.StartAt).toBe('RequestApproval');
    expect(engage.States.RequestApproval).toEqual(expect.objectContaining({
      Resource: 'arn:aws:states:::sns:publish.waitForTaskToken', TimeoutSeconds: 86400, Next: 'MarkEngaged',
    }));
    expect(engage.States.RequestApproval.Parameters.TopicArn).toBe(ref(stack, guard.alertTopic as any));
    // The team budget's own action attaches the brake's deny policy to the team's roles, by a role the boundary trusts.
    template.hasResourceProperties('AWS::Budgets::BudgetsAction', { ApprovalModel: 'MANUAL', ActionThreshold: { Type: 'PERCENTAGE', Value: 110 } });
    template.resourceCountIs('AWS::Budgets::BudgetsAction', 1);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'budgets.amazonaws.com' } })] }),
      Tags: Match.arrayWith([{ Key: 'mlops:brake-controller', Value: 'true' }]),
    });
    // Only budgets of this account have AWS Budgets assume it (a budget action of another account attaches nothing here).
    const actionRole = Object.values<any>(template.findResources('AWS::IAM::Role'))
      .find((r) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('budgets.amazonaws.com'))!;
    expect(actionRole.Properties.AssumeRolePolicyDocument.Statement).toEqual([{
      Action: 'sts:AssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'budgets.amazonaws.com' },
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':budgets::', { Ref: 'AWS::AccountId' }, ':budget/*']] } },
      },
    }]);
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetName: 'Env-vision', BudgetLimit: { Amount: 8000, Unit: 'USD' }, CostFilters: { TagKeyValue: ['user:mlops:team$vision'] } }),
    });
    const budget = Object.values(template.findResources('AWS::Budgets::Budget'))[0];
    // The deny threshold (110%) is not an alert threshold: a notification is added for the brake.
    expect(budget.Properties.NotificationsWithSubscribers.map((n: any) => n.Notification.Threshold)).toEqual([50, 80, 90, 100, 100, 110]);
    expect(budget.Properties.NotificationsWithSubscribers[5].Subscribers[0]).toEqual({ SubscriptionType: 'SNS', Address: { Ref: expect.stringMatching(/CostBrakeTrigger/) } });
    expect(budget.Properties.NotificationsWithSubscribers[0].Subscribers).toContainEqual({ SubscriptionType: 'EMAIL', Address: 'finops@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'finops@example.com' });
  });

  test('props override the profile', () => {
    const { stack } = stackFor(EnvironmentProfile.staging());
    const guard = new CostGuard(stack, 'Cost', { monthlyLimitUsd: 1234, alertThresholdsPercent: [90], denyGpuAtPercent: 95, automaticDeny: true });
    Template.fromStack(stack).hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetLimit: { Amount: 1234, Unit: 'USD' } }),
      NotificationsWithSubscribers: [
        Match.objectLike({ Notification: Match.objectLike({ Threshold: 90 }) }), Match.anyValue(),
        Match.objectLike({ Notification: Match.objectLike({ NotificationType: 'ACTUAL', Threshold: 95 }) }),
      ],
    });
    expect(definitionOf(stack, guard.brake.engageStateMachine).StartAt).toBe('MarkEngaged');
  });

  test.each([
    ['zero limit', { monthlyLimitUsd: 0 }, /'monthlyLimitUsd' must be a number greater than 0 \(received 0\)/],
    ['thresholds not ascending', { alertThresholdsPercent: [90, 50] }, /'alertThresholdsPercent' must be strictly ascending/],
    ['no thresholds', { alertThresholdsPercent: [] }, /'alertThresholdsPercent' must have at least one threshold/],
    ['deny threshold 0', { denyGpuAtPercent: 0 }, /'denyGpuAtPercent' must be a number between 1 and 1000 \(received 0\)/],
    ['bad email', { notifyEmails: ['finops'] }, /'notifyEmails\[0\]' must be an email address \(received "finops"\)/],
    ['too many emails', { notifyEmails: Array.from({ length: 11 }, (_, i) => `a${i}@x.io`) }, /'notifyEmails' must list at most 10 addresses/],
  ])('rejects %s', (_name, props, message) => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    expect(() => new CostGuard(stack, 'Cost', props as any)).toThrow(ValidationError);
    expect(() => new CostGuard(stack, 'Cost2', props as any)).toThrow(message);
  });

  test('rejects bad team budgets', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const guard = new CostGuard(stack, 'Cost');
    guard.addTeamBudget('vision', { monthlyLimitUsd: 500 });
    expect(() => guard.addTeamBudget('vision', { monthlyLimitUsd: 500 })).toThrow(/Env\/Cost: 'team' already has a budget \(received "vision"\)/);
    expect(() => guard.addTeamBudget('Vision', { monthlyLimitUsd: 500 })).toThrow(/'team' must be lower-case letters/);
    expect(() => guard.addTeamBudget('nlp', { monthlyLimitUsd: 5000 })).toThrow(/'monthlyLimitUsd' must not exceed the environment limit \(2000\).*received 5000/);
  });

  test('cfn-lint and cdk-nag clean in dev and prod', () => {
    for (const profile of [EnvironmentProfile.dev(), EnvironmentProfile.prod()]) {
      const { app, stack } = stackFor(profile, `Cost${profile.name}`);
      const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
      new CostGuard(stack, 'Cost', { denyGpuFor: [role] }).addTeamBudget('vision', { monthlyLimitUsd: 100, denyGpuFor: [role] });
      applyCompliancePacks(app);
      const result = synthesizeWithPacks(app);
      expect(describeFindings(result.findings)).toBe('');
      expect(describeFindings(cfnLint(result.templates))).toBe('');
    }
  });
});

describe('CostGuard with many denied roles (found by the fuzz/bench suites)', () => {
  test('notifyEmails given as one string, not a list, is rejected as such (was checked letter by letter)', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    expect(() => new CostGuard(stack, 'Cost', { notifyEmails: 'ops@example.com' as any }))
      .toThrow(/'notifyEmails' must be a list of email addresses \(received "ops@example.com"\)\. Fix: wrap the address in a list/);
  });

  // Budgets rejected an IAM action naming more than 100 roles; the brake has no such limit and appends.
  test('the brake denies any number of roles, in the order they were added', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const guard = new CostGuard(stack, 'Cost');
    const roles = Array.from({ length: 205 }, (_, i) => new iam.Role(stack, `R${i}`, { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }));
    guard.denyGpuFor(roles[0]);
    guard.denyGpuFor(...roles.slice(1), roles[0]);
    const engage = definitionOf(stack, guard.brake.engageStateMachine);
    const denied = engage.States.Brake.Branches.find((b: any) => b.StartAt === 'DeniedRoles').States.DeniedRoles.Result;
    expect(denied).toEqual(roles.map((r) => ref(stack, r)));
  });

  test('a team budget action with more than 100 roles is split too', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const roles = Array.from({ length: 101 }, (_, i) => new iam.Role(stack, `R${i}`, { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }));
    new CostGuard(stack, 'Cost').addTeamBudget('vision', { monthlyLimitUsd: 100, denyGpuFor: roles });
    const actions = Template.fromStack(stack).findResources('AWS::Budgets::BudgetsAction');
    expect(Object.values(actions).map((a: any) => a.Properties.Definition.IamActionDefinition.Roles.length)).toEqual([100, 1]);
  });
});
