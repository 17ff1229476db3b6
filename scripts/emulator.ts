// A local AWS emulator (moto's server) driven with the real cdk and aws CLIs: start and stop the server, bootstrap,
// synthesize, adapt templates to what moto's CloudFormation can run, deploy, verify what was created.
// Used by scripts/deploy-local.ts (`npm run deploy:local`) and test/integ. docs/emulator.md explains every adaptation.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..');
/** moto's default account, the one the emulator's resources live in. */
export const EMULATOR_ACCOUNT = '123456789012';
export const EMULATOR_REGION = 'us-east-1';
/** What a reference to a resource the emulator does not create resolves to there (ARN-shaped, so IAM accepts it). */
export const SKIPPED_MARKER = 'arn:aws:emulator:::skipped-on-emulator';
const CONDITION = 'NotOnEmulator';

/**
 * Resource types moto 5.x's CloudFormation creates (its model map, restricted to what CDK apps commonly use).
 * Everything else in a template is skipped by moto: it creates nothing and resolves references to it to nothing.
 */
export const EMULATOR_CREATED_TYPES: ReadonlySet<string> = new Set([
  'AWS::AutoScaling::AutoScalingGroup', 'AWS::AutoScaling::LaunchConfiguration', 'AWS::AutoScaling::ScheduledAction',
  'AWS::Batch::ComputeEnvironment', 'AWS::Batch::JobDefinition', 'AWS::Batch::JobQueue', 'AWS::CloudFormation::Stack',
  'AWS::CloudWatch::Dashboard', 'AWS::DynamoDB::Table', 'AWS::EC2::EIP', 'AWS::EC2::FlowLog', 'AWS::EC2::Instance',
  'AWS::EC2::InternetGateway', 'AWS::EC2::LaunchTemplate', 'AWS::EC2::NatGateway', 'AWS::EC2::NetworkInterface',
  'AWS::EC2::Route', 'AWS::EC2::RouteTable', 'AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::Subnet', 'AWS::EC2::SubnetRouteTableAssociation', 'AWS::EC2::VPC', 'AWS::EC2::VPCEndpoint',
  'AWS::EC2::VPCGatewayAttachment', 'AWS::EC2::Volume', 'AWS::ECR::Repository', 'AWS::ECS::Cluster', 'AWS::ECS::Service',
  'AWS::ECS::TaskDefinition', 'AWS::EFS::FileSystem', 'AWS::EFS::MountTarget', 'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::ElasticLoadBalancingV2::ListenerRule', 'AWS::ElasticLoadBalancingV2::LoadBalancer',
  'AWS::ElasticLoadBalancingV2::TargetGroup', 'AWS::Events::EventBus', 'AWS::Events::Rule', 'AWS::IAM::InstanceProfile',
  'AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::IAM::User', 'AWS::KMS::Alias', 'AWS::KMS::Key',
  'AWS::Kinesis::Stream', 'AWS::Lambda::Function', 'AWS::Lambda::Permission', 'AWS::Lambda::Version', 'AWS::Logs::LogGroup',
  'AWS::Logs::ResourcePolicy', 'AWS::RDS::DBInstance', 'AWS::RDS::DBParameterGroup', 'AWS::RDS::DBSubnetGroup',
  'AWS::Route53::HostedZone', 'AWS::Route53::RecordSet', 'AWS::S3::Bucket', 'AWS::SNS::Topic', 'AWS::SQS::Queue',
  'AWS::SSM::Parameter', 'AWS::SageMaker::Endpoint', 'AWS::SageMaker::EndpointConfig', 'AWS::SageMaker::Model',
  'AWS::StepFunctions::StateMachine',
]);

/** Types moto creates but whose attributes (Fn::GetAtt) it cannot resolve. */
const NO_ATTRIBUTE_TYPES = new Set(['AWS::CloudFormation::Stack', 'AWS::ElasticLoadBalancingV2::TargetGroup']);
/** Attributes that equal the resource's Ref by CloudFormation's documentation, which moto resolves. */
const ATTRIBUTE_IS_REF = new Set(['AWS::Batch::ComputeEnvironment.ComputeEnvironmentArn', 'AWS::Batch::JobQueue.JobQueueArn']);
/**
 * Types moto creates but cannot update: a modified resource of these types keeps its old properties on the emulator
 * and drops out of the stack's resource list (moto 5.x has no update handler for them).
 */
export const EMULATOR_NOT_UPDATED_TYPES: ReadonlySet<string> = new Set([
  'AWS::AutoScaling::ScheduledAction', 'AWS::Batch::ComputeEnvironment', 'AWS::Batch::JobDefinition', 'AWS::Batch::JobQueue',
  'AWS::EC2::EIP', 'AWS::EC2::FlowLog', 'AWS::EC2::InternetGateway', 'AWS::EC2::NatGateway', 'AWS::EC2::Route', 'AWS::EC2::RouteTable',
  'AWS::EC2::SecurityGroupIngress', 'AWS::EC2::Subnet', 'AWS::EC2::SubnetRouteTableAssociation', 'AWS::EC2::VPC', 'AWS::EC2::VPCEndpoint',
  'AWS::EC2::VPCGatewayAttachment', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::ElasticLoadBalancingV2::TargetGroup',
  'AWS::IAM::InstanceProfile', 'AWS::IAM::ManagedPolicy', 'AWS::KMS::Key', 'AWS::Logs::LogGroup', 'AWS::RDS::DBInstance',
  'AWS::RDS::DBSubnetGroup',
]);

/** Stateful resource types: their physical ids must survive an update. */
export const STATEFUL_TYPES = new Set([
  'AWS::S3::Bucket', 'AWS::KMS::Key', 'AWS::ECR::Repository', 'AWS::Logs::LogGroup', 'AWS::RDS::DBCluster', 'AWS::RDS::DBInstance',
  'AWS::SecretsManager::Secret', 'AWS::EC2::VPC', 'AWS::DynamoDB::Table', 'AWS::EFS::FileSystem',
]);

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * `--parameters <stack>:<name>=<default>` for every parameter with a default of the selected stacks (a serving shard's
 * served-state parameters, for instance): on update, cdk asks CloudFormation to reuse previous values, which moto
 * cannot do for these (it fails with a server error), so each is passed again with its default.
 */
export function defaultParameterArgs(assemblyDir: string, selectors: string[]): string[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(assemblyDir, 'manifest.json'), 'utf8'));
  const patterns = selectors.map((sel) => new RegExp(`^${sel.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
  const args: string[] = [];
  for (const artifact of Object.values(manifest.artifacts ?? {}) as Json[]) {
    if (artifact.type !== 'aws:cloudformation:stack' || !patterns.some((p) => p.test(artifact.displayName ?? ''))) continue;
    const template = JSON.parse(fs.readFileSync(path.join(assemblyDir, artifact.properties.templateFile), 'utf8'));
    const stackName = artifact.properties.stackName;
    for (const [name, parameter] of Object.entries(template.Parameters ?? {}) as Array<[string, Json]>) {
      if (name === 'BootstrapVersion' || parameter.Default === undefined) continue;
      args.push('--parameters', `${stackName}:${name}=${parameter.Default}`);
    }
  }
  return args;
}

/** One change the adapter made to a template, for the report. */
export interface Adaptation {
  readonly template: string;
  readonly logicalId: string;
  readonly change: string;
}

function referencedIds(value: Json): string[] {
  const out: string[] = [];
  const walk = (v: Json): void => {
    if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) {
        if (k === 'Ref' && typeof inner === 'string') {out.push(inner);} else if (k === 'Fn::GetAtt') {out.push(Array.isArray(inner) ? inner[0] : String(inner).split('.')[0]);} else if (k === 'Fn::Sub') {
          const [text, vars] = Array.isArray(inner) ? inner : [inner, undefined];
          for (const m of String(text).matchAll(/\$\{([^!}][^}.]*)/g)) out.push(m[1]);
          if (vars) walk(vars);
        } else {walk(inner);}
      }
    }
  };
  walk(value);
  return out;
}

/**
 * Rewrites one template for moto, in place; returns what changed. On AWS the adapted template behaves like the
 * original (every marker sits behind a condition that is true outside the emulator's account), and nothing of the
 * template that moto can create is removed.
 */
export function adaptTemplate(name: string, template: Json): Adaptation[] {
  const resources: Record<string, Json> = template.Resources ?? {};
  const changes: Adaptation[] = [];
  const note = (logicalId: string, change: string) => changes.push({ template: name, logicalId, change });
  const typeOf = (id: string): string | undefined => resources[id]?.Type;
  const skipped = new Set(Object.keys(resources).filter((id) => !EMULATOR_CREATED_TYPES.has(resources[id].Type)));

  for (const [id, res] of Object.entries(resources)) {
    const props = res.Properties ?? {};
    if (res.Type === 'AWS::KMS::Key' && props.Tags) {
      delete props.Tags;
      note(id, 'Tags left off (moto fails on tagged keys and then reports an empty stack as complete)');
    } else if (res.Type === 'AWS::SSM::Parameter' && props.Tags && !Array.isArray(props.Tags)) {
      // CloudFormation's schema makes them a map; moto's handler reads a list of {Key, Value} and fails on a map.
      props.Tags = Object.entries(props.Tags).map(([Key, Value]) => ({ Key, Value }));
      note(id, 'Tags given as a list of {Key, Value} (moto fails on the map CloudFormation takes)');
    } else if (res.Type.startsWith('Custom::') || (res.Type === 'AWS::RDS::DBInstance' && props.DBClusterIdentifier)) {
      res.Condition = CONDITION;
      skipped.add(id);
      note(id, res.Type.startsWith('Custom::')
        ? 'not created on the emulator (moto runs custom resource Lambdas only in Docker and would wait forever)'
        : 'not created on the emulator (its Aurora cluster is a type moto skips; moto fails on the instance)');
    } else if (res.Type === 'AWS::SageMaker::EndpointConfig' && Array.isArray(props.ProductionVariants)) {
      // An endpoint that scales to zero hosts its model as an inference component and names no model on its variant;
      // moto requires a model on every variant and creates no inference components.
      for (const variant of props.ProductionVariants) {
        if (variant.ModelName !== undefined) continue;
        const component = Object.values(resources).find((r: Json) => r.Type === 'AWS::SageMaker::InferenceComponent'
          && r.Properties?.VariantName === variant.VariantName);
        const model = component?.Properties?.Specification?.ModelName;
        if (model === undefined) continue;
        variant.ModelName = { 'Fn::If': [CONDITION, { Ref: 'AWS::NoValue' }, model] };
        note(id, `variant ${variant.VariantName} names its inference component's model on the emulator (moto requires a model on every variant and creates no inference components)`);
      }
    } else if (res.Type === 'AWS::Batch::ComputeEnvironment') {
      if (typeof props.Type === 'string' && props.Type !== props.Type.toUpperCase()) {
        props.Type = props.Type.toUpperCase();
        note(id, `Type ${props.Type} in upper case (moto is case-sensitive, CloudFormation is not)`);
      }
      if (props.ServiceRole === undefined) {
        props.ServiceRole = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch' };
        note(id, 'ServiceRole set to the Batch service-linked role AWS uses when none is given (moto requires one)');
      }
    }
  }

  const rewrite = (value: Json, where: string): Json => {
    if (Array.isArray(value)) return value.map((v) => rewrite(v, where));
    if (!value || typeof value !== 'object') return value;
    const getAtt = value['Fn::GetAtt'];
    if (getAtt !== undefined) {
      const [target, attribute] = Array.isArray(getAtt) ? getAtt : String(getAtt).split(/\.(.*)/s);
      if (ATTRIBUTE_IS_REF.has(`${typeOf(target)}.${attribute}`)) {
        note(where, `${target}.${attribute} read as Ref ${target} (same value; moto has no attributes for this type)`);
        return { Ref: target };
      }
      if (NO_ATTRIBUTE_TYPES.has(typeOf(target) ?? '') || skipped.has(target)) {
        note(where, `${target}.${attribute} is the marker on the emulator`);
        return { 'Fn::If': [CONDITION, value, SKIPPED_MARKER] };
      }
    }
    if (('Ref' in value || 'Fn::Sub' in value) && referencedIds(value).some((id) => skipped.has(id))) {
      note(where, `reference to ${referencedIds(value).filter((id) => skipped.has(id)).join(', ')} is the marker on the emulator`);
      return { 'Fn::If': [CONDITION, value, SKIPPED_MARKER] };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v, where)]));
  };
  for (const [id, res] of Object.entries(resources)) {
    if (skipped.has(id) || !res.Properties) continue;
    res.Properties = rewrite(res.Properties, id);
  }
  for (const [id, output] of Object.entries<Json>(template.Outputs ?? {})) output.Value = rewrite(output.Value, `Output ${id}`);

  if (changes.length > 0) {
    template.Conditions = {
      ...template.Conditions,
      [CONDITION]: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AWS::AccountId' }, EMULATOR_ACCOUNT] }] },
    };
  }
  return changes;
}

/** Adapts every template of the given stacks (and their nested stacks) in a cloud assembly directory. */
export function adaptAssembly(assemblyDir: string, stackNamePrefix: string): Adaptation[] {
  const changes: Adaptation[] = [];
  for (const file of templateFiles(assemblyDir, stackNamePrefix)) {
    const full = path.join(assemblyDir, file);
    const template = JSON.parse(fs.readFileSync(full, 'utf8'));
    const made = adaptTemplate(file, template);
    if (made.length > 0) fs.writeFileSync(full, JSON.stringify(template, undefined, 1));
    changes.push(...made);
  }
  return changes;
}

/** Template files of the stacks whose artifact id starts with `prefix` (e.g. `mlopsdev`), nested ones included. */
export function templateFiles(assemblyDir: string, prefix: string): string[] {
  return fs.readdirSync(assemblyDir).filter((f) => f.startsWith(prefix) && f.endsWith('.template.json')).sort();
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Throws a clear error when moto's server is not installed. */
export function requireMotoServer(): void {
  const probe = spawnSync('moto_server', ['--help'], { encoding: 'utf8', timeout: 60_000 });
  if (probe.error || probe.status !== 0) {
    throw new Error('moto_server (the local AWS emulator) is not installed or does not start. Install it with: pip install "moto[server]"'
      + `${probe.error ? ` (${probe.error.message})` : ` (exit ${probe.status}: ${probe.stderr?.slice(0, 300)})`}`);
  }
}

export interface CommandResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running moto server and the CLIs pointed at it. */
export class Emulator {
  /** Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers (up to 60 s). */
  public static async start(options: { workDir?: string; log?: (line: string) => void } = {}): Promise<Emulator> {
    requireMotoServer();
    const port = await freePort();
    const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-emulator-'));
    const logFile = path.join(workDir, 'moto.log');
    const out = fs.openSync(logFile, 'a');
    const proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', out, out], detached: true });
    fs.closeSync(out);
    const emulator = new Emulator(proc, port, workDir, logFile, options.log ?? (() => undefined));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(`${emulator.endpoint}/moto-api/`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (proc.exitCode !== null || Date.now() > deadline) {
        emulator.stop();
        throw new Error(`moto_server did not start on port ${port}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return emulator;
  }

  public readonly endpoint: string;

  private constructor(
    private readonly proc: ChildProcess,
    public readonly port: number,
    public readonly workDir: string,
    public readonly logFile: string,
    private readonly log: (line: string) => void,
  ) {
    this.endpoint = `http://127.0.0.1:${port}`;
  }

  /** Environment for the cdk and aws CLIs: the emulator's endpoint, dummy credentials, its account and region. */
  public get env(): NodeJS.ProcessEnv {
    const { AWS_PROFILE: _profile, AWS_DEFAULT_PROFILE: _default, ...inherited } = process.env;
    return {
      ...inherited,
      AWS_ENDPOINT_URL: this.endpoint,
      // cdk builds the template URL CloudFormation reads from this endpoint; moto parses the bucket out of the path
      // only for a host named localhost (the server itself still listens on 127.0.0.1).
      AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: `http://localhost:${this.port}`,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_SESSION_TOKEN: 'testing',
      AWS_REGION: EMULATOR_REGION,
      AWS_DEFAULT_REGION: EMULATOR_REGION,
      CDK_DEFAULT_ACCOUNT: EMULATOR_ACCOUNT,
      CDK_DEFAULT_REGION: EMULATOR_REGION,
      AWS_CONFIG_FILE: path.join(this.workDir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(this.workDir, 'no-aws-credentials'),
      NODE_NO_WARNINGS: '1',
    };
  }

  /** Stops the server (its process group). Safe to call twice. */
  public stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid) {
      try {
        process.kill(-this.proc.pid, 'SIGTERM');
      } catch {
        this.proc.kill('SIGTERM');
      }
    }
  }

  /** Runs a command against the emulator; throws with its output when it fails, unless `allowFailure`. */
  public run(command: string, args: string[], options: { allowFailure?: boolean; timeoutMs?: number; cwd?: string } = {}): CommandResult {
    this.log(`$ ${command} ${args.join(' ')}`);
    const res = spawnSync(command, args, {
      cwd: options.cwd ?? this.workDir, env: this.env, encoding: 'utf8', timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024,
    });
    const result = { status: res.status ?? -1, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
    if (!options.allowFailure && (res.error || result.status !== 0)) {
      throw new Error(`${command} ${args.join(' ')} failed (${res.error?.message ?? `exit ${result.status}`}):\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-5000)}`);
    }
    return result;
  }

  /** The cdk CLI of this repository, run in the emulator's work directory (its own cdk.json and cdk.context.json). */
  public cdk(args: string[], options: { allowFailure?: boolean } = {}): CommandResult {
    this.writeCdkJson();
    return this.run(path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'), [...args, '--no-notices', '--no-version-reporting'], options);
  }

  /** `aws <args> --output json` against the emulator, parsed. */
  public aws(args: string[]): Json {
    const out = this.run('aws', ['--endpoint-url', this.endpoint, '--region', EMULATOR_REGION, ...args, '--output', 'json']).stdout.trim();
    return out ? JSON.parse(out) : {};
  }

  /** What the emulator needs before a CDK deploy: the Batch service-linked role, then `cdk bootstrap`. */
  public bootstrap(): void {
    this.aws(['iam', 'create-role', '--path', '/aws-service-role/batch.amazonaws.com/', '--role-name', 'AWSServiceRoleForBatch',
      '--assume-role-policy-document', JSON.stringify({
        Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'batch.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      })]);
    // From a directory without a cdk.json: with the app in reach, `cdk bootstrap` synthesizes it (twice, the second
    // time after looking up availability zones) before it deploys the toolkit stack, which it does not need with the
    // environment named here.
    const dir = path.join(this.workDir, 'bootstrap');
    fs.mkdirSync(dir, { recursive: true });
    this.run(path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk'), ['bootstrap', `aws://${EMULATOR_ACCOUNT}/${EMULATOR_REGION}`, '--no-notices', '--no-version-reporting'], { cwd: dir });
  }

  /** `cdk synth` of the local app into `outdir`, then the template adaptations for the stacks under `stackPrefix`. */
  public synth(outdir: string, stackPrefix: string, context: Record<string, string> = {}): Adaptation[] {
    const ctx = Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
    this.cdk(['synth', '--quiet', '-o', outdir, ...ctx]);
    return adaptAssembly(outdir, stackPrefix);
  }

  /**
   * `cdk deploy` of a synthesized assembly with CreateStack/UpdateStack (`--method=direct`: moto's change sets
   * publish no outputs or exports). The bootstrap version parameter is passed explicitly because moto cannot reuse
   * a parameter's previous value on update.
   */
  public deploy(assemblyDir: string, selectors: string[], outputsFile?: string): CommandResult {
    return this.cdk(['deploy', '--app', assemblyDir, ...selectors, '--method=direct', '--require-approval', 'never',
      '--parameters', 'BootstrapVersion=/cdk-bootstrap/hnb659fds/version', ...defaultParameterArgs(assemblyDir, selectors), '--progress', 'events',
      ...(outputsFile ? ['--outputs-file', outputsFile] : [])]);
  }

  /** The resources of a stack and, recursively, of its nested stacks, as moto lists them. */
  public stackResources(stackName: string): StackResource[] {
    const summaries: Json[] = this.aws(['cloudformation', 'list-stack-resources', '--stack-name', stackName]).StackResourceSummaries ?? [];
    const out: StackResource[] = [];
    for (const s of summaries) {
      if (!s.LogicalResourceId) continue; // moto lists resources it skipped as empty rows
      out.push({ stack: stackName, logicalId: s.LogicalResourceId, type: s.ResourceType, physicalId: s.PhysicalResourceId ?? '' });
      if (s.ResourceType === 'AWS::CloudFormation::Stack' && s.PhysicalResourceId) out.push(...this.stackResources(s.PhysicalResourceId));
    }
    return out;
  }

  /**
   * moto ignores a bucket's VersioningConfiguration; this applies the one each deployed template declares, through the
   * S3 API, so the buckets keep versions as they do on AWS. Returns the buckets it applied it to.
   */
  public applySkippedBucketSettings(assemblyDir: string, stackPrefix: string, resources: StackResource[]): string[] {
    const applied: string[] = [];
    for (const file of templateFiles(assemblyDir, stackPrefix)) {
      const template = JSON.parse(fs.readFileSync(path.join(assemblyDir, file), 'utf8'));
      for (const [id, res] of Object.entries<Json>(template.Resources ?? {})) {
        const status = res.Type === 'AWS::S3::Bucket' ? res.Properties?.VersioningConfiguration?.Status : undefined;
        if (typeof status !== 'string') continue;
        for (const deployed of resources.filter((r) => r.logicalId === id && r.type === 'AWS::S3::Bucket')) {
          this.aws(['s3api', 'put-bucket-versioning', '--bucket', deployed.physicalId, '--versioning-configuration', `Status=${status}`]);
          applied.push(deployed.physicalId);
        }
      }
    }
    return applied;
  }

  private writeCdkJson(): void {
    const file = path.join(this.workDir, 'cdk.json');
    if (fs.existsSync(file)) return;
    const repo = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    fs.writeFileSync(file, JSON.stringify({
      app: `${tsx} --tsconfig ${path.join(REPO_ROOT, 'tsconfig.dev.json')} ${path.join(REPO_ROOT, 'scripts', 'local-app.ts')}`,
      context: repo.context,
      notices: false,
      versionReporting: false,
    }, undefined, 2));
  }
}

export interface StackResource {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
}

/** What moto created and skipped of the given templates, by resource type. */
export interface DeployReport {
  readonly created: Record<string, number>;
  readonly skipped: Record<string, number>;
  /** Resources of types moto creates that are nevertheless missing (a silent failure of the emulator). */
  readonly missing: string[];
}

/** Compares the adapted templates with what the emulator lists. */
export function deployReport(assemblyDir: string, stackPrefix: string, resources: StackResource[]): DeployReport {
  const created: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  const missing: string[] = [];
  const listed = new Set(resources.map((r) => `${r.logicalId}|${r.type}`));
  for (const file of templateFiles(assemblyDir, stackPrefix)) {
    const template = JSON.parse(fs.readFileSync(path.join(assemblyDir, file), 'utf8'));
    for (const [id, res] of Object.entries<Json>(template.Resources ?? {})) {
      const type: string = res.Type;
      if (!EMULATOR_CREATED_TYPES.has(type) || res.Condition === CONDITION) {
        skipped[type] = (skipped[type] ?? 0) + 1;
      } else if (listed.has(`${id}|${type}`)) {
        created[type] = (created[type] ?? 0) + 1;
      } else {
        missing.push(`${file}: ${id} (${type})`);
      }
    }
  }
  return { created, skipped, missing };
}

/** Runs `fn` with a started emulator and always stops it. */
export async function withEmulator<T>(fn: (emulator: Emulator) => Promise<T> | T, options: { log?: (line: string) => void } = {}): Promise<T> {
  const emulator = await Emulator.start(options);
  try {
    return await fn(emulator);
  } finally {
    emulator.stop();
  }
}
