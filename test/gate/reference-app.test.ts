import * as fs from 'fs';
import * as path from 'path';
import { buildReferenceApp } from '../../examples/environments';
import { cfnLint, collectAcknowledgements, describe as describeFindings, newApp, REPO_ROOT, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks } from 'mlops-constructs';

// The gate over the reference app: every environment synthesizes, draws no unacknowledged cdk-nag
// finding from AwsSolutions, NIST 800-53 rev 5 and HIPAA Security, and passes cfn-lint with no finding.
describe('reference app (examples/environments)', () => {
  const app = newApp();
  const stacks = buildReferenceApp(app);
  applyCompliancePacks(app);
  const result = synthesizeWithPacks(app);

  test('builds one stack per environment', () => {
    expect(stacks.map((s) => s.stackName)).toEqual(['mlops-dev', 'mlops-staging', 'mlops-prod']);
    expect(result.templates.map((t) => path.basename(t))).toEqual([
      'mlops-dev.template.json', 'mlops-prod.template.json', 'mlops-staging.template.json',
    ]);
  });

  test('has no unacknowledged cdk-nag finding', () => {
    expect(describeFindings(result.findings)).toBe('');
  });

  test('passes cfn-lint with 0 errors and 0 warnings', () => {
    expect(describeFindings(cfnLint(result.templates))).toBe('');
  });

  test('lists every acknowledgement in docs/compliance.md with a specific reason', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'compliance.md'), 'utf8');
    const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
    const missing = collectAcknowledgements(app)
      .filter((ack) => !rows.some((row) => row.includes(`\`${ack.id}\``) && row.includes(`\`${ack.path}\``)))
      .map((ack) => `${ack.id} at ${ack.stack}/${ack.path}`);
    expect([...new Set(missing)]).toEqual([]);
    for (const ack of collectAcknowledgements(app)) {
      expect(ack.reason.length).toBeGreaterThanOrEqual(20);
    }
  });

  test('turns termination protection on where the profile protects data', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(result.outdir, 'manifest.json'), 'utf8'));
    const protection = (id: string) => manifest.artifacts[id].properties.terminationProtection ?? false;
    expect(protection('mlops-dev')).toBe(false);
    expect(protection('mlops-staging')).toBe(true);
    expect(protection('mlops-prod')).toBe(true);
  });
});
