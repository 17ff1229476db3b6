import { METRIC_CONTRACT } from './metrics';
import { EndpointHosting } from './model-endpoint-spec';
import { QualityDirection } from './monitoring-spec';
import { validateIdentifier } from './naming';
import { EnvironmentProfile } from './profiles';
import { Rollout, RolloutKind } from './rollout';
import { SpecScope, specCheck, specUnresolved } from './spec-scope';
import { Check } from './validation';

/** How a registered model version is approved before it is rolled out. */
export enum ModelApproval {
  /** A person approves: the pipeline publishes a task token to the approval topic and waits for the callback. */
  MANUAL = 'manual',
  /** The pipeline approves every version that passed evaluation and the fairness check (dev only). */
  AUTOMATIC = 'automatic',
}

/**
 * The errors a run can fail with (and `succeeded`, `cleanedUp`: the states it can succeed in), for alarms and tests.
 * Gate outcomes (`anotherRunActive`, `belowBaseline`, `biasAboveThreshold`, a `rejected` answer) end the run at once;
 * every other failure stops the run's Batch jobs, notifies the pipeline's alarm topic and fails with its error.
 */
export const MODEL_PIPELINE_OUTCOMES = Object.freeze({
  anotherRunActive: 'AnotherRunActive',
  dataInvalid: 'DataValidationFailed',
  trainingFailed: 'TrainingFailed',
  evaluationFailed: 'EvaluationFailed',
  evaluationIncomplete: 'EvaluationIncomplete',
  belowBaseline: 'BelowBaseline',
  biasAboveThreshold: 'BiasAboveThreshold',
  rejected: 'Rejected',
  /** Production serves another version than the one the run evaluated against by the time it was approved: retrain. */
  baselineChanged: 'BaselineChanged',
  notRegistered: 'ModelVersionNotRegistered',
  /** The endpoint (or the promotion) rolled the version back; the package is marked Rejected again. */
  rolledBack: 'RolledBack',
  /** The endpoint ended the update in a state it does not serve from (`UpdateRollbackFailed`, `OutOfService`, `Deleting`). */
  rolloutFailed: 'RolloutFailed',
  /** The endpoint update did not finish within the rollout's time (its steps, bake and termination wait, plus an hour). */
  rolloutTimedOut: 'RolloutTimedOut',
  /** Any other failed step (its error and cause are in the notification and the execution's cause). */
  failed: 'RunFailed',
  succeeded: 'Succeeded',
  /** A cleanup run (started by the pipeline's rule when a run was stopped or timed out) terminated that run's jobs. */
  cleanedUp: 'CleanedUp',
});

/** Spot reclamations a training step retries before the run fails. */
export const MODEL_PIPELINE_SPOT_RETRIES = 3;

/** Rollouts a pipeline can drive on an endpoint (A/B tests and shadows are deployed by the environment pipeline). */
export const MODEL_PIPELINE_ROLLOUTS: readonly RolloutKind[] = Object.freeze([
  RolloutKind.ALL_AT_ONCE, RolloutKind.CANARY, RolloutKind.LINEAR, RolloutKind.BLUE_GREEN,
]);

/** Engine-neutral retraining pipeline input. */
export interface ModelPipelineSpecInput {
  readonly modelName: string;
  readonly servingImageUri: string;
  readonly qualityMetric?: string;
  readonly qualityDirection?: QualityDirection;
  readonly minImprovement?: number;
  readonly fairnessGap?: number;
  readonly approval?: ModelApproval;
  readonly approvalTimeoutSeconds?: number;
}

/** The settings every engine renders for a retraining pipeline. */
export interface ModelPipelineSpec {
  readonly modelName: string;
  readonly qualityMetric: string;
  readonly higherIsBetter: boolean;
  readonly minImprovement: number;
  readonly fairnessGap: number;
  readonly approval: ModelApproval;
  readonly approvalTimeoutSeconds: number;
  /** `pipelines/<model>/` in the artifacts bucket: each run writes below `<prefix><execution name>/`. */
  readonly outputPrefix: string;
  /** The state machine logs every state with its data, is traced, and stops a run after 14 days. */
  readonly logLevel: 'ALL';
  readonly tracing: true;
  readonly timeoutSeconds: number;
  readonly logRetentionDays: number;
  readonly retainData: boolean;
  /** Environment of the evaluation job besides the run's outputs. */
  readonly evaluationEnvironment: Readonly<Record<string, string>>;
}

/** Validates the model name of a pipeline (checked before the engine looks up its model package group). */
export function validatePipelineModelName(scope: SpecScope, modelName: string): void {
  validateIdentifier(scope.scope, 'modelName', modelName, 40);
}

/** A pipeline's inputs as every engine has them, for the checks made before anything is built. */
export interface PipelineInputs {
  readonly modelName: string;
  /** Whether the registry has a model package group named `modelName`. */
  readonly registered: boolean;
  /** The jobs as given: each must be a job of the training cluster (a job definition, its queue and its role). */
  readonly validateJob: unknown;
  readonly trainJob: unknown;
  readonly evaluateJob: unknown;
  /** How the error names the evaluation job (its job definition's construct path, its job name). */
  readonly evaluateJobName: string | undefined;
  /** The id the fix gives a job definition of its own for evaluation (each engine's naming: `Evaluate`, `evaluate`). */
  readonly evaluateJobId: string;
  readonly holdoutPrefix?: string;
}

/**
 * Checks what a pipeline is built from, for every engine: the model is registered, the jobs are the training
 * cluster's, the evaluation runs as a role of its own (the gates read what it writes: the training job must not be
 * able to write it), the holdout is a key prefix.
 */
export function validatePipelineInputs(check: Check, input: PipelineInputs): void {
  if (!input.registered) {
    check.fail('modelName', input.modelName, 'has no model package group in the registry',
      `call registry.addModelPackageGroup('${input.modelName}') (or add it to MlopsPlatform 'modelFamilies') before building its pipeline.`);
  }
  const jobs = { validateJob: input.validateJob, trainJob: input.trainJob, evaluateJob: input.evaluateJob };
  for (const [prop, job] of Object.entries(jobs)) {
    const given = job as { jobDefinition?: unknown; jobQueue?: unknown } | undefined;
    if (!given?.jobDefinition || !given.jobQueue) {
      check.fail(prop, job, 'must be a job added to the training cluster', `pass the result of trainingCluster.addJobDefinition(...) as '${prop}'.`);
    }
  }
  const roleOf = (job: unknown) => (job as { jobRole?: unknown }).jobRole;
  if (roleOf(input.evaluateJob) === roleOf(input.trainJob)) {
    check.fail('evaluateJob', input.evaluateJobName, 'runs as the training job\'s role (it could write the evaluation the gates read)',
      `add a job definition of its own for evaluation, e.g. trainingCluster.addJobDefinition('${input.evaluateJobId}', ...).`);
  }
  if (input.holdoutPrefix !== undefined) {
    check.matches('holdoutPrefix', input.holdoutPrefix, /^[A-Za-z0-9][A-Za-z0-9_.\-/]*\/$/, 'a key prefix of the datasets bucket ending with "/", e.g. "fraud/holdout/2026-11/"');
  }
}

/** Who is asked to approve and who may answer, as every engine has them. */
export interface PipelineApproversInput {
  readonly grantees?: readonly unknown[];
  readonly emails?: readonly string[];
  /**
   * How many other subscriptions of the approval topic there are.
   * @default - the engine takes none (the fix names only emails)
   */
  readonly subscriptions?: number;
}

/** With MANUAL approval: someone may answer, and someone hears of each request. */
export function validatePipelineApprovers(check: Check, approvers: PipelineApproversInput | undefined): void {
  if ((approvers?.grantees ?? []).length === 0) {
    check.fail('approvers.grantees', approvers?.grantees, 'must name who may approve (MANUAL approval)',
      'pass the role of the people who approve, e.g. approvers: { grantees: [governance.mlEngineer], emails: [...] }.');
  }
  if ((approvers?.emails ?? []).length === 0 && (approvers?.subscriptions ?? 0) === 0) {
    check.fail('approvers.emails', approvers?.emails, 'must reach someone (MANUAL approval: nobody is told of a request otherwise)',
      "give the approvers' addresses (approvers.emails, or MlopsPlatform's notifyEmails)"
      + (approvers?.subscriptions !== undefined ? ' or another subscription (approvers.subscriptions).' : '.'));
  }
  for (const email of approvers?.emails ?? []) check.matches('approvers.emails', email, /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an email address');
}

/** The endpoint a pipeline rolls out to, as every engine has it. */
export interface PipelineEndpointInput {
  readonly modelName: string;
  readonly endpointName: unknown;
  /** Whether the endpoint's artifacts are the model's (`<modelName>/` of the MODELS bucket). */
  readonly servesModel: boolean;
  readonly hosting: EndpointHosting;
  /** Whether the pipeline hands approved versions to the promotion instead of updating the endpoint. */
  readonly promoted: boolean;
  /** How to pass the promotion on this engine (the first half of the fix when the endpoint hosts an inference component). */
  readonly promotionFix: string;
}

/** Rejects an endpoint the pipeline cannot roll out to (the rollout itself: `validatePipelineRollout`). */
export function validatePipelineEndpoint(check: Check, endpoint: PipelineEndpointInput): void {
  const { modelName } = endpoint;
  if (!endpoint.servesModel) {
    check.fail('endpoint', endpoint.endpointName, `does not serve '${modelName}' (its artifacts are not below '${modelName}/')`,
      `roll '${modelName}' out to an endpoint with modelName '${modelName}', or build a pipeline for the endpoint's model.`);
  }
  if (endpoint.hosting === 'inference-component' && !endpoint.promoted) {
    // Its variant names no model: a configuration with the new model on the variant would not update the component.
    check.fail('endpoint', endpoint.endpointName, 'scales to zero off hours (its model is an inference component), which the pipeline cannot update in place',
      `${endpoint.promotionFix}, or give the endpoint 'scaleToZeroOffHours: false'.`);
  }
}

/**
 * Validates a retraining pipeline's options and resolves its defaults from the profile, for every engine:
 * automatic approval only where the profile allows destroying data (dev), the fairness gate at the profile's gap.
 */
export function resolveModelPipelineSpec(scope: SpecScope, input: ModelPipelineSpecInput, profile: EnvironmentProfile): ModelPipelineSpec {
  const check = specCheck(scope);
  if (!specUnresolved(scope, input.servingImageUri) && (typeof input.servingImageUri !== 'string' || input.servingImageUri === '')) {
    check.fail('servingImageUri', input.servingImageUri, 'is required', 'pass the serving image, e.g. servingImages.imageUri(tag).');
  }
  check.numberInRange('minImprovement', input.minImprovement, 0, 1);
  const fairnessGap = check.numberInRange('fairnessGap', input.fairnessGap, 0.001, 1,
    "set 'fairnessGap' to a gap from 0.001 to 1 (0.1 allows a 10-point difference between groups).") ?? profile.alarms.fairnessGap;
  check.matches('qualityMetric', input.qualityMetric, /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a metric name of letters, digits, _ . -');
  const approval = check.oneOf('approval', input.approval, Object.values(ModelApproval))
    ?? (profile.allowDestroy ? ModelApproval.AUTOMATIC : ModelApproval.MANUAL);
  if (approval === ModelApproval.AUTOMATIC && !profile.allowDestroy) {
    check.fail('approval', approval, `is not allowed in the '${profile.name}' profile`,
      'use ModelApproval.MANUAL outside dev: a person approves what serves protected traffic.');
  }
  const approvalTimeoutSeconds = input.approvalTimeoutSeconds ?? 3 * 24 * 3600;
  check.integerInRange('approvalTimeout', approvalTimeoutSeconds, 3600, 7 * 24 * 3600, 'give a duration from Duration.hours(1) to Duration.days(7).');
  const qualityMetric = input.qualityMetric ?? 'auc';
  const higherIsBetter = (input.qualityDirection ?? QualityDirection.HIGHER_IS_BETTER) === QualityDirection.HIGHER_IS_BETTER;
  const minImprovement = input.minImprovement ?? 0;
  return {
    modelName: input.modelName,
    qualityMetric,
    higherIsBetter,
    minImprovement,
    fairnessGap,
    approval,
    approvalTimeoutSeconds,
    outputPrefix: `pipelines/${input.modelName}/`,
    logLevel: 'ALL',
    tracing: true,
    timeoutSeconds: 14 * 24 * 3600,
    logRetentionDays: profile.logRetentionDays,
    retainData: profile.retainsData,
    evaluationEnvironment: {
      QUALITY_METRIC: qualityMetric,
      HIGHER_IS_BETTER: String(higherIsBetter),
      MIN_IMPROVEMENT: String(minImprovement),
      METRICS_NAMESPACE: METRIC_CONTRACT.modelQuality.namespace,
      FAIRNESS_NAMESPACE: METRIC_CONTRACT.fairness.namespace,
    },
  };
}

/** Rejects an endpoint rollout a pipeline cannot drive. */
export function validatePipelineRollout(scope: SpecScope, rollout: Rollout): void {
  rollout.assertSupportedBy(scope.scope, 'endpoint.rollout', 'ModelPipeline', MODEL_PIPELINE_ROLLOUTS,
    'serve A/B tests and shadows with ModelEndpoint variants deployed by the environment pipeline');
}
