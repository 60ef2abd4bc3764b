/**
 * The NATS client packages (`@nats-io/transport-node`, `@nats-io/jetstream`) are optional dependencies:
 * only the JetStream source and what uses it (`hessflow/jetstream`, `hessflow publish`, `train --source`,
 * the daemon's `ingest.nats`) load them. A missing one fails with an error that names it, what needs it
 * and the command that installs them.
 */

/** The NATS client packages the JetStream source imports. */
export const NATS_PACKAGES = ['@nats-io/transport-node', '@nats-io/jetstream'] as const;

/** The install command for the NATS client packages. */
export const NATS_INSTALL = `npm install ${NATS_PACKAGES.join(' ')}`;

/** Thrown when a NATS client package is needed but not installed. */
export class MissingNatsPackageError extends Error {
  override readonly name = 'MissingNatsPackageError';
  constructor(
    readonly packageName: string,
    what: string,
    cause?: unknown,
  ) {
    super(
      `${what} needs the optional package '${packageName}', which is not installed (hessflow was ` +
        `probably installed with --omit=optional). Install the NATS clients with: ${NATS_INSTALL}`,
      { cause },
    );
  }
}

/** The `@nats-io/…` package a failed import says it could not find, or null for any other error. */
export function missingNatsPackage(e: unknown): string | null {
  const err = e as { code?: string; message?: string } | null;
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' && err?.code !== 'MODULE_NOT_FOUND') return null;
  // "Cannot find package '@nats-io/jetstream' imported from …"
  const m = /'(@nats-io\/[^'/]+)/.exec(err.message ?? '');
  return m ? m[1] : null;
}

/** `load()` (an import of a module that needs the NATS clients), a missing client named as such. */
export async function importWithNats<T>(load: () => Promise<T>, what: string): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const name = missingNatsPackage(e);
    if (name !== null) throw new MissingNatsPackageError(name, what, e);
    throw e;
  }
}
