import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { Check, encodeServedState, parseServedState, ServedState, ServedVariantState } from '../core';
import { PolicyStatement } from './component-support';

/**
 * A model's served state (docs/design/served-models.md): the SSM String parameter `/mlops/<environment prefix>/served/<model>`
 * holding `encodeServedState(...)`, created with the program's initial state and `ignoreChanges: ['value']` (so
 * `pulumi up` keeps what promotion and rollouts write). The Pulumi `MlopsPlatform` creates one per promotable model
 * (`servedStates`) and passes it to the model's fleet or endpoint.
 *
 * @example
 * const initialState = InferenceFleet.initialServedState(fleetArgs);
 * const parameter = new aws.ssm.Parameter('fraud-served', {
 *   name: servedStateParameterName('acme-prod', 'fraud'), type: 'String', value: encodeServedState(initialState),
 * }, { ignoreChanges: ['value'] });
 * new InferenceFleet('fraud', { ...fleetArgs, servedState: { name: servedStateParameterName('acme-prod', 'fraud'), arn: parameter.arn, initialState } });
 */
export interface ServedStateArgs {
  /** The parameter's name, `servedStateParameterName(<environment prefix>, <model>)` (a literal). */
  readonly name: string;
  /** The parameter's ARN: pass the parameter resource's `arn`, so reading it waits until the parameter exists. */
  readonly arn: pulumi.Input<string>;
  /** The state the parameter was created with: `InferenceFleet.initialServedState(args)` / `ModelEndpoint.initialServedState(args)`. */
  readonly initialState: ServedState;
}

/**
 * Checks a component's `servedState` arg as the CDK constructs check theirs: a served state of this model, created
 * from the same variants and versions the component derives from its args (`initial`).
 */
export function checkServedStateArgs(scope: string, modelName: string, state: ServedStateArgs, initial: ServedState, component: string): void {
  const check = new Check(scope);
  if (typeof state !== 'object' || state === null || typeof state.name !== 'string' || state.arn === undefined) {
    check.fail('servedState', state, 'must be { name, arn, initialState } of a served-state parameter',
      `create the parameter with servedStateParameterName(<environment prefix>, '${modelName}') and pass { name, arn: parameter.arn, initialState }, or omit servedState.`);
  }
  const suffix = `/served/${modelName}`;
  if (!state.name.startsWith('/mlops/') || !state.name.endsWith(suffix)) {
    check.fail('servedState', state.name, `is not the served state of this model (this ${component} serves '${modelName}')`,
      `pass the parameter named servedStateParameterName(<environment prefix>, '${modelName}').`);
  }
  const expected = encodeServedState(initial, `${scope}.servedState`);
  const given = state.initialState === undefined ? undefined : encodeServedState(state.initialState, `${scope}.servedState.initialState`);
  if (given !== expected) {
    check.fail('servedState', given, `starts from another state than this ${component}'s rollout and versions (${expected})`,
      `create the served state with ${component}.initialServedState(args) and pass that as initialState, so the variant set and versions agree.`);
  }
}

/**
 * The served state's value at `pulumi up` (and preview), parsed with core's decoder: an invoke of `aws.ssm.getParameter`
 * whose name waits for the parameter's ARN, so it runs after the parameter exists (on the first `pulumi up` it reads
 * the initial state). It must have an entry for every one of `variants` (the component's, in order).
 */
export function readServedState(state: ServedStateArgs, variants: readonly string[], parent: pulumi.Resource,
  scope: string): pulumi.Output<ServedState> {
  const parameterName = pulumi.output(state.arn).apply(() => state.name);
  // Versions and weights are no secret: the provider marks a parameter's value sensitive, which would hide the listener's
  // weights and the model's URL in every preview.
  return pulumi.unsecret(aws.ssm.getParameterOutput({ name: parameterName }, { parent }).apply((parameter) => {
    const value = parameter.insecureValue ?? parameter.value;
    const read = parseServedState(value, `${scope}.servedState(${state.name})`);
    variants.forEach((variant, index) => servedVariant(read, index, variant, state.name, scope));
    return read;
  }));
}

/**
 * A variant's entry in a served state read at `pulumi up`: the entry at the variant's position, as CloudFormation reads
 * it on the CDK side and fleet instances at boot (promotion writes `current=<version>@100` for a fleet served all at once,
 * whose one variant is `candidate`). A state without that entry fails the update (the variant set is code).
 */
export function servedVariant(state: ServedState, index: number, variant: string, parameterName: string, scope: string): ServedVariantState {
  const found = state.variants[index];
  if (!found) {
    return new Check(scope).fail('servedState', encodeServedState(state, scope), `(parameter ${parameterName}) has no entry ${index + 1} (variant '${variant}')`,
      'write the served state with an entry for every variant of the rollout, in its order, or change the rollout and the served state together.');
  }
  return found;
}

/** Read access to exactly one served state (what an instance needs to read its version at boot). */
export function servedStateReadStatement(state: ServedStateArgs): PolicyStatement {
  return { Sid: 'ReadServedState', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: state.arn };
}
