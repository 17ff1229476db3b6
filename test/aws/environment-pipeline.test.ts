import * as path from 'path';
import { CfnWaitConditionHandle, Stack, Stage } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import { buildPipelineApp } from '../../examples/pipeline';
import { cfnLint, describe as describeFindings, newApp, synthesizeWithPacks } from '../support/gate';
import {
  applyCompliancePacks, EnvironmentPipeline, EnvironmentPipelineProps, EnvironmentProfile, MlopsStack, PipelineEnvironment, PipelineSource,
} from 'mlops-constructs';

const CONNECTION = 'arn:aws:codeconnections:eu-west-1:111111111111:connection/12345678-1234-1234-1234-123456789012';
const ACCOUNTS: Record<string, string> = { dev: '222222222222', staging: '333333333333', prod: '444444444444' };
const PROFILES = [EnvironmentProfile.dev(), EnvironmentProfile.staging(), EnvironmentProfile.prod()];

/** A pipeline stack in the tooling account and one small Stage per environment, each in its own account. */
function build(props: Partial<EnvironmentPipelineProps> = {}, envOverrides: Array<Partial<PipelineEnvironment>> = []) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Delivery', { profile: EnvironmentProfile.prod(), project: 'p', env: { account: '111111111111', region: 'eu-west-1' } });
  const environments = PROFILES.map((profile, i) => {
    const stage = new Stage(app, `p-${profile.name}`, { env: { account: ACCOUNTS[profile.name], region: 'eu-west-1' } });
    new CfnWaitConditionHandle(new Stack(stage, 'Service'), 'Placeholder');
    return { stage, profile, ...envOverrides[i] };
  });
  const pipeline = new EnvironmentPipeline(stack, 'Pipeline', {
    source: PipelineSource.connection('acme/ml-platform', 'main', CONNECTION),
    environments,
    ...props,
  });
  return { app, stack, pipeline, environments, template: () => Template.fromStack(stack) };
}

type Action = { Name: string; RunOrder: number; ActionTypeId: { Category: string }; Configuration?: Record<string, unknown> };

function stages(t: Template): Array<{ Name: string; Actions: Action[] }> {
  const [pipeline] = Object.values(t.findResources('AWS::CodePipeline::Pipeline'));
  return pipeline.Properties.Stages;
}

function buildSpecOf(t: Template, step: string): string {
  const projects = Object.entries(t.findResources('AWS::CodeBuild::Project')).filter(([id]) => id.includes(step.replace(/-/g, '')));
  expect(projects).toHaveLength(1);
  return JSON.stringify(projects[0][1].Properties.Source.BuildSpec);
}

function statementsOf(t: Template, step: string): any[] {
  return Object.entries(t.findResources('AWS::IAM::Policy'))
    .filter(([id]) => id.includes(step.replace(/-/g, '')))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}

describe('EnvironmentPipeline stages', () => {
  const { template, pipeline } = build();
  const t = template();
  const all = stages(t);

  test('source, synth, self-mutation, then dev, staging, prod in order', () => {
    expect(all.map((s) => s.Name)).toEqual(['Source', 'Build', 'UpdatePipeline', 'p-dev', 'p-staging', 'p-prod']);
    expect(pipeline.environmentNames).toEqual(['dev', 'staging', 'prod']);
    expect(all[0].Actions[0].ActionTypeId.Category).toBe('Source');
    expect(all[0].Actions[0].Configuration).toMatchObject({ ConnectionArn: CONNECTION, FullRepositoryId: 'acme/ml-platform', BranchName: 'main' });
  });

  test('the gate (tests, cfn-lint) runs before the first review and deployment', () => {
    const dev = all[3].Actions;
    const order = (name: string) => dev.find((a) => a.Name === name)!.RunOrder;
    expect(order('Gate')).toBeLessThan(order('Review-dev'));
    expect(Math.max(...dev.filter((a) => a.ActionTypeId.Category === 'Deploy').map((a) => a.RunOrder))).toBeLessThan(order('Record-dev'));
    expect(Math.min(...dev.filter((a) => a.ActionTypeId.Category === 'Deploy').map((a) => a.RunOrder))).toBeGreaterThan(order('Review-dev'));
    const gate = buildSpecOf(t, 'Gate');
    expect(gate).toContain('npm test');
    expect(gate).toMatch(/cfn-lint --/);
    expect(all.slice(4).flatMap((s) => s.Actions).some((a) => a.Name === 'Gate')).toBe(false);
  });

  test('manual approval before prod only, after the review and before any prod deployment', () => {
    const approvals = all.flatMap((s) => s.Actions.filter((a) => a.ActionTypeId.Category === 'Approval').map((a) => `${s.Name}/${a.Name}`));
    expect(approvals).toEqual(['p-prod/Approve-prod']);
    const prod = all[5].Actions;
    const approval = prod.find((a) => a.Name === 'Approve-prod')!.RunOrder;
    expect(prod.find((a) => a.Name === 'Review-prod')!.RunOrder).toBeLessThan(approval);
    for (const deploy of prod.filter((a) => a.ActionTypeId.Category === 'Deploy')) expect(deploy.RunOrder).toBeGreaterThan(approval);
  });

  test('each review runs mlops-review against the assembly last deployed there; exit code 1 (data loss) fails the stage', () => {
    for (const env of ['dev', 'staging', 'prod']) {
      const spec = buildSpecOf(t, `Review-${env}`);
      expect(spec).toContain(`/deployed/${env}/ base.out/`);
      expect(spec).toContain(`npx mlops-review --base base.out --head cdk.out/assembly-p-${env} --output review.md`);
      expect(spec).toContain('status=$?; cat review.md; exit $status');
      expect(buildSpecOf(t, `Record-${env}`)).toContain(`aws s3 sync cdk.out/assembly-p-${env}/ s3://`);
    }
  });

  test('cross-account deployments: each stage deploys with its own account\'s bootstrap roles', () => {
    for (const [i, env] of ['dev', 'staging', 'prod'].entries()) {
      const deploys = all[3 + i].Actions.filter((a) => a.ActionTypeId.Category === 'Deploy');
      expect(JSON.stringify(deploys)).toContain(`:iam::${ACCOUNTS[env]}:role/cdk-hnb659fds-deploy-role-${ACCOUNTS[env]}-eu-west-1`);
    }
    // Rendered as Fn::Sub (cfn-lint prefers it to an empty-delimiter Fn::Join).
    expect(JSON.stringify(all)).not.toContain('"Fn::Join":[""');
  });
});

describe('EnvironmentPipeline security', () => {
  const { template, stack } = build();
  const t = template();

  test('artifact bucket: the pipeline key (rotated), private, TLS only, versioned, access-logged; the pipeline stores there', () => {
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: Match.stringLikeRegexp('environment pipeline') });
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } })] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'artifacts/' }),
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    t.hasResourceProperties('AWS::CodePipeline::Pipeline', { ArtifactStore: { Type: 'S3', EncryptionKey: { Type: 'KMS', Id: Match.anyValue() }, Location: Match.anyValue() } });
    // Retained with the prod profile.
    const keys = t.findResources('AWS::KMS::Key');
    expect(Object.values(keys).every((k: any) => k.DeletionPolicy === 'Retain')).toBe(true);
  });

  test('cross-account keys: the stage accounts\' deploy roles may use the artifact key', () => {
    const keyPolicy = JSON.stringify(Object.values(t.findResources('AWS::KMS::Key')).map((k: any) => k.Properties.KeyPolicy));
    for (const account of Object.values(ACCOUNTS)) expect(keyPolicy).toContain(account);
  });

  test('every CodeBuild project encrypts with the pipeline key', () => {
    const projects = Object.values(t.findResources('AWS::CodeBuild::Project'));
    expect(projects.length).toBeGreaterThan(5);
    const keyRef = stack.resolve((stack.node.findAll().find((c) => c.node.path.endsWith('Pipeline/Key/Resource')) as any).attrArn);
    for (const p of projects) expect(p.Properties.EncryptionKey).toEqual(keyRef);
  });

  test('least privilege: a review reads only its environment\'s deployed prefix; a record writes only there', () => {
    const review = statementsOf(t, 'Review-staging');
    const reviewS3 = review.filter((s) => [s.Action].flat().some((a: string) => a === 's3:GetObject' || a === 's3:ListBucket'));
    expect(JSON.stringify(reviewS3)).toContain('deployed/staging/');
    expect(JSON.stringify(review)).not.toContain('s3:PutObject"');
    const record = statementsOf(t, 'Record-staging').filter((s) => [s.Action].flat().includes('s3:PutObject'));
    expect(record).toHaveLength(1);
    expect(JSON.stringify(record[0].Resource)).toContain('/deployed/staging/*');
  });
});

describe('EnvironmentPipeline options', () => {
  test('manual approval for staging too, disposable stacks for the dev review, own commands, CodeCommit source', () => {
    const app = newApp();
    const stack = new MlopsStack(app, 'Delivery', { profile: EnvironmentProfile.prod(), project: 'p', env: { account: '111111111111', region: 'eu-west-1' } });
    const repo = new codecommit.Repository(stack, 'Repo', { repositoryName: 'platform' });
    const environments = PROFILES.map((profile) => {
      const stage = new Stage(app, `q-${profile.name}`, { env: { account: '111111111111', region: 'eu-west-1' } });
      new CfnWaitConditionHandle(new Stack(stage, 'Service'), 'Placeholder');
      return { stage, profile, manualApproval: profile.name === 'staging' ? true : undefined, disposableStacks: profile.name === 'dev' ? ['q-dev/Service'] : undefined };
    });
    new EnvironmentPipeline(stack, 'Pipeline', {
      source: PipelineSource.codeCommit(repo, 'main'),
      environments,
      reviewCommand: 'npm run review --',
      gateCommands: ['npm ci', 'npx jest'],
      synthCommands: ['npm ci', 'npx cdk synth -q'],
    });
    const t = Template.fromStack(stack);
    const approvals = stages(t).flatMap((s) => s.Actions.filter((a) => a.ActionTypeId.Category === 'Approval').map((a) => a.Name));
    expect(approvals).toEqual(['Approve-staging', 'Approve-prod']);
    expect(buildSpecOf(t, 'Review-dev')).toContain("npm run review -- --base base.out --head cdk.out/assembly-q-dev --disposable-stack 'q-dev/Service'");
    expect(buildSpecOf(t, 'Gate')).toContain('npx jest');
    expect(stages(t)[0].Actions[0].Configuration).toMatchObject({ RepositoryName: { 'Fn::GetAtt': [expect.stringMatching(/^Repo/), 'Name'] }, BranchName: 'main' });
  });
});

describe('EnvironmentPipeline bad input', () => {
  const cases: Array<{ name: string; run: () => unknown; message: RegExp }> = [
    { name: 'no environments', run: () => build({ environments: [] }), message: /'environments' must name at least one environment.*Fix: add the Stages/ },
    { name: 'approval switched off before prod', run: () => build({}, [{}, {}, { manualApproval: false }]), message: /'environments\[2\].manualApproval' must not be false for prod/ },
    {
      name: 'prod first',
      run: () => {
        const { environments } = build();
        return build({ environments: [environments[2], environments[0]] });
      },
      message: /deploys prod before the other environments/,
    },
    { name: 'dev after staging', run: () => build({}, [{ profile: EnvironmentProfile.staging({ name: 'qa' }) }, { profile: EnvironmentProfile.dev() }]), message: /'environments\[1\].profile' allows destroying data but comes after the protected 'qa'/ },
    { name: 'the same environment twice', run: () => build({}, [{}, { profile: EnvironmentProfile.dev() }]), message: /names an environment the pipeline deploys already/ },
    { name: 'a stack instead of a Stage', run: () => build({}, [{ stage: new Stack() as any }]), message: /'environments\[0\].stage' must be a cdk Stage/ },
    { name: 'a repository that is not owner/name', run: () => build({ source: PipelineSource.connection('ml-platform', 'main', CONNECTION) }), message: /'source.repo' must be 'owner\/name'/ },
    { name: 'a connection ARN that is not one', run: () => build({ source: PipelineSource.connection('acme/ml', 'main', 'arn:aws:iam::111111111111:role/x') }), message: /'source.connectionArn' must be the ARN of a CodeStar connection/ },
    { name: 'a branch with spaces', run: () => build({ source: PipelineSource.connection('acme/ml', 'my branch', CONNECTION) }), message: /'source.branch' must be a git branch name/ },
    { name: 'an empty review command', run: () => build({ reviewCommand: ' ' }), message: /'reviewCommand' must not be empty/ },
    { name: 'a source that is not a PipelineSource', run: () => build({ source: 'acme/ml' as any }), message: /'source' must be a PipelineSource/ },
  ];
  test.each(cases)('$name', ({ run, message }) => {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    expect((error as Error)?.name).toBe('ValidationError');
    expect((error as Error).message).toMatch(message);
  });
});

describe('examples/pipeline: the reference environments delivered by a pipeline', () => {
  test('synthesizes; the pipeline stack is cdk-nag (all packs) and cfn-lint clean', () => {
    const app = newApp();
    const { pipelineStack, stages: envStages } = buildPipelineApp(app, {
      pipelineAccount: '111111111111',
      region: 'eu-west-1',
      accounts: ACCOUNTS,
      repo: 'acme/mlops',
      branch: 'main',
      connectionArn: CONNECTION,
    });
    expect(envStages.map((s) => s.stageName)).toEqual(['mlops-dev', 'mlops-staging', 'mlops-prod']);
    expect(envStages.map((s) => s.account)).toEqual([ACCOUNTS.dev, ACCOUNTS.staging, ACCOUNTS.prod]);
    applyCompliancePacks(app);
    const result = synthesizeWithPacks(app);
    expect(describeFindings(result.findings)).toBe('');
    const pipelineTemplate = result.templates.filter((f) => path.basename(f) === `${pipelineStack.artifactId}.template.json`);
    expect(pipelineTemplate).toHaveLength(1);
    expect(describeFindings(cfnLint(pipelineTemplate))).toBe('');
    const names = stages(Template.fromStack(pipelineStack)).map((s) => s.Name);
    expect(names.slice(-3)).toEqual(['mlops-dev', 'mlops-staging', 'mlops-prod']);
  });
});
