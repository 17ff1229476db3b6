import { App, Duration, NestedStack, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { newApp, NagFinding, synthesizeWithPacks } from '../../support/gate';
import {
  ArtifactPurpose, ArtifactStore, DataClassification, EnvironmentProfile, MLOPS_CHECK_TAGS, MlopsChecks, MlopsStack,
} from 'mlops-constructs';

/** Runs only the MLOps pack over an app built by `build`, returning its findings. */
function findings(build: (app: App) => void): NagFinding[] {
  const app = newApp();
  build(app);
  Validations.of(app).addPlugins(new MlopsChecks(app));
  return synthesizeWithPacks(app).findings;
}

function rulesOf(result: NagFinding[]): string[] {
  return result.map((f) => f.rule);
}

const plainStack = (app: App, id = 'Plain') => new Stack(app, id, { env: { region: 'us-east-1' } });
const mlopsStack = (app: App, profile: EnvironmentProfile) => new MlopsStack(app, profile.name, { profile, project: 'p', env: { region: 'us-east-1' } });

describe('MlopsChecks pack', () => {
  test('reports under the plugin name MLOps with rule ids MLOps-<Name> and the resource path', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      const bucket = new s3.Bucket(stack, 'Models', { removalPolicy: RemovalPolicy.RETAIN });
      Tags.of(bucket).add(MLOPS_CHECK_TAGS.purpose, 'models');
    });
    expect(result).toEqual([{ pack: 'MLOps', rule: 'MLOps-VersionedArtifactBuckets', resource: 'Plain/Models/Resource', description: expect.stringMatching(/versioning/) }]);
  });

  test('an acknowledged finding is not reported', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      const bucket = new s3.Bucket(stack, 'Models', { removalPolicy: RemovalPolicy.RETAIN });
      Tags.of(bucket).add(MLOPS_CHECK_TAGS.purpose, 'models');
      Validations.of(bucket).acknowledge({ id: 'MLOps-VersionedArtifactBuckets', reason: 'test: a scratch bucket that is rebuilt from source' });
    });
    expect(result).toEqual([]);
  });

  test('the reference pieces in dev and prod draw no MLOps finding', () => {
    for (const profile of [EnvironmentProfile.dev(), EnvironmentProfile.prod()]) {
      expect(findings((app) => {
        new ArtifactStore(mlopsStack(app, profile), 'Store');
      })).toEqual([]);
    }
  });
});

describe('MLOps-VersionedArtifactBuckets', () => {
  test('compliant: ArtifactStore buckets are tagged with their purpose and versioned', () => {
    expect(rulesOf(findings((app) => {
      new ArtifactStore(mlopsStack(app, EnvironmentProfile.dev()), 'Store');
    }))).not.toContain('MLOps-VersionedArtifactBuckets');
  });

  test('non-compliant: an unversioned datasets bucket; an untagged unversioned bucket is not checked', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      Tags.of(new s3.Bucket(stack, 'Datasets', { removalPolicy: RemovalPolicy.RETAIN })).add(MLOPS_CHECK_TAGS.purpose, 'datasets');
      new s3.Bucket(stack, 'Scratch', { removalPolicy: RemovalPolicy.RETAIN });
    });
    expect(result.filter((f) => f.rule === 'MLOps-VersionedArtifactBuckets').map((f) => f.resource)).toEqual(['Plain/Datasets/Resource']);
  });
});

describe('MLOps-ServedModelAlarms', () => {
  function endpoint(stack: Stack): sagemaker.CfnEndpoint {
    const ep = new sagemaker.CfnEndpoint(stack, 'Endpoint', { endpointConfigName: 'fraud-config' });
    Tags.of(ep).add(MLOPS_CHECK_TAGS.model, 'fraud-detector');
    return ep;
  }
  const metric = (ep: sagemaker.CfnEndpoint, metricName: string) => new cloudwatch.Metric({
    namespace: 'AWS/SageMaker', metricName, dimensionsMap: { EndpointName: ep.attrEndpointName, VariantName: 'primary' },
  });

  test('compliant: latency and error alarms on the endpoint and a rollout-health composite naming the model', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      const ep = endpoint(stack);
      const latency = new cloudwatch.Alarm(stack, 'Latency', { metric: metric(ep, 'ModelLatency'), threshold: 500000, evaluationPeriods: 1 });
      const errors = new cloudwatch.Alarm(stack, 'Errors', { metric: metric(ep, 'Invocation5XXErrors'), threshold: 1, evaluationPeriods: 1 });
      new cloudwatch.CompositeAlarm(stack, 'RolloutHealth', {
        alarmRule: cloudwatch.AlarmRule.anyOf(latency, errors), alarmDescription: 'Rollout health of fraud-detector',
      });
    });
    expect(rulesOf(result)).not.toContain('MLOps-ServedModelAlarms');
  });

  test('compliant: an endpoint whose deployment rolls back on alarms counts as rollout health', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      const ep = endpoint(stack);
      const latency = new cloudwatch.Alarm(stack, 'Latency', { metric: metric(ep, 'ModelLatency'), threshold: 500000, evaluationPeriods: 1 });
      new cloudwatch.Alarm(stack, 'Errors', { metric: metric(ep, 'Invocation5XXErrors'), threshold: 1, evaluationPeriods: 1 });
      ep.deploymentConfig = { autoRollbackConfiguration: { alarms: [{ alarmName: latency.alarmName }] } };
    });
    expect(rulesOf(result)).not.toContain('MLOps-ServedModelAlarms');
  });

  test('non-compliant: a tagged endpoint with only a latency alarm, or with none', () => {
    for (const withLatency of [true, false]) {
      const result = findings((app) => {
        const stack = plainStack(app);
        const ep = endpoint(stack);
        if (withLatency) new cloudwatch.Alarm(stack, 'Latency', { metric: metric(ep, 'ModelLatency'), threshold: 500000, evaluationPeriods: 1 });
      });
      expect(result.filter((f) => f.rule === 'MLOps-ServedModelAlarms').map((f) => f.resource)).toEqual(['Plain/Endpoint']);
    }
  });

  test('an endpoint without the mlops:model tag is not checked', () => {
    expect(rulesOf(findings((app) => {
      new sagemaker.CfnEndpoint(plainStack(app), 'Endpoint', { endpointConfigName: 'c' });
    }))).not.toContain('MLOps-ServedModelAlarms');
  });
});

describe('MLOps-GpuCostTags', () => {
  test('compliant: a GPU launch template tagged with team and cost center; a CPU one needs no tags', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      const gpu = new ec2.LaunchTemplate(stack, 'Gpu', { instanceType: new ec2.InstanceType('g5.xlarge') });
      Tags.of(gpu).add('mlops:team', 'fraud');
      Tags.of(gpu).add('mlops:cost-center', 'ml-platform');
      new ec2.LaunchTemplate(stack, 'Cpu', { instanceType: new ec2.InstanceType('m7i.large') });
    });
    expect(rulesOf(result)).not.toContain('MLOps-GpuCostTags');
  });

  test('compliant: an MlopsStack with team and cost center tags its Batch GPU compute environment', () => {
    const result = findings((app) => {
      const stack = new MlopsStack(app, 'Team', { profile: EnvironmentProfile.dev(), project: 'p', team: 'fraud', costCenter: 'cc-1', env: { region: 'us-east-1' } });
      new batch.CfnComputeEnvironment(stack, 'Gpu', {
        type: 'MANAGED',
        computeResources: { type: 'EC2', maxvCpus: 16, subnets: ['subnet-1'], instanceTypes: ['g6'], instanceRole: 'arn:aws:iam::111111111111:instance-profile/x' },
      });
    });
    expect(rulesOf(result)).not.toContain('MLOps-GpuCostTags');
  });

  test('non-compliant: an untagged GPU launch template, a SageMaker GPU endpoint config missing cost-center, a team-less Batch environment', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      new ec2.LaunchTemplate(stack, 'Gpu', { instanceType: new ec2.InstanceType('p5.48xlarge') });
      const config = new sagemaker.CfnEndpointConfig(stack, 'Config', {
        productionVariants: [{ variantName: 'primary', modelName: 'm', instanceType: 'ml.g5.xlarge', initialInstanceCount: 1 }],
      });
      Tags.of(config).add('mlops:team', 'fraud');
      const ce = new batch.CfnComputeEnvironment(stack, 'Trn', {
        type: 'MANAGED',
        computeResources: { type: 'EC2', maxvCpus: 16, subnets: ['subnet-1'], instanceTypes: ['trn1.32xlarge'], instanceRole: 'x', tags: { 'mlops:cost-center': 'cc' } },
      });
      expect(ce).toBeDefined();
    });
    expect(result.filter((f) => f.rule === 'MLOps-GpuCostTags').map((f) => f.resource).sort()).toEqual([
      'Plain/Config', 'Plain/Gpu/Resource', 'Plain/Trn',
    ]);
  });
});

describe('MLOps-StatefulRetained', () => {
  test('compliant: retained state in prod, and destroyable state in dev (by profile or by mlops:environment tag)', () => {
    const result = findings((app) => {
      new s3.Bucket(mlopsStack(app, EnvironmentProfile.prod()), 'Kept', { removalPolicy: RemovalPolicy.RETAIN });
      new s3.Bucket(mlopsStack(app, EnvironmentProfile.dev()), 'Scratch', { removalPolicy: RemovalPolicy.DESTROY });
      const tagged = plainStack(app, 'TaggedDev');
      Tags.of(tagged).add('mlops:environment', 'dev');
      new s3.Bucket(tagged, 'Scratch', { removalPolicy: RemovalPolicy.DESTROY });
    });
    expect(rulesOf(result)).not.toContain('MLOps-StatefulRetained');
  });

  test('non-compliant: buckets, keys and log groups deleted with a prod stack; stateless resources are not checked', () => {
    const result = findings((app) => {
      const stack = mlopsStack(app, EnvironmentProfile.prod());
      new s3.Bucket(stack, 'Data', { removalPolicy: RemovalPolicy.DESTROY, versioned: true });
      new cloudwatch.Alarm(stack, 'Alarm', { metric: new cloudwatch.Metric({ namespace: 'X', metricName: 'Y' }), threshold: 1, evaluationPeriods: 1 });
      new logs.LogGroup(stack, 'Logs', { removalPolicy: RemovalPolicy.DESTROY });
    });
    expect(result.filter((f) => f.rule === 'MLOps-StatefulRetained').map((f) => f.resource).sort()).toEqual(['prod/Data/Resource', 'prod/Logs/Resource']);
  });
});

describe('MLOps-OnlyPromotionWritesServedModels', () => {
  const RULE = 'MLOps-OnlyPromotionWritesServedModels';
  function models(stack: Stack): s3.Bucket {
    const bucket = new s3.Bucket(stack, 'Models', { versioned: true, removalPolicy: RemovalPolicy.RETAIN });
    Tags.of(bucket).add(MLOPS_CHECK_TAGS.purpose, 'models');
    return bucket;
  }
  function role(scope: Construct, id: string, roleName?: string): iam.Role {
    return new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'), roleName });
  }
  /** A SageMaker model serving `uri` (what ModelEndpoint renders), in `scope`. */
  function serve(scope: Construct, uri: string): void {
    new sagemaker.CfnModel(scope, 'Served', {
      executionRoleArn: 'arn:aws:iam::111111111111:role/x',
      primaryContainer: { image: 'img', modelDataUrl: uri, environment: { MODEL_URI: uri } },
    });
  }
  const put = (resources: string[], actions = ['s3:PutObject']) => new iam.PolicyStatement({ actions, resources });

  test('compliant: writers of candidates, and the promotion role the ArtifactStore designates (writing served/ from another stack)', () => {
    const result = findings((app) => {
      const data = mlopsStack(app, EnvironmentProfile.prod());
      const store = new ArtifactStore(data, 'Store');
      const serving = new Stack(app, 'Serving', { env: { region: 'us-east-1' } });
      serve(serving, store.servedModelUri('fraud', 'v3'));
      const bucket = store.bucket(ArtifactPurpose.MODELS);
      new iam.ManagedPolicy(serving, 'Train', { roles: [role(serving, 'Trainer')], statements: [put([bucket.arnForObjects('candidates/fraud/*')])] });
      const promotion = role(serving, 'Promotion', store.promotionRoleName);
      new iam.ManagedPolicy(serving, 'Promote', { roles: [promotion], statements: [put([bucket.arnForObjects('served/*')])] });
      // Allowed everything by its own policy, denied below served/ by the bucket policy.
      new iam.ManagedPolicy(serving, 'AdminPolicy', { roles: [role(serving, 'Admin')], statements: [put(['*'], ['s3:*'])] });
    });
    expect(result.filter((f) => f.rule === RULE)).toEqual([]);
  });

  test('non-compliant: any role that can write a served URI of a bucket without the promotion policy, in any stack, nested ones included', () => {
    const result = findings((app) => {
      const data = plainStack(app, 'Data');
      const bucket = models(data);
      const serving = new NestedStack(new Stack(app, 'Platform', { env: { region: 'us-east-1' } }), 'Model');
      serve(serving, `s3://${bucket.bucketName}/fraud/v3/model.tar.gz`);
      // The old layout: training writes the model's prefix, which is what production serves.
      bucket.grantPut(role(data, 'Trainer'), 'fraud/*');
      const platform = Stack.of(serving).nestedStackParent!;
      new iam.ManagedPolicy(platform, 'Engineer', { roles: [role(platform, 'MlEngineer')], statements: [put([bucket.arnForObjects('*')], ['s3:Put*'])] });
      new iam.ManagedPolicy(platform, 'Deleter', { roles: [role(platform, 'Janitor')], statements: [put([bucket.arnForObjects('fraud/v3/*')], ['s3:DeleteObject'])] });
      // Not writers: another model's prefix, a read-only role, a write explicitly denied.
      bucket.grantPut(role(data, 'OtherModel'), 'recommender/*');
      bucket.grantRead(role(data, 'Reader'));
      const denied = role(data, 'Denied');
      bucket.grantPut(denied);
      denied.addToPrincipalPolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['s3:*'], resources: [bucket.arnForObjects('fraud/*')] }));
    });
    expect(result.filter((f) => f.rule === RULE).map((f) => f.resource).sort()).toEqual([
      'Data/Trainer/Resource', 'Platform/Janitor/Resource', 'Platform/MlEngineer/Resource',
    ]);
  });

  test('non-compliant: the promotion role of a store with the policy writing a served URI of another, unprotected bucket', () => {
    const result = findings((app) => {
      const stack = mlopsStack(app, EnvironmentProfile.prod());
      const store = new ArtifactStore(stack, 'Store');
      const loose = models(stack);
      serve(stack, `s3://${loose.bucketName}/served/fraud/v1/model.tar.gz`);
      loose.grantPut(role(stack, 'Promotion', store.promotionRoleName), 'served/*');
    });
    expect(result.filter((f) => f.rule === RULE).map((f) => f.resource)).toEqual(['prod/Promotion/Resource']);
  });
});

describe('MLOps-DataCaptureEncrypted', () => {
  function config(stack: Stack, id: string, kmsKeyId?: string): void {
    new sagemaker.CfnEndpointConfig(stack, id, {
      productionVariants: [{ variantName: 'primary', modelName: 'm', instanceType: 'ml.m5.large', initialInstanceCount: 1 }],
      dataCaptureConfig: {
        initialSamplingPercentage: 10, destinationS3Uri: 's3://capture/', captureOptions: [{ captureMode: 'Input' }], kmsKeyId,
      },
    });
  }

  test('compliant: capture with a KMS key; no capture at all is not checked', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      config(stack, 'Encrypted', 'arn:aws:kms:us-east-1:111111111111:key/abc');
      new sagemaker.CfnEndpointConfig(stack, 'NoCapture', {
        productionVariants: [{ variantName: 'primary', modelName: 'm', instanceType: 'ml.m5.large', initialInstanceCount: 1 }],
      });
    });
    expect(rulesOf(result)).not.toContain('MLOps-DataCaptureEncrypted');
  });

  test('non-compliant: capture without a KMS key', () => {
    const result = findings((app) => config(plainStack(app), 'Plaintext'));
    expect(result.filter((f) => f.rule === 'MLOps-DataCaptureEncrypted').map((f) => f.resource)).toEqual(['Plain/Plaintext']);
  });
});

describe('MLOps-RestrictedDataRetention', () => {
  test('compliant: a RESTRICTED ArtifactStore with retentionDays', () => {
    const result = findings((app) => {
      new ArtifactStore(mlopsStack(app, EnvironmentProfile.prod()), 'Store', { dataClassification: DataClassification.RESTRICTED, retentionDays: 365 });
    });
    expect(rulesOf(result)).not.toContain('MLOps-RestrictedDataRetention');
  });

  test('non-compliant: a restricted bucket whose lifecycle expires only noncurrent versions; an internal bucket is not checked', () => {
    const result = findings((app) => {
      const stack = plainStack(app);
      const restricted = new s3.Bucket(stack, 'Pii', {
        versioned: true, removalPolicy: RemovalPolicy.RETAIN, lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      });
      Tags.of(restricted).add('mlops:data-classification', 'restricted');
      Tags.of(new s3.Bucket(stack, 'Internal', { removalPolicy: RemovalPolicy.RETAIN })).add('mlops:data-classification', 'internal');
    });
    expect(result.filter((f) => f.rule === 'MLOps-RestrictedDataRetention').map((f) => f.resource)).toEqual(['Plain/Pii/Resource']);
  });
});
