import { Check } from '../core';
import { QUANTITY, QUANTITY_TEXT } from './private/pod-security';

/** Where a training job keeps checkpoints. */
export enum CheckpointKind {
  EMPTY_DIR = 'empty-dir',
  NEW_VOLUME_CLAIM = 'new-volume-claim',
  EXISTING_CLAIM = 'existing-claim',
  OBJECT_STORE = 'object-store',
}

export interface EmptyDirCheckpointOptions {
  /**
   * Largest size the node's disk may give the checkpoint directory.
   * @default '50Gi'
   */
  readonly sizeLimit?: string;
}

export interface NewVolumeClaimCheckpointOptions {
  /** Size of the volume, e.g. '200Gi'. */
  readonly size: string;
  /**
   * Storage class. A distributed job needs one that supports ReadWriteMany (e.g. EFS).
   * @default - the cluster's default storage class
   */
  readonly storageClassName?: string;
}

const SCOPE = 'Checkpoint';

/**
 * Checkpoint storage for `GpuTrainingJob`: a volume mounted at `/checkpoints` (env `CHECKPOINT_DIR`) or an
 * object-store URI the code writes to (env `CHECKPOINT_URI`).
 *
 * @example
 * Checkpoint.objectStore('s3://team-a-artifacts/checkpoints/run-42')
 */
export class Checkpoint {
  /** Node-local scratch space; lost with the pod, so only for short jobs or jobs that also upload. */
  public static emptyDir(options: EmptyDirCheckpointOptions = {}): Checkpoint {
    const sizeLimit = new Check(SCOPE).matches('checkpoint.emptyDir.sizeLimit', options.sizeLimit, QUANTITY, QUANTITY_TEXT) ?? '50Gi';
    return new Checkpoint(CheckpointKind.EMPTY_DIR, { sizeLimit });
  }

  /** A PersistentVolumeClaim created with the job; survives pod restarts, so training resumes. */
  public static newVolumeClaim(options: NewVolumeClaimCheckpointOptions): Checkpoint {
    const check = new Check(SCOPE);
    if (!options?.size) check.fail('checkpoint.newVolumeClaim.size', options?.size, 'is required', "give the volume size, e.g. '200Gi'.");
    check.matches('checkpoint.newVolumeClaim.size', options.size, QUANTITY, QUANTITY_TEXT);
    check.matches('checkpoint.newVolumeClaim.storageClassName', options.storageClassName, /^[a-z0-9][a-z0-9.-]{0,252}$/, 'a storage class name');
    return new Checkpoint(CheckpointKind.NEW_VOLUME_CLAIM, { size: options.size, storageClassName: options.storageClassName });
  }

  /** A PersistentVolumeClaim that already exists in the namespace. */
  public static existingClaim(claimName: string): Checkpoint {
    const check = new Check(SCOPE);
    if (!claimName) check.fail('checkpoint.existingClaim.claimName', claimName, 'is required', 'give the name of the PersistentVolumeClaim.');
    check.matches('checkpoint.existingClaim.claimName', claimName, /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'a PersistentVolumeClaim name');
    return new Checkpoint(CheckpointKind.EXISTING_CLAIM, { claimName });
  }

  /** An S3 URI the training code writes checkpoints to (through the namespace's cloud identity). */
  public static objectStore(uri: string): Checkpoint {
    const check = new Check(SCOPE);
    if (!uri) check.fail('checkpoint.objectStore.uri', uri, 'is required', "give an S3 URI such as 's3://bucket/checkpoints'.");
    check.matches('checkpoint.objectStore.uri', uri, /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, "an S3 URI such as 's3://bucket/checkpoints'");
    return new Checkpoint(CheckpointKind.OBJECT_STORE, { uri });
  }

  private constructor(
    public readonly kind: CheckpointKind,
    private readonly options: { sizeLimit?: string; size?: string; storageClassName?: string; claimName?: string; uri?: string },
  ) {}

  /** Size limit of an `emptyDir` checkpoint. */
  public get sizeLimit(): string | undefined { return this.options.sizeLimit; }
  /** Size of a new claim. */
  public get size(): string | undefined { return this.options.size; }
  /** Storage class of a new claim. */
  public get storageClassName(): string | undefined { return this.options.storageClassName; }
  /** Name of an existing claim. */
  public get claimName(): string | undefined { return this.options.claimName; }
  /** Object-store URI. */
  public get uri(): string | undefined { return this.options.uri; }
}
