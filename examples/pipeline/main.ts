import { App } from 'aws-cdk-lib';
import { buildPipelineApp } from '.';
import { applyCompliancePacks } from 'mlops-constructs';

// `npx cdk synth --app 'npx tsx --tsconfig tsconfig.dev.json examples/pipeline/main.ts' -c connectionArn=... -c devAccount=...`
const app = new App();
const context = (key: string, fallback: string): string => app.node.tryGetContext(key) ?? fallback;
const tooling = context('pipelineAccount', process.env.CDK_DEFAULT_ACCOUNT ?? '111111111111');
buildPipelineApp(app, {
  pipelineAccount: tooling,
  region: context('region', process.env.CDK_DEFAULT_REGION ?? 'us-east-1'),
  accounts: { dev: context('devAccount', tooling), staging: context('stagingAccount', tooling), prod: context('prodAccount', tooling) },
  repo: context('repo', 'example-org/mlops-platform'),
  branch: context('branch', 'main'),
  connectionArn: context('connectionArn', 'arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-0000-0000-000000000000'),
});
applyCompliancePacks(app);
app.synth();
