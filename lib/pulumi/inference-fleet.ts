import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { CronFields, inferenceContainerDeviceFlags, INFERENCE_AMI_SSM_PARAMETERS, InferenceFleetSpec, InferenceFleetSpecInput, resolveInferenceFleetSpec } from '../core';
import { childOptions, componentSpecScope, MlopsComponentArgs, policyJson, resolveProfileAndTags } from './component-support';

export interface InferenceFleetArgs extends MlopsComponentArgs, Omit<InferenceFleetSpecInput, 'hasCertificate' | 'variantCount'> {
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets of the instances and the internal load balancer. */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** CIDR blocks allowed to call the load balancer (the VPC's CIDR for an internal one). */
  readonly allowedCidrBlocks: pulumi.Input<string>[];
  /** Container image the instances serve. */
  readonly imageUri: pulumi.Input<string>;
  /**
   * ACM certificate of an HTTPS listener; required with `internetFacing`.
   * @default - an HTTP listener on port 80 (internal load balancers only)
   */
  readonly certificateArn?: pulumi.Input<string>;
  /**
   * ARN of the key encrypting root volumes.
   * @default - the AWS managed EBS key
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
}

/**
 * The Pulumi counterpart of the CDK `InferenceFleet` (single variant, all-at-once rollout): an Auto Scaling group of
 * GPU instances behind an internal Application Load Balancer, IMDSv2 only, encrypted root volumes, target tracking on
 * requests per instance, and in profiles with working hours a scale to zero after hours and back at the start of the
 * day. Capacity, schedule and cost estimate come from core's `resolveInferenceFleetSpec`, as in the CDK construct.
 */
export class InferenceFleet extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:InferenceFleet';

  public readonly spec: InferenceFleetSpec;
  public readonly loadBalancer: aws.lb.LoadBalancer;
  public readonly autoScalingGroup: aws.autoscaling.Group;
  public readonly scheduledActions: aws.autoscaling.Schedule[] = [];

  constructor(name: string, args: InferenceFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const specInput = { ...args, hasCertificate: args.certificateArn !== undefined };
    const spec = resolveInferenceFleetSpec(componentSpecScope(InferenceFleet.TYPE, name), specInput, profile);
    super(InferenceFleet.TYPE, name, {}, opts);
    this.spec = spec;
    const tags = mlopsTags.toAwsTags();
    const https = args.certificateArn !== undefined;
    const listenerPort = https ? 443 : 80;

    const lbSecurityGroup = new aws.ec2.SecurityGroup(`${name}-lb-sg`, {
      vpcId: args.vpcId,
      description: `Load balancer of the ${spec.instance.instanceType} fleet ${name}`,
      ingress: [{ protocol: 'tcp', fromPort: listenerPort, toPort: listenerPort, cidrBlocks: args.allowedCidrBlocks, description: 'Model clients' }],
      tags,
    }, childOptions(this));
    const instanceSecurityGroup = new aws.ec2.SecurityGroup(`${name}-instance-sg`, {
      vpcId: args.vpcId,
      description: `Instances of the fleet ${name}`,
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
    const role = new aws.iam.Role(`${name}-role`, {
      assumeRolePolicy: policyJson({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
      tags,
    }, childOptions(this));
    const instanceProfile = new aws.iam.InstanceProfile(`${name}-instance-profile`, { role: role.name, tags }, childOptions(this));
    const userData = pulumi.interpolate`#!/bin/bash
set -euo pipefail
docker run -d --restart always ${inferenceContainerDeviceFlags(spec.instance.acceleratorKind)} -p ${spec.containerPort}:${spec.containerPort} ${args.imageUri}
`.apply((s) => Buffer.from(s).toString('base64'));
    const launchTemplate = new aws.ec2.LaunchTemplate(`${name}-lt`, {
      imageId: `resolve:ssm:${INFERENCE_AMI_SSM_PARAMETERS[spec.instance.acceleratorKind]}`,
      instanceType: spec.instance.instanceType,
      iamInstanceProfile: { arn: instanceProfile.arn },
      vpcSecurityGroupIds: [instanceSecurityGroup.id],
      metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 2 },
      blockDeviceMappings: [{
        deviceName: '/dev/xvda',
        ebs: { encrypted: 'true', kmsKeyId: args.encryptionKeyArn, volumeType: 'gp3', volumeSize: spec.rootVolumeSizeGiB, deleteOnTermination: 'true' },
      }],
      userData,
      tagSpecifications: [{ resourceType: 'instance', tags }, { resourceType: 'volume', tags }],
      tags,
    }, childOptions(this));

    this.loadBalancer = new aws.lb.LoadBalancer(`${name}-alb`, {
      loadBalancerType: 'application',
      internal: !spec.internetFacing,
      subnets: args.subnetIds,
      securityGroups: [lbSecurityGroup.id],
      dropInvalidHeaderFields: true,
      enableDeletionProtection: spec.deletionProtection,
      tags,
    }, childOptions(this));
    const targetGroup = new aws.lb.TargetGroup(`${name}-tg`, {
      vpcId: args.vpcId,
      port: spec.containerPort,
      protocol: 'HTTP',
      targetType: 'instance',
      healthCheck: { path: spec.healthCheckPath, port: String(spec.containerPort), protocol: 'HTTP' },
      tags,
    }, childOptions(this));
    new aws.lb.Listener(`${name}-listener`, {
      loadBalancerArn: this.loadBalancer.arn,
      port: listenerPort,
      protocol: https ? 'HTTPS' : 'HTTP',
      certificateArn: args.certificateArn,
      sslPolicy: https ? 'ELBSecurityPolicy-TLS13-1-2-2021-06' : undefined,
      defaultActions: [{ type: 'forward', targetGroupArn: targetGroup.arn }],
      tags,
    }, childOptions(this));

    // The group's own floor is the working-hours minimum; the off-hours schedule takes it to zero.
    this.autoScalingGroup = new aws.autoscaling.Group(`${name}-asg`, {
      minSize: spec.workingMinCapacity,
      maxSize: spec.maxCapacity,
      vpcZoneIdentifiers: args.subnetIds,
      launchTemplate: { id: launchTemplate.id, version: '$Latest' },
      targetGroupArns: [targetGroup.arn],
      healthCheckType: 'ELB',
      healthCheckGracePeriod: spec.healthCheckGracePeriodSeconds,
      instanceRefresh: { strategy: 'Rolling', preferences: { minHealthyPercentage: spec.minHealthyPercent } },
      tags: Object.entries(tags).map(([key, value]) => ({ key, value, propagateAtLaunch: true })),
    }, childOptions(this));
    new aws.autoscaling.Policy(`${name}-requests`, {
      autoscalingGroupName: this.autoScalingGroup.name,
      policyType: 'TargetTrackingScaling',
      targetTrackingConfiguration: {
        targetValue: spec.targetRequestsPerInstancePerMinute,
        predefinedMetricSpecification: {
          predefinedMetricType: 'ALBRequestCountPerTarget',
          resourceLabel: pulumi.interpolate`${this.loadBalancer.arnSuffix}/${targetGroup.arnSuffix}`,
        },
      },
    }, childOptions(this));

    if (spec.offHours) {
      const { scaleDown, scaleUp, timeZone } = spec.offHours;
      this.scheduledActions.push(this.schedule(`${name}-scale-to-zero`, scaleDown, timeZone, 0, 0),
        this.schedule(`${name}-scale-up-working-hours`, scaleUp, timeZone, spec.workingMinCapacity, spec.maxCapacity));
    }

    this.registerOutputs({ loadBalancerDnsName: this.loadBalancer.dnsName, costEstimate: spec.costEstimate });
  }

  private schedule(id: string, cron: CronFields, timeZone: string, min: number, max: number): aws.autoscaling.Schedule {
    return new aws.autoscaling.Schedule(id, {
      autoscalingGroupName: this.autoScalingGroup.name,
      scheduledActionName: id,
      recurrence: `${cron.minute} ${cron.hour} * * ${cron.weekDay}`,
      timeZone,
      minSize: min,
      maxSize: max,
      desiredCapacity: min,
    }, childOptions(this));
  }
}
