import t from 'tap';
import { quadratic } from '../../src/data/synthetic.js';
import { matrixOperator, spectralDensity } from '../../src/diagnostics/index.js';
import { diagMatrix } from './fixtures/helpers.js';

t.test('SLQ on a diagonal matrix puts mass multiplicity/n at each eigenvalue', async (t) => {
  const spectrum: [number, number][] = [
    [-1, 3],
    [0.5, 5],
    [2, 8],
    [7, 4],
  ];
  const values = spectrum.flatMap(([l, m]) => Array<number>(m).fill(l));
  const n = values.length;
  const sd = spectralDensity(matrixOperator(diagMatrix(values), n), n, { runs: 3, iterations: 100, seed: 1 });
  t.equal(sd.runs.length, 3);
  for (const run of sd.runs) {
    t.equal(run.nodes.length, 4, 'the Krylov space is invariant after one step per distinct eigenvalue');
    const total = run.weights.reduce((a, b) => a + b, 0);
    t.ok(Math.abs(total - 1) < 1e-12);
    for (const [l, m] of spectrum) {
      let mass = 0;
      run.nodes.forEach((x, j) => {
        if (Math.abs(x - l) < 1e-6) mass += run.weights[j];
      });
      t.ok(Math.abs(mass - m / n) < 1e-10, `mass at ${l}: ${mass} vs ${m / n}`);
    }
  }
  t.ok(Math.abs(sd.lambdaMin + 1) < 1e-9 && Math.abs(sd.lambdaMax - 7) < 1e-9);
  t.ok(Math.abs(sd.sigmaSquared - 8e-5) < 1e-12, 'σ² = 1e-5 · max(1, λmax − λmin)');

  // The broadened density integrates to the same masses.
  const grid = sd.grid(40000);
  const dens = sd.densityOnGrid(grid);
  const h = grid[1] - grid[0];
  let all = 0;
  for (const x of dens) all += x * h;
  t.ok(Math.abs(all - 1) < 1e-3, `total mass ${all}`);
  for (const [l, m] of spectrum) {
    let mass = 0;
    grid.forEach((x, g) => {
      if (Math.abs(x - l) < 0.1) mass += dens[g] * h;
    });
    t.ok(Math.abs(mass - m / n) < 1e-3, `density mass near ${l}: ${mass} vs ${m / n}`);
  }
  const norm = sd.densityOnGrid(grid, { normalize: true });
  let s = 0;
  for (const x of norm) s += x * h;
  t.ok(Math.abs(s - 1) < 1e-12);
});

t.test('full-length Lanczos on a rotated quadratic recovers the spectrum as nodes', async (t) => {
  const eig = Array.from({ length: 24 }, (_, i) => (i % 2 ? -1 : 1) * (0.5 + i * 0.37));
  const n = eig.length;
  const q = quadratic({ eigenvalues: eig, seed: 12 });
  const sd = spectralDensity(matrixOperator(q.A, n), n, { iterations: 100, seed: 3 });
  const nodes = sd.runs[0].nodes;
  t.equal(nodes.length, n, 'iterations are capped at the dimension');
  const sorted = [...eig].sort((a, b) => a - b);
  let diff = 0;
  for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(nodes[i] - sorted[i]));
  t.ok(diff < 1e-9, `max node error ${diff}`);
});

t.test('short Lanczos: extreme nodes converge to outlying eigenvalues', async (t) => {
  const n = 160;
  const eig = Array.from({ length: n }, (_, i) => (i / n) * 0.5);
  eig[0] = 50;
  eig[1] = -5;
  eig[2] = 20;
  const q = quadratic({ eigenvalues: eig, seed: 5 });
  const sd = spectralDensity(matrixOperator(q.A, n), n, { iterations: 40, runs: 2, seed: 9 });
  for (const run of sd.runs) {
    t.equal(run.nodes.length, 40);
    t.ok(Math.abs(run.nodes[39] - 50) < 1e-8, `top node ${run.nodes[39]}`);
    t.ok(Math.abs(run.nodes[38] - 20) < 1e-8, `second node ${run.nodes[38]}`);
    t.ok(Math.abs(run.nodes[0] + 5) < 1e-8, `bottom node ${run.nodes[0]}`);
  }
});
