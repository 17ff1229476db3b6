import { CfnElement, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { certificateFor } from '../support/certificates';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, ArtifactStore, EnvironmentProfile, GpuInstance, ImageRepository, INFERENCE_GPU_METRICS_NAMESPACE, InferenceFleet,
  InferenceFleetProps,
  MlopsStack, PlatformKey, PlatformNetwork, Rollout,
} from 'mlops-constructs';

const CERT = 'arn:aws:acm:us-east-1:111111111111:certificate/abc';

function build(profile: EnvironmentProfile, props: Partial<InferenceFleetProps> = {}) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Env', { profile, project: 'p' });
  const vpc = new ec2.Vpc(stack, 'Vpc');
  const artifactStore = new ArtifactStore(stack, 'Store');
  const image = new ImageRepository(stack, 'Images');
  // Where the profile requires TLS, the certificate a user must give (unless the test gives its own, or none).
  const fleet = new InferenceFleet(stack, 'Fleet', {
    vpc, artifactStore, image, imageTag: '1.0', modelName: 'fraud', modelVersion: 'v1', certificate: certificateFor(stack, profile), ...props,
  });
  return { app, stack, vpc, fleet, template: () => Template.fromStack(stack) };
}

function listenerWeights(template: Template): Array<{ tg: string; weight: number }> {
  const listeners = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::Listener'))
    .filter((l) => l.Properties.DefaultActions[0].Type === 'forward');
  expect(listeners).toHaveLength(1);
  const action = listeners[0].Properties.DefaultActions[0];
  return action.ForwardConfig.TargetGroups.map((t: any) => ({ tg: t.TargetGroupArn.Ref, weight: t.Weight }));
}

function userDataOf(template: Template): string[] {
  return Object.values(template.findResources('AWS::EC2::LaunchTemplate'))
    .map((lt) => JSON.stringify(lt.Properties.LaunchTemplateData.UserData));
}

describe('InferenceFleet defaults', () => {
  test('launch template: catalog GPU type, GPU AMI from SSM, IMDSv2, encrypted gp3 root volume', () => {
    const t = build(EnvironmentProfile.dev()).template();
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'g5.xlarge',
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
        Monitoring: { Enabled: true },
        BlockDeviceMappings: [{
          DeviceName: '/dev/xvda',
          Ebs: { Encrypted: true, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('FleetKey'), 'Arn'] }, VolumeSize: 100, VolumeType: 'gp3', DeleteOnTermination: true },
        }],
      }),
    });
    const params = Object.values(t.toJSON().Parameters ?? {}).map((p: any) => p.Default);
    expect(params).toContain('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id');
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'AllowLaunchingServiceLinkedRolesToEncryptVolumes', Condition: Match.objectLike({ ArnLike: Match.anyValue() }) })]) },
    });
  });

  test('user data pulls the image and runs it with MODEL_URI, GPUs and the CloudWatch agent', () => {
    const [userData] = userDataOf(build(EnvironmentProfile.dev()).template());
    expect(userData).toMatch(/docker pull/);
    expect(userData).toMatch(/MODEL_URI=/);
    expect(userData).toMatch(/\/fraud\/v1\//);
    expect(userData).toMatch(/--gpus all/);
    expect(userData).toMatch(/amazon-cloudwatch-agent/);
    expect(userData).toContain(INFERENCE_GPU_METRICS_NAMESPACE);
  });

  test('the role reads only this model\'s promoted versions (served/fraud/), pulls the image, and uses a managed policy', () => {
    const t = build(EnvironmentProfile.dev()).template();
    t.resourceCountIs('AWS::IAM::Policy', 0);
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('StoreModels'), 'Arn'] }, '/served/fraud/*']] },
          }),
          Match.objectLike({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['served/fraud/*'] } } }),
          Match.objectLike({ Action: Match.arrayWith(['ecr:BatchGetImage']) }),
          Match.objectLike({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': INFERENCE_GPU_METRICS_NAMESPACE } } }),
        ]),
      },
    });
  });

  test('dev: one instance in working hours, at most 2, ELB health checks, rolling updates', () => {
    const { fleet, template } = build(EnvironmentProfile.dev());
    expect([fleet.minCapacity, fleet.maxCapacity]).toEqual([0, 2]);
    template().hasResource('AWS::AutoScaling::AutoScalingGroup', {
      Properties: Match.objectLike({
        MinSize: '1',
        MaxSize: '2',
        HealthCheckType: 'ELB',
        HealthCheckGracePeriod: 600,
        VPCZoneIdentifier: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PrivateSubnet1') }]),
        NotificationConfigurations: [Match.objectLike({ TopicARN: { Ref: Match.stringLikeRegexp('FleetScalingEvents') } })],
      }),
      UpdatePolicy: Match.objectLike({ AutoScalingRollingUpdate: Match.objectLike({ MaxBatchSize: 1, MinInstancesInService: 1 }) }),
    });
  });

  test('scaling: request count per target and GPU utilization target tracking', () => {
    const t = build(EnvironmentProfile.dev()).template();
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingConfiguration: Match.objectLike({
        PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }),
        TargetValue: 300,
      }),
    });
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      TargetTrackingConfiguration: Match.objectLike({
        CustomizedMetricSpecification: Match.objectLike({ Namespace: INFERENCE_GPU_METRICS_NAMESPACE, MetricName: 'nvidia_smi_utilization_gpu' }),
        TargetValue: 70,
      }),
    });
  });

  test('dev: scheduled scale-down to zero at the end of working hours and back in the morning', () => {
    const t = build(EnvironmentProfile.dev()).template();
    t.hasResourceProperties('AWS::AutoScaling::ScheduledAction', {
      Recurrence: '0 20 * * MON,TUE,WED,THU,FRI', MinSize: 0, MaxSize: 0, DesiredCapacity: 0, TimeZone: 'UTC',
    });
    t.hasResourceProperties('AWS::AutoScaling::ScheduledAction', {
      Recurrence: '0 8 * * MON,TUE,WED,THU,FRI', MinSize: 1, MaxSize: 2, DesiredCapacity: 1, TimeZone: 'UTC',
    });
  });

  test('load balancer: internal, access logs under alb/, invalid headers dropped, not deletion-protected in dev', () => {
    const t = build(EnvironmentProfile.dev()).template();
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'deletion_protection.enabled', Value: 'false' },
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.bucket', Value: { Ref: Match.stringLikeRegexp('StoreAccessLogs') } },
        { Key: 'access_logs.s3.prefix', Value: 'alb' },
      ]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8080, HealthCheckPath: '/ping', TargetType: 'instance',
    });
  });

  test('security groups: the listener port from the VPC only, instances only from the load balancer', () => {
    const t = build(EnvironmentProfile.dev()).template();
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('Load balancer'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: { 'Fn::GetAtt': [Match.stringLikeRegexp('Vpc'), 'CidrBlock'] }, FromPort: 80, ToPort: 80 })],
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 8080,
      ToPort: 8080,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('FleetInstanceSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('FleetLoadBalancerSecurityGroup'), 'GroupId'] },
    });
    expect(Object.keys(t.findResources('AWS::EC2::SecurityGroupIngress'))).toHaveLength(1);
  });

  test('prod: two instances at least, four at most, deletion protection, no schedule', () => {
    const { fleet, template } = build(EnvironmentProfile.prod());
    const t = template();
    expect([fleet.minCapacity, fleet.maxCapacity]).toEqual([2, 4]);
    t.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      Properties: Match.objectLike({ MinSize: '2', MaxSize: '4' }),
      UpdatePolicy: Match.objectLike({ AutoScalingRollingUpdate: Match.objectLike({ MinInstancesInService: 2 }) }),
    });
    t.resourceCountIs('AWS::AutoScaling::ScheduledAction', 0);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'deletion_protection.enabled', Value: 'true' }]),
    });
  });

  test('cost estimate: instances in working hours plus the load balancer', () => {
    const dev = build(EnvironmentProfile.dev()).fleet.costEstimate;
    const alb = Math.round((0.0225 + 0.008) * 730 * 100) / 100;
    const hours = 12 * 5 * (52 / 12);
    expect(dev.minUsd).toBeCloseTo(1.006 * 1 * hours + alb, 1);
    expect(dev.maxUsd).toBeCloseTo(1.006 * 2 * hours + alb, 1);
    const prod = build(EnvironmentProfile.prod()).fleet.costEstimate;
    expect(prod.minUsd).toBeCloseTo(1.006 * 2 * 730 + alb, 1);
    expect(prod.maxUsd).toBeCloseTo(1.006 * 4 * 730 + alb, 1);
  });
});

describe('InferenceFleet options', () => {
  test('CPU and Inferentia instances use their own AMIs and no GPU scaling', () => {
    const cpu = build(EnvironmentProfile.dev(), { instanceType: 'm7i.xlarge' }).template();
    expect(Object.values(cpu.toJSON().Parameters).map((p: any) => p.Default))
      .toContain('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64');
    expect(Object.keys(cpu.findResources('AWS::AutoScaling::ScalingPolicy'))).toHaveLength(1);
    expect(userDataOf(cpu)[0]).not.toMatch(/--gpus/);
    const inf = build(EnvironmentProfile.dev(), { instanceType: 'inf2.xlarge' }).template();
    expect(Object.values(inf.toJSON().Parameters).map((p: any) => p.Default))
      .toContain('/aws/service/neuron/dlami/base/amazon-linux-2023/latest/image_id');
    expect(userDataOf(inf)[0]).toMatch(/\/dev\/neuron/);
  });

  test('internet-facing with a certificate: HTTPS on 443 in public subnets, open to the internet by default', () => {
    const { stack, template } = build(EnvironmentProfile.prod(), {
      internetFacing: true,
      certificate: acm.Certificate.fromCertificateArn(new MlopsStack(newApp(), 'Certs', { profile: EnvironmentProfile.prod(), project: 'p' }), 'Cert', CERT),
    });
    expect(stack).toBeDefined();
    const t = template();
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing', Subnets: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PublicSubnet1') }]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: CERT }] });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443 }), Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 80 })],
    });
  });

  test('staging and prod: HTTPS on 443 with TLS 1.2+, port 80 only redirects, the group admits both ports and nothing else', () => {
    for (const profile of [EnvironmentProfile.staging(), EnvironmentProfile.prod()]) {
      const { fleet, stack, template } = build(profile);
      const t = template();
      const listeners = Object.values(t.findResources('AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties);
      expect(listeners).toHaveLength(2);
      const https = listeners.find((l) => l.Port === 443)!;
      expect(https).toMatchObject({ Protocol: 'HTTPS', SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06', Certificates: [{ CertificateArn: expect.stringMatching(/^arn:aws:acm:/) }] });
      expect(https.DefaultActions[0].Type).toBe('forward');
      const http = listeners.find((l) => l.Port === 80)!;
      expect(http.DefaultActions).toEqual([{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }]);
      // The listener rollouts reweight is the HTTPS one.
      expect(t.toJSON().Resources[stack.getLogicalId(fleet.listener.node.defaultChild as CfnElement)].Properties.Port).toBe(443);
      const group = stack.getLogicalId(fleet.loadBalancerSecurityGroup.node.defaultChild as CfnElement);
      const ingress = t.toJSON().Resources[group].Properties.SecurityGroupIngress;
      expect(ingress.map((r: any) => r.FromPort).sort()).toEqual([443, 80]);
      expect(ingress.every((r: any) => r.FromPort === r.ToPort)).toBe(true);
    }
  });

  test('staging and prod without a certificate: an error naming the construct, the prop, the profile and how to get one', () => {
    for (const profile of [EnvironmentProfile.staging(), EnvironmentProfile.prod()]) {
      expect(() => build(profile, { certificate: undefined })).toThrow(new RegExp(
        `Env/Fleet: 'certificate' is required under the '${profile.name}' profile \\(requireTls\\).*received undefined.*ACM Private CA.*acm\\.Certificate\\.fromCertificateArn`));
    }
    // Dev stays HTTP without one; a profile may opt out.
    expect(build(EnvironmentProfile.prod({ requireTls: false }), { certificate: undefined }).fleet.listener.port).toBe(80);
  });

  test('allowedPeers, ports, capacity, warm pool, grace period, healthy percent and key are honoured', () => {
    const { stack, template, fleet } = build(EnvironmentProfile.prod(), {
      allowedPeers: [ec2.Peer.ipv4('10.1.0.0/16')],
      containerPort: 9000,
      healthCheckPath: '/v2/health/ready',
      minCapacity: 3,
      maxCapacity: 6,
      warmPool: { minSize: 1 },
      healthCheckGracePeriod: Duration.minutes(20),
      minHealthyPercent: 50,
      targetRequestsPerInstancePerMinute: 120,
      targetGpuUtilizationPercent: 60,
      rootVolumeSizeGiB: 200,
      instanceType: 'g6.2xlarge',
    });
    expect(fleet.encryptionKey).toBeDefined();
    const t = template();
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.1.0.0/16', FromPort: 443 }), Match.objectLike({ CidrIp: '10.1.0.0/16', FromPort: 80 })],
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 9000, HealthCheckPath: '/v2/health/ready' });
    t.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      Properties: Match.objectLike({ MinSize: '3', MaxSize: '6', HealthCheckGracePeriod: 1200 }),
      UpdatePolicy: Match.objectLike({ AutoScalingRollingUpdate: Match.objectLike({ MinInstancesInService: 2 }) }),
    });
    t.hasResourceProperties('AWS::AutoScaling::WarmPool', { MinSize: 1 });
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { TargetTrackingConfiguration: Match.objectLike({ TargetValue: 120 }) });
    t.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', { TargetTrackingConfiguration: Match.objectLike({ TargetValue: 60 }) });
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ InstanceType: 'g6.2xlarge', BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 200 }) })] }),
    });
    expect(stack).toBeDefined();
  });

  test('a given key encrypts the volumes and gets the EC2 statement', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Env', { profile: EnvironmentProfile.dev(), project: 'p' });
    const key = new kms.Key(stack, 'Given', { enableKeyRotation: true });
    new InferenceFleet(stack, 'Fleet', {
      vpc: new ec2.Vpc(stack, 'Vpc'),
      artifactStore: new ArtifactStore(stack, 'Store'),
      image: new ImageRepository(stack, 'Images'),
      imageTag: '1.0',
      modelName: 'fraud',
      modelVersion: 'v1',
      encryptionKey: key,
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Given'), 'Arn'] } }) })],
      }),
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'AllowLaunchingServiceLinkedRolesToEncryptVolumes' })]) },
    });
    expect(Object.keys(t.findResources('AWS::KMS::Key')).filter((id) => id.startsWith('FleetKey'))).toEqual([]);
  });

  test('scaleToZeroOffHours: false keeps dev capacity through the night', () => {
    const t = build(EnvironmentProfile.dev(), { scaleToZeroOffHours: false, minCapacity: 1 }).template();
    t.resourceCountIs('AWS::AutoScaling::ScheduledAction', 0);
  });

  test('prod may scale to zero with allowScaleToZero', () => {
    const { fleet } = build(EnvironmentProfile.prod(), { minCapacity: 0, allowScaleToZero: true });
    expect(fleet.minCapacity).toBe(0);
  });
});

describe('InferenceFleet capacity resilience', () => {
  const groups = (t: Template) => Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup')).map((g) => g.Properties);

  test('by default each group may launch the type or two catalog stand-ins, on demand, the type first; spread over the zones', () => {
    const { template } = build(EnvironmentProfile.prod(), { rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(5) }), variantVersions: { candidate: 'v2' } });
    const all = groups(template());
    expect(all).toHaveLength(2);
    for (const group of all) {
      expect(group.LaunchTemplate).toBeUndefined();
      const policy = group.MixedInstancesPolicy;
      expect(policy.LaunchTemplate.Overrides.map((o: any) => o.InstanceType)).toEqual(['g5.xlarge', 'g6.xlarge', 'g6.2xlarge']);
      expect(policy.InstancesDistribution).toEqual({ OnDemandAllocationStrategy: 'prioritized', OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 100 });
      // The zones of its subnets, named on the group (what CT.AUTOSCALING.PR.1 reads), two at least in a two-zone VPC.
      expect(group.AvailabilityZones.length).toBe(group.VPCZoneIdentifier.length);
      expect(group.AvailabilityZones.length).toBeGreaterThanOrEqual(2);
    }
  });

  test('stand-ins run the same model: same accelerator and count, no less memory, at most 25% dearer', () => {
    for (const type of ['g5.xlarge', 'g6.2xlarge', 'g5.12xlarge', 'g4dn.xlarge', 'm7i.xlarge']) {
      const instance = GpuInstance.of(type);
      for (const alternative of instance.capacityAlternatives()) {
        expect([alternative.acceleratorKind, alternative.accelerators]).toEqual([instance.acceleratorKind, instance.accelerators]);
        expect(alternative.acceleratorMemoryMiB).toBeGreaterThanOrEqual(instance.acceleratorMemoryMiB);
        expect(alternative.memoryGiB).toBeGreaterThanOrEqual(instance.memoryGiB);
        expect(alternative.onDemandHourlyUsd).toBeLessThanOrEqual(instance.onDemandHourlyUsd * 1.25);
      }
    }
    // Neuron models are compiled per generation: no inf1 stands in for inf2; none is within 25% for inf2.xlarge.
    expect(GpuInstance.of('inf2.xlarge').capacityAlternatives()).toEqual([]);
  });

  test('cost: the estimate\'s maximum assumes the dearest type the groups may launch, its minimum the fleet\'s own type', () => {
    // g6.xlarge (0.8048 $/h) falling back to g6.2xlarge (0.9776 $/h): the maximum is priced at the stand-in.
    const withStandIns = build(EnvironmentProfile.prod(), { instanceType: 'g6.xlarge', alternativeInstanceTypes: ['g6.2xlarge'] }).fleet.costEstimate;
    const alone = build(EnvironmentProfile.prod(), { instanceType: 'g6.xlarge', alternativeInstanceTypes: [] }).fleet.costEstimate;
    const dearest = build(EnvironmentProfile.prod(), { instanceType: 'g6.2xlarge', alternativeInstanceTypes: [] }).fleet.costEstimate;
    expect(withStandIns.minUsd).toBe(alone.minUsd);
    expect(withStandIns.maxUsd).toBe(dearest.maxUsd);
    expect(withStandIns.maxUsd).toBeGreaterThan(alone.maxUsd);
  });

  test('alternativeInstanceTypes: [] keeps one type (no mixed-instances policy); a named stand-in is used', () => {
    expect(groups(build(EnvironmentProfile.dev(), { alternativeInstanceTypes: [] }).template())[0].LaunchTemplate).toBeDefined();
    const named = groups(build(EnvironmentProfile.dev(), { alternativeInstanceTypes: ['g5.2xlarge'] }).template())[0];
    expect(named.MixedInstancesPolicy.LaunchTemplate.Overrides.map((o: any) => o.InstanceType)).toEqual(['g5.xlarge', 'g5.2xlarge']);
  });
});

describe('InferenceFleet rollouts', () => {
  test('all at once: one variant, one target group, forward', () => {
    const { fleet, template } = build(EnvironmentProfile.dev());
    expect(fleet.variants.map((v) => [v.name, v.modelVersion, v.weight])).toEqual([['candidate', 'v1', 100]]);
    template().resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 1);
    template().resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
  });

  test('canary: current and candidate fleets with 90/10 listener weights and their own model URIs', () => {
    const { fleet, template } = build(EnvironmentProfile.prod(), {
      rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
      variantVersions: { candidate: 'v2' },
    });
    const t = template();
    expect(fleet.variants.map((v) => [v.name, v.modelVersion, v.weight])).toEqual([['current', 'v1', 90], ['candidate', 'v2', 10]]);
    expect(listenerWeights(t).map((w) => w.weight)).toEqual([90, 10]);
    expect(listenerWeights(t)[0].tg).toMatch(/FleetVariantCurrentTargetGroup/);
    t.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 2);
    const userData = userDataOf(t);
    expect(userData.some((u) => u.includes('/served/fraud/v1/model.tar.gz'))).toBe(true);
    expect(userData.some((u) => u.includes('/served/fraud/v2/model.tar.gz'))).toBe(true);
    expect(fleet.costEstimate.minUsd).toBeCloseTo(1.006 * 4 * 730 + 22.27, 1);
  });

  test('linear: the first step\'s weights', () => {
    const t = build(EnvironmentProfile.prod(), {
      rollout: Rollout.linear({ stepPercent: 20, interval: Duration.minutes(10) }), variantVersions: { candidate: 'v2' },
    }).template();
    expect(listenerWeights(t).map((w) => w.weight)).toEqual([80, 20]);
  });

  test('A/B test: one fleet per variant with its weight', () => {
    const { fleet, template } = build(EnvironmentProfile.prod(), {
      rollout: Rollout.abTest({ weights: { a: 70, b: 30 } }), variantVersions: { a: 'v1', b: 'v2' },
    });
    expect(fleet.variants.map((v) => [v.name, v.modelVersion])).toEqual([['a', 'v1'], ['b', 'v2']]);
    const weights = listenerWeights(template());
    expect(weights.map((w) => w.weight)).toEqual([70, 30]);
    expect(weights[1].tg).toMatch(/FleetVariantBTargetGroup/);
  });

  test('blue/green: both fleets up, all weight on current', () => {
    const t = build(EnvironmentProfile.prod(), { rollout: Rollout.blueGreen(), variantVersions: { candidate: 'v2' } }).template();
    expect(listenerWeights(t).map((w) => w.weight)).toEqual([100, 0]);
    t.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 2);
  });
});

describe('InferenceFleet metrics', () => {
  test('latency, errors, requests, healthy hosts and GPU utilization', () => {
    const { fleet, stack } = build(EnvironmentProfile.prod(), {
      rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }), variantVersions: { candidate: 'v2' },
    });
    expect(fleet.metricLatency('p90')).toMatchObject({ metricName: 'TargetResponseTime', statistic: 'p90', namespace: 'AWS/ApplicationELB' });
    expect(fleet.metricLatency()).toMatchObject({ statistic: 'p99' });
    expect(fleet.metric5xx()).toMatchObject({ metricName: 'HTTPCode_Target_5XX_Count', statistic: 'Sum' });
    expect(fleet.metricInvocations()).toMatchObject({ metricName: 'RequestCount', statistic: 'Sum' });
    expect(fleet.metricErrorRate().expression).toBe('100 * FILL(errors, 0) / requests');
    expect(fleet.metricHealthyHosts()).toMatchObject({ metricName: 'HealthyHostCount' });
    const gpu = fleet.metricGpuUtilization('candidate');
    expect(gpu).toMatchObject({ namespace: INFERENCE_GPU_METRICS_NAMESPACE, metricName: 'nvidia_smi_utilization_gpu' });
    expect(stack.resolve(gpu.dimensions?.AutoScalingGroupName)).toEqual({ Ref: expect.stringMatching(/FleetVariantCandidateAutoScalingGroup/) });
    expect(() => fleet.metricHealthyHosts('nope')).toThrow(/'variant'.*Fix: use one of current, candidate/);
  });
});

describe('InferenceFleet rejects bad input', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['min above max', () => build(EnvironmentProfile.dev(), { minCapacity: 5, maxCapacity: 2 }), /'minCapacity' must not be greater than 'maxCapacity'.*Fix: lower 'minCapacity'/],
    ['scale to zero in prod without opt-in', () => build(EnvironmentProfile.prod(), { minCapacity: 0 }), /'minCapacity' scales the fleet to zero.*allowScaleToZero: true/],
    ['scale to zero off hours without working hours', () => build(EnvironmentProfile.prod(), { scaleToZeroOffHours: true }), /'scaleToZeroOffHours' needs working hours.*Fix:/],
    ['shadow rollout', () => build(EnvironmentProfile.dev(), { rollout: Rollout.shadow() }), /'rollout' is a rollout InferenceFleet cannot perform.*ModelEndpoint/],
    ['internet-facing without a certificate', () => build(EnvironmentProfile.dev(), { internetFacing: true }), /'certificate' is required when 'internetFacing'.*Fix: pass an ACM certificate/],
    ['instance type not in the catalog', () => build(EnvironmentProfile.dev(), { instanceType: 'g5.3xlarge' }), /'instanceType' is not in the instance catalog.*Fix: use one of g5.xlarge/],
    ['canary percent above 50', () => build(EnvironmentProfile.dev(), { rollout: Rollout.canary({ percent: 60, bake: Duration.minutes(5) }) }), /'canary.percent' must be a whole number between 1 and 50/],
    ['canary percent 0', () => build(EnvironmentProfile.dev(), { rollout: Rollout.canary({ percent: 0, bake: Duration.minutes(5) }) }), /'canary.percent'.*Fix:/],
    ['A/B weights that do not sum to 100', () => build(EnvironmentProfile.dev(), { rollout: Rollout.abTest({ weights: { a: 60, b: 30 } }) }), /'abTest.weights' must sum to 100 \(they sum to 90\)/],
    ['canary without a candidate version', () => build(EnvironmentProfile.dev(), { rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(5) }) }), /'variantVersions.candidate' is required by the canary rollout.*Fix:/],
    ['a version for a variant the rollout lacks', () => build(EnvironmentProfile.dev(), { variantVersions: { b: 'v2' } }), /'variantVersions.b' names a variant the rollout does not have/],
    ['a model name with upper case', () => build(EnvironmentProfile.dev(), { modelName: 'Fraud_Model' }), /'modelName' must be a model name.*Fix:/],
    ['a GPU target outside 10-95', () => build(EnvironmentProfile.dev(), { targetGpuUtilizationPercent: 99 }), /'targetGpuUtilizationPercent' must be a whole number between 10 and 95/],
    ['a port of 0', () => build(EnvironmentProfile.dev(), { containerPort: 0 }), /'containerPort' must be a whole number between 1 and 65535/],
    ['a root volume too small', () => build(EnvironmentProfile.dev(), { rootVolumeSizeGiB: 10 }), /'rootVolumeSizeGiB' must be a whole number between 30 and 16384/],
    ['no allowed peers', () => build(EnvironmentProfile.dev(), { allowedPeers: [] }), /'allowedPeers' must name at least one peer/],
    ['a grace period over 2 hours', () => build(EnvironmentProfile.dev(), { healthCheckGracePeriod: Duration.hours(3) }), /'healthCheckGracePeriod'.*Fix: give a grace period/],
    ['a health check path without a slash', () => build(EnvironmentProfile.dev(), { healthCheckPath: 'ping' }), /'healthCheckPath' must be a path starting with/],
    ['a healthy percentage over 100', () => build(EnvironmentProfile.dev(), { minHealthyPercent: 120 }), /'minHealthyPercent' must be a whole number between 0 and 100/],
    ['a stand-in with less GPU memory', () => build(EnvironmentProfile.dev(), { alternativeInstanceTypes: ['g4dn.xlarge'] }),
      /'alternativeInstanceTypes\[0\]' cannot run what runs on g5.xlarge \(received "g4dn.xlarge"\).*Fix: use a type with the same accelerator \(1 x A10G, at least 22.4 GiB each\).*e.g. g6.xlarge/],
    ['a stand-in of another accelerator kind', () => build(EnvironmentProfile.dev(), { alternativeInstanceTypes: ['g6.xlarge', 'inf2.xlarge'] }),
      /'alternativeInstanceTypes\[1\]' cannot run what runs on g5.xlarge/],
    ['a stand-in repeating instanceType', () => build(EnvironmentProfile.dev(), { alternativeInstanceTypes: ['g5.xlarge'] }), /'alternativeInstanceTypes\[0\]' repeats instanceType/],
    ['a stand-in not in the catalog', () => build(EnvironmentProfile.dev(), { alternativeInstanceTypes: ['g6.3xlarge'] }), /'alternativeInstanceTypes\[0\]' is not in the instance catalog/],
  ];
  test.each(cases)('%s', (_name, fn, message) => {
    expect(fn).toThrow(message);
  });

  test('errors are ValidationErrors naming the construct path', () => {
    expect(() => build(EnvironmentProfile.dev(), { instanceType: 'x1.large' })).toThrow(/^Env\/Fleet: 'instanceType'/);
  });
});

describe('InferenceFleet compliance', () => {
  test('required props only: cdk-nag and cfn-lint clean (dev)', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'p', team: 'fraud', costCenter: 'cc-42' });
    const key = new PlatformKey(stack, 'Key');
    const network = new PlatformNetwork(stack, 'Network', { encryptionKey: key.key });
    const artifactStore = new ArtifactStore(stack, 'Store', { encryptionKey: key.key });
    const image = new ImageRepository(stack, 'Images', { encryptionKey: key.key });
    new InferenceFleet(stack, 'Fleet', { vpc: network.vpc, artifactStore, image, imageTag: '1.0', modelName: 'fraud', modelVersion: 'v1' });
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('prod canary with HTTPS: cdk-nag and cfn-lint clean', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Prod', {
      profile: EnvironmentProfile.prod(), project: 'p', team: 'fraud', costCenter: 'cc-42', env: { account: '111111111111', region: 'us-east-1' },
    });
    const network = new PlatformNetwork(stack, 'Network');
    const artifactStore = new ArtifactStore(stack, 'Store');
    const image = new ImageRepository(stack, 'Images');
    new InferenceFleet(stack, 'Fleet', {
      vpc: network.vpc,
      artifactStore,
      image,
      imageTag: '1.0',
      modelName: 'fraud',
      modelVersion: 'v1',
      rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
      variantVersions: { candidate: 'v2' },
      certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', CERT),
      allowedPeers: [ec2.Peer.ipv4('10.0.0.0/8')],
    });
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    // W3010 (hard-coded zones) comes from the VPC of an environment-specific stack, not from the fleet.
    expect(describeFindings(cfnLint(result.templates).filter((f) => f.rule !== 'W3010'))).toBe('');
  });
});

describe('InferenceFleet bad input found by the fuzz suite', () => {
  test('a bad imageTag is blamed on \'imageTag\' (was blamed on the image repository\'s \'tag\')', () => {
    expect(() => build(EnvironmentProfile.dev(), { imageTag: 'v1 (final)' }))
      .toThrow(/Env\/Fleet: 'imageTag' must be an image tag of 1-128 letters.*received "v1 \(final\)"/);
  });
});

describe('InferenceFleet fixed size (found by the fuzz suite)', () => {
  test('minCapacity equal to maxCapacity gives a fixed-size group without target tracking, and lints clean', () => {
    const { app, template } = build(EnvironmentProfile.prod(), { minCapacity: 3, maxCapacity: 3 });
    const t = template();
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '3', MaxSize: '3' });
    t.resourceCountIs('AWS::AutoScaling::ScalingPolicy', 0);
    const { templates } = synthesizeWithPacks(app);
    expect(describeFindings(cfnLint(templates).filter((f) => f.rule === 'E3712'))).toBe('');
  });

  test('a fleet that can grow keeps its request and GPU target tracking', () => {
    build(EnvironmentProfile.prod(), { minCapacity: 2, maxCapacity: 3 }).template().resourceCountIs('AWS::AutoScaling::ScalingPolicy', 2);
  });
});
