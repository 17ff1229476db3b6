/**
 * The metric contract between evaluation jobs and monitoring, shared by every engine. Evaluation, drift and
 * bias jobs publish to these namespaces with these dimensions; AWS alarms (MlopsMonitoring) and Prometheus
 * rules (MonitoringRules) read them. Publish each data point with two dimension sets, the alarmed one without
 * the version and a lineage one with it (CloudWatch embedded metric format does both in one line).
 */
export const METRIC_CONTRACT = Object.freeze({
  modelQuality: {
    /** Metric name = the quality metric (`auc`, `accuracy`, `rmse`, ...). */
    namespace: 'MLOps/ModelQuality',
    alarmDimensions: ['Model'] as const,
    lineageDimensions: ['Model', 'Version'] as const,
  },
  dataDrift: {
    /** Metric name `DriftScore`, 0-1 (e.g. population stability index scaled), per feature. */
    namespace: 'MLOps/DataDrift',
    metricName: 'DriftScore',
    alarmDimensions: ['Model', 'Feature'] as const,
    lineageDimensions: ['Model', 'Version', 'Feature'] as const,
  },
  fairness: {
    /** Metric name `FairnessGap`, 0-1 (e.g. demographic parity difference), per fairness metric. */
    namespace: 'MLOps/Fairness',
    metricName: 'FairnessGap',
    alarmDimensions: ['Model', 'Metric'] as const,
    lineageDimensions: ['Model', 'Version', 'Metric'] as const,
  },
  /** Prometheus names of the same metrics, for Kubernetes. */
  prometheus: {
    modelQuality: 'mlops_model_quality',
    dataDrift: 'mlops_feature_drift_score',
    fairness: 'mlops_fairness_gap',
    labels: { model: 'model', version: 'version', feature: 'feature', metric: 'metric' },
  },
});
