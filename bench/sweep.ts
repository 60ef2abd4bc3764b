/**
 * `npm run bench:sweep -- --plan bench/plans/gpt-reference.json`: the equal-budget optimizer sweep.
 * Every arm of the plan trains at each of its learning rates on the tuning seeds; its best rate then
 * trains on every final seed. Runs are separate processes (bench/sweep/run-one.ts), `--jobs` at a time,
 * and each run's curve is kept under bench/results/runs/<plan>/, so an interrupted sweep resumes where
 * it stopped and a finished run is never repeated. Writes bench/results/sweep-<plan>.json, the curves
 * figure bench/figures/sweep-<plan>.svg, and regenerates BENCHMARKS.md. Runs use the exact kernels
 * (HESSFLOW_KERNELS=exact, unless the environment sets a mode): every recorded run was made with them,
 * so a run added to a plan, or repeated, is the same computation as the recorded ones, bit for bit.
 *
 *   node dist/bench/sweep.js --plan bench/plans/gpt-reference.json [--jobs 2] [--phase tune|final|all]
 *   npx tsx bench/sweep.ts --plan ... --steps 20     (a smoke run: tables printed, nothing recorded)
 *   node dist/bench/sweep.js --plan ... --arms adamw,sophia-h   (only these arms, in this order; no record)
 *   node dist/bench/sweep.js --plan ... --arms a,b --lrs 0.006 --phase tune   (a screen: these rates only)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFigure } from '../src/report/plots.js';
import { describeMachine, loadAverage } from './lib/machine.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { RESULTS_SCHEMA, type Results, type Row, type Section } from './lib/types.js';
import { recordResults } from './lib/record.js';
import { readConfig } from '../src/cli/config.js';
import { renderSection } from './report.js';
import { type Plan, type RunSpec, readPlan, runSpec } from './sweep/plan.js';
import type { DivergedLine, EvalLine, FinalLine } from './sweep/run-one.js';
import {
  type RunOutcome,
  bestLearningRate,
  firstReach,
  meanCurve,
  meanOf,
  nextEdgeRate,
  passesTo,
} from './sweep/summary.js';

type Line = EvalLine | DivergedLine | FinalLine;

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** The child entry, as TypeScript under tsx or compiled under dist/. */
function childEntry(): string {
  const ts = fileURLToPath(new URL('./sweep/run-one.ts', import.meta.url));
  return existsSync(ts) ? ts : fileURLToPath(new URL('./sweep/run-one.js', import.meta.url));
}

function parseLines(text: string): Line[] {
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as Line);
}

function outcomeOf(spec: RunSpec, lines: Line[]): RunOutcome | null {
  const end = lines.at(-1);
  if (!end || end.type === 'eval') return null; // unfinished
  const curve = lines
    .filter((l): l is EvalLine => l.type === 'eval')
    .map(({ step, loss, cpuSeconds, winRate }) => ({ step, loss, cpuSeconds, winRate }));
  return {
    arm: spec.arm,
    lr: spec.lr,
    seed: spec.seed,
    curve,
    final: end.type === 'final' ? end.loss : null,
    cpuSeconds: end.cpuSeconds,
  };
}

/** Runs one spec in a child process, or reads its finished curve from `file`. */
async function runOrReuse(spec: RunSpec, file: string, log: (s: string) => void): Promise<RunOutcome> {
  if (existsSync(file)) {
    const done = outcomeOf(spec, parseLines(readFileSync(file, 'utf8')));
    if (done) return done;
  }
  const child = spawn(process.execPath, [...process.execArgv, childEntry(), JSON.stringify(spec.config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HESSFLOW_KERNELS: process.env.HESSFLOW_KERNELS || 'exact' },
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0)
    throw new Error(`sweep: run ${spec.arm} lr ${spec.lr} seed ${spec.seed} exited with ${code}`);
  writeFileSync(file, out);
  const outcome = outcomeOf(spec, parseLines(out));
  if (!outcome)
    throw new Error(`sweep: run ${spec.arm} lr ${spec.lr} seed ${spec.seed} ended without a result`);
  log(
    `${spec.arm} lr ${spec.lr} seed ${spec.seed}: ${
      outcome.final === null ? 'diverged' : `final validation loss ${outcome.final.toFixed(4)}`
    } (${outcome.cpuSeconds.toFixed(0)} CPU s)`,
  );
  return outcome;
}

/** Runs specs with at most `jobs` processes at once, in order of the list. */
async function runAll(
  specs: RunSpec[],
  dir: string,
  jobs: number,
  log: (s: string) => void,
): Promise<RunOutcome[]> {
  const results: RunOutcome[] = new Array<RunOutcome>(specs.length);
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      const s = specs[i];
      results[i] = await runOrReuse(s, join(dir, `${slug(s.arm)}_lr${s.lr}_s${s.seed}.ndjson`), log);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, specs.length) }, worker));
  return results;
}

/** The plan's arms named in a comma-separated list (labels or their slugs), in the list's order. */
function pickArms(plan: Plan, list: string): Plan['arms'] {
  return list.split(',').map((name) => {
    const arm = plan.arms.find((a) => a.label === name.trim() || slug(a.label) === name.trim());
    if (!arm)
      throw new Error(
        `sweep: --arms: no arm ${JSON.stringify(name)} in the plan; arms: ${plan.arms.map((a) => slug(a.label)).join(', ')}`,
      );
    return arm;
  });
}

/**
 * Wall time per Trainer step of each optimizer, by label, from the gpt suite of `npm run bench`, where all
 * were timed interleaved in one run: bench/results/gpt-steps.json (`--suites gpt,gpt-pipeline --name
 * gpt-steps`) when recorded, else cpu.json (the full default run). The sweep's own CPU seconds come from
 * runs made at different times and loads (two at a time, beside other work), which moves them by up to 3×;
 * steps × this step cost compares optimizers at equal load.
 */
function stepCosts(id = 'gpt-step'): Map<string, number> {
  for (const name of ['gpt-steps.json', 'cpu.json']) {
    const file = join(resultsDir(), name);
    if (!existsSync(file)) continue;
    const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
    const section = results.sections.find((s) => s.id === id);
    if (section) return new Map(section.rows.map((r) => [String(r.optimizer), Number(r.ms)]));
  }
  return new Map();
}

function sections(plan: Plan, tune: RunOutcome[], final: RunOutcome[], figure: string): Section[] {
  const cost = stepCosts();
  // The same through the pipeline (2 workers, concurrent probes): the gpt-pipeline suite.
  const pipeCost = stepCosts('gpt-pipeline-step');
  const fmt = (x: number | null) => (x === null ? 'diverged' : x.toFixed(3));
  const tried = (arm: string) =>
    [...new Set(tune.filter((r) => r.arm === arm).map((r) => r.lr))].sort((x, y) => x - y);
  const extended = plan.arms.flatMap((arm) => {
    const extra = tried(arm.label).filter((lr) => !arm.lrs.includes(lr));
    return extra.length ? [`${arm.label} (${extra.join(', ')})`] : [];
  });
  const tuning: Row[] = plan.arms.flatMap((arm) =>
    tried(arm.label).map((lr) => {
      const runs = tune.filter((r) => r.arm === arm.label && r.lr === lr);
      return {
        arm: arm.label,
        lr,
        loss: meanOf(runs.map((r) => r.final)).mean,
        seeds: runs.map((r) => fmt(r.final)).join(' '),
      };
    }),
  );
  const reference = plan.arms.find((a) => a.reference)!.label;
  const target = meanOf(final.filter((r) => r.arm === reference).map((r) => r.final)).mean;
  if (target === null) throw new Error(`sweep: the reference arm ${reference} diverged on a final seed`);
  // Steps to the target are read off each arm's mean curve over the seeds: the reference's mean curve
  // ends exactly at the target, so its own figure is its budget, whichever seeds end above the mean.
  const refReach = firstReach(meanCurve(final.filter((r) => r.arm === reference)), target);
  const refSteps = refReach?.step ?? null;
  const refCpu = refReach?.cpuSeconds ?? null;
  const refTime = refSteps !== null && cost.has(reference) ? (refSteps * cost.get(reference)!) / 1000 : null;
  // The second target (e.g. Muon's mean final loss), when the plan names one.
  const second = plan.secondTarget;
  const target2 = second ? meanOf(final.filter((r) => r.arm === second).map((r) => r.final)).mean : null;
  const reach2 = (runs: RunOutcome[]) =>
    target2 === null ? null : (firstReach(meanCurve(runs), target2)?.step ?? null);
  const ref2Steps = second ? reach2(final.filter((r) => r.arm === second)) : null;
  const rows: Row[] = plan.arms.map((arm) => {
    const runs = final.filter((r) => r.arm === arm.label);
    // The arm's own probe schedule: its config's, with the plan's overrides (e.g. probes every 5).
    const base = readConfig(arm.config).curvature;
    const curvature = base && { ...base, ...arm.curvature };
    const { mean, sd } = meanOf(runs.map((r) => r.final));
    const reached = runs.filter((r) => firstReach(r.curve, target) !== null);
    const meanReach = firstReach(meanCurve(runs), target);
    const steps = meanReach?.step ?? null;
    const cpu = meanReach?.cpuSeconds ?? null;
    const time = steps !== null && cost.has(arm.label) ? (steps * cost.get(arm.label)!) / 1000 : null;
    const lastWin = runs.map((r) => r.curve.at(-1)?.winRate).filter((w) => w !== undefined);
    const steps2 = reach2(runs);
    return {
      arm: arm.label,
      lr: runs[0]?.lr ?? null,
      loss: mean,
      sd,
      passes: steps !== null ? passesTo(steps, curvature) : null,
      reached2:
        target2 === null
          ? null
          : `${runs.filter((r) => firstReach(r.curve, target2) !== null).length}/${runs.length}`,
      steps2,
      stepRatio2: steps2 !== null && ref2Steps ? steps2 / ref2Steps : null,
      passes2: steps2 !== null ? passesTo(steps2, curvature) : null,
      seeds: runs.map((r) => fmt(r.final)).join(' '),
      reached: `${reached.length}/${runs.length}`,
      steps,
      stepRatio: steps !== null && refSteps ? steps / refSteps : null,
      cpuRatio: cpu !== null && refCpu ? cpu / refCpu : null,
      time,
      timeRatio: time !== null && refTime ? time / refTime : null,
      pipeTime: steps !== null && pipeCost.has(arm.label) ? (steps * pipeCost.get(arm.label)!) / 1000 : null,
      pipeTime2:
        steps2 !== null && pipeCost.has(arm.label) ? (steps2 * pipeCost.get(arm.label)!) / 1000 : null,
      winRate: lastWin.length ? lastWin.reduce((a, b) => a + b, 0) / lastWin.length : null,
      cpuPerStepMs: meanOf(
        runs.map((r) => (r.curve.at(-1) ? (1000 * r.cpuSeconds) / r.curve.at(-1)!.step : null)),
      ).mean,
    };
  });
  return [
    {
      id: `sweep-${plan.name}-tuning`,
      title: `${plan.title}: learning-rate tuning (seeds ${plan.tuneSeeds.join(', ')}), final validation loss`,
      columns: [
        { key: 'arm', label: 'optimizer' },
        { key: 'lr', label: 'peak lr', digits: 4 },
        { key: 'loss', label: 'mean final loss', digits: 3 },
        { key: 'seeds', label: 'per seed' },
      ],
      rows: tuning,
      notes: [
        `Every optimizer gets the same budget: ${plan.arms[0].lrs.length} learning rates × ${plan.tuneSeeds.length} seed(s)${
          plan.extendEdges
            ? `, and the same edge rule: an optimizer whose best rate is the smallest or largest it tried gets the next rate beyond it (same ratio), up to ${plan.extendEdges} more. Extended: ${extended.length ? extended.join('; ') : 'none'}`
            : ''
        }.`,
      ],
    },
    {
      id: `sweep-${plan.name}-final`,
      title: `${plan.title}: best learning rate of each, seeds ${plan.finalSeeds.join(', ')}`,
      columns: [
        { key: 'arm', label: 'optimizer' },
        { key: 'lr', label: 'peak lr', digits: 4 },
        { key: 'loss', label: 'mean final loss', digits: 3 },
        { key: 'sd', label: 'sd', digits: 3 },
        { key: 'seeds', label: 'per seed' },
        { key: 'reached', label: `seeds reaching ${target.toFixed(3)}` },
        { key: 'steps', label: 'steps to it', digits: 0 },
        { key: 'stepRatio', label: `steps ÷ ${reference}'s`, digits: 2 },
        { key: 'passes', label: 'passes to it', digits: 0 },
        ...(second && target2 !== null
          ? [
              { key: 'reached2', label: `seeds reaching ${second}'s ${target2.toFixed(3)}` },
              { key: 'steps2', label: `steps to ${second}'s`, digits: 0 },
              { key: 'stepRatio2', label: `steps ÷ ${second}'s`, digits: 2 },
              { key: 'passes2', label: `passes to ${second}'s`, digits: 0 },
            ]
          : []),
        { key: 'time', label: 'time to it (s)', digits: 0 },
        { key: 'timeRatio', label: `time ÷ ${reference}'s`, digits: 2 },
        { key: 'pipeTime', label: 'pipeline time to it (s)', digits: 0 },
        ...(second && target2 !== null
          ? [{ key: 'pipeTime2', label: `pipeline time to ${second}'s (s)`, digits: 0 }]
          : []),
        { key: 'cpuRatio', label: `run CPU time ÷ ${reference}'s`, digits: 2 },
        { key: 'winRate', label: 'final win-rate', digits: 3 },
        { key: 'cpuPerStepMs', label: 'CPU ms/step', digits: 0 },
      ],
      rows,
      notes: [
        `Target: ${reference}'s mean final validation loss, ${target.toFixed(4)}. Steps and CPU time to it are where the mean validation curve over the seeds first reaches it, interpolated between evaluations (so ${reference}'s is its whole budget); blank when the mean curve never does. "Seeds reaching" counts the seeds whose own curve does.`,
        `Passes: forward–backward-pass equivalents by then, one per step plus one per curvature probe (a GNB probe, a Hutchinson z⊙Hz or a Hessian-vector pair each count as one pass, as modded-nanogpt's optimizer track counts them; an HVP costs about two).`,
        ...(second && target2 !== null
          ? [
              `Second target: ${second}'s mean final validation loss, ${target2.toFixed(4)}, read off the mean curves the same way.`,
            ]
          : []),
        `Time to it: steps to it × each optimizer's wall time per step from the gpt suite of \`npm run bench\` (bench/results/gpt-steps.json, else cpu.json), where all optimizers were timed interleaved in one run${cost.size === 0 ? ' (not recorded yet, so blank)' : ''}.`,
        `Pipeline time: the same steps × each optimizer's wall time per step through the streaming pipeline (2 gradient workers, probes concurrent on their own thread), from the gpt-pipeline suite of \`npm run bench\`${pipeCost.size === 0 ? ' (not recorded yet, so blank)' : ''}.`,
        "Run CPU time: each run's own process CPU time for its training steps. Runs shared the machine at different loads (two at a time, beside other work), and contention inflates CPU time too (by up to 3× on this VM), so read it as a rough check only.",
        `Validation curves (mean over the final seeds): ![curves](${figure})`,
      ],
    },
  ];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      plan: { type: 'string' },
      jobs: { type: 'string', default: String(availableParallelism()) },
      phase: { type: 'string', default: 'all' },
      steps: { type: 'string' },
      arms: { type: 'string' },
      lrs: { type: 'string' },
    },
  });
  if (!values.plan) throw new Error('sweep: --plan <file> is required (e.g. bench/plans/gpt-reference.json)');
  const plan = readPlan(values.plan);
  const jobs = Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new Error(`sweep: --jobs must be a positive integer, got ${values.jobs}`);
  const steps = values.steps === undefined ? undefined : Number(values.steps);
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 2))
    throw new Error(`sweep: --steps must be an integer ≥ 2, got ${values.steps}`);
  if (!['tune', 'final', 'all'].includes(values.phase!))
    throw new Error(`sweep: --phase must be tune, final or all, got ${values.phase}`);
  // A smoke run (--steps) keeps its runs in a temporary directory and records nothing.
  const smoke = steps !== undefined;
  const name = plan.name;
  const dir = smoke
    ? mkdtempSync(join(tmpdir(), `hessflow-sweep-${name}-`))
    : join(resultsDir(), 'runs', name);
  mkdirSync(dir, { recursive: true });
  const log = (s: string) => console.log(`  ${s}`);
  const load = loadAverage();

  // --arms: run only these arms (tuning and final seeds), in the order given, and record nothing, so
  // the arms that matter most can finish first on a busy machine; a run without it then records all.
  const arms = values.arms === undefined ? plan.arms : pickArms(plan, values.arms);
  const partial = arms !== plan.arms;
  // --lrs: a screen of variants at given rates (with --arms): these rates instead of each arm's grid, no
  // edge rule, so a variant can be compared with its parent at the parent's tuned rate before a full grid.
  const screenLrs = values.lrs === undefined ? undefined : values.lrs.split(',').map(Number);
  if (screenLrs !== undefined) {
    if (!partial) throw new Error('sweep: --lrs needs --arms (a screen records nothing)');
    if (!screenLrs.every((lr) => Number.isFinite(lr) && lr > 0))
      throw new Error(`sweep: --lrs must be positive numbers separated by commas, got ${values.lrs}`);
  }

  const tuneSpecs = arms.flatMap((arm) =>
    (screenLrs ?? arm.lrs).flatMap((lr) =>
      plan.tuneSeeds.map((seed) => runSpec(arm, lr, seed, steps, plan.evalEvery)),
    ),
  );
  console.log(`tuning: ${tuneSpecs.length} runs, ${jobs} at a time`);
  const tune = await runAll(tuneSpecs, dir, jobs, log);
  // The edge rule, in rounds over all arms at once (so each round runs `jobs` at a time).
  for (let round = 0; screenLrs === undefined; round++) {
    const more = arms.flatMap((arm) => {
      const lr = nextEdgeRate(tune, arm.label, round, plan.extendEdges ?? 0);
      return lr === null ? [] : plan.tuneSeeds.map((seed) => runSpec(arm, lr, seed, steps, plan.evalEvery));
    });
    if (more.length === 0) break;
    console.log(`tuning, edge rule round ${round + 1}: ${more.map((x) => `${x.arm} lr ${x.lr}`).join(', ')}`);
    tune.push(...(await runAll(more, dir, jobs, log)));
  }
  if (values.phase === 'tune') return 0;

  const finalSpecs = arms.flatMap((arm) => {
    const lr = bestLearningRate(tune, arm.label);
    if (lr === null) throw new Error(`sweep: every learning rate of ${arm.label} diverged`);
    return plan.finalSeeds.map((seed) => runSpec(arm, lr, seed, steps, plan.evalEvery));
  });
  console.log(`final: ${finalSpecs.length} runs at each arm's best learning rate`);
  const final = await runAll(finalSpecs, dir, jobs, log);

  if (partial) {
    console.log(`done: ${arms.map((a) => a.label).join(', ')}; run without --arms to record the sweep`);
    return 0;
  }
  if (smoke) {
    for (const s of sections(plan, tune, final, '(not drawn for a smoke run)'))
      console.log(`\n${renderSection(s)}`);
    rmSync(dir, { recursive: true, force: true });
    return 0;
  }
  const figureRel = `bench/figures/sweep-${name}.svg`;
  const figure = join(repoRoot(), figureRel);
  mkdirSync(join(repoRoot(), 'bench', 'figures'), { recursive: true });
  await writeFigure(
    figure.replace(/\.svg$/, ''),
    [
      {
        title: 'Validation loss',
        xTitle: 'step',
        yTitle: 'loss',
        legendTitle: 'optimizer',
        series: plan.arms.map((arm) => {
          const runs = final.filter((r) => r.arm === arm.label && r.final !== null);
          const steps = runs[0]?.curve.map((p) => p.step) ?? [];
          return {
            name: arm.label,
            symbols: true,
            points: steps.flatMap((step, i) => {
              const y = meanOf(runs.map((r) => r.curve[i]?.loss ?? null)).mean;
              return y === null ? [] : [{ x: step, y }];
            }),
          };
        }),
      },
    ],
    { title: plan.title },
  );
  const results: Results = {
    schema: RESULTS_SCHEMA,
    name: `sweep-${name}`,
    suites: ['sweep'],
    machine: describeMachine(load),
    sections: sections(plan, tune, final, figureRel),
  };
  if (!recordResults('sweep', results)) return 1;
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
