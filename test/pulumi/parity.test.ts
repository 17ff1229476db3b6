import * as fs from 'fs';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { errorOf, installMocks, MLFLOW_IMAGE, mockArn, one, ofType, RecordedResource, resourcesOf, setParameterValue } from './support';
import { runBootScript } from '../support/boot-script';
import { evaluate } from '../support/cfn-eval';
import { newApp } from '../support/gate';
import { IamWalk } from '../support/iam-walk';
import * as cdk from 'mlops-constructs';
import {
  encodeServedState, ENGINE_PARITY, EngineParityRow, EnvironmentProfile, EVERY_CONSTRUCT, fleetRolloutProgressMetricSpec,
  fleetRolloutStateMachineName, MlopsTags,
  renderEngineParityTable, Rollout, SERVED_MODELS_POLICY_SIDS, servedStateParameterName,
} from 'mlops-constructs';
import * as pl from 'mlops-constructs/pulumi';

/*
 * The same dev environment built with the CDK constructs and with the Pulumi components: the security- and
 * cost-relevant settings of each piece, read from the CloudFormation template and from the resources Pulumi was
 * asked to create, must be equal. Which settings are compared is core's ENGINE_PARITY table (README shows it): every
 * 'both' row names settings extracted below, and every extracted setting is named by a row.
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const profile = EnvironmentProfile.dev();
const tags = MlopsTags.of({ project: 'p', environment: 'dev' });
const REPLICATION = { destinationRegion: 'eu-west-1', destinationKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/dr', destinationBucketNamePattern: 'dr-{purpose}' };
const canary = () => Rollout.canary({ percent: 10, bake: Duration.minutes(30) });
/** The certificate of the operations environment's load balancers (the dev one has none: HTTP, as dev allows). */
const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/internal';
/** The name the operations environment's MLflow is called by (its certificate's). */
const TRACKING_DOMAIN = 'mlflow.ml.example.internal';

function buildCdk() {
  const app = newApp();
  const stack = new cdk.MlopsStack(app, 'Dev', { profile, project: 'p', env: { account: '123456789012', region: 'us-east-1' } });
  const platformKey = new cdk.PlatformKey(stack, 'PlatformKey');
  const store = new cdk.ArtifactStore(stack, 'Store', { encryptionKey: platformKey.key, replication: REPLICATION });
  const vpc = new cdk.PlatformNetwork(stack, 'Network', { encryptionKey: platformKey.key }).vpc;
  new cdk.ModelRegistry(stack, 'Registry', { vpc, encryptionKey: platformKey.key });
  const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.ServicePrincipal('batch.amazonaws.com') });
  new cdk.CostGuard(stack, 'Cost', { denyGpuFor: [trainer] });
  const training = new cdk.GpuTrainingCluster(stack, 'Training', { vpc, artifactStore: store, maxGpus: 4, encryptionKey: platformKey.key });
  training.addJobDefinition('Train', { jobName: 'train', imageUri: 'repo/train:1', gpus: 1 });
  const image = new cdk.ImageRepository(stack, 'Images', { encryptionKey: platformKey.key });
  const fleet = new cdk.InferenceFleet(stack, 'Fleet', {
    vpc, artifactStore: store, image, imageTag: '1', modelName: 'fraud', modelVersion: 'v3', encryptionKey: platformKey.key,
  });
  const template = Template.fromStack(stack).toJSON();
  const platformKeyId = stack.getLogicalId(platformKey.key.node.defaultChild as iam.CfnRole);
  return { template, platformKeyId, training, fleet };
}

/** Serving, monitoring, governance and tracking, in a stack of their own (a second fleet would blur the first one's checks). */
function buildCdkOperations() {
  const app = newApp();
  const stack = new cdk.MlopsStack(app, 'DevOps', { profile, project: 'p', env: { account: '123456789012', region: 'us-east-1' } });
  const platformKey = new cdk.PlatformKey(stack, 'PlatformKey');
  const store = new cdk.ArtifactStore(stack, 'Store', { encryptionKey: platformKey.key });
  const vpc = new cdk.PlatformNetwork(stack, 'Network', { encryptionKey: platformKey.key }).vpc;
  const registry = new cdk.ModelRegistry(stack, 'Registry', { vpc, encryptionKey: platformKey.key });
  const image = new cdk.ImageRepository(stack, 'Images', { encryptionKey: platformKey.key });
  const certificate = acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN);
  const fleet = new cdk.InferenceFleet(stack, 'Fleet', {
    vpc, artifactStore: store, image, imageTag: '1', modelName: 'fraud', modelVersion: 'v3', rollout: canary(), variantVersions: { candidate: 'v4' }, certificate,
  });
  const endpoint = new cdk.ModelEndpoint(stack, 'Endpoint', {
    vpc,
    artifactStore: store,
    image,
    imageTag: '1',
    modelName: 'churn',
    modelVersion: 'v1',
    rollout: canary(),
    endpointName: 'churn-endpoint',
    // Endpoints on variants here; the dev default, scale to zero through an inference component, is buildCdkScaleToZero's.
    scaleToZeroOffHours: false,
  });
  const monitoring = new cdk.MlopsMonitoring(stack, 'Monitoring');
  // Through monitor(), as a user would: the served model's name and latency unit come from the fleet and the endpoint.
  monitoring.monitor(fleet);
  monitoring.monitor(endpoint);
  new cdk.MlopsGovernance(stack, 'Governance', { artifactStore: store });
  // TLS and authentication (a Cognito user pool by default with a certificate) as both engines render them.
  new cdk.ExperimentTracking(stack, 'Tracking', { vpc, registry, artifactStore: store, certificate, domainName: TRACKING_DOMAIN });
  return { template: Template.fromStack(stack).toJSON(), endpoint };
}

/** A newcomer's dev endpoint (scale to zero off hours through an inference component, the default), in a stack of its own. */
function buildCdkScaleToZero() {
  const stack = new cdk.MlopsStack(newApp(), 'DevZero', { profile, project: 'p', env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc');
  const store = new cdk.ArtifactStore(stack, 'Store');
  const endpoint = new cdk.ModelEndpoint(stack, 'Endpoint', {
    vpc, artifactStore: store, image: new cdk.ImageRepository(stack, 'Images'), imageTag: '1', modelName: 'churn', modelVersion: 'v1', endpointName: 'zero-endpoint',
  });
  return { template: Template.fromStack(stack).toJSON(), endpoint };
}

/** A promotion on its own store and alarm topic (as MlopsPlatform builds it), in a stack of its own. */
function buildCdkPromotion() {
  const app = newApp();
  const stack = new cdk.MlopsStack(app, 'DevPromotion', { profile, project: 'p', env: { account: '123456789012', region: 'us-east-1' } });
  const store = new cdk.ArtifactStore(stack, 'Store');
  const monitoring = new cdk.MlopsMonitoring(stack, 'Monitoring');
  new cdk.ModelPromotion(stack, 'Promotion', { artifactStore: store, environmentPrefix: 'p-dev', alarmTopic: monitoring.alarmTopic });
  return { template: Template.fromStack(stack).toJSON(), roleName: store.promotionRoleName! };
}

/**
 * Served models reading their served states, wired as each engine's MlopsPlatform wires them (the states in a stack that
 * deploys first, a canary fleet and a single-variant endpoint reading them), and what promotion and the rollout state
 * machine have written since the code was deployed.
 */
const PROMOTED = { fraud: 'current=v4@60,candidate=v5@40', churn: 'current=v8@100' };
function buildCdkServedStates() {
  const app = newApp();
  const env = { account: '123456789012', region: 'us-east-1' };
  const data = new cdk.MlopsStack(app, 'DevStates', { profile, project: 'p', env });
  const stack = new cdk.MlopsStack(app, 'DevServing', { profile, project: 'p', env });
  const store = new cdk.ArtifactStore(stack, 'Store');
  const vpc = new cdk.PlatformNetwork(stack, 'Network').vpc;
  const image = new cdk.ImageRepository(stack, 'Images');
  const fleetProps = { modelName: 'fraud', modelVersion: 'v3', rollout: canary(), variantVersions: { candidate: 'v4' } };
  const endpointProps = { modelName: 'churn', modelVersion: 'v1', rollout: canary() };
  const state = (model: string, initialState: Json) => new cdk.ServedStateParameter(data, `${model}State`, { environmentPrefix: 'p-dev', model, initialState });
  new cdk.InferenceFleet(stack, 'Fleet', {
    vpc, artifactStore: store, image, imageTag: '1', ...fleetProps, servedState: state('fraud', cdk.InferenceFleet.initialServedState(fleetProps)),
  });
  new cdk.ModelEndpoint(stack, 'Endpoint', {
    vpc, artifactStore: store, image, imageTag: '1', ...endpointProps, servedState: state('churn', cdk.ModelEndpoint.initialServedState(endpointProps)),
  });
  return { template: Template.fromStack(stack).toJSON() };
}

/** The model of the fleet rollout comparison (its own, so its served state is the only one of that name). */
const ROLLOUT_MODEL = 'scorer';

/** A canary fleet with its served state (in a data stack) and its rollout state machine, as MlopsPlatform builds them. */
function buildCdkRollout() {
  const app = newApp();
  const env = { account: '123456789012', region: 'us-east-1' };
  const data = new cdk.MlopsStack(app, 'DevRolloutData', { profile, project: 'p', env });
  const stack = new cdk.MlopsStack(app, 'DevRollout', { profile, project: 'p', env });
  const props = { modelName: ROLLOUT_MODEL, modelVersion: 'v3', variantVersions: { candidate: 'v4' }, rollout: canary() };
  const servedState = new cdk.ServedStateParameter(data, 'State', {
    environmentPrefix: 'p-dev', model: ROLLOUT_MODEL, initialState: cdk.InferenceFleet.initialServedState(props),
  });
  const image = new cdk.ImageRepository(stack, 'Images');
  const fleet = new cdk.InferenceFleet(stack, 'Fleet', {
    ...props, vpc: new ec2.Vpc(stack, 'Vpc'), artifactStore: new cdk.ArtifactStore(stack, 'Store'), image, imageTag: '1', servedState,
  });
  const monitoring = new cdk.MlopsMonitoring(stack, 'Monitoring');
  // On its shard's serving dashboard with the rollout's progress, as MlopsPlatform monitors a stepped fleet.
  const alarms = monitoring.monitorServing(ROLLOUT_MODEL, fleet, {
    dashboard: monitoring.addServingDashboard(stack, 'Dashboard', 'serving-00'), extraMetrics: [cdk.FleetRollout.progressMetric(ROLLOUT_MODEL)],
  });
  new cdk.FleetRollout(stack, 'Rollout', {
    fleet,
    alarmTopic: monitoring.alarmTopic,
    alarms: [alarms.latency, alarms.errorRate, alarms.rolloutHealth],
    stateMachineName: fleetRolloutStateMachineName('p-dev', ROLLOUT_MODEL),
  });
  return Template.fromStack(stack).toJSON();
}

const SERVING_IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/serving:1';
const DRIFT_ALARM_ARN = 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:fraud-drift';
/** Prod, promoting what this (staging-like) environment approved. */
const PROMOTING = { account: '333333333333', promotionRoleName: 'p-prod-promotion' };

/** A retraining pipeline as the Pulumi one can be built: manual approval, the served state, a holdout, hand-off to the promotion. */
function buildCdkPipeline() {
  const app = newApp();
  const stack = new cdk.MlopsStack(app, 'DevPipeline', { profile, project: 'p', env: { account: '123456789012', region: 'us-east-1' } });
  const platformKey = new cdk.PlatformKey(stack, 'PlatformKey');
  const store = new cdk.ArtifactStore(stack, 'Store', { encryptionKey: platformKey.key });
  const vpc = new cdk.PlatformNetwork(stack, 'Network', { encryptionKey: platformKey.key }).vpc;
  const registry = new cdk.ModelRegistry(stack, 'Registry', { vpc, encryptionKey: platformKey.key });
  registry.addModelPackageGroup('fraud');
  // Staging's side of promotion across environments (the ModelPromotion row): what prod's promotion role may read here.
  store.shareServedModelsWith(PROMOTING);
  registry.shareModelPackagesWith(PROMOTING);
  const cluster = new cdk.GpuTrainingCluster(stack, 'Training', { vpc, artifactStore: store, maxGpus: 4, encryptionKey: platformKey.key });
  const job = (id: string) => cluster.addJobDefinition(id, { jobName: id.toLowerCase(), imageUri: `repo/${id.toLowerCase()}:1`, gpus: 1, datasetPrefix: 'fraud/' });
  const promotion = new cdk.ModelPromotion(stack, 'Promotion', { artifactStore: store, environmentPrefix: 'p-dev', alarmTopic: new sns.Topic(stack, 'Alarms') });
  const servedState = new cdk.ServedStateParameter(stack, 'ServedState', {
    environmentPrefix: 'p-dev', model: 'fraud', initialState: { variants: [{ variant: 'current', version: 'v1', weight: 100 }] },
  });
  // One cluster's jobs for both pipelines of the stack.
  const jobs = { validateJob: job('Validate'), trainJob: job('Train'), evaluateJob: job('Evaluate') };
  new cdk.ModelPipeline(stack, 'Pipeline', {
    modelName: 'fraud',
    registry,
    artifactStore: store,
    ...jobs,
    servingImageUri: SERVING_IMAGE,
    approval: cdk.ModelApproval.MANUAL,
    promotion,
    servedState,
    holdoutPrefix: 'fraud/holdout/2026-11/',
    approvers: { emails: ['ml@example.com'], grantees: [new iam.Role(stack, 'Approver', { assumedBy: new iam.AccountRootPrincipal() })] },
    triggers: {
      schedule: events.Schedule.cron({ minute: '0', hour: '3', weekDay: 'SUN' }),
      onNewData: true,
      alarms: [cloudwatch.Alarm.fromAlarmArn(stack, 'Drift', DRIFT_ALARM_ARN)],
    },
  });
  // A second model whose pipeline rolls out to its endpoint itself (no promotion, no served state).
  registry.addModelPackageGroup('churn');
  const endpoint = new cdk.ModelEndpoint(stack, 'ChurnEndpoint', {
    vpc,
    artifactStore: store,
    image: new cdk.ImageRepository(stack, 'Images'),
    imageTag: '1',
    modelName: 'churn',
    modelVersion: 'v1',
    rollout: canary(),
    endpointName: 'churn-endpoint',
    scaleToZeroOffHours: false,
  });
  new cdk.ModelPipeline(stack, 'Churn', {
    modelName: 'churn',
    registry,
    artifactStore: store,
    ...jobs,
    servingImageUri: SERVING_IMAGE,
    approval: cdk.ModelApproval.AUTOMATIC,
    endpoint,
  });
  return { template: Template.fromStack(stack).toJSON() };
}

let cdkPipeline: ReturnType<typeof buildCdkPipeline>;
let pulumiPipeline: { resources: RecordedResource[]; rollout: RecordedResource[] };
let cdkSide: ReturnType<typeof buildCdk>;
let pulumiSide: { resources: RecordedResource[]; training: pl.GpuTrainingCluster; fleet: pl.InferenceFleet; keyArn: string };
let cdkOps: ReturnType<typeof buildCdkOperations>;
let cdkZero: ReturnType<typeof buildCdkScaleToZero>;
let pulumiZero: { resources: RecordedResource[]; endpoint: pl.ModelEndpoint };
let pulumiOps: { resources: RecordedResource[]; endpoint: pl.ModelEndpoint; storeKeyArn: string };
let cdkPromotion: ReturnType<typeof buildCdkPromotion>;
let pulumiPromotion: { resources: RecordedResource[]; roleName: string };
let cdkServedStates: ReturnType<typeof buildCdkServedStates>;
let pulumiServedStates: { resources: RecordedResource[] };
let cdkRollout: Json;
let pulumiRollout: RecordedResource[];

beforeAll(async () => {
  cdkSide = buildCdk();
  const { Key } = await import('@pulumi/aws/kms');
  const { Parameter: SsmParameter } = await import('@pulumi/aws/ssm');
  const key = new Key('par-key', { enableKeyRotation: true });
  const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] };
  const store = new pl.ArtifactStore('par-store', { profile, tags, encryptionKey: key, replication: REPLICATION });
  new pl.ModelRegistry('par-registry', { profile, tags, ...net, encryptionKeyArn: key.arn });
  new pl.CostGuard('par-cost', { profile, tags, denyGpuFor: [{ name: 'trainer', arn: 'arn:aws:iam::123456789012:role/trainer' }] });
  const training = new pl.GpuTrainingCluster('par-training', { profile, tags, ...net, maxGpus: 4, encryptionKeyArn: key.arn, artifactStore: store });
  training.addJobDefinition('train', { imageUri: 'repo/train:1', gpus: 1 });
  new pl.ImageRepository('par-images', { profile, tags, encryptionKeyArn: key.arn });
  const fleet = new pl.InferenceFleet('par-fleet', {
    profile, tags, ...net, artifactStore: store, allowedCidrBlocks: ['10.0.0.0/16'], imageUri: 'repo/fraud:1', modelName: 'fraud', modelVersion: 'v3', encryptionKeyArn: key.arn,
  });
  pulumiSide = { resources: await resourcesOf('par'), training, fleet, keyArn: mockArn('aws:kms/key:Key', 'par-key') };

  cdkOps = buildCdkOperations();
  const opsStore = new pl.ArtifactStore('pas-store', { profile, tags });
  const registry = new pl.ModelRegistry('pas-registry', { profile, tags, ...net });
  const image = pl.ImageRepository.fromRepositoryName('pas-images', 'ml/serving');
  const opsFleet = new pl.InferenceFleet('pas-fleet', {
    profile,
    tags,
    ...net,
    allowedCidrBlocks: ['10.0.0.0/16'],
    artifactStore: opsStore,
    image,
    imageTag: '1',
    modelName: 'fraud',
    modelVersion: 'v3',
    rollout: canary(),
    variantVersions: { candidate: 'v4' },
    certificateArn: CERTIFICATE_ARN,
  });
  const endpoint = new pl.ModelEndpoint('pas-endpoint', {
    profile,
    tags,
    ...net,
    artifactStore: opsStore,
    image,
    imageTag: '1',
    modelName: 'churn',
    modelVersion: 'v1',
    rollout: canary(),
    endpointName: 'churn-endpoint',
    scaleToZeroOffHours: false,
  });
  const monitoring = new pl.MlopsMonitoring('pas-monitoring', { profile, tags });
  monitoring.monitorServing(opsFleet);
  monitoring.monitorServing(endpoint);
  new pl.MlopsGovernance('pas-governance', { profile, tags, artifactStore: opsStore, allowedRegions: ['us-east-1'] });
  new pl.ExperimentTracking('pas-tracking', {
    profile, tags, ...net, vpcCidrBlock: '10.0.0.0/16', image: MLFLOW_IMAGE, registry, artifactStore: opsStore, certificateArn: CERTIFICATE_ARN, domainName: TRACKING_DOMAIN,
  });
  pulumiOps = { resources: await resourcesOf('pas'), endpoint, storeKeyArn: mockArn('aws:kms/key:Key', 'pas-store-key') };

  cdkZero = buildCdkScaleToZero();
  const zeroEndpoint = new pl.ModelEndpoint('paz-endpoint', {
    profile,
    tags,
    ...net,
    artifactStore: new pl.ArtifactStore('paz-store', { profile, tags }),
    image,
    imageTag: '1',
    modelName: 'churn',
    modelVersion: 'v1',
    endpointName: 'zero-endpoint',
  });
  pulumiZero = { resources: await resourcesOf('paz'), endpoint: zeroEndpoint };

  cdkPromotion = buildCdkPromotion();
  const promotionStore = new pl.ArtifactStore('pap-store', { profile, tags });
  const promotionMonitoring = new pl.MlopsMonitoring('pap-monitoring', { profile, tags });
  new pl.ModelPromotion('pap-promotion', { profile, tags, artifactStore: promotionStore, environmentPrefix: 'p-dev', alarmTopicArn: promotionMonitoring.alarmTopic.arn });
  pulumiPromotion = { resources: await resourcesOf('pap'), roleName: promotionStore.promotionRoleName };
  cdkServedStates = buildCdkServedStates();
  const statesStore = new pl.ArtifactStore('pss-store', { profile, tags });
  const statesImage = pl.ImageRepository.fromRepositoryName('pss-images', 'ml/serving');
  const stateOf = (model: 'fraud' | 'churn', initialState: Json) => {
    const name = servedStateParameterName('p-dev', model);
    const parameter = new SsmParameter(`pss-${model}-state`, { name, type: 'String', value: encodeServedState(initialState) }, { ignoreChanges: ['value'] });
    setParameterValue(name, PROMOTED[model]);
    return { name, arn: parameter.arn, initialState };
  };
  const pFleetArgs = { modelName: 'fraud', modelVersion: 'v3', rollout: canary(), variantVersions: { candidate: 'v4' } };
  const pEndpointArgs = { modelName: 'churn', modelVersion: 'v1', rollout: canary() };
  new pl.InferenceFleet('pss-fleet', {
    profile,
    tags,
    ...net,
    allowedCidrBlocks: ['10.0.0.0/16'],
    artifactStore: statesStore,
    image: statesImage,
    imageTag: '1',
    ...pFleetArgs,
    servedState: stateOf('fraud', pl.InferenceFleet.initialServedState(pFleetArgs)),
  });
  new pl.ModelEndpoint('pss-endpoint', {
    profile,
    tags,
    ...net,
    artifactStore: statesStore,
    image: statesImage,
    imageTag: '1',
    ...pEndpointArgs,
    servedState: stateOf('churn', pl.ModelEndpoint.initialServedState(pEndpointArgs)),
  });
  pulumiServedStates = { resources: await resourcesOf('pss') };

  cdkRollout = buildCdkRollout();
  const rolloutArgs = {
    profile,
    tags,
    ...net,
    artifactStore: new pl.ArtifactStore('paf-store', { profile, tags }),
    allowedCidrBlocks: ['10.0.0.0/16'],
    imageUri: 'repo/scorer:1',
    modelName: ROLLOUT_MODEL,
    modelVersion: 'v3',
    variantVersions: { candidate: 'v4' },
    rollout: canary(),
  };
  const initialState = pl.InferenceFleet.initialServedState(rolloutArgs);
  const stateName = servedStateParameterName('p-dev', ROLLOUT_MODEL);
  const parameter = new SsmParameter('paf-served', { name: stateName, type: 'String', value: encodeServedState(initialState) }, { ignoreChanges: ['value'] });
  const rolloutFleet = new pl.InferenceFleet('paf-fleet', { ...rolloutArgs, servedState: { name: stateName, arn: parameter.arn, initialState } });
  const rolloutMonitoring = new pl.MlopsMonitoring('paf-monitoring', { profile, tags });
  // As the Pulumi MlopsPlatform monitors a stepped fleet: core's progress metric on the model's serving graph.
  const rolloutAlarms = rolloutMonitoring.monitorServing(rolloutFleet, {
    extraMetrics: [pl.metricFromSpec(fleetRolloutProgressMetricSpec(ROLLOUT_MODEL))],
  });
  new pl.FleetRollout('paf-rollout', {
    profile,
    tags,
    fleet: rolloutFleet,
    alarms: [rolloutAlarms.latency, rolloutAlarms.errorRate, rolloutAlarms.rolloutHealth],
    alarmTopicArn: rolloutMonitoring.alarmTopic.arn,
  });
  pulumiRollout = await resourcesOf('paf');
  cdkPipeline = buildCdkPipeline();
  const pipelineStore = new pl.ArtifactStore('ppl-store', { profile, tags, sharesServedModelsWith: [PROMOTING] });
  const pipelineRegistry = new pl.ModelRegistry('ppl-registry', { profile, tags, ...net, sharesServedModelsWith: [PROMOTING] });
  pipelineRegistry.addModelPackageGroup('fraud');
  const cluster = new pl.GpuTrainingCluster('ppl-training', { profile, tags, ...net, maxGpus: 4, artifactStore: pipelineStore });
  const job = (id: string) => cluster.addJobDefinition(id, { imageUri: `repo/${id}:1`, gpus: 1, datasetPrefix: 'fraud/' });
  const { Role } = await import('@pulumi/aws/iam');
  const pipelineJobs = { validateJob: job('validate'), trainJob: job('train'), evaluateJob: job('evaluate') };
  new pl.ModelPipeline('ppl', {
    profile,
    tags,
    modelName: 'fraud',
    registry: pipelineRegistry,
    artifactStore: pipelineStore,
    ...pipelineJobs,
    servingImageUri: SERVING_IMAGE,
    approval: cdk.ModelApproval.MANUAL,
    promotionStateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:p-dev-promotion',
    servedState: { name: '/mlops/p-dev/served/fraud', arn: 'arn:aws:ssm:us-east-1:123456789012:parameter/mlops/p-dev/served/fraud' },
    holdoutPrefix: 'fraud/holdout/2026-11/',
    approvers: { emails: ['ml@example.com'], grantees: [new Role('ppl-approver', { assumeRolePolicy: '{}' })] },
    triggers: { schedule: 'cron(0 3 ? * SUN *)', onNewData: true, alarms: [DRIFT_ALARM_ARN] },
  });
  pipelineRegistry.addModelPackageGroup('churn');
  const churnEndpoint = new pl.ModelEndpoint('ppe-endpoint', {
    profile,
    tags,
    ...net,
    artifactStore: pipelineStore,
    image: pl.ImageRepository.fromRepositoryName('ppe-images', 'ml/serving'),
    imageTag: '1',
    modelName: 'churn',
    modelVersion: 'v1',
    rollout: canary(),
    endpointName: 'churn-endpoint',
    // As the CDK one: an endpoint on variants, which the pipeline rolls out itself (not an inference component).
    scaleToZeroOffHours: false,
  });
  new pl.ModelPipeline('ppe', {
    profile,
    tags,
    modelName: 'churn',
    registry: pipelineRegistry,
    artifactStore: pipelineStore,
    ...pipelineJobs,
    servingImageUri: SERVING_IMAGE,
    approval: cdk.ModelApproval.AUTOMATIC,
    endpoint: churnEndpoint,
  });
  pulumiPipeline = { resources: await resourcesOf('ppl'), rollout: await resourcesOf('ppe') };
});

/**
 * What each engine's promotion does after the served state (the next row): CDK updates the serving shard stack, Pulumi
 * refreshes the groups of the fleet variants whose version changed (and, before the copy, settles a stepped fleet after
 * a finished rollout or refuses one whose candidate serves traffic); both then run the fleet rollout. Their states and the role's statements for them.
 */
const PROMOTION_STACK_UPDATE_STATES = [
  'ReadStackParameters', 'ReadStackParametersFailed', 'KeepParameters', 'UpdateServingStack', 'UpdateServingStackFailed', 'StartPolling', 'WaitForStack',
  'CountPoll', 'DescribeServingStack', 'DescribeServingStackFailed', 'StackUpdated', 'StackNotUpdated', 'StackUpdateTimedOut', 'RolloutNeeded', 'RollOut',
  'RolloutRolledBack',
];
// (`<n>`: the variant whose version changed; `Stable`: the first variant's group, refreshed before a finished rollout is
// settled, where CDK updates the stack first: the stack update states ending with `BeforeSettle`)
const PROMOTION_REFRESH_STATES = new RegExp('^(NextEntries|Variant\\dServed|Variant\\dVersions|Variant\\dChanged|FindVariant(\\d|Stable)Group(Failed)?|Variant(\\d|Stable)GroupFound|'
  + 'RefreshVariant(\\d|Stable)(Failed)?|StartRefresh(\\d|Stable)Polling|WaitForRefresh(\\d|Stable)|CountRefresh(\\d|Stable)Poll|DescribeRefresh(\\d|Stable)(Failed)?|'
  + 'Refresh(\\d|Stable)TimedOut|Refresh(\\d|Stable)NotDone|CancelRefresh(\\d|Stable)|Refreshed(\\d|Stable))$');
const PROMOTION_ROLLOUT_SIDS = ['StartRollouts', 'FollowRollouts', 'SyncRollouts'];
const PROMOTION_STACK_UPDATE_SIDS = ['UpdateServingStacks', 'FindAndFollowServedFleets', 'RefreshServedFleets', ...PROMOTION_ROLLOUT_SIDS];

/**
 * What the CDK fleet rollout does that the Pulumi one has no equivalent of: started by a deploy (CloudFormation's write of
 * the served state), it waits for the serving stack's update; its states and the role's statement for it.
 */
const ROLLOUT_DEPLOY_WAIT_STATES = [
  'StartedByDeploy', 'TriggerIsDeploy', 'DeployStarted', 'DescribeServingStack', 'ServingStackEverUpdated', 'ServingStackUpdated', 'KeepWaiting',
  'WaitForServingStack', 'CountPoll', 'ServingStackNotUpdated', 'DeployRolledBack',
];
const ROLLOUT_DEPLOY_WAIT_SIDS = ['FollowTheServingStack'];

/**
 * The fleet rollout's settings (InferenceFleet's rollout row): the definition (the CDK one without its deploy wait), the
 * role's statements from core and its trust, with references (listener, target groups, alarms, topic) and the served
 * state's ARN in one form.
 */
function rolloutSettings(): { cdk: Record<string, Json>; pulumi: Record<string, Json> } {
  const walk = new IamWalk([{ name: 'P', json: cdkRollout }]);
  const stateArn = `arn:aws:ssm:us-east-1:123456789012:parameter${servedStateParameterName('p-dev', ROLLOUT_MODEL)}`;
  const cdkRefs = (text: string) => text.replaceAll(stateArn, '<served state>').replace(/\{P:[^}]+\}/g, '<ref>');
  const r = pulumiRollout;
  const alarmNames = [
    ...ofType(r, 'aws:cloudwatch/metricAlarm:MetricAlarm').map((a) => a.inputs.name ?? a.name),
    ...ofType(r, 'aws:cloudwatch/compositeAlarm:CompositeAlarm').map((a) => a.inputs.alarmName),
  ];
  const pulumiRefs = (text: string) => alarmNames.reduce((t, n) => t.replaceAll(`"${n}"`, '"<ref>"'), text.replaceAll(mockArn('aws:ssm/parameter:Parameter', 'paf-served'), '<served state>'))
    .replace(/arn:aws:mock:[^/"' ,]+\/[a-zA-Z]+\/[A-Za-z0-9-]+/g, '<ref>');
  const statements = (list: Json[], refs: (text: string) => string) => list
    .map((st) => JSON.parse(refs(JSON.stringify({
      sid: st.Sid, effect: st.Effect, actions: [st.Action].flat().sort(), resources: [st.Resource].flat().sort(), conditions: st.Condition,
    }))))
    .sort((a, b) => a.sid.localeCompare(b.sid));
  const [machine] = cfn('AWS::StepFunctions::StateMachine', cdkRollout);
  const cdkDefinition = JSON.parse(cdkRefs(walk.render('P', machine.props.DefinitionString)));
  const role = walk.role(/^RolloutRole[0-9A-F]{8}$/);
  const fromCdk = {
    rolloutDefinition: {
      ...cdkDefinition,
      StartAt: cdkDefinition.StartAt === 'StartedByDeploy' ? 'ListRunning' : cdkDefinition.StartAt,
      States: Object.fromEntries(Object.entries(cdkDefinition.States).filter(([name]) => !ROLLOUT_DEPLOY_WAIT_STATES.includes(name))),
    },
    // Core's statements (named); the logs, traces and topic key statements each engine grants on its own resources are not.
    rolloutRoleStatements: statements(role.identity.filter((st) => st.Sid && !ROLLOUT_DEPLOY_WAIT_SIDS.includes(st.Sid))
      .map((st) => ({ ...st, Resource: st.Resource!.map((x) => walk.render('P', x)) })), cdkRefs),
    rolloutTrust: role.trust.map((st) => JSON.parse(walk.render('P', JSON.stringify(st)))),
  };
  const pOwn = ['LogsAndTraces', 'PublishToTheEncryptedTopic'];
  const fromPulumi = {
    rolloutDefinition: JSON.parse(pulumiRefs(one(r, 'aws:sfn/stateMachine:StateMachine', 'paf-rollout-state-machine').inputs.definition)),
    rolloutRoleStatements: statements(walk.statements('x', JSON.parse(one(r, 'aws:iam/policy:Policy', 'paf-rollout-role-policy').inputs.policy))
      .filter((st) => !pOwn.includes(st.Sid ?? '')), pulumiRefs),
    rolloutTrust: JSON.parse(JSON.stringify(walk.statements('x', JSON.parse(one(r, 'aws:iam/role:Role', 'paf-rollout-role').inputs.assumeRolePolicy)))),
  };
  return { cdk: fromCdk, pulumi: fromPulumi };
}

/** A promotion definition without what follows the served state (the step after WriteServedState named, not followed). */
function promotionUntilServedState(definition: Json): Json {
  const states = Object.fromEntries(Object.entries<Json>(definition.States)
    .filter(([name]) => !PROMOTION_STACK_UPDATE_STATES.includes(name.replace('BeforeSettle', '')) && name !== 'NothingToUpdateBeforeSettle'
      && !PROMOTION_REFRESH_STATES.test(name)));
  const [idle, settle] = states.CandidateIdle.Choices;
  return {
    StartAt: definition.StartAt,
    TimeoutSeconds: definition.TimeoutSeconds,
    States: {
      ...states,
      // After a finished rollout: CDK updates the serving stack, Pulumi refreshes the first variant's group (and may find none).
      CandidateIdle: { ...states.CandidateIdle, Choices: [idle, { ...settle, Next: '<bring the first variant to the served version>' }] },
      CandidateServes: { ...states.CandidateServes, Parameters: { ...states.CandidateServes.Parameters, cause: states.CandidateServes.Parameters.cause.replace(', or no Auto Scaling group is tagged for its first variant', '') } },
      WriteServedState: { ...states.WriteServedState, Next: '<after the served state>' },
    },
  };
}

/**
 * What a promotion does after the served state, as properties both engines' definitions must have: every failing step
 * restores the previous served state (then rejects, releases, notifies), every wait is bounded, success releases the
 * lock, and the fleet's rollout is started as core renders it (`RolloutRolledBack` restoring).
 */
function promotionAfterServedState(definition: Json): Json {
  const states = definition.States as Record<string, Json>;
  const after = new Set<string>();
  const walk = (name: string) => {
    if (after.has(name) || ['RestoreServedState', 'ReleaseLock'].includes(name)) return;
    after.add(name);
    const s = states[name];
    const nexts = [s.Next, s.Default, ...(s.Choices ?? []).map((c: Json) => c.Next), ...(s.Catch ?? []).map((c: Json) => c.Next)];
    for (const next of nexts) if (next) walk(next);
  };
  walk(states.WriteServedState.Next);
  /** Where a failure recorded by a Pass state goes. */
  const leadsTo = (name: string): string => (states[name].Type === 'Pass' && states[name].ResultPath === '$.failure' ? states[name].Next : leadsTo(states[name].Next));
  const tasks = [...after].filter((n) => states[n].Type === 'Task');
  const waits = [...after].filter((n) => states[n].Type === 'Wait');
  const properties = {
    everyTaskFailureRestores: tasks.every((n) => states[n].Catch?.every((c: Json) => leadsTo(c.Next) === 'RestoreServedState')),
    everyWaitBounded: waits.length > 0 && waits.every((w) => [...after].some((n) => states[n].Type === 'Choice'
      && states[n].Default === w
      && states[n].Choices.some((c: Json) => c.Variable === '$.poll.n' && c.NumericGreaterThanEquals > 0))),
    successReleases: [...after].some((n) => [states[n].Next, states[n].Default, ...(states[n].Choices ?? []).map((c: Json) => c.Next)].includes('ReleaseLock')),
    restoreRejectsReleasesNotifies: [states.RestoreServedState.Next, states.RegisteredHere.Default, states.ReleaseLockOnFailure.Next],
    rollout: { RollOut: states.RollOut, RolloutRolledBack: states.RolloutRolledBack },
  };
  // (equal on both engines is not enough: each must have them)
  expect([tasks.length, properties]).toMatchObject([expect.any(Number), {
    everyTaskFailureRestores: true,
    everyWaitBounded: true,
    successReleases: true,
    restoreRejectsReleasesNotifies: ['RegisteredHere', 'ReleaseLockOnFailure', 'NotifyFailure'],
    rollout: { RollOut: { Type: 'Task' } },
  }]);
  expect(tasks.length).toBeGreaterThan(2);
  return properties;
}

function cfn(type: string, template: Json = cdkSide.template): Array<{ id: string; props: Json }> {
  return Object.entries(template.Resources as Record<string, { Type: string; Properties: Json }>)
    .filter(([, r]) => r.Type === type).map(([id, r]) => ({ id, props: r.Properties ?? {} }));
}
/** What a deny statement keys on: its first condition key, or its Sid when unconditional. */
const denyKey = (s: Json): string => (s.Condition ? Object.keys(Object.values(s.Condition)[0] as object)[0] : s.Sid);
const isPlatformKey = (value: Json) => JSON.stringify(value).includes(cdkSide.platformKeyId);

/** CloudFormation's PascalCase keys in Pulumi's camelCase, deeply. */
function camel(value: Json): Json {
  if (Array.isArray(value)) return value.map(camel);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k[0].toLowerCase() + k.slice(1), camel(v)]));
  return value;
}

function replicationOf(rule: Json) {
  return {
    status: rule.status,
    destination: rule.destination.bucket,
    replicaKey: rule.destination.encryptionConfiguration.replicaKmsKeyID ?? rule.destination.encryptionConfiguration.replicaKmsKeyId,
    kmsObjects: rule.sourceSelectionCriteria.sseKmsEncryptedObjects.status,
    deleteMarkers: rule.deleteMarkerReplication.status,
  };
}

/** `<purpose>:<key pattern>` of every object IAM statements let a role put (or, with `s3:GetObject`, read). */
function writePrefixes(statements: Json[], action = 's3:PutObject'): string[] {
  return statements.filter((s) => [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat()).map((resource: Json) => {
    const text = JSON.stringify(resource);
    const purpose = /(datasets|models|artifacts)/i.exec(text)![1].toLowerCase();
    const tail = typeof resource === 'string' ? resource.slice(resource.indexOf(`-${purpose}/`) + purpose.length + 2) : resource['Fn::Join'][1].at(-1).replace(/^\//, '');
    return `${purpose}:${tail}`;
  }).sort();
}

/** The statements of every CDK policy whose logical id starts with `prefix` (a construct's roles' policies). */
function cdkStatements(template: Json, prefix: string): Json[] {
  return [...cfn('AWS::IAM::Policy', template), ...cfn('AWS::IAM::ManagedPolicy', template)].filter((p) => p.id.startsWith(prefix))
    .flatMap((p) => p.props.PolicyDocument.Statement);
}

/** The boundary's statement ids, without the numbers of the protected-bucket groups (each engine numbers its own way). */
const boundarySids = (statements: Json[]) => statements.map((st) => `${st.Effect}:${st.Sid.replace(/\d+$/, '')}`).sort();

/** A listener as both engines render it: port, protocol, TLS policy, whether it has a certificate, what it does. */
function listenerShape(listener: Json): string {
  const actions = listener.defaultActions.map((a: Json) => {
    const redirect = a.redirect ?? a.redirectConfig;
    return a.type === 'redirect' ? `redirect:${redirect.protocol}:${redirect.port}:${redirect.statusCode}` : a.type;
  });
  const certificate = (listener.certificateArn ?? listener.certificates?.[0]?.certificateArn) === undefined ? '-' : 'certificate';
  return `${listener.port}/${listener.protocol}/${listener.sslPolicy ?? '-'}/${certificate}/${actions.join(',')}`;
}
const cdkListeners = (template: Json, prefix: string) => cfn('AWS::ElasticLoadBalancingV2::Listener', template).filter((l) => l.id.startsWith(prefix))
  .map((l) => listenerShape(camel(l.props))).sort();
const pulumiListeners = (resources: RecordedResource[], prefix: string) => ofType(resources, 'aws:lb/listener:Listener').filter((l) => l.name.startsWith(prefix))
  .map((l) => listenerShape(l.inputs)).sort();
/** The ports a load balancer's security group admits clients on. */
const cdkIngressPorts = (template: Json, prefix: string) => [...new Set(cfn('AWS::EC2::SecurityGroup', template).filter((g) => g.id.startsWith(prefix))
  .flatMap((g) => (g.props.SecurityGroupIngress ?? []).map((r: Json) => r.FromPort)))].sort();
const pulumiIngressPorts = (resources: RecordedResource[], name: string) => [...new Set(one(resources, 'aws:ec2/securityGroup:SecurityGroup', name).inputs.ingress
  .map((r: Json) => r.fromPort))].sort();

/** A VPC with the subnets the platform's constructs select (private with egress, isolated, public for the NAT gateways). */
function platformVpc(stack: cdk.MlopsStack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    subnetConfiguration: [
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
    ],
  });
}

/**
 * What each engine says when a load balancer lacks its certificate (staging requires TLS; a public fleet too): the
 * problem, which is the same; the prop is each engine's own (`certificate`, `certificateArn`).
 */
const missingCertificates = new Map<string, { cdk: string[]; pulumi: string[] }>();
function missingCertificateProblems(construct: 'InferenceFleet' | 'ExperimentTracking') {
  if (!missingCertificates.has(construct)) missingCertificates.set(construct, buildMissingCertificates(construct));
  return missingCertificates.get(construct)!;
}
function buildMissingCertificates(construct: 'InferenceFleet' | 'ExperimentTracking') {
  const id = `tls-${construct}`;
  const staging = EnvironmentProfile.staging();
  const stack = new cdk.MlopsStack(newApp(), 'Tls', { profile: staging, project: 'p' });
  const vpc = platformVpc(stack);
  const store = new cdk.ArtifactStore(stack, 'Store');
  const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a'] };
  if (construct === 'InferenceFleet') {
    const fleet = { vpc, artifactStore: store, image: new cdk.ImageRepository(stack, 'Images'), imageTag: '1', modelName: 'fraud', modelVersion: 'v3' };
    const plFleet = {
      ...net, artifactStore: new pl.ArtifactStore(`${id}-store`, { profile }), allowedCidrBlocks: ['10.0.0.0/16'], imageUri: 'repo/fraud:1', modelName: 'fraud', modelVersion: 'v3', tags,
    };
    return {
      cdk: [errorOf(() => new cdk.InferenceFleet(stack, 'Staging', fleet)), errorOf(() => new cdk.InferenceFleet(stack, 'Public', { ...fleet, profile, internetFacing: true }))]
        .map((e) => e.problem),
      pulumi: [errorOf(() => new pl.InferenceFleet(`${id}-staging`, { ...plFleet, profile: staging })), errorOf(() => new pl.InferenceFleet(`${id}-public`, { ...plFleet, profile, internetFacing: true }))]
        .map((e) => e.problem),
    };
  }
  const registry = new cdk.ModelRegistry(stack, 'Registry', { vpc });
  const plRegistry = new pl.ModelRegistry(`${id}-registry`, { profile: staging, tags, ...net });
  const plStore = new pl.ArtifactStore(`${id}-store`, { profile: staging, tags });
  return {
    cdk: [errorOf(() => new cdk.ExperimentTracking(stack, 'Tracking', { vpc, registry, artifactStore: store })).problem],
    pulumi: [errorOf(() => new pl.ExperimentTracking(`${id}-tracking`, { profile: staging, tags, ...net, image: MLFLOW_IMAGE, registry: plRegistry, artifactStore: plStore })).problem],
  };
}

/** What each engine says of stand-in types that repeat the fleet's type, cannot run its model, or are not in the catalog. */
let alternativeErrors: { cdk: Json[]; pulumi: Json[] } | undefined;
function alternativeTypeErrors() {
  if (alternativeErrors) return alternativeErrors;
  const stack = new cdk.MlopsStack(newApp(), 'Alternatives', { profile, project: 'p' });
  const vpc = new ec2.Vpc(stack, 'Vpc');
  const fleet = { vpc, artifactStore: new cdk.ArtifactStore(stack, 'Store'), image: new cdk.ImageRepository(stack, 'Images'), imageTag: '1', modelName: 'fraud', modelVersion: 'v3' };
  const plFleet = {
    profile,
    tags,
    vpcId: 'vpc-1',
    subnetIds: ['subnet-a'],
    artifactStore: new pl.ArtifactStore('alt-fleet-store', { profile }),
    allowedCidrBlocks: ['10.0.0.0/16'],
    imageUri: 'repo/fraud:1',
    modelName: 'fraud',
    modelVersion: 'v3',
  };
  const bad = [['g5.xlarge'], ['g6.xlarge', 'p4d.24xlarge'], ['g9.nope']];
  const said = (e: ReturnType<typeof errorOf>) => ({ prop: e.prop, value: e.value, problem: e.problem, fix: e.fix });
  alternativeErrors = {
    cdk: bad.map((types, i) => said(errorOf(() => new cdk.InferenceFleet(stack, `Fleet${i}`, { ...fleet, alternativeInstanceTypes: types })))),
    pulumi: bad.map((types, i) => said(errorOf(() => new pl.InferenceFleet(`alt-fleet-${i}`, { ...plFleet, alternativeInstanceTypes: types })))),
  };
  return alternativeErrors;
}
/** What each engine says when the MLflow image is named by tag where the profile requires TLS (staging). */
let unpinnedImage: { cdk: Json; pulumi: Json } | undefined;
function unpinnedImageErrors() {
  if (unpinnedImage) return unpinnedImage;
  const staging = EnvironmentProfile.staging();
  const stack = new cdk.MlopsStack(newApp(), 'Pinned', { profile: staging, project: 'p' });
  const vpc = platformVpc(stack);
  const certificate = acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN);
  const said = (e: Json) => ({ prop: e.prop, problem: e.problem });
  const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a'] };
  unpinnedImage = {
    cdk: said(errorOf(() => new cdk.ExperimentTracking(stack, 'Tracking', {
      vpc,
      registry: new cdk.ModelRegistry(stack, 'Registry', { vpc }),
      artifactStore: new cdk.ArtifactStore(stack, 'Store'),
      certificate,
      image: ecs.ContainerImage.fromRegistry('repo/mlflow:2'),
    }))),
    pulumi: said(errorOf(() => new pl.ExperimentTracking('pin-tracking', {
      profile: staging,
      tags,
      ...net,
      certificateArn: CERTIFICATE_ARN,
      image: 'repo/mlflow:2',
      registry: new pl.ModelRegistry('pin-registry', { profile: staging, tags, ...net }),
      artifactStore: new pl.ArtifactStore('pin-store', { profile: staging, tags }),
    }))),
  };
  return unpinnedImage;
}
/** A CloudFormation string (Fn::Join of literals and references) with every reference as '<ref>'. */
function joined(value: Json): string {
  if (typeof value === 'string') return value;
  // (Also after camel(), which lower-cases the intrinsic's name.)
  const join = value['Fn::Join'] ?? value['fn::Join'];
  return join ? join[1].map((part: Json) => (typeof part === 'string' ? part : '<ref>')).join(join[0]) : '<ref>';
}
/** The statements of the CDK policies whose logical id starts with `prefix`, and of the Pulumi policy named `name`. */
const cdkPolicies = (template: Json, prefix: string) => cdkStatements(template, prefix);
const pulumiPolicies = (resources: RecordedResource[], name: string) => JSON.parse(one(resources, 'aws:iam/policy:Policy', name).inputs.policy).Statement;
/** The database users statements let a role connect as (rds-db:connect). */
const databaseUsers = (statements: Json[]) => statements.filter((s) => [s.Action].flat().includes('rds-db:connect'))
  .flatMap((s) => [s.Resource].flat()).map((resource: Json) => /\/([^/"]+)"?\]*\}*$/.exec(JSON.stringify(resource))![1]).sort();
/** Whether statements let a role read a secret. */
const readsSecret = (statements: Json[]) => statements.some((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
const roleKind = (role: string) => role.replace(/Role$/, '').replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
/** The MLflow server's command with the database host and port and the artifact bucket as '<ref>' (each engine names them its own way). */
const connection = (command: string) => command.replace(/@[^:/]+:[^/]+\//, '@<ref>:<ref>/').replace(/s3:\/\/[^/"]+\//, 's3://<ref>/');
/**
 * What each engine says of authentication it refuses: none where the profile requires TLS (staging), and a user pool
 * without HTTPS (dev without a certificate); the problems are core's, the fix names each engine's certificate prop.
 */
let refusedAuthentication: { cdk: Json[]; pulumi: Json[] } | undefined;
function authenticationErrors() {
  if (refusedAuthentication) return refusedAuthentication;
  const said = (e: Json) => ({ prop: e.prop, value: e.value, problem: e.problem });
  const build = (profileOf: EnvironmentProfile, id: string) => {
    const stack = new cdk.MlopsStack(newApp(), id, { profile: profileOf, project: 'p' });
    const vpc = platformVpc(stack);
    return { stack, props: { vpc, registry: new cdk.ModelRegistry(stack, 'Registry', { vpc }), artifactStore: new cdk.ArtifactStore(stack, 'Store') } };
  };
  const staging = EnvironmentProfile.staging();
  const inStaging = build(staging, 'AuthStaging');
  const inDev = build(profile, 'AuthDev');
  const certificate = acm.Certificate.fromCertificateArn(inStaging.stack, 'Certificate', CERTIFICATE_ARN);
  const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a'], image: MLFLOW_IMAGE };
  const plProps = (id: string, p: EnvironmentProfile) => ({
    profile: p, tags, ...net, registry: new pl.ModelRegistry(`${id}-registry`, { profile: p, tags, ...net }), artifactStore: new pl.ArtifactStore(`${id}-store`, { profile: p, tags }),
  });
  refusedAuthentication = {
    cdk: [
      errorOf(() => new cdk.ExperimentTracking(inStaging.stack, 'None', { ...inStaging.props, certificate, authentication: cdk.TrackingAuthentication.none() })),
      errorOf(() => new cdk.ExperimentTracking(inDev.stack, 'NoHttps', { ...inDev.props, authentication: cdk.TrackingAuthentication.cognito() })),
    ].map(said),
    pulumi: [
      errorOf(() => new pl.ExperimentTracking('auth-none', { ...plProps('auth-none', staging), certificateArn: CERTIFICATE_ARN, authentication: pl.TrackingAuthentication.none() })),
      errorOf(() => new pl.ExperimentTracking('auth-nohttps', { ...plProps('auth-nohttps', profile), authentication: pl.TrackingAuthentication.cognito() })),
    ].map(said),
  };
  return refusedAuthentication;
}
/** An action as both engines render it: its type, and what it verifies or where it goes, references as '<ref>'. */
const actionShape = (action: Json) => {
  const jwt = action.jwtValidation ?? action.jwtValidationConfig;
  const cognito = action.authenticateCognito ?? action.authenticateCognitoConfig;
  // The pool's id is a reference in CDK (and the URL suffix too), the mock's id in Pulumi.
  const url = (value: Json) => joined(value).replace('.<ref>/', '.amazonaws.com/').replace(/\/[^/]+(?=\/\.well-known|$)/, '/<pool>');
  const detail = jwt ? `${url(jwt.issuer)}|${url(jwt.jwksEndpoint)}` : cognito ? `${cognito.scope}|${Number(cognito.sessionTimeout)}` : '';
  return `${action.order ?? '-'}:${action.type}${detail ? `(${detail})` : ''}`;
};
/** The user pool's settings and its clients' OAuth settings (references and names aside). */
const userPoolShape = (pool: Json, clients: Json[], resourceServer: Json) => ({
  adminCreatesUsers: pool.adminCreateUserConfig.allowAdminCreateUserOnly,
  mfa: pool.mfaConfiguration,
  totp: (pool.enabledMfas ?? []).includes('SOFTWARE_TOKEN_MFA') || pool.softwareTokenMfaConfiguration?.enabled === true,
  passwordPolicy: pool.policies?.passwordPolicy ?? pool.passwordPolicy,
  recovery: pool.accountRecoverySetting.recoveryMechanisms,
  usernameAttributes: pool.usernameAttributes,
  tier: pool.userPoolTier,
  threatProtection: pool.userPoolAddOns.advancedSecurityMode,
  deletionProtection: pool.deletionProtection,
  clients: clients.map((c) => ({
    flows: c.allowedOAuthFlows ?? c.allowedOauthFlows,
    scopes: (c.allowedOAuthScopes ?? c.allowedOauthScopes).map((s: Json) => joined(s).replace(/^<ref>/, 'mlflow')),
    callbacks: (c.callbackURLs ?? c.callbackUrls ?? []).map(joined),
    secret: c.generateSecret,
    accessTokenMinutes: c.accessTokenValidity ?? null,
    preventUserExistenceErrors: c.preventUserExistenceErrors,
  })).sort((a, b) => a.flows[0].localeCompare(b.flows[0])),
  resourceServer: { identifier: resourceServer.identifier, scopes: resourceServer.scopes },
});
/** Whether a container installs anything when it starts. */
const installsAtStart = (container: Json) => /pip|install/.test(JSON.stringify([container.entryPoint, container.command]));

/**
 * The served-models statements of a bucket policy (none outside the models bucket), with the bucket and the promotion
 * role's ARN in one form: both engines name this account's role `<store>-promotion`.
 */
function servedStatements(statements: Json[]): Json[] {
  const served = new Set(Object.values(SERVED_MODELS_POLICY_SIDS));
  const promotion = (arn: Json) => {
    const text = JSON.stringify(arn);
    return /AWS::AccountId|:123456789012:/.test(text) && /:role\/[\w-]*-promotion/.test(text.replace(/"\s*,\s*"/g, '')) ? '<this account>:role/<store>-promotion' : text;
  };
  return statements.filter((s) => served.has(s.Sid)).map((s) => ({
    sid: s.Sid,
    effect: s.Effect,
    principal: s.Principal,
    actions: [s.Action].flat().sort(),
    resource: JSON.stringify(s.Resource).replace(/.*\/(served\/\*)["\]}]*$/, '$1'),
    condition: s.Condition && Object.fromEntries(Object.entries(s.Condition).map(([operator, conditions]) => [operator,
      Object.fromEntries(Object.entries(conditions as Json).map(([key, value]) => [key, key === 'aws:PrincipalArn' ? promotion(value) : value]))])),
  }));
}

/**
 * What a source environment's resource policies let a promoting environment's promotion role do (core's shared
 * statements), each policy's statements rendered by the walker: the promoting account's statements, with the models
 * bucket's ARN as '<models bucket>' (a reference in CDK, the mock's ARN in Pulumi); none at all would prove nothing.
 */
function sharedServedModels(policies: Json[][], render: (value: Json) => string = String): Json[] {
  return policies.flat().filter((st) => JSON.stringify(st.Principal ?? '').includes(PROMOTING.account)).map((st) => ({
    sid: st.Sid,
    effect: st.Effect,
    principal: [st.Principal.AWS].flat().map(render),
    actions: [st.Action].flat().sort(),
    resources: (st.Resource ?? []).map((r: string) => r.replace(/^.*models[^/]*(\/served\/\*)$/i, '<models bucket>$1')),
    condition: st.Condition,
  })).sort((a, b) => a.sid.localeCompare(b.sid));
}

/**
 * A dev endpoint's scale to zero as each engine renders it (the default there): the inference component (its
 * placement, copies, rolling update and rollback alarm count), the variant it runs on (managed instance scaling from 0,
 * routing), where the endpoint's role, network and isolation are set, and the copies' scalable target, tracking
 * metric and scheduled actions. References (model, endpoint, role, alarms) are left out: each engine names them its way.
 */
function scaleToZeroShape(parts: {
  hosting: string; component: Json; config: Json; endpoint: Json; target: Json; metric: string; scheduled: Json[];
}) {
  const { component, config, target } = parts;
  return {
    inferenceComponent: {
      hosting: parts.hosting,
      name: component.inferenceComponentName,
      variantName: component.variantName,
      computeResourceRequirements: component.specification.computeResourceRequirements,
      runtimeConfig: component.runtimeConfig,
      rollingUpdatePolicy: component.deploymentConfig.rollingUpdatePolicy,
      rollbackAlarms: component.deploymentConfig.autoRollbackConfiguration.alarms.length,
      variants: config.productionVariants,
      enableNetworkIsolation: config.enableNetworkIsolation,
      configHasRoleAndVpc: [
        config.executionRoleArn !== undefined, config.vpcConfig?.subnets !== undefined, config.vpcConfig?.securityGroupIds?.length,
      ],
      endpointGuardrails: parts.endpoint.deploymentConfig ?? 'none (the component\'s rolling update)',
    },
    scaleToZeroSchedule: {
      target: { resourceId: target.resourceId, scalableDimension: target.scalableDimension, capacity: [target.minCapacity, target.maxCapacity] },
      metric: parts.metric,
      scheduled: parts.scheduled
        .map((a) => {
          const { minCapacity, maxCapacity } = a.scalableTargetAction;
          return { schedule: a.schedule, timezone: a.timezone, capacity: [minCapacity, maxCapacity] };
        })
        .sort((a, b) => a.capacity[0] - b.capacity[0]),
    },
  };
}
function cdkScaleToZero() {
  const t = cdkZero.template;
  const [target] = cfn('AWS::ApplicationAutoScaling::ScalableTarget', t).filter((x) => x.props.ServiceNamespace === 'sagemaker').map((x) => camel(x.props));
  const [policy] = cfn('AWS::ApplicationAutoScaling::ScalingPolicy', t).map((x) => x.props);
  return scaleToZeroShape({
    hosting: cdkZero.endpoint.hosting,
    component: camel(cfn('AWS::SageMaker::InferenceComponent', t)[0].props),
    config: camel(cfn('AWS::SageMaker::EndpointConfig', t)[0].props),
    endpoint: camel(cfn('AWS::SageMaker::Endpoint', t)[0].props),
    target,
    metric: policy.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType,
    scheduled: target.scheduledActions,
  });
}
function pulumiScaleToZero() {
  const r = pulumiZero.resources;
  return scaleToZeroShape({
    hosting: pulumiZero.endpoint.hosting,
    component: one(r, 'aws-native:sagemaker:InferenceComponent').inputs,
    config: one(r, 'aws-native:sagemaker:EndpointConfig').inputs,
    endpoint: one(r, 'aws:sagemaker/endpoint:Endpoint').inputs,
    target: one(r, 'aws:appautoscaling/target:Target').inputs,
    metric: one(r, 'aws:appautoscaling/policy:Policy').inputs.targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType,
    scheduled: ofType(r, 'aws:appautoscaling/scheduledAction:ScheduledAction').map((a) => a.inputs),
  });
}

/** Per-bucket settings as one list per setting. */
function byKey(list: Array<Record<string, Json>>): Record<string, Json> {
  return Object.fromEntries(Object.keys(list[0]).map((key) => [key, list.map((item) => item[key])]));
}

/** The kms:CreateGrant denies of each key's policy, as the distinct forms found across keys ('none' for a key without one). */
function grantDenies(keyPolicies: Json[][]): string[] {
  return [...new Set(keyPolicies.map((statements) => {
    const denies = statements.filter((s) => s.Effect === 'Deny' && [s.Action].flat().includes('kms:CreateGrant'))
      .map((s) => JSON.stringify({ sid: s.Sid, principal: s.Principal, actions: [s.Action].flat(), resource: s.Resource, condition: s.Condition }));
    return denies.length === 0 ? 'none' : denies.join(' ');
  }))].sort();
}

/** For each construct, its settings as each engine rendered them (the names are the `checks` of the table's rows). */
const extractors: Record<string, () => { cdk: Record<string, Json>; pulumi: Record<string, Json> }> = {
  ModelPipeline: () => {
    // Each engine's names of the same things as '<ref>': CloudFormation references, Pulumi's (mocked) ARNs, bucket
    // names, partition, region and account.
    const pulumiRefs = (text: string) => text.replace(/arn:aws:mock:[^:]+:[^:]+:[^/]+\/[^/]+\/[^"' ,)/]+|ppl-store-(artifacts|models|datasets)|123456789012|us-east-1/g, '<ref>')
      .replace(/arn:aws:/g, 'arn:<ref>:');
    const cdkText = (value: Json) => pulumiRefs(joined(value));
    const [machine] = cfn('AWS::StepFunctions::StateMachine', cdkPipeline.template).filter((m) => m.id.startsWith('Pipeline'));
    const pMachine = one(pulumiPipeline.resources, 'aws:sfn/stateMachine:StateMachine', 'ppl-state-machine').inputs;
    // Core's statements (Sid'd on both sides; the Pulumi role's own keys, log delivery and endpoint grants are its, CDK's grants are unnamed).
    const own = ['Keys', 'LogsAndTraces', 'PassTheEndpointRole', 'EndpointKeyGrantsForAwsResources', 'DescribeTheEndpointKey'];
    const core = (statements: Json[]) => statements.filter((st) => st.Sid && !own.includes(st.Sid)).map((st) => ({
      sid: st.Sid,
      effect: st.Effect,
      actions: [st.Action].flat().sort(),
      resources: [st.Resource ?? st.NotResource].flat().map((r: Json) => (typeof r === 'string' ? pulumiRefs(r) : cdkText(r))).sort(),
    })).sort((a, b) => a.sid.localeCompare(b.sid));
    const cdkRole = cdkStatements(cdkPipeline.template, 'PipelineRole');
    const pRole = pulumiPolicies(pulumiPipeline.resources, 'ppl-role-policy');
    const runLock = (statements: Json[]) => statements.filter((st) => [st.Action].flat().includes('states:ListExecutions')).map((st) => [st.Action].flat());
    // CloudFormation references (deeply) as '<ref>', then the names both engines spell their own way.
    const cdkRefs = (value: Json): Json => {
      if (Array.isArray(value)) return value.map(cdkRefs);
      if (value && typeof value === 'object') {
        return Object.keys(value).some((k) => k === 'Ref' || k.startsWith('Fn::')) ? cdkText(value) : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cdkRefs(v)]));
      }
      return typeof value === 'string' ? pulumiRefs(value) : value;
    };
    // The rules that start the pipeline (triggers and cleanup): schedule or pattern, the input, the role they start it as.
    const cdkRules = cfn('AWS::Events::Rule', cdkPipeline.template).filter((r) => JSON.stringify(r.props.Targets ?? []).includes('PipelineStateMachine'))
      .map((r) => ({
        description: r.props.Description,
        schedule: r.props.ScheduleExpression,
        pattern: cdkRefs(r.props.EventPattern),
        input: r.props.Targets[0].Input && JSON.parse(r.props.Targets[0].Input),
        role: cdkText(r.props.Targets[0].RoleArn) === '<ref>' && JSON.stringify(r.props.Targets[0].RoleArn).includes('PipelineTriggerRole') ? 'trigger role' : 'other',
      }));
    const pTargets = ofType(pulumiPipeline.resources, 'aws:cloudwatch/eventTarget:EventTarget')
      .filter((t) => t.inputs.arn === mockArn('aws:sfn/stateMachine:StateMachine', 'ppl-state-machine'));
    const pRules = pTargets.map((t) => {
      const rule = one(pulumiPipeline.resources, 'aws:cloudwatch/eventRule:EventRule', t.inputs.rule).inputs;
      return {
        description: rule.description,
        schedule: rule.scheduleExpression,
        pattern: rule.eventPattern && JSON.parse(pulumiRefs(rule.eventPattern)),
        input: t.inputs.input && JSON.parse(t.inputs.input),
        role: t.inputs.roleArn === mockArn('aws:iam/role:Role', 'ppl-trigger-role') ? 'trigger role' : 'other',
      };
    });
    const byDescription = (a: Json, b: Json) => a.description.localeCompare(b.description);
    // The rollout pipeline (churn): its definition with what each engine names its own way in one form (the endpoint's
    // subnets and security group, its rollback alarms' names), its core statements, and its grants on the endpoint's
    // role and key (CDK's grantPassRole and key grants, the Pulumi role's own statements).
    const rolloutForm = (definition: Json) => {
      const states = definition.States;
      states.CreateModel.Parameters.VpcConfig = { subnets: states.CreateModel.Parameters.VpcConfig.Subnets.length > 0, securityGroups: 1 };
      const alarms = states.UpdateEndpoint.Parameters.DeploymentConfig.AutoRollbackConfiguration.Alarms;
      states.UpdateEndpoint.Parameters.DeploymentConfig.AutoRollbackConfiguration.Alarms = `${alarms.length} alarms`;
      return definition;
    };
    const [cdkRolloutMachine] = cfn('AWS::StepFunctions::StateMachine', cdkPipeline.template).filter((m) => m.id.startsWith('Churn'));
    const pRolloutMachine = one(pulumiPipeline.rollout, 'aws:sfn/stateMachine:StateMachine', 'ppe-state-machine').inputs;
    const endpointGrants = (statements: Json[]) => ['iam:PassRole', 'kms:CreateGrant', 'kms:DescribeKey'].map((action) => {
      const on = statements.filter((st) => [st.Action].flat().includes(action))
        .map((st) => ({ resources: [st.Resource].flat().map(cdkRefs), condition: st.Condition }));
      // A grant found on neither side would compare equal and prove nothing.
      if (on.length === 0) throw new Error(`no statement allows ${action}`);
      return { action, on };
    });
    const triggerRole = (statements: Json[]) => statements.map((st) => ({
      effect: st.Effect, actions: [st.Action].flat(), resources: [st.Resource].flat().map(cdkRefs),
    }));
    return {
      cdk: {
        pipelineDefinition: JSON.parse(cdkText(machine.props.DefinitionString)),
        pipelineRoleStatements: core(cdkRole),
        pipelineRunLock: runLock(cdkStatements(cdkPipeline.template, 'PipelineRunLock')),
        pipelineTriggers: cdkRules.sort(byDescription),
        pipelineTriggerRole: triggerRole(cdkStatements(cdkPipeline.template, 'PipelineTriggerRole')),
        pipelineRolloutDefinition: rolloutForm(JSON.parse(cdkText(cdkRolloutMachine.props.DefinitionString))),
        pipelineRolloutStatements: core(cdkStatements(cdkPipeline.template, 'ChurnRole')),
        pipelineRolloutGrants: endpointGrants(cdkStatements(cdkPipeline.template, 'ChurnRole')),
        pipelineLogging: {
          level: machine.props.LoggingConfiguration.Level,
          data: machine.props.LoggingConfiguration.IncludeExecutionData,
          tracing: machine.props.TracingConfiguration.Enabled,
        },
      },
      pulumi: {
        pipelineDefinition: JSON.parse(pulumiRefs(pMachine.definition)),
        pipelineRoleStatements: core(pRole),
        pipelineRunLock: runLock(pulumiPolicies(pulumiPipeline.resources, 'ppl-run-lock')),
        pipelineTriggers: pRules.sort(byDescription),
        pipelineTriggerRole: triggerRole(pulumiPolicies(pulumiPipeline.resources, 'ppl-trigger-role-policy')),
        pipelineRolloutDefinition: rolloutForm(JSON.parse(pulumiRefs(pRolloutMachine.definition))),
        pipelineRolloutStatements: core(pulumiPolicies(pulumiPipeline.rollout, 'ppe-role-policy')),
        pipelineRolloutGrants: endpointGrants(pulumiPolicies(pulumiPipeline.rollout, 'ppe-role-policy')),
        pipelineLogging: {
          level: pMachine.loggingConfiguration.level,
          data: pMachine.loggingConfiguration.includeExecutionData,
          tracing: pMachine.tracingConfiguration.enabled,
        },
      },
    };
  },
  ArtifactStore: () => {
    const cdkBuckets = cfn('AWS::S3::Bucket').filter((b) => b.props.BucketEncryption?.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm === 'aws:kms');
    const policies = cfn('AWS::S3::BucketPolicy');
    const fromCdk = cdkBuckets.map((b) => {
      const lifecycle = b.props.LifecycleConfiguration.Rules.find((r: Json) => r.Id === 'noncurrent-versions');
      const policy = policies.find((p) => JSON.stringify(p.props.Bucket).includes(b.id))!.props.PolicyDocument.Statement;
      return {
        versioning: b.props.VersioningConfiguration.Status,
        sse: 'aws:kms',
        bucketKey: b.props.BucketEncryption.ServerSideEncryptionConfiguration[0].BucketKeyEnabled,
        platformKey: isPlatformKey(b.props.BucketEncryption),
        publicAccess: b.props.PublicAccessBlockConfiguration,
        ownership: b.props.OwnershipControls.Rules[0].ObjectOwnership,
        denies: policy.filter((s: Json) => s.Effect === 'Deny').map(denyKey).sort(),
        logPrefix: b.props.LoggingConfiguration.LogFilePrefix,
        replication: replicationOf(camel(b.props.ReplicationConfiguration.Rules[0])),
        servedModels: servedStatements(policy),
        objectLock: { enabled: b.props.ObjectLockEnabled ?? false, retention: camel(b.props.ObjectLockConfiguration?.Rule.DefaultRetention) },
        lifecycle: [
          lifecycle.NoncurrentVersionTransitions[0].TransitionInDays, lifecycle.NoncurrentVersionExpiration.NoncurrentDays,
          lifecycle.AbortIncompleteMultipartUpload.DaysAfterInitiation,
        ],
      };
    });
    const r = pulumiSide.resources;
    const fromPulumi = ['datasets', 'models', 'artifacts'].map((purpose) => {
      const sse = one(r, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', `store-${purpose}-encryption`).inputs.rules[0];
      const pab = one(r, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', `store-${purpose}-public-access-block`).inputs;
      const lifecycle = one(r, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', `store-${purpose}-lifecycle`).inputs.rules[0];
      const policy = JSON.parse(one(r, 'aws:s3/bucketPolicy:BucketPolicy', `store-${purpose}-policy`).inputs.policy).Statement;
      return {
        versioning: one(r, 'aws:s3/bucketVersioning:BucketVersioning', `store-${purpose}-versioning`).inputs.versioningConfiguration.status,
        sse: sse.applyServerSideEncryptionByDefault.sseAlgorithm,
        bucketKey: sse.bucketKeyEnabled,
        platformKey: sse.applyServerSideEncryptionByDefault.kmsMasterKeyId === pulumiSide.keyArn,
        publicAccess: {
          BlockPublicAcls: pab.blockPublicAcls,
          BlockPublicPolicy: pab.blockPublicPolicy,
          IgnorePublicAcls: pab.ignorePublicAcls,
          RestrictPublicBuckets: pab.restrictPublicBuckets,
        },
        ownership: one(r, 'aws:s3/bucketOwnershipControls:BucketOwnershipControls', `store-${purpose}-ownership`).inputs.rule.objectOwnership,
        denies: policy.map(denyKey).sort(),
        logPrefix: one(r, 'aws:s3/bucketLogging:BucketLogging', `store-${purpose}-logging`).inputs.targetPrefix,
        replication: replicationOf(one(r, 'aws:s3/bucketReplicationConfig:BucketReplicationConfig', `store-${purpose}-replication`).inputs.rules[0]),
        servedModels: servedStatements(policy),
        objectLock: {
          enabled: one(r, 'aws:s3/bucket:Bucket', `par-store-${purpose}`).inputs.objectLockEnabled ?? false,
          retention: ofType(r, 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration')
            .find((l) => l.name === `par-store-${purpose}-object-lock`)?.inputs.rule.defaultRetention,
        },
        lifecycle: [
          lifecycle.noncurrentVersionTransitions[0].noncurrentDays, lifecycle.noncurrentVersionExpiration.noncurrentDays,
          lifecycle.abortIncompleteMultipartUpload.daysAfterInitiation,
        ],
      };
    });
    expect(fromCdk).toHaveLength(3);
    expect(fromPulumi[0].platformKey).toBe(true);
    return { cdk: byKey(fromCdk), pulumi: byKey(fromPulumi) };
  },

  ModelRegistry: () => {
    const [cluster] = cfn('AWS::RDS::DBCluster').map((c) => c.props);
    const instances = cfn('AWS::RDS::DBInstance').map((i) => i.props);
    const fromCdk = {
      engineVersion: cluster.EngineVersion,
      capacity: [cluster.ServerlessV2ScalingConfiguration.MinCapacity, cluster.ServerlessV2ScalingConfiguration.MaxCapacity],
      backupDays: cluster.BackupRetentionPeriod,
      storageEncrypted: cluster.StorageEncrypted,
      platformKey: isPlatformKey(cluster.KmsKeyId),
      iamAuth: cluster.EnableIAMDatabaseAuthentication,
      deletionProtection: cluster.DeletionProtection ?? false,
      port: cluster.Port,
      databaseName: cluster.DatabaseName,
      logExports: cluster.EnableCloudwatchLogsExports,
      dataApi: cluster.EnableHttpEndpoint,
      instances: instances.length,
      publiclyAccessible: instances.map((i) => i.PubliclyAccessible),
      monitoringInterval: instances.map((i) => i.MonitoringInterval),
      performanceInsights: instances.map((i) => i.EnablePerformanceInsights),
    };
    const r = pulumiSide.resources;
    const c = one(r, 'aws:rds/cluster:Cluster').inputs;
    const pInstances = ofType(r, 'aws:rds/clusterInstance:ClusterInstance').map((i) => i.inputs);
    const fromPulumi = {
      engineVersion: c.engineVersion,
      capacity: [c.serverlessv2ScalingConfiguration.minCapacity, c.serverlessv2ScalingConfiguration.maxCapacity],
      backupDays: c.backupRetentionPeriod,
      storageEncrypted: c.storageEncrypted,
      platformKey: c.kmsKeyId === pulumiSide.keyArn,
      iamAuth: c.iamDatabaseAuthenticationEnabled,
      deletionProtection: c.deletionProtection,
      port: c.port,
      databaseName: c.databaseName,
      logExports: c.enabledCloudwatchLogsExports,
      dataApi: c.enableHttpEndpoint,
      instances: pInstances.length,
      publiclyAccessible: pInstances.map((i) => i.publiclyAccessible),
      monitoringInterval: pInstances.map((i) => i.monitoringInterval),
      performanceInsights: pInstances.map((i) => i.performanceInsightsEnabled),
    };
    return { cdk: fromCdk, pulumi: fromPulumi };
  },

  CostGuard: () => {
    const [budget] = cfn('AWS::Budgets::Budget').map((b) => b.props);
    const [anomaly] = cfn('AWS::CE::AnomalySubscription').map((a) => JSON.parse(a.props.ThresholdExpression).Dimensions);
    // The brake: definitions with every reference (ARN or name of a resource of the program) as <ref>.
    const walk = new IamWalk([{ name: 'Dev', json: cdkSide.template }]);
    const cdkRefs = (text: string) => JSON.parse(text.replace(/\{Dev:[^}]+\}/g, '<ref>'));
    // Pulumi names the table, the state parameter (CDK: a Ref of the same name) and the denied role literally.
    const pulumiRefs = (text: string) => JSON.parse(text.replace(/arn:aws:mock:[^"' ]+|par-cost-brake-ledger|\/mlops\/p-dev\/brake|(?<=")trainer(?=")/g, '<ref>'));
    const machines = cfn('AWS::StepFunctions::StateMachine').filter((m) => m.id.startsWith('CostBrake'));
    const cdkDefinition = (kind: string) => cdkRefs(walk.render('Dev', machines.find((m) => m.id.startsWith(`CostBrake${kind}`))!.props.DefinitionString));
    const sidActions = (statements: Json[]) => statements.filter((st) => st.Sid).map((st) => `${st.Effect}:${st.Sid}:${[st.Action].flat().sort().join(',')}`).sort();
    const allowed = (statements: Json[]) => [...new Set(statements.filter((st) => st.Effect === 'Allow').flatMap((st) => [st.Action].flat()))].sort();
    const [cdkDeny] = cfn('AWS::IAM::ManagedPolicy').filter((m) => m.id.startsWith('CostBrakeDenyPolicy'));
    const cdkRole = cdkStatements(cdkSide.template, 'CostBrakeRole');
    const fromCdk = {
      brakeEngage: cdkDefinition('Engage'),
      brakeRelease: cdkDefinition('Release'),
      brakeDeny: { path: cdkDeny.props.Path, statements: sidActions(cdkDeny.props.PolicyDocument.Statement) },
      brakeRoleSids: sidActions(cdkRole),
      brakeRoleActions: allowed(cdkRole),
      limit: Number(budget.Budget.BudgetLimit.Amount),
      filter: budget.Budget.CostFilters.TagKeyValue,
      notifications: budget.NotificationsWithSubscribers.map((n: Json) => `${n.Notification.NotificationType}:${n.Notification.Threshold}`),
      anomaly: { key: anomaly.Key, values: anomaly.Values, matchOptions: anomaly.MatchOptions },
    };
    const r = pulumiSide.resources;
    const b = one(r, 'aws:budgets/budget:Budget').inputs;
    const pDeny = one(r, 'aws:iam/policy:Policy', 'cost-brake-deny').inputs;
    const pRole = JSON.parse(one(r, 'aws:iam/policy:Policy', 'cost-brake-role-policy').inputs.policy).Statement;
    const fromPulumi = {
      brakeEngage: pulumiRefs(one(r, 'aws:sfn/stateMachine:StateMachine', 'brake-engage').inputs.definition),
      brakeRelease: pulumiRefs(one(r, 'aws:sfn/stateMachine:StateMachine', 'brake-release').inputs.definition),
      brakeDeny: { path: pDeny.path, statements: sidActions(JSON.parse(pDeny.policy).Statement) },
      // The statements core's brakeControllerStatements gives both engines; the Pulumi role's own grants (ledger, keys,
      // logs and traces) are Sid'd there and not in the CDK's grants, so the sids compared are core's.
      brakeRoleSids: sidActions(pRole.filter((st: Json) => !['Ledger', 'Keys', 'LogsAndTraces'].includes(st.Sid))),
      brakeRoleActions: allowed(pRole),
      limit: Number(b.limitAmount),
      filter: b.costFilters[0].values,
      notifications: b.notifications.map((n: Json) => `${n.notificationType}:${n.threshold}`),
      anomaly: one(r, 'aws:costexplorer/anomalySubscription:AnomalySubscription').inputs.thresholdExpression.dimension,
    };
    return { cdk: fromCdk, pulumi: fromPulumi };
  },

  GpuTrainingCluster: () => {
    const environments = cfn('AWS::Batch::ComputeEnvironment').map((e) => e.props.ComputeResources);
    const [launchTemplate] = cfn('AWS::EC2::LaunchTemplate').map((l) => l.props.LaunchTemplateData).filter((d) => d.BlockDeviceMappings?.[0].Ebs.VolumeSize === 200);
    const ebs = launchTemplate.BlockDeviceMappings[0].Ebs;
    const fromCdk = {
      environments: environments.map((e) => ({
        type: e.Type, allocation: e.AllocationStrategy, min: e.MinvCpus, max: e.MaxvCpus, types: e.InstanceTypes,
      })),
      priority: cfn('AWS::Batch::JobQueue')[0].props.Priority,
      imds: { tokens: launchTemplate.MetadataOptions.HttpTokens, hopLimit: launchTemplate.MetadataOptions.HttpPutResponseHopLimit },
      volume: { encrypted: ebs.Encrypted, type: ebs.VolumeType, size: ebs.VolumeSize, platformKey: isPlatformKey(ebs.KmsKeyId) },
      logRetentionDays: cfn('AWS::Logs::LogGroup').filter((g) => g.id.startsWith('TrainingJobLogs')).map((g) => g.props.RetentionInDays),
      placementGroups: cfn('AWS::EC2::PlacementGroup').length,
      ceiling: cdkSide.training.costCeiling,
      jobCheckpointWrites: writePrefixes(cfn('AWS::IAM::ManagedPolicy').filter((p) => p.id.startsWith('TrainingTrain')).flatMap((p) => p.props.PolicyDocument.Statement)),
      jobRetries: camel(cfn('AWS::Batch::JobDefinition')[0].props.RetryStrategy),
    };
    const r = pulumiSide.resources;
    const lt = one(r, 'aws:ec2/launchTemplate:LaunchTemplate', 'training-lt').inputs;
    const jobDefinition = one(r, 'aws:batch/jobDefinition:JobDefinition').inputs;
    const fromPulumi = {
      environments: ofType(r, 'aws:batch/computeEnvironment:ComputeEnvironment').map((e) => e.inputs.computeResources)
        .map((e) => ({ type: e.type, allocation: e.allocationStrategy, min: e.minVcpus, max: e.maxVcpus, types: e.instanceTypes })),
      priority: one(r, 'aws:batch/jobQueue:JobQueue').inputs.priority,
      imds: { tokens: lt.metadataOptions.httpTokens, hopLimit: lt.metadataOptions.httpPutResponseHopLimit },
      volume: {
        encrypted: lt.blockDeviceMappings[0].ebs.encrypted === 'true',
        type: lt.blockDeviceMappings[0].ebs.volumeType,
        size: lt.blockDeviceMappings[0].ebs.volumeSize,
        platformKey: lt.blockDeviceMappings[0].ebs.kmsKeyId === pulumiSide.keyArn,
      },
      logRetentionDays: [one(r, 'aws:cloudwatch/logGroup:LogGroup', 'training-job-logs').inputs.retentionInDays],
      placementGroups: ofType(r, 'aws:ec2/placementGroup:PlacementGroup').length,
      ceiling: pulumiSide.training.spec.costCeiling,
      jobCheckpointWrites: writePrefixes(JSON.parse(one(r, 'aws:iam/policy:Policy', 'training-train-job-policy').inputs.policy).Statement),
      jobRetries: { attempts: jobDefinition.retryStrategy.attempts, evaluateOnExit: jobDefinition.retryStrategy.evaluateOnExits },
    };
    return { cdk: fromCdk, pulumi: fromPulumi };
  },

  InferenceFleet: () => {
    const [asg] = cfn('AWS::AutoScaling::AutoScalingGroup').map((g) => g.props);
    const schedules = cfn('AWS::AutoScaling::ScheduledAction').map((s) => s.props)
      .map((s) => ({ recurrence: s.Recurrence, min: s.MinSize, max: s.MaxSize, desired: s.DesiredCapacity, timeZone: s.TimeZone }));
    const [alb] = cfn('AWS::ElasticLoadBalancingV2::LoadBalancer').map((l) => l.props);
    const attribute = (key: string) => alb.LoadBalancerAttributes?.find((a: Json) => a.Key === key)?.Value;
    const [targetGroup] = cfn('AWS::ElasticLoadBalancingV2::TargetGroup').map((t) => t.props);
    const [requestsPolicy] = cfn('AWS::AutoScaling::ScalingPolicy').map((p) => p.props)
      .filter((p) => p.TargetTrackingConfiguration?.PredefinedMetricSpecification?.PredefinedMetricType === 'ALBRequestCountPerTarget');
    const [launchTemplate] = cfn('AWS::EC2::LaunchTemplate').map((l) => l.props.LaunchTemplateData).filter((d) => d.InstanceType === 'g5.xlarge');
    const fleetCertificates = missingCertificateProblems('InferenceFleet');
    const rollout = rolloutSettings();
    const fromCdk = {
      capacity: [Number(asg.MinSize), Number(asg.MaxSize)],
      schedules: schedules.sort((x, y) => x.min - y.min),
      internal: alb.Scheme === 'internal',
      deletionProtection: (attribute('deletion_protection.enabled') ?? 'false') === 'true',
      gracePeriod: asg.HealthCheckGracePeriod,
      targetGroup: { port: targetGroup.Port, path: targetGroup.HealthCheckPath },
      requestsPerInstance: requestsPolicy.TargetTrackingConfiguration.TargetValue,
      rootVolume: launchTemplate.BlockDeviceMappings[0].Ebs.VolumeSize,
      imds: { tokens: launchTemplate.MetadataOptions.HttpTokens, hopLimit: launchTemplate.MetadataOptions.HttpPutResponseHopLimit },
      instanceReads: writePrefixes(cdkStatements(cdkOps.template, 'Fleet'), 's3:GetObject'),
      // How many object patterns the instance role may put (none).
      instanceWrites: writePrefixes(cdkStatements(cdkOps.template, 'Fleet')).length,
      ami: cdkSide.template.Parameters[launchTemplate.ImageId.Ref].Default,
      cost: cdkSide.fleet.costEstimate,
      variantWeights: cfn('AWS::ElasticLoadBalancingV2::Listener', cdkOps.template).filter((l) => l.id.startsWith('Fleet') && l.props.DefaultActions[0].ForwardConfig)
        .map((l) => l.props.DefaultActions[0].ForwardConfig.TargetGroups.map((t: Json) => t.Weight)),
      // Without a certificate (dev) and with one.
      listeners: [cdkListeners(cdkSide.template, 'Fleet'), cdkListeners(cdkOps.template, 'Fleet')],
      listenerPorts: [cdkIngressPorts(cdkSide.template, 'FleetLoadBalancerSecurityGroup'), cdkIngressPorts(cdkOps.template, 'FleetLoadBalancerSecurityGroup')],
      certificateRequired: fleetCertificates.cdk,
      mixedInstances: {
        launchTemplate: asg.LaunchTemplate,
        overrides: asg.MixedInstancesPolicy.LaunchTemplate.Overrides.map((o: Json) => o.InstanceType),
        distribution: camel(asg.MixedInstancesPolicy.InstancesDistribution),
      },
      alternativeErrors: alternativeTypeErrors().cdk,
      ...rollout.cdk,
    };
    const r = pulumiSide.resources;
    const g = one(r, 'aws:autoscaling/group:Group').inputs;
    const lb = one(r, 'aws:lb/loadBalancer:LoadBalancer').inputs;
    const tg = one(r, 'aws:lb/targetGroup:TargetGroup').inputs;
    const flt = one(r, 'aws:ec2/launchTemplate:LaunchTemplate', 'fleet-candidate-lt').inputs;
    const fromPulumi = {
      capacity: [g.minSize, g.maxSize],
      schedules: ofType(r, 'aws:autoscaling/schedule:Schedule').map((s) => s.inputs)
        .map((s) => ({ recurrence: s.recurrence, min: s.minSize, max: s.maxSize, desired: s.desiredCapacity, timeZone: s.timeZone }))
        .sort((x, y) => x.min - y.min),
      internal: lb.internal,
      deletionProtection: lb.enableDeletionProtection,
      gracePeriod: g.healthCheckGracePeriod,
      targetGroup: { port: tg.port, path: tg.healthCheck.path },
      requestsPerInstance: one(r, 'aws:autoscaling/policy:Policy', 'fleet-candidate-requests').inputs.targetTrackingConfiguration.targetValue,
      rootVolume: flt.blockDeviceMappings[0].ebs.volumeSize,
      imds: { tokens: flt.metadataOptions.httpTokens, hopLimit: flt.metadataOptions.httpPutResponseHopLimit },
      instanceReads: writePrefixes(JSON.parse(one(pulumiOps.resources, 'aws:iam/policy:Policy', 'fleet-instance-policy').inputs.policy).Statement, 's3:GetObject'),
      instanceWrites: writePrefixes(JSON.parse(one(pulumiOps.resources, 'aws:iam/policy:Policy', 'fleet-instance-policy').inputs.policy).Statement).length,
      ami: flt.imageId.replace(/^resolve:ssm:/, ''),
      cost: pulumiSide.fleet.spec.costEstimate,
      variantWeights: [one(pulumiOps.resources, 'aws:lb/listener:Listener', 'fleet-listener').inputs.defaultActions[0].forward.targetGroups.map((t: Json) => t.weight)],
      listeners: [pulumiListeners(r, 'par-fleet-'), pulumiListeners(pulumiOps.resources, 'pas-fleet-')],
      listenerPorts: [pulumiIngressPorts(r, 'par-fleet-lb-sg'), pulumiIngressPorts(pulumiOps.resources, 'pas-fleet-lb-sg')],
      certificateRequired: fleetCertificates.pulumi,
      mixedInstances: {
        launchTemplate: g.launchTemplate,
        overrides: g.mixedInstancesPolicy.launchTemplate.overrides.map((o: Json) => o.instanceType),
        distribution: g.mixedInstancesPolicy.instancesDistribution,
      },
      alternativeErrors: alternativeTypeErrors().pulumi,
      ...rollout.pulumi,
    };
    return { cdk: fromCdk, pulumi: fromPulumi };
  },

  ImageRepository: () => {
    const [repo] = cfn('AWS::ECR::Repository').map((x) => x.props);
    const r = pulumiSide.resources;
    const p = one(r, 'aws:ecr/repository:Repository', 'par-images-repository').inputs;
    return {
      cdk: {
        tagMutability: repo.ImageTagMutability,
        scanOnPush: repo.ImageScanningConfiguration.ScanOnPush,
        encryption: { type: repo.EncryptionConfiguration.EncryptionType, platformKey: isPlatformKey(repo.EncryptionConfiguration.KmsKey) },
        lifecycle: JSON.parse(repo.LifecyclePolicy.LifecyclePolicyText).rules,
      },
      pulumi: {
        tagMutability: p.imageTagMutability,
        scanOnPush: p.imageScanningConfiguration.scanOnPush,
        encryption: { type: p.encryptionConfigurations[0].encryptionType, platformKey: p.encryptionConfigurations[0].kmsKey === pulumiSide.keyArn },
        lifecycle: JSON.parse(one(r, 'aws:ecr/lifecyclePolicy:LifecyclePolicy', 'par-images-lifecycle').inputs.policy).rules,
      },
    };
  },

  ModelEndpoint: () => {
    const t = cdkOps.template;
    const [config] = cfn('AWS::SageMaker::EndpointConfig', t).map((x) => x.props);
    const [endpoint] = cfn('AWS::SageMaker::Endpoint', t).map((x) => x.props);
    const storeKeyId = /"Fn::GetAtt":\["(\w+)"/.exec(JSON.stringify(cfn('AWS::S3::Bucket', t).find((b) => b.id.startsWith('StoreModels'))!.props.BucketEncryption))![1];
    const alarmIds = endpoint.DeploymentConfig.AutoRollbackConfiguration.Alarms.map((a: Json) => a.AlarmName.Ref);
    const cdkAlarms = alarmIds.map((id: string) => t.Resources[id].Properties.Threshold).sort();
    const [target] = cfn('AWS::ApplicationAutoScaling::ScalableTarget', t).filter((x) => x.props.ServiceNamespace === 'sagemaker').map((x) => x.props);
    const [policy] = cfn('AWS::ApplicationAutoScaling::ScalingPolicy', t)
      .filter((x) => x.props.TargetTrackingScalingPolicyConfiguration?.PredefinedMetricSpecification?.PredefinedMetricType === 'SageMakerVariantInvocationsPerInstance')
      .map((x) => x.props);
    const r = pulumiOps.resources;
    const pConfig = one(r, 'aws:sagemaker/endpointConfiguration:EndpointConfiguration').inputs;
    const pEndpoint = one(r, 'aws:sagemaker/endpoint:Endpoint').inputs;
    const pTarget = one(r, 'aws:appautoscaling/target:Target', 'endpoint-current-scaling').inputs;
    const capture = (c: Json, storeKey: boolean) => ({
      enableCapture: c.enableCapture, initialSamplingPercentage: c.initialSamplingPercentage, captureOptions: c.captureOptions, storeKey,
    });
    return {
      cdk: {
        networkIsolation: cfn('AWS::SageMaker::Model', t).map((m) => m.props.EnableNetworkIsolation),
        dataCapture: capture(camel(config.DataCaptureConfig), JSON.stringify(config.DataCaptureConfig.KmsKeyId).includes(storeKeyId)),
        trafficRouting: camel(endpoint.DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration),
        rollbackAlarms: cdkAlarms,
        instanceType: config.ProductionVariants.map((v: Json) => v.InstanceType),
        capacity: [target.MinCapacity, target.MaxCapacity],
        invocationsTarget: policy.TargetTrackingScalingPolicyConfiguration.TargetValue,
        cost: cdkOps.endpoint.costEstimate,
        executionReads: writePrefixes(cdkStatements(t, 'Endpoint'), 's3:GetObject'),
        executionWrites: writePrefixes(cdkStatements(t, 'Endpoint')),
        ...cdkScaleToZero(),
      },
      pulumi: {
        networkIsolation: ofType(r, 'aws:sagemaker/model:Model').map((m) => m.inputs.enableNetworkIsolation),
        dataCapture: capture(pConfig.dataCaptureConfig, pConfig.dataCaptureConfig.kmsKeyId === pulumiOps.storeKeyArn),
        trafficRouting: pEndpoint.deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration,
        rollbackAlarms: ofType(r, 'aws:cloudwatch/metricAlarm:MetricAlarm').filter((a) => a.name.startsWith('pas-endpoint-')).map((a) => a.inputs.threshold).sort(),
        instanceType: pConfig.productionVariants.map((v: Json) => v.instanceType),
        capacity: [pTarget.minCapacity, pTarget.maxCapacity],
        invocationsTarget: one(r, 'aws:appautoscaling/policy:Policy', 'endpoint-current-scaling-invocations').inputs.targetTrackingScalingPolicyConfiguration.targetValue,
        cost: pulumiOps.endpoint.spec.costEstimate,
        executionReads: writePrefixes(JSON.parse(one(r, 'aws:iam/policy:Policy', 'endpoint-execution-policy').inputs.policy).Statement, 's3:GetObject'),
        executionWrites: writePrefixes(JSON.parse(one(r, 'aws:iam/policy:Policy', 'endpoint-execution-policy').inputs.policy).Statement),
        ...pulumiScaleToZero(),
      },
    };
  },

  MlopsMonitoring: () => {
    const t = cdkOps.template;
    const cdkTopic = cfn('AWS::SNS::Topic', t).find((x) => x.id.startsWith('Monitoring'))!.props;
    const cdkTopicPolicy = cfn('AWS::SNS::TopicPolicy', t).find((x) => x.id.startsWith('Monitoring'))!.props.PolicyDocument.Statement;
    const serving = /^Monitoring(Latency|Errors|GpuUnderused)(fraud|churn)/;
    const cdkThresholds = cfn('AWS::CloudWatch::Alarm', t).filter((a) => serving.test(a.id))
      .map((a) => `${serving.exec(a.id)![1]}-${serving.exec(a.id)![2]}:${a.props.Threshold}`).sort();
    const r = pulumiOps.resources;
    const pTopic = one(r, 'aws:sns/topic:Topic', 'monitoring-alarms').inputs;
    const pTopicPolicy = JSON.parse(one(r, 'aws:sns/topicPolicy:TopicPolicy', 'monitoring-alarms-policy').inputs.policy).Statement;
    const pThresholds = ofType(r, 'aws:cloudwatch/metricAlarm:MetricAlarm').filter((a) => a.name.startsWith('pas-monitoring-'))
      .map((a) => `${a.name.replace('pas-monitoring-', '')}:${a.inputs.threshold}`).sort();
    const policyShape = (statements: Json[]) => statements.map((st) => `${st.Effect}:${Object.keys(Object.values(st.Condition ?? {})[0] ?? {})[0] ?? '-'}`).sort();
    // A stepped fleet's serving graph (the CDK platform's shard dashboard, the Pulumi platform's model dashboard): title,
    // axes, size and metrics, with the resources' dimension values as '<ref>' (the Model dimension kept) and the region as '<region>'.
    const servingGraphOf = (bodies: string[]) => {
      const graph = bodies.flatMap((body) => JSON.parse(body).widgets).find((w: Json) => /rollout %$/.test(w.properties?.title ?? ''));
      if (!graph) throw new Error('no serving graph with the rollout\'s progress on the dashboards');
      const { region, metrics, ...properties } = graph.properties;
      return {
        width: graph.width,
        height: graph.height,
        properties: { ...properties, region: typeof region === 'string' ? '<region>' : region },
        // (A Pulumi value the mocks do not compute, such as the load balancer's ARN suffix, renders as null.)
        metrics: metrics.map((row: Json[]) => row.map((part, i) => ((typeof part === 'string' || part === null) && i >= 3 && i % 2 === 1 && row[i - 1] !== 'Model' ? '<ref>' : part))),
      };
    };
    // A model's own row (CDK monitor() on the environment dashboard, Pulumi the model's dashboard): each graph's title and,
    // per axis, what it shows (metric names, expressions).
    const rowGraphs = (bodies: string[]) => bodies.flatMap((body) => JSON.parse(body).widgets)
      .filter((w: Json) => w.properties.metrics && /^(fraud|churn): (latency|requests|GPU)/.test(w.properties.title))
      .map((w: Json) => `${w.properties.title} = ${w.properties.metrics.map((row: Json[]) => {
        const options = row[row.length - 1] ?? {};
        // (CDK leaves out the default statistic, Average; its endpoint names the requests metric 'invocations'.)
        const shown = typeof row[0] === 'string' ? `${row[1]}:${options.stat ?? 'Average'}` : row[0].expression.replace(/\b(requests|invocations)\b/, '<requests>');
        return options.visible === false ? undefined : `${options.yAxis ?? 'left'}:${shown}`;
      }).filter((x: string | undefined) => x).join(', ')}`).sort();
    const cdkRows = rowGraphs(cfn('AWS::CloudWatch::Dashboard', t).map((d) => joined(d.props.DashboardBody)));
    if (cdkRows.length !== 6) throw new Error(`expected the three graphs of fraud and churn on the CDK dashboard, found ${cdkRows.join('; ')}`);
    const pRows = rowGraphs(ofType(r, 'aws:cloudwatch/dashboard:Dashboard').map((d) => d.inputs.dashboardBody));
    const cdkGraph = servingGraphOf(cfn('AWS::CloudWatch::Dashboard', cdkRollout).map((d) => joined(d.props.DashboardBody)));
    const pGraph = servingGraphOf(ofType(pulumiRollout, 'aws:cloudwatch/dashboard:Dashboard').map((d) => d.inputs.dashboardBody));
    return {
      cdk: {
        topicEncrypted: cdkTopic.KmsMasterKeyId !== undefined,
        topicPolicy: policyShape(cdkTopicPolicy),
        servingThresholds: cdkThresholds,
        rolloutProgressGraph: cdkGraph,
        servingRows: cdkRows,
      },
      pulumi: {
        topicEncrypted: pTopic.kmsMasterKeyId !== undefined,
        topicPolicy: policyShape(pTopicPolicy),
        servingThresholds: pThresholds,
        rolloutProgressGraph: pGraph,
        servingRows: pRows,
      },
    };
  },

  MlopsGovernance: () => {
    const t = cdkOps.template;
    const [trail] = cfn('AWS::CloudTrail::Trail', t).map((x) => x.props);
    const boundary = cfn('AWS::IAM::ManagedPolicy', t).map((x) => x.props).find((p) => p.PolicyDocument.Statement.some((st: Json) => st.Sid === 'AllowPlatformServices'));
    const personaRoles = cfn('AWS::IAM::Role', t).filter((x) => /persona/.test(x.props.Description ?? '')).map((x) => x.props)
      .map((role) => ({
        description: role.Description,
        maxSessionHours: role.MaxSessionDuration / 3600,
        mfa: JSON.stringify(role.AssumeRolePolicyDocument).includes('aws:MultiFactorAuthPresent'),
        managed: (role.ManagedPolicyArns ?? []).map((a: Json) => JSON.stringify(a).replace(/.*policy\/(\w+).*/, '$1')),
        bounded: role.PermissionsBoundary !== undefined,
      })).sort((a, b) => a.description.localeCompare(b.description));
    const r = pulumiOps.resources;
    const pTrail = one(r, 'aws:cloudtrail/trail:Trail').inputs;
    const pBoundary = JSON.parse(one(r, 'aws:iam/policy:Policy', 'governance-boundary').inputs.policy).Statement;
    const pPersonas = ofType(r, 'aws:iam/role:Role').filter((x) => x.name.startsWith('pas-governance-') && /persona/.test(x.inputs.description ?? '')).map((x) => x.inputs)
      .map((role) => ({
        description: role.description,
        maxSessionHours: role.maxSessionDuration / 3600,
        mfa: role.assumeRolePolicy.includes('aws:MultiFactorAuthPresent'),
        managed: (role.managedPolicyArns ?? []).map((a: string) => a.replace(/.*policy\/(\w+).*/, '$1')),
        bounded: role.permissionsBoundary !== undefined,
      })).sort((a, b) => a.description.localeCompare(b.description));
    return {
      cdk: {
        trail: {
          multiRegion: trail.IsMultiRegionTrail,
          validation: trail.EnableLogFileValidation,
          global: trail.IncludeGlobalServiceEvents,
          encrypted: trail.KMSKeyId !== undefined,
          toLogs: trail.CloudWatchLogsLogGroupArn !== undefined,
        },
        boundary: boundarySids(boundary.PolicyDocument.Statement),
        personas: personaRoles,
      },
      pulumi: {
        trail: {
          multiRegion: pTrail.isMultiRegionTrail,
          validation: pTrail.enableLogFileValidation,
          global: pTrail.includeGlobalServiceEvents,
          encrypted: pTrail.kmsKeyId !== undefined,
          toLogs: pTrail.cloudWatchLogsGroupArn !== undefined,
        },
        boundary: boundarySids(pBoundary),
        personas: pPersonas,
      },
    };
  },

  [EVERY_CONSTRUCT]: () => {
    const cdkKeys = [...cfn('AWS::KMS::Key'), ...cfn('AWS::KMS::Key', cdkOps.template)].map((k) => k.props.KeyPolicy.Statement);
    // The parity environment's own key ('par-key', passed to the components) is the user's, not the library's.
    const pulumiKeys = ofType([...pulumiSide.resources, ...pulumiOps.resources], 'aws:kms/key:Key').filter((k) => k.name !== 'par-key')
      .map((k) => (k.inputs.policy === undefined ? [] : JSON.parse(k.inputs.policy).Statement));
    expect(cdkKeys.length).toBeGreaterThan(1);
    expect(pulumiKeys.length).toBeGreaterThan(1);
    // Every bucket's EventBridge switch, as the distinct values found across buckets (a bucket without one: 'none').
    const cdkBuckets = [...cfn('AWS::S3::Bucket'), ...cfn('AWS::S3::Bucket', cdkOps.template)]
      .map((b) => b.props.NotificationConfiguration?.EventBridgeConfiguration?.EventBridgeEnabled ?? 'none');
    const pulumiResources = [...pulumiSide.resources, ...pulumiOps.resources];
    const notifications = ofType(pulumiResources, 'aws:s3/bucketNotification:BucketNotification').map((n) => n.inputs);
    const pulumiBuckets = ofType(pulumiResources, 'aws:s3/bucket:Bucket')
      .map((b) => notifications.find((n) => n.bucket === `${b.name}-id`)?.eventbridge ?? 'none');
    expect(cdkBuckets.length).toBeGreaterThan(4);
    expect(pulumiBuckets.length).toBeGreaterThan(4);
    return {
      cdk: { keyGrantDeny: grantDenies(cdkKeys), eventBridge: [...new Set(cdkBuckets)] },
      pulumi: { keyGrantDeny: grantDenies(pulumiKeys), eventBridge: [...new Set(pulumiBuckets)] },
    };
  },

  ExperimentTracking: () => {
    const t = cdkOps.template;
    const alb = cfn('AWS::ElasticLoadBalancingV2::LoadBalancer', t).find((x) => x.id.startsWith('Tracking'))!.props;
    const attribute = (key: string) => alb.LoadBalancerAttributes?.find((a: Json) => a.Key === key)?.Value;
    const [acl] = cfn('AWS::WAFv2::WebACL', t).map((x) => x.props);
    const [service] = cfn('AWS::ECS::Service', t).map((x) => x.props);
    const [task] = cfn('AWS::ECS::TaskDefinition', t).map((x) => x.props);
    const [target] = cfn('AWS::ApplicationAutoScaling::ScalableTarget', t).filter((x) => x.props.ServiceNamespace === 'ecs').map((x) => x.props);
    const r = pulumiOps.resources;
    const pAlb = one(r, 'aws:lb/loadBalancer:LoadBalancer', 'tracking-alb').inputs;
    const pService = one(r, 'aws:ecs/service:Service').inputs;
    const pTask = one(r, 'aws:ecs/taskDefinition:TaskDefinition').inputs;
    const pTarget = one(r, 'aws:appautoscaling/target:Target', 'tracking-scaling').inputs;
    const certificates = missingCertificateProblems('ExperimentTracking');
    const cdkContainer = camel(task.ContainerDefinitions[0]);
    const pContainer = JSON.parse(pTask.containerDefinitions)[0];
    const hardening = (container: Json, volumes: Json[]) => ({
      user: container.user,
      readonlyRootFilesystem: container.readonlyRootFilesystem,
      memory: container.memory,
      mounts: container.mountPoints,
      volumes: volumes.map((v) => v.name),
    });
    return {
      cdk: {
        internal: alb.Scheme === 'internal',
        dropInvalidHeaders: attribute('routing.http.drop_invalid_header_fields.enabled') === 'true',
        wafRules: acl.Rules.map((rule: Json) => `${rule.Priority}:${rule.Name}`).sort(),
        publicIp: service.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp === 'ENABLED',
        taskSize: [task.Cpu, task.Memory],
        tasks: [target.MinCapacity, target.MaxCapacity],
        circuitBreaker: camel(service.DeploymentConfiguration.DeploymentCircuitBreaker),
        logRetentionDays: cfn('AWS::Logs::LogGroup', t).filter((g) => g.id.startsWith('Tracking')).map((g) => g.props.RetentionInDays).sort(),
        taskWrites: writePrefixes(cdkStatements(t, 'Tracking')),
        listeners: cdkListeners(t, 'Tracking'),
        listenerPorts: cdkIngressPorts(t, 'TrackingLoadBalancerSecurityGroup'),
        certificateRequired: certificates.cdk,
        container: hardening(cdkContainer, camel(task.Volumes)),
        installAtStart: installsAtStart(cdkContainer),
        pinnedImage: unpinnedImageErrors().cdk,
        authentication: {
          listener: cfn('AWS::ElasticLoadBalancingV2::Listener', t).filter((l) => l.id.startsWith('Tracking') && l.props.Port === 443)
            .map((l) => camel(l.props).defaultActions.map(actionShape)),
          rules: cfn('AWS::ElasticLoadBalancingV2::ListenerRule', t).filter((l) => l.id.startsWith('Tracking')).map((l) => camel(l.props)).map((rule) => ({
            priority: rule.priority,
            header: rule.conditions.map((c: Json) => [c.httpHeaderConfig.httpHeaderName, c.httpHeaderConfig.values]),
            actions: rule.actions.map(actionShape),
          })),
        },
        userPool: userPoolShape(camel(cfn('AWS::Cognito::UserPool', t)[0].props), cfn('AWS::Cognito::UserPoolClient', t).map((c) => camel(c.props)),
          camel(cfn('AWS::Cognito::UserPoolResourceServer', t)[0].props)),
        authenticationErrors: authenticationErrors().cdk,
        databaseUserSql: JSON.parse(joined(cfn('Custom::AWS', t).find((c) => c.id.startsWith('TrackingDatabaseUser'))!.props.Create)).parameters.sql,
        taskDatabaseUsers: databaseUsers(cdkPolicies(t, 'TrackingTaskRole')),
        secretReaders: ['DatabaseUserRole', 'TaskRole', 'ExecutionRole'].filter((role) => readsSecret(cdkPolicies(t, `Tracking${role}`))).map(roleKind),
        serverCommand: connection(joined(cdkContainer.command[0])),
        taskSecrets: (cdkContainer.secrets ?? []).length,
      },
      pulumi: {
        internal: pAlb.internal,
        dropInvalidHeaders: pAlb.dropInvalidHeaderFields,
        wafRules: one(r, 'aws:wafv2/webAcl:WebAcl').inputs.rules.map((rule: Json) => `${rule.priority}:${rule.name}`).sort(),
        publicIp: pService.networkConfiguration.assignPublicIp,
        taskSize: [pTask.cpu, pTask.memory],
        tasks: [pTarget.minCapacity, pTarget.maxCapacity],
        circuitBreaker: pService.deploymentCircuitBreaker,
        logRetentionDays: ofType(r, 'aws:cloudwatch/logGroup:LogGroup').filter((g) => g.name.startsWith('pas-tracking-')).map((g) => g.inputs.retentionInDays).sort(),
        taskWrites: writePrefixes(JSON.parse(one(r, 'aws:iam/policy:Policy', 'tracking-task-policy').inputs.policy).Statement),
        listeners: pulumiListeners(r, 'pas-tracking-'),
        listenerPorts: pulumiIngressPorts(r, 'pas-tracking-lb-sg'),
        certificateRequired: certificates.pulumi,
        container: hardening(pContainer, pTask.volumes),
        installAtStart: installsAtStart(pContainer),
        pinnedImage: unpinnedImageErrors().pulumi,
        authentication: {
          listener: ofType(r, 'aws:lb/listener:Listener').filter((l) => l.name.startsWith('pas-tracking-') && l.inputs.port === 443)
            .map((l) => l.inputs.defaultActions.map(actionShape)),
          rules: ofType(r, 'aws:lb/listenerRule:ListenerRule').filter((l) => l.name.startsWith('pas-tracking-')).map((l) => l.inputs).map((rule) => ({
            priority: rule.priority,
            header: rule.conditions.map((c: Json) => [c.httpHeader.httpHeaderName, c.httpHeader.values]),
            actions: rule.actions.map(actionShape),
          })),
        },
        userPool: userPoolShape(one(r, 'aws:cognito/userPool:UserPool', 'pas-tracking-user-pool').inputs,
          ofType(r, 'aws:cognito/userPoolClient:UserPoolClient').filter((c) => c.name.startsWith('pas-tracking-')).map((c) => c.inputs),
          one(r, 'aws:cognito/resourceServer:ResourceServer', 'pas-tracking-api').inputs),
        authenticationErrors: authenticationErrors().pulumi,
        databaseUserSql: JSON.parse(one(r, 'aws:lambda/function:Function', 'pas-tracking-database-user').inputs.environment.variables.STATEMENT).sql,
        taskDatabaseUsers: databaseUsers(pulumiPolicies(r, 'pas-tracking-task-policy')),
        secretReaders: ['database-user', 'task', 'execution'].filter((role) => readsSecret(pulumiPolicies(r, `pas-tracking-${role}-policy`))).map(roleKind),
        serverCommand: connection(pContainer.command[0]),
        taskSecrets: (pContainer.secrets ?? []).length,
      },
    };
  },
};

extractors.ModelPromotion = () => {
  const t = cdkPromotion.template;
  const walk = new IamWalk([{ name: 'P', json: t }]);
  const cdkRefs = (text: string) => text.replace(/\{P:[^}]+\}/g, '<ref>');
  // Pulumi names the bucket, the lock table and the topic literally (CDK: references to them).
  const pulumiRefs = (text: string) => text.replace(/arn:aws:mock:[^/"' ,]+\/[a-zA-Z]+\/[a-z0-9-]+|pap-store-models|pap-promotion-locks/g, '<ref>');
  const [machine] = cfn('AWS::StepFunctions::StateMachine', t);
  const role = walk.role(/^PromotionRole[0-9A-F]{8}$/);
  const statements = (list: Json[], refs: (text: string) => string) => list.filter((st) => st.Sid)
    .map((st) => JSON.parse(refs(JSON.stringify({
      sid: st.Sid, effect: st.Effect, actions: [st.Action].flat().sort(), resources: [st.Resource].flat().sort(), conditions: st.Condition,
    }))))
    .sort((a, b) => a.sid.localeCompare(b.sid));
  const allowed = (list: Json[]) => [...new Set(list.filter((st) => st.Effect === 'Allow').flatMap((st) => [st.Action].flat()))].sort();
  const exempted = (policy: Json) => JSON.stringify(policy.find((st: Json) => st.Sid === SERVED_MODELS_POLICY_SIDS.onlyPromotion).Condition);
  const cdkRole = role.identity;
  const pipelineWalk = new IamWalk([{ name: 'L', json: cdkPipeline.template }]);
  const cdkShared = sharedServedModels([
    ...cfn('AWS::S3::BucketPolicy', cdkPipeline.template).map((p) => pipelineWalk.statements('L', p.props.PolicyDocument)),
    ...cfn('AWS::KMS::Key', cdkPipeline.template).map((k) => pipelineWalk.statements('L', k.props.KeyPolicy)),
    ...cfn('AWS::SageMaker::ModelPackageGroup', cdkPipeline.template).map((g) => pipelineWalk.statements('L', g.props.ModelPackageGroupPolicy)),
  ], (value) => pipelineWalk.render('L', value));
  const cdkStackUpdate = cdkRole.filter((st) => PROMOTION_STACK_UPDATE_SIDS.includes(st.Sid ?? '')).flatMap((st) => st.Action ?? []);
  const fromCdk = {
    promotionDefinition: promotionUntilServedState(JSON.parse(cdkRefs(walk.render('P', machine.props.DefinitionString)))),
    promotionAfterServedState: promotionAfterServedState(JSON.parse(cdkRefs(walk.render('P', machine.props.DefinitionString)))),
    promotionRolloutStatements: statements(cdkRole.filter((st) => PROMOTION_ROLLOUT_SIDS.includes(st.Sid ?? '')).map((st) => ({ ...st, Resource: st.Resource!.map((r) => walk.render('P', r)) })), cdkRefs),
    promotionRoleStatements: statements(cdkRole.filter((st) => !PROMOTION_STACK_UPDATE_SIDS.includes(st.Sid ?? '')).map((st) => ({ ...st, Resource: st.Resource!.map((r) => walk.render('P', r)) })), cdkRefs),
    promotionRoleActions: allowed(cdkRole).filter((a) => !cdkStackUpdate.includes(a)),
    promotionTrust: role.trust.map((st) => JSON.parse(walk.render('P', JSON.stringify(st)))),
    sharedServedModels: cdkShared,
    promotionRoleName: {
      named: walk.resources('AWS::IAM::Role').find((r) => r.logicalId === role.logicalId)!.properties.RoleName === cdkPromotion.roleName,
      exempted: walk.render('P', exempted(cfn('AWS::S3::BucketPolicy', t).find((p) => JSON.stringify(p.props).includes(SERVED_MODELS_POLICY_SIDS.onlyPromotion))!.props.PolicyDocument.Statement))
        .includes(`:role/${cdkPromotion.roleName}`),
    },
  };
  const r = pulumiPromotion.resources;
  const pRoleInputs = one(r, 'aws:iam/role:Role', 'pap-promotion-role').inputs;
  const pRole = walk.statements('x', JSON.parse(one(r, 'aws:iam/policy:Policy', 'pap-promotion-role-policy').inputs.policy));
  const pOwn = ['LogsAndTraces', 'PublishToTheEncryptedTopic'];
  const lr = pulumiPipeline.resources;
  const pulumiShared = sharedServedModels([
    ...ofType(lr, 'aws:s3/bucketPolicy:BucketPolicy').map((p) => walk.statements('x', JSON.parse(p.inputs.policy))),
    ...ofType(lr, 'aws:kms/key:Key').map((k) => walk.statements('x', JSON.parse(k.inputs.policy))),
    ...ofType(lr, 'aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy').map((g) => walk.statements('x', JSON.parse(g.inputs.resourcePolicy))),
  ]);
  const pDefinition = JSON.parse(pulumiRefs(one(r, 'aws:sfn/stateMachine:StateMachine', 'pap-promotion-state-machine').inputs.definition));
  const fromPulumi = {
    sharedServedModels: pulumiShared,
    promotionDefinition: promotionUntilServedState(pDefinition),
    promotionAfterServedState: promotionAfterServedState(pDefinition),
    promotionRolloutStatements: statements(pRole.filter((st) => PROMOTION_ROLLOUT_SIDS.includes(st.Sid ?? '')), pulumiRefs),
    promotionRoleStatements: statements(pRole.filter((st) => !pOwn.includes(st.Sid ?? '') && !PROMOTION_STACK_UPDATE_SIDS.includes(st.Sid ?? '')), pulumiRefs),
    promotionRoleActions: allowed(pRole.filter((st) => !PROMOTION_STACK_UPDATE_SIDS.includes(st.Sid ?? ''))),
    promotionTrust: JSON.parse(JSON.stringify(walk.statements('x', JSON.parse(pRoleInputs.assumeRolePolicy)))),
    promotionRoleName: {
      named: pRoleInputs.name === pulumiPromotion.roleName,
      exempted: exempted(JSON.parse(one(r, 'aws:s3/bucketPolicy:BucketPolicy', 'pap-store-models-policy').inputs.policy).Statement).includes(`:role/${pulumiPromotion.roleName}`),
    },
  };
  return { cdk: fromCdk, pulumi: fromPulumi };
};

/** Every `Ref` and `Fn::GetAtt` of a template piece, each standing for itself (`<name>`, in an ARN for `Arn`), to evaluate it with cfn-eval. */
function standIns(value: Json, refs: Record<string, string> = {}, attributes: Record<string, string> = {}) {
  if (Array.isArray(value)) {value.forEach((v) => standIns(v, refs, attributes));} else if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') refs[value.Ref] = `<${value.Ref}>`;
    const att = value['Fn::GetAtt'];
    // (An ARN stands in as one: URIs are built by splitting it.)
    if (Array.isArray(att)) attributes[att.join('.')] = att[1] === 'Arn' ? `arn:aws:svc:us-east-1:123456789012:type/<${att[0]}>` : `<${att.join('.')}>`;
    Object.values(value).forEach((v) => standIns(v, refs, attributes));
  }
  return { refs, attributes };
}
/** The model archive URI with the bucket taken out (each engine names its buckets its own way). */
const servedKey = (uri: string | undefined) => uri?.replace(/^s3:\/\/[^/]+\//, 's3://<models>/');

extractors.MlopsPlatform = () => {
  const t = cdkServedStates.template;
  // What CloudFormation resolves the serving stack's SSM-typed parameters to at the next stack operation: what promotion wrote.
  const params = Object.entries<Json>(t.Parameters ?? {}).filter(([, p]) => p.Type === 'AWS::SSM::Parameter::Value<String>');
  const resolved = Object.fromEntries(params.map(([id, p]) => [id, PROMOTED[p.Default.split('/').pop() as 'fraud' | 'churn']]));
  const cdkEval = (value: Json) => {
    const { refs, attributes } = standIns(value);
    return evaluate(value, { ...refs, ...resolved }, { 'AWS::Region': 'us-east-1', 'AWS::AccountId': '123456789012' }, attributes);
  };
  const cdkTemplates = cfn('AWS::EC2::LaunchTemplate', t);
  const cdkBoot = (variant: string) => {
    const template = cdkTemplates.find((lt) => lt.id.startsWith(`FleetVariant${variant[0].toUpperCase()}${variant.slice(1)}`))!;
    return servedKey(runBootScript(cdkEval(template.props.LaunchTemplateData.UserData['Fn::Base64']), undefined).modelUri);
  };
  const [cdkListener] = cfn('AWS::ElasticLoadBalancingV2::Listener', t);
  const cdkGroups = Object.fromEntries(cfn('AWS::ElasticLoadBalancingV2::TargetGroup', t).map((g) => [g.id, g.id.replace(/^FleetVariant(\w+?)TargetGroup.*$/, '$1').toLowerCase()]));
  const [cdkModel] = cfn('AWS::SageMaker::Model', t);
  const r = pulumiServedStates.resources;
  const pBoot = (variant: string) => servedKey(runBootScript(Buffer.from(one(r, 'aws:ec2/launchTemplate:LaunchTemplate', `pss-fleet-${variant}-lt`).inputs.userData, 'base64')
    .toString('utf8'), PROMOTED.fraud).modelUri);
  const pListener = one(r, 'aws:lb/listener:Listener').inputs;
  return {
    cdk: {
      servedVersions: {
        fleet: { current: cdkBoot('current'), candidate: cdkBoot('candidate') },
        endpoint: servedKey(cdkEval(cdkModel.props.PrimaryContainer.ModelDataUrl)),
      },
      servedWeights: Object.fromEntries(cdkEval(cdkListener.props.DefaultActions[0].ForwardConfig.TargetGroups)
        .map((g: Json) => [cdkGroups[g.TargetGroupArn.replace(/^<|>$/g, '')], Number(g.Weight)])),
    },
    pulumi: {
      servedVersions: {
        fleet: { current: pBoot('current'), candidate: pBoot('candidate') },
        endpoint: servedKey(one(r, 'aws:sagemaker/model:Model').inputs.primaryContainer.modelDataUrl),
      },
      servedWeights: Object.fromEntries(pListener.defaultActions[0].forward.targetGroups
        .map((g: Json) => [g.arn.replace(/.*\/pss-fleet-(\w+)-tg$/, '$1'), g.weight])),
    },
  };
};

const pick = (settings: Record<string, Json>, keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, settings[k]]));
const rowName = (row: EngineParityRow) => `${row.construct}: ${row.setting}`;

describe('parity of the CDK constructs and the Pulumi components (dev), row by row of ENGINE_PARITY', () => {
  const rows = ENGINE_PARITY.filter((row) => row.status === 'both');
  test.each(rows.map((row) => [rowName(row), row] as const))('%s', (_name, row) => {
    const extract = extractors[row.construct];
    expect(extract).toBeDefined();
    const { cdk: fromCdk, pulumi: fromPulumi } = extract();
    for (const key of row.checks) {
      expect(Object.keys(fromCdk)).toContain(key);
      expect(fromCdk[key]).toBeDefined();
      // A setting found nowhere on either side would compare equal and prove nothing.
      expect([key, JSON.stringify(fromCdk[key])]).not.toEqual([key, '[]']);
    }
    expect(pick(fromPulumi, row.checks)).toEqual(pick(fromCdk, row.checks));
  });
});

describe('the parity table', () => {
  test('every setting the parity test extracts is a row of the table, and every construct extracted has rows', () => {
    for (const [construct, extract] of Object.entries(extractors)) {
      const { cdk: fromCdk, pulumi: fromPulumi } = extract();
      expect(Object.keys(fromPulumi).sort()).toEqual(Object.keys(fromCdk).sort());
      const named = ENGINE_PARITY.filter((row) => row.construct === construct).flatMap((row) => row.checks);
      expect([construct, ...Object.keys(fromCdk).sort()]).toEqual([construct, ...[...new Set(named)].sort()]);
    }
  });

  test('every row is compared by the test or says what is missing; no component of the Pulumi side has only cdk-only rows', () => {
    for (const row of ENGINE_PARITY) {
      if (row.status === 'both') {
        expect([rowName(row), Object.keys(extractors)]).toEqual([rowName(row), expect.arrayContaining([row.construct])]);
        expect(row.checks.length).toBeGreaterThan(0);
      } else {
        expect(row.checks).toEqual([]);
        expect(row.note).toMatch(/^not yet: /);
      }
    }
    const pulumiComponents = Object.keys(pl).filter((name) => typeof (pl as Json)[name]?.TYPE === 'string');
    // GpuBrake's rows are CostGuard's (the brake is compared as the CostGuard that starts it builds it), FleetRollout's are
    // InferenceFleet's (the rollout of a fleet).
    for (const component of pulumiComponents.filter((c) => !['MlopsPlatform', 'KubernetesWorkloads', 'GpuBrake', 'FleetRollout'].includes(c))) {
      expect([component, ENGINE_PARITY.some((row) => row.construct === component && row.status === 'both')]).toEqual([component, true]);
    }
  });

  test('README shows the table as core renders it', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(renderEngineParityTable());
  });
});
