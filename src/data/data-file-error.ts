/**
 * An error in a user's data file, placed as `file:line:column: detail` (1-based, as editors and
 * compilers print them), so the offending spot can be opened directly. Thrown for unreadable files,
 * malformed rows (unless the dataset skips bad rows, counting them) and files that changed after indexing.
 */
export class DataFileError extends Error {
  override readonly name = 'DataFileError';

  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    readonly detail: string,
  ) {
    super(
      `${file}${line === undefined ? '' : `:${line}${column === undefined ? '' : `:${column}`}`}: ${detail}`,
    );
  }
}

/** A problem inside one row, at a 1-based column of its line; the reader adds the file and line. */
export class RowError extends Error {
  override readonly name = 'RowError';

  constructor(
    readonly column: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}
