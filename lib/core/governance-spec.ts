import { DENY_GPU_RULES } from './cost-guard-spec';
import { EnvironmentProfile, LOG_RETENTION_DAYS } from './profiles';
import { platformParameterName } from './served-models';
import { SpecScope, specCheck } from './spec-scope';
import { TAG_KEYS } from './tags';
import { Check } from './validation';

/** An IAM policy statement as JSON, the same for every engine (values may be engine placeholders such as CDK tokens). */
export interface PolicyStatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
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
  'sagemaker:DescribeInferenceComponent', 'sagemaker:ListInferenceComponents',
  'ecs:DescribeClusters', 'ecs:DescribeServices', 'ecs:ListServices',
  'rds:DescribeDBClusters', 'rds:DescribeDBInstances',
  'ecr:DescribeRepositories', 'ecr:DescribeImages', 'ecr:ListImages', 'ecr:DescribeImageScanFindings',
]);

/** Operating the platform: capacity, rollouts, jobs and alarms, only on resources tagged with this environment. */
export const OPERATOR_OPERATE_ACTIONS: readonly string[] = Object.freeze([
  'autoscaling:SetDesiredCapacity', 'autoscaling:UpdateAutoScalingGroup', 'autoscaling:StartInstanceRefresh', 'autoscaling:CancelInstanceRefresh',
  'batch:UpdateComputeEnvironment', 'batch:UpdateJobQueue', 'batch:CancelJob', 'batch:TerminateJob',
  'sagemaker:UpdateEndpointWeightsAndCapacities', 'ecs:UpdateService', 'cloudwatch:EnableAlarmActions',
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

/**
 * What the platform's governance decides, engine-neutral: which actions add GPU capacity (what the budget brake
 * denies and what its tests walk), the services a platform role may ever use (the permission boundary is a cap,
 * not a deny-list), and the names the brake and the boundary share. See the README's security section.
 */

/**
 * Every action that adds GPU capacity or raises a bound on it, by service. The brake denies them to the roles it
 * covers (personas, pipelines); the organization brake (an SCP) denies them to everyone but a break-glass role.
 * Instance-type conditions keep non-accelerated EC2 and SageMaker work allowed (see `DENY_GPU_RULES`).
 */
export const GPU_GROWTH_ACTIONS = Object.freeze({
  /** Raise an Auto Scaling group's size or bounds, or undo a suspension (fleets). */
  autoscaling: Object.freeze([
    'autoscaling:CreateAutoScalingGroup', 'autoscaling:UpdateAutoScalingGroup', 'autoscaling:SetDesiredCapacity',
    'autoscaling:PutScheduledUpdateGroupAction', 'autoscaling:BatchPutScheduledUpdateGroupAction', 'autoscaling:PutScalingPolicy',
    'autoscaling:ExecutePolicy', 'autoscaling:ResumeProcesses', 'autoscaling:StartInstanceRefresh',
  ]),
  /** Raise a compute environment's vCPUs (training). */
  batch: Object.freeze(['batch:CreateComputeEnvironment', 'batch:UpdateComputeEnvironment']),
  /** Raise an endpoint's instances, copies or bounds (endpoints). */
  sageMaker: Object.freeze([
    'sagemaker:CreateEndpoint', 'sagemaker:UpdateEndpoint', 'sagemaker:UpdateEndpointWeightsAndCapacities',
    // Endpoints that scale to zero grow by inference component copies.
    'sagemaker:CreateInferenceComponent', 'sagemaker:UpdateInferenceComponent', 'sagemaker:UpdateInferenceComponentRuntimeConfig',
  ]),
  /** Raise a scalable target's bounds or schedule a scale-up (endpoints). */
  applicationAutoScaling: Object.freeze([
    'application-autoscaling:RegisterScalableTarget', 'application-autoscaling:PutScheduledAction',
    'application-autoscaling:PutScalingPolicy',
  ]),
  /** Create or resize a managed node group (EKS GPU nodes). */
  eks: Object.freeze(['eks:CreateNodegroup', 'eks:UpdateNodegroupConfig']),
});

/** All of `GPU_GROWTH_ACTIONS` in one list. */
export function gpuGrowthActions(): string[] {
  return Object.values(GPU_GROWTH_ACTIONS).flatMap((actions) => [...actions]);
}

/**
 * The brake, in names every engine and the permission boundary share. The brake finds capacity by the environment's
 * tags (`mlops:environment`, `mlops:project`), never by a list of ARNs, so it holds at any number of models; it
 * records each resource's bounds in its ledger before lowering them, and tags the resource `mlops:brake=engaged`,
 * which the permission boundary (and the organization SCP) read: no role but the brake's own may raise a resource so
 * tagged, or remove the tag.
 */
export const BRAKE = Object.freeze({
  /** Tag the brake puts on every resource it capped; growth actions on it are denied to every bounded role. */
  tagKey: 'mlops:brake',
  /** Value of `tagKey` while the brake is on. */
  engagedValue: 'engaged',
  /** Principal tag (value `true`) of the brake's own role, the only role allowed to lift the brake. */
  controllerTagKey: 'mlops:brake-controller',
  /** IAM path of every brake deny policy; the permission boundary protects policies below it. */
  policyPath: '/mlops-brake/',
  /** Auto Scaling processes suspended while the brake is on: scheduled scale-ups (dev working hours). */
  suspendedProcesses: Object.freeze(['ScheduledActions']),
  /** Taint the brake puts on EKS GPU node groups (EKS keeps a node group's `maxSize` at 1 or more). */
  eksTaint: Object.freeze({ key: 'mlops.io/brake', value: 'engaged', effect: 'NO_SCHEDULE' }),
});

/**
 * Actions that change tags of capacity (`autoscaling:CreateOrUpdateTags`, `batch:TagResource`, `sagemaker:AddTags`,
 * `eks:UntagResource`, ...): the boundary denies them on the brake's tag to every role but the brake's own.
 */
export const TAGGING_ACTIONS: readonly string[] = Object.freeze(['autoscaling:*Tags', 'batch:*Resource', 'sagemaker:*Tags', 'eks:*Resource']);

/**
 * What the boundary denies on capacity tagged `mlops:brake=engaged` (to every role but the brake's own), as compact
 * patterns covering `GPU_GROWTH_ACTIONS` on such resources: all of Auto Scaling, compute-environment and node-group
 * changes, endpoint and inference component updates. (Scalable targets carry no tags: the brake's deny policy and the cap
 * cover them.)
 */
export const BRAKED_RESOURCE_ACTIONS: readonly string[] = Object.freeze([
  'autoscaling:*', 'batch:*ComputeEnvironment', 'sagemaker:UpdateEndpoint*', 'sagemaker:UpdateInferenceComponent*', 'eks:*Nodegroup*',
]);

/** SSM parameter recording the brake's state (`released`, or `engaged <time> <execution>`). */
export function brakeStateParameterName(environmentPrefix: string): string {
  return platformParameterName(environmentPrefix, 'brake');
}

/**
 * The services (and, per service, the verbs) a role the platform creates may ever use: the permission boundary
 * allows these and nothing else, so a grant outside them has no effect. Deliberately absent: launching instances
 * (`ec2:RunInstances`, fleets), any IAM write but the brake's own attach/detach, `sts:AssumeRole`, bucket
 * configuration writes and deletes, key deletion, trail changes, alarm silencing and creating users or keys.
 */
export const BOUNDARY_ALLOWED_ACTIONS: readonly string[] = Object.freeze([
  // Storage and keys: object reads and writes only (no bucket configuration, no permanent version deletes).
  's3:Get*', 's3:List*', 's3:PutObject', 's3:PutObjectTagging', 's3:PutObjectRetention', 's3:AbortMultipartUpload', 's3:DeleteObject',
  's3:Replicate*', 'kms:*crypt*', 'kms:GenerateDataKey*', 'kms:Describe*', 'kms:Get*', 'kms:List*',
  // Images.
  'ecr:Get*', 'ecr:Describe*', 'ecr:List*', 'ecr:BatchCheck*', 'ecr:BatchGetImage', 'ecr:*LayerUpload', 'ecr:UploadLayerPart', 'ecr:PutImage',
  // Logs, metrics, traces, alarms (read; no silencing).
  'logs:Create*', 'logs:Put*', 'logs:Describe*', 'logs:Get*', 'logs:List*', 'logs:FilterLogEvents', 'logs:*Query', 'logs:*LogDelivery',
  'cloudwatch:PutMetricData', 'cloudwatch:Describe*', 'cloudwatch:Get*', 'cloudwatch:List*', 'cloudwatch:EnableAlarmActions',
  'xray:Put*', 'xray:GetSampling*',
  // Networking of tasks, endpoints and EKS (no instance launches, no launch templates).
  'ec2:Describe*', 'ec2:*NetworkInterface*', 'ec2:*ssign*Address*', 'ec2:CreateTags', 'ec2:*SecurityGroup*', 'ec2:*Route',
  'ec2:*Volume', 'ec2:ModifyInstanceAttribute',
  'elasticloadbalancing:Describe*', 'elasticloadbalancing:*LoadBalancer*', 'elasticloadbalancing:*TargetGroup*',
  'elasticloadbalancing:*Listener*', 'elasticloadbalancing:*Rule*', 'elasticloadbalancing:*Targets', 'elasticloadbalancing:*Tags',
  // Capacity: operate and brake (launches happen through service-linked roles, within these bounds).
  'autoscaling:Describe*', 'autoscaling:SetDesiredCapacity', 'autoscaling:UpdateAutoScalingGroup', 'autoscaling:*InstanceRefresh',
  'autoscaling:*Processes', 'autoscaling:*Tags', 'application-autoscaling:Describe*', 'application-autoscaling:RegisterScalableTarget',
  'batch:Describe*', 'batch:List*', 'batch:SubmitJob', 'batch:CancelJob', 'batch:TerminateJob', 'batch:Update*', 'batch:*Resource',
  'ecs:Describe*', 'ecs:List*', 'ecs:UpdateService', 'ecs:CreateCluster', 'ecs:*ContainerInstance*', 'ecs:*Poll*', 'ecs:*Telemetry*',
  'ecs:Submit*', 'ecs:TagResource',
  'eks:Describe*', 'eks:List*', 'eks:AccessKubernetesApi', 'eks:UpdateNodegroupConfig', 'eks:*Resource', 'eks-auth:AssumeRoleForPodIdentity',
  'sagemaker:Describe*', 'sagemaker:List*', 'sagemaker:Search', 'sagemaker:CreateModel', 'sagemaker:CreateEndpointConfig',
  'sagemaker:UpdateEndpoint*', 'sagemaker:UpdateInferenceComponentRuntimeConfig', 'sagemaker:*ModelPackage', 'sagemaker:*Tags',
  // Databases and secrets.
  'rds:Describe*', 'rds:List*', 'rds-db:connect', 'rds-data:ExecuteStatement', 'secretsmanager:GetSecretValue', 'secretsmanager:Describe*', 'secretsmanager:List*',
  'dynamodb:*Item', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:Describe*',
  // Orchestration and messaging.
  'states:*Execution', 'states:Describe*', 'states:List*', 'states:GetExecutionHistory', 'states:SendTask*',
  'events:*Rule', 'events:*Targets', 'sns:Publish', 'sns:Get*', 'sns:List*', 'sqs:*Message*', 'sqs:GetQueue*', 'ssm:GetParameter*',
  'ssm:PutParameter', 'tag:GetResources',
  'cloudformation:Describe*', 'cloudformation:List*', 'cloudformation:Get*', 'cloudformation:UpdateStack',
  // Passing roles (only the environment's) and audit reads.
  'iam:Get*', 'iam:List*', 'iam:PassRole', 'iam:CreateServiceLinkedRole', 'cloudtrail:LookupEvents', 'cloudtrail:Describe*',
  'cloudtrail:Get*', 'acm:Describe*', 'wafv2:Get*', 'wafv2:List*',
]);

/**
 * IAM actions no role of the platform may call, whatever its policies say: writing permissions (its own or
 * another's), trust policies, boundaries, roles, users and keys. Attaching and detaching is denied separately,
 * except for the brake's own role and the brake's deny policy.
 */
export const PRIVILEGE_ESCALATION_ACTIONS: readonly string[] = Object.freeze([
  // Put*: role, user and group policies and boundaries; Delete*: policies, boundaries, versions; Update*: trust, roles, logins.
  'iam:Put*', 'iam:Delete*', 'iam:Update*', 'iam:Tag*', 'iam:Untag*', 'iam:CreateRole', 'iam:CreateUser', 'iam:CreatePolicy*',
  'iam:CreateAccessKey', 'iam:CreateLoginProfile', 'iam:SetDefaultPolicyVersion', 'iam:AttachUserPolicy', 'iam:AttachGroupPolicy',
  'iam:AddUserToGroup', 'sts:AssumeRole',
]);

/** Actions that silence alarms: denied to every role of the platform (rollout and rollback alarms must fire). */
export const ALARM_SILENCING_ACTIONS: readonly string[] = Object.freeze([
  'cloudwatch:DisableAlarmActions', 'cloudwatch:SetAlarmState', 'cloudwatch:DeleteAlarms', 'cloudwatch:PutMetricAlarm',
  'cloudwatch:PutCompositeAlarm',
]);

/** What the permission boundary is rendered from. */
export interface BoundaryStatementsInput {
  readonly partition: string;
  readonly account: string;
  /** The cap: `BOUNDARY_ALLOWED_ACTIONS` plus what the user added. */
  readonly allowedActions: readonly string[];
  readonly allowedRegions: readonly string[];
  /** The environment's role name prefix (`<project>-<env>`): roles named so may be passed. */
  readonly roleNamePrefix: string;
  /** The environment's tags: roles carrying both may be passed too. */
  readonly environment?: string;
  readonly project?: string;
}

/**
 * The permission boundary of every role of an environment, a cap: it allows `allowedActions` (and `kms:CreateGrant`
 * only for AWS resources, and attaching or detaching the brake's deny policy only for the brake's own role) and denies
 * privilege escalation, passing roles of other environments, raising capacity the brake capped or touching its tag
 * (but for the brake's own role), silencing alarms and acting outside the allowed regions.
 */
export function boundaryStatements(input: BoundaryStatementsInput): PolicyStatementJson[] {
  const { partition, account } = input;
  const brakeController = { [`aws:PrincipalTag/${BRAKE.controllerTagKey}`]: 'true' };
  const brakePolicies = `arn:${partition}:iam::${account}:policy${BRAKE.policyPath}*`;
  const environmentRoles = `arn:${partition}:iam::${account}:role/${input.roleNamePrefix}-*`;
  const passRole = (Sid: string, Condition?: PolicyStatementJson['Condition']): PolicyStatementJson => ({
    Sid, Effect: 'Deny', Action: 'iam:PassRole', NotResource: environmentRoles, Condition,
  });
  // A role is passable when its name starts with the prefix, or when it carries both environment tags.
  const passRoles = input.environment === undefined || input.project === undefined
    ? [passRole('DenyPassingRolesOfOtherEnvironments')]
    : [
      passRole('DenyPassingRolesOfOtherEnvironments', { StringNotEquals: { [`aws:ResourceTag/${TAG_KEYS.environment}`]: input.environment } }),
      passRole('DenyPassingRolesOfOtherProjects', { StringNotEquals: { [`aws:ResourceTag/${TAG_KEYS.project}`]: input.project } }),
    ];
  return [
    { Sid: 'AllowPlatformServices', Effect: 'Allow', Action: [...input.allowedActions], Resource: '*' },
    { Sid: 'AllowGrantsForAwsResourcesOnly', Effect: 'Allow', Action: 'kms:CreateGrant', Resource: '*', Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } },
    {
      Sid: 'AllowTheBrakeToAttachItsPolicy',
      Effect: 'Allow',
      Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
      Resource: `arn:${partition}:iam::${account}:role/*`,
      Condition: { ArnLike: { 'iam:PolicyARN': brakePolicies }, StringEquals: brakeController },
    },
    { Sid: 'DenyPrivilegeEscalation', Effect: 'Deny', Action: [...PRIVILEGE_ESCALATION_ACTIONS], Resource: '*' },
    {
      Sid: 'DenyAttachingAnyOtherPolicy',
      Effect: 'Deny',
      Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
      Resource: '*',
      Condition: { ArnNotLike: { 'iam:PolicyARN': brakePolicies } },
    },
    { Sid: 'DenyDetachingTheBrake', Effect: 'Deny', Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'], Resource: '*', Condition: { StringNotEquals: brakeController } },
    {
      Sid: 'DenyRaisingBrakedCapacity',
      Effect: 'Deny',
      Action: [...BRAKED_RESOURCE_ACTIONS],
      Resource: '*',
      Condition: { StringEquals: { [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue }, StringNotEquals: brakeController },
    },
    // Scalable targets carry no tags, so the brake cannot mark them: only the brake's role may register or schedule them
    // (CloudFormation's deploy role, which is not bounded, creates them; no platform role needs to).
    {
      Sid: 'DenyScalingEndpointsButTheBrake',
      Effect: 'Deny',
      Action: [...GPU_GROWTH_ACTIONS.applicationAutoScaling],
      Resource: '*',
      Condition: { StringNotEquals: brakeController },
    },
    {
      Sid: 'DenyChangingTheBrakeTag',
      Effect: 'Deny',
      Action: [...TAGGING_ACTIONS],
      Resource: '*',
      Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': [BRAKE.tagKey] }, 'StringNotEquals': brakeController },
    },
    ...passRoles,
    { Sid: 'DenySilencingAlarms', Effect: 'Deny', Action: [...ALARM_SILENCING_ACTIONS], Resource: '*' },
    {
      Sid: 'DenyOtherRegions',
      Effect: 'Deny',
      NotAction: [...GLOBAL_SERVICE_ACTIONS],
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:RequestedRegion': [...input.allowedRegions] } },
    },
  ];
}

/** What the organization brake (a service control policy) is rendered from. */
export interface OrganizationBrakeStatementsInput {
  /** Principals (ARN patterns) the policy never denies: a break-glass role. The brake's own roles are exempt by their tag. */
  readonly exemptPrincipalArns: readonly string[];
  /**
   * Also deny every GPU growth action and accelerated launch to everyone else, whatever the resource's tags: the
   * brake engaged for the whole account (or organizational unit), as long as the policy is attached.
   */
  readonly denyAllGpuGrowth: boolean;
  /** Accelerated EC2 instance type patterns (`g5.*`). */
  readonly acceleratedEc2: readonly string[];
  /** Accelerated SageMaker instance type patterns (`ml.g5.*`). */
  readonly acceleratedSageMaker: readonly string[];
}

/**
 * The organization brake, a service control policy: what the permission boundary guarantees for the platform's roles,
 * for every principal of the accounts it is attached to (administrators and the CloudFormation deploy role included,
 * service-linked roles excepted, as for every SCP): no one but the brake's own roles (tag `mlops:brake-controller`)
 * and the exempt principals raises capacity the brake capped, changes the brake's tag or detaches the brake's deny
 * policy. With `denyAllGpuGrowth`, GPU growth and accelerated launches are denied outright while it is attached.
 */
export function organizationBrakeStatements(input: OrganizationBrakeStatementsInput): PolicyStatementJson[] {
  const unlessExempt: Record<string, Record<string, unknown>> = {
    StringNotEquals: { [`aws:PrincipalTag/${BRAKE.controllerTagKey}`]: 'true' },
    ...(input.exemptPrincipalArns.length > 0 ? { ArnNotLike: { 'aws:PrincipalArn': [...input.exemptPrincipalArns] } } : {}),
  };
  const statements: PolicyStatementJson[] = [
    {
      Sid: 'DenyRaisingBrakedCapacity',
      Effect: 'Deny',
      Action: [...BRAKED_RESOURCE_ACTIONS],
      Resource: '*',
      Condition: { ...unlessExempt, StringEquals: { [`aws:ResourceTag/${BRAKE.tagKey}`]: BRAKE.engagedValue } },
    },
    {
      Sid: 'DenyChangingTheBrakeTag',
      Effect: 'Deny',
      Action: [...TAGGING_ACTIONS],
      Resource: '*',
      Condition: { ...unlessExempt, 'ForAnyValue:StringEquals': { 'aws:TagKeys': [BRAKE.tagKey] } },
    },
    {
      Sid: 'DenyDetachingTheBrake',
      Effect: 'Deny',
      Action: ['iam:DetachRolePolicy', 'iam:DeletePolicy', 'iam:CreatePolicyVersion', 'iam:DeletePolicyVersion', 'iam:SetDefaultPolicyVersion'],
      Resource: '*',
      Condition: { ...unlessExempt, ArnLike: { 'iam:PolicyARN': `arn:*:iam::*:policy${BRAKE.policyPath}*` } },
    },
  ];
  if (input.denyAllGpuGrowth) {
    const { ec2, sageMaker } = DENY_GPU_RULES;
    statements.push(
      { Sid: 'DenyGpuGrowth', Effect: 'Deny', Action: gpuGrowthActions(), Resource: '*', Condition: unlessExempt },
      {
        Sid: ec2.sid,
        Effect: 'Deny',
        Action: [...ec2.actions],
        Resource: 'arn:*:ec2:*:*:instance/*',
        Condition: { ...unlessExempt, [ec2.operator]: { [ec2.conditionKey]: [...input.acceleratedEc2] } },
      },
      {
        Sid: sageMaker.sid,
        Effect: 'Deny',
        Action: [...sageMaker.actions],
        Resource: '*',
        Condition: { ...unlessExempt, [sageMaker.operator]: { [sageMaker.conditionKey]: [...input.acceleratedSageMaker] } },
      },
    );
  }
  return statements;
}

/** Refuses `grantPersonas` with nothing to grant, for every engine. */
export function validatePersonaResources(check: Check, resources: object | undefined): void {
  if (!resources || Object.values(resources).every((r) => r === undefined)) {
    check.fail('resources', resources, 'must name at least one of artifactStore, modelRegistry, trainingImages, servingImages',
      'pass the pieces of the platform the personas work with, e.g. grantPersonas({ artifactStore, modelRegistry }).');
  }
}
