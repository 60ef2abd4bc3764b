/**
 * The slice of the WebAssembly JS API the kernels use, typed locally: the project compiles against
 * lib ES2022 + @types/node 20, which do not declare the `WebAssembly` global.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmNamespace {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => WasmInstance;
}

/** The engine's WebAssembly namespace, or undefined where there is none. */
export const wasmApi: WasmNamespace | undefined = (globalThis as { WebAssembly?: WasmNamespace }).WebAssembly;

/** Compiles and instantiates `bytes` synchronously (small modules; fine off the browser main thread). */
export function instantiate(bytes: Uint8Array): WasmInstance {
  if (!wasmApi) throw new Error('WebAssembly is not available in this JavaScript engine');
  return new wasmApi.Instance(new wasmApi.Module(bytes));
}

/** True when the engine accepts `bytes` (false for unknown opcodes, e.g. SIMD on old engines). */
export function validates(bytes: Uint8Array): boolean {
  try {
    return wasmApi?.validate(bytes) ?? false;
  } catch {
    return false;
  }
}

const PAGE = 65536;

/** Grows `memory` to at least `bytes`; false when the engine refuses (beyond wasm32's 4 GiB). */
export function growTo(memory: WasmMemory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE));
    return true;
  } catch {
    return false;
  }
}
