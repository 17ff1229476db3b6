import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  BRAKE, brakeControllerStatements, brakeDenyStatements, BrakeDefinitionOptions, brakeEngageDefinition, brakeReleaseDefinition,
  brakeStateParameterName, NeutralStatement, specCheck, brakeBudgetPipeSettings, brakeProfileOptions,
} from '../core';
import {
  accountContext, AccountContext, attachStatements, childOptions, componentSpecScope, deferred, denyInsecureTopicStatement, logsKeyStatement,
  MlopsComponentArgs, policyJson, PolicyStatement, renderNeutralStatement, resolveProfileAndTags, rotatingKey,
  stateMachineLogsAndTracesStatement,
} from './component-support';

/** A role the brake denies GPU growth and accelerated launches while it is on. */
export interface BrakeDeniedRole {
  readonly name: pulumi.Input<string>;
}

export interface GpuBrakeArgs extends MlopsComponentArgs {
  /** Topic told about approval requests (with the approval command), engagements, releases and failures. */
  readonly notificationTopicArn: pulumi.Input<string>;
  /**
   * Key `notificationTopicArn` is encrypted with, so the brake may publish to it.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly notificationTopicKeyArn?: pulumi.Input<string>;
  /**
   * Prefix of the environment's names (`<project>-<env>`), for the SSM parameter `/mlops/<prefix>/brake`.
   * @default - `<project>-<environment>` from the tags
   */
  readonly environmentPrefix?: string;
  /**
   * Engage without asking anyone. Outside dev a person approves (the approval request carries the command).
   * @default - true where the profile allows destroying data (dev), false elsewhere
   */
  readonly automatic?: boolean;
  /**
   * Seconds an approval request waits before the brake gives up (and says so).
   * @default 86400 (24 hours)
   */
  readonly approvalTimeoutSeconds?: number;
}

/**
 * The Pulumi counterpart of the CDK `GpuBrake`: Budgets → SNS trigger topic → SQS (with a dead-letter queue) →
 * EventBridge Pipe → the engage state machine (AWS SDK integrations only); an explicit release state machine; a DynamoDB
 * ledger of what was capped; the SSM parameter `/mlops/<prefix>/brake` recording the state; the deny policy (path
 * `/mlops-brake/`) attached to the roles given with `denyFor` while engaged. The state machine definitions and the
 * brake role's statements are core's (`brakeEngageDefinition`, `brakeReleaseDefinition`, `brakeControllerStatements`),
 * the same the CDK construct deploys. What stops and what does not: see the CDK `GpuBrake`.
 */
export class GpuBrake extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:GpuBrake';

  /** Budgets publishes the brake notification here. */
  public readonly triggerTopic: aws.sns.Topic;
  public readonly engageStateMachine: aws.sfn.StateMachine;
  public readonly releaseStateMachine: aws.sfn.StateMachine;
  /** Attached to the roles given with `denyFor` while the brake is on (path `/mlops-brake/`). */
  public readonly denyPolicy: aws.iam.Policy;
  /** The brake's own role (tag `mlops:brake-controller=true`): the only role the boundary lets lift the brake. */
  public readonly role: aws.iam.Role;
  public readonly ledger: aws.dynamodb.Table;
  public readonly stateParameter: aws.ssm.Parameter;
  public readonly encryptionKey: aws.kms.Key;
  public readonly automatic: boolean;

  private readonly deniedRoles: BrakeDeniedRole[] = [];

  constructor(name: string, args: GpuBrakeArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags } = resolveProfileAndTags(args);
    const check = specCheck(componentSpecScope(GpuBrake.TYPE, name));
    const approvalTimeoutSeconds = args.approvalTimeoutSeconds ?? 24 * 3600;
    check.integerInRange('approvalTimeoutSeconds', approvalTimeoutSeconds, 300, 7 * 24 * 3600, 'give 300 (5 minutes) to 604800 (7 days).');
    const environment = tags.environment;
    const project = tags.project;
    const prefix = args.environmentPrefix ?? `${project}-${environment}`;
    check.matches('environmentPrefix', prefix, /^[A-Za-z0-9_.-]{1,100}$/, "letters, digits, '_', '.' or '-' such as 'fraud-prod'");
    super(GpuBrake.TYPE, name, {}, opts);
    this.automatic = args.automatic ?? profile.allowDestroy;
    const awsTags = tags.toAwsTags();
    const account = accountContext(this);
    const retain = !profile.allowDestroy;
    const budgets = { Service: 'budgets.amazonaws.com' };
    const fromThisAccount = { StringEquals: { 'aws:SourceAccount': account.accountId } };

    this.encryptionKey = rotatingKey(`${name}-key`, `GPU budget brake of ${prefix}`, {
      retain,
      pendingWindowDays: 30,
      tags: awsTags,
      statements: [
        logsKeyStatement(account),
        { Sid: 'AllowBudgetsToPublishToTheBrake', Effect: 'Allow', Principal: budgets, Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*', Condition: fromThisAccount },
      ],
    }, this);

    // Budgets → SNS → SQS → Pipe → Step Functions: every hop is a managed integration.
    this.triggerTopic = new aws.sns.Topic(`${name}-trigger`, {
      kmsMasterKeyId: this.encryptionKey.arn, displayName: `GPU brake trigger (${prefix})`, tags: awsTags,
    }, childOptions(this));
    new aws.sns.TopicPolicy(`${name}-trigger-policy`, {
      arn: this.triggerTopic.arn,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'AllowBudgetsToPublish', Effect: 'Allow', Principal: budgets, Action: 'sns:Publish', Resource: this.triggerTopic.arn, Condition: fromThisAccount },
          denyInsecureTopicStatement(this.triggerTopic.arn),
        ],
      }),
    }, childOptions(this));
    // SQS-managed encryption, as the CDK brake: the messages carry only a budget's name and amounts.
    const deadLetters = new aws.sqs.Queue(`${name}-trigger-dead-letters`, {
      sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600, tags: awsTags,
    }, childOptions(this));
    const queue = new aws.sqs.Queue(`${name}-trigger-queue`, {
      sqsManagedSseEnabled: true,
      redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: deadLetters.arn, maxReceiveCount: 5 }),
      tags: awsTags,
    }, childOptions(this));
    const denyInsecureQueue = (arn: pulumi.Output<string>) => ({
      Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:*', Resource: arn, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    new aws.sqs.QueuePolicy(`${name}-trigger-dead-letters-policy`, {
      queueUrl: deadLetters.url, policy: policyJson({ Version: '2012-10-17', Statement: [denyInsecureQueue(deadLetters.arn)] }),
    }, childOptions(this));
    const queuePolicy = new aws.sqs.QueuePolicy(`${name}-trigger-queue-policy`, {
      queueUrl: queue.url,
      policy: policyJson({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AllowTheTriggerTopic',
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: queue.arn,
            Condition: { ArnEquals: { 'aws:SourceArn': this.triggerTopic.arn } },
          },
          denyInsecureQueue(queue.arn),
        ],
      }),
    }, childOptions(this));
    new aws.sns.TopicSubscription(`${name}-trigger-subscription`, {
      topic: this.triggerTopic.arn, protocol: 'sqs', endpoint: queue.arn,
    }, { ...childOptions(this), dependsOn: [queuePolicy] });

    this.ledger = new aws.dynamodb.Table(`${name}-ledger`, {
      hashKey: 'Id',
      attributes: [{ name: 'Id', type: 'S' }],
      billingMode: 'PAY_PER_REQUEST',
      serverSideEncryption: { enabled: true, kmsKeyArn: this.encryptionKey.arn },
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: !profile.allowDestroy,
      tags: awsTags,
    }, childOptions(this, retain));

    this.stateParameter = new aws.ssm.Parameter(`${name}-state`, {
      name: brakeStateParameterName(prefix),
      type: 'String',
      value: 'released',
      description: `State of the GPU budget brake of ${prefix}: written by the brake's state machines only`,
      tags: awsTags,
    }, { ...childOptions(this), ignoreChanges: ['value'] });

    this.denyPolicy = new aws.iam.Policy(`${name}-deny`, {
      path: BRAKE.policyPath,
      description: `Attached by the GPU brake of ${prefix} while it is on: denies GPU growth and accelerated launches`,
      policy: statementsOf(account, brakeDenyStatements),
      tags: awsTags,
    }, childOptions(this));

    this.role = new aws.iam.Role(`${name}-role`, {
      description: `The GPU budget brake of ${prefix}: caps and restores the environment's GPU capacity`,
      assumeRolePolicy: policyJson({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: fromThisAccount }],
      }),
      permissionsBoundary: args.permissionsBoundary,
      tags: { ...awsTags, [BRAKE.controllerTagKey]: 'true' },
    }, childOptions(this));
    const controller = pulumi
      .all([account.partition, account.region, account.accountId, this.denyPolicy.arn, this.stateParameter.arn, args.notificationTopicArn])
      .apply(([partition, region, accountId, denyPolicyArn, stateParameterArn, notificationTopicArn]) => brakeControllerStatements({
        partition, region, account: accountId, environment, project, denyPolicyArn, stateParameterArn, notificationTopicArn,
      }).map(renderNeutralStatement));
    const own: PolicyStatement[] = [
      { Sid: 'Ledger', Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:DeleteItem'], Resource: this.ledger.arn },
      {
        Sid: 'Keys',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'],
        Resource: args.notificationTopicKeyArn ? [this.encryptionKey.arn, args.notificationTopicKeyArn] : [this.encryptionKey.arn],
      },
      stateMachineLogsAndTracesStatement(),
    ];
    const rolePolicy = attachStatements(`${name}-role-policy`, this.role, pulumi.all([controller, own]).apply(([c, o]) => [...c, ...o]), this,
      `What the GPU brake of ${prefix} may do`, awsTags)!;

    const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, {
      kmsKeyId: this.encryptionKey.arn, retentionInDays: profile.logRetentionDays, tags: awsTags,
    }, childOptions(this, retain));
    const deniedRoleNames = deferred(() => pulumi.all(this.deniedRoles.map((r) => pulumi.output(r.name))));
    const definition = (
      build: (o: BrakeDefinitionOptions) => Record<string, unknown>, releaseArn?: pulumi.Output<string>,
    ): pulumi.Output<string> => pulumi.all([
      args.notificationTopicArn, this.ledger.name, this.stateParameter.name, this.denyPolicy.arn, deniedRoleNames,
      releaseArn ?? pulumi.output(undefined),
    ]).apply(([notificationTopicArn, ledgerTableName, stateParameterName, denyPolicyArn, roles, releaseStateMachineArn]) => JSON.stringify(build({
      environment,
      project,
      ...brakeProfileOptions(profile),
      approvalTimeoutSeconds: this.automatic ? undefined : approvalTimeoutSeconds,
      notificationTopicArn,
      ledgerTableName,
      stateParameterName,
      denyPolicyArn,
      deniedRoleNames: roles,
      releaseStateMachineArn,
    })));
    const machine = (id: string, body: pulumi.Output<string>) => new aws.sfn.StateMachine(`${name}-${id}`, {
      definition: body,
      roleArn: this.role.arn,
      type: 'STANDARD',
      tracingConfiguration: { enabled: true },
      loggingConfiguration: { logDestination: pulumi.interpolate`${logGroup.arn}:*`, includeExecutionData: true, level: 'ALL' },
      tags: awsTags,
    }, { ...childOptions(this), dependsOn: [rolePolicy] });
    this.releaseStateMachine = machine('release', definition(brakeReleaseDefinition));
    this.engageStateMachine = machine('engage', definition(brakeEngageDefinition, this.releaseStateMachine.arn));

    const pipeRole = new aws.iam.Role(`${name}-pipe-role`, {
      description: `Starts the GPU budget brake of ${prefix} from the budget notification`,
      assumeRolePolicy: policyJson({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'pipes.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: fromThisAccount }],
      }),
      permissionsBoundary: args.permissionsBoundary,
      tags: awsTags,
    }, childOptions(this));
    const pipePolicy = attachStatements(`${name}-pipe-role-policy`, pipeRole, [
      { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: queue.arn },
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: this.engageStateMachine.arn },
    ], this, `Starts the GPU budget brake of ${prefix}`, awsTags)!;
    new aws.pipes.Pipe(`${name}-pipe`, {
      roleArn: pipeRole.arn,
      source: queue.arn,
      target: this.engageStateMachine.arn,
      // Core's settings, the CDK GpuBrake's too.
      ...brakeBudgetPipeSettings(prefix),
      tags: awsTags,
    }, { ...childOptions(this), dependsOn: [pipePolicy] });

    this.registerOutputs({
      triggerTopicArn: this.triggerTopic.arn,
      engageStateMachineArn: this.engageStateMachine.arn,
      releaseStateMachineArn: this.releaseStateMachine.arn,
    });
  }

  /**
   * Roles denied GPU growth and accelerated launches while the brake is on (the deny policy is attached on engagement
   * and detached on release). Give the roles that could raise capacity: personas, pipelines. Call before the
   * program's first `await`.
   */
  public denyFor(...roles: BrakeDeniedRole[]): this {
    for (const role of roles) if (!this.deniedRoles.includes(role)) this.deniedRoles.push(role);
    return this;
  }
}

function statementsOf(
  account: AccountContext, statements: (c: { partition: string; region: string; account: string }) => NeutralStatement[],
): pulumi.Output<string> {
  return pulumi.all([account.partition, account.region, account.accountId]).apply(([partition, region, accountId]) =>
    JSON.stringify({ Version: '2012-10-17', Statement: statements({ partition, region, account: accountId }).map(renderNeutralStatement) }));
}
