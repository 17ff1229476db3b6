import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ALARM_PUBLISHER_SERVICES, Check, driftAlarmSpec, DriftAlarmInput, EnvironmentProfile, ERROR_RATE_EXPRESSION, estimatedChargesAlarmSpec,
  failedJobsAlarmSpec, fairnessAlarmSpec, FairnessAlarmInput, modelQualityAlarmSpec, ModelQualityAlarmInput, physicalName, registryAlarmSpecs,
  rolloutHealthAlarmId, servingAlarmSpecs, servingGraphSpec, servingRowTitles, SpecScope, validateDashboardName, validateIdentifier, validateNewAlarm,
  validateRolloutHealthAlarm,
} from '../core';
import { alarmFromSpec, CloudWatchMetric, ErrorRateMetric, metricFromSpec, ServingMetrics } from './alarms';
import {
  accountContext, childOptions, componentSpecScope, deferred, denyInsecureTopicStatement, MlopsComponentArgs, policyJson, resolveProfileAndTags,
  rotatingKey,
} from './component-support';
import { GpuTrainingCluster } from './gpu-training-cluster';
import { ModelRegistry } from './model-registry';

export interface MlopsMonitoringArgs extends MlopsComponentArgs {
  /**
   * ARN of the key of the alarm topic; CloudWatch, Budgets and Cost Anomaly Detection must be allowed to use it
   * (`alarmPublisherKeyStatement` gives the statement).
   * @default - a new key with rotation that they may use
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
  /** Email addresses subscribed to the alarm topic. @default - none */
  readonly notifyEmails?: string[];
  /** @default - `<project>-<stack>-<name>` */
  readonly dashboardName?: string;
  /**
   * Alarm when AWS's estimated charges for the month pass this many dollars (only where the provider's region is
   * us-east-1, where billing metrics live).
   * @default - the profile's monthly budget
   */
  readonly estimatedChargesThresholdUsd?: number;
}

/** Options of `MlopsMonitoring.monitorServing`. */
export interface MonitorServingOptions {
  /**
   * More percent metrics for the model's serving graph (right axis, 0-100), e.g. a fleet rollout's candidate traffic
   * (core's `fleetRolloutProgressMetricSpec`). Given (even empty), the model's dashboard starts with the graph the CDK
   * platform's serving dashboards show for it (core's `servingGraphSpec`: p99 latency, 5xx % and these), as the Pulumi
   * `MlopsPlatform` does for every served model.
   * @default - no such graph
   */
  readonly extraMetrics?: CloudWatchMetric[];
}

/** The alarms of one served model. */
export interface ServedModelAlarms {
  readonly latency: aws.cloudwatch.MetricAlarm;
  readonly errorRate: aws.cloudwatch.MetricAlarm;
  readonly gpuUnderused?: aws.cloudwatch.MetricAlarm;
  /** Any serving alarm: what rollouts roll back on. */
  readonly rolloutHealth: aws.cloudwatch.CompositeAlarm;
  readonly dashboard: aws.cloudwatch.Dashboard;
}

/** The key-policy statement letting the alarm publishers of this account use a topic key. */
export function alarmPublisherKeyStatement(accountId: pulumi.Input<string>): Record<string, unknown> {
  return {
    Sid: 'AllowAlarmPublishersToUseTheKey',
    Effect: 'Allow',
    Principal: { Service: [...ALARM_PUBLISHER_SERVICES] },
    Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
    Resource: '*',
    Condition: { StringEquals: { 'aws:SourceAccount': accountId } },
  };
}

/**
 * The Pulumi counterpart of the CDK `MlopsMonitoring`: one alarm topic (KMS, TLS-only, CloudWatch may publish), an
 * environment dashboard and one per served model, and alarms that all notify the topic on ALARM and OK with a
 * deliberate missing-data treatment: served models (p99 latency, 5xx rate, GPU waste, a rollout-health composite),
 * model quality, drift and fairness on the metric contract, failed training jobs, the registry database and the
 * month's estimated charges. Thresholds and validation come from core's alarm specs, as in the CDK construct.
 */
export class MlopsMonitoring extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:MlopsMonitoring';

  public readonly profile: EnvironmentProfile;
  public readonly alarmTopic: aws.sns.Topic;
  public readonly dashboard: aws.cloudwatch.Dashboard;
  public readonly dashboardName: string;
  /** Every alarm, by its id (`Latency-<model>`, `Drift-<model>-<feature>`, ...). */
  public readonly alarms = new Map<string, aws.cloudwatch.MetricAlarm>();
  private readonly rolloutHealth = new Map<string, aws.cloudwatch.CompositeAlarm>();
  private readonly widgets: Array<pulumi.Output<Widget>> = [];
  private readonly scope: SpecScope;
  private readonly tags: Record<string, string>;
  private readonly resourceName: string;
  /** The region of the provider: every metric widget names it, as CloudWatch's dashboard body expects (and CDK renders). */
  private readonly region: pulumi.Output<string>;

  constructor(name: string, args: MlopsMonitoringArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(MlopsMonitoring.TYPE, name);
    const emails = new Check(scope.scope).emailList('notifyEmails', args.notifyEmails);
    validateDashboardName(scope, args.dashboardName);
    const chargesAlarm = estimatedChargesAlarmSpec(scope, args.estimatedChargesThresholdUsd, profile);
    super(MlopsMonitoring.TYPE, name, {}, opts);
    this.profile = profile;
    this.scope = scope;
    this.resourceName = name;
    this.tags = mlopsTags.toAwsTags();
    const account = accountContext(this);
    this.region = account.region;

    const keyArn = args.encryptionKeyArn ?? rotatingKey(`${name}-topic-key`, `MLOps alarms (${profile.name})`, {
      retain: false, pendingWindowDays: 30, tags: this.tags, statements: [alarmPublisherKeyStatement(account.accountId)],
    }, this).arn;
    this.alarmTopic = new aws.sns.Topic(`${name}-alarms`, { kmsMasterKeyId: keyArn, displayName: `MLOps alarms (${profile.name})`, tags: this.tags }, childOptions(this));
    new aws.sns.TopicPolicy(`${name}-alarms-policy`, {
      arn: this.alarmTopic.arn,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AllowCloudWatchAlarmsToPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: this.alarmTopic.arn,
            Condition: { StringEquals: { 'aws:SourceAccount': account.accountId } },
          },
          denyInsecureTopicStatement(this.alarmTopic.arn),
        ],
      }),
    }, childOptions(this));
    emails.forEach((email, i) => new aws.sns.TopicSubscription(`${name}-email-${i}`, {
      topic: this.alarmTopic.arn, protocol: 'email', endpoint: email,
    }, childOptions(this)));

    this.dashboardName = args.dashboardName ?? physicalName([pulumi.getProject(), pulumi.getStack(), name], { maxLength: 200, lowerCase: false });
    // The environment dashboard shows every alarm added while the program runs: its body is rendered once the
    // program's synchronous part is done (alarms added after an `await` go to the models' own dashboards only).
    this.dashboard = new aws.cloudwatch.Dashboard(`${name}-dashboard`, {
      dashboardName: this.dashboardName,
      dashboardBody: deferred(() => dashboardBody(this.widgets, this.region)),
    }, childOptions(this));

    if (aws.config.region === 'us-east-1') {
      const charges = metricFromSpec(chargesAlarm.metric!);
      this.addAlarmFromSpec(chargesAlarm, charges);
      this.widgets.push(graph('Estimated charges (USD)', [charges], 24));
    }
    this.registerOutputs({ alarmTopicArn: this.alarmTopic.arn, dashboardName: this.dashboardName });
  }

  /** Alarm on a model quality metric published by an evaluation job (namespace `MLOps/ModelQuality`). */
  public addModelQualityAlarm(options: ModelQualityAlarmInput): aws.cloudwatch.MetricAlarm {
    const spec = modelQualityAlarmSpec(this.scope, options);
    return this.addAlarmFromSpec(spec, metricFromSpec(spec.metric!));
  }

  /** Alarm when a feature's drift score passes the threshold (namespace `MLOps/DataDrift`). */
  public addDriftAlarm(options: DriftAlarmInput): aws.cloudwatch.MetricAlarm {
    const spec = driftAlarmSpec(this.scope, options, this.profile);
    return this.addAlarmFromSpec(spec, metricFromSpec(spec.metric!));
  }

  /** Alarm when a fairness gap passes the threshold (namespace `MLOps/Fairness`). */
  public addFairnessAlarm(options: FairnessAlarmInput): aws.cloudwatch.MetricAlarm {
    const spec = fairnessAlarmSpec(this.scope, options, this.profile);
    return this.addAlarmFromSpec(spec, metricFromSpec(spec.metric!));
  }

  /**
   * p99 latency (threshold converted to the backend's latency unit) and 5xx-rate alarms at the profile's thresholds, a
   * GPU-waste alarm on NVIDIA instances, a rollout-health composite and a dashboard for one served model (starting with
   * its serving graph when `extraMetrics` are given) with its alarms and the composite's status. The alarms are on that
   * dashboard, not on the environment dashboard, which does not grow with the models.
   */
  public monitorServing(serving: ServingMetrics, options: MonitorServingOptions = {}): ServedModelAlarms {
    const model = serving.modelName;
    const specs = servingAlarmSpecs(this.scope, model, this.profile, serving.nvidiaGpu, serving.latencyUnit);
    // On the model's own dashboard only, as the CDK platform keeps serving alarms off the environment dashboard: it does
    // not grow with the models (CloudWatch takes 500 widgets per dashboard).
    const latency = this.addAlarmFromSpec(specs.latency, serving.metricLatency('p99'), undefined, false);
    const errorRate = this.addAlarmFromSpec(specs.errorRate, serving.metricErrorRate(), undefined, false);
    const gpuUnderused = specs.gpuUnderused
      ? this.addAlarmFromSpec(specs.gpuUnderused, serving.metricGpuUtilization(), specs.gpuUnderused.periodSeconds, false)
      : undefined;
    const rolloutHealth = this.addRolloutHealthAlarm(model, [latency, errorRate]);
    const errors = serving.metricErrorRate();
    const titles = servingRowTitles(model, serving.latencyUnit);
    const dashboard = new aws.cloudwatch.Dashboard(`${this.resourceName}-${model}-dashboard`, {
      dashboardName: `${this.dashboardName}-${model}`.slice(0, 255),
      dashboardBody: dashboardBody([
        ...(options.extraMetrics ? [servingGraph(serving, options.extraMetrics)] : []),
        // Core's titles, as the CDK MlopsMonitoring renders a model's row.
        graph(titles.latency, (['p50', 'p90', 'p99'] as const).map((p) => serving.metricLatency(p)), 8),
        requestsGraph(titles.requests, errors),
        graph(titles.gpu, [serving.metricGpuUtilization()], 8),
        ...[latency, errorRate, ...(gpuUnderused ? [gpuUnderused] : [])].map((a) => alarmWidget(a)),
        rolloutHealth.arn.apply((arn): Widget => ({
          type: 'alarm', width: 24, height: 6, properties: { title: `${model}: rollout health`, alarms: [arn], sortBy: 'stateUpdatedTimestamp' },
        })),
      ], this.region),
    }, childOptions(this));
    return { latency, errorRate, gpuUnderused, rolloutHealth, dashboard };
  }

  /** Failed training jobs of a cluster (from its EventBridge rule). */
  public monitorTraining(cluster: GpuTrainingCluster): aws.cloudwatch.MetricAlarm {
    const spec = failedJobsAlarmSpec(cluster.resourceName, cluster.resourceName, '');
    return this.addAlarmFromSpec(spec, { ...metricFromSpec(spec.metric!), dimensions: { RuleName: cluster.failedJobsRule.name } });
  }

  /** CPU, connections and free local storage of the registry database. */
  public monitorRegistry(registry: ModelRegistry): aws.cloudwatch.MetricAlarm[] {
    return registryAlarmSpecs(registry.resourceName, registry.resourceName, '').map((spec) =>
      this.addAlarmFromSpec(spec, { ...metricFromSpec(spec.metric!), dimensions: { DBClusterIdentifier: registry.cluster.clusterIdentifier } }));
  }

  /** The composite alarm rollouts of `model` roll back on: in alarm when any of `alarms` is. */
  public addRolloutHealthAlarm(model: string, alarms: aws.cloudwatch.MetricAlarm[]): aws.cloudwatch.CompositeAlarm {
    validateIdentifier(this.scope.scope, 'model', model, 63);
    validateRolloutHealthAlarm(new Check(this.scope.scope), model, alarms, this.rolloutHealth.has(model));
    const composite = new aws.cloudwatch.CompositeAlarm(`${this.resourceName}-${rolloutHealthAlarmId(model)}`, {
      alarmName: physicalName([pulumi.getProject(), pulumi.getStack(), this.resourceName, rolloutHealthAlarmId(model)],
        { maxLength: 255, lowerCase: false }),
      alarmDescription: `Rollout health of ${model}: any of its serving alarms`,
      alarmRule: pulumi.all(alarms.map((a) => a.name)).apply((names) => names.map((n) => `ALARM("${n}")`).join(' OR ')),
      alarmActions: [this.alarmTopic.arn],
      tags: this.tags,
    }, childOptions(this));
    this.rolloutHealth.set(model, composite);
    return composite;
  }

  /** The rollout health alarm of a served model, if one was added. */
  public rolloutHealthAlarm(model: string): aws.cloudwatch.CompositeAlarm | undefined {
    return this.rolloutHealth.get(model);
  }

  /** Creates an alarm that notifies the topic (ALARM and OK) and shows on the environment dashboard. */
  private addAlarmFromSpec(
    spec: Parameters<typeof alarmFromSpec>[1], metric: CloudWatchMetric | ErrorRateMetric, periodSeconds?: number, environmentWidget = true,
  ): aws.cloudwatch.MetricAlarm {
    validateNewAlarm(new Check(this.scope.scope), spec.id, this.alarms.has(spec.id));
    const alarm = alarmFromSpec(`${this.resourceName}-${spec.id}`, spec, metric, {
      actions: [this.alarmTopic.arn], okActions: true, tags: this.tags, parent: this, periodSeconds,
    });
    this.alarms.set(spec.id, alarm);
    if (environmentWidget) this.widgets.push(alarmWidget(alarm, spec.description));
    return alarm;
  }
}

/** A dashboard widget as CloudWatch's dashboard body spells it. */
interface Widget {
  readonly type: string;
  readonly width: number;
  readonly height: number;
  readonly properties: unknown;
}

function graph(title: string, metrics: CloudWatchMetric[], width: number): pulumi.Output<Widget> {
  return pulumi.output(metrics.map((m) => pulumi.output(m.dimensions).apply((dims) => [
    m.namespace, m.metricName, ...Object.entries(dims).flat(), { stat: m.statistic, period: m.periodSeconds },
  ]))).apply((rows): Widget => ({ type: 'metric', width, height: 6, properties: { title, view: 'timeSeries', metrics: rows } }));
}

/** A metric row of a graph widget, as CloudWatch's dashboard body spells it. */
function metricRow(m: CloudWatchMetric, options: Record<string, unknown>): pulumi.Output<unknown[]> {
  return pulumi.output(m.dimensions).apply((dims) => [
    m.namespace, m.metricName, ...Object.entries(dims).flat(),
    { ...(m.label === undefined ? {} : { label: m.label }), ...options, period: m.periodSeconds, stat: m.statistic },
  ]);
}

/** Requests (left) and the 5xx rate over them (right), as the CDK MlopsMonitoring graphs a model's requests. */
function requestsGraph(title: string, errors: ErrorRateMetric): pulumi.Output<Widget> {
  const errorRate: unknown[] = [{ ...ERROR_RATE_EXPRESSION, period: errors.requests.periodSeconds, yAxis: 'right' }];
  return pulumi.all([metricRow(errors.requests, { id: 'requests' }), errorRate, metricRow(errors.errors, { id: 'errors', visible: false })])
    .apply((metrics): Widget => ({ type: 'metric', width: 8, height: 6, properties: { view: 'timeSeries', title, metrics } }));
}

/** The serving graph of a model as core's `servingGraphSpec` lays it out (the CDK `ServingDashboard` renders the same). */
function servingGraph(serving: ServingMetrics, extraMetrics: CloudWatchMetric[]): pulumi.Output<Widget> {
  const spec = servingGraphSpec(serving.modelName, serving.latencyUnit);
  const errors = serving.metricErrorRate();
  const errorRate: unknown[] = [{ ...ERROR_RATE_EXPRESSION, period: errors.requests.periodSeconds, yAxis: 'right' }];
  return pulumi.all([
    metricRow(serving.metricLatency('p99'), { label: spec.latencyLabel }),
    errorRate,
    metricRow(errors.errors, { id: 'errors', visible: false }),
    metricRow(errors.requests, { id: 'requests', visible: false }),
    ...extraMetrics.map((m) => metricRow(m, { yAxis: 'right' })),
  ]).apply((metrics): Widget => ({
    type: 'metric',
    width: spec.width,
    height: spec.height,
    properties: { view: 'timeSeries', title: spec.title, metrics, yAxis: { right: spec.rightYAxis } },
  }));
}

function alarmWidget(alarm: aws.cloudwatch.MetricAlarm, title?: string): pulumi.Output<Widget> {
  return pulumi.all([alarm.arn, alarm.alarmDescription]).apply(([arn, description]): Widget => ({
    type: 'metric', width: 12, height: 6, properties: { title: title ?? description ?? arn, annotations: { alarms: [arn] } },
  }));
}

/** A dashboard body: the widgets laid out, each metric widget naming the region of its metrics. */
function dashboardBody(widgets: Array<pulumi.Output<Widget>>, region: pulumi.Output<string>): pulumi.Output<string> {
  return pulumi.all([pulumi.output(widgets), region]).apply(([all, regionName]) => JSON.stringify({
    start: '-PT24H',
    widgets: layout((all as Widget[]).map((w) => (w.type === 'metric' ? { ...w, properties: { region: regionName, ...(w.properties as object) } } : w))),
  }));
}

/** Places widgets left to right in rows of 24 columns. */
function layout(widgets: Array<{ width: number; height: number }>): unknown[] {
  let x = 0;
  let y = 0;
  return widgets.map((w) => {
    if (x + w.width > 24) {
      x = 0;
      y += 6;
    }
    const placed = { ...w, x, y };
    x += w.width;
    return placed;
  });
}
