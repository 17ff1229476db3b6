import { EnvironmentProfile, LOG_RETENTION_DAYS } from './profiles';
import { SpecScope, specCheck } from './spec-scope';
import { TAG_KEYS } from './tags';

/** An IAM policy statement as JSON, the same for every engine (values may be engine placeholders such as CDK tokens). */
export interface PolicyStatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** Engine-neutral governance input. */
export interface GovernanceSpecInput {
  /** Longest persona session in hours (the engine converts its duration type). */
  readonly maxSessionHours?: number;
  readonly trailRetentionDays?: number;
  readonly logRetentionDays?: number;
  /** Regions platform roles may act in (the engine fills in its own region when the user gave none). */
  readonly allowedRegions: readonly string[];
  /** Name of the trail (the engine fills in a unique default). */
  readonly trailName: string;
  readonly mlEngineerDatabaseUser?: string;
}

/** The settings every engine renders for the environment's governance. */
export interface GovernanceSpec {
  readonly maxSessionHours: number;
  /** Days trail log files stay in the trail bucket. */
  readonly trailRetentionDays: number;
  /** Days the trail's CloudWatch Logs copy is kept. */
  readonly logRetentionDays: number;
  readonly allowedRegions: readonly string[];
  readonly trailName: string;
  readonly mlEngineerDatabaseUser: string;
  readonly retainData: boolean;
  readonly keyPendingWindowDays: number;
  /** The trail: multi-region, global events, log file validation, KMS, CloudWatch Logs delivery. */
  readonly trail: { readonly isMultiRegionTrail: true; readonly includeGlobalServiceEvents: true; readonly enableLogFileValidation: true };
}

/** The four personas, in the order every engine creates their roles. */
export const PERSONAS = Object.freeze([
  { key: 'dataScientist', id: 'DataScientist', description: 'data scientist persona: reads datasets, writes experiments' },
  { key: 'mlEngineer', id: 'MlEngineer', description: 'ML engineer persona: publishes models and images' },
  { key: 'platformOperator', id: 'PlatformOperator', description: 'platform operator persona: operates, never reads data' },
  { key: 'auditor', id: 'Auditor', description: 'auditor persona: reads configuration and the audit trail, never data' },
] as const);

/** The condition on the default persona trust (the account's principals): only with MFA. */
export const PERSONA_MFA_CONDITION = Object.freeze({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } });

/** Actions outside the allowed regions that stay allowed: these services are global (or answer from us-east-1). */
export const GLOBAL_SERVICE_ACTIONS: readonly string[] = Object.freeze([
  'iam:*', 'sts:*', 'organizations:*', 'account:*', 'cloudfront:*', 'route53:*', 'route53domains:*', 'support:*',
  'budgets:*', 'ce:*', 'cur:*', 'health:*', 'trustedadvisor:*', 'waf:*', 'shield:*', 'globalaccelerator:*',
  'sso:*', 'pricing:*', 's3:ListAllMyBuckets', 's3:GetBucketLocation',
]);

/** Observing the platform: no data, no resource-level permissions in these services' authorization models. */
export const OPERATOR_OBSERVE_ACTIONS: readonly string[] = Object.freeze([
  'cloudwatch:DescribeAlarms', 'cloudwatch:DescribeAlarmHistory', 'cloudwatch:GetMetricData', 'cloudwatch:GetMetricStatistics',
  'cloudwatch:ListMetrics', 'cloudwatch:GetDashboard', 'cloudwatch:ListDashboards',
  'logs:DescribeLogGroups', 'logs:DescribeLogStreams', 'logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:StartQuery',
  'logs:GetQueryResults', 'logs:StopQuery',
  'autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeScalingActivities', 'autoscaling:DescribeScheduledActions',
  'batch:DescribeComputeEnvironments', 'batch:DescribeJobQueues', 'batch:DescribeJobDefinitions', 'batch:DescribeJobs', 'batch:ListJobs',
  'sagemaker:DescribeEndpoint', 'sagemaker:DescribeEndpointConfig', 'sagemaker:ListEndpoints',
  'ecs:DescribeClusters', 'ecs:DescribeServices', 'ecs:ListServices',
  'rds:DescribeDBClusters', 'rds:DescribeDBInstances',
  'ecr:DescribeRepositories', 'ecr:DescribeImages', 'ecr:ListImages', 'ecr:DescribeImageScanFindings',
]);

/** Operating the platform: capacity, rollouts, jobs and alarms, only on resources tagged with this environment. */
export const OPERATOR_OPERATE_ACTIONS: readonly string[] = Object.freeze([
  'autoscaling:SetDesiredCapacity', 'autoscaling:UpdateAutoScalingGroup', 'autoscaling:StartInstanceRefresh', 'autoscaling:CancelInstanceRefresh',
  'batch:UpdateComputeEnvironment', 'batch:UpdateJobQueue', 'batch:CancelJob', 'batch:TerminateJob',
  'sagemaker:UpdateEndpointWeightsAndCapacities', 'ecs:UpdateService',
  'cloudwatch:EnableAlarmActions', 'cloudwatch:DisableAlarmActions', 'cloudwatch:SetAlarmState',
]);

/** What the boundary denies on protected buckets: weakening them. */
export const PROTECTED_BUCKET_ACTIONS: readonly string[] = Object.freeze([
  's3:PutBucketVersioning', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:PutEncryptionConfiguration',
  's3:PutBucketObjectLockConfiguration', 's3:BypassGovernanceRetention', 's3:PutBucketPublicAccessBlock', 's3:PutBucketOwnershipControls',
]);

const TRAIL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const DB_USER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates the governance input and resolves its defaults from the profile, for every engine. */
export function resolveGovernanceSpec(scope: SpecScope, input: GovernanceSpecInput, profile: EnvironmentProfile): GovernanceSpec {
  const check = specCheck(scope);
  check.numberInRange('maxSessionDuration', input.maxSessionHours, 1, 12, "set 'maxSessionDuration' to between Duration.hours(1) and Duration.hours(12).");
  const trailRetentionDays = check.integerInRange('trailRetentionDays', input.trailRetentionDays, 1, 36500,
    "set 'trailRetentionDays' to a whole number of days from 1 to 36500 (audit rules often ask for 2557, 7 years).")
    ?? (profile.allowDestroy ? profile.logRetentionDays : 2557);
  const logRetentionDays = check.oneOf('logRetentionDays', input.logRetentionDays, LOG_RETENTION_DAYS,
    `use a value CloudWatch Logs accepts: ${LOG_RETENTION_DAYS.join(', ')}.`) ?? profile.logRetentionDays;
  const allowedRegions = input.allowedRegions;
  if (allowedRegions.length === 0) {
    check.fail('allowedRegions', allowedRegions, 'must name at least one region', "list the regions the platform runs in, e.g. ['eu-west-1'], or leave it out for the stack's region.");
  }
  allowedRegions.forEach((r, i) => check.matches(`allowedRegions[${i}]`, r, REGION, "a region name such as 'eu-west-1'"));
  check.matches('trailName', input.trailName, TRAIL_NAME, "3-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
  const mlEngineerDatabaseUser = check.matches('mlEngineerDatabaseUser', input.mlEngineerDatabaseUser, DB_USER,
    "a PostgreSQL user name of lower-case letters, digits and '_', starting with a letter or '_'") ?? 'ml_engineer';
  return {
    maxSessionHours: input.maxSessionHours ?? 1,
    trailRetentionDays,
    logRetentionDays,
    allowedRegions: [...allowedRegions],
    trailName: input.trailName,
    mlEngineerDatabaseUser,
    retainData: profile.retainsData,
    keyPendingWindowDays: profile.allowDestroy ? 7 : 30,
    trail: { isMultiRegionTrail: true, includeGlobalServiceEvents: true, enableLogFileValidation: true },
  };
}

/**
 * The permission boundary of every platform role. It allows everything except: creating roles or users without the
 * boundary, removing or changing the boundary, long-term credentials, stopping, deleting or changing the trail,
 * deleting buckets, scheduling key deletion or disabling keys, and acting outside the allowed regions. It grants
 * nothing by itself. Protected buckets and the trail's log files get their own statements.
 */
export function boundaryStatements(
  boundaryArn: string, allowedRegions: readonly string[], trailArn: string, partition: string,
): PolicyStatementJson[] {
  return [
    // The Allow grants nothing by itself; it lets identity policies work up to the denies below.
    { Sid: 'AllowWhatIdentityPoliciesAllow', Effect: 'Allow', Action: '*', Resource: '*' },
    { Sid: 'DenyLongTermCredentials', Effect: 'Deny', Action: ['iam:CreateUser', 'iam:CreateAccessKey', 'iam:CreateLoginProfile'], Resource: '*' },
    {
      Sid: 'DenyPrincipalsWithoutTheBoundary',
      Effect: 'Deny',
      Action: ['iam:CreateRole', 'iam:PutRolePermissionsBoundary', 'iam:PutUserPermissionsBoundary'],
      Resource: '*',
      Condition: { StringNotEquals: { 'iam:PermissionsBoundary': boundaryArn } },
    },
    { Sid: 'DenyRemovingTheBoundary', Effect: 'Deny', Action: ['iam:DeleteRolePermissionsBoundary', 'iam:DeleteUserPermissionsBoundary'], Resource: '*' },
    {
      Sid: 'DenyChangingTheBoundary',
      Effect: 'Deny',
      Action: ['iam:CreatePolicyVersion', 'iam:DeletePolicy', 'iam:DeletePolicyVersion', 'iam:SetDefaultPolicyVersion'],
      Resource: boundaryArn,
    },
    {
      Sid: 'DenyWeakeningTheTrail',
      Effect: 'Deny',
      Action: ['cloudtrail:StopLogging', 'cloudtrail:DeleteTrail', 'cloudtrail:UpdateTrail', 'cloudtrail:PutEventSelectors', 'cloudtrail:PutInsightSelectors'],
      Resource: trailArn,
    },
    { Sid: 'DenyDisablingAnyTrail', Effect: 'Deny', Action: ['cloudtrail:StopLogging', 'cloudtrail:DeleteTrail'], Resource: '*' },
    { Sid: 'DenyDeletingBuckets', Effect: 'Deny', Action: 's3:DeleteBucket', Resource: `arn:${partition}:s3:::*` },
    { Sid: 'DenyDeletingOrDisablingKeys', Effect: 'Deny', Action: ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:DisableKeyRotation'], Resource: '*' },
    {
      Sid: 'DenyOtherRegions',
      Effect: 'Deny',
      NotAction: [...GLOBAL_SERVICE_ACTIONS],
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:RequestedRegion': [...allowedRegions] } },
    },
  ];
}

/** The boundary statement protecting a group of buckets (the `index`-th group) from deletion and weakening. */
export function protectBucketsStatement(bucketArns: readonly string[], index: number): PolicyStatementJson {
  return { Sid: `DenyWeakeningProtectedBuckets${index}`, Effect: 'Deny', Action: [...PROTECTED_BUCKET_ACTIONS], Resource: [...bucketArns] };
}

/** The boundary statement keeping the trail's log files. */
export function denyTrailLogDeletionStatement(trailBucketArn: string): PolicyStatementJson {
  return {
    Sid: 'DenyDeletingTrailLogs',
    Effect: 'Deny',
    Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutLifecycleConfiguration'],
    Resource: [trailBucketArn, `${trailBucketArn}/*`],
  };
}

/** The platform operator's own permissions: observe everything, operate only this environment's tagged resources. */
export function operatorStatements(environment: string): PolicyStatementJson[] {
  return [
    { Sid: 'Observe', Effect: 'Allow', Action: [...OPERATOR_OBSERVE_ACTIONS], Resource: '*' },
    {
      Sid: 'OperateThisEnvironment',
      Effect: 'Allow',
      Action: [...OPERATOR_OPERATE_ACTIONS],
      Resource: '*',
      Condition: { StringEquals: { [`aws:ResourceTag/${TAG_KEYS.environment}`]: environment } },
    },
  ];
}

/** The auditor's reads of the audit trail (besides the AWS managed SecurityAudit policy). */
export function auditorTrailStatements(trailBucketArn: string, trailLogGroupArn: string): PolicyStatementJson[] {
  return [
    { Sid: 'ReadTrailBucket', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: `${trailBucketArn}/AWSLogs/*` },
    { Sid: 'ListTrailBucket', Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: trailBucketArn },
    {
      Sid: 'ReadTrailLogs',
      Effect: 'Allow',
      Action: ['logs:GetLogEvents', 'logs:FilterLogEvents', 'logs:DescribeLogStreams', 'logs:StartQuery'],
      Resource: trailLogGroupArn,
    },
    { Sid: 'LookupEvents', Effect: 'Allow', Action: ['cloudtrail:LookupEvents', 'logs:GetQueryResults', 'logs:StopQuery'], Resource: '*' },
  ];
}

/** The AWS managed policy the auditor holds: AWS's read-only set of configuration and metadata actions. */
export const AUDITOR_MANAGED_POLICY = 'SecurityAudit';

/** Object reads the operator and auditor are explicitly denied on the artifact buckets. */
export const DENIED_OBJECT_READ_ACTIONS: readonly string[] = Object.freeze(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions']);
/** Registry reads the operator and auditor are explicitly denied. */
export const DENIED_REGISTRY_ACTIONS: readonly string[] = Object.freeze(['secretsmanager:GetSecretValue', 'rds-db:connect']);
