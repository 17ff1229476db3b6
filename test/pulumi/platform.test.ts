import * as pulumi from '@pulumi/pulumi';
import { App } from 'cdk8s';
import { installMocks, MLFLOW_IMAGE, one, ofType, promiseOf, resourcesOf } from './support';
import { EnvironmentProfile, GpuInstance, TAG_KEYS, ValidationError } from 'mlops-constructs';
import { GpuTrainingJob, MlopsChart, TeamNamespace } from 'mlops-constructs/k8s';
import { KubernetesWorkloads, MlopsPlatform } from 'mlops-constructs/pulumi';

installMocks();
pulumi.runtime.setAllConfig({
  'mlops:vpcId': 'vpc-example',
  'mlops:vpcCidrBlock': '10.0.0.0/16',
  'mlops:privateSubnetIds': '["subnet-p1","subnet-p2"]',
  'mlops:isolatedSubnetIds': '["subnet-i1","subnet-i2"]',
  'mlops:mlflowImage': MLFLOW_IMAGE,
});

const network = { vpcId: 'vpc-1', vpcCidrBlock: '10.1.0.0/16', privateSubnetIds: ['subnet-a', 'subnet-b'], isolatedSubnetIds: ['subnet-c', 'subnet-d'] };

// Types whose resources carry AWS tags (configuration sub-resources such as BucketVersioning have none).
const TAGGABLE = [
  'aws:kms/key:Key', 'aws:s3/bucket:Bucket', 'aws:rds/cluster:Cluster', 'aws:rds/clusterInstance:ClusterInstance', 'aws:rds/subnetGroup:SubnetGroup',
  'aws:ec2/securityGroup:SecurityGroup', 'aws:ec2/launchTemplate:LaunchTemplate', 'aws:iam/role:Role', 'aws:iam/policy:Policy',
  'aws:iam/instanceProfile:InstanceProfile', 'aws:cloudwatch/logGroup:LogGroup', 'aws:batch/computeEnvironment:ComputeEnvironment',
  'aws:batch/jobQueue:JobQueue', 'aws:batch/schedulingPolicy:SchedulingPolicy', 'aws:lb/loadBalancer:LoadBalancer', 'aws:lb/targetGroup:TargetGroup',
  'aws:lb/listener:Listener', 'aws:budgets/budget:Budget', 'aws:budgets/budgetAction:BudgetAction', 'aws:sns/topic:Topic',
  'aws:costexplorer/anomalyMonitor:AnomalyMonitor', 'aws:costexplorer/anomalySubscription:AnomalySubscription',
  'aws:sagemaker/modelPackageGroup:ModelPackageGroup', 'aws:sqs/queue:Queue', 'aws:dynamodb/table:Table', 'aws:ssm/parameter:Parameter',
  'aws:sfn/stateMachine:StateMachine', 'aws:pipes/pipe:Pipe',
];

describe('Pulumi MlopsPlatform', () => {
  test('GIVEN dev WHEN built THEN every piece exists, is encrypted with the platform key and every taggable resource carries the tags', async () => {
    const platform = new MlopsPlatform('plat1', {
      profile: EnvironmentProfile.dev(),
      project: 'p',
      costCenter: 'cc',
      network,
      trackingImage: MLFLOW_IMAGE,
      inferenceFleets: { fraud: { modelName: 'fraud', modelVersion: 'v1', imageUri: 'repo/fraud:1' } },
    });
    const resources = await resourcesOf('plat1');
    const keys = ofType(resources, 'aws:kms/key:Key');
    // The platform key, the cost guard's topic key and its brake's key (Budgets must be allowed in their policies) only.
    expect(keys.map((k) => k.name).sort()).toEqual(['plat1-cost-brake-key', 'plat1-cost-topic-key', 'plat1-key']);
    const platformKeyArn = await promiseOf(platform.platformKey.arn);
    expect(one(resources, 'aws:rds/cluster:Cluster').inputs.kmsKeyId).toBe(platformKeyArn);
    expect(one(resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', 'models-encryption').inputs
      .rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId).toBe(platformKeyArn);
    expect(one(resources, 'aws:ec2/launchTemplate:LaunchTemplate', 'training-lt').inputs.blockDeviceMappings[0].ebs.kmsKeyId).toBe(platformKeyArn);
    expect(one(resources, 'aws:ec2/securityGroup:SecurityGroup', 'fraud-lb-sg').inputs.ingress[0].cidrBlocks).toEqual(['10.1.0.0/16']);
    // A fleet of `inferenceFleets` loads its model from the platform's models bucket (an s3:// URI, not a bare key) and
    // its load balancer logs to the platform's access-log bucket.
    const fleetTemplates = ofType(resources, 'aws:ec2/launchTemplate:LaunchTemplate').filter((t) => t.name.startsWith('plat1-fraud-'));
    expect(fleetTemplates).toHaveLength(1);
    expect(Buffer.from(fleetTemplates[0].inputs.userData, 'base64').toString()).toContain('s3://plat1-artifacts-models/served/fraud/v1/model.tar.gz');
    expect(one(resources, 'aws:lb/loadBalancer:LoadBalancer', 'plat1-fraud-alb').inputs.accessLogs).toEqual({ bucket: 'plat1-artifacts-access-logs', prefix: 'alb', enabled: true });

    const tagged = resources.filter((r) => TAGGABLE.includes(r.type));
    expect(new Set(tagged.map((r) => r.type)).size).toBeGreaterThanOrEqual(20);
    for (const resource of tagged) {
      expect({ name: resource.name, tags: resource.inputs.tags }).toEqual({
        name: resource.name,
        tags: expect.objectContaining({ [TAG_KEYS.project]: 'p', [TAG_KEYS.environment]: 'dev', [TAG_KEYS.costCenter]: 'cc' }),
      });
    }
    // Training ceiling, registry capacity and the fleet, priced by the same core functions as the CDK MlopsPlatform.
    expect(Object.keys(platform.costGuard.estimatedMonthlyCost.pieces)).toEqual(['training (max GPUs busy, fallback included)', 'model registry', 'model fraud']);
    expect(platform.estimatedMonthlyCost.maxUsd).toBeGreaterThan(platform.estimatedMonthlyCost.minUsd);
  });

  test('GIVEN no profile WHEN built THEN a ValidationError asks for one', () => {
    expect(() => new MlopsPlatform('plat2', { project: 'p', network } as never)).toThrow(ValidationError);
    expect(() => new MlopsPlatform('plat3', { project: 'p', network } as never)).toThrow(/'profile' must be an EnvironmentProfile .*Fix: pass EnvironmentProfile.dev\(\)/);
  });
});

describe('KubernetesWorkloads', () => {
  test('GIVEN a cdk8s chart from mlops-constructs/k8s WHEN deployed THEN one resource per object, namespace first, same fields', async () => {
    const chart = new MlopsChart(new App(), 'team', { profile: EnvironmentProfile.dev(), project: 'p' });
    const namespace = new TeamNamespace(chart, 'Namespace', { team: 'fraud', quota: { gpus: 2 } });
    new GpuTrainingJob(chart, 'Train', { namespace, jobName: 'train', image: 'repo/train:1', instance: GpuInstance.of('g5.xlarge') });
    const manifests = chart.toJson() as Array<{ apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }>;
    const workloads = new KubernetesWorkloads('k1', { chart });
    const all = await resourcesOf('k1');
    expect(all.filter((r) => r.type === 'kubernetes:yaml:ConfigGroup').map((r) => r.name)).toEqual(['k1-foundations', 'k1-workloads']);
    const resources = all.filter((r) => r.type.startsWith('kubernetes:') && r.type !== 'kubernetes:yaml:ConfigGroup');
    expect(resources).toHaveLength(manifests.length);
    expect(workloads.objectKeys).toHaveLength(manifests.length);
    expect(resources[0].type).toBe('kubernetes:core/v1:Namespace');
    expect(resources[0].name).toBe('k1-fraud');
    for (const manifest of manifests) {
      const [group, version] = manifest.apiVersion.includes('/') ? manifest.apiVersion.split('/') : ['core', manifest.apiVersion];
      const match = resources.find((r) => r.type === `kubernetes:${group}/${version}:${manifest.kind}` && r.inputs.metadata.name === manifest.metadata.name);
      expect(match?.inputs).toMatchObject(JSON.parse(JSON.stringify(manifest)));
    }
    const job = resources.find((r) => r.type === 'kubernetes:batch/v1:Job');
    expect(job?.inputs.metadata.labels).toMatchObject({ 'mlops-constructs.io/environment': 'dev', 'mlops-constructs.io/project': 'p' });
  });

  test('GIVEN @pulumi/kubernetes is not installed WHEN mlops-constructs/pulumi is imported THEN it loads, and only KubernetesWorkloads asks for the package', () => {
    jest.isolateModules(() => {
      jest.doMock('@pulumi/kubernetes', () => {
        throw Object.assign(new Error("Cannot find module '@pulumi/kubernetes'"), { code: 'MODULE_NOT_FOUND' });
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const isolated = require('mlops-constructs/pulumi') as typeof import('mlops-constructs/pulumi');
      expect(typeof isolated.MlopsPlatform).toBe('function');
      expect(() => new isolated.KubernetesWorkloads('k-missing', { chart: [] }))
        .toThrow(/'@pulumi\/kubernetes' is not installed .*Fix: npm install @pulumi\/kubernetes/);
    });
    jest.dontMock('@pulumi/kubernetes');
  });

  test('GIVEN something that is not a chart WHEN deployed THEN a ValidationError names the prop', () => {
    expect(() => new KubernetesWorkloads('k2', { chart: {} as never })).toThrow(/'chart' must be a cdk8s Chart/);
    expect(() => new KubernetesWorkloads('k3', { chart: [{ kind: 'Pod' }] })).toThrow(/'chart\[0\]' is not a Kubernetes object/);
  });
});

describe('examples/pulumi', () => {
  test('GIVEN the example program WHEN run under mocks THEN it builds a whole dev environment: data, training, serving on both backends, monitoring, governance, budgets, team workloads', async () => {
    const program = await import('../../examples/pulumi/index');
    const buckets = await promiseOf(program.artifactBuckets);
    expect(Object.keys(buckets).sort()).toEqual(['artifacts', 'datasets', 'models']);
    expect(program.kubernetesObjects.length).toBeGreaterThan(3);
    expect(program.estimatedMonthlyCostUsd.maxUsd).toBeGreaterThan(0);
    const resources = await resourcesOf('dev');
    expect(one(resources, 'aws:rds/cluster:Cluster').inputs.vpcSecurityGroupIds).toHaveLength(1);
    expect(one(resources, 'aws:rds/subnetGroup:SubnetGroup').inputs.subnetIds).toEqual(['subnet-i1', 'subnet-i2']);
    // Serving on both backends: the fraud model's canary on a fleet (two groups in the private subnets), the recommender on SageMaker.
    const groups = ofType(resources, 'aws:autoscaling/group:Group');
    expect(groups).toHaveLength(2);
    for (const group of groups) expect(group.inputs.vpcZoneIdentifiers).toEqual(['subnet-p1', 'subnet-p2']);
    expect(ofType(resources, 'aws:autoscaling/schedule:Schedule')).toHaveLength(4);
    expect(ofType(resources, 'aws:sagemaker/endpoint:Endpoint')).toHaveLength(1);
    // Data and training: store, both image repositories, registry with two model families, MLflow, the GPU cluster.
    expect(ofType(resources, 'aws:ecr/repository:Repository').map((r) => r.inputs.name).sort())
      .toEqual(['mlops-reference-dev/serving', 'mlops-reference-dev/training']);
    expect(ofType(resources, 'aws:sagemaker/modelPackageGroup:ModelPackageGroup')).toHaveLength(2);
    expect(ofType(resources, 'aws:ecs/service:Service')).toHaveLength(1);
    expect(ofType(resources, 'aws:batch/jobQueue:JobQueue')).toHaveLength(1);
    // Monitoring and governance: serving alarms of both models, a trail, the personas.
    expect(ofType(resources, 'aws:cloudwatch/compositeAlarm:CompositeAlarm')).toHaveLength(2);
    expect(ofType(resources, 'aws:cloudtrail/trail:Trail')).toHaveLength(1);
    expect(ofType(resources, 'aws:iam/role:Role').filter((r) => /-governance-(DataScientist|MlEngineer|PlatformOperator|Auditor)$/.test(r.name))).toHaveLength(4);
    // Budgets: the environment's and the fraud team's; alarm and budget e-mails to the platform team.
    expect(ofType(resources, 'aws:budgets/budget:Budget').map((b) => b.inputs.limitAmount).sort()).toEqual(['2000', '500']);
    const subscriptions = ofType(resources, 'aws:sns/topicSubscription:TopicSubscription');
    expect(subscriptions.filter((s) => s.inputs.protocol === 'email').map((s) => s.inputs.endpoint)).toEqual(['ml-platform@example.com', 'ml-platform@example.com']);
    // The environment budget's deny threshold starts the GPU brake (its trigger topic feeds the brake's queue).
    expect(subscriptions.filter((s) => s.inputs.protocol === 'sqs').map((s) => s.name)).toEqual(['dev-cost-brake-trigger-subscription']);
  });
});
