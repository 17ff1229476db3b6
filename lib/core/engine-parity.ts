/**
 * Which security- and cost-relevant settings both engines (the CDK constructs and the Pulumi components) render.
 *
 * This table is the one place the parity is written down: README shows it (rendered by `renderEngineParityTable`), and
 * the parity test (test/pulumi/parity.test.ts) builds the same environment with both engines and compares, for every
 * `both` row, the settings named in `checks`. A setting the parity test extracts must be named by a row, and every
 * `both` row must name settings the test extracts, so a setting cannot be added to one engine (or dropped from the
 * table) without the test failing. A CDK change that makes a `both` row fail is followed in the Pulumi component in the
 * same change, or its row becomes `cdk-only` with a `not yet: #<issue> ...` note (README shows it).
 */

/** Why a setting matters. */
export type ParityConcern = 'security' | 'cost';

/**
 * `both`: rendered the same by both engines (compared by the parity test). `cdk-only`: not yet rendered by the Pulumi
 * components (`note` says what is missing and which issue changes it on the CDK side).
 */
export type ParityStatus = 'both' | 'cdk-only';

/** One setting of one construct. */
export interface EngineParityRow {
  /** The construct / component (same name in both engines), or `EVERY_CONSTRUCT` for a setting of all of them. */
  readonly construct: string;
  /** What the setting is, in words. */
  readonly setting: string;
  readonly concern: ParityConcern;
  readonly status: ParityStatus;
  /** Names of the settings the parity test extracts from both engines' output for this row (empty for `cdk-only`). */
  readonly checks: readonly string[];
  /** What is missing (for `cdk-only`), or how the engines differ in form but not in effect. */
  readonly note?: string;
}

/** The construct of settings every construct renders (every key, every bucket the library creates). */
export const EVERY_CONSTRUCT = '(every construct)';

const both = (construct: string, concern: ParityConcern, setting: string, checks: string[], note?: string): EngineParityRow =>
  ({ construct, setting, concern, status: 'both', checks, note });
// (A setting Pulumi does not render yet is a row `{ construct, setting, concern, status: 'cdk-only', checks: [], note: 'not yet: ...' }`.)

/** The parity table. */
export const ENGINE_PARITY: readonly EngineParityRow[] = Object.freeze([
  both('ArtifactStore', 'security', 'versioning, SSE-KMS with the platform key and bucket keys on every purpose bucket', ['versioning', 'sse', 'bucketKey', 'platformKey']),
  both('ArtifactStore', 'security', 'public access blocked, bucket-owner-enforced ownership', ['publicAccess', 'ownership']),
  both('ArtifactStore', 'security', 'TLS-only, TLS 1.2+ bucket policy; server access logs per purpose', ['denies', 'logPrefix']),
  both('ArtifactStore', 'cost', 'noncurrent versions to Standard-IA, then expired; incomplete uploads aborted', ['lifecycle']),
  both('ArtifactStore', 'security', 'cross-region replication of KMS-encrypted objects, role limited to S3 in each region', ['replication']),
  both('ArtifactStore', 'security', 'immutable served models: served/<model>/<version>/ written once by the promotion role, Object Lock by default',
    ['servedModels', 'objectLock'], 'both render core\'s servedModelsBucketPolicy naming this account\'s <store>-promotion role'),

  both(EVERY_CONSTRUCT, 'security', 'every KMS key the library creates denies kms:CreateGrant unless the grant is for an AWS resource or the caller is an AWS service (CT.KMS.PR.3)',
    ['keyGrantDeny'], 'both render core\'s denyGrantsExceptForAwsResourcesStatement; a Pulumi key without statements of its own gets the account\'s administration plus the deny'),
  both(EVERY_CONSTRUCT, 'security', 'every bucket the library creates (log buckets included) sends its object events to EventBridge (AWS Control Tower CT.S3.PR.4)',
    ['eventBridge'], 'Pulumi: an aws.s3.BucketNotification with eventbridge per bucket (the bucket\'s one notification configuration)'),

  both('ModelRegistry', 'security', 'storage encrypted with the platform key, IAM authentication, no public instances', [
    'storageEncrypted', 'platformKey', 'iamAuth', 'publiclyAccessible',
  ]),
  both('ModelRegistry', 'security', 'deletion protection, backups, engine version, port, log exports, enhanced monitoring', [
    'deletionProtection', 'backupDays', 'engineVersion', 'port', 'databaseName', 'logExports', 'monitoringInterval', 'performanceInsights',
  ]),
  both('ModelRegistry', 'cost', 'Serverless v2 capacity range and instance count', ['capacity', 'instances']),
  both('ModelRegistry', 'security', 'the RDS Data API is on, so ExperimentTracking creates its IAM-authenticated database user at deploy time (callers need rds-data:ExecuteStatement and the admin secret)',
    ['dataApi']),

  both('CostGuard', 'cost', 'monthly limit, cost-allocation tag filter, actual and forecast notifications', ['limit', 'filter', 'notifications']),
  both('CostGuard', 'cost', 'cost anomaly subscription threshold', ['anomaly']),
  both('CostGuard', 'cost', 'GPU brake at the deny threshold (fleets, endpoints, training, EKS node groups capped; personas and pipelines denied; approval outside dev)',
    ['brakeEngage', 'brakeRelease', 'brakeDeny', 'brakeRoleSids', 'brakeRoleActions'],
    'engage and release definitions (core\'s, equal up to ARNs and names), the deny policy, the brake role\'s statements (core\'s brakeControllerStatements)'),

  both('GpuTrainingCluster', 'cost', 'spot first, scale to zero vCPUs, vCPU cap from maxGpus, allowed instance types', ['environments']),
  both('GpuTrainingCluster', 'security', 'IMDSv2 only with hop limit 1 (job containers cannot reach the instance role), encrypted gp3 root volumes with the platform key', [
    'imds', 'volume',
  ]),
  both('GpuTrainingCluster', 'cost', 'queue priority, job log retention, no placement group in dev, cost ceiling', [
    'priority', 'logRetentionDays', 'placementGroups', 'ceiling',
  ]),
  both('GpuTrainingCluster', 'security', 'job definitions: job role reads datasets and writes only its checkpoints; retries only on spot and host failures', [
    'jobCheckpointWrites', 'jobRetries',
  ]),

  both('InferenceFleet', 'cost', 'capacity, scale to zero off hours and back in working hours, requests-per-instance target', [
    'capacity', 'schedules', 'requestsPerInstance', 'cost',
  ]),
  both('InferenceFleet', 'security', 'internal load balancer, deletion protection, health checks, encrypted root volume, AMI', [
    'internal', 'deletionProtection', 'gracePeriod', 'targetGroup', 'rootVolume', 'ami',
  ]),
  both('InferenceFleet', 'security', 'rollout variants and their initial traffic weights', ['variantWeights']),
  both('InferenceFleet', 'security', 'IMDSv2 only and its hop limit; the instance role reads only its model\'s prefix and writes nothing', [
    'imds', 'instanceReads', 'instanceWrites',
  ]),
  both('InferenceFleet', 'security', 'HTTPS on 443 with the recommended TLS 1.2+ policy and port 80 redirecting to it; a certificate is required where the profile requires TLS (staging, prod) and for an internet-facing fleet',
    ['listeners', 'listenerPorts', 'certificateRequired'],
    'the missing-certificate errors name each engine\'s prop (CDK certificate, Pulumi certificateArn) with the same problem'),
  both('InferenceFleet', 'cost', 'capacity resilience: each Auto Scaling group launches the instance type or up to two catalog stand-ins (mixed-instances policy, on demand, prioritized) across the subnets\' zones; alternativeInstanceTypes names them',
    ['mixedInstances', 'alternativeErrors'], 'both render core\'s capacityTypes and reject the same stand-ins with the same ValidationErrors'),
  both('InferenceFleet', 'security', 'rollouts stepped and rolled back by the fleet rollout state machine (served state in SSM); on CDK it also starts when a deploy writes the served state (CloudTrail PutParameter by CloudFormation) and waits for the serving stack, Pulumi has no such write: its rollout is started by hand',
    ['rolloutDefinition', 'rolloutRoleStatements', 'rolloutTrust'],
    'both render core\'s fleetRolloutDefinition and fleetRolloutRoleStatements (FleetRollout in each engine, on a fleet with a servedState), compared without the CDK deploy wait; the role is trusted by Step Functions for that state machine only'),

  both('ImageRepository', 'security', 'immutable tags, scan on push, KMS encryption with the platform key', ['tagMutability', 'scanOnPush', 'encryption']),
  both('ImageRepository', 'cost', 'untagged images expire (tagged images are kept)', ['lifecycle']),

  both('ModelEndpoint', 'security', 'network isolation, request and response capture encrypted with the store key', ['networkIsolation', 'dataCapture']),
  both('ModelEndpoint', 'security', 'deployment guardrails and the alarms that roll a deployment back', ['trafficRouting', 'rollbackAlarms']),
  both('ModelEndpoint', 'cost', 'instance type, capacity range, invocations target and cost estimate', ['instanceType', 'capacity', 'invocationsTarget', 'cost']),
  both('ModelEndpoint', 'security', 'the execution role reads only its model\'s prefix and writes only the capture prefix', ['executionReads', 'executionWrites']),
  both('ModelEndpoint', 'cost', 'scale to zero outside working hours (the model as an inference component on a variant with managed instance scaling from 0 instances)',
    ['inferenceComponent', 'scaleToZeroSchedule'],
    'the default in dev on both engines (core\'s resolveModelEndpointSpec); Pulumi renders the inference component and its endpoint configuration with @pulumi/aws-native (the AWS provider has no inference component), the scaling with @pulumi/aws'),

  both('MlopsMonitoring', 'security', 'alarm topic encrypted, TLS only, publishable by CloudWatch of this account only', ['topicEncrypted', 'topicPolicy']),
  both('MlopsMonitoring', 'cost', 'serving alarms: latency (in the backend\'s unit), 5xx rate and GPU waste thresholds; a stepped fleet\'s rollout progress graphed beside its p99 latency and 5xx rate',
    ['servingThresholds', 'rolloutProgressGraph', 'servingRows'],
    'core\'s servingGraphSpec and fleetRolloutProgressMetricSpec: on the serving dashboard of the model\'s shard (CDK MlopsPlatform), first on the model\'s dashboard (Pulumi MlopsPlatform)'),

  both('MlopsGovernance', 'security', 'multi-region trail with log file validation, encrypted, to CloudWatch Logs', ['trail']),
  both('MlopsGovernance', 'security', 'permission boundary: an allow-list cap with privilege-escalation denies (same statements)', ['boundary']),
  both('MlopsGovernance', 'security', 'persona roles: session length, MFA trust, auditor managed policy, all bounded', ['personas']),

  both('ExperimentTracking', 'security', 'internal load balancer dropping invalid headers, WAF managed rules, no public IP', [
    'internal', 'dropInvalidHeaders', 'wafRules', 'publicIp',
  ]),
  both('ExperimentTracking', 'cost', 'task size, task count range, deployment circuit breaker, log retention', ['taskSize', 'tasks', 'circuitBreaker', 'logRetentionDays']),
  both('ExperimentTracking', 'security', 'the task role writes only below mlflow/ of the models bucket', ['taskWrites']),
  both('ExperimentTracking', 'security', 'HTTPS on 443 with the recommended TLS 1.2+ policy and port 80 redirecting to it; a certificate is required where the profile requires TLS (staging, prod)',
    ['listeners', 'listenerPorts', 'certificateRequired'],
    'the missing-certificate errors name each engine\'s prop (CDK certificate, Pulumi certificateArn) with the same problem'),
  both('ExperimentTracking', 'security', 'every path to MLflow is authenticated by the load balancer (a Cognito user pool with MFA and no self sign-up, or the organization\'s OIDC provider; bearer JWTs verified by the load balancer); no authentication only where the profile allows HTTP (dev); clients admitted by security group (clients) or address range',
    ['authentication', 'userPool', 'authenticationErrors'],
    'core\'s resolveTrackingAuthenticationKind, TRACKING_USER_POOL, TRACKING_OAUTH and TRACKING_BEARER_RULE; Pulumi clients are security group ids, its OIDC client secret a Pulumi secret'),
  both('ExperimentTracking', 'security', 'nothing is installed at start: the default image is built at deploy from the Dockerfile the package ships (pinned MLflow and drivers, tagged by content hash); an image of the user\'s must be pinned by digest where the profile requires TLS',
    ['installAtStart', 'pinnedImage'],
    'Pulumi builds no image: its image is required (built from the same Dockerfile, assets/mlflow/, with core\'s mlflowImageBuildCommand), pinned by digest under the same rule'),
  both('ExperimentTracking', 'security', 'MLflow connects as its own database user (mlflow) with IAM authentication (a fresh token per connection, TLS verify-full), not with the registry\'s admin secret, which only the deploy-time step that creates that user (RDS Data API) reads',
    ['databaseUserSql', 'taskDatabaseUsers', 'secretReaders', 'serverCommand', 'taskSecrets'],
    'the deploy-time step is an AwsCustomResource on CDK, a Lambda function with a Lambda invocation on Pulumi; both send core\'s mlflowDatabaseUserStatement'),
  both('ExperimentTracking', 'security', 'the container runs as a non-root user (1000) with a read-only root filesystem (writes only to a /tmp task volume) and a hard memory limit',
    ['container']),

  both('ModelPipeline', 'security', 'retraining pipeline (Step Functions: train, evaluate, approve, deploy)',
    ['pipelineDefinition', 'pipelineRoleStatements', 'pipelineRunLock', 'pipelineLogging'],
    "both render core's modelPipelineDefinition and modelPipelineStatements (compared with manual approval, the served state, a holdout and the hand-off to the promotion, which the Pulumi one takes by its state machine's ARN)"),
  both('ModelPipeline', 'cost', 'what starts a run: a schedule, the completion marker of a data drop (one run per drop), drift or quality alarms going to ALARM, and the cleanup of stopped runs, each rule starting this pipeline only with its trigger as input',
    ['pipelineTriggers', 'pipelineTriggerRole'],
    "both render core's modelPipelineTriggerRules and modelPipelineCleanupPattern; the Pulumi schedule is an expression string checked by core's validateScheduleExpression, its alarms ARNs"),
  both('ModelPipeline', 'security', "the pipeline's own rollout to an endpoint without a promotion: a model and configuration per run on the endpoint's role, network, volume key and data capture, UpdateEndpoint with its deployment guardrails and rollback alarms, a rollback or failed update marking the package Rejected again; the role may pass only the endpoint's role and create grants on its key only for AWS resources",
    ['pipelineRolloutDefinition', 'pipelineRolloutStatements', 'pipelineRolloutGrants'],
    "both render core's modelPipelineDefinition and modelPipelineStatements with the endpoint (the Pulumi one takes the Pulumi ModelEndpoint as endpoint); the pass-role and key grants are CDK grants on one side and the Pulumi role's own statements on the other"),
  both('ModelPromotion', 'security', 'the promotion role (named as the models bucket policy designates, the only writer of served/, assumable only by its state machine) and its state machine: lock, write-once copy with its SHA-256, registry records, served state',
    ['promotionDefinition', 'promotionRoleStatements', 'promotionRoleActions', 'promotionTrust', 'promotionRoleName'],
    'both render core\'s promotionDefinition and promotionRoleStatements (equal up to names and ARNs) until the served state is written (next row); before the copy, both bring a stepped fleet back to its first variant after a finished rollout (CDK updates the serving stack, Pulumi refreshes that variant\'s group, to the served version; then the fleet rollout\'s settle) and refuse one whose rollout is in flight (CandidateServing)'),
  both('ModelPromotion', 'security', 'after the served state, each step restoring the previous served state on failure: CDK updates the serving shard stack (CloudFormation UpdateStack with the previous template) and waits for it; Pulumi refreshes the Auto Scaling group of each fleet variant whose version changed (instances read it at boot) and waits for it (InstanceRefreshFailed); then the fleet rollout state machine (RolledBack)',
    ['promotionAfterServedState', 'promotionRolloutStatements'],
    'core\'s promotionDefinition with servingUpdate cloudformation (CDK) or instance-refresh (Pulumi; the groups found by their mlops:served-variant tag, the role may refresh only groups tagged with a served state of its environment); a Pulumi endpoint ends at the served state, which the next pulumi up serves, and a Pulumi fleet\'s rollout (FleetRollout) is started where its served state\'s promotion tag names it (the Pulumi MlopsPlatform names each stepped fleet\'s FleetRollout there)'),
  both('ModelPromotion', 'security', "promotion across environments: prod promotes the package staging approved by its ARN (the same archive, SHA-256 checked, registered in prod; promoteFrom), staging lets only prod's promotion role read its model packages and served/ archives (shareServedModelsWith), prod does not retrain",
    ['sharedServedModels'],
    "both render core's sharedServedModelsBucketStatement, sharedServedModelsKeyStatement and sharedModelPackagesPolicy; Pulumi takes the promoting environments as an argument (MlopsPlatform, ArtifactStore and ModelRegistry sharesServedModelsWith), since its bucket, key and group policies are created with the components"),
  both('MlopsPlatform', 'security', 'served models read their versions and weights from the served state (SSM), so a deploy never reverts a promotion or a rollout: '
    + 'CloudFormation resolves it at every stack operation; Pulumi reads it at pulumi up (fleet listener weights, the endpoint model\'s ModelDataUrl) and '
    + 'fleet instances read their version when they boot (a running instance keeps its version until it is replaced)', ['servedVersions', 'servedWeights'],
  'compared after a promotion and a rollout step the program does not know of (served state values differing from modelVersion and the initial split)'),
]);

/** The table as Markdown, as README shows it. */
export function renderEngineParityTable(rows: readonly EngineParityRow[] = ENGINE_PARITY): string {
  const lines = ['| Construct | Setting | Concern | CDK | Pulumi |', '|---|---|---|---|---|'];
  for (const row of rows) {
    const pulumi = row.status === 'both' ? 'yes' : `not yet${row.note ? ` (${row.note.replace(/^not yet: /, '')})` : ''}`;
    lines.push(`| ${row.construct} | ${row.setting.replace(/\|/g, '\\|')} | ${row.concern} | yes | ${pulumi.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n');
}
