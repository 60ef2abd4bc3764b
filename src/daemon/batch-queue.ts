/**
 * The bounded queue of accepted-but-unapplied batches. Each accepted batch gets the next sequence number
 * (monotonic across restarts: the counter is checkpointed). `offer` refuses when full, which is how
 * backpressure reaches producers (HTTP 429, the socket stops reading); waiters are woken when room frees.
 */
import type { Batch } from '../data/batch.js';

export interface QueuedBatch {
  seq: number;
  batch: Batch;
}

export class BatchQueue {
  private items: QueuedBatch[] = [];
  private head = 0;
  private nextSeq: number;
  private waiters: { depth: number; resolve: () => void }[] = [];

  constructor(
    readonly limit: number,
    firstSeq = 1,
  ) {
    this.nextSeq = firstSeq;
  }

  get depth(): number {
    return this.items.length - this.head;
  }

  get full(): boolean {
    return this.depth >= this.limit;
  }

  /** The sequence number the next accepted batch will get. */
  get seqCounter(): number {
    return this.nextSeq;
  }

  /** Accepts a batch and returns its sequence number, or null when the queue is full. */
  offer(batch: Batch): number | null {
    if (this.full) return null;
    const seq = this.nextSeq++;
    this.items.push({ seq, batch });
    return seq;
  }

  /** Re-queues batches restored from a checkpoint, keeping their sequence numbers (ignores the limit). */
  restore(items: readonly QueuedBatch[], nextSeq: number): void {
    for (const it of items) this.items.push(it);
    this.nextSeq = Math.max(this.nextSeq, nextSeq);
  }

  peek(): QueuedBatch | undefined {
    return this.items[this.head];
  }

  take(): QueuedBatch | undefined {
    const it = this.items[this.head];
    if (!it) return undefined;
    this.items[this.head] = undefined as unknown as QueuedBatch;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.wake();
    return it;
  }

  /** The queued batches in order (for checkpoints). */
  snapshot(): QueuedBatch[] {
    return this.items.slice(this.head);
  }

  /**
   * Resolves once the queue holds at most `depth` batches (default limit − 1: any room; immediately if it
   * already does). A producer that waits (the socket) should ask for a low-water mark below the limit:
   * HTTP producers are answered 429 at once rather than queued, so if a waiter took every slot the moment
   * it freed, they would never get one.
   */
  whenRoom(depth = this.limit - 1): Promise<void> {
    if (this.depth <= depth) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ depth, resolve }));
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.depth <= w.depth);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => this.depth > w.depth);
    for (const w of ready) w.resolve();
  }
}
