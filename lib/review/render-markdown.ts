import { ChangeKind, GuardFinding } from './classify';
import { ReviewReport, StackReview } from './review';

/** Hidden marker at the top of the comment, so a workflow can find and update its previous comment. */
export const REVIEW_COMMENT_MARKER = '<!-- mlops-review -->';

/** GitHub rejects comments over 65,536 characters; stay well under. */
export const DEFAULT_MAX_MARKDOWN_CHARS = 60_000;

export interface RenderOptions {
  /**
   * Longest Markdown to produce; per-stack details are dropped (with a note) to fit.
   * @default DEFAULT_MAX_MARKDOWN_CHARS
   */
  readonly maxChars?: number;
}

/** Formats dollars: `$1,234.56`. */
export function usd(value: number): string {
  return `$${Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** Formats a dollar difference with its sign: `+$12.00`, `-$3.50`, `$0.00`. */
export function signedUsd(value: number): string {
  if (value === 0) return '$0.00';
  return `${value > 0 ? '+' : '-'}${usd(value)}`;
}

function range(min: number, max: number): string {
  return min === max ? usd(min) : `${usd(min)} – ${usd(max)}`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function where(g: GuardFinding): string {
  return g.path ? `\`${g.path}\` (${g.logicalId})` : `\`${g.logicalId}\``;
}

const KIND_LABEL: Record<string, string> = {
  [ChangeKind.REPLACED]: 'replaced',
  [ChangeKind.MAY_BE_REPLACED]: 'may be replaced',
  [ChangeKind.REMOVED]: 'removed',
  [ChangeKind.ORPHANED]: 'orphaned',
  'protection-weakened': 'protection weakened',
};

/** Renders the review as a PR comment: summary first, then one collapsible section per stack. */
export function renderMarkdown(report: ReviewReport, options: RenderOptions = {}): string {
  const maxChars = options.maxChars ?? DEFAULT_MAX_MARKDOWN_CHARS;
  const head = summarySections(report);
  const details = report.stacks.filter((s) => s.status !== 'unchanged').map(stackDetails);
  const note = (dropped: number) => `\n> **Truncated:** ${dropped} stack section(s) left out to stay under ${maxChars.toLocaleString('en-US')} characters; `
    + 'run `mlops-review --json` for the full report.\n';
  let out = head;
  let included = 0;
  for (const d of details) {
    const reserve = included < details.length - 1 ? note(details.length).length : 0;
    if (out.length + d.length + reserve > maxChars) break;
    out += d;
    included++;
  }
  if (included < details.length) out += note(details.length - included);
  if (out.length > maxChars) {
    const cut = '\n\n> **Truncated:** the summary alone is too long; run `mlops-review --json` for the full report.\n';
    out = out.slice(0, maxChars - cut.length) + cut;
  }
  return out;
}

function summarySections(report: ReviewReport): string {
  const lines: string[] = [REVIEW_COMMENT_MARKER, '## MLOps infrastructure review', ''];
  const changed = report.stacks.filter((s) => s.status !== 'unchanged');
  const broadening = report.security.filter((s) => s.broadening).length;
  lines.push(report.blocking.length > 0
    ? `**⛔ ${report.blocking.length} blocking change(s)**: data would be lost. Allow each intended one with \`--allow-destroy <path>\` or mark the stack disposable.`
    : '**✅ No blocking changes.**');
  if (report.warnings.length > 0) lines.push('', `**⚠️ ${report.warnings.length} data-loss warning(s)** in development environments.`);
  lines.push('');
  lines.push(`- Stacks changed: ${changed.length} of ${report.stacks.length}`);
  lines.push(`- Access broadened: ${broadening} change(s)`);
  const replaced = report.stacks.flatMap((s) => s.changes)
    .filter((c) => !c.stateful && (c.kind === ChangeKind.REPLACED || c.kind === ChangeKind.MAY_BE_REPLACED));
  if (replaced.length > 0) {
    const types = [...new Set(replaced.map((c) => c.type))].map((t) => `${replaced.filter((c) => c.type === t).length} ${t}`);
    lines.push(`- Replaced without data loss: ${replaced.length} resource(s) (${types.join(', ')})`);
  }
  lines.push(`- Monthly cost: ${range(report.cost.baseMinUsd, report.cost.baseMaxUsd)} → ${range(report.cost.headMinUsd, report.cost.headMaxUsd)} `
    + `(${signedUsd(report.cost.deltaMinUsd)} at minimum, ${signedUsd(report.cost.deltaMaxUsd)} at maximum capacity)`);
  lines.push(`- New compliance findings: ${report.newFindings.length}`);
  lines.push('');

  if (report.blocking.length > 0) {
    lines.push('### ⛔ Blocking', '');
    for (const g of report.blocking) lines.push(`- **${g.stack}** ${where(g)} \`${g.type}\` ${KIND_LABEL[g.kind] ?? g.kind}: ${g.reason}`);
    lines.push('');
  }
  if (report.warnings.length > 0) {
    lines.push('### ⚠️ Data-loss warnings (development environments)', '');
    for (const g of report.warnings) lines.push(`- **${g.stack}** ${where(g)} \`${g.type}\` ${KIND_LABEL[g.kind] ?? g.kind}: ${g.reason}`);
    lines.push('');
  }
  if (report.allowed.length > 0) {
    lines.push('### Allowed destructive changes', '');
    for (const g of report.allowed) {
      lines.push(`- **${g.stack}** ${where(g)} \`${g.type}\` ${KIND_LABEL[g.kind] ?? g.kind} (allowed by ${g.allowedBy}): ${g.reason}`);
    }
    lines.push('');
  }
  if (report.security.length > 0) {
    lines.push('### Security', '');
    for (const s of report.security) lines.push(`- ${s.broadening ? '⚠️ ' : ''}**${s.stack}**: ${s.description}`);
    lines.push('');
  }
  if (report.ml.length > 0) {
    lines.push('### ML changes', '');
    for (const m of report.ml) lines.push(`- **${m.stack}** ${m.kind}: ${m.line}`);
    lines.push('');
  }
  lines.push(...costSection(report));
  if (report.newFindings.length > 0) {
    lines.push('### New compliance findings', '');
    for (const f of report.newFindings.slice(0, 50)) lines.push(`- \`${f.rule}\` (${f.plugin}) on \`${f.resource}\`: ${escapeCell(f.description).slice(0, 200)}`);
    if (report.newFindings.length > 50) lines.push(`- … and ${report.newFindings.length - 50} more`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

function costSection(report: ReviewReport): string[] {
  const priced = report.stacks.filter((s) => s.cost && (s.cost.base.items.length > 0 || s.cost.head.items.length > 0));
  const lines = ['### Monthly cost estimate', ''];
  lines.push('| Stack | Base | Head | Δ at min | Δ at max |', '| --- | ---: | ---: | ---: | ---: |');
  for (const s of priced) {
    const c = s.cost!;
    lines.push(`| ${escapeCell(s.id)} | ${range(c.base.minUsd, c.base.maxUsd)} | ${range(c.head.minUsd, c.head.maxUsd)} | ${signedUsd(c.deltaMinUsd)} | ${signedUsd(c.deltaMaxUsd)} |`);
  }
  const t = report.cost;
  lines.push(`| **Total** | ${range(t.baseMinUsd, t.baseMaxUsd)} | ${range(t.headMinUsd, t.headMaxUsd)} | **${signedUsd(t.deltaMinUsd)}** | **${signedUsd(t.deltaMaxUsd)}** |`);
  lines.push('', 'Assumptions:', '');
  for (const a of report.assumptions) lines.push(`- ${a}`);
  if (report.unpriced.length > 0) lines.push(`- Not priced (unknown or unresolved capacity): ${report.unpriced.join('; ')}`);
  lines.push('');
  return lines;
}

function stackDetails(s: StackReview): string {
  const counts = Object.values(ChangeKind).map((k) => [k, s.changes.filter((c) => c.kind === k).length] as const).filter(([, n]) => n > 0);
  const summary = `${s.id}${s.parentId ? ' (nested)' : ''}: ${s.status}`
    + `${counts.length > 0 ? ` — ${counts.map(([k, n]) => `${n} ${k}`).join(', ')}` : ''}${s.blocking.length > 0 ? ` — ⛔ ${s.blocking.length} blocking` : ''}`;
  const lines = ['<details>', `<summary>${escapeHtml(summary)}</summary>`, ''];
  if (s.disposable) lines.push('_Stack marked disposable (`mlops:disposable=true`)._', '');
  if (s.changes.length > 0) {
    lines.push('| Change | Resource | Type | Properties |', '| --- | --- | --- | --- |');
    for (const c of s.changes) {
      lines.push(`| ${c.kind}${c.stateful ? ' (stateful)' : ''} | ${escapeCell(c.path ?? c.logicalId)} | ${c.type} | ${escapeCell(c.changedProperties.slice(0, 8).join(', '))} |`);
    }
    lines.push('');
  }
  if (s.cost && (s.cost.base.items.length > 0 || s.cost.head.items.length > 0)) {
    lines.push(`Cost: ${range(s.cost.base.minUsd, s.cost.base.maxUsd)} → ${range(s.cost.head.minUsd, s.cost.head.maxUsd)}`, '');
    const capacity = s.cost.head.items.filter((x) => x.category === 'instances' || x.category === 'aurora');
    for (const i of capacity) lines.push(`- ${i.logicalId}: ${i.description}, ${range(i.minUsd, i.maxUsd)}`);
    if (capacity.length > 0) lines.push('');
  }
  lines.push('</details>', '');
  return `${lines.join('\n')}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
