/**
 * `npm run bench`: runs the benchmark suites, writes bench/results/<name>.json and regenerates
 * BENCHMARKS.md from all results files. Exits non-zero if any measured number is not finite.
 *
 *   node dist/bench/run.js [--name cpu] [--suites matmul,mlp] [--full]
 *   npm run bench:train   (= --name cpu-train --suites mnist: convergence, several minutes)
 *   npx tsx bench/run.ts   (same, without building)
 *
 * --full takes about 3× the repetitions of the default quick run (~1–2 minutes on 2 vCPUs).
 * A new suite is a function in bench/suites/ returning sections (bench/lib/types.ts); add it to SUITES.
 */
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from './lib/machine.js';
import { recordResults } from './lib/record.js';
import { RESULTS_SCHEMA, type Results, type Section, type Suite } from './lib/types.js';
import { matmulSuite } from './suites/matmul.js';
import { mlpSuite } from './suites/mlp.js';
import { mnistSuite } from './suites/mnist.js';
import { mlpTorchSuite, tfjsSuite } from './suites/tfjs.js';
import { pipelineSuite } from './suites/pipeline.js';
import { gptSuite } from './suites/gpt.js';
import { gptPipelineSuite } from './suites/gpt-pipeline.js';

export const SUITES: Record<string, Suite> = {
  matmul: matmulSuite,
  mlp: mlpSuite,
  mnist: mnistSuite,
  tfjs: tfjsSuite,
  'mlp-torch': mlpTorchSuite,
  pipeline: pipelineSuite,
  gpt: gptSuite,
  'gpt-pipeline': gptPipelineSuite,
};
/** The quick default; `--suites mnist` (npm run bench:train) runs the convergence suite. */
const DEFAULT_SUITES = ['matmul', 'mlp', 'tfjs', 'pipeline', 'gpt', 'gpt-pipeline'];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string', default: 'cpu' },
      suites: { type: 'string', default: DEFAULT_SUITES.join(',') },
      full: { type: 'boolean', default: false },
    },
  });
  const name = values.name!;
  if (!/^[\w.-]+$/.test(name)) throw new Error(`--name ${name}: use letters, digits, '.', '_' or '-'`);
  const suiteNames = values.suites!.split(',').filter(Boolean);
  for (const s of suiteNames)
    if (!SUITES[s]) throw new Error(`unknown suite ${s} (have: ${Object.keys(SUITES).join(', ')})`);

  const load = loadAverage();
  const started = performance.now();
  const sections: Section[] = [];
  for (const s of suiteNames) {
    const t0 = performance.now();
    sections.push(...(await SUITES[s]({ quick: !values.full, log: (line) => console.log(`  ${line}`) })));
    console.log(`suite ${s}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const results: Results = {
    schema: RESULTS_SCHEMA,
    name,
    suites: suiteNames,
    machine: describeMachine(load),
    sections,
  };

  if (!recordResults('bench', results)) return 1;
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
