import { Check } from '../core';

/** How pods of a namespace get cloud credentials. */
export enum WorkloadIdentityKind {
  /** IAM Roles for Service Accounts: the ServiceAccount carries `eks.amazonaws.com/role-arn`. */
  IRSA = 'irsa',
  /** EKS Pod Identity: an association on the cluster maps the ServiceAccount to the role. */
  POD_IDENTITY = 'pod-identity',
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_\-/]{1,512}$/;

/**
 * The cloud identity a team's ServiceAccount assumes to reach the artifact store.
 *
 * @example
 * WorkloadIdentity.irsa('arn:aws:iam::123456789012:role/team-a-workloads')
 */
export class WorkloadIdentity {
  /** IRSA: annotate the ServiceAccount with the role ARN (the cluster's OIDC provider must be trusted by the role). */
  public static irsa(roleArn: string): WorkloadIdentity {
    return new WorkloadIdentity(WorkloadIdentityKind.IRSA, checkRoleArn('identity.irsa.roleArn', roleArn));
  }

  /**
   * EKS Pod Identity: nothing on the ServiceAccount is required; the role is associated with
   * `<namespace>/<serviceAccount>` on the AWS side (an `AWS::EKS::PodIdentityAssociation`). The ARN is
   * recorded as an annotation so the association can be checked against it.
   */
  public static podIdentity(roleArn: string): WorkloadIdentity {
    return new WorkloadIdentity(WorkloadIdentityKind.POD_IDENTITY, checkRoleArn('identity.podIdentity.roleArn', roleArn));
  }

  private constructor(public readonly kind: WorkloadIdentityKind, public readonly roleArn: string) {}
}

function checkRoleArn(prop: string, roleArn: string): string {
  const check = new Check('WorkloadIdentity');
  if (roleArn === undefined || roleArn === null || roleArn === '') {
    check.fail(prop, roleArn, 'is required', 'pass the ARN of the IAM role the workloads assume.');
  }
  check.matches(prop, roleArn, ROLE_ARN, "an IAM role ARN such as 'arn:aws:iam::123456789012:role/team-a'");
  return roleArn;
}
