/**
 * The one way a benchmark records: bench/results/<results.name>.json, then BENCHMARKS.md regenerated.
 * A run with problems — its own (a lost batch, say) or any non-finite number in its results — is
 * printed and nothing is written, so a recorded number is always a measured, finite one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport } from '../report.js';
import { resultsDir } from './paths.js';
import type { Results } from './types.js';
import { nonFinite } from './validate.js';

/** Writes the results and the report; false (nothing written) when there were problems. */
export function recordResults(who: string, results: Results, problems: readonly string[] = []): boolean {
  const all = [...problems, ...nonFinite(results).map((b) => `not finite: ${b}`)];
  if (all.length > 0) {
    console.error(`${who}: FAILED, nothing written:\n  ${all.join('\n  ')}`);
    return false;
  }
  mkdirSync(resultsDir(), { recursive: true });
  const file = join(resultsDir(), `${results.name}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`wrote ${file}`);
  console.log(`wrote ${writeReport()}`);
  return true;
}
