import { createHash } from 'crypto';
import { Check, ValidationError } from './validation';

/**
 * The one design of how a model version reaches production, shared by training, the model pipeline, promotion,
 * both serving backends, the fleet rollout state machine, the review and both engines (docs/design/served-models.md).
 *
 * Models bucket layout:
 * - `candidates/<model>/<run>/`: what a training run writes (training roles may write only their model's candidates);
 * - `served/<model>/<version>/`: promoted versions, written once by the environment's promotion role only, under
 *   Object Lock; serving reads exactly one version prefix, never the model's whole prefix.
 */
export const MODEL_ARTIFACT_LAYOUT = Object.freeze({
  /** Key prefix of every candidate of a model. */
  candidatesPrefix: (model: string): string => `candidates/${model}/`,
  /** Key prefix a training run writes its candidate to. */
  candidateRunPrefix: (model: string, run: string): string => `candidates/${model}/${run}/`,
  /** Key prefix of every promoted (served) version of a model. */
  servedPrefix: (model: string): string => `served/${model}/`,
  /** Key prefix of one promoted version: what serving reads. */
  servedVersionPrefix: (model: string, version: string): string => `served/${model}/${version}/`,
  /** The model archive inside a candidate or served prefix (SageMaker's `ModelDataUrl` convention). */
  archive: 'model.tar.gz',
  /** The root of all served prefixes (bucket-policy scope of the write-once rule). */
  servedRoot: 'served/',
  /** The root of all candidate prefixes. */
  candidatesRoot: 'candidates/',
});

/**
 * SSM Parameter Store namespace of an environment: `/mlops/<environment prefix>/...`, where the environment prefix
 * is the `MlopsPlatform` stack name prefix (`<project>-<env>` by default).
 */
export function platformParameterName(environmentPrefix: string, ...parts: string[]): string {
  return ['', 'mlops', environmentPrefix, ...parts].join('/');
}

/** SSM parameter holding a served model's state (see `ServedState`). */
export function servedStateParameterName(environmentPrefix: string, model: string): string {
  return platformParameterName(environmentPrefix, 'served', model);
}

/** One variant of a served model: the version it serves and its share of live traffic. */
export interface ServedVariantState {
  readonly variant: string;
  readonly version: string;
  /** Share of live traffic, 0-100 (shadow variants: 0). */
  readonly weight: number;
}

/**
 * What a served model serves right now: versions and traffic weights per variant, in the template's variant order.
 * The variant set is fixed by code (the rollout); versions and weights are owned by promotion and rollout state
 * machines at run time, and read by the templates at deploy time, so a later deploy never reverts them.
 *
 * Encoded as `<variant>=<version>@<weight>` entries joined by `,`, e.g. `current=v7@90,candidate=v8@10`: a format
 * CloudFormation can take apart with `Fn::Split`/`Fn::Select` and Step Functions can build with `States.Format`.
 */
export interface ServedState {
  readonly variants: readonly ServedVariantState[];
}

const VARIANT = /^[a-z][a-z0-9-]{0,30}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Largest SSM standard parameter value. */
const MAX_ENCODED_LENGTH = 4096;

/** Renders a served state as its SSM parameter value; validates it first. */
export function encodeServedState(state: ServedState, scope = 'ServedState'): string {
  checkServedState(state, scope);
  const encoded = state.variants.map((v) => `${v.variant}=${v.version}@${v.weight}`).join(',');
  if (encoded.length > MAX_ENCODED_LENGTH) {
    new Check(scope).fail('variants', state.variants.length, `encode to more than ${MAX_ENCODED_LENGTH} characters`, 'serve fewer variants or shorter version names.');
  }
  return encoded;
}

/** Parses an SSM parameter value written by `encodeServedState` (or by a state machine in the same format). */
export function parseServedState(value: string, scope = 'ServedState'): ServedState {
  const check: Check = new Check(scope);
  if (typeof value !== 'string' || value.length === 0) {
    check.fail('value', value, 'is not a served state', 'write `<variant>=<version>@<weight>` entries joined by commas, e.g. "current=v7@100".');
  }
  const variants = value.split(',').map((entry) => {
    const match = /^([^=@,]+)=([^=@,]+)@(\d{1,3})$/.exec(entry);
    if (!match) {
      check.fail('value', value, `has an entry that is not <variant>=<version>@<weight> ("${entry}")`, 'write entries like "candidate=v8@10".');
    }
    return { variant: match[1], version: match[2], weight: Number(match[3]) };
  });
  const state = { variants };
  checkServedState(state, scope);
  return state;
}

/** Validates variant names, versions and weights (whole percentages, 0-100, summing to 100). */
export function checkServedState(state: ServedState, scope = 'ServedState'): void {
  const check: Check = new Check(scope);
  if (!state || !Array.isArray(state.variants) || state.variants.length === 0) {
    check.fail('variants', state?.variants, 'must list at least one variant', 'give the served version of each variant, e.g. [{ variant: "current", version: "v7", weight: 100 }].');
  }
  const seen = new Set<string>();
  state.variants.forEach((v, i) => {
    for (const field of ['variant', 'version', 'weight'] as const) {
      if (v?.[field] === undefined) check.fail(`variants[${i}].${field}`, undefined, 'is required', `give the ${field} of every variant.`);
    }
    check.matches(`variants[${i}].variant`, v.variant, VARIANT, 'lower-case letters, digits and hyphens, starting with a letter (at most 31)');
    if (seen.has(v.variant)) check.fail(`variants[${i}].variant`, v.variant, 'is listed twice', 'list each variant once.');
    seen.add(v.variant);
    check.matches(`variants[${i}].version`, v.version, VERSION, 'a version of letters, digits, ".", "_" or "-" (at most 128 characters)');
    check.integerInRange(`variants[${i}].weight`, v.weight, 0, 100);
  });
  const total = state.variants.reduce((sum, v) => sum + v.weight, 0);
  if (total !== 100) {
    throw new ValidationError({
      scope,
      prop: 'variants[].weight',
      value: total,
      problem: 'must sum to 100 across variants',
      fix: `adjust the weights (${state.variants.map((v) => `${v.variant} ${v.weight}`).join(', ')}) so they add up to 100.`,
    });
  }
}

/** The state after traffic moved: `candidatePercent` to `candidate`, the rest to `current` (single-candidate rollouts). */
export function shiftServedState(state: ServedState, candidate: string, candidatePercent: number, scope = 'ServedState'): ServedState {
  const check: Check = new Check(scope);
  check.integerInRange('candidatePercent', candidatePercent, 0, 100);
  const others = state.variants.filter((v) => v.variant !== candidate);
  if (others.length !== 1 || others.length === state.variants.length) {
    check.fail('candidate', candidate, 'is not one of exactly two variants', 'shift traffic between the current and the candidate variant only.');
  }
  const next = { variants: state.variants.map((v) => ({ ...v, weight: v.variant === candidate ? candidatePercent : 100 - candidatePercent })) };
  checkServedState(next, scope);
  return next;
}

/**
 * Actions that change what a served URI returns: an object put, a delete (of the object or one of its versions), a
 * lock change, or a replication over it. Only `s3:PutObject` is ever allowed below `served/`, to the promotion role.
 */
export const SERVED_WRITE_ACTIONS: readonly string[] = Object.freeze([
  's3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention', 's3:ReplicateObject', 's3:ReplicateDelete',
]);

/**
 * Refuses a grant to write below `served/` of the models bucket, in every engine's grant methods: the promotion role is
 * the only writer there (the bucket policy denies every other principal, so such a grant would only fail at run time).
 */
export function checkNotServedWritePrefix(check: Check, purpose: string, keyPrefix: string, unresolved = false): void {
  if (purpose !== 'models' || unresolved || !keyPrefix.startsWith(MODEL_ARTIFACT_LAYOUT.servedRoot)) return;
  check.fail('prefix', keyPrefix, `is below '${MODEL_ARTIFACT_LAYOUT.servedRoot}', which only the promotion role writes`,
    `write candidates to '${MODEL_ARTIFACT_LAYOUT.candidatesRoot}<model>/' and promote them with ModelPromotion (the bucket policy denies every other writer).`);
}

/** Sids of the statements `servedModelsBucketPolicy` renders, for tests and reviews. */
export const SERVED_MODELS_POLICY_SIDS = Object.freeze({
  onlyPromotion: 'OnlyPromotionWritesServedModels',
  writeOnce: 'ServedModelsAreWriteOnce',
  immutable: 'ServedModelsAreNeverDeletedOrUnlocked',
});

/** Where the served-models statements apply and who is exempt, in the engine's own value type (a token or an Output). */
export interface ServedModelsPolicyInput<T> {
  /** ARN pattern of the objects below `served/` of the models bucket (`<bucket arn>/served/*`). */
  readonly servedObjectsArn: T;
  /** ARN (or ARN pattern) of the promotion role, the only principal that may create objects there. */
  readonly promotionRoleArn: T;
  /** ARN of a principal that must still empty the bucket when it is deleted (dev's auto-delete function). @default - none */
  readonly emptiesBucketArn?: T;
}

/**
 * The models bucket's policy statements that make promoted versions immutable (docs/design/served-models.md, claims 1
 * and 2), as IAM JSON both engines render: below `served/` only the promotion role creates objects, only with
 * `If-None-Match: *` (multipart parts are exempt as S3 requires, their completion is not), and nobody deletes, unlocks
 * or replicates over a served version. An identity policy cannot grant around an explicit deny.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
 */
export function servedModelsBucketPolicy<T>(input: ServedModelsPolicyInput<T>): Array<Record<string, unknown>> {
  const puts: string[] = ['s3:PutObject'];
  return [
    {
      Sid: SERVED_MODELS_POLICY_SIDS.onlyPromotion,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: puts,
      Resource: input.servedObjectsArn,
      Condition: { ArnNotLike: { 'aws:PrincipalArn': input.promotionRoleArn } },
    },
    {
      Sid: SERVED_MODELS_POLICY_SIDS.writeOnce,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: puts,
      Resource: input.servedObjectsArn,
      Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
    },
    {
      Sid: SERVED_MODELS_POLICY_SIDS.immutable,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: SERVED_WRITE_ACTIONS.filter((a) => !puts.includes(a)),
      Resource: input.servedObjectsArn,
      ...(input.emptiesBucketArn === undefined ? {} : { Condition: { ArnNotLike: { 'aws:PrincipalArn': input.emptiesBucketArn } } }),
    },
  ];
}

/**
 * The metric a fleet rollout state machine records at every step: the candidate's share of traffic (0 after a
 * rollback, 100 when rolled out), one series per model.
 */
export const FLEET_ROLLOUT_METRIC = Object.freeze({
  namespace: 'MLOps/Rollouts',
  metricName: 'CandidateTrafficPercent',
  dimension: 'Model',
});

/** Step Functions' longest state machine name. */
const MAX_STATE_MACHINE_NAME = 80;

/**
 * Name of a fleet's rollout state machine, `<environment prefix>-<model>-rollout`, so promotion can start it by a
 * name-built ARN (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`). Names longer than Step Functions'
 * 80 characters keep their start and end a hash of the whole name.
 */
export function fleetRolloutStateMachineName(environmentPrefix: string, model: string): string {
  const name = `${environmentPrefix}-${model}-rollout`;
  if (name.length <= MAX_STATE_MACHINE_NAME) return name;
  const suffix = `-${createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8)}-rollout`;
  return `${name.slice(0, MAX_STATE_MACHINE_NAME - suffix.length)}${suffix}`;
}

/**
 * An environment that promotes this environment's approved model packages (prod, for staging): its account and the
 * name of its promotion role (`ArtifactStore.promotionRoleName` there). The source environment lets that role, and
 * no other principal of that account, read its model packages and the archives below `served/` of its models bucket
 * (`MlopsPlatform.shareServedModelsWith`).
 */
export interface PromotingEnvironment {
  /** Account of the promoting environment (12 digits). */
  readonly account: string;
  /** Name of its promotion role, e.g. `prodPlatform.artifactStore.promotionRoleName`. */
  readonly promotionRoleName: string;
}

/** Checks a `PromotingEnvironment` prop (`prop` is its name in messages); deploy-time tokens are skipped by `check`. */
export function checkPromotingEnvironment(check: Check, prop: string, value: PromotingEnvironment | undefined): void {
  if (!value) check.fail(prop, value, 'is required', 'pass { account: "<12-digit account>", promotionRoleName: <that environment\'s artifactStore.promotionRoleName> }.');
  check.matches(`${prop}.account`, value.account, /^\d{12}$/, 'the promoting environment\'s 12-digit account id, e.g. "333333333333"');
  check.matches(`${prop}.promotionRoleName`, value.promotionRoleName, /^[\w+=,.@-]{1,64}$/,
    'the promoting environment\'s promotion role name (its artifactStore.promotionRoleName), at most 64 letters, digits and +=,.@_-');
}
