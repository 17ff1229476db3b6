import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IConstruct } from 'constructs';
import { BOUNDARY_ALLOWED_ACTIONS, boundaryStatements } from '../core';
import { nagResourceId } from './private/nag';
import { checkFor, MlopsScope } from './scope';

export interface PermissionBoundaryProps {
  /**
   * Regions the bounded roles may act in; requests to other regions are denied (global services such as IAM,
   * STS, CloudFront, Route 53, Organizations, Budgets and Cost Explorer excepted).
   * @default - the stack's region
   */
  readonly allowedRegions?: string[];
  /**
   * Prefix of the names of the environment's roles. CloudFormation names a role `<stack name>-<id>-<suffix>`, so
   * the prefix of the environment's stack names (`<project>-<env>`) names all of them. `iam:PassRole` may pass a
   * role whose name starts with it, or one tagged with this environment's `mlops:environment` and `mlops:project`.
   * @default - the stack's name
   */
  readonly roleNamePrefix?: string;
  /**
   * More actions (verb patterns such as `dynamodb:GetItem` or `glue:Get*`) the boundary allows, for roles of your
   * own below the bounded scopes. Service-wide wildcards (`glue:*`) are refused: name the verbs.
   * @default - only the services the platform uses (`BOUNDARY_ALLOWED_ACTIONS`)
   */
  readonly additionalActions?: string[];
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ACTION = /^[a-z0-9-]+:[A-Za-z0-9*]+$/;
/** A managed policy document holds at most 6,144 characters (whitespace excluded). */
const MANAGED_POLICY_MAX_CHARS = 6144;

/**
 * The permission boundary of every role of an environment: a cap, not a deny-list. It allows only the services (and
 * verbs) the platform uses (`BOUNDARY_ALLOWED_ACTIONS`), so a role can never do more than that whatever its own
 * policies say, and denies privilege escalation outright: writing any role's permissions or trust, creating roles,
 * users or keys, assuming other roles, passing a role of another environment, attaching or detaching any policy
 * but the brake's (and that only by the brake's own role), silencing alarms, and acting outside the allowed regions.
 * While the brake is on, no role but the brake's may raise capacity the brake capped or remove its tag.
 *
 * Apply it with `applyTo(scope)`: every IAM role (and user) below the scope gets it, including ones added later
 * and the roles of custom resource providers.
 *
 * @example
 * const boundary = new PermissionBoundary(dataStack, 'PermissionBoundary', { roleNamePrefix: 'fraud-prod' });
 * boundary.applyTo(dataStack);
 * boundary.applyTo(platformStack);
 */
export class PermissionBoundary extends Construct {
  /** The customer managed policy every bounded role carries as its permissions boundary. */
  public readonly policy: iam.ManagedPolicy;
  /** ARN of `policy`. */
  public readonly policyArn: string;
  private readonly allowed: string[];
  private readonly allowStatement: iam.PolicyStatement;

  constructor(scope: Construct, id: string, props: PermissionBoundaryProps = {}) {
    super(scope, id);
    const check = checkFor(this);
    const stack = Stack.of(this);
    const allowedRegions = props.allowedRegions ?? [stack.region];
    if (allowedRegions.length === 0) {
      check.fail('allowedRegions', allowedRegions, 'must name at least one region', "list the regions the platform runs in, e.g. ['eu-west-1'], or leave it out for the stack's region.");
    }
    allowedRegions.forEach((r, i) => check.matches(`allowedRegions[${i}]`, r, REGION, "a region name such as 'eu-west-1'"));
    const roleNamePrefix = props.roleNamePrefix ?? stack.stackName;
    check.matches('roleNamePrefix', roleNamePrefix, /^[\w+=,.@-]{1,64}$/, "the start of an IAM role name (letters, digits and '+=,.@_-')");
    this.allowed = [...BOUNDARY_ALLOWED_ACTIONS];
    this.checkActions('additionalActions', props.additionalActions ?? []);
    this.allowed.push(...(props.additionalActions ?? []));

    const tags = MlopsScope.tagsOf(this);
    const environment = tags?.environment !== undefined && !Token.isUnresolved(tags.environment) ? tags.environment : undefined;
    const statements = boundaryStatements({
      partition: stack.partition,
      account: stack.account,
      allowedActions: this.allowed,
      allowedRegions,
      roleNamePrefix,
      environment,
      project: environment === undefined ? undefined : tags?.project,
    }).map((json) => iam.PolicyStatement.fromJson(json));
    // Kept to extend the cap later (allowActions).
    this.allowStatement = statements[0];
    this.policy = new iam.ManagedPolicy(this, 'Resource', {
      description: `Permission boundary (a cap) of every role of ${roleNamePrefix}`,
      statements,
    });
    this.policyArn = this.policy.managedPolicyArn;
    this.node.addValidation({ validate: () => this.validateSize() });
    this.acknowledgeWildcards();
  }

  /** Bounds every IAM role and user below `scope`, including ones added later. */
  public applyTo(scope: IConstruct): void {
    iam.PermissionsBoundary.of(scope).apply(this.policy);
  }

  /**
   * Lets bounded roles use more actions (verb patterns such as `dynamodb:GetItem`), for roles of your own that need a
   * service the platform does not use. Their identity policies must still grant them.
   */
  public allowActions(...actions: string[]): void {
    this.checkActions('actions', actions);
    const added = actions.filter((a) => !this.allowed.includes(a));
    this.allowed.push(...added);
    if (added.length > 0) this.allowStatement.addActions(...added);
    this.acknowledgeWildcards(added);
  }

  /** The actions the boundary allows (the cap). */
  public get allowedActions(): readonly string[] {
    return [...this.allowed];
  }

  private checkActions(prop: string, actions: string[]): void {
    const check = checkFor(this);
    actions.forEach((a, i) => {
      check.matches(`${prop}[${i}]`, a, ACTION, "an IAM action or verb pattern such as 'dynamodb:GetItem' or 'glue:Get*'");
      if (/:\*$/.test(a)) {
        check.fail(`${prop}[${i}]`, a, 'allows a whole service', `name the verbs the roles need, e.g. '${a.replace(/\*$/, 'Get*')}'.`);
      }
    });
  }

  private validateSize(): string[] {
    const rendered = renderedSize(Stack.of(this).resolve(this.policy.document.toJSON()));
    if (rendered <= MANAGED_POLICY_MAX_CHARS) return [];
    return [`the permission boundary's document is ${rendered} characters, more than the ${MANAGED_POLICY_MAX_CHARS} IAM allows `
      + 'in a managed policy; remove actions added with additionalActions/allowActions or use verb patterns (glue:Get*).'];
  }

  private acknowledgeWildcards(actions: string[] = this.allowed): void {
    const reason = 'A permission boundary grants nothing: it caps what the identity policies of the roles it bounds may allow. Its '
      + 'allow statements list, per service the platform uses, the verbs any platform role may ever need; each role\'s own policy '
      + 'names its resources.';
    const roles = Stack.of(this).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' });
    Validations.of(this.policy).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason },
      {
        id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, roles)}]`,
        reason: 'Only the brake\'s own role (principal tag) may attach or detach, and only '
        + 'the brake\'s deny policy (iam:PolicyARN condition), on any role: the roles it denies are found at engagement.',
      },
      ...actions.filter((a) => a.includes('*')).map((a) => ({ id: `AwsSolutions-IAM5[Action::${a}]`, reason })),
    );
  }
}

/**
 * The size IAM will count for a resolved document: pseudo parameters as their longest usual values, other references
 * as 64 characters (a name or ARN part), whitespace excluded.
 */
function renderedSize(document: unknown): number {
  const render = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(render);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, any>;
    if (o.Ref === 'AWS::Partition') return 'aws-us-gov';
    if (o.Ref === 'AWS::AccountId') return '123456789012';
    if (o.Ref === 'AWS::Region') return 'ap-southeast-2';
    if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map((p) => String(render(p))).join(o['Fn::Join'][0]);
    if (o.Ref || o['Fn::GetAtt'] || o['Fn::ImportValue'] || o['Fn::Select'] || o['Fn::Sub']) return 'x'.repeat(64);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, render(x)]));
  };
  return JSON.stringify(render(document)).replace(/\s/g, '').length;
}
