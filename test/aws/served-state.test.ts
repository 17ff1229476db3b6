import { Aws, NestedStack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { evaluate } from '../support/cfn-eval';
import { cfnLint, describe as describeFindings, newApp, templatesIn } from '../support/gate';
import { EnvironmentProfile, MlopsStack, ServedStateParameter, ValidationError } from 'mlops-constructs';

const CANARY = { variants: [{ variant: 'current', version: 'v7', weight: 90 }, { variant: 'candidate', version: 'v8', weight: 10 }] };

/** GIVEN a data stack holding the served state and a serving stack whose nested stack reads it. */
function build() {
  const app = newApp();
  const profile = EnvironmentProfile.prod();
  const data = new MlopsStack(app, 'Data', { profile, project: 'fraud', stackName: 'fraud-prod-data' });
  const serving = new MlopsStack(app, 'Serving', { profile, project: 'fraud', stackName: 'fraud-prod-serving' });
  const state = new ServedStateParameter(data, 'ScoringState', { environmentPrefix: 'fraud-prod', model: 'scoring', initialState: CANARY });
  const nested = new NestedStack(serving, 'Model-scoring');
  const reader = state.readIn(nested);
  // Stand-ins for what a fleet renders from the state: a version in a URI and a listener weight.
  const probe = new ssm.CfnParameter(nested, 'Probe', {
    type: 'String',
    value: `s3://models/served/scoring/${reader.version('candidate')}/`,
    description: JSON.stringify({}),
  });
  probe.addPropertyOverride('Tags', {
    currentVersion: reader.version('current'),
    currentWeight: reader.weight('current'),
    candidateVersion: reader.version('candidate'),
    candidateWeight: reader.weight('candidate'),
  });
  const writer = new iam.Role(nested, 'Writer', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
  state.grantReadWrite(writer);
  return { app, data, serving, nested, state, reader };
}

describe('ServedStateParameter', () => {
  let built: ReturnType<typeof build>;
  let dataTemplate: Template;
  let servingTemplate: Template;
  let nestedTemplate: Template;
  beforeAll(() => {
    built = build();
    dataTemplate = Template.fromStack(built.data);
    servingTemplate = Template.fromStack(built.serving);
    nestedTemplate = Template.fromStack(built.nested);
  });

  test('the data stack creates the String parameter with the code\'s initial state', () => {
    dataTemplate.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/mlops/fraud-prod/served/scoring',
      Type: 'String',
      Tier: 'Standard',
      Value: 'current=v7@90,candidate=v8@10',
    });
    expect(built.state.parameterName).toBe('/mlops/fraud-prod/served/scoring');
    // Nothing is exported: readers find the parameter by name.
    expect(dataTemplate.toJSON().Outputs ?? {}).toEqual({});
  });

  test('the serving stack declares one SSM-typed template parameter defaulting to the name, passed into the nested stack', () => {
    const params = Object.entries(servingTemplate.toJSON().Parameters ?? {})
      .filter(([, p]: [string, any]) => p.Type === 'AWS::SSM::Parameter::Value<String>' && p.Default === '/mlops/fraud-prod/served/scoring');
    expect(params).toHaveLength(1);
    const [logicalId] = params[0];
    const nestedResource = Object.values(servingTemplate.findResources('AWS::CloudFormation::Stack'))[0];
    const passed = Object.entries(nestedResource.Properties.Parameters).filter(([, v]) => JSON.stringify(v) === JSON.stringify({ Ref: logicalId }));
    expect(passed).toHaveLength(1);
    // The nested stack takes it as a plain String parameter (CloudFormation resolved it in the parent).
    expect(nestedTemplate.toJSON().Parameters[passed[0][0]].Type).toBe('String');
    expect(passed[0][0]).toMatch(/^ServedStatescoring/);
    // Reading it again in the same stack reuses the parameter.
    expect(built.state.readIn(built.nested)).toBe(built.reader);
  });

  test('versions and weights resolve from whatever value Parameter Store holds at deploy time', () => {
    const probe = Object.values(nestedTemplate.findResources('AWS::SSM::Parameter'))[0];
    const parameterName = Object.keys(nestedTemplate.toJSON().Parameters)
      .find((k) => nestedTemplate.toJSON().Parameters[k].Type === 'String' && k.includes('ServedState'))!;
    // What a rollout wrote after the canary step, not what the code started with: a deploy renders it unchanged.
    const resolved = evaluate(probe.Properties, { [parameterName]: 'current=v7@40,candidate=v8@60' });
    expect(resolved.Value).toBe('s3://models/served/scoring/v8/');
    expect(resolved.Tags).toMatchObject({ currentVersion: 'v7', currentWeight: '40', candidateVersion: 'v8', candidateWeight: '60' });
    const promoted = evaluate(probe.Properties, { [parameterName]: 'current=v8@100,candidate=v8@0' });
    expect(promoted.Tags).toMatchObject({ currentVersion: 'v8', currentWeight: '100', candidateVersion: 'v8', candidateWeight: '0' });
  });

  test('the serving stack deploys after the stack holding the parameter', () => {
    expect(built.serving.dependencies).toContain(built.data);
  });

  test('grants name the parameter\'s ARN, built from its name (no cross-stack export)', () => {
    const again = nestedTemplate;
    const policy = Object.values(again.findResources('AWS::IAM::Policy'))[0];
    const statement = policy.Properties.PolicyDocument.Statement[0];
    expect(statement.Action).toEqual(['ssm:GetParameter', 'ssm:GetParameters', 'ssm:PutParameter']);
    expect(evaluate(statement.Resource, {}, { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '111111111111' }))
      .toBe('arn:aws:ssm:eu-west-1:111111111111:parameter/mlops/fraud-prod/served/scoring');
    expect(JSON.stringify(again.toJSON())).not.toContain('Fn::ImportValue');
  });

  test('cfn-lint passes the data, serving and nested templates', () => {
    const findings = cfnLint(templatesIn(built.app.synth().directory));
    expect(describeFindings(findings)).toBe('');
  });
});

describe('ServedStateParameter errors', () => {
  function stacks() {
    const app = newApp();
    const profile = EnvironmentProfile.dev();
    return { data: new MlopsStack(app, 'Data', { profile, project: 'p' }), serving: new MlopsStack(app, 'Serving', { profile, project: 'p' }) };
  }

  test('an initial state that does not sum to 100 names the prop and the fix', () => {
    const { data } = stacks();
    expect(() => new ServedStateParameter(data, 'S', {
      environmentPrefix: 'p-dev', model: 'm', initialState: { variants: [{ variant: 'current', version: 'v1', weight: 90 }] },
    })).toThrow(/Data\/S\/initialState: 'variants\[\]\.weight' .*must sum to 100/);
  });

  test('read in the stack that creates it: CloudFormation could not resolve it on create', () => {
    const { data } = stacks();
    const state = new ServedStateParameter(data, 'S', { environmentPrefix: 'p-dev', model: 'm', initialState: { variants: [{ variant: 'current', version: 'v1', weight: 100 }] } });
    expect(() => state.readIn(new NestedStack(data, 'Nested'))).toThrow(ValidationError);
    expect(() => state.readIn(data)).toThrow(/deploys before the serving stack/);
  });

  test('a token as environment prefix is refused (the name must be literal)', () => {
    const { data } = stacks();
    expect(() => new ServedStateParameter(data, 'S', {
      environmentPrefix: Aws.STACK_NAME, model: 'm', initialState: { variants: [{ variant: 'current', version: 'v1', weight: 100 }] },
    })).toThrow(/'environmentPrefix' .*must be a literal/);
  });

  test('an unknown variant names the ones the state has', () => {
    const { data, serving } = stacks();
    const state = new ServedStateParameter(data, 'S', { environmentPrefix: 'p-dev', model: 'm', initialState: CANARY });
    expect(() => state.readIn(serving).weight('blue')).toThrow(/'variant' .*"blue".*use one of current, candidate/);
  });
});
