/**
 * `hessflow sample <run>`: text from a run's character GPT — the prompt, then `--tokens` characters
 * drawn with `--temperature` (0: greedy) among the `--top-k` most likely (src/cli/sampling.ts), from a
 * seeded counter-based stream, so the same arguments give the same text. The vocabulary is the run's
 * vocab.json (a run from before it existed, on Moby Dick, falls back to that corpus's).
 */
import { Command } from 'commander';
import { loadMobyDick } from '../../data/moby-dick.js';
import type { CharVocab } from '../../data/char-vocab.js';
import { UsageError } from '../errors.js';
import { generateText } from '../generate.js';
import { nonNegativeInt, positiveInt } from '../parse.js';
import { RUN_EXTRA_FILES, readRun } from '../run-files.js';

export interface SampleOptions {
  prompt?: string;
  tokens?: number;
  temperature?: number;
  topK?: number;
  seed?: number;
  best?: boolean;
}

export async function sampleCommand(runDir: string, o: SampleOptions): Promise<string> {
  const run = await readRun(runDir, { best: o.best ?? false });
  if (run.spec.kind !== 'gpt')
    throw new UsageError(
      `${runDir}: sample needs a language model (a "gpt" run), this run's model is "${run.spec.kind}"`,
    );
  let vocab: CharVocab | undefined = run.vocab;
  if (!vocab && (run.config.data?.name ?? 'moby-dick') === 'moby-dick') vocab = loadMobyDick().vocab;
  if (!vocab) throw new UsageError(`${runDir}: no ${RUN_EXTRA_FILES.vocab} (the run's vocabulary)`);
  const blockSize = (run.spec as { blockSize: number }).blockSize;
  const text = generateText(run.model, run.checkpoint.params, vocab, blockSize, {
    prompt: o.prompt ?? '\n',
    tokens: o.tokens ?? 200,
    temperature: o.temperature ?? 0.8,
    ...(o.topK !== undefined ? { topK: o.topK } : {}),
    seed: o.seed ?? run.config.seed,
  });
  process.stdout.write(`${text}\n`);
  return text;
}

function temperature(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < 0)
    throw new UsageError(`--temperature: must be a number >= 0, got "${v}"`);
  return x;
}

export function sampleCommandSpec(): Command {
  return new Command('sample')
    .description("generate text with a run's character GPT")
    .argument('<run>', 'the run directory (hessflow train -o DIR)')
    .option('-p, --prompt <text>', 'the text to continue (characters outside the vocabulary are dropped)')
    .option('-n, --tokens <n>', 'characters to generate (default 200)', positiveInt)
    .option(
      '-t, --temperature <t>',
      'sampling temperature; 0 picks the most likely character (default 0.8)',
      temperature,
    )
    .option('-k, --top-k <k>', 'sample among the k most likely characters only', positiveInt)
    .option('--seed <n>', "the sampling seed (default: the run's seed)", nonNegativeInt)
    .option('--best', 'use the checkpoint of the lowest held-out loss (best/) instead of the last')
    .action(async (run: string, opts: SampleOptions) => {
      await sampleCommand(run, opts);
    });
}
