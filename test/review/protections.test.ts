import * as fs from 'fs';
import * as path from 'path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { reviewPair, reviewTemplates, TemplateStack, writeAssembly } from './support';
import { tempDir } from '../support/gate';
import { ArtifactStore, EnvironmentProfile, ServedStateParameter } from 'mlops-constructs';
import { main, PROTECTED_TYPES, PROTECTIVE_RULES, renderMarkdown, ReviewReport, STATEFUL_TYPES } from 'mlops-constructs/review';

// Data loss without replacement: a protective property of a stateful resource is lowered. Each rule of the table
// (lib/review/protective.ts) is tested on its own, weakened and strengthened, on templates as CloudFormation reads them.

const one = (type: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  Store: { Type: type, Properties: properties, ...extra },
});
const pair = (type: string, before: Record<string, unknown>, after: Record<string, unknown>, environment = 'prod') => reviewTemplates(
  [{ id: 'mlops-prod/Data', environment, resources: one(type, before) }],
  [{ id: 'mlops-prod/Data', environment, resources: one(type, after) }]);
const reasons = (r: ReviewReport) => r.blocking.map((b) => b.reason);

describe('protective properties: each rule blocks its weakening with before → after and stays quiet on strengthening', () => {
  const lifecycle = (days: number) => ({ LifecycleConfiguration: { Rules: [{ Id: 'nc', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: days } }] } });
  const ecrPolicy = (count: number) => ({
    LifecyclePolicy: {
      LifecyclePolicyText: JSON.stringify({
        rules: [
          { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: { type: 'expire' } },
          { rulePriority: 2, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: count }, action: { type: 'expire' } },
        ],
      }),
    },
  });
  const cases: Array<[string, string, Record<string, unknown>, Record<string, unknown>, string]> = [
    ['log retention', 'AWS::Logs::LogGroup', { RetentionInDays: 365 }, { RetentionInDays: 7 }, 'log retention 365 days → 7 days'],
    ['log retention from never', 'AWS::Logs::LogGroup', {}, { RetentionInDays: 30 }, 'log retention never expires → 30 days'],
    ['log KMS key', 'AWS::Logs::LogGroup', { KmsKeyId: 'arn:aws:kms:us-east-1:1:key/k' }, {}, 'KMS encryption customer KMS key → service-owned key'],
    ['cluster deletion protection', 'AWS::RDS::DBCluster', { Engine: 'aurora-postgresql', DeletionProtection: true }, { Engine: 'aurora-postgresql', DeletionProtection: false },
      'deletion protection on → off'],
    ['cluster backups', 'AWS::RDS::DBCluster', { Engine: 'aurora-postgresql', BackupRetentionPeriod: 30 }, { Engine: 'aurora-postgresql', BackupRetentionPeriod: 1 },
      'backup retention 30 days → 1 day'],
    ['instance deletion protection', 'AWS::RDS::DBInstance', { DeletionProtection: true }, {}, 'deletion protection on → off'],
    ['instance automated backups', 'AWS::RDS::DBInstance', { DeleteAutomatedBackups: false }, {}, 'automated backups on delete kept → deleted with the instance'],
    ['versioning', 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } }, { VersioningConfiguration: { Status: 'Suspended' } },
      'versioning Enabled → Suspended'],
    ['bucket KMS', 'AWS::S3::Bucket', { BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } },
      { BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } },
      'KMS encryption SSE-KMS (aws:kms) → SSE-S3 (AES256)'],
    ['noncurrent expiry', 'AWS::S3::Bucket', lifecycle(365), lifecycle(31), 'noncurrent-version expiry 365 days → 31 days'],
    ['object expiry added', 'AWS::S3::Bucket', {}, { LifecycleConfiguration: { Rules: [{ Status: 'Enabled', ExpirationInDays: 90 }] } }, 'object expiry never → 90 days'],
    ['Object Lock mode', 'AWS::S3::Bucket', { ObjectLockEnabled: true, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } } } },
      { ObjectLockEnabled: true, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } } },
      'Object Lock mode COMPLIANCE → GOVERNANCE'],
    ['Object Lock retention', 'AWS::S3::Bucket', { ObjectLockEnabled: true, ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Years: 1 } } } },
      { ObjectLockEnabled: true, ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } } } },
      'Object Lock default retention 1 year(s) → 30 days'],
    ['replication', 'AWS::S3::Bucket', { ReplicationConfiguration: { Role: 'r', Rules: [] } }, {}, 'replication configured → none'],
    ['table deletion protection', 'AWS::DynamoDB::Table', { DeletionProtectionEnabled: true }, {}, 'deletion protection on → off'],
    ['table PITR', 'AWS::DynamoDB::Table', { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } },
      { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false } }, 'point-in-time recovery 35 days (default) → off'],
    ['table TTL', 'AWS::DynamoDB::Table', {}, { TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }, 'item expiry (TTL) off → items expire'],
    ['EFS backups', 'AWS::EFS::FileSystem', { BackupPolicy: { Status: 'ENABLED' } }, { BackupPolicy: { Status: 'DISABLED' } }, 'automatic backups ENABLED → DISABLED'],
    ['key disabled', 'AWS::KMS::Key', { KeyPolicy: {} }, { KeyPolicy: {}, Enabled: false }, 'key enabled enabled → disabled'],
    ['key deletion window', 'AWS::KMS::Key', { PendingWindowInDays: 30 }, { PendingWindowInDays: 7 }, 'deletion waiting period 30 days → 7 days'],
    ['ECR immutability', 'AWS::ECR::Repository', { ImageTagMutability: 'IMMUTABLE' }, { ImageTagMutability: 'MUTABLE' }, 'tag immutability IMMUTABLE → MUTABLE'],
    ['ECR lifecycle', 'AWS::ECR::Repository', ecrPolicy(100), ecrPolicy(5), 'tagged images kept 100 images → 5 images'],
    ['ECR empty on delete', 'AWS::ECR::Repository', {}, { EmptyOnDelete: true }, 'images on delete kept (deletion fails) → deleted with the repository'],
    ['backup plan', 'AWS::Backup::BackupPlan', { BackupPlan: { BackupPlanName: 'b', BackupPlanRule: [{ RuleName: 'd', TargetBackupVault: 'v', Lifecycle: { DeleteAfterDays: 35 } }] } },
      { BackupPlan: { BackupPlanName: 'b', BackupPlanRule: [{ RuleName: 'd', TargetBackupVault: 'v', Lifecycle: { DeleteAfterDays: 7 } }] } },
      'backup retention 35 days → 7 days'],
    ['queue retention', 'AWS::SQS::Queue', { MessageRetentionPeriod: 1209600 }, { MessageRetentionPeriod: 60 }, 'message retention 1209600 seconds → 60 seconds'],
  ];

  test.each(cases)('%s', (_name, type, before, after, expected) => {
    const weakened = pair(type, before, after);
    expect(reasons(weakened)).toEqual([expected]);
    expect(weakened.blocking[0]).toMatchObject({ kind: 'protection-weakened', type, stack: 'mlops-prod/Data', logicalId: 'Store' });
    // The same change the other way protects more: nothing to report.
    const strengthened = pair(type, after, before);
    expect(strengthened.blocking).toEqual([]);
    expect(strengthened.warnings).toEqual([]);
  });

  test('every type of the table is covered by a case above, and every stateful type has a rule or is listed as having none', () => {
    const tested = new Set(cases.map(([, type]) => type));
    const untested = PROTECTED_TYPES.filter((t) => !tested.has(t));
    // Rules of these types are simple defaults tested through the others' helpers.
    expect(untested.sort()).toEqual(['AWS::Backup::BackupVault', 'AWS::DynamoDB::GlobalTable', 'AWS::Kinesis::Stream']);
    const withoutRules = STATEFUL_TYPES.filter((t) => !PROTECTED_TYPES.includes(t));
    expect(withoutRules.sort()).toEqual(['AWS::SageMaker::ModelPackageGroup', 'AWS::SecretsManager::Secret']);
    expect(PROTECTIVE_RULES.length).toBeGreaterThan(30);
  });

  test('values known only at deploy time are not judged', () => {
    expect(pair('AWS::Logs::LogGroup', { RetentionInDays: 365 }, { RetentionInDays: { Ref: 'Days' } }).blocking).toEqual([]);
  });

  test('several weakenings of one resource give one finding listing each', () => {
    const r = pair('AWS::RDS::DBCluster', { Engine: 'aurora-postgresql', DeletionProtection: true, BackupRetentionPeriod: 30 },
      { Engine: 'aurora-postgresql', DeletionProtection: false, BackupRetentionPeriod: 1 });
    expect(reasons(r)).toEqual(['deletion protection on → off; backup retention 30 days → 1 day']);
    expect(r.blocking[0].weakened).toEqual([
      { label: 'deletion protection', property: 'DeletionProtection', before: 'on', after: 'off' },
      { label: 'backup retention', property: 'BackupRetentionPeriod', before: '30 days', after: '1 day' },
    ]);
  });

  test('DeletionPolicy and UpdateReplacePolicy flipped together: one finding', () => {
    const retained = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };
    const r = reviewTemplates([{ id: 'S', resources: one('AWS::S3::Bucket', {}, retained) }], [{ id: 'S', resources: one('AWS::S3::Bucket', {}, {}) }]);
    expect(reasons(r)).toEqual(['DeletionPolicy Retain → Delete (default); UpdateReplacePolicy Retain → Delete (default): '
      + 'deleting the stack or replacing the resource would now delete its data']);
  });

  test('a replaced resource whose protections also drop: one finding, the replacement with the weakening appended', () => {
    const r = reviewTemplates([{ id: 'S', resources: one('AWS::S3::Bucket', { BucketName: 'a', VersioningConfiguration: { Status: 'Enabled' } }, { DeletionPolicy: 'Retain' }) }],
      [{ id: 'S', resources: one('AWS::S3::Bucket', { BucketName: 'b' }) }]);
    expect(r.blocking).toHaveLength(1);
    expect(r.blocking[0].kind).toBe('replaced');
    expect(r.blocking[0].reason).toMatch(/; also DeletionPolicy Retain → Delete \(default\); versioning Enabled → not set$/);
  });

  test('dev warns, staging and an untagged environment block, --allow-destroy lets it through', () => {
    const before = { RetentionInDays: 365 };
    const after = { RetentionInDays: 7 };
    const dev = pair('AWS::Logs::LogGroup', before, after, 'dev');
    expect(dev.blocking).toEqual([]);
    expect(dev.warnings.map((w) => w.reason)).toEqual(['log retention 365 days → 7 days']);
    expect(pair('AWS::Logs::LogGroup', before, after, 'staging').blocking).toHaveLength(1);
    const allowed = reviewTemplates([{ id: 'mlops-prod/Data', resources: one('AWS::Logs::LogGroup', before) }],
      [{ id: 'mlops-prod/Data', resources: one('AWS::Logs::LogGroup', after) }], { allowDestroy: ['mlops-prod/Data/Store'] });
    expect(allowed.blocking).toEqual([]);
    expect(allowed.allowed.map((a) => a.allowedBy)).toEqual(['allow-destroy']);
  });
});

describe('served state', () => {
  const param = (value: string) => ({
    ServedFraud: { Type: 'AWS::SSM::Parameter', Properties: { Name: '/mlops/fraud-prod/served/fraud', Type: 'String', Value: value } },
  });

  test('a template change to the served-state value would overwrite what promotion wrote: blocked with before → after', () => {
    const r = reviewTemplates([{ id: 'fraud-prod-data', resources: param('current=v1@100') }], [{ id: 'fraud-prod-data', resources: param('current=v2@100') }]);
    expect(reasons(r)).toEqual(['served state (written by promotion and rollouts) current=v1@100 → current=v2@100']);
  });

  test('removing the served-state parameter loses the served versions: blocked; an ordinary parameter is not stateful', () => {
    const r = reviewTemplates([{ id: 'd', resources: { ...param('current=v1@100'), Other: { Type: 'AWS::SSM::Parameter', Properties: { Type: 'String', Value: 'x' } } } }],
      [{ id: 'd', resources: { Anchor: { Type: 'AWS::CloudFormation::WaitConditionHandle' } } }]);
    expect(r.blocking.map((b) => `${b.logicalId}:${b.kind}`)).toEqual(['ServedFraud:removed']);
  });

  test('through ServedStateParameter: the code\'s initial state changed', () => {
    const r = reviewPair((stack, side) => {
      new ServedStateParameter(stack, 'Served', {
        environmentPrefix: 'p-prod',
        model: 'fraud',
        initialState: { variants: [{ variant: 'current', version: side === 'base' ? 'v1' : 'v2', weight: 100 }] },
      });
    });
    expect(r.blocking.map((b) => b.reason)).toEqual([expect.stringMatching(/^served state \(written by promotion and rollouts\) current=v1@100 → current=v2@100$/)]);
  });
});

describe('delivery gate (EnvironmentPipeline\'s mlops:delivery-gate metadata)', () => {
  const pipeline = (gate: unknown) => ({
    Pipeline: { Type: 'AWS::CodePipeline::Pipeline', Properties: { RoleArn: 'r' }, ...gate === undefined ? {} : { Metadata: { 'mlops:delivery-gate': gate } } },
  });
  const gate = (prod: Record<string, unknown>) => ({ source: 'a/b@main', environments: { prod: { approval: true, disposableStacks: [], ...prod } } });

  test('any change of the gate blocks, in a dev environment too, and no option lets it through', () => {
    for (const environment of ['prod', 'dev']) {
      const r = reviewTemplates([{ id: 'tools', environment, resources: pipeline(gate({})) }],
        [{ id: 'tools', environment, resources: pipeline(gate({ disposableStacks: ['p-prod/Data'], approval: false })) }],
        { allowDestroy: ['tools/Pipeline'], disposableStacks: ['tools'] });
      expect(r.warnings).toEqual([]);
      expect(r.allowed).toEqual([]);
      expect(reasons(r)).toEqual([expect.stringMatching(/^delivery gate environments\.prod\.approval true → false; delivery gate environments\.prod\.disposableStacks \[\] → \["p-prod\/Data"\]: the pipeline would change what gates it by deploying itself; a person deploys this change/)]);
    }
  });

  test('removing the recorded gate blocks; a pipeline deployed before the gate was recorded does not', () => {
    expect(reasons(reviewTemplates([{ id: 'tools', resources: pipeline(gate({})) }], [{ id: 'tools', resources: pipeline(undefined) }]))).toHaveLength(1);
    expect(reasons(reviewTemplates([{ id: 'tools', resources: pipeline(undefined) }], [{ id: 'tools', resources: pipeline(gate({})) }]))).toEqual([]);
  });
});

describe('replacements CloudFormation plans in a prepared change set (plannedChanges)', () => {
  const resources = { Store: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { Ref: 'Name' } } }, Topic: { Type: 'AWS::SNS::Topic' } };
  const planned = (logicalId: string, replacement: string) => ({ stack: 'mlops-prod/Data', logicalId, type: 'x', action: 'Modify', replacement });
  const review = (options: Parameters<typeof reviewTemplates>[2]) => reviewTemplates(
    [{ id: 'mlops-prod/Data', resources }], [{ id: 'mlops-prod/Data', resources }], options);

  test('a planned replacement of data the templates do not show blocks; Conditional may replace; stateless and in-place ones do not', () => {
    expect(review({ plannedChanges: [planned('Store', 'True')] }).blocking.map((b) => `${b.logicalId} ${b.kind}: ${b.reason}`))
      .toEqual([expect.stringMatching(/^Store replaced: CloudFormation's change set replaces it, which the templates do not show/)]);
    expect(review({ plannedChanges: [planned('Store', 'Conditional')] }).blocking.map((b) => b.kind)).toEqual(['may-be-replaced']);
    expect(review({ plannedChanges: [planned('Topic', 'True'), planned('Store', 'False')] }).blocking).toEqual([]);
  });

  test('let through by --allow-destroy or a disposable stack; one finding when the templates show it too', () => {
    expect(review({ plannedChanges: [planned('Store', 'True')], allowDestroy: ['mlops-prod/Data/Store'] }).allowed.map((a) => a.allowedBy)).toEqual(['allow-destroy']);
    expect(review({ plannedChanges: [planned('Store', 'True')], disposableStacks: ['mlops-prod/Data'] }).allowed.map((a) => a.allowedBy)).toEqual(['disposable-stack']);
    const renamed = reviewTemplates([{ id: 'mlops-prod/Data', resources: { Store: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'a' } } } }],
      [{ id: 'mlops-prod/Data', resources: { Store: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'b' } } } }], { plannedChanges: [planned('Store', 'True')] });
    expect(renamed.blocking).toHaveLength(1);
    expect(renamed.blocking[0].reason).not.toContain('CloudFormation');
  });
});

describe('through the library and the CLI', () => {
  test('ArtifactStore noncurrent expiry 365→31 in prod: blocked, rendered with before → after, exit 1; in dev: a warning, exit 0', async () => {
    const build = (days: number) => (stack: import('mlops-constructs').MlopsStack) => {
      new ArtifactStore(stack, 'Artifacts', { lifecycle: { noncurrentVersionExpirationDays: days } });
    };
    const prod = reviewPair((stack, side) => build(side === 'base' ? 365 : 31)(stack));
    // The models bucket's Object Lock default retention follows the noncurrent expiry: both weaken, in one line.
    const models = prod.blocking.filter((b) => b.path === 'Svc/Artifacts/Models/Resource');
    expect(models.map((b) => b.reason)).toEqual(['Object Lock default retention 365 days → 31 days; noncurrent-version expiry 365 days → 31 days']);
    const others = prod.blocking.filter((b) => !models.includes(b));
    expect(others.map((b) => b.reason)).toEqual(Array(others.length).fill('noncurrent-version expiry 365 days → 31 days'));
    expect(others.length).toBeGreaterThanOrEqual(2);
    const md = renderMarkdown(prod);
    expect(md).toContain(`**⛔ ${prod.blocking.length} blocking change(s)**`);
    expect(md).toMatch(/- \*\*Svc\*\* `Svc\/Artifacts\/Models\/Resource` \(\w+\) `AWS::S3::Bucket` protection weakened: Object Lock default retention 365 days → 31 days; noncurrent-version expiry 365 days → 31 days/);

    const dev = reviewPair((stack, side) => build(side === 'base' ? 365 : 31)(stack), { profile: EnvironmentProfile.dev() });
    expect(dev.blocking).toEqual([]);
    expect(dev.warnings.length).toBe(prod.blocking.length);
    expect(renderMarkdown(dev)).toMatch(/\*\*✅ No blocking changes\.\*\*\n\n\*\*⚠️ \d+ data-loss warning\(s\)\*\* in development environments\./);
  });

  test('log group retention through the profile: 365 → 7 days in prod blocks', () => {
    const r = reviewPair((stack) => {
      new logs.LogGroup(stack, 'Logs', { retention: stack.profile.logRetentionDays as logs.RetentionDays, removalPolicy: RemovalPolicy.RETAIN });
    }, { stackProps: (side) => ({ profile: EnvironmentProfile.prod({ logRetentionDays: side === 'base' ? 365 : 7 }) }) });
    expect(r.blocking.map((b) => `${b.logicalId}: ${b.reason}`)).toEqual([expect.stringMatching(/^Logs\w+: log retention 365 days → 7 days$/)]);
  });

  test('CLI: deletion protection off and backups 30→1 on the prod database exit 1; the same in dev exits 0', async () => {
    const db = (on: boolean, days: number) => ({
      Registry: {
        Type: 'AWS::RDS::DBCluster',
        DeletionPolicy: 'Snapshot',
        UpdateReplacePolicy: 'Snapshot',
        Properties: { Engine: 'aurora-postgresql', DeletionProtection: on, BackupRetentionPeriod: days, StorageEncrypted: true },
      },
    });
    const run = async (environment: string) => {
      const stacks = (on: boolean, days: number): TemplateStack[] => [{ id: `mlops-${environment}/Data`, environment, resources: db(on, days) }];
      const out = path.join(tempDir('review'), 'review.md');
      const code = await main(['--base', writeAssembly(stacks(true, 30)), '--head', writeAssembly(stacks(false, 1)), '--output', out],
        { stdout: () => undefined, stderr: () => undefined });
      return { code, md: fs.readFileSync(out, 'utf8') };
    };
    // An allow that matches nothing is a usage error: exit 2 with the nearest path.
    let stderr = '';
    const typo = await main(['--base', writeAssembly([{ id: 'mlops-prod/Data', resources: db(true, 30) }]), '--head',
      writeAssembly([{ id: 'mlops-prod/Data', resources: db(false, 1) }]), '--allow-destroy', 'mlops-prod/Data/Registy'],
    { stdout: () => undefined, stderr: (t) => { stderr += t; } });
    expect(typo).toBe(2);
    expect(stderr).toBe('mlops-review: --allow-destroy mlops-prod/Data/Registy matches no destructive change; nearest: mlops-prod/Data/Registry.\n');
    const prod = await run('prod');
    expect(prod.code).toBe(1);
    expect(prod.md).toContain('- **mlops-prod/Data** `Registry` `AWS::RDS::DBCluster` protection weakened: deletion protection on → off; backup retention 30 days → 1 day');
    const dev = await run('dev');
    expect(dev.code).toBe(0);
    expect(dev.md).toContain('### ⚠️ Data-loss warnings (development environments)\n\n- **mlops-dev/Data** `Registry` `AWS::RDS::DBCluster` protection weakened: '
      + 'deletion protection on → off; backup retention 30 days → 1 day');
  });
});
