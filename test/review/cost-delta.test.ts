import { CostModel, PurchaseOption } from 'mlops-constructs';
import { CfnTemplate, costDelta, templateCost } from 'mlops-constructs/review';

// The cost delta on hand-written templates: each capacity source and each unit-priced resource.
const model = CostModel.default();

const asgWith = (group: Record<string, unknown>, extra: Record<string, unknown> = {}): CfnTemplate => ({
  Resources: {
    Lt: { Type: 'AWS::EC2::LaunchTemplate', Properties: { LaunchTemplateData: { InstanceType: 'g6.xlarge' } } },
    Group: { Type: 'AWS::AutoScaling::AutoScalingGroup', Properties: { MinSize: '1', MaxSize: '3', ...group } },
    ...extra,
  },
});

describe('templateCost', () => {
  test('ASG with a launch template: on-demand, min and max', () => {
    const cost = templateCost(asgWith({ LaunchTemplate: { LaunchTemplateId: { Ref: 'Lt' }, Version: '1' } }));
    expect(cost.items).toEqual([expect.objectContaining({
      description: 'Auto Scaling group: 1-3 x g6.xlarge',
      minInstances: 1,
      maxInstances: 3,
      maxGpus: 3,
      minUsd: model.monthlyInstanceCost({ instance: 'g6.xlarge', count: 1 }),
      maxUsd: model.monthlyInstanceCost({ instance: 'g6.xlarge', count: 3 }),
    })]);
  });

  test('ASG with a mixed instances policy: override type, spot when 0% on-demand above base', () => {
    const cost = templateCost(asgWith({
      MixedInstancesPolicy: {
        LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: { Ref: 'Lt' } }, Overrides: [{ InstanceType: 'g5.2xlarge' }] },
        InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: 0 },
      },
    }));
    expect(cost.items[0].description).toBe('Auto Scaling group: 1-3 x g5.2xlarge (spot)');
    expect(cost.maxUsd).toBe(model.monthlyInstanceCost({ instance: 'g5.2xlarge', count: 3, purchase: PurchaseOption.SPOT }));
  });

  test('ASG with a launch configuration and a spot price', () => {
    const cost = templateCost(asgWith({ LaunchConfigurationName: { Ref: 'Lc' } }, {
      Lc: { Type: 'AWS::AutoScaling::LaunchConfiguration', Properties: { InstanceType: 'm7i.large', SpotPrice: '0.05' } },
    }));
    expect(cost.items[0].description).toBe('Auto Scaling group: 1-3 x m7i.large (spot)');
  });

  test('unknown or unresolved instance types are listed as unpriced, not guessed', () => {
    const cost = templateCost(asgWith({}, { Lt: { Type: 'AWS::EC2::LaunchTemplate', Properties: { LaunchTemplateData: { InstanceType: 'x9.huge' } } } }));
    expect(cost.items).toEqual([]);
    expect(cost.unpriced).toEqual(['Group (Auto Scaling group, instance type unresolved, 1-3)']);
    const unknown = templateCost(asgWith({ LaunchTemplate: { LaunchTemplateId: { Ref: 'Lt' } } }, {
      Lt: { Type: 'AWS::EC2::LaunchTemplate', Properties: { LaunchTemplateData: { InstanceType: 'x9.huge' } } },
    }));
    expect(unknown.unpriced).toEqual(['Group (Auto Scaling group, instance type x9.huge, 1-3)']);
  });

  test('Batch: on-demand EC2 counted by vCPUs; Fargate skipped', () => {
    const cost = templateCost({
      Resources: {
        Ce: { Type: 'AWS::Batch::ComputeEnvironment', Properties: { ComputeResources: { Type: 'EC2', MinvCpus: 8, MaxvCpus: 20, InstanceTypes: ['g5.2xlarge'] } } },
        Fg: { Type: 'AWS::Batch::ComputeEnvironment', Properties: { ComputeResources: { Type: 'FARGATE_SPOT', MaxvCpus: 256 } } },
      },
    });
    expect(cost.items.map((i) => i.description)).toEqual(['Batch compute environment: 1-3 x g5.2xlarge']);
    expect(cost.unpriced).toEqual([]);
  });

  test('SageMaker: priced at the ml.* rate of the type, serverless variants skipped', () => {
    const cost = templateCost({
      Resources: {
        Ec: {
          Type: 'AWS::SageMaker::EndpointConfig',
          Properties: { ProductionVariants: [{ VariantName: 'a', InstanceType: 'ml.inf2.xlarge', InitialInstanceCount: 2 }, { VariantName: 's', ServerlessConfig: {} }] },
        },
      },
    });
    expect(cost.items.map((i) => `${i.logicalId} ${i.description}`)).toEqual(['Ec/a SageMaker variant: 2 x inf2.xlarge']);
    // 2 x ml.inf2.xlarge at $0.99/h
    expect(cost.maxUsd).toBe(1445.4);
  });

  test('unit-priced resources: NAT, load balancer, Aurora ACUs per serverless instance, key, alarms, dashboard, secret', () => {
    const u = model.unitPrices;
    const cost = templateCost({
      Resources: {
        Nat: { Type: 'AWS::EC2::NatGateway' },
        Lb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Type: 'network' } },
        Db: { Type: 'AWS::RDS::DBCluster', Properties: { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 } } },
        W: { Type: 'AWS::RDS::DBInstance', Properties: { DBInstanceClass: 'db.serverless', DBClusterIdentifier: { Ref: 'Db' } } },
        R: { Type: 'AWS::RDS::DBInstance', Properties: { DBInstanceClass: 'db.serverless', DBClusterIdentifier: { Ref: 'Db' } } },
        Provisioned: { Type: 'AWS::RDS::DBCluster', Properties: {} },
        Key: { Type: 'AWS::KMS::Key' },
        A1: { Type: 'AWS::CloudWatch::Alarm' },
        A2: { Type: 'AWS::CloudWatch::CompositeAlarm' },
        Dash: { Type: 'AWS::CloudWatch::Dashboard' },
        S: { Type: 'AWS::SecretsManager::Secret' },
      },
    });
    expect(cost.items.map((i) => i.category)).toEqual(['nat-gateway', 'load-balancer', 'aurora', 'kms-key', 'alarm', 'alarm', 'dashboard', 'secret']);
    expect(cost.items[2]).toMatchObject({ description: 'Aurora Serverless v2, 2 instance(s) x 0.5-4 ACU', minUsd: 87.6, maxUsd: 700.8 });
    const fixed = model.monthlyHourly(u.natGatewayHour) + model.monthlyHourly(u.albHour + u.albLcuHour)
      + u.kmsKeyMonth + 2 * u.alarmMonth + u.dashboardMonth + u.secretMonth;
    expect(cost.minUsd).toBeCloseTo(fixed + 87.6, 2);
    expect(cost.maxUsd).toBeCloseTo(fixed + 700.8, 2);
  });

  test('costDelta: a missing side costs nothing; a custom model is used for both sides', () => {
    const template: CfnTemplate = { Resources: { Key: { Type: 'AWS::KMS::Key' } } };
    expect(costDelta(undefined, template)).toMatchObject({ deltaMinUsd: 1, deltaMaxUsd: 1 });
    expect(costDelta(template, undefined)).toMatchObject({ deltaMinUsd: -1, deltaMaxUsd: -1 });
    expect(costDelta(undefined, template, new CostModel({ unitPrices: { kmsKeyMonth: 3 } })).deltaMaxUsd).toBe(3);
  });
});
