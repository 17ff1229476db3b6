import { Check } from './validation';

/**
 * Where a spec is being resolved: the name errors carry (a CDK construct path or a Pulumi component name) and
 * how that engine marks values that are only known at deploy time (CDK tokens, Pulumi outputs), which checks skip.
 */
export interface SpecScope {
  /** Construct path or component name, the `scope` of every ValidationError. */
  readonly scope: string;
  /**
   * Whether a value is a deploy-time placeholder.
   * @default - no value is
   */
  readonly isUnresolved?: (x: unknown) => boolean;
}

/** A Check for a spec scope. */
export function specCheck(scope: SpecScope): Check {
  return new Check(scope.scope, scope.isUnresolved);
}

/** Whether a value is unresolved in this scope. */
export function specUnresolved(scope: SpecScope, value: unknown): boolean {
  return scope.isUnresolved?.(value) ?? false;
}
