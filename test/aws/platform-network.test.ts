import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { cfnLint, collectAcknowledgements, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks, EnvironmentProfile, MlopsStack, PlatformNetwork, PlatformNetworkProps } from 'mlops-constructs';

function build(profile: EnvironmentProfile, props: PlatformNetworkProps = {}) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Env', { profile, project: 'p' });
  const network = new PlatformNetwork(stack, 'Network', props);
  return { app, stack, network, template: Template.fromStack(stack) };
}

function subnetsOfType(template: Template, type: string): number {
  return Object.keys(template.findResources('AWS::EC2::Subnet', {
    Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: type }]) },
  })).length;
}

describe('PlatformNetwork', () => {
  test('dev: two zones, one NAT gateway, public/private/isolated subnets', () => {
    const { template, network } = build(EnvironmentProfile.dev());
    expect(subnetsOfType(template, 'Public')).toBe(2);
    expect(subnetsOfType(template, 'Private')).toBe(2);
    expect(subnetsOfType(template, 'Isolated')).toBe(2);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    expect(network.vpc.privateSubnets).toHaveLength(2);
    expect(network.vpc.isolatedSubnets).toHaveLength(2);
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16' });
  });

  test('prod: three zones with a NAT gateway in each', () => {
    const { template } = build(EnvironmentProfile.prod());
    expect(subnetsOfType(template, 'Public')).toBe(3);
    expect(subnetsOfType(template, 'Private')).toBe(3);
    expect(subnetsOfType(template, 'Isolated')).toBe(3);
    template.resourceCountIs('AWS::EC2::NatGateway', 3);
    template.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: { 'Fn::Select': [2, { 'Fn::GetAZs': '' }] } });
  });

  test('maxAzs, natGateways and cidr override the profile', () => {
    const { template } = build(EnvironmentProfile.prod(), { maxAzs: 4, natGateways: 2, cidr: '10.20.0.0/17' });
    expect(subnetsOfType(template, 'Private')).toBe(4);
    template.resourceCountIs('AWS::EC2::NatGateway', 2);
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.20.0.0/17' });
  });

  test('an environment-specific stack uses the zones CDK knows for the region', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.prod(), project: 'p', env: { account: '111111111111', region: 'eu-west-1' } });
    const network = new PlatformNetwork(stack, 'Network');
    expect(network.vpc.availabilityZones).toEqual(['dummy1a', 'dummy1b', 'dummy1c']);
  });

  test('no subnet maps public IPs on launch', () => {
    const { template } = build(EnvironmentProfile.dev());
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet'));
    expect(subnets.map((s) => s.Properties.MapPublicIpOnLaunch)).toEqual(subnets.map(() => false));
  });

  test('flow logs of all traffic go to a KMS-encrypted log group with the profile retention', () => {
    const dev = build(EnvironmentProfile.dev()).template;
    dev.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    dev.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 14, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('NetworkKey'), 'Arn'] } },
      DeletionPolicy: 'Delete',
    });
    dev.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const prod = build(EnvironmentProfile.prod()).template;
    prod.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 365 }, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    prod.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });

  test('the flow-log role has a managed policy scoped to the log group', () => {
    const { template } = build(EnvironmentProfile.dev());
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('NetworkFlowLogs'), 'Arn'] },
        }],
      },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'vpc-flow-logs.amazonaws.com' } })],
      }),
    });
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('a given key encrypts the flow logs and no key is created; traffic type is configurable', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    const key = new kms.Key(stack, 'Given');
    new PlatformNetwork(stack, 'Network', { encryptionKey: key, flowLogTrafficType: ec2.FlowLogTrafficType.REJECT });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Given'), 'Arn'] } });
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  test('has an S3 gateway endpoint and restricts the default security group', () => {
    const { template } = build(EnvironmentProfile.dev());
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });

  test('acknowledges only the public subnets\' internet routes (besides CDK\'s own flow-log schema notes)', () => {
    const { app } = build(EnvironmentProfile.prod());
    const acks = collectAcknowledgements(app).filter((a) => a.path.startsWith('Network/')).map((a) => `${a.id} ${a.path}`).sort();
    expect(acks).toEqual([
      'F3002 Network/Vpc/FlowLog',
      'F3003 Network/Vpc/FlowLog',
      ...[1, 2, 3].flatMap((i) => [
        `HIPAA.Security-VPCNoUnrestrictedRouteToIGW Network/Vpc/PublicSubnet${i}/DefaultRoute`,
        `NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW Network/Vpc/PublicSubnet${i}/DefaultRoute`,
      ]),
    ].sort());
  });

  describe('rejects bad input', () => {
    const cases: Array<[string, PlatformNetworkProps, RegExp]> = [
      ['maxAzs 0', { maxAzs: 0 }, /'maxAzs' must be a whole number between 1 and 6 \(received 0\)/],
      ['maxAzs 7', { maxAzs: 7 }, /'maxAzs'.*received 7.*Fix: set 'maxAzs'/],
      ['fractional maxAzs', { maxAzs: 2.5 }, /'maxAzs'.*received 2.5/],
      ['natGateways 0', { natGateways: 0 }, /'natGateways' must be a whole number between 1 and 2 \(received 0\).*need a NAT gateway/],
      ['more NAT gateways than zones', { maxAzs: 2, natGateways: 3 }, /'natGateways'.*received 3.*from 1 to 2 \('maxAzs'\)/],
      ['malformed cidr', { cidr: '10.0.0/16' }, /'cidr' must be an IPv4 CIDR block with a \/16 or \/17 prefix.*"10.0.0\/16"/],
      ['too small a cidr', { cidr: '10.0.0.0/24' }, /'cidr'.*"10.0.0.0\/24".*Fix: change 'cidr'/],
    ];
    test.each(cases)('%s', (_name, props, message) => {
      expect(() => build(EnvironmentProfile.dev(), props)).toThrow(message);
    });
  });

  test('with only required props it is cfn-lint clean and cdk-nag clean (dev and prod)', () => {
    const app = newApp();
    for (const profile of [EnvironmentProfile.dev(), EnvironmentProfile.prod()]) {
      const stack = new MlopsStack(app, profile.name, { profile, project: 'p' });
      new PlatformNetwork(stack, 'Network');
    }
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});

describe('PlatformNetwork bad input found by the fuzz suite', () => {
  test('a flowLogTrafficType that is not ALL, ACCEPT or REJECT is a ValidationError (was passed to the template)', () => {
    expect(() => build(EnvironmentProfile.dev(), { flowLogTrafficType: 'SOME' as ec2.FlowLogTrafficType }))
      .toThrow(/'flowLogTrafficType' must be one of "ACCEPT", "ALL", "REJECT" \(received "SOME"\)/);
  });
});
