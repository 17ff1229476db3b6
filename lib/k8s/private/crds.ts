import { ApiObject, ApiObjectMetadata } from 'cdk8s';
import { Construct } from 'constructs';

// No CRD YAML for the Gateway API or the Prometheus Operator can be fetched here, so these objects are
// plain ApiObjects typed by the small interfaces below; tests validate every one against the typed
// schemas of @kubernetes-models/gateway-api and @kubernetes-models/prometheus-operator.

export interface HttpBackendRef {
  readonly name: string;
  readonly port: number;
  readonly weight?: number;
}

export interface HttpRouteFilter {
  readonly type: 'RequestMirror';
  readonly requestMirror: { readonly backendRef: { readonly name: string; readonly port: number }; readonly percent?: number };
}

export interface HttpRouteSpec {
  readonly parentRefs: { readonly name: string; readonly namespace?: string; readonly sectionName?: string }[];
  readonly hostnames?: string[];
  readonly rules: {
    readonly matches?: { readonly path: { readonly type: 'PathPrefix'; readonly value: string } }[];
    readonly backendRefs: HttpBackendRef[];
    readonly filters?: HttpRouteFilter[];
  }[];
}

export interface ServiceMonitorSpec {
  readonly selector: { readonly matchLabels: Record<string, string> };
  readonly namespaceSelector?: { readonly matchNames: string[] };
  readonly endpoints: { readonly port: string; readonly path: string; readonly interval: string; readonly scheme?: string }[];
}

export interface PrometheusRuleSpec {
  readonly groups: {
    readonly name: string;
    readonly rules: {
      readonly alert: string;
      readonly expr: string;
      readonly for: string;
      readonly labels: Record<string, string>;
      readonly annotations: Record<string, string>;
    }[];
  }[];
}

export function httpRoute(scope: Construct, id: string, metadata: ApiObjectMetadata, spec: HttpRouteSpec): ApiObject {
  return new ApiObject(scope, id, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata, spec });
}

export function serviceMonitor(scope: Construct, id: string, metadata: ApiObjectMetadata, spec: ServiceMonitorSpec): ApiObject {
  return new ApiObject(scope, id, { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata, spec });
}

export function prometheusRule(scope: Construct, id: string, metadata: ApiObjectMetadata, spec: PrometheusRuleSpec): ApiObject {
  return new ApiObject(scope, id, { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata, spec });
}
