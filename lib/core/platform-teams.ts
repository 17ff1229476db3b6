import { validateIdentifier } from './naming';
import { EnvironmentProfile } from './profiles';
import { SpecScope, specCheck } from './spec-scope';
import { MlopsTags } from './tags';
import { Check, ValidationError } from './validation';

/** A team using a platform, as both engines' `MlopsPlatform` take it. */
export interface PlatformTeamSpec {
  /** Team name (lower-case letters, digits, hyphens); the `mlops:team` tag and the fair-share identifier. */
  readonly name: string;
  /** Cost center tag of the team's resources. */
  readonly costCenter: string;
  /** Share of training GPUs under contention, in percent; the shares of all teams sum to 100. */
  readonly gpuSharePercent: number;
  /** Monthly budget of the team, filtered on its `mlops:team` tag. @default - no team budget */
  readonly monthlyBudgetUsd?: number;
}

/**
 * Validates a platform's teams (unique names, cost centers valid as tags, GPU shares summing to 100, team budgets within
 * the environment's), blaming each team's own prop; returns copies.
 */
export function validatePlatformTeams<T extends PlatformTeamSpec>(scope: string, teams: readonly T[], profile: EnvironmentProfile): T[] {
  const check = new Check(scope);
  const names = new Set<string>();
  teams.forEach((team, i) => {
    validateIdentifier(scope, `teams[${i}].name`, team.name, 32);
    if (names.has(team.name)) check.fail(`teams[${i}].name`, team.name, 'is a duplicate team name', 'give each team a unique name.');
    names.add(team.name);
    if (team.costCenter === undefined) check.fail(`teams[${i}].costCenter`, undefined, 'is required', 'give the team\'s cost center, e.g. "cc-1042".');
    // Validated as the tag it becomes, but blamed on the team's prop rather than on 'tags.costCenter'.
    try {
      MlopsTags.of({ project: 'x', environment: 'x', costCenter: team.costCenter }, scope);
    } catch (e) {
      if (!ValidationError.isValidationError(e)) throw e;
      check.fail(`teams[${i}].costCenter`, team.costCenter, e.problem, `use a cost center of ${e.problem.replace(/^must be /, '')}.`);
    }
    check.numberInRange(`teams[${i}].gpuSharePercent`, team.gpuSharePercent, 1, 100);
    if (team.monthlyBudgetUsd !== undefined) {
      check.positiveNumber(`teams[${i}].monthlyBudgetUsd`, team.monthlyBudgetUsd);
      // The CostGuard would reject it too, but blaming its own 'monthlyLimitUsd'; say which team prop to change.
      if (team.monthlyBudgetUsd > profile.budget.monthlyLimitUsd) {
        check.fail(`teams[${i}].monthlyBudgetUsd`, team.monthlyBudgetUsd, `must not exceed the environment budget (${profile.budget.monthlyLimitUsd})`,
          `lower the budget of team '${team.name}' or raise the profile's 'budget.monthlyLimitUsd'.`);
      }
    }
  });
  if (teams.length > 0) {
    const total = teams.reduce((sum, t) => sum + t.gpuSharePercent, 0);
    if (Math.abs(total - 100) > 1e-9) {
      check.fail('teams[].gpuSharePercent', total, 'must sum to 100 across teams',
        `adjust the shares (${teams.map((t) => `${t.name} ${t.gpuSharePercent}`).join(', ')}) so they add up to 100.`);
    }
  }
  return teams.map((t) => ({ ...t }));
}

/** A served model's options as every platform checks them (the rest is its serving construct's). */
export interface ServedModelOptionsInput {
  readonly name: string;
  readonly backend: unknown;
  readonly team?: string;
  readonly shard?: number;
}

/**
 * Checks a served model's own options, for every platform: a unique name, a known backend, a shard in range (where the
 * engine shards serving stacks: `shardCount`), a team of the platform.
 */
export function validateServedModelOptions(scope: SpecScope, model: ServedModelOptionsInput, context: {
  readonly served: { has(name: string): boolean };
  readonly backends: readonly string[];
  readonly teams: readonly string[];
  /** @default - the engine does not shard (no shard to check) */
  readonly shardCount?: number;
}): void {
  const check = specCheck(scope);
  validateIdentifier(scope.scope, 'servedModels[].name', model?.name, 40);
  if (context.served.has(model.name)) check.fail('servedModels[].name', model.name, 'is served already', 'give each served model a unique name.');
  check.oneOf(`servedModels(${model.name}).backend`, model.backend, context.backends);
  const shards = context.shardCount;
  if (shards !== undefined) {
    check.integerInRange(`servedModels(${model.name}).shard`, model.shard, 0, shards - 1,
      `pin the model to a shard from 0 to ${shards - 1} (this environment has ${shards} serving shards), or omit 'shard'.`);
  }
  if (model.team !== undefined && !context.teams.includes(model.team)) {
    check.fail(`servedModels(${model.name}).team`, model.team, 'is not a team of the platform',
      `add it to 'teams' or use one of: ${context.teams.join(', ') || '(no teams)'}.`);
  }
}
