import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ArtifactPurpose, Check, checkPromotionNames, promotionDefinition, promotionRoleStatements, PromotionSource,
  promotionStateMachineArn, promotionTrustConditions,
} from '../core';
import { ArtifactStore } from './artifact-store';
import {
  accountContext, attachStatements, childOptions, componentSpecScope, logsKeyStatement, MlopsComponentArgs, PolicyStatement,
  renderNeutralStatement, resolveProfileAndTags, rotatingKey, stateMachineLogsAndTracesStatement, stateMachineTrustPolicy, tracedStateMachine,
} from './component-support';

export interface ModelPromotionArgs extends MlopsComponentArgs {
  /**
   * The environment's artifact store: promotion copies `candidates/<model>/<run>/model.tar.gz` to
   * `served/<model>/<version>/model.tar.gz` of its models bucket, as the role its bucket policy designates
   * (`promotionRoleName`, which the promotion role is named).
   */
  readonly artifactStore: ArtifactStore;
  /**
   * The environment prefix (`<project>-<env>`): the namespace of the served states (`/mlops/<prefix>/served/<model>`).
   */
  readonly environmentPrefix: string;
  /** Topic told of every failed promotion (the environment's alarm topic). */
  readonly alarmTopicArn: pulumi.Input<string>;
  /**
   * Key `alarmTopicArn` is encrypted with, so promotion may publish to it.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly alarmTopicKeyArn?: pulumi.Input<string>;
  /**
   * Name of the state machine.
   * @default `<environmentPrefix>-promotion`
   */
  readonly stateMachineName?: string;
  /**
   * Key of the execution log group and the lock table; its policy must let CloudWatch Logs of this account use it (the
   * platform key's does).
   * @default - a key of the promotion's own (the CDK construct adds a CloudWatch Logs statement to the store's key instead;
   * a Pulumi component cannot change another component's key policy)
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
  /**
   * Where model packages promoted by ARN may come from besides this environment (see the CDK `ModelPromotion`).
   * @default - packages of this environment's account and region only
   */
  readonly promoteFrom?: PromotionSource;
}

/**
 * The Pulumi counterpart of the CDK `ModelPromotion`: THE promotion role (named `artifactStore.promotionRoleName`, the
 * only role the models bucket's policy lets write `served/`, assumable only by this state machine) and the promotion
 * state machine, both rendered from core's `promotionDefinition` and `promotionRoleStatements`, the same the CDK
 * construct deploys: lock (DynamoDB), target found by the served state's `mlops:promotion` tag, write-once copy
 * (multipart copy completed with `If-None-Match: *`, SHA-256 recorded and, by ARN, checked), registry records (by
 * ARN: an `Approved` package registered here, marked `Rejected` if the promotion then fails), served state.
 *
 * What differs: a Pulumi program has no CloudFormation stack to update. Its fleet instances read their variant's
 * version from the served state at boot, so after writing it the definition (`servingUpdate: 'instance-refresh'`)
 * refreshes the Auto Scaling group of every fleet variant whose version changed (tagged `SERVED_VARIANT_TAG` by the
 * Pulumi `InferenceFleet`), waits for each refresh (`InstanceRefreshFailed`, served state restored, if one fails, is
 * cancelled or takes longer than two hours) and starts the fleet's rollout state machine when the served state's target
 * tag names one (`RolledBack` restores; the Pulumi `MlopsPlatform` names each stepped fleet's `FleetRollout` there).
 * After a finished rollout (the candidate variant serves all traffic and both variants serve one version) it first
 * refreshes the first variant's group to that version while it has no traffic and has the fleet's rollout settle all
 * traffic on it (`{ "action": "settle" }`), so every promotion of a stepped fleet works; a fleet whose rollout is in
 * flight, that has no rollout state machine or no group tagged for its first variant is refused (`CandidateServing`).
 * Endpoints end at the served state, which `pulumi up` serves (the archive is in `served/` already).
 */
export class ModelPromotion extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:ModelPromotion';

  /** THE promotion role: named `artifactStore.promotionRoleName`, assumable only by this state machine. */
  public readonly role: aws.iam.Role;
  public readonly stateMachine: aws.sfn.StateMachine;
  public readonly stateMachineName: string;
  /** ARN of the state machine built from its name. */
  public readonly stateMachineArn: pulumi.Output<string>;
  /**
   * One item per model being promoted. An execution stopped from outside leaves its item: delete it
   * (`aws dynamodb delete-item --key '{"model":{"S":"<model>"}}'`) to promote again.
   */
  public readonly lockTable: aws.dynamodb.Table;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  /** The key of the log group and the lock table (`encryptionKeyArn`, or the promotion's own). */
  public readonly encryptionKeyArn: pulumi.Output<string>;

  constructor(name: string, args: ModelPromotionArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(ModelPromotion.TYPE, name);
    const check = new Check(scope.scope, scope.isUnresolved);
    if (!(args?.artifactStore instanceof ArtifactStore)) {
      check.fail('artifactStore', args?.artifactStore, 'is required', 'pass the environment\'s ArtifactStore (its bucket policy designates the promotion role).');
    }
    const stateMachineName = checkPromotionNames(check, args);
    if (args.alarmTopicArn === undefined) check.fail('alarmTopicArn', args.alarmTopicArn, 'is required', 'give the topic told of failed promotions, e.g. monitoring.alarmTopic.arn.');
    super(ModelPromotion.TYPE, name, {}, opts);
    this.stateMachineName = stateMachineName;
    const prefix = args.environmentPrefix;
    const awsTags = tags.toAwsTags();
    const account = accountContext(this);
    const retain = !profile.allowDestroy;
    const store = args.artifactStore;
    const models = store.buckets[ArtifactPurpose.MODELS].bucket;

    this.encryptionKeyArn = args.encryptionKeyArn !== undefined ? pulumi.output(args.encryptionKeyArn)
      : rotatingKey(`${name}-key`, `Model promotion of ${prefix}: execution logs and locks`, {
        retain, pendingWindowDays: profile.allowDestroy ? 7 : 30, tags: awsTags, statements: [logsKeyStatement(account)],
      }, this).arn;
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, {
      kmsKeyId: this.encryptionKeyArn, retentionInDays: profile.logRetentionDays, tags: awsTags,
    }, childOptions(this, retain));
    this.lockTable = new aws.dynamodb.Table(`${name}-locks`, {
      hashKey: 'model',
      attributes: [{ name: 'model', type: 'S' }],
      billingMode: 'PAY_PER_REQUEST',
      serverSideEncryption: { enabled: true, kmsKeyArn: this.encryptionKeyArn },
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: !profile.allowDestroy,
      tags: awsTags,
    }, childOptions(this, retain));

    const where = pulumi.all([account.partition, account.region, account.accountId])
      .apply(([partition, region, accountId]) => ({ partition, region, account: accountId }));
    this.stateMachineArn = where.apply((w) => promotionStateMachineArn(w, stateMachineName));
    // Only this state machine may assume the role (the service, in this account, for this state machine's ARN).
    this.role = new aws.iam.Role(`${name}-role`, {
      name: store.promotionRoleName,
      description: `The promotion role of ${prefix}: the only writer of served/ in the models bucket, assumed by ${stateMachineName}`,
      assumeRolePolicy: stateMachineTrustPolicy(where.apply((w) => promotionTrustConditions(w, stateMachineName))),
      permissionsBoundary: args.permissionsBoundary,
      tags: awsTags,
    }, childOptions(this));
    const core = pulumi.all([where, models.arn, store.encryptionKey.arn, this.lockTable.arn, args.alarmTopicArn])
      .apply(([w, modelsBucketArn, modelsKeyArn, lockTableArn, alarmTopicArn]) => promotionRoleStatements({
        ...w,
        environmentPrefix: prefix,
        modelsBucketArn,
        modelsKeyArn,
        lockTableArn,
        alarmTopicArn,
        source: { account: args.promoteFrom?.account ?? w.account, region: args.promoteFrom?.region ?? w.region },
        servingUpdate: 'instance-refresh',
      }).map(renderNeutralStatement));
    const own: PolicyStatement[] = [
      stateMachineLogsAndTracesStatement(),
      ...(args.alarmTopicKeyArn !== undefined
        ? [{ Sid: 'PublishToTheEncryptedTopic', Effect: 'Allow' as const, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: args.alarmTopicKeyArn }] : []),
    ];
    const rolePolicy = attachStatements(`${name}-role-policy`, this.role, pulumi.all([core, own]).apply(([c, o]) => [...c, ...o]), this,
      `The promotion role of ${prefix}: the only writer of served/ in the models bucket`, awsTags)!;

    const definition = pulumi.all([where, models.bucket, this.lockTable.name, args.alarmTopicArn])
      .apply(([w, modelsBucketName, lockTableName, alarmTopicArn]) => JSON.stringify(promotionDefinition({
        ...w, environmentPrefix: prefix, modelsBucketName, lockTableName, alarmTopicArn, servingUpdate: 'instance-refresh',
      })));
    this.stateMachine = tracedStateMachine(`${name}-state-machine`, {
      name: stateMachineName, definition, roleArn: this.role.arn, logGroupArn: this.logGroup.arn, tags: awsTags, rolePolicy,
    }, this);

    this.registerOutputs({ stateMachineArn: this.stateMachine.arn, roleArn: this.role.arn });
  }

  /** What lets a role start promotions (the manual path: `aws stepfunctions start-execution`); nothing else. */
  public grantStartStatements(): PolicyStatement[] {
    return [{ Sid: 'StartPromotions', Effect: 'Allow', Action: ['states:StartExecution'], Resource: this.stateMachine.arn }];
  }
}
