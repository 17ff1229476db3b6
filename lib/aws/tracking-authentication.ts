import { SecretValue } from 'aws-cdk-lib';

/** Options of `TrackingAuthentication.cognito()`. */
export interface TrackingCognitoOptions {
  /**
   * Prefix of the Cognito domain that hosts the sign-in pages (`<prefix>.auth.<region>.amazoncognito.com`): unique in the
   * region, 1-63 lower-case letters, digits and hyphens, without 'aws', 'amazon' or 'cognito'.
   * @default - `mlflow-<hash of the construct path>-<account id>`
   */
  readonly domainPrefix?: string;
}

/** Options of `TrackingAuthentication.oidc()`: an OpenID Connect provider (Okta, Entra ID, Keycloak, ...). */
export interface TrackingOidcOptions {
  /** Issuer identifier of the provider, e.g. `https://login.example.com`. */
  readonly issuer: string;
  /** Authorization endpoint of the provider. */
  readonly authorizationEndpoint: string;
  /** Token endpoint of the provider. */
  readonly tokenEndpoint: string;
  /** User info endpoint of the provider. */
  readonly userInfoEndpoint: string;
  /** Id of the client registered with the provider; its redirect URI is `https://<domainName>/oauth2/idpresponse`. */
  readonly clientId: string;
  /** Secret of that client, e.g. `SecretValue.secretsManager('mlflow/oidc-client', { jsonField: 'secret' })`. */
  readonly clientSecret: SecretValue;
  /**
   * Scopes requested at sign-in.
   * @default 'openid'
   */
  readonly scope?: string;
  /**
   * JWKS endpoint of the issuer. When given, a request that carries `Authorization: Bearer <JWT>` (the MLflow client's
   * `MLFLOW_TRACKING_TOKEN`) is admitted if the load balancer verifies the token's signature, issuer and expiry;
   * without it, programmatic clients must present the load balancer's session cookie.
   * @default - browser sign-in only
   */
  readonly jwksEndpoint?: string;
}

/** How the tracking server's load balancer authenticates a request before it reaches MLflow (which has no login of its own). */
export enum TrackingAuthenticationKind {
  COGNITO = 'cognito',
  OIDC = 'oidc',
  NONE = 'none',
}

/**
 * Who may reach the MLflow tracking server: the HTTPS listener of its load balancer authenticates every request before
 * forwarding it. Authentication needs HTTPS (a `certificate`).
 */
export class TrackingAuthentication {
  /**
   * A Cognito user pool the construct creates: administrators create the users (no self sign-up), multi-factor
   * authentication (TOTP) required, threat protection enforcing, 14-character passwords. Browsers sign in on the pool's
   * hosted pages; programmatic clients send a pool-issued token as `Authorization: Bearer` (`MLFLOW_TRACKING_TOKEN`),
   * for example from the machine client (client-credentials grant).
   */
  public static cognito(options: TrackingCognitoOptions = {}): TrackingAuthentication {
    return new TrackingAuthentication(TrackingAuthenticationKind.COGNITO, options, undefined);
  }

  /** An OpenID Connect provider of the organization: the load balancer signs browsers in with it (authorization code flow). */
  public static oidc(options: TrackingOidcOptions): TrackingAuthentication {
    return new TrackingAuthentication(TrackingAuthenticationKind.OIDC, undefined, options);
  }

  /**
   * No authentication: anyone who reaches the load balancer uses MLflow. Only where the profile does not require TLS
   * (dev); every client that `allowedCidrs` or `allowClientsFrom` admits can then read and change every experiment.
   */
  public static none(): TrackingAuthentication {
    return new TrackingAuthentication(TrackingAuthenticationKind.NONE, undefined, undefined);
  }

  private constructor(
    public readonly kind: TrackingAuthenticationKind,
    /** The options of `cognito()`. */
    public readonly cognitoOptions: TrackingCognitoOptions | undefined,
    /** The options of `oidc()`. */
    public readonly oidcOptions: TrackingOidcOptions | undefined,
  ) {}
}
