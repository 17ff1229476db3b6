import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { errorOf, installMocks, mockArn, one, ofType, RecordedResource, resourcesOf } from './support';
import { newApp } from '../support/gate';
import * as cdk from 'mlops-constructs';
import { EnvironmentProfile, MlopsTags, resolveModelEndpointSpec, Rollout, ValidationError } from 'mlops-constructs';
import { ArtifactStore, ImageRepository, ModelEndpoint } from 'mlops-constructs/pulumi';

/*
 * Scale to zero outside working hours on the Pulumi ModelEndpoint (#18, the CDK side is #17): in dev an endpoint with
 * one variant hosts its model as a SageMaker inference component (@pulumi/aws-native) on a variant whose instances
 * SageMaker scales with the copies, from 0 (managed instance scaling), and the component's copies are scheduled to 0
 * outside working hours and back to the working-hours range at their start. Claims on the resources Pulumi was asked to
 * create; the same decisions as the CDK endpoint (core's resolveModelEndpointSpec).
 */

installMocks();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const dev = EnvironmentProfile.dev();
const tags = (profile: EnvironmentProfile) => MlopsTags.of({ project: 'p', environment: profile.name });
const net = { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'] };
const COMPONENT = 'aws-native:sagemaker:InferenceComponent';
const NATIVE_CONFIG = 'aws-native:sagemaker:EndpointConfig';

function endpointArgs(name: string, profile: EnvironmentProfile) {
  return {
    ...net,
    profile,
    tags: tags(profile),
    artifactStore: new ArtifactStore(`${name}-store`, { profile, tags: tags(profile) }),
    image: ImageRepository.fromRepositoryName(`${name}-image`, 'ml/serving'),
    imageTag: 'serve-1',
    modelName: 'fraud',
    modelVersion: 'v3',
    endpointName: `${name}-fraud`,
  };
}

let endpoint: ModelEndpoint;
let resources: RecordedResource[];
let staging: RecordedResource[];

beforeAll(async () => {
  // A newcomer's dev endpoint: no scaling props at all.
  endpoint = new ModelEndpoint('s2z', endpointArgs('s2z', dev));
  new ModelEndpoint('s2s', endpointArgs('s2s', EnvironmentProfile.staging()));
  [resources, staging] = [await resourcesOf('s2z'), await resourcesOf('s2s')];
});

const scheduled = (list: RecordedResource[]) => ofType(list, 'aws:appautoscaling/scheduledAction:ScheduledAction').map((a) => a.inputs);

describe('Pulumi ModelEndpoint in dev (the default): scale to zero outside working hours through an inference component', () => {
  test('the model is an inference component on the endpoint\'s one variant: one copy per instance, the rolling update carries the rollback alarms', () => {
    expect(endpoint.hosting).toBe('inference-component');
    const component = one(resources, COMPONENT).inputs;
    const spec = endpoint.spec.inferenceComponent!;
    expect(component).toMatchObject({
      inferenceComponentName: 's2z-fraud',
      endpointName: 's2z-fraud',
      variantName: 'current',
      specification: {
        modelName: 's2z-current-model',
        // g5.xlarge: its one GPU per copy, half its 16 GiB.
        computeResourceRequirements: { numberOfAcceleratorDevicesRequired: 1, minMemoryRequiredInMb: 8192 },
      },
      runtimeConfig: { copyCount: endpoint.spec.minCapacity },
      deploymentConfig: { rollingUpdatePolicy: spec.rollingUpdate },
    });
    const alarms = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').map((a) => a.inputs.name ?? a.name).sort();
    expect(alarms.length).toBeGreaterThanOrEqual(2);
    expect(component.deploymentConfig.autoRollbackConfiguration.alarms.map((a: Json) => a.alarmName).sort()).toEqual(alarms);
    expect(component.tags).toContainEqual({ key: 'mlops:model', value: 'fraud' });
    // The endpoint has no blue/green guardrails of its own (SageMaker refuses them with inference components).
    expect(one(resources, 'aws:sagemaker/endpoint:Endpoint').inputs.deploymentConfig).toBeUndefined();
  });

  test('the variant\'s instances scale with the copies from 0 (managed instance scaling), isolated in the VPC with the execution role', () => {
    expect(ofType(resources, 'aws:sagemaker/endpointConfiguration:EndpointConfiguration')).toEqual([]);
    const config = one(resources, NATIVE_CONFIG).inputs;
    expect(config.productionVariants).toEqual([{
      variantName: 'current',
      initialInstanceCount: endpoint.spec.minCapacity,
      instanceType: 'ml.g5.xlarge',
      managedInstanceScaling: { status: 'ENABLED', minInstanceCount: 0, maxInstanceCount: endpoint.spec.maxCapacity },
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
    }]);
    expect(config).toMatchObject({
      enableNetworkIsolation: true,
      executionRoleArn: mockArn('aws:iam/role:Role', 's2z-execution-role'),
      vpcConfig: { subnets: ['subnet-a', 'subnet-b'] },
      dataCaptureConfig: { enableCapture: true, kmsKeyId: mockArn('aws:kms/key:Key', 's2z-store-key') },
    });
    expect(one(resources, 'aws:sagemaker/endpoint:Endpoint').inputs.endpointConfigName).toBe('s2z-config');
  });

  test('off hours the copies (and with them the instances) go to 0; at the start of working hours they return to the working range', () => {
    const target = one(resources, 'aws:appautoscaling/target:Target').inputs;
    expect(target).toMatchObject({
      serviceNamespace: 'sagemaker',
      resourceId: 'inference-component/s2z-fraud',
      scalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
      minCapacity: endpoint.spec.minCapacity,
      maxCapacity: endpoint.spec.maxCapacity,
    });
    expect(endpoint.spec.minCapacity).toBeGreaterThanOrEqual(1);
    const actions = scheduled(resources);
    const { scaleDown, scaleUp, timeZone } = endpoint.spec.offHours!;
    const shapes = actions.map((a) => ({ resourceId: a.resourceId, schedule: a.schedule, timezone: a.timezone, capacity: a.scalableTargetAction }));
    expect(shapes.sort((a, b) => a.capacity.minCapacity - b.capacity.minCapacity)).toEqual([
      {
        resourceId: 'inference-component/s2z-fraud',
        schedule: `cron(${scaleDown.minute} ${scaleDown.hour} ? * ${scaleDown.weekDay} *)`,
        timezone: timeZone,
        capacity: { minCapacity: 0, maxCapacity: 0 },
      },
      {
        resourceId: 'inference-component/s2z-fraud',
        schedule: `cron(${scaleUp.minute} ${scaleUp.hour} ? * ${scaleUp.weekDay} *)`,
        timezone: timeZone,
        capacity: { minCapacity: endpoint.spec.minCapacity, maxCapacity: endpoint.spec.maxCapacity },
      },
    ]);
    // Dev's working hours: 08:00-20:00 UTC on weekdays.
    expect([scaleDown.hour, scaleUp.hour, timeZone]).toEqual(['20', '8', 'UTC']);
    const tracking = one(resources, 'aws:appautoscaling/policy:Policy').inputs.targetTrackingScalingPolicyConfiguration;
    expect(tracking.predefinedMetricSpecification.predefinedMetricType).toBe('SageMakerInferenceComponentInvocationsPerCopy');
    // The off-hours cost is the instances' in working hours only.
    expect(endpoint.spec.offHoursCapacity).toBe(0);
  });

  test('its metrics (and so its alarms) are the inference component\'s', () => {
    expect(endpoint.metricLatency().dimensions).toEqual({ InferenceComponentName: 's2z-fraud' });
    expect(endpoint.metricGpuUtilization()).toMatchObject({ namespace: '/aws/sagemaker/InferenceComponents', dimensions: { InferenceComponentName: 's2z-fraud' } });
    const alarm = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').find((a) => a.name.endsWith('latency-p99'))!;
    expect(JSON.stringify(alarm.inputs)).toContain('"InferenceComponentName":"s2z-fraud"');
  });

  test('the dev default is the same on both engines (core\'s decision); staging keeps instances on variants, never scheduled', () => {
    const stack = new cdk.MlopsStack(newApp(), 'Dev', { profile: dev, project: 'p' });
    const vpc = new ec2.Vpc(stack, 'Vpc');
    const cdkEndpoint = new cdk.ModelEndpoint(stack, 'Endpoint', {
      vpc, artifactStore: new cdk.ArtifactStore(stack, 'Store'), image: new cdk.ImageRepository(stack, 'Images'), imageTag: 'serve-1', modelName: 'fraud', modelVersion: 'v3',
    });
    expect([cdkEndpoint.hosting, endpoint.hosting]).toEqual(['inference-component', 'inference-component']);
    expect(ofType(staging, COMPONENT)).toEqual([]);
    expect(ofType(staging, NATIVE_CONFIG)).toEqual([]);
    expect(one(staging, 'aws:appautoscaling/target:Target').inputs.resourceId).toBe('endpoint/s2s-fraud/variant/current');
    expect(scheduled(staging)).toEqual([]);
  });
});

describe('Pulumi ModelEndpoint scale to zero, choices and bad input', () => {
  test('scaleToZeroOffHours: false keeps one instance per variant off hours, without an inference component', async () => {
    new ModelEndpoint('s2v', { ...endpointArgs('s2v', dev), scaleToZeroOffHours: false });
    const list = await resourcesOf('s2v');
    expect(ofType(list, COMPONENT)).toEqual([]);
    expect(one(list, 'aws:sagemaker/endpointConfiguration:EndpointConfiguration').inputs.productionVariants[0].managedInstanceScaling).toBeUndefined();
    expect(scheduled(list).map((a) => a.scalableTargetAction)).toContainEqual({ minCapacity: 1, maxCapacity: 1 });
  });

  test('A/B and shadow endpoints in dev are not scaled to zero by default; asked to, they are refused, as in an always-on profile', () => {
    const ab = { ...endpointArgs('s2ab', dev), rollout: Rollout.abTest({ weights: { a: 50, b: 50 } }), variantVersions: { a: 'v3', b: 'v4' } };
    expect(resolveModelEndpointSpec({ scope: 's2ab', isUnresolved: () => false }, ab, 's2ab-fraud', dev).hosting).toBe('variant');
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['A/B', () => new ModelEndpoint('s2ab', { ...ab, scaleToZeroOffHours: true }), /needs an endpoint with one variant/],
      ['prod', () => new ModelEndpoint('s2p', { ...endpointArgs('s2p', EnvironmentProfile.prod()), scaleToZeroOffHours: true }), /needs working hours, but the prod profile is always on/],
      ['contradiction', () => new ModelEndpoint('s2c', { ...endpointArgs('s2c', dev), scaleToZeroOffHours: true, scaleDownOffHours: false }), /contradicts 'scaleDownOffHours: false'/],
    ];
    for (const [name, build, message] of cases) {
      const error = errorOf(build);
      expect([name, error instanceof ValidationError, error.prop]).toEqual([name, true, 'scaleToZeroOffHours']);
      expect(error.message).toMatch(message);
      expect(error.fix).toBeTruthy();
    }
  });

  test('without @pulumi/aws-native installed, a dev endpoint fails before creating anything, saying how to install it or do without', () => {
    // (Where the package is not installed, test/pulumi/support.ts stands in for it: a virtual module.)
    const installed = (() => {
      try {
        return require.resolve('@pulumi/aws-native/sagemaker') !== '';
      } catch {
        return false;
      }
    })();
    jest.doMock('@pulumi/aws-native/sagemaker', () => {
      throw Object.assign(new Error("Cannot find module '@pulumi/aws-native/sagemaker'"), { code: 'MODULE_NOT_FOUND' });
    }, installed ? undefined : { virtual: true });
    // The module (or its stand-in) was loaded by the tests above: forget it (the last test of the file), so the
    // endpoint's next require meets the missing package.
    jest.resetModules();
    try {
      // Never set: the message says it is the dev profile's default, and that setting it false overrides that.
      const byDefault = errorOf(() => new ModelEndpoint('s2n', endpointArgs('s2n', dev)));
      expect(byDefault).toBeInstanceOf(ValidationError);
      expect([byDefault.prop, byDefault.value]).toEqual(['scaleToZeroOffHours', undefined]);
      expect(byDefault.problem).toBe("is not set and defaults to true in the 'dev' profile (it has working hours): the endpoint hosts the model as a "
        + 'SageMaker inference component, which needs the @pulumi/aws-native package (the AWS provider has none)');
      expect(byDefault.fix).toBe("run 'npm install @pulumi/aws-native' (and set 'aws-native:region'), or set 'scaleToZeroOffHours: false' "
        + "to override the 'dev' profile's default (one instance outside working hours).");
      // Set by the user: the message says so, and names no profile.
      const set = errorOf(() => new ModelEndpoint('s2s', { ...endpointArgs('s2s', dev), scaleToZeroOffHours: true }));
      expect([set.prop, set.value]).toEqual(['scaleToZeroOffHours', true]);
      expect(set.problem).toBe('is true: the endpoint hosts the model as a SageMaker inference component, which needs the @pulumi/aws-native package '
        + '(the AWS provider has none)');
      expect(set.fix).toBe("run 'npm install @pulumi/aws-native' (and set 'aws-native:region'), or set 'scaleToZeroOffHours: false' "
        + '(one instance outside working hours).');
    } finally {
      jest.dontMock('@pulumi/aws-native/sagemaker');
    }
  });
});
