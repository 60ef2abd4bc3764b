/**
 * Test-only failure injection: a worker started with `failOn` throws, or kills its thread, on the first
 * `times` attempts of the matching task. Keyed on the attempt number so it survives worker restarts.
 */
import { Errors } from './errors.js';
import type { FailureHook } from './protocol.js';

export function checkFailureHook(
  hook: FailureHook | undefined,
  step: number,
  attempt: number,
  shardIndex?: number,
): void {
  if (!hook || attempt >= hook.times) return;
  if (hook.step !== undefined && hook.step !== step) return;
  if (hook.shardIndex !== undefined && shardIndex !== undefined && hook.shardIndex !== shardIndex) return;
  if (hook.mode === 'exit') process.exit(17);
  throw Errors.InjectedFailure(
    shardIndex === undefined ? `probe step ${step}` : `shard ${shardIndex} of step ${step}`,
    attempt,
  );
}
