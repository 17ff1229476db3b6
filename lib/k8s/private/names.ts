import { createHash } from 'crypto';
import { Check } from '../../core';

/** A DNS-1035 label as Kubernetes requires for Service names: 1-63 lower-case letters, digits and "-", starting with a letter, not ending with "-". */
const DNS_LABEL = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;
/** Longest name of most objects (Services, Namespaces, label values). */
export const MAX_NAME = 63;

/** Validates a name a user gives for an object the construct creates. */
export function checkName(check: Check, prop: string, value: string | undefined, maxLength: number): string | undefined {
  if (value === undefined) return undefined;
  const what = `lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit, at most ${maxLength} characters`;
  if (typeof value !== 'string' || value.length > maxLength || !DNS_LABEL.test(value)) check.fail(prop, value, `must be ${what}`, `change '${prop}' to ${what}.`);
  return value;
}

/**
 * `<base>-<suffix>` as a valid DNS label of at most `maxLength` characters: when too long, the base is shortened and
 * an 8-character hash of the full name keeps distinct names distinct (and the same input always yields the same name).
 */
export function childName(base: string, suffix: string, maxLength = MAX_NAME): string {
  const full = `${base}-${suffix}`;
  if (full.length <= maxLength) return full;
  const hash = shortHash(full);
  const room = maxLength - suffix.length - hash.length - 2;
  return `${base.slice(0, Math.max(1, room)).replace(/-+$/, '')}-${hash}-${suffix}`.slice(0, maxLength).replace(/-+$/, '');
}

/** First 8 hex characters of the SHA-256 of `text`. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}
