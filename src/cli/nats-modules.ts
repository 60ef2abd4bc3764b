/**
 * The NATS client packages (`@nats-io/transport-node`, `@nats-io/jetstream`) are loaded only by the
 * commands that use them (`train --source`, `publish`), so the rest of the CLI works without them; when
 * they are missing those commands say which one and how to install them.
 */
import { NATS_INSTALL, missingNatsPackage } from '../streams/nats-packages.js';
import { UsageError } from './errors.js';

export async function loadNatsModule<T>(load: () => Promise<T>, what: string): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const name = missingNatsPackage(e);
    if (name !== null)
      throw new UsageError(`${what} needs the NATS client packages ('${name}' is missing): ${NATS_INSTALL}`);
    throw e;
  }
}
