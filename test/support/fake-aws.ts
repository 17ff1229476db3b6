import * as fs from 'fs';
import * as path from 'path';

/** A change set prepared for a stack (CDK Pipelines' Prepare action: CreateChangeSet from the synthesized template). */
export interface FakeChangeSet {
  readonly name: string;
  readonly template: unknown;
  /** @default 'CREATE_COMPLETE' */
  readonly status?: string;
  /** @default 'AVAILABLE' */
  readonly executionStatus?: string;
  readonly statusReason?: string;
  /** `DescribeChangeSet`'s `Changes`. @default [] */
  readonly changes?: unknown[];
}

/**
 * What the fake AWS CLI knows: roles that may be assumed (by ARN, with the account they are in), deployed stacks per
 * account (name or nested-stack ARN to template), nested stacks (`<parent>|<logical id>` to physical id), and change
 * sets per account and stack. A stack with a change set but no deployed template is in REVIEW_IN_PROGRESS (the change
 * set creates it), as CloudFormation has it.
 */
export interface FakeAwsState {
  readonly roles: Record<string, { account: string }>;
  readonly stacks: Record<string, Record<string, unknown>>;
  readonly nested?: Record<string, string>;
  readonly changeSets?: Record<string, Record<string, FakeChangeSet>>;
}

/**
 * Writes an `aws` executable (Node) into `dir` answering `sts assume-role` and `cloudformation get-template` (of a
 * stack or of a change set), `describe-stacks`, `describe-change-set` and `describe-stack-resource` from the JSON state
 * in `$FAKE_AWS_STATE`, as the AWS CLI does (JSON on stdout, errors on stderr with exit code 254), logging every call
 * with the account of the credentials it came with to `$FAKE_AWS_LOG`. CloudFormation calls without assumed-role
 * credentials are denied.
 */
export function writeFakeAws(dir: string): string {
  const file = path.join(dir, 'aws');
  fs.writeFileSync(file, `#!/usr/bin/env node
const fs = require('fs');
const state = JSON.parse(fs.readFileSync(process.env.FAKE_AWS_STATE, 'utf8'));
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; };
const key = process.env.AWS_ACCESS_KEY_ID || '';
const account = key.startsWith('ASIAFAKE') ? key.slice(8) : undefined;
fs.appendFileSync(process.env.FAKE_AWS_LOG, JSON.stringify({ args, account }) + '\\n');
const fail = (msg) => { process.stderr.write('\\nAn error occurred ' + msg + '\\n'); process.exit(254); };
const out = (x) => { process.stdout.write(JSON.stringify(x, null, 4)); process.exit(0); };
const [service, op] = args;
if (service === 'sts' && op === 'assume-role') {
  const role = state.roles[opt('--role-arn')];
  if (!role) fail('(AccessDenied) when calling the AssumeRole operation: not authorized to perform sts:AssumeRole on ' + opt('--role-arn'));
  out({ Credentials: { AccessKeyId: 'ASIAFAKE' + role.account, SecretAccessKey: 's', SessionToken: 't' } });
}
if (service === 'cloudformation') {
  if (!account) fail('(AccessDenied) when calling the ' + op + ' operation: no credentials for the target account');
  const stacks = state.stacks[account] || {};
  const changeSet = ((state.changeSets || {})[account] || {})[opt('--stack-name')];
  const noChangeSet = () => fail('(ChangeSetNotFound) when calling the ' + op + ' operation: ChangeSet [' + opt('--change-set-name') + '] does not exist');
  if (op === 'describe-stacks') {
    const status = stacks[opt('--stack-name')] ? 'UPDATE_COMPLETE' : changeSet ? 'REVIEW_IN_PROGRESS' : undefined;
    if (!status) fail('(ValidationError) when calling the DescribeStacks operation: Stack with id ' + opt('--stack-name') + ' does not exist');
    out({ Stacks: [{ StackName: opt('--stack-name'), StackStatus: status }] });
  }
  if (op === 'describe-change-set') {
    if (!changeSet || changeSet.name !== opt('--change-set-name')) noChangeSet();
    out({ ChangeSetName: changeSet.name, StackName: opt('--stack-name'), Status: changeSet.status || 'CREATE_COMPLETE',
      ExecutionStatus: changeSet.executionStatus || 'AVAILABLE', StatusReason: changeSet.statusReason, Changes: changeSet.changes || [] });
  }
  if (op === 'get-template' && opt('--change-set-name')) {
    if (!changeSet || changeSet.name !== opt('--change-set-name')) noChangeSet();
    out({ TemplateBody: changeSet.template, StagesAvailable: ['Original', 'Processed'] });
  }
  if (op === 'get-template') {
    const t = stacks[opt('--stack-name')];
    if (!t) fail('(ValidationError) when calling the GetTemplate operation: Stack with id ' + opt('--stack-name') + ' does not exist');
    out({ TemplateBody: t, StagesAvailable: ['Original', 'Processed'] });
  }
  if (op === 'describe-stack-resource') {
    const id = (state.nested || {})[opt('--stack-name') + '|' + opt('--logical-resource-id')];
    if (!id) fail('(ValidationError) when calling the DescribeStackResource operation: Resource ' + opt('--logical-resource-id') + ' does not exist');
    out({ StackResourceDetail: { PhysicalResourceId: id, ResourceStatus: 'UPDATE_COMPLETE' } });
  }
}
fail('(InvalidAction) the fake AWS CLI does not know ' + args.join(' '));
`, { mode: 0o755 });
  return file;
}
