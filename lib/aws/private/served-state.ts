import { Arn, ArnFormat, Aws, CfnParameter, Fn, NestedStack, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { encodeServedState, ServedState, servedStateParameterName, validateIdentifier } from '../../core';
import { checkFor } from '../scope';

/** The CloudFormation parameter type that CloudFormation resolves from Parameter Store on every deploy. */
export const SSM_STRING_VALUE_TYPE = 'AWS::SSM::Parameter::Value<String>';

/** Actions that read a served state. */
const READ_ACTIONS = ['ssm:GetParameter', 'ssm:GetParameters'];
/** Actions that write a served state (a state machine step; `PutParameter` with `Overwrite`). */
const WRITE_ACTIONS = ['ssm:PutParameter'];

export interface ServedStateParameterProps {
  /** The environment prefix (`<project>-<env>`, the `MlopsPlatform` stack name prefix): the parameter's namespace. */
  readonly environmentPrefix: string;
  /** Name of the served model. */
  readonly model: string;
  /**
   * What the code serves at first: variants in the template's (the rollout's) order with their versions and weights.
   * CloudFormation writes it when the parameter is created and whenever this initial state changes in code, and never
   * otherwise: promotion and rollouts own the value in between.
   */
  readonly initialState: ServedState;
}

/**
 * The served state of one model (docs/design/served-models.md): an SSM String parameter
 * `/mlops/<environment prefix>/served/<model>` holding `encodeServedState(...)`, created in a stack that deploys
 * before the serving stack (the data stack, or a nested stack of it), and read by the serving stack at deploy time
 * through a CloudFormation parameter of type `AWS::SSM::Parameter::Value<String>` (see `readIn`), so a deploy renders
 * the versions and weights that promotion and rollouts last wrote instead of resetting them.
 */
export class ServedStateParameter extends Construct {
  /** Whether `x` is a ServedStateParameter (works across copies of the library). */
  public static isServedStateParameter(x: unknown): x is ServedStateParameter {
    return typeof x === 'object' && x !== null && SERVED_STATE in x;
  }

  /**
   * ARN of a served-state parameter by name, valid in any stack of the environment's account and region: built from
   * the literal name and pseudo parameters, so using it from another stack adds no cross-stack export (1,000 models
   * would otherwise pass CloudFormation's 200 outputs per stack).
   */
  public static arnForName(parameterName: string): string {
    return Arn.format({
      partition: Aws.PARTITION,
      service: 'ssm',
      region: Aws.REGION,
      account: Aws.ACCOUNT_ID,
      resource: 'parameter',
      resourceName: parameterName.replace(/^\//, ''),
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** The parameter's name, a literal: `/mlops/<environment prefix>/served/<model>`. */
  public readonly parameterName: string;
  /** ARN of the parameter, usable from any stack of the environment without a cross-stack reference. */
  public readonly parameterArn: string;
  /** The code's initial state (what CloudFormation writes on create and when it changes in code). */
  public readonly initialState: ServedState;
  /** The initial state as written to the parameter. */
  public readonly initialValue: string;
  /** Variant names in the template's order: the order of entries in the value. */
  public readonly variantNames: readonly string[];
  public readonly model: string;
  /** The SSM parameter resource. */
  public readonly parameter: ssm.StringParameter;
  private readonly readers = new Map<Stack, ServedStateReader>();

  constructor(scope: Construct, id: string, props: ServedStateParameterProps) {
    super(scope, id);
    Object.defineProperty(this, SERVED_STATE, { value: true });
    const check = checkFor(this);
    if (typeof props.environmentPrefix !== 'string' || Token.isUnresolved(props.environmentPrefix)
      || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(props.environmentPrefix)) {
      check.fail('environmentPrefix', props.environmentPrefix, 'must be a literal of letters, digits, ".", "_" or "-"',
        'pass the environment prefix as a string known at synthesis, e.g. "fraud-prod" (the parameter name must not be a token).');
    }
    validateIdentifier(this.node.path, 'model', props.model, 63);
    this.model = props.model;
    this.initialState = { variants: props.initialState?.variants?.map((v) => ({ ...v })) ?? [] };
    this.initialValue = encodeServedState(this.initialState, `${this.node.path}/initialState`);
    this.variantNames = this.initialState.variants.map((v) => v.variant);
    this.parameterName = servedStateParameterName(props.environmentPrefix, props.model);
    this.parameterArn = ServedStateParameter.arnForName(this.parameterName);
    this.parameter = new ssm.StringParameter(this, 'Resource', {
      parameterName: this.parameterName,
      stringValue: this.initialValue,
      tier: ssm.ParameterTier.STANDARD,
      description: `Served state of model ${props.model}: <variant>=<version>@<weight>,... written by promotion and rollouts`,
    });
  }

  /**
   * The served state as the serving resources under `consumer` see it at deploy time. Declares one CloudFormation
   * parameter of type `AWS::SSM::Parameter::Value<String>` on the top-level stack that holds `consumer`, makes that
   * stack deploy after the parameter's stack, and passes the resolved value down as a String parameter of each nested
   * stack between it and `consumer`. Calling it again in the same stack returns the same reader.
   */
  public readIn(consumer: IConstruct): ServedStateReader {
    return this.readerFor(Stack.of(consumer));
  }

  private readerFor(stack: Stack): ServedStateReader {
    const existing = this.readers.get(stack);
    if (existing) return existing;
    // A scope per stack keeps the parameters apart from resources and gives each a hashed, unique logical id.
    const holder = (stack.node.tryFindChild(SERVED_STATE_SCOPE) as Construct | undefined) ?? new Construct(stack, SERVED_STATE_SCOPE);
    if (holder.node.tryFindChild(this.model)) {
      checkFor(this).fail('model', this.model, `already has a served-state parameter read in ${stack.node.path}`,
        'create one ServedStateParameter per model and environment.');
    }
    let parameter: CfnParameter;
    const parent = stack.nestedStackParent;
    if (NestedStack.isNestedStack(stack) && parent) {
      // Resolved once in the top-level stack, passed down by value: nested stacks take it as a plain String.
      const outer = this.readerFor(parent);
      parameter = new CfnParameter(holder, this.model, {
        type: 'String',
        description: `Served state of model ${this.model} (resolved from Parameter Store by the top-level stack)`,
      });
      stack.setParameter(stack.resolve(stack.getLogicalId(parameter)), outer.value);
    } else {
      if (stack === topLevelStack(this)) {
        checkFor(this).fail('scope', this.node.path,
          `is in the stack that serves the model (${stack.node.path}); CloudFormation resolves the parameter before it creates it`,
          'create the served state in a stack that deploys before the serving stack, e.g. the environment\'s data stack or a nested stack of it.');
      }
      parameter = new CfnParameter(holder, this.model, {
        type: SSM_STRING_VALUE_TYPE,
        default: this.parameterName,
        description: `Served state of model ${this.model} (resolved from Parameter Store on every deploy)`,
      });
      stack.addStackDependency(topLevelStack(this), `the served state of ${this.model} must exist before it is read`);
    }
    const reader = new ServedStateReader(this, parameter);
    this.readers.set(stack, reader);
    return reader;
  }

  /** Lets `grantee` read the served state. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: READ_ACTIONS, resourceArns: [this.parameterArn] });
  }

  /** Lets `grantee` read and write the served state (promotion: versions; rollouts: weights). */
  public grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: [...READ_ACTIONS, ...WRITE_ACTIONS], resourceArns: [this.parameterArn] });
  }
}

/**
 * Deploy-time accessors of one served state inside one top-level stack (and its nested stacks): each variant's
 * version and weight, taken apart from the resolved value with `Fn::Split`/`Fn::Select` by the variant's position.
 */
export class ServedStateReader {
  constructor(
    /** The served state read. */
    public readonly state: ServedStateParameter,
    /** The template parameter of the reading stack: SSM-typed on a top-level stack, a String passed down in a nested one. */
    public readonly templateParameter: CfnParameter,
  ) {}

  /** The whole value, e.g. `current=v7@90,candidate=v8@10` (a token). */
  public get value(): string {
    return this.templateParameter.valueAsString;
  }

  /** Version a variant serves, e.g. `v8` (a token). */
  public version(variant: string): string {
    return Fn.select(0, Fn.split('@', this.versionAndWeight(variant)));
  }

  /** Share of traffic of a variant, 0-100 (a number token). */
  public weight(variant: string): number {
    return Token.asNumber(Fn.select(1, Fn.split('@', this.versionAndWeight(variant))));
  }

  /** Position of a variant in the value (its order in the template). */
  public indexOf(variant: string): number {
    const index = this.state.variantNames.indexOf(variant);
    if (index < 0) {
      checkFor(this.state).fail('variant', variant, `is not a variant of the served state of ${this.state.model}`,
        `use one of ${this.state.variantNames.join(', ')}.`);
    }
    return index;
  }

  private versionAndWeight(variant: string): string {
    const entry = Fn.select(this.indexOf(variant), Fn.split(',', this.value));
    return Fn.select(1, Fn.split('=', entry));
  }
}

const SERVED_STATE = Symbol.for('mlops-constructs.ServedStateParameter');
const SERVED_STATE_SCOPE = 'ServedState';

/** The top-level stack holding a construct: nested stacks are deployed as part of it. */
export function topLevelStack(scope: IConstruct): Stack {
  let stack = Stack.of(scope);
  while (NestedStack.isNestedStack(stack) && stack.nestedStackParent) stack = stack.nestedStackParent;
  return stack;
}
