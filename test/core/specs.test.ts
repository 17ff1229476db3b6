import {
  EnvironmentProfile, modelRegistryCostEstimate, resolveCostGuardSpec, resolveInferenceFleetSpec, resolveModelRegistrySpec,
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
