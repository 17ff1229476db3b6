import { App } from 'aws-cdk-lib';
import { buildPipelineApp } from '.';
import { applyCompliancePacks } from 'mlops-constructs';

// `npx cdk synth --app 'npx tsx --tsconfig tsconfig.dev.json examples/pipeline/main.ts' -c connectionArn=... -c devAccount=...`
// (without -c, placeholder accounts and connection: it synthesizes with no AWS account or credentials).
const PLACEHOLDER_ACCOUNT = '111111111111';
const app = new App();
const context = (key: string, fallback: string): string => app.node.tryGetContext(key) ?? fallback;
const tooling = context('pipelineAccount', process.env.CDK_DEFAULT_ACCOUNT ?? PLACEHOLDER_ACCOUNT);
const region = context('region', process.env.CDK_DEFAULT_REGION ?? 'us-east-1');
// The environments' VPCs ask for the availability zones of their account, which the CLI looks up with AWS credentials
// (and caches in cdk.context.json). The placeholder account has none to look up: its zones are given here, so the
// example synthesizes offline as it is. With your own accounts, the CLI looks them up as usual.
if (tooling === PLACEHOLDER_ACCOUNT && app.node.tryGetContext(`availability-zones:account=${tooling}:region=${region}`) === undefined) {
  app.node.setContext(`availability-zones:account=${tooling}:region=${region}`, ['a', 'b', 'c'].map((zone) => `${region}${zone}`));
}
buildPipelineApp(app, {
  pipelineAccount: tooling,
  region,
  accounts: { dev: context('devAccount', tooling), staging: context('stagingAccount', tooling), prod: context('prodAccount', tooling) },
  repo: context('repo', 'example-org/mlops-platform'),
  branch: context('branch', 'main'),
  connectionArn: context('connectionArn', 'arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-0000-0000-000000000000'),
});
applyCompliancePacks(app);
app.synth();
