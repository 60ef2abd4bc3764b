/**
 * What the JavaScript side of every wasm kernel module shares: its linear memory, grown on demand and
 * never shrunk, and float32/float64 views that follow the buffer when growing replaces it.
 */
import { type WasmMemory, growTo } from './api.js';

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
