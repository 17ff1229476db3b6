import * as fs from 'fs';
import * as path from 'path';
import { CfnWaitConditionHandle, NestedStack, RemovalPolicy, Stage, Tags, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { reviewPair, Side, synthSide } from './support';
import { newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, CostModel, EnvironmentProfile, ImageRepository, MlopsStack, ModelRegistry, PlatformKey, PurchaseOption,
} from 'mlops-constructs';
import { ChangeKind, KUBERNETES_STACK_ID, loadAssembly, renderMarkdown, ReviewReport, reviewAssemblies } from 'mlops-constructs/review';

// A corpus of base/head pairs built from the library's constructs (and aws-cdk-lib ones inside an MlopsStack
// where the library has none yet), each with the verdict a reviewer expects.

const model = CostModel.default();
const blockingIds = (r: ReviewReport) => r.blocking.map((b) => `${b.stack}:${b.logicalId}:${b.kind}`);

function gpuFleet(stack: Construct, instanceType: string, minCapacity: number, maxCapacity: number, id = 'Fleet'): autoscaling.AutoScalingGroup {
  const vpc = (stack.node.tryFindChild('Vpc') as ec2.Vpc | undefined) ?? new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2 });
  const launchTemplate = new ec2.LaunchTemplate(stack, `${id}Template`, {
    instanceType: new ec2.InstanceType(instanceType),
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    requireImdsv2: true,
  });
  return new autoscaling.AutoScalingGroup(stack, id, { vpc, launchTemplate, minCapacity, maxCapacity });
}

describe('guard: data loss is blocking', () => {
  test('bucket renamed: replaced and blocked', () => {
    const r = reviewPair((stack, side) => {
      new s3.Bucket(stack, 'Data', { bucketName: side === 'base' ? 'p-data-a' : 'p-data-b', removalPolicy: RemovalPolicy.RETAIN });
    });
    expect(r.blocking).toHaveLength(1);
    expect(r.blocking[0]).toMatchObject({ stack: 'Svc', type: 'AWS::S3::Bucket', kind: ChangeKind.REPLACED, path: 'Svc/Data/Resource' });
    expect(r.blocking[0].reason).toMatch(/replaced \(changed: BucketName\)/);
  });

  test('registry database engine version change: updated in place, not blocking; engine change: may be replaced, blocked', () => {
    const registry = (engine: 'v15' | 'v16' | 'mysql') => (stack: MlopsStack) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2 });
      new rds.DatabaseCluster(stack, 'Registry', {
        engine: engine === 'mysql'
          ? rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_08_0 })
          : rds.DatabaseClusterEngine.auroraPostgres({ version: engine === 'v15' ? rds.AuroraPostgresEngineVersion.VER_15_8 : rds.AuroraPostgresEngineVersion.VER_16_4 }),
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        writer: rds.ClusterInstance.serverlessV2('Writer'),
        serverlessV2MinCapacity: 0.5,
        serverlessV2MaxCapacity: 2,
        removalPolicy: RemovalPolicy.SNAPSHOT,
      });
    };
    const upgrade = reviewPair((stack, side) => registry(side === 'base' ? 'v15' : 'v16')(stack));
    const cluster = upgrade.stacks[0].changes.find((c) => c.type === 'AWS::RDS::DBCluster');
    expect(cluster).toMatchObject({ kind: ChangeKind.UPDATED, stateful: true });
    expect(cluster!.changedProperties).toContain('EngineVersion');
    expect(upgrade.blocking).toEqual([]);

    const switched = reviewPair((stack, side) => registry(side === 'base' ? 'v15' : 'mysql')(stack));
    expect(switched.blocking.map((b) => b.type)).toContain('AWS::RDS::DBCluster');
    // The CloudFormation spec says an Engine change replaces the cluster only in some cases.
    expect(switched.blocking.find((b) => b.type === 'AWS::RDS::DBCluster')!.kind).toBe(ChangeKind.MAY_BE_REPLACED);
  });

  test('platform key removed in prod: orphaned (retained) and blocked', () => {
    const r = reviewPair((stack, side) => {
      if (side === 'base') new PlatformKey(stack, 'PlatformKey');
    });
    const key = r.blocking.find((b) => b.type === 'AWS::KMS::Key');
    expect(key).toMatchObject({ kind: ChangeKind.ORPHANED, path: 'Svc/PlatformKey/Key/Resource' });
    expect(r.cost.deltaMinUsd).toBe(-model.unitPrices.kmsKeyMonth);
  });

  test('platform key removed in dev: deleted and blocked', () => {
    const r = reviewPair((stack, side) => {
      if (side === 'base') new PlatformKey(stack, 'PlatformKey');
    }, { profile: EnvironmentProfile.dev() });
    expect(blockingIds(r)).toEqual([expect.stringMatching(/^Svc:PlatformKey\w+:removed$/)]);
  });

  test('retention flipped Retain to Delete: blocked although nothing is replaced', () => {
    const r = reviewPair((stack, side) => {
      new s3.Bucket(stack, 'Data', { removalPolicy: side === 'base' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY });
    });
    // One finding for the resource, naming both policies.
    expect(r.blocking.map((b) => b.kind)).toEqual(['protection-weakened']);
    expect(r.blocking[0].reason).toBe('DeletionPolicy Retain → Delete; UpdateReplacePolicy Retain → Delete: '
      + 'deleting the stack or replacing the resource would now delete its data');
    expect(r.stacks[0].changes[0].kind).toBe(ChangeKind.UPDATED);
  });

  test('ECR repository renamed: replaced and blocked', () => {
    const r = reviewPair((stack, side) => {
      new ecr.Repository(stack, 'Images', { repositoryName: side === 'base' ? 'p/train' : 'p/training', removalPolicy: RemovalPolicy.RETAIN });
    });
    expect(r.blocking).toMatchObject([{ type: 'AWS::ECR::Repository', kind: ChangeKind.REPLACED }]);
  });

  test('DynamoDB partition key changed: replaced and blocked', () => {
    const r = reviewPair((stack, side) => {
      new dynamodb.Table(stack, 'Runs', {
        partitionKey: { name: side === 'base' ? 'runId' : 'experimentId', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        removalPolicy: RemovalPolicy.RETAIN,
      });
    });
    expect(r.blocking).toMatchObject([{ type: 'AWS::DynamoDB::Table', kind: ChangeKind.REPLACED }]);
  });

  test('log group and secret removed in dev: both blocked, secret saving shows in cost', () => {
    const r = reviewPair((stack, side) => {
      if (side === 'base') {
        new logs.LogGroup(stack, 'TrainingLogs', { removalPolicy: RemovalPolicy.DESTROY });
        new secretsmanager.Secret(stack, 'RegistryCredentials', { removalPolicy: RemovalPolicy.DESTROY });
      }
    }, { profile: EnvironmentProfile.dev() });
    expect(r.blocking.map((b) => b.type).sort()).toEqual(['AWS::Logs::LogGroup', 'AWS::SecretsManager::Secret']);
    expect(r.cost.deltaMaxUsd).toBe(-model.unitPrices.secretMonth);
  });

  test('SageMaker model package group renamed: replaced and blocked', () => {
    const r = reviewPair((stack, side) => {
      new sagemaker.CfnModelPackageGroup(stack, 'Models', { modelPackageGroupName: side === 'base' ? 'fraud' : 'fraud-v2' });
    });
    expect(r.blocking).toMatchObject([{ type: 'AWS::SageMaker::ModelPackageGroup', kind: ChangeKind.REPLACED }]);
  });

  test('any resource retained by policy counts as stateful', () => {
    const r = reviewPair((stack, side) => {
      if (side === 'base') new sagemaker.CfnCodeRepository(stack, 'Repo', { gitConfig: { repositoryUrl: 'https://example.com/r.git' } }).applyRemovalPolicy(RemovalPolicy.RETAIN);
    });
    expect(r.blocking).toMatchObject([{ type: 'AWS::SageMaker::CodeRepository', kind: ChangeKind.ORPHANED }]);
  });

  test('a pure tag change: updated, nothing blocking, no cost change', () => {
    const r = reviewPair((stack, side) => {
      const bucket = new s3.Bucket(stack, 'Data', { removalPolicy: RemovalPolicy.RETAIN });
      if (side === 'head') Tags.of(bucket).add('owner', 'team-a');
    });
    expect(r.stacks[0].changes).toMatchObject([{ kind: ChangeKind.UPDATED, changedProperties: ['Tags'] }]);
    expect(r.blocking).toEqual([]);
    expect(r.cost.deltaMaxUsd).toBe(0);
  });

  test('a KMS alias change does not touch the key', () => {
    const r = reviewPair((stack, side) => {
      new PlatformKey(stack, 'PlatformKey', { aliasName: side === 'base' ? 'p/key' : 'p/platform-key' });
    });
    expect(r.blocking).toEqual([]);
    expect(r.stacks[0].changes.map((c) => `${c.type}:${c.kind}`)).toEqual(['AWS::KMS::Alias:replaced']);
  });
});

describe('library constructs', () => {
  test('ArtifactStore removed in prod: every bucket orphaned and blocked', () => {
    const r = reviewPair((stack, side) => {
      if (side === 'base') new ArtifactStore(stack, 'Artifacts');
    });
    expect(r.blocking.length).toBeGreaterThan(0);
    expect(r.blocking.filter((b) => b.type === 'AWS::S3::Bucket').every((b) => b.kind === ChangeKind.ORPHANED && b.path!.startsWith('Svc/Artifacts/'))).toBe(true);
    expect(reviewPair((stack, side) => {
      if (side === 'base') new ArtifactStore(stack, 'Artifacts');
    }, {}, { allowDestroy: ['Svc/Artifacts'] }).blocking).toEqual([]);
  });

  test('ImageRepository renamed: replaced and blocked', () => {
    const r = reviewPair((stack, side) => {
      new ImageRepository(stack, 'Images', { repositoryName: side === 'base' ? 'p/train' : 'p/training' });
    });
    expect(r.blocking).toMatchObject([{ type: 'AWS::ECR::Repository', kind: ChangeKind.REPLACED, path: expect.stringMatching(/^Svc\/Images\//) }]);
  });

  test('ModelRegistry engine upgrade and capacity raise: updated in place, cost up, nothing blocking', () => {
    const r = reviewPair((stack, side) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2, subnetConfiguration: [{ name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      new ModelRegistry(stack, 'Registry', {
        vpc,
        rotationSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        engineVersion: side === 'base' ? rds.AuroraPostgresEngineVersion.VER_16_4 : rds.AuroraPostgresEngineVersion.VER_16_6,
        maxCapacity: side === 'base' ? 8 : 16,
      });
    });
    const cluster = r.stacks[0].changes.find((c) => c.type === 'AWS::RDS::DBCluster')!;
    expect(cluster.kind).toBe(ChangeKind.UPDATED);
    expect(cluster.changedProperties).toEqual(expect.arrayContaining(['EngineVersion', 'ServerlessV2ScalingConfiguration']));
    expect(r.blocking).toEqual([]);
    expect(r.cost.deltaMinUsd).toBe(0);
    const instances = r.stacks[0].cost!.head.items.find((i) => i.category === 'aurora')!.description.match(/(\d+) instance/)![1];
    expect(r.cost.deltaMaxUsd).toBe(model.monthlyHourly(model.unitPrices.auroraAcuHour * 8, Number(instances)));
  });
});

describe('guard: intended destruction is let through', () => {
  const removeBucket = (stack: MlopsStack, side: Side) => {
    if (side === 'base') new s3.Bucket(stack, 'Scratch', { removalPolicy: RemovalPolicy.RETAIN });
  };

  test('--allow-destroy by construct path lets a removal through', () => {
    const r = reviewPair(removeBucket, {}, { allowDestroy: ['Svc/Scratch'] });
    expect(r.blocking).toEqual([]);
    expect(r.allowed).toMatchObject([{ type: 'AWS::S3::Bucket', kind: ChangeKind.ORPHANED, allowedBy: 'allow-destroy' }]);
  });

  test('--allow-destroy by stack/logicalId; a bare logical id is refused with the qualified paths; a typo names the nearest', () => {
    const base = reviewPair(removeBucket);
    const logicalId = base.blocking[0].logicalId;
    expect(reviewPair(removeBucket, {}, { allowDestroy: [`Svc/${logicalId}`] }).blocking).toEqual([]);
    expect(() => reviewPair(removeBucket, {}, { allowDestroy: [logicalId] }))
      .toThrow(`--allow-destroy ${logicalId}: a bare logical id is refused (it would allow the change in every environment); `
        + `qualify it with its stack or construct path: Svc/${logicalId}.`);
    expect(() => reviewPair(removeBucket, {}, { allowDestroy: ['Svc/Scrach'] }))
      .toThrow(`--allow-destroy Svc/Scrach matches no destructive change; nearest: Svc/Scratch, Svc/${logicalId}.`);
  });

  test('a stack tagged mlops:disposable=true lets it through', () => {
    const r = reviewPair(removeBucket, { stackProps: () => ({ tags: { 'mlops:disposable': 'true' } }) });
    expect(r.blocking).toEqual([]);
    expect(r.allowed).toMatchObject([{ allowedBy: 'disposable-stack' }]);
    expect(r.stacks[0].disposable).toBe(true);
  });

  test('--disposable-stack lets it through', () => {
    const r = reviewPair(removeBucket, {}, { disposableStacks: ['Svc'] });
    expect(r.blocking).toEqual([]);
    expect(r.allowed[0].allowedBy).toBe('disposable-stack');
  });

  test('marking a stack disposable in the same change does not let its data go', () => {
    const r = reviewPair(removeBucket, { stackProps: (side) => (side === 'head' ? { tags: { 'mlops:disposable': 'true' } } : {}) });
    expect(r.blocking).toHaveLength(1);
  });
});

describe('nested stacks, stage assemblies, removed stacks', () => {
  test('nested stack removal: its bucket is blocked under the nested stack', () => {
    const r = reviewPair((stack, side) => {
      if (side === 'base') new s3.Bucket(new NestedStack(stack, 'Features'), 'Store', { removalPolicy: RemovalPolicy.DESTROY });
    });
    const nested = r.stacks.find((s) => s.id === 'Svc/Features');
    expect(nested).toMatchObject({ status: 'removed', parentId: 'Svc' });
    expect(r.blocking).toMatchObject([{ stack: 'Svc/Features', type: 'AWS::S3::Bucket', kind: ChangeKind.REMOVED, path: 'Svc/Features/Store/Resource' }]);
    expect(r.stacks.find((s) => s.id === 'Svc')!.changes.map((c) => c.type)).toEqual(['AWS::CloudFormation::Stack']);
  });

  test('a change inside a nested stack is diffed there', () => {
    const r = reviewPair((stack, side) => {
      new s3.Bucket(new NestedStack(stack, 'Features'), 'Store', { bucketName: `p-features-${side}`, removalPolicy: RemovalPolicy.RETAIN });
    });
    expect(r.blocking).toMatchObject([{ stack: 'Svc/Features', kind: ChangeKind.REPLACED }]);
  });

  test('a removed top-level stack blocks on its data; a stack of a Stage is found in its nested assembly', () => {
    const side = (s: Side) => synthSide((app) => {
      const stage = new Stage(app, 'Prod');
      new CfnWaitConditionHandle(new MlopsStack(stage, 'Api', { profile: EnvironmentProfile.prod(), project: 'p' }), 'Anchor');
      if (s === 'base') new PlatformKey(new MlopsStack(stage, 'Old', { profile: EnvironmentProfile.prod(), project: 'p' }), 'Key');
    });
    const base = side('base');
    expect(base.stacks.map((s) => s.id).sort()).toEqual(['Prod/Api', 'Prod/Old']);
    const r = reviewAssemblies(base, side('head'));
    expect(r.stacks.find((s) => s.id === 'Prod/Old')!.status).toBe('removed');
    expect(r.blocking).toMatchObject([{ stack: 'Prod/Old', type: 'AWS::KMS::Key' }]);
  });
});

describe('security', () => {
  test('IAM wildcard added: broadening, flagged', () => {
    const r = reviewPair((stack, side) => {
      const role = new iam.Role(stack, 'TrainingRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
      if (side === 'head') role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    });
    expect(r.security[0].broadening).toBe(true);
    expect(r.security[0].description).toMatch(/wildcard action, wildcard resource.*s3:\*/);
    expect(r.blocking).toEqual([]);
  });

  test('security group opened to 0.0.0.0/0: broadening, open to the internet', () => {
    const r = reviewPair((stack, side) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 1 });
      const sg = new ec2.SecurityGroup(stack, 'Endpoint', { vpc, allowAllOutbound: false });
      sg.addIngressRule(side === 'base' ? ec2.Peer.ipv4('10.0.0.0/16') : ec2.Peer.anyIpv4(), ec2.Port.tcp(443));
    });
    const broadening = r.security.filter((s) => s.broadening);
    expect(broadening.map((s) => s.description)).toEqual([expect.stringMatching(/open to the internet.*ingress rule added.*0\.0\.0\.0\/0/)]);
    expect(r.security.some((s) => !s.broadening && /removed.*10\.0\.0\.0\/16/.test(s.description))).toBe(true);
  });

  test('new internet-facing load balancer: public exposure and cost', () => {
    const r = reviewPair((stack, side) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2 });
      if (side === 'head') new elbv2.ApplicationLoadBalancer(stack, 'Public', { vpc, internetFacing: true });
    });
    expect(r.security.some((s) => s.broadening && /public exposure.*internet-facing/.test(s.description))).toBe(true);
    expect(r.cost.deltaMinUsd).toBe(model.monthlyHourly(model.unitPrices.albHour + model.unitPrices.albLcuHour));
  });
});

describe('IAM: one finding per resource, with all the policies that changed on it', () => {
  test('two policies of one role changed: one finding for the role, listing both', () => {
    const r = reviewPair((stack, side) => {
      const role = new iam.Role(stack, 'TrainingRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
      const datasets = new iam.Policy(stack, 'Datasets', { roles: [role], statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::datasets/*'] })] });
      const models = new iam.Policy(stack, 'Models', { roles: [role], statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::models/*'] })] });
      if (side === 'head') {
        datasets.addStatements(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: ['arn:aws:s3:::datasets/*'] }));
        models.addStatements(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: ['*'] }));
      }
    });
    expect(r.security).toHaveLength(1);
    expect(r.security[0]).toMatchObject({ broadening: true });
    expect(r.security[0].description).toMatch(/^\*\*wildcard resource\*\*: IAM on role TrainingRole\w+ \(policies: Datasets\w+, Models\w+\): /);
    expect(r.security[0].description).toContain('grants s3:PutObject on arn:aws:s3:::datasets/*');
    expect(r.security[0].description).toContain('grants kms:Decrypt on *');
    // A review that lists each statement separately would have said this twice; the role is the unit a reviewer judges.
    expect(renderMarkdown(r)).toContain('- Access broadened: 1 change(s)');
  });

  test('a statement moved from one policy of a role to another is no access change; to another role it is', () => {
    const statement = () => new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::models/*'] });
    const build = (target: (roles: { a: iam.Role; b: iam.Role }, side: Side) => { role: iam.Role; policy: string }) => reviewPair((stack, side) => {
      const roles = {
        a: new iam.Role(stack, 'A', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') }),
        b: new iam.Role(stack, 'B', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') }),
      };
      const { role, policy } = target(roles, side);
      new iam.Policy(stack, policy, { roles: [role], statements: [statement()] });
    });
    expect(build(({ a }, side) => ({ role: a, policy: side === 'base' ? 'First' : 'Second' })).security).toEqual([]);
    const moved = build(({ a, b }, side) => ({ role: side === 'base' ? a : b, policy: 'First' })).security;
    expect(moved.map((f) => [f.broadening, f.description.replace(/([A-Za-z])[0-9A-F]{8}\b/g, '$1')])).toEqual([
      [true, 'IAM on role B (policy: First): grants s3:GetObject on arn:aws:s3:::models/*'],
      [false, 'IAM on role A (policy: First): removes Allow s3:GetObject on arn:aws:s3:::models/*'],
    ]);
  });

  test('a managed policy attached through the role (ManagedPolicyArns) is read as the role\'s: its new statement is reported', () => {
    const r = reviewPair((stack, side) => {
      const role = new iam.Role(stack, 'ServingRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
      const policy = new iam.ManagedPolicy(stack, 'Serving', { statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::models/*'] })] });
      if (side === 'head') policy.addStatements(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: ['arn:aws:s3:::models/*'] }));
      role.addManagedPolicy(policy);
    });
    expect(r.security.map((f) => f.description.replace(/([A-Za-z])[0-9A-F]{8}\b/g, '$1'))).toEqual([
      'IAM on role ServingRole (policy: Serving): grants s3:DeleteObject on arn:aws:s3:::models/*',
    ]);
  });

  test('a bucket policy and a role policy changed together: one finding each, the bucket policy naming who gets access', () => {
    const r = reviewPair((stack, side) => {
      const bucket = new s3.Bucket(stack, 'Models', { enforceSSL: true });
      const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
      if (side === 'head') {
        bucket.addToResourcePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')], principals: [new iam.AccountPrincipal('210987654321')] }));
        role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
      }
    });
    const descriptions = r.security.map((f) => f.description.replace(/([A-Za-z])[0-9A-F]{8}\b/g, '$1'));
    expect(descriptions).toHaveLength(2);
    expect(descriptions).toContainEqual(expect.stringMatching(/^IAM on bucket Models \(policy: ModelsPolicy\): grants s3:GetObject on \$\{Models\.Arn\}\/\* to AWS:arn:\$\{AWS::Partition\}:iam::210987654321:root$/));
    expect(descriptions).toContainEqual('IAM on role Reader (policy: ReaderDefaultPolicy): grants s3:ListBucket on ${Models.Arn}');
  });
});

describe('cost and ML meaning', () => {
  test('ASG max raised: cost up at maximum only, scaling line', () => {
    const r = reviewPair((stack, side) => gpuFleet(stack, 'g5.xlarge', 1, side === 'base' ? 2 : 4));
    expect(r.cost.deltaMinUsd).toBe(0);
    expect(r.cost.deltaMaxUsd).toBe(model.monthlyInstanceCost({ instance: 'g5.xlarge', count: 2 }));
    expect(r.cost.deltaMaxUsd).toBe(1468.76);
    expect(r.ml.map((m) => m.line)).toEqual([
      expect.stringMatching(/^Fleet\w+: Auto Scaling group size 1-2 → 1-4$/),
      'GPUs at maximum capacity 2 → 4',
    ]);
  });

  test('GPU instance type change: cost, instance-type and GPU capacity lines', () => {
    const r = reviewPair((stack, side) => gpuFleet(stack, side === 'base' ? 'g5.xlarge' : 'g5.12xlarge', 0, 2));
    expect(r.ml.map((m) => m.kind).sort()).toEqual(['gpu-capacity', 'instance-type']);
    expect(r.ml.find((m) => m.kind === 'instance-type')!.line).toMatch(/g5\.xlarge \(1 x A10G\) → g5\.12xlarge \(4 x A10G\)/);
    expect(r.ml.find((m) => m.kind === 'gpu-capacity')!.line).toBe('GPUs at maximum capacity 2 → 8');
    expect(r.cost.deltaMaxUsd).toBe(Math.round((5.672 - 1.006) * 2 * 730 * 100) / 100);
    expect(r.blocking).toEqual([]);
  });

  test('canary weight changed on the ALB listener: rollout line', () => {
    const r = reviewPair((stack, side) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2 });
      const alb = new elbv2.ApplicationLoadBalancer(stack, 'Lb', { vpc, internetFacing: false });
      const stable = new elbv2.ApplicationTargetGroup(stack, 'Stable', { vpc, port: 80, targetType: elbv2.TargetType.IP });
      const canary = new elbv2.ApplicationTargetGroup(stack, 'Canary', { vpc, port: 80, targetType: elbv2.TargetType.IP });
      const canaryWeight = side === 'base' ? 10 : 25;
      alb.addListener('Http', {
        port: 80,
        defaultAction: elbv2.ListenerAction.weightedForward([
          { targetGroup: stable, weight: 100 - canaryWeight },
          { targetGroup: canary, weight: canaryWeight },
        ]),
      });
    });
    const rollout = r.ml.filter((m) => m.kind === 'rollout');
    expect(rollout).toHaveLength(1);
    expect(rollout[0].line).toMatch(/^LbHttp\w+: traffic weights Canary\w+ 10→25, Stable\w+ 90→75$/);
    expect(r.blocking).toEqual([]);
  });

  test('SageMaker variant weights and instance type: rollout, instance-type and cost lines', () => {
    const r = reviewPair((stack, side) => {
      new sagemaker.CfnEndpointConfig(stack, 'EndpointConfig', {
        productionVariants: [
          { variantName: 'stable', modelName: 'm1', initialInstanceCount: 2, instanceType: 'ml.g5.xlarge', initialVariantWeight: side === 'base' ? 0.9 : 0.5 },
          { variantName: 'canary', modelName: 'm2', initialInstanceCount: 1, instanceType: side === 'base' ? 'ml.g5.xlarge' : 'ml.g6.xlarge', initialVariantWeight: side === 'base' ? 0.1 : 0.5 },
        ],
      });
    });
    expect(r.ml.map((m) => m.line)).toEqual([
      'EndpointConfig: variant weights canary 0.1→0.5, stable 0.9→0.5',
      'EndpointConfig: variant instance types stable=ml.g5.xlarge, canary=ml.g5.xlarge → stable=ml.g5.xlarge, canary=ml.g6.xlarge',
      // A new endpoint config replaces the old one: listed, it holds no data.
      '1 AWS::SageMaker::EndpointConfig replaced (no data held): EndpointConfig',
    ]);
    // At SageMaker's rates: ml.g6.xlarge $1.1267/h, ml.g5.xlarge $1.408/h.
    expect(r.cost.deltaMaxUsd).toBe(Math.round((1.1267 - 1.408) * 730 * 100) / 100);
  });

  test('Batch spot compute environment: vCPU bounds and spot-priced cost', () => {
    const r = reviewPair((stack, side) => {
      new batch.CfnComputeEnvironment(stack, 'Training', {
        type: 'MANAGED',
        computeResources: {
          type: 'SPOT', minvCpus: 0, maxvCpus: side === 'base' ? 96 : 192, instanceTypes: ['g5.12xlarge'], subnets: ['subnet-0123456789abcdef0'], instanceRole: 'arn:aws:iam::1:instance-profile/x',
        },
      });
    });
    expect(r.ml.map((m) => m.line)).toEqual(['Training: Batch vCPUs 0-96 → 0-192', 'GPUs at maximum capacity 8 → 16']);
    expect(r.cost.deltaMaxUsd).toBe(model.monthlyInstanceCost({ instance: 'g5.12xlarge', count: 2, purchase: PurchaseOption.SPOT }));
    expect(r.stacks[0].cost!.head.items[0].description).toBe('Batch compute environment: 0-4 x g5.12xlarge (spot)');
  });

  test('Aurora Serverless v2 capacity raised, NAT gateway added: cost only, nothing blocking', () => {
    const r = reviewPair((stack, side) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: side === 'base' ? 0 : 1, maxAzs: 2 });
      new rds.DatabaseCluster(stack, 'Registry', {
        engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_4 }),
        vpc,
        vpcSubnets: { subnetType: side === 'base' ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS },
        writer: rds.ClusterInstance.serverlessV2('Writer'),
        serverlessV2MinCapacity: 0.5,
        serverlessV2MaxCapacity: side === 'base' ? 4 : 8,
      });
    });
    const acu = model.unitPrices.auroraAcuHour;
    expect(r.cost.deltaMaxUsd).toBe(Math.round((model.monthlyHourly(acu * 4) + model.monthlyHourly(model.unitPrices.natGatewayHour)) * 100) / 100);
    expect(r.cost.deltaMinUsd).toBe(model.monthlyHourly(model.unitPrices.natGatewayHour));
    expect(r.stacks[0].cost!.head.items.find((i) => i.category === 'aurora')!.description).toBe('Aurora Serverless v2, 1 instance(s) x 0.5-8 ACU');
  });
});

describe('Kubernetes manifests in the app output', () => {
  const writeManifests = (side: Side) => (app: { outdir: string }) => {
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'fraud', namespace: 'serving' },
      spec: { rules: [{ backendRefs: [{ name: 'fraud-v1', port: 80, weight: side === 'base' ? 90 : 50 }, { name: 'fraud-v2', port: 80, weight: side === 'base' ? 10 : 50 }] }] },
    };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'fraud-v2', namespace: 'serving' },
      spec: { replicas: side === 'base' ? 1 : 3, template: { spec: { containers: [{ name: 'm', image: 'x', resources: { limits: { 'nvidia.com/gpu': 1 } } }] } } },
    };
    const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'checkpoints', namespace: 'training' }, spec: {} };
    const docs = side === 'base' ? [route, deployment, pvc] : [route, deployment];
    fs.mkdirSync(path.join(app.outdir, 'k8s'), { recursive: true });
    fs.writeFileSync(path.join(app.outdir, 'k8s', 'serving.k8s.yaml'), docs.map((d) => stringify(d)).join('---\n'));
  };

  test('HTTPRoute weights, replicas and GPUs summarized; a removed PVC blocks', () => {
    const r = reviewPair(() => undefined, { afterSynth: (app, side) => writeManifests(side)(app) });
    const k8s = r.stacks.find((s) => s.id === KUBERNETES_STACK_ID)!;
    expect(k8s.changes.map((c) => `${c.kind} ${c.logicalId}`)).toEqual([
      'removed PersistentVolumeClaim training/checkpoints',
      'updated apps/Deployment serving/fraud-v2',
      'updated gateway.networking.k8s.io/HTTPRoute serving/fraud',
    ]);
    expect(r.ml.map((m) => m.line)).toEqual([
      'apps/Deployment serving/fraud-v2: replicas 1 → 3',
      'apps/Deployment serving/fraud-v2: GPUs 1 → 3',
      'gateway.networking.k8s.io/HTTPRoute serving/fraud: backend weights fraud-v1 90→50, fraud-v2 10→50',
      'GPUs requested by workloads 1 → 3',
    ]);
    expect(r.blocking).toMatchObject([{ stack: KUBERNETES_STACK_ID, type: 'PersistentVolumeClaim' }]);
    const allowed = reviewPair(() => undefined, { afterSynth: (app, side) => writeManifests(side)(app) }, { allowDestroy: ['PersistentVolumeClaim/checkpoints'] });
    expect(allowed.blocking).toEqual([]);
  });
});

describe('compliance', () => {
  // cdk-nag findings fail synthesis after the assembly and its validation report are written.
  const synthWithPacks = (side: Side) => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Svc', { profile: EnvironmentProfile.prod(), project: 'p' });
    new PlatformKey(stack, 'PlatformKey');
    if (side === 'head') new s3.Bucket(stack, 'Loose');
    applyCompliancePacks(app);
    return loadAssembly(synthesizeWithPacks(app).outdir);
  };

  test('cdk-nag findings new in head are reported, old ones are not', () => {
    const base = synthWithPacks('base');
    const r = reviewAssemblies(base, synthWithPacks('head'));
    expect(r.newFindings.length).toBeGreaterThan(0);
    expect(r.newFindings.every((f) => f.resource.startsWith('Svc/Loose'))).toBe(true);
    expect(r.newFindings.map((f) => f.rule)).toContain('AwsSolutions-S10');
    expect(r.stacks[0].newFindings).toEqual(r.newFindings);
    expect(reviewAssemblies(base, base).newFindings).toEqual([]);
  });

  test('a finding acknowledged in the same change is counted as a new compliance finding, with its reason', () => {
    const synth = (side: Side) => {
      const app = newApp();
      const stack = new MlopsStack(app, 'Svc', { profile: EnvironmentProfile.prod(), project: 'p' });
      new PlatformKey(stack, 'PlatformKey');
      const bucket = new s3.Bucket(stack, 'Loose');
      if (side === 'head') Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S10', reason: 'clients inside the VPC only' });
      applyCompliancePacks(app);
      return loadAssembly(synthesizeWithPacks(app).outdir);
    };
    const r = reviewAssemblies(synth('base'), synth('head'));
    expect(r.newFindings).toEqual([]);
    expect(r.newAcknowledgements.map((f) => `${f.rule} ${f.resource} ${f.acknowledgedReason}`))
      .toEqual([expect.stringMatching(/^AwsSolutions-S10 Svc\/Loose\S* clients inside the VPC only$/)]);
    const md = renderMarkdown(r);
    expect(md).toContain('- New compliance findings: 1 (1 of them acknowledged in this change)');
    expect(md).toMatch(/- acknowledged in this change: `AwsSolutions-S10` \(\S+\) on `Svc\/Loose\S*`, reason: clients inside the VPC only/);
  });
});
