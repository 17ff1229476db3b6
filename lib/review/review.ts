import { CostModel, roundUsd } from '../core';
import { ComplianceFinding, LoadedAssembly, ReviewInputError, StackTemplate } from './assembly';
import {
  isAllowed, replacementChanges, diffStack, GuardFinding, sortSecurity, GuardOptions, guard, MlChange, mlChanges, plannedDataLoss, ResourceChange,
  resourceChanges, SecurityFinding, securityFindings,
} from './classify';
import { costDelta, refOf, reviewCostAssumptions, StackCostDelta } from './cost-delta';
import { KUBERNETES_STACK_ID, reviewKubernetes } from './kubernetes';

/** Options of `reviewAssemblies`. */
export interface ReviewOptions extends GuardOptions {
  /**
   * Prices for the cost delta.
   * @default CostModel.default()
   */
  readonly costModel?: CostModel;
}

/** The review of one stack (or nested stack, or the Kubernetes manifests). */
export interface StackReview {
  /** Construct path of the stack in the head (in the base, for a removed stack). */
  readonly id: string;
  /**
   * Construct path in the base, when the stack moved in the construct tree (a construct id renamed) while its deployed
   * identity (stack name, account, region; parent and logical id for a nested stack) stayed: the same stack.
   */
  readonly previousId?: string;
  /**
   * `<account>/<region> → <account>/<region>` when an environment-agnostic stack (`unknown-account`, `unknown-region`)
   * was given an environment, or lost it: paired as the same stack, which it is when deployed with the CLI's account
   * and region.
   */
  readonly environmentChange?: string;
  readonly stackName: string;
  /** The parent's id, for nested stacks. */
  readonly parentId?: string;
  readonly status: 'added' | 'removed' | 'changed' | 'unchanged';
  /** The stack's `mlops:environment` tag. */
  readonly environment?: string;
  readonly disposable: boolean;
  readonly changes: readonly ResourceChange[];
  /** Guard findings not let through. */
  readonly blocking: readonly GuardFinding[];
  /** Protections weakened in a development environment: reported, not blocking. */
  readonly warnings: readonly GuardFinding[];
  /** Guard findings let through by `allowDestroy` or a disposable stack. */
  readonly allowed: readonly GuardFinding[];
  readonly security: readonly SecurityFinding[];
  readonly ml: readonly MlChange[];
  /** Absent for the Kubernetes manifests, which the cost model does not price. */
  readonly cost?: StackCostDelta;
  /** cdk-nag findings present in head and not in base, on this stack's resources. */
  readonly newFindings: readonly ComplianceFinding[];
}

/** The whole review: what the Markdown and the JSON are rendered from. */
export interface ReviewReport {
  readonly stacks: readonly StackReview[];
  readonly blocking: readonly GuardFinding[];
  /** Protections weakened in development environments. */
  readonly warnings: readonly GuardFinding[];
  readonly allowed: readonly GuardFinding[];
  readonly security: readonly SecurityFinding[];
  readonly ml: readonly MlChange[];
  /** cdk-nag findings present in head and not in base, over the whole app. */
  readonly newFindings: readonly ComplianceFinding[];
  /** Findings acknowledged in head and not in base: suppressed in this change, for a reviewer to agree with. */
  readonly newAcknowledgements: readonly ComplianceFinding[];
  /** Monthly estimates of all stacks. */
  readonly cost: {
    readonly baseMinUsd: number;
    readonly baseMaxUsd: number;
    readonly headMinUsd: number;
    readonly headMaxUsd: number;
    readonly deltaMinUsd: number;
    readonly deltaMaxUsd: number;
  };
  readonly assumptions: readonly string[];
  /** Resources the cost model could not price. */
  readonly unpriced: readonly string[];
  /**
   * Environment names (`mlops:environment` stack tags) and model names (`mlops:model` resource tags) of both
   * versions: findings that differ only in these are grouped into one line.
   */
  readonly groupingNames: readonly string[];
}

/** Compares two synthesized versions of an app. */
export function reviewAssemblies(base: LoadedAssembly, head: LoadedAssembly, options: ReviewOptions = {}): ReviewReport {
  const model = options.costModel ?? CostModel.default();
  const pairs = pairStacks(base.stacks, head.stacks);
  const ids = pairs.map((p) => p.id);
  // Construct paths of the base as the head names them, so that a stack moved in the construct tree does not make
  // every finding on it new.
  const moved = pairs.filter((p) => p.previousId).sort((a, b) => b.previousId!.length - a.previousId!.length);
  const inHead = (f: ComplianceFinding): ComplianceFinding => {
    const p = moved.find((m) => f.resource === m.previousId || f.resource.startsWith(`${m.previousId}/`));
    return p ? { ...f, resource: p.id + f.resource.slice(p.previousId!.length) } : f;
  };
  const baseFindingKeys = new Set(base.findings.map(inHead).map((f) => `${f.rule}|${f.resource}`));
  const newFindings = head.findings.filter((f) => !baseFindingKeys.has(`${f.rule}|${f.resource}`));
  const baseAcknowledged = new Set((base.acknowledged ?? []).map(inHead).map((f) => `${f.rule}|${f.resource}`));
  const newAcknowledgements = (head.acknowledged ?? []).filter((f) => !baseAcknowledged.has(`${f.rule}|${f.resource}`));
  const ownerOf = (f: ComplianceFinding): string | undefined => {
    const byPath = head.stacks.find((s) => Object.values(s.paths).includes(f.resource) || s.template.Resources?.[f.resource] !== undefined);
    if (byPath) return byPath.id;
    return ids.filter((id) => f.resource === id || f.resource.startsWith(`${id}/`)).sort((a, b) => b.length - a.length)[0];
  };
  const imports = importLabels([...base.stacks, ...head.stacks]);
  const stacks: StackReview[] = pairs.map((p) => reviewStack(p, p.head ? newFindings.filter((f) => ownerOf(f) === p.id) : [], options, model))
    .map((s) => ({ ...s, security: s.security.map((f) => ({ ...f, description: imports(f.description) })) }));

  const k8s = reviewKubernetes(base.manifests, head.manifests, options);
  if (k8s.changes.length > 0) {
    stacks.push({
      id: KUBERNETES_STACK_ID,
      stackName: 'Kubernetes manifests',
      status: 'changed',
      disposable: (options.disposableStacks ?? []).includes(KUBERNETES_STACK_ID),
      changes: k8s.changes,
      blocking: k8s.guard.filter((g) => !g.allowedBy),
      warnings: [],
      allowed: k8s.guard.filter((g) => g.allowedBy),
      security: k8s.security,
      ml: k8s.ml,
      newFindings: [],
    });
  }
  const all = <T>(pick: (s: StackReview) => readonly T[]): T[] => stacks.flatMap(pick);
  checkAllowDestroy(options.allowDestroy ?? [], stacks);
  const sum = (pick: (c: StackCostDelta) => number) => roundUsd(stacks.reduce((s, st) => s + (st.cost ? pick(st.cost) : 0), 0));
  return {
    stacks,
    blocking: all((s) => s.blocking),
    warnings: all((s) => s.warnings),
    allowed: all((s) => s.allowed),
    security: sortSecurity(all((s) => s.security)),
    ml: all((s) => s.ml),
    newFindings,
    newAcknowledgements,
    cost: {
      baseMinUsd: sum((c) => c.base.minUsd),
      baseMaxUsd: sum((c) => c.base.maxUsd),
      headMinUsd: sum((c) => c.head.minUsd),
      headMaxUsd: sum((c) => c.head.maxUsd),
      deltaMinUsd: sum((c) => c.deltaMinUsd),
      deltaMaxUsd: sum((c) => c.deltaMaxUsd),
    },
    assumptions: reviewCostAssumptions(model),
    groupingNames: groupingNames([...base.stacks, ...head.stacks]),
    unpriced: [...new Set(all((s) => s.cost?.head.unpriced ?? []))],
  };
}

/** A stack of the base and of the head with the same deployed identity (one side missing when added or removed). */
interface StackPair {
  /** The head's construct path (the base's when the stack is removed): what the report names the stack by. */
  readonly id: string;
  /** The base's construct path, when it differs from the head's. */
  readonly previousId?: string;
  readonly base?: StackTemplate;
  readonly head?: StackTemplate;
  /** `<account>/<region> → <account>/<region>`, when an environment-agnostic stack's environment was pinned (or unpinned). */
  readonly environmentChange?: string;
}

/**
 * Pairs the stacks of base and head by deployed identity (stack name, account and region; nested stacks by their
 * parent and logical id), as CloudFormation does: moving a stack in the construct tree (a renamed construct id) keeps
 * it, a changed stack name replaces it. Head order, then removed stacks in base order.
 */
function pairStacks(base: readonly StackTemplate[], head: readonly StackTemplate[]): StackPair[] {
  // An environment-agnostic stack deploys to the account and region the CLI runs with: pinning its environment to
  // them keeps the stack. Without an exact match, a stack of the same name whose account and region agree where both
  // are known is the same stack (when it is the only one); its nested stacks follow.
  const environment = (s: StackTemplate) => s.identity.split('/').slice(0, 2);
  const compatible = (a: StackTemplate, b: StackTemplate) => a.stackName === b.stackName
    && environment(a).every((part, i) => part === environment(b)[i] || part.startsWith('unknown-') || environment(b)[i].startsWith('unknown-'));
  const baseIdentities = new Set(base.map((s) => s.identity));
  const headIdentities = new Set(head.map((s) => s.identity));
  const aliases = new Map<string, string>();
  const environments = new Map<StackTemplate, string>();
  for (const h of head.filter((s) => !s.parentId && !baseIdentities.has(s.identity))) {
    const candidates = base.filter((b) => !b.parentId && !headIdentities.has(b.identity) && compatible(b, h));
    const others = head.filter((x) => !x.parentId && x !== h && candidates.some((b) => compatible(b, x)));
    if (candidates.length !== 1 || others.length > 0 || aliases.has(candidates[0].identity)) continue;
    aliases.set(candidates[0].identity, h.identity);
    environments.set(h, `${environment(candidates[0]).join('/')} → ${environment(h).join('/')}`);
  }
  const identityOf = (s: StackTemplate) => {
    const root = s.identity.split('/').slice(0, 3).join('/');
    const alias = aliases.get(root);
    return alias ? alias + s.identity.slice(root.length) : s.identity;
  };
  // Two stacks of one side with the same identity (the same name deployed twice to one environment would fail)
  // are told apart by their construct path.
  const keyed = (stacks: readonly StackTemplate[], identity: (s: StackTemplate) => string) => {
    const count = new Map<string, number>();
    for (const s of stacks) count.set(identity(s), (count.get(identity(s)) ?? 0) + 1);
    return new Map(stacks.map((s) => [count.get(identity(s))! > 1 ? `${identity(s)}#${s.id}` : identity(s), s]));
  };
  const baseByKey = keyed(base, identityOf);
  const headByKey = keyed(head, (s) => s.identity);
  const pairs: StackPair[] = [];
  for (const [key, h] of headByKey) {
    const b = baseByKey.get(key);
    pairs.push({ id: h.id, previousId: b && b.id !== h.id ? b.id : undefined, base: b, head: h, environmentChange: environments.get(h) });
  }
  for (const [key, b] of baseByKey) {
    if (!headByKey.has(key)) pairs.push({ id: b.id, base: b });
  }
  return pairs;
}

function reviewStack({ id, previousId, base, head, environmentChange }: StackPair, newFindings: readonly ComplianceFinding[],
  options: GuardOptions, model: CostModel): StackReview {
  const diff = diffStack(base, head);
  const changes = resourceChanges(diff, base, head);
  // Disposability is read from the base: a PR cannot mark a stack disposable and destroy its data in one go.
  const templateFindings = guard(id, changes, diff, base ?? head, options);
  const guardFindings = [...templateFindings, ...plannedDataLoss(id, base, templateFindings, options)];
  const status = !base ? 'added' : !head ? 'removed' : changes.length > 0 || !diff.isEmpty ? 'changed' : 'unchanged';
  return {
    id,
    ...previousId ? { previousId } : {},
    ...environmentChange ? { environmentChange } : {},
    stackName: (head ?? base)!.stackName,
    parentId: (head ?? base)!.parentId,
    status,
    environment: (head ?? base)!.tags['mlops:environment'],
    disposable: base?.disposable ?? false,
    changes,
    blocking: guardFindings.filter((g) => !g.allowedBy && !g.warning),
    warnings: guardFindings.filter((g) => !g.allowedBy && g.warning),
    allowed: guardFindings.filter((g) => g.allowedBy),
    security: securityFindings(id, diff, base?.template, head?.template),
    ml: [...mlChanges(id, base?.template, head?.template), ...replacementChanges(id, changes)],
    cost: costDelta(base?.template, head?.template, model),
    newFindings,
  };
}

/**
 * Rewrites `{"Fn::ImportValue":"<export>"}` in rendered text as `import of <stack>: <construct path>` for exports
 * of the assembly's stacks, and `import of <export>` otherwise.
 */
export function importLabels(stacks: readonly StackTemplate[]): (text: string) => string {
  const labels = new Map<string, string>();
  for (const s of stacks) {
    for (const output of Object.values<any>(s.template.Outputs ?? {})) {
      const name = output?.Export?.Name;
      const id = refOf(output?.Value);
      if (typeof name !== 'string' || !id) continue;
      const where = (s.paths[id] ?? id).replace(/\/(Resource|Default)$/, '');
      labels.set(name, `${s.id}: ${where.startsWith(`${s.id}/`) ? where.slice(s.id.length + 1) : where}`);
    }
  }
  return (text) => text.replace(/\{\\?"Fn::ImportValue\\?":\\?"([^"\\]+)\\?"\}/g, (_m, name: string) => `import of ${labels.get(name) ?? name}`);
}

/** Environment and model names of an app: what findings that repeat per environment or model differ in. */
function groupingNames(stacks: readonly StackTemplate[]): string[] {
  const names = new Set<string>();
  for (const s of stacks) {
    const env = s.tags['mlops:environment'];
    if (env) names.add(env);
    for (const r of Object.values(s.template.Resources ?? {})) {
      for (const tag of Array.isArray(r?.Properties?.Tags) ? r.Properties!.Tags : []) {
        if (tag?.Key === 'mlops:model' && typeof tag.Value === 'string') names.add(tag.Value);
      }
    }
  }
  return [...names].sort((a, b) => b.length - a.length || a.localeCompare(b));
}

/**
 * Every `--allow-destroy` entry must be qualified (`<stack>/<logical id>`, a construct path, or `<Kind>/<name>` for
 * Kubernetes) and let at least one change through: a bare logical id would allow the deletion in every environment
 * at once, and an entry that matches nothing is a typo or a stale allow. Both throw `ReviewInputError` (exit 2)
 * naming the paths it could have meant.
 */
export function checkAllowDestroy(allow: readonly string[], stacks: readonly StackReview[]): void {
  const candidates = stacks.flatMap((s) => [...s.blocking, ...s.warnings, ...s.allowed].map((g) => ({ g, s })));
  const pathsOf = (g: GuardFinding) => (g.stack === KUBERNETES_STACK_ID ? [`${g.type}/${g.logicalId.split('/').pop()}`] : [`${g.stack}/${g.logicalId}`, ...g.path ? [g.path.replace(/\/Resource$/, '')] : []]);
  const all = [...new Set(candidates.flatMap(({ g }) => pathsOf(g)))];
  for (const raw of allow) {
    const a = raw.replace(/^\//, '').replace(/\/$/, '');
    if (!a.includes('/')) {
      const matching = all.filter((p) => p.endsWith(`/${a}`));
      throw new ReviewInputError(`--allow-destroy ${raw}: a bare logical id is refused (it would allow the change in every environment); `
        + `qualify it with its stack or construct path${matching.length > 0 ? `: ${matching.join(', ')}` : ''}.`);
    }
    const matched = candidates.some(({ g, s }) => (g.stack === KUBERNETES_STACK_ID
      ? pathsOf(g).includes(a) || a === g.logicalId
      : isAllowed(g.stack, s.stackName, g.logicalId, g.path, [a])));
    if (!matched) {
      const nearest = [...all].sort((x, y) => distance(a, x) - distance(a, y)).slice(0, 3);
      throw new ReviewInputError(`--allow-destroy ${raw} matches no destructive change${nearest.length > 0 ? `; nearest: ${nearest.join(', ')}` : ' (there is none)'}.`);
    }
  }
}

/** Levenshtein distance, for suggesting the path an allow meant. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}
