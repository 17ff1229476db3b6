import { createHash } from 'crypto';
import { Names } from 'cdk8s';
import { IConstruct } from 'constructs';
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

/**
 * The name of an object a construct creates when the user gives none: cdk8s's `Names.toDnsLabel` (construct path and
 * a hash of it), made a DNS-1035 label. cdk8s keeps "_" and "." from construct ids and may start with a digit (a chart
 * id such as `2024-fraud_team`), which the API server rejects in Service names and label-based host names. Names
 * that are already valid are returned unchanged, so objects already applied keep their names.
 */
export function defaultName(scope: IConstruct, maxLength = MAX_NAME, extra: string[] = []): string {
  const name = Names.toDnsLabel(scope, { maxLen: maxLength, extra });
  if (DNS_LABEL.test(name)) return name;
  const cleaned = name.replace(/[^a-z0-9-]/g, '-').replace(/-{2,}/g, '-').replace(/^-+/, '').replace(/-+$/, '');
  if (/^[a-z]/.test(cleaned)) return cleaned;
  // Replace (not shift) the first character, so the hash at the end, which keeps names distinct, stays whole.
  return `x${cleaned.length >= maxLength ? cleaned.slice(1) : cleaned}`;
}
