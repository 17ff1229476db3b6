// Types only: @pulumi/kubernetes is an optional peer dependency, loaded when a KubernetesWorkloads is created, so
// `mlops-constructs/pulumi` imports without it.
import type * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ValidationError } from '../core';

/** Anything that renders Kubernetes objects the way a cdk8s Chart does (`chart.toJson()`). */
export interface KubernetesManifestSource {
  toJson(): unknown[];
}

export interface KubernetesWorkloadsArgs {
  /** A cdk8s chart built with `mlops-constructs/k8s` (or anything with `toJson()`), or its rendered objects. */
  readonly chart: KubernetesManifestSource | readonly unknown[];
  /**
   * Kubernetes provider (for example the EKS cluster's).
   * @default - the default provider
   */
  readonly provider?: k8s.Provider;
}

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [field: string]: unknown;
}

// Objects other objects live in or are instances of go first; each later object depends on them.
const FOUNDATION_KINDS = new Set(['Namespace', 'CustomResourceDefinition']);

/**
 * Deploys the objects of a cdk8s chart with Pulumi, so Pulumi users get the Kubernetes side of the platform (team
 * namespaces, GPU training jobs, inference services, monitoring rules) from the same `mlops-constructs/k8s` constructs
 * CDK users synthesize. Each object becomes its typed Pulumi resource (a CustomResource for CRD kinds) through
 * `k8s.yaml.ConfigGroup`, parented to this component: namespaces and CRDs in a first group, everything else in a
 * second group that depends on it.
 */
export class KubernetesWorkloads extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:k8s:KubernetesWorkloads';

  /** Namespaces and CustomResourceDefinitions, created first. */
  public readonly foundations: k8s.yaml.ConfigGroup;
  /** Every other object. */
  public readonly workloads: k8s.yaml.ConfigGroup;
  /** The objects deployed, as `<apiVersion>/<kind>/<namespace>/<name>`, in the chart's order. */
  public readonly objectKeys: readonly string[];

  constructor(name: string, args: KubernetesWorkloadsArgs, opts?: pulumi.ComponentResourceOptions) {
    const kubernetes = loadKubernetes(name);
    const objects = renderObjects(name, args.chart);
    super(KubernetesWorkloads.TYPE, name, {}, opts);
    const keys = objects.map(objectKey);
    const duplicate = keys.find((k, i) => keys.indexOf(k) !== i);
    if (duplicate) {
      throw new ValidationError({ scope: `${KubernetesWorkloads.TYPE}(${name})`, prop: 'chart', value: duplicate, problem: 'renders the same object twice', fix: 'give each object a unique name per namespace and kind.' });
    }
    this.objectKeys = keys;
    // Plain JSON copies: ConfigGroup may transform the objects it is given.
    const copy = (list: KubeObject[]) => list.map((o) => JSON.parse(JSON.stringify(o)));
    this.foundations = new kubernetes.yaml.ConfigGroup(`${name}-foundations`, {
      objs: copy(objects.filter((o) => FOUNDATION_KINDS.has(o.kind))), resourcePrefix: name,
    }, { parent: this, provider: args.provider });
    this.workloads = new kubernetes.yaml.ConfigGroup(`${name}-workloads`, {
      objs: copy(objects.filter((o) => !FOUNDATION_KINDS.has(o.kind))), resourcePrefix: name,
    }, { parent: this, provider: args.provider, dependsOn: [this.foundations] });
    this.registerOutputs({ objects: keys });
  }
}

/** `@pulumi/kubernetes`, or a ValidationError saying how to install it. */
function loadKubernetes(name: string): typeof k8s {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@pulumi/kubernetes');
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    throw new ValidationError({
      scope: `${KubernetesWorkloads.TYPE}(${name})`,
      prop: '@pulumi/kubernetes',
      value: undefined,
      problem: 'is not installed (KubernetesWorkloads deploys through it)',
      fix: 'npm install @pulumi/kubernetes: an optional peer dependency of mlops-constructs/pulumi, needed only for KubernetesWorkloads.',
    });
  }
}

function renderObjects(name: string, chart: KubernetesWorkloadsArgs['chart']): KubeObject[] {
  const scope = `${KubernetesWorkloads.TYPE}(${name})`;
  const raw = Array.isArray(chart) ? chart : typeof (chart as KubernetesManifestSource)?.toJson === 'function' ? (chart as KubernetesManifestSource).toJson() : undefined;
  if (raw === undefined) {
    throw new ValidationError({ scope, prop: 'chart', value: chart, problem: 'must be a cdk8s Chart or an array of Kubernetes objects', fix: 'pass the chart built with mlops-constructs/k8s, e.g. new MlopsChart(app, ...).' });
  }
  return raw.map((o, i) => {
    const obj = o as Partial<KubeObject>;
    if (typeof obj?.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new ValidationError({ scope, prop: `chart[${i}]`, value: o, problem: 'is not a Kubernetes object with apiVersion, kind and metadata.name', fix: 'render the chart with cdk8s (chart.toJson()) and pass it unchanged.' });
    }
    return obj as KubeObject;
  });
}

function objectKey(obj: KubeObject): string {
  return `${obj.apiVersion}/${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}
