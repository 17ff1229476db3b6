import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { isDeepStrictEqual } from 'util';
import { parse as parseYaml } from 'yaml';
import { CfnTemplate, ReviewInputError } from './assembly';
import { PlannedChange } from './classify';

/** Runs the AWS CLI with `args` and extra environment; returns its exit status and output (tests pass a fake). */
export type AwsCli = (args: readonly string[], env?: Readonly<Record<string, string>>) => { status: number; stdout: string; stderr: string };

/** The `aws` command on PATH. */
export const AWS_CLI: AwsCli = (args, env) => {
  const r = spawnSync('aws', [...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new ReviewInputError(`cannot run the AWS CLI (${r.error.message}); install it to review against what is deployed.`);
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
};

/** What `fetchDeployedBase` read. */
export interface DeployedBase {
  /** Stacks (display names) whose deployed template is in the base, nested stacks included (`parent/LogicalId`). */
  readonly read: string[];
  /** Stacks of the head that CloudFormation says do not exist: new stacks, reviewed as additions. */
  readonly notDeployed: string[];
  /** With `changeSet`: stacks whose prepared change set contains no change (CloudFormation's FAILED "no changes"). */
  readonly unchanged: string[];
  /** With `changeSet`: the resource changes CloudFormation plans in them (`ReviewOptions.plannedChanges`). */
  readonly planned: PlannedChange[];
}

/** How `fetchDeployedBase` reads. */
export interface DeployedBaseOptions {
  /** Read the stacks of nested cloud assemblies (Stages) too. @default true */
  readonly nestedAssemblies?: boolean;
  /** The AWS CLI (tests pass a fake). @default the `aws` command on PATH */
  readonly aws?: AwsCli;
  /**
   * Name of the change set prepared for every stack of the head (CDK Pipelines' Prepare action: `PipelineChange`): the
   * review is then of that change set. Each stack must have it, ready to execute (or empty: no changes), and its
   * template must be the head's template; otherwise the review fails closed. A stack the change set creates
   * (CloudFormation's REVIEW_IN_PROGRESS) is reviewed as new.
   * @default - no change set: the head's templates against what is deployed
   */
  readonly changeSet?: string;
}

const STACK_ARTIFACT = 'aws:cloudformation:stack';
const NESTED_ASSEMBLY_ARTIFACT = 'cdk:cloud-assembly';

/**
 * Writes to `out` a cloud assembly holding what is deployed now for every stack of the `head` assembly: the head's
 * manifest with each stack's template replaced by CloudFormation's copy (`GetTemplate`, the original template), nested
 * stacks found through the deployed parent. Each stack is read in its own account and region with the stack's CDK
 * bootstrap lookup role (`lookupRole` in the manifest; read-only), or the caller's credentials when the stack has none.
 *
 * Fails closed: the only answer taken as "nothing deployed" is CloudFormation saying the stack does not exist; a role
 * that cannot be assumed, a denied or failed call, or an unreadable template throws `ReviewInputError`.
 */
export function fetchDeployedBase(head: string, out: string, options: DeployedBaseOptions = {}): DeployedBase {
  const result: DeployedBase = { read: [], notDeployed: [], unchanged: [], planned: [] };
  const session = new Sessions(options.aws ?? AWS_CLI);
  copyAssembly(path.resolve(head), path.resolve(out), session, result, options.nestedAssemblies ?? true, options.changeSet);
  return result;
}

function copyAssembly(headDir: string, outDir: string, session: Sessions, result: DeployedBase, nestedAssemblies: boolean, changeSet?: string): void {
  const manifestFile = path.join(headDir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new ReviewInputError(`${headDir}: not a cloud assembly (no manifest.json); pass the output of 'cdk synth -o <dir>'.`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  fs.mkdirSync(outDir, { recursive: true });
  const artifacts: Record<string, any> = {};
  for (const [artifactId, artifact] of Object.entries<any>(manifest.artifacts ?? {})) {
    if (artifact.type === NESTED_ASSEMBLY_ARTIFACT) {
      if (!nestedAssemblies) continue;
      const dirName = artifact.properties?.directoryName ?? artifactId;
      if (fs.existsSync(path.join(headDir, dirName, 'manifest.json'))) copyAssembly(path.join(headDir, dirName), path.join(outDir, dirName), session, result, true, changeSet);
      artifacts[artifactId] = artifact;
    } else if (artifact.type === STACK_ARTIFACT) {
      const name: string = artifact.properties?.stackName ?? artifactId;
      const display: string = artifact.displayName ?? artifactId;
      const target = stackTarget(artifact, display);
      const credentials = session.credentialsFor(target.roleArn, display);
      const templateFile: string = artifact.properties?.templateFile ?? `${artifactId}.template.json`;
      const prepared = changeSet === undefined ? undefined
        : checkChangeSet(session.aws, name, changeSet, target.region, credentials, display, path.join(headDir, templateFile), result.planned);
      if (prepared === 'unchanged') result.unchanged.push(display);
      const template = prepared === 'new' ? undefined : getTemplate(session.aws, name, target.region, credentials, display);
      if (template === undefined) {
        result.notDeployed.push(display);
        continue;
      }
      writeNested(template, name, templateFile, outDir, target.region, credentials, session.aws, display, result);
      fs.writeFileSync(path.join(outDir, templateFile), JSON.stringify(template, undefined, 1));
      if (artifact.additionalMetadataFile && fs.existsSync(path.join(headDir, artifact.additionalMetadataFile))) {
        fs.copyFileSync(path.join(headDir, artifact.additionalMetadataFile), path.join(outDir, artifact.additionalMetadataFile));
      }
      result.read.push(display);
      artifacts[artifactId] = artifact;
    }
  }
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify({ ...manifest, artifacts }, undefined, 1));
}

/**
 * Reads the deployed template of every nested stack of `template` (found by its logical id in the deployed parent),
 * writes it next to the parent and points the parent's resource at it (`aws:asset:path`, as the CDK CLI does).
 */
function writeNested(template: CfnTemplate, parent: string, parentFile: string, outDir: string, region: string, credentials: Credentials,
  aws: AwsCli, display: string, result: DeployedBase): void {
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource?.Type !== 'AWS::CloudFormation::Stack') continue;
    const where = `${display}/${logicalId}`;
    const described = call(aws, ['cloudformation', 'describe-stack-resource', '--stack-name', parent, '--logical-resource-id', logicalId,
      '--region', region, '--output', 'json'], credentials, where);
    const physicalId: unknown = described?.StackResourceDetail?.PhysicalResourceId;
    if (typeof physicalId !== 'string' || physicalId === '') {
      throw new ReviewInputError(`${where}: CloudFormation returned no physical id for the nested stack; cannot review against what is deployed.`);
    }
    const nested = getTemplate(aws, physicalId, region, credentials, where);
    if (nested === undefined) throw new ReviewInputError(`${where}: the nested stack ${physicalId} the deployed parent names does not exist.`);
    const file = `${parentFile.replace(/\.template\.json$/, '')}.${logicalId}.nested.template.json`;
    writeNested(nested, physicalId, file, outDir, region, credentials, aws, where, result);
    fs.writeFileSync(path.join(outDir, file), JSON.stringify(nested, undefined, 1));
    (resource as { Metadata?: Record<string, unknown> }).Metadata = { ...resource.Metadata, 'aws:asset:path': file };
    result.read.push(where);
  }
}

/** CloudFormation's reason on a change set it could not create because the template changes nothing. */
const NO_CHANGES = /didn't contain changes|No updates are to be performed/;

/**
 * Checks that `stack` has the change set `name`, ready to execute, whose template is the head's (`headTemplateFile`):
 * the change the review is of is the one that executes. Returns 'new' when the change set creates the stack
 * (REVIEW_IN_PROGRESS: nothing deployed), 'unchanged' when CloudFormation found no change, else 'update'. The resource
 * changes CloudFormation plans are added to `planned`.
 */
function checkChangeSet(aws: AwsCli, stack: string, name: string, region: string, credentials: Credentials, display: string,
  headTemplateFile: string, planned: PlannedChange[]): 'new' | 'update' | 'unchanged' {
  const where = `${display}: change set ${name} of ${stack}`;
  const status = describeStackStatus(aws, stack, region, credentials, display);
  if (status === undefined) {
    throw new ReviewInputError(`${where}: the stack does not exist, so no change set was prepared; run the review after the pipeline's Prepare action.`);
  }
  const describe = (token?: string) => call(aws, ['cloudformation', 'describe-change-set', '--stack-name', stack, '--change-set-name', name,
    '--region', region, '--output', 'json', ...token ? ['--next-token', token] : []], credentials, display);
  const described = describe();
  const changes: any[] = [...described?.Changes ?? []];
  for (let page = described; typeof page?.NextToken === 'string';) {
    page = describe(page.NextToken);
    changes.push(...page?.Changes ?? []);
  }
  if (described?.Status === 'FAILED' && NO_CHANGES.test(String(described.StatusReason ?? ''))) return 'unchanged';
  if (described?.Status !== 'CREATE_COMPLETE' || described?.ExecutionStatus !== 'AVAILABLE') {
    throw new ReviewInputError(`${where} is ${described?.Status}/${described?.ExecutionStatus} (${described?.StatusReason ?? 'no reason given'}), `
      + 'not ready to execute (CREATE_COMPLETE/AVAILABLE); nothing to review.');
  }
  const r = aws(['cloudformation', 'get-template', '--stack-name', stack, '--change-set-name', name, '--template-stage', 'Original',
    '--region', region, '--output', 'json'], credentials);
  const body = parseOutput(r, ['cloudformation', 'get-template'], display)?.TemplateBody;
  const prepared = typeof body === 'string' ? parseTemplate(body, stack, display) : body;
  const head = JSON.parse(fs.readFileSync(headTemplateFile, 'utf8'));
  if (!isDeepStrictEqual(prepared, head)) {
    throw new ReviewInputError(`${where} is not the synthesized template under review (${path.basename(headTemplateFile)}): it was prepared `
      + 'from another version, so this review is not of the change that would execute.');
  }
  for (const change of changes) {
    const rc = change?.ResourceChange;
    if (change?.Type !== 'Resource' || typeof rc?.LogicalResourceId !== 'string') continue;
    planned.push({ stack: display, logicalId: rc.LogicalResourceId, type: String(rc.ResourceType ?? ''), action: String(rc.Action ?? ''), replacement: rc.Replacement });
  }
  return status === 'REVIEW_IN_PROGRESS' ? 'new' : 'update';
}

/** The stack's status, or undefined when CloudFormation says it does not exist. */
function describeStackStatus(aws: AwsCli, stack: string, region: string, credentials: Credentials, display: string): string | undefined {
  const args = ['cloudformation', 'describe-stacks', '--stack-name', stack, '--region', region, '--output', 'json'];
  const r = aws(args, credentials);
  if (r.status !== 0 && /ValidationError[\s\S]*does not exist/.test(r.stderr)) return undefined;
  const status = parseOutput(r, args, display)?.Stacks?.[0]?.StackStatus;
  if (typeof status !== 'string') throw new ReviewInputError(`${display}: CloudFormation returned no status for ${stack}.`);
  return status;
}

function stackTarget(artifact: any, display: string): { region: string; roleArn?: string } {
  const match = /^aws:\/\/([^/]+)\/([^/]+)$/.exec(String(artifact.environment ?? ''));
  const region = match?.[2];
  if (!region || region.startsWith('unknown-')) {
    throw new ReviewInputError(`${display}: the stack has no region (environment '${artifact.environment}'); give its Stage an env to review it against what is deployed.`);
  }
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  const arn = artifact.properties?.lookupRole?.arn;
  return { region, roleArn: typeof arn === 'string' ? arn.replace(/\$\{AWS::Partition\}/g, partition) : undefined };
}

/** Temporary credentials of an assumed role as environment variables (empty: the caller's own). */
type Credentials = Readonly<Record<string, string>>;

class Sessions {
  private readonly cache = new Map<string, Credentials>();

  constructor(public readonly aws: AwsCli) {}

  public credentialsFor(roleArn: string | undefined, display: string): Credentials {
    if (!roleArn) return {};
    const cached = this.cache.get(roleArn);
    if (cached) return cached;
    const r = call(this.aws, ['sts', 'assume-role', '--role-arn', roleArn, '--role-session-name', 'mlops-review', '--output', 'json'], {}, display);
    const c = r?.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
      throw new ReviewInputError(`${display}: assuming ${roleArn} returned no credentials; cannot review against what is deployed.`);
    }
    const credentials = { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.SessionToken };
    this.cache.set(roleArn, credentials);
    return credentials;
  }
}

/** The deployed (original) template, or undefined when CloudFormation says the stack does not exist. */
function getTemplate(aws: AwsCli, stack: string, region: string, credentials: Credentials, display: string): CfnTemplate | undefined {
  const args = ['cloudformation', 'get-template', '--stack-name', stack, '--template-stage', 'Original', '--region', region, '--output', 'json'];
  const r = aws(args, credentials);
  if (r.status !== 0 && /ValidationError[\s\S]*does not exist/.test(r.stderr)) return undefined;
  const body = parseOutput(r, args, display)?.TemplateBody;
  if (body && typeof body === 'object') return body as CfnTemplate;
  if (typeof body === 'string') return parseTemplate(body, stack, display);
  throw new ReviewInputError(`${display}: CloudFormation returned no template for ${stack}; cannot review against what is deployed.`);
}

function parseTemplate(body: string, stack: string, display: string): CfnTemplate {
  try {
    return parseYaml(body) as CfnTemplate;
  } catch (e) {
    throw new ReviewInputError(`${display}: the template of ${stack} is not JSON or YAML (${(e as Error).message}).`);
  }
}

function call(aws: AwsCli, args: string[], credentials: Credentials, display: string): any {
  return parseOutput(aws(args, credentials), args, display);
}

function parseOutput(r: { status: number; stdout: string; stderr: string }, args: readonly string[], display: string): any {
  if (r.status !== 0) {
    throw new ReviewInputError(`${display}: 'aws ${args.slice(0, 2).join(' ')}' failed (exit ${r.status}: ${r.stderr.trim().split('\n').pop()}); `
      + 'the review fails closed when it cannot read what is deployed (check that the CDK bootstrap lookup role trusts this account).');
  }
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new ReviewInputError(`${display}: 'aws ${args.slice(0, 2).join(' ')}' printed no JSON.`);
  }
}
