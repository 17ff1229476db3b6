import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The context of cdk.json (feature flags), so in-process apps synthesize exactly as `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
  return cdkJson.context ?? {};
}

/** A fresh temporary directory under the OS temp dir. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mlops-${prefix}-`));
}

/** An App with cdk.json's context writing to a temp directory. */
export function newApp(context: Record<string, unknown> = {}, outdir: string = tempDir('cdkout')): App {
  return new App({ outdir, context: { ...cdkJsonContext(), ...context } });
}

export interface NagFinding {
  readonly pack: string;
  readonly rule: string;
  readonly resource: string;
  readonly description: string;
}

export interface SynthResult {
  readonly outdir: string;
  readonly templates: string[];
  readonly findings: NagFinding[];
}

/**
 * Synthesizes an app that has compliance packs added, returning unacknowledged findings instead of
 * throwing, so a test can print them all.
 */
export function synthesizeWithPacks(app: App): SynthResult {
  let failure: unknown;
  try {
    app.synth();
  } catch (e) {
    failure = e;
  }
  const outdir = app.outdir;
  const findings = readValidationReport(outdir);
  if (failure && findings.length === 0) throw failure;
  return { outdir, templates: templatesIn(outdir), findings };
}

/** Reads CDK's policy validation report (cdk-nag findings) from a cloud assembly directory. */
export function readValidationReport(outdir: string): NagFinding[] {
  const file = path.join(outdir, 'policy-validation-report.json');
  if (!fs.existsSync(file)) return [];
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const findings: NagFinding[] = [];
  for (const plugin of report.pluginReports ?? []) {
    for (const v of plugin.violations ?? []) {
      for (const r of v.violatingResources ?? []) {
        findings.push({
          pack: plugin.summary?.pluginName,
          rule: v.ruleName,
          resource: r.constructPath ?? r.resourceLogicalId,
          description: v.description,
        });
      }
    }
  }
  return findings;
}

/** The plugin name of aws-cdk-lib's built-in template validation in validation-report.json. */
export const BUILTIN_VALIDATION_PLUGIN = 'CloudFormation Validate';

/**
 * What aws-cdk-lib's built-in template validation (on by default in a user's app; `CDK_VALIDATION=false` turns it
 * off) reported in an assembly directory, one line per rule and construct: `<rule> <construct path>: <description>`.
 * Nothing when it found nothing (or did not run: check that the report exists where it must).
 */
export function builtinValidationFindings(outdir: string): string[] {
  const file = path.join(outdir, 'validation-report.json');
  if (!fs.existsSync(file)) return [];
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const out: string[] = [];
  for (const plugin of report.pluginReports ?? []) {
    if (plugin.pluginName !== BUILTIN_VALIDATION_PLUGIN) continue;
    for (const v of plugin.violations ?? []) {
      for (const c of v.violatingConstructs ?? []) out.push(`${v.ruleName} ${c.constructPath}: ${v.description}`);
    }
  }
  return out;
}

/** Every CloudFormation template in an assembly directory, nested assemblies included. */
export function templatesIn(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name.startsWith('assembly-')) out.push(...templatesIn(full));
    else if (entry.isFile() && entry.name.endsWith('.template.json')) out.push(full);
  }
  return out.sort();
}

export interface CfnLintFinding {
  readonly rule: string;
  readonly level: string;
  readonly message: string;
  readonly file: string;
}

/**
 * Runs the real cfn-lint over templates. Every finding counts (errors, warnings and informational), since
 * the gate requires 0 errors and 0 warnings. Throws when cfn-lint is not installed, naming the fix.
 */
export function cfnLint(templates: string[]): CfnLintFinding[] {
  if (templates.length === 0) throw new Error('cfnLint: no templates given');
  const result = spawnSync('cfn-lint', ['--format', 'json', '--', ...templates], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) {
    throw new Error(`cfn-lint could not run (${result.error.message}). Install it with: pip install cfn-lint`);
  }
  const stdout = result.stdout.trim();
  if (result.status !== 0 && stdout === '') {
    throw new Error(`cfn-lint failed with exit code ${result.status}: ${result.stderr}`);
  }
  const parsed = stdout === '' ? [] : JSON.parse(stdout);
  return parsed.map((m: any) => ({ rule: m.Rule?.Id, level: m.Level, message: m.Message, file: m.Filename }));
}

/** One line per finding, for readable test failures. */
export function describe(findings: Array<NagFinding | CfnLintFinding>): string {
  return findings.map((f) => ('pack' in f ? `${f.rule} at ${f.resource}: ${f.description}` : `${f.level} ${f.rule} in ${path.basename(f.file)}: ${f.message}`)).join('\n');
}

export interface Acknowledgement {
  /** Rule id as acknowledged, e.g. `AwsSolutions-IAM5[Action::s3:*]`. */
  readonly id: string;
  readonly reason: string;
  /** Path of the construct it was made on, relative to its stack. */
  readonly path: string;
  readonly stack: string;
}

/** Every `Validations.of(x).acknowledge()` made in a construct tree. */
export function collectAcknowledgements(root: IConstruct): Acknowledgement[] {
  const out: Acknowledgement[] = [];
  for (const node of root.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      // Nested stacks have token names: report paths relative to the top-level stack.
      let stack = Stack.of(node);
      while (stack.nestedStackParent) stack = stack.nestedStackParent;
      // Stored as { '<Source>::<rule id>': reason }, e.g. { 'Annotation::AwsSolutions-S1': '...' }.
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        out.push({
          id: key.includes('::') ? key.slice(key.indexOf('::') + 2) : key,
          reason,
          stack: stack.stackName,
          path: node.node.path.slice(stack.node.path.length + 1),
        });
      }
    }
  }
  return out;
}
