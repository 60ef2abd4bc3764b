/**
 * The float32 exponential (`expForFloat32`, used by the float32 exp, GELU and softmax kernels) against
 * Math.exp: ≤ 1e-10 relative error over the whole float32 range, and after rounding to float32 it
 * overflows to Infinity, underflows to 0 and propagates NaN where Math.exp's float32 result does.
 */
import t from 'tap';
import { cpuExp, expForFloat32 } from '../../src/kernels/cpu/exp.js';

t.test('relative error against Math.exp on a dense grid over [−110, 95]', async (t) => {
  let worst = 0;
  let at = 0;
  for (let y = -103.9; y <= 88.7; y += 0.000731) {
    const want = Math.exp(y);
    const e = Math.abs(expForFloat32(y) - want) / want;
    if (e > worst) [worst, at] = [e, y];
  }
  t.ok(worst <= 1e-10, `worst relative error ${worst.toExponential(2)} at y = ${at.toFixed(4)}`);
});

t.test('float32 results at the edges equal Math.exp rounded to float32', async (t) => {
  const ys = [
    -Infinity,
    -1e6,
    -200,
    -104.5,
    -104,
    -103.97,
    -103.3,
    -88,
    -87.3,
    0,
    -0,
    1e-30,
    88.7,
    88.73,
    89,
    89.5,
    1e6,
    Infinity,
    NaN,
  ];
  const x = Float32Array.from(ys);
  const out = new Float32Array(ys.length).fill(NaN);
  cpuExp(x, out, 0);
  for (let i = 0; i < ys.length; i++) {
    const want = Math.fround(Math.exp(x[i]));
    const ok = Object.is(out[i], want) || Math.abs(out[i] - want) <= 1.2e-7 * Math.abs(want);
    t.ok(ok, `exp(${x[i]}) = ${out[i]}, Math.exp in float32: ${want}`);
  }
  const out64 = new Float64Array(3).fill(NaN);
  cpuExp(Float64Array.from([-745, 0.5, 709]), out64, 0);
  t.same([...out64], [Math.exp(-745), Math.exp(0.5), Math.exp(709)], 'float64 arrays use Math.exp itself');
});
