import { CfnResource, Fn, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { defaultNetworkZoneCount, EnvironmentProfile } from '../core';
import { newRotatingKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

export interface PlatformNetworkProps {
  /**
   * IPv4 range of the VPC. A /16 or /17 leaves room for the public, private and isolated subnets of up to
   * six availability zones.
   * @default '10.0.0.0/16'
   */
  readonly cidr?: string;
  /**
   * Number of availability zones, 1-6.
   * @default - 3 where the profile is multi-AZ, otherwise 2
   */
  readonly maxAzs?: number;
  /**
   * Number of NAT gateways, 1 to the number of availability zones. The private subnets need at least one
   * for egress; one per zone keeps egress up when a zone fails.
   * @default - one per availability zone where the profile is multi-AZ, otherwise 1
   */
  readonly natGateways?: number;
  /**
   * Key the flow-log group is encrypted with. Its key policy must let CloudWatch Logs use it
   * (`PlatformKey` does).
   * @default - a new key with rotation, usable by CloudWatch Logs
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Traffic the VPC flow logs record.
   * @default ec2.FlowLogTrafficType.ALL
   */
  readonly flowLogTrafficType?: ec2.FlowLogTrafficType;
  /**
   * More S3 object ARNs (outside this account) the VPC may reach through its S3 gateway endpoint, e.g. a partner's
   * dataset bucket `arn:aws:s3:::partner-datasets/*`. The endpoint allows the account's own buckets and the AWS-owned
   * buckets instances need (ECR image layers, Amazon Linux and SSM agent repositories) and nothing else.
   * @default - none
   */
  readonly additionalS3Resources?: string[];
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/** AWS-owned buckets instances of the platform read from (ECR layers, OS packages, the SSM agent), per region. */
function awsOwnedBuckets(region: string): string[] {
  return [
    `prod-${region}-starport-layer-bucket`, `al2023-repos-${region}-*`, `amazonlinux-2-repos-${region}`, `amazonlinux.${region}.amazonaws.com`,
    `repo.${region}.amazonaws.com`, `packages.${region}.amazonaws.com`, `amazon-ssm-${region}`, `amazon-ssm-packages-${region}`,
    `aws-ssm-${region}`, `${region}-birdwatcher-prod`, `aws-ssm-document-attachments-${region}`,
  ];
}

/** Subnet group names, also the names `SubnetSelection.subnetGroupName` accepts. */
const PUBLIC = 'Public';
const PRIVATE = 'Private';
const ISOLATED = 'Isolated';

/**
 * The platform's network: a VPC with public subnets (NAT gateways only; no instance gets a public IP),
 * private subnets with egress (training, serving, tracking) and isolated subnets (databases), flow logs of
 * all traffic to an encrypted log group, an S3 gateway endpoint so data does not cross the NAT gateways (its policy
 * admits only the account's buckets and the AWS-owned buckets instances need), and the default security group
 * stripped of its rules.
 */
export class PlatformNetwork extends Construct {
  public readonly vpc: ec2.Vpc;
  /** The S3 gateway endpoint: its policy admits the account's buckets and the AWS-owned buckets instances need. */
  public readonly s3Endpoint: ec2.GatewayVpcEndpoint;
  /** The encrypted log group the VPC flow logs are delivered to. */
  public readonly flowLogGroup: logs.LogGroup;
  /** Key the flow-log group is encrypted with. */
  public readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: PlatformNetworkProps = {}) {
    super(scope, id);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);

    const cidr = props.cidr ?? '10.0.0.0/16';
    check.matches('cidr', cidr, CIDR_16_OR_17, 'an IPv4 CIDR block with a /16 or /17 prefix, such as \'10.0.0.0/16\'');
    const maxAzs = check.integerInRange('maxAzs', props.maxAzs, 1, 6) ?? defaultNetworkZoneCount(profile);
    const natGateways = check.integerInRange('natGateways', props.natGateways, 1, maxAzs,
      `set 'natGateways' to a whole number from 1 to ${maxAzs} ('maxAzs'): the private subnets need a NAT gateway for egress.`)
      ?? (profile.multiAz ? maxAzs : 1);
    // CDK passes any string through to the template, which CloudFormation then rejects at deploy time.
    check.oneOf('flowLogTrafficType', props.flowLogTrafficType, Object.values(ec2.FlowLogTrafficType));

    const stack = Stack.of(this);
    // An environment-agnostic stack only knows two zones; name more from Fn::GetAZs so a multi-AZ profile
    // really gets three.
    const agnostic = Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region);
    const zones = agnostic ? Array.from({ length: maxAzs }, (_, i) => Fn.select(i, Fn.getAzs())) : undefined;

    (props.additionalS3Resources ?? []).forEach((arn, i) => check.matches(`additionalS3Resources[${i}]`, arn, /^arn:aws[a-z-]*:s3:::[^/]+\/.*$/,
      "an S3 object ARN such as 'arn:aws:s3:::partner-datasets/*'"));
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(cidr),
      ...(zones ? { availabilityZones: zones } : { maxAzs }),
      natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: PUBLIC, subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: PRIVATE, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: ISOLATED, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
    });

    this.s3Endpoint = this.vpc.node.findChild('S3') as ec2.GatewayVpcEndpoint;
    // The endpoint is the VPC's only path to S3 that does not cross a NAT gateway: it reaches the account's buckets and
    // what AWS needs, so a compromised workload cannot copy data to a bucket of another account through it.
    this.s3Endpoint.addToPolicy(new iam.PolicyStatement({
      sid: 'AllowThisAccountsBuckets',
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:ResourceAccount': stack.account } },
    }));
    this.s3Endpoint.addToPolicy(new iam.PolicyStatement({
      sid: 'AllowAwsOwnedBucketsInstancesNeed',
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:GetObject'],
      resources: [...awsOwnedBuckets(stack.region).map((b) => `arn:${stack.partition}:s3:::${b}/*`), ...(props.additionalS3Resources ?? [])],
    }));
    this.encryptionKey = props.encryptionKey ?? this.newLogsKey(profile);
    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: this.encryptionKey,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    acknowledgeProfileLogRetention(this.flowLogGroup, profile.logRetentionDays);
    // A managed policy instead of the inline one CDK would add (IAMNoInlinePolicy); the role is handed to
    // CDK without policy updates so it adds nothing inline.
    const flowLogRole = new iam.Role(this, 'FlowLogRole', {
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `Delivers the flow logs of ${this.node.path} to CloudWatch Logs`,
    });
    const flowLogPolicy = new iam.ManagedPolicy(this, 'FlowLogPolicy', {
      description: `Writes the flow logs of ${this.node.path} to their log group`,
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [this.flowLogGroup.logGroupArn],
        }),
      ],
    });
    flowLogRole.addManagedPolicy(flowLogPolicy);
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup, flowLogRole.withoutPolicyUpdates()),
      trafficType: props.flowLogTrafficType ?? ec2.FlowLogTrafficType.ALL,
    });

    for (const subnet of this.vpc.publicSubnets) {
      const route = subnet.node.tryFindChild('DefaultRoute');
      if (route) {
        const reason = 'The public subnets hold only the NAT gateways, which need a default route to the internet gateway; '
          + 'no instance there gets a public IP and workloads run in the private and isolated subnets.';
        Validations.of(route).acknowledge(
          { id: 'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW', reason },
          { id: 'HIPAA.Security-VPCNoUnrestrictedRouteToIGW', reason },
        );
      }
    }
    removeRedundantProviderDependency(stack);
  }

  private newLogsKey(profile: EnvironmentProfile): kms.Key {
    return newRotatingKey(this, `Flow logs of ${this.node.path}`, statefulRemovalPolicy(profile));
  }
}

const CIDR_16_OR_17 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/1[67]$/;

/**
 * The provider behind `restrictDefaultSecurityGroup` declares DependsOn its role while its handler already
 * references the role with Fn::GetAtt; cfn-lint flags the duplicate (W3005). The GetAtt keeps the order.
 */
function removeRedundantProviderDependency(stack: Stack): void {
  const provider = stack.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
  const role = provider?.node.tryFindChild('Role');
  const handler = provider?.node.tryFindChild('Handler');
  if (CfnResource.isCfnResource(role) && CfnResource.isCfnResource(handler)) {
    handler.addDeletionOverride('DependsOn');
    Validations.of(handler).acknowledge({
      id: 'cdk-validator-cfnguard::lambda_inside_vpc_check',
      reason: "aws-cdk-lib's provider behind restrictDefaultSecurityGroup: it runs only during deployments, calls only the EC2 API to "
        + 'remove the default security group\'s rules, and must work before the VPC\'s endpoints exist, so it runs outside the VPC.',
    });
  }
}
