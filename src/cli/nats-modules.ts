/**
 * The NATS client packages (`@nats-io/transport-node`, `@nats-io/jetstream`) are loaded only by the
 * commands that use them (`train --source`, `publish`), so the rest of the CLI works without them; when
 * they are missing those commands say how to install them.
 */
import { UsageError } from './errors.js';

export async function loadNatsModule<T>(load: () => Promise<T>, what: string): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && /@nats-io\//.test(String((e as Error).message)))
      throw new UsageError(
        `${what} needs the NATS client packages: npm install @nats-io/transport-node @nats-io/jetstream`,
      );
    throw e;
  }
}
