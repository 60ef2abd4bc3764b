/**
 * Hand-written WGSL for streaming elementwise updates over flat float32 storage buffers: the fused
 * Sophia-G step, the curvature EMA and the fused AdaHessian step, each in place on its state.
 *
 * A kernel is written once over an element type T and generated twice: over vec4<f32> (the bulk of
 * the array, 16-byte loads and stores) and over f32 (the 1–3 element tail). Workgroups are 256 wide
 * and loop grid-stride (i += stride, stride = launched invocations), so arrays longer than
 * 256 × maxComputeWorkgroupsPerDimension (× 4) are covered by one 1-D dispatch. Uniforms: a header
 * (n, stride, base, pad: u32) and then the kernel's f32 parameters, padded to 16 bytes.
 */

import { gridStrideSource } from '../../src/gpu/device/wgsl-grid-stride.js';

export const STREAM_WORKGROUP = 256;

export interface StreamKernel {
  /** Cache key of the kernel (with any specialisation). */
  readonly key: string;
  /** Buffers updated in place (read_write), bound first (bindings 1…). */
  readonly rw: readonly string[];
  /** Buffers only read, bound after the read_write ones. */
  readonly ro: readonly string[];
  /** f32 uniform parameters, in order (read as p.name). */
  readonly params: readonly string[];
  /** Statements for element i (T is the element type: f32 or vec4<f32>). */
  readonly body: string;
}

/** Byte size of a kernel's uniform block. */
export function streamUniformBytes(k: StreamKernel): number {
  return 16 + Math.ceil(k.params.length / 4) * 16;
}

/** The uniform block: header (n, stride, base) and the parameters as float32. */
export function streamUniforms(
  k: StreamKernel,
  n: number,
  stride: number,
  base: number,
  values: readonly number[],
): ArrayBuffer {
  if (values.length !== k.params.length)
    throw new Error(`${k.key}: ${values.length} parameters given, ${k.params.length} expected`);
  const buf = new ArrayBuffer(streamUniformBytes(k));
  new Uint32Array(buf, 0, 4).set([n, stride, base, 0]);
  new Float32Array(buf, 16, values.length).set(values);
  return buf;
}

export function streamSource(k: StreamKernel, vec4: boolean): string {
  const T = vec4 ? 'vec4<f32>' : 'f32';
  const fields = k.params.map((p) => `${p} : f32`);
  while (fields.length % 4 !== 0) fields.push(`pad${fields.length} : f32`);
  return gridStrideSource({
    preamble: [
      `alias T = ${T};`,
      `struct P { n : u32, stride : u32, base : u32, hpad : u32, ${fields.join(', ')} }`,
    ],
    element: 'T',
    rw: k.rw,
    ro: k.ro,
    workgroup: STREAM_WORKGROUP,
    start: 'p.base + gid.x',
    body: k.body,
  });
}

/**
 * Sophia-G (the official SophiaG.step, as src/optim/sophia-g.ts):
 *   m ← β1·m + (1−β1)·g;   θ ← θ·(1 − lr·wd) − lr·sign(m)·min(|m|/(ρ·bs·h + 1e-15), 1)
 * Parameters: lr, decay = 1 − lr·wd, b1, omb1 = 1 − β1, rhoBs = ρ·bs (the derived ones formed in
 * float64 on the host and rounded once).
 */
export const SOPHIA_G: StreamKernel = {
  key: 'sophiaG',
  rw: ['theta', 'm'],
  ro: ['h', 'g'],
  params: ['lr', 'decay', 'b1', 'omb1', 'rhoBs'],
  body: `
    let mi = p.b1 * m[i] + p.omb1 * g[i];
    m[i] = mi;
    let ratio = min(abs(mi) / (p.rhoBs * h[i] + T(1e-15)), T(1.0));
    theta[i] = theta[i] * p.decay - p.lr * sign(mi) * ratio;`,
};

/** h ← β·h + (1−β)·x in place. Parameters: beta, omb = 1 − β. */
export const EMA_IN_PLACE: StreamKernel = {
  key: 'ema-inplace',
  rw: ['h'],
  ro: ['x'],
  params: ['beta', 'omb'],
  body: 'h[i] = p.beta * h[i] + p.omb * x[i];',
};

/** out ← β·h + (1−β)·x. Parameters: beta, omb = 1 − β. */
export const EMA_OUT: StreamKernel = {
  key: 'ema-out',
  rw: ['out'],
  ro: ['h', 'x'],
  params: ['beta', 'omb'],
  body: 'out[i] = p.beta * h[i] + p.omb * x[i];',
};

/**
 * AdaHessian (as src/optim/adahessian.ts, D = the block-averaged |ĥ| given per element):
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·D²
 *   θ ← θ − lr·((m/bc1) / ((√v/√bc2)^k + ε) + wd·θ)
 * k = 1, ½ and 0 are specialised (no pow); other powers use pow(x, k), x ≥ 0.
 */
export function adahessianKernel(k: number): StreamKernel {
  const power = k === 1 ? 's' : k === 0.5 ? 'sqrt(s)' : k === 0 ? 'T(1.0)' : 'pow(s, T(p.k))';
  return {
    key: `adahessian:${k === 1 || k === 0.5 || k === 0 ? k : 'pow'}`,
    rw: ['theta', 'm', 'v'],
    ro: ['g', 'dg'],
    params: ['lr', 'wd', 'b1', 'omb1', 'b2', 'omb2', 'bc1', 'sqrtBc2', 'eps', 'k'],
    body: `
      let mi = p.b1 * m[i] + p.omb1 * g[i];
      m[i] = mi;
      let di = dg[i];
      let vi = p.b2 * v[i] + p.omb2 * (di * di);
      v[i] = vi;
      let s = sqrt(vi) / p.sqrtBc2;
      let th = theta[i];
      theta[i] = th - p.lr * ((mi / p.bc1) / (${power} + p.eps) + p.wd * th);`,
  };
}
