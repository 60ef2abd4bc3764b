/** Errors the CLI reports without a stack trace. A UsageError (bad flag, bad config value) exits with 2. */

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

/** A config value that is missing, of the wrong type or impossible; `key` is its dotted path. */
export class ConfigError extends UsageError {
  constructor(
    readonly source: string,
    readonly key: string,
    detail: string,
  ) {
    super(`${source}: ${key}: ${detail}`);
  }
}
