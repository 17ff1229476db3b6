import { Template } from 'aws-cdk-lib/assertions';
import { buildTeamApp, SHARED_PROD, TEAM } from '../../examples/team-repo/app';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks, sharedPlatformParameterNames } from 'mlops-constructs';

describe('examples/team-repo', () => {
  const app = newApp();
  const stack = buildTeamApp(app);
  applyCompliancePacks(app);
  const result = synthesizeWithPacks(app);
  const template = Template.fromStack(stack);
  const json = JSON.stringify(template.toJSON());

  test('synthesizes one team stack with 0 cdk-nag findings (AwsSolutions, NIST, HIPAA, MlopsChecks)', () => {
    expect(stack.stackName).toBe('fraud-prod');
    expect(describeFindings(result.findings)).toBe('');
  });

  test('passes cfn-lint with 0 findings', () => {
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('owns no shared data: no bucket, key, database, secret, VPC or repository is created', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::RDS::DBCluster', 'AWS::SecretsManager::Secret', 'AWS::EC2::VPC', 'AWS::ECR::Repository']) {
      template.resourceCountIs(type, 0);
    }
  });

  test('hard-codes no shared name: it reads the environment\'s published parameters (buckets, key, log bucket, registry, images, subnets)', () => {
    const names = sharedPlatformParameterNames(`${SHARED_PROD.project}-${SHARED_PROD.profile.name}`);
    const parameters = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    const read = Object.entries(parameters).filter(([, p]) => p.Type === 'AWS::SSM::Parameter::Value<String>' && p.Default.startsWith('/mlops/'));
    const used = (name: string) => {
      const entry = read.find(([, p]) => p.Default === name);
      return entry !== undefined && json.includes(`{"Ref":"${entry[0]}"}`);
    };
    const expected = [
      names.artifactStore.bucketNames.datasets, names.artifactStore.bucketNames.models, names.artifactStore.encryptionKeyArn,
      names.artifactStore.accessLogBucketName, names.modelRegistry.clusterResourceIdentifier, names.modelRegistry.securityGroupId,
      names.images.trainingRepositoryName, names.images.servingRepositoryName, names.network.vpcId, names.network.privateSubnetIds,
    ];
    expect(expected.filter((name) => !used(name))).toEqual([]);
    expect(json).not.toMatch(/mlops-prod-(datasets|models|access-logs)|vpc-0|subnet-0|sg-0|cluster-[A-Z0-9]{10}/);
  });

  test('adds the team model fleet and training queue, tagged with the team', () => {
    template.resourceCountIs('AWS::Batch::JobQueue', 1);
    template.resourcePropertiesCountIs('AWS::AutoScaling::AutoScalingGroup', {}, 2);
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    const tags = stack.tags.tagValues();
    expect(tags['mlops:team']).toBe(TEAM.name);
    expect(tags['mlops:cost-center']).toBe(TEAM.costCenter);
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      ComputeResources: { Tags: { 'mlops:team': TEAM.name, 'mlops:cost-center': TEAM.costCenter } },
    });
  });
});
