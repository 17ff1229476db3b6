// applyCompliancePacks' fourth pack, the AWS Control Tower proactive controls (cfn-guard, @cdklabs/cdk-validator-cfnguard):
// opt-in, a finding fails synthesis, an acknowledgement on the construct lifts it, a disabled rule does not run.
import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { newApp } from '../support/gate';
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
  test('off by default', () => {
    expect(synth({})).toBe('');
  });

  test('with controlTower: true a finding fails synthesis, naming the control', () => {
    const failure = synth({ controlTower: true });
    expect(failure).toContain('CT.CLOUDWATCH.PR.2');
    expect(failure).toContain('CT.CLOUDWATCH.PR.3');
  });

  test('an acknowledgement on the construct lifts its finding; a disabled rule does not run', () => {
    expect(synth({ controlTower: true }, [RETENTION_RULE, ENCRYPTION_RULE])).toBe('');
    const one = synth({ controlTower: true }, [RETENTION_RULE]);
    expect(one).toContain('CT.CLOUDWATCH.PR.3');
    expect(one).not.toContain('CT.CLOUDWATCH.PR.2');
    expect(synth({ controlTower: true, controlTowerDisabledRules: ['ct-cloudwatch-pr-2', 'ct-cloudwatch-pr-3'] })).toBe('');
  });
});
