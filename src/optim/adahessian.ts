/**
 * AdaHessian (amirgholami/adahessian, image_classification/optim_adahessian.py and
 * instruction/adahessian.py):
 *
 *   D = block-averaged |z⊙Hz|
 *   m ← β1·m + (1−β1)·g;   v ← β2·v + (1−β2)·D²
 *   θ ← θ − lr·( (m/bc1) / ((√v/√bc2)^k + ε) + wd·θ )        bc_i = 1 − β_i^t
 *
 * The official optimizer computes D every step. Where the Hessian is refreshed only every few steps (the
 * "delay step" comment in the repo's optim_adahess.py, and davda54/ada-hessian's update_each which the
 * official README links for it) the last D is reused: v keeps its EMA update every step with the most
 * recent D. We do the same — the state keeps the last D — and require an estimate on the first step,
 * where the official code always has one.
 */
import { takeArray } from './array-pool.js';
import type { ChainState } from './chain.js';
import { decoupledDecayAlias, type DecoupledDecayOptions } from './decoupled-decay-alias.js';
import { blockAveragedAbs, checkBlocksFit, compileBlocks, type HessianBlock } from './hessian-blocks.js';
import type { GradientTransformation } from './transform.js';
import {
  checkKnownOptions,
  checkLength,
  checkNumber,
  checkStateCount,
  checkStateObject,
  checkStateVector,
} from './validate.js';

export interface AdahessianState {
  count: number;
  m: Float32Array;
  /** EMA of D² (exp_hessian_diag_sq). */
  v: Float32Array;
  /** The most recent block-averaged |ĥ|, reused on steps without a fresh estimate. */
  diag: Float32Array;
  hessianUpdates: number;
}

export interface ScaleByAdahessianOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  hessianPower?: number;
  blocks?: HessianBlock[];
}

export function scaleByAdahessian(
  options: ScaleByAdahessianOptions = {},
): GradientTransformation<AdahessianState> {
  const owner = 'adahessian';
  checkKnownOptions(owner, options, ['b1', 'b2', 'eps', 'hessianPower', 'blocks']);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
  const eps = checkNumber(owner, 'eps', options.eps ?? 1e-4, { min: 0 });
  const k = checkNumber(owner, 'hessianPower', options.hessianPower ?? 1, { min: 0, max: 1 });
  const segments = compileBlocks(owner, options.blocks);
  return {
    freshUpdates: true,
    init(params) {
      const d = params.length;
      checkBlocksFit(owner, segments, d);
      return {
        count: 0,
        m: new Float32Array(d),
        v: new Float32Array(d),
        diag: new Float32Array(d),
        hessianUpdates: 0,
      };
    },
    update(grads, state, _params, extra) {
      const s = checkStateObject(owner, state);
      const count = checkStateCount(owner, s.count) + 1;
      const m0 = checkStateVector(owner, 'm', s.m);
      const d = m0.length;
      const v0 = checkStateVector(owner, 'v', s.v, d);
      const diag0 = checkStateVector(owner, 'diag', s.diag, d);
      const hessianUpdates0 = checkStateCount(owner, s.hessianUpdates);
      checkLength(owner, 'gradient', grads, d);
      checkBlocksFit(owner, segments, d);
      const hHat = extra?.hessianDiag;
      let diag = diag0;
      if (hHat !== undefined) {
        checkLength(owner, 'extra.hessianDiag', hHat, d);
        diag = blockAveragedAbs(hHat, segments);
      } else if (hessianUpdates0 === 0) {
        throw new Error(`${owner}: the first step needs a curvature estimate in extra.hessianDiag`);
      }

      const bc1 = 1 - b1 ** count;
      const sqrtBc2 = Math.sqrt(1 - b2 ** count);
      const [m, v, out] = [takeArray(d, extra), takeArray(d, extra), takeArray(d, extra)];
      for (let i = 0; i < d; i++) {
        m[i] = b1 * m0[i] + (1 - b1) * grads[i];
        v[i] = b2 * v0[i] + (1 - b2) * diag[i] * diag[i];
        const denom = (Math.sqrt(v[i]) / sqrtBc2) ** k + eps;
        out[i] = m[i] / bc1 / denom;
      }
      return [out, { count, m, v, diag, hessianUpdates: hessianUpdates0 + (hHat !== undefined ? 1 : 0) }];
    },
  };
}

export interface AdahessianOptions extends ScaleByAdahessianOptions, DecoupledDecayOptions {}

/** Official defaults: lr 0.15, β (0.9, 0.999), ε 1e-4, Hessian power 1, weight decay 0. */
export function adahessian(options: AdahessianOptions = {}): GradientTransformation<ChainState> {
  // lr·(u + wd·θ): the official update p − lr·(m̂/denom + wd·p), with the decay outside the moments.
  return decoupledDecayAlias(
    'adahessian',
    options,
    ['b1', 'b2', 'eps', 'hessianPower', 'blocks'],
    { lr: 0.15, weightDecay: 0 },
    scaleByAdahessian,
  );
}
