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
