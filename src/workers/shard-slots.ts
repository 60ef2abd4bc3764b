/**
 * Reusable SharedArrayBuffer slots, one per shard index, that carry a gradient shard to a worker and
 * its gradient back. The shard is written into the slot once per task (not once per attempt), the
 * worker reads it through views (no structured clone, no transfer) and writes the gradient into the
 * slot's result part, and a retry reads the very same bytes. Nothing crosses by postMessage but a small
 * head, so after its first step a run allocates no shard or gradient buffers in the coordinator: a
 * transferred 1 MB gradient per shard per step was what drove the coordinator's garbage collections
 * (V8 collects when external memory grows, whatever the JS heap does).
 *
 * A slot is held from `acquire` until `release`; the pipeline never has two tasks of one shard index in
 * flight, but a caller that does gets private buffers for the second one instead of shared ones. The
 * result part is read by the caller after release, so it stays valid only until the next task of the
 * same shard index starts.
 */
import type { Batch } from '../data/batch.js';
import { type ArrayKind, arrayKind } from './protocol.js';

export interface FilledSlot {
  /** The shard: inputs from byte 0, then targets. */
  buffer: SharedArrayBuffer;
  /** Where the worker writes the gradient (`resultLength` float32 values). */
  result: SharedArrayBuffer;
  inputKind: ArrayKind;
  inputLength: number;
  targetKind: ArrayKind;
  targetLength: number;
  /** Hands the slot back for the next task of this shard index. */
  release(): void;
}

interface Slot {
  buffer: SharedArrayBuffer;
  result: SharedArrayBuffer;
  busy: boolean;
}

function write(buffer: SharedArrayBuffer, shard: Batch): void {
  const n = shard.inputs.length;
  const inputs =
    shard.inputs instanceof Int32Array ? new Int32Array(buffer, 0, n) : new Float32Array(buffer, 0, n);
  inputs.set(shard.inputs);
  const m = shard.targets.length;
  const targets =
    shard.targets instanceof Int32Array
      ? new Int32Array(buffer, n * 4, m)
      : new Float32Array(buffer, n * 4, m);
  targets.set(shard.targets);
}

export class ShardSlots {
  private readonly slots: Slot[] = [];

  /** @param resultLength float32 values of a result (the model's parameter count). */
  constructor(private readonly resultLength: number) {
    if (!Number.isInteger(resultLength) || resultLength < 0)
      throw new RangeError(`ShardSlots: resultLength must be an integer >= 0, got ${resultLength}`);
  }

  /** Copies `shard` (inputs, then targets) into the slot of `shardIndex`, growing it when too small. */
  acquire(shardIndex: number, shard: Batch): FilledSlot {
    if (!Number.isInteger(shardIndex) || shardIndex < 0)
      throw new RangeError(`shard index must be an integer >= 0, got ${shardIndex}`);
    const inputKind = arrayKind(shard.inputs);
    const targetKind = arrayKind(shard.targets);
    const bytes = (shard.inputs.length + shard.targets.length) * 4;
    let slot = this.slots[shardIndex];
    let release = () => undefined as void;
    if (slot && slot.busy) {
      // Another task of this index is still running: never overwrite what it reads or writes.
      slot = { buffer: new SharedArrayBuffer(bytes), result: this.newResult(), busy: true };
    } else {
      if (!slot) {
        slot = { buffer: new SharedArrayBuffer(bytes), result: this.newResult(), busy: false };
        this.slots[shardIndex] = slot;
      } else if (slot.buffer.byteLength < bytes) {
        slot.buffer = new SharedArrayBuffer(bytes);
      }
      const held = slot;
      held.busy = true;
      release = () => {
        held.busy = false;
      };
    }
    write(slot.buffer, shard);
    return {
      buffer: slot.buffer,
      result: slot.result,
      inputKind,
      inputLength: shard.inputs.length,
      targetKind,
      targetLength: shard.targets.length,
      release,
    };
  }

  private newResult(): SharedArrayBuffer {
    return new SharedArrayBuffer(this.resultLength * 4);
  }
}

/** The worker's side: views of a slot's inputs and targets (no copy). */
export function readSlot(
  buffer: SharedArrayBuffer,
  h: { inputKind: ArrayKind; inputLength: number; targetKind: ArrayKind; targetLength: number },
): { inputs: Float32Array | Int32Array; targets: Int32Array | Float32Array } {
  const n = h.inputLength;
  const m = h.targetLength;
  if (!(buffer instanceof SharedArrayBuffer) || (n + m) * 4 > buffer.byteLength)
    throw new RangeError(
      `shard slot of ${buffer?.byteLength} bytes cannot hold ${n} inputs and ${m} targets`,
    );
  const view = (kind: ArrayKind, offset: number, length: number) =>
    kind === 'i32' ? new Int32Array(buffer, offset, length) : new Float32Array(buffer, offset, length);
  return { inputs: view(h.inputKind, 0, n), targets: view(h.targetKind, n * 4, m) };
}

/** The worker's side: writes a gradient into a slot's result part; false when it does not fit. */
export function writeResult(result: SharedArrayBuffer, grad: Float32Array): boolean {
  if (!(result instanceof SharedArrayBuffer) || grad.length * 4 > result.byteLength) return false;
  new Float32Array(result, 0, grad.length).set(grad);
  return true;
}
