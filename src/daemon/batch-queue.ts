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
  private waiters: (() => void)[] = [];
  /** Whether the next freed slot is left to producers that do not wait (see whenRoom). */
  private leaveNextSlot = false;

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

  /** The batch `offset` places behind the head (0 = peek()): what a streaming engine feeds ahead. */
  peekAt(offset: number): QueuedBatch | undefined {
    return offset < this.depth ? this.items[this.head + offset] : undefined;
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
   * Resolves when there is room (immediately if there is). Waiting producers (the socket) are woken on
   * every other freed slot only: HTTP producers are answered 429 at once rather than queued, so a waiter
   * woken on every free slot would take them all and leave HTTP nothing; alternating leaves each side a
   * share. With no HTTP traffic the skipped slot is simply taken at the next wake.
   */
  whenRoom(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    if (this.leaveNextSlot) {
      this.leaveNextSlot = false;
      return;
    }
    this.leaveNextSlot = true;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
