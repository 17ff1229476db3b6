import { CostModel, MonthlyCostRange } from './cost-model';
import { EnvironmentProfile } from './profiles';
import { SpecScope, specCheck, specUnresolved } from './spec-scope';
import { Check } from './validation';

/** Engine-neutral model registry input. */
/** The model registry database's port unless set: not PostgreSQL's 5432, so scans for it find nothing. */
export const DEFAULT_MODEL_REGISTRY_PORT = 5433;

export interface ModelRegistrySpecInput {
  readonly minCapacity?: number;
  readonly maxCapacity?: number;
  readonly backupRetentionDays?: number;
  readonly rotationDays?: number;
  readonly port?: number;
  readonly databaseName?: string;
}

/** The settings every engine renders for the model registry's database. */
export interface ModelRegistrySpec {
  /** Aurora Serverless v2 capacity units; 0 lets the database pause when idle. */
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly backupRetentionDays: number;
  /** Days between rotations of the admin password. */
  readonly rotationDays: number;
  readonly port: number;
  readonly databaseName: string;
  /** Admin user of the generated credentials. */
  readonly masterUsername: string;
  /** Aurora PostgreSQL engine version (must support Serverless v2 auto-pause). */
  readonly engineVersion: string;
  /** Whether a reader runs in a second zone. */
  readonly reader: boolean;
  readonly deletionProtection: boolean;
  /** Whether a final snapshot is taken when the cluster is deleted (everywhere data is retained). */
  readonly finalSnapshot: boolean;
  /** Whether the key, secret and log group are kept when removed. */
  readonly retainData: boolean;
  readonly logRetentionDays: number;
  /** Enhanced monitoring interval. */
  readonly monitoringIntervalSeconds: number;
  readonly storageEncrypted: true;
  readonly iamAuthentication: true;
  /** The RDS Data API: how ExperimentTracking creates its IAM-authenticated database user at deploy time. */
  readonly dataApi: true;
  readonly performanceInsights: true;
  readonly publiclyAccessible: false;
  /** Log types exported to CloudWatch Logs. */
  readonly logExports: readonly string[];
}

/** Validates a model registry's input and resolves its defaults from the profile, for every engine. */
export function resolveModelRegistrySpec(scope: SpecScope, input: ModelRegistrySpecInput, profile: EnvironmentProfile): ModelRegistrySpec {
  const check = specCheck(scope);
  const backupRetentionDays = check.integerInRange('backupRetentionDays', input.backupRetentionDays, 1, 35,
    'Aurora keeps automated backups for 1 to 35 days; set \'backupRetentionDays\' in that range and use a snapshot plan for longer retention.')
    ?? profile.backupRetentionDays;
  const minCapacity = acu(scope, check, 'minCapacity', input.minCapacity, 0) ?? profile.minCapacity.databaseAcu;
  const maxCapacity = acu(scope, check, 'maxCapacity', input.maxCapacity, 1) ?? (profile.allowDestroy ? 4 : 16);
  check.notAbove('minCapacity', minCapacity, 'maxCapacity', maxCapacity);
  const rotationDays = check.integerInRange('rotationDays', input.rotationDays, 1, 365) ?? 30;
  const port = check.integerInRange('port', input.port, 1150, 65535) ?? DEFAULT_MODEL_REGISTRY_PORT;
  const databaseName = check.matches('databaseName', input.databaseName, /^[a-zA-Z][a-zA-Z0-9_]{0,62}$/,
    'a letter followed by up to 62 letters, digits or underscores') ?? 'registry';
  return {
    minCapacity,
    maxCapacity,
    backupRetentionDays,
    rotationDays,
    port,
    databaseName,
    masterUsername: 'registry_admin',
    engineVersion: '16.6',
    reader: profile.multiAz,
    deletionProtection: profile.deletionProtection,
    finalSnapshot: !profile.allowDestroy,
    retainData: profile.retainsData,
    logRetentionDays: profile.logRetentionDays,
    monitoringIntervalSeconds: 60,
    storageEncrypted: true,
    iamAuthentication: true,
    dataApi: true,
    performanceInsights: true,
    publiclyAccessible: false,
    logExports: ['postgresql'],
  };
}

/** Validates a SageMaker model package group name (and description) before it is added to a registry. */
export function validateModelPackageGroup(
  scope: SpecScope, name: string, existing: ReadonlySet<string> | ReadonlyMap<string, unknown>, description?: string,
): void {
  const check = specCheck(scope);
  check.matches('modelPackageGroupName', name, /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/,
    '1-63 letters, digits or hyphens, starting and ending with a letter or digit');
  if (!specUnresolved(scope, name) && existing.has(name)) {
    check.fail('modelPackageGroupName', name, 'is already registered in this model registry', 'use a different name for each model family, or reuse the group returned the first time.');
  }
  if (description !== undefined) {
    check.matches('description', description, /^[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]{0,1024}$/u, 'at most 1024 printable characters');
  }
}

/** Validates a database user name for IAM database authentication grants. */
export function validateDbUser(scope: SpecScope, dbUser: string): string {
  specCheck(scope).matches('dbUser', dbUser, /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/, 'a PostgreSQL user name (a letter or underscore, then up to 62 letters, digits or underscores)');
  return dbUser;
}

/** Aurora capacity units: `min`-256 in steps of 0.5. */
function acu(scope: SpecScope, check: Check, prop: string, value: number | undefined, min: number): number | undefined {
  check.numberInRange(prop, value, min, 256);
  if (value !== undefined && !specUnresolved(scope, value) && value % 0.5 !== 0) {
    check.fail(prop, value, 'must be a multiple of 0.5 Aurora capacity units', `round '${prop}' to a multiple of 0.5, e.g. ${Math.round(value * 2) / 2}.`);
  }
  return value;
}

/** Monthly cost of the registry's Aurora capacity (writer plus reader) at minimum and maximum ACUs. */
export function modelRegistryCostEstimate(spec: ModelRegistrySpec, model: CostModel = CostModel.default()): MonthlyCostRange {
  const instances = spec.reader ? 2 : 1;
  const acuHour = model.unitPrices.auroraAcuHour;
  return { minUsd: model.monthlyHourly(acuHour * spec.minCapacity, instances), maxUsd: model.monthlyHourly(acuHour * spec.maxCapacity, instances) };
}
