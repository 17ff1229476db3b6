export * from './component-support';
export * from './artifact-store';
export * from './model-registry';
export * from './cost-guard';
export * from './gpu-training-cluster';
export * from './inference-fleet';
export * from './mlops-platform';
export * from './kubernetes-workloads';
