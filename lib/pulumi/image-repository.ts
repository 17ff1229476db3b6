import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import {
  Check, ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS, ImageRepositorySpec, ImageRepositorySpecInput, resolveImageRepositorySpec, validateImageTag,
  validateRepositoryName,
} from '../core';
import { accountContext, childOptions, componentSpecScope, MlopsComponentArgs, PolicyStatement, resolveProfileAndTags, rotatingKey } from './component-support';

export interface ImageRepositoryArgs extends MlopsComponentArgs, ImageRepositorySpecInput {
  /**
   * ARN of the customer managed key the images are encrypted with (for example the platform key).
   * @default - a new key with rotation on, retained like the images outside dev
   */
  readonly encryptionKeyArn?: pulumi.Input<string>;
}

/** A repository images are pulled from: one this program owns, or one imported by name (`ImageRepository.fromRepositoryName`). */
export interface IImageRepository {
  readonly repositoryArn: pulumi.Output<string>;
  readonly repositoryUrl: pulumi.Output<string>;
  /** `<registry>/<repository>:<tag>`; the tag is validated. */
  imageUri(tag: string): pulumi.Output<string>;
  /** Statements that let a role pull images (`ecr:GetAuthorizationToken` is registry-wide by design). */
  pullStatements(): PolicyStatement[];
  /** Statements that let a role pull and push images. */
  pullPushStatements(): PolicyStatement[];
}

abstract class ImageRepositoryBase extends pulumi.ComponentResource implements IImageRepository {
  public abstract readonly repositoryArn: pulumi.Output<string>;
  public abstract readonly repositoryUrl: pulumi.Output<string>;
  protected abstract readonly check: Check;

  public imageUri(tag: string): pulumi.Output<string> {
    validateImageTag(this.check, 'tag', tag);
    return pulumi.interpolate`${this.repositoryUrl}:${tag}`;
  }

  public pullStatements(): PolicyStatement[] {
    return [
      { Effect: 'Allow', Action: [...ECR_PULL_ACTIONS], Resource: this.repositoryArn },
      { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    ];
  }

  public pullPushStatements(): PolicyStatement[] {
    return [
      { Effect: 'Allow', Action: [...new Set([...ECR_PULL_ACTIONS, ...ECR_PUSH_ACTIONS])], Resource: this.repositoryArn },
      { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    ];
  }
}

/**
 * The Pulumi counterpart of the CDK `ImageRepository`: an ECR repository with immutable tags, scan on push, KMS
 * encryption with a customer managed key, a lifecycle policy that keeps the last N untagged images (tagged images never
 * expire: they are the lineage of trained and served models), retained outside dev and emptied on deletion only in dev.
 * Settings from core's `resolveImageRepositorySpec`, as in the CDK construct.
 */
export class ImageRepository extends ImageRepositoryBase {
  public static readonly TYPE = 'mlops:aws:ImageRepository';

  /** A repository owned elsewhere (e.g. the shared platform's serving images), by name. */
  public static fromRepositoryName(name: string, repositoryName: string, opts?: pulumi.ComponentResourceOptions): IImageRepository {
    return new ImportedImageRepository(name, repositoryName, opts);
  }

  public readonly spec: ImageRepositorySpec;
  public readonly repository: aws.ecr.Repository;
  public readonly lifecyclePolicy: aws.ecr.LifecyclePolicy;
  public readonly encryptionKeyArn: pulumi.Output<string>;
  public readonly repositoryArn: pulumi.Output<string>;
  public readonly repositoryUrl: pulumi.Output<string>;
  protected readonly check: Check;

  constructor(name: string, args: ImageRepositoryArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const { profile, tags: mlopsTags } = resolveProfileAndTags(args);
    const scope = componentSpecScope(ImageRepository.TYPE, name);
    const spec = resolveImageRepositorySpec(scope, args, profile);
    super(ImageRepository.TYPE, name, {}, opts);
    this.spec = spec;
    this.check = new Check(scope.scope, scope.isUnresolved);
    const tags = mlopsTags.toAwsTags();
    this.encryptionKeyArn = pulumi.output(args.encryptionKeyArn ?? rotatingKey(`${name}-key`, `Image repository ${name}`, {
      retain: spec.retainData, pendingWindowDays: spec.keyPendingWindowDays, tags,
    }, this).arn);
    this.repository = new aws.ecr.Repository(`${name}-repository`, {
      name: spec.repositoryName,
      imageTagMutability: spec.imageTagMutability,
      imageScanningConfiguration: { scanOnPush: spec.scanOnPush },
      encryptionConfigurations: [{ encryptionType: 'KMS', kmsKey: this.encryptionKeyArn }],
      forceDelete: spec.emptyOnDelete,
      tags,
    }, childOptions(this, spec.retainData));
    this.lifecyclePolicy = new aws.ecr.LifecyclePolicy(`${name}-lifecycle`, {
      repository: this.repository.name,
      policy: JSON.stringify({ rules: spec.lifecycleRules }),
    }, childOptions(this));
    this.repositoryArn = this.repository.arn;
    this.repositoryUrl = this.repository.repositoryUrl;
    this.registerOutputs({ repositoryArn: this.repositoryArn, repositoryUrl: this.repositoryUrl });
  }
}

class ImportedImageRepository extends ImageRepositoryBase {
  public readonly repositoryArn: pulumi.Output<string>;
  public readonly repositoryUrl: pulumi.Output<string>;
  protected readonly check: Check;

  constructor(name: string, repositoryName: string, opts?: pulumi.ComponentResourceOptions) {
    const scope = componentSpecScope(ImageRepository.TYPE, name);
    validateRepositoryName(scope, repositoryName ?? '');
    super(`${ImageRepository.TYPE}Import`, name, {}, opts);
    this.check = new Check(scope.scope, scope.isUnresolved);
    // Built from the name, as CDK's Repository.fromRepositoryName does: no lookup, so the repository may be created later.
    const account = accountContext(this);
    this.repositoryArn = pulumi.interpolate`arn:${account.partition}:ecr:${account.region}:${account.accountId}:repository/${repositoryName}`;
    this.repositoryUrl = pulumi.interpolate`${account.accountId}.dkr.ecr.${account.region}.amazonaws.com/${repositoryName}`;
    this.registerOutputs({ repositoryArn: this.repositoryArn });
  }
}
