/**
 * Tags the MLOps rule pack (`MlopsChecks`) reads, in addition to the cost and classification tags of
 * `TAG_KEYS` (`mlops:environment`, `mlops:team`, `mlops:cost-center`, `mlops:data-classification`).
 * Constructs that create the tagged resources set them; see docs/compliance.md for the contract.
 */
export const MLOPS_CHECK_TAGS = Object.freeze({
  /** On each ArtifactStore bucket: `datasets`, `models` or `artifacts` (ArtifactPurpose). */
  purpose: 'mlops:purpose',
  /** On each SageMaker endpoint or inference Auto Scaling group: the name of the model it serves. */
  model: 'mlops:model',
  /** On IAM roles: what the role is for; `training` marks roles of training jobs and training instances. */
  role: 'mlops:role',
});

/** Value of `mlops:role` on roles that run training code. */
export const TRAINING_ROLE = 'training';
