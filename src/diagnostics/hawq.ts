/**
 * HAWQ-V2 mixed-precision assignment. Layer i's sensitivity at b bits is
 *   Ωᵢ(b) = Tr(Hᵢ)/nᵢ · ‖Q_b(Wᵢ) − Wᵢ‖²
 * with Tr(Hᵢ) the trace of the layer's diagonal Hessian block (hutchinsonTrace's perLayer), nᵢ its
 * parameter count, and Q_b symmetric uniform quantisation with one scale per tensor,
 * scale = max|W|/(2^{b−1} − 1), Q_b(w) = scale·clamp(round(w/scale), −(2^{b−1} − 1), 2^{b−1} − 1).
 *
 * The configuration (one bit-width per layer) minimising ΣΩ subject to Σ nᵢ·bᵢ ≤ budget is found
 * exactly from the Pareto frontier of (size, ΣΩ): layers are merged one at a time, keeping only the
 * configurations no other beats in both size and ΣΩ (additive objective and constraint make this exact).
 *
 * A negative trace estimate: HAWQ assumes Tr(Hᵢ) ≥ 0, and a negative Hutchinson estimate means noise
 * around a small trace or real negative curvature — either way the layer's sensitivity is unknown, not
 * zero. Such a layer is pinned at the widest candidate bit-width (never quantised hard on the strength
 * of noise), its size counts against the budget, and it adds nothing to ΣΩ.
 */
import type { ParamGroup } from './groups.js';
import type { GroupTrace } from './trace.js';

export interface HawqLayerInput {
  name: string;
  /** Tr(Hᵢ), the trace of the layer's diagonal Hessian block. */
  trace: number;
  /** The layer's weights (all of its quantised parameters). */
  weights: ArrayLike<number>;
}

export interface HawqLayer {
  name: string;
  params: number;
  trace: number;
  /** Ωᵢ at each candidate bit-width, in the order of `bits`. */
  omega: number[];
  /** ‖Q_b(W) − W‖² at each candidate bit-width. */
  quantError: number[];
  /** The trace estimate is negative: sensitivity unknown, the layer is held at the widest bit-width. */
  pinned: boolean;
}

export interface HawqConfig {
  /** Bit-width per layer, in layer order. */
  bits: number[];
  /** Σ nᵢ·bᵢ. */
  sizeBits: number;
  /** Σ Ωᵢ(bᵢ). */
  omega: number;
}

export interface HawqResult {
  bits: number[];
  layers: HawqLayer[];
  /** Pareto-optimal configurations, by increasing size and strictly decreasing ΣΩ. */
  frontier: HawqConfig[];
  /** The least-ΣΩ configuration within the budget, or null when even the smallest does not fit. */
  chosen: HawqConfig | null;
  budgetBits: number;
}

export interface HawqOptions {
  layers: readonly HawqLayerInput[];
  /** Candidate bit-widths, integers in [2, 32] (default [2, 4, 8]). */
  bits?: readonly number[];
  /** Size budget in bits (Σ nᵢ·bᵢ ≤ budgetBits). */
  budgetBits: number;
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 2 || bits > 32)
    throw new RangeError(`HAWQ: bit-width must be an integer in [2, 32], got ${bits}`);
}

/** Q_b(w) for every w, with the per-tensor symmetric scale max|W|/(2^{b−1} − 1). */
export function quantizeSymmetric(weights: ArrayLike<number>, bits: number): Float64Array {
  checkBits(bits);
  const levels = 2 ** (bits - 1) - 1;
  let maxAbs = 0;
  for (let i = 0; i < weights.length; i++) maxAbs = Math.max(maxAbs, Math.abs(weights[i]));
  const out = new Float64Array(weights.length);
  if (maxAbs === 0 || !Number.isFinite(maxAbs)) {
    if (!Number.isFinite(maxAbs)) throw new RangeError('quantizeSymmetric: weights must be finite');
    return out;
  }
  const scale = maxAbs / levels;
  for (let i = 0; i < weights.length; i++) {
    const q = Math.min(levels, Math.max(-levels, Math.round(weights[i] / scale)));
    out[i] = q * scale;
  }
  return out;
}

/** ‖Q_b(W) − W‖². */
export function quantizationError(weights: ArrayLike<number>, bits: number): number {
  const q = quantizeSymmetric(weights, bits);
  let s = 0;
  for (let i = 0; i < weights.length; i++) s += (q[i] - weights[i]) ** 2;
  return s;
}

/** Per-layer sensitivities Ωᵢ(b) for each candidate bit-width. */
export function hawqSensitivity(layers: readonly HawqLayerInput[], bits: readonly number[]): HawqLayer[] {
  bits.forEach(checkBits);
  return layers.map((l) => {
    const n = l.weights.length;
    if (n === 0) throw new RangeError(`HAWQ: layer ${l.name} has no weights`);
    if (!Number.isFinite(l.trace))
      throw new RangeError(`HAWQ: layer ${l.name} trace ${l.trace} is not finite`);
    const quantError = bits.map((b) => quantizationError(l.weights, b));
    return {
      name: l.name,
      params: n,
      trace: l.trace,
      quantError,
      omega: quantError.map((e) => (l.trace / n) * e),
      pinned: l.trace < 0,
    };
  });
}

interface Point {
  size: number;
  omega: number;
  bits: number[];
}

/** Exact bit-width assignment by Pareto frontier; see the module comment. */
export function hawqMixedPrecision(options: HawqOptions): HawqResult {
  const bits = [...(options.bits ?? [2, 4, 8])];
  if (bits.length === 0) throw new RangeError('HAWQ: needs at least one candidate bit-width');
  if (new Set(bits).size !== bits.length)
    throw new RangeError(`HAWQ: duplicate bit-widths in ${bits.join(', ')}`);
  const budgetBits = options.budgetBits;
  if (!(budgetBits >= 0)) throw new RangeError(`HAWQ: budgetBits must be >= 0, got ${budgetBits}`);
  if (options.layers.length === 0) throw new RangeError('HAWQ: needs at least one layer');
  const layers = hawqSensitivity(options.layers, bits);
  const widest = Math.max(...bits);
  let frontier: Point[] = [{ size: 0, omega: 0, bits: [] }];
  for (const layer of layers) {
    const next: Point[] = [];
    for (const p of frontier)
      bits.forEach((b, j) => {
        if (layer.pinned && b !== widest) return;
        const omega = layer.pinned ? 0 : layer.omega[j];
        next.push({ size: p.size + layer.params * b, omega: p.omega + omega, bits: [...p.bits, b] });
      });
    next.sort((a, b) => a.size - b.size || a.omega - b.omega);
    frontier = [];
    for (const p of next)
      if (frontier.length === 0 || p.omega < frontier[frontier.length - 1].omega) frontier.push(p);
  }
  const configs: HawqConfig[] = frontier.map((p) => ({ bits: p.bits, sizeBits: p.size, omega: p.omega }));
  let chosen: HawqConfig | null = null;
  for (const c of configs) if (c.sizeBits <= budgetBits) chosen = c; // omega decreases along the frontier
  return { bits, layers, frontier: configs, chosen, budgetBits };
}

/** The values of a parameter group gathered from the flat vector (to feed HawqLayerInput.weights). */
export function groupValues(group: ParamGroup, flat: ArrayLike<number>): Float64Array {
  const out = new Float64Array(group.params);
  let k = 0;
  for (const [a, b] of group.ranges) for (let i = a; i < b; i++) out[k++] = flat[i];
  return out;
}

/**
 * HAWQ inputs from per-layer traces (hutchinsonTrace's `perLayer`) and the groups they were computed
 * for: each layer's weights are its group's values in `flat`. Matched by name; throws on a missing one.
 */
export function hawqLayersFromGroups(
  groups: readonly ParamGroup[],
  traces: readonly GroupTrace[],
  flat: ArrayLike<number>,
): HawqLayerInput[] {
  const byName = new Map(traces.map((g) => [g.name, g.trace]));
  return groups.map((g) => {
    const trace = byName.get(g.name);
    if (trace === undefined) throw new RangeError(`HAWQ: no trace for layer ${g.name}`);
    return { name: g.name, trace, weights: groupValues(g, flat) };
  });
}
