// Deploys the dev environment for real on a local AWS emulator (moto's server, started here on a free port) with
// the cdk CLI, writes data, deploys a changed version over it, and checks nothing was lost; then deletes a staging
// data stack and checks its retained resources stay. Needs `moto_server` (pip install "moto[server]") and the aws CLI.
import * as fs from 'fs';
import * as path from 'path';
import { fullDiff } from '@aws-cdk/cloudformation-diff';
import {
  deployReport, Emulator, EMULATOR_NOT_UPDATED_TYPES, STATEFUL_TYPES, StackResource, templateFiles,
} from '../../scripts/emulator';

jest.setTimeout(6 * 60_000);

// Both reference models (and the changed version's third) hash to serving shard 07.
const DEV_STACKS = ['mlops-dev-data', 'mlops-dev-platform', 'mlops-dev-serving-07'];
const DEV = 'mlopsdev';

let emulator: Emulator | undefined;
let v1 = '';
let v2 = '';
let before: StackResource[] = [];
let stackIds: Record<string, string> = {};
let modelsBucket = '';
let jobLogGroup = '';
const timings: string[] = [];
const started = Date.now();

function emu(): Emulator {
  if (!emulator) throw new Error('the emulator did not start (see the first failure)');
  return emulator;
}

function lap(what: string): void {
  timings.push(`${what}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function devResources(): StackResource[] {
  return DEV_STACKS.flatMap((s) => emu().stackResources(s));
}

function physicalId(resources: StackResource[], type: string, logicalIdPrefix: string): string {
  const found = resources.find((r) => r.type === type && r.logicalId.startsWith(logicalIdPrefix));
  if (!found) throw new Error(`no ${type} ${logicalIdPrefix}* deployed`);
  return found.physicalId;
}

function describeStack(name: string): { StackId: string; StackStatus: string } {
  return emu().aws(['cloudformation', 'describe-stacks', '--stack-name', name]).Stacks[0];
}

beforeAll(async () => {
  // Fails (does not skip) with an install hint when moto_server is missing.
  emulator = await Emulator.start();
  emulator.bootstrap();
  lap('server started and bootstrapped');
  v1 = path.join(emulator.workDir, 'v1.out');
  v2 = path.join(emulator.workDir, 'v2.out');
  emulator.synth(v1, 'mlops', { 'mlops-local:staging': 'true' });
  emulator.synth(v2, 'mlops', { 'mlops-local:change': 'true' });
  lap('both versions synthesized');
});

afterAll(() => {
  emulator?.stop();
  process.stdout.write(`emulator integration timings (since start): ${timings.join('; ')}\n`);
});

test('the dev environment deploys: every resource of a type the emulator creates exists', () => {
  emu().deploy(v1, ['mlops-dev/*']);
  lap('dev deployed');
  before = devResources();
  const report = deployReport(v1, DEV, before);
  expect(report.missing).toEqual([]);
  expect(report.created).toEqual(expect.objectContaining({
    'AWS::S3::Bucket': 5,
    // The platform key (data stack) and the GPU brake's key (platform stack).
    'AWS::KMS::Key': 2,
    'AWS::ECR::Repository': 2,
    // The two models' nested stacks in the serving shard, and the served states in a nested stack of the data stack.
    'AWS::CloudFormation::Stack': 3,
    // The fleet's and the endpoint's served states, the GPU brake's state and the 23 shared attributes team repositories read.
    'AWS::SSM::Parameter': 26,
    'AWS::Batch::ComputeEnvironment': 1,
    'AWS::Batch::JobQueue': 1,
    'AWS::AutoScaling::AutoScalingGroup': 1,
    'AWS::SageMaker::Endpoint': 1,
  }));
  stackIds = Object.fromEntries(DEV_STACKS.map((s) => [s, describeStack(s).StackId]));
  modelsBucket = physicalId(before, 'AWS::S3::Bucket', 'ArtifactStoreModels');
  jobLogGroup = physicalId(before, 'AWS::Logs::LogGroup', 'TrainingClusterJobLogs');
  // What a team repository reads (MlopsPlatform.fromEnvironment) names the deployed resources.
  const shared = (name: string) => emu().aws(['ssm', 'get-parameter', '--name', `/mlops/mlops-dev/shared/${name}`]).Parameter.Value;
  expect(shared('artifact-store/bucket-names/models')).toEqual(modelsBucket);
  expect(shared('images/serving-repository-name')).toEqual('mlops-dev/serving');
  expect(shared('network/vpc-id')).toEqual(physicalId(before, 'AWS::EC2::VPC', 'NetworkVpc'));
  expect(shared('network/private-subnet-ids').split(',')).toHaveLength(2);
  // The buckets' VersioningConfiguration, which moto ignores, is applied from the templates.
  expect(emu().applySkippedBucketSettings(v1, DEV, before)).toContain(modelsBucket);
});

test('data written to the environment: a model object with two versions, an image in the registry, a training log event', () => {
  const put = (body: string) => {
    const file = path.join(emu().workDir, 'model.bin');
    fs.writeFileSync(file, body);
    return emu().aws(['s3api', 'put-object', '--bucket', modelsBucket, '--key', 'fraud-detector/v3/model.bin', '--body', file]).VersionId;
  };
  const first = put('weights-1');
  const second = put('weights-2');
  expect(first).not.toEqual(second);
  emu().aws(['ecr', 'put-image', '--repository-name', 'mlops-dev/serving', '--image-tag', 'fraud-serve-1', '--image-manifest',
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: 'sha256:1', size: 1 }, layers: [] })]);
  emu().aws(['logs', 'create-log-stream', '--log-group-name', jobLogGroup, '--log-stream-name', 'evidence']);
  emu().aws(['logs', 'put-log-events', '--log-group-name', jobLogGroup, '--log-stream-name', 'evidence',
    '--log-events', `timestamp=${Date.now()},message=fraud-train run 1 accuracy=0.97`]);
});

test('the changed version updates the stacks in place and loses nothing', () => {
  emu().deploy(v2, ['mlops-dev/*']);
  lap('changed version deployed');
  const after = devResources();

  // Same stacks, updated in place (the data stack only gained the new fleet's served state).
  for (const s of DEV_STACKS) expect(describeStack(s).StackId).toEqual(stackIds[s]);
  expect(describeStack('mlops-dev-platform').StackStatus).toEqual('UPDATE_COMPLETE');
  expect(describeStack('mlops-dev-serving-07').StackStatus).toEqual('UPDATE_COMPLETE');
  // No stateful resource changed physical id, nor did the unchanged model's nested stack. (moto re-creates a
  // modified nested stack, which AWS updates in place: the fraud detector's, whose bounds changed, holds no data.)
  const keep = before.filter((r) => STATEFUL_TYPES.has(r.type) || r.logicalId.startsWith('Modelrecommender'));
  expect(keep.length).toBeGreaterThanOrEqual(12);
  for (const r of keep) {
    expect(after).toContainEqual(expect.objectContaining({ logicalId: r.logicalId, type: r.type, physicalId: r.physicalId }));
  }
  // The change is there: larger fleet bounds on the same group, a new job definition, a new model's nested stack.
  const fraudFleet = after.find((r) => r.type === 'AWS::AutoScaling::AutoScalingGroup' && r.stack.includes('Modelfrauddetector'))!;
  const groups = emu().aws(['autoscaling', 'describe-auto-scaling-groups', '--auto-scaling-group-names', fraudFleet.physicalId]).AutoScalingGroups;
  expect(groups.map((g: { MaxSize: number }) => g.MaxSize)).toEqual([4]);
  expect(after.some((r) => r.logicalId.startsWith('TrainingClusterRecsTrainDefinition') && r.type === 'AWS::Batch::JobDefinition')).toBe(true);
  expect(after.some((r) => r.logicalId.startsWith('Modelchurnpredictor') && r.type === 'AWS::CloudFormation::Stack')).toBe(true);
  // Everything of a type moto creates exists, except modified resources of types moto cannot update.
  const missing = deployReport(v2, DEV, after).missing;
  expect(missing.filter((m) => ![...EMULATOR_NOT_UPDATED_TYPES].some((t) => m.endsWith(`(${t})`)))).toEqual([]);

  // The data is still there: the object and both its versions, the image, the log event.
  const versions = emu().aws(['s3api', 'list-object-versions', '--bucket', modelsBucket, '--prefix', 'fraud-detector/v3/']).Versions;
  expect(versions).toHaveLength(2);
  const out = path.join(emu().workDir, 'model.out');
  emu().aws(['s3api', 'get-object', '--bucket', modelsBucket, '--key', 'fraud-detector/v3/model.bin', out]);
  expect(fs.readFileSync(out, 'utf8')).toEqual('weights-2');
  const images = emu().aws(['ecr', 'describe-images', '--repository-name', 'mlops-dev/serving']).imageDetails;
  expect(images.flatMap((i: { imageTags?: string[] }) => i.imageTags ?? [])).toContain('fraud-serve-1');
  const events = emu().aws(['logs', 'get-log-events', '--log-group-name', jobLogGroup, '--log-stream-name', 'evidence']).events;
  expect(events.map((e: { message: string }) => e.message)).toEqual(['fraud-train run 1 accuracy=0.97']);
});

test('cdk diff after the deploy shows no differences', () => {
  const diff = emu().cdk(['diff', '--app', v2, 'mlops-dev/Data', 'mlops-dev/Platform', 'mlops-dev/Serving07', '--change-set=false'], { allowFailure: true });
  lap('diffed');
  const text = `${diff.stdout}\n${diff.stderr}`;
  expect(diff.status).toEqual(0);
  for (const [id, name] of [['Data', 'data'], ['Platform', 'platform'], ['Serving07', 'serving-07']]) {
    expect(text).toMatch(new RegExp(`Stack mlops-dev/${id} \\(mlops-dev-${name}\\)[^\\n]*\\nThere were no differences`));
  }
  // moto's DescribeStacks does not find nested stacks by name, so cdk diff shows them as new: diff each nested
  // template with the same engine against the template the emulator holds.
  const nested = devResources().filter((r) => r.type === 'AWS::CloudFormation::Stack');
  // Three models' nested stacks in the shard and the two fleets' served states in one nested stack of the data stack.
  expect(nested).toHaveLength(4);
  const files = templateFiles(v2, DEV).filter((f) => f.endsWith('.nested.template.json'));
  const parentArtifact: Record<string, string> = { 'mlops-dev-data': 'mlopsdevData', 'mlops-dev-serving-07': 'mlopsdevServing07' };
  for (const r of nested) {
    const file = files.find((f) => f.startsWith(`${parentArtifact[r.stack]}${r.logicalId.replace(/NestedStack.*$/, '')}`));
    expect(file).toBeDefined();
    const deployed = emu().aws(['cloudformation', 'get-template', '--stack-name', r.physicalId]).TemplateBody;
    const local = JSON.parse(fs.readFileSync(path.join(v2, file!), 'utf8'));
    expect(fullDiff(deployed, local).differenceCount).toEqual(0);
  }
});

test('deleting a stack leaves its retained resources in place (staging platform stack)', () => {
  emu().deploy(v1, ['mlops-staging/*']);
  lap('staging deployed');
  const resources = emu().stackResources('mlops-staging-platform');
  const template = JSON.parse(fs.readFileSync(path.join(v1, templateFiles(v1, 'mlopsstagingPlatform').find((f) => !f.includes('Model'))!), 'utf8'));
  const retained = resources.filter((r) => template.Resources[r.logicalId]?.DeletionPolicy === 'Retain');
  // The trail's bucket and logs, the job logs, and the GPU brake's key, logs and ledger (the capacities to restore).
  expect([...new Set(retained.map((r) => r.type))].sort()).toEqual(['AWS::DynamoDB::Table', 'AWS::KMS::Key', 'AWS::Logs::LogGroup', 'AWS::S3::Bucket']);
  const bucket = physicalId(resources, 'AWS::S3::Bucket', 'GovernanceTrailBucket');
  const file = path.join(emu().workDir, 'trail.json');
  fs.writeFileSync(file, '{"Records":[]}');
  emu().aws(['s3api', 'put-object', '--bucket', bucket, '--key', 'AWSLogs/trail.json', '--body', file]);
  // Termination protection is on outside dev (moto neither enforces it nor lets it be turned off).
  expect(emu().aws(['cloudformation', 'describe-stacks', '--stack-name', 'mlops-staging-platform']).Stacks[0].EnableTerminationProtection).toBe(true);

  // moto's stack deletion cannot delete a managed policy still attached to a role of the same stack (CloudFormation
  // detaches it itself): detach them first, on the emulator only.
  for (const role of resources.filter((r) => r.type === 'AWS::IAM::Role')) {
    for (const p of emu().aws(['iam', 'list-attached-role-policies', '--role-name', role.physicalId]).AttachedPolicies ?? []) {
      emu().aws(['iam', 'detach-role-policy', '--role-name', role.physicalId, '--policy-arn', p.PolicyArn]);
    }
  }
  emu().cdk(['destroy', '--app', v1, 'mlops-staging/Platform', '--exclusively', '--force']);
  lap('staging platform stack deleted');
  const stacks = emu().aws(['cloudformation', 'list-stacks']).StackSummaries
    .filter((s: { StackName: string; StackStatus: string }) => s.StackName === 'mlops-staging-platform');
  expect(stacks.map((s: { StackStatus: string }) => s.StackStatus)).toEqual(['DELETE_COMPLETE']);
  const buckets = emu().aws(['s3api', 'list-buckets']).Buckets.map((b: { Name: string }) => b.Name);
  const groups = emu().aws(['logs', 'describe-log-groups']).logGroups.map((g: { logGroupName: string }) => g.logGroupName);
  const tables: string[] = emu().aws(['dynamodb', 'list-tables']).TableNames;
  // (moto's DescribeKey fails on keys CloudFormation created: it stores their policy as an object; ListKeys works.)
  const keys: string[] = emu().aws(['kms', 'list-keys']).Keys.map((k: { KeyId: string }) => k.KeyId);
  for (const r of retained) {
    const present = r.type === 'AWS::S3::Bucket' ? buckets.includes(r.physicalId)
      : r.type === 'AWS::DynamoDB::Table' ? tables.includes(r.physicalId)
        : r.type === 'AWS::KMS::Key' ? keys.includes(r.physicalId)
          : groups.includes(r.physicalId);
    expect({ resource: r.logicalId, present }).toEqual({ resource: r.logicalId, present: true });
  }
  const out = path.join(emu().workDir, 'trail.out');
  emu().aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'AWSLogs/trail.json', out]);
  expect(fs.readFileSync(out, 'utf8')).toEqual('{"Records":[]}');
  // What is not retained is gone: the platform's roles.
  const roles = emu().aws(['iam', 'list-roles']).Roles.map((r: { RoleName: string }) => r.RoleName);
  const stackRoles = resources.filter((r) => r.type === 'AWS::IAM::Role').map((r) => r.physicalId);
  expect(stackRoles.length).toBeGreaterThan(3);
  expect(roles.filter((r: string) => stackRoles.includes(r))).toEqual([]);
});
