/**
 * Publishing a dataset's training batches to a JetStream stream, as `hessflow publish` does: batch k of a
 * run config (its data set, batch size and seed: the batches `hessflow train` would use) becomes one
 * message in the daemon's msgpack wire format, with the message id `<data>:<batchSize>:<seed>:<k>`. The
 * id is a stable function of the batch, so a publish retried after a lost ack, or a whole command run
 * again, stores nothing new within the stream's duplicate window (default 2 minutes).
 */
import {
  DiscardPolicy,
  type JetStreamClient,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { Packr } from 'msgpackr';
import type { Batch } from '../data/batch.js';
import { type NatsAuthOptions, connectNats, natsErrorText } from '../streams/nats-connection.js';
import type { RunConfig } from './config.js';
import { setupData } from './run-setup.js';

const packr = new Packr({ moreTypes: true });

/** A batch in the wire format the daemon's socket endpoint and the JetStream source take. */
export function encodeBatch(b: Batch): Uint8Array {
  return packr.pack({
    inputs: b.inputs,
    inputShape: b.inputShape,
    targets: b.targets,
    targetShape: b.targetShape,
    ...(b.id !== undefined ? { id: b.id } : {}),
  });
}

/** The message id of batch k of a config: a pure function of data set, batch size, seed and k. */
export function batchMessageId(config: Pick<RunConfig, 'data' | 'batchSize' | 'seed'>, k: number): string {
  return `${config.data?.name ?? 'mnist'}:${config.batchSize}:${config.seed}:${k}`;
}

export interface PublishOptions extends NatsAuthOptions {
  servers: string | string[];
  stream: string;
  /** Subject to publish on (default `hessflow.train.<stream>`). */
  subject?: string;
  /** First batch index (default 0). */
  start?: number;
  /** Number of batches (default: config.steps). */
  count?: number;
  /** Create the stream (file storage, on `subject`) when it does not exist (default true). */
  create?: boolean;
  /** Stream replicas when creating it (default 1). */
  replicas?: number;
  /** Publish retries per message after a failure or timeout (default 5), with the same id. */
  retries?: number;
  onProgress?: (p: { done: number; total: number; duplicates: number }) => void;
  signal?: AbortSignal;
}

export interface PublishResult {
  stream: string;
  subject: string;
  published: number;
  /** Messages the stream already held (same id): stored once. */
  duplicates: number;
  firstSeq: number | null;
  lastSeq: number | null;
  seconds: number;
}

export function defaultSubject(stream: string): string {
  return `hessflow.train.${stream}`;
}

/** Publishes with the id, retrying with the same id (so a retry is stored at most once). */
export async function publishWithRetry(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  msgID: string,
  retries = 5,
): Promise<{ seq: number; duplicate: boolean }> {
  let wait = 100;
  for (let attempt = 0; ; attempt++) {
    try {
      const ack = await js.publish(subject, data, { msgID, timeout: 5000 });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (e) {
      if (attempt >= retries)
        throw new Error(`publishing ${msgID} to ${subject} failed: ${natsErrorText(e)}`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 3000);
    }
  }
}

export async function publishDataset(config: RunConfig, o: PublishOptions): Promise<PublishResult> {
  const start = o.start ?? 0;
  const count = o.count ?? config.steps;
  if (!Number.isInteger(start) || start < 0)
    throw new RangeError(`publish: start must be an integer >= 0, got ${start}`);
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`publish: count must be an integer >= 0, got ${count}`);
  const subject = o.subject ?? defaultSubject(o.stream);
  const data = setupData(config);
  const nc = await connectNats({ ...o, name: `hessflow publish ${o.stream}` });
  const started = performance.now();
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    try {
      await jsm.streams.info(o.stream);
    } catch (e) {
      if (o.create === false || !/not found/i.test(natsErrorText(e)))
        throw new Error(`JetStream stream ${o.stream} is not available: ${natsErrorText(e)}`);
      await jsm.streams.add({
        name: o.stream,
        subjects: [subject],
        num_replicas: o.replicas ?? 1,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
      });
    }
    const js = jetstream(nc, { timeout: 5000 });
    let duplicates = 0;
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    let done = 0;
    for (let k = start; k < start + count; k++) {
      if (o.signal?.aborted) break;
      const r = await publishWithRetry(
        js,
        subject,
        encodeBatch(data.batchAt(k)),
        batchMessageId(config, k),
        o.retries,
      );
      if (r.duplicate) duplicates++;
      firstSeq ??= r.seq;
      lastSeq = r.seq;
      done++;
      o.onProgress?.({ done, total: count, duplicates });
    }
    return {
      stream: o.stream,
      subject,
      published: done - duplicates,
      duplicates,
      firstSeq,
      lastSeq,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await nc.close();
  }
}
