/**
 * One row of a user's table (CSV or JSONL) → numeric features and an integer class label. The column
 * layout is fixed once (from the CSV header, or the first JSONL object) and every later row must fit it;
 * a row that does not throws a RowError at the 1-based column of the offending field.
 *
 * CSV lines without the quote character are split directly (the common, all-numeric case); a line with
 * quotes goes through csv-parse, so quoting and escaped quotes follow RFC 4180. A quoted field may not
 * span lines: rows are indexed line by line.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { RowError } from './data-file-error.js';

export interface ParsedRow {
  features: Float64Array;
  /** Undefined when the row has no target (allowed only when parsing for prediction). */
  label: number | undefined;
}

/** How a table's columns become features and a target, as saved with a run (data.json). */
export interface TableLayout {
  format: 'csv' | 'jsonl';
  /** CSV: header names (or `column1`, … without a header); JSONL: keys. */
  columns: string[];
  /** The target's column (CSV name or key). */
  target: string;
  /** The feature columns in order; a JSONL key may hold an array (expanded to `key[0]`, …). */
  features: { name: string; width: number }[];
  /** CSV only. */
  delimiter?: string;
  header?: boolean;
}

export function featureCount(layout: TableLayout): number {
  return layout.features.reduce((n, f) => n + f.width, 0);
}

function numberAt(text: string, column: number, what: string): number {
  const trimmed = text.trim();
  const v = trimmed === '' ? NaN : Number(trimmed);
  if (!Number.isFinite(v))
    throw new RowError(column, `${what}: ${JSON.stringify(text)} is not a finite number`);
  return v;
}

function labelOf(v: number, column: number, target: string, numClasses: number | undefined): number {
  if (!Number.isInteger(v) || v < 0)
    throw new RowError(column, `target "${target}": ${v} is not a class label (an integer >= 0)`);
  if (numClasses !== undefined && v >= numClasses)
    throw new RowError(column, `target "${target}": ${v} is outside [0, ${numClasses}) (data.numClasses)`);
  return v;
}

/** The fields of a CSV line with the 1-based column where each starts. */
export function splitCsvLine(line: string, delimiter: string): { fields: string[]; at: number[] } {
  if (!line.includes('"')) {
    const fields = line.split(delimiter);
    const at: number[] = [];
    let pos = 1;
    for (const f of fields) {
      at.push(pos);
      pos += f.length + delimiter.length;
    }
    return { fields, at };
  }
  let records: string[][];
  try {
    records = parseCsv(line, { delimiter, relax_column_count: true }) as string[][];
  } catch (e) {
    throw new RowError(1, `not valid CSV: ${(e as Error).message}`);
  }
  if (records.length !== 1) throw new RowError(1, 'a quoted field spans lines (not supported)');
  // Field starts: delimiters outside quotes.
  const at = [1];
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (!quoted && line.startsWith(delimiter, i)) at.push(i + 1 + delimiter.length);
  }
  return { fields: records[0], at };
}

export interface RowParser {
  parse(line: string, needLabel: boolean): ParsedRow;
}

export function csvRowParser(layout: TableLayout, numClasses?: number): RowParser {
  const delimiter = layout.delimiter ?? ',';
  const index = new Map(layout.columns.map((c, i) => [c, i]));
  const featureIdx = layout.features.map((f) => index.get(f.name)!);
  // Input for prediction may have no target column.
  const targetIdx = index.get(layout.target);
  const n = layout.columns.length;
  return {
    parse(line, needLabel) {
      const { fields, at } = splitCsvLine(line, delimiter);
      if (fields.length !== n) {
        const col = fields.length > n ? at[n] : line.length + 1;
        throw new RowError(col, `${fields.length} fields, the header has ${n}`);
      }
      if (targetIdx === undefined && needLabel) throw new RowError(1, `no target column "${layout.target}"`);
      const features = new Float64Array(featureIdx.length);
      featureIdx.forEach((c, j) => {
        features[j] = numberAt(fields[c], at[c], `column "${layout.columns[c]}"`);
      });
      const label =
        targetIdx === undefined
          ? undefined
          : labelOf(
              numberAt(fields[targetIdx], at[targetIdx], `target "${layout.target}"`),
              at[targetIdx],
              layout.target,
              numClasses,
            );
      return { features, label };
    },
  };
}

/** JSON.parse's message carries the character position ("… at position 12"): that is the column. */
function jsonColumn(e: Error): number {
  const m = /position (\d+)/.exec(e.message);
  return m ? Number(m[1]) + 1 : 1;
}

function keyColumn(line: string, key: string): number {
  const i = line.indexOf(JSON.stringify(key));
  return i < 0 ? 1 : i + 1;
}

export function parseJsonObject(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new RowError(jsonColumn(e as Error), `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new RowError(1, 'each line must be one JSON object');
  return v as Record<string, unknown>;
}

export function jsonlRowParser(layout: TableLayout, numClasses?: number): RowParser {
  const width = featureCount(layout);
  return {
    parse(line, needLabel) {
      const obj = parseJsonObject(line);
      const features = new Float64Array(width);
      let j = 0;
      for (const f of layout.features) {
        const v = obj[f.name];
        const col = keyColumn(line, f.name);
        if (v === undefined) throw new RowError(1, `missing key "${f.name}"`);
        const values = Array.isArray(v) ? v : [v];
        if (Array.isArray(v) !== f.width > 1 || values.length !== f.width)
          throw new RowError(
            col,
            `key "${f.name}": expected ${f.width === 1 ? 'a number' : `an array of ${f.width} numbers`}, got ${JSON.stringify(v)}`,
          );
        for (const x of values) {
          if (typeof x !== 'number' || !Number.isFinite(x))
            throw new RowError(col, `key "${f.name}": ${JSON.stringify(x)} is not a finite number`);
          features[j++] = x;
        }
      }
      const t = obj[layout.target];
      if (t === undefined) {
        if (needLabel) throw new RowError(1, `missing target key "${layout.target}"`);
        return { features, label: undefined };
      }
      const col = keyColumn(line, layout.target);
      if (typeof t !== 'number')
        throw new RowError(col, `target "${layout.target}": ${JSON.stringify(t)} is not a number`);
      return { features, label: labelOf(t, col, layout.target, numClasses) };
    },
  };
}

export function rowParser(layout: TableLayout, numClasses?: number): RowParser {
  return layout.format === 'csv' ? csvRowParser(layout, numClasses) : jsonlRowParser(layout, numClasses);
}
