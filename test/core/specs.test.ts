import {
  AcceleratorKind, EnvironmentProfile, INFERENCE_AMI_PARAMETERS, INFERENCE_AMI_SSM_PARAMETERS, inferenceContainerDeviceFlags,
  modelRegistryCostEstimate, nvidiaTrainingInstance, resolveCostGuardSpec, resolveInferenceFleetSpec, resolveModelRegistrySpec,
  resolveTrainingClusterSpec,
} from 'mlops-constructs';

// The engine-neutral specs both the CDK constructs and the Pulumi components render.
const scope = { scope: 'Spec' };

describe('core specs', () => {
  test('training: maxGpus becomes the vCPU cap of the widest type; spot falls back to on-demand only where multi-AZ', () => {
    const dev = resolveTrainingClusterSpec(scope, { instanceTypes: ['g5.xlarge', 'g5.12xlarge'], maxGpus: 8 }, EnvironmentProfile.dev());
    // g5.xlarge has 4 vCPUs per GPU, g5.12xlarge 12: ceil(8 / 1) * 4 = 32 vs ceil(8 / 4) * 48 = 96 -> the widest (12 per GPU) wins.
    expect(dev.maxvCpus).toBe(96);
    expect({ spot: dev.spot, onDemand: dev.onDemand, minvCpus: dev.minvCpus }).toEqual({ spot: true, onDemand: false, minvCpus: 0 });
    expect(resolveTrainingClusterSpec(scope, {}, EnvironmentProfile.prod()).onDemand).toBe(true);
    expect(resolveTrainingClusterSpec(scope, { spot: false }, EnvironmentProfile.dev())).toMatchObject({ spot: false, onDemand: true });
    expect(() => resolveTrainingClusterSpec(scope, {}, EnvironmentProfile.dev({ minCapacity: { trainingVcpus: 1000 } })))
      .toThrow(/'profile.minCapacity.trainingVcpus' must not exceed the cluster's vCPU cap \(64/);
  });

  test('inference: dev scales to zero off hours with one instance in working hours, priced for working hours only', () => {
    const spec = resolveInferenceFleetSpec(scope, { modelName: 'm', modelVersion: 'v1' }, EnvironmentProfile.dev());
    expect(spec).toMatchObject({ minCapacity: 0, maxCapacity: 2, workingMinCapacity: 1, offHours: { scaleDown: { hour: '20' }, scaleUp: { hour: '8' } } });
    const always = resolveInferenceFleetSpec(scope, { modelName: 'm', modelVersion: 'v1', scaleToZeroOffHours: false }, EnvironmentProfile.dev());
    expect(always.offHours).toBeUndefined();
    expect(always.costEstimate.maxUsd).toBeGreaterThan(spec.costEstimate.maxUsd);
  });

  test('training: defaults, log retention only from the CloudWatch list, NVIDIA types only', () => {
    const spec = resolveTrainingClusterSpec(scope, {}, EnvironmentProfile.dev());
    expect(spec.instances.map((i) => i.instanceType)).toEqual(['g5.xlarge', 'g5.2xlarge', 'g6.xlarge', 'g6.2xlarge']);
    expect(spec).toMatchObject({
      maxGpus: 8, maxvCpus: 64, rootVolumeSizeGiB: 200, priority: 10, logRetentionDays: 14, efa: false, placementGroup: false,
    });
    expect(() => resolveTrainingClusterSpec(scope, { logRetentionDays: 9999 }, EnvironmentProfile.dev()))
      .toThrow(/^Spec: 'logRetentionDays' must be one of 1, 3, .*3653 \(received 9999\)\. Fix: use a value CloudWatch Logs accepts/);
    expect(nvidiaTrainingInstance(scope, 'g6.xlarge', 'instanceType').gpus).toBe(1);
    expect(() => nvidiaTrainingInstance(scope, 'trn1.2xlarge', 'instanceType')).toThrow(/^Spec: 'instanceType' has .* accelerators, not NVIDIA GPUs/);
  });

  test('inference: AMIs and container devices by accelerator; the CDK name of the AMI table is the same table', () => {
    expect(INFERENCE_AMI_PARAMETERS).toBe(INFERENCE_AMI_SSM_PARAMETERS);
    expect(INFERENCE_AMI_SSM_PARAMETERS[AcceleratorKind.INFERENTIA]).toBe('/aws/service/neuron/dlami/base/amazon-linux-2023/latest/image_id');
    expect(inferenceContainerDeviceFlags(AcceleratorKind.NVIDIA_GPU)).toBe('--gpus all');
    expect(inferenceContainerDeviceFlags(AcceleratorKind.TRAINIUM)).toMatch(/\/dev\/neuron/);
    expect(inferenceContainerDeviceFlags(AcceleratorKind.NONE)).toBe('');
    // Two variants (a canary) double the instances, not the load balancer.
    const one = resolveInferenceFleetSpec(scope, { modelName: 'm', modelVersion: 'v1' }, EnvironmentProfile.prod()).costEstimate;
    const two = resolveInferenceFleetSpec(scope, { modelName: 'm', modelVersion: 'v1', variantCount: 2 }, EnvironmentProfile.prod()).costEstimate;
    expect(two.maxUsd).toBeGreaterThan(one.maxUsd);
    expect(two.maxUsd).toBeLessThan(2 * one.maxUsd);
  });

  test('registry: cost of the Aurora capacity, doubled by the reader where multi-AZ', () => {
    expect(modelRegistryCostEstimate(resolveModelRegistrySpec(scope, {}, EnvironmentProfile.dev()))).toEqual({ minUsd: 0, maxUsd: 350.4 });
    expect(modelRegistryCostEstimate(resolveModelRegistrySpec(scope, {}, EnvironmentProfile.prod()))).toEqual({ minUsd: 175.2, maxUsd: 2803.2 });
  });

  test('cost guard: approval is automatic only where data is destroyable; anomaly threshold 10% of the limit, at least 10', () => {
    expect(resolveCostGuardSpec(scope, {}, EnvironmentProfile.dev())).toMatchObject({ approvalModel: 'AUTOMATIC', anomalyImpactUsd: 200 });
    expect(resolveCostGuardSpec(scope, { monthlyLimitUsd: 50 }, EnvironmentProfile.prod())).toMatchObject({ approvalModel: 'MANUAL', anomalyImpactUsd: 10 });
    expect(resolveCostGuardSpec(scope, { anomalyDetection: false }, EnvironmentProfile.dev()).anomalyThresholdExpression).toBeUndefined();
  });
});
