import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  IPolicyValidationContext, IPolicyValidationPlugin, NestedStack, PolicyValidationPluginReport, PolicyViolation, Stack,
} from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Template = {
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Resources?: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name?: unknown } }>;
};

interface Loaded {
  /** The template as synthesized (where findings point). */
  readonly file: string;
  readonly template: Template;
  /** For a nested stack: the values its parent passes for its parameters. */
  readonly parameters?: Record<string, unknown>;
  readonly parent?: Loaded;
}

/**
 * The AWS Control Tower proactive controls (`CfnGuardValidator`), run over the templates as Control Tower's deploy-time
 * hooks see them:
 *
 * - **Nested stacks too.** aws-cdk-lib hands a validation plugin the top-level templates only; a served model's stack
 *   and a fleet's served state are nested stacks, which CloudFormation deploys (and the hooks check) like any other.
 * - **References across stacks resolved.** A hook sees resolved property values, so a log group encrypted with the data
 *   stack's key (`Fn::ImportValue`, or `Fn::GetStackOutput` for weak references), or a nested stack's parameter its
 *   parent fills, is encrypted there. The rules only
 *   recognize literal values and references to a resource of the same template, so the validator gets copies of the
 *   templates in which each import of an export of this assembly, and each nested-stack parameter, is replaced by a
 *   literal standing for the resolved value (an ARN for `Fn::GetAtt ... Arn`, a name for `Ref`). Imports of exports
 *   outside the assembly and parameters of top-level stacks stay as they are.
 * - **Each template against the rules that can apply to it**: those naming one of its resource types (a rule checks
 *   only resources of the types it names). cfn-guard's time grows with rules times templates; this is about a
 *   third of the evaluations of running the rules of every type present on every template, with the same findings.
 * - **Results kept, when asked.** With the environment variable `MLOPS_CONTROL_TOWER_CACHE` naming a directory, each
 *   template's findings are stored there under a digest of the resolved template, the rules run on it and the
 *   validator's version, and a later synthesis of the same template reads them instead of running cfn-guard again
 *   (the gate sets it; a template that changes gets a new digest).
 * - **Every violation an error.** Its violations carry no severity, and once any of its findings is acknowledged
 *   aws-cdk-lib recomputes the report's success from the severities of the rest: without this, one acknowledgement
 *   would let every other Control Tower finding pass synthesis.
 *
 * Findings point at the synthesized templates (so acknowledgements and construct paths work as for any plugin).
 */
export class ControlTowerControls implements IPolicyValidationPlugin {
  private readonly validator: CfnGuardValidator;
  public readonly name: string;
  public readonly version?: string;
  public readonly ruleIds?: string[];

  private readonly disabledRules: string[];

  constructor(disabledRules?: string[]) {
    this.disabledRules = disabledRules ?? [];
    this.validator = new CfnGuardValidator({ disabledRules });
    // The same name: acknowledgements use the plugin's namespace (`cdk-validator-cfnguard::<rule>`).
    this.name = this.validator.name;
    this.version = this.validator.version;
    this.ruleIds = this.validator.ruleIds;
  }

  /**
   * The validator's report; when it cannot read cfn-guard's result (it throws for some result shapes), an error that
   * names the rules it failed on, found by running each rule alone, and how to go on.
   */
  private validateOrExplain(context: IPolicyValidationContext, rules: string[]): PolicyValidationPluginReport {
    if (rules.length === 0) return { success: true, violations: [] };
    try {
      return new CfnGuardValidator({ controlTowerRulesEnabled: false, rules }).validate(context);
    } catch (e) {
      const failing = rules
        .filter((rule) => {
          try {
            new CfnGuardValidator({ controlTowerRulesEnabled: false, rules: [rule] }).validate(context);
            return false;
          } catch {
            return true;
          }
        })
        .map((rule) => path.parse(rule).name);
      throw new Error(`@cdklabs/cdk-validator-cfnguard could not read cfn-guard's result for the Control Tower rule(s) ${failing.join(', ') || '(none alone)'} `
        + `on these templates (${String(e).trim().split('\n').pop()?.trim()}). Leave them out with applyCompliancePacks(app, { controlTowerDisabledRules: `
        + `[${failing.map((r) => `'${r}'`).join(', ')}] }) and check those controls another way, or turn the pack off with controlTower: false.`);
    }
  }

  /**
   * The enabled rule files that can apply to templates holding resources of `types`: those naming one of the types
   * (a rule checks only resources of the types it names), and any naming none. cfn-guard then evaluates a quarter of
   * the rules on a typical platform template, which takes a quarter of the time, with the same findings.
   */
  private rulesFor(types: Set<string>): string[] {
    return controlTowerRules()
      .filter((rule) => !this.disabledRules.includes(path.parse(rule.file).name))
      .filter((rule) => rule.types.length === 0 || rule.types.some((t) => types.has(t)))
      .map((rule) => rule.file);
  }

  /**
   * The findings of `rules` on the templates at `paths`: read from the result cache where it holds them, the rest from
   * one cfn-guard run (whose findings are then stored per template).
   */
  private validateGroup(context: IPolicyValidationContext, rules: string[], paths: string[]): PolicyValidationPluginReport {
    const cache = ResultCache.fromEnvironment(this.version, rules);
    const cached = new Map(paths.map((p) => [p, cache?.read(p)] as const));
    const toRun = paths.filter((p) => cached.get(p) === undefined);
    const report = toRun.length > 0 ? this.validateOrExplain({ ...context, templatePaths: toRun }, rules) : { success: true, violations: [] };
    // Stored only when every finding is attributed to a template checked here (a finding without one would be lost).
    const attributable = report.success === (report.violations.length === 0)
      && report.violations.every((v) => v.violatingResources.every((r) => r.templatePath !== undefined && toRun.includes(r.templatePath)));
    if (cache && attributable) for (const p of toRun) cache.write(p, findingsIn(report.violations, p));
    const fromCache = paths.flatMap((p) => (cached.get(p) ?? []).map((v) => ({
      ...v, violatingResources: v.violatingResources.map((r) => ({ ...r, templatePath: p })),
    })));
    return { success: report.success && fromCache.length === 0, violations: [...report.violations, ...fromCache] };
  }

  public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const loaded = loadWithNestedStacks(context.templatePaths, nestedStacksOf(context.appConstruct));
    const exports = exportsOf(loaded, stackNamesOf(context.appConstruct));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-control-tower-'));
    const original = new Map<string, string>();
    try {
      const resolvedPaths = loaded.map((l) => {
        const copy = path.join(dir, path.basename(l.file));
        fs.writeFileSync(copy, JSON.stringify(withoutWhatNoRuleReads(resolveTemplate(l, exports))));
        original.set(copy, l.file);
        return copy;
      });
      const groups = new Map<string, { rules: string[]; paths: string[] }>();
      loaded.forEach((l, i) => {
        const rules = this.rulesFor(new Set(Object.values(l.template.Resources ?? {}).map((r) => r.Type)));
        const key = rules.join('\n');
        if (!groups.has(key)) groups.set(key, { rules, paths: [] });
        groups.get(key)!.paths.push(resolvedPaths[i]);
      });
      const reports = [...groups.values()].map((g) => this.validateGroup(context, g.rules, g.paths));
      // One violation per rule, as a single cfn-guard run reports it, naming the resources of every template.
      const byRule = new Map<string, PolicyViolation>();
      for (const v of reports.flatMap((r) => r.violations)) {
        const seen = byRule.get(v.ruleName);
        byRule.set(v.ruleName, seen ? { ...seen, violatingResources: [...seen.violatingResources, ...v.violatingResources] } : v);
      }
      const report: PolicyValidationPluginReport = { success: reports.every((r) => r.success), violations: [...byRule.values()] };
      return {
        ...report,
        violations: report.violations.map((v) => ({
          ...v,
          severity: v.severity ?? 'error',
          violatingResources: v.violatingResources.map((r) => ({
            ...r, templatePath: (r.templatePath && original.get(r.templatePath)) || r.templatePath,
          })),
        })),
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * The template without what no Control Tower rule reads and what differs between syntheses of the same resources:
 * resource metadata (construct paths, asset paths, acknowledgements; a rule reading `Metadata.guard` would still see
 * it) and nested stacks' template URLs (no rule checks `AWS::CloudFormation::Stack`). The same resources synthesized
 * in process or by the cdk CLI (which adds path and asset metadata) then have the same digest in the result cache.
 */
function withoutWhatNoRuleReads(template: Template): Template {
  const resources = Object.fromEntries(Object.entries(template.Resources ?? {}).map(([id, r]) => {
    const { Metadata: metadata, ...rest } = r;
    const kept: Resource = metadata?.guard !== undefined ? { ...rest, Metadata: { guard: metadata.guard } } : rest;
    if (kept.Type === 'AWS::CloudFormation::Stack' && kept.Properties) {
      const { TemplateURL: _url, ...properties } = kept.Properties;
      return [id, { ...kept, Properties: properties }];
    }
    return [id, kept];
  }));
  return { ...template, Resources: resources };
}

/** The violations of `violations` on the template at `templatePath`, without the path (stored per template). */
function findingsIn(violations: PolicyViolation[], templatePath: string): PolicyViolation[] {
  return violations
    .map((v) => ({
      ...v,
      violatingResources: v.violatingResources.filter((r) => r.templatePath === templatePath).map(({ templatePath: _path, ...r }) => r),
    }))
    .filter((v) => v.violatingResources.length > 0) as PolicyViolation[];
}

/**
 * Control Tower findings per template, in the directory `MLOPS_CONTROL_TOWER_CACHE` names: one JSON file per digest of
 * (validator version, the rule files' names and contents, the resolved template). Written through a rename, so
 * concurrent syntheses never read a partial file; an unreadable entry counts as absent.
 */
class ResultCache {
  public static fromEnvironment(version: string | undefined, rules: string[]): ResultCache | undefined {
    const dir = process.env.MLOPS_CONTROL_TOWER_CACHE;
    if (!dir) return undefined;
    const digest = createHash('sha256').update(`cdk-validator-cfnguard@${version}\n`);
    for (const rule of rules) digest.update(`${path.basename(rule)}\n`).update(ruleContent(rule));
    return new ResultCache(dir, digest.digest('hex'));
  }

  private constructor(private readonly dir: string, private readonly rulesDigest: string) {}

  private fileFor(templatePath: string): string {
    const key = createHash('sha256').update(this.rulesDigest).update(fs.readFileSync(templatePath)).digest('hex');
    return path.join(this.dir, `${key}.json`);
  }

  public read(templatePath: string): PolicyViolation[] | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.fileFor(templatePath), 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** Stores the findings; a cache that cannot be written (read-only, full) only costs the next synthesis a cfn-guard run. */
  public write(templatePath: string, findings: PolicyViolation[]): void {
    const file = this.fileFor(templatePath);
    const partial = `${file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.writeFileSync(partial, JSON.stringify(findings));
      fs.renameSync(partial, file);
    } catch {
      try {
        fs.rmSync(partial, { force: true });
      } catch {
        // Not even the directory exists: nothing was written.
      }
    }
  }
}

const ruleContents = new Map<string, string>();

function ruleContent(file: string): string {
  if (!ruleContents.has(file)) ruleContents.set(file, fs.readFileSync(file, 'utf8'));
  return ruleContents.get(file)!;
}

let rulesCache: Array<{ file: string; types: string[] }> | undefined;

/** The bundled Control Tower rule files with the resource types each names. */
function controlTowerRules(): Array<{ file: string; types: string[] }> {
  if (!rulesCache) {
    const root = path.join(path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json')), 'rules', 'control-tower', 'cfn-guard');
    rulesCache = fs.readdirSync(root).sort().flatMap((dir) => fs.readdirSync(path.join(root, dir)).sort()
      .filter((f) => f.endsWith('.guard'))
      .map((f) => {
        const file = path.join(root, dir, f);
        const types = [...new Set([...fs.readFileSync(file, 'utf8').matchAll(/"(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)"/g)].map((m) => m[1]))];
        return { file, types };
      }));
  }
  return rulesCache;
}

function readTemplate(file: string): Template {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Parent template file name -> (logical id of the nested stack resource -> the nested template's file name). */
type NestedStacks = Map<string, Map<string, string>>;

function nestedStacksOf(root: IConstruct): NestedStacks {
  const out: NestedStacks = new Map();
  for (const c of root.node.findAll()) {
    if (!NestedStack.isNestedStack(c) || !c.nestedStackResource || !c.nestedStackParent) continue;
    const parentFile = c.nestedStackParent.templateFile;
    const logicalId = Stack.of(c.nestedStackResource).resolve((c.nestedStackResource as unknown as { logicalId: string }).logicalId);
    if (!out.has(parentFile)) out.set(parentFile, new Map());
    out.get(parentFile)!.set(logicalId, c.templateFile);
  }
  return out;
}

/** The given templates and, depth first, every nested stack template they deploy (CDK writes them next to the parent). */
function loadWithNestedStacks(files: string[], nested: NestedStacks): Loaded[] {
  const out: Loaded[] = [];
  const visit = (l: Loaded) => {
    out.push(l);
    const children = nested.get(path.basename(l.file)) ?? new Map<string, string>();
    for (const [logicalId, resource] of Object.entries(l.template.Resources ?? {})) {
      const child = children.get(logicalId);
      if (resource.Type !== 'AWS::CloudFormation::Stack' || !child) continue;
      const file = path.join(path.dirname(l.file), child);
      if (!fs.existsSync(file)) continue;
      visit({ file, template: readTemplate(file), parameters: resource.Properties?.Parameters as Record<string, unknown> | undefined, parent: l });
    }
  };
  for (const file of files) visit({ file, template: readTemplate(file) });
  return out;
}

/** Template file name -> stack name, for the top-level stacks of the app. */
function stackNamesOf(root: IConstruct): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of root.node.findAll()) {
    if (Stack.isStack(c) && !NestedStack.isNestedStack(c)) out.set(c.templateFile, c.stackName);
  }
  return out;
}

/** The key of an output read by another stack: its export name, or `<stack>/<output>` for `Fn::GetStackOutput`. */
const outputKey = (stackName: string, outputName: string) => `${stackName}/${outputName}`;

/**
 * Export name and `<stack>/<output>` -> a literal standing for the output's value once resolved: what `Fn::ImportValue`
 * (strong references) and `Fn::GetStackOutput` (aws-cdk-lib's weak references) read.
 */
function exportsOf(loaded: Loaded[], stackNames: Map<string, string>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const l of loaded) {
    const stackName = l.parent ? undefined : stackNames.get(path.basename(l.file));
    for (const [outputName, output] of Object.entries(l.template.Outputs ?? {})) {
      const name = output.Export?.Name;
      const literal = literalFor(output.Value, l);
      if (typeof name === 'string') out.set(name, literal);
      if (stackName) out.set(outputKey(stackName, outputName), literal);
    }
  }
  return out;
}

/** The literal an `Fn::ImportValue` or `Fn::GetStackOutput` of an output of this assembly stands for, else undefined. */
function importedLiteral(node: Record<string, unknown>, exports: Map<string, unknown>): unknown {
  const keys = Object.keys(node);
  if (keys.length !== 1) return undefined;
  const imported = node['Fn::ImportValue'];
  if (typeof imported === 'string') return exports.get(imported);
  const output = node['Fn::GetStackOutput'] as { StackName?: unknown; OutputName?: unknown } | undefined;
  if (output && typeof output.StackName === 'string' && typeof output.OutputName === 'string') {
    return exports.get(outputKey(output.StackName, output.OutputName));
  }
  return undefined;
}

/** A literal for a value as CloudFormation resolves it in template `l` (the value itself when it has no reference). */
function literalFor(value: unknown, l: Loaded): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  const resources = l.template.Resources ?? {};
  if (typeof v.Ref === 'string' && resources[v.Ref]) return v.Ref.toLowerCase();
  const getAtt = v['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && resources[getAtt[0]]) {
    const [, service = 'cloudformation', kind = 'resource'] = resources[getAtt[0]].Type.split('::');
    return getAtt[1] === 'Arn'
      ? `arn:aws:${service.toLowerCase()}:us-east-1:111111111111:${kind.toLowerCase()}/${getAtt[0]}`
      : `${getAtt[0]}.${getAtt[1]}`;
  }
  return value;
}

/** The template with resolvable imports and nested-stack parameters replaced by literals (see ControlTowerControls). */
function resolveTemplate(l: Loaded, exports: Map<string, unknown>): Template {
  const parameters = new Map<string, unknown>();
  for (const [name, value] of Object.entries(l.parameters ?? {})) {
    const resolved = l.parent ? resolveIn(value, l.parent, exports) : value;
    if (resolved !== value || typeof value !== 'object') parameters.set(name, resolved);
  }
  if (!l.parent) {
    for (const [name, parameter] of Object.entries(l.template.Parameters ?? {})) {
      const value = parameterValue(name, parameter);
      if (value !== undefined) parameters.set(name, value);
    }
  }
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node !== 'object' || node === null) return node;
    const o = node as Record<string, unknown>;
    const keys = Object.keys(o);
    const imported = importedLiteral(o, exports);
    if (imported !== undefined) return imported;
    if (keys.length === 1 && keys[0] === 'Ref' && typeof o.Ref === 'string' && parameters.has(o.Ref)) return parameters.get(o.Ref);
    return Object.fromEntries(keys.map((k) => [k, walk(o[k])]));
  };
  return { ...l.template, Resources: walk(l.template.Resources) as Template['Resources'] };
}

/**
 * A literal for a top-level template parameter as CloudFormation resolves it: its default, or, for an SSM-typed
 * parameter (CDK's `valueForStringParameter`, `MlopsPlatform.fromEnvironment`), a string standing for the SSM value.
 * Undefined (left a reference) for a parameter without a default.
 */
function parameterValue(name: string, parameter: { Type: string; Default?: unknown }): unknown {
  if (parameter.Default === undefined) return undefined;
  if (parameter.Type.startsWith('AWS::SSM::Parameter::Value<List<') || parameter.Type.startsWith('AWS::SSM::Parameter::Value<CommaDelimitedList')) {
    return [`resolved-ssm-parameter:${parameter.Default}`];
  }
  if (parameter.Type.startsWith('AWS::SSM::Parameter::Value<')) return `resolved-ssm-parameter:${parameter.Default}`;
  if (parameter.Type === 'Number') return Number(parameter.Default);
  if (parameter.Type === 'CommaDelimitedList' || parameter.Type.startsWith('List<')) return String(parameter.Default).split(',');
  return name === 'BootstrapVersion' ? undefined : parameter.Default;
}

/** A value a parent passes to a nested stack, resolved in the parent (imports, its own resources, its own parameters). */
function resolveIn(value: unknown, parent: Loaded, exports: Map<string, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Record<string, unknown>;
  const imported = importedLiteral(v, exports);
  if (imported !== undefined) return imported;
  if (typeof v.Ref === 'string' && parent.parameters && v.Ref in parent.parameters && parent.parent) {
    return resolveIn(parent.parameters[v.Ref], parent.parent, exports);
  }
  return literalFor(value, parent);
}
