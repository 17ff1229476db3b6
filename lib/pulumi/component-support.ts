import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { denyGrantsExceptForAwsResourcesStatement, EnvironmentProfile, MlopsTags, NeutralStatement, SpecScope } from '../core';

/** Props every mlops-constructs Pulumi component takes. */
export interface MlopsComponentArgs {
  /**
   * The environment's profile; defaults and validation come from it, as in the CDK constructs.
   * @default EnvironmentProfile.prod() - the most protective preset, so a forgotten profile never makes data destroyable
   */
  readonly profile?: EnvironmentProfile;
  /**
   * Tags put on every taggable resource.
   * @default - project from `pulumi.getProject()`, environment from the profile's name
   */
  readonly tags?: MlopsTags;
  /**
   * Permission boundary of every IAM role the component creates (e.g. `MlopsGovernance.permissionBoundary.arn`;
   * `MlopsPlatform` passes its governance's boundary to every platform piece, as the CDK platform does).
   * @default - no boundary
   */
  readonly permissionsBoundary?: pulumi.Input<string>;
}

/**
 * An IAM policy statement whose values may be Pulumi inputs (ARNs of resources not created yet). Grant methods of
 * the components return these; attach them to a role with `attachStatements`.
 */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource: pulumi.Input<string> | ReadonlyArray<pulumi.Input<string>>;
  readonly Condition?: pulumi.Input<Record<string, pulumi.Input<Record<string, unknown>>>>;
}

/** The profile and tags a component resolves from its args. */
export function resolveProfileAndTags(args: MlopsComponentArgs): { profile: EnvironmentProfile; tags: MlopsTags } {
  const profile = args.profile ?? EnvironmentProfile.prod();
  const tags = args.tags ?? MlopsTags.of({ project: pulumi.getProject(), environment: profile.name });
  return { profile, tags };
}

/** A spec scope for a component: errors name the type token and the resource name; outputs are skipped like CDK tokens. */
export function componentSpecScope(type: string, name: string): SpecScope {
  return { scope: `${type}(${name})`, isUnresolved: (x) => pulumi.Output.isInstance(x) || x instanceof Promise };
}

/** Child options: parented to the component, and kept on delete where the profile retains data. */
export function childOptions(parent: pulumi.Resource, retain = false): pulumi.CustomResourceOptions {
  return retain ? { parent, retainOnDelete: true } : { parent };
}

/** A policy document (which may hold outputs) as JSON. */
export function policyJson(document: pulumi.Input<object>): pulumi.Output<string> {
  return pulumi.jsonStringify(pulumi.output(document));
}

/** Where a component deploys. */
export interface AccountContext {
  readonly accountId: pulumi.Output<string>;
  readonly partition: pulumi.Output<string>;
  readonly region: pulumi.Output<string>;
}

/** The account, partition and region a component deploys into (provider invokes, answered by mocks in tests). */
export function accountContext(parent: pulumi.Resource): AccountContext {
  return {
    accountId: aws.getCallerIdentityOutput({}, { parent }).accountId,
    partition: aws.getPartitionOutput({}, { parent }).partition,
    region: aws.getRegionOutput({}, { parent }).region,
  };
}

/** A statement of a resource policy (key, bucket, topic policies name their principal). */
export type KeyPolicyStatement = PolicyStatement & { readonly Principal: unknown };

/** A policy document of statements that may hold outputs, as JSON. */
export function statementsJson(statements: pulumi.Input<readonly PolicyStatement[]>): pulumi.Output<string> {
  return policyJson({ Version: '2012-10-17', Statement: statements });
}

/** The trust policy letting an AWS service assume a role. */
export function assumedBy(service: pulumi.Input<string>): pulumi.Output<string> {
  return policyJson({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] });
}

/** Options of a service role made by a component. */
export interface ServiceRoleOptions {
  readonly service: pulumi.Input<string>;
  readonly description: string;
  readonly tags: Record<string, string>;
  readonly permissionsBoundary?: pulumi.Input<string>;
  readonly managedPolicyArns?: pulumi.Input<string>[];
}

/** A role for an AWS service, with the component's boundary. */
export function serviceRole(name: string, options: ServiceRoleOptions, parent: pulumi.Resource): aws.iam.Role {
  return new aws.iam.Role(name, {
    description: options.description,
    assumeRolePolicy: assumedBy(options.service),
    managedPolicyArns: options.managedPolicyArns,
    permissionsBoundary: options.permissionsBoundary,
    tags: options.tags,
  }, { parent });
}

/**
 * Attaches statements to a role through one customer managed policy (as the CDK constructs do: NIST 800-53 and
 * HIPAA flag inline policies). Returns the policy, or undefined when there is nothing to attach.
 */
export function attachStatements(
  name: string, role: aws.iam.Role, statements: pulumi.Input<readonly PolicyStatement[]>, parent: pulumi.Resource, description?: string,
  tags?: Record<string, string>,
): aws.iam.Policy | undefined {
  if (Array.isArray(statements) && statements.length === 0) return undefined;
  const policy = new aws.iam.Policy(name, { description, policy: statementsJson(statements), tags }, { parent });
  new aws.iam.RolePolicyAttachment(`${name}-attachment`, { role: role.name, policyArn: policy.arn }, { parent });
  return policy;
}

/**
 * The `aws:PrincipalArn` patterns of a caller (`aws.getCallerIdentity().arn`): an IAM user or the root as they are; for
 * an assumed-role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) its role, with or without a path
 * (the session's ARN drops the path that `aws:PrincipalArn` keeps, e.g. `aws-reserved/sso.amazonaws.com/` of IAM Identity
 * Center roles).
 */
export function principalArnPatterns(callerArn: string): string[] {
  const session = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/[^/]+$/.exec(callerArn);
  if (!session) return [callerArn];
  const [, partition, account, role] = session;
  return [`arn:${partition}:iam::${account}:role/${role}`, `arn:${partition}:iam::${account}:role/*/${role}`];
}

/** The key-policy statement letting CloudWatch Logs of this account and region use a key. */
export function logsKeyStatement(account: AccountContext): KeyPolicyStatement {
  return {
    Sid: 'AllowCloudWatchLogsInThisAccount',
    Effect: 'Allow',
    Principal: { Service: pulumi.interpolate`logs.${account.region}.amazonaws.com` },
    Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    Resource: '*',
    Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': pulumi.interpolate`arn:${account.partition}:logs:${account.region}:${account.accountId}:log-group:*` } },
  };
}

/** The key-policy statement letting the account administer a key (what a key without a policy gets by default). */
export function accountAdministersKeyStatement(account: AccountContext): KeyPolicyStatement {
  return {
    Sid: 'AccountAdministers',
    Effect: 'Allow',
    Principal: { AWS: pulumi.interpolate`arn:${account.partition}:iam::${account.accountId}:root` },
    Action: 'kms:*',
    Resource: '*',
  };
}

/**
 * The policy of a key the library creates: the account administers it (what a key without a policy gets by default),
 * `statements`, and core's deny of grants except for AWS resources (CT.KMS.PR.3), as the CDK constructs render it.
 */
export function keyPolicyJson(account: AccountContext, statements: readonly unknown[] = []): pulumi.Output<string> {
  return policyJson({
    Version: '2012-10-17',
    Statement: [accountAdministersKeyStatement(account), ...statements, denyGrantsExceptForAwsResourcesStatement()],
  });
}

/** A new rotating customer managed key whose policy is `keyPolicyJson` of `statements`. */
export function rotatingKey(
  name: string,
  description: string,
  options: { retain: boolean; pendingWindowDays: number; tags: Record<string, string>; statements?: readonly unknown[] },
  parent: pulumi.Resource,
): aws.kms.Key {
  return new aws.kms.Key(name, {
    description,
    enableKeyRotation: true,
    deletionWindowInDays: options.pendingWindowDays,
    policy: keyPolicyJson(accountContext(parent), options.statements),
    tags: options.tags,
  }, childOptions(parent, options.retain));
}

/**
 * A value computed once the program's synchronous part is done, so that what is added to a component after it was
 * created (alarms on a dashboard, buckets a boundary protects) is included, as CDK's `Lazy` values are at synthesis.
 * Whatever is added after an `await` in the program is not.
 */
export function deferred<T>(produce: () => pulumi.Input<T>): pulumi.Output<T> {
  const programDone = pulumi.output(new Promise<string>((resolve) => setImmediate(() => resolve('done'))));
  return programDone.apply(() => pulumi.output(produce())) as pulumi.Output<T>;
}

/** The bucket-policy statements refusing requests without TLS or with TLS older than 1.2. */
export function tlsOnlyBucketStatements(bucketArn: pulumi.Input<string>): KeyPolicyStatement[] {
  const resources = [bucketArn, pulumi.interpolate`${bucketArn}/*`];
  return [
    { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: resources, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    { Sid: 'DenyOutdatedTLS', Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: resources, Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } },
  ];
}

/**
 * Sends a bucket's object events to EventBridge (AWS Control Tower CT.S3.PR.4), as every bucket of the CDK constructs
 * does. This is the bucket's one notification configuration (S3 keeps one per bucket): a second `BucketNotification`
 * of the bucket would replace it, so other consumers of object events subscribe with EventBridge rules.
 */
export function notifyEventBridge(name: string, bucket: aws.s3.Bucket, parent: pulumi.Resource): aws.s3.BucketNotification {
  return new aws.s3.BucketNotification(`${name}-notification`, { bucket: bucket.id, eventbridge: true }, { parent });
}

/** The topic-policy statement refusing publications without TLS. */
export function denyInsecureTopicStatement(topicArn: pulumi.Input<string>): KeyPolicyStatement {
  return { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: topicArn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } };
}

/** Core's engine-neutral statement as a policy JSON statement. */
export function renderNeutralStatement(s: NeutralStatement): PolicyStatement {
  return { Sid: s.sid, Effect: s.effect, Action: s.actions, Resource: s.resources, ...(s.conditions ? { Condition: s.conditions } : {}) };
}

/** What a role needs for the log delivery and X-Ray traces of its state machines (no resource-level permissions there). */
export function stateMachineLogsAndTracesStatement(): PolicyStatement {
  return {
    Sid: 'LogsAndTraces',
    Effect: 'Allow',
    Resource: '*',
    Action: [
      'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries',
      'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
      'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets',
    ],
  };
}

/**
 * The trust policy of a state machine's role: Step Functions only, under `conditions` (this account, this state machine's
 * ARN: see core's `promotionTrustConditions`, `fleetRolloutTrustConditions`).
 */
export function stateMachineTrustPolicy(conditions: pulumi.Input<Record<string, Record<string, string>>>): pulumi.Output<string> {
  return policyJson({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: conditions }],
  });
}

/** What `tracedStateMachine` creates. */
export interface TracedStateMachineArgs {
  /** @default - a name Pulumi picks */
  readonly name?: string;
  readonly definition: pulumi.Input<string>;
  readonly roleArn: pulumi.Input<string>;
  /** The log group every execution's events (with their data) go to. */
  readonly logGroupArn: pulumi.Input<string>;
  readonly tags: Record<string, string>;
  /** Created after it: the policy giving the role what the definition calls. */
  readonly rolePolicy: pulumi.Resource;
}

/** A standard state machine with X-Ray tracing and every execution event logged with its data (as the CDK constructs deploy theirs). */
export function tracedStateMachine(name: string, args: TracedStateMachineArgs, parent: pulumi.Resource): aws.sfn.StateMachine {
  return new aws.sfn.StateMachine(name, {
    name: args.name,
    definition: args.definition,
    roleArn: args.roleArn,
    type: 'STANDARD',
    tracingConfiguration: { enabled: true },
    loggingConfiguration: { logDestination: pulumi.interpolate`${args.logGroupArn}:*`, includeExecutionData: true, level: 'ALL' },
    tags: args.tags,
  }, { ...childOptions(parent), dependsOn: [args.rolePolicy] });
}
