/**
 * hessflow's Muon against the official Muon on the reference char-GPT, whole runs (issue #17):
 * `npm run bench:muon-official` (under `nice -n 10` on a shared machine; about 6 min per official run).
 *
 * For each seed: bench/reference/muon-official-export.ts writes our θ₀, the 1000 training batches, the
 * held-out batches and our schedule; bench/reference/muon_official.py trains gpt_step.py's module on them
 * with the unmodified muon.py of KellerJordan/Muon (checked out of the mirror into a temp folder),
 * Newton–Schulz in bfloat16 as written and, to tell rounding apart, in float32. The official curves go
 * to bench/results/runs/muon-official/<ns>_s<seed>.json; ours are the recorded sweep runs
 * (bench/results/runs/gpt-reference/muon_lr0.02_s<seed>.ndjson, the same config, seed and eval steps).
 * Writes bench/results/muon-official.json and BENCHMARKS.md.
 *
 *   npx tsx bench/muon-official.ts [--seeds 1,2,3] [--ns bf16,fp32] [--fp32-seeds 1] [--jobs 2] [--muon-repo DIR]
 *                                  [--from-runs]
 *
 * --from-runs re-renders the results from the saved official runs without training again.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from './lib/machine.js';
import { repoRoot } from './lib/paths.js';
import { pythonCommand } from './lib/pytorch-reference.js';
import { recordResults } from './lib/record.js';
import { RESULTS_SCHEMA, type Row, type Section } from './lib/types.js';
import { exportReferenceRun } from './reference/muon-official-export.js';

interface Curve {
  step: number;
  loss: number;
}

/** One official run as muon_official.py prints it. */
export interface OfficialRun {
  ns: 'bf16' | 'fp32';
  torch: string;
  threads: number;
  check: {
    loss0: number;
    ourLoss0: number;
    eval0: number;
    ourEval0: number;
    gradMaxAbsDiff: number;
    gradMaxAbs: number;
    step2_matrix: { maxAbsDiff: number; maxAbsStep: number };
    step2_other: { maxAbsDiff: number; maxAbsStep: number };
  };
  evals: Curve[];
  final: number;
  seconds: number;
  /** Added by this driver: the muon.py commit run. */
  muonCommit?: string;
}

const DEFAULT_MIRROR = '/work/.mirror/KellerJordan+Muon/repo';
const runsDir = () => join(repoRoot(), 'bench', 'results', 'runs', 'muon-official');
const oursPath = (seed: number) =>
  join(repoRoot(), 'bench', 'results', 'runs', 'gpt-reference', `muon_lr0.02_s${seed}.ndjson`);

/** Our recorded eval curve of a seed. */
export function ourCurve(seed: number): Curve[] {
  const file = oursPath(seed);
  if (!existsSync(file)) throw new Error(`muon-official: no recorded run of ours for seed ${seed} (${file})`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { type: string; step: number; loss: number })
    .filter((l) => l.type === 'eval')
    .map(({ step, loss }) => ({ step, loss }));
}

/** muon.py checked out of the mirror into a fresh folder; its commit. */
function checkoutMuon(gitDir: string, into: string): string {
  const git = (...args: string[]) =>
    execFileSync('git', [`--git-dir=${gitDir}`, ...args], { encoding: 'utf8' });
  writeFileSync(join(into, 'muon.py'), git('show', 'HEAD:muon.py'));
  return git('rev-parse', 'HEAD').trim();
}

function runPython(args: string[]): Promise<OfficialRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonCommand(), args, {
      cwd: repoRoot(),
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0)
        reject(new Error(`muon_official.py ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? 'null') as OfficialRun);
    });
  });
}

/** Runs `tasks` at most `jobs` at a time. */
async function pool<T>(tasks: (() => Promise<T>)[], jobs: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

/** Per-eval differences official − ours at the steps both evaluated. */
export function curveDiffs(ours: Curve[], official: Curve[]): { step: number; diff: number }[] {
  const byStep = new Map(ours.map((c) => [c.step, c.loss]));
  return official
    .filter((c) => byStep.has(c.step))
    .map((c) => ({ step: c.step, diff: c.loss - byStep.get(c.step)! }));
}

function sections(seeds: number[], nsList: string[], runs: Map<string, OfficialRun>): Section[] {
  const rows: Row[] = [];
  const finals = new Map<string, number[]>();
  for (const seed of seeds) {
    const ours = ourCurve(seed);
    for (const ns of nsList) {
      const r = runs.get(`${ns}_s${seed}`);
      if (!r) continue;
      const diffs = curveDiffs(ours, r.evals);
      const late = diffs.filter((d) => d.step >= 500).map((d) => Math.abs(d.diff));
      const ourFinal = ours[ours.length - 1].loss;
      (finals.get(ns) ?? finals.set(ns, []).get(ns)!).push(r.final - ourFinal);
      const c = r.check;
      rows.push({
        seed,
        ns: ns === 'bf16' ? 'bfloat16 (official)' : 'float32',
        loss0: Math.abs(c.loss0 - c.ourLoss0),
        grad0: c.gradMaxAbsDiff / c.gradMaxAbs,
        step2: c.step2_matrix.maxAbsDiff / c.step2_matrix.maxAbsStep,
        ours: ourFinal,
        official: r.final,
        diff: r.final - ourFinal,
        maxAbs: Math.max(...diffs.map((d) => Math.abs(d.diff))),
        late: Math.max(...late),
      });
    }
  }
  const summary: Row[] = nsList.map((ns) => {
    const d = finals.get(ns)!;
    const have = seeds.filter((s) => runs.has(`${ns}_s${s}`));
    const ourFinals = have.map((s) => ourCurve(s).at(-1)!.loss);
    return {
      ns: ns === 'bf16' ? 'bfloat16 (official)' : 'float32',
      seeds: have.join(', '),
      oursMean: mean(ourFinals),
      oursSd: have.length > 1 ? sd(ourFinals) : null,
      officialMean: mean(have.map((s) => runs.get(`${ns}_s${s}`)!.final)),
      meanDiff: mean(d),
      sdDiff: d.length > 1 ? sd(d) : null,
    };
  });
  // The mean curves, official (each ns) against ours.
  const steps = ourCurve(seeds[0]).map((c) => c.step);
  const curve: Row[] = steps.map((step) => {
    const at = (cs: Curve[]) => cs.find((c) => c.step === step)?.loss ?? NaN;
    const row: Row = { step };
    for (const ns of nsList) {
      // Over the seeds this ns ran, ours over the same seeds.
      const have = seeds.filter((s) => runs.has(`${ns}_s${s}`));
      const ours = mean(have.map((s) => at(ourCurve(s))));
      const official = mean(have.map((s) => at(runs.get(`${ns}_s${s}`)!.evals)));
      Object.assign(row, { [`ours_${ns}`]: ours, [ns]: official, [`${ns}Diff`]: official - ours });
    }
    return row;
  });
  const first = runs.values().next().value!;
  const nsLabel = (ns: string) => (ns === 'bf16' ? 'bf16' : 'fp32');
  return [
    {
      id: 'muon-official-summary',
      title:
        'Official Muon (muon.py SingleDeviceMuonWithAuxAdam) against hessflow Muon, reference char-GPT, 1000 steps: final held-out loss',
      columns: [
        { key: 'ns', label: 'official Newton–Schulz' },
        { key: 'seeds', label: 'seeds' },
        { key: 'oursMean', label: 'hessflow mean', digits: 4 },
        { key: 'oursSd', label: 'hessflow seed sd', digits: 4 },
        { key: 'officialMean', label: 'official mean', digits: 4 },
        { key: 'meanDiff', label: 'mean diff (official − ours)', digits: 4 },
        { key: 'sdDiff', label: 'sd of diff', digits: 4 },
      ],
      rows: summary,
      notes: [
        `Official code: KellerJordan/Muon muon.py at ${first.muonCommit ?? 'unknown'}, unmodified, run by PyTorch ${first.torch} on CPU (${first.threads} thread); model: bench/reference/gpt_step.py's Gpt (same architecture), loaded with our θ₀ for the seed.`,
        "Same data: our exact 1000 training batches and 20 held-out batches (exported by bench/reference/muon-official-export.ts); same param groups as our catalog's Muon (hidden matrices → Muon lr 0.02, momentum 0.95, Nesterov, wd 0; embeddings (tied head) and vectors → the class's Adam, lr 0.016, betas (0.9, 0.95), eps 1e-10); our warmup-cosine factor on both groups' rates each step; torch.nn.utils.clip_grad_norm_ at 1.",
        'hessflow: the recorded sweep runs bench/results/runs/gpt-reference/muon_lr0.02_s<seed>.ndjson (Trainer, Newton–Schulz in float32). float32 rows swap in the official quintic iteration without its bfloat16 cast (muon_official.py --ns fp32).',
        'Reproduce: `nice -n 10 npm run bench:muon-official` (per-seed official curves in bench/results/runs/muon-official/).',
      ],
    },
    {
      id: 'muon-official-seeds',
      title:
        'Per seed: step-0 agreement, final loss and curve differences (official − ours, evaluated every 50 steps)',
      columns: [
        { key: 'seed', label: 'seed', digits: 0 },
        { key: 'ns', label: 'official Newton–Schulz' },
        { key: 'loss0', label: '|Δ loss₀|', digits: 7 },
        { key: 'grad0', label: 'max |Δ grad₀| / max |grad₀|', digits: 7 },
        { key: 'step2', label: 'max |Δθ₂| / max |step|, matrices', digits: 4 },
        { key: 'ours', label: 'hessflow final', digits: 4 },
        { key: 'official', label: 'official final', digits: 4 },
        { key: 'diff', label: 'final diff', digits: 4 },
        { key: 'maxAbs', label: 'max |curve diff|', digits: 4 },
        { key: 'late', label: 'max |curve diff|, step ≥ 500', digits: 4 },
      ],
      rows,
      notes: [
        'Step checks: the loss and gradient of batch 0 at θ₀ (PyTorch float32 against ours), and θ after two steps (step 0 has rate 0 in warmup) against our Trainer: matrices (Muon) as a fraction of the largest coordinate step.',
      ],
    },
    {
      id: 'muon-official-curves',
      title: 'Mean held-out loss along the run over the seeds each official variant ran',
      columns: [
        { key: 'step', label: 'step', digits: 0 },
        ...nsList.flatMap((ns) => [
          { key: `ours_${ns}`, label: `hessflow (${nsLabel(ns)} seeds)`, digits: 4 },
          { key: ns, label: `official ${nsLabel(ns)}`, digits: 4 },
          { key: `${ns}Diff`, label: `diff ${nsLabel(ns)}`, digits: 4 },
        ]),
      ],
      rows: curve,
    },
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      ns: { type: 'string' },
      jobs: { type: 'string' },
      'muon-repo': { type: 'string' },
      'fp32-seeds': { type: 'string' },
      'from-runs': { type: 'boolean' },
    },
  });
  const seeds = (values.seeds ?? '1,2,3').split(',').map(Number);
  const nsList = (values.ns ?? 'bf16,fp32').split(',');
  // float32 runs only explain the bfloat16 ones: by default one seed of them.
  const fp32Seeds = (values['fp32-seeds'] ?? String(seeds[0])).split(',').map(Number);
  const wanted = (ns: string, s: number) => ns === 'bf16' || fp32Seeds.includes(s);
  const jobs = Number(values.jobs ?? 2);
  for (const s of seeds)
    if (!Number.isSafeInteger(s))
      throw new Error(`muon-official: --seeds must be integers, got ${values.seeds}`);
  for (const ns of nsList)
    if (ns !== 'bf16' && ns !== 'fp32')
      throw new Error(`muon-official: --ns must list bf16 and/or fp32, got ${ns}`);
  if (!Number.isSafeInteger(jobs) || jobs < 1)
    throw new Error(`muon-official: --jobs must be >= 1, got ${values.jobs}`);
  const load0 = loadAverage();
  mkdirSync(runsDir(), { recursive: true });
  const runs = new Map<string, OfficialRun>();
  const runFile = (key: string) => join(runsDir(), `${key}.json`);
  if (values['from-runs']) {
    for (const s of seeds)
      for (const ns of nsList.filter((n) => wanted(n, s)))
        runs.set(`${ns}_s${s}`, JSON.parse(readFileSync(runFile(`${ns}_s${s}`), 'utf8')) as OfficialRun);
  } else {
    const tmp = mkdtempSync(join(tmpdir(), 'muon-official-'));
    try {
      const muonDir = join(tmp, 'official');
      mkdirSync(muonDir);
      const commit = checkoutMuon(values['muon-repo'] ?? DEFAULT_MIRROR, muonDir);
      for (const s of seeds) exportReferenceRun(join(tmp, `s${s}`), { seed: s });
      // The official bfloat16 runs first: they are the comparison; float32 ones explain it.
      const tasks = nsList.flatMap((ns) =>
        seeds
          .filter((s) => wanted(ns, s))
          .map((s) => async () => {
            const key = `${ns}_s${s}`;
            const started = Date.now();
            const args = [
              'bench/reference/muon_official.py',
              '--data',
              join(tmp, `s${s}`),
              '--muon',
              muonDir,
            ];
            const r = await runPython([...args, '--ns', ns, '--eval-every', '50']);
            r.muonCommit = commit;
            writeFileSync(runFile(key), JSON.stringify(r) + '\n');
            console.log(
              `${key}: final ${r.final.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
            );
            runs.set(key, r);
          }),
      );
      await pool(tasks, jobs);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const ok = recordResults('muon-official', {
    schema: RESULTS_SCHEMA,
    name: 'muon-official',
    suites: ['muon-official'],
    machine: describeMachine(load0),
    sections: sections(seeds, nsList, runs),
  });
  if (!ok) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
