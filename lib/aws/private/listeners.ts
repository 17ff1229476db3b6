import { Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { ListenerTlsSpec } from '../../core';

/** The listeners `addLoadBalancerListeners` created. */
export interface LoadBalancerListeners {
  /** The listener that forwards to the targets: HTTPS on 443 with a certificate, HTTP on 80 without. */
  readonly listener: elbv2.ApplicationListener;
  /** With a certificate: HTTP on 80, answering every request with a permanent redirect to HTTPS on 443. */
  readonly redirectListener?: elbv2.ApplicationListener;
  /** Every port a client may connect to (what the load balancer's security group admits). */
  readonly ports: number[];
}

/**
 * The listeners of a load balancer the library creates, as `resolveListenerTls` decided them: HTTPS with the recommended
 * TLS policy (TLS 1.2 and 1.3) and a port-80 listener that only redirects to it, or, where the profile allows HTTP
 * (dev) and no certificate is given, one HTTP listener, whose compliance findings are acknowledged with `httpReason`.
 * Neither listener opens the security group: the caller admits its peers on `ports`.
 */
export function addLoadBalancerListeners(
  lb: elbv2.ApplicationLoadBalancer, tls: ListenerTlsSpec, certificate: acm.ICertificate | undefined,
  defaultAction: elbv2.ListenerAction | undefined, httpReason: string,
): LoadBalancerListeners {
  const listener = lb.addListener('Listener', {
    port: tls.port,
    protocol: tls.https ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP,
    certificates: tls.https && certificate ? [certificate] : undefined,
    sslPolicy: tls.https ? elbv2.SslPolicy.RECOMMENDED_TLS : undefined,
    open: false,
    defaultAction,
  });
  const redirectListener = tls.redirectPort === undefined ? undefined : lb.addListener('HttpRedirect', {
    port: tls.redirectPort,
    protocol: elbv2.ApplicationProtocol.HTTP,
    open: false,
    defaultAction: elbv2.ListenerAction.redirect({ protocol: elbv2.ApplicationProtocol.HTTPS, port: String(tls.port), permanent: true }),
  });
  if (redirectListener) {
    const reason = 'This port-80 listener serves no content: it answers every request with a permanent redirect to the HTTPS '
      + 'listener on 443, which holds the ACM certificate (TLS 1.2 and 1.3).';
    Validations.of(redirectListener.node.defaultChild as elbv2.CfnListener).acknowledge(
      { id: 'NIST.800.53.R5-ELBv2ACMCertificateRequired', reason },
      { id: 'HIPAA.Security-ELBv2ACMCertificateRequired', reason },
    );
  }
  if (!tls.https) {
    Validations.of(listener.node.defaultChild as elbv2.CfnListener).acknowledge(
      { id: 'NIST.800.53.R5-ALBHttpToHttpsRedirection', reason: httpReason },
      { id: 'HIPAA.Security-ALBHttpToHttpsRedirection', reason: httpReason },
      { id: 'NIST.800.53.R5-ELBv2ACMCertificateRequired', reason: httpReason },
      { id: 'HIPAA.Security-ELBv2ACMCertificateRequired', reason: httpReason },
      { id: 'cdk-validator-cfnguard::alb_http_to_https_redirection_check', reason: httpReason },
    );
  }
  return { listener, redirectListener, ports: redirectListener ? [tls.port, tls.redirectPort!] : [tls.port] };
}
