import { EnvironmentProfile } from './profiles';
import { Check } from './validation';

/** The TLS policy every engine's HTTPS listeners use (TLS 1.2 and 1.3, CDK's `SslPolicy.RECOMMENDED_TLS`). */
export const RECOMMENDED_TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';

/**
 * How to obtain a certificate, the fix of every missing-certificate error; `give` says how the caller's API takes it.
 * @default give - import it as `certificate` with `acm.Certificate.fromCertificateArn`
 */
export function certificateFix(give = "import it with acm.Certificate.fromCertificateArn(this, 'Certificate', arn) and pass it as 'certificate'"): string {
  return 'issue an ACM certificate for the name clients call (for an internal load balancer a private name such as '
    + `'*.ml.example.internal' from ACM Private CA, for a public one a DNS-validated certificate), ${give}; `
    + 'or accept plain HTTP with a profile override requireTls: false.';
}

/** The listeners of a load balancer the library creates. */
export interface ListenerTlsSpec {
  /** Whether the main listener serves HTTPS (443) rather than HTTP (80). */
  readonly https: boolean;
  /** Port of the main listener, the one that forwards to the targets. */
  readonly port: 443 | 80;
  /** Port of a listener that only redirects to the HTTPS port, if any. */
  readonly redirectPort?: 80;
  /** TLS policy of the HTTPS listener. */
  readonly sslPolicy?: string;
}

/**
 * The listeners of a load balancer under a profile: HTTPS on 443 with the recommended TLS policy and port 80 redirecting
 * to it when a certificate is given; a certificate is required where the profile requires TLS (staging and prod).
 */
export function resolveListenerTls(check: Check, profile: EnvironmentProfile, hasCertificate: boolean): ListenerTlsSpec {
  if (!hasCertificate && profile.requireTls) {
    check.fail('certificate', undefined, `is required under the '${profile.name}' profile (requireTls): its load balancer serves HTTPS only`,
      certificateFix());
  }
  return hasCertificate
    ? { https: true, port: 443, redirectPort: 80, sslPolicy: RECOMMENDED_TLS_POLICY }
    : { https: false, port: 80 };
}
