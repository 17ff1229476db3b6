import { Check } from '../core';

/** Image of the model fetcher unless told otherwise (its entrypoint is `aws`). */
export const DEFAULT_MODEL_FETCHER_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.17.20';

export interface S3ModelSourceOptions {
  /**
   * Image that copies the model; it runs `s3 sync <uri> /models` with the image's entrypoint (`aws`).
   * @default DEFAULT_MODEL_FETCHER_IMAGE
   */
  readonly fetcherImage?: string;
}

/**
 * Where an `InferenceService` fetches its model from before the server starts: an init container copies it into
 * the model cache volume (`/models`, env `MODEL_DIR`), so the server starts from local disk and a replica is
 * ready only once the model is there. Credentials come from the namespace's workload identity.
 *
 * @example
 * ModelSource.s3('s3://team-artifacts/models/fraud/v3/')
 */
export class ModelSource {
  /** Copy an S3 prefix (`aws s3 sync`). */
  public static s3(uri: string, options: S3ModelSourceOptions = {}): ModelSource {
    const check = new Check('ModelSource');
    if (!uri) check.fail('modelSource.s3.uri', uri, 'is required', "give the model's S3 prefix, e.g. 's3://bucket/models/fraud/v3/'.");
    check.matches('modelSource.s3.uri', uri, /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?$/, "an S3 URI such as 's3://bucket/models/fraud/v3/'");
    check.matches('modelSource.s3.fetcherImage', options.fetcherImage, /^[a-z0-9][a-zA-Z0-9._\-/:@]*[:@][A-Za-z0-9._-]+$/, 'an image reference pinned to a tag or digest');
    return new ModelSource(uri, options.fetcherImage ?? DEFAULT_MODEL_FETCHER_IMAGE, ['s3', 'sync', '--only-show-errors', '--no-progress', uri, MODEL_DIR]);
  }

  private constructor(
    /** Where the model comes from. */
    public readonly uri: string,
    /** Image of the init container. */
    public readonly fetcherImage: string,
    /** Arguments of the init container. */
    public readonly fetcherArgs: readonly string[],
  ) {}
}

/** Where the model cache volume is mounted. */
export const MODEL_DIR = '/models';
