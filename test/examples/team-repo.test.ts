import { Template } from 'aws-cdk-lib/assertions';
import { buildTeamApp, SHARED_PROD_PLATFORM, TEAM } from '../../examples/team-repo/app';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks, ArtifactPurpose } from 'mlops-constructs';

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

  test('uses the imported names and ARNs (datasets and models buckets, key, log bucket, registry, images, subnets)', () => {
    const shared = SHARED_PROD_PLATFORM;
    const expected = [
      shared.artifactStore.bucketNames[ArtifactPurpose.DATASETS],
      shared.artifactStore.bucketNames[ArtifactPurpose.MODELS],
      shared.artifactStore.encryptionKeyArn,
      shared.artifactStore.accessLogBucketName,
      `dbuser:${shared.modelRegistry.clusterResourceIdentifier}/fraud_trainer`,
      shared.modelRegistry.securityGroupId,
      `/${shared.trainingImagesRepositoryName}:fraud-train-4`,
      `/${shared.servingImagesRepositoryName}:fraud-serve-2`,
      shared.vpc.vpcId,
      ...shared.vpc.privateSubnetIds!,
    ];
    expect(expected.filter((value) => !json.includes(value))).toEqual([]);
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
