/** A user model module (a helper, not a test file): registers a kind that workers import by URL. */
import type { MlpSpec } from '../../src/nn/model.js';
import { mlp } from '../../src/nn/models/mlp.js';
import { registerModel } from '../../src/nn/models/registry.js';

registerModel('test-custom-mlp', (spec) => mlp({ ...(spec as unknown as MlpSpec), kind: 'mlp' }));
