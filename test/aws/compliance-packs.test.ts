// applyCompliancePacks' fourth pack, the AWS Control Tower proactive controls (cfn-guard, @cdklabs/cdk-validator-cfnguard):
// on by default, a finding fails synthesis, an acknowledgement on the construct lifts it, a disabled rule does not run;
// nested stacks are checked, and references across stacks are resolved as the deploy-time hooks see them.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, NestedStack, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { newApp, readValidationReport } from '../support/gate';
import { applyCompliancePacks, CompliancePacksOptions } from 'mlops-constructs';

const RETENTION_RULE = 'cloudwatch_log_group_retention_period_check';
const ENCRYPTION_RULE = 'cloudwatch_log_group_encrypted_check';

/** A log group kept a week and not encrypted with a customer key: two Control Tower findings, no cdk-nag one acknowledged away. */
function synth(options: CompliancePacksOptions, acknowledge: string[] = []): string {
  const app = newApp();
  const stack = new Stack(app, 'Logs');
  const group = new logs.LogGroup(stack, 'Group', { retention: logs.RetentionDays.ONE_WEEK, removalPolicy: RemovalPolicy.DESTROY });
  for (const rule of acknowledge) {
    Validations.of(group).acknowledge({ id: `cdk-validator-cfnguard::${rule}`, reason: 'Test: the finding is acknowledged on the construct.' });
  }
  // Only the Control Tower pack: cdk-nag's findings on this bare log group are not what is tested.
  applyCompliancePacks(app, { awsSolutions: false, nist80053r5: false, hipaaSecurity: false, mlopsChecks: false, ...options });
  try {
    app.synth();
    return '';
  } catch (e) {
    return String((e as Error).message);
  }
}

describe('applyCompliancePacks: AWS Control Tower proactive controls', () => {
  test('on by default: a finding fails synthesis, naming the control; controlTower: false turns the pack off', () => {
    const failure = synth({});
    expect(failure).toContain('CT.CLOUDWATCH.PR.2');
    expect(failure).toContain('CT.CLOUDWATCH.PR.3');
    expect(synth({ controlTower: false })).toBe('');
  });

  test('an acknowledgement on the construct lifts its finding; a disabled rule does not run', () => {
    expect(synth({ controlTower: true }, [RETENTION_RULE, ENCRYPTION_RULE])).toBe('');
    const one = synth({ controlTower: true }, [RETENTION_RULE]);
    expect(one).toContain('CT.CLOUDWATCH.PR.3');
    expect(one).not.toContain('CT.CLOUDWATCH.PR.2');
    expect(synth({ controlTower: true, controlTowerDisabledRules: ['ct-cloudwatch-pr-2', 'ct-cloudwatch-pr-3'] })).toBe('');
  });
});

/** Control Tower findings (rule and construct path) of an app, with only that pack applied. */
function controlTowerFindings(app: App): string[] {
  applyCompliancePacks(app, { awsSolutions: false, nist80053r5: false, hipaaSecurity: false, mlopsChecks: false });
  let message = '';
  try {
    app.synth();
  } catch (e) {
    message = String((e as Error).message);
  }
  return readValidationReport(app.outdir).map((f) => `${f.rule} ${f.resource}`).concat(message && readValidationReport(app.outdir).length === 0 ? [message] : []);
}

function templateOf(app: App, file: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(app.outdir, file), 'utf8'));
}

const yearLong = { retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN };

describe('Control Tower controls see what the deploy-time hooks see', () => {
  test('a log group encrypted with a key of another stack (Fn::ImportValue) is encrypted; one without a key is not', () => {
    const app = newApp();
    const keys = new Stack(app, 'Keys');
    const key = new kms.Key(keys, 'Key', { enableKeyRotation: true });
    Validations.of(key).acknowledge({ id: 'cdk-validator-cfnguard::kms_create_grant_aws_service_check', reason: 'Test: only the log groups are under test.' });
    const logsStack = new Stack(app, 'Logs');
    new logs.LogGroup(logsStack, 'Encrypted', { ...yearLong, encryptionKey: key });
    new logs.LogGroup(logsStack, 'Plain', yearLong);
    expect(controlTowerFindings(app)).toEqual(['cloudwatch_log_group_encrypted_check Logs/Plain/Resource']);
    expect(JSON.stringify(templateOf(app, logsStack.templateFile))).toContain('"KmsKeyId":{"Fn::ImportValue"');
  });

  test('nested stacks are checked, with the values their parent passes resolved; acknowledgements in them work', () => {
    const app = newApp();
    const parent = new Stack(app, 'Parent');
    const key = new kms.Key(parent, 'Key', { enableKeyRotation: true });
    Validations.of(key).acknowledge({ id: 'cdk-validator-cfnguard::kms_create_grant_aws_service_check', reason: 'Test: only the log groups are under test.' });
    const nested = new NestedStack(parent, 'Model');
    new logs.LogGroup(nested, 'Encrypted', { ...yearLong, encryptionKey: key });
    new logs.LogGroup(nested, 'Short', { retention: logs.RetentionDays.ONE_WEEK, encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN });
    const acknowledged = new logs.LogGroup(nested, 'Acknowledged', { retention: logs.RetentionDays.ONE_WEEK, encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN });
    Validations.of(acknowledged).acknowledge({ id: 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check', reason: 'Test: acknowledged in a nested stack.' });
    expect(controlTowerFindings(app)).toEqual(['cloudwatch_log_group_retention_period_check Parent/Model/Short/Resource']);
    // The key reaches the nested stack as a parameter its parent fills with the key's ARN.
    expect(JSON.stringify(templateOf(app, nested.templateFile))).toMatch(/"KmsKeyId":\{"Ref":"referenceto/);
  });
});

describe('Control Tower controls: each template against its own rules, findings kept per template', () => {
  /** Two stacks with a week-long log group each, and one with a year-long encrypted one (no finding). */
  function threeStacks(retention = logs.RetentionDays.ONE_WEEK): App {
    const app = newApp();
    const keys = new Stack(app, 'Keys');
    const key = new kms.Key(keys, 'Key', { enableKeyRotation: true });
    Validations.of(key).acknowledge({ id: 'cdk-validator-cfnguard::kms_create_grant_aws_service_check', reason: 'Test: only the log groups are under test.' });
    for (const name of ['First', 'Second']) {
      new logs.LogGroup(new Stack(app, name), 'Short', { retention, encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN });
    }
    new logs.LogGroup(new Stack(app, 'Third'), 'Long', { ...yearLong, encryptionKey: key });
    return app;
  }

  test('a rule failing in two templates is one finding naming both resources; the templates without it pass', () => {
    expect(controlTowerFindings(threeStacks()).sort()).toEqual([
      'cloudwatch_log_group_retention_period_check First/Short/Resource',
      'cloudwatch_log_group_retention_period_check Second/Short/Resource',
    ]);
  });

  describe('with MLOPS_CONTROL_TOWER_CACHE', () => {
    const before = process.env.MLOPS_CONTROL_TOWER_CACHE;
    let dir = '';
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-cache-'));
      process.env.MLOPS_CONTROL_TOWER_CACHE = dir;
    });
    afterEach(() => {
      process.env.MLOPS_CONTROL_TOWER_CACHE = before;
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('the same templates read their findings from the cache; a changed template is checked again', () => {
      const first = controlTowerFindings(threeStacks()).sort();
      expect(first).toHaveLength(2);
      // One entry per distinct template: Keys, Third, and First and Second, whose templates are the same.
      const entries = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
      expect(entries).toHaveLength(3);
      expect(controlTowerFindings(threeStacks()).sort()).toEqual(first);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(3);

      // Proof the entries are what is read: emptied, the same templates pass without cfn-guard running.
      for (const f of entries) fs.writeFileSync(path.join(dir, f), '[]');
      expect(controlTowerFindings(threeStacks())).toEqual([]);
      // A changed template (First and Second now keep their logs for two weeks) has a new digest and is checked.
      expect(controlTowerFindings(threeStacks(logs.RetentionDays.TWO_WEEKS)).sort()).toEqual(first);
    });

    test('a cache directory that cannot be written does not fail synthesis: the findings are reported as without it', () => {
      const file = path.join(dir, 'not-a-directory');
      fs.writeFileSync(file, '');
      process.env.MLOPS_CONTROL_TOWER_CACHE = path.join(file, 'cache');
      expect(controlTowerFindings(threeStacks()).sort()).toEqual([
        'cloudwatch_log_group_retention_period_check First/Short/Resource',
        'cloudwatch_log_group_retention_period_check Second/Short/Resource',
      ]);
    });
  });
});
