/**
 * The run directory of `hessflow train`: config.json (the config used), metrics.ndjson (one StepMetrics
 * per line, written as the run goes), metrics.csv (the same steps as table rows, training-record.ts), checkpoint.hfckpt (params, layout, optimizer state, step, and the
 * config in its meta), weights.safetensors, and the plots.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { saveCheckpoint } from '../io/checkpoint-file.js';
import type { ParamLayoutEntry } from '../io/param-layout.js';
import { paramsToSafetensors } from '../io/safetensors-params.js';

export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.ndjson',
  metricsCsv: 'metrics.csv',
  checkpoint: 'checkpoint.hfckpt',
  weights: 'weights.safetensors',
} as const;

/** A filesystem-safe UTC timestamp, e.g. 2026-11-28T19-20-05. */
export function timestamp(d = new Date()): string {
  return d.toISOString().slice(0, 19).replace(/:/g, '-');
}

/** Creates (recursively) and returns the absolute run directory: `out`, or runs/<timestamp>-<name>. */
export function makeRunDir(out: string | undefined, name: string): string {
  const dir = resolve(out ?? join('runs', `${timestamp()}-${name}`));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** NDJSON lines appended as they come (non-finite numbers become null, as JSON has no NaN). */
export class NdjsonWriter {
  private fd: number | null;

  constructor(
    readonly path: string,
    append = false,
  ) {
    this.fd = openSync(path, append ? 'a' : 'w');
  }

  write(value: unknown): void {
    if (this.fd === null) throw new Error(`${this.path}: already closed`);
    writeSync(this.fd, `${JSON.stringify(value)}\n`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, { fsync: false });
}

export interface RunArtifacts {
  params: Float32Array;
  layout: readonly { name: string; shape: readonly number[]; offset: number; tags: readonly string[] }[];
  optimizerState: unknown;
  step: number;
  meta: Record<string, unknown>;
}

/** Writes checkpoint.hfckpt and weights.safetensors; returns their paths. */
export async function writeModelFiles(
  dir: string,
  a: RunArtifacts,
): Promise<{ checkpoint: string; weights: string }> {
  const layout: ParamLayoutEntry[] = a.layout.map((e) => ({
    name: e.name,
    shape: [...e.shape],
    offset: e.offset,
    tags: [...e.tags],
  }));
  const checkpoint = join(dir, RUN_FILES.checkpoint);
  const weights = join(dir, RUN_FILES.weights);
  await saveCheckpoint(checkpoint, {
    params: a.params,
    layout,
    optimizerState: a.optimizerState,
    step: a.step,
    meta: a.meta,
  });
  const meta: Record<string, string> = { format: 'pt', step: String(a.step) };
  await writeFileAtomic(weights, paramsToSafetensors(a.params, layout, meta, { torchTiedHead: true }));
  return { checkpoint, weights };
}

/** A path as shown to the user: relative to the working directory when inside it, else absolute. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
