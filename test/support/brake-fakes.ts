/**
 * An in-memory account for executing the GPU brake's state machines offline with aws-local-stepfunctions: every Task
 * state is overridden by a fake of the AWS API its `Resource` names, with the request and response shapes Step Functions'
 * AWS SDK integrations use (PascalCase). The fakes validate what the real APIs validate where it matters here (bounds,
 * pagination, conditional writes) and record every call.
 */
import { StateMachine } from 'aws-local-stepfunctions';

// aws-local-stepfunctions 3 uses Promise.withResolvers (Node 22); Node 20 lacks it.
const promiseStatics = Promise as unknown as { withResolvers?: () => unknown };
if (!promiseStatics.withResolvers) {
  promiseStatics.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export interface FakeTags { [key: string]: string }

export interface FakeFleet { name: string; min: number; max: number; desired: number; tags: FakeTags; suspended: Set<string> }
export interface FakeCompute { arn: string; name: string; min: number; max: number; desired: number; tags: FakeTags; managed: boolean }
export interface FakeTarget { resourceId: string; dimension: string; min: number; max: number; scheduledSuspended: boolean }
export interface FakeComponent { name: string; arn: string; tags: FakeTags }
export interface FakeEndpoint { name: string; arn: string; variants: string[]; components: FakeComponent[]; tags: FakeTags }
export interface FakeNodeGroup {
  cluster: string;
  name: string;
  arn: string;
  min: number;
  max: number;
  desired: number;
  labels: FakeTags;
  tags: FakeTags;
  taints: Array<{ Key: string; Value: string; Effect: string }>;
}

export interface ApiCall { readonly api: string; readonly params: any }

function awsError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** The account the fakes act on. */
export class FakeAccount {
  public readonly fleets = new Map<string, FakeFleet>();
  public readonly computes = new Map<string, FakeCompute>();
  public readonly targets = new Map<string, FakeTarget>();
  public readonly endpoints = new Map<string, FakeEndpoint>();
  public readonly nodeGroups = new Map<string, FakeNodeGroup>();
  public readonly ledger = new Map<string, Record<string, any>>();
  public readonly attachedPolicies = new Map<string, Set<string>>();
  public readonly parameters = new Map<string, string>();
  public readonly notifications: Array<{ subject: string; message: string }> = [];
  public readonly calls: ApiCall[] = [];
  /** Page sizes the fakes use (smaller than AWS's, so tests cross page boundaries with few resources). */
  public pageSize = 7;

  constructor(public readonly region = 'us-east-1', public readonly account = '123456789012') {}

  public addFleet(name: string, bounds: { min: number; max: number; desired: number }, tags: FakeTags): void {
    this.fleets.set(name, { name, ...bounds, tags: { ...tags }, suspended: new Set() });
  }

  public addCompute(name: string, bounds: { min: number; max: number; desired?: number }, tags: FakeTags, managed = true): void {
    const arn = `arn:aws:batch:${this.region}:${this.account}:compute-environment/${name}`;
    this.computes.set(arn, { arn, name, min: bounds.min, max: bounds.max, desired: bounds.desired ?? bounds.min, tags: { ...tags }, managed });
  }

  /**
   * An endpoint; variants given as a string have no scalable target. `components` are inference components hosted on
   * it (an endpoint that scales to zero): their copy counts are scalable targets, their variant has none.
   */
  public addEndpoint(name: string, variants: Array<{ variant: string; min: number; max: number } | string>, tags: FakeTags,
    components: Array<{ component: string; min: number; max: number }> = []): void {
    const arn = `arn:aws:sagemaker:${this.region}:${this.account}:endpoint/${name}`;
    this.endpoints.set(name, {
      name,
      arn,
      variants: variants.map((v) => (typeof v === 'string' ? v : v.variant)),
      components: components.map((c) => ({
        name: c.component, arn: `arn:aws:sagemaker:${this.region}:${this.account}:inference-component/${c.component}`, tags: { ...tags },
      })),
      tags: { ...tags },
    });
    for (const v of variants) {
      if (typeof v === 'string') continue;
      const resourceId = `endpoint/${name}/variant/${v.variant}`;
      this.targets.set(resourceId, { resourceId, dimension: 'sagemaker:variant:DesiredInstanceCount', min: v.min, max: v.max, scheduledSuspended: false });
    }
    for (const c of components) {
      const resourceId = `inference-component/${c.component}`;
      this.targets.set(resourceId, { resourceId, dimension: 'sagemaker:inference-component:DesiredCopyCount', min: c.min, max: c.max, scheduledSuspended: false });
    }
  }

  public addNodeGroup(cluster: string, name: string, bounds: { min: number; max: number; desired: number }, labels: FakeTags, tags: FakeTags): void {
    const arn = `arn:aws:eks:${this.region}:${this.account}:nodegroup/${cluster}/${name}/0abc1234-5678-90ab-cdef-1234567890ab`;
    this.nodeGroups.set(arn, { cluster, name, arn, ...bounds, labels: { ...labels }, tags: { ...tags }, taints: [] });
  }

  /** Runs one of the brake's definitions with every Task state served by these fakes. */
  public async run(definition: Record<string, any>, input: Record<string, unknown> = {},
    taskHandlers: Record<string, (input: any) => unknown> = {}): Promise<unknown> {
    const handlers: Record<string, (input: any) => Promise<unknown>> = {};
    for (const [name, state] of taskStates(definition)) {
      handlers[name] = async (params: any) => (taskHandlers[name] ? taskHandlers[name](params) : this.call(String(state.Resource), params));
    }
    const retries: Record<string, number> = {};
    for (const [name] of taskStates(definition)) retries[name] = 0;
    const machine = new StateMachine(definition as any, { validationOptions: { checkArn: false } });
    const execution = machine.run(input as any, {
      overrides: { taskResourceLocalHandlers: handlers as any, retryIntervalOverrides: retries },
      context: { Execution: { Id: 'arn:aws:states:us-east-1:123456789012:execution:brake:test' }, Task: { Token: 'task-token' } } as any,
    });
    return execution.result;
  }

  /** One AWS API call, by the Task's `Resource` (`arn:aws:states:::aws-sdk:<service>:<action>` or an optimized integration). */
  public call(resource: string, params: any): unknown {
    const api = resource.replace(/^arn:aws:states:::(aws-sdk:)?/, '').replace(/\.waitForTaskToken$/, '');
    this.calls.push({ api, params: JSON.parse(JSON.stringify(params)) });
    const handler = (this as any)[api.replace(/[:.-]/g, '_')] as ((p: any) => unknown) | undefined;
    if (!handler) throw awsError('States.Runtime', `no fake for ${api}`);
    return handler.call(this, params);
  }

  /** Calls of one API, in order. */
  public callsTo(api: string): any[] {
    return this.calls.filter((c) => c.api === api).map((c) => c.params);
  }

  // --- Auto Scaling ---
  protected autoscaling_describeAutoScalingGroups(p: any): unknown {
    const filters: Array<{ Name: string; Values: string[] }> = p.Filters ?? [];
    const all = [...this.fleets.values()].filter((f) => filters.every((flt) => {
      const key = flt.Name.replace(/^tag:/, '');
      return flt.Name.startsWith('tag:') && flt.Values.includes(f.tags[key]);
    }));
    return this.page(all, p.NextToken, p.MaxRecords, (f) => ({
      AutoScalingGroupName: f.name,
      MinSize: f.min,
      MaxSize: f.max,
      DesiredCapacity: f.desired,
      Tags: Object.entries(f.tags).map(([Key, Value]) => ({ Key, Value, ResourceId: f.name, ResourceType: 'auto-scaling-group', PropagateAtLaunch: false })),
      SuspendedProcesses: [...f.suspended].map((ProcessName) => ({ ProcessName })),
    }), 'AutoScalingGroups', 'NextToken');
  }

  protected autoscaling_updateAutoScalingGroup(p: any): unknown {
    const f = this.fleet(p.AutoScalingGroupName);
    const min = p.MinSize ?? f.min;
    const max = p.MaxSize ?? f.max;
    const desired = p.DesiredCapacity ?? Math.min(Math.max(f.desired, min), max);
    if (!(min <= desired && desired <= max)) {
      throw awsError('AutoScaling.ValidationErrorException', `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`);
    }
    Object.assign(f, { min, max, desired });
    return {};
  }

  protected autoscaling_createOrUpdateTags(p: any): unknown {
    for (const t of p.Tags) this.fleet(t.ResourceId).tags[t.Key] = t.Value;
    return {};
  }

  protected autoscaling_deleteTags(p: any): unknown {
    for (const t of p.Tags) delete this.fleet(t.ResourceId).tags[t.Key];
    return {};
  }

  protected autoscaling_suspendProcesses(p: any): unknown {
    p.ScalingProcesses.forEach((s: string) => this.fleet(p.AutoScalingGroupName).suspended.add(s));
    return {};
  }

  protected autoscaling_resumeProcesses(p: any): unknown {
    p.ScalingProcesses.forEach((s: string) => this.fleet(p.AutoScalingGroupName).suspended.delete(s));
    return {};
  }

  // --- Batch ---
  protected batch_describeComputeEnvironments(p: any): unknown {
    return this.page([...this.computes.values()], p.NextToken, p.MaxResults, (c) => ({
      ComputeEnvironmentName: c.name,
      ComputeEnvironmentArn: c.arn,
      Type: c.managed ? 'MANAGED' : 'UNMANAGED',
      ...(Object.keys(c.tags).length > 0 ? { Tags: { ...c.tags } } : {}),
      ...(c.managed ? { ComputeResources: { MinvCpus: c.min, MaxvCpus: c.max, DesiredvCpus: c.desired } } : {}),
    }), 'ComputeEnvironments', 'NextToken');
  }

  protected batch_updateComputeEnvironment(p: any): unknown {
    const c = this.computes.get(p.ComputeEnvironment) ?? [...this.computes.values()].find((x) => x.name === p.ComputeEnvironment);
    if (!c) throw awsError('Batch.ClientException', 'compute environment not found');
    const r = p.ComputeResources ?? {};
    const min = r.MinvCpus ?? c.min;
    const max = r.MaxvCpus ?? c.max;
    if (min > max) throw awsError('Batch.ClientException', 'minvCpus must be at most maxvCpus');
    Object.assign(c, { min, max, desired: Math.min(c.desired, max) });
    return {};
  }

  protected batch_tagResource(p: any): unknown {
    Object.assign(this.computeByArn(p.ResourceArn).tags, p.Tags);
    return {};
  }

  protected batch_untagResource(p: any): unknown {
    const c = this.computeByArn(p.ResourceArn);
    p.TagKeys.forEach((k: string) => delete c.tags[k]);
    return {};
  }

  // --- Resource Groups Tagging ---
  protected resourcegroupstaggingapi_getResources(p: any): unknown {
    const filters: Array<{ Key: string; Values: string[] }> = p.TagFilters ?? [];
    const types: string[] = p.ResourceTypeFilters ?? [];
    const matches = (tags: FakeTags) => filters.every((f) => f.Values.includes(tags[f.Key]));
    const all: Array<{ arn: string; tags: FakeTags }> = [];
    if (types.includes('sagemaker:endpoint')) all.push(...[...this.endpoints.values()].map((e) => ({ arn: e.arn, tags: e.tags })));
    if (types.includes('eks:nodegroup')) all.push(...[...this.nodeGroups.values()].map((g) => ({ arn: g.arn, tags: g.tags })));
    const result = this.page(all.filter((r) => matches(r.tags)), p.PaginationToken || undefined, p.ResourcesPerPage, (r) => ({
      ResourceARN: r.arn, Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
    }), 'ResourceTagMappingList', 'PaginationToken') as Record<string, unknown>;
    // The tagging API ends with an empty token rather than none.
    return { PaginationToken: '', ...result };
  }

  // --- SageMaker and Application Auto Scaling ---
  protected sagemaker_describeEndpoint(p: any): unknown {
    const e = this.endpoints.get(p.EndpointName);
    if (!e) throw awsError('SageMaker.ValidationException', `Could not find endpoint ${p.EndpointName}`);
    const ProductionVariants = e.variants.map((VariantName) => ({ VariantName, CurrentInstanceCount: 1 }));
    // SageMaker omits the variants of an endpoint it is still creating.
    if (ProductionVariants.length === 0) return { EndpointName: e.name, EndpointArn: e.arn, EndpointStatus: 'Creating' };
    return { EndpointName: e.name, EndpointArn: e.arn, EndpointStatus: 'InService', ProductionVariants };
  }

  protected sagemaker_listInferenceComponents(p: any): unknown {
    if (p.MaxResults !== undefined && (p.MaxResults < 1 || p.MaxResults > 100)) throw awsError('SageMaker.ValidationException', 'MaxResults must be 1-100');
    const endpoints = [...this.endpoints.values()].filter((e) => p.EndpointNameEquals === undefined || e.name === p.EndpointNameEquals);
    return {
      InferenceComponents: endpoints.flatMap((e) => e.components.map((c) => ({
        InferenceComponentName: c.name, InferenceComponentArn: c.arn, EndpointName: e.name, VariantName: e.variants[0], InferenceComponentStatus: 'InService',
      }))),
    };
  }

  /** An endpoint or inference component by ARN. */
  private sageMakerResource(arn: string): { tags: FakeTags } {
    const all = [...this.endpoints.values()].flatMap((e): Array<{ arn: string; tags: FakeTags }> => [e, ...e.components]);
    const found = all.find((x) => x.arn === arn);
    if (!found) throw awsError('SageMaker.ValidationException', `Could not find resource ${arn}`);
    return found;
  }

  protected sagemaker_addTags(p: any): unknown {
    const r = this.sageMakerResource(p.ResourceArn);
    for (const t of p.Tags) r.tags[t.Key] = t.Value;
    return {};
  }

  protected sagemaker_deleteTags(p: any): unknown {
    const r = this.sageMakerResource(p.ResourceArn);
    p.TagKeys.forEach((k: string) => delete r.tags[k]);
    return {};
  }

  protected applicationautoscaling_describeScalableTargets(p: any): unknown {
    const ids: string[] = p.ResourceIds ?? [];
    const matches = (t: FakeTarget) => (ids.length === 0 || ids.includes(t.resourceId))
      && (!p.ScalableDimension || p.ScalableDimension === t.dimension);
    return {
      ScalableTargets: [...this.targets.values()].filter(matches).map((t) => ({
        ServiceNamespace: 'sagemaker',
        ResourceId: t.resourceId,
        ScalableDimension: t.dimension,
        MinCapacity: t.min,
        MaxCapacity: t.max,
        SuspendedState: { ScheduledScalingSuspended: t.scheduledSuspended },
      })),
    };
  }

  protected applicationautoscaling_registerScalableTarget(p: any): unknown {
    const t = this.targets.get(p.ResourceId);
    if (!t) throw awsError('ApplicationAutoScaling.ObjectNotFoundException', `No scalable target for ${p.ResourceId}`);
    if (p.ScalableDimension !== t.dimension) throw awsError('ApplicationAutoScaling.ValidationException', `${p.ResourceId} does not scale ${p.ScalableDimension}`);
    const min = p.MinCapacity ?? t.min;
    const max = p.MaxCapacity ?? t.max;
    if (min > max) throw awsError('ApplicationAutoScaling.ValidationException', 'Minimum capacity cannot be greater than maximum capacity');
    Object.assign(t, { min, max, scheduledSuspended: p.SuspendedState?.ScheduledScalingSuspended ?? t.scheduledSuspended });
    return {};
  }

  // --- EKS ---
  protected eks_describeNodegroup(p: any): unknown {
    const g = [...this.nodeGroups.values()].find((x) => x.cluster === p.ClusterName && x.name === p.NodegroupName)!;
    return {
      Nodegroup: {
        NodegroupName: g.name,
        ClusterName: g.cluster,
        NodegroupArn: g.arn,
        Labels: { ...g.labels },
        Tags: { ...g.tags },
        ScalingConfig: { MinSize: g.min, MaxSize: g.max, DesiredSize: g.desired },
        Taints: [...g.taints],
      },
    };
  }

  protected eks_updateNodegroupConfig(p: any): unknown {
    const g = [...this.nodeGroups.values()].find((x) => x.cluster === p.ClusterName && x.name === p.NodegroupName)!;
    const sc = p.ScalingConfig ?? {};
    const min = sc.MinSize ?? g.min;
    const max = sc.MaxSize ?? g.max;
    const desired = sc.DesiredSize ?? g.desired;
    if (max < 1 || min > desired || desired > max) throw awsError('Eks.InvalidParameterException', 'invalid scaling config');
    Object.assign(g, { min, max, desired });
    for (const t of p.Taints?.AddOrUpdateTaints ?? []) g.taints = [...g.taints.filter((x) => x.Key !== t.Key), t];
    for (const t of p.Taints?.RemoveTaints ?? []) g.taints = g.taints.filter((x) => x.Key !== t.Key);
    return {};
  }

  protected eks_tagResource(p: any): unknown {
    Object.assign(this.nodeGroupByArn(p.ResourceArn).tags, p.Tags);
    return {};
  }

  protected eks_untagResource(p: any): unknown {
    const g = this.nodeGroupByArn(p.ResourceArn);
    p.TagKeys.forEach((k: string) => delete g.tags[k]);
    return {};
  }

  // --- IAM, DynamoDB, SSM, SNS ---
  protected iam_attachRolePolicy(p: any): unknown {
    if (p.RoleName.startsWith('deleted-')) throw awsError('Iam.NoSuchEntityException', `The role with name ${p.RoleName} cannot be found.`);
    const set = this.attachedPolicies.get(p.RoleName) ?? new Set<string>();
    set.add(p.PolicyArn);
    this.attachedPolicies.set(p.RoleName, set);
    return {};
  }

  protected iam_detachRolePolicy(p: any): unknown {
    const set = this.attachedPolicies.get(p.RoleName);
    if (!set?.has(p.PolicyArn)) throw awsError('Iam.NoSuchEntityException', `Policy ${p.PolicyArn} was not found.`);
    set.delete(p.PolicyArn);
    return {};
  }

  protected dynamodb_putItem(p: any): unknown {
    const id = p.Item.Id.S;
    if (p.ConditionExpression === 'attribute_not_exists(Id)' && this.ledger.has(id)) {
      throw awsError('DynamoDb.ConditionalCheckFailedException', 'The conditional request failed');
    }
    for (const [k, v] of Object.entries(p.Item as Record<string, any>)) {
      if ('N' in v && (typeof v.N !== 'string' || Number.isNaN(Number(v.N)))) throw awsError('DynamoDb.ValidationException', `${k} is not a number string`);
      if ('S' in v && typeof v.S !== 'string') throw awsError('DynamoDb.ValidationException', `${k} is not a string`);
    }
    this.ledger.set(id, JSON.parse(JSON.stringify(p.Item)));
    return {};
  }

  protected dynamodb_scan(p: any): unknown {
    const items = [...this.ledger.entries()].sort(([a], [b]) => a.localeCompare(b));
    const start = p.ExclusiveStartKey ? items.findIndex(([id]) => id === p.ExclusiveStartKey.Id.S) + 1 : 0;
    const limit = Math.min(p.Limit ?? 100, this.pageSize);
    const page = items.slice(start, start + limit);
    const more = start + limit < items.length;
    const last = more ? { LastEvaluatedKey: { Id: { S: page[page.length - 1][0] } } } : {};
    return { Items: page.map(([, item]) => item), Count: page.length, ...last };
  }

  protected dynamodb_deleteItem(p: any): unknown {
    this.ledger.delete(p.Key.Id.S);
    return {};
  }

  protected ssm_putParameter(p: any): unknown {
    this.parameters.set(p.Name, p.Value);
    return { Version: 1 };
  }

  protected sns_publish(p: any): unknown {
    this.notifications.push({ subject: p.Subject, message: p.Message });
    return { MessageId: `m-${this.notifications.length}` };
  }

  private page<T>(all: T[], token: string | undefined, requested: number | undefined, render: (x: T) => unknown,
    listKey: string, tokenKey: string): unknown {
    const start = token ? Number(token) : 0;
    const size = Math.min(requested ?? 100, this.pageSize);
    const items = all.slice(start, start + size).map(render);
    const next = start + size < all.length ? String(start + size) : undefined;
    return { [listKey]: items, ...(next ? { [tokenKey]: next } : {}) };
  }

  private fleet(name: string): FakeFleet {
    const f = this.fleets.get(name);
    if (!f) throw awsError('AutoScaling.ValidationErrorException', `AutoScalingGroup name not found - ${name}`);
    return f;
  }

  private computeByArn(arn: string): FakeCompute {
    const c = this.computes.get(arn);
    if (!c) throw awsError('Batch.ClientException', `${arn} not found`);
    return c;
  }

  private nodeGroupByArn(arn: string): FakeNodeGroup {
    const g = this.nodeGroups.get(arn);
    if (!g) throw awsError('Eks.ResourceNotFoundException', `${arn} not found`);
    return g;
  }
}

/** Every Task state of a definition (Parallel branches and Map processors included), by name. */
export function taskStates(definition: Record<string, any>): Array<[string, Record<string, any>]> {
  const out: Array<[string, Record<string, any>]> = [];
  const visit = (states: Record<string, any>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') out.push([name, state]);
      for (const branch of state.Branches ?? []) visit(branch.States);
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
      if (state.Iterator) visit(state.Iterator.States);
    }
  };
  visit(definition.States);
  return out;
}
