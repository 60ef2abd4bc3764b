/**
 * The WebAssembly vector passes (src/kernels/wasm/vector-ops.ts) against references written here:
 * Math.fround of the float64 expression for the elementwise passes (compared with Object.is on every
 * element), and for the sum of squares the documented eight-partial-sum order exactly plus a
 * compensated sum within the order's error bound. Lengths straddle the SIMD step, the size threshold
 * and the chunk size; operands are views at byte offsets that are not multiples of 16, in ArrayBuffers
 * and SharedArrayBuffers, in place and not; memory around the views and unwritten inputs must not change.
 */
import t from 'tap';
import {
  addIntoLoop,
  addScaledIntoLoop,
  scaleIntoLoop,
  sumOfSquaresLoop,
} from '../../src/kernels/cpu/passes.js';
import { addInto, addScaledInto, allFinite, scaleInto, sumOfSquares } from '../../src/kernels/passes.js';
import {
  WasmVectorOps,
  vectorOpsSelfCheck,
  FUSED_TIE,
  type VectorOpsKernel,
} from '../../src/kernels/wasm/vector-ops.js';
import { normals, uniforms } from '../helpers/random.js';
import { surroundingsIntact, view } from './view-check.js';

const LENGTHS = [0, 1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1023, 16383, 16384, 16385, 269322];
const SPECIALS = [0, -0, 1e-45, -1e-45, 1.1e-38, -5e-40, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 65504];
/** g = 1, p = 7 with this wd rounds differently through a fused multiply-add (see FUSED_TIE). */
const FMA_WD = FUSED_TIE;

function values(n: number, seed: number, withSpecials = true): Float32Array {
  const z = normals(n, seed, 'vector-ops-z');
  const e = uniforms(n, -150, 128, seed, 'vector-ops-e');
  const v = Float32Array.from(z, (x, i) => x * 2 ** e[i]);
  if (withSpecials) for (let i = seed % 3; i < n; i += 4) v[i] = SPECIALS[(i + seed) % SPECIALS.length];
  return v;
}

function firstDifference(got: Float32Array, want: ArrayLike<number>): number {
  if (got.length !== want.length) return -2;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) return i;
  return -1;
}

const ref = {
  add: (a: Float32Array, b: Float32Array) => Float64Array.from(a, (x, i) => Math.fround(x + b[i])),
  scale: (x: Float32Array, f: number) => Float64Array.from(x, (v) => Math.fround(f * v)),
  addScaled: (g: Float32Array, p: Float32Array, wd: number) =>
    Float64Array.from(g, (x, i) => Math.fround(x + wd * p[i])),
};

/** The kernel class directly (no size threshold; its memory never fails to grow here) and the public functions. */
const w = new WasmVectorOps();
const direct = {
  addInto: (d: Float32Array, s: Float32Array) => void w.addInto(d, s),
  scaleInto: (o: Float32Array, x: Float32Array, f: number) => void w.scaleInto(o, x, f),
  addScaledInto: (o: Float32Array, g: Float32Array, p: Float32Array, wd: number) =>
    void w.addScaledInto(o, g, p, wd),
};
const FLAVOURS = [
  ['kernel', direct],
  ['public', { addInto, scaleInto, addScaledInto }],
] as const;
const LAYOUTS: [number, boolean][] = [
  [0, false],
  [1, false],
  [3, true],
  [0, true],
];

t.test('the engine has the kernel and it passes its self-check', async (t) => {
  t.ok(WasmVectorOps.supported(), 'WebAssembly SIMD available');
  t.ok(vectorOpsSelfCheck(w), 'self-check passes');
});

t.test('addInto: float32 sums, element for element', async (t) => {
  let bad = 0;
  for (const [name, ops] of FLAVOURS) {
    for (const n of LENGTHS) {
      for (const [at, shared] of LAYOUTS) {
        const [a, b] = [values(n, n + 1), values(n, n + 2)];
        const want = ref.add(a, b);
        const dst = view(a, at, shared);
        const src = view(b, at + 2, !shared);
        ops.addInto(dst, src);
        const d = firstDifference(dst, want);
        const ok =
          d === -1 && firstDifference(src, b) === -1 && surroundingsIntact(dst) && surroundingsIntact(src);
        if (!ok) t.fail(`${name} n ${n} at ${at} shared ${shared}: first difference ${d}`);
        bad += ok ? 0 : 1;
        // dst += dst doubles in place.
        const twice = view(b, at, shared);
        ops.addInto(twice, twice);
        if (firstDifference(twice, ref.add(b, b)) !== -1) {
          bad++;
          t.fail(`${name} n ${n} aliased`);
        }
      }
    }
  }
  t.equal(bad, 0, 'all identical');
});

t.test('scaleInto: float64 product rounded once, in place and not', async (t) => {
  let bad = 0;
  for (const [name, ops] of FLAVOURS) {
    for (const n of LENGTHS) {
      const x = values(n, n + 3);
      for (const f of [-1e-3 * Math.PI, 0.999999, 1 / 3, 3e38, 1e-40, -0, Infinity]) {
        for (const [at, shared] of LAYOUTS) {
          const want = ref.scale(x, f);
          const out = view(new Float32Array(n).fill(5), at, shared);
          const xv = view(x, at + 1, shared);
          ops.scaleInto(out, xv, f);
          const ok =
            firstDifference(out, want) === -1 &&
            firstDifference(xv, x) === -1 &&
            surroundingsIntact(out) &&
            surroundingsIntact(xv);
          const inPlace = view(x, at, !shared);
          ops.scaleInto(inPlace, inPlace, f);
          const okInPlace = firstDifference(inPlace, want) === -1 && surroundingsIntact(inPlace);
          if (!ok || !okInPlace) t.fail(`${name} n ${n} f ${f} at ${at}: ${ok} / ${okInPlace}`);
          bad += ok && okInPlace ? 0 : 1;
        }
      }
    }
  }
  t.equal(bad, 0, 'all identical');
});

t.test('addScaledInto: g + wd·p in float64, unfused, in place and not', async (t) => {
  let bad = 0;
  for (const [name, ops] of FLAVOURS) {
    for (const n of LENGTHS) {
      const [g, p] = [values(n, n + 4), values(n, n + 5)];
      for (const wd of [0.01, 1e-7, 0.1 / 3, FMA_WD, 2e38, -0]) {
        if (wd === FMA_WD) {
          // Elements where a fused multiply-add would round differently (see FMA_WD), tail included.
          for (const i of [0, 5, 17, n - 1, n - 2]) if (i >= 0 && i < n) [g[i], p[i]] = [1, 7];
          if (n > 9) [g[9], p[9]] = [-1, -7];
        }
        for (const [at, shared] of LAYOUTS) {
          const want = ref.addScaled(g, p, wd);
          const out = view(new Float32Array(n).fill(5), at, shared);
          const [gv, pv] = [view(g, at + 1, !shared), view(p, at + 2, shared)];
          ops.addScaledInto(out, gv, pv, wd);
          const ok =
            firstDifference(out, want) === -1 &&
            firstDifference(gv, g) === -1 &&
            firstDifference(pv, p) === -1 &&
            [out, gv, pv].every(surroundingsIntact);
          const inPlace = view(g, at, shared);
          ops.addScaledInto(inPlace, inPlace, pv, wd);
          const okInPlace = firstDifference(inPlace, want) === -1 && firstDifference(pv, p) === -1;
          if (!ok || !okInPlace) t.fail(`${name} n ${n} wd ${wd} at ${at}: ${ok} / ${okInPlace}`);
          bad += ok && okInPlace ? 0 : 1;
        }
      }
    }
  }
  t.equal(bad, 0, 'all identical');
  // The crafted case itself: JS gives 1 where a fused multiply-add would give 1 + 2^-23.
  const out = new Float32Array(300);
  addScaledInto(out, new Float32Array(300).fill(1), new Float32Array(300).fill(7), FMA_WD);
  t.ok(
    out.every((v) => v === 1),
    'unfused rounding on the crafted tie',
  );
});

/** Σ v² in the documented order, written out independently: s[i mod 8], then the fixed tree. */
function documentedOrder(v: ArrayLike<number>): number {
  const s = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < v.length; i++) s[i % 8] += v[i] * v[i];
  return s[0] + s[4] + (s[2] + s[6]) + (s[1] + s[5] + (s[3] + s[7]));
}

/** Neumaier-compensated Σ v²: within a couple of roundings of the exact sum. */
function compensated(v: ArrayLike<number>): number {
  let [s, c] = [0, 0];
  for (let i = 0; i < v.length; i++) {
    const x = v[i] * v[i];
    const u = s + x;
    c += Math.abs(s) >= Math.abs(x) ? s - u + x : x - u + s;
    s = u;
  }
  return s + c;
}

t.test('sumOfSquares: the documented order, close to the exact sum, exact on integers', async (t) => {
  let bad = 0;
  for (const n of LENGTHS) {
    for (const [at, shared] of LAYOUTS) {
      const x = Float32Array.from(normals(n, n + 6, 'sos'), (v, i) => v * 2 ** ((i % 50) - 25));
      const v = view(x, at, shared);
      const kernel = w.sumOfSquares(v);
      const pub = sumOfSquares(v);
      const want = documentedOrder(x);
      const exact = compensated(x);
      // Each partial sum has ⌈n/8⌉ terms, then three more additions: the relative error bound.
      const bound = (Math.ceil(n / 8) + 4) * 2 ** -53 * exact;
      const ints = Float32Array.from(uniforms(n, -1000, 1000, n, 'sos-int'), Math.round);
      let seq = 0;
      for (let i = 0; i < n; i++) seq += ints[i] * ints[i];
      const ok =
        Object.is(kernel, want) &&
        Object.is(pub, want) &&
        Object.is(sumOfSquaresLoop(v), want) &&
        Math.abs(kernel! - exact) <= bound &&
        sumOfSquares(view(ints, at, shared)) === seq &&
        surroundingsIntact(v) &&
        firstDifference(v, x) === -1;
      if (!ok) t.fail(`n ${n} at ${at}: kernel ${kernel} public ${pub} order ${want} exact ${exact}`);
      bad += ok ? 0 : 1;
    }
  }
  t.equal(bad, 0, 'all within bounds');
  const big = new Float32Array(1000).fill(1);
  big[777] = Infinity;
  t.equal(sumOfSquares(big), Infinity, 'an infinity gives Infinity');
  big[778] = NaN;
  t.ok(Number.isNaN(sumOfSquares(big)), 'a NaN gives NaN');
  big.fill(3.4e38);
  const huge = sumOfSquares(big);
  t.ok(Math.abs(huge / (1000 * big[0] ** 2) - 1) < 1e-14, `huge squares do not overflow (${huge})`);
});

t.test('mismatched lengths throw RangeError', async (t) => {
  const [a, b] = [new Float32Array(300), new Float32Array(299)];
  t.throws(() => addInto(a, b), RangeError);
  t.throws(() => scaleInto(a, b, 2), RangeError);
  t.throws(() => addScaledInto(a, a, b, 2), RangeError);
});

t.test('partly overlapping views give the loop results', async (t) => {
  const base = values(1100, 9, false);
  for (const shift of [-1, 1, 4]) {
    const [want, got] = [base.slice(), base.slice()];
    const sub = (v: Float32Array, s: number) => v.subarray(50 + s, 1050 + s);
    scaleIntoLoop(sub(want, shift), sub(want, 0), 0.3);
    scaleInto(sub(got, shift), sub(got, 0), 0.3);
    t.equal(firstDifference(got, want), -1, `scaleInto shift ${shift}`);
    const [want2, got2] = [base.slice(), base.slice()];
    addIntoLoop(sub(want2, shift), sub(want2, 0));
    addInto(sub(got2, shift), sub(got2, 0));
    t.equal(firstDifference(got2, want2), -1, `addInto shift ${shift}`);
    const [want3, got3] = [base.slice(), base.slice()];
    addScaledIntoLoop(sub(want3, 0), sub(want3, 0), sub(want3, shift), 0.5);
    addScaledInto(sub(got3, 0), sub(got3, 0), sub(got3, shift), 0.5);
    t.equal(firstDifference(got3, want3), -1, `addScaledInto shift ${shift}`);
  }
});

t.test('the self-check rejects kernels that are off', async (t) => {
  const broken = (patch: Partial<VectorOpsKernel>): VectorOpsKernel => ({
    addInto: (d, s) => w.addInto(d, s),
    scaleInto: (o, x, f) => w.scaleInto(o, x, f),
    addScaledInto: (o, g, p, wd) => w.addScaledInto(o, g, p, wd),
    sumOfSquares: (v) => w.sumOfSquares(v),
    allFinite: (v) => w.allFinite(v),
    ...patch,
  });
  t.ok(vectorOpsSelfCheck(broken({})), 'the faithful wrapper passes');
  t.notOk(
    vectorOpsSelfCheck(
      broken({
        scaleInto: (o, x, f) => {
          for (let i = 0; i < o.length; i++) o[i] = Math.fround(Math.fround(f) * x[i]);
          return true;
        },
      }),
    ),
    'float32 arithmetic on a float64 factor',
  );
  t.notOk(
    vectorOpsSelfCheck(
      broken({
        addInto: (d, s) => {
          w.addInto(d, s);
          if (d.length === 37) d[36] = 0;
          return true;
        },
      }),
    ),
    'one wrong tail element',
  );
  t.notOk(
    vectorOpsSelfCheck(
      broken({
        addScaledInto: (o, g, p, wd) => {
          for (let i = 0; i < o.length; i++) o[i] = g[i] + Math.fround(wd * p[i]);
          return true;
        },
      }),
    ),
    'product rounded to float32',
  );
  t.notOk(
    vectorOpsSelfCheck(broken({ sumOfSquares: (v) => v.reduce((s, x) => s + x * x, 0) })),
    'a sum in another order',
  );
  t.notOk(
    vectorOpsSelfCheck(broken({ allFinite: (v) => v.subarray(0, v.length - 1).every(Number.isFinite) })),
    'a finiteness check that misses the last element',
  );
});

t.test('allFinite finds one ±Infinity or NaN anywhere, tails and chunk edges included', async (t) => {
  let bad = 0;
  for (const n of [1, 3, 256, 257, 16383, 16384, 16385, 40_001]) {
    const v = Float32Array.from(normals(n, n, 'finite'), (x, i) => x * 2 ** ((i % 200) - 100));
    if (w.allFinite(v) !== true) bad++;
    for (const i of [0, n - 1, n >> 1, Math.min(n - 1, 16384)]) {
      for (const x of [Infinity, -Infinity, NaN]) {
        const u = v.slice();
        u[i] = x;
        if (w.allFinite(u) !== false || allFinite(u) !== false) {
          bad++;
          t.fail(`n ${n}: ${x} at ${i} not found`);
        }
      }
    }
    // The largest finite values and subnormals are finite.
    const edge = v.slice();
    edge[0] = 3.4028234663852886e38;
    edge[n - 1] = -1e-45;
    if (w.allFinite(edge) !== true || allFinite(edge) !== true) bad++;
  }
  t.equal(bad, 0);
});
