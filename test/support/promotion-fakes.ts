// Fakes of every service call the promotion state machine makes (core's promotionDefinition, as either engine deploys it),
// with S3 enforcing the models bucket's write-once rule as its policy does; shared by the CDK and Pulumi promotion tests.
import { Duration } from 'aws-cdk-lib';
import { FakeAws as RolloutAws, runRollout } from './rollout-fakes';
import { runLocally } from './state-machines';
import { fleetRolloutDefinition, PROMOTION_TARGET_TAG, Rollout, SERVED_MODELS_POLICY_SIDS, servedModelsBucketPolicy } from 'mlops-constructs';

/* eslint-disable @typescript-eslint/no-explicit-any */

export class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** The models bucket's write-once rule as S3 evaluates it for one call (the Deny of `servedModelsBucketPolicy`). */
export function writeOnceDenies(key: string, context: { 's3:if-none-match'?: string; 's3:ObjectCreationOperation': boolean }): boolean {
  const statement = servedModelsBucketPolicy({ servedObjectsArn: 'arn:aws:s3:::models-bucket/served/*', promotionRoleArn: 'promotion' })
    .find((s) => s.Sid === SERVED_MODELS_POLICY_SIDS.writeOnce) as any;
  if (!key.startsWith('served/')) return false;
  const nullClause = Object.entries<string>(statement.Condition.Null).every(([k, v]) => (context[k as 's3:if-none-match'] === undefined) === (v === 'true'));
  const boolClause = Object.entries<string>(statement.Condition.Bool).every(([k, v]) => String(context[k as 's3:ObjectCreationOperation']) === v);
  return nullClause && boolClause;
}

/** One environment's AWS as promotion sees it. */
export class FakeAws {
  public calls: string[] = [];
  public notifications: any[] = [];
  public objects = new Map<string, string>([['candidates/fraud/run-42/model.tar.gz', 'archive-42'], ['candidates/churn/run-9/model.tar.gz', 'archive-9']]);
  public locks = new Map<string, string>();
  public servedStates: Record<string, string> = { fraud: 'current=v7@100,candidate=v7@0', churn: 'current=v2@100' };
  public stackStatuses: string[] = ['UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE'];
  public rolloutOutcome: 'SUCCEEDED' | 'RolledBack' = 'SUCCEEDED';
  public stackUpdates: any[] = [];
  /** Whether the serving stack already serves the served state (UpdateStack answers "No updates are to be performed."). */
  public stackUpToDate = false;
  public rolloutsStarted: any[] = [];
  /** Auto Scaling groups by their served-variant tag (`<served state>:<index>`): the fleets whose instances read a served state at boot. */
  public servedGroups: Record<string, string> = {};
  /** What DescribeInstanceRefreshes answers, in turn (the last one repeats). */
  public refreshStatuses: string[] = ['InProgress', 'Successful'];
  public refreshes: string[] = [];
  /**
   * Fleet rollout state machines by name, each with its model: a promotion that starts one runs its definition offline
   * (against this environment's served state and listener) instead of answering SUCCEEDED or `rolloutOutcome`.
   */
  public rolloutMachines: Record<string, { model: string; definition: any }> = {};
  /** The listener weights of each model's fleet, as its rollout state machine sets them. */
  public listenerWeights: Record<string, number[]> = {};
  /** Objects of other buckets (`<bucket>/<key>`): the source environment's served archives. */
  public otherBuckets = new Map<string, string>([[`${STAGING_BUCKET}/served/fraud/s7/model.tar.gz`, 'archive-s7']]);
  /** Model packages by ARN (this environment's and the source's). */
  public packages = new Map<string, any>([[STAGING_PACKAGE, stagingPackage()]]);
  public packageUpdates: any[] = [];
  private uploads = new Map<string, { key: string; parts: string[] }>();

  /**
   * `shards`: the promotion target tag of each served model's state; `where`: the environment prefix of the served
   * states and the models bucket's name as the definition names them.
   */
  constructor(private readonly shards: Record<string, string>, private readonly where = { prefix: 'acme-prod', bucket: 'models-bucket' }) {}

  public handlers(definition: any): Record<string, (input: any) => any> {
    const out: Record<string, (input: any) => any> = {};
    for (const [name, state] of Object.entries<any>(definition.States)) {
      if (state.Type !== 'Task') continue;
      const op = String(state.Resource).replace(/^arn:aws:states:::(aws-sdk:)?/, '');
      const handler = (this as any)[op] as ((input: any) => any) | undefined;
      if (!handler) throw new Error(`no fake for ${name} (${state.Resource})`);
      out[name] = (input) => handler.call(this, input);
    }
    return out;
  }

  public 'dynamodb:putItem'(input: any) {
    const model = input.Item.model.S;
    expect(input.ConditionExpression).toBe('attribute_not_exists(model)');
    this.calls.push(`lock ${model}`);
    if (this.locks.has(model)) throw new TaskError('DynamoDB.ConditionalCheckFailedException', 'The conditional request failed');
    this.locks.set(model, input.Item.execution.S);
    return {};
  }

  public 'dynamodb:deleteItem'(input: any) {
    const model = input.Key.model.S;
    this.calls.push(`release ${model}`);
    if (this.locks.get(model) !== input.ExpressionAttributeValues[':me'].S) throw new TaskError('DynamoDB.ConditionalCheckFailedException', 'not our lock');
    this.locks.delete(model);
    return {};
  }

  public 'resourcegroupstaggingapi:getResources'(input: any) {
    const [arn] = input.ResourceARNList;
    const model = new RegExp(`parameter/mlops/${this.where.prefix}/served/(.+)$`).exec(arn)?.[1];
    const shard = model && this.shards[model];
    return {
      ResourceTagMappingList: shard ? [{ ResourceARN: arn, Tags: [{ Key: 'mlops:environment', Value: 'prod' }, { Key: PROMOTION_TARGET_TAG, Value: shard }] }] : [],
    };
  }

  public 'ssm:getParameter'(input: any) {
    const model = input.Name.split('/').pop();
    return { Parameter: { Name: input.Name, Value: this.servedStates[model] } };
  }

  public 'ssm:putParameter'(input: any) {
    expect(input.Overwrite).toBe(true);
    this.servedStates[input.Name.split('/').pop()] = input.Value;
    this.calls.push(`state ${input.Value}`);
    return {};
  }

  public 's3:createMultipartUpload'(input: any) {
    expect(input.Bucket).toBe(this.where.bucket);
    if (writeOnceDenies(input.Key, { 's3:ObjectCreationOperation': false })) throw new TaskError('S3.S3Exception', 'Access Denied (403)');
    const id = `upload-${this.uploads.size + 1}`;
    this.uploads.set(id, { key: input.Key, parts: [] });
    return { Bucket: input.Bucket, Key: input.Key, UploadId: id };
  }

  public 's3:uploadPartCopy'(input: any) {
    if (writeOnceDenies(input.Key, { 's3:ObjectCreationOperation': false })) throw new TaskError('S3.S3Exception', 'Access Denied (403)');
    const copySource = String(input.CopySource);
    const source = copySource.slice(this.where.bucket.length + 1);
    const body = copySource.startsWith(`${this.where.bucket}/`) ? this.objects.get(source) : this.otherBuckets.get(copySource);
    if (body === undefined) throw new TaskError('S3.NoSuchKeyException', `no ${source}`);
    this.uploads.get(input.UploadId)!.parts[input.PartNumber - 1] = body;
    return { CopyPartResult: { ETag: `"etag-${body}"`, ChecksumSHA256: `sha-${body}` } };
  }

  public 's3:completeMultipartUpload'(input: any) {
    const upload = this.uploads.get(input.UploadId)!;
    if (writeOnceDenies(input.Key, { 's3:ObjectCreationOperation': true, 's3:if-none-match': input.IfNoneMatch })) {
      throw new TaskError('S3.S3Exception', 'Access Denied (403): the bucket policy denies unconditional writes below served/');
    }
    if (input.IfNoneMatch === '*' && this.objects.has(input.Key)) throw new TaskError('S3.S3Exception', 'At least one of the pre-conditions you specified did not hold (412)');
    expect(input.MultipartUpload.Parts).toEqual([{ PartNumber: 1, ETag: `"etag-${upload.parts[0]}"`, ChecksumSHA256: `sha-${upload.parts[0]}` }]);
    this.objects.set(input.Key, upload.parts.join(''));
    this.uploads.delete(input.UploadId);
    this.calls.push(`copy ${input.Key}`);
    return { Bucket: input.Bucket, Key: input.Key, ChecksumSHA256: `sha-${upload.parts[0]}-1` };
  }

  public 's3:abortMultipartUpload'(input: any) {
    this.uploads.delete(input.UploadId);
    this.calls.push(`abort ${input.Key}`);
    return {};
  }

  public 'cloudformation:describeStacks'(input: any) {
    const status = this.stackStatuses.length > 1 ? this.stackStatuses.shift()! : this.stackStatuses[0];
    return {
      Stacks: [{
        StackName: input.StackName,
        StackStatus: status,
        Parameters: [
          { ParameterKey: 'BootstrapVersion', ParameterValue: '/cdk-bootstrap/hnb659fds/version', ResolvedValue: '21' },
          { ParameterKey: 'ServedStatefraudABCD1234', ParameterValue: '/mlops/acme-prod/served/fraud', ResolvedValue: 'stale' },
        ],
      }],
    };
  }

  public 'cloudformation:updateStack'(input: any) {
    this.stackUpdates.push(input);
    this.calls.push(`update ${input.StackName}`);
    if (this.stackUpToDate) throw new TaskError('CloudFormation.CloudFormationException', 'No updates are to be performed.');
    return { StackId: 'arn:stack' };
  }

  public async 'states:startExecution.sync:2'(input: any) {
    this.rolloutsStarted.push(input);
    const name = input.StateMachineArn.split(':').pop();
    this.calls.push(`rollout ${name}${input.Input.action ? ` ${input.Input.action}` : ''}`);
    const machine = this.rolloutMachines[name];
    if (machine) {
      const rollout = new RolloutAws(this.servedStates[machine.model]);
      rollout.weights = this.listenerWeights[machine.model] ?? [];
      // This promotion is running while it waits for the rollout.
      if (input.Input.promotion) rollout.executions[input.Input.promotion] = { Status: 'RUNNING', Input: JSON.stringify({ model: machine.model }) };
      const result = await runRollout(machine.definition, rollout, input.Input);
      this.servedStates[machine.model] = rollout.servedState;
      this.listenerWeights[machine.model] = rollout.weights;
      this.calls.push(...rollout.calls.filter((c) => /^(listener|state|notify)/.test(c)).map((c) => `  ${c}`));
      if (!result.ok) throw new TaskError('States.TaskFailed', JSON.stringify({ Status: 'FAILED', Error: result.error }));
      return { Status: 'SUCCEEDED', Output: '{}' };
    }
    if (this.rolloutOutcome !== 'SUCCEEDED') throw new TaskError('States.TaskFailed', JSON.stringify({ Status: 'FAILED', Error: 'RolledBack' }));
    return { Status: 'SUCCEEDED', Output: '{}' };
  }

  public 'autoscaling:describeAutoScalingGroups'(input: any) {
    const [filter] = input.Filters;
    expect(filter.Name).toBe('tag:mlops:served-variant');
    const names = filter.Values.map((v: string) => this.servedGroups[v]).filter((n: string | undefined) => n !== undefined);
    return { AutoScalingGroups: names.map((n: string) => ({ AutoScalingGroupName: n, Tags: [] })) };
  }

  public 'autoscaling:startInstanceRefresh'(input: any) {
    this.refreshes.push(input.AutoScalingGroupName);
    this.calls.push(`refresh ${input.AutoScalingGroupName}`);
    return { InstanceRefreshId: `refresh-${this.refreshes.length}` };
  }

  public 'autoscaling:describeInstanceRefreshes'(input: any) {
    expect(input.InstanceRefreshIds).toEqual([`refresh-${this.refreshes.length}`]);
    const status = this.refreshStatuses.length > 1 ? this.refreshStatuses.shift()! : this.refreshStatuses[0];
    const [id] = input.InstanceRefreshIds;
    return { InstanceRefreshes: [{ InstanceRefreshId: id, AutoScalingGroupName: input.AutoScalingGroupName, Status: status }] };
  }

  public 'autoscaling:cancelInstanceRefresh'(input: any) {
    this.calls.push(`cancel refresh ${input.AutoScalingGroupName}`);
    return {};
  }

  public 'sagemaker:describeModelPackage'(input: any) {
    const found = this.packages.get(input.ModelPackageName);
    this.calls.push(`describe ${input.ModelPackageName}`);
    if (!found) throw new TaskError('SageMaker.SageMakerException', `Model package ${input.ModelPackageName} does not exist (or is not shared with this account).`);
    return structuredClone(found);
  }

  public 'sagemaker:createModelPackage'(input: any) {
    const arn = `arn:aws:sagemaker:us-east-1:111111111111:model-package/${input.ModelPackageGroupName}/${this.packages.size + 1}`;
    this.packages.set(arn, { ...structuredClone(input), ModelPackageArn: arn });
    this.calls.push(`register ${input.ModelPackageGroupName} ${input.ModelApprovalStatus}`);
    return { ModelPackageArn: arn };
  }

  public 'sagemaker:updateModelPackage'(input: any) {
    this.packageUpdates.push(input);
    const found = this.packages.get(input.ModelPackageArn);
    if (!found) throw new TaskError('SageMaker.SageMakerException', `Model package ${input.ModelPackageArn} does not exist.`);
    if (input.ModelApprovalStatus) found.ModelApprovalStatus = input.ModelApprovalStatus;
    found.CustomerMetadataProperties = { ...found.CustomerMetadataProperties, ...input.CustomerMetadataProperties };
    this.calls.push(`update package ${input.ModelApprovalStatus ?? Object.keys(input.CustomerMetadataProperties).join(',')}`);
    return { ModelPackageArn: input.ModelPackageArn };
  }

  public 'sns:publish'(input: any) {
    this.notifications.push(typeof input.Message === 'string' ? JSON.parse(input.Message) : input.Message);
    this.calls.push('notify');
    return {};
  }
}

/**
 * Gives `aws` the rollout state machine `name` of the fleet serving `model` (a canary of 10% with a bake: core's
 * definition, which both engines' FleetRollout render, as their tests check), run for real when promotion starts it,
 * and the served state and listener weights it starts from; it settles only for executions of `promotionStateMachineName`.
 */
export function withFleetRollout(
  aws: FakeAws, name: string, model: string, servedStateParameterName: string, state: string, weights: number[], promotionStateMachineName: string,
): FakeAws {
  aws.rolloutMachines[name] = {
    model,
    definition: fleetRolloutDefinition({
      partition: 'aws',
      modelName: model,
      rollout: Rollout.canary({ percent: 10, bake: Duration.minutes(30) }),
      variants: [{ name: 'current', targetGroupArn: 'arn:tg-current' }, { name: 'candidate', targetGroupArn: 'arn:tg-candidate' }],
      listenerArn: 'arn:listener',
      servedStateParameterName,
      alarmNames: [`${model}-latency`],
      alarmTopicArn: 'arn:aws:sns:us-east-1:111111111111:alarms',
      promotionStateMachineName,
    }),
  };
  aws.servedStates[model] = state;
  aws.listenerWeights[model] = weights;
  return aws;
}

/** The source environment (staging, another account): its models bucket and an approved package it promoted. */
export const STAGING_BUCKET = 'acme-staging-models';
export const STAGING_PACKAGE = 'arn:aws:sagemaker:us-east-1:222222222222:model-package/fraud/7';

/** What DescribeModelPackage answers for a package staging's pipeline registered and staging's promotion served. */
export function stagingPackage(): any {
  return {
    ModelPackageArn: STAGING_PACKAGE,
    ModelPackageGroupName: 'fraud',
    ModelApprovalStatus: 'Approved',
    InferenceSpecification: {
      Containers: [{ Image: '222222222222.dkr.ecr.us-east-1.amazonaws.com/serving:serve-1', ModelDataUrl: `s3://${STAGING_BUCKET}/served/fraud/s7/model.tar.gz` }],
      SupportedContentTypes: ['application/json'],
      SupportedResponseMIMETypes: ['application/json'],
    },
    ModelMetrics: { ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: 's3://acme-staging-artifacts/pipelines/fraud/evaluate/s7/evaluation.json' } } },
    DriftCheckBaselines: { ModelDataQuality: { Statistics: { ContentType: 'application/json', S3Uri: 's3://acme-staging-artifacts/pipelines/fraud/validate/s7/statistics.json' } } },
    CustomerMetadataProperties: { run: 's7', approvedBy: 'alice', servedObject: `${STAGING_BUCKET}/served/fraud/s7/model.tar.gz`, sha256: 'sha-archive-s7' },
  };
}

export async function run(definition: any, aws: FakeAws, input: Record<string, unknown>, stateMachineName = 'acme-prod-promotion'): Promise<{ ok: boolean; error?: string; cause?: string }> {
  const result = await runLocally(definition, input, {
    handlers: aws.handlers(definition),
    context: {
      Execution: { Id: `arn:aws:states:us-east-1:111111111111:execution:${stateMachineName}:run-1`, StartTime: '2026-12-01T05:00:00.000Z' },
      StateMachine: { Id: 'arn:sm' },
    },
  });
  return result.ok ? { ok: true } : { ok: false, error: result.error, cause: result.cause };
}
