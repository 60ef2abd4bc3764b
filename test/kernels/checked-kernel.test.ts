import t from 'tap';
import { checkedOnce, worthwhileKernel, overlapsPartly } from '../../src/kernels/wasm/checked-kernel.js';

t.test('checkedOnce builds and checks on the first call only, and keeps only a kernel that passes', (t) => {
  let builds = 0;
  const good = checkedOnce(
    () => true,
    () => ({ id: ++builds }),
    () => true,
  );
  t.equal(builds, 0, 'nothing is built before the first call');
  const k = good();
  t.same(k, { id: 1 });
  t.equal(good(), k, 'the same kernel afterwards');
  t.equal(builds, 1, 'built once');
  t.equal(
    checkedOnce(
      () => false,
      () => 1,
      () => true,
    )(),
    null,
    'unsupported: null',
  );
  t.equal(
    checkedOnce(
      () => true,
      () => 1,
      () => false,
    )(),
    null,
    'failing its check: null',
  );
  let throws = 0;
  const thrower = checkedOnce(
    () => true,
    () => {
      throws++;
      throw new Error('no memory');
    },
    () => true,
  );
  t.equal(thrower(), null, 'a build that throws: null');
  t.equal(thrower(), null);
  t.equal(throws, 1, 'and it is not tried again');
  t.end();
});

t.test('worthwhileKernel: null below the threshold or for partly overlapping views', (t) => {
  const kernel = () => 'k';
  const buf = new Float32Array(16);
  t.equal(worthwhileKernel(kernel, 8, 7, [buf]), null, 'below the threshold');
  t.equal(worthwhileKernel(kernel, 8, 16, [buf, buf]), 'k', 'the same view twice (in place) is fine');
  t.equal(
    worthwhileKernel(kernel, 8, 8, [buf.subarray(0, 8), buf.subarray(8)]),
    'k',
    'disjoint views of one buffer',
  );
  t.equal(
    worthwhileKernel(kernel, 8, 8, [buf.subarray(0, 8), buf.subarray(4, 12)]),
    null,
    'partly overlapping',
  );
  t.notOk(overlapsPartly(buf, new Float32Array(16)), 'different buffers never overlap');
  t.ok(overlapsPartly(buf.subarray(0, 9), buf.subarray(0, 8)), 'same start, different length');
  t.end();
});
