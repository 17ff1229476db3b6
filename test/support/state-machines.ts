import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/** The definition of the only state machine of `stack` as ASL, with every token replaced by the string `TOKEN`. */
export function stateMachineDefinition(stack: Stack): any {
  const machines = Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine');
  const [machine] = Object.values(machines);
  const definition = machine.Properties.DefinitionString;
  const text = typeof definition === 'string' ? definition
    : definition['Fn::Join'][1].map((part: unknown) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return JSON.parse(text);
}

/** aws-local-stepfunctions 3 uses Promise.withResolvers (Node 22); the gate runs Node 20. Call before running a machine. */
export function polyfillPromiseWithResolvers(): void {
  const promiseStatics = Promise as unknown as { withResolvers?: () => unknown };
  promiseStatics.withResolvers ??= () => {
    let resolve: unknown;
    let reject: unknown;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
