import { Names } from 'cdk8s';
import { k8s } from 'cdk8s-plus-32';
import { Construct } from 'constructs';
import { CANDIDATE_VARIANT, CURRENT_VARIANT, EnvironmentProfile, GpuInstance, Rollout, RolloutKind, validateIdentifier } from '../core';
import { httpRoute, HttpBackendRef, HttpRouteFilter } from './private/crds';
import { checkEnv, resolvePlacement } from './private/placement';
import {
  checkImage, checkQuantity, containerResources, DEFAULT_RUN_AS_USER, GPU_NODE_LABEL, gpuToleration,
  restrictedContainerSecurityContext, restrictedPodSecurityContext,
} from './private/pod-security';
import { checkFor, profileOf } from './private/scope';
import { ScalingMetric, ScalingMetricKind } from './scaling-metric';
import { DEFAULT_GATEWAY_NAMESPACE, TeamNamespace } from './team-namespace';

/** The Gateway API Gateway the HTTPRoute attaches to. */
export interface GatewayReference {
  /** Gateway name. */
  readonly name: string;
  /**
   * Gateway namespace.
   * @default - the TeamNamespace's gateway namespace, or 'inference-gateway'
   */
  readonly namespace?: string;
  /**
   * Listener name.
   * @default - every listener that accepts the route
   */
  readonly sectionName?: string;
}

export interface InferenceServiceProps {
  /** Image serving the current model, pinned to a tag or digest. */
  readonly image: string;
  /**
   * Image of the candidate model; required by canary, linear, blue/green and shadow rollouts.
   * @default - none
   */
  readonly candidateImage?: string;
  /**
   * Image per variant of an A/B rollout (one per name in `Rollout.abTest({ weights })`).
   * @default - none
   */
  readonly variantImages?: Record<string, string>;
  /**
   * How the candidate takes traffic, rendered as HTTPRoute weights and mirrors.
   * @default Rollout.allAtOnce()
   */
  readonly rollout?: Rollout;
  /**
   * Render the end state of a canary, linear or blue/green rollout: all traffic on the candidate.
   * @default false
   */
  readonly promoted?: boolean;
  /**
   * Base name of the Deployments, Services and HTTPRoute.
   * @default - a unique name derived from the construct path
   */
  readonly serviceName?: string;
  /**
   * Namespace. A `TeamNamespace` also supplies the ServiceAccount, the gateway namespace and checks the GPU quota.
   * @default - the chart's namespace
   */
  readonly namespace?: TeamNamespace | string;
  /**
   * ServiceAccount the pods run as.
   * @default - the TeamNamespace's ServiceAccount, or the namespace's default one
   */
  readonly serviceAccountName?: string;
  /**
   * Port the model server listens on (named `http`; also serves `/metrics`).
   * @default 8080
   */
  readonly port?: number;
  /**
   * NVIDIA GPUs per replica, 0-8 (0 for a CPU model).
   * @default 1
   */
  readonly gpusPerReplica?: number;
  /**
   * CPU per replica (request and limit).
   * @default '2'
   */
  readonly cpu?: string;
  /**
   * Memory per replica (request and limit).
   * @default '8Gi'
   */
  readonly memory?: string;
  /**
   * Instance type to pin GPU pods to; its GPU count bounds `gpusPerReplica`.
   * @default - any node labelled `nvidia.com/gpu.present=true`
   */
  readonly instance?: GpuInstance;
  /**
   * Fewest replicas per variant.
   * @default - the profile's `minCapacity.inferenceInstances`, at least 1 (dev 1, prod 2)
   */
  readonly minReplicas?: number;
  /**
   * Most replicas per variant.
   * @default - 5 x minReplicas
   */
  readonly maxReplicas?: number;
  /**
   * What the autoscaler tracks.
   * @default ScalingMetric.cpuUtilization(70)
   */
  readonly scaleOn?: ScalingMetric;
  /**
   * HTTP path that answers 200 once the model is loaded.
   * @default '/v2/health/ready'
   */
  readonly readinessPath?: string;
  /**
   * HTTP path that answers 200 while the server is alive.
   * @default '/v2/health/live'
   */
  readonly livenessPath?: string;
  /**
   * Gateway the HTTPRoute attaches to.
   * @default - `{ name: 'inference' }` in the gateway namespace
   */
  readonly gateway?: GatewayReference;
  /**
   * Host names the route answers.
   * @default - every host name of the gateway listener
   */
  readonly hostnames?: string[];
  /**
   * Path prefix the route matches.
   * @default '/'
   */
  readonly pathPrefix?: string;
  /**
   * Extra environment variables.
   * @default - none
   */
  readonly env?: Record<string, string>;
  /**
   * UID and GID the container runs as (non-root).
   * @default 1000
   */
  readonly runAsUser?: number;
  /**
   * Profile the defaults come from.
   * @default - the profile of the enclosing `MlopsChart`, or `EnvironmentProfile.prod()` outside one
   */
  readonly profile?: EnvironmentProfile;
}

/** Label key telling variants of one service apart. */
export const VARIANT_LABEL = 'mlops-constructs.io/variant';
/** Service port the variants expose. */
export const SERVICE_PORT = 80;

interface Variant {
  readonly variant: string;
  readonly image: string;
  /** Share of live traffic; undefined for a single backend. */
  readonly weight?: number;
  readonly mirrorPercent?: number;
}

const NEEDS_CANDIDATE = [RolloutKind.CANARY, RolloutKind.LINEAR, RolloutKind.BLUE_GREEN, RolloutKind.SHADOW];

/**
 * A model server behind the Gateway API: per variant a Deployment, Service, HorizontalPodAutoscaler and
 * PodDisruptionBudget, and one HTTPRoute rendering the core `Rollout` (weights for canary, linear and A/B,
 * a switch for blue/green, a request mirror for shadow). Pods run under the restricted security profile,
 * spread over zones and nodes, and are probed for readiness and liveness.
 *
 * @example
 * new InferenceService(chart, 'Scoring', {
 *   namespace: team,
 *   image: 'registry.example.com/scorer:1.0.0',
 *   candidateImage: 'registry.example.com/scorer:1.1.0',
 *   rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
 * });
 */
export class InferenceService extends Construct {
  public readonly serviceName: string;
  /** Name of the HTTPRoute. */
  public readonly routeName: string;
  /** Variant names, each with its own Deployment and Service. */
  public readonly variants: string[];
  /** Labels shared by every variant's Service (what a ServiceMonitor selects). */
  public readonly serviceLabels: Record<string, string>;
  public readonly minReplicas: number;
  public readonly maxReplicas: number;
  public readonly profile: EnvironmentProfile;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    props = props ?? {};
    const check = checkFor(this);
    this.profile = props.profile ?? profileOf(this);
    const image = checkImage(check, 'image', props?.image);
    const placement = resolvePlacement(this, check, props.namespace, props.serviceAccountName);
    const rollout = props.rollout ?? Rollout.allAtOnce();
    if (typeof rollout?.initialSplit !== 'function') {
      check.fail('rollout', rollout, 'must be a Rollout', 'use Rollout.allAtOnce(), .canary(), .linear(), .abTest(), .blueGreen() or .shadow().');
    }
    this.serviceName = props.serviceName === undefined
      ? Names.toDnsLabel(this, { maxLen: 40 })
      : validateIdentifier(this.node.path, 'serviceName', props.serviceName, 40);
    const port = check.integerInRange('port', props.port, 1024, 65535, 'use an unprivileged port (1024-65535); the container runs as non-root.') ?? 8080;
    const gpus = check.integerInRange('gpusPerReplica', props.gpusPerReplica, 0, 8) ?? 1;
    const cpu = checkQuantity(check, 'cpu', props.cpu) ?? '2';
    const memory = checkQuantity(check, 'memory', props.memory) ?? '8Gi';
    const runAsUser = check.integerInRange('runAsUser', props.runAsUser, 1, 2147483647, 'run as a non-root UID (1 or more).') ?? DEFAULT_RUN_AS_USER;
    this.minReplicas = check.integerInRange('minReplicas', props.minReplicas, 1, 1000) ?? Math.max(1, this.profile.minCapacity.inferenceInstances);
    this.maxReplicas = check.integerInRange('maxReplicas', props.maxReplicas, 1, 1000) ?? this.minReplicas * 5;
    if (this.minReplicas > this.maxReplicas) {
      check.fail('minReplicas', this.minReplicas, `must not be greater than 'maxReplicas' (${this.maxReplicas})`, "lower 'minReplicas' or raise 'maxReplicas'.");
    }
    const scaleOn = props.scaleOn ?? ScalingMetric.cpuUtilization(70);
    if (!Object.values(ScalingMetricKind).includes(scaleOn?.kind)) {
      check.fail('scaleOn', scaleOn, 'must be a ScalingMetric', 'use ScalingMetric.cpuUtilization(70) or ScalingMetric.requestsPerSecond(20).');
    }
    const readinessPath = check.matches('readinessPath', props.readinessPath, /^\/\S*$/, 'an absolute HTTP path') ?? '/v2/health/ready';
    const livenessPath = check.matches('livenessPath', props.livenessPath, /^\/\S*$/, 'an absolute HTTP path') ?? '/v2/health/live';
    const pathPrefix = check.matches('pathPrefix', props.pathPrefix, /^\/\S*$/, 'an absolute HTTP path') ?? '/';
    (props.hostnames ?? []).forEach((h, i) => check.matches(`hostnames[${i}]`, h, /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'a DNS host name'));
    const gateway = props.gateway ?? { name: 'inference' };
    validateIdentifier(this.node.path, 'gateway.name', gateway.name, 63);
    const gatewayNamespace = gateway.namespace === undefined
      ? placement.team?.gatewayNamespace ?? DEFAULT_GATEWAY_NAMESPACE
      : validateIdentifier(this.node.path, 'gateway.namespace', gateway.namespace, 63);
    if (props.instance !== undefined && typeof props.instance?.instanceType !== 'string') {
      check.fail('instance', props.instance, 'must be a GpuInstance', "pass GpuInstance.of('g5.2xlarge').");
    }
    if (props.instance !== undefined && gpus > props.instance.gpus) {
      check.fail('gpusPerReplica', gpus, `is more than the ${props.instance.gpus} GPUs of ${props.instance.instanceType}`,
        `lower 'gpusPerReplica' to ${props.instance.gpus} or pick an instance type with more NVIDIA GPUs.`);
    }
    const userEnv = checkEnv(check, props.env, ['MODEL_VARIANT', 'PORT']);

    const variants = this.resolveVariants(rollout, image, props);
    this.variants = variants.map((v) => v.variant);
    placement.team?.checkGpuRequest(this.node.path, 'minReplicas', gpus * this.minReplicas * variants.length,
      `${variants.length} variant(s) x ${this.minReplicas} replica(s) x ${gpus} GPU(s) = ${gpus * this.minReplicas * variants.length} GPUs`);

    const single = variants.length === 1;
    const nameOf = (variant: string) => (single ? this.serviceName : `${this.serviceName}-${variant}`);
    const metadata = (name: string, extra: Record<string, string> = {}) =>
      ({ name, namespace: placement.namespace, labels: { ...placement.labels, ...extra } });
    this.serviceLabels = { 'app.kubernetes.io/name': this.serviceName, 'app.kubernetes.io/component': 'inference' };

    const backendRefs: HttpBackendRef[] = [];
    const filters: HttpRouteFilter[] = [];
    for (const v of variants) {
      const name = nameOf(v.variant);
      const selector = { 'app.kubernetes.io/name': this.serviceName, [VARIANT_LABEL]: v.variant };
      const podLabels = { ...placement.labels, ...this.serviceLabels, ...selector };
      const variantScope = new Construct(this, single ? 'Default' : v.variant);
      const deployment = new k8s.KubeDeployment(variantScope, 'Deployment', {
        metadata: metadata(name, podLabels),
        spec: {
          replicas: this.minReplicas,
          selector: { matchLabels: selector },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
          template: {
            metadata: { labels: podLabels },
            spec: this.podSpec({
              image: v.image,
              variant: v.variant,
              port,
              gpus,
              cpu,
              memory,
              runAsUser,
              readinessPath,
              livenessPath,
              selector,
              serviceAccountName: placement.serviceAccountName,
              instance: props.instance,
              env: userEnv,
            }),
          },
        },
      });
      const service = new k8s.KubeService(variantScope, 'Service', {
        metadata: metadata(name, { ...this.serviceLabels, [VARIANT_LABEL]: v.variant }),
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: 'http', port: SERVICE_PORT, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' }],
        },
      });
      new k8s.KubeHorizontalPodAutoscalerV2(variantScope, 'Autoscaler', {
        metadata: metadata(name),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.name },
          minReplicas: this.minReplicas,
          maxReplicas: this.maxReplicas,
          metrics: [scaleOn.kind === ScalingMetricKind.CPU_UTILIZATION
            ? { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: scaleOn.target } } }
            : {
              type: 'Pods',
              pods: { metric: { name: scaleOn.metricName! }, target: { type: 'AverageValue', averageValue: k8s.Quantity.fromString(String(scaleOn.target)) } },
            }],
          // Model servers are slow to start; scale in only after load has stayed low for five minutes.
          behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        },
      });
      new k8s.KubePodDisruptionBudget(variantScope, 'DisruptionBudget', {
        metadata: metadata(name),
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
      });
      if (v.mirrorPercent !== undefined) {
        filters.push({ type: 'RequestMirror', requestMirror: { backendRef: { name: service.name, port: SERVICE_PORT }, percent: v.mirrorPercent } });
      } else {
        backendRefs.push({ name: service.name, port: SERVICE_PORT, ...(v.weight === undefined ? {} : { weight: v.weight }) });
      }
    }

    this.routeName = this.serviceName;
    httpRoute(this, 'Route', metadata(this.routeName, this.serviceLabels), {
      parentRefs: [{ name: gateway.name, namespace: gatewayNamespace, ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}) }],
      ...(props.hostnames?.length ? { hostnames: props.hostnames } : {}),
      rules: [{
        matches: [{ path: { type: 'PathPrefix', value: pathPrefix } }],
        backendRefs,
        ...(filters.length ? { filters } : {}),
      }],
    });
  }

  private resolveVariants(rollout: Rollout, image: string, props: InferenceServiceProps): Variant[] {
    const check = checkFor(this);
    const needsCandidate = NEEDS_CANDIDATE.includes(rollout.kind);
    if (props.candidateImage !== undefined && !needsCandidate) {
      check.fail('candidateImage', props.candidateImage, `is not used by the ${rollout.kind} rollout`,
        rollout.kind === RolloutKind.AB_TEST ? "give the A/B images in 'variantImages'." : "remove 'candidateImage', or choose a canary, linear, blue/green or shadow rollout.");
    }
    if (props.variantImages !== undefined && rollout.kind !== RolloutKind.AB_TEST) {
      check.fail('variantImages', props.variantImages, `is only used by an A/B rollout, not ${rollout.kind}`, "remove 'variantImages', or use Rollout.abTest().");
    }
    if (props.promoted && !rollout.isProgressive) {
      check.fail('promoted', props.promoted, `does not apply to the ${rollout.kind} rollout`, "remove 'promoted'; only canary, linear and blue/green rollouts have an end state to promote to.");
    }
    if (needsCandidate) {
      if (props.candidateImage === undefined) {
        check.fail('candidateImage', undefined, `is required by the ${rollout.kind} rollout`, "give the candidate model's image, or use Rollout.allAtOnce().");
      }
      const candidateImage = checkImage(check, 'candidateImage', props.candidateImage);
      if (rollout.kind === RolloutKind.SHADOW) {
        return [
          { variant: CURRENT_VARIANT, image, weight: 100 },
          { variant: CANDIDATE_VARIANT, image: candidateImage, mirrorPercent: rollout.mirrorPercent },
        ];
      }
      const split = rollout.initialSplit();
      const candidate = props.promoted ? 100 : split.find((s) => s.variant === CANDIDATE_VARIANT)!.percent;
      return [{ variant: CURRENT_VARIANT, image, weight: 100 - candidate }, { variant: CANDIDATE_VARIANT, image: candidateImage, weight: candidate }];
    }
    if (rollout.kind === RolloutKind.AB_TEST) {
      const images = props.variantImages ?? {};
      const split = rollout.initialSplit();
      for (const name of Object.keys(images)) {
        if (!split.some((s) => s.variant === name)) {
          check.fail(`variantImages.${name}`, images[name], 'names no variant of the A/B rollout', `use the variant names of the rollout: ${split.map((s) => s.variant).join(', ')}.`);
        }
      }
      // The first variant may fall back to `image`, so an A/B test of the current model against one other needs one entry.
      return split.map((s, i) => {
        const variantImage = images[s.variant] ?? (i === 0 ? image : undefined);
        if (variantImage === undefined) {
          check.fail(`variantImages.${s.variant}`, undefined, 'is required', `give the image serving variant '${s.variant}'.`);
        }
        return { variant: s.variant, image: checkImage(check, `variantImages.${s.variant}`, variantImage), weight: s.percent };
      });
    }
    return [{ variant: CURRENT_VARIANT, image }];
  }

  private podSpec(o: {
    image: string;
    variant: string;
    port: number;
    gpus: number;
    cpu: string;
    memory: string;
    runAsUser: number;
    readinessPath: string;
    livenessPath: string;
    selector: Record<string, string>;
    serviceAccountName?: string;
    instance?: GpuInstance;
    env: Record<string, string>;
  }): k8s.PodSpec {
    const probe = (path: string, periodSeconds: number, failureThreshold: number): k8s.Probe => ({
      httpGet: { path, port: k8s.IntOrString.fromString('http') },
      periodSeconds,
      failureThreshold,
      timeoutSeconds: 5,
    });
    const nodeSelector: Record<string, string> = o.gpus > 0 ? { [GPU_NODE_LABEL]: 'true' } : {};
    if (o.instance) nodeSelector['node.kubernetes.io/instance-type'] = o.instance.instanceType;
    return {
      serviceAccountName: o.serviceAccountName,
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurityContext(o.runAsUser),
      ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
      ...(o.gpus > 0 ? { tolerations: [gpuToleration()] } : {}),
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          // Multi-AZ profiles refuse to stack replicas in one zone; dev only prefers spreading.
          whenUnsatisfiable: this.profile.multiAz ? 'DoNotSchedule' : 'ScheduleAnyway',
          labelSelector: { matchLabels: o.selector },
          matchLabelKeys: ['pod-template-hash'],
        },
        {
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: o.selector },
          matchLabelKeys: ['pod-template-hash'],
        },
      ],
      containers: [{
        name: 'model-server',
        image: o.image,
        ports: [{ name: 'http', containerPort: o.port, protocol: 'TCP' }],
        env: [
          ...Object.entries(o.env).map(([name, value]) => ({ name, value })),
          { name: 'MODEL_VARIANT', value: o.variant },
          { name: 'PORT', value: String(o.port) },
        ],
        resources: containerResources({ cpu: o.cpu, memory: o.memory, gpus: o.gpus }),
        securityContext: restrictedContainerSecurityContext(),
        readinessProbe: probe(o.readinessPath, 10, 3),
        livenessProbe: probe(o.livenessPath, 20, 3),
        // Loading a large model can take minutes; liveness starts counting only after the first success.
        startupProbe: probe(o.livenessPath, 10, 60),
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, { name: 'model-cache', mountPath: '/models' }],
      }],
      volumes: [
        { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
        { name: 'model-cache', emptyDir: { sizeLimit: k8s.Quantity.fromString('20Gi') } },
      ],
    };
  }
}
