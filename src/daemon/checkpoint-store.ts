/**
 * Checkpoints of the daemon in one directory: `ckpt-<index>.hfckpt`, index increasing across restarts.
 * Each is the io checkpoint format (SHA-256 guarded) written atomically (temp file, fsync, rename, dir
 * fsync), so a crash leaves the previous files intact and never a torn one. The last `keepLast` are kept.
 * `loadNewestValid` returns the newest file that decodes, reporting each corrupt one it skips.
 *
 * Besides parameters and optimizer state, `meta` holds the pending curvature estimates, the skipped-step
 * count, the sequence counter, the accepted-but-unapplied queue (so a graceful shutdown loses no
 * acknowledged batch) and whether training was paused (so a restart comes back paused). Checkpoints
 * written before `paused` was recorded read as not paused.
 */
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Batch } from '../data/batch.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { decodeCheckpoint, encodeCheckpoint } from '../io/checkpoint-codec.js';
import type { CurvatureEstimate } from '../train/curvature-schedule.js';
import type { QueuedBatch } from './batch-queue.js';
import type { EngineSnapshot } from './engine.js';

const NAME = /^ckpt-(\d{12})\.hfckpt$/;

export interface StoredCheckpoint {
  index: number;
  path: string;
  snapshot: EngineSnapshot;
}

export interface SkippedCheckpoint {
  path: string;
  error: string;
}

interface DaemonMeta {
  daemon: 1;
  pending: CurvatureEstimate[];
  skipped: number;
  nextSeq: number;
  paused?: boolean;
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
    const path = join(this.dir, `ckpt-${String(index).padStart(12, '0')}.hfckpt`);
    const write = this.chain.then(async () => {
      await writeFileAtomic(path, bytes, { fsync: this.fsync });
      this.prune();
      return { index, path, step: snap.step };
    });
    this.chain = write.catch(() => undefined);
    return write;
  }

  /** Waits for writes in flight. */
  async flush(): Promise<void> {
    await this.chain;
  }

  private prune(): void {
    const all = this.list();
    for (const c of all.slice(0, Math.max(0, all.length - this.keepLast))) {
      try {
        unlinkSync(c.path);
      } catch {
        // already gone
      }
    }
  }

  /** The newest checkpoint that decodes and verifies; corrupt ones are skipped and reported. */
  async loadNewestValid(): Promise<{ found: StoredCheckpoint | null; skipped: SkippedCheckpoint[] }> {
    const skipped: SkippedCheckpoint[] = [];
    for (const c of this.list().reverse()) {
      try {
        const ck = decodeCheckpoint(await readFile(c.path), { source: c.path });
        const meta = ck.meta as unknown as DaemonMeta;
        if (meta.daemon !== 1 || !Array.isArray(meta.queue) || !Array.isArray(meta.pending))
          throw new Error(`${c.path}: not a daemon checkpoint (meta lacks the daemon fields)`);
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
          found: {
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
            },
          },
          skipped,
        };
      } catch (e) {
        skipped.push({ path: c.path, error: (e as Error).message });
      }
    }
    return { found: null, skipped };
  }
}
