export * from './assembly';
export * from './classify';
export * from './cost-delta';
export * from './kubernetes';
export * from './review';
export * from './render-markdown';
export * from './cli';
export * from './protective';
