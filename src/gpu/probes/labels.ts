/**
 * Whether the device's GNB label draws are certainly the CPU's. Both draw row i's label from the same
 * counter-based uniform u_i (src/curvature/gnb-diag.ts `sampleLabels`: the first class k with
 * u_i·Σw < w_0 + … + w_k, w = exp(logit − max)), but the device sees its own float32 logits and a
 * float32 copy of u_i. A draw whose u_i·Σw lies within `margin`·Σw of a class boundary could flip
 * between the two, so such rows are reported and the caller redraws the batch from the CPU's logits.
 */

/**
 * Rows whose device label differs from the float64 draw on the device's logits, or whose draw lies
 * closer than `margin` (a fraction of the row's softmax mass) to a class boundary.
 */
export function uncertainDraws(
  logits: Float32Array,
  uniforms: Float64Array,
  deviceLabels: Int32Array,
  classes: number,
  margin: number,
): number[] {
  const rows = uniforms.length;
  if (logits.length !== rows * classes || deviceLabels.length !== rows)
    throw new RangeError(
      `uncertainDraws: ${rows} uniforms need ${rows * classes} logits and ${rows} labels, got ${logits.length} and ${deviceLabels.length}`,
    );
  const w = new Float64Array(classes);
  const out: number[] = [];
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, logits[i * classes + c]);
    let total = 0;
    for (let c = 0; c < classes; c++) total += w[c] = Math.exp(logits[i * classes + c] - m);
    // The CPU's walk: r ← u·Σw, then r ← r − w_k until r < 0.
    let r = uniforms[i] * total;
    let label = classes - 1;
    let closest = Infinity;
    for (let c = 0; c < classes; c++) {
      r -= w[c];
      closest = Math.min(closest, Math.abs(r));
      if (r < 0) {
        label = c;
        break;
      }
    }
    if (!(closest >= margin * total) || label !== deviceLabels[i]) out.push(i);
  }
  return out;
}
