// The reference app's environments, built for a local AWS emulator (moto): the same MlopsPlatform with the same
// profile, teams, models and training job, with the few options the emulator cannot handle changed. docs/emulator.md
// lists every difference and why; scripts/emulator.ts adapts the synthesized templates to moto's CloudFormation.
// Synthesized by `npm run deploy:local` and test/integ through the cdk CLI (scripts/emulator.ts writes the cdk.json).
import { App } from 'aws-cdk-lib';
import { REFERENCE_PROFILES, referenceModels, referencePlatformProps } from '../examples/environments';
import { applyCompliancePacks, EnvironmentProfile, MlopsPlatform, ServedModelOptions, ServingBackend } from 'mlops-constructs';

/** Context key selecting the changed version the integration test deploys over the first one. */
export const CHANGE_CONTEXT = 'mlops-local:change';
/** Context key adding the staging environment (retained stateful resources) to the app. */
export const STAGING_CONTEXT = 'mlops-local:staging';

/**
 * One reference environment (examples/environments) with the options the emulator can handle:
 * - no experiment tracking server: it runs on the Aurora model registry, which moto does not create;
 * - SageMaker-served models on g4dn.xlarge (one NVIDIA T4) instead of g5.xlarge: moto validates endpoint instance
 *   types against a list without the g5 family.
 */
export function buildLocalPlatform(app: App, profile: EnvironmentProfile, options: { change?: boolean; servedModels?: boolean } = {}): MlopsPlatform {
  const change = options.change ?? false;
  const platform = new MlopsPlatform(app, `mlops-${profile.name}`, {
    ...referencePlatformProps(profile),
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
    servedModels: options.servedModels === false ? [] : referenceModels(profile).map((m) => changedModel(emulatorInstanceType(m), change)),
    experimentTracking: false,
  });
  platform.trainingCluster.addJobDefinition('FraudTrain', {
    imageRepository: platform.trainingImages,
    imageTag: 'fraud-train-1',
    datasetPrefix: 'fraud/',
    command: ['python', 'train.py'],
  });
  if (change) applyChange(platform);
  return platform;
}

function emulatorInstanceType(model: ServedModelOptions): ServedModelOptions {
  return model.backend === ServingBackend.ENDPOINT ? { ...model, instanceType: 'g4dn.xlarge' } : model;
}

/** In the changed version the fraud detector's fleet may grow to 4 instances (2 by default in dev). */
function changedModel(model: ServedModelOptions, change: boolean): ServedModelOptions {
  return change && model.name === 'fraud-detector' ? { ...model, maxCapacity: 4 } : model;
}

/**
 * The rest of the changed version: a second training job definition and a third served model. The data stack is
 * untouched; the platform stack changes in place.
 */
export function applyChange(platform: MlopsPlatform): void {
  platform.trainingCluster.addJobDefinition('RecsTrain', {
    imageRepository: platform.trainingImages,
    imageTag: 'recs-train-1',
    datasetPrefix: 'recsys/',
    command: ['python', 'train.py'],
  });
  platform.addServedModel({
    name: 'churn-predictor',
    backend: ServingBackend.FLEET,
    modelVersion: 'v1',
    imageTag: 'churn-serve-1',
    instanceType: 'g5.xlarge',
    team: 'recsys',
  });
}

function profileNamed(name: string): EnvironmentProfile {
  const profile = REFERENCE_PROFILES.find((p) => p.name === name);
  if (!profile) throw new Error(`the reference app has no '${name}' profile`);
  return profile;
}

if (require.main === module) {
  const app = new App();
  const flag = (key: string) => [true, 'true'].includes(app.node.tryGetContext(key));
  buildLocalPlatform(app, profileNamed('dev'), { change: flag(CHANGE_CONTEXT) });
  // Staging (for the retention check) without served models: its canary rollouts use weighted forward actions,
  // which moto's load balancer listener cannot parse.
  if (flag(STAGING_CONTEXT)) buildLocalPlatform(app, profileNamed('staging'), { servedModels: false });
  applyCompliancePacks(app);
  app.synth();
}
