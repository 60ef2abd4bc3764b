/**
 * chain hands arrays it owns to members' in-place fast path. The result must equal composing the members'
 * pure `update`s bit for bit, and nothing the caller or a member still holds may be written.
 */
import t from 'tap';
import {
  addDecayedWeights,
  chain,
  scaleByAdahessian,
  scaleByAdam,
  scaleByLearningRate,
  scaleByLion,
  scaleBySophiaG,
  scaleBySophiaH,
  trace,
  warmupCosineSchedule,
  type GradientTransformation,
  type UpdateExtra,
} from '../../src/optim/index.js';

const D = 37;

function vec(seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: D }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

/** The reference: each member's pure update in turn, on fresh copies (no member ever sees a shared array). */
function composed(members: GradientTransformation[]) {
  return {
    init: (p: Float32Array) => members.map((m) => m.init(p)),
    update(
      g: Float32Array,
      state: unknown[],
      p: Float32Array,
      extra: UpdateExtra,
    ): [Float32Array, unknown[]] {
      let u: Float32Array = g.slice();
      const next = state.map((s, i) => {
        const [out, ns] = members[i].update(u.slice(), s, p, extra);
        u = out;
        return ns;
      });
      return [u, next];
    },
  };
}

const mask = Uint8Array.from({ length: D }, (_, i) => (i % 3 === 0 ? 0 : 1));
const lr = warmupCosineSchedule({ peak: 0.01, warmupSteps: 2, decaySteps: 8, endValue: 0.001 });
const tails = () => [addDecayedWeights(0.1, mask), scaleByLearningRate(lr)];
const cases: Record<string, () => GradientTransformation[]> = {
  adamw: () => [scaleByAdam({ b2: 0.95 }), ...tails()],
  sophiaG: () => [scaleBySophiaG({ rho: 0.05 }), ...tails()],
  sophiaH: () => [scaleBySophiaH({}), ...tails()],
  adahessian: () => [scaleByAdahessian({}), ...tails()],
  lion: () => [scaleByLion({}), ...tails()],
  'sgd (decay first, then momentum)': () => [
    addDecayedWeights(0.1, mask),
    trace({ decay: 0.9 }),
    scaleByLearningRate(0.1),
  ],
};

for (const [name, make] of Object.entries(cases)) {
  t.test(`${name}: chain equals the composed pure updates, bit for bit, over 8 steps`, async (t) => {
    const fast = chain(...make());
    const slow = composed(make());
    let p = vec(1);
    let sf = fast.init(p);
    let ss = slow.init(p);
    for (let step = 0; step < 8; step++) {
      const g = vec(100 + step);
      const gCopy = g.slice();
      const extra: UpdateExtra = {
        batchSize: 16,
        ...(step % 3 === 0 ? { hessianDiag: vec(200 + step, 2).map(Math.abs) } : {}),
      };
      const [uf, nf] = fast.update(g, sf, p, extra);
      const [us, ns] = slow.update(g, ss, p, extra);
      t.same(Array.from(g), Array.from(gCopy), `step ${step}: the caller's gradient is untouched`);
      t.same(Array.from(uf), Array.from(us), `step ${step}: updates`);
      t.same(nf, ns, `step ${step}: state`);
      sf = nf;
      ss = ns;
      p = p.map((x, i) => x + uf[i]);
    }
  });
}

t.test('a member that keeps its output is never written by a later in-place member', async (t) => {
  // Returns its input unchanged and remembers it: neither array may be overwritten downstream.
  const keeper: GradientTransformation<{ last: Float32Array | null }> = {
    init: () => ({ last: null }),
    update: (g) => [g, { last: g }],
  };
  const c = chain(keeper as GradientTransformation, scaleByLearningRate(0.5), scaleByLearningRate(2));
  const g = vec(7);
  const copy = g.slice();
  const [u, s] = c.update(g, c.init(g), g);
  t.same(Array.from(g), Array.from(copy), 'the gradient the keeper returned and stored is untouched');
  t.same(Array.from((s[0] as { last: Float32Array }).last), Array.from(copy));
  t.same(
    Array.from(u),
    Array.from(copy).map((x) => Math.fround(Math.fround(-0.5 * x) * -2)),
    'two sign-flipping scales: −2·(−0.5·g), rounded after each',
  );
  t.equal(
    chain(keeper as GradientTransformation).freshUpdates,
    false,
    'a chain of the keeper alone: not fresh',
  );
  t.equal(c.freshUpdates, true, 'the first scale copies, so the chain output is fresh');
});

t.test('updateInPlace of decay and the learning-rate scale equals update', async (t) => {
  const p = vec(3);
  const members: GradientTransformation[] = [
    addDecayedWeights(0.3, mask),
    addDecayedWeights(0),
    scaleByLearningRate(lr),
  ];
  for (const m of members) {
    const g = vec(4);
    const state = m.init(p);
    const [u, s1] = m.update(g, state, p);
    const buf = g.slice();
    const s2 = m.updateInPlace!(buf, state, p);
    t.same(Array.from(buf), Array.from(u));
    t.same(s2, s1);
  }
});
