/**
 * `hessflow hessian`: Hessian diagnostics of a trained model (PyHessian-style) from a checkpoint — the
 * Hutchinson trace in total and per layer, the top eigenvalues, the spectral density by stochastic
 * Lanczos quadrature (plotted), stability ratios with verdicts, a HAWQ-V2 bit-width assignment under a
 * size budget, and learning-rate suggestions for other batch sizes. The Hessian is that of the mean
 * training loss over the first --batches training batches of the run's config.
 *
 * Each stage shows a progress bar counting its HVPs (stderr, when it is a terminal). The first Ctrl-C
 * stops the stage in progress after its current HVP and writes the report of what was computed — the
 * interrupted stage's partial estimate marked not converged, later stages marked not computed.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { optimizerEntry } from '../../catalog/index.js';
import {
  type SpectralDensity,
  type StabilityReport,
  type Stepwise,
  adamStability,
  eigenvaluesLargestFirst,
  gdStability,
  hawqLayersFromGroups,
  hawqMixedPrecision,
  hutchinsonTraceSteps,
  layoutGroups,
  momentumStability,
  preconditionedLambdaMaxSteps,
  sgdStability,
  spectralDensitySteps,
  suggestLearningRates,
  topEigenvaluesSteps,
} from '../../diagnostics/index.js';
import { writeFigure } from '../../report/plots.js';
import { writeJson } from '../../report/run-dir.js';
import { setFiniteChecks } from '../../tensor/index.js';
import { hessianText } from '../hessian-text.js';
import { loadHessianTarget, preconditionerOf } from '../hessian-target.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { stopOnSigint } from '../progress.js';
import { StageProgress } from '../stage-progress.js';
import { learningRateAt } from '../run-setup.js';

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
  /** False with --no-progress. */
  progress?: boolean;
}

export { preconditionerOf };

/** The eigenvalue density plot (SVG and PNG). */
async function densityFigure(
  path: string,
  density: SpectralDensity,
  o: HessianOptions,
  n: number,
  name: string | undefined,
  step: number,
): Promise<{ svg: string; png: string | null }> {
  const grid = density.grid(400);
  const dens = density.densityOnGrid(grid, { normalize: true });
  let peak = 0;
  for (const d of dens) peak = Math.max(peak, d);
  const steps = density.runs.map((r) => r.alpha.length).join('/');
  return writeFigure(
    path,
    [
      {
        title: `Eigenvalue density (SLQ, ${density.runs.length} run(s) × ${steps} of ${Math.min(o.lanczos, n)} Lanczos steps)`,
        xTitle: 'eigenvalue',
        yTitle: 'density',
        yScale: 'log',
        series: [
          { name: 'density', points: Array.from(grid, (x, i) => ({ x, y: Math.max(dens[i], peak * 1e-8) })) },
        ],
      },
    ],
    { title: `hessflow hessian: ${name ?? 'run'} at step ${step}` },
  );
}

export async function hessianCommand(o: HessianOptions): Promise<Record<string, unknown>> {
  setFiniteChecks(false);
  const { file, runDir, ckpt, config, data, model, params, hvp } = await loadHessianTarget(
    o.checkpoint,
    o.batches,
  );
  const n = model.layout.size;
  const seed = config.seed;
  const t0 = performance.now();
  const sigint = stopOnSigint(() => {
    progress.log(
      '\ninterrupted: stopping after the HVP in progress and writing what was computed (Ctrl-C again to quit now)',
    );
  });
  const progress = new StageProgress({
    bar: o.progress !== false && !o.json && process.stderr.isTTY === true,
    quiet: o.json === true,
    signal: sigint.signal,
  });
  const stages: string[] = [];
  let interruptedIn: string | null = null;
  const runStage = async <R>(
    name: string,
    steps: Stepwise<R>,
    summary: (r: R, interrupted: boolean) => string,
  ): Promise<R | null> => {
    if (progress.interrupted) return null;
    const d = await progress.run(name, steps, summary);
    if (d.interrupted) interruptedIn = name;
    else stages.push(name);
    return d.result;
  };

  progress.log(
    `hessian: ${n.toLocaleString('en')} parameters, Hessian of the mean loss over ${o.batches} training batch(es)`,
  );
  let report: Record<string, unknown>;
  try {
    const groups = layoutGroups(model.layout);
    const trace = await runStage(
      'trace',
      hutchinsonTraceSteps(hvp, n, { tol: o.tol, maxIter: o.iterations, seed, groups }),
      (r) => `trace: ${r.iterations} probes${r.converged ? ', converged' : ', not converged'}`,
    );
    const k = Math.min(o.topK, n);
    const eig = await runStage(
      `top-${k} eigenvalues`,
      topEigenvaluesSteps(hvp, n, { k, tol: o.tol, maxIter: o.iterations, seed }),
      (r) =>
        `top-${k} eigenvalues: ${r.iterations.reduce((a, b) => a + b, 0)} HVPs, ${r.converged.filter(Boolean).length} of ${r.eigenvalues.length} converged`,
    );
    const density = await runStage(
      'spectral density',
      spectralDensitySteps(hvp, n, { runs: o.runs, iterations: o.lanczos, seed }),
      () => `spectral density: ${o.runs} × ${Math.min(o.lanczos, n)} Lanczos steps`,
    );

    // Stability at the learning rate of the last step taken.
    const lr = learningRateAt(config, Math.max(0, ckpt.step - 1));
    const opt = config.optimizer;
    const stability: StabilityReport[] = [];
    let preconditioned: { lambdaMax: number; description: string } | { unavailable: string } | null = null;
    if (eig && eig.eigenvalues.length > 0) {
      const lambda = Math.max(...eig.eigenvalues);
      stability.push(gdStability(lr, lambda));
      if (opt.name === 'sgd') {
        const momentum = typeof opt.momentum === 'number' ? opt.momentum : 0;
        if (momentum > 0) stability.push(momentumStability(lr, lambda, momentum));
        if (trace) stability.push(sgdStability(lr, trace.trace));
      }
      const pre = preconditionerOf(config, ckpt.optimizerState, data.predictionsPerBatch);
      if (typeof pre === 'string') preconditioned = { unavailable: pre };
      else {
        const pl = await runStage(
          'preconditioned λmax',
          preconditionedLambdaMaxSteps(hvp, n, pre.diag, { tol: o.tol, maxIter: o.iterations, seed }),
          (r) => `preconditioned λmax (${pre.description.split(':')[0]}): ${r.iterations} HVPs`,
        );
        if (pl) {
          stability.push(adamStability(lr, pl.lambdaMax, pre.beta1));
          preconditioned = { lambdaMax: pl.lambdaMax, description: pre.description };
        }
      }
    }

    const hawq = trace
      ? hawqMixedPrecision({
          layers: hawqLayersFromGroups(groups, trace.perLayer, params),
          bits: [2, 4, 8],
          budgetBits: o.bits * n,
        })
      : null;
    // The batch-size rules scale the schedule's peak rate (the whole schedule scales with it), not the
    // decayed rate of the checkpoint's step.
    const peakLr = opt.lr;
    const rule = optimizerEntry(opt.name).scaling === 'linear' ? 'sgd' : 'adaptive';
    const targets = [0.25, 0.5, 2, 4]
      .map((f) => Math.round(config.batchSize * f))
      .filter((b) => b >= 1 && b !== config.batchSize);
    const lrSuggestions = suggestLearningRates({
      lr: peakLr,
      batchSize: config.batchSize,
      optimizerKind: rule,
      targets,
    });

    const outDir = resolve(o.out ?? runDir);
    mkdirSync(outDir, { recursive: true });
    const plot = density
      ? await densityFigure(join(outDir, 'hessian-density'), density, o, n, config.name, ckpt.step)
      : null;
    const eigenvalues = eig ? eigenvaluesLargestFirst(eig) : [];
    report = {
      checkpoint: file,
      step: ckpt.step,
      parameters: n,
      batches: o.batches,
      optimizer: opt.name,
      lr,
      ...(interruptedIn ? { interrupted: { stage: interruptedIn, completed: stages } } : {}),
      trace: trace && {
        total: trace.trace,
        probes: trace.iterations,
        converged: trace.converged,
        perLayer: trace.perLayer.map((g) => ({
          ...g,
          perParameter: g.trace / g.params,
          negative: g.trace < 0,
        })),
      },
      eigenvalues: eig && {
        order: 'largest first (algebraic); power iteration finds the top-k by magnitude',
        values: eigenvalues.map((e) => e.value),
        converged: eigenvalues.map((e) => e.converged),
        iterations: eigenvalues.map((e) => e.iterations),
      },
      density: density && {
        lambdaMin: density.lambdaMin,
        lambdaMax: density.lambdaMax,
        nodes: density.runs.map((r) => ({ nodes: Array.from(r.nodes), weights: Array.from(r.weights) })),
      },
      stability,
      preconditioned,
      hawq: hawq && {
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
        layers: hawq.layers.map((l) => ({
          name: l.name,
          params: l.params,
          trace: l.trace,
          omega: l.omega,
          pinned: l.pinned,
        })),
        pinnedRule:
          'a layer with a negative trace estimate has unknown sensitivity: held at the widest bit-width',
        frontierSize: hawq.frontier.length,
      },
      lrSuggestions,
      lrBasis: {
        lr: peakLr,
        batchSize: config.batchSize,
        rule: lrSuggestions[0]?.rule ?? (rule === 'sgd' ? 'linear' : 'sqrt'),
        from: "the schedule's peak learning rate (scale the whole schedule by the same factor)",
        reference: 'Granziol et al., "Learning rates as a function of batch size", JMLR 2022',
      },
      seconds: (performance.now() - t0) / 1000,
      files: {
        report: join(outDir, 'hessian.json'),
        densitySvg: plot?.svg ?? null,
        densityPng: plot?.png ?? null,
      },
    };
    await writeJson(join(outDir, 'hessian.json'), report);
    if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else
      process.stdout.write(
        `${hessianText({
          file,
          step: ckpt.step,
          optimizer: opt.name,
          lr,
          n,
          k,
          interrupted: interruptedIn,
          groups,
          trace,
          eigenvalues,
          density,
          densityPng: plot?.png ?? null,
          stability,
          preconditioned,
          hawq,
          bitsBudget: o.bits,
          lrSuggestions,
          peakLr,
          batchSize: config.batchSize,
          reportFile: join(outDir, 'hessian.json'),
          seconds: (performance.now() - t0) / 1000,
        })}\n`,
      );
  } finally {
    sigint.dispose();
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
    .option('--json', 'print the report as JSON on stdout (no progress output)')
    .option('--no-progress', 'no progress bars (also off when stderr is not a terminal)')
    .action(async (opts: HessianOptions) => {
      const report = await hessianCommand(opts);
      // Interrupted (Ctrl-C) but written: exit as the shell expects of SIGINT, as train does.
      if (report.interrupted) process.exit(130);
    });
}
