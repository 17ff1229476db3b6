import * as iam from 'aws-cdk-lib/aws-iam';
import * as organizations from 'aws-cdk-lib/aws-organizations';
import { Construct } from 'constructs';
import { acceleratedEc2Patterns, acceleratedSageMakerPatterns, organizationBrakeStatements } from '../core';
import { checkFor } from './scope';

export interface OrganizationGpuBrakeProps {
  /**
   * Where the service control policy is attached: account ids (`123456789012`), organizational units (`ou-...`)
   * or the root (`r-...`), typically the OU of the platform's accounts.
   */
  readonly targetIds: string[];
  /**
   * Principals (ARN patterns) never denied, e.g. a break-glass role `arn:aws:iam::*:role/break-glass`. The brake's
   * own roles are exempt by their `mlops:brake-controller` tag, which the permission boundary lets no platform role set.
   * @default - none
   */
  readonly exemptPrincipalArns?: string[];
  /**
   * Deny GPU growth and accelerated launches to every other principal of the targets, whatever the resources' tags:
   * the brake engaged for whole accounts while the policy is attached (detach it, or set this to false, to release).
   * @default false - only what the brake capped is protected
   */
  readonly denyAllGpuGrowth?: boolean;
  /** @default - `mlops-gpu-brake` */
  readonly policyName?: string;
}

/** Organizations' limit on a service control policy's size. */
const SCP_MAX_CHARS = 5120;
const TARGET = /^(\d{12}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$/;

/**
 * The GPU brake as an AWS Organizations service control policy, for the management (or delegated administrator)
 * account. `GpuBrake` holds for the roles the platform creates, which its permission boundary caps; this holds for
 * every principal of the target accounts — administrators and the CloudFormation deploy role included — except
 * service-linked roles (which SCPs never restrict, and which only act within the bounds the brake set) and the
 * exempt principals: no one raises capacity the brake capped, changes the brake's tag or detaches its deny policy.
 * With `denyAllGpuGrowth` it is the brake itself, for whole accounts: no GPU growth and no accelerated launch.
 *
 * @example
 * new OrganizationGpuBrake(managementStack, 'GpuBrake', {
 *   targetIds: ['ou-ab12-cdef3456'],
 *   exemptPrincipalArns: ['arn:aws:iam::*:role/break-glass'],
 * });
 */
export class OrganizationGpuBrake extends Construct {
  public readonly policy: organizations.CfnPolicy;
  /** The policy's statements, as attached. */
  public readonly document: iam.PolicyDocument;

  constructor(scope: Construct, id: string, props: OrganizationGpuBrakeProps) {
    super(scope, id);
    const check = checkFor(this);
    if (!Array.isArray(props?.targetIds) || props.targetIds.length === 0) {
      check.fail('targetIds', props?.targetIds, 'must name at least one account, organizational unit or root',
        "give the OU of the platform's accounts, e.g. targetIds: ['ou-ab12-cdef3456'] (aws organizations list-organizational-units-for-parent).");
    }
    props.targetIds.forEach((t, i) => check.matches(`targetIds[${i}]`, t, TARGET, "an account id ('123456789012'), an OU id ('ou-ab12-cdef3456') or a root id ('r-ab12')"));
    (props.exemptPrincipalArns ?? []).forEach((a, i) => check.matches(`exemptPrincipalArns[${i}]`, a, /^arn:aws[a-z-]*:(iam|sts)::[\d*]*:[\w+=,.@\-/*:]+$/,
      "an IAM principal ARN pattern such as 'arn:aws:iam::*:role/break-glass'"));
    const name = props.policyName ?? 'mlops-gpu-brake';
    check.matches('policyName', name, /^[\w+=,.@-]{1,128}$/, "letters, digits and '+=,.@_-'");

    const statements = organizationBrakeStatements({
      exemptPrincipalArns: props.exemptPrincipalArns ?? [],
      denyAllGpuGrowth: props.denyAllGpuGrowth ?? false,
      acceleratedEc2: acceleratedEc2Patterns(),
      acceleratedSageMaker: acceleratedSageMakerPatterns(),
    });
    this.document = iam.PolicyDocument.fromJson({ Version: '2012-10-17', Statement: statements });
    const size = JSON.stringify(this.document.toJSON()).length;
    if (size > SCP_MAX_CHARS) {
      check.fail('exemptPrincipalArns', props.exemptPrincipalArns, `make the policy ${size} characters, more than the ${SCP_MAX_CHARS} an SCP may have`,
        "exempt fewer principals, or one path pattern such as 'arn:aws:iam::*:role/break-glass/*'.");
    }
    this.policy = new organizations.CfnPolicy(this, 'Resource', {
      name,
      type: 'SERVICE_CONTROL_POLICY',
      description: props.denyAllGpuGrowth
        ? 'GPU brake engaged: no GPU growth or accelerated launches; what the brake capped stays capped'
        : 'GPU brake guard: what the brake capped stays capped; its tag and deny policy stay in place',
      content: this.document.toJSON(),
      targetIds: [...props.targetIds],
    });
  }
}
