import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  ArtifactPurpose, METRIC_CONTRACT, MODEL_ARTIFACT_LAYOUT, ModelApproval, modelPipelineCleanupPattern, modelPipelineDefinition,
  modelPipelineRunLockStatement, modelPipelineStatements, modelPipelineSubmitDeny, modelPipelineTriggerRules, NeutralStatement,
  PipelineDefinitionOptions, PipelineEndpointRollout, QualityDirection, resolveModelPipelineSpec, specCheck, SpecScope, validatePipelineApprovers,
  validatePipelineEndpoint, validatePipelineInputs, validatePipelineModelName, validatePipelineRollout, validatePipelineTriggers,
} from '../core';
import { ArtifactStore } from './artifact-store';
import {
  accountContext, attachStatements, childOptions, componentSpecScope, denyInsecureTopicStatement, logsKeyStatement, MlopsComponentArgs, policyJson,
  PolicyStatement, renderNeutralStatement, resolveProfileAndTags, rotatingKey, serviceRole, stateMachineLogsAndTracesStatement,
} from './component-support';
import { TrainingJob } from './gpu-training-cluster';
import { ModelEndpoint } from './model-endpoint';
import { ModelRegistry } from './model-registry';
import { pascalKeys } from '../core/pascal-keys';

/** What starts a retraining run (as the CDK `ModelPipelineTriggers`; each rule starts it with `{ "trigger": <what> }`). */
export interface ModelPipelineTriggers {
  /**
   * Retrain on a schedule: an EventBridge schedule expression, e.g. `'cron(0 3 ? * SUN *)'` (03:00 UTC on Sundays) or
   * `'rate(7 days)'`, checked as EventBridge reads it.
   * @default - no schedule
   */
  readonly schedule?: string;
  /**
   * Retrain when a completion marker (`NEW_DATA_MARKER`, e.g. `<model>/2026-12-01/_SUCCESS`) is created below the
   * model's dataset prefix, not on every object: a data drop of many files starts one run. Every bucket of the Pulumi
   * `ArtifactStore` sends its object events to EventBridge.
   * @default false
   */
  readonly onNewData?: boolean;
  /**
   * ARNs of the alarms (data drift, model quality) whose going into ALARM starts a run, e.g. `[driftAlarm.arn]`.
   * @default - none
   */
  readonly alarms?: pulumi.Input<string>[];
}

export interface ModelPipelineArgs extends MlopsComponentArgs {
  /** Model name: the model package group in the registry, `<modelName>/` in the datasets and models buckets. */
  readonly modelName: string;
  /** Registry holding the model package group `modelName` (add it with `addModelPackageGroup`). */
  readonly registry: ModelRegistry;
  /** Store of the datasets, the model artifacts and the step outputs (`pipelines/<modelName>/<run>/` in ARTIFACTS). */
  readonly artifactStore: ArtifactStore;
  /** Batch job validating the dataset (see the CDK `ModelPipelineProps.validateJob`). */
  readonly validateJob: TrainingJob;
  /** Batch job training the model (see the CDK `ModelPipelineProps.trainJob`). */
  readonly trainJob: TrainingJob;
  /** Batch job evaluating the candidate against production; it must run as a role of its own. */
  readonly evaluateJob: TrainingJob;
  /** Image URI the registered model package serves with. */
  readonly servingImageUri: pulumi.Input<string>;
  /**
   * The model's served state (SSM parameter `/mlops/<prefix>/served/<model>`): each run evaluates against the version
   * production serves then, and an approval finding another one there rejects the package (BaselineChanged).
   * @default - no production model
   */
  readonly servedState?: { readonly name: string; readonly arn: pulumi.Input<string> };
  /**
   * The environment's promotion state machine (`MlopsPlatform.modelPromotion.stateMachine.arn`): an approved version
   * is promoted through it (`startExecution.sync`) instead of being rolled out to `endpoint`; the pipeline may start
   * only that state machine.
   * @default - approved versions are rolled out to `endpoint`, or only approved when there is none
   */
  readonly promotionStateMachineArn?: pulumi.Input<string>;
  /**
   * Endpoint to roll approved versions out to (as the CDK `ModelPipelineProps.endpoint`): a SageMaker model and endpoint
   * configuration per run (`<model prefix>-<MD5 of the run>`, the endpoint's role, network, volume key and data capture)
   * and `UpdateEndpoint` with the endpoint's deployment guardrails and rollback alarms; a rollback or failed update
   * marks the package Rejected again and ends the run `RolledBack`. It must serve `modelName` with a rollout a pipeline
   * can drive (all at once, canary, linear, blue/green). With `promotionStateMachineArn` the promotion serves approved
   * versions instead, and the endpoint only says which version production serves (its served state, or its template version).
   * @default - no rollout (versions are registered and approved only)
   */
  readonly endpoint?: ModelEndpoint;
  /** Key prefix of a holdout set in the datasets bucket, pinned in code (training is denied reading it). @default - the manifest's */
  readonly holdoutPrefix?: string;
  /** @default 'auc' */
  readonly qualityMetric?: string;
  /** @default QualityDirection.HIGHER_IS_BETTER */
  readonly qualityDirection?: QualityDirection;
  /** @default 0 */
  readonly minImprovement?: number;
  /** @default - the profile's `alarms.fairnessGap` */
  readonly fairnessGap?: number;
  /** @default - AUTOMATIC where the profile allows destroying data (dev), MANUAL otherwise */
  readonly approval?: ModelApproval;
  /**
   * Who is asked to approve (emails subscribed to the approval topic) and who may answer (roles granted
   * `states:SendTaskSuccess`/`SendTaskFailure` on this state machine only). Required with MANUAL approval.
   * @default - none (AUTOMATIC approval only)
   */
  readonly approvers?: { readonly emails?: string[]; readonly grantees: aws.iam.Role[] };
  /** Longest a manual approval may wait, 3600 to 604800 seconds. @default 259200 (3 days) */
  readonly approvalTimeoutSeconds?: number;
  /** @default - none (started by hand, or by `{ "modelPackageArn": ... }` to promote a version) */
  readonly triggers?: ModelPipelineTriggers;
  /** Topic told of failed runs and of the failed-runs alarm. @default - a new topic on the pipeline's key */
  readonly alarmTopicArn?: pulumi.Input<string>;
  /** Key of `alarmTopicArn`, so the state machine may publish to it. @default - the topic is not encrypted with a customer managed key */
  readonly alarmTopicKeyArn?: pulumi.Input<string>;
}

/**
 * The Pulumi counterpart of the CDK `ModelPipeline`: the same state machine (core's `modelPipelineDefinition`: run
 * lock, validate, train with spot retries, evaluate against production on a holdout, quality and fairness gates,
 * registration with lineage, approval by task token or automatically in dev, baseline recheck, hand-off to the
 * promotion, failure and cleanup paths), its role with core's `modelPipelineStatements`, the approval topic, the
 * cleanup rule for stopped runs, the trigger rules (core's `modelPipelineTriggerRules`), the failed-runs alarm and the
 * jobs' grants on their step outputs. Approved versions go to the promotion (`promotionStateMachineArn`) or, without
 * one, are rolled out to `endpoint` with its deployment guardrails, as the CDK construct does.
 */
export class ModelPipeline extends pulumi.ComponentResource {
  public static readonly TYPE = 'mlops:aws:ModelPipeline';

  public readonly stateMachine: aws.sfn.StateMachine;
  public readonly role: aws.iam.Role;
  /** Topic receiving manual approval requests (with the task token). */
  public readonly approvalTopic: aws.sns.Topic;
  /** Topic told of failed runs (`alarmTopicArn`, or the pipeline's own). */
  public readonly alarmTopicArn: pulumi.Output<string>;
  public readonly failedRunsAlarm: aws.cloudwatch.MetricAlarm;
  /** Starts a cleanup run when a run is stopped or times out. */
  public readonly cleanupRule: aws.cloudwatch.EventRule;
  /** Rules starting runs (schedule, new data, alarms). */
  public readonly triggerRules: aws.cloudwatch.EventRule[] = [];
  /** Role of the rules that start runs (triggers and the cleanup rule): `states:StartExecution` on this state machine only. */
  public readonly triggerRole: aws.iam.Role;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly encryptionKey: aws.kms.Key;
  public readonly approval: ModelApproval;
  public readonly fairnessGap: number;
  /** The definition as deployed (JSON). */
  public readonly definition: pulumi.Output<string>;
  /** The role's statements from core (JSON array), as attached. */
  public readonly roleStatements: pulumi.Output<NeutralStatement[]>;

  constructor(name: string, args: ModelPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(ModelPipeline.TYPE, name);
    const check = specCheck(scope);
    validatePipelineModelName(scope, args.modelName);
    // Checks shared with the CDK ModelPipeline.
    validatePipelineInputs(check, {
      ...args,
      registered: args.registry?.modelPackageGroups?.has(args.modelName) === true,
      evaluateJobName: args.evaluateJob?.spec?.jobName,
      evaluateJobId: 'evaluate',
    });
    // (An output is checked as a deploy-time value: core skips it.)
    const spec = resolveModelPipelineSpec(scope, { ...args, servingImageUri: args.servingImageUri as string }, profile);
    const triggers = args.triggers;
    validatePipelineTriggers(scope, triggers && { schedule: triggers.schedule, onNewData: triggers.onNewData, alarmArns: triggers.alarms });
    if (args.endpoint) checkEndpoint(scope, args);
    if (spec.approval === ModelApproval.MANUAL) validatePipelineApprovers(check, args.approvers);
    super(ModelPipeline.TYPE, name, {}, opts);
    this.approval = spec.approval;
    this.fairnessGap = spec.fairnessGap;
    const awsTags = tags.toAwsTags();
    const account = accountContext(this);
    const retain = spec.retainData;

    this.encryptionKey = rotatingKey(`${name}-key`, `Model pipeline ${name} (${args.modelName})`, {
      retain,
      pendingWindowDays: profile.allowDestroy ? 7 : 30,
      tags: awsTags,
      statements: [logsKeyStatement(account), {
        Sid: 'AllowCloudWatchAlarmsToPublishEncrypted',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': account.accountId } },
      }],
    }, this);
    const topic = (id: string, displayName: string) => {
      const t = new aws.sns.Topic(`${name}-${id}`, { displayName, kmsMasterKeyId: this.encryptionKey.arn, tags: awsTags }, childOptions(this));
      new aws.sns.TopicPolicy(`${name}-${id}-policy`, { arn: t.arn, policy: policyJson({ Version: '2012-10-17', Statement: [denyInsecureTopicStatement(t.arn)] }) },
        childOptions(this));
      return t;
    };
    this.approvalTopic = topic('approval', `Approve ${args.modelName} versions (${profile.name})`);
    for (const [i, email] of (args.approvers?.emails ?? []).entries()) {
      new aws.sns.TopicSubscription(`${name}-approver-${i}`, { topic: this.approvalTopic.arn, protocol: 'email', endpoint: email }, childOptions(this));
    }
    const ownAlarmTopic = args.alarmTopicArn ? undefined : topic('alarms', `${args.modelName} pipeline failures (${profile.name})`);
    if (ownAlarmTopic) {
      for (const [i, email] of (args.approvers?.emails ?? []).entries()) {
        new aws.sns.TopicSubscription(`${name}-alarm-${i}`, { topic: ownAlarmTopic.arn, protocol: 'email', endpoint: email }, childOptions(this));
      }
    }
    this.alarmTopicArn = ownAlarmTopic ? ownAlarmTopic.arn : pulumi.output(args.alarmTopicArn!);
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, {
      kmsKeyId: this.encryptionKey.arn, retentionInDays: spec.logRetentionDays, tags: awsTags,
    }, childOptions(this, retain));

    const store = args.artifactStore;
    const job = (j: TrainingJob) => pulumi.all([j.jobDefinition.arn, j.jobQueue.arn, j.checkpointUri])
      .apply(([jobDefinitionArn, jobQueueArn, checkpointUri]) => ({ jobDefinitionArn, jobQueueArn, checkpointUri }));
    const where = pulumi.all([account.partition, account.region, account.accountId]);
    const buckets = pulumi.all([
      store.bucket(ArtifactPurpose.ARTIFACTS).bucket, store.bucket(ArtifactPurpose.MODELS).bucket, store.bucket(ArtifactPurpose.DATASETS).bucket,
      store.bucket(ArtifactPurpose.ARTIFACTS).arn,
    ]);
    const jobs = pulumi.all([job(args.validateJob), job(args.trainJob), job(args.evaluateJob)]);
    // The served state production is read from: the pipeline's, else the endpoint's (as the CDK pipeline).
    const servedState = args.servedState ?? args.endpoint?.servedStateParameter;
    const arns = pulumi.all([args.servingImageUri, this.approvalTopic.arn, this.alarmTopicArn, servedState?.arn, args.promotionStateMachineArn]);
    const endpoint = pipelineEndpoint(args.endpoint);
    const rollsOut = args.endpoint !== undefined && args.promotionStateMachineArn === undefined;
    const options: pulumi.Output<PipelineDefinitionOptions> = pulumi.all([where, buckets, jobs, arns, endpoint]).apply(([
      [partition, region, accountId], [artifacts, models, datasets, artifactsBucketArn], [validate, train, evaluate],
      [servingImageUri, approvalTopicArn, alarmTopicArn, servedStateArn, promotionArn], production,
    ]) => ({
      partition,
      region,
      account: accountId,
      spec,
      comment: `Retrains, evaluates, registers and rolls out ${args.modelName} (${profile.name})`,
      buckets: { artifacts, models, datasets },
      artifactsBucketArn,
      jobs: { validate, train, evaluate },
      servingImageUri,
      approvalTopicArn,
      alarmTopicArn,
      servedState: servedState && servedStateArn ? { parameterName: servedState.name, parameterArn: servedStateArn } : undefined,
      // Without a served state: the archive the endpoint's template serves.
      productionModelUri: servedState ? undefined : production?.modelDataUrl,
      holdoutPrefix: args.holdoutPrefix,
      // A state machine ARN ends with its name.
      promotion: promotionArn ? { stateMachineArn: promotionArn, stateMachineName: promotionArn.split(':').slice(-1)[0] } : undefined,
      // The Rollout (a class) is added here: pulumi.all would copy it into a plain object.
      endpoint: rollsOut && production ? { ...production.rollout, rollout: args.endpoint!.spec.rollout } : undefined,
    }));
    this.roleStatements = options.apply(modelPipelineStatements);

    this.role = serviceRole(`${name}-role`, {
      service: 'states.amazonaws.com',
      description: `State machine of the ${args.modelName} pipeline: its jobs, registry group, run outputs and promotion`,
      tags: awsTags,
      permissionsBoundary: args.permissionsBoundary,
    }, this);
    const keys: pulumi.Input<string>[] = [store.encryptionKey.arn, this.encryptionKey.arn, ...(args.alarmTopicKeyArn ? [args.alarmTopicKeyArn] : [])];
    const own: PolicyStatement[] = [
      // The KMS side of the run outputs it reads and of its publications to the encrypted topics.
      { Sid: 'Keys', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: keys },
      stateMachineLogsAndTracesStatement(),
      ...(rollsOut ? endpointRolloutStatements(args.endpoint!) : []),
    ];
    const rendered = pulumi.all([this.roleStatements, options]).apply(([statements, o]) => {
      const deny = modelPipelineSubmitDeny(o);
      // PolicyStatement has no NotResource; the document takes it as it is.
      const denyStatement = {
        Sid: deny.sid, Effect: deny.effect, Action: deny.actions, NotResource: deny.notResources,
      } as unknown as PolicyStatement;
      return [...statements.map(renderNeutralStatement), denyStatement];
    });
    const rolePolicy = attachStatements(`${name}-role-policy`, this.role, pulumi.all([rendered, own]).apply(([c, o]) => [...c, ...o] as PolicyStatement[]),
      this, `What the ${args.modelName} pipeline's state machine may do`, awsTags)!;

    this.definition = options.apply((o) => JSON.stringify(modelPipelineDefinition(o)));
    this.stateMachine = new aws.sfn.StateMachine(`${name}-state-machine`, {
      definition: this.definition,
      roleArn: this.role.arn,
      type: 'STANDARD',
      tracingConfiguration: { enabled: true },
      loggingConfiguration: { logDestination: pulumi.interpolate`${this.logGroup.arn}:*`, includeExecutionData: true, level: spec.logLevel },
      tags: awsTags,
    }, { ...childOptions(this), dependsOn: [rolePolicy] });
    // The run lock names the state machine: attached apart, after it exists.
    attachStatements(`${name}-run-lock`, this.role, this.stateMachine.arn.apply((arn) => [renderNeutralStatement(modelPipelineRunLockStatement(arn))]), this,
      `Run lock of the ${args.modelName} pipeline: list its own running executions`, awsTags);
    if (spec.approval === ModelApproval.MANUAL) {
      for (const [i, grantee] of (args.approvers?.grantees ?? []).entries()) {
        attachStatements(`${name}-approver-${i}-policy`, grantee, [
          { Effect: 'Allow', Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: this.stateMachine.arn },
        ], this, `Answer approval requests of the ${args.modelName} pipeline`, awsTags);
      }
    }
    this.grantJobOutputs(name, args, spec.outputPrefix, awsTags);

    // A stopped or timed-out run runs no Catch: its status change starts a cleanup run (the CleanUpOrRun branch).
    this.triggerRole = serviceRole(`${name}-trigger-role`, {
      service: 'events.amazonaws.com', description: `Starts the ${args.modelName} pipeline`, tags: awsTags, permissionsBoundary: args.permissionsBoundary,
    }, this);
    attachStatements(`${name}-trigger-role-policy`, this.triggerRole, [{ Effect: 'Allow', Action: 'states:StartExecution', Resource: this.stateMachine.arn }],
      this, `Starts the ${args.modelName} pipeline`, awsTags);
    this.cleanupRule = new aws.cloudwatch.EventRule(`${name}-cleanup`, {
      description: `Terminate the Batch jobs of a ${args.modelName} pipeline run that was stopped or timed out`,
      eventPattern: this.stateMachine.arn.apply((arn) => JSON.stringify(modelPipelineCleanupPattern(arn))),
      tags: awsTags,
    }, childOptions(this));
    new aws.cloudwatch.EventTarget(`${name}-cleanup-target`, { rule: this.cleanupRule.name, arn: this.stateMachine.arn, roleArn: this.triggerRole.arn }, childOptions(this));
    this.addTriggers(name, args, awsTags);

    const metric = (id: string, metricName: string) => ({
      id, metric: { namespace: 'AWS/States', metricName, dimensions: { StateMachineArn: this.stateMachine.arn }, period: 300, stat: 'Sum' },
    });
    this.failedRunsAlarm = new aws.cloudwatch.MetricAlarm(`${name}-failed-runs`, {
      alarmDescription: `A run of the ${args.modelName} pipeline failed, timed out or was stopped (gate outcomes such as BelowBaseline count too)`,
      metricQueries: [
        metric('failed', 'ExecutionsFailed'), metric('timedOut', 'ExecutionsTimedOut'), metric('aborted', 'ExecutionsAborted'),
        { id: 'runs', expression: 'failed + timedOut + aborted', label: 'Failed, timed-out and stopped runs', returnData: true },
      ],
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: [this.alarmTopicArn],
      tags: awsTags,
    }, childOptions(this));

    this.registerOutputs({ stateMachineArn: this.stateMachine.arn, approvalTopicArn: this.approvalTopic.arn });
  }

  /** Core's trigger rules (the CDK ModelPipeline's), each starting the state machine as the trigger role with its input. */
  private addTriggers(name: string, args: ModelPipelineArgs, tags: Record<string, string>): void {
    const triggers = args.triggers ?? {};
    const alarms = triggers.alarms ?? [];
    const options = (datasetsBucketName: string, alarmArns: string[]) => ({
      modelName: args.modelName, schedule: triggers.schedule !== undefined, onNewData: triggers.onNewData === true, datasetsBucketName, alarmArns,
    });
    // Which rules there are is known now; their patterns name the bucket and the alarms once those are known.
    const rules = modelPipelineTriggerRules(options('', alarms.map(() => '')));
    const resolved = pulumi.all([args.artifactStore.bucket(ArtifactPurpose.DATASETS).bucket, pulumi.all(alarms)])
      .apply(([bucket, alarmArns]) => modelPipelineTriggerRules(options(bucket, alarmArns)));
    for (const rule of rules) {
      const eventRule = new aws.cloudwatch.EventRule(`${name}-${rule.trigger}-trigger`, {
        description: rule.description,
        scheduleExpression: rule.trigger === 'schedule' ? triggers.schedule : undefined,
        eventPattern: rule.eventPattern
          ? resolved.apply((all) => JSON.stringify(all.find((r) => r.trigger === rule.trigger)!.eventPattern))
          : undefined,
        tags,
      }, childOptions(this));
      new aws.cloudwatch.EventTarget(`${name}-${rule.trigger}-trigger-target`, {
        rule: eventRule.name, arn: this.stateMachine.arn, roleArn: this.triggerRole.arn, input: JSON.stringify(rule.input),
      }, childOptions(this));
      this.triggerRules.push(eventRule);
    }
  }

  /**
   * Each job writes its own step outputs (no job can write another step's, so the evaluation the gates read is not
   * the training job's); training writes candidates and never reads the pinned holdout; evaluation reads candidates,
   * served versions and the holdout, and publishes to the metric contract's namespaces.
   */
  private grantJobOutputs(name: string, args: ModelPipelineArgs, outputPrefix: string, tags: Record<string, string>): void {
    const store = args.artifactStore;
    const candidates = MODEL_ARTIFACT_LAYOUT.candidatesPrefix(args.modelName);
    const served = MODEL_ARTIFACT_LAYOUT.servedPrefix(args.modelName);
    const steps: Array<[string, TrainingJob]> = [['validate', args.validateJob], ['train', args.trainJob], ['evaluate', args.evaluateJob]];
    for (const [step, job] of steps) {
      const statements: PolicyStatement[] = [...store.grantStatements('write', ArtifactPurpose.ARTIFACTS, `${outputPrefix}${step}/`)];
      if (step !== 'validate') statements.push(...store.grantStatements('read', ArtifactPurpose.ARTIFACTS, `${outputPrefix}validate/`));
      if (step === 'train') {
        statements.push(...store.grantStatements('write', ArtifactPurpose.MODELS, candidates));
        if (args.holdoutPrefix) {
          statements.push({
            Sid: 'TrainingNeverReadsTheHoldout',
            Effect: 'Deny',
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: pulumi.interpolate`${store.bucket(ArtifactPurpose.DATASETS).arn}/${args.holdoutPrefix}*`,
          });
        }
      }
      if (step === 'evaluate') {
        statements.push(
          ...store.grantStatements('read', ArtifactPurpose.MODELS, candidates),
          ...store.grantStatements('read', ArtifactPurpose.MODELS, served),
          ...(args.holdoutPrefix ? store.grantStatements('read', ArtifactPurpose.DATASETS, args.holdoutPrefix) : []),
          {
            Effect: 'Allow',
            Action: ['cloudwatch:PutMetricData'],
            Resource: '*',
            Condition: { StringEquals: { 'cloudwatch:namespace': [METRIC_CONTRACT.modelQuality.namespace, METRIC_CONTRACT.fairness.namespace] } },
          },
        );
      }
      attachStatements(`${name}-${step}-job-policy`, job.jobRole, statements, this,
        `${step} step of the ${args.modelName} pipeline: write its step outputs${step === 'train' ? ' and candidates' : ''}`, tags);
    }
  }
}

/** Rejects an endpoint the pipeline cannot roll out to, as the CDK ModelPipeline does. */
function checkEndpoint(scope: SpecScope, args: ModelPipelineArgs): void {
  const endpoint = args.endpoint!;
  // The endpoint reads its artifacts from `served/<modelName>/` of the MODELS bucket.
  validatePipelineEndpoint(specCheck(scope), {
    modelName: args.modelName,
    endpointName: endpoint.endpointName,
    servesModel: endpoint.modelName === args.modelName,
    hosting: endpoint.spec.hosting,
    promoted: args.promotionStateMachineArn !== undefined,
    promotionFix: "pass 'promotionStateMachineArn' (platform.modelPromotion: the promotion serves the version)",
  });
  validatePipelineRollout(scope, endpoint.spec.rollout);
}

/** What core's definition needs of the endpoint (its first variant's model and configuration, its guardrails), once known. */
function pipelineEndpoint(
  endpoint: ModelEndpoint | undefined,
): pulumi.Output<{ modelDataUrl?: string; rollout: Omit<PipelineEndpointRollout, 'rollout'> } | undefined> {
  if (!endpoint) return pulumi.output(undefined);
  const variant = endpoint.variants[0];
  // (An endpoint of an inference component has an aws-native configuration; the pipeline does not roll those out itself.)
  const config = endpoint.endpointConfig instanceof aws.sagemaker.EndpointConfiguration ? endpoint.endpointConfig : undefined;
  return pulumi.all([
    endpoint.role.arn, variant.model.vpcConfig, variant.model.primaryContainer, config?.kmsKeyArn, config?.dataCaptureConfig,
    endpoint.endpoint.deploymentConfig,
  ]).apply(([roleArn, vpcConfig, container, kmsKeyArn, dataCapture, deployment]) => ({
    modelDataUrl: container?.modelDataUrl,
    rollout: {
      endpointName: endpoint.endpointName,
      roleArn,
      vpcConfig: vpcConfig ? { Subnets: vpcConfig.subnets, SecurityGroupIds: vpcConfig.securityGroupIds } : undefined,
      kmsKeyId: kmsKeyArn || undefined,
      dataCaptureConfig: pascalKeys(dataCapture),
      variantName: variant.name,
      instanceType: endpoint.spec.instance.instanceType,
      initialInstanceCount: Math.max(endpoint.spec.minCapacity, 1),
      rollbackAlarmNames: (deployment?.autoRollbackConfiguration?.alarms ?? []).map((a) => a.alarmName),
    },
  }));
}

/**
 * The rollout's grants beyond core's statements (as the CDK pipeline grants them): pass the endpoint's role to the
 * models it creates, and let SageMaker create grants on the endpoint's key for the volumes of the instances it launches
 * (grants for AWS resources only, never one the role could hand to a principal of its choice).
 */
function endpointRolloutStatements(endpoint: ModelEndpoint): PolicyStatement[] {
  return [
    { Sid: 'PassTheEndpointRole', Effect: 'Allow', Action: 'iam:PassRole', Resource: endpoint.role.arn },
    {
      Sid: 'EndpointKeyGrantsForAwsResources',
      Effect: 'Allow',
      Action: 'kms:CreateGrant',
      Resource: endpoint.encryptionKeyArn,
      Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    },
    { Sid: 'DescribeTheEndpointKey', Effect: 'Allow', Action: 'kms:DescribeKey', Resource: endpoint.encryptionKeyArn },
  ];
}
