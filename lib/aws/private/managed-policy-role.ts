import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A role whose granted permissions go into one customer managed policy (child `Policy`) instead of an inline default
 * policy, which NIST 800-53 and HIPAA flag (IAMNoInlinePolicy). The policy is created with the first statement.
 */
export class ManagedPolicyRole extends iam.Role {
  private managedPolicy?: iam.ManagedPolicy;

  /** The role's customer managed policy, once something was granted. */
  public get policy(): iam.ManagedPolicy | undefined {
    return this.managedPolicy;
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    if (!this.managedPolicy) {
      this.managedPolicy = new iam.ManagedPolicy(this, 'Policy', { roles: [this], description: `Permissions of ${this.node.path}` });
    }
    this.managedPolicy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.managedPolicy };
  }
}
