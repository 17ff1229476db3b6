import { Environment, Stack, StackProps, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataClassification, EnvironmentProfile, MlopsTags, ValidationError } from '../core';
import { MlopsTagging } from './mlops-tagging';
import { MlopsScope } from './scope';

export interface MlopsStackProps extends StackProps {
  /** The environment's profile; every construct in the stack takes its defaults from it. */
  readonly profile: EnvironmentProfile;
  /** Project name for the `mlops:project` tag. */
  readonly project: string;
  /**
   * Owning team for the `mlops:team` tag.
   * @default - no team tag
   */
  readonly team?: string;
  /**
   * Cost center for the `mlops:cost-center` tag.
   * @default - no cost-center tag
   */
  readonly costCenter?: string;
  /**
   * Default classification of the data in the stack; constructs holding other data tag their own.
   * @default DataClassification.INTERNAL
   */
  readonly dataClassification?: DataClassification;
  /**
   * @default - true when the profile deletion-protects data (staging, prod), false otherwise
   */
  readonly terminationProtection?: boolean;
}

/**
 * A stack for one environment: attaches the profile its constructs read, tags every resource for cost
 * allocation, and turns termination protection on wherever the profile protects data.
 */
export class MlopsStack extends Stack {
  /** Whether `x` is an MlopsStack (works across copies of the library). */
  public static isMlopsStack(x: unknown): x is MlopsStack {
    return typeof x === 'object' && x !== null && MLOPS_STACK in x;
  }

  public readonly profile: EnvironmentProfile;
  public readonly mlopsTags: MlopsTags;

  constructor(scope: Construct, id: string, props: MlopsStackProps) {
    super(scope, id, {
      ...props,
      terminationProtection: props.terminationProtection ?? props.profile?.deletionProtection ?? true,
    });
    Object.defineProperty(this, MLOPS_STACK, { value: true });
    // Checked by shape, not instanceof, so a profile from another copy of the library is accepted.
    if (typeof props.profile?.name !== 'string' || typeof props.profile?.allowDestroy !== 'boolean') {
      throw new ValidationError({
        scope: this.node.path,
        prop: 'profile',
        value: props.profile,
        problem: 'must be an EnvironmentProfile',
        fix: 'pass EnvironmentProfile.dev(), .staging() or .prod() (with overrides if needed).',
      });
    }
    validateEnvironment(this.node.path, props.env);
    this.profile = props.profile;
    this.mlopsTags = MlopsTags.of({
      project: props.project,
      environment: props.profile.name,
      team: props.team,
      costCenter: props.costCenter,
      dataClassification: props.dataClassification,
    }, this.node.path);
    MlopsScope.attach(this, this.profile, this.mlopsTags);
    MlopsTagging.apply(this, this.mlopsTags);
  }
}

const MLOPS_STACK = Symbol.for('mlops-constructs.MlopsStack');

/**
 * A literal account or region is checked where the user wrote it: a typo such as `us-east1` would otherwise surface
 * as an error about a prop the user never set, deep in a construct that reads the region.
 */
function validateEnvironment(scope: string, env: Environment | undefined): void {
  const region = env?.region;
  if (region !== undefined && !Token.isUnresolved(region) && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new ValidationError({ scope, prop: 'env.region', value: region, problem: 'is not an AWS region code', fix: "use a region code such as 'us-east-1' or 'eu-west-1'." });
  }
  const account = env?.account;
  if (account !== undefined && !Token.isUnresolved(account) && !/^\d{12}$/.test(account)) {
    throw new ValidationError({ scope, prop: 'env.account', value: account, problem: 'is not an AWS account id', fix: 'use the 12-digit account id, e.g. \'123456789012\'.' });
  }
}
