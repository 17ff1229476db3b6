import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

/** A CloudFormation template as JSON. */
export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly Metadata?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

/** One resource of a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Metadata?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

/** A stack (or nested stack) of a cloud assembly, as the review compares it. */
export interface StackTemplate {
  /**
   * What the report calls the stack: its display path (`mlops-dev/Data`, `Prod/Api`), or for a nested stack the
   * construct path of the nested stack (`mlops-dev/Training`).
   */
  readonly id: string;
  /**
   * Deployed identity, what pairs base and head as CloudFormation does: `<account>/<region>/<stack name>` (an
   * environment-agnostic stack is `unknown-account/unknown-region/<stack name>`), for a nested stack its parent's
   * identity and the logical id of its `AWS::CloudFormation::Stack` resource. Construct ids and paths are not part of it.
   */
  readonly identity: string;
  /** CloudFormation stack name (for nested stacks, the id). */
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** Construct path of each resource by logical id, where the assembly records it. */
  readonly paths: Readonly<Record<string, string>>;
  /** Stack tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** Whether the stack is marked `mlops:disposable=true` (tag or template metadata; nested stacks inherit). */
  readonly disposable: boolean;
  /** The id of the parent stack, for nested stacks. */
  readonly parentId?: string;
  /** Logical id of the `AWS::CloudFormation::Stack` resource in the parent, for nested stacks. */
  readonly nestedLogicalId?: string;
  /** Rules acknowledged on constructs of the stack (`Validations.of(scope).acknowledge()`), from the assembly metadata. */
  readonly acknowledgements?: readonly ComplianceFinding[];
}

/** A Kubernetes manifest file found in the app's output. */
export interface KubernetesManifest {
  /** Path relative to the assembly directory. */
  readonly file: string;
  readonly objects: readonly KubernetesObject[];
}

/** A Kubernetes object as read from YAML. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name?: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: any;
}

/** One cdk-nag (or other policy plugin) finding from an assembly's validation report. */
export interface ComplianceFinding {
  readonly plugin: string;
  readonly rule: string;
  /** Construct path or logical id of the resource it concerns. */
  readonly resource: string;
  readonly description: string;
  /** For an acknowledged (suppressed) finding: the reason given with `Validations.of(scope).acknowledge()`. */
  readonly acknowledgedReason?: string;
}

/** Everything the review reads from one synthesized version of the app. */
export interface LoadedAssembly {
  readonly directory: string;
  readonly stacks: readonly StackTemplate[];
  readonly manifests: readonly KubernetesManifest[];
  readonly findings: readonly ComplianceFinding[];
  /** Findings the app acknowledges (the report's `suppressedViolations`). */
  readonly acknowledged?: readonly ComplianceFinding[];
}

/** Bad input from the user (missing directory, not an assembly, unknown ref): the CLI prints it and exits with 2. */
export class ReviewInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReviewInputError';
  }
}

/** The tag (or template metadata key) that marks a stack whose data may be destroyed. */
export const DISPOSABLE_MARKER = 'mlops:disposable';

const STACK_ARTIFACT = 'aws:cloudformation:stack';
const NESTED_ASSEMBLY_ARTIFACT = 'cdk:cloud-assembly';
const VALIDATION_REPORTS = ['policy-validation-report.json', 'validation-report.json'];

/** How much of an assembly `loadAssembly` reads. */
export interface LoadAssemblyOptions {
  /**
   * Read the stacks of nested cloud assemblies (CDK Stages) too.
   * @default true
   */
  readonly nestedAssemblies?: boolean;
}

/**
 * Reads a cloud assembly directory (`cdk synth -o dir`): every stack of every nested assembly, every nested stack
 * template referenced by an `AWS::CloudFormation::Stack`, Kubernetes YAML manifests anywhere below the directory,
 * and cdk-nag findings from the validation reports. Throws `ReviewInputError` when the directory is not an assembly.
 */
export function loadAssembly(directory: string, options: LoadAssemblyOptions = {}): LoadedAssembly {
  const dir = path.resolve(directory);
  if (!fs.existsSync(dir)) throw new ReviewInputError(`${directory}: directory not found; pass the output of 'cdk synth -o <dir>'.`);
  if (!fs.statSync(dir).isDirectory()) throw new ReviewInputError(`${directory}: not a directory; pass the output of 'cdk synth -o <dir>'.`);
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
    throw new ReviewInputError(`${directory}: not a cloud assembly (no manifest.json); pass the output of 'cdk synth -o <dir>'.`);
  }
  const stacks: StackTemplate[] = [];
  const findings: ComplianceFinding[] = [];
  readAssembly(dir, dir, stacks, findings, options.nestedAssemblies ?? true);
  const acknowledged = dedupeFindings([...findings.filter((f) => f.acknowledgedReason !== undefined),
    ...stacks.flatMap((st) => [...st.acknowledgements ?? [], ...templateAcknowledgements(st)])]);
  const open = findings.filter((f) => f.acknowledgedReason === undefined);
  return { directory: dir, stacks, manifests: readManifests(dir), findings: open, acknowledged };
}

/**
 * Rules acknowledged on a stack's resources, as cdk-nag writes them into each resource's template metadata
 * (`cdk_nag.rules_to_suppress`, from `Validations.of(scope).acknowledge()` on it or an ancestor).
 */
function templateAcknowledgements(stack: StackTemplate): ComplianceFinding[] {
  const out: ComplianceFinding[] = [];
  for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
    const rules = (resource?.Metadata?.cdk_nag as { rules_to_suppress?: unknown } | undefined)?.rules_to_suppress;
    for (const rule of Array.isArray(rules) ? rules : []) {
      if (typeof rule?.id !== 'string') continue;
      out.push({
        plugin: rule.id.split('-')[0],
        rule: rule.id,
        resource: stack.paths[logicalId] ?? `${stack.id}/${logicalId}`,
        description: '',
        acknowledgedReason: String(rule.reason ?? ''),
      });
    }
  }
  return out;
}

/** `aws:cdk:acknowledged-rules` entries of a stack's metadata, by construct path. */
function metadataAcknowledgements(metadata: Record<string, any[]>): ComplianceFinding[] {
  const out: ComplianceFinding[] = [];
  for (const [constructPath, entries] of Object.entries(metadata)) {
    for (const entry of entries ?? []) {
      if (entry?.type !== 'aws:cdk:acknowledged-rules' || typeof entry.data !== 'object' || entry.data === null) continue;
      for (const [key, reason] of Object.entries<unknown>(entry.data)) {
        const rule = key.replace(/^annotation::/i, '');
        out.push({ plugin: rule.split('-')[0], rule, resource: constructPath.replace(/^\//, ''), description: '', acknowledgedReason: String(reason ?? '') });
      }
    }
  }
  return out;
}

function readJson(file: string, what: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ReviewInputError(`${file}: cannot read ${what} (${(e as Error).message}).`);
  }
}

function readAssembly(root: string, dir: string, stacks: StackTemplate[], findings: ComplianceFinding[], nestedAssemblies: boolean): void {
  const manifest = readJson(path.join(dir, 'manifest.json'), 'the cloud assembly manifest');
  if (typeof manifest !== 'object' || manifest === null || typeof manifest.artifacts !== 'object') {
    // An assembly with no stacks has no artifacts; an unrelated manifest.json has no version either.
    if (typeof manifest?.version !== 'string') throw new ReviewInputError(`${dir}: manifest.json is not a cloud assembly manifest.`);
    return;
  }
  for (const [artifactId, artifact] of Object.entries<any>(manifest.artifacts ?? {})) {
    if (artifact.type === NESTED_ASSEMBLY_ARTIFACT) {
      if (!nestedAssemblies) continue;
      const sub = path.join(dir, artifact.properties?.directoryName ?? artifactId);
      if (fs.existsSync(path.join(sub, 'manifest.json'))) readAssembly(root, sub, stacks, findings, nestedAssemblies);
    } else if (artifact.type === STACK_ARTIFACT) {
      readStack(dir, artifactId, artifact, stacks);
    }
  }
  findings.push(...readValidationReports(dir));
}

function readStack(dir: string, artifactId: string, artifact: any, stacks: StackTemplate[]): void {
  const templateFile = path.join(dir, artifact.properties?.templateFile ?? `${artifactId}.template.json`);
  if (!fs.existsSync(templateFile)) throw new ReviewInputError(`${templateFile}: template of stack ${artifactId} is missing from the assembly.`);
  const template: CfnTemplate = readJson(templateFile, 'a template');
  const metadata: Record<string, any[]> = { ...artifact.metadata };
  if (artifact.additionalMetadataFile && fs.existsSync(path.join(dir, artifact.additionalMetadataFile))) {
    Object.assign(metadata, readJson(path.join(dir, artifact.additionalMetadataFile), 'stack metadata'));
  }
  const tags: Record<string, string> = { ...artifact.properties?.tags };
  const id: string = artifact.displayName ?? artifactId;
  const disposable = isMarked(tags[DISPOSABLE_MARKER]) || isMarked(template.Metadata?.[DISPOSABLE_MARKER]);
  const stackName: string = artifact.properties?.stackName ?? artifactId;
  const stack: StackTemplate = {
    id,
    identity: `${environmentOf(artifact)}/${stackName}`,
    stackName,
    template,
    paths: logicalIdPaths(template, metadata),
    tags,
    disposable,
    acknowledgements: metadataAcknowledgements(metadata),
  };
  stacks.push(stack);
  readNestedStacks(dir, stack, metadata, stacks);
}

/** `<account>/<region>` of a stack artifact (`aws://<account>/<region>`); environment-agnostic stacks are `unknown-account/unknown-region`. */
function environmentOf(artifact: any): string {
  const match = /^aws:\/\/([^/]+)\/([^/]+)$/.exec(String(artifact.environment ?? ''));
  return match ? `${match[1]}/${match[2]}` : 'unknown-account/unknown-region';
}

function isMarked(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

/** Logical id to construct path, from the assembly metadata and from `aws:cdk:path` resource metadata. */
function logicalIdPaths(template: CfnTemplate, metadata: Record<string, any[]>): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const [constructPath, entries] of Object.entries(metadata)) {
    for (const entry of entries ?? []) {
      if (entry?.type === 'aws:cdk:logicalId' && typeof entry.data === 'string') paths[entry.data] = constructPath.replace(/^\//, '');
    }
  }
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const cdkPath = resource?.Metadata?.['aws:cdk:path'];
    if (typeof cdkPath === 'string' && !paths[logicalId]) paths[logicalId] = cdkPath;
  }
  return paths;
}

/**
 * Finds the template file of each `AWS::CloudFormation::Stack` resource: from `aws:asset:path` metadata when the
 * CLI wrote it, else by matching the object key in `TemplateURL` with the assembly's asset manifests.
 */
function readNestedStacks(dir: string, parent: StackTemplate, metadata: Record<string, any[]>, stacks: StackTemplate[]): void {
  const assetFiles = nestedTemplateAssets(dir);
  const templatePathsByFile = new Map<string, string>();
  for (const [constructPath, entries] of Object.entries(metadata)) {
    for (const entry of entries ?? []) {
      if (entry?.type === 'aws:cdk:templateFile' && typeof entry.data === 'string') templatePathsByFile.set(entry.data, constructPath.replace(/^\//, ''));
    }
  }
  for (const [logicalId, resource] of Object.entries(parent.template.Resources ?? {})) {
    if (resource?.Type !== 'AWS::CloudFormation::Stack') continue;
    const url = JSON.stringify(resource.Properties?.TemplateURL ?? '');
    const assetPath = resource.Metadata?.['aws:asset:path'];
    const file = typeof assetPath === 'string' ? assetPath : [...assetFiles.entries()].find(([key]) => url.includes(key))?.[1];
    if (!file || !fs.existsSync(path.join(dir, file))) continue; // a nested stack not synthesized by CDK: nothing to read
    const template: CfnTemplate = readJson(path.join(dir, file), 'a nested stack template');
    const id = templatePathsByFile.get(file) ?? `${parent.id}/${logicalId}`;
    const nested: StackTemplate = {
      id,
      identity: `${parent.identity}/${logicalId}`,
      stackName: id,
      template,
      paths: logicalIdPaths(template, metadata),
      tags: parent.tags,
      disposable: parent.disposable || isMarked(template.Metadata?.[DISPOSABLE_MARKER]),
      parentId: parent.id,
      nestedLogicalId: logicalId,
    };
    stacks.push(nested);
    readNestedStacks(dir, nested, metadata, stacks);
  }
}

/** Asset object keys (`<hash>.json`) of nested stack templates, mapped to their file in the assembly. */
function nestedTemplateAssets(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.assets.json')) continue;
    const assets = readJson(path.join(dir, name), 'an asset manifest');
    for (const [hash, asset] of Object.entries<any>(assets.files ?? {})) {
      const source = asset?.source?.path;
      if (typeof source !== 'string' || !source.endsWith('.nested.template.json')) continue;
      out.set(`/${hash}.json`, source);
      for (const destination of Object.values<any>(asset.destinations ?? {})) {
        if (typeof destination?.objectKey === 'string') out.set(`/${destination.objectKey}`, source);
      }
    }
  }
  return out;
}

/** Findings of every plugin in the assembly's validation reports (cdk-nag packs among them). */
function readValidationReports(dir: string): ComplianceFinding[] {
  const out: ComplianceFinding[] = [];
  for (const name of VALIDATION_REPORTS) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    const report = readJson(file, 'a validation report');
    for (const plugin of report.pluginReports ?? []) {
      const pluginName = plugin.summary?.pluginName ?? plugin.pluginName ?? 'unknown';
      const suppressed: any[] = plugin.suppressedViolations ?? [];
      for (const violation of [...plugin.violations ?? [], ...suppressed]) {
        const targets = [...violation.violatingResources ?? [], ...violation.violatingConstructs ?? []];
        for (const target of targets) {
          out.push({
            plugin: pluginName,
            rule: violation.ruleName,
            resource: target.constructPath || target.resourceLogicalId || 'unknown',
            description: violation.description ?? '',
            ...suppressed.includes(violation) ? { acknowledgedReason: String(violation.reason ?? '') } : {},
          });
        }
      }
    }
  }
  return dedupeFindings(out);
}

function dedupeFindings(findings: ComplianceFinding[]): ComplianceFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.rule}|${f.resource}|${f.acknowledgedReason !== undefined}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const SKIPPED_DIRS = new Set(['node_modules', '.git', '.cache']);

/** Kubernetes objects in YAML files below the assembly (cdk8s output written next to the CloudFormation). */
function readManifests(dir: string): KubernetesManifest[] {
  const out: KubernetesManifest[] = [];
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        // asset.* directories hold bundled code and files, not the app's manifests.
        if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('asset.')) walk(full);
      } else if (entry.isFile() && /\.ya?ml$/i.test(entry.name)) {
        const objects = parseKubernetesYaml(full);
        if (objects.length > 0) out.push({ file: path.relative(dir, full).split(path.sep).join('/'), objects });
      }
    }
  };
  walk(dir);
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** Every document of a YAML file that looks like a Kubernetes object (apiVersion, kind, metadata.name). */
export function parseKubernetesYaml(file: string): KubernetesObject[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const out: KubernetesObject[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new ReviewInputError(`${file}: invalid YAML (${doc.errors[0].message.split('\n')[0]}).`);
    const value = doc.toJSON();
    if (value && typeof value === 'object' && typeof value.apiVersion === 'string' && typeof value.kind === 'string'
      && typeof value.metadata?.name === 'string') {
      out.push(value as KubernetesObject);
    }
  }
  return out;
}
