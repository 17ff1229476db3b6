import * as fs from 'fs';
import * as path from 'path';
import { buildReferenceApp } from '../../examples/environments';
import { complianceTable } from '../../scripts/compliance-doc';
import { cfnLint, collectAcknowledgements, describe as describeFindings, newApp, REPO_ROOT, synthesizeWithPacks } from '../support/gate';
import { applyCompliancePacks } from 'mlops-constructs';

// The gate over the reference app: every environment synthesizes, draws no unacknowledged cdk-nag
// finding from AwsSolutions, NIST 800-53 rev 5 and HIPAA Security, and passes cfn-lint with no finding.
describe('reference app (examples/environments)', () => {
  const app = newApp();
  const platforms = buildReferenceApp(app);
  const stacks = platforms.flatMap((p) => [p.dataStack, p.platformStack, ...p.servingStacks]);
  applyCompliancePacks(app);
  const result = synthesizeWithPacks(app);

  test('builds a data, a platform and a serving shard stack per environment, each served model in a nested stack', () => {
    // Both reference models hash to serving shard 07.
    expect(stacks.map((s) => s.stackName)).toEqual(['dev', 'staging', 'prod'].flatMap((env) => [`mlops-${env}-data`, `mlops-${env}-platform`, `mlops-${env}-serving-07`]));
    const names = result.templates.map((t) => path.basename(t));
    expect(names.filter((n) => !n.includes('.nested.'))).toHaveLength(9);
    // Per environment: the two models' nested stacks and the fleet's served state in a nested stack of the data stack.
    expect(names.filter((n) => n.includes('.nested.'))).toHaveLength(9);
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
      // A row names the rule (the finding-specific part in brackets may be described in prose) and the path.
      .filter((ack) => {
        const rule = ack.id.split('[')[0];
        return !rows.some((row) => (row.includes(`\`${rule}\``) || row.includes(`\`${rule}[`)) && row.includes(`\`${ack.path}\``));
      })
      .map((ack) => `${ack.id} at ${ack.stack}/${ack.path}`);
    expect([...new Set(missing)]).toEqual([]);
    for (const ack of collectAcknowledgements(app)) {
      expect(ack.reason.length).toBeGreaterThanOrEqual(20);
    }
  });

  test('docs/compliance.md holds the current generated table (run `npm run docs:compliance` after a change)', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'compliance.md'), 'utf8');
    expect(doc).toContain(complianceTable(app));
  });

  test('turns termination protection on where the profile protects data', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(result.outdir, 'manifest.json'), 'utf8'));
    const protection = (stack: { artifactId: string }) => manifest.artifacts[stack.artifactId].properties.terminationProtection ?? false;
    expect(stacks.map(protection)).toEqual([false, false, false, true, true, true, true, true, true]);
  });
});
