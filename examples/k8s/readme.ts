// The Kubernetes code the README shows: each region between "README:<name>" markers is quoted verbatim in README.md
// (test/k8s/readme.test.ts checks it), and this file is compiled and synthesized by the tests.
import { App, Chart, Duration } from 'cdk8s';
import { EnvironmentProfile, Rollout } from 'mlops-constructs';
import {
  Checkpoint, GatewayTraffic, GpuNodeSelection, GpuTrainingJob, InferenceService, MlopsChart, ModelSource, MonitoringRules,
  prometheusAdapterRules, ProgressiveDelivery, ScaleToZero, ScalingMetric, TeamNamespace, WorkloadIdentity,
} from 'mlops-constructs/k8s';

/** The README's team chart. */
export function teamChart(app: App): Chart {
  // README:team
  const chart = new MlopsChart(app, 'fraud', { profile: EnvironmentProfile.prod(), project: 'payments', costCenter: 'risk-ml' });
  const team = new TeamNamespace(chart, 'Team', {
    team: 'fraud',
    quota: { gpus: 16, cpu: 128, memoryGiB: 512 },
    access: { dataScientists: ['fraud-ds'], mlEngineers: ['fraud-mle'] },
    identity: WorkloadIdentity.podIdentity('arn:aws:iam::123456789012:role/fraud-workloads'),
    queue: { clusterQueue: 'gpu-training' }, // Kueue admits a distributed job whole, or not at all
    gatewayTraffic: [GatewayTraffic.envoyGateway()], // where the Gateway's proxies run
  });
  new GpuTrainingJob(chart, 'Train', {
    namespace: team,
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-trainer:2.3.0',
    command: ['torchrun', 'train.py'], // PET_* variables configure torchrun's elastic rendezvous
    gpusPerWorker: 4,
    distributed: { workers: 2 },
    retriableExitCodes: [1], // on spot, losing worker 0 (the rendezvous store) restarts from the checkpoint
    checkpoint: Checkpoint.objectStore('s3://payments-artifacts/fraud/checkpoints'),
  });
  new InferenceService(chart, 'Scoring', {
    namespace: team,
    serviceName: 'fraud-scoring',
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:2.2.0',
    candidateImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:2.3.0',
    rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    maxReplicas: 3, // the quota holds 2 variants x (3 + 1 surge) GPUs + 8 for training
    modelSource: ModelSource.s3('s3://payments-artifacts/fraud/models/2.2.0/'),
    candidateModelSource: ModelSource.s3('s3://payments-artifacts/fraud/models/2.3.0/'),
  });
  new MonitoringRules(chart, 'Monitoring', { namespace: team })
    .addModelQualityAlert({ model: 'fraud-scoring', metric: 'auc', threshold: 0.9 });
  // README:end
  return chart;
}

/** The README's Argo Rollouts and KEDA example. */
export function progressiveChart(app: App): Chart {
  // README:progressive
  const chart = new MlopsChart(app, 'search', { profile: EnvironmentProfile.dev(), project: 'payments' });
  new InferenceService(chart, 'Ranker', {
    namespace: new TeamNamespace(chart, 'Team', { team: 'search', quota: { gpus: 8 } }),
    serviceName: 'ranker',
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/ranker:0.9.1', // a new image starts a rollout
    rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    progressiveDelivery: ProgressiveDelivery.argoRollouts({
      qualityGate: { model: 'ranker', metric: 'ndcg', threshold: 0.4 },
    }),
    scaleOn: ScalingMetric.requestsPerSecond(20),
    scaleToZero: ScaleToZero.offHours(), // the dev profile's working hours
    gpuNodes: GpuNodeSelection.karpenterNodePool('gpu'),
    maxReplicas: 4,
  });
  // README:end
  return chart;
}

/** The prometheus-adapter rule `ScalingMetric.requestsPerSecond()` needs, as Helm values. */
export function adapterValues(): unknown {
  // README:adapter
  const values = { rules: { custom: prometheusAdapterRules() } }; // prometheus-adapter Helm values
  // README:end
  return values;
}
