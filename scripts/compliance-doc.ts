// Regenerates the table of docs/compliance.md from the acknowledgements the reference app actually makes
// (`npm run docs:compliance`). Reasons come from the constructs themselves; the gate checks the table is current.
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildReferenceApp } from '../examples/environments';
import { collectAcknowledgements } from '../test/support/gate';

const DOC = path.join(__dirname, '..', 'docs', 'compliance.md');
const MARKER = '<!-- generated: npm run docs:compliance -->';

export function complianceTable(app: App): string {
  const rows = new Map<string, { rule: string; path: string; envs: Set<string>; details: Set<string>; reason: string }>();
  for (const ack of collectAcknowledgements(app)) {
    const rule = ack.id.split('[')[0];
    const env = ack.stack.replace(/^mlops-/, '').replace(/-(data|platform|serving-\d+)$/, '');
    const generic = ack.path.replace(/mlops-(dev|staging|prod)/g, 'mlops-<env>');
    const key = `${rule}|${generic}|${ack.reason}`;
    const row = rows.get(key) ?? { rule, path: generic, envs: new Set(), details: new Set(), reason: ack.reason };
    row.envs.add(env);
    const detail = ack.id.slice(rule.length).replace(/mlops-?(dev|staging|prod)/g, 'mlops-<env>').replace(/-[0-9a-f]{8}(?=[/:*])/g, '-<hash>');
    if (detail) row.details.add(detail);
    rows.set(key, row);
  }
  const order = ['dev', 'staging', 'prod'];
  const lines = [...rows.values()]
    .sort((a, b) => a.path.localeCompare(b.path) || a.rule.localeCompare(b.rule))
    .map((r) => {
      const details = [...r.details].map((d) => `\`${d}\``).join('<br>');
      const envs = order.filter((e) => r.envs.has(e)).join(', ');
      return `| \`${r.rule}\` | ${details} | \`${r.path}\` | ${envs} | ${r.reason.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`;
    });
  return [
    '| Rule | Finding | Resource (path below the stack) | Environments | Why it is acknowledged |',
    '|------|---------|----------------------------------|--------------|------------------------|',
    ...lines,
  ].join('\n');
}

if (require.main === module) {
  const app = new App({ context: JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context });
  buildReferenceApp(app);
  app.synth();
  const doc = fs.readFileSync(DOC, 'utf8');
  const head = doc.includes(MARKER) ? doc.slice(0, doc.indexOf(MARKER)) : doc;
  fs.writeFileSync(DOC, `${head}${MARKER}\n\n${complianceTable(app)}\n`);
  process.stdout.write(`wrote ${DOC}\n`);
}
