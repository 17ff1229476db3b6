export * from './validation';
export * from './profiles';
export * from './gpu-catalog';
export * from './prices';
export * from './cost-model';
export * from './rollout';
export * from './tags';
export * from './naming';
