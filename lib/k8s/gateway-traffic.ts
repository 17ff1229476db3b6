import { k8s } from 'cdk8s-plus-32';
import { Check } from '../core';

/** Namespace Envoy Gateway runs its proxies in by default. */
export const ENVOY_GATEWAY_NAMESPACE = 'envoy-gateway-system';
/**
 * Link-local range VPC Lattice sends traffic to targets from (the `com.amazonaws.<region>.vpc-lattice` managed
 * prefix list).
 */
export const VPC_LATTICE_CIDR = '169.254.171.0/24';

const NAMESPACE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;

/**
 * Where the inference gateway's traffic reaches a team's pods from, for the namespace's NetworkPolicy. Gateway API
 * implementations differ: Envoy Gateway proxies run in `envoy-gateway-system`, Istio and NGINX Gateway Fabric run
 * them in the Gateway's namespace, an ALB (AWS Load Balancer Controller) sends from VPC addresses and VPC Lattice
 * from a link-local range.
 *
 * @example
 * GatewayTraffic.fromCidrs(['10.0.0.0/16']) // an ALB in the cluster's VPC
 */
export class GatewayTraffic {
  /** Pods of a namespace (proxies of an in-cluster Gateway implementation). */
  public static fromNamespace(namespace: string): GatewayTraffic {
    new Check('GatewayTraffic').matches('gatewayTraffic.fromNamespace', namespace, NAMESPACE, 'a namespace name');
    return new GatewayTraffic(`namespace ${namespace}`, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } });
  }

  /** Envoy Gateway's proxies in their default namespace. */
  public static envoyGateway(namespace: string = ENVOY_GATEWAY_NAMESPACE): GatewayTraffic {
    return GatewayTraffic.fromNamespace(namespace);
  }

  /** Addresses outside the cluster, e.g. the VPC's CIDR for an Application Load Balancer with IP targets. */
  public static fromCidrs(cidrs: string[]): GatewayTraffic {
    const check = new Check('GatewayTraffic');
    if (!Array.isArray(cidrs) || cidrs.length === 0) check.fail('gatewayTraffic.fromCidrs', cidrs, 'must list at least one CIDR', "give the VPC's CIDR, e.g. ['10.0.0.0/16'].");
    cidrs.forEach((c, i) => check.matches(`gatewayTraffic.fromCidrs[${i}]`, c, IPV4_CIDR, 'an IPv4 CIDR such as 10.0.0.0/16'));
    return new GatewayTraffic(`CIDRs ${cidrs.join(', ')}`, ...cidrs.map((cidr) => ({ ipBlock: { cidr } })));
  }

  /** Amazon VPC Lattice (the AWS Gateway API controller). */
  public static vpcLattice(): GatewayTraffic {
    return new GatewayTraffic('VPC Lattice', { ipBlock: { cidr: VPC_LATTICE_CIDR } });
  }

  private readonly peerList: k8s.NetworkPolicyPeer[];

  private constructor(
    /** For messages and docs. */
    public readonly description: string,
    ...peers: k8s.NetworkPolicyPeer[]
  ) {
    this.peerList = peers;
  }

  /** NetworkPolicy peers allowed in. */
  public get peers(): k8s.NetworkPolicyPeer[] {
    return this.peerList.map((p) => JSON.parse(JSON.stringify(p)));
  }
}
