export * from './scope';
export * from './mlops-tagging';
export * from './mlops-stack';
export * from './platform-key';
export * from './compliance-packs';
export * from './cost-guard';
