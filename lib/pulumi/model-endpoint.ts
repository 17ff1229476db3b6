import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ArtifactPurpose, Check, CronFields, EndpointHosting, EndpointRollbackAlarmSpec, MODEL_ARTIFACT_LAYOUT, ModelEndpointSpec,
  ModelEndpointSpecInput, physicalName, resolveEndpointVariants, resolveModelEndpointSpec, Rollout, ServedState, validateEndpointModel,
  validateImageTag, variantByName,
} from '../core';
import { alarmFromSpec, CloudWatchMetric, ErrorRateMetric, ServingMetrics } from './alarms';
import { ArtifactStore } from './artifact-store';
import {
  accountContext, attachStatements, childOptions, componentSpecScope, denyInsecureTopicStatement, MlopsComponentArgs, policyJson,
  resolveProfileAndTags, rotatingKey, serviceRole,
} from './component-support';
import { IImageRepository } from './image-repository';
import { awsNativeSagemaker, awsNativeTags, ComponentEndpointConfig, InferenceComponent } from './inference-component';
import { checkServedStateArgs, readServedState, ServedStateArgs, servedVariant } from './served-state';

export interface ModelEndpointArgs extends MlopsComponentArgs, Omit<ModelEndpointSpecInput, 'rollbackAlarmCount' | 'costModel'> {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets the model containers run in. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Where the model artifacts live (MODELS) and where requests and responses are captured (ARTIFACTS). */
  readonly artifactStore: ArtifactStore;
  /** Repository of the serving image. */
  readonly image: IImageRepository;
  /** Tag of the serving image. */
  readonly imageTag: string;
  /**
   * Endpoint name (also the data capture prefix `data-capture/<endpointName>/`).
   * @default - a name unique to the project, stack and component
   */
  readonly endpointName?: string;
  /**
   * ARN of the key for the endpoint's storage volumes (not for types with NVMe instance storage, which SageMaker
   * encrypts itself) and its alarm topic.
   * @default - a new key with rotation on, usable by CloudWatch alarms
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
  /**
   * Names of the alarms that roll a deployment back (at most 10).
   * @default - an error-rate and a p99 model-latency alarm per production variant, thresholds from the profile
   */
  readonly rollbackAlarmNames?: pulumi.Input<string>[];
  /**
   * Topic the default rollback alarms notify.
   * @default - a new topic encrypted with the key, TLS only
   */
  readonly alarmTopicArn?: pulumi.Input<string>;
  /**
   * The model's served state (docs/design/served-models.md; `MlopsPlatform` passes one for every endpoint with one
   * production variant), created with `ModelEndpoint.initialServedState(args)`. With it, the model's `ModelDataUrl` is
   * the served state's version at `pulumi up`: a `pulumi up` after a promotion serves the promoted version (SageMaker
   * replaces the model and the endpoint configuration, and the endpoint update runs through its deployment guardrails)
   * and never the program's older one. Only for endpoints with one production variant (all at once, canary, linear,
   * blue/green): shadow and A/B endpoints keep the program's versions, as on the CDK side (promotion refuses them).
   * The served state's weight is not used (SageMaker owns endpoint traffic).
   * @default - the version is the program's (`modelVersion`)
   */
  readonly servedState?: ServedStateArgs;
}

/** One model variant of the endpoint. */
export interface ModelEndpointVariant {
  readonly name: string;
  readonly modelVersion: string;
  readonly weight: number;
  readonly shadow: boolean;
  readonly model: aws.sagemaker.Model;
}

const SAGEMAKER_NAMESPACE = 'AWS/SageMaker';

/**
 * The Pulumi counterpart of the CDK `ModelEndpoint`: a SageMaker real-time endpoint with one model per variant (A/B
 * production variants, or a shadow), network isolation in private subnets, request/response capture to the artifact
 * store encrypted with its key, invocations-per-instance autoscaling, and deployment guardrails (canary, linear or
 * blue/green) that roll back on the rollback alarms. Variants, guardrails, capacity, alarms and cost come from core's
 * `resolveModelEndpointSpec`, as in the CDK construct.
 *
 * As the CDK one: where the profile has working hours (dev), an endpoint with one variant scales to zero instances
 * outside them (`scaleToZeroOffHours`): the model is an inference component (`@pulumi/aws-native`, an optional peer
 * dependency whose provider needs `aws-native:region`) on a variant with managed instance scaling from 0, and the
 * component's copies are scheduled to 0 off hours and back at the start of working hours. Other endpoints keep one
 * instance per variant outside working hours.
 */
export class ModelEndpoint extends pulumi.ComponentResource implements ServingMetrics {
  public static readonly TYPE = 'mlops:aws:ModelEndpoint';

  /**
   * The served state an endpoint with these args starts from (as the CDK `ModelEndpoint.initialServedState`): its
   * variants in order, each with its version; weights are the production split (one variant: 100) and 0 for a shadow.
   */
  public static initialServedState(
    args: Pick<ModelEndpointArgs, 'modelVersion' | 'variantVersions' | 'rollout'>, scope = ModelEndpoint.TYPE,
  ): ServedState {
    const variants = resolveEndpointVariants({ scope, isUnresolved: () => false }, args.rollout ?? Rollout.allAtOnce(), args.modelVersion,
      args.variantVersions ?? {});
    const production = variants.filter((v) => !v.shadow);
    return {
      variants: variants.map((v) => ({ variant: v.name, version: v.version, weight: v.shadow ? 0 : production.length === 1 ? 100 : v.weight })),
    };
  }

  public readonly spec: ModelEndpointSpec;
  public readonly modelName: string;
  public readonly endpointName: string;
  public readonly endpoint: aws.sagemaker.Endpoint;
  /** The endpoint configuration: `@pulumi/aws`'s, or `@pulumi/aws-native`'s when `hosting` is `inference-component`. */
  public readonly endpointConfig: aws.sagemaker.EndpointConfiguration | ComponentEndpointConfig;
  /** `inference-component` when the endpoint scales to zero off hours (`scaleToZeroOffHours`), else `variant`. */
  public readonly hosting: EndpointHosting;
  /** The inference component hosting the model (`@pulumi/aws-native`), when `hosting` is `inference-component`. */
  public readonly inferenceComponent?: InferenceComponent;
  public readonly variants: ModelEndpointVariant[];
  /** Execution role: reads `<modelName>/` of MODELS, writes the capture prefix of ARTIFACTS, pulls the image. */
  public readonly role: aws.iam.Role;
  public readonly securityGroup: aws.ec2.SecurityGroup;
  public readonly encryptionKeyArn: pulumi.Output<string>;
  /** The default rollback alarms (none when `rollbackAlarmNames` is given). */
  public readonly rollbackAlarms: aws.cloudwatch.MetricAlarm[] = [];
  public readonly dataCaptureUri: pulumi.Output<string>;
  public readonly scalableTargets: aws.appautoscaling.Target[];
  /** SageMaker model latency is in microseconds. */
  public readonly latencyUnit = 'microseconds' as const;
  public readonly nvidiaGpu: boolean;
  /** With `servedState`: the served state as `pulumi up` read it (the model's version). The variants' `modelVersion` is the program's. */
  public readonly servedState?: pulumi.Output<ServedState>;
  /** With `servedState`: its parameter (name and ARN), from which a pipeline reads the version production serves. */
  public readonly servedStateParameter?: { readonly name: string; readonly arn: pulumi.Input<string> };
  private readonly check: Check;

  constructor(name: string, args: ModelEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(ModelEndpoint.TYPE, name);
    const check = new Check(scope.scope, scope.isUnresolved);
    validateEndpointModel(scope, args.modelName, args.modelVersion);
    for (const required of ['artifactStore', 'image', 'imageTag'] as const) {
      if (args[required] === undefined) check.fail(required, undefined, 'is required', `pass '${required}' to the ModelEndpoint.`);
    }
    validateImageTag(check, 'imageTag', args.imageTag);
    const endpointName = args.endpointName ?? physicalName([pulumi.getProject(), pulumi.getStack(), name], { maxLength: 63 });
    const spec = resolveModelEndpointSpec(scope, { ...args, rollbackAlarmCount: args.rollbackAlarmNames?.length }, endpointName, profile);
    // Loaded before any resource is created, so a missing package fails the program cleanly.
    const native = spec.inferenceComponent
      ? awsNativeSagemaker(check, { scaleToZeroOffHours: args.scaleToZeroOffHours, profileName: profile.name }) : undefined;
    if (args.servedState !== undefined) {
      if (spec.variants.length !== 1) {
        check.fail('servedState', spec.variants.map((v) => v.name).join(','),
          `is only for an endpoint with one production variant (this ${spec.rollout.kind} endpoint has ${spec.variants.length})`,
          'omit servedState: shadow and A/B endpoints keep the program\'s versions (promotion refuses them as NotPromotable).');
      }
      checkServedStateArgs(scope.scope, args.modelName, args.servedState, ModelEndpoint.initialServedState(args, scope.scope), 'ModelEndpoint');
    }
    super(ModelEndpoint.TYPE, name, {}, opts);
    this.spec = spec;
    this.check = check;
    this.modelName = args.modelName;
    this.endpointName = endpointName;
    this.nvidiaGpu = spec.instance.isNvidiaGpu;
    this.hosting = spec.hosting;
    const tags = { ...mlopsTags.toAwsTags(), 'mlops:model': args.modelName };
    const account = accountContext(this);
    const store = args.artifactStore;

    this.encryptionKeyArn = pulumi.output(args.encryptionKeyArn ?? rotatingKey(`${name}-key`, `SageMaker endpoint ${endpointName}`, {
      retain: false,
      pendingWindowDays: 30,
      tags,
      statements: [{
        Sid: 'AllowCloudWatchAlarmsToEncryptedTopics',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': account.accountId } },
      }],
    }, this).arn);

    this.role = serviceRole(`${name}-execution-role`, {
      service: 'sagemaker.amazonaws.com', description: `Execution role of SageMaker endpoint ${endpointName}`, tags, permissionsBoundary: args.permissionsBoundary,
    }, this);
    const policy = attachStatements(`${name}-execution-policy`, this.role, [
      ...store.grantStatements('read', ArtifactPurpose.MODELS, MODEL_ARTIFACT_LAYOUT.servedPrefix(args.modelName)),
      ...store.grantStatements('write', ArtifactPurpose.ARTIFACTS, spec.dataCapturePrefix),
      ...args.image.pullStatements(),
      {
        // SageMaker attaches the model containers to the VPC; these EC2 actions have no resource-level scoping.
        Effect: 'Allow',
        Action: [
          'ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface', 'ec2:DeleteNetworkInterfacePermission',
          'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: pulumi.interpolate`arn:${account.partition}:logs:${account.region}:${account.accountId}:log-group:/aws/sagemaker/Endpoints/${endpointName}:*`,
      },
    ], this, `Permissions of endpoint ${endpointName}`, tags)!;

    this.securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
      vpcId: args.vpcId,
      description: `Model containers of SageMaker endpoint ${endpointName}: no inbound access`,
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'Model artifacts, images and AWS APIs' }],
      tags,
    }, childOptions(this));
    const imageUri = args.image.imageUri(args.imageTag);

    const served = args.servedState;
    this.servedStateParameter = served ? { name: served.name, arn: served.arn } : undefined;
    this.servedState = served ? readServedState(served, spec.variants.map((v) => v.name), this, scope.scope) : undefined;
    this.variants = spec.variants.map((v, index) => {
      // The served state's version at pulumi up, else the program's.
      const version = served && this.servedState
        ? this.servedState.apply((state) => servedVariant(state, index, v.name, served.name, scope.scope).version)
        : pulumi.output(v.version);
      // Exactly one promoted version: its archive below served/, which only promotion writes, once (as the CDK ModelEndpoint).
      const modelUri = version.apply((ver) => `${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix(args.modelName, ver)}${MODEL_ARTIFACT_LAYOUT.archive}`)
        .apply((key) => store.s3Uri(ArtifactPurpose.MODELS, key));
      const model = new aws.sagemaker.Model(`${name}-${v.name}-model`, {
        executionRoleArn: this.role.arn,
        enableNetworkIsolation: true,
        vpcConfig: { subnets: args.subnetIds, securityGroupIds: [this.securityGroup.id] },
        primaryContainer: {
          image: imageUri,
          modelDataUrl: modelUri,
          environment: { MODEL_URI: modelUri },
        },
        tags,
      }, { parent: this, dependsOn: [policy] });
      return { name: v.name, modelVersion: v.version, weight: v.weight, shadow: v.shadow, model };
    });

    const variantConfig = (v: ModelEndpointVariant) => ({
      variantName: v.name,
      modelName: v.model.name,
      initialInstanceCount: spec.minCapacity,
      instanceType: spec.mlInstanceType,
      initialVariantWeight: v.weight,
    });
    this.dataCaptureUri = store.s3Uri(ArtifactPurpose.ARTIFACTS, spec.dataCapturePrefix);
    const dataCaptureConfig = {
      enableCapture: true,
      initialSamplingPercentage: spec.dataCapturePercent,
      destinationS3Uri: this.dataCaptureUri,
      kmsKeyId: store.encryptionKey.arn,
      captureOptions: [{ captureMode: 'Input' as const }, { captureMode: 'Output' as const }],
    };
    const shadows = this.variants.filter((v) => v.shadow);
    const component = spec.inferenceComponent;
    this.endpointConfig = native ? new native.EndpointConfig(`${name}-config`, {
      // The inference component names the model; SageMaker adds and removes instances with its copies, down to zero.
      productionVariants: this.variants.map((v) => ({
        variantName: v.name,
        initialInstanceCount: spec.minCapacity,
        instanceType: spec.mlInstanceType,
        managedInstanceScaling: { status: 'ENABLED', minInstanceCount: 0, maxInstanceCount: spec.maxCapacity },
        routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      })),
      kmsKeyId: spec.volumeKmsKey ? this.encryptionKeyArn : undefined,
      // An endpoint hosting inference components runs them with the configuration's role, network and isolation.
      executionRoleArn: this.role.arn,
      vpcConfig: { subnets: args.subnetIds, securityGroupIds: [this.securityGroup.id] },
      enableNetworkIsolation: true,
      dataCaptureConfig,
      tags: awsNativeTags(tags),
    }, { parent: this, dependsOn: [policy] }) : new aws.sagemaker.EndpointConfiguration(`${name}-config`, {
      productionVariants: this.variants.filter((v) => !v.shadow).map(variantConfig),
      shadowProductionVariants: shadows.length > 0 ? shadows.map(variantConfig) : undefined,
      kmsKeyArn: spec.volumeKmsKey ? this.encryptionKeyArn : undefined,
      dataCaptureConfig,
      tags,
    }, childOptions(this));
    const endpointConfigName = this.endpointConfig instanceof aws.sagemaker.EndpointConfiguration
      ? this.endpointConfig.name : this.endpointConfig.endpointConfigName;

    let rollbackAlarmNames: pulumi.Input<string>[];
    if (args.rollbackAlarmNames) {
      rollbackAlarmNames = [...args.rollbackAlarmNames];
    } else {
      const topicArn = args.alarmTopicArn ?? this.newAlarmTopic(name, tags);
      for (const alarm of spec.defaultRollbackAlarms) this.rollbackAlarms.push(this.rollbackAlarm(name, alarm, topicArn, tags));
      rollbackAlarmNames = this.rollbackAlarms.map((a) => a.name);
    }

    const rollback = rollbackAlarmNames.length === 0 ? undefined : { alarms: rollbackAlarmNames.map((alarmName) => ({ alarmName })) };
    this.endpoint = new aws.sagemaker.Endpoint(`${name}-endpoint`, {
      name: endpointName,
      endpointConfigName,
      // With an inference component, the component's rolling update (below) carries the guardrails.
      deploymentConfig: component ? undefined : {
        blueGreenUpdatePolicy: {
          trafficRoutingConfiguration: { ...spec.trafficRouting },
          maximumExecutionTimeoutInSeconds: spec.maximumExecutionTimeoutInSeconds,
        },
        autoRollbackConfiguration: rollback,
      },
      tags,
    }, childOptions(this));
    if (native && component) {
      const [hosted] = this.variants;
      this.inferenceComponent = new native.InferenceComponent(`${name}-component`, {
        inferenceComponentName: component.name,
        endpointName: this.endpoint.name,
        variantName: hosted.name,
        specification: {
          modelName: hosted.model.name,
          computeResourceRequirements: {
            numberOfAcceleratorDevicesRequired: component.acceleratorDevices,
            minMemoryRequiredInMb: component.minMemoryMiB,
          },
        },
        runtimeConfig: { copyCount: spec.minCapacity },
        deploymentConfig: { rollingUpdatePolicy: { ...component.rollingUpdate }, autoRollbackConfiguration: rollback },
        tags: awsNativeTags(tags),
      }, childOptions(this));
    }

    const scalingRoleArn = pulumi.interpolate`arn:${account.partition}:iam::${account.accountId}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`;
    this.scalableTargets = this.variants.filter((v) => !v.shadow).map((v) => {
      const id = `${name}-${v.name}-scaling`;
      // With an inference component, its copy count (one copy per instance): managed instance scaling follows it, to zero.
      const target = new aws.appautoscaling.Target(id, {
        serviceNamespace: 'sagemaker',
        resourceId: component ? `inference-component/${component.name}` : pulumi.interpolate`endpoint/${this.endpoint.name}/variant/${v.name}`,
        scalableDimension: component ? 'sagemaker:inference-component:DesiredCopyCount' : 'sagemaker:variant:DesiredInstanceCount',
        minCapacity: spec.minCapacity,
        maxCapacity: spec.maxCapacity,
        roleArn: scalingRoleArn,
        tags,
      }, { parent: this, dependsOn: [this.inferenceComponent ?? this.endpoint] });
      new aws.appautoscaling.Policy(`${id}-invocations`, {
        policyType: 'TargetTrackingScaling',
        resourceId: target.resourceId,
        scalableDimension: target.scalableDimension,
        serviceNamespace: target.serviceNamespace,
        targetTrackingScalingPolicyConfiguration: {
          predefinedMetricSpecification: {
            predefinedMetricType: component ? 'SageMakerInferenceComponentInvocationsPerCopy' : 'SageMakerVariantInvocationsPerInstance',
          },
          targetValue: spec.targetInvocationsPerInstancePerMinute,
          scaleInCooldown: spec.scaleInCooldownSeconds,
          scaleOutCooldown: spec.scaleOutCooldownSeconds,
        },
      }, childOptions(this));
      if (spec.offHours) {
        const { scaleDown, scaleUp, timeZone } = spec.offHours;
        this.scheduledAction(`${id}-scale-down-off-hours`, target, scaleDown, timeZone, spec.offHoursCapacity, spec.offHoursCapacity);
        this.scheduledAction(`${id}-scale-up-working-hours`, target, scaleUp, timeZone, spec.minCapacity, spec.maxCapacity);
      }
      return target;
    });

    this.registerOutputs({ endpointName: this.endpoint.name, dataCaptureUri: this.dataCaptureUri, costEstimate: spec.costEstimate });
  }

  /** Model latency of a variant at a percentile, in microseconds. */
  public metricLatency(percentile: 'p50' | 'p90' | 'p99' = 'p99', variant?: string): CloudWatchMetric {
    return this.metric('ModelLatency', percentile, variant);
  }

  /** Share of a variant's invocations answered with a 5xx. */
  public metricErrorRate(variant?: string): ErrorRateMetric {
    return { errors: this.metric('Invocation5XXErrors', 'Sum', variant), requests: this.metric('Invocations', 'Sum', variant) };
  }

  /**
   * GPU utilization of a variant's instances (summed over an instance's GPUs); with an inference component, its copies'
   * utilization normalized to 0-100 (as the CDK endpoint's).
   */
  public metricGpuUtilization(variant?: string): CloudWatchMetric {
    const component = this.spec.inferenceComponent;
    if (component) {
      this.variant(variant);
      return {
        namespace: '/aws/sagemaker/InferenceComponents',
        metricName: 'GPUUtilizationNormalized',
        dimensions: { InferenceComponentName: component.name },
        statistic: 'Average',
        periodSeconds: 60,
      };
    }
    return {
      namespace: '/aws/sagemaker/Endpoints',
      metricName: 'GPUUtilization',
      dimensions: { EndpointName: this.endpointName, VariantName: this.variant(variant).name },
      statistic: 'Average',
      periodSeconds: 60,
    };
  }

  /** A variant by name; the first production variant when no name is given. */
  public variant(name?: string): ModelEndpointVariant {
    return variantByName(this.check, 'endpoint', this.variants, name);
  }

  private metric(metricName: string, statistic: string, variant?: string): CloudWatchMetric {
    const { name } = this.variant(variant);
    const component = this.spec.inferenceComponent;
    return {
      namespace: SAGEMAKER_NAMESPACE,
      metricName,
      // SageMaker publishes an inference component's invocation metrics by component, not by endpoint and variant.
      dimensions: component ? { InferenceComponentName: component.name } : { EndpointName: this.endpointName, VariantName: name },
      statistic,
      periodSeconds: 60,
    };
  }

  private rollbackAlarm(
    name: string, spec: EndpointRollbackAlarmSpec, topicArn: pulumi.Input<string>, tags: Record<string, string>,
  ): aws.cloudwatch.MetricAlarm {
    const metric = spec.kind === 'error-rate' ? this.metricErrorRate(spec.variant) : this.metricLatency('p99', spec.variant);
    return alarmFromSpec(`${name}-${spec.variant}-${spec.kind}`, { ...spec, id: `${spec.kind}-${spec.variant}` }, metric, { actions: [topicArn], tags, parent: this });
  }

  private newAlarmTopic(name: string, tags: Record<string, string>): pulumi.Output<string> {
    const topic = new aws.sns.Topic(`${name}-alarm-topic`, {
      displayName: `Rollback alarms of ${this.endpointName}`.slice(0, 100),
      kmsMasterKeyId: this.encryptionKeyArn,
      tags,
    }, childOptions(this));
    new aws.sns.TopicPolicy(`${name}-alarm-topic-policy`, {
      arn: topic.arn,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [denyInsecureTopicStatement(topic.arn)],
      }),
    }, childOptions(this));
    return topic.arn;
  }

  private scheduledAction(id: string, target: aws.appautoscaling.Target, cron: CronFields, timeZone: string, min: number, max: number): void {
    new aws.appautoscaling.ScheduledAction(id, {
      name: id,
      serviceNamespace: target.serviceNamespace,
      resourceId: target.resourceId,
      scalableDimension: target.scalableDimension,
      schedule: `cron(${cron.minute} ${cron.hour} ? * ${cron.weekDay} *)`,
      timezone: timeZone,
      scalableTargetAction: { minCapacity: min, maxCapacity: max },
    }, childOptions(this));
  }
}
