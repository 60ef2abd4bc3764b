/** Splits each step's batch into its fixed number of shards (step-math's ranges, so every path agrees). */
import { type OperatorFunction, map } from 'rxjs';
import { shardBatch } from '../step/shards.js';
import type { ShardedStep, StepInput } from './step.js';

export function shard(shards: number): OperatorFunction<StepInput, ShardedStep> {
  return map((s) => ({ ...s, shards: shardBatch(s.batch, shards) }));
}
