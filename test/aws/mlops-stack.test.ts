import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { newApp } from '../support/gate';
import { DataClassification, EnvironmentProfile, MlopsScope, MlopsStack, MlopsTagging, MlopsTags, PlatformKey, ValidationError } from 'mlops-constructs';

describe('MlopsStack', () => {
  test('tags every taggable resource with the cost-allocation and classification tags', () => {
    // GIVEN
    const app = newApp();
    const stack = new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'fraud', team: 'risk', costCenter: 'cc-7' });
    // WHEN
    new s3.Bucket(stack, 'Bucket');
    new sns.Topic(stack, 'Topic');
    // THEN
    const template = Template.fromStack(stack);
    const expected = [
      { Key: 'mlops:cost-center', Value: 'cc-7' },
      { Key: 'mlops:data-classification', Value: 'internal' },
      { Key: 'mlops:environment', Value: 'dev' },
      { Key: 'mlops:project', Value: 'fraud' },
      { Key: 'mlops:team', Value: 'risk' },
    ];
    template.hasResourceProperties('AWS::S3::Bucket', { Tags: expected });
    template.hasResourceProperties('AWS::SNS::Topic', { Tags: expected });
  });

  test('a team scope overrides the platform tags for its own resources only', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Prod', { profile: EnvironmentProfile.prod(), project: 'platform' });
    const team = new Construct(stack, 'VisionTeam');
    MlopsTagging.apply(team, stack.mlopsTags.with({ team: 'vision', dataClassification: DataClassification.RESTRICTED }));
    new sns.Topic(team, 'TeamTopic');
    new sns.Topic(stack, 'SharedTopic');
    const topics = Template.fromStack(stack).findResources('AWS::SNS::Topic');
    const tagsOf = (prefix: string) => Object.entries(topics).find(([id]) => id.startsWith(prefix))![1].Properties.Tags;
    expect(tagsOf('VisionTeam')).toEqual(expect.arrayContaining([
      { Key: 'mlops:team', Value: 'vision' }, { Key: 'mlops:data-classification', Value: 'restricted' },
    ]));
    expect(tagsOf('SharedTopic')).toEqual(expect.arrayContaining([{ Key: 'mlops:data-classification', Value: 'internal' }]));
    expect(tagsOf('SharedTopic')).not.toEqual(expect.arrayContaining([expect.objectContaining({ Key: 'mlops:team' })]));
  });

  test('termination protection follows the profile unless set', () => {
    const app = newApp();
    expect(new MlopsStack(app, 'A', { profile: EnvironmentProfile.dev(), project: 'p' }).terminationProtection).toBe(false);
    expect(new MlopsStack(app, 'B', { profile: EnvironmentProfile.prod(), project: 'p' }).terminationProtection).toBe(true);
    expect(new MlopsStack(app, 'C', { profile: EnvironmentProfile.prod(), project: 'p', terminationProtection: false }).terminationProtection).toBe(false);
  });

  test('constructs find the profile of the enclosing stack; outside one they get prod', () => {
    const app = newApp();
    const dev = new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'p' });
    const inner = new Construct(new Construct(dev, 'A'), 'B');
    expect(MlopsScope.profileOf(inner).name).toBe('dev');
    expect(MlopsScope.tagsOf(inner)?.project).toBe('p');
    const plain = new Stack(app, 'Plain');
    expect(MlopsScope.profileOf(plain).name).toBe('prod');
    expect(MlopsScope.tagsOf(plain)).toBeUndefined();
    expect(MlopsStack.isMlopsStack(dev)).toBe(true);
    expect(MlopsStack.isMlopsStack(plain)).toBe(false);
  });

  test('rejects a missing profile and bad tag values, naming the stack and prop', () => {
    const app = newApp();
    expect(() => new MlopsStack(app, 'NoProfile', { project: 'p' } as any)).toThrow(/NoProfile: 'profile' must be an EnvironmentProfile/);
    expect(() => new MlopsStack(app, 'BadTeam', { profile: EnvironmentProfile.dev(), project: 'p', team: 'Team A' })).toThrow(ValidationError);
    expect(() => new MlopsStack(app, 'BadTeam2', { profile: EnvironmentProfile.dev(), project: 'p', team: 'Team A' }))
      .toThrow(/BadTeam2: 'tags.team' must be 1-63 letters.*received "Team A"/);
  });

  test('rejects a profile factory that was not called, naming the factory rather than printing its source', () => {
    expect(() => new MlopsStack(newApp(), 'Uncalled', { profile: EnvironmentProfile.dev as any, project: 'p' }))
      .toThrow(/Uncalled: 'profile' must be an EnvironmentProfile \(received function dev\)\. Fix: pass EnvironmentProfile\.dev\(\)/);
  });

  test('rejects a mistyped region or account where the user wrote it', () => {
    const app = newApp();
    expect(() => new MlopsStack(app, 'Region', { profile: EnvironmentProfile.dev(), project: 'p', env: { region: 'us-east1' } }))
      .toThrow(/Region: 'env.region' is not an AWS region code \(received "us-east1"\)\. Fix: use a region code such as 'us-east-1'/);
    expect(() => new MlopsStack(app, 'Account', { profile: EnvironmentProfile.dev(), project: 'p', env: { account: '1234', region: 'us-east-1' } }))
      .toThrow(/Account: 'env.account' is not an AWS account id \(received "1234"\)/);
    for (const region of ['us-east-1', 'us-gov-west-1', 'cn-northwest-1', 'us-isob-east-1', 'ap-southeast-5']) {
      expect(() => new MlopsStack(app, `Ok-${region}`, { profile: EnvironmentProfile.dev(), project: 'p', env: { region } })).not.toThrow();
    }
  });

  test('MlopsTags validation is shared with other engines', () => {
    expect(MlopsTags.of({ project: 'p', environment: 'dev' }).dataClassification).toBe('internal');
  });
});

describe('PlatformKey', () => {
  test('prod: rotation on, retained, 30-day pending window, CloudWatch Logs may use it', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Prod', { profile: EnvironmentProfile.prod(), project: 'p', env: { region: 'eu-west-1' } });
    new PlatformKey(stack, 'Key');
    const template = Template.fromStack(stack);
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        EnableKeyRotation: true,
        PendingWindowInDays: 30,
        KeyPolicy: Match.objectLike({
          Statement: Match.arrayWith([Match.objectLike({
            Sid: 'AllowCloudWatchLogsInThisAccount',
            Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
          })]),
        }),
      }),
    });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/mlops/Prod/Key' });
  });

  test('dev: destroyed with the stack after 7 days; options validated', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Dev', { profile: EnvironmentProfile.dev(), project: 'p' });
    new PlatformKey(stack, 'Key', { aliasName: 'team/key', allowCloudWatchLogs: false });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ PendingWindowInDays: 7 }) });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/team/key' });
    expect(JSON.stringify(template.toJSON())).not.toContain('AllowCloudWatchLogsInThisAccount');
    expect(() => new PlatformKey(stack, 'Bad', { pendingWindowDays: 3 })).toThrow(/Dev\/Bad: 'pendingWindowDays' must be a whole number between 7 and 30 \(received 3\)/);
    expect(() => new PlatformKey(stack, 'Bad2', { aliasName: 'aws/mine' })).toThrow(/'aliasName' must be an alias/);
  });
});
