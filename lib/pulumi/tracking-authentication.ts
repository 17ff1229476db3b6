import { createHash } from 'crypto';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { cognitoIssuer, TRACKING_BEARER_RULE, TRACKING_OAUTH, TRACKING_USER_POOL, TrackingAuthenticationKindName } from '../core';

/** Options of `TrackingAuthentication.cognito()`. */
export interface TrackingCognitoOptions {
  /**
   * Prefix of the Cognito domain that hosts the sign-in pages (`<prefix>.auth.<region>.amazoncognito.com`): unique in the
   * region, 1-63 lower-case letters, digits and hyphens, without 'aws', 'amazon' or 'cognito'.
   * @default - `mlflow-<hash of the project, stack and component name>-<account id>`
   */
  readonly domainPrefix?: string;
}

/** Options of `TrackingAuthentication.oidc()`: an OpenID Connect provider (Okta, Entra ID, Keycloak, ...). */
export interface TrackingOidcOptions {
  /** Issuer identifier of the provider, e.g. `https://login.example.com`. */
  readonly issuer: pulumi.Input<string>;
  /** Authorization endpoint of the provider. */
  readonly authorizationEndpoint: pulumi.Input<string>;
  /** Token endpoint of the provider. */
  readonly tokenEndpoint: pulumi.Input<string>;
  /** User info endpoint of the provider. */
  readonly userInfoEndpoint: pulumi.Input<string>;
  /** Id of the client registered with the provider; its redirect URI is `https://<domainName>/oauth2/idpresponse`. */
  readonly clientId: pulumi.Input<string>;
  /** Secret of that client, e.g. `config.requireSecret('oidcClientSecret')` (a secret output stays secret in the state). */
  readonly clientSecret: pulumi.Input<string>;
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
  readonly jwksEndpoint?: pulumi.Input<string>;
}

/**
 * Who may reach the MLflow tracking server: the HTTPS listener of its load balancer authenticates every request before
 * forwarding it (the Pulumi counterpart of the CDK `TrackingAuthentication`). Authentication needs HTTPS (`certificateArn`).
 */
export class TrackingAuthentication {
  /**
   * A Cognito user pool the component creates: administrators create the users (no self sign-up), multi-factor
   * authentication (TOTP) required, threat protection enforcing, 14-character passwords. Browsers sign in on the pool's
   * hosted pages; programmatic clients send a pool-issued token as `Authorization: Bearer` (`MLFLOW_TRACKING_TOKEN`),
   * for example from the machine client (client-credentials grant, scope `mlflow/api`).
   */
  public static cognito(options: TrackingCognitoOptions = {}): TrackingAuthentication {
    return new TrackingAuthentication('cognito', options, undefined);
  }

  /** An OpenID Connect provider of the organization: the load balancer signs browsers in with it (authorization code flow). */
  public static oidc(options: TrackingOidcOptions): TrackingAuthentication {
    return new TrackingAuthentication('oidc', undefined, options);
  }

  /**
   * No authentication: anyone who reaches the load balancer uses MLflow. Only where the profile does not require TLS
   * (dev); every client that `allowedCidrs` or `clients` admits can then read and change every experiment.
   */
  public static none(): TrackingAuthentication {
    return new TrackingAuthentication('none', undefined, undefined);
  }

  private constructor(
    public readonly kind: TrackingAuthenticationKindName,
    /** The options of `cognito()`. */
    public readonly cognitoOptions: TrackingCognitoOptions | undefined,
    /** The options of `oidc()`. */
    public readonly oidcOptions: TrackingOidcOptions | undefined,
  ) {}
}

/** The Cognito resources of a tracking server with Cognito authentication. */
export interface TrackingUserPool {
  readonly userPool: aws.cognito.UserPool;
  /** The client the load balancer signs browsers in with. */
  readonly userPoolClient: aws.cognito.UserPoolClient;
  readonly userPoolDomain: aws.cognito.UserPoolDomain;
  /** A confidential client for programmatic clients (client-credentials grant at `https://<domain>/oauth2/token`, scope `mlflow/api`). */
  readonly machineClient: aws.cognito.UserPoolClient;
}

/** What `trackingListenerAuthentication` renders: the listener's default actions, the bearer-token rule's verification, the pool. */
export interface TrackingListenerAuthentication {
  readonly defaultActions: aws.types.input.lb.ListenerDefaultAction[];
  /** Where a bearer JWT is verified (a rule before the default actions), if programmatic clients may send one. */
  readonly bearer?: { readonly issuer: pulumi.Input<string>; readonly jwksEndpoint: pulumi.Input<string> };
  readonly pool?: TrackingUserPool;
}

/**
 * The listener's actions, as the CDK `ExperimentTracking` renders them: every path to the targets starts with an
 * authentication action, unless authentication is off (dev only). Browsers are signed in (session cookie); with a
 * JWKS endpoint (a Cognito pool's, or the OIDC provider's when given), a request carrying `Authorization: Bearer <JWT>`
 * is admitted when the load balancer verifies the token.
 */
export function trackingListenerAuthentication(name: string, parent: pulumi.Resource, args: {
  readonly authentication: TrackingAuthentication;
  readonly targetGroupArn: pulumi.Input<string>;
  /** The name clients call the server by (the sign-in callback's host). */
  readonly host: pulumi.Input<string>;
  readonly deletionProtection: boolean;
  readonly retain: boolean;
  readonly tags: Record<string, string>;
}): TrackingListenerAuthentication {
  const forward = (order?: number): aws.types.input.lb.ListenerDefaultAction => ({ type: 'forward', order, targetGroupArn: args.targetGroupArn });
  const { authentication: auth } = args;
  if (auth.kind === 'none') return { defaultActions: [forward()] };
  if (auth.kind === 'oidc') {
    const oidc = auth.oidcOptions!;
    return {
      defaultActions: [{
        type: 'authenticate-oidc',
        order: 1,
        authenticateOidc: {
          issuer: oidc.issuer,
          authorizationEndpoint: oidc.authorizationEndpoint,
          tokenEndpoint: oidc.tokenEndpoint,
          userInfoEndpoint: oidc.userInfoEndpoint,
          clientId: oidc.clientId,
          clientSecret: pulumi.secret(oidc.clientSecret),
          scope: oidc.scope ?? 'openid',
          sessionTimeout: TRACKING_OAUTH.sessionTimeoutSeconds,
        },
      }, forward(2)],
      bearer: oidc.jwksEndpoint ? { issuer: oidc.issuer, jwksEndpoint: oidc.jwksEndpoint } : undefined,
    };
  }
  const pool = trackingUserPool(name, parent, args);
  const region = aws.getRegionOutput({}, { parent }).region;
  const suffix = aws.getPartitionOutput({}, { parent }).dnsSuffix;
  const issuer = pulumi.all([region, suffix, pool.userPool.id]).apply(([r, s, id]) => cognitoIssuer(r, s, id));
  return {
    defaultActions: [{
      type: 'authenticate-cognito',
      order: 1,
      authenticateCognito: {
        userPoolArn: pool.userPool.arn,
        userPoolClientId: pool.userPoolClient.id,
        userPoolDomain: pool.userPoolDomain.domain,
        scope: TRACKING_OAUTH.signInScopes.join(' '),
        sessionTimeout: TRACKING_OAUTH.sessionTimeoutSeconds,
      },
    }, forward(2)],
    bearer: { issuer: issuer.issuer, jwksEndpoint: issuer.jwksEndpoint },
    pool,
  };
}

/** The bearer-token rule: a request with `Authorization: Bearer *` is forwarded only after the load balancer verifies its JWT. */
export function trackingBearerRule(name: string, parent: pulumi.Resource, args: {
  readonly listenerArn: pulumi.Input<string>;
  readonly bearer: NonNullable<TrackingListenerAuthentication['bearer']>;
  readonly targetGroupArn: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}): aws.lb.ListenerRule {
  return new aws.lb.ListenerRule(`${name}-bearer-token`, {
    listenerArn: args.listenerArn,
    priority: TRACKING_BEARER_RULE.priority,
    conditions: [{ httpHeader: { httpHeaderName: TRACKING_BEARER_RULE.header, values: [...TRACKING_BEARER_RULE.values] } }],
    actions: [
      { type: 'jwt-validation', order: 1, jwtValidation: { issuer: args.bearer.issuer, jwksEndpoint: args.bearer.jwksEndpoint } },
      { type: 'forward', order: 2, targetGroupArn: args.targetGroupArn },
    ],
    tags: args.tags,
  }, { parent });
}

/**
 * The Cognito user pool of the tracking server (core's TRACKING_USER_POOL, as the CDK construct creates it): no self
 * sign-up, TOTP MFA required, threat protection enforcing (Plus feature plan), strong passwords, kept with the data
 * outside dev; the load balancer's client (authorization code flow) and a machine client (client credentials).
 */
function trackingUserPool(name: string, parent: pulumi.Resource, args: {
  readonly authentication: TrackingAuthentication;
  readonly host: pulumi.Input<string>;
  readonly deletionProtection: boolean;
  readonly retain: boolean;
  readonly tags: Record<string, string>;
}): TrackingUserPool {
  const settings = TRACKING_USER_POOL;
  const opts = args.retain ? { parent, retainOnDelete: true } : { parent };
  const userPool = new aws.cognito.UserPool(`${name}-user-pool`, {
    adminCreateUserConfig: { allowAdminCreateUserOnly: !settings.selfSignUp },
    mfaConfiguration: settings.mfa,
    softwareTokenMfaConfiguration: { enabled: settings.enabledMfas.includes('SOFTWARE_TOKEN_MFA') },
    passwordPolicy: { ...settings.passwordPolicy },
    accountRecoverySetting: { recoveryMechanisms: [{ name: settings.recovery, priority: 1 }] },
    usernameAttributes: [...settings.usernameAttributes],
    autoVerifiedAttributes: [...settings.usernameAttributes],
    userPoolTier: settings.tier,
    userPoolAddOns: { advancedSecurityMode: settings.threatProtection },
    deletionProtection: args.deletionProtection ? 'ACTIVE' : 'INACTIVE',
    tags: args.tags,
  }, opts);
  const account = aws.getCallerIdentityOutput({}, { parent }).accountId;
  const hash = createHash('sha256').update(`${pulumi.getProject()}/${pulumi.getStack()}/${name}`).digest('hex').slice(0, 10);
  const domain = args.authentication.cognitoOptions?.domainPrefix ?? pulumi.interpolate`mlflow-${hash}-${account}`;
  const userPoolDomain = new aws.cognito.UserPoolDomain(`${name}-user-pool-domain`, { domain, userPoolId: userPool.id }, { parent });
  const userPoolClient = new aws.cognito.UserPoolClient(`${name}-load-balancer-client`, {
    userPoolId: userPool.id,
    generateSecret: true,
    allowedOauthFlows: ['code'],
    allowedOauthFlowsUserPoolClient: true,
    allowedOauthScopes: [...TRACKING_OAUTH.signInScopes],
    callbackUrls: [pulumi.interpolate`https://${args.host}${TRACKING_OAUTH.callbackPath}`],
    supportedIdentityProviders: ['COGNITO'],
    preventUserExistenceErrors: 'ENABLED',
  }, { parent });
  const resourceServer = new aws.cognito.ResourceServer(`${name}-api`, {
    userPoolId: userPool.id,
    identifier: TRACKING_OAUTH.resourceServer,
    name: TRACKING_OAUTH.resourceServer,
    scopes: [{ scopeName: TRACKING_OAUTH.apiScope, scopeDescription: TRACKING_OAUTH.apiScopeDescription }],
  }, { parent });
  const machineClient = new aws.cognito.UserPoolClient(`${name}-machine-client`, {
    userPoolId: userPool.id,
    generateSecret: true,
    allowedOauthFlows: ['client_credentials'],
    allowedOauthFlowsUserPoolClient: true,
    allowedOauthScopes: [pulumi.interpolate`${resourceServer.identifier}/${TRACKING_OAUTH.apiScope}`],
    accessTokenValidity: TRACKING_OAUTH.machineTokenMinutes,
    tokenValidityUnits: { accessToken: 'minutes' },
    supportedIdentityProviders: ['COGNITO'],
    preventUserExistenceErrors: 'ENABLED',
  }, { parent });
  return { userPool, userPoolClient, userPoolDomain, machineClient };
}
