/**
 * `hessflow hessian`: Hessian diagnostics of a trained model (PyHessian-style) from a checkpoint — the
 * Hutchinson trace in total and per layer, the top eigenvalues, the spectral density by stochastic
 * Lanczos quadrature (plotted), stability ratios with verdicts, a HAWQ-V2 bit-width assignment under a
 * size budget, and learning-rate suggestions for other batch sizes. The Hessian is that of the mean
 * training loss over the first --batches training batches of the run's config.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import {
  type StabilityReport,
  adamStability,
  batchedHvpOperator,
  gdStability,
  hawqLayersFromGroups,
  hawqMixedPrecision,
  hutchinsonTrace,
  layoutGroups,
  momentumStability,
  preconditionedLambdaMax,
  sgdStability,
  spectralDensity,
  suggestLearningRates,
  topEigenvalues,
} from '../../diagnostics/index.js';
import { type Preconditioner, optimizerEntry } from '../../catalog/index.js';
import { CheckpointError } from '../../io/checkpoint-codec.js';
import { loadCheckpoint } from '../../io/checkpoint-file.js';
import { type Model, type ModelSpec, lossFunction } from '../../nn/model.js';
import { buildModel } from '../../nn/models/registry.js';
import { writeFigure } from '../../report/plots.js';
import { RUN_FILES, writeJson, shownPath } from '../../report/run-dir.js';
import { setFiniteChecks } from '../../tensor/index.js';
import { Tensor } from '../../tensor/tensor.js';
import { type RunConfig, validateConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { learningRateAt, modelSpecOf, setupData } from '../run-setup.js';

export interface HessianOptions {
  checkpoint: string;
  batches: number;
  topK: number;
  iterations: number;
  lanczos: number;
  runs: number;
  bits: number;
  tol: number;
  json?: boolean;
  out?: string;
}

/**
 * The diagonal preconditioner of an adaptive optimizer from its saved state (its catalog entry reads it),
 * or a sentence saying why there is none.
 */
export function preconditionerOf(
  config: RunConfig,
  state: unknown,
  predictionsPerBatch: number,
): Preconditioner | string {
  const o = config.optimizer;
  const num = (k: string, d: number) => (typeof o[k] === 'number' ? (o[k] as number) : d);
  return optimizerEntry(o.name).preconditioner({ state, num, predictionsPerBatch });
}

function checkpointPath(arg: string): { file: string; runDir: string } {
  const p = resolve(arg);
  if (!existsSync(p)) throw new UsageError(`--checkpoint: ${arg} does not exist`);
  if (statSync(p).isDirectory()) {
    const file = join(p, RUN_FILES.checkpoint);
    if (!existsSync(file)) throw new UsageError(`--checkpoint: ${arg} holds no ${RUN_FILES.checkpoint}`);
    return { file, runDir: p };
  }
  return { file: p, runDir: dirname(p) };
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : Number(x.toPrecision(4)).toString();
}

export async function hessianCommand(o: HessianOptions): Promise<Record<string, unknown>> {
  setFiniteChecks(false);
  const { file, runDir } = checkpointPath(o.checkpoint);
  let ckpt;
  try {
    ckpt = await loadCheckpoint(file);
  } catch (e) {
    if (e instanceof CheckpointError) throw new UsageError(`--checkpoint: ${e.message}`);
    throw e;
  }
  let rawConfig = ckpt.meta.config;
  const configFile = join(runDir, RUN_FILES.config);
  if (rawConfig === undefined && existsSync(configFile))
    rawConfig = JSON.parse(readFileSync(configFile, 'utf8'));
  if (rawConfig === undefined)
    throw new UsageError(`--checkpoint: ${file} carries no config and ${configFile} does not exist`);
  const config = validateConfig(rawConfig, `config of ${file}`);
  const data = setupData(config);
  const spec = (ckpt.meta.model as ModelSpec | undefined) ?? modelSpecOf(config, data);
  const model: Model = buildModel(spec);
  const n = model.layout.size;
  if (ckpt.params.length !== n)
    throw new UsageError(`--checkpoint: ${ckpt.params.length} parameters, the config's model has ${n}`);
  const params = ckpt.params;
  const flat = new Tensor(params, [n]);
  const losses = Array.from({ length: o.batches }, (_, k) => {
    const b = data.batchAt(k);
    return lossFunction(model, { data: b.inputs, shape: b.inputShape }, b.targets as Int32Array);
  });
  const hvp = batchedHvpOperator(losses, flat);
  const seed = config.seed;
  const t0 = performance.now();
  const log = (msg: string) => {
    if (!o.json) process.stderr.write(`${msg}\n`);
  };

  log(
    `hessian: ${n.toLocaleString('en')} parameters, Hessian of the mean loss over ${o.batches} training batch(es)`,
  );
  const groups = layoutGroups(model.layout);
  const trace = hutchinsonTrace(hvp, n, { tol: o.tol, maxIter: o.iterations, seed, groups });
  log(`  trace: ${trace.iterations} probes`);
  const k = Math.min(o.topK, n);
  const eig = topEigenvalues(hvp, n, { k, tol: o.tol, maxIter: o.iterations, seed });
  log(`  top-${k} eigenvalues: ${eig.iterations.reduce((a, b) => a + b, 0)} HVPs`);
  const density = spectralDensity(hvp, n, { runs: o.runs, iterations: o.lanczos, seed });
  log(`  spectral density: ${o.runs} × ${Math.min(o.lanczos, n)} Lanczos steps`);

  // Stability at the learning rate of the last step taken.
  const lr = learningRateAt(config, Math.max(0, ckpt.step - 1));
  const lambda = Math.max(...eig.eigenvalues);
  const stability: StabilityReport[] = [gdStability(lr, lambda)];
  const opt = config.optimizer;
  if (opt.name === 'sgd') {
    const momentum = typeof opt.momentum === 'number' ? opt.momentum : 0;
    if (momentum > 0) stability.push(momentumStability(lr, lambda, momentum));
    stability.push(sgdStability(lr, trace.trace));
  }
  const pre = preconditionerOf(config, ckpt.optimizerState, data.predictionsPerBatch);
  let preconditioned: { lambdaMax: number; description: string } | { unavailable: string };
  if (typeof pre === 'string') preconditioned = { unavailable: pre };
  else {
    const pl = preconditionedLambdaMax(hvp, n, pre.diag, { tol: o.tol, maxIter: o.iterations, seed });
    stability.push(adamStability(lr, pl, pre.beta1));
    preconditioned = { lambdaMax: pl, description: pre.description };
    log(`  preconditioned λmax (${pre.description.split(':')[0]})`);
  }

  const hawq = hawqMixedPrecision({
    // A negative layer trace is estimator noise around a flat layer (HAWQ assumes Tr(Hᵢ) ≥ 0): insensitive.
    layers: hawqLayersFromGroups(groups, trace.perLayer, params).map((l) => ({
      ...l,
      trace: Math.max(0, l.trace),
    })),
    bits: [2, 4, 8],
    budgetBits: o.bits * n,
  });
  const targets = [0.25, 0.5, 2, 4]
    .map((f) => Math.round(config.batchSize * f))
    .filter((b) => b >= 1 && b !== config.batchSize);
  const lrSuggestions = suggestLearningRates({
    lr,
    batchSize: config.batchSize,
    optimizerKind: optimizerEntry(opt.name).scaling === 'linear' ? 'sgd' : 'adaptive',
    targets,
  });

  const outDir = resolve(o.out ?? runDir);
  mkdirSync(outDir, { recursive: true });
  const grid = density.grid(400);
  const dens = density.densityOnGrid(grid, { normalize: true });
  let peak = 0;
  for (const d of dens) peak = Math.max(peak, d);
  const plot = await writeFigure(
    join(outDir, 'hessian-density'),
    [
      {
        title: `Eigenvalue density (SLQ, ${o.runs} run(s) × ${Math.min(o.lanczos, n)} Lanczos steps)`,
        xTitle: 'eigenvalue',
        yTitle: 'density',
        yScale: 'log',
        series: [
          { name: 'density', points: Array.from(grid, (x, i) => ({ x, y: Math.max(dens[i], peak * 1e-8) })) },
        ],
      },
    ],
    { title: `hessflow hessian: ${config.name ?? 'run'} at step ${ckpt.step}` },
  );

  const report = {
    checkpoint: file,
    step: ckpt.step,
    parameters: n,
    batches: o.batches,
    optimizer: opt.name,
    lr,
    trace: {
      total: trace.trace,
      probes: trace.iterations,
      converged: trace.converged,
      perLayer: trace.perLayer.map((g) => ({ ...g, perParameter: g.trace / g.params })),
    },
    eigenvalues: { values: eig.eigenvalues, iterations: eig.iterations, converged: eig.converged },
    density: {
      lambdaMin: density.lambdaMin,
      lambdaMax: density.lambdaMax,
      nodes: density.runs.map((r) => ({ nodes: Array.from(r.nodes), weights: Array.from(r.weights) })),
    },
    stability,
    preconditioned,
    hawq: {
      averageBitsBudget: o.bits,
      budgetBits: hawq.budgetBits,
      chosen: hawq.chosen
        ? {
            bits: Object.fromEntries(groups.map((g, i) => [g.name, hawq.chosen!.bits[i]])),
            sizeBits: hawq.chosen.sizeBits,
            averageBits: hawq.chosen.sizeBits / n,
            omega: hawq.chosen.omega,
          }
        : null,
      layers: hawq.layers.map((l) => ({ name: l.name, params: l.params, trace: l.trace, omega: l.omega })),
      frontierSize: hawq.frontier.length,
    },
    lrSuggestions,
    seconds: (performance.now() - t0) / 1000,
    files: { report: join(outDir, 'hessian.json'), densitySvg: plot.svg, densityPng: plot.png },
  };
  await writeJson(join(outDir, 'hessian.json'), report);

  if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const nameWidth = Math.max(5, ...groups.map((g) => g.name.length));
    const lines = [
      `hessflow hessian — ${shownPath(file)} (step ${ckpt.step}, ${opt.name}, lr ${fmt(lr)})`,
      '',
      `Hutchinson trace  ${fmt(trace.trace)}  (${trace.iterations} probes${trace.converged ? ', converged' : ', not converged'})`,
      `  ${'layer'.padEnd(nameWidth)}  ${'params'.padStart(8)}  ${'trace'.padStart(11)}  ${'per param'.padStart(11)}  bits`,
      ...trace.perLayer.map(
        (g, i) =>
          `  ${g.name.padEnd(nameWidth)}  ${String(g.params).padStart(8)}  ${fmt(g.trace).padStart(11)}  ${fmt(g.trace / g.params).padStart(11)}  ${hawq.chosen ? hawq.chosen.bits[i] : '-'}`,
      ),
      '',
      `Top-${k} eigenvalues  ${eig.eigenvalues.map(fmt).join(', ')}`,
      `Spectral density   support [${fmt(density.lambdaMin)}, ${fmt(density.lambdaMax)}]  (plot: ${shownPath(plot.png)})`,
      '',
      'Stability',
      ...stability.map((s) => `  ${s.verdict}`),
      ...('unavailable' in preconditioned
        ? [`  preconditioned form: not available — ${preconditioned.unavailable}`]
        : [`  (${preconditioned.description}; λmax(P⁻¹H) = ${fmt(preconditioned.lambdaMax)})`]),
      '',
      `HAWQ-V2 mixed precision, budget ${o.bits} bits/parameter on average: ` +
        (hawq.chosen
          ? `${fmt(hawq.chosen.sizeBits / n)} bits/parameter, ΣΩ = ${fmt(hawq.chosen.omega)} (bits per layer in the table above)`
          : 'no configuration fits the budget'),
      '',
      `Learning rates for other batch sizes (${lrSuggestions[0]?.rule === 'linear' ? 'linear' : 'square-root'} rule, from lr ${fmt(lr)} at batch ${config.batchSize})`,
      ...lrSuggestions.map((s) => `  batch ${String(s.batchSize).padStart(5)}  lr ${fmt(s.lr)}`),
      '',
      `Report: ${shownPath(report.files.report)}  (${report.seconds.toFixed(1)} s)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return report;
}

export function hessianCommandSpec(): Command {
  return new Command('hessian')
    .description(
      'Hessian diagnostics of a checkpoint: trace, eigenvalues, density, stability, HAWQ, LR scaling',
    )
    .requiredOption(
      '--checkpoint <path>',
      'a run directory (with checkpoint.hfckpt and config.json) or a .hfckpt file',
    )
    .option('-b, --batches <n>', 'training batches the Hessian averages over', positiveInt, 4)
    .option('-k, --top-k <k>', 'number of top eigenvalues', positiveInt, 3)
    .option('--iterations <n>', 'maximum probes / power iterations per estimate', positiveInt, 100)
    .option('--lanczos <m>', 'Lanczos steps per SLQ run', positiveInt, 80)
    .option('--runs <r>', 'SLQ probe vectors', positiveInt, 1)
    .option('--bits <avg>', 'HAWQ size budget in average bits per parameter', positiveNumber, 4)
    .option('--tol <t>', 'relative-change tolerance of trace and power iteration', positiveNumber, 1e-3)
    .option('-o, --out <dir>', 'where hessian.json and the density plot go (default: the run directory)')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (opts: HessianOptions) => {
      await hessianCommand(opts);
    });
}
