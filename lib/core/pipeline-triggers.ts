import { SpecScope, specCheck } from './spec-scope';

/** Key suffix of the marker object that announces a complete data drop (`triggers.onNewData`). */
export const NEW_DATA_MARKER = '_SUCCESS';

/** What started a run: the `trigger` of the execution's input (`{ "trigger": "schedule" }`). */
export type PipelineTrigger = 'schedule' | 'new-data' | 'alarm';

/** An EventBridge event pattern as the service reads it (`detail-type`, not CDK's `detailType`). */
export interface PipelineEventPattern {
  readonly 'source': string[];
  readonly 'detail-type': string[];
  readonly 'resources'?: string[];
  readonly 'detail': Record<string, unknown>;
}

/** One rule starting the pipeline: a schedule or an event pattern, and the input the execution gets. */
export interface PipelineTriggerRule {
  readonly trigger: PipelineTrigger;
  readonly description: string;
  /** Present for event rules (new data, alarms); schedule rules take the engine's schedule. */
  readonly eventPattern?: PipelineEventPattern;
  /** The execution's input. */
  readonly input: { readonly trigger: PipelineTrigger };
}

/** What the trigger rules are built from, as each engine names it (names and ARNs may be deploy-time tokens). */
export interface PipelineTriggerOptions {
  readonly modelName: string;
  readonly schedule: boolean;
  readonly onNewData: boolean;
  /** Name of the datasets bucket (for `onNewData`). */
  readonly datasetsBucketName: string;
  readonly alarmArns: readonly string[];
}

/**
 * The rules that start a retraining run, for every engine: a schedule, the completion marker of a data drop below
 * `<model>/` of the datasets bucket (one run per drop, not one per object), and alarms going into ALARM (drift,
 * quality). Each starts the pipeline with `{ "trigger": <what> }`.
 */
export function modelPipelineTriggerRules(o: PipelineTriggerOptions): PipelineTriggerRule[] {
  const rules: PipelineTriggerRule[] = [];
  const input = (trigger: PipelineTrigger) => ({ trigger });
  if (o.schedule) {
    rules.push({ trigger: 'schedule', description: `Retrain ${o.modelName} on a schedule`, input: input('schedule') });
  }
  if (o.onNewData) {
    rules.push({
      trigger: 'new-data',
      description: `Retrain ${o.modelName} when a data drop below ${o.modelName}/ is complete (${NEW_DATA_MARKER} marker)`,
      eventPattern: {
        'source': ['aws.s3'],
        'detail-type': ['Object Created'],
        // One run per data drop: only the completion marker starts it, not each object of the drop.
        'detail': { bucket: { name: [o.datasetsBucketName] }, object: { key: [{ wildcard: `${o.modelName}/*${NEW_DATA_MARKER}` }] } },
      },
      input: input('new-data'),
    });
  }
  if (o.alarmArns.length > 0) {
    rules.push({
      trigger: 'alarm',
      description: `Retrain ${o.modelName} when drift or quality alarms fire`,
      eventPattern: {
        'source': ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        'resources': [...o.alarmArns],
        'detail': { state: { value: ['ALARM'] } },
      },
      input: input('alarm'),
    });
  }
  return rules;
}

/**
 * The cleanup rule's pattern: a run of this state machine stopped or timed out (no Catch runs then), whose status
 * change starts a cleanup run terminating that run's Batch jobs.
 */
export function modelPipelineCleanupPattern(stateMachineArn: string): PipelineEventPattern {
  return {
    'source': ['aws.states'],
    'detail-type': ['Step Functions Execution Status Change'],
    'detail': { status: ['ABORTED', 'TIMED_OUT'], stateMachineArn: [stateMachineArn] },
  };
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON_FIELD = /^[0-9A-Za-z*?,\-/#]+$/;

/**
 * Validates an EventBridge schedule expression given as text (engines without a schedule type): `rate(<n> <unit>)`
 * with a positive whole number, the unit singular for 1 only, or `cron(<minutes> <hours> <day-of-month> <month>
 * <day-of-week> <year>)` with `?` in one of the two day fields, as CDK's `Schedule.rate` and `Schedule.cron` render.
 */
export function validateScheduleExpression(scope: SpecScope, prop: string, expression: unknown): string | undefined {
  if (expression === undefined || (scope.isUnresolved?.(expression) ?? false)) return undefined;
  const check = specCheck(scope);
  const fix = "give a cron or rate expression, e.g. 'cron(0 3 ? * SUN *)' (03:00 UTC on Sundays) or 'rate(7 days)'.";
  if (typeof expression !== 'string') return check.fail(prop, expression, 'must be a schedule expression (text)', fix);
  const rate = RATE.exec(expression);
  if (rate) {
    const count = Number(rate[1]);
    const singular = !rate[2].endsWith('s');
    if (count === 0) return check.fail(prop, expression, 'must be at least one minute apart', fix);
    if (singular !== (count === 1)) {
      return check.fail(prop, expression, `must name its unit in the ${count === 1 ? 'singular for 1' : 'plural for more than 1'} (EventBridge rejects it otherwise)`,
        `write 'rate(${count} ${rate[2].replace(/s$/, '')}${count === 1 ? '' : 's'})'.`);
    }
    return expression;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    const fields = cron[1].trim().split(/\s+/);
    if (fields.length !== 6 || !fields.every((f) => CRON_FIELD.test(f))) {
      return check.fail(prop, expression, 'must have six cron fields (minutes hours day-of-month month day-of-week year)', fix);
    }
    if ((fields[2] === '?') === (fields[4] === '?')) {
      return check.fail(prop, expression, 'must have \'?\' in exactly one of its day-of-month and day-of-week fields', fix);
    }
    return expression;
  }
  return check.fail(prop, expression, 'is not a cron(...) or rate(...) expression', fix);
}

const ALARM_ARN = /^arn:[a-z-]+:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$/;

/** A pipeline's triggers as each engine gives them (values may be deploy-time placeholders, which are not checked). */
export interface PipelineTriggersInput {
  /** The schedule expression (CDK: its `Schedule`'s `expressionString`). */
  readonly schedule?: unknown;
  readonly onNewData?: unknown;
  readonly alarmArns?: readonly unknown[];
}

/**
 * Validates a pipeline's triggers for every engine: a schedule EventBridge accepts (`validateScheduleExpression`),
 * `onNewData` a boolean, alarms given by their ARNs (an alarm's name matches no alarm state change event).
 */
export function validatePipelineTriggers(scope: SpecScope, triggers: PipelineTriggersInput | undefined): void {
  if (triggers === undefined) return;
  const check = specCheck(scope);
  const unresolved = (x: unknown) => scope.isUnresolved?.(x) ?? false;
  validateScheduleExpression(scope, 'triggers.schedule', triggers.schedule);
  if (triggers.onNewData !== undefined && typeof triggers.onNewData !== 'boolean') {
    check.fail('triggers.onNewData', triggers.onNewData, 'must be true or false', "set 'triggers.onNewData' to true to retrain on each complete data drop.");
  }
  if (triggers.alarmArns !== undefined && !Array.isArray(triggers.alarmArns)) {
    check.fail('triggers.alarms', triggers.alarmArns, 'must be a list of alarms', 'wrap the alarm in a list: [driftAlarm.arn].');
  }
  for (const arn of triggers.alarmArns ?? []) {
    if (unresolved(arn)) continue;
    if (typeof arn !== 'string' || !ALARM_ARN.test(arn)) {
      check.fail('triggers.alarms', arn, 'is not a CloudWatch alarm ARN (its state changes name the alarm by ARN)',
        "pass the alarm's ARN, e.g. alarm.arn, or 'arn:aws:cloudwatch:<region>:<account>:alarm:<name>'.");
    }
  }
}
