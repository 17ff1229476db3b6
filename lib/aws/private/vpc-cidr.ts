import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Check } from '../../core';

/**
 * The VPC's CIDR block, for a default that admits the VPC. An imported VPC without `vpcCidrBlock` throws aws-cdk-lib's
 * `CannotPerformOperationVpcCidr`, about an attribute the user never saw: say which prop to set instead.
 */
export function vpcCidrFor(check: Check, vpc: ec2.IVpc, instead: string): string {
  try {
    return vpc.vpcCidrBlock;
  } catch {
    return check.fail('vpc', vpc.node.path, 'is an imported VPC without vpcCidrBlock, which the default network access needs',
      `pass vpcCidrBlock to Vpc.fromVpcAttributes (or Vpc.fromLookup), or set ${instead}.`);
  }
}
