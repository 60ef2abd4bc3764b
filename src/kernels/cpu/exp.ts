/**
 * A fast exponential for float32 results. V8's Math.exp (and Math.tanh) are out-of-line library calls
 * that dominated the GELU and softmax passes of a GPT step; this is a table lookup and a few inlined
 * multiply-adds, about three times faster there, with ≈4e-11 relative error — far below float32's
 * rounding (6e-8), so float32 results equal Math.exp's to float32 precision.
 */
import type { UnaryKernel } from '../registry.js';

/**
 * Arguments are clamped to [EXP_LOW, EXP_HIGH]: exp(−104) ≈ 6.8e-46 rounds to 0 in float32 and
 * exp(89) ≈ 4.5e38 overflows it, so clamped results round to what Math.exp's would.
 */
const EXP_LOW = -104;
const EXP_HIGH = 89;
/**
 * exp(y) = 2^(k/16)·exp(r) with k = round(16·y·log₂e) and |r| ≤ ln2/32. TABLE[k + BIAS] = 2^(k/16)
 * covers |k| ≤ BIAS (16·104·log₂e ≈ 2401), and exp(r) needs only a degree-4 Taylor polynomial
 * (remainder r⁵/5! < 5e-11). Rounding uses `| 0` on a biased, positive value: V8 turns that into one
 * conversion, where Math.round and a double-indexed table were measurably slower.
 */
const BIAS = 2432;
const TABLE = Float64Array.from({ length: 2 * BIAS + 1 }, (_, i) => 2 ** ((i - BIAS) / 16));
const TO_K = 16 * Math.LOG2E;
const K_TO_R = Math.LN2 / 16;

/** The constants of `expForFloat32`, for other backends that must reproduce it bit for bit. */
export const EXP_FOR_FLOAT32 = {
  low: EXP_LOW,
  high: EXP_HIGH,
  bias: BIAS,
  table: TABLE,
  toK: TO_K,
  kToR: K_TO_R,
} as const;

/** exp(y) to ≈4e-11 relative error, meant for results stored as float32. */
export function expForFloat32(y: number): number {
  const z = y > EXP_HIGH ? EXP_HIGH : y < EXP_LOW ? EXP_LOW : y;
  const i = (z * TO_K + (BIAS + 0.5)) | 0;
  const r = z - (i - BIAS) * K_TO_R;
  return (1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24))))) * TABLE[i];
}

/** exp: Math.exp for float64 arrays, `expForFloat32` for float32 ones. */
export const cpuExp: UnaryKernel = (x, out) => {
  if (out instanceof Float64Array) for (let i = 0; i < out.length; i++) out[i] = Math.exp(x[i]);
  else for (let i = 0; i < out.length; i++) out[i] = expForFloat32(x[i]);
};
