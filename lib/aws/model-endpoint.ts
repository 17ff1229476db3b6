import { Aws, Duration, Names, Stack, TimeZone, Token, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  EndpointHosting, EndpointInferenceComponentSpec, EndpointRollbackAlarmSpec, EnvironmentProfile, GpuInstance, LatencyUnit,
  MODEL_ARTIFACT_LAYOUT, MonthlyCostRange, resolveEndpointVariants, resolveModelEndpointSpec, Rollout, ServedState, SpecScope,
  validateEndpointModel, variantByName,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { IImageRepository } from './image-repository';
import { IServingMetrics, LatencyPercentile } from './inference-fleet';
import { chargeUnownedCapacityToPlatform } from './private/capacity-tags';
import { checkImageTag } from './private/image-tag';
import { newKey } from './private/keys';
import { ManagedPolicyPrincipal } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { ServedStateParameter } from './private/served-state';
import { checkFor, MlopsScope } from './scope';

export interface ModelEndpointProps {
  /** VPC the model containers run in (PRIVATE_WITH_EGRESS subnets). */
  readonly vpc: ec2.IVpc;
  /** Model name: the endpoint serves `served/<modelName>/<version>/model.tar.gz` of the store's MODELS bucket (promoted by ModelPromotion). */
  readonly modelName: string;
  /**
   * Model version the endpoint serves. With a canary, linear or blue/green rollout, changing it updates the
   * endpoint through SageMaker deployment guardrails.
   */
  readonly modelVersion: string;
  /**
   * Model version per variant for rollouts that serve several at once: every variant of an A/B test, and
   * `candidate` (the shadow) of a shadow rollout. `current` defaults to `modelVersion`.
   * @default - only `modelVersion`
   */
  readonly variantVersions?: Record<string, string>;
  /** Where the model artifacts live (MODELS) and where request/response data is captured (ARTIFACTS). */
  readonly artifactStore: IArtifactStore;
  /** Repository of the serving image. */
  readonly image: IImageRepository;
  /** Tag of the serving image. */
  readonly imageTag: string;
  /**
   * Instance type from the catalog (`GpuInstance`), without the `ml.` prefix.
   * @default 'g5.xlarge'
   */
  readonly instanceType?: string;
  /**
   * Endpoint name (also the data capture prefix `data-capture/<endpointName>/`).
   * @default - a unique name built from the construct path
   */
  readonly endpointName?: string;
  /**
   * Key for the endpoint's storage volumes (on instance types without instance storage; SageMaker rejects a
   * key for types with NVMe instance storage, which it encrypts with hardware keys) and for its alarm topic.
   * @default - a new key with rotation on
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Instances (copies, with `scaleToZeroOffHours`) per production variant at least in working hours, 1 or more.
   * @default - the profile's `minCapacity.inferenceInstances`, at least 1
   */
  readonly minCapacity?: number;
  /**
   * Instances per production variant at most.
   * @default - twice the minimum, and at least 2
   */
  readonly maxCapacity?: number;
  /**
   * Target of the invocations tracking policy, per instance per minute.
   * @default 300
   */
  readonly targetInvocationsPerInstancePerMinute?: number;
  /**
   * Scale each production variant down to one instance outside the profile's working hours and back at their start.
   * @default - true where the profile has working hours (dev)
   */
  readonly scaleDownOffHours?: boolean;
  /**
   * Scale to zero instances outside the profile's working hours and back at their start, as `InferenceFleet` does.
   * The model is then hosted as a SageMaker inference component (one copy per instance) on a variant whose instances
   * SageMaker scales with the copies, from zero (managed instance scaling): the only way SageMaker scales an endpoint
   * to zero. Requests outside working hours fail with SageMaker's "no capacity" error. A new model version rolls in
   * batches of 5-50% of the copies (a canary's percent, a linear rollout's step, else 50%), baked and watched by the
   * rollback alarms, instead of the endpoint's blue/green traffic shifting.
   * Not for A/B or shadow rollouts (inference components have no weighted or shadow variants).
   * @default - true where the profile has working hours (dev), `scaleDownOffHours` is not false and the endpoint
   * serves one variant
   */
  readonly scaleToZeroOffHours?: boolean;
  /**
   * How a new model version takes traffic.
   * @default Rollout.allAtOnce()
   */
  readonly rollout?: Rollout;
  /**
   * Alarms that roll a deployment back (at most 10).
   * @default - an error-rate and a p99 model-latency alarm per production variant, thresholds from the profile
   */
  readonly rollbackAlarms?: cloudwatch.IAlarm[];
  /**
   * Topic the default rollback alarms notify.
   * @default - a new topic encrypted with `encryptionKey`, TLS only
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Share of requests whose input and output are captured, 1-100.
   * @default 100
   */
  readonly dataCapturePercent?: number;
  /**
   * Where the endpoint reads the version of each variant at deploy time (a `ServedStateParameter` created with
   * `ModelEndpoint.initialServedState(props)`, in a stack that deploys first), so promotion owns the version: it writes
   * the served state and updates the stack, and SageMaker deployment guardrails shift the traffic; a later deploy
   * keeps the promoted version. The served state's weights are not used (SageMaker owns endpoint traffic).
   * @default - the version is the template's (`modelVersion`, `variantVersions`)
   */
  readonly servedState?: ServedStateParameter;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/** One model variant of the endpoint. */
export interface ModelEndpointVariant {
  readonly name: string;
  readonly modelVersion: string;
  /** Weight of the variant; for a shadow, the share of production requests copied to it, in percent. */
  readonly weight: number;
  readonly shadow: boolean;
  readonly model: sagemaker.CfnModel;
}

const SAGEMAKER_NAMESPACE = 'AWS/SageMaker';

/**
 * A SageMaker real-time endpoint: one model per variant from the serving image and this model's artifacts,
 * network isolation in private subnets, request/response capture to the artifact store (encrypted, the input
 * of drift monitoring), Application Auto Scaling on invocations per instance with an off-hours floor in dev,
 * A/B production variants, shadow variants, and deployment guardrails (canary, linear or all-at-once
 * blue/green) that roll back when alarms fire.
 *
 * Where the profile has working hours (dev), an endpoint with one variant scales to zero instances outside them: it
 * hosts its model as an inference component on a variant with managed instance scaling (`scaleToZeroOffHours`).
 * Other endpoints (A/B, shadow, or `scaleToZeroOffHours: false`) keep one instance per variant outside working hours.
 */
export class ModelEndpoint extends Construct implements IServingMetrics {
  /**
   * The served state an endpoint with these props starts from: its variants in order, each with its version; weights
   * are the production split (one variant: 100) and 0 for a shadow.
   */
  public static initialServedState(props: Pick<ModelEndpointProps, 'modelVersion' | 'variantVersions' | 'rollout'>, scope = 'ModelEndpoint'): ServedState {
    const variants = resolveEndpointVariants({ scope, isUnresolved: (x) => Token.isUnresolved(x) }, props.rollout ?? Rollout.allAtOnce(),
      props.modelVersion, props.variantVersions ?? {});
    const production = variants.filter((v) => !v.shadow);
    return {
      variants: variants.map((v) => ({
        variant: v.name, version: v.version, weight: v.shadow ? 0 : production.length === 1 ? 100 : v.weight,
      })),
    };
  }

  public readonly endpoint: sagemaker.CfnEndpoint;
  public readonly endpointConfig: sagemaker.CfnEndpointConfig;
  public readonly endpointName: string;
  public readonly variants: ModelEndpointVariant[];
  /** Execution role: reads `served/<modelName>/` of MODELS, writes the capture prefix of ARTIFACTS, pulls the image. */
  public readonly role: iam.Role;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly encryptionKey: kms.IKey;
  public readonly instance: GpuInstance;
  public readonly rollout: Rollout;
  /** The served model's name (what `MlopsMonitoring.monitor` names its alarms after). */
  public readonly modelName: string;
  /** The served state the endpoint reads its versions from (`servedState`), if any. */
  public readonly servedState?: ServedStateParameter;
  /** SageMaker model latency is in microseconds. */
  public readonly latencyUnit: LatencyUnit = 'microseconds';
  /** The alarms that roll a deployment back. */
  public readonly rollbackAlarms: cloudwatch.IAlarm[];
  /** `s3://` URI request and response data is captured to. */
  public readonly dataCaptureUri: string;
  public readonly minCapacity: number;
  public readonly maxCapacity: number;
  /** `inference-component` when the endpoint scales to zero off hours (`scaleToZeroOffHours`), else `variant`. */
  public readonly hosting: EndpointHosting;
  /** The inference component hosting the model, when `hosting` is `inference-component`. */
  public readonly inferenceComponent?: sagemaker.CfnInferenceComponent;
  /** One scalable target per production variant (the inference component's copy count with `scaleToZeroOffHours`). */
  public readonly scalableTargets: appscaling.ScalableTarget[];
  /**
   * Monthly instance cost of all variants at minimum and at maximum capacity, at SageMaker's real-time inference
   * rates for the `ml.*` type (`SAGEMAKER_HOSTING_HOURLY_USD`), not EC2's.
   */
  public readonly costEstimate: MonthlyCostRange;
  private readonly componentSpec?: EndpointInferenceComponentSpec;

  constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    chargeUnownedCapacityToPlatform(this);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);

    // Validate everything before creating resources.
    validateEndpointModel(this.specScope(), props.modelName, props.modelVersion);
    for (const required of ['vpc', 'artifactStore', 'image', 'imageTag'] as const) {
      if (props[required] === undefined) check.fail(required, undefined, 'is required', `pass '${required}' to the ModelEndpoint.`);
    }
    // Checked here so a bad tag is blamed on this prop, not on the image repository's `imageUri(tag)`.
    checkImageTag(check, 'imageTag', props.imageTag);
    this.modelName = props.modelName;
    this.servedState = props.servedState;
    this.endpointName = props.endpointName ?? Names.uniqueResourceName(this, { maxLength: 63, separator: '-' }).toLowerCase();
    // Defaults, validation, guardrails and cost shared with the Pulumi ModelEndpoint.
    const spec = resolveModelEndpointSpec(this.specScope(), { ...props, rollbackAlarmCount: props.rollbackAlarms?.length },
      this.endpointName, profile);
    this.instance = spec.instance;
    this.rollout = spec.rollout;
    const traffic = { routing: spec.trafficRouting, maximumExecutionSeconds: spec.maximumExecutionTimeoutInSeconds };
    const { minCapacity, maxCapacity } = spec;
    const targetInvocations = spec.targetInvocationsPerInstancePerMinute;
    const capturePercent = spec.dataCapturePercent;
    const schedule = spec.offHours;
    const scaleDownOffHours = schedule !== undefined;
    const versions = spec.variants.map((v) => ({ name: v.name, version: v.version, weight: v.weight, shadow: v.shadow }));
    this.minCapacity = minCapacity;
    this.maxCapacity = maxCapacity;
    this.hosting = spec.hosting;
    this.componentSpec = spec.inferenceComponent;

    this.encryptionKey = props.encryptionKey ?? newKey(this, 'Key', {
      description: `mlops-constructs model endpoint at ${this.node.path}`,
      enableKeyRotation: true,
    });

    this.role = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Execution role of SageMaker endpoint ${this.endpointName}`,
    });
    const policy = new iam.ManagedPolicy(this, 'ExecutionPolicy', { roles: [this.role], description: `Permissions of endpoint ${this.endpointName}` });
    const grantee: iam.IGrantable = { grantPrincipal: new ManagedPolicyPrincipal(this.role, policy) };
    const capturePrefix = spec.dataCapturePrefix;
    // Every promoted version of this model (immutable), so instances of the previous version still start during an update.
    const servedPrefix = MODEL_ARTIFACT_LAYOUT.servedPrefix(props.modelName);
    props.artifactStore.grantRead(grantee, ArtifactPurpose.MODELS, servedPrefix);
    props.artifactStore.grantWrite(grantee, ArtifactPurpose.ARTIFACTS, capturePrefix);
    props.image.grantPull(grantee);
    const { partition, account } = Stack.of(this);
    // Pseudo parameters, so the acknowledged resource is the same whatever region the stack targets.
    const logGroupArn = `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/${this.endpointName}:*`;
    policy.addStatements(
      new iam.PolicyStatement({
        // SageMaker attaches the model containers to the VPC; these EC2 actions have no resource-level scoping.
        actions: [
          'ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface', 'ec2:DeleteNetworkInterfacePermission',
          'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups',
        ],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [logGroupArn],
      }),
    );
    const wildcards = 'SageMaker reads the promoted (immutable) versions below this model\'s served/ prefix and writes captures below the endpoint\'s capture prefix; '
      + 'ecr:GetAuthorizationToken is registry-wide by design; the VPC network-interface actions SageMaker needs have no resource-level '
      + 'permissions; log streams of the endpoint\'s own log group are named by SageMaker.';
    const artifacts = props.artifactStore;
    Validations.of(policy).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: wildcards },
      { id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, artifacts.bucket(ArtifactPurpose.MODELS).arnForObjects(`${servedPrefix}*`))}]`, reason: wildcards },
      { id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, artifacts.bucket(ArtifactPurpose.ARTIFACTS).arnForObjects(`${capturePrefix}*`))}]`, reason: wildcards },
      { id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, logGroupArn)}]`, reason: wildcards },
    );

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Model containers of SageMaker endpoint ${this.endpointName}: no inbound access`,
      allowAllOutbound: true,
    });
    const subnets = props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    const imageUri = props.image.imageUri(props.imageTag);

    let versionOf = (_name: string, version: string) => version;
    if (props.servedState) {
      const names = versions.map((v) => v.name);
      if (props.servedState.variantNames.join(',') !== names.join(',')) {
        check.fail('servedState', props.servedState.variantNames.join(','), `does not list the endpoint's variants (${names.join(',')}) in order`,
          'create it with ModelEndpoint.initialServedState(props) of the same rollout and versions.');
      }
      const reader = props.servedState.readIn(this);
      versionOf = (name) => reader.version(name);
    }
    this.variants = versions.map(({ name, version: templateVersion, weight, shadow }) => {
      const version = versionOf(name, templateVersion);
      const model = new sagemaker.CfnModel(this, `Model${pascal(name)}`, {
        executionRoleArn: this.role.roleArn,
        enableNetworkIsolation: true,
        vpcConfig: { subnets: subnets.subnetIds, securityGroupIds: [this.securityGroup.securityGroupId] },
        // Exactly one promoted version: its archive below served/, which only promotion writes, once.
        primaryContainer: {
          image: imageUri,
          modelDataUrl: artifacts.servedModelUri(props.modelName, version),
          environment: { MODEL_URI: artifacts.servedModelUri(props.modelName, version) },
        },
      });
      // The role's policy must exist before SageMaker checks it can pull the image and read the model.
      model.node.addDependency(policy);
      return { name, modelVersion: version, weight, shadow, model };
    });

    const instanceType = `ml.${this.instance.instanceType}`;
    const hasInstanceStore = !spec.volumeKmsKey;
    const component = spec.inferenceComponent;
    const variantConfig = (v: ModelEndpointVariant): sagemaker.CfnEndpointConfig.ProductionVariantProperty => (component ? {
      // The inference component names the model; SageMaker adds and removes instances with its copies, down to zero.
      variantName: v.name,
      initialInstanceCount: minCapacity,
      instanceType,
      managedInstanceScaling: { status: 'ENABLED', minInstanceCount: 0, maxInstanceCount: maxCapacity },
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
    } : {
      variantName: v.name,
      modelName: v.model.attrModelName,
      initialInstanceCount: minCapacity,
      instanceType,
      initialVariantWeight: v.weight,
    });
    this.dataCaptureUri = artifacts.s3Uri(ArtifactPurpose.ARTIFACTS, capturePrefix);
    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: this.variants.filter((v) => !v.shadow).map(variantConfig),
      shadowProductionVariants: this.variants.some((v) => v.shadow) ? this.variants.filter((v) => v.shadow).map(variantConfig) : undefined,
      kmsKeyId: hasInstanceStore ? undefined : this.encryptionKey.keyArn,
      // An endpoint hosting inference components runs them with the configuration's role, network and isolation.
      executionRoleArn: component ? this.role.roleArn : undefined,
      vpcConfig: component ? { subnets: subnets.subnetIds, securityGroupIds: [this.securityGroup.securityGroupId] } : undefined,
      enableNetworkIsolation: component ? true : undefined,
      dataCaptureConfig: {
        enableCapture: true,
        initialSamplingPercentage: capturePercent,
        destinationS3Uri: this.dataCaptureUri,
        kmsKeyId: artifacts.encryptionKey.keyArn,
        captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
      },
    });
    if (hasInstanceStore) {
      const reason = `SageMaker rejects a volume KMS key for ${instanceType}: its NVMe instance storage is encrypted by a hardware module `
        + 'on the instance; captured data is encrypted with the artifact store key.';
      Validations.of(this.endpointConfig).acknowledge(
        { id: 'NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured', reason },
        { id: 'HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured', reason },
      );
    }

    const production = this.variants.filter((v) => !v.shadow);
    if (props.rollbackAlarms) {
      this.rollbackAlarms = [...props.rollbackAlarms];
    } else {
      const topic = props.alarmTopic ?? this.newAlarmTopic();
      this.rollbackAlarms = production.flatMap((v) => this.defaultAlarms(v.name, spec.defaultRollbackAlarms, topic));
    }

    if (component) this.endpointConfig.node.addDependency(policy);
    const rollback = this.rollbackAlarms.length === 0 ? undefined : { alarms: this.rollbackAlarms.map((a) => ({ alarmName: a.alarmName })) };
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Resource', {
      endpointName: this.endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      // With an inference component, the component's rolling update (below) carries the guardrails.
      deploymentConfig: component ? undefined : {
        blueGreenUpdatePolicy: {
          trafficRoutingConfiguration: traffic.routing,
          maximumExecutionTimeoutInSeconds: traffic.maximumExecutionSeconds,
        },
        autoRollbackConfiguration: rollback,
      },
    });
    if (component) {
      const [served] = this.variants;
      this.inferenceComponent = new sagemaker.CfnInferenceComponent(this, 'Component', {
        inferenceComponentName: component.name,
        endpointName: this.endpoint.attrEndpointName,
        variantName: served.name,
        specification: {
          modelName: served.model.attrModelName,
          computeResourceRequirements: {
            numberOfAcceleratorDevicesRequired: component.acceleratorDevices,
            minMemoryRequiredInMb: component.minMemoryMiB,
          },
        },
        runtimeConfig: { copyCount: minCapacity },
        deploymentConfig: { rollingUpdatePolicy: component.rollingUpdate, autoRollbackConfiguration: rollback },
      });
    }

    const scalingRole = iam.Role.fromRoleArn(this, 'ScalingRole',
      `arn:${partition}:iam::${account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`,
      { mutable: false });
    this.scalableTargets = production.map((v) => {
      const target = new appscaling.ScalableTarget(this, `Scaling${pascal(v.name)}`, {
        serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
        resourceId: component ? `inference-component/${component.name}` : `endpoint/${this.endpointName}/variant/${v.name}`,
        scalableDimension: component ? 'sagemaker:inference-component:DesiredCopyCount' : 'sagemaker:variant:DesiredInstanceCount',
        minCapacity,
        maxCapacity,
        role: scalingRole,
      });
      target.node.addDependency(this.inferenceComponent ?? this.endpoint);
      target.scaleToTrackMetric('InvocationsPerInstance', {
        predefinedMetric: component
          ? appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY
          : appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
        targetValue: targetInvocations,
        scaleOutCooldown: Duration.minutes(2),
        scaleInCooldown: Duration.minutes(10),
      });
      if (scaleDownOffHours && schedule) {
        const timeZone = TimeZone.of(schedule.timeZone);
        const offHours = spec.offHoursCapacity;
        target.scaleOnSchedule('ScaleDownOffHours', { schedule: appscaling.Schedule.cron(schedule.scaleDown), timeZone, minCapacity: offHours, maxCapacity: offHours });
        target.scaleOnSchedule('ScaleUpWorkingHours', { schedule: appscaling.Schedule.cron(schedule.scaleUp), timeZone, minCapacity, maxCapacity });
      }
      return target;
    });

    this.costEstimate = spec.costEstimate;
  }

  /** Model latency at a percentile, in microseconds. */
  public metricLatency(percentile: LatencyPercentile = 'p99', variant?: string): cloudwatch.Metric {
    return this.metric('ModelLatency', percentile, variant);
  }

  /** Invocations answered with a 5xx. */
  public metric5xx(variant?: string): cloudwatch.Metric {
    return this.metric('Invocation5XXErrors', 'Sum', variant);
  }

  /** Share of invocations answered with a 5xx, in percent. */
  public metricErrorRate(variant?: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: '100 * FILL(errors, 0) / invocations',
      usingMetrics: { errors: this.metric5xx(variant), invocations: this.metricInvocations(variant) },
      label: '5xx rate (%)',
      period: Duration.minutes(1),
    });
  }

  /** Invocations of a variant. */
  public metricInvocations(variant?: string): cloudwatch.Metric {
    return this.metric('Invocations', 'Sum', variant);
  }

  /**
   * GPU utilization of a variant's instances (SageMaker sums it over an instance's GPUs: 0-100 per GPU); with an
   * inference component, its copies' utilization normalized to 0-100.
   */
  public metricGpuUtilization(variant?: string): cloudwatch.Metric {
    if (this.componentSpec) {
      this.variant(variant);
      return new cloudwatch.Metric({
        namespace: '/aws/sagemaker/InferenceComponents',
        metricName: 'GPUUtilizationNormalized',
        dimensionsMap: { InferenceComponentName: this.componentSpec.name },
        statistic: 'Average',
        period: Duration.minutes(1),
      });
    }
    return new cloudwatch.Metric({
      namespace: '/aws/sagemaker/Endpoints',
      metricName: 'GPUUtilization',
      dimensionsMap: { EndpointName: this.endpointName, VariantName: this.variant(variant).name },
      statistic: 'Average',
      period: Duration.minutes(1),
    });
  }

  /** A variant by name; the first production variant when no name is given. */
  public variant(name?: string): ModelEndpointVariant {
    return variantByName(checkFor(this), 'endpoint', this.variants, name);
  }

  private metric(metricName: string, statistic: string, variant?: string): cloudwatch.Metric {
    const { name } = this.variant(variant);
    return new cloudwatch.Metric({
      namespace: SAGEMAKER_NAMESPACE,
      metricName,
      // SageMaker publishes an inference component's invocation metrics by component, not by endpoint and variant.
      dimensionsMap: this.componentSpec
        ? { InferenceComponentName: this.componentSpec.name }
        : { EndpointName: this.endpointName, VariantName: name },
      statistic,
      period: Duration.minutes(1),
    });
  }

  private newAlarmTopic(): sns.Topic {
    const { account } = Stack.of(this);
    this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToEncryptedTopics',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': account } },
    }), true);
    return new sns.Topic(this, 'AlarmTopic', {
      displayName: `Rollback alarms of ${this.endpointName}`.slice(0, 100),
      masterKey: this.encryptionKey,
      enforceSSL: true,
    });
  }

  private defaultAlarms(variant: string, specs: readonly EndpointRollbackAlarmSpec[], topic: sns.ITopic): cloudwatch.Alarm[] {
    const id = pascal(variant);
    const alarm = (construct: string, metric: cloudwatch.IMetric, spec: EndpointRollbackAlarmSpec) => new cloudwatch.Alarm(this, construct, {
      alarmDescription: spec.description,
      metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparisonOperator as cloudwatch.ComparisonOperator,
      evaluationPeriods: spec.evaluationPeriods,
      datapointsToAlarm: spec.datapointsToAlarm,
      treatMissingData: spec.treatMissingData as cloudwatch.TreatMissingData,
    });
    const of = (kind: EndpointRollbackAlarmSpec['kind']) => specs.find((a) => a.variant === variant && a.kind === kind)!;
    const errorRate = alarm(`ErrorRateAlarm${id}`, this.metricErrorRate(variant), of('error-rate'));
    const latency = alarm(`LatencyP99Alarm${id}`, this.metricLatency('p99', variant), of('latency-p99'));
    for (const a of [errorRate, latency]) a.addAlarmAction(new cwActions.SnsAction(topic));
    return [errorRate, latency];
  }

  private specScope(): SpecScope {
    return { scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) };
  }
}

function pascal(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}
