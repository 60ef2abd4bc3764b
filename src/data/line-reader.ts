/**
 * The lines of a file, read in fixed-size chunks with synchronous reads: memory stays at one chunk (plus
 * the longest line) however large the file, and each line comes with its byte offset and length, so a
 * dataset can index a file once and read any row back later with one positioned read. Lines end at
 * `\n`; a trailing `\r` (Windows line ends) is left out of the text, and a UTF-8 byte-order mark at the
 * start of the file is skipped.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { DataFileError } from './data-file-error.js';

export interface FileLine {
  /** The line without its `\n` (and `\r`). */
  text: string;
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's first byte. */
  start: number;
  /** Bytes of the line, without its `\n` (and `\r`). */
  bytes: number;
}

const CHUNK = 1 << 20;

export function* readLines(path: string, chunkBytes = CHUNK): Generator<FileLine, void, undefined> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new DataFileError(path, undefined, undefined, `cannot read: ${(e as Error).message}`);
  }
  try {
    let buf = Buffer.allocUnsafe(chunkBytes);
    let filled = 0; // bytes in buf
    let bufStart = 0; // file offset of buf[0]
    let eof = false;
    let line = 0;
    let first = true;
    while (!eof || filled > 0) {
      if (!eof) {
        if (filled === buf.length) {
          // One line longer than the buffer: grow it.
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, filled);
          buf = bigger;
        }
        const n = readSync(fd, buf, filled, buf.length - filled, bufStart + filled);
        if (n === 0) eof = true;
        filled += n;
      }
      let from = 0;
      if (first && filled >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) from = 3;
      if (first && (filled >= 3 || eof)) first = false;
      for (;;) {
        const nl = buf.indexOf(10, from);
        if (nl < 0 || nl >= filled) break;
        const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
        yield {
          text: buf.toString('utf8', from, end),
          line: ++line,
          start: bufStart + from,
          bytes: end - from,
        };
        from = nl + 1;
      }
      if (eof) {
        if (from < filled) {
          const end = buf[filled - 1] === 13 ? filled - 1 : filled;
          yield {
            text: buf.toString('utf8', from, end),
            line: ++line,
            start: bufStart + from,
            bytes: end - from,
          };
        }
        break;
      }
      // Keep the partial line at the front of the buffer.
      buf.copy(buf, 0, from, filled);
      bufStart += from;
      filled -= from;
    }
  } finally {
    closeSync(fd);
  }
}
