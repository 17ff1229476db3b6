import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { App } from 'cdk8s';
import { EnvironmentProfile, GpuInstance, Rollout } from 'mlops-constructs';
import { Checkpoint, GpuTrainingJob, MlopsChart, TeamNamespace } from 'mlops-constructs/k8s';
import { KubernetesWorkloads, MlopsPlatform } from 'mlops-constructs/pulumi';

const REGISTRY = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

/** What the program builds, for its stack outputs and for tests. */
export interface DevEnvironment {
  readonly platform: MlopsPlatform;
  readonly workloads: KubernetesWorkloads;
}

/**
 * A dev environment: the AWS platform from `MlopsPlatform` (data, images, registry and MLflow; governance with personas,
 * boundary and trail; monitoring; a GPU training cluster shared by two teams; a model served on an inference fleet and
 * one on a SageMaker endpoint; budgets, a team budget included; scale to zero at night, destroyable data) and the fraud
 * team's Kubernetes workloads, written once with the cdk8s constructs of `mlops-constructs/k8s` and deployed by Pulumi
 * through `KubernetesWorkloads`.
 */
export function buildDevEnvironment(): DevEnvironment {
  const config = new pulumi.Config('mlops');
  const profile = EnvironmentProfile.dev();

  const platform = new MlopsPlatform('dev', {
    profile,
    project: 'mlops-reference',
    costCenter: 'ml-platform',
    network: {
      vpcId: config.require('vpcId'),
      vpcCidrBlock: config.require('vpcCidrBlock'),
      privateSubnetIds: config.requireObject<string[]>('privateSubnetIds'),
      isolatedSubnetIds: config.requireObject<string[]>('isolatedSubnetIds'),
    },
    teams: [
      { name: 'fraud', costCenter: 'risk-ml', gpuSharePercent: 60, monthlyBudgetUsd: 500 },
      { name: 'recs', costCenter: 'growth-ml', gpuSharePercent: 40 },
    ],
    // Built from the package's Dockerfile (assets/mlflow/) and pushed: Pulumi builds no image, MLflow installs nothing at start.
    trackingImage: config.require('mlflowImage'),
    training: { instanceTypes: ['g5.xlarge', 'g6.xlarge', 'g6.2xlarge'], maxGpus: 4 },
    modelFamilies: ['fraud-detector', 'recommender'],
    servedModels: [
      // Fleet: EC2 GPU instances behind an internal ALB; a canary of v4 takes 10% of the requests.
      {
        name: 'fraud-detector',
        backend: 'fleet',
        modelVersion: 'v3',
        imageTag: 'serve-2.2.0',
        team: 'fraud',
        // bake: anything with toSeconds(), e.g. CDK's Duration.minutes(30).
        rollout: Rollout.canary({ percent: 10, bake: { toSeconds: () => 30 * 60 } }),
        variantVersions: { candidate: 'v4' },
      },
      // Endpoint: SageMaker, data capture and deployment guardrails that roll back on the serving alarms.
      { name: 'recommender', backend: 'endpoint', modelVersion: 'v7', imageTag: 'serve-1.4.0', team: 'recs' },
    ],
    notifyEmails: ['ml-platform@example.com'],
  });

  // The team's Kubernetes side, from the same constructs a cdk8s user synthesizes.
  const chart = new MlopsChart(new App(), 'fraud', { profile, project: 'mlops-reference', costCenter: 'risk-ml' });
  const namespace = new TeamNamespace(chart, 'Namespace', { team: 'fraud', quota: { gpus: 4, cpu: 32, memoryGiB: 128 } });
  new GpuTrainingJob(chart, 'Train', {
    namespace,
    jobName: 'fraud-train',
    image: `${REGISTRY}/fraud-trainer:2.3.0`,
    args: ['python', 'train.py'],
    instance: GpuInstance.of('g5.xlarge'),
    checkpoint: Checkpoint.newVolumeClaim({ size: '50Gi', storageClassName: 'gp3' }),
  });
  const kubeconfig = config.get('kubeconfig');
  const provider = kubeconfig ? new k8s.Provider('team-cluster', { kubeconfig }) : undefined;
  const workloads = new KubernetesWorkloads('fraud-workloads', { chart, provider });
  return { platform, workloads };
}
