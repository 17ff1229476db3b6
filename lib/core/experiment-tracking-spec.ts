import { RECOMMENDED_TLS_POLICY } from './listener-tls';
import { EnvironmentProfile } from './profiles';
import { SpecScope, specCheck } from './spec-scope';
import { Check } from './validation';

/** MLflow release the default image is pinned to. */
export const MLFLOW_VERSION = '2.22.0';
/** The MLflow release image the tracking server image (assets/mlflow/Dockerfile) is built from. */
export const MLFLOW_DEFAULT_IMAGE = `ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}`;
/** Drivers the stock MLflow image lacks, pinned; installed when the image is built (never when the container starts). */
export const MLFLOW_DEFAULT_IMAGE_DRIVERS: readonly string[] = Object.freeze(['psycopg2-binary==2.9.10', 'boto3==1.38.23']);
/** The build arguments of the Dockerfile the package ships in `assets/mlflow/` (every engine builds it with these). */
export function mlflowImageBuildArgs(): Record<'MLFLOW_VERSION' | 'MLFLOW_DRIVERS', string> {
  return { MLFLOW_VERSION, MLFLOW_DRIVERS: MLFLOW_DEFAULT_IMAGE_DRIVERS.join(' ') };
}
/** The `docker build` command of the tracking server image, run in the package's directory (`assets/mlflow/` holds the Dockerfile). */
export function mlflowImageBuildCommand(tag = '<repository>:mlflow-' + MLFLOW_VERSION): string {
  const args = Object.entries(mlflowImageBuildArgs()).map(([k, v]) => `--build-arg ${k}='${v}'`).join(' ');
  return `docker build --platform linux/amd64 ${args} -t ${tag} node_modules/mlops-constructs/assets/mlflow`;
}
/** An image reference pinned by digest. */
export const IMAGE_DIGEST_PATTERN = /@sha256:[0-9a-f]{64}$/;

/**
 * Where the profile requires TLS (staging, prod), an image the user names must be pinned by digest: a tag can move, so
 * two tasks (or a task and its replacement) could run different bits. `shown` is what the error names for an image
 * that is not known yet (a deploy-time value); `fix` says how the engine takes a pinned image.
 */
export function checkPinnedMlflowImage(check: Check, profile: EnvironmentProfile, imageName: string, shown: string, fix: string): void {
  if (!profile.requireTls || IMAGE_DIGEST_PATTERN.test(imageName)) return;
  check.fail('image', shown, `must be pinned by digest under the '${profile.name}' profile (requireTls): a tag can move, so tasks could run different images`, fix);
}
/** Port the MLflow server listens on. */
export const MLFLOW_PORT = 5000;
/**
 * The user the MLflow container runs as: not root (uid and gid 1000, which need no entry in the image's /etc/passwd).
 * Its root filesystem is read-only; it writes only to `MLFLOW_SCRATCH_PATH`.
 */
export const MLFLOW_CONTAINER_USER = '1000:1000';
/** The writable scratch directory of the MLflow container (a task volume; also HOME and where the drivers go). */
export const MLFLOW_SCRATCH_PATH = '/tmp';
/** CPU sizes Fargate offers. */
export const FARGATE_CPU = [256, 512, 1024, 2048, 4096, 8192, 16384] as const;
/** Memory (MiB) Fargate accepts with each CPU size. */
const FARGATE_MEMORY_RANGE: Record<typeof FARGATE_CPU[number], [number, number]> = {
  256: [512, 2048],
  512: [1024, 4096],
  1024: [2048, 8192],
  2048: [4096, 16384],
  4096: [8192, 30720],
  8192: [16384, 61440],
  16384: [32768, 122880],
};
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([0-9]|[12]\d|3[0-2])$/;

/** Engine-neutral experiment tracking input. */
export interface ExperimentTrackingSpecInput {
  readonly cpu?: number;
  readonly memoryLimitMiB?: number;
  readonly minTasks?: number;
  readonly maxTasks?: number;
  readonly targetCpuPercent?: number;
  readonly allowedCidrs?: readonly string[];
  readonly databaseName?: string;
}

/** The AWS managed WAF rule groups on the tracking server's load balancer, with their rule overrides. */
export interface WafManagedRuleSpec {
  readonly name: string;
  readonly priority: number;
  /** Rules counted instead of blocked. */
  readonly countRules: readonly string[];
}

/** The settings every engine renders for an MLflow tracking server. */
export interface ExperimentTrackingSpec {
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly targetCpuPercent: number;
  readonly scaleInCooldownSeconds: number;
  readonly scaleOutCooldownSeconds: number;
  /** Undefined: the engine admits its private subnets' CIDR blocks. */
  readonly allowedCidrs?: readonly string[];
  /** Undefined: the engine uses the registry's database name. */
  readonly databaseName?: string;
  readonly port: number;
  readonly logRetentionDays: number;
  readonly retainData: boolean;
  readonly deletionProtection: boolean;
  /** Deployments keep every task serving and roll back on failure. */
  readonly deployment: { readonly minHealthyPercent: 100; readonly maxHealthyPercent: 200; readonly circuitBreakerRollback: true };
  readonly healthCheckGracePeriodSeconds: number;
  readonly healthCheckPath: string;
  readonly wafRules: readonly WafManagedRuleSpec[];
  /** TLS policy of an HTTPS listener. */
  readonly sslPolicy: string;
}

/** Validates the tracking server's input and resolves its defaults from the profile, for every engine. */
export function resolveExperimentTrackingSpec(
  scope: SpecScope, input: ExperimentTrackingSpecInput, profile: EnvironmentProfile,
): ExperimentTrackingSpec {
  const check = specCheck(scope);
  const cpu = check.oneOf('cpu', input.cpu, FARGATE_CPU, `use a Fargate CPU size: ${FARGATE_CPU.join(', ')}.`) ?? 1024;
  const memoryLimitMiB = check.integerInRange('memoryLimitMiB', input.memoryLimitMiB, 512, 122880) ?? 2048;
  const [memoryLow, memoryHigh] = FARGATE_MEMORY_RANGE[cpu as typeof FARGATE_CPU[number]];
  check.integerInRange('memoryLimitMiB', memoryLimitMiB, memoryLow, memoryHigh,
    `Fargate pairs ${cpu} CPU units with ${memoryLow}-${memoryHigh} MiB; change 'memoryLimitMiB' or 'cpu'.`);
  const minTasks = check.integerInRange('minTasks', input.minTasks, 1, 100) ?? Math.max(1, profile.minCapacity.inferenceInstances);
  const maxTasks = check.integerInRange('maxTasks', input.maxTasks, 1, 100) ?? minTasks * 2;
  check.notAbove('minTasks', minTasks, 'maxTasks', maxTasks);
  const targetCpuPercent = check.numberInRange('targetCpuPercent', input.targetCpuPercent, 10, 90) ?? 70;
  (input.allowedCidrs ?? []).forEach((cidr, i) => check.matches(`allowedCidrs[${i}]`, cidr, IPV4_CIDR, "an IPv4 CIDR block such as '10.0.0.0/16'"));
  if (input.allowedCidrs?.length === 0) {
    check.fail('allowedCidrs', input.allowedCidrs, 'must list at least one CIDR block', 'leave it unset to admit the private subnets, or list the client ranges.');
  }
  const databaseName = check.matches('databaseName', input.databaseName, /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/, 'a PostgreSQL database name');
  return {
    cpu,
    memoryLimitMiB,
    minTasks,
    maxTasks,
    targetCpuPercent,
    scaleInCooldownSeconds: 300,
    scaleOutCooldownSeconds: 60,
    allowedCidrs: input.allowedCidrs ? [...input.allowedCidrs] : undefined,
    databaseName,
    port: MLFLOW_PORT,
    logRetentionDays: profile.logRetentionDays,
    retainData: profile.retainsData,
    deletionProtection: profile.deletionProtection,
    deployment: { minHealthyPercent: 100, maxHealthyPercent: 200, circuitBreakerRollback: true },
    healthCheckGracePeriodSeconds: 180,
    healthCheckPath: '/health',
    wafRules: [
      // Artifact uploads go through the server (--serve-artifacts): count, not block, large bodies.
      { name: 'AWSManagedRulesCommonRuleSet', priority: 0, countRules: ['SizeRestrictions_BODY'] },
      { name: 'AWSManagedRulesKnownBadInputsRuleSet', priority: 1, countRules: [] },
    ],
    sslPolicy: RECOMMENDED_TLS_POLICY,
  };
}

/** The container health check of the MLflow server. */
export function mlflowHealthCheckCommand(port: number = MLFLOW_PORT): string[] {
  return ['CMD-SHELL', `python -c "import urllib.request; urllib.request.urlopen('http://localhost:${port}/health')"`];
}

/**
 * The database user the MLflow server connects as: IAM database authentication (a token signed with the task role's
 * credentials for every new connection), so it has no password and the server reads no secret.
 */
export const MLFLOW_DATABASE_USER = 'mlflow';
/** Where the default image holds the IAM token hook (sitecustomize.py) and the RDS certificate authorities. */
export const MLFLOW_IAM_AUTH_PATH = '/opt/mlflow-iam-auth';
const RELATIONS = 'pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace';

/**
 * The statement that makes `MLFLOW_DATABASE_USER` MLflow's database user, run by the registry's admin in MLflow's
 * database: a login role without password that authenticates with IAM only (`rds_iam`), may connect and create in the
 * public schema, and takes over what MLflow created there while it connected as the admin (tables with their
 * sequences, other sequences, enum types), so its migrations can alter them. It gets nothing else of the admin's. One
 * statement (a DO block), as the RDS Data API runs one per call; idempotent, so every deploy may run it again.
 */
export function mlflowDatabaseUserSql(): string {
  const user = MLFLOW_DATABASE_USER;
  const owned = (kind: string, name: string, from: string, where: string) => [
    `  FOR item IN SELECT ${name} AS name FROM ${from} WHERE ${where} LOOP`,
    `    EXECUTE format('ALTER ${kind} public.%I OWNER TO ${user}', item.name);`,
    '  END LOOP;',
  ];
  const inPublic = (owner: string) => `n.nspname = 'public' AND pg_get_userbyid(${owner}) = current_user`;
  return [
    'DO $mlops$',
    'DECLARE',
    '  item record;',
    'BEGIN',
    `  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${user}') THEN`,
    `    CREATE ROLE ${user} LOGIN;`,
    '  END IF;',
    `  GRANT rds_iam TO ${user};`,
    // Taking ownership to the new role needs membership in it (PostgreSQL 16: the creator's admin option allows this).
    `  EXECUTE format('GRANT ${user} TO %I', current_user);`,
    `  EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO ${user}', current_database());`,
    `  GRANT USAGE, CREATE ON SCHEMA public TO ${user};`,
    ...owned('TABLE', 'c.relname', RELATIONS, `c.relkind IN ('r', 'p') AND ${inPublic('c.relowner')}`),
    ...owned('SEQUENCE', 'c.relname', RELATIONS, `c.relkind = 'S' AND ${inPublic('c.relowner')}`),
    ...owned('TYPE', 't.typname', 'pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace', `t.typtype = 'e' AND ${inPublic('t.typowner')}`),
    'END',
    '$mlops$',
  ].join('\n');
}

/** The RDS Data API `ExecuteStatement` request that creates MLflow's database user, as every engine sends it at deploy time. */
export interface MlflowDatabaseUserStatement {
  /** ARN of the registry's cluster. */
  readonly resourceArn: string;
  /** ARN of the registry's admin secret (the only reader is the step that sends this request). */
  readonly secretArn: string;
  readonly database: string;
  /** `mlflowDatabaseUserSql()`. */
  readonly sql: string;
}

/** The request that makes `MLFLOW_DATABASE_USER` in `database` of the cluster, as the admin whose secret is given. */
export function mlflowDatabaseUserStatement(resourceArn: string, secretArn: string, database: string): MlflowDatabaseUserStatement {
  return { resourceArn, secretArn, database, sql: mlflowDatabaseUserSql() };
}

/** Where the MLflow server finds its database (tokens of the engine: resolved at deploy time). */
export interface MlflowDatabaseEndpoint {
  readonly host: string;
  readonly port: string;
  readonly databaseName: string;
  /** Region of the database, in which the IAM tokens are signed. */
  readonly region: string;
}

/**
 * The command of an MLflow container that connects as `MLFLOW_DATABASE_USER` with IAM database authentication: the
 * URI holds no password (the image's hook adds a fresh token to every new connection, enabled by MLFLOW_DB_IAM_AUTH,
 * which the server's workers inherit) and verifies the database's certificate and name against the RDS authorities.
 */
export function mlflowIamAuthServerCommand(spec: ExperimentTrackingSpec, db: MlflowDatabaseEndpoint, artifactsDestination: string): string {
  const uri = `postgresql://${MLFLOW_DATABASE_USER}@${db.host}:${db.port}/${db.databaseName}`
    + `?sslmode=verify-full&sslrootcert=${MLFLOW_IAM_AUTH_PATH}/rds-ca.pem`;
  const server = [
    'exec mlflow server',
    `--host 0.0.0.0 --port ${spec.port}`,
    `--backend-store-uri "${uri}"`,
    `--artifacts-destination "${artifactsDestination}" --serve-artifacts`,
  ].join(' ');
  return `export HOME=${MLFLOW_SCRATCH_PATH} MLFLOW_DB_IAM_AUTH=1 AWS_REGION=${db.region} && ${server}`;
}
