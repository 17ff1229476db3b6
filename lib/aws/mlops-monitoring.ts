import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { EnvironmentProfile, METRIC_CONTRACT, validateIdentifier } from '../core';
import { GpuTrainingCluster } from './gpu-training-cluster';
import { IServingMetrics } from './inference-fleet';
import { ModelRegistry } from './model-registry';
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
}

/** Which way a model quality metric goes wrong. */
export enum QualityDirection {
  /** Higher is better (accuracy, AUC): alarm below the threshold. */
  HIGHER_IS_BETTER = 'higher-is-better',
  /** Lower is better (RMSE, log loss): alarm above the threshold. */
  LOWER_IS_BETTER = 'lower-is-better',
}

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

    const key = props.encryptionKey ?? new kms.Key(this, 'TopicKey', { enableKeyRotation: true, description: `MLOps alarms (${this.profile.name})` });
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowAlarmPublishersToUseTheKey',
      principals: ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com', 'costalerts.amazonaws.com'].map((p) => new iam.ServicePrincipal(p)),
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

    check.matches('dashboardName', props.dashboardName, /^[A-Za-z0-9_-]{1,255}$/, '1-255 letters, digits, "-" or "_"');
    this.dashboardName = props.dashboardName ?? `${Stack.of(this).stackName}-mlops`;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(24),
    });

    const chargesThreshold = check.positiveNumber('estimatedChargesThresholdUsd', props.estimatedChargesThresholdUsd) ?? this.profile.budget.monthlyLimitUsd;
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region === 'us-east-1') {
      const charges = new cloudwatch.Metric({
        namespace: 'AWS/Billing', metricName: 'EstimatedCharges', dimensionsMap: { Currency: 'USD' }, statistic: 'Maximum', period: Duration.hours(6),
      });
      this.addAlarm('EstimatedCharges', charges, {
        threshold: chargesThreshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // Billing publishes a few times a day; a gap is not a signal.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `Estimated charges for the month above $${chargesThreshold}`,
      });
      this.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: 'Estimated charges (USD)', left: [charges], width: 24 }));
    }
  }

  /** Alarm on a model quality metric published by an evaluation job (namespace `MLOps/ModelQuality`). */
  public addModelQualityAlarm(options: ModelQualityAlarmOptions): cloudwatch.Alarm {
    validateIdentifier(this.node.path, 'model', options.model, 63);
    checkFor(this).matches('metric', options.metric, /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/, 'a metric name of letters, digits, "_", "." or "-"');
    checkFor(this).numberInRange('threshold', options.threshold, -1e9, 1e9);
    const direction = options.direction ?? QualityDirection.HIGHER_IS_BETTER;
    const metric = new cloudwatch.Metric({
      namespace: METRIC_CONTRACT.modelQuality.namespace,
      metricName: options.metric,
      dimensionsMap: { Model: options.model },
      statistic: direction === QualityDirection.HIGHER_IS_BETTER ? 'Minimum' : 'Maximum',
      period: options.period ?? Duration.days(1),
    });
    return this.addAlarm(`Quality-${options.model}-${options.metric}`, metric, {
      threshold: options.threshold,
      comparisonOperator: direction === QualityDirection.HIGHER_IS_BETTER
        ? cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        : cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // Evaluations run on a schedule; a period without one is not a quality signal.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${options.model}: ${options.metric} ${direction === QualityDirection.HIGHER_IS_BETTER ? 'below' : 'above'} ${options.threshold}`,
    });
  }

  /** Alarm when a feature's drift score passes the threshold (namespace `MLOps/DataDrift`). */
  public addDriftAlarm(options: DriftAlarmOptions): cloudwatch.Alarm {
    validateIdentifier(this.node.path, 'model', options.model, 63);
    checkFor(this).matches('feature', options.feature, /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, 'a feature name of letters, digits, "_", "." or "-"');
    const threshold = checkFor(this).numberInRange('threshold', options.threshold, 0.001, 1) ?? this.profile.alarms.driftScore;
    const metric = new cloudwatch.Metric({
      namespace: METRIC_CONTRACT.dataDrift.namespace,
      metricName: METRIC_CONTRACT.dataDrift.metricName,
      dimensionsMap: { Model: options.model, Feature: options.feature },
      statistic: 'Maximum',
      period: options.period ?? Duration.days(1),
    });
    return this.addAlarm(`Drift-${options.model}-${options.feature}`, metric, {
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${options.model}: drift of feature ${options.feature} above ${threshold}`,
    });
  }

  /** Alarm when a fairness gap passes the threshold (namespace `MLOps/Fairness`); can gate a rollout. */
  public addFairnessAlarm(options: FairnessAlarmOptions): cloudwatch.Alarm {
    validateIdentifier(this.node.path, 'model', options.model, 63);
    checkFor(this).matches('metric', options.metric, /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/, 'a metric name of letters, digits, "_", "." or "-"');
    const threshold = checkFor(this).numberInRange('threshold', options.threshold, 0.001, 1) ?? this.profile.alarms.fairnessGap;
    const metric = new cloudwatch.Metric({
      namespace: METRIC_CONTRACT.fairness.namespace,
      metricName: METRIC_CONTRACT.fairness.metricName,
      dimensionsMap: { Model: options.model, Metric: options.metric },
      statistic: 'Maximum',
      period: options.period ?? Duration.days(1),
    });
    return this.addAlarm(`Fairness-${options.model}-${options.metric}`, metric, {
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${options.model}: ${options.metric} fairness gap above ${threshold}`,
    });
  }

  /**
   * The composite alarm rollouts of `model` roll back on: in alarm when any of `alarms` is. Calling it again
   * for the same model adds alarms to the rule.
   */
  public addRolloutHealthAlarm(model: string, alarms: cloudwatch.IAlarm[], scope: Construct = this): cloudwatch.CompositeAlarm {
    validateIdentifier(this.node.path, 'model', model, 63);
    if (alarms.length === 0) {
      checkFor(this).fail('alarms', alarms, 'must name at least one alarm', 'pass the latency and error alarms of the served model.');
    }
    const existing = this.rolloutHealth.get(model);
    if (existing) {
      checkFor(this).fail('model', model, 'already has a rollout health alarm', 'collect every alarm of the model and call addRolloutHealthAlarm once.');
    }
    const composite = new cloudwatch.CompositeAlarm(scope, `RolloutHealth-${model}`, {
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
    if (target instanceof GpuTrainingCluster) this.monitorTraining(target);
    else if (target instanceof ModelRegistry) this.monitorRegistry(target);
    else this.monitorServing(target.modelName, target);
    return this;
  }

  /**
   * Latency p99 and 5xx-rate alarms at the profile's thresholds, a low-GPU-utilization alarm, a rollout health
   * composite, and a dashboard row (latency p50/p90/p99, errors, invocations, GPU) for one served model.
   */
  public monitorServing(model: string, serving: IServingMetrics, options: MonitorServingOptions = {}): ServedModelAlarms {
    validateIdentifier(this.node.path, 'model', model, 63);
    const scope = options.scope ?? this;
    // A model monitored in its own scope (a platform's per-model nested stack) gets its own dashboard there: one
    // environment dashboard with a row per model would pass CloudWatch's 500 widgets and bloat the parent template.
    const dashboard = scope === this ? this.dashboard : this.modelDashboard(scope, model);
    const thresholds = this.profile.alarms;
    const latency = this.addAlarm(`Latency-${model}`, serving.metricLatency('p99'), {
      scope,
      threshold: thresholds.latencyP99Ms,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No requests means no latency to judge: an idle (or scaled-to-zero) model is not unhealthy.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${model}: p99 latency above ${thresholds.latencyP99Ms} ms`,
    });
    const errorRate = this.addAlarm(`Errors-${model}`, serving.metricErrorRate(), {
      scope,
      threshold: thresholds.errorRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${model}: 5xx rate above ${thresholds.errorRatePercent}%`,
    });
    let gpuUnderused: cloudwatch.Alarm | undefined;
    if (options.gpu ?? true) {
      gpuUnderused = this.addAlarm(`GpuUnderused-${model}`, serving.metricGpuUtilization().with({ period: Duration.hours(1) }), {
        scope,
        threshold: thresholds.gpuUtilizationLowPercent,
        evaluationPeriods: 6,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // Scaled to zero means no instance reports: that is the cheap state, not waste.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${model}: GPU utilization below ${thresholds.gpuUtilizationLowPercent}% for 6 hours (wasted spend)`,
      });
    }
    const rolloutHealth = this.addRolloutHealthAlarm(model, [latency, errorRate], scope);
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${model}: latency (ms)`,
        left: (['p50', 'p90', 'p99'] as const).map((p) => serving.metricLatency(p)),
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: `${model}: requests and 5xx %`, left: [serving.metricInvocations()], right: [serving.metricErrorRate()], width: 8 }),
      new cloudwatch.GraphWidget({ title: `${model}: GPU utilization %`, left: [serving.metricGpuUtilization()], width: 8 }),
    );
    return { latency, errorRate, gpuUnderused, rolloutHealth };
  }

  /** Failed training jobs (from the cluster's EventBridge rule) and a dashboard row. */
  public monitorTraining(cluster: GpuTrainingCluster): cloudwatch.Alarm {
    const failed = new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'MatchedEvents',
      dimensionsMap: { RuleName: cluster.failedJobsRule.ruleName },
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
    const alarm = this.addAlarm(`FailedJobs-${cluster.node.id}`, failed, {
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // EventBridge publishes only when a job fails.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${cluster.node.path}: a training job failed`,
    });
    return alarm;
  }

  /** CPU, connections and free local storage of the registry database. */
  public monitorRegistry(registry: ModelRegistry): cloudwatch.Alarm[] {
    const dims = { DBClusterIdentifier: registry.cluster.clusterIdentifier };
    const metric = (metricName: string, statistic: string) => new cloudwatch.Metric({
      namespace: 'AWS/RDS', metricName, dimensionsMap: dims, statistic, period: Duration.minutes(5),
    });
    const id = registry.node.id;
    return [
      this.addAlarm(`RegistryCpu-${id}`, metric('CPUUtilization', 'Average'), {
        threshold: 80,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // A paused (0 ACU) registry reports nothing.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${registry.node.path}: CPU above 80%`,
      }),
      this.addAlarm(`RegistryConnections-${id}`, metric('DatabaseConnections', 'Maximum'), {
        threshold: 500,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${registry.node.path}: more than 500 connections`,
      }),
      this.addAlarm(`RegistryStorage-${id}`, metric('FreeLocalStorage', 'Minimum'), {
        threshold: 2 * 1024 ** 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${registry.node.path}: less than 2 GiB free local storage`,
      }),
    ];
  }

  /**
   * Creates an alarm that notifies the topic and puts its metric on the dashboard. Every alarm of the
   * platform goes through here, so none lacks an action.
   */
  public addAlarm(id: string, metric: cloudwatch.IMetric, options: AddAlarmOptions): cloudwatch.Alarm {
    if (this.alarmIds.has(id)) {
      checkFor(this).fail('alarm', id, 'already exists', 'each model/metric pair gets one alarm; change the threshold on the existing one.');
    }
    this.alarmIds.add(id);
    const { scope, ...alarmOptions } = options;
    const alarm = new cloudwatch.Alarm(scope ?? this, id, { metric, evaluationPeriods: 1, ...alarmOptions });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    const dashboard = (scope && this.modelDashboards.get(scope)) ?? this.dashboard;
    dashboard.addWidgets(new cloudwatch.AlarmWidget({ title: options.alarmDescription ?? id, alarm, width: 12 }));
    return alarm;
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
