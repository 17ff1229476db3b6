// The namespace's quota is checked against the sum of every workload in it, at its largest scale (issue #19
// problem 3, #14 problem 7): jobs at all workers, services at maxReplicas plus the rolling update's surge.
import { Duration } from 'cdk8s';
import { newChart, synth, validatesEverySynthesizedManifest } from './support/k8s';
import { Rollout, ValidationError } from 'mlops-constructs';
import { GpuTrainingJob, InferenceService, ProgressiveDelivery, TeamNamespace } from 'mlops-constructs/k8s';

const TRAINER = 'registry.example.com/trainer:1.0.0';
const IMAGE = 'registry.example.com/model:1.0.0';
const NEXT = 'registry.example.com/model:1.1.0';

function team(quota: ConstructorParameters<typeof TeamNamespace>[2]['quota']) {
  const chart = newChart();
  return { chart, ns: new TeamNamespace(chart, 'Team', { team: 'fraud', quota }) };
}

describe('namespace quota totals', () => {
  test('a job of 8 GPUs plus a service that can reach 2 do not fit an 8-GPU quota, and the error names both and the quota', () => {
    const { chart, ns } = team({ gpus: 8, cpu: 1000, memoryGiB: 10000 });
    new GpuTrainingJob(chart, 'Train', { image: TRAINER, namespace: ns, gpusPerWorker: 4, distributed: { workers: 2 } });
    let error: unknown;
    try {
      new InferenceService(chart, 'Scoring', { image: IMAGE, namespace: ns, minReplicas: 1, maxReplicas: 1 });
    } catch (e) {
      error = e;
    }
    expect(ValidationError.isValidationError(error)).toBe(true);
    const v = error as ValidationError;
    expect(v.scope).toBe('test/Scoring');
    expect(v.prop).toBe('maxReplicas');
    expect(v.message).toBe("test/Scoring: 'maxReplicas' brings the GPUs namespace 'fraud' can need at once to 10, more than its quota of 8: "
      + 'test/Train (2 worker(s) x 4 GPU(s), 4 CPU, 16Gi: 8 GPUs), test/Scoring (1 variant(s) x (1 + 1 surge) replicas x 1 GPU(s), 2 CPU, 8Gi: 2 GPUs) '
      + "(received 2). Fix: raise 'quota.gpus' of TeamNamespace 'test/Team' to at least 10, or lower the workloads' size or maximum replicas.");
  });

  test('the example of the issue: HPAs reaching 2 x 10 GPUs plus 8 for training against 16 fails; within the quota it passes', () => {
    const over = team({ gpus: 16, cpu: 1000, memoryGiB: 10000 });
    new GpuTrainingJob(over.chart, 'Train', { image: TRAINER, namespace: over.ns, gpusPerWorker: 4, distributed: { workers: 2 } });
    expect(() => new InferenceService(over.chart, 'Scoring', {
      image: IMAGE, candidateImage: NEXT, namespace: over.ns, rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    })).toThrow(/can need at once to 30, more than its quota of 16/);

    const fits = team({ gpus: 16, cpu: 1000, memoryGiB: 10000 });
    new GpuTrainingJob(fits.chart, 'Train', { image: TRAINER, namespace: fits.ns, gpusPerWorker: 4, distributed: { workers: 2 } });
    new InferenceService(fits.chart, 'Scoring', {
      image: IMAGE, candidateImage: NEXT, namespace: fits.ns, maxReplicas: 3, rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    });
    expect(fits.ns.capacityClaims.map((c) => [c.requester, c.gpus])).toEqual([['test/Train', 8], ['test/Scoring', 8]]);
    synth(fits.chart);
  });

  test('CPU and memory are summed the same way', () => {
    const cpu = team({ gpus: 100, cpu: 10, memoryGiB: 10000 });
    new GpuTrainingJob(cpu.chart, 'A', { image: TRAINER, namespace: cpu.ns, cpu: '6' });
    expect(() => new GpuTrainingJob(cpu.chart, 'B', { image: TRAINER, namespace: cpu.ns, cpu: '4500m' }))
      .toThrow(/'gpusPerWorker' brings the CPU cores namespace 'fraud' can need at once to 10.5, more than its quota of 10: test\/A .*: 6 CPU cores\), test\/B .*: 4.5 CPU cores\).*raise 'quota.cpu'.*to at least 11/);
    const memory = team({ gpus: 100, cpu: 1000, memoryGiB: 20 });
    new GpuTrainingJob(memory.chart, 'A', { image: TRAINER, namespace: memory.ns, memory: '16Gi' });
    expect(() => new GpuTrainingJob(memory.chart, 'B', { image: TRAINER, namespace: memory.ns, memory: '4608Mi' }))
      .toThrow(/GiB of memory namespace 'fraud' can need at once to 20.5, more than its quota of 20.*raise 'quota.memoryGiB'/);
  });

  test('Argo Rollouts counts the stable and the canary version both at maxReplicas', () => {
    const { chart, ns } = team({ gpus: 7, cpu: 1000, memoryGiB: 10000 });
    expect(() => new InferenceService(chart, 'Scoring', {
      image: IMAGE,
      namespace: ns,
      maxReplicas: 4,
      rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
      progressiveDelivery: ProgressiveDelivery.argoRollouts(),
    })).toThrow(/can need at once to 8, more than its quota of 7: test\/Scoring \(stable \+ canary x 4 replicas x 1 GPU\(s\)/);
  });

  test('namespaces are counted separately; a namespace given by the name of a TeamNamespace counts as that namespace', () => {
    const { chart, ns } = team({ gpus: 8 });
    const other = new TeamNamespace(chart, 'Other', { team: 'other', quota: { gpus: 8 } });
    new GpuTrainingJob(chart, 'A', { image: TRAINER, namespace: ns, gpusPerWorker: 8 });
    new GpuTrainingJob(chart, 'B', { image: TRAINER, namespace: other, gpusPerWorker: 8 });
    new GpuTrainingJob(chart, 'C', { image: TRAINER, namespace: 'research', gpusPerWorker: 8 });
    expect([ns.capacityClaims.length, other.capacityClaims.length]).toEqual([1, 1]);
    synth(chart);
    expect(() => new GpuTrainingJob(chart, 'D', { image: TRAINER, namespace: 'fraud', gpusPerWorker: 1 })).toThrow(/test\/D: .* more than its quota of 8: test\/A .*, test\/D/);
  });
});

validatesEverySynthesizedManifest();
