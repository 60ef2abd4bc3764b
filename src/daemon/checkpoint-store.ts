/**
 * Checkpoints of the daemon in one directory: `ckpt-<index>.hfckpt`, index increasing across restarts.
 * Each is the io checkpoint format (SHA-256 guarded) written atomically (temp file, fsync, rename, dir
 * fsync), so a crash leaves the previous files intact and never a torn one. The last `keepLast` are kept.
 * Indexes have at least 12 digits (more once past 999999999999: a stray 12-digit name never hides later
 * files). `loadNewestValid` returns the newest file that decodes. It tells a file that cannot be read
 * (EACCES, EIO, EISDIR, …: nothing is known about its contents) from one proven corrupt (it was read and
 * failed to decode or verify): the first is never touched and never pruned, and when it is newer than
 * every valid checkpoint the load fails with a `CheckpointUnreadableError` (starting from an older state
 * would later prune the newer one); a corrupt file is moved aside into `corrupt/` (kept as evidence,
 * out of the rotation) and reported.
 *
 * Besides parameters and optimizer state, `meta` holds the pending curvature estimates, the skipped-step
 * count, the sequence counter, the accepted-but-unapplied queue (so a graceful shutdown loses no
 * acknowledged batch), whether training was paused (so a restart comes back paused), whether it had
 * diverged (so a restart stays stopped) and, with `ingest.nats`, the stream position the checkpoint
 * covers. Checkpoints written before `paused` or `diverged` was recorded read as neither.
 */
import { mkdirSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Batch } from '../data/batch.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../io/checkpoint-codec.js';
import type { CurvatureEstimate } from '../step/curvature-schedule.js';
import type { QueuedBatch } from './batch-queue.js';
import type { Divergence } from './divergence.js';
import type { EngineSnapshot } from './engine.js';
import { type NatsPosition, natsPositionSchema } from './nats-ingest-config.js';

// 12 digits, more past 999999999999 (up to 15: indexes stay exact doubles).
const NAME = /^ckpt-(\d{12,15})\.hfckpt$/;
/** Where corrupt checkpoints are moved aside, inside the checkpoint directory. */
export const CORRUPT_DIR = 'corrupt';

/** The newest checkpoint (newer than every valid one) cannot be read: resuming from older would lose it. */
export class CheckpointUnreadableError extends Error {
  override readonly name = 'CheckpointUnreadableError';
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export interface StoredCheckpoint {
  index: number;
  path: string;
  snapshot: EngineSnapshot;
}

export interface SkippedCheckpoint {
  path: string;
  error: string;
  /** Where the corrupt file was moved (null if moving it failed: then it is left in place, unpruned). */
  movedTo: string | null;
}

/** What pruning did not delete, and why: `unreadable` (kept) or `corrupt` (moved aside). */
export interface PruneNote {
  path: string;
  error: string;
  kind: 'unreadable' | 'corrupt';
  movedTo: string | null;
}

interface DaemonMeta {
  daemon: 1;
  pending: CurvatureEstimate[];
  skipped: number;
  nextSeq: number;
  paused?: boolean;
  /** Set when training had diverged (divergence.ts); absent in older checkpoints and when it had not. */
  diverged?: Divergence;
  /** The optimizer's config name (checkpoints before it was recorded lack it). */
  optimizer?: string;
  /** The NATS ingest's stream position (daemons with `ingest.nats`). */
  nats?: NatsPosition;
  queue: {
    seq: number;
    inputs: Batch['inputs'];
    inputShape: number[];
    targets: Batch['targets'];
    targetShape: number[];
  }[];
}

export class CheckpointStore {
  private nextIndex = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** Files that could not be verified (unreadable, or corrupt and not moved): prune leaves them alone. */
  private readonly unverified = new Set<string>();
  /** Files known to be valid: written by this store, or the one resumed from. */
  private readonly verified = new Set<string>();
  /** Told about each file pruning kept or moved aside instead of deleting. */
  onPruneNote: (note: PruneNote) => void = () => undefined;

  constructor(
    readonly dir: string,
    private readonly keepLast: number,
    private readonly fsync = true,
  ) {
    mkdirSync(dir, { recursive: true });
    this.nextIndex = Math.max(-1, ...this.list().map((c) => c.index)) + 1;
    // Temporary files of an interrupted atomic write are garbage.
    for (const f of readdirSync(dir)) {
      if (/^\.ckpt-\d{12}\.hfckpt\..*\.tmp$/.test(f)) unlinkSync(join(dir, f));
    }
  }

  /** Checkpoint files, oldest first. */
  list(): { index: number; path: string }[] {
    return readdirSync(this.dir)
      .map((f) => NAME.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ index: Number(m[1]), path: join(this.dir, m[0]) }))
      .sort((a, b) => a.index - b.index);
  }

  /** Encodes now (synchronously, so the snapshot cannot change underneath) and writes in order. */
  save(snap: EngineSnapshot): Promise<{ index: number; path: string; step: number }> {
    const meta: DaemonMeta = {
      daemon: 1,
      pending: snap.pending,
      skipped: snap.skipped,
      nextSeq: snap.nextSeq,
      paused: snap.paused,
      ...(snap.diverged ? { diverged: snap.diverged } : {}),
      ...(snap.optimizer !== undefined ? { optimizer: snap.optimizer } : {}),
      ...(snap.nats ? { nats: snap.nats } : {}),
      queue: snap.queue.map((q) => ({
        seq: q.seq,
        inputs: q.batch.inputs,
        inputShape: q.batch.inputShape,
        targets: q.batch.targets,
        targetShape: q.batch.targetShape,
      })),
    };
    const bytes = encodeCheckpoint({
      params: snap.params,
      layout: snap.layout,
      optimizerState: snap.optState,
      step: snap.step,
      meta: meta as unknown as Record<string, unknown>,
    });
    const index = this.nextIndex++;
    const path = join(this.dir, checkpointName(index));
    const write = this.chain.then(async () => {
      await writeFileAtomic(path, bytes, { fsync: this.fsync });
      this.verified.add(path);
      await this.prune();
      return { index, path, step: snap.step };
    });
    this.chain = write.catch(() => undefined);
    return write;
  }

  /** Waits for writes in flight. */
  async flush(): Promise<void> {
    await this.chain;
  }

  /**
   * Deletes all but the newest `keepLast` checkpoints. A file this store did not write or resume from is
   * verified first: one that cannot be read is kept (never deleted unseen), a corrupt one is moved aside.
   */
  private async prune(): Promise<void> {
    const all = this.list().filter((c) => !this.unverified.has(c.path));
    for (const c of all.slice(0, Math.max(0, all.length - this.keepLast))) {
      if (!this.verified.has(c.path)) {
        let bytes: Uint8Array;
        try {
          bytes = await this.readHook(c.path);
        } catch (e) {
          this.unverified.add(c.path);
          this.onPruneNote({ path: c.path, error: (e as Error).message, kind: 'unreadable', movedTo: null });
          continue;
        }
        try {
          this.decode(c, bytes);
        } catch (e) {
          const movedTo = this.moveAside(c.path);
          this.onPruneNote({ path: c.path, error: (e as Error).message, kind: 'corrupt', movedTo });
          continue;
        }
      }
      try {
        unlinkSync(c.path);
      } catch {
        // already gone
      }
      this.verified.delete(c.path);
    }
  }

  /**
   * The newest checkpoint that decodes and verifies. Corrupt ones (read, but failing to decode or verify)
   * newer than it are moved into `corrupt/` and reported in `skipped`. A file that cannot be read newer
   * than every valid one throws a CheckpointUnreadableError. Files older than the one returned are not
   * read here (pruning verifies them before deleting).
   */
  async loadNewestValid(): Promise<{ found: StoredCheckpoint | null; skipped: SkippedCheckpoint[] }> {
    const skipped: SkippedCheckpoint[] = [];
    for (const c of this.list().reverse()) {
      let bytes: Uint8Array;
      try {
        bytes = await this.readHook(c.path);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        this.unverified.add(c.path);
        throw new CheckpointUnreadableError(
          c.path,
          err.code,
          `cannot read checkpoint ${c.path} (${err.code ?? 'error'}: ${err.message}); it is the newest ` +
            'checkpoint, so starting from an older one (or fresh) would lose its state. Fix its access ' +
            '(permissions, disk) and start again, or move it out of the directory to resume from the one ' +
            'before it',
        );
      }
      try {
        const found = this.decode(c, bytes);
        this.verified.add(c.path);
        return { found, skipped };
      } catch (e) {
        if (!(e instanceof CheckpointError) && !(e instanceof NotDaemonCheckpoint)) throw e;
        skipped.push({ path: c.path, error: e.message, movedTo: this.moveAside(c.path) });
      }
    }
    return { found: null, skipped };
  }

  /** Reads a checkpoint's bytes (replaceable in tests to inject read errors). */
  readHook: (path: string) => Promise<Uint8Array> = (path) => readFile(path);

  /** Moves a corrupt file into corrupt/ under a name that is never reused; null if that failed. */
  private moveAside(path: string): string | null {
    const dest = join(this.dir, CORRUPT_DIR);
    try {
      mkdirSync(dest, { recursive: true });
      const to = join(dest, `${path.slice(this.dir.length + 1)}.${Date.now()}`);
      renameSync(path, to);
      return to;
    } catch {
      this.unverified.add(path);
      return null;
    }
  }

  private decode(c: { index: number; path: string }, bytes: Uint8Array): StoredCheckpoint {
    const ck = decodeCheckpoint(bytes, { source: c.path });
    const meta = ck.meta as unknown as DaemonMeta;
    if (meta.daemon !== 1 || !Array.isArray(meta.queue) || !Array.isArray(meta.pending))
      throw new NotDaemonCheckpoint(`${c.path}: not a daemon checkpoint (meta lacks the daemon fields)`);
    // Resuming without the stream position would train its messages again: a bad one is no checkpoint.
    const nats = meta.nats === undefined ? undefined : natsPositionSchema.safeParse(meta.nats);
    if (nats && !nats.success)
      throw new NotDaemonCheckpoint(`${c.path}: meta.nats is not a NATS position (${nats.error.message})`);
    const queue: QueuedBatch[] = meta.queue.map((q) => ({
      seq: q.seq,
      batch: {
        inputs: q.inputs,
        inputShape: q.inputShape,
        targets: q.targets,
        targetShape: q.targetShape,
      },
    }));
    return {
      index: c.index,
      path: c.path,
      snapshot: {
        params: ck.params,
        layout: ck.layout,
        optState: ck.optimizerState,
        step: ck.step,
        pending: meta.pending,
        skipped: meta.skipped,
        queue,
        nextSeq: meta.nextSeq,
        paused: meta.paused === true,
        diverged: isDivergence(meta.diverged) ? meta.diverged : null,
        ...(typeof meta.optimizer === 'string' ? { optimizer: meta.optimizer } : {}),
        ...(nats ? { nats: nats.data } : {}),
      },
    };
  }
}

class NotDaemonCheckpoint extends Error {}

function isDivergence(v: unknown): v is Divergence {
  if (v === null || typeof v !== 'object') return false;
  const d = v as Record<string, unknown>;
  return ['steps', 'firstStep', 'firstSeq', 'lastSeq'].every((k) => Number.isInteger(d[k]));
}

/** `ckpt-<index>.hfckpt`, the index zero-padded to 12 digits. */
export function checkpointName(index: number): string {
  return `ckpt-${String(index).padStart(12, '0')}.hfckpt`;
}
