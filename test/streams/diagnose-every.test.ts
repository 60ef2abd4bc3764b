/**
 * diagnoseEvery against closed forms: λmax and trace of matrices with a known spectrum (including a
 * dominant negative eigenvalue, where λmax is not the largest magnitude), and a tiny MLP whose exact dense
 * Hessian (one HVP per coordinate) gives the reference top eigenvalue and trace.
 */
import t from 'tap';
import { Observable, lastValueFrom, toArray } from 'rxjs';
import { denseHessian } from '../../src/curvature/exact-diag.js';
import { hvpOperator, matrixOperator } from '../../src/diagnostics/operator.js';
import { symmetricEigen } from '../../src/diagnostics/symmetric-eigen.js';
import { initialParams, lossFunction } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { diagnoseEvery } from '../../src/streams/diagnose-every.js';
import type { TrainedState } from '../../src/streams/trained-state.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { StepMetrics } from '../../src/step/records.js';

/** A fake trainer: after step t, θ = base · (t + 1) (updated in place), metrics emitted synchronously. */
function scripted(base: Float32Array, steps: number) {
  const state: TrainedState = { step: 0, params: base.slice(), optState: null };
  const steps$ = new Observable<StepMetrics>((subscriber) => {
    for (let t = 0; t < steps; t++) {
      for (let i = 0; i < base.length; i++) state.params[i] = base[i] * (t + 1);
      state.step = t + 1;
      subscriber.next({
        step: t,
        loss: 0,
        gradNorm: 0,
        updateNorm: 0,
        predictions: 1,
        skipped: false,
        ms: 0,
      });
    }
    subscriber.complete();
  });
  return { steps$, state: () => state };
}

/** Q·diag(λ)·Qᵀ with Q the Householder reflection I − 2uuᵀ/uᵀu: a dense matrix of known spectrum. */
function withSpectrum(lambda: number[]): Float64Array {
  const n = lambda.length;
  const u = Array.from({ length: n }, (_, i) => 1 + i);
  const uu = u.reduce((s, x) => s + x * x, 0);
  const q = (i: number, j: number) => (i === j ? 1 : 0) - (2 * u[i] * u[j]) / uu;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q(i, k) * lambda[k] * q(j, k);
      a[i * n + j] = s;
    }
  return a;
}

t.test('λmax of a known spectrum, on θ of exactly the diagnosed steps', async (t) => {
  const spectrum = [5, 2, -1, 0.5];
  const a = withSpectrum(spectrum);
  const n = spectrum.length;
  // H(θ) = θ₀·A, and θ₀ = steps applied: the value tells which θ the stage used.
  const s = scripted(Float32Array.of(1, 0, 0, 0), 6);
  const out = await lastValueFrom(
    s.steps$.pipe(
      diagnoseEvery({
        every: 2,
        state: s.state,
        hvpAt: (p) => {
          const op = matrixOperator(a, n);
          return (v) => op(v).map((x) => x * p[0]);
        },
        trace: false,
        tol: 1e-8,
        maxIter: 500,
      }),
      toArray(),
    ),
  );
  const d = out.filter((m) => m.diagnostics).map((m) => m.diagnostics!);
  t.same(
    d.map((x) => x.step),
    [1, 3, 5],
    'after steps 2, 4, 6 (metrics steps 1, 3, 5)',
  );
  d.forEach((x, i) => {
    const exact = 5 * 2 * (i + 1);
    t.ok(Math.abs(x.lambdaMax! - exact) / exact < 1e-4, `λmax ${x.lambdaMax} vs ${exact}`);
    t.equal(x.trace, undefined, 'trace not asked for');
    t.ok(x.lambdaMaxIterations! > 1 && x.ms >= 0);
  });
});

t.test('λmax is the largest algebraic eigenvalue when a negative one dominates', async (t) => {
  const a = withSpectrum([-6, 3, 1]);
  const s = scripted(Float32Array.of(1, 0, 0), 1);
  const [m] = await lastValueFrom(
    s.steps$.pipe(
      diagnoseEvery({
        every: 1,
        state: s.state,
        hvpAt: () => matrixOperator(a, 3),
        trace: false,
        tol: 1e-9,
        maxIter: 1000,
      }),
      toArray(),
    ),
  );
  t.ok(Math.abs(m.diagnostics!.lambdaMax! - 3) < 1e-3, `λmax ${m.diagnostics!.lambdaMax} vs 3`);
});

t.test('the Hutchinson trace of a diagonal Hessian is exact (zᵢ² = 1)', async (t) => {
  const diag = [3, -1, 2.5, 0.25, 7];
  const a = new Float64Array(25);
  diag.forEach((x, i) => (a[i * 5 + i] = x));
  const s = scripted(Float32Array.of(1, 0, 0, 0, 0), 3);
  const out = await lastValueFrom(
    s.steps$.pipe(
      diagnoseEvery({
        every: 3,
        state: s.state,
        hvpAt: (p) => {
          const op = matrixOperator(a, 5);
          return (v) => op(v).map((x) => x * p[0]);
        },
        topEigenvalue: false,
      }),
      toArray(),
    ),
  );
  const d = out[2].diagnostics!;
  t.ok(Math.abs(d.trace! - 3 * 11.75) < 1e-9, `trace ${d.trace} vs ${3 * 11.75}`);
  t.equal(d.lambdaMax, undefined);
  t.equal(out[0].diagnostics, undefined);
});

t.test('a tiny MLP: λmax within 1% of the dense Hessian’s, trace within 4σ of its exact trace', async (t) => {
  const model = buildModel({ kind: 'mlp', sizes: [3, 4, 2], activation: 'tanh' });
  const theta = initialParams(model, 3) as Float32Array;
  const inputs = { data: Float32Array.from({ length: 6 * 3 }, (_, i) => Math.sin(1.7 * i)), shape: [6, 3] };
  const targets = Int32Array.from([0, 1, 1, 0, 1, 0]);
  const loss = lossFunction(model, inputs, targets);
  const n = theta.length;
  const h = denseHessian(loss, new Tensor(Float64Array.from(theta), [n]));
  const eig = symmetricEigen(h, n);
  const exactMax = Math.max(...eig.values);
  let exactTrace = 0;
  let offDiagonal = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (i === j) exactTrace += h[i * n + i];
      else offDiagonal += h[i * n + j] ** 2;
    }
  const probes = 200;
  const s = scripted(theta, 1);
  const [m] = await lastValueFrom(
    s.steps$.pipe(
      diagnoseEvery({
        every: 1,
        state: s.state,
        hvpAt: (p) => hvpOperator(loss, new Tensor(p, [n])),
        tol: 0,
        maxIter: probes,
        seed: 4,
      }),
      toArray(),
    ),
  );
  const d = m.diagnostics!;
  t.ok(exactMax > 0);
  t.ok(Math.abs(d.lambdaMax! - exactMax) / exactMax < 0.01, `λmax ${d.lambdaMax} vs dense ${exactMax}`);
  // Var(zᵀHz) = 2·Σ_{i≠j} H_ij² for Rademacher z.
  const sigma = Math.sqrt((2 * offDiagonal) / probes);
  t.equal(d.traceProbes, probes);
  t.ok(Math.abs(d.trace! - exactTrace) < 4 * sigma, `trace ${d.trace} vs exact ${exactTrace} (σ ${sigma})`);
});

t.test('bad options are refused, naming the option', async (t) => {
  const s = scripted(Float32Array.of(1), 1);
  const hvpAt = () => matrixOperator([1], 1);
  t.throws(
    () => diagnoseEvery({ every: 0, state: s.state, hvpAt }),
    /diagnoseEvery: every must be a positive integer, got 0/,
  );
  t.throws(
    () => diagnoseEvery({ every: 1, state: s.state, hvpAt, topEigenvalue: false, trace: false }),
    /both false; nothing to compute/,
  );
  t.throws(() => diagnoseEvery({ every: 1, state: s.state, hvpAt: 3 as never }), /hvpAt must be a function/);
});
