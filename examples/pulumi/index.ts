import { buildDevEnvironment } from './program';

const { platform, workloads } = buildDevEnvironment();

export const artifactBuckets = platform.artifactStore.bucketNames;
export const platformKeyArn = platform.platformKey.arn;
export const estimatedMonthlyCostUsd = platform.estimatedMonthlyCost;
export const kubernetesObjects = workloads.objectKeys;
