import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { reviewPair, reviewTemplates } from './support';
import { ArtifactStore, ComputeService, CostModel, GpuInstance, ImageRepository, MlopsStack, ModelEndpoint, PurchaseOption, Rollout } from 'mlops-constructs';
import { renderMarkdown } from 'mlops-constructs/review';

// ML changes a reviewer must see, on templates shaped like ModelEndpoint's (endpoint, config, model, scalable targets).

const model = CostModel.default();

interface EndpointOptions { canary?: number; min?: number; max?: number; initial?: number; modelData?: string; name?: string }

function endpoint(options: EndpointOptions = {}): Record<string, unknown> {
  const name = options.name ?? 'fraud';
  const resources: Record<string, unknown> = {
    [`${name}Model`]: {
      Type: 'AWS::SageMaker::Model',
      Properties: {
        ExecutionRoleArn: 'arn:aws:iam::123456789012:role/r',
        PrimaryContainer: { Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1', ModelDataUrl: options.modelData ?? `s3://models/served/${name}/v1/model.tar.gz` },
        Tags: [{ Key: 'mlops:model', Value: name }],
      },
    },
    [`${name}Config`]: {
      Type: 'AWS::SageMaker::EndpointConfig',
      Properties: {
        ProductionVariants: [{
          VariantName: 'current',
          ModelName: { 'Fn::GetAtt': [`${name}Model`, 'ModelName'] },
          InstanceType: 'ml.g5.xlarge',
          InitialInstanceCount: options.initial ?? 2,
          InitialVariantWeight: 1,
        }],
        Tags: [{ Key: 'mlops:model', Value: name }],
      },
    },
    [`${name}Endpoint`]: {
      Type: 'AWS::SageMaker::Endpoint',
      Properties: {
        EndpointName: `p-prod-${name}`,
        EndpointConfigName: { 'Fn::GetAtt': [`${name}Config`, 'EndpointConfigName'] },
        DeploymentConfig: {
          BlueGreenUpdatePolicy: {
            TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: options.canary ?? 10 }, WaitIntervalInSeconds: 600 },
            MaximumExecutionTimeoutInSeconds: 3600,
          },
          AutoRollbackConfiguration: { Alarms: [{ AlarmName: `${name}-errors` }, { AlarmName: `${name}-latency` }] },
        },
        Tags: [{ Key: 'mlops:model', Value: name }],
      },
    },
  };
  if (options.max !== undefined) {
    resources[`${name}Scaling`] = {
      Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
      Properties: {
        ServiceNamespace: 'sagemaker',
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        ResourceId: `endpoint/p-prod-${name}/variant/current`,
        MinCapacity: options.min ?? 1,
        MaxCapacity: options.max,
        RoleARN: 'arn:aws:iam::123456789012:role/scaling',
      },
    };
  }
  return resources;
}

const monthly = (count: number) => model.monthlyInstanceCost({ instance: GpuInstance.of('g5.xlarge'), count, purchase: PurchaseOption.ON_DEMAND, service: ComputeService.SAGEMAKER });

describe('ML changes', () => {
  test('endpoint canary 10% → 25%: reported from DeploymentConfig', () => {
    const r = reviewTemplates([{ id: 'serving', resources: endpoint({ canary: 10 }) }], [{ id: 'serving', resources: endpoint({ canary: 25 }) }]);
    expect(r.ml.map((m) => `${m.kind}: ${m.line}`)).toEqual(['deployment: fraudEndpoint: deployment canary 10% → 25%']);
    expect(renderMarkdown(r)).toContain('- **serving** deployment: fraudEndpoint: deployment canary 10% → 25%');
  });

  test('a 2-4 autoscaled endpoint costs and counts GPUs at 4 at maximum, 2 at minimum', () => {
    const r = reviewTemplates([{ id: 'serving', resources: { Anchor: { Type: 'AWS::CloudFormation::WaitConditionHandle' } } }],
      [{ id: 'serving', resources: endpoint({ initial: 2, min: 2, max: 4 }) }]);
    expect(r.cost.deltaMaxUsd).toBeCloseTo(monthly(4), 0);
    expect(r.cost.deltaMinUsd).toBeCloseTo(monthly(2), 0);
    expect(r.ml.map((m) => m.line)).toEqual(['served model added: fraud', 'GPUs at maximum capacity 0 → 4']);
    // Raising the scaling maximum alone raises the maximum cost and GPUs.
    const raised = reviewTemplates([{ id: 'serving', resources: endpoint({ min: 2, max: 4 }) }], [{ id: 'serving', resources: endpoint({ min: 2, max: 8 }) }]);
    expect(raised.ml.map((m) => m.line)).toEqual(['fraudScaling: scalable target capacity 2-4 → 2-8', 'GPUs at maximum capacity 4 → 8']);
    expect(raised.cost.deltaMaxUsd).toBeCloseTo(monthly(4), 0);
    expect(raised.cost.deltaMinUsd).toBe(0);
  });

  test('a served model removed: named, not only a GPU count', () => {
    const both = { ...endpoint({ name: 'fraud' }), ...endpoint({ name: 'churn' }) };
    const r = reviewTemplates([{ id: 'serving', resources: both }], [{ id: 'serving', resources: endpoint({ name: 'fraud' }) }]);
    expect(r.ml.map((m) => m.line)).toEqual([
      'served model removed: churn (endpoint churnEndpoint is deleted, its traffic fails)',
      'GPUs at maximum capacity 4 → 2',
    ]);
  });

  test('a new model version: the artifact before → after', () => {
    const r = reviewTemplates([{ id: 'serving', resources: endpoint() }], [{ id: 'serving', resources: endpoint({ modelData: 's3://models/served/fraud/v2/model.tar.gz' }) }]);
    expect(r.ml.map((m) => m.line)).toContain('fraud: model s3://models/served/fraud/v1/model.tar.gz → s3://models/served/fraud/v2/model.tar.gz');
  });

  test('replacements that lose no data are listed by type, in the summary too', () => {
    const queue = (name: string) => ({
      Queue: { Type: 'AWS::Batch::JobQueue', Properties: { JobQueueName: name, Priority: 1, ComputeEnvironmentOrder: [{ Order: 1, ComputeEnvironment: 'arn:ce' }] } },
      Env: {
        Type: 'AWS::Batch::ComputeEnvironment',
        Properties: {
          ComputeEnvironmentName: `${name}-ce`,
          Type: 'MANAGED',
          ComputeResources: { Type: 'SPOT', MinvCpus: 0, MaxvCpus: 64, InstanceTypes: ['g5.xlarge'], Subnets: ['s'], SecurityGroupIds: ['g'] },
        },
      },
    });
    const r = reviewTemplates([{ id: 'training', resources: queue('train') }], [{ id: 'training', resources: queue('training') }]);
    expect(r.blocking).toEqual([]);
    expect(r.ml.filter((m) => m.kind === 'replacement').map((m) => m.line)).toEqual([
      '1 AWS::Batch::JobQueue replaced (no data held): Queue',
      '1 AWS::Batch::ComputeEnvironment replaced (no data held): Env',
    ]);
    expect(renderMarkdown(r)).toContain('- Replaced without data loss: 2 resource(s) (1 AWS::Batch::JobQueue, 1 AWS::Batch::ComputeEnvironment)');
  });
});

describe('ML changes through ModelEndpoint', () => {
  const build = (version: string, percent: number, maxCapacity: number) => (stack: MlopsStack) => {
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 1, maxAzs: 2 });
    new ModelEndpoint(stack, 'Endpoint', {
      vpc,
      artifactStore: new ArtifactStore(stack, 'Store'),
      image: new ImageRepository(stack, 'Images'),
      imageTag: '1.0',
      modelName: 'fraud',
      modelVersion: version,
      rollout: Rollout.canary({ percent, bake: Duration.minutes(10) }),
      minCapacity: 2,
      maxCapacity,
    });
  };

  test('canary, model version and scaling maximum: one line each, cost and GPUs at the scaling maximum', () => {
    const r = reviewPair((stack, side) => (side === 'base' ? build('v1', 10, 4) : build('v2', 25, 6))(stack));
    const lines = r.ml.map((m) => `${m.kind}: ${m.line}`);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^deployment: Endpoint\w+: deployment canary 10% → 25%$/),
      expect.stringMatching(/^model-version: EndpointModelCurrent\w+: model s3:\/\/\{Store\w+\}\/served\/fraud\/v1\/model\.tar\.gz → s3:\/\/\{Store\w+\}\/served\/fraud\/v2\/model\.tar\.gz$/),
      expect.stringMatching(/^scaling: Endpoint\w+: scalable target capacity 2-4 → 2-6$/),
      'gpu-capacity: GPUs at maximum capacity 4 → 6',
    ]));
    const perInstance = r.stacks[0].cost!.head.items.find((i) => i.category === 'instances')!;
    expect(perInstance).toMatchObject({ minInstances: 2, maxInstances: 6 });
  });
});
