// A fake AWS for the fleet rollout state machine (core's fleetRolloutDefinition, as either engine deploys it): the listener's
// weights, the served state, the alarms, the serving stack; shared by the CDK and Pulumi rollout tests.
import { runLocally } from './state-machines';
import { FLEET_ROLLOUT_METRIC } from 'mlops-constructs';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** When an emulated run starts, and times before and after it. */
export const STARTED = '2026-12-01T05:00:00.000Z';
export const EARLIER = '2020-01-01T00:00:00.000Z';
export const LATER = '2099-01-01T00:00:00.000Z';

/** A fake AWS for one run: the listener's weights, the served state, the alarms, and every call in order. */
export class FakeAws {
  public weights: number[] = [];
  public calls: string[] = [];
  public notifications: any[] = [];
  private checks = 0;

  /** Runs of this state machine RUNNING (ListExecutions), this one included. */
  public running = 1;
  /** Executions DescribeExecution knows (a settle checks the promotion that asked for it), by ARN. */
  public executions: Record<string, { Status: string; Input: string }> = {};

  /** What DescribeStacks answers, call after call (the last one repeats). */
  public stackUpdates: Array<{ status: string; updated?: string }> = [{ status: 'UPDATE_COMPLETE', updated: LATER }];

  constructor(public servedState: string, private readonly alarmAtCheck = Number.POSITIVE_INFINITY) {}

  public handlers(definition: any): Record<string, (input: any) => any> {
    const out: Record<string, (input: any) => any> = {};
    for (const [name, state] of Object.entries<any>(definition.States)) {
      if (state.Type !== 'Task') continue;
      const resource: string = state.Resource;
      if (resource.endsWith(':cloudformation:describeStacks')) {
        out[name] = (input) => {
          const next = this.stackUpdates.length > 1 ? this.stackUpdates.shift()! : this.stackUpdates[0];
          this.calls.push(`describe ${input.StackName}`);
          return { Stacks: [{ StackName: input.StackName, StackStatus: next.status, ...(next.updated ? { LastUpdatedTime: next.updated } : {}) }] };
        };
      } else if (resource.endsWith(':sfn:listExecutions')) {
        out[name] = (input) => {
          expect(input.StatusFilter).toBe('RUNNING');
          return { Executions: Array.from({ length: this.running }, (_, i) => ({ executionArn: `${input.StateMachineArn}:run-${i + 1}`, status: 'RUNNING' })) };
        };
      } else if (resource.endsWith(':sfn:describeExecution')) {
        out[name] = (input) => {
          this.calls.push(`describe execution ${input.ExecutionArn}`);
          const found = this.executions[input.ExecutionArn];
          if (!found) throw Object.assign(new Error(`Execution Does Not Exist: '${input.ExecutionArn}'`), { name: 'Sfn.ExecutionDoesNotExistException' });
          return { ExecutionArn: input.ExecutionArn, ...found };
        };
      } else if (resource.endsWith(':ssm:getParameter')) {
        out[name] = (input) => {
          this.calls.push(`read ${input.Name}`);
          return { Parameter: { Name: input.Name, Value: this.servedState } };
        };
      } else if (resource.endsWith(':cloudwatch:describeAlarms')) {
        out[name] = (input) => {
          this.checks += 1;
          expect(input.StateValue).toBe('ALARM');
          this.calls.push('check');
          const alarmed = this.checks >= this.alarmAtCheck;
          return { MetricAlarms: alarmed ? [{ AlarmName: input.AlarmNames[0], StateValue: 'ALARM' }] : [], CompositeAlarms: [] };
        };
      } else if (resource.endsWith(':elasticloadbalancingv2:modifyListener')) {
        out[name] = (input) => {
          this.weights = input.DefaultActions[0].ForwardConfig.TargetGroups.map((t: any) => t.Weight);
          this.calls.push(`listener ${this.weights.join('/')}`);
          return {};
        };
      } else if (resource.endsWith(':ssm:putParameter')) {
        out[name] = (input) => {
          expect(input.Overwrite).toBe(true);
          this.servedState = input.Value;
          this.calls.push(`state ${input.Value}`);
          return {};
        };
      } else if (resource.endsWith(':cloudwatch:putMetricData')) {
        out[name] = (input) => {
          expect(input.Namespace).toBe(FLEET_ROLLOUT_METRIC.namespace);
          this.calls.push(`metric ${input.MetricData[0].Value}`);
          return {};
        };
      } else if (resource.endsWith(':sns:publish')) {
        out[name] = (input) => {
          this.notifications.push(typeof input.Message === 'string' ? JSON.parse(input.Message) : input.Message);
          this.calls.push('notify');
          return {};
        };
      } else {
        throw new Error(`no fake for ${name} (${resource})`);
      }
    }
    return out;
  }
}

/** Runs a rollout definition against `aws`: ok, or what failed the run with its cause (a Fail state's cause names the rollback or the stale deploy). */
export async function runRollout(definition: any, aws: FakeAws, input: Record<string, unknown> = {}): Promise<{ ok: boolean; error?: string }> {
  const result = await runLocally(definition, input, {
    handlers: aws.handlers(definition),
    context: { Execution: { Id: 'arn:aws:states:us-east-1:111111111111:execution:fraud:run-1', StartTime: STARTED }, StateMachine: { Id: 'arn:sm' } },
  });
  return result.ok ? { ok: true } : { ok: false, error: `${result.error}: ${result.cause}` };
}
