/**
 * A user's table (CSV or JSONL: numeric features, one integer class label per row) as a dataset that
 * never holds the file in memory. One streaming pass (fixed-size chunks, src/data/line-reader.ts)
 * validates every row, splits rows into train and held-out, accumulates the normalisation statistics
 * over the train rows, and keeps an index of each row's byte offset and length (12 bytes per row).
 * Batches then read their rows back with positioned reads, so shuffling across epochs
 * (src/data/batching.ts) works on files far larger than memory while the page cache keeps small ones
 * fast.
 *
 * - **Split:** valid row i is held out when `rng(seed, 'data-split', i).uniform() < evalFraction`: a
 *   per-row coin, so it is decided during the single pass, needs no second one, and does not depend on
 *   the file's order (a file sorted by label still gets a held-out set of every class).
 * - **Normalisation** (optional): `standard` (z-score) or `minmax`, with statistics from the train rows
 *   only (the held-out rows do not leak into them); a constant feature keeps scale 1.
 * - **Bad rows:** an error naming file:line:column, or with `badRows: 'skip'` left out and counted
 *   (the first few messages are kept for the report). Blank lines are ignored.
 * - **Changes:** the file's size and modification time are recorded; a batch read after the file
 *   changed is an error, never silently different data.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { rng } from '../random/counter-rng.js';
import type { Batch, Dataset } from './batch.js';
import { DataFileError, RowError } from './data-file-error.js';
import { readLines } from './line-reader.js';
import {
  type RowParser,
  type TableLayout,
  featureCount,
  parseJsonObject,
  rowParser,
  splitCsvLine,
} from './table-rows.js';

export type NormalizeKind = 'none' | 'standard' | 'minmax';

export interface TableFileOptions {
  format: 'csv' | 'jsonl';
  path: string;
  /** The label column: a CSV header name or 0-based index, or a JSONL key. */
  target: string | number;
  /** Feature columns (names or CSV 0-based indices); default every column but the target. */
  features?: (string | number)[];
  /** CSV: the first line names the columns (default true). */
  header?: boolean;
  /** CSV field delimiter (default ','). */
  delimiter?: string;
  normalize?: NormalizeKind;
  /** Classes; default 1 + the largest label seen. */
  numClasses?: number;
  /** Probability that a row is held out (default 0.1). */
  evalFraction?: number;
  /** 'error' (default): the first bad row is an error; 'skip': bad rows are left out and counted. */
  badRows?: 'error' | 'skip';
  /** Seed of the train/held-out split (default 0). */
  seed?: number;
}

/** x' = (x − shift) / scale per feature. */
export interface Normalization {
  kind: NormalizeKind;
  shift: number[];
  scale: number[];
}

export interface SkippedRows {
  count: number;
  /** The first few, as `file:line:column: detail`. */
  examples: string[];
}

class Growable<T extends Float64Array | Int32Array> {
  length = 0;
  constructor(private data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new (this.data.constructor as new (n: number) => T)(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  done(): T {
    return this.data.slice(0, this.length) as T;
  }
}

interface FileStamp {
  size: number;
  mtimeMs: number;
}

/** Rows of a table file by index: each `gather` reads its rows back from the file. */
export class TableRows implements Dataset {
  readonly inputKind = 'float' as const;
  readonly targetKind = 'int' as const;
  readonly targetShape: readonly number[] = [];
  readonly featureShape: readonly number[];
  readonly size: number;

  constructor(
    readonly name: string,
    readonly path: string,
    private readonly stamp: FileStamp,
    private readonly starts: Float64Array,
    private readonly lengths: Int32Array,
    private readonly parser: RowParser,
    private readonly norm: Normalization,
    readonly numClasses: number,
  ) {
    this.featureShape = Object.freeze([norm.shift.length]);
    this.size = starts.length;
  }

  gather(indices: ArrayLike<number>): Batch {
    const f = this.featureShape[0];
    const b = indices.length;
    const inputs = new Float32Array(b * f);
    const targets = new Int32Array(b);
    const fd = openSync(this.path, 'r');
    try {
      const st = fstatSync(fd);
      if (st.size !== this.stamp.size || st.mtimeMs !== this.stamp.mtimeMs)
        throw new DataFileError(this.path, undefined, undefined, 'the file changed after it was indexed');
      let buf = Buffer.allocUnsafe(4096);
      for (let r = 0; r < b; r++) {
        const i = indices[r];
        if (!Number.isInteger(i) || i < 0 || i >= this.size)
          throw new RangeError(`${this.name}: sample index ${i} outside [0, ${this.size})`);
        const len = this.lengths[i];
        if (len > buf.length) buf = Buffer.allocUnsafe(len);
        readSync(fd, buf, 0, len, this.starts[i]);
        const row = this.parser.parse(buf.toString('utf8', 0, len), true);
        for (let j = 0; j < f; j++)
          inputs[r * f + j] = (row.features[j] - this.norm.shift[j]) / this.norm.scale[j];
        targets[r] = row.label!;
      }
    } finally {
      closeSync(fd);
    }
    return { inputs, inputShape: [b, f], targets, targetShape: [b] };
  }
}

export interface TableFile {
  layout: TableLayout;
  numClasses: number;
  normalization: Normalization;
  train: TableRows;
  heldOut: TableRows;
  skipped: SkippedRows;
}

function columnName(spec: string | number, columns: string[], path: string, what: string): string {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec >= columns.length)
      throw new DataFileError(
        path,
        1,
        undefined,
        `${what}: column index ${spec} outside [0, ${columns.length})`,
      );
    return columns[spec];
  }
  if (!columns.includes(spec))
    throw new DataFileError(
      path,
      1,
      undefined,
      `${what}: no column "${spec}"; the columns are ${columns.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  return spec;
}

/** The layout from the first line: the header (CSV) or the first object (JSONL). */
function layoutOf(o: TableFileOptions, first: string): TableLayout {
  let columns: string[];
  let widths = new Map<string, number>();
  if (o.format === 'csv') {
    const delimiter = o.delimiter ?? ',';
    const { fields } = splitCsvLine(first, delimiter);
    columns = (o.header ?? true) ? fields.map((f) => f.trim()) : fields.map((_, i) => `column${i + 1}`);
    const dup = columns.find((c, i) => columns.indexOf(c) !== i);
    if (dup !== undefined)
      throw new DataFileError(o.path, 1, undefined, `column "${dup}" appears twice in the header`);
  } else {
    const obj = parseJsonObject(first);
    columns = Object.keys(obj);
    widths = new Map(columns.map((k) => [k, Array.isArray(obj[k]) ? (obj[k] as unknown[]).length : 1]));
  }
  const target = columnName(o.target, columns, o.path, 'target');
  const names = (o.features ?? columns.filter((c) => c !== target)).map((f) =>
    columnName(f, columns, o.path, 'features'),
  );
  if (names.includes(target))
    throw new DataFileError(
      o.path,
      1,
      undefined,
      `features: the target "${target}" cannot also be a feature`,
    );
  if (names.length === 0) throw new DataFileError(o.path, 1, undefined, 'no feature columns');
  return {
    format: o.format,
    columns,
    target,
    features: names.map((name) => ({ name, width: widths.get(name) ?? 1 })),
    ...(o.format === 'csv' ? { delimiter: o.delimiter ?? ',', header: o.header ?? true } : {}),
  };
}

const EXAMPLES = 5;

/** Indexes a table file in one streaming pass; throws a DataFileError at the first bad row unless skipping. */
export function indexTableFile(o: TableFileOptions): TableFile {
  const evalFraction = o.evalFraction ?? 0.1;
  if (!(evalFraction > 0 && evalFraction < 1))
    throw new RangeError(`indexTableFile: evalFraction must lie in (0, 1), got ${evalFraction}`);
  const skip = o.badRows === 'skip';
  const seed = o.seed ?? 0;
  let layout: TableLayout | undefined;
  let parser: RowParser | undefined;
  const split = [0, 1].map(() => ({
    starts: new Growable(new Float64Array(1024)),
    lengths: new Growable(new Int32Array(1024)),
  }));
  const skipped: SkippedRows = { count: 0, examples: [] };
  let mean: Float64Array = new Float64Array(0);
  let m2: Float64Array = new Float64Array(0);
  let min: Float64Array = new Float64Array(0);
  let max: Float64Array = new Float64Array(0);
  let nTrain = 0;
  let maxLabel = -1;
  let valid = 0;
  const stamp = statSync(o.path, { throwIfNoEntry: false });
  for (const l of readLines(o.path)) {
    if (l.text.trim() === '') continue;
    try {
      if (!layout) {
        layout = layoutOf(o, l.text);
        parser = rowParser(layout, o.numClasses);
        const f = featureCount(layout);
        [mean, m2, min, max] = [0, 0, Infinity, -Infinity].map((v) => new Float64Array(f).fill(v));
        if (o.format === 'csv' && (o.header ?? true)) continue;
      }
      const row = parser!.parse(l.text, true);
      const held = rng(seed, 'data-split', valid).uniform() < evalFraction;
      valid++;
      split[held ? 1 : 0].starts.push(l.start);
      split[held ? 1 : 0].lengths.push(l.bytes);
      maxLabel = Math.max(maxLabel, row.label!);
      if (!held) {
        nTrain++;
        for (let j = 0; j < row.features.length; j++) {
          const x = row.features[j];
          const d = x - mean[j];
          mean[j] += d / nTrain;
          m2[j] += d * (x - mean[j]);
          if (x < min[j]) min[j] = x;
          if (x > max[j]) max[j] = x;
        }
      }
    } catch (e) {
      if (!(e instanceof RowError)) throw e;
      const err = new DataFileError(o.path, l.line, e.column, e.detail);
      // The header (or the first object, which fixes the layout) must be right even when skipping rows.
      if (!skip || !layout) throw err;
      skipped.count++;
      if (skipped.examples.length < EXAMPLES) skipped.examples.push(err.message);
    }
  }
  if (!layout) throw new DataFileError(o.path, undefined, undefined, 'the file holds no rows');
  const [train, held] = split.map((s) => ({ starts: s.starts.done(), lengths: s.lengths.done() }));
  if (train.starts.length === 0 || held.starts.length === 0)
    throw new DataFileError(
      o.path,
      undefined,
      undefined,
      `${valid} valid rows: too few for a train and a held-out split (evalFraction ${evalFraction})${skipped.count ? `; ${skipped.count} bad rows skipped` : ''}`,
    );
  const kind = o.normalize ?? 'none';
  const f = mean.length;
  const normalization: Normalization = {
    kind,
    shift: Array.from({ length: f }, (_, j) =>
      kind === 'standard' ? mean[j] : kind === 'minmax' ? min[j] : 0,
    ),
    scale: Array.from({ length: f }, (_, j) => {
      const s = kind === 'standard' ? Math.sqrt(m2[j] / nTrain) : kind === 'minmax' ? max[j] - min[j] : 1;
      return s > 0 && Number.isFinite(s) ? s : 1;
    }),
  };
  const numClasses = o.numClasses ?? maxLabel + 1;
  const fileStamp = { size: stamp!.size, mtimeMs: stamp!.mtimeMs };
  const rows = (name: string, s: typeof train) =>
    new TableRows(name, o.path, fileStamp, s.starts, s.lengths, parser!, normalization, numClasses);
  return {
    layout,
    numClasses,
    normalization,
    train: rows(`${o.path}:train`, train),
    heldOut: rows(`${o.path}:held-out`, held),
    skipped,
  };
}
