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
/** How a caller's API takes the certificate: the prop a missing-certificate error names, and how to pass it. */
export interface CertificateProp {
  /** @default 'certificate' */
  readonly prop?: string;
  /** @default - import it with `acm.Certificate.fromCertificateArn` and pass it as `certificate` (the CDK constructs) */
  readonly give?: string;
}

/** The redirect of a port-80 listener to the HTTPS listener (permanent), in every engine. */
export const HTTPS_REDIRECT = Object.freeze({ protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } as const);

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
export function resolveListenerTls(
  check: Check, profile: EnvironmentProfile, hasCertificate: boolean, certificate: CertificateProp = {},
): ListenerTlsSpec {
  if (!hasCertificate && profile.requireTls) {
    check.fail(certificate.prop ?? 'certificate', undefined,
      `is required under the '${profile.name}' profile (requireTls): its load balancer serves HTTPS only`, certificateFix(certificate.give));
  }
  return hasCertificate
    ? { https: true, port: 443, redirectPort: 80, sslPolicy: RECOMMENDED_TLS_POLICY }
    : { https: false, port: 80 };
}

/**
 * The certificate of a whole environment (`MlopsPlatform.certificateArn`, every engine): required where the profile
 * requires TLS and `needer` (a load balancer of the environment) exists; an ACM certificate ARN when given.
 */
export function checkEnvironmentCertificateArn(check: Check, profile: EnvironmentProfile, arn: string | undefined, needer: string): void {
  if (arn === undefined) {
    if (profile.requireTls) {
      check.fail('certificateArn', arn, `is required under the '${profile.name}' profile (requireTls): ${needer} serves HTTPS only`,
        certificateFix("in the environment's region, and pass its ARN as 'certificateArn'"));
    }
    return;
  }
  check.matches('certificateArn', arn, /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/,
    "an ACM certificate ARN such as 'arn:aws:acm:us-east-1:123456789012:certificate/<id>'");
}
