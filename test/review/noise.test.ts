import * as fs from 'fs';
import * as path from 'path';
import { reviewTemplates, TemplateStack, writeAssembly } from './support';
import { tempDir } from '../support/gate';
import { isWildcardResource, loadAssembly, main, renderMarkdown, reviewAssemblies } from 'mlops-constructs/review';

// Noise, size and rendering of the comment, on templates shaped like the library's per-model serving stacks: a role
// with the wildcards SageMaker in a VPC needs, grants on the environment's models bucket imported from its data
// stack, a served model (model, endpoint config, endpoint, autoscaling) and its log group.

const ENVS = ['dev', 'staging', 'prod'];

function dataStack(env: string): TemplateStack {
  return {
    id: `fraud-${env}-data`,
    environment: env,
    resources: {
      Models: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: { VersioningConfiguration: { Status: 'Enabled' } } },
      ModelsPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'Models' },
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Deny',
                Principal: { AWS: '*' },
                Action: 's3:*',
                Resource: [{ 'Fn::GetAtt': ['Models', 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Models', 'Arn'] }, '/*']] }],
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              },
            ],
          },
        },
      },
    },
    outputs: { ExportModelsArn: { Value: { 'Fn::GetAtt': ['Models', 'Arn'] }, Export: { Name: `fraud-${env}-data:ExportsOutputFnGetAttModelsArn` } } },
  };
}

/** A SageMaker execution role and its policy (`policyId`) with these statements. */
function roleWithPolicy(statements: unknown[], policyId = 'Policy'): Record<string, unknown> {
  return {
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'sagemaker.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        },
      },
    },
    [policyId]: {
      Type: 'AWS::IAM::Policy',
      Properties: { PolicyName: 'p', Roles: [{ Ref: 'Role' }], PolicyDocument: { Version: '2012-10-17', Statement: statements } },
    },
  };
}

function modelStack(env: string, model: string): TemplateStack {
  const tags = [{ Key: 'mlops:model', Value: model }];
  const bucket = { 'Fn::ImportValue': `fraud-${env}-data:ExportsOutputFnGetAttModelsArn` };
  return {
    id: `fraud-${env}-serving/${model}`,
    environment: env,
    resources: {
      ...roleWithPolicy([
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Effect: 'Allow', Action: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:DescribeVpcs'], Resource: '*' },
        { Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'mlops' } } },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [bucket, `/served/${model}/*`]] } },
      ], 'RoleDefaultPolicy'),
      Model: {
        Type: 'AWS::SageMaker::Model',
        Properties: {
          ExecutionRoleArn: { 'Fn::GetAtt': ['Role', 'Arn'] },
          Tags: tags,
          PrimaryContainer: { Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1', ModelDataUrl: `s3://fraud-${env}-models/served/${model}/v1/model.tar.gz` },
        },
      },
      Config: {
        Type: 'AWS::SageMaker::EndpointConfig',
        Properties: {
          Tags: tags,
          ProductionVariants: [
            { VariantName: 'current', ModelName: { 'Fn::GetAtt': ['Model', 'ModelName'] }, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1, InitialVariantWeight: 1 },
          ],
        },
      },
      Endpoint: {
        Type: 'AWS::SageMaker::Endpoint',
        Properties: {
          EndpointName: `fraud-${env}-${model}`,
          Tags: tags,
          EndpointConfigName: { 'Fn::GetAtt': ['Config', 'EndpointConfigName'] },
        },
      },
      Scaling: {
        Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
        Properties: {
          ServiceNamespace: 'sagemaker',
          ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
          ResourceId: `endpoint/fraud-${env}-${model}/variant/current`,
          MinCapacity: 1,
          MaxCapacity: env === 'prod' ? 4 : 2,
          RoleARN: 'arn:aws:iam::123456789012:role/scaling',
        },
      },
      Logs: { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: { RetentionInDays: env === 'prod' ? 365 : 30 } },
    },
  };
}

const platform = (models: number) => ENVS.flatMap((env) => [dataStack(env), ...Array.from({ length: models }, (_, i) => modelStack(env, `model-${i + 1}`))]);

describe('a PR adding 100 models to each of three environments that serve 20', () => {
  const baseDir = writeAssembly(platform(20));
  const headDir = writeAssembly(platform(120));

  test('one comment under 65,536 characters: every section kept, required wildcards once, each repeated finding one line; under 30 s', async () => {
    const started = Date.now();
    const full = tempDir('full-report');
    const out = path.join(tempDir('review'), 'review.md');
    const code = await main(['--base', baseDir, '--head', headDir, '--output', out, '--full-report', full], { stdout: () => undefined, stderr: () => undefined });
    const elapsed = Date.now() - started;
    expect(code).toBe(0);
    expect(elapsed).toBeLessThan(30_000);
    const md = fs.readFileSync(out, 'utf8');
    expect(md.length).toBeLessThanOrEqual(65_536);
    // One finding per new role: its trust policy and its policy's grant.
    expect(md).toContain('- Access broadened: 300 change(s) (1 distinct, grouped below)');
    // The blast radius: a Mermaid diagram capped at 12 stacks, the rest counted.
    const diagram = md.slice(md.indexOf('```mermaid'), md.indexOf('```', md.indexOf('```mermaid') + 3) + 3);
    expect(diagram).toContain('flowchart LR');
    expect(diagram).toContain('["… 288 more changed stacks"]:::change');
    expect(diagram.length).toBeLessThan(6000);
    for (const section of ['**✅ No blocking changes.**', '### Security', '### ML changes', '### Monthly cost estimate', 'Assumptions:']) expect(md).toContain(section);
    // The required wildcards of 300 new model roles: one line, not 900.
    expect(md.match(/Required wildcards/g)).toHaveLength(1);
    expect(md).toContain('- Required wildcards (expected, not broadening): 900 statement(s) in 300 stack(s)');
    expect(md).not.toMatch(/ecr:GetAuthorizationToken on \*/);
    // The model-specific grant: one line for 300 stacks, with the import rendered as the data stack's bucket.
    expect(md).toContain('- ⚠️ IAM on role Role (policies: trust policy, RoleDefaultPolicy): grants sts:AssumeRole on ${Role.Arn} to Service:sagemaker.amazonaws.com; '
      + 'grants s3:GetObject on import of fraud-{…}-data: Models/served/{…}/* — **×300** in 300 stacks');
    expect(md).toContain('- served-model: served model added: {…} — **×300** in 300 stacks');
    // Whole findings only: every line of the comment is complete Markdown (no line cut in a word or a tag).
    for (const line of md.split('\n')) {
      if (line.startsWith('- ') && line.includes('<details>')) expect(line).toMatch(/<\/details>$/);
    }
    // The full report is written whole.
    expect(fs.readFileSync(path.join(full, 'review.md'), 'utf8').length).toBeGreaterThanOrEqual(md.length);
    expect(JSON.parse(fs.readFileSync(path.join(full, 'review.json'), 'utf8')).stacks).toHaveLength(363);
  });

  test('with a tight budget the sections stay in priority order and say what they left out, without cutting a line', () => {
    const report = reviewAssemblies(loadAssembly(baseDir), loadAssembly(headDir));
    const md = renderMarkdown(report, { maxChars: 20_000 });
    expect(md.length).toBeLessThanOrEqual(20_000);
    const order = ['### Security', '### ML changes', '### Monthly cost estimate'].map((s) => md.indexOf(s));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(md).toMatch(/stack section\(s\) left out to stay under 20,000 characters; see the full report/);
  });
});

describe('noise', () => {
  test('the same finding in dev, staging and prod is one line with a count', () => {
    const stacks = (days: number) => ENVS.map((env) => ({
      id: `fraud-${env}-data`,
      environment: env === 'dev' ? 'stage' : env,
      resources: { Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: days } } },
    }));
    const r = reviewTemplates(stacks(365), stacks(7));
    expect(r.blocking).toHaveLength(3);
    const md = renderMarkdown(r);
    expect(md).toContain('- `Logs` `AWS::Logs::LogGroup` protection weakened: log retention 365 days → 7 days — **×3** in 3 stacks');
    expect(md).toMatch(/--> n\d+\["Logs updated"\]:::block/);
  });

  test('a construct rename re-points existing grants: unchanged access, not broadening', () => {
    const stack = (bucket: string): TemplateStack => ({
      id: 's',
      resources: {
        [bucket]: { Type: 'AWS::S3::Bucket', Properties: {} },
        ...roleWithPolicy([{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*']] } }]),
      },
    });
    const r = reviewTemplates([stack('ArtifactsOldA1B2C3D4')], [stack('ArtifactsNewE5F6A7B8')]);
    expect(r.security.filter((s) => s.broadening)).toEqual([]);
    expect(r.security.map((s) => s.repointed)).toEqual([true]);
    expect(renderMarkdown(r)).toContain('- Unchanged access: 1 IAM statement(s) re-pointed to renamed resources.');
    // Pointing a grant at another, existing bucket is new access.
    const other = (target: string): TemplateStack => ({
      id: 's',
      resources: {
        A: { Type: 'AWS::S3::Bucket', Properties: {} },
        B: { Type: 'AWS::S3::Bucket', Properties: {} },
        ...roleWithPolicy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::GetAtt': [target, 'Arn'] } }]),
      },
    });
    expect(reviewTemplates([other('A')], [other('B')]).security.filter((s) => s.broadening)).toHaveLength(1);
  });

  test('a TLS-only deny is not shown; a wildcard in an ARN is a wildcard; conditions read as text', () => {
    const policy = (statements: unknown[]): TemplateStack => ({ id: 's', resources: roleWithPolicy(statements) });
    const r = reviewTemplates([policy([{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::b' }])], [policy([
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::b' },
      { Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::*/*' },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::tracking', Condition: { StringLike: { 's3:prefix': ['mlflow/*'] } } },
    ])]);
    expect(r.security.map((s) => s.description)).toEqual([
      '**wildcard resource**: IAM on role Role (policy: Policy): grants s3:GetObject on arn:aws:s3:::*/*; '
        + 'grants s3:ListBucket on arn:aws:s3:::tracking when s3:prefix StringLike mlflow/*',
    ]);
    expect(isWildcardResource('arn:aws:s3:::models/served/*')).toBe(false);
    expect(isWildcardResource('arn:aws:ecr:us-east-1:*:repository/serve')).toBe(true);
    expect(isWildcardResource('arn:aws:ecr:us-east-1:123456789012:repository/*')).toBe(true);
  });

  test('a tag-only change says so in one line', () => {
    const stacks = (team: string) => ENVS.map((env) => ({
      id: `fraud-${env}-data`,
      environment: env,
      resources: { Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30, Tags: [{ Key: 'mlops:team', Value: team }] } } },
    }));
    const md = renderMarkdown(reviewTemplates(stacks('a'), stacks('b')));
    expect(md).toContain('- Tag-only change: tags of 3 resource(s) in 3 stack(s), nothing else.');
    expect(md).not.toContain('Stacks changed');
  });
});
