/** Small problem shared by the pipeline tests (a helper, not a test file). */
import { batchAt, batchSpecOf, softmaxRegressionData } from '../../src/data/index.js';
import type { ModelSpec } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { sophiaG } from '../../src/optim/index.js';
import { referenceLoop } from '../../src/pipeline/reference.js';

export const data = softmaxRegressionData({ samples: 256, features: 8, classes: 3, seed: 1 });
export const modelSpec: ModelSpec = { kind: 'mlp', sizes: [8, 6, 3], activation: 'tanh' };
export const model = buildModel(modelSpec);
export const batchOf = (k: number) => batchAt(data.dataset, { batchSize: 32, seed: 2 }, k);
export const spec = batchSpecOf(data.dataset);

/** Index of the first differing element, or -1 when the arrays are bit-identical. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** The Sophia-G run with GNB curvature (every 2 steps, staleness 1) several pipeline tests share. */
export const gnbCurvature = { estimator: 'gnb' as const, every: 2, staleness: 1 };
export const gnbOptimizer = () => sophiaG({ lr: 0.02, rho: 0.05 });

/** The synchronous reference loop on the fixture data: `model`, `batchOf`, seed 5, and `run`'s settings. */
export function fixtureReference(
  run: Omit<Parameters<typeof referenceLoop>[0], 'model' | 'batchAt' | 'seed'>,
): ReturnType<typeof referenceLoop> {
  return referenceLoop({ model, batchAt: batchOf, seed: 5, ...run });
}

/** The GNB run in the reference loop: 4 shards. */
export function gnbReference(steps: number): ReturnType<typeof referenceLoop> {
  return fixtureReference({ optimizer: gnbOptimizer(), steps, shards: 4, curvature: gnbCurvature });
}
