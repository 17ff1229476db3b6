import { createHash } from 'crypto';
import { Check } from './validation';

/**
 * Stable placement of served models into serving shards (one stack per shard), shared by every engine that shards.
 *
 * A model's shard is a function of its name and the environment's shard count only: adding, removing or reordering
 * other models never moves it. The shard count is therefore fixed for the life of an environment (changing it moves
 * most models); an overfull shard is relieved by pinning a new model to another shard, which moves nothing.
 */
export const SERVING_SHARDS = Object.freeze({
  /** Shards of an environment unless configured: room for about 1,800 models at the default capacity. */
  defaultCount: 16,
  /** The most shards an environment may have (stack names carry two digits). */
  maxCount: 64,
  /**
   * The most models one shard holds. Each model costs its shard stack one resource (its nested stack) and one
   * template parameter (its served state, resolved from Parameter Store): CloudFormation allows 500 resources and
   * 200 parameters per stack, and the library keeps 400 resources as its own limit; 150 leaves room for the shard's
   * own parameters and resources.
   */
  maxModelsPerShard: 150,
});

/** The shard of a served model: the first 32 bits of the SHA-256 of its name, modulo the shard count. */
export function servingShardOf(model: string, shardCount: number): number {
  return createHash('sha256').update(model, 'utf8').digest().readUInt32BE(0) % shardCount;
}

/** Validates a shard count (whole number, 1 to `SERVING_SHARDS.maxCount`). */
export function checkServingShardCount(scope: string, prop: string, value: number | undefined): number {
  const check = new Check(scope);
  return check.integerInRange(prop, value, 1, SERVING_SHARDS.maxCount,
    `use 1 to ${SERVING_SHARDS.maxCount} shards; keep the number an environment started with (changing it moves most models).`)
    ?? SERVING_SHARDS.defaultCount;
}

/** Two-digit shard label used in stack names and construct ids (`07`). */
export function servingShardLabel(shard: number): string {
  return String(shard).padStart(2, '0');
}
