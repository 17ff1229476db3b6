import { EnvironmentProfile } from './profiles';
import { SpecScope, specCheck } from './spec-scope';
import { Check } from './validation';

/**
 * ECR repository names: 2-256 lower-case letters and digits in `/`-separated parts joined by single `.`, `_` or `-`.
 * @see https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html#ECR-CreateRepository-request-repositoryName
 */
export const ECR_REPOSITORY_NAME_PATTERN = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** ECR image tags: 1-128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`. */
export const IMAGE_TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const IMAGE_TAG_TEXT = 'an image tag of 1-128 letters, digits, "_", "." or "-", not starting with "." or "-"';

/** Checks an image tag under the prop name the caller's user wrote (`imageTag` on a fleet, `tag` on a repository). */
export function validateImageTag(check: Check, prop: string, tag: string | undefined): string | undefined {
  return check.matches(prop, tag, IMAGE_TAG_PATTERN, IMAGE_TAG_TEXT);
}

/** Engine-neutral image repository input. */
export interface ImageRepositorySpecInput {
  readonly repositoryName?: string;
  readonly keepUntaggedImages?: number;
  readonly untaggedImageExpiryDays?: number;
}

/** One rule of an ECR lifecycle policy, as ECR spells it. */
export interface EcrLifecycleRuleSpec {
  readonly rulePriority: number;
  readonly description: string;
  readonly selection: {
    readonly tagStatus: 'untagged';
    readonly countType: 'imageCountMoreThan' | 'sinceImagePushed';
    readonly countNumber: number;
    readonly countUnit?: 'days';
  };
  readonly action: { readonly type: 'expire' };
}

/** The settings every engine renders for an image repository. */
export interface ImageRepositorySpec {
  /** Undefined: the engine (CloudFormation, Pulumi) names the repository. */
  readonly repositoryName?: string;
  readonly keepUntaggedImages: number;
  readonly untaggedImageExpiryDays?: number;
  /** Tags are immutable: a tag always means the same bytes, so a model's lineage holds. */
  readonly imageTagMutability: 'IMMUTABLE';
  readonly scanOnPush: true;
  /** Whether the repository (and its own key) is kept when removed (outside dev). */
  readonly retainData: boolean;
  /** Whether the repository is emptied when deleted (only where the profile allows destroying data). */
  readonly emptyOnDelete: boolean;
  readonly keyPendingWindowDays: number;
  /** The lifecycle policy: untagged images are cleaned up, tagged images never expire. */
  readonly lifecycleRules: readonly EcrLifecycleRuleSpec[];
}

/** Validates an ECR repository name. */
export function validateRepositoryName(scope: SpecScope, name: string | undefined): string | undefined {
  return specCheck(scope).matches('repositoryName', name, ECR_REPOSITORY_NAME_PATTERN,
    "an ECR repository name: 2-256 lower-case letters and digits, separated by single '.', '_', '-' or '/' (e.g. 'ml/training')");
}

/** Validates an image repository's input and resolves its defaults from the profile, for every engine. */
export function resolveImageRepositorySpec(scope: SpecScope, input: ImageRepositorySpecInput, profile: EnvironmentProfile): ImageRepositorySpec {
  const check = specCheck(scope);
  validateRepositoryName(scope, input.repositoryName);
  const keepUntaggedImages = check.integerInRange('keepUntaggedImages', input.keepUntaggedImages, 1, 1000) ?? 10;
  const expiryDays = check.positiveInteger('untaggedImageExpiryDays', input.untaggedImageExpiryDays);
  const lifecycleRules: EcrLifecycleRuleSpec[] = [{
    rulePriority: 1,
    description: `Keep the last ${keepUntaggedImages} untagged images`,
    selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: keepUntaggedImages },
    action: { type: 'expire' },
  }];
  if (expiryDays !== undefined) {
    lifecycleRules.push({
      rulePriority: 2,
      description: `Expire untagged images after ${expiryDays} days`,
      selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: expiryDays, countUnit: 'days' },
      action: { type: 'expire' },
    });
  }
  return {
    repositoryName: input.repositoryName,
    keepUntaggedImages,
    untaggedImageExpiryDays: expiryDays,
    imageTagMutability: 'IMMUTABLE',
    scanOnPush: true,
    retainData: !profile.allowDestroy,
    emptyOnDelete: profile.allowDestroy,
    keyPendingWindowDays: profile.allowDestroy ? 7 : 30,
    lifecycleRules,
  };
}

/** ECR actions that pull images; `ecr:GetAuthorizationToken` is registry-wide (resource `*`) by design. */
export const ECR_PULL_ACTIONS: readonly string[] = Object.freeze(['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage']);
/** ECR actions that push images (with the pull actions). */
export const ECR_PUSH_ACTIONS: readonly string[] = Object.freeze([
  'ecr:CompleteLayerUpload', 'ecr:UploadLayerPart', 'ecr:InitiateLayerUpload', 'ecr:PutImage',
]);
