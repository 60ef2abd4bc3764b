/**
 * PSGD-Kron (Xi-Lin Li): a Kronecker-factored preconditioner P = QᵀQ per tensor, Q = Q1 ⊗ Q2 fitted on a
 * Lie group (psgd-fit.ts) so that P·h ≈ v for pairs (v, h). Two ways to get the pairs:
 *
 * - `mode: 'whitening'` (kron_torch, the track-3 PSGD): h = the debiased momentum plus a little noise,
 *   v = that noise's Gaussian direction, so P whitens the momentum. Refit on the steps kron_torch's
 *   deterministic counter picks from the update probability (default: its schedule, 1 for 500 steps then
 *   exp(−0.001·(t − 500)) down to 0.03).
 * - `mode: 'hessian'` (psgd_torch's KronNewton, Hessian fitting): h = H·v from `extra.hessianPair`, the
 *   exact double-backward product the curvature probe delivers (`curvature.estimator = 'hvp-pair'`).
 *   Refit only on steps that bring a pair; until the first one P stays at its initial value.
 *
 * Each step: m ← b1·m + (1 − b1)·g, m̂ = m/(1 − b1^t) (kron_torch's momentum; b1 = 0 gives the plain
 * gradient); refit Q if due; u = P·m̂ per tensor; u ← u·min(1, clip/(rms(u) + 1e-12)) (kron_torch's
 * `_clip_update_rms`, clip 1.1). The alias then adds decoupled decay and scales by −lr.
 * Every random draw is counter-based on (seed, purpose, step, tensor), so a run is a function of its seed.
 *
 * Hessian mode follows psgd_torch's KronNewton with dQ = "EQ" step by step (P·g to 0.3 % over six fits,
 * test/optim/psgd-kron-official.test.ts, from the unmodified psgd.py); the residual is the Lipschitz
 * normaliser's norm bound (psgd-fit.ts). Two of KronNewton's defaults are not ours: dQ "Q0.5EQ1.5" (another
 * geometry for the same fixed point P = |H|⁻¹) and preconditioner_max_skew 1 (a diagonal factor for the
 * longer side of a non-square matrix; ours stay triangular up to `maxSize`).
 */
import { takeArray } from './array-pool.js';
import type { ChainState } from './chain.js';
import { decoupledDecayAlias, type DecoupledDecayOptions } from './decoupled-decay-alias.js';
import { type KronPlan, applyQ, initFactors, planTensor, precondition, solveConj } from './psgd-factors.js';
import { balanceFactors, factorsFinite, fitFactors } from './psgd-fit.js';
import { rng } from '../random/counter-rng.js';
import { requireTensorLayout } from './tensor-layout.js';
import type { GradientTransformation } from './transform.js';
import { checkStateObject } from './validate.js';
import { KEYS, OWNER, type ScaleByPsgdKronOptions, resolvePsgdOptions } from './psgd-options.js';
import { fillGaussian } from './psgd-noise.js';

export interface PsgdKronState {
  /** Updates done so far. */
  count: number;
  mu: Float32Array;
  plans: KronPlan[];
  /** Factors of all tensors in layout order (1 or 2 each, see KronPlan). */
  factors: Float32Array[];
  /** Lipschitz estimate of each factor. */
  lipschitz: number[];
  /** kron_torch's `_update_counter`: steps since the last refit. */
  sinceUpdate: number;
  /** Hessian mode: whether the factors were scaled from the first pair yet. */
  scaled: boolean;
}

const EPS32 = 2 ** -23;

export function scaleByPsgdKron(options: ScaleByPsgdKronOptions = {}): GradientTransformation<PsgdKronState> {
  const { whiten, b1, precondLr, init, prob, maxSize, save, beta, clip, damping, seed } =
    resolvePsgdOptions(options);
  return {
    freshUpdates: true,
    init(params, layout) {
      const slots = requireTensorLayout(OWNER, layout, params.length).filter((s) => s.size > 0);
      const plans = slots.map((s) => planTensor(s.offset, s.shape, maxSize, save));
      const factors = plans.flatMap((p) => initFactors(p, init ?? 1));
      return {
        count: 0,
        mu: new Float32Array(params.length),
        plans,
        factors,
        lipschitz: factors.map(() => 0),
        sinceUpdate: 0,
        scaled: init !== undefined,
      };
    },
    update(grads, state, _params, extra) {
      const s = checkStateObject(OWNER, state) as unknown as PsgdKronState;
      if (!(s.mu instanceof Float32Array) || s.mu.length !== grads.length)
        throw new Error(
          `${OWNER}: state.mu must be a Float32Array of ${grads.length} values (state from another model?)`,
        );
      const count = s.count + 1;
      const d = grads.length;
      const mu = takeArray(d, extra);
      const bc = 1 - b1 ** count;
      const mHat = new Float32Array(d);
      for (let i = 0; i < d; i++) {
        mu[i] = b1 * s.mu[i] + (1 - b1) * grads[i];
        mHat[i] = mu[i] / bc;
      }
      let factors = s.factors;
      let lipschitz = s.lipschitz;
      let sinceUpdate = s.sinceUpdate;
      let scaled = s.scaled;
      const pair = extra?.hessianPair;
      let refit = false;
      if (whiten) {
        const p = typeof prob === 'function' ? prob(s.count) : prob;
        if (!(p > 0 && p <= 1))
          throw new Error(`${OWNER}: option 'updateProbability' gave ${p} at step ${s.count}; want (0, 1]`);
        sinceUpdate += 1;
        // 1/p in float32, as kron_torch compares its int counter with a float32 tensor.
        refit = sinceUpdate >= Math.fround(1 / p);
        if (refit) sinceUpdate = 0;
      } else if (pair) {
        if (pair.v.length !== d || pair.hv.length !== d)
          throw new Error(`${OWNER}: extra.hessianPair must hold two vectors of ${d} values`);
        refit = true;
        if (!scaled) {
          const scale = initialScale(s.plans, pair.v, pair.hv, damping);
          factors = s.plans.flatMap((p) => initFactors(p, scale));
          scaled = true;
        }
      }
      if (refit) {
        const nextF: Float32Array[] = [];
        const nextL: number[] = [];
        const balance = rng(seed, 'psgd-balance', count).uniform() < 0.01;
        let f = 0;
        s.plans.forEach((p, ti) => {
          const k = p.row === 'none' ? 1 : 2;
          const q = factors.slice(f, f + k);
          const size = p.rows * p.cols;
          let v: Float32Array;
          let h: Float32Array;
          if (whiten) {
            // kron_torch: h = G + sqrt(eps)·mean|G|·V, v = V (its own draw per tensor and step).
            const g = mHat.subarray(p.offset, p.offset + size);
            v = fillGaussian(new Float32Array(size), seed, 'psgd-whiten', count, ti);
            let mean = 0;
            for (let i = 0; i < size; i++) mean += Math.abs(g[i]);
            const amp = Math.sqrt(EPS32) * (mean / size);
            h = new Float32Array(size);
            for (let i = 0; i < size; i++) h[i] = g[i] + amp * v[i];
          } else {
            // psgd_torch's update_precond_kron_newton_eq: h = Hv + (damping + eps·|Hv|)·n.
            v = pair!.v.slice(p.offset, p.offset + size);
            h = pair!.hv.slice(p.offset, p.offset + size);
            const n = fillGaussian(new Float32Array(size), seed, 'psgd-damping', count, ti);
            for (let i = 0; i < size; i++) h[i] += (damping + EPS32 * Math.abs(h[i])) * n[i];
          }
          const fit = fitFactors(
            p,
            q,
            lipschitz.slice(f, f + k),
            applyQ(p, q, h),
            solveConj(p, q, v),
            precondLr,
            beta,
          );
          nextF.push(...(balance ? balanceFactors(fit.factors) : fit.factors));
          nextL.push(...fit.lipschitz);
          f += k;
        });
        factors = nextF;
        lipschitz = nextL;
      }
      const out = takeArray(d, extra);
      out.fill(0);
      let f = 0;
      for (const p of s.plans) {
        const k = p.row === 'none' ? 1 : 2;
        const size = p.rows * p.cols;
        const u = precondition(p, factors.slice(f, f + k), mHat.slice(p.offset, p.offset + size));
        f += k;
        if (clip !== Infinity) {
          let sq = 0;
          for (let i = 0; i < size; i++) sq += u[i] * u[i];
          const c = Math.min(1, clip / (Math.sqrt(sq / size) + 1e-12));
          for (let i = 0; i < size; i++) u[i] *= c;
        }
        out.set(u, p.offset);
      }
      // A factor that overflowed must not be kept: NaN updates make the loop skip the step and keep
      // the previous state (Trainer and the pipeline never apply a non-finite update).
      if (refit && !factorsFinite(factors)) out.fill(NaN);
      return [out, { count, mu, plans: s.plans, factors, lipschitz, sinceUpdate, scaled }];
    },
  };
}

/** psgd_torch KronNewton's on-the-fly scale: (mean v²)^¼ · (max over tensors of mean h⁴ + damping⁴)^(−⅛). */
function initialScale(
  plans: readonly KronPlan[],
  v: Float32Array,
  hv: Float32Array,
  damping: number,
): number {
  let v2 = 0;
  let n = 0;
  let h4 = 0;
  for (const p of plans) {
    const size = p.rows * p.cols;
    let acc = 0;
    for (let i = p.offset; i < p.offset + size; i++) {
      v2 += v[i] * v[i];
      acc += hv[i] ** 4;
    }
    n += size;
    h4 = Math.max(h4, acc / size);
  }
  return (v2 / n) ** 0.25 * (h4 + damping ** 4) ** (-1 / 8);
}

export interface PsgdKronOptions extends ScaleByPsgdKronOptions, DecoupledDecayOptions {}

/**
 * chain(scaleByPsgdKron, addDecayedWeights, scaleByLearningRate): updates −lr·(P·m̂ + wd·θ). Defaults:
 * lr 3e-4 in whitening mode (kron_torch) and 0.01 in hessian mode (psgd_torch's KronNewton); weight decay
 * 0 (both; kron_torch decays only tensors of order ≥ 2: pass `mask` for that). Needs the layout at init.
 * `mode: 'hessian'` refits P only from `extra.hessianPair`, so the loop must run a curvature probe with
 * `curvature: { estimator: 'hvp-pair', every: k }`; without one P stays at its initial value (scale 1).
 */
export function psgdKron(options: PsgdKronOptions = {}): GradientTransformation<ChainState> {
  const hessian = (options as { mode?: unknown }).mode === 'hessian';
  return decoupledDecayAlias(
    OWNER,
    options,
    KEYS,
    { lr: hessian ? 0.01 : 3e-4, weightDecay: 0 },
    scaleByPsgdKron,
  );
}
