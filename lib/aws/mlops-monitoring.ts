import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  AlarmSpec, driftAlarmSpec, estimatedChargesAlarmSpec, failedJobsAlarmSpec, fairnessAlarmSpec, MetricSpec, modelQualityAlarmSpec, QualityDirection,
  registryAlarmSpecs, rolloutHealthAlarmId, servingAlarmSpecs, servingGraphSpec, servingRowTitles, SpecScope, validateDashboardName,
  validateIdentifier, ALARM_PUBLISHER_SERVICES, EnvironmentProfile, validateNewAlarm, validateRolloutHealthAlarm,
} from '../core';
import { GpuTrainingCluster } from './gpu-training-cluster';
import { IServingMetrics } from './inference-fleet';
import { ModelRegistry } from './model-registry';
import { newKey } from './private/keys';
import { checkFor, MlopsScope } from './scope';

export interface MlopsMonitoringProps {
  /**
   * Key for the alarm topic. CloudWatch, Budgets and Cost Anomaly Detection are allowed to use it.
   * @default - a new key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Email addresses subscribed to the alarm topic.
   * @default - none
   */
  readonly notifyEmails?: string[];
  /**
   * @default - `<stack name>-mlops`
   */
  readonly dashboardName?: string;
  /**
   * Alarm when AWS's estimated charges for the month pass this many dollars. Billing metrics exist only in
   * us-east-1, so the alarm is created only in stacks deployed there (Budgets cover every region).
   * @default - the profile's monthly budget
   */
  readonly estimatedChargesThresholdUsd?: number;
  /** @default - the profile in scope */
  readonly profile?: EnvironmentProfile;
}

/** Options of `MlopsMonitoring.addAlarm`. */
export interface AddAlarmOptions extends Omit<cloudwatch.CreateAlarmOptions, 'evaluationPeriods'> {
  /** @default 1 */
  readonly evaluationPeriods?: number;
  /** Where to create the alarm. @default - the monitoring construct */
  readonly scope?: Construct;
  /**
   * Put an alarm widget for it on the dashboard (the scope's own dashboard, else the environment's).
   * @default true
   */
  readonly dashboardWidget?: boolean;
}

// Defined in core (shared with the Pulumi MlopsMonitoring); re-exported where CDK users found it.
export { QualityDirection } from '../core';

export interface ModelQualityAlarmOptions {
  /** Model name, as the evaluation job publishes it in the `Model` dimension. */
  readonly model: string;
  /** Quality metric name, e.g. `auc`. */
  readonly metric: string;
  /** Threshold the metric must stay on the good side of. */
  readonly threshold: number;
  /** @default QualityDirection.HIGHER_IS_BETTER */
  readonly direction?: QualityDirection;
  /**
   * Period of the evaluation job.
   * @default Duration.days(1)
   */
  readonly period?: Duration;
}

export interface DriftAlarmOptions {
  readonly model: string;
  /** Feature name, as published in the `Feature` dimension. */
  readonly feature: string;
  /** @default - profile.alarms.driftScore */
  readonly threshold?: number;
  /** @default Duration.days(1) */
  readonly period?: Duration;
}

export interface FairnessAlarmOptions {
  readonly model: string;
  /** Fairness metric, e.g. `demographic_parity`, as published in the `Metric` dimension. */
  readonly metric: string;
  /** @default - profile.alarms.fairnessGap */
  readonly threshold?: number;
  /** @default Duration.days(1) */
  readonly period?: Duration;
}

/** The alarms of one served model. */
export interface ServedModelAlarms {
  readonly latency: cloudwatch.Alarm;
  readonly errorRate: cloudwatch.Alarm;
  /** Low GPU utilization (wasted spend); only on GPU instances. */
  readonly gpuUnderused?: cloudwatch.Alarm;
  /** Any serving alarm: what rollouts roll back on. */
  readonly rolloutHealth: cloudwatch.CompositeAlarm;
}

export interface MonitorServingOptions {
  /**
   * Where the alarms are created, e.g. the served model's own (nested) stack, so a platform serving hundreds
   * of models keeps every stack small. Alarms still notify this monitoring's topic.
   * @default - this construct
   */
  readonly scope?: Construct;
  /** Whether the model runs on NVIDIA GPUs (adds the under-used GPU alarm). @default true */
  readonly gpu?: boolean;
  /**
   * A dashboard shared by many models (`MlopsMonitoring.addServingDashboard`): the model gets one compact graph there
   * and its rollout health alarm joins the dashboard's alarm status rows, instead of a dashboard of its own.
   * @default - the model's own dashboard in `scope`, or the environment dashboard without a scope
   */
  readonly dashboard?: ServingDashboard;
  /** More metrics for the model's graph on a shared dashboard (right axis, e.g. a rollout's candidate traffic %). @default - none */
  readonly extraMetrics?: cloudwatch.IMetric[];
}

/** The most alarms one CloudWatch alarm status widget shows. */
const ALARMS_PER_STATUS_WIDGET = 100;
/** Height of one alarm status widget, in grid units. */
const ALARM_STATUS_HEIGHT = 6;

/**
 * Alarm status rows that list alarms added after the widget was placed: one alarm status widget (full width) per 100
 * alarms, rendered at synthesis, so a dashboard can take models one by one.
 */
class GrowingAlarmStatus implements cloudwatch.IWidget {
  public readonly width = 24;
  public readonly warnings: string[] = [];
  public readonly alarms: cloudwatch.IAlarm[] = [];
  private x = 0;
  private y = 0;

  constructor(private readonly title: string) {}

  public get height(): number {
    return ALARM_STATUS_HEIGHT * Math.max(1, Math.ceil(this.alarms.length / ALARMS_PER_STATUS_WIDGET));
  }

  public position(x: number, y: number): void {
    this.x = x;
    this.y = y;
  }

  public toJson(): any[] {
    const chunks = Math.max(1, Math.ceil(this.alarms.length / ALARMS_PER_STATUS_WIDGET));
    return Array.from({ length: chunks }, (_, i) => {
      const alarms = this.alarms.slice(i * ALARMS_PER_STATUS_WIDGET, (i + 1) * ALARMS_PER_STATUS_WIDGET);
      return {
        type: 'alarm',
        width: this.width,
        height: ALARM_STATUS_HEIGHT,
        x: this.x,
        y: this.y + i * ALARM_STATUS_HEIGHT,
        properties: { title: chunks > 1 ? `${this.title} (${i + 1}/${chunks})` : this.title, alarms: alarms.map((a) => a.alarmArn), sortBy: 'stateUpdatedTimestamp' },
      };
    });
  }
}

/**
 * A dashboard shared by many served models (for example one per serving shard of a platform): one graph per model
 * (p99 latency, 5xx rate and any extra metric such as a rollout's progress) and alarm status rows of their rollout
 * health alarms. About 1 widget and 4 metrics per model, so 150 models stay far inside CloudWatch's 500 widgets and
 * 2,500 metrics per dashboard; one dashboard per model would cost $3 a month each.
 */
export class ServingDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  private readonly status: GrowingAlarmStatus;
  private models = 0;
  private metrics = 0;

  constructor(scope: Construct, id: string, props: { readonly dashboardName: string; readonly title: string }) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Resource', { dashboardName: props.dashboardName, defaultInterval: Duration.hours(24) });
    this.status = new GrowingAlarmStatus(`${props.title}: rollout health`);
    this.dashboard.addWidgets(this.status);
  }

  /** Number of models on the dashboard. */
  public get modelCount(): number {
    return this.models;
  }

  /** Number of metrics the dashboard's graphs show. */
  public get metricCount(): number {
    return this.metrics;
  }

  /** Adds a model's graph and its rollout health alarm. */
  public addModel(model: string, serving: IServingMetrics, rolloutHealth: cloudwatch.IAlarm, extraMetrics: cloudwatch.IMetric[] = []): void {
    // Core's layout, which the Pulumi MlopsMonitoring renders too.
    const spec = servingGraphSpec(model, serving.latencyUnit ?? 'milliseconds');
    this.dashboard.addWidgets(new cloudwatch.GraphWidget({
      title: spec.title,
      left: [serving.metricLatency('p99').with({ label: spec.latencyLabel })],
      right: [serving.metricErrorRate(), ...extraMetrics],
      rightYAxis: spec.rightYAxis,
      width: spec.width,
      height: spec.height,
    }));
    this.status.alarms.push(rolloutHealth);
    this.models += 1;
    // The error rate is an expression over two metrics.
    this.metrics += 1 + 3 + extraMetrics.length;
  }
}


/**
 * The environment's monitoring: one alarm topic (KMS, TLS-only), one dashboard, and alarms that all notify the
 * topic with a deliberate missing-data treatment. Model quality, drift and fairness alarms read the metric
 * contract in `METRIC_CONTRACT` that evaluation jobs publish to. A composite "rollout health" alarm per served
 * model is what rollouts roll back on.
 */
export class MlopsMonitoring extends Construct {
  public readonly alarmTopic: sns.Topic;
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly profile: EnvironmentProfile;
  private readonly action: cwActions.SnsAction;
  private readonly alarmIds = new Set<string>();
  private readonly rolloutHealth = new Map<string, cloudwatch.CompositeAlarm>();
  private readonly dashboardName: string;
  /** Dashboards of served models monitored in their own scope, keyed by that scope. */
  private readonly modelDashboards = new Map<Construct, cloudwatch.Dashboard>();

  constructor(scope: Construct, id: string, props: MlopsMonitoringProps = {}) {
    super(scope, id);
    this.profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);
    const emails = check.emailList('notifyEmails', props.notifyEmails);

    const key = props.encryptionKey ?? newKey(this, 'TopicKey', { enableKeyRotation: true, description: `MLOps alarms (${this.profile.name})` });
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowAlarmPublishersToUseTheKey',
      principals: ALARM_PUBLISHER_SERVICES.map((p) => new iam.ServicePrincipal(p)),
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName: `MLOps alarms (${this.profile.name})` });
    this.alarmTopic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.alarmTopic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    for (const email of emails) this.alarmTopic.addSubscription(new subs.EmailSubscription(email));
    this.action = new cwActions.SnsAction(this.alarmTopic);

    validateDashboardName(this.specScope(), props.dashboardName);
    this.dashboardName = props.dashboardName ?? `${Stack.of(this).stackName}-mlops`;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(24),
    });

    // Defaults and validation shared with the Pulumi MlopsMonitoring.
    const chargesAlarm = estimatedChargesAlarmSpec(this.specScope(), props.estimatedChargesThresholdUsd, this.profile);
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region === 'us-east-1') {
      const charges = metricOf(chargesAlarm.metric!);
      this.addSpecAlarm(chargesAlarm, charges);
      this.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: 'Estimated charges (USD)', left: [charges], width: 24 }));
    }
  }

  /** Alarm on a model quality metric published by an evaluation job (namespace `MLOps/ModelQuality`). */
  public addModelQualityAlarm(options: ModelQualityAlarmOptions): cloudwatch.Alarm {
    const spec = modelQualityAlarmSpec(this.specScope(), { ...options, periodSeconds: options.period?.toSeconds() });
    return this.addSpecAlarm(spec, metricOf(spec.metric!));
  }

  /** Alarm when a feature's drift score passes the threshold (namespace `MLOps/DataDrift`). */
  public addDriftAlarm(options: DriftAlarmOptions): cloudwatch.Alarm {
    const spec = driftAlarmSpec(this.specScope(), { ...options, periodSeconds: options.period?.toSeconds() }, this.profile);
    return this.addSpecAlarm(spec, metricOf(spec.metric!));
  }

  /** Alarm when a fairness gap passes the threshold (namespace `MLOps/Fairness`); can gate a rollout. */
  public addFairnessAlarm(options: FairnessAlarmOptions): cloudwatch.Alarm {
    const spec = fairnessAlarmSpec(this.specScope(), { ...options, periodSeconds: options.period?.toSeconds() }, this.profile);
    return this.addSpecAlarm(spec, metricOf(spec.metric!));
  }

  /**
   * The composite alarm rollouts of `model` roll back on: in alarm when any of `alarms` is. Calling it again
   * for the same model adds alarms to the rule.
   */
  public addRolloutHealthAlarm(model: string, alarms: cloudwatch.IAlarm[], scope: Construct = this): cloudwatch.CompositeAlarm {
    validateIdentifier(this.node.path, 'model', model, 63);
    validateRolloutHealthAlarm(checkFor(this), model, alarms, this.rolloutHealth.has(model));
    const composite = new cloudwatch.CompositeAlarm(scope, rolloutHealthAlarmId(model), {
      alarmRule: cloudwatch.AlarmRule.anyOf(...alarms.map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM))),
      alarmDescription: `Rollout health of ${model}: any of its serving alarms`,
    });
    composite.addAlarmAction(this.action);
    this.rolloutHealth.set(model, composite);
    return composite;
  }

  /** The rollout health alarm of a served model, if one was added. */
  public rolloutHealthAlarm(model: string): cloudwatch.IAlarm | undefined {
    return this.rolloutHealth.get(model);
  }

  /**
   * Monitors any construct of the library: a served model (InferenceFleet, ModelEndpoint), a training
   * cluster or the model registry. Returns this, so calls chain.
   */
  public monitor(target: GpuTrainingCluster | ModelRegistry | (IServingMetrics & { readonly modelName: string })): this {
    if (target instanceof GpuTrainingCluster) {this.monitorTraining(target);} else if (target instanceof ModelRegistry) {this.monitorRegistry(target);} else if (typeof target?.modelName === 'string' && typeof (target as Partial<IServingMetrics>).metricLatency === 'function') {this.monitorServing(target.modelName, target);} else {
      checkFor(this).fail('monitor(target)', describeTarget(target), 'is not an InferenceFleet, ModelEndpoint, GpuTrainingCluster or ModelRegistry',
        'pass one of those constructs, or call monitorServing(modelName, metrics) for other serving metrics.');
    }
    return this;
  }

  /**
   * Latency p99 and 5xx-rate alarms at the profile's thresholds, a low-GPU-utilization alarm, a rollout health
   * composite, and a dashboard row (latency p50/p90/p99, errors, invocations, GPU) for one served model.
   */
  public monitorServing(model: string, serving: IServingMetrics, options: MonitorServingOptions = {}): ServedModelAlarms {
    validateIdentifier(this.node.path, 'model', model, 63);
    const scope = options.scope ?? this;
    const shared = options.dashboard;
    // A model monitored in its own scope (a platform's per-model nested stack) gets its own dashboard there unless it
    // shares one: one environment dashboard with a row per model would pass CloudWatch's 500 widgets and bloat the
    // parent template.
    const dashboard = shared ? undefined : (scope === this ? this.dashboard : this.modelDashboard(scope, model));
    const widget = shared === undefined;
    const specs = servingAlarmSpecs(this.specScope(), model, this.profile, options.gpu ?? true, serving.latencyUnit ?? 'milliseconds');
    const latency = this.addSpecAlarm(specs.latency, serving.metricLatency('p99'), scope, widget);
    const errorRate = this.addSpecAlarm(specs.errorRate, serving.metricErrorRate(), scope, widget);
    const gpuUnderused = specs.gpuUnderused
      ? this.addSpecAlarm(specs.gpuUnderused,
        serving.metricGpuUtilization().with({ period: Duration.seconds(specs.gpuUnderused.periodSeconds!) }), scope, widget)
      : undefined;
    const rolloutHealth = this.addRolloutHealthAlarm(model, [latency, errorRate], scope);
    if (shared) {
      shared.addModel(model, serving, rolloutHealth, options.extraMetrics);
      return { latency, errorRate, gpuUnderused, rolloutHealth };
    }
    // Core's titles, which the Pulumi MlopsMonitoring renders on the model's dashboard too.
    const titles = servingRowTitles(model, serving.latencyUnit ?? 'milliseconds');
    dashboard!.addWidgets(
      new cloudwatch.GraphWidget({ title: titles.latency, left: (['p50', 'p90', 'p99'] as const).map((p) => serving.metricLatency(p)), width: 8 }),
      new cloudwatch.GraphWidget({ title: titles.requests, left: [serving.metricInvocations()], right: [serving.metricErrorRate()], width: 8 }),
      new cloudwatch.GraphWidget({ title: titles.gpu, left: [serving.metricGpuUtilization()], width: 8 }),
    );
    return { latency, errorRate, gpuUnderused, rolloutHealth };
  }

  /** Failed training jobs (from the cluster's EventBridge rule) and a dashboard row. */
  public monitorTraining(cluster: GpuTrainingCluster): cloudwatch.Alarm {
    const spec = failedJobsAlarmSpec(cluster.node.id, cluster.node.path, cluster.failedJobsRule.ruleName);
    return this.addSpecAlarm(spec, metricOf(spec.metric!));
  }

  /** CPU, connections and free local storage of the registry database. */
  public monitorRegistry(registry: ModelRegistry): cloudwatch.Alarm[] {
    return registryAlarmSpecs(registry.node.id, registry.node.path, registry.cluster.clusterIdentifier)
      .map((spec) => this.addSpecAlarm(spec, metricOf(spec.metric!)));
  }

  /**
   * Creates an alarm that notifies the topic and puts its metric on the dashboard. Every alarm of the
   * platform goes through here, so none lacks an action.
   */
  public addAlarm(id: string, metric: cloudwatch.IMetric, options: AddAlarmOptions): cloudwatch.Alarm {
    validateNewAlarm(checkFor(this), id, this.alarmIds.has(id));
    this.alarmIds.add(id);
    const { scope, dashboardWidget, ...alarmOptions } = options;
    const alarm = new cloudwatch.Alarm(scope ?? this, id, { metric, evaluationPeriods: 1, ...alarmOptions });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    if (dashboardWidget ?? true) {
      const dashboard = (scope && this.modelDashboards.get(scope)) ?? this.dashboard;
      dashboard.addWidgets(new cloudwatch.AlarmWidget({ title: options.alarmDescription ?? id, alarm, width: 12 }));
    }
    return alarm;
  }

  /**
   * A dashboard for many served models (`monitorServing(..., { dashboard })`), named `<environment dashboard>-<suffix>`.
   */
  public addServingDashboard(scope: Construct, id: string, suffix: string): ServingDashboard {
    checkFor(this).matches('suffix', suffix, /^[A-Za-z0-9_-]{1,40}$/, '1-40 letters, digits, "-" or "_"');
    const dashboardName = Token.isUnresolved(this.dashboardName) ? `${this.dashboardName}-${suffix}` : `${this.dashboardName}-${suffix}`.slice(0, 255);
    return new ServingDashboard(scope, id, { dashboardName, title: suffix });
  }

  /** An alarm from its engine-neutral spec (the metric given by the caller where the spec has none). */
  private addSpecAlarm(spec: AlarmSpec, metric: cloudwatch.IMetric, scope?: Construct, dashboardWidget = true): cloudwatch.Alarm {
    return this.addAlarm(spec.id, metric, {
      scope,
      dashboardWidget,
      threshold: spec.threshold,
      evaluationPeriods: spec.evaluationPeriods,
      datapointsToAlarm: spec.datapointsToAlarm,
      comparisonOperator: spec.comparisonOperator as cloudwatch.ComparisonOperator,
      treatMissingData: spec.treatMissingData as cloudwatch.TreatMissingData,
      alarmDescription: spec.description,
    });
  }

  private specScope(): SpecScope {
    return { scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) };
  }

  private modelDashboard(scope: Construct, model: string): cloudwatch.Dashboard {
    let dashboard = this.modelDashboards.get(scope);
    if (!dashboard) {
      dashboard = new cloudwatch.Dashboard(scope, `Dashboard-${model}`, {
        dashboardName: Token.isUnresolved(this.dashboardName) ? `${this.dashboardName}-${model}` : `${this.dashboardName}-${model}`.slice(0, 255),
        defaultInterval: Duration.hours(24),
      });
      this.modelDashboards.set(scope, dashboard);
    }
    return dashboard;
  }
}

function metricOf(spec: MetricSpec): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: spec.namespace,
    metricName: spec.metricName,
    dimensionsMap: { ...spec.dimensions },
    statistic: spec.statistic,
    period: Duration.seconds(spec.periodSeconds),
  });
}

/** A monitor() target as a user would recognise it in an error: its construct path, else its type. */
function describeTarget(target: unknown): string {
  if (target instanceof Construct) return target.node.path;
  return target === null ? 'null' : typeof target === 'object' ? (target as object).constructor?.name ?? 'object' : typeof target;
}
