/**
 * The first 20 steps of `npm run bench:muon-official`: the official muon.py (SingleDeviceMuonWithAuxAdam,
 * unmodified, checked out of the KellerJordan/Muon mirror) trains gpt_step.py's module from our θ₀ on our
 * batches; with float32 Newton–Schulz it must follow our Trainer. Skipped, saying why, without a Python
 * with torch or without the mirror ($HESSFLOW_MUON_REPO, default /work/.mirror/KellerJordan+Muon/repo).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { OfficialRun } from '../../bench/muon-official.js';
import { pythonCommand } from '../../bench/lib/pytorch-reference.js';
import { exportReferenceRun } from '../../bench/reference/muon-official-export.js';

const python = pythonCommand();
const repo = process.env.HESSFLOW_MUON_REPO ?? '/work/.mirror/KellerJordan+Muon/repo';

function whySkip(): string | false {
  try {
    execFileSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 120_000 });
  } catch {
    return `${python} cannot import torch and numpy (Debian: apt install python3-torch)`;
  }
  try {
    execFileSync('git', [`--git-dir=${repo}`, 'cat-file', '-e', 'HEAD:muon.py'], { stdio: 'ignore' });
  } catch {
    return `no KellerJordan/Muon git mirror with muon.py at ${repo} (set HESSFLOW_MUON_REPO)`;
  }
  return false;
}

t.test(
  '20 steps of the official Muon follow ours (float32 Newton–Schulz)',
  { skip: whySkip() },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'muon-official-test-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const steps = 20;
    const manifest = exportReferenceRun(join(dir, 'data'), { seed: 1, steps, trainOurs: true }) as {
      ourFinal: number;
    };
    mkdirSync(join(dir, 'official'));
    writeFileSync(
      join(dir, 'official', 'muon.py'),
      execFileSync('git', [`--git-dir=${repo}`, 'show', 'HEAD:muon.py'], { encoding: 'utf8' }),
    );
    const out = execFileSync(
      python,
      [
        'bench/reference/muon_official.py',
        ...['--data', join(dir, 'data'), '--muon', join(dir, 'official')],
        ...['--ns', 'fp32', '--eval-every', String(steps)],
      ],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' }, timeout: 240_000 },
    );
    const r = JSON.parse(out.trim().split('\n').pop()!) as OfficialRun;
    const c = r.check;
    // Same model and data: the loss and gradient at θ₀ agree to float32 rounding.
    t.ok(Math.abs(c.loss0 - c.ourLoss0) < 1e-5, `batch-0 loss: torch ${c.loss0}, ours ${c.ourLoss0}`);
    t.ok(c.gradMaxAbsDiff < 1e-5 * c.gradMaxAbs, `gradient: max |Δ| ${c.gradMaxAbsDiff} of ${c.gradMaxAbs}`);
    // Two steps (the first at rate 0): the Muon matrices agree to float32 rounding (a formula slip: ~1e-1).
    t.ok(
      c.step2_matrix.maxAbsDiff < 1e-3 * c.step2_matrix.maxAbsStep,
      `θ₂ of the matrices: max |Δ| ${c.step2_matrix.maxAbsDiff} of a largest step ${c.step2_matrix.maxAbsStep}`,
    );
    // After 20 steps the held-out losses (about 3.1, from 4.5) agree far inside the run's seed spread (0.002).
    t.ok(
      Math.abs(r.final - manifest.ourFinal) < 2e-4,
      `held-out loss after ${steps} steps: official ${r.final}, ours ${manifest.ourFinal}`,
    );
  },
);
