/**
 * No step slower after the step-engine redesign (#20): an older revision's build and this checkout's,
 * alternating in one run. Each round runs every kind once per tree (which tree goes first alternates),
 * each a fresh process (bench/engine-ab/step.ts) reporting its median step over ~50-95 steps; the row
 * is the median over rounds of each tree, and of the within-round ratios this ÷ old (CPU time is the
 * headline: a shared machine's load moves wall time far more).
 *
 *   npx tsx bench/engine-ab.ts [--old REV] [--rounds 7] [--name engine-ab]
 *
 * REV defaults to bc64318^1, main before the engine merge. It is checked out with `git worktree`
 * into a temporary directory (node_modules linked from here) and removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from './lib/machine.js';
import { recordResults } from './lib/record.js';
import { RESULTS_SCHEMA, type Row } from './lib/types.js';

const { values } = parseArgs({
  options: {
    old: { type: 'string', default: 'bc64318^1' },
    rounds: { type: 'string', default: '7' },
    name: { type: 'string', default: 'engine-ab' },
  },
});
const rounds = Number(values.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be an integer >= 1`);
const here = resolve(import.meta.dirname, '..');
const KINDS = ['trainer-mlp', 'trainer-gpt', 'pipeline'] as const;
const git = (...args: string[]) => execFileSync('git', ['-C', here, ...args], { encoding: 'utf8' }).trim();
const oldRev = git('rev-parse', '--short', values.old!);
const newRev =
  git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--', 'src') ? '+changes' : '');

const oldTree = join(mkdtempSync(join(tmpdir(), 'hessflow-ab-')), 'old');
git('worktree', 'add', '--detach', oldTree, oldRev);
symlinkSync(join(here, 'node_modules'), join(oldTree, 'node_modules'));
const loadAtStart = loadAverage();

interface Sample {
  wallMs: number;
  cpuMs: number;
}
function runOnce(tree: string, kind: string): Sample {
  const out = execFileSync(
    join(here, 'node_modules/.bin/tsx'),
    [join(here, 'bench/engine-ab/step.ts'), tree, kind],
    { cwd: here, encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as Sample;
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
const samples = new Map(KINDS.map((k) => [k, { old: [] as Sample[], new: [] as Sample[] }]));
try {
  for (let r = 0; r < rounds; r++) {
    for (const kind of KINDS) {
      const s = samples.get(kind)!;
      const order: ['old' | 'new', string][] = [
        ['old', oldTree],
        ['new', here],
      ];
      if (r % 2) order.reverse();
      for (const [which, tree] of order) s[which].push(runOnce(tree, kind));
      console.log(
        `round ${r + 1}/${rounds} ${kind}: cpu old ${s.old.at(-1)!.cpuMs.toFixed(2)} new ${s.new.at(-1)!.cpuMs.toFixed(2)} ms (load ${loadAverage().toFixed(1)})`,
      );
    }
  }
} finally {
  git('worktree', 'remove', '--force', oldTree);
  rmSync(resolve(oldTree, '..'), { recursive: true, force: true });
}

const rows: Row[] = KINDS.map((kind) => {
  const s = samples.get(kind)!;
  const ratio = (key: keyof Sample) => median(s.new.map((n, i) => n[key] / s.old[i][key]));
  return {
    kind,
    oldCpu: median(s.old.map((x) => x.cpuMs)),
    newCpu: median(s.new.map((x) => x.cpuMs)),
    cpuRatio: ratio('cpuMs'),
    oldWall: median(s.old.map((x) => x.wallMs)),
    newWall: median(s.new.map((x) => x.wallMs)),
    wallRatio: ratio('wallMs'),
  };
});
recordResults('engine-ab', {
  schema: RESULTS_SCHEMA,
  name: values.name!,
  suites: ['engine-ab'],
  machine: describeMachine(loadAtStart),
  sections: [
    {
      id: 'engine-ab',
      title: `Step cost before and after the step engine (#20): ${oldRev} against ${newRev}`,
      columns: [
        { key: 'kind', label: 'step' },
        { key: 'oldCpu', label: `${oldRev} CPU ms` },
        { key: 'newCpu', label: `${newRev} CPU ms` },
        { key: 'cpuRatio', label: 'CPU new ÷ old', digits: 3 },
        { key: 'oldWall', label: `${oldRev} wall ms` },
        { key: 'newWall', label: `${newRev} wall ms` },
        { key: 'wallRatio', label: 'wall new ÷ old', digits: 3 },
      ],
      rows,
      notes: [
        `${rounds} rounds; in each, every kind runs once per tree in a fresh process, the order alternating between rounds; a value is the process's median step after 5 warm-up steps (CPU time of the whole process, worker threads included), the table the median over rounds, and the ratio the median of the within-round ratios.`,
        'Steps (bench/engine-ab/step.ts): trainer-mlp = Trainer, Sophia-G, MLP 32-256-256-10 (tanh), batch 256, GNB every 10, 95 timed steps; trainer-gpt = Trainer, Sophia-G, char-GPT 1 layer × 32 wide, batch 8 × 16, 55 timed steps; pipeline = createPipeline with the MLP, 2 workers, 2 shards, 95 timed steps.',
      ],
    },
  ],
});
