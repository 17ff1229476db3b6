import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A grantee whose grants land in a customer managed policy of the role instead of the role's inline default policy,
 * which NIST 800-53 and HIPAA flag (IAMNoInlinePolicy). Use it for grants a team adds to roles the library created,
 * e.g. `registry.grantConnect(managedPolicyGrantee(job.jobRole, policy), 'fraud_trainer')`.
 */
export function managedPolicyGrantee(role: iam.IRole, policy: iam.ManagedPolicy): iam.IGrantable {
  return { grantPrincipal: new ManagedPolicyGrantee(role, policy) };
}

class ManagedPolicyGrantee extends iam.PrincipalBase {
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
}
