import { acceleratedEc2Patterns, acceleratedSageMakerPatterns, DENY_GPU_RULES } from './cost-guard-spec';
import { BRAKE, GPU_GROWTH_ACTIONS, gpuGrowthActions } from './governance-spec';
import { EnvironmentProfile } from './profiles';
import { TAG_KEYS } from './tags';

/**
 * The budget brake's two state machines (Amazon States Language, JSONPath, AWS SDK integrations only), engine-neutral:
 * each engine renders the ARNs and names and deploys the definitions as they are, and the tests execute the same
 * definitions offline. Values may be deploy-time tokens (strings); nothing here inspects them.
 *
 * Engage (started by the budget alert): [approval] → record `engaged` → in parallel, for everything tagged with the
 * environment: fleets' Auto Scaling groups, Batch compute environments, endpoint variants' scalable targets, EKS GPU
 * node groups, and the denied roles → notify. Each capped resource is first written to the ledger (once: a second
 * engagement never overwrites the bounds saved by the first), then tagged `mlops:brake=engaged`, then capped.
 *
 * Release (an explicit, audited start by a person): detach the deny policy, restore every ledger entry's bounds,
 * remove the tag, forget the entry, record `released`, notify.
 */
export interface BrakeDefinitionOptions {
  /** The `mlops:environment` tag value capacity is found by. */
  readonly environment: string;
  /** The `mlops:project` tag value, when the environment has one. */
  readonly project?: string;
  /** Instances a fleet or endpoint variant keeps while braked (the profile's minimum); never above the resource's own minimum outside dev. */
  readonly inferenceFloor: number;
  /**
   * Dev: also lower fleets' minimum and desired capacity to `inferenceFloor` (scale to it now); elsewhere a fleet keeps
   * its configured minimum, so production is never taken below what it promised.
   */
  readonly scaleDownToFloor: boolean;
  /** When given, the brake waits for a person to approve (task token published to `notificationTopicArn`). */
  readonly approvalTimeoutSeconds?: number;
  readonly notificationTopicArn: string;
  /** DynamoDB table (partition key `Id`, string) holding the bounds of what the brake capped. */
  readonly ledgerTableName: string;
  /** SSM String parameter recording the brake's state. */
  readonly stateParameterName: string;
  /** The deny policy attached to `deniedRoleNames`. */
  readonly denyPolicyArn: string;
  readonly deniedRoleNames: readonly string[];
  /** ARN of the release state machine, quoted in the notification. */
  readonly releaseStateMachineArn?: string;
}

/**
 * How a profile brakes, for every engine: fleets and endpoint variants keep the profile's minimum; only where the
 * profile allows destroying data (dev) are fleets scaled down to it at once.
 */
export function brakeProfileOptions(profile: EnvironmentProfile): Pick<BrakeDefinitionOptions, 'inferenceFloor' | 'scaleDownToFloor'> {
  return { inferenceFloor: profile.minCapacity.inferenceInstances, scaleDownToFloor: profile.allowDestroy };
}

/** An ASL state machine definition (a plain JSON object). */
export type AslDefinition = Record<string, any>;

const SDK = (service: string, action: string) => `arn:aws:states:::aws-sdk:${service}:${action}`;
/** Throttling and transient errors of any SDK call: retried with backoff before any catcher looks at them. */
const RETRY_TRANSIENT = [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' }];

/** Retriers that hand `errors` straight to the catchers (never retried), then retry the rest. */
function retryExcept(errors: string[]): Array<Record<string, unknown>> {
  return [{ ErrorEquals: errors, MaxAttempts: 0 }, ...RETRY_TRANSIENT];
}
const MAP_CONCURRENCY = 10;
const BRAKE_TAG = { Key: BRAKE.tagKey, Value: BRAKE.engagedValue };

type States = Record<string, Record<string, unknown>>;

function task(resource: string, parameters: Record<string, unknown>, next: string | undefined,
  extra: Record<string, unknown> = {}): Record<string, unknown> {
  const caught = (extra.Catch as Array<{ ErrorEquals: string[] }> | undefined)?.flatMap((c) => c.ErrorEquals) ?? [];
  return {
    Type: 'Task',
    Resource: resource,
    Parameters: parameters,
    ResultPath: null,
    Retry: caught.length > 0 ? retryExcept(caught) : RETRY_TRANSIENT,
    ...extra,
    ...(next ? { Next: next } : { End: true }),
  };
}

/** A ledger write that never overwrites an entry (the first engagement's bounds win); on a second engagement it is skipped. */
function record(table: string, item: Record<string, unknown>, next: string): Record<string, unknown> {
  return {
    Type: 'Task',
    Resource: SDK('dynamodb', 'putItem'),
    Parameters: { TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(Id)' },
    ResultPath: null,
    Retry: retryExcept(['DynamoDb.ConditionalCheckFailedException']),
    Catch: [{ ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'], ResultPath: null, Next: next }],
    Next: next,
  };
}

const S = (path: string) => ({ 'S.$': path });
const N = (path: string) => ({ 'N.$': `States.Format('{}', ${path})` });

/**
 * A paged listing: `<name>` lists the first page, `<name>More` the next ones, a Map caps each item, and a Choice loops
 * while the response carries a token. `tokenIn`/`tokenOut` are the request and response field names.
 */
function paged(name: string, resource: string, parameters: Record<string, unknown>, tokenIn: string, tokenOut: string,
  itemsPath: string, itemSelector: Record<string, unknown>, processor: { StartAt: string; States: States },
  options: { emptyToken?: boolean; onError?: string } = {}): States {
  const map = `${name}Each`;
  const more = `${name}HasMore`;
  const emptyToken = options.emptyToken ?? false;
  const Catch = options.onError ? [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: options.onError }] : undefined;
  const states: States = {
    [name]: { Type: 'Task', Resource: resource, Parameters: parameters, ResultPath: '$.page', Retry: RETRY_TRANSIENT, Catch, Next: map },
    [`${name}More`]: {
      Type: 'Task', Resource: resource, Parameters: { ...parameters, [`${tokenIn}.$`]: `$.page.${tokenOut}` }, ResultPath: '$.page', Retry: RETRY_TRANSIENT, Catch, Next: map,
    },
    [map]: {
      Type: 'Map',
      ItemsPath: itemsPath,
      ItemSelector: itemSelector,
      MaxConcurrency: MAP_CONCURRENCY,
      ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, ...processor },
      ResultPath: null,
      Catch,
      Next: more,
    },
    [more]: {
      Type: 'Choice',
      Choices: [{ Variable: `$.page.${tokenOut}`, IsPresent: true, Next: emptyToken ? `${name}TokenEmpty` : `${name}More` }],
      Default: `${name}Done`,
    },
    [`${name}Done`]: { Type: 'Pass', End: true },
  };
  if (emptyToken) {
    // The tagging API returns an empty token on its last page.
    states[`${name}TokenEmpty`] = {
      Type: 'Choice', Choices: [{ Variable: `$.page.${tokenOut}`, StringEquals: '', Next: `${name}Done` }], Default: `${name}More`,
    };
  }
  if (!Catch) {
    for (const state of Object.values(states)) delete state.Catch;
  }
  return states;
}

/** A branch's failure: the others go on; people are told what was not capped and why. */
function branchFailed(o: BrakeDefinitionOptions, name: string, what: string): States {
  return {
    [name]: notify(o.notificationTopicArn, `GPU brake of ${whereOf(o)}: ${what} not capped`,
      `States.Format('The GPU brake of ${whereOf(o)} could not cap ${what}: {} {}. Everything else was capped; fix the cause and start the brake `
      + "again (it skips what it already recorded).', $.error.Error, $.error.Cause)", undefined),
  };
}

function whereOf(o: BrakeDefinitionOptions): string {
  return o.project !== undefined ? `${o.project}/${o.environment}` : o.environment;
}

function tagFilters(o: Pick<BrakeDefinitionOptions, 'environment' | 'project'>): Array<{ Key: string; Values: string[] }> {
  const project = o.project !== undefined ? [{ Key: TAG_KEYS.project, Values: [o.project] }] : [];
  return [{ Key: TAG_KEYS.environment, Values: [o.environment] }, ...project];
}

/** A Choice chain that goes to `next` only when `tagsPath` holds every environment tag (missing tags skip). */
function ofThisEnvironment(o: BrakeDefinitionOptions, prefix: string, tagsPath: string, next: string, skip: string): States {
  const tags: Array<[string, string]> = tagFilters(o).map((t) => [t.Key, t.Values[0]]);
  const states: States = {};
  tags.forEach(([key, value], i) => {
    const path = `${tagsPath}['${key}']`;
    const here = `${prefix}${i === 0 ? '' : i + 1}`;
    const after = i === tags.length - 1 ? next : `${prefix}${i + 2}`;
    states[here] = { Type: 'Choice', Choices: [{ Variable: path, IsPresent: true, Next: `${here}Value` }], Default: skip };
    states[`${here}Value`] = { Type: 'Choice', Choices: [{ Variable: path, StringEquals: value, Next: after }], Default: skip };
  });
  return states;
}

function fleetsBranch(o: BrakeDefinitionOptions): { StartAt: string; States: States } {
  const floor = o.inferenceFloor;
  // Cap = the resource's minimum where it is above the floor (outside dev), else the floor; desired never above the cap.
  const decide: States = {
    FleetMinAboveFloor: { Type: 'Choice', Choices: [{ Variable: '$.Min', NumericGreaterThan: floor, Next: 'FleetKeepsItsMinimum' }], Default: 'FleetAtTheFloor' },
    FleetKeepsItsMinimum: {
      Type: 'Pass',
      Parameters: o.scaleDownToFloor
        ? { 'Name.$': '$.Name', 'Desired.$': '$.Desired', 'Cap': floor, 'NewMin': floor }
        : { 'Name.$': '$.Name', 'Desired.$': '$.Desired', 'Cap.$': '$.Min', 'NewMin.$': '$.Min' },
      Next: 'FleetDesiredAboveCap',
    },
    FleetAtTheFloor: { Type: 'Pass', Parameters: { 'Name.$': '$.Name', 'Desired.$': '$.Desired', 'Cap': floor, 'NewMin.$': '$.Min' }, Next: 'FleetDesiredAboveCap' },
    FleetDesiredAboveCap: { Type: 'Choice', Choices: [{ Variable: '$.Desired', NumericGreaterThanPath: '$.Cap', Next: 'CapFleetAndScaleIn' }], Default: 'CapFleet' },
    CapFleet: task(SDK('autoscaling', 'updateAutoScalingGroup'), { 'AutoScalingGroupName.$': '$.Name', 'MinSize.$': '$.NewMin', 'MaxSize.$': '$.Cap' }, undefined),
    CapFleetAndScaleIn: task(SDK('autoscaling', 'updateAutoScalingGroup'),
      { 'AutoScalingGroupName.$': '$.Name', 'MinSize.$': '$.NewMin', 'MaxSize.$': '$.Cap', 'DesiredCapacity.$': '$.Cap' }, undefined),
  };
  const processor = {
    StartAt: 'RecordFleet',
    States: {
      RecordFleet: record(o.ledgerTableName, {
        Id: { 'S.$': "States.Format('fleet/{}', $.Name)" },
        Kind: { S: 'fleet' },
        Name: S('$.Name'),
        Arn: { S: '-' },
        Cluster: { S: '-' },
        Min: N('$.Min'),
        Max: N('$.Max'),
        Desired: N('$.Desired'),
      }, 'TagFleet'),
      TagFleet: task(SDK('autoscaling', 'createOrUpdateTags'), {
        Tags: [{ 'ResourceId.$': '$.Name', 'ResourceType': 'auto-scaling-group', ...BRAKE_TAG, 'PropagateAtLaunch': false }],
      }, 'SuspendFleetSchedules'),
      SuspendFleetSchedules: task(SDK('autoscaling', 'suspendProcesses'),
        { 'AutoScalingGroupName.$': '$.Name', 'ScalingProcesses': [...BRAKE.suspendedProcesses] }, 'FleetMinAboveFloor'),
      ...decide,
    },
  };
  const filters = tagFilters(o).map((t) => ({ Name: `tag:${t.Key}`, Values: t.Values }));
  return {
    StartAt: 'ListFleets',
    States: {
      ...paged('ListFleets', SDK('autoscaling', 'describeAutoScalingGroups'), { Filters: filters, MaxRecords: 100 }, 'NextToken', 'NextToken',
        '$.page.AutoScalingGroups', {
          'Name.$': '$$.Map.Item.Value.AutoScalingGroupName',
          'Min.$': '$$.Map.Item.Value.MinSize',
          'Max.$': '$$.Map.Item.Value.MaxSize',
          'Desired.$': '$$.Map.Item.Value.DesiredCapacity',
        }, processor, { onError: 'FleetsFailed' }),
      ...branchFailed(o, 'FleetsFailed', 'fleets'),
    },
  };
}

function trainingBranch(o: BrakeDefinitionOptions): { StartAt: string; States: States } {
  const processor = {
    StartAt: 'TrainingHasCapacity',
    States: {
      TrainingHasCapacity: {
        Type: 'Choice', Choices: [{ Variable: '$.Environment.ComputeResources', IsPresent: true, Next: 'TrainingOfThisEnvironment' }], Default: 'NotThisTraining',
      },
      TrainingHasTags: { Type: 'Choice', Choices: [{ Variable: '$.Environment.Tags', IsPresent: true, Next: 'TrainingOfThisEnvironment' }], Default: 'NotThisTraining' },
      ...ofThisEnvironment(o, 'TrainingOfThisEnvironment', '$.Environment.Tags', 'RecordTraining', 'NotThisTraining'),
      NotThisTraining: { Type: 'Succeed' },
      RecordTraining: record(o.ledgerTableName, {
        Id: { 'S.$': "States.Format('training/{}', $.Environment.ComputeEnvironmentArn)" },
        Kind: { S: 'training' },
        Name: S('$.Environment.ComputeEnvironmentArn'),
        Arn: S('$.Environment.ComputeEnvironmentArn'),
        Cluster: { S: '-' },
        Min: N('$.Environment.ComputeResources.MinvCpus'),
        Max: N('$.Environment.ComputeResources.MaxvCpus'),
        Desired: { N: '0' },
      }, 'TagTraining'),
      TagTraining: task(SDK('batch', 'tagResource'), { 'ResourceArn.$': '$.Environment.ComputeEnvironmentArn', 'Tags': { [BRAKE.tagKey]: BRAKE.engagedValue } }, 'CapTraining'),
      CapTraining: task(SDK('batch', 'updateComputeEnvironment'), {
        'ComputeEnvironment.$': '$.Environment.ComputeEnvironmentArn', 'ComputeResources': { MinvCpus: 0, MaxvCpus: 0 },
      }, undefined),
    },
  };
  // The Tags check comes first: a compute environment without tags is not this environment's.
  processor.States.TrainingHasCapacity.Choices[0].Next = 'TrainingHasTags';
  return {
    StartAt: 'ListTraining',
    States: {
      ...paged('ListTraining', SDK('batch', 'describeComputeEnvironments'), { MaxResults: 100 }, 'NextToken', 'NextToken',
        '$.page.ComputeEnvironments', { 'Environment.$': '$$.Map.Item.Value' }, processor, { onError: 'TrainingFailed' }),
      ...branchFailed(o, 'TrainingFailed', 'training compute environments'),
    },
  };
}

/** Scalable targets of SageMaker capacity the brake caps: variants' instances, inference components' copies. */
const SAGEMAKER_SCALING = Object.freeze({
  variant: { dimension: 'sagemaker:variant:DesiredInstanceCount', resourceIds: "States.Array(States.Format('endpoint/{}/variant/{}', $.Name, $.Variant))" },
  component: { dimension: 'sagemaker:inference-component:DesiredCopyCount', resourceIds: "States.Array(States.Format('inference-component/{}', $.Component))" },
});

/**
 * Caps one scalable target (a variant's instances or an inference component's copies) at its minimum or the floor,
 * whichever is higher, with scheduled scaling suspended; a target that does not exist (a variant whose model is an
 * inference component, which scales by copies) is left alone.
 */
function scalableTargetProcessor(o: BrakeDefinitionOptions, kind: keyof typeof SAGEMAKER_SCALING): { StartAt: string; States: States } {
  const floor = o.inferenceFloor;
  const { dimension, resourceIds } = SAGEMAKER_SCALING[kind];
  const K = kind === 'variant' ? 'Variant' : 'Component';
  return {
    StartAt: `Describe${K}Scaling`,
    States: {
      [`Describe${K}Scaling`]: {
        Type: 'Task',
        Resource: SDK('applicationautoscaling', 'describeScalableTargets'),
        Parameters: { 'ServiceNamespace': 'sagemaker', 'ScalableDimension': dimension, 'ResourceIds.$': resourceIds },
        ResultSelector: { 'Targets.$': '$.ScalableTargets' },
        ResultPath: '$.scaling',
        Retry: RETRY_TRANSIENT,
        Next: `${K}Scales`,
      },
      [`${K}Scales`]: { Type: 'Choice', Choices: [{ Variable: '$.scaling.Targets[0]', IsPresent: true, Next: `${K}Bounds` }], Default: `${K}NotScaled` },
      [`${K}NotScaled`]: { Type: 'Succeed' },
      [`${K}Bounds`]: {
        Type: 'Pass',
        Parameters: {
          'Arn.$': '$.Arn', 'ResourceId.$': '$.scaling.Targets[0].ResourceId', 'Min.$': '$.scaling.Targets[0].MinCapacity', 'Max.$': '$.scaling.Targets[0].MaxCapacity',
        },
        Next: `Record${K}`,
      },
      [`Record${K}`]: record(o.ledgerTableName, {
        Id: { 'S.$': '$.ResourceId' },
        Kind: { S: kind },
        Name: S('$.ResourceId'),
        Arn: S('$.Arn'),
        Cluster: { S: '-' },
        Min: N('$.Min'),
        Max: N('$.Max'),
        Desired: N('$.Min'),
      }, kind === 'component' ? 'TagComponent' : `${K}MinAboveFloor`),
      // A component is tagged (after it is recorded, so the release removes the tag) for the boundary to protect it.
      ...(kind === 'component'
        ? { TagComponent: task(SDK('sagemaker', 'addTags'), { 'ResourceArn.$': '$.Arn', 'Tags': [BRAKE_TAG] }, `${K}MinAboveFloor`) }
        : {}),
      [`${K}MinAboveFloor`]: { Type: 'Choice', Choices: [{ Variable: '$.Min', NumericGreaterThan: floor, Next: `Cap${K}AtItsMinimum` }], Default: `Cap${K}AtTheFloor` },
      [`Cap${K}AtItsMinimum`]: task(SDK('applicationautoscaling', 'registerScalableTarget'), {
        'ServiceNamespace': 'sagemaker',
        'ResourceId.$': '$.ResourceId',
        'ScalableDimension': dimension,
        'MaxCapacity.$': '$.Min',
        'SuspendedState': { ScheduledScalingSuspended: true, DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false },
      }, undefined),
      [`Cap${K}AtTheFloor`]: task(SDK('applicationautoscaling', 'registerScalableTarget'), {
        'ServiceNamespace': 'sagemaker',
        'ResourceId.$': '$.ResourceId',
        'ScalableDimension': dimension,
        'MaxCapacity': floor,
        'SuspendedState': { ScheduledScalingSuspended: true, DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false },
      }, undefined),
    },
  };
}

function endpointsBranch(o: BrakeDefinitionOptions): { StartAt: string; States: States } {
  const endpoint = {
    StartAt: 'RecordEndpoint',
    States: {
      // Recorded before it is tagged, so the release removes the tag even when nothing of the endpoint scales.
      RecordEndpoint: record(o.ledgerTableName, {
        Id: { 'S.$': "States.Format('endpoint/{}', $.Name)" },
        Kind: { S: 'endpoint' },
        Name: S('$.Name'),
        Arn: S('$.Arn'),
        Cluster: { S: '-' },
        Min: { N: '0' },
        Max: { N: '0' },
        Desired: { N: '0' },
      }, 'TagEndpoint'),
      TagEndpoint: task(SDK('sagemaker', 'addTags'), { 'ResourceArn.$': '$.Arn', 'Tags': [BRAKE_TAG] }, 'DescribeEndpoint'),
      DescribeEndpoint: {
        Type: 'Task',
        Resource: SDK('sagemaker', 'describeEndpoint'),
        Parameters: { 'EndpointName.$': '$.Name' },
        ResultPath: '$.endpoint',
        Retry: RETRY_TRANSIENT,
        Next: 'EndpointHasVariants',
      },
      // An endpoint still being created lists no variants yet (a path into them would fail the whole branch).
      EndpointHasVariants: {
        Type: 'Choice', Choices: [{ Variable: '$.endpoint.ProductionVariants', IsPresent: true, Next: 'CapVariants' }], Default: 'ListComponents',
      },
      CapVariants: {
        Type: 'Map',
        ItemsPath: '$.endpoint.ProductionVariants',
        ItemSelector: { 'Arn.$': '$.Arn', 'Name.$': '$.Name', 'Variant.$': '$$.Map.Item.Value.VariantName' },
        ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, ...scalableTargetProcessor(o, 'variant') },
        ResultPath: null,
        Next: 'ListComponents',
      },
      // An endpoint that scales to zero hosts inference components: their copies (and so its instances) are capped.
      ListComponents: {
        Type: 'Task',
        Resource: SDK('sagemaker', 'listInferenceComponents'),
        Parameters: { 'EndpointNameEquals.$': '$.Name', 'MaxResults': 100 },
        // The list itself, not a path into it: a path matching nothing (no components) fails the state.
        ResultSelector: { 'List.$': '$.InferenceComponents' },
        ResultPath: '$.components',
        Retry: RETRY_TRANSIENT,
        Next: 'CapComponents',
      },
      CapComponents: {
        Type: 'Map',
        ItemsPath: '$.components.List',
        ItemSelector: {
          'Arn.$': '$$.Map.Item.Value.InferenceComponentArn', 'Name.$': '$.Name', 'Component.$': '$$.Map.Item.Value.InferenceComponentName',
        },
        ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, ...scalableTargetProcessor(o, 'component') },
        ResultPath: null,
        End: true,
      },
    },
  };
  return {
    StartAt: 'ListEndpoints',
    States: {
      ...paged('ListEndpoints', SDK('resourcegroupstaggingapi', 'getResources'),
        { ResourceTypeFilters: ['sagemaker:endpoint'], TagFilters: tagFilters(o), ResourcesPerPage: 100 }, 'PaginationToken', 'PaginationToken',
        '$.page.ResourceTagMappingList', {
          'Arn.$': '$$.Map.Item.Value.ResourceARN', 'Name.$': "States.ArrayGetItem(States.StringSplit($$.Map.Item.Value.ResourceARN, '/'), 1)",
        }, endpoint, { emptyToken: true, onError: 'EndpointsFailed' }),
      ...branchFailed(o, 'EndpointsFailed', 'endpoints'),
    },
  };
}

function kubernetesBranch(o: BrakeDefinitionOptions): { StartAt: string; States: States } {
  const taint = { Key: BRAKE.eksTaint.key, Value: BRAKE.eksTaint.value, Effect: BRAKE.eksTaint.effect };
  const processor = {
    StartAt: 'DescribeNodeGroup',
    States: {
      DescribeNodeGroup: {
        Type: 'Task',
        Resource: SDK('eks', 'describeNodegroup'),
        Parameters: { 'ClusterName.$': '$.Cluster', 'NodegroupName.$': '$.NodeGroup' },
        ResultSelector: { 'Group.$': '$.Nodegroup' },
        ResultPath: '$.described',
        Retry: RETRY_TRANSIENT,
        Next: 'NodeGroupHasLabels',
      },
      NodeGroupHasLabels: { Type: 'Choice', Choices: [{ Variable: "$.described.Group.Labels['nvidia.com/gpu.present']", IsPresent: true, Next: 'NodeGroupIsGpu' }], Default: 'NotGpuNodes' },
      NodeGroupIsGpu: { Type: 'Choice', Choices: [{ Variable: "$.described.Group.Labels['nvidia.com/gpu.present']", StringEquals: 'true', Next: 'RecordNodeGroup' }], Default: 'NotGpuNodes' },
      NotGpuNodes: { Type: 'Succeed' },
      RecordNodeGroup: record(o.ledgerTableName, {
        Id: { 'S.$': "States.Format('nodegroup/{}/{}', $.Cluster, $.NodeGroup)" },
        Kind: { S: 'nodegroup' },
        Name: S('$.NodeGroup'),
        Cluster: S('$.Cluster'),
        Arn: S('$.Arn'),
        Min: N('$.described.Group.ScalingConfig.MinSize'),
        Max: N('$.described.Group.ScalingConfig.MaxSize'),
        Desired: N('$.described.Group.ScalingConfig.DesiredSize'),
      }, 'TagNodeGroup'),
      TagNodeGroup: task(SDK('eks', 'tagResource'), { 'ResourceArn.$': '$.Arn', 'Tags': { [BRAKE.tagKey]: BRAKE.engagedValue } }, 'CapNodeGroup'),
      // EKS keeps maxSize at 1 or more: the one node left is tainted so that no pod schedules on a new one.
      CapNodeGroup: task(SDK('eks', 'updateNodegroupConfig'), {
        'ClusterName.$': '$.Cluster',
        'NodegroupName.$': '$.NodeGroup',
        'ScalingConfig': { MinSize: 0, MaxSize: 1, DesiredSize: 0 },
        'Taints': { AddOrUpdateTaints: [taint] },
      }, undefined),
    },
  };
  return {
    StartAt: 'ListNodeGroups',
    States: {
      ...paged('ListNodeGroups', SDK('resourcegroupstaggingapi', 'getResources'),
        { ResourceTypeFilters: ['eks:nodegroup'], TagFilters: tagFilters(o), ResourcesPerPage: 100 }, 'PaginationToken', 'PaginationToken',
        '$.page.ResourceTagMappingList', {
          'Arn.$': '$$.Map.Item.Value.ResourceARN',
          'Cluster.$': "States.ArrayGetItem(States.StringSplit($$.Map.Item.Value.ResourceARN, '/'), 1)",
          'NodeGroup.$': "States.ArrayGetItem(States.StringSplit($$.Map.Item.Value.ResourceARN, '/'), 2)",
        }, processor, { emptyToken: true, onError: 'NodeGroupsFailed' }),
      ...branchFailed(o, 'NodeGroupsFailed', 'EKS GPU node groups'),
    },
  };
}

function rolesBranch(o: BrakeDefinitionOptions, action: 'attachRolePolicy' | 'detachRolePolicy'): { StartAt: string; States: States } {
  const step = action === 'attachRolePolicy' ? 'DenyRole' : 'AllowRole';
  return {
    StartAt: 'DeniedRoles',
    States: {
      // Not copied: an engine may pass a deploy-time list.
      DeniedRoles: { Type: 'Pass', Result: o.deniedRoleNames, ResultPath: '$.roles', Next: `${step}s` },
      [`${step}s`]: {
        Type: 'Map',
        ItemsPath: '$.roles',
        ItemSelector: { 'RoleName.$': '$$.Map.Item.Value' },
        MaxConcurrency: MAP_CONCURRENCY,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: step,
          States: {
            [step]: task(SDK('iam', action), { 'RoleName.$': '$.RoleName', 'PolicyArn': o.denyPolicyArn }, undefined, {
              // A role deleted since (or a policy already detached) is not an error of the brake.
              Catch: [{ ErrorEquals: ['Iam.NoSuchEntityException'], ResultPath: null, Next: `${step}Gone` }],
            }),
            [`${step}Gone`]: { Type: 'Succeed' },
          },
        },
        ResultPath: null,
        End: true,
      },
    },
  };
}

function notify(topicArn: string, subject: string, message: string, next: string | undefined): Record<string, unknown> {
  return task('arn:aws:states:::sns:publish', { 'TopicArn': topicArn, 'Subject': subject, 'Message.$': message }, next);
}

/** The engage state machine. */
export function brakeEngageDefinition(o: BrakeDefinitionOptions): AslDefinition {
  const where = whereOf(o);
  const states: States = {};
  if (o.approvalTimeoutSeconds !== undefined) {
    states.RequestApproval = {
      Type: 'Task',
      Resource: 'arn:aws:states:::sns:publish.waitForTaskToken',
      Parameters: {
        'TopicArn': o.notificationTopicArn,
        'Subject': `Approve the GPU brake of ${where}`,
        'Message.$': `States.Format('The budget of ${where} reached its GPU brake threshold. The brake caps fleets, endpoints, training and EKS GPU `
          + 'node groups to their minimum and denies GPU launches until released. Approve: aws stepfunctions send-task-success --task-output true '
          + "--task-token {} ; decline: aws stepfunctions send-task-failure --task-token {}', $$.Task.Token, $$.Task.Token)",
      },
      TimeoutSeconds: o.approvalTimeoutSeconds,
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.notApproved', Next: 'NotifyNotEngaged' }],
      Next: 'MarkEngaged',
    };
    states.NotifyNotEngaged = notify(o.notificationTopicArn, `GPU brake of ${where} not engaged`,
      `States.Format('The GPU brake of ${where} was declined or its approval timed out ({}); nothing was capped.', $.notApproved.Error)`, 'NotEngaged');
    states.NotEngaged = { Type: 'Succeed' };
  }
  states.MarkEngaged = task(SDK('ssm', 'putParameter'), {
    'Name': o.stateParameterName, 'Type': 'String', 'Overwrite': true, 'Value.$': "States.Format('engaged {} {}', $$.Execution.StartTime, $$.Execution.Id)",
  }, 'Brake');
  states.Brake = {
    Type: 'Parallel',
    Branches: [fleetsBranch(o), trainingBranch(o), endpointsBranch(o), kubernetesBranch(o), rolesBranch(o, 'attachRolePolicy')],
    ResultPath: null,
    Next: 'NotifyEngaged',
  };
  const release = o.releaseStateMachineArn !== undefined ? ` Release it with: aws stepfunctions start-execution --state-machine-arn ${o.releaseStateMachineArn}` : '';
  states.NotifyEngaged = notify(o.notificationTopicArn, `GPU brake of ${where} engaged`,
    `States.Format('The GPU brake of ${where} is on since {} (execution {}): fleets and endpoint variants are capped at their minimum, `
    + `training compute environments at 0 vCPUs, EKS GPU node groups at 0 nodes, scheduled scale-ups suspended, and GPU launches denied.${release}', `
    + '$$.Execution.StartTime, $$.Execution.Id)', undefined);
  return {
    Comment: `GPU budget brake of ${where}: caps GPU capacity found by the environment's tags and denies GPU launches`,
    StartAt: o.approvalTimeoutSeconds !== undefined ? 'RequestApproval' : 'MarkEngaged',
    States: states,
  };
}

/** Restores a capped scalable target's bounds and lifts the suspension of its scheduled scaling. */
function restoreScalableTarget(name: 'Variant' | 'Component', dimension: string): States {
  return {
    [`Restore${name}`]: task(SDK('applicationautoscaling', 'registerScalableTarget'), {
      'ServiceNamespace': 'sagemaker',
      'ResourceId.$': '$.Name',
      'ScalableDimension': dimension,
      'MinCapacity.$': 'States.StringToJson($.Min)',
      'MaxCapacity.$': 'States.StringToJson($.Max)',
      'SuspendedState': { ScheduledScalingSuspended: false, DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false },
    }, 'UntagSageMaker', { Catch: gone('ApplicationAutoScaling.ObjectNotFoundException', 'ApplicationAutoScaling.ValidationException') }),
  };
}

/** The release state machine. */
export function brakeReleaseDefinition(o: BrakeDefinitionOptions): AslDefinition {
  const where = whereOf(o);
  const taint = { Key: BRAKE.eksTaint.key, Value: BRAKE.eksTaint.value, Effect: BRAKE.eksTaint.effect };
  const asNumber = (path: string) => `States.StringToJson(${path})`;
  const forget = 'Forget';
  const restore: States = {
    WhichResource: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.Kind', StringEquals: 'fleet', Next: 'RestoreFleet' },
        { Variable: '$.Kind', StringEquals: 'training', Next: 'RestoreTraining' },
        { Variable: '$.Kind', StringEquals: 'variant', Next: 'RestoreVariant' },
        { Variable: '$.Kind', StringEquals: 'component', Next: 'RestoreComponent' },
        { Variable: '$.Kind', StringEquals: 'endpoint', Next: 'UntagSageMaker' },
        { Variable: '$.Kind', StringEquals: 'nodegroup', Next: 'RestoreNodeGroup' },
      ],
      Default: forget,
    },
    RestoreFleet: task(SDK('autoscaling', 'updateAutoScalingGroup'), {
      'AutoScalingGroupName.$': '$.Name', 'MinSize.$': asNumber('$.Min'), 'MaxSize.$': asNumber('$.Max'),
    }, 'ResumeFleetSchedules', { Catch: gone('AutoScaling.ValidationErrorException') }),
    ResumeFleetSchedules: task(SDK('autoscaling', 'resumeProcesses'), { 'AutoScalingGroupName.$': '$.Name', 'ScalingProcesses': [...BRAKE.suspendedProcesses] }, 'UntagFleet'),
    UntagFleet: task(SDK('autoscaling', 'deleteTags'), { Tags: [{ 'ResourceId.$': '$.Name', 'ResourceType': 'auto-scaling-group', 'Key': BRAKE.tagKey }] }, forget),
    RestoreTraining: task(SDK('batch', 'updateComputeEnvironment'), {
      'ComputeEnvironment.$': '$.Name', 'ComputeResources': { 'MinvCpus.$': asNumber('$.Min'), 'MaxvCpus.$': asNumber('$.Max') },
    }, 'UntagTraining', { Catch: gone('Batch.ClientException') }),
    UntagTraining: task(SDK('batch', 'untagResource'), { 'ResourceArn.$': '$.Name', 'TagKeys': [BRAKE.tagKey] }, forget),
    ...restoreScalableTarget('Variant', SAGEMAKER_SCALING.variant.dimension),
    ...restoreScalableTarget('Component', SAGEMAKER_SCALING.component.dimension),
    // The endpoint (or inference component) the entry names; one deleted since has no tag to remove.
    UntagSageMaker: task(SDK('sagemaker', 'deleteTags'), { 'ResourceArn.$': '$.Arn', 'TagKeys': [BRAKE.tagKey] }, forget, { Catch: gone('SageMaker.ValidationException') }),
    RestoreNodeGroup: task(SDK('eks', 'updateNodegroupConfig'), {
      'ClusterName.$': '$.Cluster',
      'NodegroupName.$': '$.Name',
      'ScalingConfig': { 'MinSize.$': asNumber('$.Min'), 'MaxSize.$': asNumber('$.Max'), 'DesiredSize.$': asNumber('$.Desired') },
      'Taints': { RemoveTaints: [taint] },
    }, 'UntagNodeGroup', { Catch: gone('Eks.ResourceNotFoundException') }),
    UntagNodeGroup: task(SDK('eks', 'untagResource'), { 'ResourceArn.$': '$.Arn', 'TagKeys': [BRAKE.tagKey] }, forget),
    [forget]: task(SDK('dynamodb', 'deleteItem'), { TableName: o.ledgerTableName, Key: { Id: { 'S.$': '$.Id' } } }, undefined),
  };
  const item = (field: string) => `$$.Map.Item.Value.${field}`;
  const ledger = {
    StartAt: 'ScanLedger',
    States: paged('ScanLedger', SDK('dynamodb', 'scan'), { TableName: o.ledgerTableName, Limit: 100 }, 'ExclusiveStartKey', 'LastEvaluatedKey',
      '$.page.Items', {
        // Every entry has every field ('-' or 0 where a kind has none).
        'Id.$': item('Id.S'),
        'Kind.$': item('Kind.S'),
        'Name.$': item('Name.S'),
        'Arn.$': item('Arn.S'),
        'Cluster.$': item('Cluster.S'),
        'Min.$': item('Min.N'),
        'Max.$': item('Max.N'),
        'Desired.$': item('Desired.N'),
      }, { StartAt: 'WhichResource', States: restore }, { onError: 'RestoreFailed' }),
  };
  ledger.States = {
    ...ledger.States,
    ...{
      RestoreFailed: notify(o.notificationTopicArn, `GPU brake of ${whereOf(o)}: not fully released`,
        `States.Format('Restoring what the GPU brake of ${whereOf(o)} capped failed: {} {}. What was not restored stays in the ledger; start the release `
      + "again.', $.error.Error, $.error.Cause)", undefined),
    },
  };
  return {
    Comment: `Releases the GPU budget brake of ${where}: restores what the brake capped and lifts the deny`,
    StartAt: 'Release',
    States: {
      Release: { Type: 'Parallel', Branches: [rolesBranch(o, 'detachRolePolicy'), ledger], ResultPath: null, Next: 'MarkReleased' },
      MarkReleased: task(SDK('ssm', 'putParameter'), {
        'Name': o.stateParameterName, 'Type': 'String', 'Overwrite': true, 'Value.$': "States.Format('released {} {}', $$.Execution.StartTime, $$.Execution.Id)",
      }, 'NotifyReleased'),
      NotifyReleased: notify(o.notificationTopicArn, `GPU brake of ${where} released`,
        `States.Format('The GPU brake of ${where} was released at {} (execution {}): capacity bounds are restored and GPU launches allowed again.', `
        + '$$.Execution.StartTime, $$.Execution.Id)', undefined),
    },
  };
}

/** Catchers that treat a resource deleted since the brake as restored (its ledger entry is forgotten). */
function gone(...errors: string[]): Array<Record<string, unknown>> {
  return [{ ErrorEquals: errors, ResultPath: null, Next: 'Forget' }];
}

/**
 * The EventBridge Pipe from the budget notification queue to the engage state machine, as every engine creates it: one
 * message a run, started without waiting, the run's input naming the trigger and the message (the engage definition's
 * approval and idempotency read it).
 */
export function brakeBudgetPipeSettings(environmentPrefix: string) {
  return {
    sourceParameters: { sqsQueueParameters: { batchSize: 1 } },
    targetParameters: {
      stepFunctionStateMachineParameters: { invocationType: 'FIRE_AND_FORGET' },
      inputTemplate: '{"trigger": "budget", "sqsMessageId": "<$.messageId>"}',
    },
    description: `Budget notification to the GPU brake of ${environmentPrefix}`,
  };
}

/** The growth actions the deny policy lists (for engines rendering it). */
export function brakeDeniedActions(): string[] {
  return Object.values(GPU_GROWTH_ACTIONS).flatMap((a) => [...a]);
}

/** Where a brake is deployed and what it acts on, as each engine renders it (values may be deploy-time tokens). */
export interface BrakeControllerContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** The `mlops:environment` tag value the brake acts on. */
  readonly environment: string;
  /** The `mlops:project` tag value, when the environment has one. */
  readonly project?: string;
  /** The deny policy the brake attaches and detaches (and no other). */
  readonly denyPolicyArn: string;
  /** The SSM parameter recording the brake's state. */
  readonly stateParameterArn: string;
  /** The topic told about approvals, engagements, releases and failures. */
  readonly notificationTopicArn: string;
}

/** An IAM statement, engine-neutral: each engine renders it in its own form (CDK `iam.PolicyStatement`, Pulumi policy JSON). */
export interface NeutralStatement {
  readonly sid: string;
  readonly effect: 'Allow' | 'Deny';
  readonly actions: string[];
  readonly resources: string[];
  readonly conditions?: Record<string, Record<string, unknown>>;
}

function brakeArn(c: Pick<BrakeControllerContext, 'partition' | 'region' | 'account'>, service: string, resource: string, region = c.region): string {
  return `arn:${c.partition}:${service}:${region}:${c.account}:${resource}`;
}

/**
 * What the brake's own role may do (beyond its ledger, its keys and its state machines' logs and traces, which each
 * engine grants on its own resources): find the environment's capacity, cap and restore only what is tagged with the
 * environment, attach and detach only the deny policy, record its state, notify. The SDK actions of every Task of
 * `brakeEngageDefinition` and `brakeReleaseDefinition` are among these (the tests of both engines check it).
 */
export function brakeControllerStatements(c: BrakeControllerContext): NeutralStatement[] {
  // The same tags the definitions find capacity by.
  const taggedHere = { StringEquals: Object.fromEntries(tagFilters(c).map((t) => [`aws:ResourceTag/${t.Key}`, t.Values[0]])) };
  const endpoints = brakeArn(c, 'sagemaker', 'endpoint/*');
  const nodeGroups = brakeArn(c, 'eks', 'nodegroup/*');
  return [
    {
      sid: 'FindCapacity',
      effect: 'Allow',
      actions: [
        'autoscaling:DescribeAutoScalingGroups', 'batch:DescribeComputeEnvironments', 'tag:GetResources', 'application-autoscaling:DescribeScalableTargets',
        'sagemaker:ListInferenceComponents',
      ],
      resources: ['*'],
    },
    { sid: 'DescribeEndpointsAndNodeGroups', effect: 'Allow', actions: ['sagemaker:DescribeEndpoint', 'eks:DescribeNodegroup'], resources: [endpoints, nodeGroups] },
    {
      sid: 'CapAndRestoreCapacityOfThisEnvironment',
      effect: 'Allow',
      actions: [
        'autoscaling:UpdateAutoScalingGroup', 'autoscaling:SuspendProcesses', 'autoscaling:ResumeProcesses', 'autoscaling:CreateOrUpdateTags',
        'autoscaling:DeleteTags', 'batch:UpdateComputeEnvironment', 'batch:TagResource', 'batch:UntagResource', 'sagemaker:AddTags',
        'sagemaker:DeleteTags', 'eks:UpdateNodegroupConfig', 'eks:TagResource', 'eks:UntagResource',
      ],
      resources: [
        brakeArn(c, 'autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*'), brakeArn(c, 'batch', 'compute-environment/*'), endpoints,
        brakeArn(c, 'sagemaker', 'inference-component/*'), nodeGroups,
      ],
      conditions: taggedHere,
    },
    { sid: 'CapAndRestoreEndpointScaling', effect: 'Allow', actions: ['application-autoscaling:RegisterScalableTarget'], resources: [brakeArn(c, 'application-autoscaling', 'scalable-target/*')] },
    {
      // Application Auto Scaling lets a caller register a SageMaker target only if it may describe and resize it itself.
      sid: 'ResizeEndpointCapacityOfThisEnvironment',
      effect: 'Allow',
      actions: [
        'sagemaker:DescribeEndpointConfig', 'sagemaker:DescribeInferenceComponent', 'sagemaker:UpdateEndpointWeightsAndCapacities',
        'sagemaker:UpdateInferenceComponentRuntimeConfig',
      ],
      resources: [endpoints, brakeArn(c, 'sagemaker', 'endpoint-config/*'), brakeArn(c, 'sagemaker', 'inference-component/*')],
      conditions: taggedHere,
    },
    {
      sid: 'AttachAndDetachTheDenyPolicy',
      effect: 'Allow',
      actions: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
      resources: [brakeArn(c, 'iam', 'role/*', '')],
      conditions: { ArnEquals: { 'iam:PolicyARN': c.denyPolicyArn } },
    },
    { sid: 'RecordState', effect: 'Allow', actions: ['ssm:PutParameter'], resources: [c.stateParameterArn] },
    { sid: 'Notify', effect: 'Allow', actions: ['sns:Publish'], resources: [c.notificationTopicArn] },
  ];
}

/** The deny policy's statements: every growth action, and accelerated EC2 and SageMaker launches. */
export function brakeDenyStatements(c: Pick<BrakeControllerContext, 'partition' | 'region' | 'account'>): NeutralStatement[] {
  const { ec2, sageMaker } = DENY_GPU_RULES;
  return [
    { sid: 'DenyGpuGrowth', effect: 'Deny', actions: gpuGrowthActions(), resources: ['*'] },
    {
      sid: ec2.sid,
      effect: 'Deny',
      actions: [...ec2.actions],
      resources: [brakeArn(c, 'ec2', 'instance/*')],
      conditions: { [ec2.operator]: { [ec2.conditionKey]: acceleratedEc2Patterns() } },
    },
    {
      sid: sageMaker.sid,
      effect: 'Deny',
      actions: [...sageMaker.actions],
      resources: [brakeArn(c, 'sagemaker', '*')],
      conditions: { [sageMaker.operator]: { [sageMaker.conditionKey]: acceleratedSageMakerPatterns() } },
    },
  ];
}
