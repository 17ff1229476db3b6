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

/** One line of a section, with the stack it comes from; lines equal after `normalize` are grouped. */
interface Entry {
  readonly stack: string;
  readonly text: string;
}

/** Where the full report is, for the notes that say what a section left out. */
const FULL_REPORT = 'the full report (`--full-report <dir>`: review.md and review.json, uploaded by the workflow)';

/**
 * Renders the review as a PR comment that always fits: the header, then sections in priority order (blocking,
 * data-loss warnings, allowed, security, ML changes, cost, compliance), each within its own budget and saying what
 * it left out, never cutting a finding; findings that differ only in environment, model or stack are one line with a
 * count; per-stack details fill what is left.
 */
export function renderMarkdown(report: ReviewReport, options: RenderOptions = {}): string {
  const maxChars = options.maxChars ?? DEFAULT_MAX_MARKDOWN_CHARS;
  const normalize = normalizer(report.groupingNames);
  const header = headerLines(report, normalize).join('\n') + '\n';
  const sections: Array<{ title: string; minimum: number; render: (budget: number) => string }> = [
    { title: '### ⛔ Blocking', minimum: 6000, render: (b) => findingSection('### ⛔ Blocking', report.blocking.map(guardEntry), normalize, b) },
    {
      title: '### ⚠️ Data-loss warnings',
      minimum: 3000,
      render: (b) => findingSection('### ⚠️ Data-loss warnings (development environments)', report.warnings.map(guardEntry), normalize, b),
    },
    {
      title: '### Allowed',
      minimum: 1500,
      render: (b) => findingSection('### Allowed destructive changes', report.allowed.map((g) => ({ stack: g.stack, text: `${where(g)} \`${g.type}\` ${KIND_LABEL[g.kind] ?? g.kind} (allowed by ${g.allowedBy}): ${g.reason}` })), normalize, b),
    },
    { title: '### Security', minimum: 6000, render: (b) => securitySection(report, normalize, b) },
    { title: '### ML changes', minimum: 6000, render: (b) => findingSection('### ML changes', report.ml.map((m) => ({ stack: m.stack, text: `${m.kind}: ${m.line}` })), normalize, b) },
    { title: '### Monthly cost', minimum: 5000, render: (b) => fitLines(costSection(report), b, 'cost rows') },
    {
      title: '### New compliance',
      minimum: 3000,
      render: (b) => findingSection('### New compliance findings', [
        ...report.newFindings.map((f) => ({ stack: '', text: `\`${f.rule}\` (${f.plugin}) on \`${f.resource}\`: ${escapeCell(f.description).slice(0, 200)}` })),
        ...report.newAcknowledgements.map((f) => ({
          stack: '',
          text: `acknowledged in this change: \`${f.rule}\` (${f.plugin}) on \`${f.resource}\`, reason: ${escapeCell(f.acknowledgedReason || '(none given)').slice(0, 200)}`,
        })),
      ], normalize, b),
    },
  ];
  const reserve = 400;
  // The diagram goes in only when it leaves every section its minimum.
  const diagram = blastRadius(report);
  let out = header.length + diagram.length + reserve + sections.reduce((n, x) => n + x.minimum, 0) <= maxChars ? header + diagram : header;
  sections.forEach((section, i) => {
    const later = sections.slice(i + 1).reduce((sum, x) => sum + x.minimum, 0);
    const budget = Math.max(section.minimum, maxChars - reserve - out.length - later);
    out += section.render(Math.min(budget, maxChars - reserve - out.length));
  });
  // Stacks sharing a construct path (a stack name changed) are told apart by their stack names.
  const shared = new Set(report.stacks.filter((s, i) => report.stacks.findIndex((t) => t.id === s.id) !== i).map((s) => s.id));
  const details = report.stacks.filter((s) => s.status !== 'unchanged').map((s) => stackDetails(s, shared.has(s.id)));
  const note = (dropped: number) => `\n> **Truncated:** ${dropped} stack section(s) left out to stay under ${maxChars.toLocaleString('en-US')} characters; `
    + `see ${FULL_REPORT}.\n`;
  let included = 0;
  for (const d of details) {
    if (out.length + d.length + note(details.length).length > maxChars) break;
    out += d;
    included++;
  }
  if (included < details.length) out += note(details.length - included);
  if (out.length > maxChars) {
    // Only when maxChars is smaller than the header itself: cut at a line boundary.
    const cut = `\n> **Truncated:** the summary alone is too long; see ${FULL_REPORT}.\n`;
    const keep = out.slice(0, Math.max(0, maxChars - cut.length));
    out = keep.slice(0, Math.max(0, keep.lastIndexOf('\n'))) + cut;
  }
  return out;
}

const DIAGRAM_STACKS = 12;
const DIAGRAM_RESOURCES = 6;

/**
 * A Mermaid diagram of what the change touches: environment → stack → changed resources, red where it blocks,
 * amber for warnings, grey otherwise; capped at 12 stacks (those with blocking findings first) and 6 resources each.
 */
export function blastRadius(report: ReviewReport): string {
  const changed = report.stacks.filter((s) => s.status !== 'unchanged' && s.changes.length > 0)
    .sort((a, b) => b.blocking.length - a.blocking.length || b.warnings.length - a.warnings.length);
  if (changed.length === 0) return '';
  const id = (() => { let n = 0; const ids = new Map<string, string>(); return (k: string) => ids.get(k) ?? (ids.set(k, `n${n++}`), ids.get(k)!); })();
  const label = (t: string) => t.replace(/["<>{}\[\]|]/g, ' ').slice(0, 60);
  const lines = ['```mermaid', 'flowchart LR', '  classDef block fill:#f8d7da,stroke:#c00', '  classDef warn fill:#fff3cd,stroke:#c90', '  classDef change fill:#eee,stroke:#999'];
  for (const s of changed.slice(0, DIAGRAM_STACKS)) {
    const env = s.environment ?? s.id.split('/')[0];
    lines.push(`  ${id(`env:${env}`)}["${label(env)}"]`, `  ${id(`env:${env}`)} --> ${id(`stack:${s.id}`)}["${label(s.id)}"]`);
    const blocked = new Set(s.blocking.map((g) => g.logicalId));
    const warned = new Set(s.warnings.map((g) => g.logicalId));
    const ordered = [...s.changes].sort((a, b) => Number(blocked.has(b.logicalId)) - Number(blocked.has(a.logicalId)));
    for (const c of ordered.slice(0, DIAGRAM_RESOURCES)) {
      const cls = blocked.has(c.logicalId) ? 'block' : warned.has(c.logicalId) ? 'warn' : 'change';
      lines.push(`  ${id(`stack:${s.id}`)} --> ${id(`res:${s.id}/${c.logicalId}`)}["${label(`${c.logicalId} ${c.kind}`)}"]:::${cls}`);
    }
    if (s.changes.length > DIAGRAM_RESOURCES) lines.push(`  ${id(`stack:${s.id}`)} --> ${id(`more:${s.id}`)}["… ${s.changes.length - DIAGRAM_RESOURCES} more"]:::change`);
  }
  if (changed.length > DIAGRAM_STACKS) lines.push(`  ${id('more')}["… ${changed.length - DIAGRAM_STACKS} more changed stacks"]:::change`);
  lines.push('```', '');
  return `${lines.join('\n')}\n`;
}

function guardEntry(g: GuardFinding): Entry {
  return { stack: g.stack, text: `${where(g)} \`${g.type}\` ${KIND_LABEL[g.kind] ?? g.kind}: ${g.reason}` };
}

/**
 * A function that blanks what repeats per environment, model and stack in a line: environment and model names,
 * and the 8-hex-digit hashes CDK appends to logical ids.
 */
export function normalizer(names: readonly string[]): (text: string) => string {
  const escaped = names.filter((n) => n.length > 1).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pascal = names.filter((n) => n.length > 1).map((n) => n.split(/[-_.]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(''))
    .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const byName = escaped.length > 0 ? new RegExp(`(?<![A-Za-z0-9])(${escaped.join('|')})(?![a-z0-9])`, 'g') : undefined;
  const byPascal = pascal.length > 0 ? new RegExp(`(${pascal.join('|')})(?![a-z])`, 'g') : undefined;
  return (text) => {
    let t = text.replace(/([A-Za-z])[0-9A-F]{8}(?![0-9A-Za-z])/g, '$1');
    if (byName) t = t.replace(byName, '{…}');
    if (byPascal) t = t.replace(byPascal, '{…}');
    return t;
  };
}

/** Groups entries equal after normalizing: one line per group, with a count and the stacks behind `<details>`. */
export function groupLines(entries: readonly Entry[], normalize: (text: string) => string): string[] {
  const groups = new Map<string, Entry[]>();
  for (const e of entries) {
    const key = normalize(e.text);
    groups.set(key, [...groups.get(key) ?? [], e]);
  }
  return [...groups].map(([key, list]) => {
    if (list.length === 1) return `- ${list[0].stack ? `**${list[0].stack}** ` : ''}${list[0].text}`;
    const stacks = [...new Set(list.map((e) => e.stack).filter((x) => x))];
    const shown = list.slice(0, 20).map((e) => `${e.stack ? `${escapeHtml(e.stack)}: ` : ''}${escapeHtml(e.text)}`).join('<br>');
    const more = list.length > 20 ? `<br>… and ${list.length - 20} more` : '';
    return `- ${key} — **×${list.length}**${stacks.length > 1 ? ` in ${stacks.length} stacks` : ''} `
      + `<details><summary>where</summary>${shown}${more}</details>`;
  });
}

/** A section's lines within `budget` characters: whole lines only, then a note of what was left out. */
function fitLines(lines: readonly string[], budget: number, what: string): string {
  const full = `${lines.join('\n')}\n`;
  if (full.length <= budget) return full;
  const out: string[] = [];
  let size = 0;
  const note = (n: number) => `- … ${n} more ${what} left out to fit the comment; see ${FULL_REPORT}.`;
  for (let i = 0; i < lines.length; i++) {
    if (size + lines[i].length + 1 + note(lines.length - i).length + 2 > budget) {
      out.push(note(lines.length - i), '');
      break;
    }
    out.push(lines[i]);
    size += lines[i].length + 1;
  }
  return `${out.join('\n')}\n`;
}

function findingSection(title: string, entries: readonly Entry[], normalize: (text: string) => string, budget: number): string {
  if (entries.length === 0) return '';
  return fitLines([title, '', ...groupLines(entries, normalize), ''], budget, 'grouped finding(s)');
}

function securitySection(report: ReviewReport, normalize: (text: string) => string, budget: number): string {
  const shown = report.security.filter((s) => !s.required && !s.repointed);
  const required = report.security.filter((s) => s.required);
  const repointed = report.security.filter((s) => s.repointed).length;
  if (shown.length === 0 && required.length === 0 && repointed === 0) return '';
  const lines = ['### Security', ''];
  if (repointed > 0) lines.push(`- Unchanged access: ${repointed} IAM statement(s) re-pointed to renamed resources.`);
  if (required.length > 0) {
    const actions = [...new Map(required.map((r) => [r.required!.actions.join(', '), r.required!.why])).entries()];
    lines.push(`- Required wildcards (expected, not broadening): ${required.length} statement(s) in `
      + `${new Set(required.map((r) => r.stack)).size} stack(s) <details><summary>actions and why they take \`*\`</summary>`
      + `${actions.map(([a, why]) => `${escapeHtml(a)}: ${escapeHtml(why)}`).join('<br>')}</details>`);
  }
  const entries = shown.map((s) => ({ stack: s.stack, text: `${s.broadening ? '⚠️ ' : ''}${s.description}` }));
  lines.push(...groupLines(entries, normalize), '');
  return fitLines(lines, budget, 'grouped access change(s)');
}

function headerLines(report: ReviewReport, normalize: (text: string) => string): string[] {
  const lines: string[] = [REVIEW_COMMENT_MARKER, '## MLOps infrastructure review', ''];
  const changed = report.stacks.filter((s) => s.status !== 'unchanged');
  const broadening = report.security.filter((s) => s.broadening).length;
  lines.push(report.blocking.length > 0
    ? `**⛔ ${report.blocking.length} blocking change(s)**: data would be lost. Allow each intended one with \`--allow-destroy <path>\` or mark the stack disposable.`
    : '**✅ No blocking changes.**');
  if (report.warnings.length > 0) lines.push('', `**⚠️ ${report.warnings.length} data-loss warning(s)** in development environments.`);
  lines.push('');
  const tagOnly = changed.length > 0 && changed.every((s) => s.status === 'changed' && s.changes.length > 0
    && s.changes.every((c) => c.kind === ChangeKind.UPDATED && c.changedProperties.every((p) => p === 'Tags')));
  lines.push(...movedLines(report));
  if (tagOnly) lines.push(`- Tag-only change: tags of ${changed.reduce((n, s) => n + s.changes.length, 0)} resource(s) in ${changed.length} stack(s), nothing else.`);
  else lines.push(`- Stacks changed: ${changed.length} of ${report.stacks.length}`);
  const distinct = new Set(report.security.filter((s) => s.broadening).map((s) => normalize(s.description))).size;
  lines.push(`- Access broadened: ${broadening} change(s)${distinct < broadening ? ` (${distinct} distinct, grouped below)` : ''}`);
  const replaced = report.stacks.flatMap((s) => s.changes)
    .filter((c) => !c.stateful && (c.kind === ChangeKind.REPLACED || c.kind === ChangeKind.MAY_BE_REPLACED));
  if (replaced.length > 0) {
    const types = [...new Set(replaced.map((c) => c.type))].map((t) => `${replaced.filter((c) => c.type === t).length} ${t}`);
    lines.push(`- Replaced without data loss: ${replaced.length} resource(s) (${types.join(', ')})`);
  }
  lines.push(`- Monthly cost: ${range(report.cost.baseMinUsd, report.cost.baseMaxUsd)} → ${range(report.cost.headMinUsd, report.cost.headMaxUsd)} `
    + `(${signedUsd(report.cost.deltaMinUsd)} at minimum, ${signedUsd(report.cost.deltaMaxUsd)} at maximum capacity)`);
  const acknowledged = report.newAcknowledgements.length;
  lines.push(`- New compliance findings: ${report.newFindings.length + acknowledged}`
    + `${acknowledged > 0 ? ` (${acknowledged} of them acknowledged in this change)` : ''}`);
  lines.push('');
  return lines;
}

/**
 * One line per construct-path change of stacks whose deployed identity stayed (a construct id renamed): the renamed
 * part of the path (`fraud-dev` → `fraud-dev-v2`) and how many stacks it moved.
 */
function movedLines(report: ReviewReport): string[] {
  const renames = new Map<string, number>();
  for (const s of report.stacks) {
    if (!s.previousId) continue;
    const before = s.previousId.split('/');
    const after = s.id.split('/');
    while (before.length > 1 && after.length > 1 && before[before.length - 1] === after[after.length - 1]) {
      before.pop();
      after.pop();
    }
    const key = `\`${before.join('/')}\` → \`${after.join('/')}\``;
    renames.set(key, (renames.get(key) ?? 0) + 1);
  }
  const lines = [...renames].map(([rename, n]) => `- Construct path changed, same deployed stacks (matched by stack name, account and region): ${rename} (${n} stack(s))`);
  for (const s of report.stacks.filter((x) => x.environmentChange)) {
    lines.push(`- Environment of \`${s.stackName}\` (${s.id}) set: ${s.environmentChange}; reviewed as the same stack, which it is `
      + 'where the environment-agnostic stack was deployed with that account and region');
  }
  // The same construct path deployed under another stack name is another stack: the old one is deleted.
  for (const removed of report.stacks.filter((s) => s.status === 'removed' && !s.parentId)) {
    const added = report.stacks.find((s) => s.status === 'added' && !s.parentId && s.id === removed.id);
    if (added) {
      lines.push(`- Stack name changed: \`${removed.stackName}\` → \`${added.stackName}\` (${removed.id}): CloudFormation creates a new stack `
        + 'and deletes the old one with every resource it does not retain');
    }
  }
  return lines;
}

function costSection(report: ReviewReport): string[] {
  // Stacks whose estimate changed, largest change first; unchanged ones are in the totals.
  const priced = report.stacks.filter((s) => s.cost && (s.cost.deltaMinUsd !== 0 || s.cost.deltaMaxUsd !== 0))
    .sort((a, b) => Math.abs(b.cost!.deltaMaxUsd) - Math.abs(a.cost!.deltaMaxUsd));
  const lines = ['### Monthly cost estimate', ''];
  lines.push('| Stack | Base | Head | Δ at min | Δ at max |', '| --- | ---: | ---: | ---: | ---: |');
  const rows = priced.slice(0, 25);
  for (const s of rows) {
    const c = s.cost!;
    lines.push(`| ${escapeCell(s.id)} | ${range(c.base.minUsd, c.base.maxUsd)} | ${range(c.head.minUsd, c.head.maxUsd)} | ${signedUsd(c.deltaMinUsd)} | ${signedUsd(c.deltaMaxUsd)} |`);
  }
  if (priced.length > rows.length) lines.push(`| … ${priced.length - rows.length} more stack(s) | | | | |`);
  const t = report.cost;
  lines.push(`| **Total** | ${range(t.baseMinUsd, t.baseMaxUsd)} | ${range(t.headMinUsd, t.headMaxUsd)} | **${signedUsd(t.deltaMinUsd)}** | **${signedUsd(t.deltaMaxUsd)}** |`);
  lines.push('', 'Assumptions:', '');
  for (const a of report.assumptions) lines.push(`- ${a}`);
  if (report.unpriced.length > 0) lines.push(`- Not priced (unknown or unresolved capacity): ${report.unpriced.join('; ')}`);
  lines.push('');
  return lines;
}

function stackDetails(s: StackReview, named: boolean): string {
  const counts = Object.values(ChangeKind).map((k) => [k, s.changes.filter((c) => c.kind === k).length] as const).filter(([, n]) => n > 0);
  const summary = `${s.previousId ? `${s.previousId} → ` : ''}${s.id}${s.parentId ? ' (nested)' : named ? ` (stack ${s.stackName})` : ''}: ${s.status}`
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
