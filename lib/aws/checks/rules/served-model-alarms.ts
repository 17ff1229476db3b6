import { CfnResource } from 'aws-cdk-lib';
import { NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { MLOPS_CHECK_TAGS } from '../tag-contract';
import { literal, render, RenderedResource, stackResources, tagsOf } from '../template';

const LATENCY = /latency|responsetime|duration/i;
const ERRORS = /error|5xx|fault/i;

/**
 * Every served model has latency, error and rollout-health alarms. Contract, checked per stack:
 * - a served model is a SageMaker endpoint (`AWS::SageMaker::Endpoint`) or an Auto Scaling group tagged
 *   `mlops:model` = `<model>`;
 * - an alarm belongs to it when its definition mentions the model name (alarm name, description or a dimension
 *   value such as `Model`), refers to the served resource (`Ref`/`Fn::GetAtt` of its logical id) or names it
 *   literally (its `EndpointName`/`AutoScalingGroupName`);
 * - a latency alarm is a metric alarm of it whose metric names or description match latency/response time/duration;
 *   an error alarm one whose metric names or description match error/5xx/fault;
 * - rollout health is a composite alarm of it (MlopsMonitoring.addRolloutHealthAlarm), or, for an endpoint,
 *   auto-rollback alarms in its DeploymentConfig.
 */
export function servedModelAlarms(node: CfnResource): NagRuleResult {
  const type = node.cfnResourceType;
  if (type !== 'AWS::SageMaker::Endpoint' && type !== 'AWS::AutoScaling::AutoScalingGroup') return NagRuleCompliance.NOT_APPLICABLE;
  const served = render(node);
  const model = tagsOf(served.properties)[MLOPS_CHECK_TAGS.model];
  if (!model) return NagRuleCompliance.NOT_APPLICABLE;
  const references = referencesFor(served, model);
  const belongs = (alarm: RenderedResource) => {
    const text = JSON.stringify(alarm.properties);
    return references.some((r) => text.includes(r));
  };
  const alarms = stackResources(node).filter((r) => r.type === 'AWS::CloudWatch::Alarm' && belongs(r));
  const signals = alarms.map((a) => signalText(a.properties));
  const latency = signals.some((s) => LATENCY.test(s));
  const errors = signals.some((s) => ERRORS.test(s));
  const rollback = stackResources(node).some((r) => r.type === 'AWS::CloudWatch::CompositeAlarm' && belongs(r))
    || (served.properties.DeploymentConfig?.AutoRollbackConfiguration?.Alarms ?? []).length > 0;
  return latency && errors && rollback ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

function referencesFor(served: RenderedResource, model: string): string[] {
  const refs = [
    // The model name anywhere: a dimension value, or a description such as "Rollout health of fraud-detector: ...".
    model,
    JSON.stringify({ Ref: served.logicalId }),
    `{"Fn::GetAtt":["${served.logicalId}"`,
  ];
  const name = literal(served.properties.EndpointName) ?? literal(served.properties.AutoScalingGroupName);
  if (name) refs.push(JSON.stringify(name));
  return refs;
}

/** Metric names (single metric or metric math) and the description of an alarm, as one string. */
function signalText(p: Record<string, any>): string {
  const names = [p.MetricName, ...(p.Metrics ?? []).map((m: any) => m?.MetricStat?.Metric?.MetricName)].filter((n) => typeof n === 'string');
  return [...names, typeof p.AlarmDescription === 'string' ? p.AlarmDescription : ''].join(' ');
}
