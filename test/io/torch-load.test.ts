/**
 * weights.safetensors as PyTorch reads it: the file a run writes (writeModelFiles) is loaded into the
 * equivalent PyTorch modules (test/io/fixtures/torch_load.py: an MLP of Linear layers, nanoGPT's GPT
 * with a tied and an untied head) with load_state_dict(strict=True), and their logits on the same input
 * match ours to 1e-5. Needs PyTorch in /usr/bin/python3 (the python3 on PATH may lack it); skipped
 * with the reason otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { paramsFromSafetensors } from '../../src/io/safetensors-params.js';
import { type ModelSpec, initialParams } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { writeModelFiles } from '../../src/report/run-dir.js';
import { rng } from '../../src/random/counter-rng.js';
import { noGrad } from '../../src/tensor/graph.js';
import { Tensor } from '../../src/tensor/tensor.js';

const PYTHON = '/usr/bin/python3';
const script = fileURLToPath(new URL('./fixtures/torch_load.py', import.meta.url));
const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchMissing =
  probe.status === 0
    ? false
    : `PyTorch is not importable by ${PYTHON} (${(probe.stderr || String(probe.error)).trim().split('\n').pop()})`;

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-torch-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const cases: { name: string; spec: ModelSpec; inputs: number[][] }[] = [
  {
    name: 'mlp (gelu)',
    spec: { kind: 'mlp', sizes: [5, 7, 6, 3], activation: 'gelu' },
    inputs: Array.from({ length: 4 }, (_, i) =>
      Array.from({ length: 5 }, (_, j) => rng(1, 'x', i, j).normal()),
    ),
  },
  {
    name: 'gpt, tied head',
    spec: { kind: 'gpt', vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 },
    inputs: Array.from({ length: 2 }, (_, i) =>
      Array.from({ length: 6 }, (_, j) => rng(2, 'ids', i, j).int(11)),
    ),
  },
  {
    name: 'gpt, untied head',
    spec: { kind: 'gpt', vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 4, nEmbd: 8, tied: false },
    inputs: Array.from({ length: 2 }, (_, i) =>
      Array.from({ length: 8 }, (_, j) => rng(3, 'ids', i, j).int(11)),
    ),
  },
];

for (const c of cases) {
  t.test(`${c.name}: load_state_dict(strict=True) and the same logits`, { skip: torchMissing }, async (t) => {
    const model = buildModel(c.spec);
    // Trained-looking parameters: the init plus noise, so LayerNorm gains and biases are not 1 and 0.
    const params = initialParams(model, 7) as Float32Array;
    for (let i = 0; i < params.length; i++) params[i] += (0.05 * rng(8, 'noise').at(i)) / 2 ** 32;
    const dir = join(tmp, c.name.replace(/\W+/g, '-'));
    mkdirSync(dir);
    const { weights } = await writeModelFiles(dir, {
      params,
      layout: model.layout.toJSON(),
      optimizerState: null,
      step: 1,
      meta: {},
    });
    const inputsPath = join(dir, 'inputs.json');
    writeFileSync(inputsPath, JSON.stringify(c.inputs));
    const ours = noGrad(() => {
      const p = model.layout.unflatten(new Tensor(params, [params.length]));
      const rows = c.inputs.length;
      const cols = c.inputs[0].length;
      const data =
        c.spec.kind === 'mlp' ? Float32Array.from(c.inputs.flat()) : Int32Array.from(c.inputs.flat());
      return Array.from(model.logits(p, { data, shape: [rows, cols] }).data);
    });
    const r = spawnSync(PYTHON, [script, JSON.stringify(model.spec), weights, inputsPath], {
      encoding: 'utf8',
    });
    t.equal(r.status, 0, `torch_load.py ran: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { keys: string[]; logits: number[] };
    if (c.spec.kind === 'gpt' && (c.spec as { tied?: boolean }).tied !== false)
      t.ok(out.keys.includes('lm_head.weight'), 'the tied head is a state_dict key, as PyTorch expects');
    t.equal(out.logits.length, ours.length);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(out.logits[i] - ours[i]));
    t.ok(worst < 1e-5, `max |PyTorch − hessflow| = ${worst.toExponential(2)} < 1e-5`);
    // And the file reads back into our layout (the tied alias accepted because it equals the embedding).
    const layout = model.layout.toJSON().map((e) => ({ ...e, shape: [...e.shape], tags: [...e.tags] }));
    t.same(paramsFromSafetensors(readFileSync(weights), layout), params);
  });
}
