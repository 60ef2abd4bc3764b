/**
 * GET /v1/weights' file from both engines: for a tied GPT it holds `lm_head.weight` beside
 * `transformer.wte.weight`, bit for bit the same matrix (what PyTorch's `load_state_dict(strict=True)`
 * needs), every tensor equals θ's slice, the step is in the metadata, and the file reads back strictly.
 */
import t from 'tap';
import { decodeSafetensors, safetensorsToFloat32 } from '../../src/io/safetensors.js';
import { paramsFromSafetensors } from '../../src/io/safetensors-params.js';
import { PipelineEngine } from '../../src/daemon/pipeline-engine.js';
import { snapshotLayout } from '../../src/daemon/snapshot-layout.js';
import { TrainerEngine } from '../../src/daemon/trainer-engine.js';
import type { TrainingEngine } from '../../src/daemon/engine.js';
import { buildModel } from '../../src/nn/models/registry.js';

const SPEC = { kind: 'gpt', vocabSize: 7, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4, tied: true } as const;
const common = {
  optimizer: { name: 'adamw', lr: 0.01 },
  curvature: { estimator: 'gnb' as const, every: 10 },
  seed: 5,
  queueLimit: 8,
};

const engines: [string, () => TrainingEngine][] = [
  ['trainer', () => new TrainerEngine({ model: buildModel({ ...SPEC }), ...common })],
  [
    'pipeline',
    () =>
      new PipelineEngine({
        model: buildModel({ ...SPEC }),
        modelSpec: { ...SPEC },
        ...common,
        workers: 1,
        shards: 1,
      }),
  ],
];

for (const [name, make] of engines) {
  t.test(`${name} engine: a tied GPT's weights carry PyTorch's lm_head.weight`, async (t) => {
    const engine = make();
    t.teardown(() => engine.stop());
    const model = buildModel({ ...SPEC });
    const layout = snapshotLayout(model);
    const params = (await engine.snapshot()).params;
    const bytes = engine.weights();
    const file = decodeSafetensors(bytes);
    t.same([...file.tensors.keys()].sort(), [...layout.map((e) => e.name), 'lm_head.weight'].sort());
    const wte = layout.find((e) => e.name === 'transformer.wte.weight')!;
    const size = wte.shape.reduce((a, b) => a * b, 1);
    t.same(
      safetensorsToFloat32(file.tensors.get('lm_head.weight')!),
      params.subarray(wte.offset, wte.offset + size),
      'head = embedding',
    );
    t.same(file.tensors.get('lm_head.weight')!.shape, wte.shape);
    t.equal(file.metadata?.step, '0');
    t.same(paramsFromSafetensors(bytes, layout), params, 'reads back strictly into θ');
  });
}
