import { Duration } from 'cdk8s';
import { k8s } from 'cdk8s-plus-32';
import { Construct } from 'constructs';
import { CANDIDATE_VARIANT, CURRENT_VARIANT, EnvironmentProfile, GpuInstance, Rollout, RolloutKind } from '../core';
import { CapacityType, GpuNodeSelection } from './gpu-scheduling';
import { AnalysisTemplate, AnalysisTemplateSpecMetrics, AnalysisTemplateSpecMetricsFailureLimit } from './imports/argo-rollouts-analysistemplates-argoproj.io';
import {
  Rollout as ArgoRollout, RolloutSpecStrategy, RolloutSpecStrategyCanarySteps, RolloutSpecStrategyCanaryStepsPauseDuration,
} from './imports/argo-rollouts-rollouts-argoproj.io';
import {
  GrpcRoute, GrpcRouteSpecRulesBackendRefs, GrpcRouteSpecRulesFilters, GrpcRouteSpecRulesFiltersType,
} from './imports/gateway-api-grpcroutes-gateway.networking.k8s.io';
import {
  HttpRoute, HttpRouteSpecRulesBackendRefs, HttpRouteSpecRulesFilters, HttpRouteSpecRulesFiltersType, HttpRouteSpecRulesMatchesPathType,
} from './imports/gateway-api-httproutes-gateway.networking.k8s.io';
import { ScaledObject, ScaledObjectSpecTriggers } from './imports/keda-scaledobjects-keda.sh';
import { MODEL_DIR, ModelSource } from './model-source';
import { checkName, childName, defaultName } from './private/names';
import { checkEnv, resolvePlacement } from './private/placement';
import {
  cacheEnv, checkImage, checkQuantity, containerResources, DEFAULT_RUN_AS_USER, HOME_DIR, parseQuantity,
  restrictedContainerSecurityContext, restrictedPodSecurityContext,
} from './private/pod-security';
import { gpuScheduling } from './private/scheduling';
import { checkFor, profileOf, wholeSeconds } from './private/scope';
import { ProgressiveDelivery, ProgressiveDeliveryKind } from './progressive-delivery';
import { ScaleToZero, ScaleToZeroKind } from './scale-to-zero';
import { ScalingMetric, ScalingMetricKind } from './scaling-metric';
import { DEFAULT_GATEWAY_NAMESPACE, TeamNamespace } from './team-namespace';

/** The Gateway API Gateway the route attaches to. */
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

/** What the model server speaks on its serving port. */
export enum ServingProtocol {
  /** HTTP/1.1 or HTTP/2 with TLS at the gateway: an `HTTPRoute` and HTTP probes. */
  HTTP = 'http',
  /** gRPC (cleartext HTTP/2 to the pod): a `GRPCRoute`, gRPC health probes and `appProtocol: kubernetes.io/h2c`. */
  GRPC = 'grpc',
}

export interface InferenceServiceProps {
  /**
   * Image serving the current model, pinned to a tag or digest. With `ProgressiveDelivery.argoRollouts()`, a new
   * image starts a rollout.
   */
  readonly image: string;
  /**
   * Image of the candidate model; required by canary, linear, blue/green and shadow rollouts rendered as gateway
   * weights.
   * @default - none
   */
  readonly candidateImage?: string;
  /**
   * Image per variant of an A/B rollout (one per name in `Rollout.abTest({ weights })`).
   * @default - none
   */
  readonly variantImages?: Record<string, string>;
  /**
   * How the candidate takes traffic.
   * @default Rollout.allAtOnce()
   */
  readonly rollout?: Rollout;
  /**
   * Who moves a progressive rollout on: the manifest (gateway weights, one Deployment per variant) or Argo Rollouts.
   * @default ProgressiveDelivery.gatewayWeights()
   */
  readonly progressiveDelivery?: ProgressiveDelivery;
  /**
   * Render the end state of a canary, linear or blue/green rollout as gateway weights: all traffic on the candidate.
   * @default false
   */
  readonly promoted?: boolean;
  /**
   * Base name of the Deployments, Services and route. The current model's Deployment and Service keep this name
   * whatever the rollout, so starting or ending one never replaces the warm Deployment.
   * @default - a unique name derived from the construct path
   */
  readonly serviceName?: string;
  /**
   * Namespace. A `TeamNamespace` also supplies the ServiceAccount and the gateway namespace, and checks the
   * namespace's quota against every workload in it.
   * @default - the chart's namespace
   */
  readonly namespace?: TeamNamespace | string;
  /**
   * ServiceAccount the pods run as.
   * @default - the TeamNamespace's ServiceAccount, or the namespace's default one
   */
  readonly serviceAccountName?: string;
  /**
   * What the server speaks on `port`.
   * @default ServingProtocol.HTTP
   */
  readonly protocol?: ServingProtocol;
  /**
   * Port the model server serves on (named `http` or `grpc`).
   * @default 8080
   */
  readonly port?: number;
  /**
   * Port serving Prometheus metrics at `/metrics` (named `metrics`; every Service exposes it as `metrics`, which
   * `MonitoringRules` scrapes). Required for gRPC.
   * @default - the serving port (HTTP)
   */
  readonly metricsPort?: number;
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
   * @default - any GPU node
   */
  readonly instance?: GpuInstance;
  /**
   * How GPU pods find GPU nodes.
   * @default GpuNodeSelection.byResourceRequest()
   */
  readonly gpuNodes?: GpuNodeSelection;
  /**
   * Capacity type of the nodes.
   * @default - CapacityType.ON_DEMAND, or CapacityType.ANY when the profile allows destroying data (dev)
   */
  readonly capacityType?: CapacityType;
  /**
   * Fewest replicas per variant (while running; see `scaleToZero`).
   * @default - the profile's `minCapacity.inferenceInstances`, at least 1 (dev 1, prod 2)
   */
  readonly minReplicas?: number;
  /**
   * Most replicas per variant.
   * @default - 5 x minReplicas
   */
  readonly maxReplicas?: number;
  /**
   * What the autoscaler tracks. Requests per second need a custom metrics adapter (see `prometheusAdapterRules()`),
   * or KEDA through `scaleToZero`.
   * @default ScalingMetric.cpuUtilization(70)
   */
  readonly scaleOn?: ScalingMetric;
  /**
   * Let the service scale to zero replicas off hours or when idle (a KEDA ScaledObject replaces the HPA).
   * @default - never below minReplicas
   */
  readonly scaleToZero?: ScaleToZero;
  /**
   * Where the model comes from: fetched into the model cache (`/models`) by an init container before the server
   * starts.
   * @default - the image holds or fetches the model itself
   */
  readonly modelSource?: ModelSource;
  /**
   * Where the candidate variant (canary, linear, blue/green, shadow) fetches its model from.
   * @default - `modelSource`
   */
  readonly candidateModelSource?: ModelSource;
  /**
   * Size of the model cache volume (`/models`, env `MODEL_DIR`).
   * @default '20Gi'
   */
  readonly modelCacheSize?: string;
  /**
   * Size of the writable home directory (`HOME`, with the HuggingFace, torch and Triton caches).
   * @default '10Gi'
   */
  readonly cacheSize?: string;
  /**
   * Longest a replica may take to load its model before it is restarted.
   * @default Duration.minutes(10)
   */
  readonly startupTimeout?: Duration;
  /**
   * Time between the shutdown signal and the kill: the pre-stop delay plus the time in-flight requests get to finish.
   * @default Duration.seconds(60)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * Time a terminating replica keeps serving before it is told to stop, so the gateway and kube-proxy stop sending
   * it requests first.
   * @default Duration.seconds(10)
   */
  readonly preStopDelay?: Duration;
  /**
   * Longest a request may take end to end at the gateway (HTTPRoute `timeouts.request`).
   * @default Duration.seconds(60)
   */
  readonly requestTimeout?: Duration;
  /**
   * HTTP path that answers 200 once the model is loaded (HTTP only; gRPC uses the gRPC health service).
   * @default '/v2/health/ready'
   */
  readonly readinessPath?: string;
  /**
   * HTTP path that answers 200 while the server is alive (HTTP only).
   * @default '/v2/health/live'
   */
  readonly livenessPath?: string;
  /**
   * Gateway the route attaches to.
   * @default - `{ name: 'inference' }` in the gateway namespace
   */
  readonly gateway?: GatewayReference;
  /**
   * Host names the route answers.
   * @default - every host name of the gateway listener
   */
  readonly hostnames?: string[];
  /**
   * Path prefix the HTTP route matches.
   * @default '/'
   */
  readonly pathPrefix?: string;
  /**
   * Extra environment variables (they may override HOME and the cache locations).
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
/** Service port the variants expose for serving. */
export const SERVICE_PORT = 80;
/** Service port the variants expose for metrics (named `metrics`). */
export const METRICS_SERVICE_PORT = 9090;

interface Variant {
  readonly variant: string;
  readonly image: string;
  /** Share of live traffic; undefined for a single backend. */
  readonly weight?: number;
  /** Share of requests mirrored to this variant (shadow). */
  readonly mirrorPercent?: number;
}

interface Backend { readonly name: string; readonly weight?: number }
interface Mirror { readonly name: string; readonly percent: number }

const NEEDS_CANDIDATE = [RolloutKind.CANARY, RolloutKind.LINEAR, RolloutKind.BLUE_GREEN, RolloutKind.SHADOW];
const ARGO_KINDS = [RolloutKind.ALL_AT_ONCE, RolloutKind.CANARY, RolloutKind.LINEAR, RolloutKind.BLUE_GREEN];
const SERVER_CONTAINER = 'model-server';
const PROBE_PERIOD_SECONDS = 10;

/**
 * A model server on Kubernetes: per variant a Deployment, Service, autoscaler and PodDisruptionBudget, and a
 * Gateway API route splitting traffic between variants as the `Rollout` says (weights, or a mirror for shadow).
 * With `ProgressiveDelivery.argoRollouts()`, an Argo `Rollout` steps canaries to the end on its own and rolls back
 * on Prometheus analysis. Pods run under the restricted security profile, spread over zones and nodes, are probed,
 * drain before they stop, and can fetch their model into a cache volume before the server starts.
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
  /** Name of the HTTPRoute or GRPCRoute. */
  public readonly routeName: string;
  /** Variant names, each with its own Deployment and Service (gateway weights). */
  public readonly variants: string[];
  /** Deployment (or Argo Rollout) name per variant; the current model's is always `serviceName`. */
  public readonly deploymentNames: Record<string, string>;
  /** Labels shared by every variant's Service (what a ServiceMonitor selects). */
  public readonly serviceLabels: Record<string, string>;
  public readonly minReplicas: number;
  public readonly maxReplicas: number;
  public readonly protocol: ServingProtocol;
  public readonly profile: EnvironmentProfile;
  private readonly namespace?: string;
  private readonly objectLabels: Record<string, string>;
  /** Container port the Services' `metrics` port targets. */
  private readonly metricsTarget: string;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    props = props ?? {};
    const check = checkFor(this);
    this.profile = props.profile ?? profileOf(this);
    const image = checkImage(check, 'image', props?.image);
    const placement = resolvePlacement(this, check, props.namespace, props.serviceAccountName);
    this.namespace = placement.namespace;
    this.objectLabels = placement.labels;
    const rollout = props.rollout ?? Rollout.allAtOnce();
    if (typeof rollout?.initialSplit !== 'function') {
      check.fail('rollout', rollout, 'must be a Rollout', 'use Rollout.allAtOnce(), .canary(), .linear(), .abTest(), .blueGreen() or .shadow().');
    }
    const delivery = props.progressiveDelivery ?? ProgressiveDelivery.gatewayWeights();
    if (!Object.values(ProgressiveDeliveryKind).includes(delivery?.kind)) {
      check.fail('progressiveDelivery', delivery, 'must be a ProgressiveDelivery', 'use ProgressiveDelivery.gatewayWeights() or .argoRollouts().');
    }
    const argo = delivery.kind === ProgressiveDeliveryKind.ARGO_ROLLOUTS;
    this.serviceName = checkName(check, 'serviceName', props.serviceName, 40) ?? defaultName(this, 40);
    this.protocol = check.oneOf('protocol', props.protocol, Object.values(ServingProtocol), 'use ServingProtocol.HTTP or ServingProtocol.GRPC.') ?? ServingProtocol.HTTP;
    const grpc = this.protocol === ServingProtocol.GRPC;
    const port = check.integerInRange('port', props.port, 1024, 65535, 'use an unprivileged port (1024-65535); the container runs as non-root.') ?? 8080;
    const metricsPort = check.integerInRange('metricsPort', props.metricsPort, 1024, 65535, 'use an unprivileged port (1024-65535); the container runs as non-root.')
      ?? (grpc ? check.fail('metricsPort', undefined, 'is required for a gRPC server', 'give the HTTP port serving /metrics (Triton: 8002).') : port);
    if (grpc && metricsPort === port) check.fail('metricsPort', metricsPort, 'must differ from the gRPC serving port', 'give the HTTP port serving /metrics.');
    this.metricsTarget = metricsPort === port ? 'http' : 'metrics';
    if (grpc && (props.pathPrefix !== undefined || props.readinessPath !== undefined || props.livenessPath !== undefined)) {
      check.fail(props.pathPrefix !== undefined ? 'pathPrefix' : props.readinessPath !== undefined ? 'readinessPath' : 'livenessPath',
        props.pathPrefix ?? props.readinessPath ?? props.livenessPath, 'applies to HTTP servers only', 'remove it: gRPC routes match every method, and gRPC servers are probed through the gRPC health service.');
    }
    const gpus = check.integerInRange('gpusPerReplica', props.gpusPerReplica, 0, 8) ?? 1;
    const cpu = checkQuantity(check, 'cpu', props.cpu) ?? '2';
    const memory = checkQuantity(check, 'memory', props.memory) ?? '8Gi';
    const modelCacheSize = checkQuantity(check, 'modelCacheSize', props.modelCacheSize) ?? '20Gi';
    const cacheSize = checkQuantity(check, 'cacheSize', props.cacheSize) ?? '10Gi';
    const runAsUser = check.integerInRange('runAsUser', props.runAsUser, 1, 2147483647, 'run as a non-root UID (1 or more).') ?? DEFAULT_RUN_AS_USER;
    this.minReplicas = check.integerInRange('minReplicas', props.minReplicas, 1, 1000) ?? Math.max(1, this.profile.minCapacity.inferenceInstances);
    this.maxReplicas = check.integerInRange('maxReplicas', props.maxReplicas, 1, 1000) ?? this.minReplicas * 5;
    check.notAbove('minReplicas', this.minReplicas, 'maxReplicas', this.maxReplicas);
    const scaleOn = props.scaleOn ?? ScalingMetric.cpuUtilization(70);
    if (!Object.values(ScalingMetricKind).includes(scaleOn?.kind)) {
      check.fail('scaleOn', scaleOn, 'must be a ScalingMetric', 'use ScalingMetric.cpuUtilization(70) or ScalingMetric.requestsPerSecond(20).');
    }
    if (props.scaleToZero !== undefined && !Object.values(ScaleToZeroKind).includes(props.scaleToZero?.kind)) {
      check.fail('scaleToZero', props.scaleToZero, 'must be a ScaleToZero', 'use ScaleToZero.offHours() or ScaleToZero.whenIdle({ ... }).');
    }
    for (const [prop, source] of [['modelSource', props.modelSource], ['candidateModelSource', props.candidateModelSource]] as const) {
      if (source !== undefined && typeof source?.fetcherImage !== 'string') {
        check.fail(prop, source, 'must be a ModelSource', "use ModelSource.s3('s3://bucket/models/name/version/').");
      }
    }
    const readinessPath = check.matches('readinessPath', props.readinessPath, /^\/\S*$/, 'an absolute HTTP path') ?? '/v2/health/ready';
    const livenessPath = check.matches('livenessPath', props.livenessPath, /^\/\S*$/, 'an absolute HTTP path') ?? '/v2/health/live';
    const pathPrefix = check.matches('pathPrefix', props.pathPrefix, /^\/\S*$/, 'an absolute HTTP path') ?? '/';
    (props.hostnames ?? []).forEach((h, i) => check.matches(`hostnames[${i}]`, h, /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'a DNS host name'));
    const startup = wholeSeconds(check, 'startupTimeout', props.startupTimeout, 10, 6 * 3600, 'give 10 seconds to 6 hours, in whole seconds.') ?? 600;
    const grace = wholeSeconds(check, 'terminationGracePeriod', props.terminationGracePeriod, 1, 3600, 'give 1 second to 1 hour, in whole seconds.') ?? 60;
    const preStop = wholeSeconds(check, 'preStopDelay', props.preStopDelay, 0, 600, 'give 0 to 600 seconds, in whole seconds.') ?? 10;
    if (preStop >= grace) {
      check.fail('preStopDelay', `${preStop} seconds`, `must be shorter than 'terminationGracePeriod' (${grace} seconds)`, "lower 'preStopDelay' or raise 'terminationGracePeriod'; in-flight requests need time after it.");
    }
    const requestTimeout = wholeSeconds(check, 'requestTimeout', props.requestTimeout, 1, 3600, 'give 1 second to 1 hour, in whole seconds.') ?? 60;
    const gateway = props.gateway ?? { name: 'inference' };
    checkName(check, 'gateway.name', gateway.name, 63);
    if (!gateway.name) check.fail('gateway.name', gateway.name, 'is required', 'give the name of the Gateway the route attaches to.');
    const gatewayNamespace = checkName(check, 'gateway.namespace', gateway.namespace, 63) ?? placement.team?.gatewayNamespace ?? DEFAULT_GATEWAY_NAMESPACE;
    if (props.instance !== undefined && typeof props.instance?.instanceType !== 'string') {
      check.fail('instance', props.instance, 'must be a GpuInstance', "pass GpuInstance.of('g5.2xlarge').");
    }
    if (props.instance !== undefined && gpus > props.instance.gpus) {
      check.fail('gpusPerReplica', gpus, `is more than the ${props.instance.gpus} GPUs of ${props.instance.instanceType}`,
        `lower 'gpusPerReplica' to ${props.instance.gpus} or pick an instance type with more NVIDIA GPUs.`);
    }
    const capacityType = props.capacityType ?? (this.profile.allowDestroy ? CapacityType.ANY : CapacityType.ON_DEMAND);
    const scheduling = gpuScheduling({ check, gpus, selection: props.gpuNodes, capacityType, instanceType: props.instance?.instanceType });
    const userEnv = checkEnv(check, props.env, ['MODEL_VARIANT', 'PORT', 'METRICS_PORT', 'MODEL_DIR']);

    if (argo) rollout.assertSupportedBy(this.node.path, 'rollout', 'Argo Rollouts', ARGO_KINDS, 'render A/B tests and shadows as gateway weights (ProgressiveDelivery.gatewayWeights())');
    if (argo && (props.candidateImage !== undefined || props.promoted !== undefined)) {
      check.fail(props.candidateImage !== undefined ? 'candidateImage' : 'promoted', props.candidateImage ?? props.promoted,
        'is not used with Argo Rollouts', "remove it and set 'image' to the new model: Argo Rollouts runs the rollout from the running version to it.");
    }
    const variants = argo ? [{ variant: CURRENT_VARIANT, image }] : this.resolveVariants(rollout, image, props);
    this.variants = variants.map((v) => v.variant);
    // The current model (or the first A/B variant) always runs under the base name.
    const primary = (variant: string, index: number) => variant === CURRENT_VARIANT || (index === 0 && rollout.kind === RolloutKind.AB_TEST);
    const nameOf = (variant: string, index: number) => (primary(variant, index) ? this.serviceName : childName(this.serviceName, variant));
    this.deploymentNames = Object.fromEntries(variants.map((v, i) => [v.variant, nameOf(v.variant, i)]));
    this.serviceLabels = { 'app.kubernetes.io/name': this.serviceName, 'app.kubernetes.io/component': 'inference' };
    const metadata = (name: string, extra: Record<string, string> = {}) =>
      ({ name, namespace: placement.namespace, labels: { ...placement.labels, ...extra } });

    const podSpec = (v: Variant): k8s.PodSpec => this.podSpec({
      image: v.image,
      variant: v.variant,
      port,
      metricsPort,
      grpc,
      gpus,
      cpu,
      memory,
      runAsUser,
      readinessPath,
      livenessPath,
      serviceAccountName: placement.serviceAccountName,
      scheduling,
      env: userEnv,
      modelCacheSize,
      cacheSize,
      modelSource: v.variant === CANDIDATE_VARIANT ? props.candidateModelSource ?? props.modelSource : props.modelSource,
      startupSeconds: startup,
      graceSeconds: grace,
      preStopSeconds: preStop,
    });
    const backends: Backend[] = [];
    const mirrors: Mirror[] = [];
    variants.forEach((v) => {
      const name = this.deploymentNames[v.variant];
      const selector = { 'app.kubernetes.io/name': this.serviceName, 'app.kubernetes.io/instance': name };
      const podLabels = { ...placement.labels, ...this.serviceLabels, ...selector, [VARIANT_LABEL]: v.variant };
      const variantScope = new Construct(this, variants.length === 1 ? 'Default' : v.variant);
      const deployment = new k8s.KubeDeployment(variantScope, 'Deployment', {
        metadata: metadata(name, podLabels),
        spec: {
          // No replicas: the autoscaler owns them, and a sync re-applying a count would undo its scaling.
          selector: { matchLabels: selector },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
          template: { metadata: { labels: podLabels }, spec: podSpec(v) },
        },
      });
      this.addService(variantScope, 'Service', name, { ...this.serviceLabels, [VARIANT_LABEL]: v.variant }, selector, grpc);
      const target = argo
        ? { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name }
        : { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.name };
      this.addAutoscaling(variantScope, name, target, scaleOn, props.scaleToZero, placement.labels, delivery);
      new k8s.KubePodDisruptionBudget(variantScope, 'DisruptionBudget', {
        metadata: metadata(name),
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
      });
      if (argo) {
        this.addArgoRollout(variantScope, name, selector, rollout, delivery, grpc, placement.labels);
        backends.push({ name, weight: 100 }, { name: childName(this.serviceName, 'canary'), weight: 0 });
      } else if (v.mirrorPercent !== undefined) {
        mirrors.push({ name, percent: v.mirrorPercent });
      } else {
        backends.push({ name, weight: v.weight });
      }
    });

    this.routeName = this.serviceName;
    const parentRefs = [{ name: gateway.name, namespace: gatewayNamespace, ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}) }];
    const hostnames = props.hostnames?.length ? { hostnames: props.hostnames } : {};
    // A single backend (a shadow's current variant included) needs no weight.
    const weightOf = (b: Backend) => (backends.length === 1 ? {} : { weight: b.weight });
    if (grpc) {
      new GrpcRoute(this, 'Route', {
        metadata: metadata(this.routeName, this.serviceLabels),
        spec: {
          parentRefs,
          ...hostnames,
          rules: [{
            backendRefs: backends.map((b): GrpcRouteSpecRulesBackendRefs => ({ name: b.name, port: SERVICE_PORT, ...weightOf(b) })),
            ...(mirrors.length ? {
              filters: mirrors.map((m): GrpcRouteSpecRulesFilters => ({
                type: GrpcRouteSpecRulesFiltersType.REQUEST_MIRROR,
                requestMirror: { backendRef: { name: m.name, port: SERVICE_PORT }, ...(m.percent < 100 ? { percent: m.percent } : {}) },
              })),
            } : {}),
          }],
        },
      });
    } else {
      new HttpRoute(this, 'Route', {
        metadata: metadata(this.routeName, this.serviceLabels),
        spec: {
          parentRefs,
          ...hostnames,
          rules: [{
            matches: [{ path: { type: HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value: pathPrefix } }],
            backendRefs: backends.map((b): HttpRouteSpecRulesBackendRefs => ({ name: b.name, port: SERVICE_PORT, ...weightOf(b) })),
            ...(mirrors.length ? {
              filters: mirrors.map((m): HttpRouteSpecRulesFilters => ({
                type: HttpRouteSpecRulesFiltersType.REQUEST_MIRROR,
                // `percent` is standard from Gateway API 1.3; a full mirror leaves it out and works with older versions.
                requestMirror: { backendRef: { name: m.name, port: SERVICE_PORT }, ...(m.percent < 100 ? { percent: m.percent } : {}) },
              })),
            } : {}),
            timeouts: { request: `${requestTimeout}s` },
          }],
        },
      });
    }

    // What the namespace must hold at the service's largest scale: every variant at maxReplicas plus its surge
    // replica, or with Argo Rollouts the stable and the canary both at maxReplicas before the old one scales down.
    const replicasAtMost = argo ? 2 * this.maxReplicas : variants.length * (this.maxReplicas + 1);
    placement.team?.claimCapacity(this.node.path, {
      prop: 'maxReplicas',
      gpus: gpus * replicasAtMost,
      cpu: parseQuantity(cpu) * replicasAtMost,
      memoryGiB: (parseQuantity(memory) / 2 ** 30) * replicasAtMost,
      description: argo
        ? `stable + canary x ${this.maxReplicas} replicas x ${gpus} GPU(s), ${cpu} CPU, ${memory}`
        : `${variants.length} variant(s) x (${this.maxReplicas} + 1 surge) replicas x ${gpus} GPU(s), ${cpu} CPU, ${memory}`,
    });
  }

  private addService(
    scope: Construct, id: string, name: string, labels: Record<string, string>, selector: Record<string, string>, grpc: boolean,
  ): void {
    new k8s.KubeService(scope, id, {
      metadata: { name, namespace: this.namespace, labels: { ...this.objectLabels, ...labels } },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          grpc
            ? { name: 'grpc', port: SERVICE_PORT, targetPort: k8s.IntOrString.fromString('grpc'), protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }
            : { name: 'http', port: SERVICE_PORT, targetPort: k8s.IntOrString.fromString('http'), protocol: 'TCP' },
          { name: 'metrics', port: METRICS_SERVICE_PORT, targetPort: k8s.IntOrString.fromString(this.metricsTarget), protocol: 'TCP' },
        ],
      },
    });
  }

  private addAutoscaling(
    scope: Construct, name: string, target: { apiVersion: string; kind: string; name: string }, scaleOn: ScalingMetric,
    scaleToZero: ScaleToZero | undefined, labels: Record<string, string>, delivery: ProgressiveDelivery,
  ): void {
    const metadata = { name, namespace: this.namespace, labels };
    if (scaleToZero === undefined) {
      new k8s.KubeHorizontalPodAutoscalerV2(scope, 'Autoscaler', {
        metadata,
        spec: {
          scaleTargetRef: target,
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
      return;
    }
    const prometheus = delivery.argo.prometheusAddress ?? 'http://prometheus-operated.monitoring.svc:9090';
    const triggers: ScaledObjectSpecTriggers[] = [scaleOn.kind === ScalingMetricKind.CPU_UTILIZATION
      ? { type: 'cpu', metricType: 'Utilization', metadata: { value: String(scaleOn.target) } }
      : {
        type: 'prometheus',
        metricType: 'AverageValue',
        metadata: {
          serverAddress: prometheus,
          query: `sum(rate(http_requests_total{namespace="${this.namespace ?? ''}",service="${name}"}[2m]))`,
          threshold: String(scaleOn.target),
        },
      }];
    let cooldown = 300;
    if (scaleToZero.kind === ScaleToZeroKind.OFF_HOURS) {
      const hours = scaleToZero.hours;
      const schedule = (hours ? this.profile.with({ workingHours: hours }) : this.profile).offHoursSchedule();
      if (schedule === undefined) {
        return checkFor(this).fail('scaleToZero', 'ScaleToZero.offHours()', `has no working hours: profile '${this.profile.name}' is always on`,
          'pass the hours, e.g. ScaleToZero.offHours({ startHour: 8, endHour: 20 }), or use a profile with working hours.');
      }
      const cron = (f: { minute: string; hour: string; weekDay: string }) => `${f.minute} ${f.hour} * * ${f.weekDay}`;
      triggers.push({
        type: 'cron',
        metadata: {
          timezone: schedule.timeZone, start: cron(schedule.scaleUp), end: cron(schedule.scaleDown), desiredReplicas: String(this.minReplicas),
        },
      });
    } else {
      cooldown = scaleToZero.idleSeconds!;
      triggers.push({
        type: 'prometheus',
        metadata: { serverAddress: prometheus, query: scaleToZero.requestRateQuery!, threshold: String(scaleOn.kind === ScalingMetricKind.REQUESTS_PER_SECOND ? scaleOn.target : 1), activationThreshold: '0' },
      });
    }
    new ScaledObject(scope, 'ScaledObject', {
      metadata,
      spec: {
        scaleTargetRef: target,
        minReplicaCount: 0,
        maxReplicaCount: this.maxReplicas,
        cooldownPeriod: cooldown,
        triggers,
        advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } } },
      },
    });
  }

  private addArgoRollout(
    scope: Construct, name: string, selector: Record<string, string>, rollout: Rollout, delivery: ProgressiveDelivery, grpc: boolean,
    labels: Record<string, string>,
  ): void {
    const settings = delivery.argo;
    const canaryService = childName(this.serviceName, 'canary');
    const previewService = childName(this.serviceName, 'preview');
    const serviceLabels = { ...this.serviceLabels, [VARIANT_LABEL]: CANDIDATE_VARIANT };
    const analysisName = childName(this.serviceName, 'analysis');
    const alarms = this.profile.alarms;
    const ns = this.namespace ? `namespace="${this.namespace}",` : '';
    const query = (body: string) => ({ prometheus: { address: settings.prometheusAddress!, query: body } });
    const metric = (metricName: string, failureCondition: string, body: string): AnalysisTemplateSpecMetrics => ({
      name: metricName,
      interval: `${settings.analysisIntervalSeconds}s`,
      failureLimit: AnalysisTemplateSpecMetricsFailureLimit.fromNumber(settings.failureLimit!),
      // No traffic yet means no data: that is not a failure.
      failureCondition: `len(result) > 0 && !isNaN(result[0]) && ${failureCondition}`,
      provider: query(body),
    });
    const metrics: AnalysisTemplateSpecMetrics[] = [
      metric('error-rate', `result[0] > ${alarms.errorRatePercent / 100}`,
        `sum(rate(http_requests_total{${ns}service="{{args.service}}",code=~"5.."}[2m])) / sum(rate(http_requests_total{${ns}service="{{args.service}}"}[2m]))`),
      metric('latency-p99', `result[0] > ${alarms.latencyP99Ms / 1000}`,
        `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${ns}service="{{args.service}}"}[2m])))`),
    ];
    const gate = settings.qualityGate;
    if (gate) {
      const higher = gate.higherIsBetter ?? true;
      metrics.push(metric('model-quality', `result[0] ${higher ? '<' : '>'} ${gate.threshold}`,
        `${higher ? 'min' : 'max'}(mlops_model_quality{model="${gate.model}",metric="${gate.metric}"})`));
    }
    new AnalysisTemplate(scope, 'Analysis', {
      metadata: { name: analysisName, namespace: this.namespace, labels },
      spec: { args: [{ name: 'service' }], metrics },
    });
    const routeConfig = { [grpc ? 'grpcRoute' : 'httpRoute']: this.serviceName, ...(this.namespace ? { namespace: this.namespace } : {}) };
    const analysis = (service: string) => ({ templates: [{ templateName: analysisName }], args: [{ name: 'service', value: service }] });
    let strategy: RolloutSpecStrategy;
    if (rollout.kind === RolloutKind.BLUE_GREEN) {
      this.addService(scope, 'PreviewService', previewService, serviceLabels, selector, grpc);
      strategy = {
        blueGreen: {
          activeService: name,
          previewService,
          autoPromotionEnabled: true,
          prePromotionAnalysis: analysis(previewService),
          postPromotionAnalysis: analysis(name),
          // The old version stays up this long after the switch, for a fast switch back.
          scaleDownDelaySeconds: rollout.steps()[0].waitSeconds,
        },
      };
    } else {
      this.addService(scope, 'CanaryService', canaryService, serviceLabels, selector, grpc);
      // The core Rollout's steps, one for one: set the canary's weight, then wait its bake time.
      const steps: RolloutSpecStrategyCanarySteps[] = rollout.kind === RolloutKind.ALL_AT_ONCE ? [] : rollout.steps().flatMap((s) => [
        { setWeight: s.candidatePercent },
        ...(s.waitSeconds > 0 ? [{ pause: { duration: RolloutSpecStrategyCanaryStepsPauseDuration.fromString(`${s.waitSeconds}s`) } }] : []),
      ]);
      strategy = {
        canary: {
          stableService: name,
          canaryService,
          trafficRouting: { plugins: { [settings.trafficRouterPlugin!]: routeConfig } },
          ...(steps.length ? { analysis: { ...analysis(canaryService), startingStep: 1 } } : {}),
          steps,
        },
      };
    }
    new ArgoRollout(scope, 'Rollout', {
      metadata: { name, namespace: this.namespace, labels: { ...labels, ...this.serviceLabels } },
      spec: {
        // The Deployment holds the pod template (typed and validated like every workload); Argo Rollouts runs the
        // pods and scales the Deployment down as its own become ready, so switching to Argo keeps serving warm.
        workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name, scaleDown: 'progressively' },
        selector: { matchLabels: selector },
        revisionHistoryLimit: 3,
        strategy,
      },
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
          { variant: CURRENT_VARIANT, image },
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
    metricsPort: number;
    grpc: boolean;
    gpus: number;
    cpu: string;
    memory: string;
    runAsUser: number;
    readinessPath: string;
    livenessPath: string;
    serviceAccountName?: string;
    scheduling: ReturnType<typeof gpuScheduling>;
    env: Record<string, string>;
    modelSource?: ModelSource;
    modelCacheSize: string;
    cacheSize: string;
    startupSeconds: number;
    graceSeconds: number;
    preStopSeconds: number;
  }): k8s.PodSpec {
    const servingPort = o.grpc ? 'grpc' : 'http';
    const probe = (path: string, periodSeconds: number, failureThreshold: number): k8s.Probe => ({
      ...(o.grpc ? { grpc: { port: o.port } } : { httpGet: { path, port: k8s.IntOrString.fromString(servingPort) } }),
      periodSeconds,
      failureThreshold,
      timeoutSeconds: 5,
    });
    const selector = { 'app.kubernetes.io/name': this.serviceName, 'app.kubernetes.io/instance': this.deploymentNames[o.variant] };
    const spread = (topologyKey: string, whenUnsatisfiable: string): k8s.TopologySpreadConstraint => ({
      maxSkew: 1, topologyKey, whenUnsatisfiable, labelSelector: { matchLabels: selector }, matchLabelKeys: ['pod-template-hash'],
    });
    const modelMount = { name: 'model-cache', mountPath: MODEL_DIR };
    return {
      serviceAccountName: o.serviceAccountName,
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurityContext(o.runAsUser),
      terminationGracePeriodSeconds: o.graceSeconds,
      ...o.scheduling,
      topologySpreadConstraints: [
        // Multi-AZ profiles refuse to stack replicas in one zone; dev only prefers spreading. A zone counts as a
        // spreading domain when any node there passes the pod's node selector and affinity: GPU pods placed by their
        // resource request alone would count zones that hold only CPU nodes, and with GPU nodes in one zone a second
        // replica would stay Pending. Refusal is therefore sound only where node labels restrict the domains to GPU nodes.
        spread('topology.kubernetes.io/zone', this.profile.multiAz && (o.gpus === 0 || Object.keys(o.scheduling.nodeSelector ?? {}).length > 0)
          ? 'DoNotSchedule' : 'ScheduleAnyway'),
        spread('kubernetes.io/hostname', 'ScheduleAnyway'),
      ],
      ...(o.modelSource ? {
        initContainers: [{
          name: 'fetch-model',
          image: o.modelSource.fetcherImage,
          args: [...o.modelSource.fetcherArgs],
          env: [{ name: 'HOME', value: '/tmp' }],
          resources: containerResources({ cpu: '1', memory: '1Gi', gpus: 0 }),
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, modelMount],
        }],
      } : {}),
      containers: [{
        name: SERVER_CONTAINER,
        image: o.image,
        ports: [
          { name: servingPort, containerPort: o.port, protocol: 'TCP' },
          ...(o.metricsPort === o.port ? [] : [{ name: 'metrics', containerPort: o.metricsPort, protocol: 'TCP' }]),
        ],
        env: [
          ...Object.entries({ ...cacheEnv(), ...o.env }).map(([name, value]) => ({ name, value })),
          { name: 'MODEL_VARIANT', value: o.variant },
          { name: 'PORT', value: String(o.port) },
          { name: 'METRICS_PORT', value: String(o.metricsPort) },
          { name: 'MODEL_DIR', value: MODEL_DIR },
        ],
        resources: containerResources({ cpu: o.cpu, memory: o.memory, gpus: o.gpus }),
        securityContext: restrictedContainerSecurityContext(),
        readinessProbe: probe(o.readinessPath, PROBE_PERIOD_SECONDS, 3),
        livenessProbe: probe(o.livenessPath, 20, 3),
        // Loading a large model can take minutes; liveness starts counting only after the first success.
        startupProbe: probe(o.livenessPath, PROBE_PERIOD_SECONDS, Math.ceil(o.startupSeconds / PROBE_PERIOD_SECONDS)),
        // Keep serving while the gateway and kube-proxy stop routing here; then SIGTERM lets requests finish.
        ...(o.preStopSeconds > 0 ? { lifecycle: { preStop: { sleep: { seconds: o.preStopSeconds } } } } : {}),
        volumeMounts: [
          { name: 'tmp', mountPath: '/tmp' },
          { name: 'home', mountPath: HOME_DIR },
          { ...modelMount, ...(o.modelSource ? { readOnly: true } : {}) },
        ],
      }],
      volumes: [
        { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Gi') } },
        { name: 'home', emptyDir: { sizeLimit: k8s.Quantity.fromString(o.cacheSize) } },
        { name: 'model-cache', emptyDir: { sizeLimit: k8s.Quantity.fromString(o.modelCacheSize) } },
      ],
    };
  }
}
