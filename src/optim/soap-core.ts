/**
 * One SOAP step (Vyas et al. 2024, official nikhilvyas/SOAP soap.py), shared by scaleBySoap (Adam in the
 * eigenbasis) and scaleBySoapSophia (Sophia's clipped step in the eigenbasis). Per block (soap-plan.ts):
 *
 *   first call:  L ← lerp(L, GGᵀ, 1−β_s), R ← lerp(R, GᵀG, 1−β_s); Q_L, Q_R ← eigh (descending); no update
 *   later calls (step = calls so far):
 *     G' = Q_Lᵀ G Q_R
 *     m' ← β1·m' + (1−β1)·G'
 *     v ← β2·v + (1−β2)·G'²                      (Sophia-GNB: from ĝ' = Q_Lᵀ ĝ Q_R when ĝ arrives)
 *     N' = (√(1−β2ˢᵗᵉᵖ)/(1−β1ˢᵗᵉᵖ))·m'/(√v + ε)  (Adam; Sophia: sign(m')·min(|m'|/(ρ·v + ε), 1), with
 *          m' replaced by β1·m' + (1−β1)·G' under Nesterov)
 *     u  = Q_L N' Q_Rᵀ
 *     then the factors take G, and when step % f = 0 each Q is refreshed: columns sorted by diag(QᵀLQ)
 *     descending (v's rows/columns permuted alike, not rotated), Q ← qr(L·Q), and m' is moved to the
 *     new basis: m' ← Q_newᵀ·(Q_old m' Q_oldᵀ)·Q_new
 *
 * As soap.py, m and v live in the eigenbasis. soap.py moves exp_avg back to parameter space and into the
 * basis every step; between refreshes the basis is unchanged and that round trip is the identity, so we do
 * it only when a basis changes (four products fewer per step, rounding aside the same). A step that meets a non-finite
 * factor, basis or result returns NaN updates and the state it was given: Trainer and the pipeline skip
 * a non-finite update and keep the old state, so θ and every moment stay as they were.
 */
import { emaInto } from '../kernels/passes.js';
import { takeArray } from './array-pool.js';
import { eigenbasisDescending, refreshEigenbasis } from './eigenbasis.js';
import { quantileSelect } from './group-quantile.js';
import { Scratch, factorEma, gemm, rotate, rotateBack } from './soap-linalg.js';
import { checkPlan, soapPlan, type SoapBlock, type SoapPlanOptions } from './soap-plan.js';
import { checkStats, initialStats, nextHessianCounters, vectorStats, type CurvatureStats } from './stats.js';
import type { GradientTransformation, UpdateExtra } from './transform.js';
import { requireTensorLayout } from './tensor-layout.js';
import { checkLength, checkStateCount, checkStateObject, checkStateVector } from './validate.js';

/** One block's Shampoo factors and eigenbases, row-major; empty arrays on an identity side. */
export interface SoapFactors {
  L: Float32Array;
  R: Float32Array;
  QL: Float32Array;
  QR: Float32Array;
}

export interface SoapState {
  /** Calls so far; the first only builds the preconditioner, so Adam's step count is `count` after it. */
  count: number;
  plan: SoapBlock[];
  /** First moment (exp_avg), in each block's eigenbasis, moved along when the basis changes. */
  m: Float32Array;
  /** Second moment (exp_avg_sq) or, for SOAP-Sophia, the curvature EMA h', in each block's eigenbasis. */
  v: Float32Array;
  factors: SoapFactors[];
  /** SOAP-Sophia only: win-rate and curvature telemetry (as Sophia's, found by findStats). */
  stats?: CurvatureStats;
}

export interface SoapCoreConfig extends SoapPlanOptions {
  owner: string;
  b1: number;
  b2: number;
  shampooBeta: number;
  eps: number;
  frequency: number;
  correctBias: boolean;
  normalizeGrads: boolean;
  /** Where the Kronecker factors come from: the gradient (SOAP) or extra.curvatureGradient. */
  factors: 'gradient' | 'curvature';
  /** Adam's m'/(√v + ε), or Sophia's clip with ρ per block at the win-rate target's quantile. */
  step:
    | { kind: 'adam' }
    | { kind: 'sophia'; winRateTarget: number; curvature: 'gradient' | 'curvature'; nesterov: boolean };
}

/** Sophia's denominator guard (sophia-g.ts), added to ρ·h'. */
const SOPHIA_EPS = 1e-15;
function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}
const allZero = (a: Float32Array): boolean => a.every((x) => x === 0);

function readState(owner: string, state: unknown, d: number): SoapState {
  const s = checkStateObject(owner, state);
  const count = checkStateCount(owner, s.count);
  const m = checkStateVector(owner, 'm', s.m, d);
  const v = checkStateVector(owner, 'v', s.v, d);
  const plan = checkPlan(owner, s.plan, d);
  if (!Array.isArray(s.factors) || s.factors.length !== plan.length)
    throw new Error(`${owner}: state.factors must hold one entry per block of state.plan`);
  const factors = (s.factors as SoapFactors[]).map((f, i) => {
    const b = plan[i];
    const [nl, nr] = [b.left ? b.rows * b.rows : 0, b.right ? b.cols * b.cols : 0];
    return {
      L: checkStateVector(owner, `factors[${i}].L`, f?.L, nl),
      R: checkStateVector(owner, `factors[${i}].R`, f?.R, nr),
      QL: checkStateVector(owner, `factors[${i}].QL`, f?.QL, nl),
      QR: checkStateVector(owner, `factors[${i}].QR`, f?.QR, nr),
    };
  });
  const stats = s.stats === undefined ? undefined : checkStats(owner, s.stats);
  return { count, plan, m, v, factors, stats };
}

export function soapCore(c: SoapCoreConfig): GradientTransformation<SoapState> {
  const { owner, b1, b2, eps } = c;
  const sophia = c.step.kind === 'sophia' ? c.step : null;
  const [tmp, tmp2, mr, gr, np] = [new Scratch(), new Scratch(), new Scratch(), new Scratch(), new Scratch()];
  const nest = new Scratch();
  let ratios = new Float64Array(0);
  return {
    freshUpdates: true,
    init(params, layout) {
      const d = params.length;
      const plan = soapPlan(requireTensorLayout(owner, layout, d), d, c);
      const factors = plan.map((b) => {
        const [nl, nr] = [b.left ? b.rows * b.rows : 0, b.right ? b.cols * b.cols : 0];
        return {
          L: new Float32Array(nl),
          R: new Float32Array(nr),
          QL: new Float32Array(nl),
          QR: new Float32Array(nr),
        };
      });
      const s: SoapState = { count: 0, plan, m: new Float32Array(d), v: new Float32Array(d), factors };
      if (sophia) s.stats = initialStats();
      return s;
    },
    update(grads, state, _params, extra?: UpdateExtra) {
      const d = grads.length;
      const s = readState(owner, state, d);
      checkLength(owner, 'gradient', grads, d);
      const gHat = extra?.curvatureGradient;
      if (gHat !== undefined) checkLength(owner, 'extra.curvatureGradient', gHat, d);
      const first = s.count === 0;
      const step = s.count;
      const factorSource = c.factors === 'curvature' ? gHat : grads;
      // What feeds v: the gradient every step, or (SOAP-Sophia on GNB curvature) ĝ when it arrives.
      const vSource = sophia?.curvature === 'curvature' ? gHat : grads;
      const refresh = !first && step % c.frequency === 0;
      // The first call only builds the preconditioner; a GNB ĝ arriving with it is still folded into h'
      // (probes are expensive), with the basis just built.
      const foldFirst = first && sophia?.curvature === 'curvature' && gHat !== undefined;
      const vUpdated = first ? foldFirst : vSource !== undefined;
      const skipped = (): [Float32Array, SoapState] => [takeArray(d, extra).fill(NaN), state as SoapState];

      const out = takeArray(d, extra);
      const m = first ? s.m : takeArray(d, extra);
      const v = first && !foldFirst ? s.v : takeArray(d, extra);
      const factors: SoapFactors[] = [];
      const bc = c.correctBias ? Math.sqrt(1 - b2 ** step) / (1 - b1 ** step) : 1;
      let unclipped = 0;
      for (let bi = 0; bi < s.plan.length; bi++) {
        const { offset, rows, cols, left, right } = s.plan[bi];
        const n = rows * cols;
        const f0 = s.factors[bi];
        const at = (a: Float32Array) => a.subarray(offset, offset + n);
        const [g, o, mB, vB, v0] = [at(grads), at(out), at(m), at(v), at(s.v)];
        if (first) {
          o.fill(0);
        } else {
          // m lives in the eigenbasis (soap.py's exp_avg): m' ← β1·m' + (1−β1)·G'.
          const gRot = gr.get(n);
          rotate(g, f0.QL, f0.QR, rows, cols, gRot, tmp);
          emaInto(mB, at(s.m), gRot, b1, 1 - b1);
          if (vSource) {
            const hRot = vSource === grads ? gRot : mr.get(n);
            if (hRot !== gRot) rotate(at(vSource), f0.QL, f0.QR, rows, cols, hRot, tmp);
            for (let i = 0; i < n; i++) vB[i] = b2 * v0[i] + (1 - b2) * hRot[i] * hRot[i];
          } else vB.set(v0);
          const nRot = np.get(n);
          if (sophia) {
            // Nesterov (Muon's g.lerp(buf, β1)): clip β1·m' + (1−β1)·G' instead of m'; m' itself is unchanged.
            let mStep = mB;
            if (sophia.nesterov) {
              mStep = nest.get(n);
              for (let i = 0; i < n; i++) mStep[i] = b1 * mB[i] + (1 - b1) * gRot[i];
            }
            unclipped += sophiaClip(nRot, mStep, vB, sophia.winRateTarget);
          } else for (let i = 0; i < n; i++) nRot[i] = (bc * mB[i]) / (Math.sqrt(vB[i]) + eps);
          rotateBack(nRot, f0.QL, f0.QR, rows, cols, o, tmp);
          if (c.normalizeGrads) normalizeRms(o);
        }
        // The factors take this step's source after the update, as soap.py's update_preconditioner.
        const src = factorSource ? at(factorSource) : undefined;
        const f: SoapFactors = { ...f0 };
        const sides = [
          [left, 'left', rows, 'L', 'QL'],
          [right, 'right', cols, 'R', 'QR'],
        ] as const;
        const orders: (Int32Array | null)[] = [null, null];
        for (const [k, [on, side, size, fk, qk]] of sides.entries()) {
          if (!on) continue;
          const wasZero = c.factors === 'curvature' && allZero(f0[fk]);
          if (src) {
            f[fk] = takeArray(size * size, extra);
            factorEma(f0[fk], src, rows, cols, side, c.shampooBeta, f[fk], tmp2);
            if (!allFinite(f[fk])) return skipped();
          }
          // A basis built from all-zero factors (curvature factors before the first ĝ) says nothing:
          // decompose afresh once data arrives instead of waiting for power iteration to find it.
          const full = first || (wasZero && src !== undefined);
          if (!full && !refresh) continue;
          f[qk] = takeArray(size * size, extra);
          try {
            if (full) eigenbasisDescending(f[fk], size, f[qk]);
            else {
              const lq = tmp2.get(size * size);
              gemm(f[fk], f0[qk], lq, size, size, size);
              orders[k] = refreshEigenbasis(lq, f0[qk], size, f[qk]);
            }
          } catch {
            return skipped();
          }
          if (!allFinite(f[qk])) return skipped();
        }
        if (orders[0] || orders[1]) permuteInPlace(vB, rows, cols, orders[0], orders[1], tmp);
        if (!first && (f.QL !== f0.QL || f.QR !== f0.QR)) {
          // A new basis: m' moves to it, through parameter space (soap.py's project_back, then project).
          const back = mr.get(n);
          rotateBack(mB, f0.QL, f0.QR, rows, cols, back, tmp);
          rotate(back, f.QL, f.QR, rows, cols, mB, tmp);
        }
        if (foldFirst && vSource) {
          const gRot = gr.get(n);
          rotate(at(vSource), f.QL, f.QR, rows, cols, gRot, tmp);
          for (let i = 0; i < n; i++) vB[i] = b2 * v0[i] + (1 - b2) * gRot[i] * gRot[i];
        }
        factors.push(f);
      }
      if (!allFinite(out) || (m !== s.m && !allFinite(m)) || (v !== s.v && !allFinite(v))) return skipped();
      const next: SoapState = { count: s.count + 1, plan: s.plan, m, v, factors };
      if (sophia) {
        const prev = s.stats ?? initialStats();
        const [hessianUpdates, stepsSinceHessian] = nextHessianCounters(prev, vUpdated);
        const hs = vectorStats(v);
        next.stats = {
          winRate: first || d === 0 ? 0 : unclipped / d,
          hMean: hs.mean,
          hMax: hs.max,
          hMin: hs.min,
          hessianUpdates,
          stepsSinceHessian,
        };
      }
      return [out, next];

      /** Sophia's clip with ρ at the target quantile of |m'|/h' over the block; returns the unclipped count. */
      function sophiaClip(o: Float32Array, mRot: Float32Array, h: Float32Array, target: number): number {
        const n = o.length;
        if (ratios.length < n) ratios = new Float64Array(n);
        for (let i = 0; i < n; i++) ratios[i] = Math.abs(mRot[i]) / (h[i] + SOPHIA_EPS);
        const rho = quantileSelect(ratios, n, target);
        let won = 0;
        for (let i = 0; i < n; i++) {
          const r = Math.abs(mRot[i]) / (rho * h[i] + SOPHIA_EPS);
          if (r < 1) won++;
          o[i] = Math.sign(mRot[i]) * Math.min(r, 1);
        }
        return won;
      }
    },
  };
}

/** soap.py's normalize_grads: u / (1e-30 + rms(u)) per tensor. */
function normalizeRms(o: Float32Array): void {
  let ss = 0;
  for (let i = 0; i < o.length; i++) ss += o[i] * o[i];
  const scale = 1 / (1e-30 + Math.sqrt(ss / Math.max(1, o.length)));
  for (let i = 0; i < o.length; i++) o[i] *= scale;
}

/** v[i, j] ← v[rowOrder[i], colOrder[j]] (exp_avg_sq.index_select per refreshed dimension). */
function permuteInPlace(
  v: Float32Array,
  rows: number,
  cols: number,
  rowOrder: Int32Array | null,
  colOrder: Int32Array | null,
  tmp: Scratch,
): void {
  const src = tmp.get(rows * cols);
  src.set(v);
  for (let i = 0; i < rows; i++) {
    const r = rowOrder ? rowOrder[i] : i;
    for (let j = 0; j < cols; j++) v[i * cols + j] = src[r * cols + (colOrder ? colOrder[j] : j)];
  }
}
