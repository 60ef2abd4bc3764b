/**
 * Hessian diagnostics as periodic pipeline metrics: after every `every`-th step it computes, on θ after
 * that step, the largest algebraic Hessian eigenvalue λmax (power iteration, shifted when the
 * largest-magnitude one is negative) and/or the Hutchinson trace, and attaches them as `m.diagnostics`.
 * λmax is what the stability rules compare with 2/η; the trace tracks overall sharpness. Like
 * evaluation it runs in the calling thread while the step's subscriber holds the pipeline, so the numbers
 * belong to exactly that θ (and the next update waits: each costs one HVP per iteration or probe).
 */
import { type OperatorFunction, map } from 'rxjs';
import { lambdaMax } from '../diagnostics/eigen.js';
import type { HvpFn } from '../diagnostics/operator.js';
import { hutchinsonTrace } from '../diagnostics/trace.js';
import type { StepMetrics } from '../step/records.js';
import { type TrainedState, checkEvery, stateAfter } from './trained-state.js';

export interface StepDiagnostics {
  /** The step of the metrics it is attached to: computed on θ after that step. */
  step: number;
  lambdaMax?: number;
  /** HVPs the power iteration used. */
  lambdaMaxIterations?: number;
  trace?: number;
  /** Rademacher probes (HVPs) the trace used. */
  traceProbes?: number;
  /** Wall-clock of the diagnostics. */
  ms: number;
}

export type DiagnosedMetrics<M extends StepMetrics = StepMetrics> = M & { diagnostics?: StepDiagnostics };

export interface DiagnoseEveryOptions {
  /** Diagnose after steps every, 2·every, … (counted as steps applied). */
  every: number;
  /** Reads the state after a step; without it, the reader each step's metrics carry is used. */
  state?: () => TrainedState;
  /** The Hessian operator v ↦ Hv at θ (e.g. batchedHvpOperator over fixed training batches). */
  hvpAt: (params: Float32Array) => HvpFn;
  /** λmax by power iteration (default true). */
  topEigenvalue?: boolean;
  /** Hutchinson trace (default true). */
  trace?: boolean;
  /** Relative-change tolerance of both iterations (default 1e-3, PyHessian). */
  tol?: number;
  /** Most HVPs per power iteration / most trace probes (default 100). */
  maxIter?: number;
  seed?: number;
}

export function diagnoseEvery<M extends StepMetrics>(
  o: DiagnoseEveryOptions,
): OperatorFunction<M, DiagnosedMetrics<M>> {
  const who = 'diagnoseEvery';
  const every = checkEvery(who, 'every', o.every);
  const top = o.topEigenvalue ?? true;
  const trace = o.trace ?? true;
  if (!top && !trace)
    throw new RangeError(`${who}: topEigenvalue and trace are both false; nothing to compute`);
  if (typeof o.hvpAt !== 'function')
    throw new TypeError(`${who}: hvpAt must be a function (θ ↦ HVP operator)`);
  const iter = { tol: o.tol ?? 1e-3, maxIter: o.maxIter ?? 100, seed: o.seed ?? 0 };
  return map((m): DiagnosedMetrics<M> => {
    if ((m.step + 1) % every !== 0) return m;
    const t0 = performance.now();
    const s = stateAfter(who, o.state, m);
    // The operator may keep θ (as a Tensor) while the next steps update the shared buffer: give it a copy.
    const params = s.params.slice();
    const hvp = o.hvpAt(params);
    const d: StepDiagnostics = { step: m.step, ms: 0 };
    if (top) {
      const r = lambdaMax(hvp, params.length, iter);
      d.lambdaMax = r.lambdaMax;
      d.lambdaMaxIterations = r.iterations;
    }
    if (trace) {
      const r = hutchinsonTrace(hvp, params.length, iter);
      d.trace = r.trace;
      d.traceProbes = r.iterations;
    }
    d.ms = performance.now() - t0;
    return { ...m, diagnostics: d };
  });
}
