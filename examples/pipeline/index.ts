import { App, Stage, StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ReferenceAccounts, REFERENCE_PROFILES, referencePlatformProps, shareStagingWithProd } from '../environments';
import { EnvironmentPipeline, EnvironmentProfile, MlopsPlatform, MlopsStack, PipelineSource } from 'mlops-constructs';

/** Accounts of the pipeline and of each environment (one account per environment, as AWS recommends). */
export interface PipelineAppOptions {
  /** Account and region of the pipeline (the tooling account). */
  readonly pipelineAccount: string;
  readonly region: string;
  /** Account per environment name (`dev`, `staging`, `prod`). */
  readonly accounts: Readonly<Record<string, string>>;
  /** `owner/name` of the repository and the CodeStar connection to it. */
  readonly repo: string;
  readonly branch: string;
  readonly connectionArn: string;
}

/** One reference environment (the same platform as examples/environments) as a pipeline Stage in its own account. */
export class ReferenceEnvironmentStage extends Stage {
  public readonly platform: MlopsPlatform;

  constructor(scope: Construct, id: string, profile: EnvironmentProfile, props: StageProps, accounts: ReferenceAccounts = {}) {
    super(scope, id, props);
    this.platform = new MlopsPlatform(this, 'Platform', { ...referencePlatformProps(profile, accounts), stackNamePrefix: `mlops-${profile.name}` });
  }
}

/**
 * The prod example's delivery: a pipeline stack in the tooling account deploying dev, staging and (after a manual
 * approval) prod, each a Stage in its own account, after the gate (tests, cfn-lint, cdk-nag in synth) and a review of
 * each environment's change against what is deployed there.
 */
export interface PipelineApp {
  readonly pipelineStack: MlopsStack;
  readonly pipeline: EnvironmentPipeline;
  readonly stages: ReferenceEnvironmentStage[];
}

export function buildPipelineApp(app: App, options: PipelineAppOptions): PipelineApp {
  const pipelineStack = new MlopsStack(app, 'mlops-pipeline', {
    profile: EnvironmentProfile.prod(),
    project: 'mlops',
    costCenter: 'ml-platform',
    env: { account: options.pipelineAccount, region: options.region },
    description: 'Delivery pipeline of the MLOps platform: dev, staging, prod',
  });
  const stages = REFERENCE_PROFILES.map((profile) => new ReferenceEnvironmentStage(app, `mlops-${profile.name}`, profile, {
    env: { account: options.accounts[profile.name], region: options.region },
  }, options.accounts));
  // Prod promotes what staging approved, read across accounts by prod's promotion role only.
  const stageOf = (name: string) => stages[REFERENCE_PROFILES.findIndex((p) => p.name === name)];
  shareStagingWithProd(stageOf('staging').platform, stageOf('prod').platform, options.accounts.prod);
  const pipeline = new EnvironmentPipeline(pipelineStack, 'Delivery', {
    source: PipelineSource.connection(options.repo, options.branch, options.connectionArn),
    environments: stages.map((stage, i) => ({ stage, profile: REFERENCE_PROFILES[i] })),
  });
  return { pipelineStack, pipeline, stages };
}
