import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ArtifactPurpose, assertFleetRollout, Check, CronFields, FLEET_TARGET_GROUP, FleetVariantSpec, fleetUserDataCommands,
  INFERENCE_AMI_SSM_PARAMETERS, INFERENCE_GPU_METRICS_NAMESPACE, InferenceFleetSpec, InferenceFleetSpecInput, MODEL_ARTIFACT_LAYOUT,
  resolveFleetVariants, resolveInferenceFleetSpec, resolveListenerTls, Rollout, SERVED_VARIANT_TAG, SERVED_VERSION_SHELL_VARIABLE, ServedState,
  servedVariantTagValue, SpecScope, validateImageTag, variantByName,
} from '../core';
import { CloudWatchMetric, ErrorRateMetric, ServingMetrics } from './alarms';
import { ArtifactStore } from './artifact-store';
import {
  attachStatements, childOptions, componentSpecScope, MlopsComponentArgs, PolicyStatement, resolveProfileAndTags, serviceRole,
} from './component-support';
import { IImageRepository } from './image-repository';
import { loadBalancerListeners, PULUMI_CERTIFICATE_PROP } from './listeners';
import { checkServedStateArgs, readServedState, servedStateReadStatement, ServedStateArgs, servedVariant } from './served-state';

export interface InferenceFleetArgs extends MlopsComponentArgs, Omit<InferenceFleetSpecInput, 'hasCertificate' | 'variantCount'> {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets of the instances and the internal load balancer. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** CIDR blocks allowed to call the load balancer (the VPC's CIDR for an internal one). */
  readonly allowedCidrBlocks: pulumi.Input<string>[];
  /**
   * Container image the instances serve. Give this or `image` with `imageTag`.
   * @default - `image.imageUri(imageTag)`
   */
  readonly imageUri?: pulumi.Input<string>;
  /**
   * Repository of the serving image; the instances may pull from it.
   * @default - `imageUri` must be given
   */
  readonly image?: IImageRepository;
  /** Tag of the serving image in `image`. @default - `imageUri` must be given */
  readonly imageTag?: string;
  /**
   * Where the model lives (`served/<modelName>/<version>/` of the MODELS bucket, read-only for the instances) and where
   * the load balancer's access logs go (the store's access-log bucket, prefix `alb/`). Required, as on the CDK fleet:
   * without it the instances would have no model to load and the load balancer no access logs.
   */
  readonly artifactStore: ArtifactStore;
  /**
   * How a new model version takes traffic: one target group and Auto Scaling group per variant, weighted on the
   * listener. Shadow rollouts are rejected (an ALB cannot mirror): use `ModelEndpoint`.
   * @default Rollout.allAtOnce()
   */
  readonly rollout?: Rollout;
  /** Model version per rollout variant (`candidate`, or every A/B variant). @default - only `modelVersion` */
  readonly variantVersions?: Record<string, string>;
  /**
   * ACM certificate of the HTTPS listener on port 443 (TLS 1.2 and 1.3; port 80 only redirects to it). Required where
   * the profile requires TLS (staging, prod) and with `internetFacing`; for an internal fleet, a certificate of a private
   * name (for example `*.ml.example.internal` from ACM Private CA).
   * @default - an HTTP listener on port 80, only where the profile allows it (dev) and the load balancer is internal
   */
  readonly certificateArn?: pulumi.Input<string>;
  /**
   * ARN of the key encrypting root volumes; its policy must let EC2 use it for this account's volumes.
   * @default - the AWS managed EBS key
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
  /**
   * Topic the Auto Scaling groups notify of launches, terminations and failures.
   * @default - no notifications
   */
  readonly notificationTopicArn?: pulumi.Input<string>;
  /**
   * The model's served state (docs/design/served-models.md; `MlopsPlatform` passes one for every fleet it serves), created
   * with `InferenceFleet.initialServedState(args)`. With it, each variant's instances read their variant's version from
   * it when they boot (the launch templates name no version, and the instance role may read that one parameter), and
   * the listener's weights are its value at `pulumi up`: `pulumi up` never reverts what promotion or a rollout wrote,
   * and an instance started after a promotion serves the promoted version (running instances keep theirs until they
   * are replaced, e.g. by an instance refresh).
   * @default - versions and weights owned by the program (`modelVersion`, `variantVersions`, the rollout's initial split)
   */
  readonly servedState?: ServedStateArgs;
}

/** One variant of the fleet: its model version, target group and Auto Scaling group. */
export interface InferenceFleetVariant extends FleetVariantSpec {
  readonly targetGroup: aws.lb.TargetGroup;
  readonly autoScalingGroup: aws.autoscaling.Group;
  readonly launchTemplate: aws.ec2.LaunchTemplate;
}

/**
 * The Pulumi counterpart of the CDK `InferenceFleet`: per rollout variant an Auto Scaling group of GPU (or Inferentia,
 * or CPU) instances and a target group, weighted on the listener of an internal Application Load Balancer (canary,
 * linear, A/B and blue/green rollouts; shadows are rejected as in CDK), IMDSv2 only, encrypted root volumes, an
 * instance role that reads only this model's artifacts, target tracking on requests and GPU utilization, and in
 * profiles with working hours a scale to zero after hours and back at the start of the day. Each group launches
 * `instanceType` or, when it has no capacity, up to two catalog stand-ins (`alternativeInstanceTypes`; a mixed-instances
 * policy, on demand, prioritized). Capacity, stand-ins, schedule, variants and cost estimate come from core, as in the
 * CDK construct.
 */
export class InferenceFleet extends pulumi.ComponentResource implements ServingMetrics {
  public static readonly TYPE = 'mlops:aws:InferenceFleet';

  /**
   * What a fleet serves first (as the CDK `InferenceFleet.initialServedState`): the rollout's variants in order, each
   * with its version (`variantVersions`, `current` and single variants taking `modelVersion`) and its share of the
   * rollout's initial split. The initial state of a fleet's `servedState`.
   */
  public static initialServedState(
    args: Pick<InferenceFleetArgs, 'modelVersion' | 'variantVersions' | 'rollout'>, scope = InferenceFleet.TYPE,
  ): ServedState {
    const versions = resolveFleetVariants({ scope, isUnresolved: () => false }, args.rollout ?? Rollout.allAtOnce(), args.modelVersion,
      args.variantVersions ?? {});
    return { variants: versions.map((v) => ({ variant: v.name, version: v.version, weight: v.weight })) };
  }

  public readonly spec: InferenceFleetSpec;
  public readonly rollout: Rollout;
  public readonly modelName: string;
  public readonly loadBalancer: aws.lb.LoadBalancer;
  /** The listener that forwards to the variants (HTTPS on 443 with a certificate). */
  public readonly listener: aws.lb.Listener;
  /** With a certificate: HTTP on port 80, answering every request with a permanent redirect to HTTPS. */
  public readonly redirectListener?: aws.lb.Listener;
  public readonly role: aws.iam.Role;
  public readonly variants: InferenceFleetVariant[];
  /** The first variant's group (`current`, or the only one). */
  public readonly autoScalingGroup: aws.autoscaling.Group;
  public readonly scheduledActions: aws.autoscaling.Schedule[] = [];
  /** ALB target response time is in seconds. */
  public readonly latencyUnit = 'seconds' as const;
  public readonly nvidiaGpu: boolean;
  /**
   * With `servedState`: the served state as `pulumi up` read it (the listener's weights); each variant's instances read
   * their version at boot. The variants' `version` and `weight` are the program's initial ones.
   */
  public readonly servedState?: pulumi.Output<ServedState>;
  /** With `servedState`: its parameter (what a `FleetRollout` of this fleet reads and writes). */
  public readonly servedStateParameter?: ServedStateArgs;
  private readonly check: Check;

  constructor(name: string, args: InferenceFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(InferenceFleet.TYPE, name);
    const check = new Check(scope.scope, scope.isUnresolved);
    // Required by the type; JavaScript callers get the error rather than a fleet whose MODEL_URI names no bucket.
    if (args.artifactStore === undefined) {
      check.fail('artifactStore', undefined, 'is required (the instances load the model from its MODELS bucket; the load balancer logs to it)',
        "pass the platform's ArtifactStore as 'artifactStore'.");
    }
    if ((args.imageUri === undefined) === (args.image === undefined)) {
      check.fail('imageUri', args.imageUri, "must be given exactly when 'image' is not", "give either 'image' (with 'imageTag') or 'imageUri'.");
    }
    if (args.image) {
      if (args.imageTag === undefined) check.fail('imageTag', undefined, "is required with 'image'", "give the tag of the serving image, e.g. imageTag: 'serve-1'.");
      validateImageTag(check, 'imageTag', args.imageTag);
    }
    const rollout = args.rollout ?? Rollout.allAtOnce();
    assertFleetRollout(scope, rollout);
    const spec = resolveInferenceFleetSpec(scope, {
      ...args,
      hasCertificate: args.certificateArn !== undefined,
      certificateProp: PULUMI_CERTIFICATE_PROP.prop,
      variantCount: rollout.initialSplit().length,
    }, profile);
    const tls = resolveListenerTls(check, profile, args.certificateArn !== undefined, PULUMI_CERTIFICATE_PROP);
    const versions = resolveFleetVariants(scope, rollout, args.modelVersion, args.variantVersions ?? {});
    if (args.servedState !== undefined) {
      checkServedStateArgs(scope.scope, args.modelName, args.servedState, InferenceFleet.initialServedState({ ...args, rollout }, scope.scope), 'InferenceFleet');
    }
    super(InferenceFleet.TYPE, name, {}, opts);
    this.spec = spec;
    this.rollout = rollout;
    this.modelName = args.modelName;
    this.check = check;
    this.nvidiaGpu = spec.instance.isNvidiaGpu;
    const tags = { ...mlopsTags.toAwsTags(), 'mlops:model': args.modelName };
    // The HTTPS port and the port-80 redirect, or plain HTTP on 80 (dev, internal, no certificate).
    const listenerPorts = tls.redirectPort === undefined ? [tls.port] : [tls.port, tls.redirectPort];

    const lbSecurityGroup = new aws.ec2.SecurityGroup(`${name}-lb-sg`, {
      vpcId: args.vpcId,
      // (The description deployed security groups have: AWS replaces a group whose description changes.)
      description: `Load balancer of the ${spec.instance.instanceType} fleet ${name}: only allowed peers on the listener port`,
      ingress: listenerPorts.map((port) => ({
        protocol: 'tcp',
        fromPort: port,
        toPort: port,
        cidrBlocks: args.allowedCidrBlocks,
        // (One port: the description dev environments were deployed with.)
        description: listenerPorts.length === 1 ? 'Model clients' : `Model clients (port ${port})`,
      })),
      tags,
    }, childOptions(this));
    const instanceSecurityGroup = new aws.ec2.SecurityGroup(`${name}-instance-sg`, {
      vpcId: args.vpcId,
      description: `Instances of the fleet ${name}: only the load balancer may connect`,
      ingress: [{ protocol: 'tcp', fromPort: spec.containerPort, toPort: spec.containerPort, securityGroups: [lbSecurityGroup.id], description: 'Load balancer' }],
      egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'Images, models and AWS APIs' }],
      tags,
    }, childOptions(this));
    new aws.vpc.SecurityGroupEgressRule(`${name}-lb-to-instances`, {
      securityGroupId: lbSecurityGroup.id,
      referencedSecurityGroupId: instanceSecurityGroup.id,
      ipProtocol: 'tcp',
      fromPort: spec.containerPort,
      toPort: spec.containerPort,
      tags,
    }, childOptions(this));

    this.role = serviceRole(`${name}-role`, {
      service: 'ec2.amazonaws.com', description: `Serves model ${args.modelName} (${name})`, tags, permissionsBoundary: args.permissionsBoundary,
    }, this);
    const statements: PolicyStatement[] = [];
    // Every promoted (immutable) version of this model below served/, as the CDK InferenceFleet.
    statements.push(...args.artifactStore.grantStatements('read', ArtifactPurpose.MODELS, MODEL_ARTIFACT_LAYOUT.servedPrefix(args.modelName)));
    if (args.image) statements.push(...args.image.pullStatements());
    // The instances read their variant's version at boot: this one parameter, nothing else of Parameter Store.
    if (args.servedState) statements.push(servedStateReadStatement(args.servedState));
    if (spec.instance.isNvidiaGpu) {
      // PutMetricData has no resource-level permissions; the namespace condition limits it to the fleet's namespace.
      statements.push({
        Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': INFERENCE_GPU_METRICS_NAMESPACE } },
      });
    }
    attachStatements(`${name}-instance-policy`, this.role, statements, this, `Serving permissions of ${name}`, tags);
    const instanceProfile = new aws.iam.InstanceProfile(`${name}-instance-profile`, { role: this.role.name, tags }, childOptions(this));
    const imageUri = pulumi.output(args.image ? args.image.imageUri(args.imageTag!) : args.imageUri!);

    this.loadBalancer = new aws.lb.LoadBalancer(`${name}-alb`, {
      loadBalancerType: 'application',
      internal: !spec.internetFacing,
      subnets: args.subnetIds,
      securityGroups: [lbSecurityGroup.id],
      dropInvalidHeaderFields: true,
      enableDeletionProtection: spec.deletionProtection,
      accessLogs: { bucket: args.artifactStore.accessLogBucket.bucket, prefix: 'alb', enabled: true },
      tags,
    }, childOptions(this));

    this.servedState = args.servedState
      ? readServedState(args.servedState, versions.map((v) => v.name), this, scope.scope)
      : undefined;
    this.servedStateParameter = args.servedState;
    this.variants = versions.map((variant, index) => {
      const id = `${name}-${variant.name}`;
      // With a served state the instances read the version at boot: the template names ${SERVED_VERSION}, no version.
      const version = args.servedState ? `\${${SERVED_VERSION_SHELL_VARIABLE}}` : variant.version;
      const archive = `${MODEL_ARTIFACT_LAYOUT.servedVersionPrefix(args.modelName, version)}${MODEL_ARTIFACT_LAYOUT.archive}`;
      const modelUri = args.artifactStore.s3Uri(ArtifactPurpose.MODELS, archive);
      const servedState = args.servedState ? { parameterName: args.servedState.name, variant: variant.name, index } : undefined;
      const userData = pulumi.all([imageUri, modelUri]).apply(([image, model]) => Buffer.from(`#!/bin/bash\n${fleetUserDataCommands({
        imageUri: image, modelUri: model, port: spec.containerPort, acceleratorKind: spec.instance.acceleratorKind, servedState,
      }).join('\n')}\n`).toString('base64'));
      const launchTemplate = new aws.ec2.LaunchTemplate(`${id}-lt`, {
        imageId: `resolve:ssm:${INFERENCE_AMI_SSM_PARAMETERS[spec.instance.acceleratorKind]}`,
        instanceType: spec.instance.instanceType,
        iamInstanceProfile: { arn: instanceProfile.arn },
        vpcSecurityGroupIds: [instanceSecurityGroup.id],
        metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 2 },
        monitoring: { enabled: true },
        blockDeviceMappings: [{
          deviceName: '/dev/xvda',
          ebs: { encrypted: 'true', kmsKeyId: args.encryptionKeyArn, volumeType: 'gp3', volumeSize: spec.rootVolumeSizeGiB, deleteOnTermination: 'true' },
        }],
        userData,
        tagSpecifications: [{ resourceType: 'instance', tags }, { resourceType: 'volume', tags }],
        tags,
      }, childOptions(this));
      const targetGroup = new aws.lb.TargetGroup(`${id}-tg`, {
        vpcId: args.vpcId,
        port: spec.containerPort,
        protocol: 'HTTP',
        targetType: 'instance',
        deregistrationDelay: FLEET_TARGET_GROUP.deregistrationDelaySeconds,
        healthCheck: {
          path: spec.healthCheckPath,
          port: String(spec.containerPort),
          protocol: 'HTTP',
          matcher: FLEET_TARGET_GROUP.healthyHttpCodes,
          interval: FLEET_TARGET_GROUP.intervalSeconds,
          healthyThreshold: FLEET_TARGET_GROUP.healthyThresholdCount,
        },
        tags: { ...tags, 'mlops:variant': variant.name },
      }, childOptions(this));
      // The group's own floor is the working-hours minimum; the off-hours schedule takes it to zero.
      const autoScalingGroup = new aws.autoscaling.Group(`${id}-asg`, {
        minSize: spec.workingMinCapacity,
        maxSize: spec.maxCapacity,
        vpcZoneIdentifiers: args.subnetIds,
        ...this.capacity(spec, { launchTemplateId: launchTemplate.id, version: pulumi.interpolate`${launchTemplate.latestVersion}` }),
        targetGroupArns: [targetGroup.arn],
        healthCheckType: 'ELB',
        healthCheckGracePeriod: spec.healthCheckGracePeriodSeconds,
        instanceRefresh: { strategy: 'Rolling', preferences: { minHealthyPercentage: spec.minHealthyPercent } },
        metricsGranularity: '1Minute',
        enabledMetrics: ['GroupMinSize', 'GroupMaxSize', 'GroupDesiredCapacity', 'GroupInServiceInstances', 'GroupPendingInstances',
          'GroupStandbyInstances', 'GroupTerminatingInstances', 'GroupTotalInstances'],
        tags: [
          ...Object.entries({ ...tags, 'mlops:variant': variant.name }).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
          // What promotion refreshes after writing the served state (its instances boot with the variant's version).
          ...(servedState
            ? [{ key: SERVED_VARIANT_TAG, value: servedVariantTagValue(servedState.parameterName, index), propagateAtLaunch: false }] : []),
        ],
      }, childOptions(this));
      if (args.notificationTopicArn) {
        new aws.autoscaling.Notification(`${id}-notifications`, {
          groupNames: [autoScalingGroup.name],
          notifications: ['autoscaling:EC2_INSTANCE_LAUNCH', 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR', 'autoscaling:EC2_INSTANCE_TERMINATE',
            'autoscaling:EC2_INSTANCE_TERMINATE_ERROR'],
          topicArn: args.notificationTopicArn,
        }, childOptions(this));
      }
      return { ...variant, targetGroup, autoScalingGroup, launchTemplate };
    });
    this.autoScalingGroup = this.variants[0].autoScalingGroup;

    const listeners = loadBalancerListeners(name, this, {
      loadBalancerArn: this.loadBalancer.arn,
      tls,
      certificateArn: args.certificateArn,
      defaultActions: [this.variants.length === 1
        ? { type: 'forward', targetGroupArn: this.variants[0].targetGroup.arn }
        : { type: 'forward', forward: { targetGroups: this.variants.map((v) => ({ arn: v.targetGroup.arn, weight: this.weightOf(v, args.servedState, scope) })) } }],
      tags,
    });
    this.listener = listeners.listener;
    this.redirectListener = listeners.redirectListener;

    for (const variant of this.variants) {
      const id = `${name}-${variant.name}`;
      const asg = variant.autoScalingGroup;
      // A fixed-size fleet has nothing to track (AWS rejects target tracking when max equals min).
      if (spec.maxCapacity > spec.workingMinCapacity) {
        new aws.autoscaling.Policy(`${id}-requests`, {
          autoscalingGroupName: asg.name,
          policyType: 'TargetTrackingScaling',
          targetTrackingConfiguration: {
            targetValue: spec.targetRequestsPerInstancePerMinute,
            predefinedMetricSpecification: {
              predefinedMetricType: 'ALBRequestCountPerTarget',
              resourceLabel: pulumi.interpolate`${this.loadBalancer.arnSuffix}/${variant.targetGroup.arnSuffix}`,
            },
          },
        }, { parent: this, dependsOn: [this.listener] });
        if (spec.instance.isNvidiaGpu) {
          new aws.autoscaling.Policy(`${id}-gpu`, {
            autoscalingGroupName: asg.name,
            policyType: 'TargetTrackingScaling',
            targetTrackingConfiguration: {
              targetValue: spec.targetGpuUtilizationPercent,
              customizedMetricSpecification: {
                namespace: INFERENCE_GPU_METRICS_NAMESPACE,
                metricName: 'nvidia_smi_utilization_gpu',
                statistic: 'Average',
                metricDimensions: [{ name: 'AutoScalingGroupName', value: asg.name }],
              },
            },
          }, childOptions(this));
        }
      }
      if (spec.offHours) {
        const { scaleDown, scaleUp, timeZone } = spec.offHours;
        this.scheduledActions.push(
          this.schedule(`${id}-scale-to-zero`, asg, scaleDown, timeZone, 0, 0),
          this.schedule(`${id}-scale-up-working-hours`, asg, scaleUp, timeZone, spec.workingMinCapacity, spec.maxCapacity),
        );
      }
    }

    this.registerOutputs({ loadBalancerDnsName: this.loadBalancer.dnsName, costEstimate: spec.costEstimate });
  }

  /** A variant by name; the `current` (or only) one when no name is given. */
  public variant(name?: string): InferenceFleetVariant {
    return variantByName(this.check, 'fleet', this.variants, name);
  }

  /** Target response time at a percentile, in seconds. */
  public metricLatency(percentile: 'p50' | 'p90' | 'p99' = 'p99'): CloudWatchMetric {
    return this.albMetric('TargetResponseTime', percentile);
  }

  /** Share of requests answered with a 5xx by the targets. */
  public metricErrorRate(): ErrorRateMetric {
    return { errors: this.albMetric('HTTPCode_Target_5XX_Count', 'Sum'), requests: this.albMetric('RequestCount', 'Sum') };
  }

  /** GPU utilization of a variant's instances, in percent (published by the instances' CloudWatch agent). */
  public metricGpuUtilization(variant?: string): CloudWatchMetric {
    return {
      namespace: INFERENCE_GPU_METRICS_NAMESPACE,
      metricName: 'nvidia_smi_utilization_gpu',
      dimensions: { AutoScalingGroupName: this.variant(variant).autoScalingGroup.name },
      statistic: 'Average',
      periodSeconds: 60,
    };
  }

  /** A variant's listener weight: the served state's at `pulumi up`, else the rollout's initial split. */
  private weightOf(variant: InferenceFleetVariant, state: ServedStateArgs | undefined, scope: SpecScope): pulumi.Input<number> {
    if (!state || !this.servedState) return variant.weight;
    const index = this.variants.indexOf(variant);
    return this.servedState.apply((read) => servedVariant(read, index, variant.name, state.name, scope.scope).weight);
  }

  private albMetric(metricName: string, statistic: string): CloudWatchMetric {
    return { namespace: 'AWS/ApplicationELB', metricName, dimensions: { LoadBalancer: this.loadBalancer.arnSuffix }, statistic, periodSeconds: 60 };
  }

  /**
   * What a group launches (as the CDK fleet renders it): the launch template alone, or with stand-ins (core's
   * `capacityTypes`) a mixed-instances policy, on demand, trying the types in order (`instanceType` first).
   */
  private capacity(spec: InferenceFleetSpec, launchTemplate: { launchTemplateId: pulumi.Input<string>; version: pulumi.Input<string> }):
  Pick<aws.autoscaling.GroupArgs, 'launchTemplate' | 'mixedInstancesPolicy'> {
    if (spec.capacityTypes.length === 1) return { launchTemplate: { id: launchTemplate.launchTemplateId, version: launchTemplate.version } };
    return {
      mixedInstancesPolicy: {
        launchTemplate: {
          launchTemplateSpecification: launchTemplate,
          overrides: spec.capacityTypes.map((type) => ({ instanceType: type.instanceType })),
        },
        instancesDistribution: { onDemandAllocationStrategy: 'prioritized', onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 100 },
      },
    };
  }

  private schedule(id: string, asg: aws.autoscaling.Group, cron: CronFields, timeZone: string, min: number, max: number): aws.autoscaling.Schedule {
    return new aws.autoscaling.Schedule(id, {
      autoscalingGroupName: asg.name,
      scheduledActionName: id,
      recurrence: `${cron.minute} ${cron.hour} * * ${cron.weekDay}`,
      timeZone,
      minSize: min,
      maxSize: max,
      desiredCapacity: min,
    }, childOptions(this));
  }
}
