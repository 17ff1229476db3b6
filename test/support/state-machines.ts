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

/** Every state of a definition, those of Map and Parallel states' inner definitions included. */
export function allStates(definition: any): Array<[string, any]> {
  return Object.entries<any>(definition.States).flatMap(([name, state]) => [
    [name, state] as [string, any],
    ...[state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])].filter(Boolean).flatMap((inner) => allStates(inner)),
  ]);
}

/** How a local run ended: its output, or the error (a Fail state's, or the one that escaped) and cause it failed with. */
export interface LocalRun {
  readonly ok: boolean;
  readonly output?: any;
  readonly error?: string;
  readonly cause?: string;
}

/**
 * Runs a synthesized definition with aws-local-stepfunctions (real JSONPath, intrinsic functions, Retry/Catch, Choice
 * rules, Map): every Task answered by `handlers` (keyed by state name), no Wait state or retry interval waiting.
 */
export async function runLocally(definition: any, input: unknown, options: {
  readonly handlers: Record<string, (input: any) => unknown>;
  readonly context?: Record<string, unknown>;
  readonly checkPaths?: boolean;
}): Promise<LocalRun> {
  polyfillPromiseWithResolvers();
  // Loaded after the polyfill.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { StateMachine } = require('aws-local-stepfunctions');
  const states = allStates(definition);
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false, checkPaths: options.checkPaths ?? true } });
  const execution = machine.run(input, {
    overrides: {
      taskResourceLocalHandlers: options.handlers,
      waitTimeOverrides: Object.fromEntries(states.filter(([, s]) => s.Type === 'Wait').map(([n]) => [n, 0])),
      retryIntervalOverrides: Object.fromEntries(states.filter(([, s]) => s.Retry).map(([n]) => [n, 0])),
    },
    context: options.context,
  });
  try {
    return { ok: true, output: await execution.result };
  } catch (e) {
    // ExecutionError wraps what failed the run: a Fail state's error and cause, or the error that escaped.
    const failed = (e as Error).cause as Error | undefined;
    return { ok: false, error: failed?.name ?? (e as Error).name, cause: failed?.message ?? (e as Error).message };
  }
}
