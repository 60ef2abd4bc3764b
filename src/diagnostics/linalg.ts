/** Small float64 vector helpers shared by the diagnostics (internal; not re-exported). */

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** A float64 copy of `a` scaled by `s`. */
export function scaled(a: ArrayLike<number>, s: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] * s;
  return out;
}

/** In place: v ← v − Σ_k ⟨v, u_k⟩ u_k for orthonormal u_k (classical Gram–Schmidt, applied twice). */
export function orthogonalise(v: Float64Array, basis: readonly Float64Array[]): void {
  for (let pass = 0; pass < 2; pass++) {
    for (const u of basis) {
      const c = dot(v, u);
      for (let i = 0; i < v.length; i++) v[i] -= c * u[i];
    }
  }
}

/** Calls `hvp` and checks the result's length and finiteness; returns float64. */
export function applyChecked(
  hvp: (v: Float64Array | Float32Array) => Float64Array | Float32Array,
  v: Float64Array,
  who: string,
): Float64Array {
  const r = hvp(v);
  if (r.length !== v.length) throw new RangeError(`${who}: hvp returned ${r.length} values for ${v.length}`);
  const out = Float64Array.from(r); // a copy: callers may update it in place
  for (let i = 0; i < out.length; i++)
    if (!Number.isFinite(out[i])) throw new RangeError(`${who}: hvp returned a non-finite value at ${i}`);
  return out;
}

export function checkCount(who: string, n: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${who}: parameter count must be a positive integer, got ${n}`);
}
