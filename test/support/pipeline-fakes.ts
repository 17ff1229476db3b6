/* eslint-disable @typescript-eslint/no-explicit-any */
import { runLocally } from './state-machines';

/*
 * Fakes of every Task state of the retraining pipeline (core's modelPipelineDefinition), answering as the services
 * would for a good run, and a runner executing a definition with them offline (aws-local-stepfunctions). Shared by the
 * CDK and Pulumi ModelPipeline tests, which execute the definition each engine deploys.
 */

export type Handler = (input: any) => Promise<unknown>;

/** Fakes of every Task state of the prod pipeline with an endpoint, answering as the services would for a good run. */
export function services(overrides: Record<string, Handler> = {}): { handlers: Record<string, Handler>; calls: Array<[string, any]> } {
  const calls: Array<[string, any]> = [];
  let updatedTo = 'none';
  const body = (value: object) => async () => ({ Body: JSON.stringify(value) });
  const defaults: Record<string, Handler> = {
    CheckRunLock: async () => ({ Executions: [{ name: 'run-1' }] }),
    ValidateData: async () => ({ JobId: 'job-validate', Container: { Image: 'validate@sha256:1' } }),
    ReadValidation: body({ datasetVersion: 'd-2026-12-01' }),
    Train: async () => ({ JobId: 'job-train', Container: { Image: 'train@sha256:2' } }),
    ReadTraining: body({ imageDigest: 'sha256:2', codeVersion: 'abc123' }),
    Evaluate: async () => ({ JobId: 'job-evaluate', Container: { Image: 'evaluate@sha256:3' } }),
    // Mid-rollout: v7 is the stable version production serves, v8 the candidate taking 10%.
    ReadProductionVersion: async () => ({ Parameter: { Name: '/mlops/p-prod/served/fraud', Value: 'current=v7@90,candidate=v8@10' } }),
    RecheckProductionVersion: async () => ({ Parameter: { Name: '/mlops/p-prod/served/fraud', Value: 'current=v7@0,candidate=v7@100' } }),
    MarkStale: async () => ({}),
    ReadEvaluation: body({ candidate: 0.93, baseline: 0.9, threshold: 0.91, fairnessGap: 0.05 }),
    RegisterVersion: async () => ({ ModelPackageArn: 'arn:aws:sagemaker:eu-west-1:111111111111:model-package/fraud/7' }),
    CheckRegistered: async () => ({ ModelApprovalStatus: 'PendingManualApproval', ModelPackageGroupName: 'fraud' }),
    RequestApproval: async () => ({ approved: true, approver: 'alice' }),
    MarkApproved: async () => ({}),
    MarkRejected: async () => ({}),
    CreateModel: async () => ({}),
    CreateEndpointConfig: async () => ({}),
    UpdateEndpoint: async (input) => {
      updatedTo = input.EndpointConfigName;
      return {};
    },
    DescribeEndpoint: async () => ({ EndpointStatus: 'InService', EndpointConfigName: updatedTo }),
    // The failure paths: un-approval, the run's Batch jobs, the notification.
    Unapprove: async () => ({}),
    FailedListJobs: async () => ({ JobSummaryList: [], NextToken: 'ignored' }),
    FailedTerminateJob: async () => ({}),
    StoppedListJobs: async () => ({ JobSummaryList: [] }),
    StoppedTerminateJob: async () => ({}),
    NotifyFailure: async () => ({}),
    ...overrides,
  };
  const handlers = Object.fromEntries(Object.entries(defaults).map(([state, handler]) => [state, async (input: any) => {
    calls.push([state, input]);
    return handler(input);
  }]));
  return { handlers, calls };
}

/** Runs the pipeline's definition as execution `name` with the fakes of `services`; returns how it ended and the calls made. */
export async function executeWith(definition: any, fakes: ReturnType<typeof services>, name = 'run-1', input: object = { trigger: 'schedule' }) {
  const result = await runLocally(definition, input, {
    handlers: fakes.handlers,
    context: {
      Execution: { Name: name, Id: `arn:aws:states:eu-west-1:111111111111:execution:fraud:${name}` },
      StateMachine: { Id: 'arn:aws:states:eu-west-1:111111111111:stateMachine:fraud' },
      Task: { Token: 'token-1' },
    },
  });
  const call = (state: string) => fakes.calls.find(([s]) => s === state)?.[1];
  return { ...result, error: result.ok ? undefined : result.error, calls: fakes.calls, states: fakes.calls.map(([s]) => s), call };
}
