import { Duration, Lazy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  BRAKE, brakeControllerStatements, brakeDenyStatements, brakeEngageDefinition, BrakeDefinitionOptions, brakeReleaseDefinition,
  brakeStateParameterName, EnvironmentProfile, brakeBudgetPipeSettings, brakeProfileOptions,
} from '../core';
import { allowCloudWatchLogsToUseKey, newKey } from './private/keys';
import { acknowledgeProfileLogRetention } from './private/log-retention';
import { ManagedPolicyRole } from './private/managed-policy-role';
import { nagResourceId } from './private/nag';
import { renderNeutralStatement } from './private/statements';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

export interface GpuBrakeProps {
  /** Topic told about approval requests (with the approval command), engagements, releases and failures. */
  readonly notificationTopic: sns.ITopic;
  /**
   * Key `notificationTopic` is encrypted with, so the brake may publish to it.
   * @default - the topic is not encrypted with a customer managed key (or the key already allows the brake)
   */
  readonly notificationTopicKey?: kms.IKey;
  /**
   * Prefix of the environment's names (`<project>-<env>`), for the SSM parameter recording the brake's state
   * (`/mlops/<prefix>/brake`).
   * @default - `<project>-<environment>` from the tags in scope, else the stack name
   */
  readonly environmentPrefix?: string;
  /**
   * Engage without asking anyone. Outside dev a person approves (the approval request carries the command).
   * @default - true where the profile allows destroying data (dev), false elsewhere
   */
  readonly automatic?: boolean;
  /**
   * How long an approval request waits before the brake gives up (and says so).
   * @default Duration.hours(24)
   */
  readonly approvalTimeout?: Duration;
  /**
   * Key for the brake's topic, queues, ledger and logs. Budgets must be able to use it (the brake adds that to the
   * key's policy); give a key of the same stack.
   * @default - a new key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /** @default - the profile in scope */
  readonly profile?: EnvironmentProfile;
}

/**
 * A GPU budget brake that stops GPU spend from growing, started by a budget notification (Budgets → SNS → SQS →
 * EventBridge Pipe → Step Functions; AWS SDK integrations only, no Lambda function).
 *
 * Engaging (after a person's approval outside dev) finds the environment's capacity by its `mlops:environment` and
 * `mlops:project` tags, so it holds at any number of models, and for each resource records its bounds in a ledger
 * (DynamoDB), tags it `mlops:brake=engaged` (which the permission boundary then protects) and caps it:
 * - fleets (Auto Scaling groups): maximum at the profile's minimum (never below the group's own minimum outside dev;
 *   in dev minimum and desired too), scheduled scale-ups suspended;
 * - training (Batch compute environments): 0 vCPUs;
 * - endpoints (SageMaker variants' scalable targets, and the copy counts of the inference components of endpoints
 *   that scale to zero): maximum at the target's minimum (or the floor), scheduled scaling suspended;
 * - EKS GPU node groups: 0 nodes (maximum 1, EKS's lowest) with a `NoSchedule` brake taint;
 * - roles given with `denyFor` (personas, pipelines): the deny policy attached (GPU growth and launches denied).
 *
 * Releasing is an explicit start of the release state machine (audited in CloudTrail and the execution history):
 * it restores every ledger entry, removes the tag and detaches the deny policy. The SSM parameter
 * `/mlops/<prefix>/brake` records `engaged ...` or `released ...` with the time and execution.
 *
 * What does not stop: work already running (training jobs finish, fleets and endpoints keep their minimum), roles
 * outside the environment's permission boundary (for example the CloudFormation deploy role: a deploy that changes a
 * bound re-applies it), and services' own roles within the capped bounds. `OrganizationGpuBrake` offers the same
 * protection as a service control policy for every principal of an account.
 */
export class GpuBrake extends Construct {
  /** Budgets publishes the brake notification here. */
  public readonly triggerTopic: sns.Topic;
  public readonly engageStateMachine: sfn.StateMachine;
  public readonly releaseStateMachine: sfn.StateMachine;
  /** Attached to the roles given with `denyFor` while the brake is on (path `/mlops-brake/`). */
  public readonly denyPolicy: iam.ManagedPolicy;
  /** The brake's own role (tag `mlops:brake-controller=true`): the only role the boundary lets lift the brake. */
  public readonly role: iam.Role;
  /** What the brake capped, with the bounds to restore. */
  public readonly ledger: dynamodb.Table;
  /** Records `released` / `engaged <time> <execution>`. */
  public readonly stateParameter: ssm.StringParameter;
  public readonly encryptionKey: kms.IKey;
  /** Whether engaging runs without approval. */
  public readonly automatic: boolean;

  private readonly deniedRoles: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: GpuBrakeProps) {
    super(scope, id);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    const check = checkFor(this);
    if (!props?.notificationTopic) {
      check.fail('notificationTopic', undefined, 'is required', 'pass the topic people watch, e.g. MlopsMonitoring.alarmTopic or the CostGuard alert topic.');
    }
    const approvalTimeout = props.approvalTimeout ?? Duration.hours(24);
    check.integerInRange('approvalTimeout', approvalTimeout.toSeconds(), 300, 7 * 24 * 3600, 'give a duration from Duration.minutes(5) to Duration.days(7).');
    this.automatic = props.automatic ?? profile.allowDestroy;
    const stack = Stack.of(this);
    const tags = MlopsScope.tagsOf(this);
    const environment = tags?.environment ?? profile.name;
    const project = tags?.project;
    const prefix = props.environmentPrefix ?? (project !== undefined ? `${project}-${environment}` : stack.stackName);
    check.matches('environmentPrefix', prefix, /^[A-Za-z0-9_.-]{1,100}$/, "letters, digits, '_', '.' or '-' such as 'fraud-prod'");
    const removalPolicy = statefulRemovalPolicy(profile);

    this.encryptionKey = props.encryptionKey ?? newKey(this, 'Key', {
      description: `GPU budget brake of ${prefix}`, enableKeyRotation: true, removalPolicy,
    });
    if (!props.encryptionKey) allowCloudWatchLogsToUseKey(this.encryptionKey);
    this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowBudgetsToPublishToTheBrake',
      principals: [new iam.ServicePrincipal('budgets.amazonaws.com')],
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }));

    // Budgets → SNS → SQS → Pipe → Step Functions: every hop is a managed integration.
    this.triggerTopic = new sns.Topic(this, 'Trigger', { masterKey: this.encryptionKey, enforceSSL: true, displayName: `GPU brake trigger (${prefix})` });
    this.triggerTopic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowBudgetsToPublish',
      principals: [new iam.ServicePrincipal('budgets.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.triggerTopic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }));
    // SQS-managed encryption: SNS delivers to it without a key policy naming the topic (which, on the topic's own
    // key, would make the key and the topic depend on each other). The messages carry only a budget's name and amounts.
    const deadLetters = new sqs.Queue(this, 'TriggerDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14),
    });
    const queue = new sqs.Queue(this, 'TriggerQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: 5 },
    });
    this.triggerTopic.addSubscription(new subs.SqsSubscription(queue));
    const noDlq = 'The dead-letter queue of the brake trigger queue: a dead-letter queue of its own would only move the undeliverable messages.';
    Validations.of(deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: noDlq }, { id: 'cdk-validator-cfnguard::sqs_dlq_check', reason: noDlq });

    this.ledger = new dynamodb.Table(this, 'Ledger', {
      partitionKey: { name: 'Id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !profile.allowDestroy,
      removalPolicy,
    });
    const backupReason = 'The ledger holds only the bounds of what an engaged brake capped, from engagement to release; point-in-time '
      + 'recovery covers it and a backup plan would restore bounds of a brake released since.';
    Validations.of(this.ledger).acknowledge(
      { id: 'NIST.800.53.R5-DynamoDBInBackupPlan', reason: backupReason },
      { id: 'HIPAA.Security-DynamoDBInBackupPlan', reason: backupReason },
    );

    this.stateParameter = new ssm.StringParameter(this, 'State', {
      parameterName: brakeStateParameterName(prefix),
      stringValue: 'released',
      description: `State of the GPU budget brake of ${prefix}: written by the brake's state machines only`,
    });

    this.denyPolicy = new iam.ManagedPolicy(this, 'DenyPolicy', {
      path: BRAKE.policyPath,
      description: `Attached by the GPU brake of ${prefix} while it is on: denies GPU growth and accelerated launches`,
      statements: brakeDenyStatements(arnContext(stack)).map(renderNeutralStatement),
    });

    this.role = new ManagedPolicyRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `The GPU budget brake of ${prefix}: caps and restores the environment's GPU capacity`,
    });
    Tags.of(this.role).add(BRAKE.controllerTagKey, 'true');
    this.grantBrake(environment, project, props.notificationTopic, props.notificationTopicKey);

    const logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: this.encryptionKey, retention: profile.logRetentionDays as logs.RetentionDays, removalPolicy,
    });
    acknowledgeProfileLogRetention(logGroup, profile.logRetentionDays);
    const options = (releaseArn?: string): BrakeDefinitionOptions => ({
      environment,
      project,
      ...brakeProfileOptions(profile),
      approvalTimeoutSeconds: this.automatic ? undefined : approvalTimeout.toSeconds(),
      notificationTopicArn: props.notificationTopic.topicArn,
      ledgerTableName: this.ledger.tableName,
      stateParameterName: this.stateParameter.parameterName,
      denyPolicyArn: this.denyPolicy.managedPolicyArn,
      // Rendered at synthesis: roles may be added after the brake exists.
      deniedRoleNames: Lazy.any({ produce: () => this.deniedRoles.map((r) => r.roleName) }) as unknown as string[],
      releaseStateMachineArn: releaseArn,
    });
    const machine = (machineId: string, definition: Record<string, unknown>, comment: string) => {
      const stateMachine = new sfn.StateMachine(this, machineId, {
        definitionBody: sfn.DefinitionBody.fromString(stack.toJsonString(definition)),
        role: this.role,
        comment,
        tracingEnabled: true,
        logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
        timeout: Duration.days(8),
      });
      // The role's ARN (GetAtt) already orders the machine after the role and its policy (cfn-lint W3005).
      (stateMachine.node.defaultChild as sfn.CfnStateMachine).addDeletionOverride('DependsOn');
      return stateMachine;
    };
    this.releaseStateMachine = machine('Release', brakeReleaseDefinition(options()), `Releases the GPU budget brake of ${prefix}`);
    this.engageStateMachine = machine('Engage', brakeEngageDefinition(options(this.releaseStateMachine.stateMachineArn)),
      `Engages the GPU budget brake of ${prefix}`);

    const pipeRole = new ManagedPolicyRole(this, 'PipeRole', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `Starts the GPU budget brake of ${prefix} from the budget notification`,
    });
    queue.grantConsumeMessages(pipeRole);
    this.engageStateMachine.grantStartExecution(pipeRole);
    const pipe = new pipes.CfnPipe(this, 'Pipe', {
      roleArn: pipeRole.roleArn,
      source: queue.queueArn,
      target: this.engageStateMachine.stateMachineArn,
      // Core's settings, the Pulumi GpuBrake's too.
      ...brakeBudgetPipeSettings(prefix),
    });
    // Pipes checks the role's permissions on the queue when the pipe is created.
    pipe.node.addDependency(pipeRole.policy!);
    this.acknowledgeWildcards();
  }

  /**
   * Roles denied GPU growth and accelerated launches while the brake is on (the deny policy is attached to them on
   * engagement and detached on release). Give the roles that could raise capacity: personas, pipelines.
   */
  public denyFor(...roles: iam.IRole[]): this {
    for (const role of roles) if (!this.deniedRoles.includes(role)) this.deniedRoles.push(role);
    return this;
  }

  /** The roles `denyFor` was given. */
  public get deniedRoleList(): readonly iam.IRole[] {
    return [...this.deniedRoles];
  }

  /** Lets `grantee` approve or decline an engagement (send the task token back). */
  public grantApprove(grantee: iam.IGrantable): iam.Grant {
    return this.engageStateMachine.grantTaskResponse(grantee);
  }

  /** Lets `grantee` release the brake (start the release state machine): the explicit, audited way back. */
  public grantRelease(grantee: iam.IGrantable): iam.Grant {
    return this.releaseStateMachine.grantStartExecution(grantee);
  }

  /** Lets `grantee` engage the brake by hand (start the engage state machine, which still asks for approval outside dev). */
  public grantEngage(grantee: iam.IGrantable): iam.Grant {
    return this.engageStateMachine.grantStartExecution(grantee);
  }

  private grantBrake(environment: string, project: string | undefined, topic: sns.ITopic, topicKey?: kms.IKey): void {
    const statements = brakeControllerStatements({
      ...arnContext(Stack.of(this)),
      environment,
      project,
      denyPolicyArn: this.denyPolicy.managedPolicyArn,
      stateParameterArn: this.stateParameter.parameterArn,
      notificationTopicArn: topic.topicArn,
    }).map(renderNeutralStatement);
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);
    this.ledger.grant(this.role, 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:DeleteItem');
    this.encryptionKey.grant(this.role, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
    topicKey?.grant(this.role, 'kms:GenerateDataKey*', 'kms:Decrypt');
  }

  private acknowledgeWildcards(): void {
    const policy = (this.role as ManagedPolicyRole).policy!;
    const stack = Stack.of(this);
    const wildcard = (resource: string, why: string) => ({ id: `AwsSolutions-IAM5[Resource::${nagResourceId(this, resource)}]`, reason: why });
    // The wildcard resources of the brake's statements (the others name one resource each).
    const statements = brakeControllerStatements({
      ...arnContext(stack), environment: '', denyPolicyArn: '', stateParameterArn: '', notificationTopicArn: '',
    });
    const resourcesOf = (sid: string) => statements.find((s) => s.sid === sid)!.resources;
    const byTag = 'The brake finds capacity by tags, never by ARN, so it holds at any number of models; changes are limited to resources '
      + 'tagged with this environment (aws:ResourceTag conditions).';
    Validations.of(policy).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        reason: 'GenerateDataKey* (with and without plaintext) on the brake\'s own key '
        + 'and the alert topic\'s key only: what writing the ledger and publishing encrypted notifications need.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Listing Auto Scaling groups, compute environments, scalable targets and tagged resources, and '
        + 'X-Ray and log delivery of the state machines, have no resource-level permissions.',
      },
      ...[...new Set([...resourcesOf('CapAndRestoreCapacityOfThisEnvironment'), ...resourcesOf('ResizeEndpointCapacityOfThisEnvironment')])]
        .map((resource) => wildcard(resource, byTag)),
      ...resourcesOf('CapAndRestoreEndpointScaling').map((resource) => wildcard(resource,
        'Scalable targets cannot carry CloudFormation tags; the brake registers only the targets of endpoints it found by their tags.')),
      ...resourcesOf('AttachAndDetachTheDenyPolicy').map((resource) => wildcard(resource,
        'The brake may attach and detach only its own deny policy (iam:PolicyARN condition), which can only take permissions away.')),
    );
    Validations.of(this.denyPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]', reason: 'A deny policy: the wildcard denies GPU growth on every resource while the brake is on.',
    });
  }
}

/** Where the stack deploys, for core's engine-neutral statements. */
function arnContext(stack: Stack): { partition: string; region: string; account: string } {
  return { partition: stack.partition, region: stack.region, account: stack.account };
}

/** Core's engine-neutral statement as a CDK statement. */
