/**
 * A pipeline checkpoint: everything a new pipeline needs to continue a run exactly where another one
 * stopped — θ, the optimizer state, the step, and the curvature estimates that were launched but not yet
 * applied, with their values. A probe is a function of (seed, step, θ at its launch step, batch), so an
 * estimate still in flight cannot be recomputed later from the checkpoint alone; `Pipeline.checkpoint()`
 * therefore waits for those estimates to arrive and keeps them. With the same model, optimizer, seed,
 * shards and curvature schedule, and a source that starts at `step`, a deterministic pipeline resumed from
 * a checkpoint continues bit for bit as the uninterrupted run would have.
 */
import type { GradientTransformation } from '../optim/transform.js';
import type { StepState } from '../step/records.js';

/**
 * θ after `step` steps, the optimizer state, the next step to run, the estimates launched before `step`
 * and not yet applied (in launch order, with their values) and the steps skipped so far: the step
 * floor's `StepState`, which a coordinator's `checkpoint()` returns.
 */
export type PipelineCheckpoint<S> = StepState<S>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/**
 * The problems of `cp` as a checkpoint of a model with `size` parameters trained by `optimizer`, each
 * naming the field (`resumeFrom.params`, …); empty when it is usable. The optimizer state is checked by
 * the optimizer itself: one pure `update` on a zero gradient (it mutates nothing, by the contract of
 * GradientTransformation) must accept it.
 */
export function checkpointProblems<S>(
  cp: unknown,
  size: number,
  optimizer: GradientTransformation<S>,
): string[] {
  const at = 'resumeFrom';
  if (!isObject(cp)) return [`${at} must be a checkpoint object {params, optState, step, pending, skipped}`];
  const out: string[] = [];
  const known = ['params', 'optState', 'step', 'pending', 'skipped'];
  for (const k of Object.keys(cp)) if (!known.includes(k)) out.push(`${at} has an unknown key "${k}"`);
  const { params, step, pending, skipped } = cp;
  if (!(params instanceof Float32Array)) out.push(`${at}.params must be a Float32Array`);
  else if (params.length !== size)
    out.push(`${at}.params has ${params.length} values, the model has ${size}`);
  else if (!allFinite(params)) out.push(`${at}.params holds a NaN or an infinity`);
  if (!isCount(step)) out.push(`${at}.step must be an integer >= 0, got ${String(step)}`);
  if (!isCount(skipped)) out.push(`${at}.skipped must be an integer >= 0, got ${String(skipped)}`);
  else if (isCount(step) && skipped > step)
    out.push(`${at}.skipped (${skipped}) cannot exceed step (${step})`);
  if (!Array.isArray(pending)) out.push(`${at}.pending must be an array of {diag, launchedAt}`);
  else
    pending.forEach((e: unknown, i) => {
      const where = `${at}.pending[${i}]`;
      if (!isObject(e)) return out.push(`${where} must be an object {diag, launchedAt}`);
      if (!isCount(e.launchedAt)) out.push(`${where}.launchedAt must be an integer >= 0`);
      else if (isCount(step) && e.launchedAt >= step)
        out.push(`${where}.launchedAt (${e.launchedAt}) must be before step (${step})`);
      else if (i > 0 && isObject(pending[i - 1]) && e.launchedAt <= Number(pending[i - 1].launchedAt))
        out.push(`${where}.launchedAt must be after the one before it (launch order)`);
      if (e.pair !== undefined) {
        // An 'hvp-pair' estimate: an empty diagonal and the pair (v, H·v).
        const pair = e.pair as Record<string, unknown> | null;
        if (!(e.diag instanceof Float32Array) || e.diag.length !== 0)
          out.push(`${where}.diag must be an empty Float32Array beside a pair`);
        for (const k of ['v', 'hv'] as const) {
          const a = isObject(pair) ? pair[k] : undefined;
          if (!(a instanceof Float32Array) || a.length !== size)
            out.push(`${where}.pair.${k} must be a Float32Array of ${size} values`);
          else if (!allFinite(a)) out.push(`${where}.pair.${k} holds a NaN or an infinity`);
        }
      } else if (!(e.diag instanceof Float32Array) || e.diag.length !== size)
        out.push(`${where}.diag must be a Float32Array of ${size} values`);
      else if (!allFinite(e.diag)) out.push(`${where}.diag holds a NaN or an infinity`);
    });
  if (out.length === 0) {
    try {
      optimizer.update(new Float32Array(size), cp.optState as S, (params as Float32Array).slice(), {
        batchSize: 1,
        loss: 0,
      });
    } catch (e) {
      out.push(`${at}.optState does not fit the optimizer: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
