/**
 * Muon against the official semantics in PyTorch (bench/reference/muon_check.py: muon.py's
 * SingleDeviceMuonWithAuxAdam re-implemented line for line, float32 Newton–Schulz): three steps on a small
 * GPT's layout. Skipped, saying why, where no Python with torch is installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { gpt } from '../../src/nn/models/gpt.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import { applyUpdates, muon, type MuonOptions } from '../../src/optim/index.js';
import { seeded } from './muon-reference.js';

// As bench/lib/pytorch-reference.ts: $HESSFLOW_PYTHON, else the system's Python (where Debian's
// python3-torch lives), else python3 on PATH.
const python =
  process.env.HESSFLOW_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

function torchVersion(): string | null {
  try {
    return execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 120_000,
    }).trim();
  } catch {
    return null;
  }
}

const version = torchVersion();
const skip = version === null ? `${python} cannot import torch (Debian: apt install python3-torch)` : false;

t.test('three steps equal PyTorch float32 running muon.py’s semantics', { skip }, async (t) => {
  const model = gpt({ kind: 'gpt', vocabSize: 13, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16, tied: true });
  const layout = tensorLayoutOf(model);
  const n = model.layout.size;
  const options: MuonOptions = { lr: 0.02, weightDecay: 0.1, adamLr: 3e-3, adamWeightDecay: 0.01 };
  const params = Float32Array.from(seeded(n, 1), (x) => 0.05 * x);
  const grads = [2, 3, 4].map((s) => Float32Array.from(seeded(n, s), (x) => 0.01 * x));
  const opt = muon(options);
  let state = opt.init(params, layout);
  let p: Float32Array = params;
  for (const g of grads) {
    const [u, next] = opt.update(g, state, p);
    [p, state] = [applyUpdates(p, u), next];
  }
  const dir = mkdtempSync(join(tmpdir(), 'muon-torch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'case.json');
  const list = (v: Float32Array) => Array.from(v);
  writeFileSync(
    file,
    JSON.stringify({ options, layout, params: list(params), grads: grads.map(list), final: list(p) }),
  );
  const out = execFileSync(python, ['bench/reference/muon_check.py', file], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    timeout: 120_000,
  });
  const result = JSON.parse(out) as { float32: { maxRelUpdateDiff: number; maxAbsParamDiff: number } };
  // Float32 rounding (our kernel's and BLAS's summation orders differ) gives ~1e-6; a formula slip, 1e-2.
  t.ok(result.float32.maxRelUpdateDiff < 1e-4, `torch ${version}: max relative update difference`, result);
});
