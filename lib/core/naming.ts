import { createHash } from 'crypto';
import { Check } from './validation';

/**
 * Builds a deterministic physical name from parts, within a service's length and character rules. When the
 * joined name is too long it is shortened and an 8-character hash of the full name is appended, so two
 * different inputs never collide after truncation and the same input always yields the same name.
 */
export function physicalName(parts: readonly string[], options: { maxLength: number; separator?: string; lowerCase?: boolean } ): string {
  const separator = options.separator ?? '-';
  const raw = parts.filter((p) => p.length > 0).join(separator);
  let name = raw.replace(/[^A-Za-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (options.lowerCase ?? true) name = name.toLowerCase();
  if (name.length <= options.maxLength) return name;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${name.slice(0, options.maxLength - hash.length - 1).replace(/-$/, '')}-${hash}`;
}

/** Validates a short identifier users give (model names, team names, purposes). */
export function validateIdentifier(scope: string, prop: string, value: string, maxLength = 32): string {
  const check = new Check(scope);
  if (value === undefined || value === null) check.fail(prop, value, 'is required', 'give a name of lower-case letters, digits and hyphens.');
  check.matches(prop, value, new RegExp(`^[a-z][a-z0-9-]{0,${maxLength - 1}}$`), `lower-case letters, digits and hyphens, starting with a letter, at most ${maxLength} characters`);
  return value;
}
