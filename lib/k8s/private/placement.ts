import { Chart } from 'cdk8s';
import { IConstruct } from 'constructs';
import { Check, validateIdentifier } from '../../core';
import { TeamNamespace } from '../team-namespace';
import { tagsOf } from './scope';

/** Where a workload runs and which labels and identity it carries. */
export interface Placement {
  /** Namespace, or undefined for the chart's namespace. */
  readonly namespace?: string;
  readonly team?: TeamNamespace;
  /** Cost-allocation labels for objects and pod templates. */
  readonly labels: Record<string, string>;
  readonly serviceAccountName?: string;
}

/** Resolves a `namespace` prop (a TeamNamespace or a name) and a `serviceAccountName` prop. */
export function resolvePlacement(
  scope: IConstruct,
  check: Check,
  namespace: TeamNamespace | string | undefined,
  serviceAccountName: string | undefined,
): Placement {
  if (serviceAccountName !== undefined) validateIdentifier(scope.node.path, 'serviceAccountName', serviceAccountName, 63);
  if (TeamNamespace.isTeamNamespace(namespace)) {
    return {
      namespace: namespace.namespaceName,
      team: namespace,
      labels: namespace.labels,
      serviceAccountName: serviceAccountName ?? namespace.serviceAccountName,
    };
  }
  if (namespace !== undefined && typeof namespace !== 'string') {
    check.fail('namespace', namespace, 'must be a TeamNamespace or a namespace name', 'pass the TeamNamespace construct or its name.');
  }
  if (namespace !== undefined) validateIdentifier(scope.node.path, 'namespace', namespace, 63);
  // A namespace named like a TeamNamespace of the same app is that namespace: its quota counts this workload too.
  const named = namespace === undefined ? undefined : scope.node.root.node.findAll()
    .find((c): c is TeamNamespace => TeamNamespace.isTeamNamespace(c) && c.namespaceName === namespace);
  if (named) return resolvePlacement(scope, check, named, serviceAccountName);
  return {
    namespace: namespace ?? Chart.of(scope).namespace,
    labels: tagsOf(scope)?.toKubernetesLabels() ?? {},
    serviceAccountName,
  };
}

/** Validates user environment variables: names as Kubernetes accepts them, none of the reserved ones. */
export function checkEnv(check: Check, env: Record<string, string> | undefined, reserved: readonly string[]): Record<string, string> {
  for (const [name, value] of Object.entries(env ?? {})) {
    check.matches(`env.${name}`, name, /^[A-Za-z_][A-Za-z0-9_.-]*$/, 'an environment variable name (letters, digits, "_", "-", ".", not starting with a digit)');
    if (reserved.includes(name)) {
      check.fail(`env.${name}`, value, 'is set by the construct', `remove '${name}' from 'env'; the construct sets ${reserved.join(', ')}.`);
    }
    if (typeof value !== 'string') check.fail(`env.${name}`, value, 'must be a string', `quote the value, e.g. '${String(value)}'.`);
  }
  return env ?? {};
}

const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/** Validates a map of Kubernetes labels (keys with an optional DNS prefix, values of at most 63 characters). */
export function checkLabels(check: Check, prop: string, labels: Record<string, string> | undefined): Record<string, string> | undefined {
  for (const [key, value] of Object.entries(labels ?? {})) {
    check.matches(`${prop}.${key}`, key, LABEL_KEY, 'a label key (optional DNS prefix and "/", then up to 63 letters, digits, "-", "_" or ".")');
    check.matches(`${prop}.${key}`, value, LABEL_VALUE, 'a label value (up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit)');
  }
  return labels;
}
