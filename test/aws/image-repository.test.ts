import { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks, EnvironmentProfile, ImageRepository, ImageRepositoryProps, MlopsStack, ValidationError } from 'mlops-constructs';

function devStack(): MlopsStack {
  return new MlopsStack(newApp(), 'Dev', { profile: EnvironmentProfile.dev(), project: 'p', env: { account: '111111111111', region: 'us-east-1' } });
}

function prodStack(): MlopsStack {
  return new MlopsStack(newApp(), 'Prod', { profile: EnvironmentProfile.prod(), project: 'p', env: { account: '111111111111', region: 'us-east-1' } });
}

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).resolve(element.logicalId);
}

function lifecycleRules(stack: Stack): any[] {
  const repos = Template.fromStack(stack).findResources('AWS::ECR::Repository');
  const [repo] = Object.values(repos);
  return JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText).rules;
}

describe('ImageRepository defaults', () => {
  test('immutable tags, scan on push, encrypted with a new rotating customer managed key', () => {
    const stack = devStack();
    const images = new ImageRepository(stack, 'Images');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::ECR::Repository', {
      ImageTagMutability: 'IMMUTABLE',
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': [logicalId(images.encryptionKey as kms.Key), 'Arn'] } },
      RepositoryName: Match.absent(),
    });
  });

  test('keeps the last 10 untagged images and never expires tagged ones', () => {
    const stack = devStack();
    new ImageRepository(stack, 'Images');
    expect(lifecycleRules(stack)).toEqual([{
      rulePriority: 1,
      description: 'Keep the last 10 untagged images',
      selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 10 },
      action: { type: 'expire' },
    }]);
  });

  test('dev: destroyed and emptied with the stack; prod: retained, never emptied', () => {
    const dev = devStack();
    new ImageRepository(dev, 'Images');
    const prod = prodStack();
    new ImageRepository(prod, 'Images');
    Template.fromStack(dev).hasResource('AWS::ECR::Repository', {
      DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete', Properties: Match.objectLike({ EmptyOnDelete: true }),
    });
    Template.fromStack(prod).hasResource('AWS::ECR::Repository', {
      DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: Match.objectLike({ EmptyOnDelete: Match.absent() }),
    });
    Template.fromStack(dev).hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ PendingWindowInDays: 7 }) });
    Template.fromStack(prod).hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ PendingWindowInDays: 30 }) });
  });

  test('imageUri is the repository URI with the tag', () => {
    const stack = devStack();
    const images = new ImageRepository(stack, 'Images', { repositoryName: 'ml/serving' });
    expect(stack.resolve(images.imageUri('fraud-v3'))).toEqual({
      'Fn::Join': ['', [
        { 'Fn::Select': [4, { 'Fn::Split': [':', { 'Fn::GetAtt': [logicalId(images.repository), 'Arn'] }] }] },
        '.dkr.ecr.',
        { 'Fn::Select': [3, { 'Fn::Split': [':', { 'Fn::GetAtt': [logicalId(images.repository), 'Arn'] }] }] },
        '.',
        { Ref: 'AWS::URLSuffix' },
        '/',
        { Ref: logicalId(images.repository) },
        ':fraud-v3',
      ]],
    });
  });
});

describe('ImageRepository options', () => {
  test('name, given key, untagged count and age', () => {
    const stack = devStack();
    const key = new kms.Key(stack, 'PlatformKey', { enableKeyRotation: true });
    new ImageRepository(stack, 'Images', { repositoryName: 'ml/training', encryptionKey: key, keepUntaggedImages: 25, untaggedImageExpiryDays: 14 });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryName: 'ml/training',
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': [logicalId(key), 'Arn'] } },
    });
    expect(lifecycleRules(stack)).toEqual([
      expect.objectContaining({ rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 25 } }),
      expect.objectContaining({
        rulePriority: 2,
        selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 14, countUnit: 'days' },
        action: { type: 'expire' },
      }),
    ]);
  });

  test('grantPull: pull actions on the repository, GetAuthorizationToken (registry-wide by ECR design) only', () => {
    const stack = devStack();
    const images = new ImageRepository(stack, 'Images');
    const role = new iam.Role(stack, 'Job', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    expect(images.grantPull(role).success).toBe(true);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Effect: 'Allow', Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: { 'Fn::GetAtt': [logicalId(images.repository), 'Arn'] } },
          { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        ],
      },
    });
  });

  test('grantPullPush adds push actions on the repository only', () => {
    const stack = devStack();
    const images = new ImageRepository(stack, 'Images');
    const role = new iam.Role(stack, 'Ci', { assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com') });
    images.grantPullPush(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:CompleteLayerUpload', 'ecr:GetDownloadUrlForLayer',
              'ecr:InitiateLayerUpload', 'ecr:PutImage', 'ecr:UploadLayerPart',
            ],
            Resource: { 'Fn::GetAtt': [logicalId(images.repository), 'Arn'] },
          },
          { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        ],
      },
    });
  });

  test('fromRepositoryName imports a shared repository', () => {
    const stack = devStack();
    const images = ImageRepository.fromRepositoryName(stack, 'Shared', 'ml/serving');
    expect(images.repository.repositoryName).toBe('ml/serving');
    expect(stack.resolve(images.imageUri('v1'))).toEqual({
      'Fn::Join': ['', ['111111111111.dkr.ecr.us-east-1.', { Ref: 'AWS::URLSuffix' }, '/ml/serving:v1']],
    });
  });
});

describe('ImageRepository bad input', () => {
  const cases: Array<[string, ImageRepositoryProps, RegExp]> = [
    ['upper-case name', { repositoryName: 'ML/Training' }, /'repositoryName' must be an ECR repository name.*received "ML\/Training"\).*Fix: change 'repositoryName'/],
    ['one-character name', { repositoryName: 'a' }, /'repositoryName'.*received "a"/],
    ['empty path segment', { repositoryName: 'ml//training' }, /'repositoryName'.*received "ml\/\/training"/],
    ['trailing separator', { repositoryName: 'training-' }, /'repositoryName'.*received "training-"/],
    ['keepUntaggedImages 0', { keepUntaggedImages: 0 }, /'keepUntaggedImages' must be a whole number between 1 and 1000 \(received 0\).*Fix: set 'keepUntaggedImages'/],
    ['keepUntaggedImages 1001', { keepUntaggedImages: 1001 }, /'keepUntaggedImages'.*between 1 and 1000 \(received 1001\)/],
    ['keepUntaggedImages 2.5', { keepUntaggedImages: 2.5 }, /'keepUntaggedImages'.*received 2\.5/],
    ['untaggedImageExpiryDays 0', { untaggedImageExpiryDays: 0 }, /'untaggedImageExpiryDays' must be a whole number of at least 1 \(received 0\)/],
  ];

  test.each(cases)('%s', (_name, props, message) => {
    let error: unknown;
    try {
      new ImageRepository(devStack(), 'Images', props);
    } catch (e) {
      error = e;
    }
    expect(ValidationError.isValidationError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^Dev\/Images: /);
    expect((error as Error).message).toMatch(message);
  });

  test('an invalid image tag', () => {
    const images = new ImageRepository(devStack(), 'Images');
    expect(() => images.imageUri('-latest')).toThrow(/'tag' must be an image tag.*received "-latest"/);
  });

  test('an invalid imported name', () => {
    expect(() => ImageRepository.fromRepositoryName(devStack(), 'Shared', 'Bad Name')).toThrow(/'repositoryName'.*received "Bad Name"/);
  });
});

describe('ImageRepository compliance', () => {
  test('with only required props, dev and prod synthesize cfn-lint clean and cdk-nag clean', () => {
    const app = newApp();
    new ImageRepository(new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'p' }), 'Images');
    new ImageRepository(new MlopsStack(app, 'Prod', { profile: EnvironmentProfile.prod(), project: 'p' }), 'Images');
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });
});
