import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  checkPromotionNames, EnvironmentProfile, NeutralStatement, PROMOTION_TIMEOUT_SECONDS, promotionDefinition, promotionRoleStatements, PromotionSource,
  promotionStateMachineArn, promotionTrustConditions,
} from '../core';
import { ArtifactPurpose, IArtifactStore } from './artifact-store';
import { allowCloudWatchLogsToUseKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyRole } from './private/managed-policy-principal';
import { nagResourceId } from './private/nag';
import { renderNeutralStatement } from './private/statements';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

export interface ModelPromotionProps {
  /**
   * The environment's artifact store: promotion copies `candidates/<model>/<run>/model.tar.gz` to
   * `served/<model>/<version>/model.tar.gz` of its models bucket, as the role its bucket policy designates
   * (`promotionRoleName`).
   */
  readonly artifactStore: IArtifactStore;
  /**
   * The environment prefix (`<project>-<env>`, the `MlopsPlatform` stack name prefix): the namespace of the served
   * states (`/mlops/<prefix>/served/<model>`), of the fleet rollout state machines (`<prefix>-<model>-rollout`) and of
   * the serving stacks promotion may update (`<prefix>-serving-*`).
   */
  readonly environmentPrefix: string;
  /** Topic told of every failed promotion (the environment's alarm topic). */
  readonly alarmTopic: sns.ITopic;
  /**
   * Name of the state machine.
   * @default `<environmentPrefix>-promotion`
   */
  readonly stateMachineName?: string;
  /**
   * Key of the execution log group and the lock table.
   * @default - the artifact store's key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Where model packages promoted by ARN (`{"model", "version", "modelPackageArn"}`) may come from besides this
   * environment: the source environment's account and region (staging's, for prod). The role may then describe model
   * packages there and read objects below `served/` of buckets in that account (and use its keys through S3); the
   * source environment must grant the same (`MlopsPlatform.shareServedModelsWith`).
   * @default - packages of this environment's account and region only
   */
  readonly promoteFrom?: PromotionSource;
}

/**
 * The environment's promotion of a model version into production (docs/design/served-models.md, "Promotion"): THE
 * promotion role (the only role the models bucket's policy lets write `served/`), and a Step Functions state machine
 * (SDK integrations only) that assumes it. Input: `{ "model": "fraud", "version": "v8", "candidate": "<training run>" }`
 * (a candidate of this environment; with `"modelPackageArn"`, its package, e.g. the model pipeline's, records the served
 * archive: `servedObject`, `sha256`) or `{ "model": "fraud", "version": "v8", "modelPackageArn": "<ARN>" }` (the same
 * artifact another environment approved and served: prod promoting staging's package, see `promoteFrom`). The state machine
 *
 * 1. takes the model's lock (a DynamoDB conditional put: one promotion per model at a time; released on every path
 *    but an execution stopped from outside, see `lockTable`);
 * 2. finds the model's serving stack and rollout from its served state's `mlops:promotion` tag (`MlopsPlatform` tags
 *    every fleet's served state) and reads the served state. A stepped fleet whose candidate serves traffic is
 *    brought back first, before anything is copied: after a finished rollout (`current=v8@0,candidate=v8@100`, the
 *    `current` group possibly still on the version before v8) the serving stack is updated with the state as it is (the
 *    `current` group takes v8 while it has no traffic; "no updates to perform" is fine), the fleet's rollout settles all
 *    traffic on it (`{ "action": "settle" }`), and the served state is read again; a rollout in flight (the variants
 *    serve different versions) is refused (`CandidateServing`): updating the candidate's group would give the new
 *    version that traffic before any rollout step;
 * 3. by ARN: reads the package (`DescribeModelPackage`; cross-account when its environment shares it) and refuses it
 *    unless it is of this model, `Approved`, and records its served archive (`servedObject`, `ModelDataUrl` the same),
 *    its SHA-256, its approver, `ModelMetrics` and `DriftCheckBaselines`; then copies that archive (else the candidate's,
 *    `candidates/<model>/<run>/model.tar.gz`) to `served/<model>/<version>/model.tar.gz` write-once: the bucket
 *    policy denies every `s3:PutObject` that creates an object below `served/` without `If-None-Match`, and S3 refuses
 *    `CopyObject` there (403 without the header, 501 with it), so the copy is a one-part multipart copy:
 *    `CreateMultipartUpload` and `UploadPartCopy` (exempt: `s3:ObjectCreationOperation` is false for them) and
 *    `CompleteMultipartUpload` with `IfNoneMatch: "*"` (the creating call, which carries the header): an existing
 *    version makes S3 refuse it (412), and the upload is aborted. Archives up to 5 GB (one part). A package's archive
 *    must have the SHA-256 the package records (checked on the copied part, before the completion writes anything);
 *    the package is then registered in this environment's model package group, `Approved`, with `ModelDataUrl` = the
 *    served URI here, the source's metrics and drift baselines, and `sourceModelPackageArn`, `approvedBy`, `sha256`,
 *    `servedObject`, `promotion` in its metadata (marked `Rejected` if the promotion then fails);
 * 4. writes the served state: a stepped fleet serves its stable version as `current` with all traffic and the new
 *    version as `candidate` at 0 (`shiftServedState` semantics, rendered with `States.Format`); a fleet served all at
 *    once, and an endpoint with one production variant, serve the new version as `current` (the endpoint's traffic
 *    shift is SageMaker's deployment guardrails, during the stack update; guardrails rolling back fail the update);
 * 5. updates the serving shard stack (`UpdateStack` with `UsePreviousTemplate` and every parameter `UsePreviousValue`:
 *    the value CloudFormation keeps for an `AWS::SSM::Parameter::Value<String>` parameter is the SSM parameter's name,
 *    which it resolves again on every stack operation, so the new served state is the only change) and polls
 *    `DescribeStacks` until it completes; a failed or rolled-back update restores the previous served state;
 * 6. stepped fleets: starts the fleet's rollout state machine (`startExecution.sync`) and reports its outcome; a
 *    rolled-back rollout restores the previous served state (the candidate group keeps the new version, at weight 0,
 *    until the next update of the stack).
 *
 * Every failure releases the lock, notifies `alarmTopic` and fails the execution with one of `PROMOTION_OUTCOMES`.
 * Shadow and A/B models (several versions served at once) are not promotable: which variant takes the version is code.
 *
 * @example
 * const promotion = new ModelPromotion(platformStack, 'Promotion', {
 *   artifactStore, environmentPrefix: 'fraud-prod', alarmTopic: monitoring.alarmTopic,
 * });
 * promotion.grantStart(mlEngineerRole);
 */
export class ModelPromotion extends Construct {
  /** THE promotion role: named `artifactStore.promotionRoleName`, assumable only by this state machine. */
  public readonly role: ManagedPolicyRole;
  public readonly stateMachine: sfn.StateMachine;
  public readonly stateMachineName: string;
  /** ARN of the state machine built from its name (no reference: usable from any stack of the environment). */
  public readonly stateMachineArn: string;
  /**
   * One item per model being promoted (`model`, `execution`, `version`). An execution stopped from outside (or timed
   * out) leaves its item: delete it (`aws dynamodb delete-item --key '{"model":{"S":"<model>"}}'`) to promote again.
   */
  public readonly lockTable: dynamodb.Table;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ModelPromotionProps) {
    super(scope, id);
    const check = checkFor(this);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    if (!props?.artifactStore) {
      check.fail('artifactStore', props?.artifactStore, 'is required', 'pass the environment\'s ArtifactStore (its bucket policy designates the promotion role).');
    }
    const roleName = props.artifactStore.promotionRoleName;
    if (roleName === undefined) {
      check.fail('artifactStore', props.artifactStore.node.path, 'names no promotion role',
        'pass the ArtifactStore whose bucket policy designates the promotion role (an imported store: give its promotionRoleName).');
    }
    this.stateMachineName = checkPromotionNames(check, props);
    if (!props.alarmTopic) check.fail('alarmTopic', props.alarmTopic, 'is required', 'give the topic told of failed promotions, e.g. monitoring.alarmTopic.');
    const stack = Stack.of(this);
    const where = { partition: stack.partition, region: stack.region, account: stack.account };
    this.stateMachineArn = promotionStateMachineArn(where, this.stateMachineName);

    const key = props.encryptionKey ?? props.artifactStore.encryptionKey;
    if (key instanceof kms.Key) allowCloudWatchLogsToUseKey(key);
    const removalPolicy = statefulRemovalPolicy(profile);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: key, retention: profile.logRetentionDays as logs.RetentionDays, removalPolicy,
    });
    acknowledgeProfileLogRetention(this.logGroup, profile.logRetentionDays);
    this.lockTable = new dynamodb.Table(this, 'Locks', {
      partitionKey: { name: 'model', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: profile.allowDestroy ? RemovalPolicy.DESTROY : removalPolicy,
    });
    const backupReason = 'The lock table holds one item per promotion in progress, deleted when it ends: nothing to restore from a backup.';
    Validations.of(this.lockTable).acknowledge(
      { id: 'NIST.800.53.R5-DynamoDBInBackupPlan', reason: backupReason },
      { id: 'HIPAA.Security-DynamoDBInBackupPlan', reason: backupReason },
    );

    // Only this state machine may assume the role (the service, in this account, for this state machine's ARN).
    this.role = new ManagedPolicyRole(this, 'Role', new iam.ServicePrincipal('states.amazonaws.com').withConditions(
      promotionTrustConditions({ ...where, account: Aws.ACCOUNT_ID }, this.stateMachineName),
    ), `The promotion role of ${props.environmentPrefix}: the only writer of served/ in the models bucket, assumed by ${this.stateMachineName}`);
    // THE name the models bucket's policy exempts from its deny on writes below served/.
    (this.role.node.defaultChild as iam.CfnRole).roleName = roleName;

    const models = props.artifactStore.bucket(ArtifactPurpose.MODELS);
    // Core's definition and role statements: the Pulumi ModelPromotion renders the same.
    const definition = promotionDefinition({
      ...where,
      environmentPrefix: props.environmentPrefix,
      modelsBucketName: models.bucketName,
      lockTableName: this.lockTable.tableName,
      alarmTopicArn: props.alarmTopic.topicArn,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      role: this.role,
      definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(definition)),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.seconds(PROMOTION_TIMEOUT_SECONDS),
    });
    (this.stateMachine.node.defaultChild as sfn.CfnStateMachine).addDeletionOverride('DependsOn');
    const statements = promotionRoleStatements({
      ...where,
      environmentPrefix: props.environmentPrefix,
      modelsBucketArn: models.bucketArn,
      modelsKeyArn: props.artifactStore.encryptionKey.keyArn,
      lockTableArn: this.lockTable.tableArn,
      alarmTopicArn: props.alarmTopic.topicArn,
      source: { account: props.promoteFrom?.account ?? where.account, region: props.promoteFrom?.region ?? where.region },
    });
    for (const statement of statements) this.role.addToPrincipalPolicy(renderNeutralStatement(statement));
    props.alarmTopic.masterKey?.grant(this.role, 'kms:Decrypt', 'kms:GenerateDataKey');
    this.acknowledgeWildcards(statements);
  }

  /** Lets `grantee` start promotions (the manual path: `aws stepfunctions start-execution`); nothing else. */
  public grantStart(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private acknowledgeWildcards(statements: NeutralStatement[]): void {
    const reason = 'Promotion works on any model of its environment, named at run time: served/ and candidates/ objects of the models bucket, '
      + 'the environment\'s served states, serving shard stacks, fleet rollouts (by name prefix) and model packages; promoted by ARN, the '
      + 'model packages, served/ archives (s3:ResourceAccount) and keys (through S3) of the source environment\'s account, whose '
      + 'resource policies grant served/ only. tag:GetResources, X-Ray and vended log delivery have no resource-level permissions.';
    const wildcards = statements.flatMap((s) => s.resources).filter((r) => r.includes('*'));
    for (const resource of [...new Set([...wildcards, '*'])]) {
      Validations.of(this.role.policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, resource)}]`, reason });
    }
  }
}

/** Core's engine-neutral statement as a CDK statement. */
