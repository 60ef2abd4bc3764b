/**
 * What the JavaScript side of every wasm kernel module shares: its linear memory, grown on demand and
 * never shrunk, and float32/float64 views that follow the buffer when growing replaces it.
 */
import { type WasmMemory, growTo } from './api.js';

/** `bytes` rounded up to whole 64-byte cache lines: where a kernel's next region in linear memory starts. */
export const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

/**
 * Byte offsets of consecutive regions of the given byte sizes from byte 64 on (address 0 stays unused),
 * each starting on a cache line and followed by at least `slack` spare bytes (for a kernel whose last
 * vector reaches past its data); the last entry is where the regions end.
 */
export function regionOffsets(sizes: readonly number[], slack = 0): number[] {
  const at: number[] = [];
  let next = 64;
  for (const s of sizes) {
    at.push(next);
    next += align64(s + slack);
  }
  at.push(next);
  return at;
}

export class WasmKernelHost {
  protected f32 = new Float32Array(0);
  protected f64 = new Float64Array(0);

  constructor(readonly memory: WasmMemory) {}

  /** Grows memory to at least `bytes`; false when the engine refuses (beyond wasm32's 4 GiB). */
  protected ensure(bytes: number): boolean {
    if (!growTo(this.memory, bytes)) return false;
    if (this.f32.buffer !== this.memory.buffer) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.f64 = new Float64Array(this.memory.buffer);
    }
    return true;
  }
}
