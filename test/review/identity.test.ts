import { App, NestedStack, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { reviewTemplates, synthSide, TemplateStack } from './support';
import { referencePlatformProps, REFERENCE_PROFILES } from '../../examples/environments';
import { MlopsPlatform } from 'mlops-constructs';
import { LoadedAssembly, renderMarkdown, ReviewReport, reviewAssemblies } from 'mlops-constructs/review';

// Stacks are paired as CloudFormation knows them: by stack name, account and region (a nested stack by its parent and
// the logical id of its AWS::CloudFormation::Stack resource), never by construct path. Renaming a construct id moves
// the stacks in the construct tree and keeps them; renaming a stack replaces it.

const dev = REFERENCE_PROFILES.find((p) => p.name === 'dev')!;

/** The reference dev platform (two served models: one shard, two nested stacks) under construct id `id`. */
function platform(id: string, stackNamePrefix: string): LoadedAssembly {
  return synthSide((app: App) => {
    new MlopsPlatform(app, id, { ...referencePlatformProps(dev), stackNamePrefix, env: { account: '123456789012', region: 'us-east-1' } });
  });
}

/** Logical ids of the resources of a report's stack, in base (`before`) or head. */
const resourcesOf = (a: LoadedAssembly, stackName: string) => Object.keys(a.stacks.find((s) => s.stackName === stackName)!.template.Resources ?? {});

describe('issue #16 item 5: the platform construct id fraud-dev → fraud-dev-v2, stack names kept', () => {
  const base = platform('fraud-dev', 'fraud-dev');
  const head = platform('fraud-dev-v2', 'fraud-dev');
  const report = reviewAssemblies(base, head);
  const md = renderMarkdown(report);

  test('every stack is paired with itself: none added or removed, each named by its head path', () => {
    expect(report.stacks.map((s) => s.status).filter((s) => s === 'added' || s === 'removed')).toEqual([]);
    expect(report.stacks.length).toBe(head.stacks.length);
    for (const s of report.stacks) {
      expect(s.id.startsWith('fraud-dev-v2/')).toBe(true);
      expect(s.previousId).toBe(s.id.replace(/^fraud-dev-v2\//, 'fraud-dev/'));
    }
  });

  test('the buckets, keys and the cluster stay: the only blocking change is a logical id that really changed', () => {
    const data = { before: resourcesOf(base, 'fraud-dev-data'), after: resourcesOf(head, 'fraud-dev-data') };
    // CDK names the generated Aurora secret after its full construct path (DatabaseSecret with
    // replaceOnPasswordCriteriaChanges), so CloudFormation would delete it and create another: a real removal.
    expect(report.blocking.map((b) => [b.stack, b.type, b.kind])).toEqual([['fraud-dev-v2/Data', 'AWS::SecretsManager::Secret', 'removed']]);
    expect(report.blocking[0].logicalId).toMatch(/^frauddevDataModelRegistryClusterSecret/);
    expect(data.after).not.toContain(report.blocking[0].logicalId);
    // Every destructive finding names a logical id gone from its stack's head template.
    for (const s of report.stacks) {
      const after = new Set(resourcesOf(head, s.stackName));
      for (const g of [...s.blocking, ...s.warnings, ...s.allowed].filter((f) => f.kind === 'removed' || f.kind === 'orphaned')) {
        expect(after.has(g.logicalId)).toBe(false);
      }
    }
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::RDS::DBCluster', 'AWS::DynamoDB::Table', 'AWS::SSM::Parameter']) {
      expect(report.stacks.flatMap((s) => s.changes).filter((c) => c.type === type && c.kind !== 'updated')).toEqual([]);
    }
    expect(report.warnings).toEqual([]);
  });

  test('no access change: grants that follow the renamed secret are unchanged access, nothing broadened or removed', () => {
    expect(report.security.filter((s) => !s.repointed)).toEqual([]);
    expect(md).toContain('- Access broadened: 0 change(s)');
    expect(md).toContain('- New compliance findings: 0');
  });

  test('what the reviewer reads: one line for the path change, old → new once in each changed stack summary', () => {
    expect(md).toContain('**⛔ 1 blocking change(s)**');
    expect(md).toContain(`- Construct path changed, same deployed stacks (matched by stack name, account and region): \`fraud-dev\` → \`fraud-dev-v2\` (${report.stacks.length} stack(s))`);
    expect(md).toContain('<summary>fraud-dev/Data → fraud-dev-v2/Data: changed');
    expect(md).toMatch(/<summary>fraud-dev\/Serving\d+\/Model-fraud-detector → fraud-dev-v2\/Serving\d+\/Model-fraud-detector \(nested\): changed/);
    expect(md).not.toContain('Stack name changed');
  });
});

describe('a stack name change is a new stack', () => {
  test('the old stack is deleted: its stateful resources are blocking removals, under the base path', () => {
    const base = platform('fraud-dev', 'fraud-dev');
    const head = platform('fraud-dev', 'fraud-dev2');
    const report: ReviewReport = reviewAssemblies(base, head);
    const data = report.stacks.filter((s) => s.id === 'fraud-dev/Data');
    expect(data.map((s) => [s.stackName, s.status])).toEqual([['fraud-dev2-data', 'added'], ['fraud-dev-data', 'removed']]);
    const removed = data[1];
    const blocked = removed.blocking.map((b) => b.type);
    for (const type of ['AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::RDS::DBCluster', 'AWS::ECR::Repository', 'AWS::SageMaker::ModelPackageGroup']) {
      expect(blocked).toContain(type);
    }
    expect(removed.blocking.every((b) => b.kind === 'removed' || b.kind === 'orphaned')).toBe(true);
    const md = renderMarkdown(report);
    expect(md).toContain('- Stack name changed: `fraud-dev-data` → `fraud-dev2-data` (fraud-dev/Data): CloudFormation creates a new stack '
      + 'and deletes the old one with every resource it does not retain');
    expect(md).not.toContain('Construct path changed');
  });
});

describe('deployed identity: stack name, account and region', () => {
  const bucket = { Models: { Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: {} } };
  const stack = (id: string, env: string, stackName = 'models-data'): TemplateStack => ({ id, env, stackName, resources: bucket });

  test('environment-agnostic stacks with the same name are the same stack wherever they sit in the construct tree', () => {
    const agnostic = 'aws://unknown-account/unknown-region';
    const r = reviewTemplates([stack('Old/Data', agnostic)], [stack('New/Data', agnostic)]);
    expect(r.stacks.map((s) => [s.id, s.previousId, s.status])).toEqual([['New/Data', 'Old/Data', 'unchanged']]);
    expect(r.blocking).toEqual([]);
  });

  test('an environment-agnostic stack given an environment is the same stack (it deployed to the CLI\'s account and region), said in one line', () => {
    const r = reviewTemplates([stack('App/Data', 'aws://unknown-account/unknown-region')], [stack('App/Data', 'aws://123456789012/eu-west-1')]);
    expect(r.stacks.map((s) => [s.id, s.status, s.environmentChange])).toEqual([['App/Data', 'unchanged', 'unknown-account/unknown-region → 123456789012/eu-west-1']]);
    expect(r.blocking).toEqual([]);
    expect(renderMarkdown(r)).toContain('- Environment of `models-data` (App/Data) set: unknown-account/unknown-region → 123456789012/eu-west-1; '
      + 'reviewed as the same stack, which it is where the environment-agnostic stack was deployed with that account and region');
    // Pinned to two regions at once: which one it was is unknown, so neither is taken for it.
    const split = reviewTemplates([stack('App/Data', 'aws://unknown-account/unknown-region')],
      [stack('App/Data', 'aws://123456789012/eu-west-1'), stack('App/DataUs', 'aws://123456789012/us-east-1')]);
    expect(split.stacks.map((s) => s.status)).toEqual(['added', 'added', 'removed']);
    expect(split.blocking.map((b) => b.stack)).toEqual(['App/Data']);
  });

  test('the nested stacks of a stack given an environment follow it', () => {
    const side = (env?: { account: string; region: string }) => synthSide((app) => {
      const parent = new Stack(app, 'Parent', { stackName: 'models-parent', env });
      new s3.Bucket(new NestedStack(parent, 'Store'), 'Models', { removalPolicy: RemovalPolicy.RETAIN });
    });
    const r = reviewAssemblies(side(), side({ account: '123456789012', region: 'eu-west-1' }));
    expect(r.stacks.map((s) => [s.id, s.status === 'added' || s.status === 'removed'])).toEqual([['Parent', false], ['Parent/Store', false]]);
    expect(r.blocking).toEqual([]);
  });

  test('the same name in another region or account is another stack: the old one and its data go', () => {
    for (const env of ['aws://123456789012/eu-west-1', 'aws://210987654321/us-east-1']) {
      const r = reviewTemplates([stack('App/Data', 'aws://123456789012/us-east-1')], [stack('App/Data', env)]);
      expect(r.stacks.map((s) => s.status)).toEqual(['added', 'removed']);
      expect(r.blocking.map((b) => [b.stack, b.logicalId, b.kind])).toEqual([['App/Data', 'Models', 'orphaned']]);
    }
  });
});
