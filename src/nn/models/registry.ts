/**
 * Builds a model from its serializable spec. Built-in kinds are `mlp` and `gpt`; embedded users
 * register their own kinds (the same registration runs in worker threads that import the module).
 */
import type { GptSpec, MlpSpec, Model, ModelSpec } from '../model.js';
import { gpt } from './gpt.js';
import { mlp } from './mlp.js';

type Factory = (spec: ModelSpec) => Model;

const factories = new Map<string, Factory>([
  ['mlp', (s) => mlp(s as MlpSpec)],
  ['gpt', (s) => gpt(s as GptSpec)],
]);

export function registerModel(kind: string, factory: Factory): void {
  factories.set(kind, factory);
}

export function buildModel(spec: ModelSpec): Model {
  if (typeof spec !== 'object' || spec === null || typeof spec.kind !== 'string') {
    throw new TypeError(`model spec must be an object with a string "kind", got ${JSON.stringify(spec)}`);
  }
  const f = factories.get(spec.kind);
  if (!f)
    throw new RangeError(`unknown model kind "${spec.kind}"; known: ${[...factories.keys()].join(', ')}`);
  return f(spec);
}
