/**
 * The float32 softmax kernels ('wasm-f32' backends of 'softmax', 'causalSoftmax', 'softmaxVjp',
 * 'logSoftmaxVjp') and their exponential, against float64 math computed here (Math.exp, naive loops):
 * the error bounds stated in softmax-check.ts and f32x4-exp.ts, row tails (widths not a multiple of
 * four, one column, causal rows of every width), rows with −Inf, very negative, equal and NaN entries,
 * determinism, float64 and empty inputs going to the CPU reference, the self-check rejecting a kernel
 * off by a little, and `HESSFLOW_KERNELS=exact` leaving the backends unregistered.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import {
  cpuCausalSoftmax,
  cpuLogSoftmaxVjp,
  cpuSoftmax,
  cpuSoftmaxVjp,
} from '../../src/kernels/cpu/softmax.js';
import { kernelBackends, activeKernelBackend } from '../../src/kernels/index.js';
import { type WasmMemory, instantiate } from '../../src/kernels/wasm/api.js';
import { assembleModule } from '../../src/kernels/wasm/assembler.js';
import { buildExpF32Array } from '../../src/kernels/wasm-f32/f32x4-exp.js';
import { FUSED_EXP } from '../../src/kernels/wasm-f32/fused-madd.js';
import {
  U32,
  f32SoftmaxSelfCheck,
  f32SoftmaxVjpSelfCheck,
  forwardBounds,
  vjpBounds,
} from '../../src/kernels/wasm-f32/softmax-check.js';
import { WasmF32Softmax } from '../../src/kernels/wasm-f32/softmax.js';
import type { SoftmaxVjpKernel } from '../../src/kernels/registry.js';
import { normals, uniforms } from '../helpers/random.js';

const NAMES = ['softmax', 'causalSoftmax', 'softmaxVjp', 'logSoftmaxVjp'] as const;

/** exp over float32 arrays through F32x4Exp alone (buildExpF32Array), or its x ≤ 0 form. */
function expKernel(nonPositive = false, fused = FUSED_EXP): (x: Float32Array) => Float32Array {
  const inst = instantiate(assembleModule([{ name: 'exp', fn: buildExpF32Array(nonPositive, fused) }]));
  const memory = inst.exports.memory as WasmMemory;
  const run = inst.exports.exp as (x: number, out: number, n: number) => void;
  return (x) => {
    const bytes = 16 * Math.ceil(x.length / 4);
    const need = 2 * bytes - memory.buffer.byteLength;
    if (need > 0) memory.grow(Math.ceil(need / 65536));
    new Float32Array(memory.buffer).set(x);
    if (x.length > 0) run(0, bytes, x.length);
    return new Float32Array(memory.buffer, bytes, x.length).slice();
  };
}

/** The float32 ulp at |y| (2^−149 in the subnormal range). */
const ulp = (y: number): number => {
  const a = Math.abs(Math.fround(y));
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
};

t.test('the exponential: within 1 ulp of Math.exp, subnormals, overflow, NaN and ±Inf', async (t) => {
  const exp = expKernel();
  // every 1009th float32 in [−104, 89]: the bit patterns of 0..89 and of −0..−104
  const bits: number[] = [];
  for (const [lo, hi] of [
    [0, 0x42b20000],
    [0x80000000, 0xc2d00000],
  ])
    for (let b = lo; b <= hi; b += 1009) bits.push(b >>> 0);
  const x = new Float32Array(Uint32Array.from(bits).buffer);
  const got = exp(x.subarray(0, x.length - (x.length % 4)));
  let worstNormal = 0;
  let worstSub = 0;
  for (let i = 0; i < got.length; i++) {
    const want = Math.exp(x[i]);
    if (Math.fround(want) === Infinity) {
      if (got[i] !== Infinity) t.fail(`exp(${x[i]}) = ${got[i]}, want Inf`);
      continue;
    }
    const e = Math.abs(got[i] - want) / ulp(want);
    if (want < 2 ** -126) worstSub = Math.max(worstSub, e);
    else worstNormal = Math.max(worstNormal, e);
  }
  t.ok(worstNormal <= 1, `normal results within 1 ulp (worst ${worstNormal.toFixed(3)}) of ${got.length}`);
  t.ok(worstSub <= 1.5, `subnormal results within 1.5·2^−149 (worst ${worstSub.toFixed(3)})`);
  const special = Float32Array.from([
    NaN,
    Infinity,
    -Infinity,
    0,
    -0,
    88.72,
    88.73,
    -103.9,
    -104,
    -1e30,
    1e30,
    1e-30,
  ]);
  const want = [NaN, Infinity, 0, 1, 1, Math.fround(Math.exp(Math.fround(88.72))), Infinity, 2 ** -149, 0, 0];
  const s = exp(Float32Array.from([...special, 0, 0, 0, 0]));
  for (let i = 0; i < want.length; i++) {
    const ok = i === 5 ? Math.abs(s[i] - want[i]) <= ulp(want[i]) : Object.is(s[i], want[i]);
    t.ok(ok, `exp(${special[i]}) = ${s[i]} (want ${want[i]})`);
  }
  t.equal(s[10], Infinity, 'exp(1e30) = Inf');
  t.equal(s[11], 1, 'exp(1e−30) = 1');
});

t.test('the exponential, fused and unfused multiply-adds: both within 1 ulp', async (t) => {
  t.comment(`the kernels use ${FUSED_EXP ? 'fused' : 'unfused'} multiply-adds on this engine`);
  for (const fused of FUSED_EXP ? [false, true] : [false]) {
    const exp = expKernel(true, fused);
    const x = Float32Array.from(uniforms(1 << 16, -87, 0, 5, 'exp-fused'));
    const got = exp(x);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const want = Math.exp(x[i]);
      worst = Math.max(worst, Math.abs(got[i] - want) / ulp(want));
    }
    t.ok(worst <= 1, `${fused ? 'fused' : 'unfused'}: worst ${worst.toFixed(3)} ulp`);
  }
});

t.test('the exponential for x ≤ 0: within 1 ulp, 0 below −126.5·ln 2, subnormals between', async (t) => {
  const exp = expKernel(true);
  const bits: number[] = [];
  for (let b = 0x80000000; b <= 0xc2d00000; b += 211) bits.push(b >>> 0);
  while (bits.length % 4) bits.push(0x80000000);
  const x = new Float32Array(Uint32Array.from(bits).buffer);
  const got = exp(x);
  let worstNormal = 0;
  let worstLow = 0;
  for (let i = 0; i < got.length; i++) {
    const want = Math.exp(x[i]);
    if (want >= 2 ** -126) worstNormal = Math.max(worstNormal, Math.abs(got[i] - want) / ulp(want));
    else worstLow = Math.max(worstLow, Math.abs(got[i] - want));
    if (x[i] < -126.5 * Math.LN2 - 1e-4 && got[i] !== 0)
      t.fail(`exp(${x[i]}) = ${got[i]}, want the flush to 0`);
  }
  t.ok(worstNormal <= 1, `normal results within 1 ulp (worst ${worstNormal.toFixed(3)}) of ${got.length}`);
  t.ok(worstLow < 2 ** -126, `results below 2^−126 within 2^−126 (worst ${worstLow.toExponential(2)})`);
  const s = exp(Float32Array.from([NaN, -Infinity, -0, 0, -1e-30, -1e30, -87.3, -88]));
  t.ok(Number.isNaN(s[0]), 'NaN → NaN');
  t.same([...s.subarray(1)], [0, 1, 1, 1, 0, Math.fround(Math.exp(Math.fround(-87.3))), 0], 'special values');
});

/** Naive float64 softmax / log-softmax of each row's live width, zeros after (causal). */
function naiveForward(x: Float32Array, rows: number, cols: number, mode: 'softmax' | 'log' | 'causal') {
  const want = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const w = mode === 'causal' ? (r % cols) + 1 : cols;
    let m = -Infinity;
    let nan = false;
    for (let j = 0; j < w; j++) {
      const v = x[r * cols + j];
      if (Number.isNaN(v)) nan = true;
      else m = Math.max(m, v);
    }
    let s = 0;
    for (let j = 0; j < w; j++) s += Math.exp(x[r * cols + j] - m);
    for (let j = 0; j < cols; j++) {
      const d = x[r * cols + j] - m;
      if (j >= w) want[r * cols + j] = 0;
      else if (nan || m === Infinity || m === -Infinity) want[r * cols + j] = NaN;
      else want[r * cols + j] = mode === 'log' ? d - Math.log(s) : Math.exp(d) / s;
    }
  }
  return want;
}

/** Naive float64 VJPs: y(g − Σ g·y), or g − exp(y)·Σ g. */
function naiveVjp(y: Float32Array, g: Float32Array, rows: number, cols: number, log: boolean) {
  const want = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += log ? g[r * cols + j] : g[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      want[i] = log ? g[i] - Math.exp(y[i]) * sum : y[i] * (g[i] - sum);
    }
  }
  return want;
}

/** The largest |got − want| / bound (≤ 1 within the bound), NaN/Inf placement exact, else Infinity. */
function worstRatio(got: Float32Array, want: Float64Array, bound: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(want[i])) {
      if (!Object.is(got[i], want[i])) return Infinity;
      continue;
    }
    const d = Math.abs(got[i] - want[i]);
    if (d === 0) continue;
    worst = Math.max(worst, d / bound[i]);
  }
  return worst;
}

/** Rows of spread logits, with special rows where there is room: see the header. */
function logits(rows: number, cols: number, spread: number, seed: number): Float32Array {
  const x = Float32Array.from(normals(rows * cols, seed, 'f32-sm', rows, cols), (v) => v * spread);
  if (rows >= 6 && cols >= 3) {
    x.fill(-0.25, cols, 2 * cols); // equal values
    x[cols] = -0; // −0 among them
    x[2 * cols] = -Infinity;
    x[2 * cols + 1] = -1e30;
    x[3 * cols + 1] = -90; // exp(x − m) in the subnormal range or below
    x[4 * cols + 1] = NaN;
    x[5 * cols + 2] = Infinity;
  }
  return x;
}

const SHAPES: readonly [number, number][] = [
  [1, 1],
  [3, 1],
  [2, 3],
  [7, 5],
  [9, 6],
  [18, 9],
  [64, 13],
  [128, 64],
  [2048, 80],
];

t.test('forward kernels: within the stated bounds of float64 math on every row width', async (t) => {
  const k = new WasmF32Softmax();
  const worst = { softmax: 0, log: 0, causal: 0 };
  let relWorst = 0;
  for (const [rows, cols] of SHAPES)
    for (const spread of [1, 8]) {
      const x = logits(rows, cols, spread, rows + cols);
      for (const mode of ['softmax', 'log', 'causal'] as const) {
        const got = new Float32Array(rows * cols).fill(NaN);
        if (mode === 'causal') k.causalSoftmax(x, rows, cols, got);
        else k.softmax(x, rows, cols, got, mode === 'log');
        const want = naiveForward(x, rows, cols, mode);
        const e = worstRatio(got, want, forwardBounds(want, rows, cols, mode));
        worst[mode] = Math.max(worst[mode], e);
        if (!(e <= 1)) t.fail(`${mode} ${rows}×${cols} spread ${spread}: ${e} of the bound`);
        if (mode === 'causal')
          for (let r = 0; r < rows; r++)
            for (let j = (r % cols) + 1; j < cols; j++)
              if (!Object.is(got[r * cols + j], 0)) t.fail(`causal ${rows}×${cols}: (${r}, ${j}) not 0`);
        if (mode === 'softmax' && rows === 2048)
          for (let i = 0; i < want.length; i++)
            if (want[i] > 2 ** -126) relWorst = Math.max(relWorst, Math.abs(got[i] - want[i]) / want[i]);
      }
    }
  t.ok(worst.softmax <= 1 && worst.log <= 1 && worst.causal <= 1, `within bounds: ${JSON.stringify(worst)}`);
  t.comment(`[2048, 80] softmax, logits N(0, 8²): worst relative error ${relWorst.toExponential(2)}`);
});

t.test(
  'special rows: NaN and +Inf rows NaN, −Inf entries 0, one column 1, causal zeros stay 0',
  async (t) => {
    const k = new WasmF32Softmax();
    const x = Float32Array.from([NaN, 1, 2, -Infinity, 0, 3, Infinity, 0, 1, 5, 5, 5]);
    const out = new Float32Array(12);
    k.softmax(x, 4, 3, out, false);
    t.ok(
      [0, 1, 2].every((i) => Number.isNaN(out[i])),
      'a NaN entry makes its row NaN',
    );
    t.equal(out[3], 0, '−Inf entry → 0');
    t.ok(Math.abs(out[4] + out[5] - 1) <= 4 * U32, 'the others sum to 1');
    t.ok(
      [6, 7, 8].every((i) => Number.isNaN(out[i])),
      '+Inf entry: NaN row, as the CPU reference',
    );
    t.same([...out.subarray(9)], [1 / 3, 1 / 3, 1 / 3].map(Math.fround), 'equal values: exactly 1/3 each');
    const c = new Float32Array(9);
    k.causalSoftmax(Float32Array.from([NaN, 7, 7, 1, 2, NaN, 0, 0, 0]), 3, 3, c);
    t.ok(Number.isNaN(c[0]) && c[1] === 0 && c[2] === 0, 'a NaN causal row keeps its masked zeros');
    t.equal(c[5], 0, 'a NaN past the live width is never read');
    const one = new Float32Array(3);
    k.softmax(Float32Array.from([-5, 1e30, -1e30]), 3, 1, one, false);
    t.same([...one], [1, 1, 1], 'one column: 1');
    k.softmax(Float32Array.from([-5, 1e30, -1e30]), 3, 1, one, true);
    t.same([...one], [0, 0, 0], 'one column, log: 0');
  },
);

t.test('VJPs: within the stated bounds of float64 math', async (t) => {
  const k = new WasmF32Softmax();
  let worst = 0;
  for (const [rows, cols] of SHAPES) {
    const n = rows * cols;
    const x = Float32Array.from(normals(n, cols, 'f32-vjp-x', rows), (v) => 3 * v);
    const g = Float32Array.from(normals(n, cols, 'f32-vjp-g', rows));
    for (const log of [false, true]) {
      const y = new Float32Array(n);
      if (log) cpuSoftmax(x, rows, cols, y, true);
      else if (rows % 2) cpuSoftmax(x, rows, cols, y, false);
      else cpuCausalSoftmax(x, rows, cols, y);
      const got = new Float32Array(n).fill(NaN);
      (log ? k.logSoftmaxVjp : k.softmaxVjp)(y, g, rows, cols, got);
      const e = worstRatio(got, naiveVjp(y, g, rows, cols, log), vjpBounds(y, g, rows, cols, log));
      worst = Math.max(worst, e);
      if (!(e <= 1)) t.fail(`${log ? 'logSoftmaxVjp' : 'softmaxVjp'} ${rows}×${cols}: ${e} of the bound`);
    }
  }
  t.ok(worst <= 1, `worst ${worst.toFixed(3)} of the bound`);
  // log-probabilities of any sign, and NaN/Inf in g: the row's sum carries them to every entry
  const y = Float32Array.from(uniforms(10, -9, 1, 3, 'lsv-y'));
  const g = Float32Array.from([1, 2, 3, 4, 5, NaN, 1, 1, 1, 1]);
  const got = new Float32Array(10);
  k.logSoftmaxVjp(y, g, 2, 5, got);
  const want = naiveVjp(y, g, 2, 5, true);
  t.ok(worstRatio(got, want, vjpBounds(y, g, 2, 5, true)) <= 1, 'log-softmax VJP, y of any sign');
  t.ok([...got.subarray(5)].every(Number.isNaN), 'a NaN in g: its row NaN');
});

t.test('deterministic: the same bits twice, whatever ran between', async (t) => {
  const k = new WasmF32Softmax();
  const [rows, cols] = [37, 13];
  const x = logits(rows, cols, 4, 9);
  const g = Float32Array.from(normals(rows * cols, 9, 'det-g'));
  const runAll = (): Float32Array[] => {
    const o = [0, 1, 2, 3, 4].map(() => new Float32Array(rows * cols));
    k.softmax(x, rows, cols, o[0], false);
    k.softmax(x, rows, cols, o[1], true);
    k.causalSoftmax(x, rows, cols, o[2]);
    k.softmaxVjp(o[0], g, rows, cols, o[3]);
    k.logSoftmaxVjp(o[1], g, rows, cols, o[4]);
    return o;
  };
  const first = runAll();
  // fill the padding after the regions with other data
  const big = Float32Array.from(normals(4096 * 3, 1, 'det-big'), (v) => 1e30 * v);
  k.softmax(big, 4096, 3, new Float32Array(big.length), false);
  const second = runAll();
  for (let a = 0; a < first.length; a++)
    t.same(new Uint32Array(second[a].buffer), new Uint32Array(first[a].buffer), `output ${a}: same bits`);
});

t.test('float64 and empty inputs go to the CPU reference', async (t) => {
  const k = new WasmF32Softmax();
  const x = Float64Array.from(normals(35, 2, 'f64'), (v) => 5 * v);
  const g = Float64Array.from(normals(35, 3, 'f64'));
  for (const [name, run] of [
    ['softmax', (o: Float64Array, f: typeof k.softmax | typeof cpuSoftmax) => f(x, 5, 7, o, false)],
    ['log-softmax', (o: Float64Array, f: typeof k.softmax | typeof cpuSoftmax) => f(x, 5, 7, o, true)],
  ] as const) {
    const [a, b] = [new Float64Array(35), new Float64Array(35)];
    run(a, k.softmax);
    run(b, cpuSoftmax);
    t.same(a, b, `${name}: the CPU reference's float64 result`);
  }
  const [c1, c2] = [new Float64Array(35), new Float64Array(35)];
  k.causalSoftmax(x, 5, 7, c1);
  cpuCausalSoftmax(x, 5, 7, c2);
  t.same(c1, c2, 'causal: the CPU reference');
  for (const [f, ref] of [
    [k.softmaxVjp, cpuSoftmaxVjp],
    [k.logSoftmaxVjp, cpuLogSoftmaxVjp],
  ] as const) {
    const [a, b] = [new Float64Array(35), new Float64Array(35)];
    f(x, g, 5, 7, a);
    ref(x, g, 5, 7, b);
    t.same(a, b, 'VJP: the CPU reference');
  }
  const empty = new Float32Array(0);
  k.softmax(empty, 0, 4, empty, false);
  k.causalSoftmax(empty, 0, 4, empty);
  k.softmaxVjp(empty, empty, 0, 4, empty);
  k.logSoftmaxVjp(empty, empty, 3, 0, empty);
  t.pass('0 elements: nothing to do, no error');
});

t.test('the self-checks pass the kernels and reject one off in one entry', async (t) => {
  const k = new WasmF32Softmax();
  t.ok(f32SoftmaxSelfCheck(k.softmax, k.causalSoftmax), 'forward kernels pass');
  t.ok(f32SoftmaxVjpSelfCheck(k.softmaxVjp, false), 'softmax VJP passes');
  t.ok(f32SoftmaxVjpSelfCheck(k.logSoftmaxVjp, true), 'log-softmax VJP passes');
  const off: SoftmaxVjpKernel = (y, g, rows, cols, out) => {
    k.softmaxVjp(y, g, rows, cols, out);
    out[out.length - 1] += 1e-4; // its bound is ≤ (⌈cols/8⌉ + 7)·u·6 (|y| ≤ 1, |g| ≤ 3)
  };
  t.notOk(f32SoftmaxVjpSelfCheck(off, false), 'a VJP off in one entry is rejected');
  t.notOk(
    f32SoftmaxSelfCheck((x, rows, cols, out, log) => {
      k.softmax(x, rows, cols, out, log);
      if (rows * cols > 20) out[7] += 1e-5;
    }, k.causalSoftmax),
    'a softmax off in one entry is rejected',
  );
});

t.test('registered and preferred in the default mode; HESSFLOW_KERNELS=exact leaves them out', async (t) => {
  for (const name of NAMES) {
    t.ok(kernelBackends(name).includes('wasm-f32'), `${name}: wasm-f32 registered`);
    t.equal(activeKernelBackend(name), 'wasm-f32', `${name}: wasm-f32 preferred`);
  }
  const script = `import('./src/kernels/index.ts').then((k) => console.log(JSON.stringify(${JSON.stringify(NAMES)}.map((n) => [k.kernelBackends(n), k.activeKernelBackend(n)]))))`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    env: { ...process.env, HESSFLOW_KERNELS: 'exact' },
    encoding: 'utf8',
  });
  t.equal(run.status, 0, `child exits 0 (${run.stderr.slice(0, 300)})`);
  const got = JSON.parse(run.stdout.trim()) as [string[], string][];
  for (const [i, name] of NAMES.entries()) {
    t.same(got[i][0], ['cpu', 'wasm'], `${name}: exact mode registers cpu and wasm only`);
    t.equal(got[i][1], 'wasm', `${name}: exact mode uses wasm`);
  }
});
