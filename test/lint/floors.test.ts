/**
 * The floor rules in eslint.config.js: each forbidden import planted in a file of the floor below is
 * reported, naming the floors; the same file without it is clean, as are imports downwards.
 */
import t from 'tap';
import { ESLint } from 'eslint';

const eslint = new ESLint();

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const planted: [file: string, from: string, floor: string, above: string][] = [
  ['src/kernels/planted.ts', '../tensor/tensor.js', 'kernels', 'tensor'],
  ['src/kernels/cpu/planted.ts', '../../tensor/shape.js', 'kernels', 'tensor'],
  ['src/kernels/wasm/planted.ts', '../../optim/adam.js', 'kernels', 'optim'],
  ['src/tensor/ops/planted.ts', '../../nn/model.js', 'tensor', 'nn'],
  ['src/optim/planted.ts', '../tensor/index.js', 'optim', 'tensor'],
  ['src/optim/planted.ts', '../workers/protocol.js', 'optim', 'workers'],
  ['src/streams/planted.ts', '../cli/main.js', 'streams', 'cli'],
  ['src/streams/planted.ts', '../pipeline/create-pipeline.js', 'streams', 'pipeline'],
  ['src/streams/planted.ts', '../train/train.js', 'streams', 'train'],
  ['src/streams/planted.ts', '../daemon/daemon.js', 'streams', 'daemon'],
  ['src/step/planted.ts', '../pipeline/create-pipeline.js', 'step', 'pipeline'],
  ['src/step/planted.ts', '../gpu/index.js', 'step', 'gpu'],
  ['src/workers/planted.ts', '../pipeline/config.js', 'workers', 'pipeline'],
  ['src/workers/planted.ts', '../train/train.js', 'workers', 'train'],
  ['src/gpu/host/planted.ts', '../../workers/protocol.js', 'gpu', 'workers'],
  ['src/gpu/host/planted.ts', '../../train/train.js', 'gpu', 'train'],
  ['src/pipeline/planted.ts', '../daemon/index.js', 'pipeline', 'daemon'],
  ['src/pipeline/planted.ts', '../cli/main.js', 'pipeline', 'cli'],
];

for (const [file, from, floor, above] of planted) {
  t.test(`${floor} ↛ ${above}: ${from} in ${file}`, async (t) => {
    const got = await restricted(file, `import { x } from '${from}';\nexport const y = x;\n`);
    t.equal(got.length, 1, got.join('; '));
    t.match(got[0], `src/${floor} sits below src/${above}`);
  });
}

t.test('imports downwards and within a floor are allowed', async (t) => {
  for (const [file, from] of [
    ['src/tensor/ops/planted.ts', '../../kernels/registry.js'],
    ['src/optim/planted.ts', '../kernels/wasm/vector-ops.js'],
    ['src/optim/planted.ts', './tensor-layout.js'],
    ['src/kernels/cpu/planted.ts', '../arrays.js'],
    ['src/pipeline/planted.ts', '../streams/shard.js'],
    ['src/gpu/host/planted.ts', '../../step/records.js'],
    ['src/workers/planted.ts', '../step/shards.js'],
  ]) {
    t.same(await restricted(file, `import { x } from '${from}';\nexport const y = x;\n`), [], from);
  }
});
