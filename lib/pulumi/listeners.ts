import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { HTTPS_REDIRECT, ListenerTlsSpec } from '../core';
import { childOptions } from './component-support';

/** How the Pulumi components take a certificate: errors name `certificateArn` and say how to pass it. */
export const PULUMI_CERTIFICATE_PROP = Object.freeze({ prop: 'certificateArn', give: "and pass its ARN as 'certificateArn'" });

/** The listeners `loadBalancerListeners` created. */
export interface LoadBalancerListeners {
  /** The listener that forwards to the targets: HTTPS on 443 with a certificate, HTTP on 80 without. */
  readonly listener: aws.lb.Listener;
  /** With a certificate: HTTP on 80, answering every request with a permanent redirect to HTTPS on 443. */
  readonly redirectListener?: aws.lb.Listener;
  /** Every port a client may connect to (what the load balancer's security group admits). */
  readonly ports: number[];
}

/**
 * The listeners of a load balancer a component creates, as core's `resolveListenerTls` decided them (the CDK constructs
 * render the same): HTTPS with the recommended TLS policy (TLS 1.2 and 1.3) and a port-80 listener that only redirects
 * to it, or, where the profile allows HTTP (dev) and no certificate is given, one HTTP listener.
 */
export function loadBalancerListeners(name: string, parent: pulumi.Resource, args: {
  readonly loadBalancerArn: pulumi.Input<string>;
  readonly tls: ListenerTlsSpec;
  readonly certificateArn?: pulumi.Input<string>;
  readonly defaultActions: aws.lb.ListenerArgs['defaultActions'];
  readonly tags: Record<string, string>;
}): LoadBalancerListeners {
  const { tls } = args;
  const listener = new aws.lb.Listener(`${name}-listener`, {
    loadBalancerArn: args.loadBalancerArn,
    port: tls.port,
    protocol: tls.https ? 'HTTPS' : 'HTTP',
    certificateArn: tls.https ? args.certificateArn : undefined,
    sslPolicy: tls.sslPolicy,
    defaultActions: args.defaultActions,
    tags: args.tags,
  }, childOptions(parent));
  const redirectListener = tls.redirectPort === undefined ? undefined : new aws.lb.Listener(`${name}-http-redirect`, {
    loadBalancerArn: args.loadBalancerArn,
    port: tls.redirectPort,
    protocol: 'HTTP',
    defaultActions: [{ type: 'redirect', redirect: { ...HTTPS_REDIRECT, port: String(tls.port) } }],
    tags: args.tags,
  }, childOptions(parent));
  return { listener, redirectListener, ports: tls.redirectPort === undefined ? [tls.port] : [tls.port, tls.redirectPort] };
}
