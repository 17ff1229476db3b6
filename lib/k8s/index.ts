export * from './mlops-chart';
export * from './workload-identity';
export * from './team-namespace';
export * from './checkpoint';
export * from './gpu-training-job';
export * from './scaling-metric';
export * from './inference-service';
export * from './monitoring-rules';
