/**
 * The WebAssembly flat add/sub/mul (the 'binary' kernel's wasm backend) against float64 loops rounded
 * once to float32 — what an IEEE float32 operation must give — on lengths with and without a partial
 * last vector, a broadcast scalar on either side, in place (out is an operand), after memory was grown
 * by a larger call, and on the cases it hands to the CPU reference (short arrays, other broadcasting,
 * float64). Outputs start as NaN. The registration self-check must reject a kernel that is wrong in
 * one element.
 */
import t from 'tap';
import { WasmElementwise } from '../../src/kernels/wasm/elementwise.js';
import { binarySelfCheck } from '../../src/kernels/wasm/exact-checks.js';
import { cpuBinary } from '../../src/kernels/cpu/elementwise.js';
import type { BinaryOp } from '../../src/kernels/registry.js';
import { normals } from '../helpers/random.js';

const OPS: Record<'add' | 'sub' | 'mul', (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
};

function operands(n: number, tag: string): [Float32Array, Float32Array] {
  // Magnitudes over many binades: cancellation, exact and inexact roundings all occur.
  const a = Float32Array.from(normals(n, 5, 'ew-a', tag), (v, i) => v * 2 ** ((i % 13) - 6));
  const b = Float32Array.from(normals(n, 5, 'ew-b', tag), (v, i) => v * 2 ** ((i % 7) - 3));
  return [a, b];
}

t.test('flat float32 add/sub/mul equal float64 results rounded once, every element written', async (t) => {
  const w = new WasmElementwise();
  for (const n of [64, 65, 66, 67, 1000, 131072, 70]) {
    for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
      const [a, b] = operands(n, `${op}${n}`);
      const out = new Float32Array(n).fill(NaN);
      w.kernel(op)(a, [1], b, [1], out, [n]);
      let bad = 0;
      for (let i = 0; i < n; i++) if (!Object.is(out[i], Math.fround(OPS[op](a[i], b[i])))) bad++;
      t.equal(bad, 0, `${op} n=${n}: every element is the rounded float64 result`);
    }
  }
});

t.test('a single broadcast value: a op s for every element, in operand order', async (t) => {
  const w = new WasmElementwise();
  const shape = [4, 8, 5];
  const n = 160;
  const [a] = operands(n, 'scalar');
  const s = Float32Array.of(-0.2734375 * Math.PI);
  for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
    const out = new Float32Array(n).fill(NaN);
    w.kernel(op)(a, [40, 5, 1], s, [0, 0, 0], out, shape);
    let bad = 0;
    for (let i = 0; i < n; i++) if (!Object.is(out[i], Math.fround(OPS[op](a[i], s[0])))) bad++;
    t.equal(bad, 0, `${op} with a broadcast scalar: every element is the rounded float64 result`);
  }
});

t.test('a single broadcast value first: s op b for every element (1 − y²)', async (t) => {
  const w = new WasmElementwise();
  const shape = [4, 8, 5];
  const n = 160;
  const [, b] = operands(n, 'scalar-first');
  for (const s of [Float32Array.of(1), Float32Array.of(-0.2734375 * Math.PI)]) {
    for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
      const out = new Float32Array(n).fill(NaN);
      w.kernel(op)(s, [0, 0, 0], b, [40, 5, 1], out, shape);
      let bad = 0;
      for (let i = 0; i < n; i++) if (!Object.is(out[i], Math.fround(OPS[op](s[0], b[i])))) bad++;
      t.equal(bad, 0, `${s[0]} ${op} b: every element is the rounded float64 result`);
    }
  }
});

t.test('in place: out may be either operand', async (t) => {
  const w = new WasmElementwise();
  const [a, b] = operands(203, 'inplace');
  const want = Float32Array.from(a, (v, i) => v + b[i]);
  const into = a.slice();
  w.kernel('add')(into, [1], b, [1], into, [into.length]);
  t.same([...into], [...want], 'out = a');
  const into2 = b.slice();
  w.kernel('add')(a, [1], into2, [1], into2, [into2.length]);
  t.same([...into2], [...want], 'out = b');
});

t.test('cases it does not handle go to the CPU reference and match it exactly', async (t) => {
  const w = new WasmElementwise();
  const [a, b] = operands(96, 'fallback');
  const check = (label: string, op: BinaryOp, run: (k: typeof w.kernel) => Float32Array | Float64Array) => {
    const got = run((o) => w.kernel(o));
    const want = run((o) => cpuBinary(o));
    t.ok(
      [...got].every((v, i) => Object.is(v, want[i])),
      `${label} (${op})`,
    );
  };
  check('short array', 'add', (k) => {
    const o = new Float32Array(10).fill(NaN);
    k('add')(a, [1], b, [1], o, [10]);
    return o;
  });
  check('broadcast row vector', 'mul', (k) => {
    const o = new Float32Array(96).fill(NaN);
    k('mul')(a, [8, 1], b, [0, 1], o, [12, 8]);
    return o;
  });
  check('transposed a with a broadcast scalar', 'mul', (k) => {
    const o = new Float32Array(96).fill(NaN);
    k('mul')(a, [1, 12], b, [0, 0], o, [12, 8]);
    return o;
  });
  check('a broadcast scalar with a transposed b', 'sub', (k) => {
    const o = new Float32Array(96).fill(NaN);
    k('sub')(b, [0, 0], a, [1, 12], o, [12, 8]);
    return o;
  });
  check('float64', 'sub', (k) => {
    const o = new Float64Array(96).fill(NaN);
    k('sub')(Float64Array.from(a), [1], Float64Array.from(b), [1], o, [96]);
    return o;
  });
  check('another op (div)', 'div', (k) => {
    const o = new Float32Array(96).fill(NaN);
    k('div')(a, [1], b, [1], o, [96]);
    return o;
  });
});

t.test('the self-check passes the wasm kernel and rejects one wrong in a single element', async (t) => {
  const w = new WasmElementwise();
  t.ok(binarySelfCheck((op) => w.kernel(op)));
  const wrong = (op: BinaryOp) => {
    const k = w.kernel(op);
    return ((a, as, b, bs, out, shape) => {
      k(a, as, b, bs, out, shape);
      if (op === 'sub' && out.length > 70) out[70] = Math.fround(out[70] * (1 + 2 ** -20));
    }) as ReturnType<typeof cpuBinary>;
  };
  t.notOk(binarySelfCheck(wrong));
});
