/**
 * CPU reference LayerNorm kernels over rows of [rows, cols]: the forward pass (normalise, then scale by
 * gain and shift by bias) and the whole backward pass in one sweep. Statistics and the gain/bias
 * gradient sums are float64, rounded once.
 */
import type { LayerNormKernel, LayerNormVjpKernel } from '../registry.js';

/** y = x̂·gain + bias with x̂ = (x − mean)·rstd, rstd = 1/√(var + eps); also writes x̂ and rstd. */
export const cpuLayerNorm: LayerNormKernel = (x, rows, cols, eps, gain, bias, y, xhat, rstd) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mean = 0;
    for (let j = 0; j < cols; j++) mean += x[o + j];
    mean /= cols;
    let variance = 0;
    for (let j = 0; j < cols; j++) {
      const d = x[o + j] - mean;
      variance += d * d;
    }
    const inv = 1 / Math.sqrt(variance / cols + eps);
    rstd[r] = inv;
    for (let j = 0; j < cols; j++) {
      const h = (x[o + j] - mean) * inv;
      xhat[o + j] = h;
      y[o + j] = h * gain[j] + bias[j];
    }
  }
};

/**
 * From the upstream gradient g and the forward's x̂ and rstd:
 *   dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)) with ĝ = g⊙gain (per row),
 *   dgain = Σ_rows g⊙x̂,   dbias = Σ_rows g.
 * The row means use ĝ as computed in float64, and x̂ as stored (what the forward returned).
 */
export const cpuLayerNormVjp: LayerNormVjpKernel = (g, xhat, rstd, gain, rows, cols, dx, dgain, dbias) => {
  const sg = new Float64Array(cols);
  const sb = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mg = 0;
    let mgx = 0;
    for (let j = 0; j < cols; j++) {
      const gj = g[o + j];
      const hj = xhat[o + j];
      const gh = gj * gain[j];
      mg += gh;
      mgx += gh * hj;
      sg[j] += gj * hj;
      sb[j] += gj;
    }
    mg /= cols;
    mgx /= cols;
    const inv = rstd[r];
    for (let j = 0; j < cols; j++) dx[o + j] = inv * (g[o + j] * gain[j] - mg - xhat[o + j] * mgx);
  }
  for (let j = 0; j < cols; j++) {
    dgain[j] = sg[j];
    dbias[j] = sb[j];
  }
};
