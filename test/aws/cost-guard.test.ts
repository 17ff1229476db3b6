import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks, CostGuard, EnvironmentProfile, MlopsStack, ValidationError } from 'mlops-constructs';

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
        Subscribers: [{ SubscriptionType: 'SNS', Address: Match.anyValue() }],
      })).concat([Match.objectLike({
        Notification: { NotificationType: 'FORECASTED', ComparisonOperator: 'GREATER_THAN', Threshold: 100, ThresholdType: 'PERCENTAGE' },
      })]),
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    // No roles to deny yet: no action.
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

  test('the deny-GPU action attaches a policy that denies accelerated EC2 and SageMaker capacity', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const guard = new CostGuard(stack, 'Cost', { denyGpuFor: [trainer] });
    const late = new iam.Role(stack, 'AddedLater', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    guard.denyGpuFor(late);
    guard.denyJobSubmissionTo('arn:aws:batch:us-east-1:111111111111:job-queue/gpu');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Budgets::BudgetsAction', {
      ActionType: 'APPLY_IAM_POLICY',
      ActionThreshold: { Type: 'PERCENTAGE', Value: 100 },
      ApprovalModel: 'AUTOMATIC',
      NotificationType: 'ACTUAL',
      Definition: { IamActionDefinition: { PolicyArn: { Ref: Match.stringLikeRegexp('CostDenyGpuPolicy') }, Roles: [{ Ref: Match.stringLikeRegexp('Trainer') }, { Ref: Match.stringLikeRegexp('AddedLater') }] } },
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
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
    // Budgets may attach and detach only this (deny) policy.
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Roles: [{ Ref: Match.stringLikeRegexp('CostBudgetActionRole') }],
      PolicyDocument: {
        Statement: [Match.objectLike({
          Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':role/*']] },
          Condition: { ArnEquals: { 'iam:PolicyARN': { Ref: Match.stringLikeRegexp('CostDenyGpuPolicy') } } },
        })],
      },
    });
  });

  test('prod: manual approval, 110% deny threshold, 50/80/90/100% alerts, team budgets', () => {
    const { stack } = stackFor(EnvironmentProfile.prod());
    const role = new iam.Role(stack, 'Serving', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    const guard = new CostGuard(stack, 'Cost', { denyGpuFor: [role], notifyEmails: ['finops@example.com'] });
    guard.addTeamBudget('vision', { monthlyLimitUsd: 8000, denyGpuFor: [role] });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Budgets::BudgetsAction', { ApprovalModel: 'MANUAL', ActionThreshold: { Type: 'PERCENTAGE', Value: 110 } });
    template.resourceCountIs('AWS::Budgets::BudgetsAction', 2);
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetName: 'Env-vision', BudgetLimit: { Amount: 8000, Unit: 'USD' }, CostFilters: { TagKeyValue: ['user:mlops:team$vision'] } }),
    });
    const budget = Object.values(template.findResources('AWS::Budgets::Budget'))[0];
    expect(budget.Properties.NotificationsWithSubscribers.map((n: any) => n.Notification.Threshold)).toEqual([50, 80, 90, 100, 100]);
    expect(budget.Properties.NotificationsWithSubscribers[0].Subscribers).toContainEqual({ SubscriptionType: 'EMAIL', Address: 'finops@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'finops@example.com' });
  });

  test('props override the profile', () => {
    const { stack } = stackFor(EnvironmentProfile.staging());
    new CostGuard(stack, 'Cost', { monthlyLimitUsd: 1234, alertThresholdsPercent: [90], denyGpuAtPercent: 95, automaticDeny: true });
    Template.fromStack(stack).hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetLimit: { Amount: 1234, Unit: 'USD' } }),
      NotificationsWithSubscribers: [Match.objectLike({ Notification: Match.objectLike({ Threshold: 90 }) }), Match.anyValue()],
    });
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

  // Budgets rejects an IAM action naming more than 100 roles; a platform with 200 served models has 200 serving roles.
  test('splits denied roles into actions of at most 100, appending so existing roles never move', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const guard = new CostGuard(stack, 'Cost');
    const roles = Array.from({ length: 205 }, (_, i) => new iam.Role(stack, `R${i}`, { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }));
    guard.denyGpuFor(roles[0]);
    // The first action keeps the id it had with one role (a second app with one role would show the same id).
    const firstAction = guard.node.findChild('DenyGpuAction');
    guard.denyGpuFor(...roles.slice(1));
    const actions = Template.fromStack(stack).findResources('AWS::Budgets::BudgetsAction');
    const roleCounts = Object.values(actions).map((a: any) => a.Properties.Definition.IamActionDefinition.Roles.length);
    expect(roleCounts).toEqual([100, 100, 5]);
    const first = actions[stack.getLogicalId(firstAction as any)];
    expect(first.Properties.Definition.IamActionDefinition.Roles[0]).toEqual({ Ref: stack.getLogicalId(roles[0].node.defaultChild as iam.CfnRole) });
    expect(first.Properties.Definition.IamActionDefinition.Roles).toHaveLength(100);
  });

  test('a team budget action with more than 100 roles is split too', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const roles = Array.from({ length: 101 }, (_, i) => new iam.Role(stack, `R${i}`, { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }));
    new CostGuard(stack, 'Cost').addTeamBudget('vision', { monthlyLimitUsd: 100, denyGpuFor: roles });
    const actions = Template.fromStack(stack).findResources('AWS::Budgets::BudgetsAction');
    expect(Object.values(actions).map((a: any) => a.Properties.Definition.IamActionDefinition.Roles.length)).toEqual([100, 1]);
  });
});
