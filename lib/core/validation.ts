/**
 * The one error type of the library. Every message names where the problem is (the construct path or
 * the component name), the prop, the value received and how to fix it, so a user never has to read a
 * stack trace to learn what to change.
 */
export interface ValidationErrorDetails {
  /** Construct path, component name or value-class name the bad input was given to. */
  readonly scope: string;
  /** Prop path as the user wrote it, e.g. `lifecycle.noncurrentExpirationDays`. */
  readonly prop: string;
  /** The value received. */
  readonly value: unknown;
  /** What is wrong with it, as a sentence fragment (`must be between 1 and 35`). */
  readonly problem: string;
  /** How to fix it. */
  readonly fix: string;
}

export class ValidationError extends Error {
  /** Type guard that works across module copies (a user's app may load two copies of the library). */
  public static isValidationError(x: unknown): x is ValidationError {
    return typeof x === 'object' && x !== null && (x as { [VALIDATION_ERROR_SYMBOL]?: boolean })[VALIDATION_ERROR_SYMBOL] === true;
  }

  public readonly scope: string;
  public readonly prop: string;
  public readonly value: unknown;
  public readonly problem: string;
  public readonly fix: string;

  constructor(details: ValidationErrorDetails) {
    super(`${details.scope}: '${details.prop}' ${details.problem} (received ${formatValue(details.value)}). Fix: ${details.fix}`);
    this.name = 'ValidationError';
    this.scope = details.scope;
    this.prop = details.prop;
    this.value = details.value;
    this.problem = details.problem;
    this.fix = details.fix;
    Object.defineProperty(this, VALIDATION_ERROR_SYMBOL, { value: true });
  }
}

const VALIDATION_ERROR_SYMBOL = Symbol.for('mlops-constructs.ValidationError');

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Renders a received value for an error message, short and unambiguous. */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // A function's source is noise; its name says what was passed (often a factory that was not called).
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  try {
    const json = JSON.stringify(value);
    return json.length > 120 ? `${json.slice(0, 117)}...` : json;
  } catch {
    return String(value);
  }
}

/**
 * Small checks shared by every engine. Each returns the value so it can be used inline, and skips values the
 * caller marks as unresolved (deploy-time tokens) through `isUnresolved`.
 */
export class Check {
  constructor(
    private readonly scope: string,
    private readonly isUnresolved: (x: unknown) => boolean = () => false,
  ) {}

  /** Throws a ValidationError for this scope. */
  public fail(prop: string, value: unknown, problem: string, fix: string): never {
    throw new ValidationError({ scope: this.scope, prop, value, problem, fix });
  }

  public integerInRange(prop: string, value: number | undefined, min: number, max: number, fix?: string): number | undefined {
    if (value === undefined || this.isUnresolved(value)) return value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(prop, value, `must be a whole number between ${min} and ${max}`, fix ?? `set '${prop}' to a whole number from ${min} to ${max}.`);
    }
    return value;
  }

  public numberInRange(prop: string, value: number | undefined, min: number, max: number, fix?: string): number | undefined {
    if (value === undefined || this.isUnresolved(value)) return value;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(prop, value, `must be a number between ${min} and ${max}`, fix ?? `set '${prop}' to a number from ${min} to ${max}.`);
    }
    return value;
  }

  public positiveInteger(prop: string, value: number | undefined, fix?: string): number | undefined {
    if (value === undefined || this.isUnresolved(value)) return value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      this.fail(prop, value, 'must be a whole number of at least 1', fix ?? `set '${prop}' to 1 or more.`);
    }
    return value;
  }

  public nonNegativeInteger(prop: string, value: number | undefined, fix?: string): number | undefined {
    if (value === undefined || this.isUnresolved(value)) return value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      this.fail(prop, value, 'must be a whole number of 0 or more', fix ?? `set '${prop}' to 0 or more.`);
    }
    return value;
  }

  public positiveNumber(prop: string, value: number | undefined, fix?: string): number | undefined {
    if (value === undefined || this.isUnresolved(value)) return value;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      this.fail(prop, value, 'must be a number greater than 0', fix ?? `set '${prop}' to a number greater than 0.`);
    }
    return value;
  }

  public oneOf<T>(prop: string, value: T | undefined, allowed: readonly T[], fix?: string): T | undefined {
    if (value === undefined || this.isUnresolved(value)) return value;
    if (!allowed.includes(value)) {
      this.fail(prop, value, `must be one of ${allowed.map((a) => formatValue(a)).join(', ')}`, fix ?? `use one of the allowed values for '${prop}'.`);
    }
    return value;
  }

  public matches(prop: string, value: string | undefined, pattern: RegExp, what: string, fix?: string): string | undefined {
    if (value === undefined || this.isUnresolved(value)) return value;
    if (typeof value !== 'string' || !pattern.test(value)) {
      this.fail(prop, value, `must be ${what}`, fix ?? `change '${prop}' to ${what}.`);
    }
    return value;
  }

  /** A list of email addresses (undefined means none). */
  public emailList(prop: string, value: readonly string[] | undefined): string[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.fail(prop, value, 'must be a list of email addresses', "wrap the address in a list: ['ops@example.com'].");
    }
    value.forEach((e, i) => this.matches(`${prop}[${i}]`, e, EMAIL, 'an email address'));
    return [...value];
  }

  public notAbove(propLow: string, low: number | undefined, propHigh: string, high: number | undefined): void {
    if (low === undefined || high === undefined || this.isUnresolved(low) || this.isUnresolved(high)) return;
    if (low > high) {
      this.fail(propLow, low, `must not be greater than '${propHigh}' (${high})`, `lower '${propLow}' or raise '${propHigh}'.`);
    }
  }
}
