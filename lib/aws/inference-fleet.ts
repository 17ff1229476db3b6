import { CfnResource, Duration, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  AcceleratorKind, assertFleetRollout, EnvironmentProfile, fleetUserDataCommands, GpuInstance, INFERENCE_AMI_SSM_PARAMETERS,
  INFERENCE_GPU_METRICS_NAMESPACE, InferenceFleetSpec, LatencyUnit, MODEL_ARTIFACT_LAYOUT, MonthlyCostRange, resolveFleetVariants,
  resolveInferenceFleetSpec, resolveListenerTls, Rollout, ServedState, variantByName,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { IImageRepository } from './image-repository';
import { logAlbAccessLogs } from './private/alb-access-logs';
import { chargeUnownedCapacityToPlatform } from './private/capacity-tags';
import { checkImageTag } from './private/image-tag';
import { allowLaunchingServicesToUseKey, newKey } from './private/keys';
import { addLoadBalancerListeners } from './private/listeners';
import { ManagedPolicyPrincipal } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { ServedStateParameter } from './private/served-state';
import { vpcCidrFor } from './private/vpc-cidr';
import { checkFor, MlopsScope } from './scope';

/** Percentile of a latency metric. */
export type LatencyPercentile = 'p50' | 'p90' | 'p99';

/** The serving metrics monitoring alarms on, the same on every AWS serving backend. */
export interface IServingMetrics {
  /**
   * Unit of `metricLatency` (ALB target response time is in seconds, SageMaker model latency in microseconds); latency
   * alarms convert the profile's threshold (milliseconds) to it.
   * @default 'milliseconds'
   */
  readonly latencyUnit?: LatencyUnit;
  /** Latency of model responses at a percentile. */
  metricLatency(percentile?: LatencyPercentile): cloudwatch.Metric;
  /** Requests answered with a 5xx. */
  metric5xx(): cloudwatch.Metric;
  /** Share of requests answered with a 5xx, in percent. */
  metricErrorRate(): cloudwatch.MathExpression;
  /** Requests served. */
  metricInvocations(): cloudwatch.Metric;
  /** Average GPU utilization in percent (no data on instances without NVIDIA GPUs). */
  metricGpuUtilization(variant?: string): cloudwatch.Metric;
}

// Defined in core (shared with the Pulumi InferenceFleet); re-exported where CDK users found it.
export { INFERENCE_GPU_METRICS_NAMESPACE } from '../core';

/**
 * Public SSM parameters of the AMIs the fleet runs, by accelerator.
 * @deprecated use `INFERENCE_AMI_SSM_PARAMETERS`, the same table shared with the Pulumi InferenceFleet
 */
export const INFERENCE_AMI_PARAMETERS: Readonly<Record<AcceleratorKind, string>> = INFERENCE_AMI_SSM_PARAMETERS;

export interface InferenceFleetProps {
  /** VPC the fleet runs in; instances go to the PRIVATE_WITH_EGRESS subnets. */
  readonly vpc: ec2.IVpc;
  /** Model name: the fleet serves `served/<modelName>/<version>/model.tar.gz` of the store's MODELS bucket (promoted by ModelPromotion). */
  readonly modelName: string;
  /** Model version served by the `current` variant (and by the only variant of an all-at-once rollout). */
  readonly modelVersion: string;
  /**
   * Model version per rollout variant. Canary, linear and blue/green rollouts need `candidate`
   * (`current` defaults to `modelVersion`); an A/B test needs every variant named in its weights.
   * @default - only `modelVersion`
   */
  readonly variantVersions?: Record<string, string>;
  /** Where the model artifacts live (MODELS purpose). */
  readonly artifactStore: IArtifactStore;
  /** Repository of the serving image. */
  readonly image: IImageRepository;
  /** Tag of the serving image. */
  readonly imageTag: string;
  /**
   * Instance type from the catalog (`GpuInstance`): NVIDIA GPU, Inferentia or CPU.
   * @default 'g5.xlarge'
   */
  readonly instanceType?: string;
  /**
   * Catalog types the fleet may launch when `instanceType` has no capacity (capacity resilience): the Auto Scaling
   * groups get a mixed-instances policy, on-demand and prioritized, `instanceType` first. Each must run what runs on
   * `instanceType` unchanged (the same accelerator kind and count, at least as much accelerator memory, vCPUs and memory;
   * for Inferentia the same family). `[]` keeps the fleet on `instanceType` alone.
   * `costEstimate`'s maximum assumes the dearest of them.
   * @default - up to two catalog types that can stand in for `instanceType` at most 25% dearer per hour, cheapest
   *   first (`GpuInstance.capacityAlternatives()`), e.g. g6.xlarge and g6.2xlarge for g5.xlarge
   */
  readonly alternativeInstanceTypes?: string[];
  /**
   * AMI of the instances.
   * @default - resolved at deploy time from the public SSM parameter for the accelerator (`INFERENCE_AMI_SSM_PARAMETERS`)
   */
  readonly machineImage?: ec2.IMachineImage;
  /**
   * Port the serving container listens on.
   * @default 8080
   */
  readonly containerPort?: number;
  /**
   * Health check path of the serving container.
   * @default '/ping'
   */
  readonly healthCheckPath?: string;
  /**
   * Size of the encrypted root volume, in GiB (room for the image and the model), 30-16384.
   * @default 100
   */
  readonly rootVolumeSizeGiB?: number;
  /**
   * Key the root volumes are encrypted with (for example the environment's `PlatformKey.key`). The construct
   * adds a key-policy statement letting EC2 use it for this account's volumes where the key is in this stack.
   * @default - a new key with rotation on
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Instances per variant at least (during working hours where the profile has them).
   * @default - the profile's `minCapacity.inferenceInstances`
   */
  readonly minCapacity?: number;
  /**
   * Instances per variant at most.
   * @default - twice the minimum, and at least 2
   */
  readonly maxCapacity?: number;
  /**
   * Allow `minCapacity: 0` under a profile that keeps warm capacity (staging, prod).
   * @default false
   */
  readonly allowScaleToZero?: boolean;
  /**
   * Scale every variant to zero outside the profile's working hours and back up at their start.
   * @default - true where the profile has working hours (dev)
   */
  readonly scaleToZeroOffHours?: boolean;
  /**
   * Target of the request-count tracking policy, in requests per instance per minute.
   * @default 300
   */
  readonly targetRequestsPerInstancePerMinute?: number;
  /**
   * Target of the GPU-utilization tracking policy (NVIDIA instances only), in percent, 10-95.
   * @default 70
   */
  readonly targetGpuUtilizationPercent?: number;
  /**
   * A warm pool of pre-initialized instances per variant (faster scale-out of large images and models).
   * @default - no warm pool
   */
  readonly warmPool?: autoscaling.WarmPoolOptions;
  /**
   * Time a new instance has to pull the image and load the model before ELB health checks count.
   * @default Duration.minutes(10)
   */
  readonly healthCheckGracePeriod?: Duration;
  /**
   * Share of the minimum capacity kept in service while a rolling update replaces instances, 0-100.
   * @default 100
   */
  readonly minHealthyPercent?: number;
  /**
   * Topic the Auto Scaling groups notify of every launch, termination and failure.
   * @default - a new topic encrypted with `encryptionKey`, TLS only
   */
  readonly notificationTopic?: sns.ITopic;
  /**
   * Put the load balancer on the internet (public subnets). Requires `certificate`.
   * @default false
   */
  readonly internetFacing?: boolean;
  /**
   * Certificate of the HTTPS listener on port 443 (TLS 1.2 and 1.3; port 80 redirects to it). Required where the
   * profile requires TLS (staging, prod) and for an internet-facing fleet; for an internal fleet, a certificate of a
   * private name from ACM Private CA, imported with `acm.Certificate.fromCertificateArn`.
   * @default - an HTTP listener on port 80, only where the profile allows it (dev) and the load balancer is internal
   */
  readonly certificate?: acm.ICertificate;
  /**
   * Who may reach the listener.
   * @default - the VPC's CIDR block for an internal load balancer, any IPv4 address for an internet-facing one
   */
  readonly allowedPeers?: ec2.IPeer[];
  /**
   * How a new model version takes traffic. Shadow rollouts are not supported (use `ModelEndpoint`).
   * @default Rollout.allAtOnce()
   */
  readonly rollout?: Rollout;
  /**
   * The model's served state (docs/design/served-models.md), created in a stack that deploys before this one: the
   * variants' versions and listener weights are read from it at deploy time, so a deploy renders what promotion and
   * the rollout state machine last wrote instead of resetting it. Its initial state must be
   * `InferenceFleet.initialServedState(props)` (the same variants, versions and weights).
   * @default - versions and weights owned by the template (`modelVersion`, `variantVersions`, the rollout's initial split)
   */
  readonly servedState?: ServedStateParameter;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/** One variant of the fleet: its own model version, target group and Auto Scaling group. */
export interface InferenceFleetVariant {
  readonly name: string;
  readonly modelVersion: string;
  /** `s3://` URI of the promoted model archive (`served/<model>/<version>/model.tar.gz`), passed to the container as `MODEL_URI`. */
  readonly modelUri: string;
  /** Share of listener traffic, in percent. */
  readonly weight: number;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
}

/**
 * A model served by EC2 Auto Scaling groups behind an Application Load Balancer: GPU, Inferentia or CPU
 * instances from the catalog, IMDSv2 only, encrypted root volumes, a role that reads only this model's
 * artifacts, target tracking on requests per target and GPU utilization, scale to zero outside working
 * hours where the profile has them, and rollouts rendered as weighted target groups, one per variant.
 *
 * @example
 * new InferenceFleet(stack, 'Fraud', {
 *   vpc, artifactStore, image, imageTag: '1.4.0', modelName: 'fraud', modelVersion: 'v3',
 *   variantVersions: { candidate: 'v4' }, rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
 *   // HTTPS only outside dev: the certificate of the name clients call (e.g. from ACM Private CA).
 *   certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', certificateArn),
 * });
 */
export class InferenceFleet extends Construct implements IServingMetrics {
  /**
   * What a fleet serves first: the rollout's variants in order, each with its version (`variantVersions`, `current`
   * and single variants taking `modelVersion`) and its share of the rollout's initial split. The initial state of a
   * fleet's `servedState`.
   */
  public static initialServedState(props: Pick<InferenceFleetProps, 'modelVersion' | 'variantVersions' | 'rollout'>, scope = 'InferenceFleet'): ServedState {
    const versions = resolveFleetVariants({ scope, isUnresolved: (x) => Token.isUnresolved(x) }, props.rollout ?? Rollout.allAtOnce(),
      props.modelVersion, props.variantVersions ?? {});
    return { variants: versions.map((v) => ({ variant: v.name, version: v.version, weight: v.weight })) };
  }

  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The listener that forwards to the variants (HTTPS on 443 with a certificate): the one rollouts reweight. */
  public readonly listener: elbv2.ApplicationListener;
  /** With a certificate: HTTP on port 80, redirecting every request to HTTPS. */
  public readonly redirectListener?: elbv2.ApplicationListener;
  /** The variants, in rollout order (`current` before `candidate`). */
  public readonly variants: InferenceFleetVariant[];
  /** Role of the instances: reads `<modelName>/` of the MODELS bucket and pulls the serving image. */
  public readonly role: iam.Role;
  public readonly instanceSecurityGroup: ec2.SecurityGroup;
  public readonly loadBalancerSecurityGroup: ec2.SecurityGroup;
  public readonly encryptionKey: kms.IKey;
  /** Topic the Auto Scaling groups notify of launches, terminations and failures. */
  public readonly notificationTopic: sns.ITopic;
  public readonly instance: GpuInstance;
  public readonly rollout: Rollout;
  /** The served model's name (what `MlopsMonitoring.monitor` names its alarms after). */
  public readonly modelName: string;
  /** ALB target response time is in seconds. */
  public readonly latencyUnit: LatencyUnit = 'seconds';
  public readonly minCapacity: number;
  public readonly maxCapacity: number;
  /** Monthly cost of all variants' instances and the load balancer at minimum and at maximum capacity. */
  public readonly costEstimate: MonthlyCostRange;
  /** The served state the fleet reads its versions and weights from, if it was given one. */
  public readonly servedState?: ServedStateParameter;

  constructor(scope: Construct, id: string, props: InferenceFleetProps) {
    super(scope, id);
    chargeUnownedCapacityToPlatform(this);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);

    // Validate everything before creating resources.
    for (const required of ['vpc', 'artifactStore', 'image', 'imageTag'] as const) {
      if (props[required] === undefined) check.fail(required, undefined, 'is required', `pass '${required}' to the InferenceFleet.`);
    }
    // Checked here so a bad tag is blamed on this prop, not on the image repository's `imageUri(tag)`.
    checkImageTag(check, 'imageTag', props.imageTag);
    this.rollout = props.rollout ?? Rollout.allAtOnce();
    this.modelName = props.modelName;
    assertFleetRollout({ scope: this.node.path }, this.rollout);
    // Defaults, validation and cost shared with the Pulumi InferenceFleet.
    const spec = resolveInferenceFleetSpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, {
      ...props,
      healthCheckGracePeriodSeconds: props.healthCheckGracePeriod?.toSeconds(),
      hasCertificate: props.certificate !== undefined,
      variantCount: this.rollout.initialSplit().length,
    }, profile);
    const { containerPort, healthCheckPath, maxCapacity, minHealthyPercent, internetFacing } = spec;
    const tls = resolveListenerTls(check, profile, props.certificate !== undefined);
    const workingMin = spec.workingMinCapacity;
    const gracePeriod = props.healthCheckGracePeriod ?? Duration.seconds(spec.healthCheckGracePeriodSeconds);
    this.instance = spec.instance;
    this.costEstimate = spec.costEstimate;
    const initial = this.resolveVersions(props);
    const versions = props.servedState ? this.readServedState(props.servedState, props.modelName, initial) : initial;
    this.servedState = props.servedState;
    this.minCapacity = spec.minCapacity;
    this.maxCapacity = maxCapacity;

    this.encryptionKey = props.encryptionKey ?? newKey(this, 'Key', {
      description: `mlops-constructs inference fleet volumes at ${this.node.path}`,
      enableKeyRotation: true,
    });
    allowLaunchingServicesToUseKey(this.encryptionKey);

    this.role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `Serves model ${props.modelName} at ${this.node.path}`,
    });
    const policy = new iam.ManagedPolicy(this, 'InstancePolicy', { roles: [this.role], description: `Serving permissions of ${this.node.path}` });
    const grantee: iam.IGrantable = { grantPrincipal: new ManagedPolicyPrincipal(this.role, policy) };
    // Every promoted (immutable) version of this model, so instances of the previous version still start during a rollout.
    const servedPrefix = MODEL_ARTIFACT_LAYOUT.servedPrefix(props.modelName);
    props.artifactStore.grantRead(grantee, ArtifactPurpose.MODELS, servedPrefix);
    props.image.grantPull(grantee);
    if (this.instance.isNvidiaGpu) {
      // PutMetricData has no resource-level permissions; the namespace condition limits it to the fleet's namespace.
      policy.addStatements(new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': INFERENCE_GPU_METRICS_NAMESPACE } },
      }));
    }
    const wildcards = 'The instances read the promoted versions below this model\'s served/ prefix (each version is written once by '
      + 'the promotion role and never changes); ecr:GetAuthorizationToken is registry-wide by design; cloudwatch:PutMetricData has no resource-level '
      + 'permissions and is limited to the fleet namespace by a condition.';
    Validations.of(policy).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: wildcards },
      { id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, props.artifactStore.bucket(ArtifactPurpose.MODELS).arnForObjects(`${servedPrefix}*`))}]`, reason: wildcards },
    );

    this.instanceSecurityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: props.vpc,
      description: `Instances of ${this.node.path}: only the load balancer may connect`,
      allowAllOutbound: true,
    });
    this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: props.vpc,
      description: `Load balancer of ${this.node.path}: only allowed peers on the listener port`,
      allowAllOutbound: false,
    });
    const listenerPorts = tls.redirectPort === undefined ? [tls.port] : [tls.port, tls.redirectPort];
    const peers = props.allowedPeers ?? [internetFacing ? ec2.Peer.anyIpv4() : ec2.Peer.ipv4(vpcCidrFor(check, props.vpc, "'allowedPeers'"))];
    if (peers.length === 0) check.fail('allowedPeers', peers, 'must name at least one peer', 'list the CIDR blocks or security groups that call the model.');
    for (const peer of peers) {
      for (const port of listenerPorts) {
        // (One port: the description dev environments were deployed with.)
        const description = listenerPorts.length === 1 ? `Listener port from ${peer.uniqueId}` : `Listener port ${port} from ${peer.uniqueId}`;
        this.loadBalancerSecurityGroup.addIngressRule(peer, ec2.Port.tcp(port), description);
      }
    }
    if (peers.some((peer) => Token.isUnresolved(peer.toIngressRuleConfig().cidrIp))) {
      // The VPC CIDR is known only at deploy time, so the open-ingress rules cannot evaluate it.
      const reason = 'The listeners admit only their own ports from the VPC CIDR block, a deploy-time value (Fn::GetAtt of the VPC) that the '
        + 'open-ingress rules cannot evaluate; no other port and no address outside the VPC is allowed.';
      Validations.of(this.loadBalancerSecurityGroup.node.defaultChild as ec2.CfnSecurityGroup).acknowledge(
        { id: 'AwsSolutions-EC23', reason },
        { id: 'NIST.800.53.R5-EC2RestrictedCommonPorts', reason },
        { id: 'NIST.800.53.R5-EC2RestrictedSSH', reason },
        { id: 'HIPAA.Security-EC2RestrictedCommonPorts', reason },
        { id: 'HIPAA.Security-EC2RestrictedSSH', reason },
      );
    }
    this.notificationTopic = props.notificationTopic ?? new sns.Topic(this, 'ScalingEvents', {
      displayName: `Scaling events of ${this.node.path}`.slice(0, 100),
      masterKey: this.encryptionKey,
      enforceSSL: true,
    });

    const machineImage = props.machineImage
      ?? ec2.MachineImage.fromSsmParameter(INFERENCE_AMI_SSM_PARAMETERS[this.instance.acceleratorKind], { os: ec2.OperatingSystemType.LINUX });
    const instanceSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    // The zones of the instance subnets, named on the groups too (what AWS Control Tower's CT.AUTOSCALING.PR.1 reads).
    const availabilityZones = props.vpc.selectSubnets(instanceSubnets).availabilityZones;
    this.variants = versions.map(({ name, version, weight }) => {
      // Exactly one promoted version: its archive below served/, which only promotion writes, once.
      const modelUri = props.artifactStore.servedModelUri(props.modelName, version);
      const variantScope = new Construct(this, `Variant${pascal(name)}`);
      const launchTemplate = new ec2.LaunchTemplate(variantScope, 'LaunchTemplate', {
        instanceType: new ec2.InstanceType(this.instance.instanceType),
        machineImage,
        role: this.role,
        securityGroup: this.instanceSecurityGroup,
        requireImdsv2: true,
        // Containers reach IMDSv2 through one more network hop.
        httpPutResponseHopLimit: 2,
        detailedMonitoring: true,
        userData: this.userData(props.image.imageUri(props.imageTag), modelUri, containerPort),
        blockDevices: [{
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(spec.rootVolumeSizeGiB, {
            encrypted: true, kmsKey: this.encryptionKey, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true,
          }),
        }],
      });
      const autoScalingGroup = new autoscaling.AutoScalingGroup(variantScope, 'AutoScalingGroup', {
        vpc: props.vpc,
        vpcSubnets: instanceSubnets,
        ...(spec.capacityTypes.length > 1 ? {
          mixedInstancesPolicy: {
            launchTemplate,
            launchTemplateOverrides: spec.capacityTypes.map((t) => ({ instanceType: new ec2.InstanceType(t.instanceType) })),
            instancesDistribution: {
              onDemandAllocationStrategy: autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
              onDemandBaseCapacity: 0,
              onDemandPercentageAboveBaseCapacity: 100,
            },
          },
        } : { launchTemplate }),
        minCapacity: workingMin,
        maxCapacity,
        healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
          additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
          gracePeriod,
        }),
        updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
          maxBatchSize: 1,
          minInstancesInService: Math.min(Math.ceil((workingMin * minHealthyPercent) / 100), maxCapacity - 1),
        }),
        groupMetrics: [autoscaling.GroupMetrics.all()],
        notifications: [{ topic: this.notificationTopic }],
      });
      this.acknowledgeGroupFindings(autoScalingGroup, launchTemplate, spec, availabilityZones);
      const targetGroup = new elbv2.ApplicationTargetGroup(variantScope, 'TargetGroup', {
        vpc: props.vpc,
        port: containerPort,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.INSTANCE,
        deregistrationDelay: Duration.seconds(30),
        healthCheck: { path: healthCheckPath, healthyHttpCodes: '200', interval: Duration.seconds(15), healthyThresholdCount: 2 },
        targets: [autoScalingGroup],
      });
      return { name, modelVersion: version, modelUri, weight, targetGroup, autoScalingGroup };
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing,
      vpcSubnets: { subnetType: internetFacing ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: this.loadBalancerSecurityGroup,
      dropInvalidHeaderFields: true,
      deletionProtection: spec.deletionProtection,
    });
    logAlbAccessLogs(this.loadBalancer, props.artifactStore.accessLogBucket, 'alb');
    const listeners = addLoadBalancerListeners(this.loadBalancer, tls, props.certificate, this.variants.length === 1
      ? elbv2.ListenerAction.forward([this.variants[0].targetGroup])
      : elbv2.ListenerAction.weightedForward(this.variants.map((v) => ({ targetGroup: v.targetGroup, weight: v.weight }))),
    `Internal load balancer in private subnets under the '${profile.name}' profile, which allows HTTP (requireTls is off), and no `
      + "certificate was given: plain HTTP is reachable only from the allowed peers inside the VPC; pass 'certificate' to serve HTTPS.");
    this.listener = listeners.listener;
    this.redirectListener = listeners.redirectListener;

    for (const variant of this.variants) {
      const asg = variant.autoScalingGroup;
      // A fixed-size fleet (maxCapacity equal to the working minimum) has nothing to track, and CloudFormation rejects
      // target tracking on a group whose MaxSize equals its MinSize (cfn-lint E3712).
      if (maxCapacity > workingMin) {
        const requests = asg.scaleOnRequestCount('RequestsPerTarget', { targetRequestsPerMinute: spec.targetRequestsPerInstancePerMinute });
        // The policy's resource label already references the listener; CDK's extra DependsOn is redundant (cfn-lint W3005).
        (requests.node.defaultChild as CfnResource).addDeletionOverride('DependsOn');
        if (this.instance.isNvidiaGpu) {
          asg.scaleToTrackMetric('GpuUtilization', { metric: this.gpuMetric(asg), targetValue: spec.targetGpuUtilizationPercent });
        }
      }
      if (props.warmPool) asg.addWarmPool(props.warmPool);
      if (spec.offHours) {
        const { timeZone, scaleDown, scaleUp } = spec.offHours;
        asg.scaleOnSchedule('ScaleDownOffHours', {
          schedule: autoscaling.Schedule.cron(scaleDown), timeZone, minCapacity: 0, maxCapacity: 0, desiredCapacity: 0,
        });
        asg.scaleOnSchedule('ScaleUpWorkingHours', {
          schedule: autoscaling.Schedule.cron(scaleUp), timeZone, minCapacity: workingMin, maxCapacity, desiredCapacity: workingMin,
        });
      }
    }
    this.acknowledgeLoadBalancerFindings(spec.deletionProtection);
  }

  /** Target response time at a percentile, in seconds. */
  public metricLatency(percentile: LatencyPercentile = 'p99'): cloudwatch.Metric {
    return this.loadBalancer.metrics.targetResponseTime({ statistic: percentile, period: Duration.minutes(1) });
  }

  /** Requests the targets answered with a 5xx. */
  public metric5xx(): cloudwatch.Metric {
    return this.loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(1) });
  }

  /** Share of requests answered with a 5xx by the targets, in percent. */
  public metricErrorRate(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: '100 * FILL(errors, 0) / requests',
      usingMetrics: { errors: this.metric5xx(), requests: this.metricInvocations() },
      label: '5xx rate (%)',
      period: Duration.minutes(1),
    });
  }

  /** Requests the load balancer routed. */
  public metricInvocations(): cloudwatch.Metric {
    return this.loadBalancer.metrics.requestCount({ period: Duration.minutes(1) });
  }

  /** Healthy targets of a variant's target group. */
  public metricHealthyHosts(variant?: string): cloudwatch.Metric {
    return this.variant(variant).targetGroup.metrics.healthyHostCount({ period: Duration.minutes(1) });
  }

  /** GPU utilization of a variant's instances (average over GPUs and instances), in percent. */
  public metricGpuUtilization(variant?: string): cloudwatch.Metric {
    return this.gpuMetric(this.variant(variant).autoScalingGroup);
  }

  /** A variant by name; the `current` (or only) one when no name is given. */
  public variant(name?: string): InferenceFleetVariant {
    return variantByName(checkFor(this), 'fleet', this.variants, name);
  }

  private gpuMetric(asg: autoscaling.IAutoScalingGroup): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: INFERENCE_GPU_METRICS_NAMESPACE,
      metricName: 'nvidia_smi_utilization_gpu',
      dimensionsMap: { AutoScalingGroupName: asg.autoScalingGroupName },
      statistic: 'Average',
      period: Duration.minutes(1),
    });
  }

  private resolveVersions(props: InferenceFleetProps): FleetVersion[] {
    return resolveFleetVariants({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, this.rollout, props.modelVersion,
      props.variantVersions ?? {});
  }

  /** The variants' versions and weights as the served state holds them at deploy time; its initial state must match the code. */
  private readServedState(state: ServedStateParameter, modelName: string, initial: FleetVersion[]): FleetVersion[] {
    const check = checkFor(this);
    if (!ServedStateParameter.isServedStateParameter(state)) {
      check.fail('servedState', state, 'must be a ServedStateParameter', 'create one with new ServedStateParameter(dataStack, id, { ... }) or omit it.');
    }
    if (state.model !== modelName) {
      check.fail('servedState', state.model, `is the served state of another model (this fleet serves '${modelName}')`, 'pass the served state of this model.');
    }
    const expected = initial.map((v) => `${v.name}=${v.version}@${v.weight}`).join(',');
    if (state.initialValue !== expected) {
      check.fail('servedState', state.initialValue, `starts from another state than this fleet's rollout and versions (${expected})`,
        'create the served state with initialState: InferenceFleet.initialServedState(props), so the variant set and versions agree.');
    }
    const reader = state.readIn(this);
    return initial.map((v) => ({ name: v.name, version: reader.version(v.name), weight: reader.weight(v.name) }));
  }

  private userData(imageUri: string, modelUri: string, port: number): ec2.UserData {
    const userData = ec2.UserData.forLinux();
    userData.addCommands(...fleetUserDataCommands({ imageUri, modelUri, port, acceleratorKind: this.instance.acceleratorKind }));
    return userData;
  }

  private acknowledgeGroupFindings(
    group: autoscaling.AutoScalingGroup, launchTemplate: ec2.LaunchTemplate, spec: InferenceFleetSpec, zones: string[],
  ): void {
    const types = spec.capacityTypes.length;
    const cfnGroup = group.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    if (zones.length > 0) {
      cfnGroup.availabilityZones = zones;
      if (zones.every((zone) => !Token.isUnresolved(zone))) {
        // A region-bound stack places its subnets in literal zones; the group names the same ones.
        const reason = 'The zones of the fleet\'s own subnets, literal because the stack is region-bound (the VPC placed its subnets there); '
          + 'the group names them for AWS Control Tower CT.AUTOSCALING.PR.1 and launches only into those subnets.';
        Validations.of(cfnGroup).acknowledge({ id: 'CloudFormation-Validate::W3010', reason });
        cfnGroup.addMetadata('cfn-lint', { config: { ignore_checks: ['W3010'] } });
      }
    }
    if (zones.length < 2) {
      Validations.of(cfnGroup).acknowledge({
        id: 'cdk-validator-cfnguard::autoscaling_multiple_az_check',
        reason: 'The VPC has its instance subnets in one availability zone (a single-AZ profile such as dev, for cost); a VPC with subnets '
          + 'in more zones spreads the group over all of them.',
      });
    }
    if (types > 1) {
      // cdk-nag reads a group's own LaunchTemplate property, not the template of its mixed-instances policy.
      const viaPolicy = 'The group launches from the fleet\'s launch template through its mixed-instances policy; that template requires '
        + 'IMDSv2 and encrypts the root volume with the fleet\'s KMS key (the rule reads only the group\'s own LaunchTemplate property).';
      Validations.of(cfnGroup).acknowledge(
        { id: 'AwsSolutions-EC26', reason: viaPolicy },
        { id: 'NIST.800.53.R5-EC2IMDSv2Enabled', reason: viaPolicy },
        { id: 'HIPAA.Security-EC2IMDSv2Enabled', reason: viaPolicy },
      );
      const newer = spec.capacityTypes.map((t) => t.instanceType).filter((t) => NEWER_THAN_CONTROL_LISTS.test(t));
      if (newer.length > 0) {
        const reason = `${newer.join(', ')}: current-generation Nitro types that encrypt traffic between instances (EC2 documents the g6 `
          + 'and g6e families as Nitro with in-transit encryption); the controls\' lists of types predate these families.';
        Validations.of(cfnGroup).acknowledge(
          { id: 'cdk-validator-cfnguard::autoscaling_group_nitro_instance_override_check', reason },
          { id: 'cdk-validator-cfnguard::autoscaling_group_nitro_encryption_in_transit_override_check', reason },
        );
      }
    }
    if (types < 2) {
      Validations.of(cfnGroup).acknowledge({
        id: 'cdk-validator-cfnguard::autoscaling_mixed_instances_policy_multiple_instance_types_check',
        reason: `No catalog type can stand in for ${this.instance.instanceType} at most 25% dearer, or alternativeInstanceTypes is []: the `
          + 'group launches one type. Name stand-ins in alternativeInstanceTypes for capacity resilience.',
      });
    }
    Validations.of(launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate).acknowledge({
      id: 'cdk-validator-cfnguard::ec2_launch_template_token_hop_limit_check',
      reason: 'The serving container loads its model from MODEL_URI with the instance role, one network hop beyond the host (hop limit 2). '
        + 'That role may only read this model\'s served versions and pull its image; no other team\'s workload runs on these instances.',
    });
  }

  private acknowledgeLoadBalancerFindings(deletionProtection: boolean): void {
    const lb = this.loadBalancer.node.defaultChild as elbv2.CfnLoadBalancer;
    const waf = 'The model API is called by services, not browsers; a WAF web ACL can be associated with the load balancer by the team '
      + 'that owns the callers. Only allowed peers reach the listener.';
    Validations.of(lb).acknowledge({ id: 'NIST.800.53.R5-ALBWAFEnabled', reason: waf });
    if (!deletionProtection) {
      const reason = 'The profile (dev) allows destroying the environment; its load balancer holds no data and is not deletion-protected.';
      Validations.of(lb).acknowledge(
        { id: 'NIST.800.53.R5-ELBDeletionProtectionEnabled', reason },
        { id: 'HIPAA.Security-ELBDeletionProtectionEnabled', reason },
        { id: 'cdk-validator-cfnguard::elbv2_deletion_protection_enabled_check', reason },
      );
    }
  }
}

/** A variant with the version it serves and its share of traffic (literal, or read from the served state). */
interface FleetVersion {
  readonly name: string;
  readonly version: string;
  readonly weight: number;
}

/** GPU families newer than AWS Control Tower's lists of Nitro types (CT.AUTOSCALING.PR.10 and PR.11). */
const NEWER_THAN_CONTROL_LISTS = /^(g6|g6e)\./;

function pascal(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}
