/**
 * `hessflow/jetstream`: the JetStream source (`fromJetStream`, src/streams/from-jetstream.ts) as its own
 * entry, so the main entry never loads the NATS client packages. They are optional dependencies; without
 * them importing this entry fails with an error naming the missing package and how to install it.
 */
import { importWithNats } from './streams/nats-packages.js';

const source = await importWithNats(() => import('./streams/from-jetstream.js'), 'hessflow/jetstream');

/** A pull source of training batches from a JetStream stream, exactly once with the trainer's checkpoints. */
export const fromJetStream: typeof import('./streams/from-jetstream.js').fromJetStream = source.fromJetStream;
/** The error a JetStream source fails with (stream missing, consumer not served within maxOutageMs). */
export const JetStreamSourceError: typeof import('./streams/from-jetstream.js').JetStreamSourceError =
  source.JetStreamSourceError;
export type {
  DeadLetter,
  FromJetStreamOptions,
  JetStreamSource,
  JetStreamSourceStatus,
} from './streams/from-jetstream.js';
export { MissingNatsPackageError, NATS_PACKAGES } from './streams/nats-packages.js';
