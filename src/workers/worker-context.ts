/** A worker thread's workerData and the model it builds once from it, shared by both worker entries. */
import { workerData } from 'piscina';
import type { Model } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import { loadModelModule } from './entry-file.js';
import type { WorkerInit } from './protocol.js';

/** What the pool passed to this thread (model spec, shared buffers, hooks). */
export const workerInit = workerData as WorkerInit;

// User model kinds register themselves when their module is imported; built once, on the first task.
let model: Model | null = null;

/** This thread's model: the first call imports `modelModules`, then builds `modelSpec`. */
export async function getWorkerModel(): Promise<Model> {
  if (!model) {
    for (const url of workerInit.modelModules ?? []) await loadModelModule(url);
    model = buildModel(workerInit.modelSpec);
  }
  return model;
}
