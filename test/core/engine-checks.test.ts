import {
  brakeBudgetPipeSettings, brakeProfileOptions, Check, EnvironmentProfile, Rollout, validateFleetRolloutAlarms, validateFleetRolloutSteps,
  validateJobSubmissionGrant, validateNewAlarm, validatePersonaResources, validatePipelineApprovers, validatePipelineEndpoint, validatePipelineInputs,
  validateRolloutHealthAlarm, validateServedModelOptions, ValidationError, variantByName,
} from 'mlops-constructs';

// Checks both engines make through core (the CDK construct and the Pulumi component call the same function): each
// bad input is a ValidationError naming the prop, the value and the fix, whatever the engine.
const check = new Check('Scope');
const said = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (!ValidationError.isValidationError(e)) throw e;
    return { prop: e.prop, value: e.value, problem: e.problem, fix: e.fix };
  }
  throw new Error('no ValidationError');
};

describe('pipeline inputs', () => {
  const job = (role: string) => ({ jobDefinition: {}, jobQueue: {}, jobRole: role });
  const inputs = {
    modelName: 'fraud', registered: true, validateJob: job('v'), trainJob: job('t'), evaluateJob: job('e'), evaluateJobName: 'evaluate', evaluateJobId: 'evaluate',
  };

  test('a registered model, cluster jobs, an evaluation of its own and a key prefix pass', () => {
    expect(() => validatePipelineInputs(check, { ...inputs, holdoutPrefix: 'fraud/holdout/2026-11/' })).not.toThrow();
  });

  test('each bad input names its prop and the fix', () => {
    expect(said(() => validatePipelineInputs(check, { ...inputs, registered: false }))).toEqual({
      prop: 'modelName',
      value: 'fraud',
      problem: 'has no model package group in the registry',
      fix: "call registry.addModelPackageGroup('fraud') (or add it to MlopsPlatform 'modelFamilies') before building its pipeline.",
    });
    expect(said(() => validatePipelineInputs(check, { ...inputs, trainJob: { jobRole: 't' } }))).toMatchObject({
      prop: 'trainJob', problem: 'must be a job added to the training cluster', fix: "pass the result of trainingCluster.addJobDefinition(...) as 'trainJob'.",
    });
    expect(said(() => validatePipelineInputs(check, { ...inputs, evaluateJob: undefined })).prop).toBe('evaluateJob');
    expect(said(() => validatePipelineInputs(check, { ...inputs, evaluateJob: job('t'), evaluateJobName: 'Stack/Training/Train', evaluateJobId: 'Evaluate' }))).toEqual({
      prop: 'evaluateJob',
      value: 'Stack/Training/Train',
      problem: "runs as the training job's role (it could write the evaluation the gates read)",
      fix: "add a job definition of its own for evaluation, e.g. trainingCluster.addJobDefinition('Evaluate', ...).",
    });
    expect(said(() => validatePipelineInputs(check, { ...inputs, holdoutPrefix: 'fraud/holdout' }))).toMatchObject({
      prop: 'holdoutPrefix', value: 'fraud/holdout',
    });
  });

  test('manual approval: someone may answer and someone hears; the fix names subscriptions only where the engine takes them', () => {
    expect(said(() => validatePipelineApprovers(check, undefined))).toMatchObject({ prop: 'approvers.grantees', problem: 'must name who may approve (MANUAL approval)' });
    const withoutSubscriptions = said(() => validatePipelineApprovers(check, { grantees: ['role'] }));
    expect(withoutSubscriptions).toMatchObject({ prop: 'approvers.emails', problem: 'must reach someone (MANUAL approval: nobody is told of a request otherwise)' });
    expect(withoutSubscriptions.fix).toBe("give the approvers' addresses (approvers.emails, or MlopsPlatform's notifyEmails).");
    expect(said(() => validatePipelineApprovers(check, { grantees: ['role'], subscriptions: 0 })).fix)
      .toBe("give the approvers' addresses (approvers.emails, or MlopsPlatform's notifyEmails) or another subscription (approvers.subscriptions).");
    expect(() => validatePipelineApprovers(check, { grantees: ['role'], subscriptions: 1 })).not.toThrow();
    expect(said(() => validatePipelineApprovers(check, { grantees: ['role'], emails: ['ops'] }))).toMatchObject({ prop: 'approvers.emails', value: 'ops' });
  });

  test('an endpoint of another model, or of an inference component without the promotion, is refused with the engine\'s fix', () => {
    const endpoint = { modelName: 'fraud', endpointName: 'e', servesModel: true, hosting: 'variant' as const, promoted: false, promotionFix: "pass 'promotion'" };
    expect(() => validatePipelineEndpoint(check, endpoint)).not.toThrow();
    expect(said(() => validatePipelineEndpoint(check, { ...endpoint, servesModel: false }))).toMatchObject({
      prop: 'endpoint', value: 'e', problem: "does not serve 'fraud' (its artifacts are not below 'fraud/')",
    });
    expect(said(() => validatePipelineEndpoint(check, { ...endpoint, hosting: 'inference-component' })).fix)
      .toBe("pass 'promotion', or give the endpoint 'scaleToZeroOffHours: false'.");
    expect(() => validatePipelineEndpoint(check, { ...endpoint, hosting: 'inference-component', promoted: true })).not.toThrow();
  });
});

describe('serving, monitoring, training and governance checks', () => {
  test('FleetRollout: a rollout with steps, 1 to 100 alarms', () => {
    expect(said(() => validateFleetRolloutSteps(check, Rollout.allAtOnce()))).toMatchObject({
      prop: 'fleet', value: 'all-at-once', problem: 'has a rollout with nothing to step (all at once)',
    });
    expect(() => validateFleetRolloutSteps(check, Rollout.blueGreen())).not.toThrow();
    expect(said(() => validateFleetRolloutAlarms(check, []))).toMatchObject({ prop: 'alarms', value: 0, problem: 'must list 1 to 100 alarms' });
    expect(said(() => validateFleetRolloutAlarms(check, undefined)).value).toBeUndefined();
    expect(said(() => validateFleetRolloutAlarms(check, new Array(101).fill('a'))).value).toBe(101);
  });

  test('monitoring: a rollout health alarm watches something, once per model; one alarm per id', () => {
    expect(said(() => validateRolloutHealthAlarm(check, 'fraud', [], false))).toMatchObject({ prop: 'alarms', problem: 'must name at least one alarm' });
    expect(said(() => validateRolloutHealthAlarm(check, 'fraud', ['a'], true))).toMatchObject({
      prop: 'model', value: 'fraud', problem: 'already has a rollout health alarm',
    });
    expect(said(() => validateNewAlarm(check, 'Latency-fraud', true))).toMatchObject({ prop: 'alarm', value: 'Latency-fraud', problem: 'already exists' });
    expect(() => validateNewAlarm(check, 'Latency-fraud', false)).not.toThrow();
  });

  test('training: submission of a known team, after job definitions exist, the fix naming the engine\'s method', () => {
    expect(said(() => validateJobSubmissionGrant(check, { team: 'risk', teams: [], jobDefinitionCount: 1, grantMethod: 'grantSubmitJob()' }))).toEqual({
      prop: 'team', value: 'risk', problem: 'is not a team of the cluster', fix: 'use one of (no teams configured).',
    });
    expect(said(() => validateJobSubmissionGrant(check, { teams: ['risk'], jobDefinitionCount: 0, grantMethod: 'submitJobStatements()' })).fix)
      .toBe('call addJobDefinition() before submitJobStatements().');
  });

  test('governance: grantPersonas needs something to grant', () => {
    expect(said(() => validatePersonaResources(check, {}))).toMatchObject({ prop: 'resources', problem: 'must name at least one of artifactStore, modelRegistry, trainingImages, servingImages' });
    expect(() => validatePersonaResources(check, { artifactStore: {} })).not.toThrow();
  });

  test('variants by name: the default of an endpoint (first not shadow) and of a fleet (current, else the only one); an unknown name lists them', () => {
    const endpoint = [{ name: 'shadow', shadow: true }, { name: 'current', shadow: false }];
    expect(variantByName(check, 'endpoint', endpoint).name).toBe('current');
    expect(variantByName(check, 'fleet', [{ name: 'blue' }, { name: 'current' }]).name).toBe('current');
    expect(variantByName(check, 'fleet', [{ name: 'only' }]).name).toBe('only');
    expect(said(() => variantByName(check, 'fleet', [{ name: 'current' }, { name: 'candidate' }], 'green'))).toEqual({
      prop: 'variant', value: 'green', problem: 'is not a variant of this fleet', fix: 'use one of current, candidate.',
    });
    expect(said(() => variantByName(check, 'endpoint', endpoint, 'green')).problem).toBe('is not a variant of this endpoint');
  });

  test('platform served models: a unique name, a known backend, a shard in range where the engine shards, a team of the platform', () => {
    const context = { served: new Set(['fraud']), backends: ['fleet', 'endpoint'], teams: ['risk'] };
    const model = { name: 'churn', backend: 'fleet', team: 'risk' };
    expect(() => validateServedModelOptions({ scope: 'Scope' }, model, context)).not.toThrow();
    expect(said(() => validateServedModelOptions({ scope: 'Scope' }, { ...model, name: 'fraud' }, context))).toEqual({
      prop: 'servedModels[].name', value: 'fraud', problem: 'is served already', fix: 'give each served model a unique name.',
    });
    expect(said(() => validateServedModelOptions({ scope: 'Scope' }, { ...model, backend: 'lambda' }, context)).prop).toBe('servedModels(churn).backend');
    expect(said(() => validateServedModelOptions({ scope: 'Scope' }, { ...model, team: 'nlp' }, context))).toEqual({
      prop: 'servedModels(churn).team', value: 'nlp', problem: 'is not a team of the platform', fix: "add it to 'teams' or use one of: risk.",
    });
    // A shard is checked only where the engine shards (the CDK platform), else it is not an option.
    expect(() => validateServedModelOptions({ scope: 'Scope' }, { ...model, shard: 9 }, context)).not.toThrow();
    expect(said(() => validateServedModelOptions({ scope: 'Scope' }, { ...model, shard: 9 }, { ...context, shardCount: 8 }))).toMatchObject({
      prop: 'servedModels(churn).shard', value: 9, fix: "pin the model to a shard from 0 to 7 (this environment has 8 serving shards), or omit 'shard'.",
    });
  });
});

test('the GPU brake\'s budget pipe: one message a run, started without waiting, the input naming the trigger and the message', () => {
  expect(brakeBudgetPipeSettings('fraud-prod')).toEqual({
    sourceParameters: { sqsQueueParameters: { batchSize: 1 } },
    targetParameters: {
      stepFunctionStateMachineParameters: { invocationType: 'FIRE_AND_FORGET' },
      inputTemplate: '{"trigger": "budget", "sqsMessageId": "<$.messageId>"}',
    },
    description: 'Budget notification to the GPU brake of fraud-prod',
  });
});

test('the GPU brake keeps the profile\'s minimum, and scales fleets down to it at once only in dev', () => {
  const dev = EnvironmentProfile.dev();
  const prod = EnvironmentProfile.prod();
  expect(brakeProfileOptions(dev)).toEqual({ inferenceFloor: dev.minCapacity.inferenceInstances, scaleDownToFloor: true });
  expect(brakeProfileOptions(prod)).toEqual({ inferenceFloor: prod.minCapacity.inferenceInstances, scaleDownToFloor: false });
});
