import { CfnResource, DefaultStackSynthesizer, Duration, Fn, Lazy, Stack, Stage, Token, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { Check, DELIVERY_GATE_METADATA, EnvironmentProfile } from '../core';
import { acknowledgeNoObjectLock, acknowledgeTerminalLogBucket, notifyEventBridge } from './private/buckets';
import { relyOnFeatureFlags } from './private/feature-flags';
import { allowCloudWatchLogsToUseKey, newKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { nagResourceId } from './private/nag';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

/** Where the pipeline takes the app's source from. */
export class PipelineSource {
  /**
   * A GitHub, GitHub Enterprise, GitLab or Bitbucket repository through a CodeStar (CodeConnections) connection.
   * @param repo `owner/name`
   * @param connectionArn ARN of the connection, created and authorized in the console once
   */
  public static connection(repo: string, branch: string, connectionArn: string): PipelineSource {
    return new PipelineSource('connection', repo, branch, connectionArn);
  }

  /** A CodeCommit repository. */
  public static codeCommit(repository: codecommit.IRepository, branch: string): PipelineSource {
    return new PipelineSource('codecommit', repository, branch);
  }

  private constructor(
    private readonly kind: 'connection' | 'codecommit',
    private readonly repo: string | codecommit.IRepository,
    private readonly branch: string,
    private readonly connectionArn?: string,
  ) {}

  /** @internal What the pipeline deploys from, for its recorded delivery gate. */
  public _describe(): string {
    if (this.kind === 'connection') return `${this.repo as string}@${this.branch} (${this.connectionArn})`;
    const repository = this.repo as codecommit.IRepository;
    return `codecommit:${Token.isUnresolved(repository.repositoryName) ? repository.node.path : repository.repositoryName}@${this.branch}`;
  }

  /** @internal */
  public _bind(check: Check): pipelines.CodePipelineSource {
    check.matches('source.branch', this.branch, /^[^\s~^:?*[\\]{1,255}$/, 'a git branch name');
    if (this.kind === 'codecommit') return pipelines.CodePipelineSource.codeCommit(this.repo as codecommit.IRepository, this.branch);
    check.matches('source.repo', this.repo as string, /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "'owner/name' (for example 'acme/ml-platform')");
    check.matches('source.connectionArn', this.connectionArn, /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]{36}$/,
      'the ARN of a CodeStar connection (arn:aws:codeconnections:<region>:<account>:connection/<id>)');
    return pipelines.CodePipelineSource.connection(this.repo as string, this.branch, { connectionArn: this.connectionArn!, triggerOnPush: true });
  }
}

/** One environment the pipeline deploys: a Stage (its own account and region) and the profile it runs under. */
export interface PipelineEnvironment {
  /** The environment's stacks, in a Stage whose `env` names the target account and region. */
  readonly stage: Stage;
  /** The environment's profile; protected profiles go after the ones that allow destroying data. */
  readonly profile: EnvironmentProfile;
  /**
   * A person approves each reviewed change set (after reading its review) before it executes. Required for `prod`.
   * @default - true for the profile named `prod`, false otherwise
   */
  readonly manualApproval?: boolean;
  /**
   * Stacks (id, name or stage prefix) whose data the review may see destroyed (`--disposable-stack`).
   * @default - none
   */
  readonly disposableStacks?: string[];
}

export interface EnvironmentPipelineProps {
  /** Where the app's source comes from. */
  readonly source: PipelineSource;
  /** Environments in deployment order, for example dev, staging, prod. */
  readonly environments: PipelineEnvironment[];
  /**
   * Commands producing the cloud assembly in `cdk.out` (the synth step; cdk-nag packs run here when the app applies them).
   * @default ['npm ci', 'npx cdk synth']
   */
  readonly synthCommands?: string[];
  /**
   * Commands of the gate, run in the synth step after `synthCommands` (so before self-mutation and every environment):
   * unit tests, then cfn-lint over the synthesized templates in `cdk.out`.
   * @default - `npm test`, install cfn-lint, cfn-lint over every template of `cdk.out`
   */
  readonly gateCommands?: string[];
  /**
   * The review CLI, run from the source after `npm ci` (the project's own pinned version): in each environment with
   * `--deployed --change-set PipelineChange --stack <name>` after the change sets are prepared, and in the synth step
   * with `--deployed --top-level` against the deployed pipeline stack; exit code 1 (data loss) or 2 (what is deployed
   * or the change set cannot be read, or the change set is not the synthesized template) stops the pipeline. An `npx` that may fetch from the registry is refused.
   * @default 'node_modules/.bin/mlops-review'
   */
  readonly reviewCommand?: string;
  /**
   * Key of the artifact bucket (shared with the environments' deploy roles across accounts).
   * @default - a new key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Pipeline name.
   * @default - generated
   */
  readonly pipelineName?: string;
  /**
   * Profile of the account the pipeline lives in (its bucket's retention).
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

/** The change set CDK Pipelines prepares for each stack (Prepare) and executes (Deploy); the review reads it. */
export const CHANGE_SET_NAME = 'PipelineChange';

/** The project's own `mlops-review`, installed from its lock file by `npm ci` (never fetched from the registry). */
export const DEFAULT_REVIEW_COMMAND = 'node_modules/.bin/mlops-review';

const DEFAULT_GATE_COMMANDS = [
  'npm test',
  'pip3 install --quiet "cfn-lint>=1,<2"',
  'find cdk.out -name "*.template.json" -print0 | xargs -0 cfn-lint --',
];

/**
 * A CDK Pipelines pipeline that deploys the platform's environments in order: source; synth (with cdk-nag), the gate
 * (tests, cfn-lint) and a review of the pipeline's own change, all before self-mutation; then per environment, stack by
 * stack in dependency order: the change set is prepared, reviewed (`mlops-review --deployed --change-set`: what is
 * deployed against the prepared change set, checked to hold the synthesized template, read with the account's CDK
 * lookup role; data loss or anything unreadable stops the stage), approved by a person where required (always in prod,
 * the approval linking the review), then executed. Each environment may live in its own account and region: the
 * artifact bucket is KMS-encrypted with a rotated key the deploy roles may use, private, TLS-only and versioned.
 */
export class EnvironmentPipeline extends Construct {
  public readonly pipeline: pipelines.CodePipeline;
  public readonly artifactBucket: s3.Bucket;
  public readonly accessLogBucket: s3.Bucket;
  /**
   * The log group of every CodeBuild project of the pipeline (synth and gate, reviews, asset publishing,
   * self-mutation), kept the profile's log retention; encrypted with the pipeline's key unless `encryptionKey` was given.
   */
  public readonly buildLogs: logs.LogGroup;
  public readonly encryptionKey: kms.IKey;
  /** Names of the environments in deployment order. */
  public readonly environmentNames: string[];

  constructor(scope: Construct, id: string, props: EnvironmentPipelineProps) {
    super(scope, id);
    relyOnFeatureFlags(this, 'serverAccessLogsUseBucketPolicy');
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);
    const environments = validateEnvironments(check, props.environments);
    this.environmentNames = environments.map((e) => e.profile.name);
    if (!(props.source instanceof PipelineSource)) {
      check.fail('source', props.source, 'must be a PipelineSource', "use PipelineSource.connection('owner/repo', 'main', connectionArn) or PipelineSource.codeCommit(repo, 'main').");
    }
    const source = props.source._bind(check);
    const reviewCommand = props.reviewCommand ?? DEFAULT_REVIEW_COMMAND;
    if (!reviewCommand.trim()) check.fail('reviewCommand', reviewCommand, 'must not be empty', `use '${DEFAULT_REVIEW_COMMAND}' or 'npm run review --'.`);
    if (/^\s*npx\s+(?!--no\b|--no-install\b)/.test(reviewCommand)) {
      check.fail('reviewCommand', reviewCommand, 'may fetch an unpinned package from the registry (npx installs what is not installed)',
        `run the project's own review: '${DEFAULT_REVIEW_COMMAND}' (add mlops-constructs to the project's dependencies) or 'npx --no mlops-review'.`);
    }

    this.encryptionKey = props.encryptionKey ?? newKey(this, 'Key', {
      description: `Artifacts of the environment pipeline at ${this.node.path}`,
      enableKeyRotation: true,
      removalPolicy: statefulRemovalPolicy(profile),
    });
    const removalPolicy = statefulRemovalPolicy(profile);
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      ...secureBucket(),
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(Math.max(profile.logRetentionDays, 1)), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy,
    });
    acknowledgeLogBucket(this.accessLogBucket);
    this.artifactBucket = new s3.Bucket(this, 'Artifacts', {
      ...secureBucket(),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(profile.noncurrentVersionExpirationDays) }],
      removalPolicy,
    });
    acknowledgeNoReplication(this.artifactBucket);
    notifyEventBridge(this.artifactBucket);
    acknowledgeNoObjectLock(this.artifactBucket, 'Pipeline artifacts are rebuilt from source on every run and expire by lifecycle, which Object Lock '
      + 'would block; the deployed assemblies kept for reviews are versioned.');

    if (!props.encryptionKey) allowCloudWatchLogsToUseKey(this.encryptionKey);
    this.buildLogs = new logs.LogGroup(this, 'BuildLogs', {
      encryptionKey: props.encryptionKey ? undefined : this.encryptionKey,
      retention: profile.logRetentionDays as logs.RetentionDays,
      removalPolicy,
    });
    acknowledgeProfileLogRetention(this.buildLogs, profile.logRetentionDays);

    // The gate (tests, cfn-lint) and the review of the pipeline's own change run in the synth step, before
    // self-mutation (UpdatePipeline): a commit that edits the pipeline (its review command, its disposable stacks)
    // changes it only once it passed them.
    const pipelineReview = `${reviewCommand} --deployed --top-level --head cdk.out --output pipeline-review.md; `
      + 'status=$?; cat pipeline-review.md 2>/dev/null; exit $status';
    const synthCommands = [...(props.synthCommands ?? ['npm ci', 'npx cdk synth']), ...(props.gateCommands ?? DEFAULT_GATE_COMMANDS), pipelineReview];
    const synth = new pipelines.CodeBuildStep('Synth', {
      input: source,
      commands: synthCommands,
      rolePolicyStatements: [assumeLookupRoles([Stack.of(this)], `the pipeline stack ${Stack.of(this).stackName}`, check)],
    });
    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineName: props.pipelineName,
      pipelineType: codepipeline.PipelineType.V2,
      synth,
      artifactBucket: this.artifactBucket,
      crossAccountKeys: true,
      enableKeyRotation: true,
      codeBuildDefaults: {
        buildEnvironment: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0, computeType: codebuild.ComputeType.MEDIUM },
        timeout: Duration.hours(1),
        // Every build (synth, reviews, assets, self-mutation) logs to one group with the profile's retention (AWS Control
        // Tower CT.CODEBUILD.PR.3), encrypted with the pipeline's key when the pipeline created it.
        logging: { cloudWatch: { logGroup: this.buildLogs } },
      },
    });

    environments.forEach((env) => {
      const name = env.profile.name;
      const disposable = (env.disposableStacks ?? []).map((s) => ` --disposable-stack ${shellQuote(s)}`).join('');
      const head = `cdk.out/${env.stage.artifactId}`;
      const approve = env.manualApproval ?? name === 'prod';
      const layers = deploymentLayers(env.stage);
      const stackSteps: pipelines.StackSteps[] = [];
      for (const layer of layers) {
        const stackNames = layer.map((stack) => stack.stackName);
        // Runs after CDK Pipelines prepared the change set of every stack of the layer (changeSet steps come after
        // Prepare and before Deploy, which executes that change set). The source (with the project's own, lock-file
        // pinned mlops-review) plus the synthesized assembly; the base is what is deployed in the environment's account,
        // read with its read-only CDK lookup role, and the head is the prepared change set, checked to hold the
        // synthesized template. Exit code 1 (data loss) or 2 (what is deployed or the change set cannot be read, or the
        // change set is another version) fails the stage before the change set executes.
        // CDK Pipelines names the actions after the first stack of the layer: `data.Review-prod`, `data.Approve-prod`.
        const review = new pipelines.CodeBuildStep(`Review-${name}`, {
          input: source,
          additionalInputs: { 'cdk.out': synth },
          installCommands: ['npm ci'],
          commands: [
            `${reviewCommand} --deployed --change-set ${CHANGE_SET_NAME}${stackNames.map((s) => ` --stack ${shellQuote(s)}`).join('')} `
              + `--head ${head}${disposable} --output review.md; status=$?; cat review.md 2>/dev/null; exit $status`,
          ],
          rolePolicyStatements: [assumeLookupRoles(layer, `environment ${name}`, check)],
        });
        const steps: pipelines.Step[] = [review];
        if (approve) {
          const approval = new pipelines.ManualApprovalStep(`Approve-${name}`, {
            comment: `Read the review of the change sets of ${stackNames.join(', ')} in ${name} (the linked Review-${name} build: what `
              + 'executing them changes against what is deployed), then approve: approving executes exactly these change sets.',
            reviewUrl: Lazy.string({ produce: () => reviewUrl(review) }),
          });
          approval.addStepDependency(review);
          steps.push(approval);
        }
        stackSteps.push(...layer.map((stack) => ({ stack, changeSet: steps })));
      }
      this.pipeline.addStage(env.stage, { stackSteps });
    });
    this.pipeline.buildPipeline();
    // What gates the deliveries, recorded on the pipeline: the review of the pipeline stack in the synth step blocks any
    // change of it (mlops-review), so the pipeline never changes its own gate by self-mutation; a person deploys that.
    (this.pipeline.pipeline.node.defaultChild as codepipeline.CfnPipeline).addMetadata(DELIVERY_GATE_METADATA, {
      source: props.source._describe(),
      synth: synthCommands,
      environments: Object.fromEntries(environments.map((env, i) => [env.profile.name, {
        order: i + 1,
        review: reviewCommand,
        approval: env.manualApproval ?? env.profile.name === 'prod',
        disposableStacks: env.disposableStacks ?? [],
      }])),
    });
    // Every CodeBuild project (they run npm, pip and aws s3 with the artifact key) encrypts with it.
    for (const project of this.pipeline.node.findAll().filter((c): c is codebuild.Project => c instanceof codebuild.Project)) {
      const cfnProject = project.node.defaultChild as codebuild.CfnProject;
      cfnProject.encryptionKey = this.encryptionKey.keyArn;
      if ((Stack.of(this).resolve(cfnProject.environment) as codebuild.CfnProject.EnvironmentProperty).privilegedMode) {
        Validations.of(cfnProject).acknowledge({
          id: 'cdk-validator-cfnguard::codebuild_project_environment_privileged_check',
          reason: 'CDK Pipelines publishes the app\'s container image assets (e.g. the tracking server image) with the Docker daemon, which '
            + 'CodeBuild runs only in privileged mode; the project runs cdk-assets on this pipeline\'s own synthesized assets and nothing else.',
        });
      }
    }
    this.tidyTemplate();
    this.acknowledgeGeneratedPolicies();
  }

  /**
   * CDK Pipelines renders cross-account role ARNs as `Fn::Join` with an empty delimiter (cfn-lint E3703 prefers `Fn::Sub`),
   * and adds a DependsOn on the pipeline role that its `GetAtt` already implies (W3005).
   */
  private tidyTemplate(): void {
    const stack = Stack.of(this);
    const cfn = this.pipeline.pipeline.node.defaultChild as codepipeline.CfnPipeline;
    const stages = cfn.stages;
    cfn.stages = Lazy.any({ produce: () => joinsToSubs(stack.resolve(stages)) });
    const rolePolicy = this.pipeline.pipeline.role.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
    if (rolePolicy instanceof CfnResource) cfn.addOverride('DependsOn', [stack.getLogicalId(rolePolicy)]);
  }

  /**
   * CDK Pipelines generates one role per action with an inline default policy; their wildcards are the standard grant
   * groups on the pipeline's own bucket and key, CodeBuild's own log groups and reports, and the bootstrap roles.
   */
  private acknowledgeGeneratedPolicies(): void {
    const bucketObjects = nagResourceId(this, this.artifactBucket.arnForObjects('*'));
    const inline = 'CDK Pipelines generates a role per pipeline action with an inline default policy scoped to that action\'s '
      + 'artifacts, project and target roles; the roles are owned and replaced by the pipeline construct, not shared.';
    for (const policy of this.pipeline.node.findAll().filter((c): c is iam.Policy => c instanceof iam.Policy)) {
      const ids = new Map<string, string>();
      for (const statement of policy.document.toJSON()?.Statement ?? []) {
        for (const action of [statement.Action ?? []].flat() as string[]) {
          if (!action.includes('*')) continue;
          ids.set(`Action::${action}`, action.startsWith('kms:')
            ? 'The encrypt/decrypt action groups CDK grants for the artifact key (kms:ReEncrypt*, kms:GenerateDataKey*), on that key only.'
            : 'The S3 read/write action groups CDK grants for pipeline artifacts (GetObject*, GetBucket*, List*, DeleteObject*, Abort*), '
              + 'on the pipeline artifact bucket and its objects only.');
        }
        for (const resource of [statement.Resource ?? []].flat() as string[]) {
          if (!resource.includes('*')) continue;
          const id = nagResourceId(this, resource);
          ids.set(`Resource::${id}`, wildcardReason(id, bucketObjects));
        }
      }
      const acknowledgements = [...ids].map(([id, reason]) => ({ id: `AwsSolutions-IAM5[${id}]`, reason }));
      Validations.of(policy).acknowledge(
        ...acknowledgements,
        { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: inline },
        { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: inline },
      );
    }
    for (const project of this.pipeline.node.findAll().filter((c): c is codebuild.CfnProject => c instanceof codebuild.CfnProject)) {
      Validations.of(project).acknowledge({
        id: 'HIPAA.Security-CodeBuildProjectSourceRepoUrl',
        reason: 'The project\'s source is the pipeline (source type CODEPIPELINE), not a repository URL: the repository is read '
          + 'once by the source action through the connection, which holds the OAuth authorization.',
      });
    }
  }
}

/** Console page of the builds of a review step (linked from its approval). */
function reviewUrl(review: pipelines.CodeBuildStep): string {
  const project = review.project;
  return `https://console.aws.amazon.com/codesuite/codebuild/projects/${project.projectName}/history?region=${Stack.of(project).region}`;
}

function wildcardReason(id: string, bucketObjects: string): string {
  if (id === bucketObjects) return 'Pipeline artifacts are objects with generated keys in the pipeline\'s own artifact bucket.';
  if (id.includes(':log-group:/aws/codebuild/')) return 'CodeBuild writes log streams it names per build into the project\'s own log group.';
  if (id.includes(':report-group/')) return 'CodeBuild creates test report groups named after the project when a build reports.';
  if (id.includes(':role/')) {
    return 'Self-mutation and asset publishing assume the CDK bootstrap roles of the target accounts; the statement is limited to roles '
      + 'tagged aws-cdk:bootstrap-role by its condition.';
  }
  return 'cloudformation:DescribeStacks and s3:ListBucket (self-mutation) and codebuild:StartBuild on the asset projects are granted '
    + 'by CDK Pipelines without resource scoping; they read stack state and start the pipeline\'s own builds.';
}

/** `{ Fn::Join: ['', [...strings, Refs and GetAtts]] }` as the equivalent `Fn::Sub`, recursively. */
function joinsToSubs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(joinsToSubs);
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  const join = obj['Fn::Join'] as [string, unknown[]] | undefined;
  if (join && join[0] === '' && Object.keys(obj).length === 1 && Array.isArray(join[1])) {
    const parts = join[1].map((p) => {
      if (typeof p === 'string') return p.replace(/\$\{/g, '${!');
      const ref = (p as { Ref?: unknown }).Ref;
      if (typeof ref === 'string') return `\${${ref}}`;
      const getAtt = (p as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
      if (Array.isArray(getAtt) && getAtt.every((x) => typeof x === 'string')) return `\${${getAtt.join('.')}}`;
      return undefined;
    });
    if (parts.every((p) => p !== undefined)) return { 'Fn::Sub': parts.join('') };
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, joinsToSubs(v)]));
}

/**
 * Lets a review step assume the CDK bootstrap lookup role (read-only: ReadOnlyAccess minus decryption) of every
 * account and region `stacks` deploy to, to read the deployed templates (`cloudformation:GetTemplate`).
 */
function assumeLookupRoles(stacks: Stack[], what: string, check: Check): iam.PolicyStatement {
  const arns = new Set<string>();
  for (const stack of stacks) {
    const role = stack.synthesizer instanceof DefaultStackSynthesizer ? stack.synthesizer.lookupRole : undefined;
    if (!role) {
      check.fail('environments', stack.stackName, `has no CDK bootstrap lookup role (${what}), so the review cannot read what is deployed`,
        'use the DefaultStackSynthesizer (modern bootstrap) and bootstrap the account with --trust <pipeline account>.');
    }
    arns.add(role);
  }
  return new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [...arns].sort().map((arn) => Fn.sub(arn)) });
}

/**
 * The top-level stacks of `stage` in deployment layers: each layer's stacks depend only on stacks of earlier layers.
 * CDK Pipelines prepares a stack's change set only after the stacks it depends on are deployed (a change set that
 * imports a new export cannot be created before), so a review and approval that gate several stacks' change sets can
 * cover only stacks that do not depend on each other: one review (and approval) per layer.
 */
function deploymentLayers(stage: Stage): Stack[][] {
  const assembly = stage.synth({ validateOnSynthesis: true });
  const stacks = new Map(stage.node.findAll().filter((c): c is Stack => Stack.isStack(c) && !c.nested && Stage.of(c) === stage)
    .map((stack) => [stack.artifactId, stack]));
  const dependsOn = new Map(assembly.stacks.map((artifact) => [artifact.id,
    artifact.dependencies.filter((d) => d instanceof cxapi.CloudFormationStackArtifact && stacks.has(d.id)).map((d) => d.id)]));
  const layerOf = new Map<string, number>();
  const visit = (id: string): number => {
    const known = layerOf.get(id);
    if (known !== undefined) return known;
    const layer = Math.max(-1, ...(dependsOn.get(id) ?? []).map(visit)) + 1;
    layerOf.set(id, layer);
    return layer;
  };
  const layers: Stack[][] = [];
  for (const artifact of assembly.stacks) {
    const stack = stacks.get(artifact.id);
    if (stack) (layers[visit(artifact.id)] ??= []).push(stack);
  }
  return layers.filter((layer) => layer !== undefined);
}

function validateEnvironments(check: Check, environments: PipelineEnvironment[] | undefined): PipelineEnvironment[] {
  if (!Array.isArray(environments) || environments.length === 0) {
    check.fail('environments', environments, 'must name at least one environment', 'add the Stages to deploy, e.g. dev, staging and prod, in that order.');
  }
  const names = new Set<string>();
  let protectedSeen: string | undefined;
  environments.forEach((env, i) => {
    if (!Stage.isStage(env?.stage)) {
      check.fail(`environments[${i}].stage`, env?.stage, 'must be a cdk Stage', 'wrap the environment\'s stacks in a Stage (new Stage(app, "Dev", { env })).');
    }
    if (typeof env.profile?.name !== 'string') {
      check.fail(`environments[${i}].profile`, env.profile, 'must be an EnvironmentProfile', 'pass the profile the environment\'s stacks use.');
    }
    const name = env.profile.name;
    if (names.has(name)) check.fail(`environments[${i}].profile`, name, 'names an environment the pipeline deploys already', 'deploy each environment once.');
    names.add(name);
    if (name === 'prod' && env.manualApproval === false) {
      check.fail(`environments[${i}].manualApproval`, false, 'must not be false for prod', 'leave \'manualApproval\' unset or true: a person approves every production deployment.');
    }
    if (name === 'prod' && i === 0 && environments.length > 1) {
      check.fail(`environments[${i}].profile`, name, 'deploys prod before the other environments', 'order the environments dev, staging, prod: prod goes last.');
    }
    if (env.profile.retainsData) {protectedSeen ??= name;} else if (protectedSeen) {
      check.fail(`environments[${i}].profile`, name, `allows destroying data but comes after the protected '${protectedSeen}'`,
        'deploy environments whose data may be destroyed (dev) before protected ones (staging, prod).');
    }
    const region = env.stage.region;
    if (region !== undefined && !Token.isUnresolved(region)) {
      check.matches(`environments[${i}].stage.region`, region, /^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region such as 'eu-west-1'");
    }
  });
  return environments;
}

function secureBucket(): Partial<s3.BucketProps> {
  return {
    versioned: true,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  };
}

function acknowledgeLogBucket(bucket: s3.Bucket): void {
  acknowledgeTerminalLogBucket(bucket, {
    notLogged: 'Terminal access-log bucket of the pipeline artifact bucket: logging it to itself creates a log-of-logs loop; '
      + 'it is versioned, TLS-only, private and expires logs after the profile log retention.',
    notReplicated: 'Access logs of the pipeline artifact bucket are regional operational records; the artifacts themselves are rebuilt from source.',
  });
}

function acknowledgeNoReplication(bucket: s3.Bucket): void {
  const reason = 'Pipeline artifacts are rebuilt from the source repository on every run, and the deployed assemblies kept for '
    + 'reviews are versioned in-region; replicating them to another region would add nothing that is not in git.';
  Validations.of(bucket.node.defaultChild as s3.CfnBucket).acknowledge(
    { id: 'NIST.800.53.R5-S3BucketReplicationEnabled', reason },
    { id: 'HIPAA.Security-S3BucketReplicationEnabled', reason },
  );
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}
