/**
 * `hessflow predict <run> --input FILE`: class predictions of a run trained on a CSV or JSONL file, for
 * new rows of the same columns (the target column may be absent; where present, accuracy is reported).
 * The run's data.json says which columns are features and how they were normalised, so rows are read
 * exactly as in training. The input is streamed (src/data/line-reader.ts), a batch of rows at a time;
 * each output row is the input's line number, the predicted class and the class probabilities, as CSV
 * (for CSV input) or JSONL, on stdout or into --output.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { extname } from 'node:path';
import { Command } from 'commander';
import { DataFileError, RowError } from '../../data/data-file-error.js';
import { readLines } from '../../data/line-reader.js';
import {
  type ParsedRow,
  type TableLayout,
  parseJsonObject,
  rowParser,
  splitCsvLine,
} from '../../data/table-rows.js';
import type { Model } from '../../nn/model.js';
import { softmax } from '../../tensor/functional.js';
import { noGrad } from '../../tensor/graph.js';
import { Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../errors.js';
import { type TableDataFile, readRun } from '../run-files.js';

export interface PredictOptions {
  input: string;
  output?: string;
  format?: 'csv' | 'jsonl';
  best?: boolean;
  skipBadRows?: boolean;
}

export interface PredictSummary {
  rows: number;
  skipped: number;
  /** Rows that carried a label, and the fraction predicted right. */
  labelled: number;
  accuracy: number | null;
}

const BATCH = 256;

function formatOf(o: PredictOptions, run: TableDataFile): 'csv' | 'jsonl' {
  if (o.format) return o.format;
  const ext = extname(o.input).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return run.layout.format;
}

/** The input's own layout: its header's columns, holding the run's features (and maybe its target). */
function inputLayout(run: TableDataFile, format: 'csv' | 'jsonl', path: string, first: string): TableLayout {
  const trained = run.layout;
  if (format === 'jsonl') return { ...trained, format };
  const delimiter = trained.delimiter ?? ',';
  const { fields } = splitCsvLine(first, delimiter);
  let columns: string[];
  if (trained.header === false) {
    if (fields.length === trained.columns.length) columns = trained.columns;
    else if (fields.length === trained.columns.length - 1)
      columns = trained.columns.filter((c) => c !== trained.target);
    else
      throw new DataFileError(
        path,
        1,
        undefined,
        `${fields.length} fields; the run was trained on ${trained.columns.length} (target included) or ${trained.columns.length - 1} without it`,
      );
  } else {
    columns = fields.map((f) => f.trim());
    for (const f of trained.features)
      if (!columns.includes(f.name))
        throw new DataFileError(
          path,
          1,
          undefined,
          `no column "${f.name}", a feature of the run; the header has ${columns.map((c) => JSON.stringify(c)).join(', ')}`,
        );
  }
  return { ...trained, format, columns, delimiter, header: trained.header ?? true };
}

export async function predictCommand(runDir: string, o: PredictOptions): Promise<PredictSummary> {
  const run = await readRun(runDir, { best: o.best ?? false });
  if (!run.table)
    throw new UsageError(
      `${runDir}: predict needs a run trained on a CSV or JSONL file (it has no data.json)`,
    );
  const table = run.table;
  const model: Model = run.model;
  const format = formatOf(o, table);
  const { shift, scale } = table.normalization;
  const f = shift.length;
  const params = model.layout.unflatten(new Tensor(run.checkpoint.params, [run.checkpoint.params.length]));
  const out = o.output === undefined ? 1 : openSync(o.output, 'w');
  const write = (s: string) => writeSync(out, s);
  const summary: PredictSummary = { rows: 0, skipped: 0, labelled: 0, accuracy: null };
  let correct = 0;
  const classes = table.numClasses;
  if (format === 'csv')
    write(`line,prediction,${Array.from({ length: classes }, (_, k) => `p${k}`).join(',')}\n`);
  let pending: { line: number; row: ParsedRow }[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const x = new Float32Array(pending.length * f);
    pending.forEach(({ row }, r) => {
      for (let j = 0; j < f; j++) x[r * f + j] = (row.features[j] - shift[j]) / scale[j];
    });
    const probs = noGrad(() => softmax(model.logits(params, { data: x, shape: [pending.length, f] })).data);
    pending.forEach(({ line, row }, r) => {
      const p = Array.from(probs.subarray(r * classes, (r + 1) * classes));
      let k = 0;
      for (let j = 1; j < classes; j++) if (p[j] > p[k]) k = j;
      if (row.label !== undefined) {
        summary.labelled++;
        if (row.label === k) correct++;
      }
      write(
        format === 'csv'
          ? `${line},${k},${p.map((v) => v.toPrecision(6)).join(',')}\n`
          : `${JSON.stringify({ line, prediction: k, probabilities: p.map((v) => Number(v.toPrecision(6))) })}\n`,
      );
    });
    summary.rows += pending.length;
    pending = [];
  };
  try {
    let parse: ((text: string) => ParsedRow) | undefined;
    for (const l of readLines(o.input)) {
      if (l.text.trim() === '') continue;
      try {
        if (!parse) {
          const layout = inputLayout(table, format, o.input, l.text);
          if (format === 'jsonl') parseJsonObject(l.text);
          const parser = rowParser(layout);
          parse = (text) => parser.parse(text, false);
          if (format === 'csv' && layout.header !== false) continue;
        }
        pending.push({ line: l.line, row: parse(l.text) });
      } catch (e) {
        if (!(e instanceof RowError)) throw e;
        const err = new DataFileError(o.input, l.line, e.column, e.detail);
        if (!o.skipBadRows) throw err;
        summary.skipped++;
        process.stderr.write(`hessflow predict: skipped ${err.message}\n`);
      }
      if (pending.length === BATCH) flush();
    }
    flush();
  } finally {
    if (out !== 1) closeSync(out);
  }
  summary.accuracy = summary.labelled > 0 ? correct / summary.labelled : null;
  process.stderr.write(
    `hessflow predict: ${summary.rows} rows${summary.skipped ? `, ${summary.skipped} bad rows skipped` : ''}${summary.accuracy !== null ? `; accuracy ${(100 * summary.accuracy).toFixed(2)}% on the ${summary.labelled} labelled` : ''}\n`,
  );
  return summary;
}

export function predictCommandSpec(): Command {
  return new Command('predict')
    .description('predict the classes of new CSV/JSONL rows with a run trained on a CSV or JSONL file')
    .argument('<run>', 'the run directory (hessflow train -o DIR)')
    .requiredOption(
      '-i, --input <file>',
      'rows with the training columns (the target column may be left out)',
    )
    .option('-o, --output <file>', 'where the predictions go (default: stdout)')
    .option(
      '--format <format>',
      "csv or jsonl (default: from the input file extension, else the run's)",
      (v) => {
        if (v !== 'csv' && v !== 'jsonl') throw new UsageError(`--format: must be csv or jsonl, got "${v}"`);
        return v;
      },
    )
    .option('--best', 'use the checkpoint of the lowest held-out loss (best/) instead of the last')
    .option('--skip-bad-rows', 'leave out (and count) rows that cannot be read instead of stopping')
    .action(async (run: string, opts: PredictOptions) => {
      await predictCommand(run, opts);
    });
}
