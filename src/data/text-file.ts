/**
 * A UTF-8 text file as a character corpus (data `"text"`). The file is read whole, up to `maxBytes`
 * (default 256 MiB): a character corpus is indexed by position and needs every character's id in
 * memory anyway (4 bytes each), and V8 strings stop near 512 Mi characters, so a larger file is an
 * error that says so rather than a slow crash. Invalid UTF-8 and, with a saved vocabulary, characters
 * outside it are errors at file:line:column.
 */
import { readFileSync, statSync } from 'node:fs';
import { CharCorpus } from './char-corpus.js';
import type { CharVocab } from './char-vocab.js';
import { DataFileError } from './data-file-error.js';

export const TEXT_MAX_BYTES = 256 * 1024 * 1024;

export interface TextFileOptions {
  maxBytes?: number;
  trainFraction?: number;
  /** The vocabulary to encode with (a saved run's); default the file's own characters. */
  vocab?: CharVocab;
}

/** 1-based line and column of the character at UTF-16 index `at`. */
function placeOf(text: string, at: number): [number, number] {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < at; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return [line, [...text.slice(lineStart, at)].length + 1];
}

export function readTextCorpus(path: string, o: TextFileOptions = {}): CharCorpus {
  const maxBytes = o.maxBytes ?? TEXT_MAX_BYTES;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new DataFileError(path, undefined, undefined, `cannot read: ${(e as Error).message}`);
  }
  if (size > maxBytes)
    throw new DataFileError(
      path,
      undefined,
      undefined,
      `${size} bytes, more than the ${maxBytes} a text corpus may have (data.maxBytes)`,
    );
  const bytes = readFileSync(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    // The lenient decoding marks the first bad sequence with U+FFFD: that places it.
    const ok = bytes.toString('utf8');
    const at = ok.indexOf('\uFFFD');
    const [line, column] = placeOf(ok, Math.max(0, at));
    throw new DataFileError(path, line, column, 'not valid UTF-8');
  }
  if (text.length < 2)
    throw new DataFileError(path, undefined, undefined, 'too short for a character corpus');
  if (o.vocab) {
    const known = new Set(o.vocab.chars);
    for (let i = 0; i < text.length;) {
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      if (!known.has(ch)) {
        const [line, column] = placeOf(text, i);
        throw new DataFileError(
          path,
          line,
          column,
          `character ${JSON.stringify(ch)} is not in the run's vocabulary`,
        );
      }
      i += ch.length;
    }
  }
  return new CharCorpus(text, {
    name: 'text',
    ...(o.trainFraction !== undefined ? { trainFraction: o.trainFraction } : {}),
    ...(o.vocab ? { vocab: o.vocab } : {}),
  });
}
