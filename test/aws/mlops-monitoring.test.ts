import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, ImageRepository, InferenceFleet, MlopsMonitoring, MlopsStack, ModelEndpoint,
  PlatformNetwork,
  QualityDirection, ValidationError,
} from 'mlops-constructs';

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

describe('MlopsMonitoring bad input found by the fuzz suite', () => {
  test('notifyEmails given as one string, not a list, is a ValidationError (was a TypeError)', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    expect(() => new MlopsMonitoring(stack, 'M', { notifyEmails: 'ops@example.com' as any }))
      .toThrow(/'notifyEmails' must be a list of email addresses \(received "ops@example.com"\)\. Fix: wrap the address in a list/);
  });

  test('a dashboardName CloudWatch rejects is a ValidationError naming the prop (was a CDK error)', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    expect(() => new MlopsMonitoring(stack, 'M', { dashboardName: 'my dashboard!' })).toThrow(ValidationError);
    expect(() => new MlopsMonitoring(stack, 'M2', { dashboardName: 'my dashboard!' })).toThrow(/'dashboardName' must be 1-255 letters, digits, "-" or "_"/);
    new MlopsMonitoring(stack, 'M3', { dashboardName: 'team_a-dashboard' });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'team_a-dashboard' });
  });
});

describe('MlopsMonitoring per-model dashboards (found by the benchmark)', () => {
  // One environment dashboard with a row per model passed CloudWatch's 500 widgets and ~800 KB of parent template
  // at 100 models; a model monitored in its own scope now gets its own dashboard there.
  const metric = (metricName: string) => new cloudwatch.Metric({ namespace: 'Test', metricName });
  const serving = {
    metricLatency: () => metric('Latency'),
    metric5xx: () => metric('5xx'),
    metricErrorRate: () => new cloudwatch.MathExpression({ expression: 'm', usingMetrics: { m: metric('5xx') } }),
    metricInvocations: () => metric('Invocations'),
    metricGpuUtilization: () => metric('Gpu'),
  };

  test('monitorServing with a scope puts the model\'s graphs and alarm widgets on a dashboard in that scope', () => {
    const { stack } = stackFor(EnvironmentProfile.prod());
    const m = new MlopsMonitoring(stack, 'Monitoring', { dashboardName: 'env' });
    const modelScope = new Construct(stack, 'Model-fraud');
    m.monitorServing('fraud', serving, { scope: modelScope });
    const dashboards = Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard');
    const byName = Object.fromEntries(Object.entries(dashboards)
      .map(([id, d]: [string, any]) => [d.Properties.DashboardName, { id, body: JSON.stringify(d.Properties.DashboardBody) }]));
    expect(Object.keys(byName).sort()).toEqual(['env', 'env-fraud']);
    expect(byName['env-fraud'].id).toMatch(/^ModelfraudDashboardfraud/);
    expect(byName['env-fraud'].body).toContain('fraud: latency (ms)');
    expect(byName['env-fraud'].body).toContain('fraud: p99 latency above');
    expect(byName.env.body).not.toContain('fraud');
  });

  test('without a scope the model stays on the environment dashboard', () => {
    const { stack } = stackFor(EnvironmentProfile.prod());
    new MlopsMonitoring(stack, 'Monitoring', { dashboardName: 'env' }).monitorServing('fraud', serving);
    const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    expect(JSON.stringify(dashboards[0].Properties.DashboardBody)).toContain('fraud: latency (ms)');
  });
});

describe('MlopsMonitoring.monitor', () => {
  test('takes an InferenceFleet and a ModelEndpoint as they are (their modelName names the alarms)', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const network = new PlatformNetwork(stack, 'Network');
    const serving = {
      vpc: network.vpc, artifactStore: new ArtifactStore(stack, 'Store'), image: new ImageRepository(stack, 'Images'), imageTag: 't', modelVersion: 'v1',
    };
    const fleet = new InferenceFleet(stack, 'Fleet', { ...serving, modelName: 'fraud' });
    const endpoint = new ModelEndpoint(stack, 'Endpoint', { ...serving, modelName: 'churn' });
    expect([fleet.modelName, endpoint.modelName]).toEqual(['fraud', 'churn']);
    const monitoring = new MlopsMonitoring(stack, 'Monitoring');
    monitoring.monitor(fleet).monitor(endpoint);
    expect(monitoring.rolloutHealthAlarm('fraud')).toBeDefined();
    expect(monitoring.rolloutHealthAlarm('churn')).toBeDefined();
  });

  test('rejects what it cannot monitor with the prop, the value and the fix (JavaScript callers)', () => {
    const { stack } = stackFor(EnvironmentProfile.dev());
    const monitoring = new MlopsMonitoring(stack, 'Monitoring');
    expect(() => monitoring.monitor(new Construct(stack, 'Other') as any)).toThrow(ValidationError);
    expect(() => monitoring.monitor(new Construct(stack, 'Other2') as any))
      .toThrow(/'monitor\(target\)' is not an InferenceFleet, ModelEndpoint, GpuTrainingCluster or ModelRegistry \(received "Env\/Other2"\)\. Fix: pass one of those constructs/);
  });
});
