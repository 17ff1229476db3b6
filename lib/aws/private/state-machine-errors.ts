import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

export { throttlingErrors, transientServiceErrors } from '../../core/state-machine-errors';

/**
 * The message a state machine publishes when it fails: `{ event, ...fields, error, cause, execution }`, with the error
 * and cause its failure path recorded in `$.failure`.
 */
export function failureMessage(event: string, fields: Record<string, unknown>): sfn.TaskInput {
  return sfn.TaskInput.fromObject({
    event,
    ...fields,
    error: sfn.JsonPath.stringAt('$.failure.error'),
    cause: sfn.JsonPath.stringAt('$.failure.cause'),
    execution: sfn.JsonPath.executionId,
  });
}
