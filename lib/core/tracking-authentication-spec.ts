import { EnvironmentProfile } from './profiles';
import { Check } from './validation';

/**
 * How the tracking server's load balancer authenticates a request before it reaches MLflow, which has no login of its
 * own (every engine's `TrackingAuthentication` has these kinds).
 */
export type TrackingAuthenticationKindName = 'cognito' | 'oidc' | 'none';

/** How a caller's API takes the listener's certificate, for the fix of "authentication needs HTTPS". */
export interface TrackingCertificateProp {
  /** @default 'certificate' */
  readonly prop?: string;
}

/**
 * The authentication in effect, for every engine: by default the load balancer authenticates with a Cognito user pool
 * wherever it serves HTTPS; none is accepted only where the profile allows plain HTTP (dev). `domainPrefix` is the
 * Cognito domain prefix the caller chose, if any.
 */
export function resolveTrackingAuthenticationKind(
  check: Check, profile: EnvironmentProfile, given: TrackingAuthenticationKindName | undefined, https: boolean,
  domainPrefix?: string, certificate: TrackingCertificateProp = {},
): TrackingAuthenticationKindName {
  const kind = given ?? (https ? 'cognito' : 'none');
  if (kind === 'none' && profile.requireTls) {
    check.fail('authentication', 'TrackingAuthentication.none()', `is not accepted under the '${profile.name}' profile (requireTls): `
      + 'MLflow has no login of its own, so every client that reaches the load balancer could read and change every experiment',
    'leave it unset for a Cognito user pool the construct creates, or pass TrackingAuthentication.oidc({...}) for your identity provider.');
  }
  if (kind !== 'none' && !https) {
    check.fail('authentication', `TrackingAuthentication.${kind}()`, 'needs an HTTPS listener: a load balancer authenticates only on HTTPS',
      `pass '${certificate.prop ?? 'certificate'}' (a certificate for 'domainName'), or leave 'authentication' unset to serve plain HTTP in dev.`);
  }
  if (domainPrefix !== undefined) {
    check.matches('authentication.domainPrefix', domainPrefix, COGNITO_DOMAIN_PREFIX, "1-63 lower-case letters, digits and hyphens such as 'acme-mlflow'");
    if (COGNITO_DOMAIN_PREFIX.test(domainPrefix) && /aws|amazon|cognito/.test(domainPrefix)) {
      check.fail('authentication.domainPrefix', domainPrefix, "must not contain 'aws', 'amazon' or 'cognito' (Cognito reserves them)",
        "choose another prefix, such as 'acme-mlflow'.");
    }
  }
  return kind;
}

const COGNITO_DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A DNS name clients call the tracking server by (`domainName`). */
export const TRACKING_DOMAIN_NAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/;

/** Validates `domainName` (the name in the certificate, the sign-in callback's host). */
export function checkTrackingDomainName(check: Check, domainName: string | undefined): void {
  check.matches('domainName', domainName, TRACKING_DOMAIN_NAME, "a DNS name such as 'mlflow.ml.example.internal'");
}

/**
 * The Cognito user pool of a tracking server, in every engine: administrators create the users (no self sign-up), TOTP
 * multi-factor authentication required (no SMS), threat protection enforcing (Plus feature plan), 14-character
 * passwords of every character class, recovery by verified e-mail only, e-mail as the user name.
 */
export const TRACKING_USER_POOL = Object.freeze({
  selfSignUp: false,
  mfa: 'ON',
  enabledMfas: Object.freeze(['SOFTWARE_TOKEN_MFA']),
  passwordPolicy: Object.freeze({ minimumLength: 14, requireLowercase: true, requireNumbers: true, requireSymbols: true, requireUppercase: true }),
  recovery: 'verified_email',
  usernameAttributes: Object.freeze(['email']),
  tier: 'PLUS',
  threatProtection: 'ENFORCED',
} as const);

/** The OAuth settings of the load balancer's client and of the machine client, in every engine. */
export const TRACKING_OAUTH = Object.freeze({
  /** Scopes the load balancer requests when it signs a browser in. */
  signInScopes: Object.freeze(['openid', 'email']),
  /** How long the load balancer's session cookie lasts (8 hours). */
  sessionTimeoutSeconds: 8 * 3600,
  /** Path of the sign-in callback on the tracking server's name. */
  callbackPath: '/oauth2/idpresponse',
  /** The resource server programmatic clients get a token for, and its scope (`mlflow/api`). */
  resourceServer: 'mlflow',
  apiScope: 'api',
  apiScopeDescription: 'Use the MLflow tracking API',
  /** Lifetime of a machine client's access token (1 hour). */
  machineTokenMinutes: 60,
} as const);

/**
 * The listener rule that admits a request carrying `Authorization: Bearer <JWT>` when the load balancer verifies the
 * token (signature from the issuer's JWKS, issuer, expiry), before the default action (browser sign-in).
 */
export const TRACKING_BEARER_RULE = Object.freeze({ priority: 10, header: 'Authorization', values: Object.freeze(['Bearer *']) } as const);

/** The issuer of a Cognito user pool's tokens and its JWKS endpoint. */
export function cognitoIssuer(region: string, urlSuffix: string, userPoolId: string): { issuer: string; jwksEndpoint: string } {
  const issuer = `https://cognito-idp.${region}.${urlSuffix}/${userPoolId}`;
  return { issuer, jwksEndpoint: `${issuer}/.well-known/jwks.json` };
}
