import { App } from 'aws-cdk-lib';
import { PlatformEnvironment } from './platform-environment';
import { EnvironmentProfile } from 'mlops-constructs';

export * from './platform-environment';

/** The three environments of the reference app, each from a preset with the overrides a real team would set. */
export const REFERENCE_PROFILES: readonly EnvironmentProfile[] = [
  EnvironmentProfile.dev({ budget: { monthlyLimitUsd: 1500 } }),
  EnvironmentProfile.staging(),
  EnvironmentProfile.prod(),
];

/** Adds one stack per reference environment to `app` (stack names `mlops-dev`, `mlops-staging`, `mlops-prod`). */
export function buildReferenceApp(app: App): PlatformEnvironment[] {
  const region = process.env.CDK_DEFAULT_REGION ?? 'us-east-1';
  return REFERENCE_PROFILES.map((profile) => new PlatformEnvironment(app, `mlops-${profile.name}`, {
    profile,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
  }));
}
