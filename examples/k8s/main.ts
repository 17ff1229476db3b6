import * as path from 'path';
import { App, Duration, YamlOutputType } from 'cdk8s';
import { EnvironmentProfile, GpuInstance, Rollout } from 'mlops-constructs';
import {
  Checkpoint, GpuTrainingJob, InferenceService, MlopsChart, ModelSource, MonitoringRules, ScalingMetric, TeamNamespace, WorkloadIdentity,
} from 'mlops-constructs/k8s';

export interface K8sExampleOptions {
  /**
   * Folder the manifests are written to.
   * @default - examples/k8s/dist
   */
  readonly outdir?: string;
  /**
   * Environment the team workloads run in.
   * @default EnvironmentProfile.prod()
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Versions of the images, as a release would bump them.
   * @default - the versions below
   */
  readonly versions?: Partial<ImageVersions>;
}

/** Image versions of the example's workloads. */
export interface ImageVersions {
  readonly fraudTrainer: string;
  readonly fraudScorer: string;
  readonly fraudScorerCandidate: string;
  readonly rankerTrainer: string;
}

/** The image versions of the example, so a test can release a new one and compare the manifests. */
export const VERSIONS: ImageVersions = Object.freeze({ fraudTrainer: '2.3.0', fraudScorer: '2.2.0', fraudScorerCandidate: '2.3.0', rankerTrainer: '0.9.1' });

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const PROMETHEUS = { release: 'kube-prometheus-stack' };

/**
 * Two teams sharing one GPU cluster: each gets a TeamNamespace; the fraud team trains a model on two nodes
 * (admitted whole by Kueue) and serves it with a canary, the recommendations team trains on one node. Both are
 * monitored with the environment's alarm thresholds. One chart (one manifest file) per team.
 */
export function buildK8sApp(options: K8sExampleOptions = {}): App {
  const profile = options.profile ?? EnvironmentProfile.prod();
  const v = { ...VERSIONS, ...options.versions };
  const app = new App({
    outdir: options.outdir ?? path.join(__dirname, 'dist'),
    outputFileExtension: '.yaml',
    yamlOutputType: YamlOutputType.FILE_PER_CHART,
  });

  const fraud = new MlopsChart(app, 'fraud', { profile, project: 'mlops-reference', costCenter: 'risk-ml' });
  const fraudNamespace = new TeamNamespace(fraud, 'Namespace', {
    team: 'fraud',
    quota: { gpus: 16, cpu: 128, memoryGiB: 512 },
    access: {
      dataScientists: ['fraud-data-scientists'],
      mlEngineers: ['fraud-ml-engineers'],
      platformOperators: ['ml-platform-operators'],
      auditors: ['security-auditors'],
    },
    identity: WorkloadIdentity.irsa('arn:aws:iam::123456789012:role/fraud-workloads'),
    artifactStoreUri: 's3://mlops-reference-artifacts/fraud',
    queue: { clusterQueue: 'gpu-training' },
  });
  new GpuTrainingJob(fraud, 'TrainFraudModel', {
    namespace: fraudNamespace,
    jobName: 'fraud-train',
    image: `${REGISTRY}/fraud-trainer:${v.fraudTrainer}`,
    // torchrun reads its options from the PET_* variables the job sets (elastic c10d rendezvous on worker 0).
    command: ['torchrun', 'train.py'],
    instance: GpuInstance.of('g5.12xlarge'),
    gpusPerWorker: 4,
    cpu: '40',
    memory: '160Gi',
    distributed: { workers: 2 },
    // On spot nodes, losing worker 0 (which hosts the rendezvous store) makes worker 1's torchrun exit with 1:
    // a retry from the last checkpoint rather than a failed job.
    retriableExitCodes: [1],
    checkpoint: Checkpoint.objectStore('s3://mlops-reference-artifacts/fraud/checkpoints/fraud-train'),
    maxDuration: Duration.hours(12),
  });
  new InferenceService(fraud, 'Scoring', {
    namespace: fraudNamespace,
    serviceName: 'fraud-scoring',
    image: `${REGISTRY}/fraud-scorer:${v.fraudScorer}`,
    candidateImage: `${REGISTRY}/fraud-scorer:${v.fraudScorerCandidate}`,
    rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
    scaleOn: ScalingMetric.requestsPerSecond(50),
    // 2 variants x (3 + 1 surge) replicas x 1 GPU + 8 GPUs of training = the 16-GPU quota.
    maxReplicas: 3,
    modelSource: ModelSource.s3(`s3://mlops-reference-artifacts/fraud/models/${v.fraudScorer}/`),
    candidateModelSource: ModelSource.s3(`s3://mlops-reference-artifacts/fraud/models/${v.fraudScorerCandidate}/`),
    hostnames: ['fraud.models.example.com'],
  });
  new MonitoringRules(fraud, 'Monitoring', { namespace: fraudNamespace, prometheusLabels: PROMETHEUS });

  const recs = new MlopsChart(app, 'recommendations', { profile, project: 'mlops-reference', costCenter: 'growth-ml' });
  const recsNamespace = new TeamNamespace(recs, 'Namespace', {
    team: 'recommendations',
    quota: { gpus: 4 },
    access: { dataScientists: ['recs-data-scientists'], mlEngineers: ['recs-ml-engineers'], auditors: ['security-auditors'] },
    identity: WorkloadIdentity.podIdentity('arn:aws:iam::123456789012:role/recommendations-workloads'),
  });
  new GpuTrainingJob(recs, 'TrainRanker', {
    namespace: recsNamespace,
    jobName: 'ranker-train',
    image: `${REGISTRY}/ranker-trainer:${v.rankerTrainer}`,
    args: ['python', 'train.py', '--epochs=10'],
    checkpoint: Checkpoint.newVolumeClaim({ size: '100Gi', storageClassName: 'gp3' }),
  });
  new MonitoringRules(recs, 'Monitoring', { namespace: recsNamespace, prometheusLabels: PROMETHEUS });

  return app;
}

if (require.main === module) {
  const app = buildK8sApp();
  app.synth();
  // eslint-disable-next-line no-console
  console.log(`Manifests written to ${app.outdir}`);
}
