import { Duration, Token } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';
import { ECR_REPOSITORY_NAME_PATTERN, EnvironmentProfile, resolveImageRepositorySpec } from '../core';
import { checkImageTag } from './private/image-tag';
import { newKey } from './private/keys';
import { checkFor, MlopsScope, statefulRemovalPolicy } from './scope';

/** A container image repository for training or serving images, owned here or imported. */
export interface IImageRepository extends IConstruct {
  readonly repository: ecr.IRepository;
  /** Full image URI for a tag. */
  imageUri(tag: string): string;
  /**
   * Pull images. Includes `ecr:GetAuthorizationToken`, which ECR only accepts on resource `*`
   * (it authenticates to the registry, not a repository); every other action is scoped to the repository.
   */
  grantPull(grantee: iam.IGrantable): iam.Grant;
  /** Pull and push images. */
  grantPullPush(grantee: iam.IGrantable): iam.Grant;
}

export interface ImageRepositoryProps {
  /**
   * Repository name (ECR rules: 2-256 lower-case letters, digits and `._-/` separators, e.g. `ml/training`).
   * @default - a name CloudFormation generates
   */
  readonly repositoryName?: string;
  /**
   * Customer managed key the images are encrypted with (for example the environment's `PlatformKey.key`).
   * @default - a new key with rotation on, retained like the images outside dev
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Untagged images (left behind when a build is re-run) to keep; older ones are deleted. 1-1000.
   * Tagged images are immutable and never expire: they are the lineage of trained and served models.
   * @default 10
   */
  readonly keepUntaggedImages?: number;
  /**
   * Also delete untagged images older than this many days.
   * @default - untagged images are limited by count only
   */
  readonly untaggedImageExpiryDays?: number;
  /**
   * @default - the profile in scope (see `MlopsScope.profileOf`)
   */
  readonly profile?: EnvironmentProfile;
}

abstract class ImageRepositoryBase extends Construct implements IImageRepository {
  public abstract readonly repository: ecr.IRepository;

  public imageUri(tag: string): string {
    checkImageTag(checkFor(this), 'tag', tag);
    return this.repository.repositoryUriForTag(tag);
  }

  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.repository.grantPull(grantee);
  }

  public grantPullPush(grantee: iam.IGrantable): iam.Grant {
    return this.repository.grantPullPush(grantee);
  }
}

/**
 * An ECR repository for training or serving images: immutable tags (an image tag always means the same
 * bytes, so a model's lineage holds), scan on push, KMS encryption with a customer managed key, untagged
 * images cleaned up by a lifecycle policy, and retained outside dev.
 *
 * @example
 * const training = new ImageRepository(stack, 'TrainingImages', { repositoryName: 'ml/training', encryptionKey: platformKey.key });
 * training.grantPull(jobRole);
 */
export class ImageRepository extends ImageRepositoryBase {
  /** Imports a repository owned by another stack, e.g. the shared platform's serving images. */
  public static fromRepositoryName(scope: Construct, id: string, repositoryName: string): IImageRepository {
    return new ImportedImageRepository(scope, id, repositoryName);
  }

  public readonly repository: ecr.Repository;
  public readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: ImageRepositoryProps = {}) {
    super(scope, id);
    const profile = props.profile ?? MlopsScope.profileOf(this);
    // Defaults and validation shared with the Pulumi ImageRepository.
    const spec = resolveImageRepositorySpec({ scope: this.node.path, isUnresolved: (x) => Token.isUnresolved(x) }, props, profile);
    const keepUntaggedImages = spec.keepUntaggedImages;
    const expiryDays = spec.untaggedImageExpiryDays;
    const removalPolicy = statefulRemovalPolicy(profile);

    this.encryptionKey = props.encryptionKey ?? newKey(this, 'Key', {
      description: `mlops-constructs image repository key at ${this.node.path}`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(spec.keyPendingWindowDays),
      removalPolicy,
    });

    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: props.repositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.KMS,
      encryptionKey: this.encryptionKey,
      removalPolicy,
      emptyOnDelete: spec.emptyOnDelete ? true : undefined,
      lifecycleRules: [
        { rulePriority: 1, description: `Keep the last ${keepUntaggedImages} untagged images`, tagStatus: ecr.TagStatus.UNTAGGED, maxImageCount: keepUntaggedImages },
        ...(expiryDays === undefined ? [] : [{
          rulePriority: 2,
          description: `Expire untagged images after ${expiryDays} days`,
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(expiryDays),
        }]),
      ],
    });
  }
}

class ImportedImageRepository extends ImageRepositoryBase {
  public readonly repository: ecr.IRepository;

  constructor(scope: Construct, id: string, repositoryName: string) {
    super(scope, id);
    checkFor(this).matches('repositoryName', repositoryName ?? '', ECR_REPOSITORY_NAME_PATTERN, 'an ECR repository name');
    this.repository = ecr.Repository.fromRepositoryName(this, 'Repository', repositoryName);
  }
}
