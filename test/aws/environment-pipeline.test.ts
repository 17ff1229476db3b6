import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CfnWaitConditionHandle, RemovalPolicy, Stack, Stage } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { buildPipelineApp } from '../../examples/pipeline';
import { FakeAwsState, FakeChangeSet, writeFakeAws } from '../support/fake-aws';
import { cfnLint, describe as describeFindings, newApp, REPO_ROOT, synthesizeWithPacks, tempDir } from '../support/gate';
import {
  applyCompliancePacks, EnvironmentPipeline, EnvironmentPipelineProps, EnvironmentProfile, MlopsStack, PipelineEnvironment, PipelineSource,
} from 'mlops-constructs';

const CONNECTION = 'arn:aws:codeconnections:eu-west-1:111111111111:connection/12345678-1234-1234-1234-123456789012';
const ACCOUNTS: Record<string, string> = { dev: '222222222222', staging: '333333333333', prod: '444444444444' };
const PROFILES = [EnvironmentProfile.dev(), EnvironmentProfile.staging(), EnvironmentProfile.prod()];

/** A pipeline stack in the tooling account and one small Stage per environment, each in its own account. */
function build(props: Partial<EnvironmentPipelineProps> = {}, envOverrides: Array<Partial<PipelineEnvironment>> = [],
  addStacks?: (stage: Stage, env: string) => void) {
  const app = newApp();
  const stack = new MlopsStack(app, 'Delivery', { profile: EnvironmentProfile.prod(), project: 'p', env: { account: '111111111111', region: 'eu-west-1' } });
  const environments = PROFILES.map((profile, i) => {
    const stage = new Stage(app, `p-${profile.name}`, { env: { account: ACCOUNTS[profile.name], region: 'eu-west-1' } });
    new CfnWaitConditionHandle(new Stack(stage, 'Service'), 'Placeholder');
    addStacks?.(stage, profile.name);
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

  test('the gate (tests, cfn-lint) and the review of the pipeline stack run in the synth step, before self-mutation', () => {
    // Claim: a commit changes the pipeline (self-mutation, stage UpdatePipeline) only after tests, cfn-lint and a review
    // of the pipeline stack against the deployed one passed: they are commands of the Build stage, which precedes it.
    const synth = buildSpecOf(t, 'Synth');
    const order = ['npx cdk synth', 'npm test', 'cfn-lint --', 'node_modules/.bin/mlops-review --deployed --top-level --head cdk.out'].map((c) => synth.indexOf(c));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(all.findIndex((s) => s.Name === 'Build')).toBeLessThan(all.findIndex((s) => s.Name === 'UpdatePipeline'));
    // The synth role may read the deployed pipeline stack through the tooling account's lookup role only.
    const assume = statementsOf(t, 'Synth').filter((s) => [s.Action].flat().includes('sts:AssumeRole'));
    expect(JSON.stringify(assume)).toContain(':iam::111111111111:role/cdk-hnb659fds-lookup-role-111111111111-eu-west-1');
    expect(all.slice(3).flatMap((s) => s.Actions).some((a) => a.Name === 'Gate')).toBe(false);
  });

  test('per environment: prepare the change set, review it, approve (prod only, review linked), execute it', () => {
    const approvals = all.flatMap((s) => s.Actions.filter((a) => a.ActionTypeId.Category === 'Approval').map((a) => `${s.Name}/${a.Name}`));
    expect(approvals).toEqual(['p-prod/Approve-prod']);
    for (const [i, env] of ['dev', 'staging', 'prod'].entries()) {
      const order = [...all[3 + i].Actions].sort((a, b) => a.RunOrder - b.RunOrder).map((a) => `${a.RunOrder} ${a.Name}`);
      expect(order).toEqual(env === 'prod'
        ? ['1 Prepare', '2 Review-prod', '3 Approve-prod', '4 Deploy']
        : ['1 Prepare', `2 Review-${env}`, '3 Deploy']);
    }
    const approval = all[5].Actions.find((a) => a.Name === 'Approve-prod')!;
    expect(JSON.stringify(approval.Configuration)).toMatch(/codebuild\/projects\/.*\/history/);
    expect(JSON.stringify(approval.Configuration)).toContain('approving executes exactly these change sets');
  });

  test('each review runs the project\'s pinned mlops-review (after npm ci) against what is deployed; no record step', () => {
    for (const env of ['dev', 'staging', 'prod']) {
      const spec = JSON.parse(JSON.parse(buildSpecOf(t, `Review-${env}`)));
      expect(spec.phases.install.commands).toContain('npm ci');
      expect(spec.phases.build.commands.join('\n')).toContain(
        `node_modules/.bin/mlops-review --deployed --change-set PipelineChange --stack 'p-${env}-Service' --head cdk.out/assembly-p-${env} `
        + '--output review.md; status=$?; cat review.md 2>/dev/null; exit $status');
      expect(JSON.stringify(spec)).not.toMatch(/npx mlops-review|aws s3 sync/);
    }
    expect(all.flatMap((s) => s.Actions).some((a) => a.Name.startsWith('Record-'))).toBe(false);
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

  test('every CodeBuild project (synth, reviews, assets, self-mutation) logs to the pipeline\'s encrypted build log group', () => {
    const projects = Object.values(t.findResources('AWS::CodeBuild::Project'));
    expect(projects.length).toBeGreaterThan(3);
    const groups = Object.entries(t.findResources('AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(1);
    const [groupId, group] = groups[0];
    const [keyId, attribute] = group.Properties.KmsKeyId['Fn::GetAtt'];
    expect(attribute).toBe('Arn');
    expect(t.toJSON().Resources[keyId].Properties.Description).toMatch(/environment pipeline/);
    for (const project of projects) {
      expect(project.Properties.LogsConfig).toEqual({ CloudWatchLogs: { Status: 'ENABLED', GroupName: { Ref: groupId } } });
    }
  });

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
    expect(projects.length).toBeGreaterThanOrEqual(5);
    const keyRef = stack.resolve((stack.node.findAll().find((c) => c.node.path.endsWith('Pipeline/Key/Resource')) as any).attrArn);
    for (const p of projects) expect(p.Properties.EncryptionKey).toEqual(keyRef);
  });

  test('least privilege: a review may assume only the read-only CDK lookup role of its own environment\'s account', () => {
    for (const env of ['dev', 'staging', 'prod']) {
      const review = statementsOf(t, `Review-${env}`);
      const assume = review.filter((s) => [s.Action].flat().includes('sts:AssumeRole'));
      expect(assume).toHaveLength(1);
      expect(assume[0].Resource).toEqual({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::${ACCOUNTS[env]}:role/cdk-hnb659fds-lookup-role-${ACCOUNTS[env]}-eu-west-1` });
      expect(JSON.stringify(review)).not.toMatch(/s3:PutObject"|s3:DeleteObject"/);
    }
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
    expect(buildSpecOf(t, 'Review-dev')).toContain(
      "npm run review -- --deployed --change-set PipelineChange --stack 'q-dev-Service' --head cdk.out/assembly-q-dev --disposable-stack 'q-dev/Service' --output review.md");
    expect(buildSpecOf(t, 'Synth')).toMatch(/npx cdk synth -q.*npm ci.*npx jest.*npm run review -- --deployed --top-level/);
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
    { name: 'a review fetched by npx', run: () => build({ reviewCommand: 'npx mlops-review' }), message: /'reviewCommand' may fetch an unpinned package.*Fix: run the project's own review/ },
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
  const app = newApp();
  const { pipelineStack, stages: envStages } = buildPipelineApp(app, {
    pipelineAccount: '111111111111',
    region: 'eu-west-1',
    accounts: ACCOUNTS,
    repo: 'acme/mlops',
    branch: 'main',
    connectionArn: CONNECTION,
  });
  applyCompliancePacks(app);
  const result = synthesizeWithPacks(app);
  const t = Template.fromStack(pipelineStack);

  test('synthesizes; the pipeline stack is cdk-nag (all packs) and cfn-lint clean', () => {
    expect(envStages.map((s) => s.stageName)).toEqual(['mlops-dev', 'mlops-staging', 'mlops-prod']);
    expect(envStages.map((s) => s.account)).toEqual([ACCOUNTS.dev, ACCOUNTS.staging, ACCOUNTS.prod]);
    expect(describeFindings(result.findings)).toBe('');
    const pipelineTemplate = result.templates.filter((f) => path.basename(f) === `${pipelineStack.artifactId}.template.json`);
    expect(pipelineTemplate).toHaveLength(1);
    expect(describeFindings(cfnLint(pipelineTemplate))).toBe('');
    expect(stages(t).map((s) => s.Name).slice(-3)).toEqual(['mlops-dev', 'mlops-staging', 'mlops-prod']);
  });

  test('no prod stack executes but through its prepared change set, after a passing review of that change set and an approval', () => {
    // Claim, walked on the synthesized CodePipeline: for every prod stack, the only action that changes it is the
    // execution of change set PipelineChange, in the stage mlops-prod, after (runOrder) the Prepare that creates that
    // change set from the synthesized template, the review build that reads exactly that change set (and fails the
    // stage, stopping the later actions, when it exits non-zero), and the manual approval that links that review.
    const all = stages(t);
    const projects = t.findResources('AWS::CodeBuild::Project');
    const prodStacks = envStages[2].node.findAll().filter((c): c is Stack => Stack.isStack(c) && !c.nested).map((s) => s.stackName);
    expect(prodStacks.length).toBeGreaterThanOrEqual(3);
    const prod = all.find((s) => s.Name === 'mlops-prod')!;
    for (const stackName of prodStacks) {
      const touching = all.flatMap((s) => s.Actions.filter((a) => a.ActionTypeId.Category === 'Deploy' && a.Configuration?.StackName === stackName)
        .map((a) => ({ stage: s.Name, action: a })));
      expect(touching.map((x) => `${x.stage}:${x.action.Configuration!.ActionMode}:${x.action.Configuration!.ChangeSetName}`))
        .toEqual(['mlops-prod:CHANGE_SET_REPLACE:PipelineChange', 'mlops-prod:CHANGE_SET_EXECUTE:PipelineChange']);
      const [prepare, execute] = touching.map((x) => x.action);
      const [artifact, templatePath] = String(prepare.Configuration!.TemplatePath).split('::');
      expect(templatePath).toMatch(/^assembly-mlops-prod\/[^/]+\.template\.json$/);
      const reviews = prod.Actions.filter((a) => a.ActionTypeId.Category === 'Build').filter((a) => {
        const spec = String(projects[(a.Configuration!.ProjectName as { Ref: string }).Ref].Properties.Source.BuildSpec);
        return spec.includes(`--stack '${stackName}'`);
      });
      expect(reviews).toHaveLength(1);
      const review = reviews[0] as Action & { InputArtifacts: Array<{ Name: string }> };
      const spec = JSON.parse(projects[(review.Configuration!.ProjectName as { Ref: string }).Ref].Properties.Source.BuildSpec);
      // The review's cdk.out is the artifact the change set was prepared from; it reviews that stack's change set.
      expect(review.InputArtifacts.map((i) => i.Name)).toContain(artifact);
      expect(spec.phases.install.commands.join('\n')).toContain(`ln -s -- "$CODEBUILD_SRC_DIR_${artifact}" "cdk.out"`);
      const command = spec.phases.build.commands.join('\n');
      expect(command).toContain(`--deployed --change-set ${prepare.Configuration!.ChangeSetName} --stack '${stackName}' --head cdk.out/assembly-mlops-prod `);
      expect(command).toMatch(/; exit \$status$/);
      const approvals = prod.Actions.filter((a) => a.ActionTypeId.Category === 'Approval'
        && JSON.stringify(a.Configuration).includes(`\${${(review.Configuration!.ProjectName as { Ref: string }).Ref}}`));
      expect(approvals).toHaveLength(1);
      expect(approvals[0].Configuration!.CustomData).toContain(stackName);
      expect([prepare.RunOrder, review.RunOrder, approvals[0].RunOrder, execute.RunOrder]).toEqual(
        [prepare.RunOrder, prepare.RunOrder + 1, prepare.RunOrder + 2, prepare.RunOrder + 3]);
    }
    // Staging and dev execute their change sets after their review too, without an approval.
    for (const name of ['mlops-dev', 'mlops-staging']) {
      const env = all.find((s) => s.Name === name)!;
      expect(env.Actions.some((a) => a.ActionTypeId.Category === 'Approval')).toBe(false);
      for (const execute of env.Actions.filter((a) => a.Configuration?.ActionMode === 'CHANGE_SET_EXECUTE')) {
        const review = env.Actions.find((a) => a.Name === `${execute.Name.split('.')[0]}.Review-${name.slice(6)}`)!;
        expect(review.RunOrder).toBe(execute.RunOrder - 1);
      }
    }
  });

  test('prod promotes what staging approved across accounts (#20.9): staging lets prod\'s promotion role read served/ only, prod does not retrain', () => {
    const [, staging, prod] = envStages.map((s) => s.platform);
    const prodRole = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${ACCOUNTS.prod}:role/${prod.artifactStore.promotionRoleName}`]] };
    const grant = { Principal: { AWS: `arn:aws:iam::${ACCOUNTS.prod}:root` }, Condition: Match.objectLike({ ArnEquals: { 'aws:PrincipalArn': prodRole } }) };
    const data = Template.fromStack(staging.dataStack);
    data.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          ...grant, Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: { 'Fn::Join': ['', [Match.anyValue(), '/served/*']] },
        })]),
      },
    });
    data.hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ ...grant, Action: 'kms:Decrypt' })]) } });
    // Prod's promotion role reads the staging account's packages and served/ objects; no state machine of prod trains.
    const platform = JSON.stringify(Template.fromStack(prod.platformStack).toJSON());
    expect(platform).toContain(`arn:aws:sagemaker:eu-west-1:${ACCOUNTS.staging}:model-package/*`);
    expect(platform).toContain(`"s3:ResourceAccount":["${ACCOUNTS.staging}","${ACCOUNTS.prod}"]`);
    expect(platform).not.toMatch(/batch:submitJob/);
  });
});

/**
 * Runs a synthesized buildspec's commands as CodeBuild runs them (a line that exits non-zero stops the build) in a
 * directory laid out as CodePipeline lays out the action's inputs: the primary input (the source) as the working
 * directory, with the project's own mlops-review in node_modules/.bin (what `npm ci` installs from the lock file; the
 * registry is not reached, so `npm ci` itself is left out), secondary inputs at `$CODEBUILD_SRC_DIR_<artifact>`, and a
 * fake AWS CLI answering for the accounts from `state`. (moto cannot stand in for CloudFormation here: its GetTemplate
 * ignores ChangeSetName and returns the stack's template.)
 */
function runLocally(spec: { phases: Record<string, { commands: string[] }> }, state: FakeAwsState,
  options: { secondaryInputs?: string; cdkOut?: string; commands?: (commands: string[]) => string[] }) {
  const work = tempDir('buildspec-action');
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'node_modules', '.bin'), { recursive: true });
  fs.writeFileSync(path.join(src, 'node_modules', '.bin', 'mlops-review'),
    `#!/bin/sh\nexec "${path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx')}" "${path.join(REPO_ROOT, 'lib', 'review', 'bin.ts')}" "$@"\n`, { mode: 0o755 });
  if (options.cdkOut) fs.symlinkSync(options.cdkOut, path.join(src, 'cdk.out'));
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  writeFakeAws(bin);
  fs.writeFileSync(path.join(work, 'state.json'), JSON.stringify(state));
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    PATH: `${bin}:${process.env.PATH}`,
    FAKE_AWS_STATE: path.join(work, 'state.json'),
    FAKE_AWS_LOG: path.join(work, 'calls.log'),
  };
  const install: string[] = spec.phases.install?.commands ?? [];
  for (const variable of install.join('\n').match(/CODEBUILD_SRC_DIR_\w+/g) ?? []) env[variable] = options.secondaryInputs!;
  const commands = [...install.filter((c) => c !== 'npm ci'), ...spec.phases.build.commands];
  const script = (options.commands ?? ((c) => c))(commands).map((c) => `${c}\nrc=$?; if [ $rc -ne 0 ]; then exit $rc; fi`).join('\n');
  const r = spawnSync('bash', ['-c', script], { cwd: src, env, encoding: 'utf8' });
  const calls = fs.existsSync(env.FAKE_AWS_LOG) ? fs.readFileSync(env.FAKE_AWS_LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, calls };
}

describe('Synth run locally: self-mutation only after the review of the pipeline stack, which blocks any change of the delivery gate', () => {
  // The synth step's review of the pipeline stack against the deployed one (the last command of the Synth buildspec,
  // after synth, tests and cfn-lint, which need the registry and are not run here), with cdk.out holding what `cdk
  // synth` produced for a commit. Claim: a commit that changes what gates the deliveries fails the build, so
  // UpdatePipeline (self-mutation), the next stage, never deploys it; a person deploys it with `cdk deploy`.
  const base = build();
  const deployedPipeline = base.app.synth().getStackByName('Delivery').template;
  const pipelineLookupRole = 'arn:aws:iam::111111111111:role/cdk-hnb659fds-lookup-role-111111111111-eu-west-1';
  const state: FakeAwsState = { roles: { [pipelineLookupRole]: { account: '111111111111' } }, stacks: { 111111111111: { Delivery: deployedPipeline } } };

  function runSynthReview(commit: ReturnType<typeof build>) {
    const spec = JSON.parse(JSON.parse(buildSpecOf(base.template(), 'Synth')));
    return runLocally(spec, state, { cdkOut: commit.app.synth().directory, commands: (c) => c.filter((x) => x.includes('mlops-review')) });
  }

  test('the gate is recorded on the pipeline', () => {
    const gate = Object.values<any>(base.template().findResources('AWS::CodePipeline::Pipeline'))[0].Metadata['mlops:delivery-gate'];
    expect(gate).toEqual({
      source: `acme/ml-platform@main (${CONNECTION})`,
      synth: ['npm ci', 'npx cdk synth', ...['npm test', 'cfn-lint>=1,<2', 'cfn-lint --'].map((c) => expect.stringContaining(c)), expect.stringContaining('mlops-review')],
      environments: {
        dev: { order: 1, review: 'node_modules/.bin/mlops-review', approval: false, disposableStacks: [] },
        staging: { order: 2, review: 'node_modules/.bin/mlops-review', approval: false, disposableStacks: [] },
        prod: { order: 3, review: 'node_modules/.bin/mlops-review', approval: true, disposableStacks: [] },
      },
    });
  });

  test('the same commit passes; a commit that adds a stack to an environment (not the gate) passes', () => {
    expect(runSynthReview(build()).code).toBe(0);
    // A second stack in dev: new Prepare/Review/Deploy actions and a review project in the pipeline stack.
    const more = build({}, [], (stage, env) => env === 'dev' && new CfnWaitConditionHandle(new Stack(stage, 'Extra'), 'Placeholder'));
    expect(stages(more.template()).find((st) => st.Name === 'p-dev')!.Actions.map((a) => a.Name)).toContain('Extra.Review-dev');
    const r = runSynthReview(more);
    expect(r.stderr).toContain('base is what is deployed: 1 stack(s) read');
    expect(r.code).toBe(0);
  });

  test.each([
    ['a disposable stack in staging', () => build({}, [{}, { disposableStacks: ['p-staging/Service'] }]), 'environments.staging.disposableStacks [] → ["p-staging/Service"]'],
    ['another review command', () => build({ reviewCommand: 'true' }), 'environments.prod.review "node_modules/.bin/mlops-review" → "true"'],
    ['an approval added to staging', () => build({}, [{}, { manualApproval: true }]), 'environments.staging.approval false → true'],
    ['no tests in the gate', () => build({ gateCommands: [] }), 'delivery gate synth'],
    ['another branch', () => build({ source: PipelineSource.connection('acme/ml-platform', 'dev', CONNECTION) }), 'delivery gate source'],
  ])('%s: the build fails (exit 1) before self-mutation', (_, commit, finding) => {
    const r = runSynthReview(commit());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(finding);
    expect(r.stdout).toContain('a person deploys this change of the pipeline stack (cdk deploy)');
  });
});

describe('Review-<env> run locally as CodeBuild runs it (primary input: the source; cdk.out: the synth output)', () => {
  // The buildspec of the synthesized project is executed in a directory laid out as CodePipeline lays out the action's
  // inputs, with the project's own mlops-review in node_modules/.bin and a fake AWS CLI answering for the accounts.
  // The staging stack holds data: a retained bucket.
  const { app, template } = build({}, [], (stage, env) => {
    if (env === 'staging') new CfnBucket(stage.node.findChild('Service'), 'Records').applyRemovalPolicy(RemovalPolicy.RETAIN);
  });
  const cloudAssembly = app.synth().directory;
  const spec = JSON.parse(JSON.parse(buildSpecOf(template(), 'Review-staging')));
  const stageDir = path.join(cloudAssembly, 'assembly-p-staging');
  const [serviceArtifact] = Object.values<any>(JSON.parse(fs.readFileSync(path.join(stageDir, 'manifest.json'), 'utf8')).artifacts)
    .filter((a) => a.type === 'aws:cloudformation:stack');
  const headTemplate = JSON.parse(fs.readFileSync(path.join(stageDir, serviceArtifact.properties.templateFile), 'utf8'));
  const lookupRole = `arn:aws:iam::${ACCOUNTS.staging}:role/cdk-hnb659fds-lookup-role-${ACCOUNTS.staging}-eu-west-1`;

  const runReview = (state: FakeAwsState) => runLocally(spec, state, { secondaryInputs: cloudAssembly });

  const CHANGE_SET = 'PipelineChange';
  /** The staging account after the pipeline's Prepare action: `deployedTemplate` deployed (or nothing), the change set of `prepared`. */
  const prepared = (deployedTemplate: object | undefined, changeSet: Partial<FakeChangeSet> = {}): FakeAwsState => ({
    roles: { [lookupRole]: { account: ACCOUNTS.staging } },
    stacks: { [ACCOUNTS.staging]: deployedTemplate ? { 'p-staging-Service': deployedTemplate } : {} },
    changeSets: { [ACCOUNTS.staging]: { 'p-staging-Service': { name: CHANGE_SET, template: headTemplate, ...changeSet } } },
  });
  const withData = { ...headTemplate, Resources: { ...headTemplate.Resources, Data: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' } } };

  test('installs with npm ci, then reviews the prepared change set against the deployed template, both read in the staging account', () => {
    expect(spec.phases.install.commands).toContain('npm ci');
    const r = runReview(prepared(withData));
    expect(r.stderr).toContain('base is what is deployed: 1 stack(s) read; head is change set PipelineChange, checked to hold the synthesized templates');
    expect(r.calls.map((c) => `${c.args.slice(0, 2).join(' ')}@${c.account ?? '-'}`)).toEqual(['sts assume-role@-',
      ...['describe-stacks', 'describe-change-set', 'get-template', 'get-template'].map((op) => `cloudformation ${op}@${ACCOUNTS.staging}`)]);
    expect(r.calls[3].args).toEqual(expect.arrayContaining(['--stack-name', 'p-staging-Service', '--change-set-name', CHANGE_SET, '--region', 'eu-west-1']));
    expect(r.calls[4].args).toEqual(expect.arrayContaining(['--stack-name', 'p-staging-Service', '--template-stage', 'Original']));
    expect(r.calls[4].args).not.toContain('--change-set-name');
  });

  test('a change set that changes nothing passes (exit 0)', () => {
    const r = runReview(prepared(headTemplate));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/review/i);
  });

  test('a change set that drops deployed data blocks the stage (exit 1), though the pipeline never recorded a base', () => {
    const r = runReview(prepared(withData));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Data');
  });

  test('fails closed (exit 2) when the deployed templates cannot be read', () => {
    const r = runReview({ ...prepared(headTemplate), roles: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/fails closed when it cannot read what is deployed/);
  });

  test('fails closed (exit 2) when no change set was prepared, or one not ready to execute', () => {
    const none = runReview({ ...prepared(headTemplate), changeSets: {} });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('ChangeSetNotFound');
    const failed = runReview(prepared(headTemplate, { status: 'FAILED', executionStatus: 'UNAVAILABLE', statusReason: 'Template format error' }));
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain('is FAILED/UNAVAILABLE (Template format error), not ready to execute');
  });

  test('fails closed (exit 2) when the prepared change set holds another template than the one reviewed', () => {
    // E.g. a change set prepared from another commit: the review would not be of the change that executes.
    const r = runReview(prepared(withData, { template: withData }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/change set PipelineChange of p-staging-Service is not the synthesized template under review/);
  });

  test('a replacement CloudFormation plans for the deployed data, which the templates do not show, blocks (exit 1)', () => {
    // E.g. a parameter or dynamic reference the bucket's name resolves at deploy time changed: the templates are equal.
    expect(headTemplate.Resources.Records).toMatchObject({ Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain' });
    const change = (replacement: string) => ({ Type: 'Resource', ResourceChange: { Action: 'Modify', LogicalResourceId: 'Records', ResourceType: 'AWS::S3::Bucket', Replacement: replacement } });
    const replaced = runReview(prepared(headTemplate, { changes: [change('True')] }));
    expect(replaced.code).toBe(1);
    expect(replaced.stdout).toContain('CloudFormation\'s change set replaces it, which the templates do not show');
    const inPlace = runReview(prepared(headTemplate, { changes: [change('False')] }));
    expect(inPlace.code).toBe(0);
  });

  test('a change set CloudFormation found empty (no changes) passes', () => {
    const r = runReview(prepared(headTemplate, {
      status: 'FAILED',
      executionStatus: 'UNAVAILABLE',
      template: {},
      statusReason: "The submitted information didn't contain changes. Submit different information to create a change set.",
    }));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no change (CloudFormation): p-staging/Service');
  });

  test('a stack the change set creates (REVIEW_IN_PROGRESS) is reviewed as new (first deployment)', () => {
    const r = runReview(prepared(undefined));
    expect(r.stderr).toContain('not deployed yet (reviewed as new): p-staging/Service');
    expect(r.code).toBe(0);
  });
});
