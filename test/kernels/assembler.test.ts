/**
 * The WebAssembly assembler: LEB128 encodings against known values, and small generated modules that
 * the engine validates and runs (SIMD loads, splats, multiply and add).
 */
import t from 'tap';
import { FunctionBuilder, assembleModule, sleb, uleb } from '../../src/kernels/wasm/assembler.js';
import { instantiate, validates } from '../../src/kernels/wasm/api.js';
import { buildGemmModule } from '../../src/kernels/wasm/gemm-module.js';

t.test('LEB128', async (t) => {
  // Values from the DWARF/Wikipedia LEB128 examples and edge cases.
  t.same(uleb(0), [0x00]);
  t.same(uleb(127), [0x7f]);
  t.same(uleb(128), [0x80, 0x01]);
  t.same(uleb(624485), [0xe5, 0x8e, 0x26]);
  t.same(uleb(2 ** 32 - 1), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  t.same(sleb(0), [0x00]);
  t.same(sleb(63), [0x3f]);
  t.same(sleb(64), [0xc0, 0x00]);
  t.same(sleb(-1), [0x7f]);
  t.same(sleb(-64), [0x40]);
  t.same(sleb(-65), [0xbf, 0x7f]);
  t.same(sleb(-123456), [0xc0, 0xbb, 0x78]);
  t.throws(() => uleb(-1));
  t.throws(() => sleb(2 ** 31));
});

t.test('a hand-built SIMD function runs: out[0..4] = x[0..4] * splat(s) + y[0..4]', async (t) => {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32']); // x, s, y, out (byte addresses)
  const v = f.local('v128');
  f.get(0).simd('v128.load', { align: 4, offset: 0 });
  f.get(1).simd('v128.load32_splat', { align: 2, offset: 0 });
  f.simd('f32x4.mul').set(v);
  f.get(3)
    .get(v)
    .get(2)
    .simd('v128.load', { align: 4, offset: 0 })
    .simd('f32x4.add')
    .simd('v128.store', { align: 4, offset: 0 });
  const bytes = assembleModule([{ name: 'axpy4', fn: f }]);
  t.ok(validates(bytes));
  const inst = instantiate(bytes);
  const mem = new Float32Array((inst.exports.memory as { buffer: ArrayBuffer }).buffer);
  mem.set([1, 2, 3, 4], 0); // x at byte 0
  mem[4] = 10; // s at byte 16
  mem.set([0.5, -1, 0, 100], 8); // y at byte 32
  (inst.exports.axpy4 as (...a: number[]) => void)(0, 16, 32, 64);
  t.same([...mem.subarray(16, 20)], [10.5, 19, 30, 140]);
});

t.test('invalid bytes are rejected, and the gemm module validates', async (t) => {
  const f = new FunctionBuilder([]);
  f.simd('f32x4.add'); // nothing on the stack: invalid
  t.notOk(validates(assembleModule([{ name: 'bad', fn: f }])));
  t.ok(
    validates(
      buildGemmModule(
        { type: 'f32', mr: 4, nr: 8, fused: false },
        { type: 'f64', mr: 4, nr: 4, fused: false },
      ),
    ),
  );
  t.throws(
    () =>
      buildGemmModule(
        { type: 'f32', mr: 4, nr: 6, fused: false },
        { type: 'f64', mr: 4, nr: 4, fused: false },
      ),
    /bad tile/,
  );
  const open = new FunctionBuilder([]);
  t.throws(() => {
    open.loop(() => {
      open.encode();
    });
  }, /unclosed block/);
});

t.test('f64x2 lane ops: pmin/pmax clamp as JavaScript ternaries, truncation, gather by lane', async (t) => {
  // out[0..2] = pmin(pmax(x, lo), hi); idx = trunc_sat(x) + 1 (as i32 lanes);
  // g = [table[idx0], table[idx1]] by a scalar load and a lane load.
  const f = new FunctionBuilder(['i32', 'i32', 'i32']); // x (2 f64), table (f64), out (4 f64)
  const [x, table, out] = [0, 1, 2];
  const k = f.local('v128');
  const g = f.local('v128');
  const F64 = { align: 3, offset: 0 };
  f.get(out).get(x).simd('v128.load', { align: 4, offset: 0 });
  f.f64(-2).simd('f64x2.splat').simd('f64x2.pmax').f64(3).simd('f64x2.splat').simd('f64x2.pmin');
  f.simd('v128.store', { align: 4, offset: 0 });
  f.get(x).simd('v128.load', { align: 4, offset: 0 }).simd('i32x4.trunc_sat_f64x2_s_zero');
  f.i32(1).simd('i32x4.splat').simd('i32x4.add').i32(3).simd('i32x4.shl');
  f.get(table).simd('i32x4.splat').simd('i32x4.add').set(k);
  f.get(k).lane('i32x4.extract_lane', 0).scalar('f64.load', F64).simd('f64x2.splat').set(g);
  f.get(k).lane('i32x4.extract_lane', 1).get(g).lane('v128.load64_lane', 1, F64).set(g);
  f.get(out).get(g).simd('v128.store', { align: 4, offset: 16 });
  const bytes = assembleModule([{ name: 'f', fn: f }]);
  t.ok(validates(bytes));
  const inst = instantiate(bytes);
  const mem = new Float64Array((inst.exports.memory as { buffer: ArrayBuffer }).buffer);
  const tableAt = 64;
  mem.set([10, 11, 12, 13, 14, 15], tableAt / 8);
  const clamp = (v: number): number => {
    const w = v < -2 ? -2 : v;
    return 3 < w ? 3 : w;
  };
  for (const [a, b] of [
    [NaN, 2.7],
    [-7, 9],
    [-0, 0],
    [-1.5, 3],
    [Infinity, -Infinity],
  ]) {
    mem.set([a, b], 0);
    mem.fill(NaN, 2, 6);
    (inst.exports.f as (...args: number[]) => void)(0, tableAt, 16);
    t.ok(Object.is(mem[2], clamp(a)) && Object.is(mem[3], clamp(b)), `clamp of ${a}, ${b}`);
    // trunc_sat saturates ±∞ and maps NaN to 0, like `| 0` on in-range values.
    const idx = (v: number): number =>
      Number.isNaN(v) ? 0 : v === Infinity ? 2 ** 31 - 1 : v === -Infinity ? -(2 ** 31) : Math.trunc(v);
    const want = [a, b].map((v) => {
      const i = idx(v) + 1;
      return i >= 0 && i < 6 ? 10 + i : undefined;
    });
    if (want.every((w) => w !== undefined)) t.same([mem[4], mem[5]], want, `gather at ${a}, ${b}`);
  }
});
