import { Match, Template } from 'aws-cdk-lib/assertions';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks, EnvironmentProfile, MlopsMonitoring, MlopsStack, QualityDirection, ValidationError } from 'mlops-constructs';

function stackFor(profile: EnvironmentProfile, region = 'us-east-1', id = 'Env') {
  const app = newApp();
  const stack = new MlopsStack(app, id, { profile, project: 'p', env: { region } });
  return { app, stack };
}

describe('MlopsMonitoring', () => {
  test('creates a KMS-encrypted, TLS-only alarm topic, a dashboard and an estimated-charges alarm in us-east-1', () => {
    const { stack } = stackFor(EnvironmentProfile.prod());
    new MlopsMonitoring(stack, 'Monitoring', { notifyEmails: ['oncall@example.com'] });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    t.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'Env-mlops' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Billing',
      MetricName: 'EstimatedCharges',
      Threshold: 50000,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'AllowAlarmPublishersToUseTheKey',
          Principal: { Service: ['budgets.amazonaws.com', 'cloudwatch.amazonaws.com', 'costalerts.amazonaws.com'] },
        })]),
      },
    });
  });

  test('outside us-east-1 there is no billing alarm (billing metrics exist only there)', () => {
    const { stack } = stackFor(EnvironmentProfile.prod(), 'eu-west-1');
    new MlopsMonitoring(stack, 'Monitoring');
    Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  test('quality, drift and fairness alarms follow the metric contract and the profile thresholds', () => {
    const { stack } = stackFor(EnvironmentProfile.prod(), 'eu-west-1');
    const m = new MlopsMonitoring(stack, 'Monitoring');
    m.addModelQualityAlarm({ model: 'fraud', metric: 'auc', threshold: 0.85 });
    m.addModelQualityAlarm({ model: 'fraud', metric: 'rmse', threshold: 3, direction: QualityDirection.LOWER_IS_BETTER });
    m.addDriftAlarm({ model: 'fraud', feature: 'amount' });
    m.addFairnessAlarm({ model: 'fraud', metric: 'demographic_parity' });
    const t = Template.fromStack(stack);
    const common = { AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }], OKActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }], TreatMissingData: 'notBreaching', Period: 86400 };
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'MLOps/ModelQuality',
      MetricName: 'auc',
      Dimensions: [{ Name: 'Model', Value: 'fraud' }],
      Statistic: 'Minimum',
      Threshold: 0.85,
      ComparisonOperator: 'LessThanThreshold',
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'MLOps/ModelQuality', MetricName: 'rmse', Statistic: 'Maximum', ComparisonOperator: 'GreaterThanThreshold' });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'MLOps/DataDrift',
      MetricName: 'DriftScore',
      Dimensions: [{ Name: 'Feature', Value: 'amount' }, { Name: 'Model', Value: 'fraud' }],
      Threshold: 0.2,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'MLOps/Fairness',
      MetricName: 'FairnessGap',
      Dimensions: [{ Name: 'Metric', Value: 'demographic_parity' }, { Name: 'Model', Value: 'fraud' }],
      Threshold: 0.1,
    });
  });

  test('dev thresholds are looser', () => {
    const { stack } = stackFor(EnvironmentProfile.dev(), 'eu-west-1');
    new MlopsMonitoring(stack, 'Monitoring').addDriftAlarm({ model: 'fraud', feature: 'amount' });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: 0.3 });
  });

  test('rollout health is a composite of the model\'s alarms, with an action', () => {
    const { stack } = stackFor(EnvironmentProfile.prod(), 'eu-west-1');
    const m = new MlopsMonitoring(stack, 'Monitoring');
    const a = m.addModelQualityAlarm({ model: 'fraud', metric: 'auc', threshold: 0.8 });
    const b = m.addDriftAlarm({ model: 'fraud', feature: 'amount' });
    const composite = m.addRolloutHealthAlarm('fraud', [a, b]);
    expect(m.rolloutHealthAlarm('fraud')).toBe(composite);
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
      AlarmRule: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('ALARM\\(')])] },
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
  });

  test.each([
    ['an email that is not an address', (m: () => MlopsMonitoring) => new MlopsMonitoring(m().node.scope as any, 'X', { notifyEmails: ['oncall'] }), /'notifyEmails\[0\]' must be an email address \(received "oncall"\)/],
    ['drift threshold above 1', (m: () => MlopsMonitoring) => m().addDriftAlarm({ model: 'fraud', feature: 'amount', threshold: 3 }), /'threshold' must be a number between 0.001 and 1 \(received 3\)/],
    ['fairness threshold 0', (m: () => MlopsMonitoring) => m().addFairnessAlarm({ model: 'fraud', metric: 'dp', threshold: 0 }), /'threshold' must be a number between 0.001 and 1 \(received 0\)/],
    ['model name with spaces', (m: () => MlopsMonitoring) => m().addDriftAlarm({ model: 'Fraud Model', feature: 'amount' }), /'model' must be lower-case letters/],
    ['metric name with spaces', (m: () => MlopsMonitoring) => m().addModelQualityAlarm({ model: 'fraud', metric: 'my metric', threshold: 1 }), /'metric' must be a metric name/],
    ['rollout health with no alarms', (m: () => MlopsMonitoring) => m().addRolloutHealthAlarm('fraud', []), /'alarms' must name at least one alarm/],
    ['charges threshold negative', (m: () => MlopsMonitoring) => new MlopsMonitoring(m().node.scope as any, 'Y', { estimatedChargesThresholdUsd: -1 }), /'estimatedChargesThresholdUsd' must be a number greater than 0/],
  ])('rejects %s', (_name, build, message) => {
    const { stack } = stackFor(EnvironmentProfile.prod(), 'eu-west-1');
    const monitoring = new MlopsMonitoring(stack, 'Monitoring');
    expect(() => build(() => monitoring)).toThrow(ValidationError);
    const { stack: stack2 } = stackFor(EnvironmentProfile.prod(), 'eu-west-1');
    const monitoring2 = new MlopsMonitoring(stack2, 'Monitoring');
    expect(() => build(() => monitoring2)).toThrow(message);
  });

  test('a duplicate alarm is rejected', () => {
    const { stack } = stackFor(EnvironmentProfile.prod(), 'eu-west-1');
    const m = new MlopsMonitoring(stack, 'Monitoring');
    m.addDriftAlarm({ model: 'fraud', feature: 'amount' });
    expect(() => m.addDriftAlarm({ model: 'fraud', feature: 'amount' })).toThrow(/'alarm' already exists \(received "Drift-fraud-amount"\)/);
  });

  test('cfn-lint and cdk-nag clean', () => {
    const { app, stack } = stackFor(EnvironmentProfile.prod());
    const m = new MlopsMonitoring(stack, 'Monitoring', { notifyEmails: ['oncall@example.com'] });
    m.addRolloutHealthAlarm('fraud', [m.addModelQualityAlarm({ model: 'fraud', metric: 'auc', threshold: 0.8 }), m.addFairnessAlarm({ model: 'fraud', metric: 'dp' })]);
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});
