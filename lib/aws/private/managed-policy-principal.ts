import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * A principal that puts granted statements into a customer managed policy instead of the role's inline
 * default policy (NIST 800-53 and HIPAA flag inline policies). It reports the role's account, so grants on
 * resources of another stack in the same account go to this policy, never to the resource's policy (which
 * would make the resource's stack depend on the role's).
 */
export class ManagedPolicyPrincipal extends iam.PrincipalBase {
  public readonly assumeRoleAction: string;
  public readonly principalAccount: string | undefined;

  constructor(private readonly role: iam.IRole, private readonly policy: iam.ManagedPolicy) {
    super();
    this.assumeRoleAction = role.assumeRoleAction;
    this.principalAccount = role.principalAccount;
  }

  public get policyFragment(): iam.PrincipalPolicyFragment {
    return this.role.policyFragment;
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.policy };
  }

  public dedupeString(): string | undefined {
    return undefined;
  }

  public toString(): string {
    return `ManagedPolicyPrincipal(${this.role.node.path})`;
  }
}

/**
 * A grantee whose grants land in a customer managed policy attached to `role` instead of the role's inline default
 * policy, which NIST 800-53 and HIPAA flag (IAMNoInlinePolicy). Use it for grants you add to roles the library made:
 * `registry.grantConnect(managedPolicyGrantee(job.jobRole, policy), 'fraud_trainer')`.
 */
export function managedPolicyGrantee(role: iam.IRole, policy: iam.ManagedPolicy): iam.IGrantable {
  return { grantPrincipal: new ManagedPolicyPrincipal(role, policy) };
}

/** A role whose grants go into one customer managed policy (NIST 800-53 and HIPAA flag inline policies). */
export class ManagedPolicyRole extends iam.Role {
  public readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, assumedBy: iam.IPrincipal, description: string) {
    super(scope, id, { assumedBy, description });
    this.policy = new iam.ManagedPolicy(scope, `${id}Policy`, { description });
    this.addManagedPolicy(this.policy);
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.policy };
  }
}
