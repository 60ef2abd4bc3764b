import t from 'tap';
import { rng } from '../../src/random/counter-rng.js';
import {
  drive,
  eigenvaluesLargestFirst,
  finish,
  hutchinsonTrace,
  hutchinsonTraceSteps,
  lambdaMax,
  lambdaMaxSteps,
  matrixOperator,
  preconditionedLambdaMax,
  preconditionedLambdaMaxSteps,
  spectralDensity,
  spectralDensitySteps,
  topEigenvalues,
  topEigenvaluesSteps,
} from '../../src/diagnostics/index.js';
import { diagMatrix } from './fixtures/helpers.js';

/** A random symmetric n×n matrix (row-major). */
function symmetric(n: number, seed: number): Float64Array {
  const r = rng(seed, 'sym');
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      const x = r.normal();
      a[i * n + j] = x;
      a[j * n + i] = x;
    }
  return a;
}

const n = 12;
const hvp = matrixOperator(symmetric(n, 1), n);

t.test('driven to the end, each stage equals its synchronous form exactly', async (t) => {
  const groups = [
    { name: 'a', ranges: [[0, 5]] as [number, number][], params: 5 },
    { name: 'b', ranges: [[5, 12]] as [number, number][], params: 7 },
  ];
  const traceOpts = { tol: 1e-3, maxIter: 40, seed: 3, groups };
  t.same((await drive(hutchinsonTraceSteps(hvp, n, traceOpts))).result, hutchinsonTrace(hvp, n, traceOpts));
  const eigOpts = { k: 3, tol: 1e-6, maxIter: 200, seed: 4 };
  const eig = await drive(topEigenvaluesSteps(hvp, n, eigOpts));
  t.equal(eig.interrupted, false);
  t.same(eig.result, topEigenvalues(hvp, n, eigOpts));
  t.same((await drive(lambdaMaxSteps(hvp, n, { seed: 5 }))).result, lambdaMax(hvp, n, { seed: 5 }));
  const p = Array.from({ length: n }, (_, i) => 1 + i / 4);
  t.equal(
    (await drive(preconditionedLambdaMaxSteps(hvp, n, p, { seed: 6 }))).result.lambdaMax,
    preconditionedLambdaMax(hvp, n, p, { seed: 6 }),
  );
  const dOpts = { runs: 2, iterations: 6, seed: 7 };
  const d = (await drive(spectralDensitySteps(hvp, n, dOpts))).result;
  const want = spectralDensity(hvp, n, dOpts);
  t.same(d.runs, want.runs);
  t.same(Array.from(d.densityOnGrid(want.grid(50))), Array.from(want.densityOnGrid(want.grid(50))));
});

t.test('stopped after j probes, the trace is the mean of exactly those j probes', async (t) => {
  const controller = new AbortController();
  let seen = 0;
  const driven = await drive(hutchinsonTraceSteps(hvp, n, { tol: 0, maxIter: 100, seed: 2 }), {
    signal: controller.signal,
    onProgress: (p) => {
      seen = p.done;
      t.equal(p.total, 100);
      if (p.done === 7) controller.abort();
    },
  });
  t.equal(seen, 7);
  t.equal(driven.interrupted, true);
  const want = hutchinsonTrace(hvp, n, { tol: 0, maxIter: 7, seed: 2 });
  t.equal(driven.result.trace, want.trace, 'same probes, same mean');
  t.equal(driven.result.iterations, 7);
  t.equal(driven.result.converged, false);
});

t.test('stopped mid-way, eigenvalues keep what was found and mark the one in progress', async (t) => {
  // diag(9, −5, 3, 1, 0.5): power iteration by magnitude finds 9, then −5, then 3.
  const d = [9, -5, 3, 1, 0.5];
  const op = matrixOperator(diagMatrix(d), d.length);
  const full = topEigenvalues(op, d.length, { k: 3, tol: 1e-10, maxIter: 500, seed: 1 });
  const controller = new AbortController();
  const stopAt = full.iterations[0] + 2; // two HVPs into the second eigenvalue
  const driven = await drive(topEigenvaluesSteps(op, d.length, { k: 3, tol: 1e-10, maxIter: 500, seed: 1 }), {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.done >= stopAt) controller.abort();
    },
  });
  t.equal(driven.interrupted, true);
  t.equal(driven.result.eigenvalues.length, 2);
  t.equal(driven.result.eigenvalues[0], full.eigenvalues[0], 'the converged one unchanged');
  t.same(driven.result.converged, [true, false]);
  t.equal(driven.result.iterations[1], 2);
  t.ok(Math.abs(full.eigenvalues[0] - 9) < 1e-6 && Math.abs(full.eigenvalues[1] + 5) < 1e-6);
});

t.test('stopped mid-Lanczos, the density is the quadrature of the steps taken', async (t) => {
  const controller = new AbortController();
  const driven = await drive(spectralDensitySteps(hvp, n, { runs: 1, iterations: 10, seed: 3 }), {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.done === 4) controller.abort();
    },
  });
  t.equal(driven.interrupted, true);
  const want = spectralDensity(hvp, n, { runs: 1, iterations: 4, seed: 3 });
  t.same(driven.result.runs[0].nodes, want.runs[0].nodes, 'four Lanczos steps, the same nodes');
  let w = 0;
  for (const x of driven.result.runs[0].weights) w += x;
  t.ok(Math.abs(w - 1) < 1e-12, 'weights still sum to 1');
});

t.test('finish runs a stepwise algorithm to its end', async (t) => {
  t.same(finish(hutchinsonTraceSteps(hvp, n, { seed: 9 })), hutchinsonTrace(hvp, n, { seed: 9 }));
});

t.test('eigenvalues are reported largest first, each with its own converged flag', async (t) => {
  const d = [9, -12, 3];
  const eig = topEigenvalues(matrixOperator(diagMatrix(d), 3), 3, {
    k: 2,
    tol: 1e-12,
    maxIter: 400,
    seed: 1,
  });
  t.ok(Math.abs(eig.eigenvalues[0] + 12) < 1e-6, 'found by magnitude: −12 first');
  const sorted = eigenvaluesLargestFirst({ ...eig, converged: [true, false] });
  t.same(
    sorted.map((e) => Math.round(e.value)),
    [9, -12],
  );
  t.same(
    sorted.map((e) => e.converged),
    [false, true],
    'each flag travels with its eigenvalue',
  );
});
