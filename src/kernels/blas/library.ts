/**
 * Finds a CBLAS library (OpenBLAS by default) and binds its gemm and saxpy through koffi, a C
 * foreign-function interface for Node with prebuilt binaries (an optional dependency: nothing is
 * compiled at install). Arrays are passed by pointer to their own memory: no copies in or out, unlike
 * the wasm kernels.
 *
 * Which library: `HESSFLOW_BLAS` names a library file or soname to load instead of the default list;
 * `HESSFLOW_BLAS=off` turns the BLAS backend off (the WebAssembly kernels are used). The default list
 * is OpenBLAS's sonames on Linux (Debian: `apt install libopenblas0`) and macOS (Homebrew). The library
 * is told to use one thread (`openblas_set_num_threads(1)` where it exists): hessflow parallelises over
 * worker threads, and a gemm of its own threads on top would oversubscribe the cores.
 */
import { createRequire } from 'node:module';
import type { Saxpy } from './passes.js';

/** cblas_sgemm / cblas_dgemm with row-major order fixed by the caller. */
export type Gemm = (
  order: number,
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array | Float64Array,
  lda: number,
  b: Float32Array | Float64Array,
  ldb: number,
  beta: number,
  c: Float32Array | Float64Array,
  ldc: number,
) => void;

export interface BlasLibrary {
  readonly saxpy: Saxpy;
  readonly sgemm: Gemm;
  readonly dgemm: Gemm;
  /** The file or soname that loaded. */
  readonly library: string;
  /** OpenBLAS's build description and the kernel it chose for this CPU ('' for another CBLAS). */
  readonly config: string;
  readonly core: string;
}

export const CBLAS_ROW_MAJOR = 101;
export const CBLAS_NO_TRANS = 111;
export const CBLAS_TRANS = 112;

const DEFAULT_LIBRARIES = [
  'libopenblas.so.0',
  'libopenblas.so',
  '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
  '/usr/local/opt/openblas/lib/libopenblas.dylib',
];

interface KoffiLib {
  func(signature: string): (...args: unknown[]) => unknown;
}
interface Koffi {
  load(path: string): KoffiLib;
}

/** The loaded library, or the reason there is none (shown by `hessflow --version` and the benches). */
export type BlasLoad = { ok: true; blas: BlasLibrary } | { ok: false; reason: string };

function optionalFunc(lib: KoffiLib, signature: string): ((...args: unknown[]) => unknown) | undefined {
  try {
    return lib.func(signature);
  } catch {
    return undefined; // a CBLAS that is not OpenBLAS: no thread setting, no config string
  }
}

function bind(koffi: Koffi, path: string): BlasLibrary {
  const lib = koffi.load(path);
  const gemm = (t: string): Gemm =>
    lib.func(
      `void cblas_${t}gemm(int, int, int, int, int, int, ${t === 's' ? 'float' : 'double'}, ` +
        `${t === 's' ? 'float' : 'double'} *, int, ${t === 's' ? 'float' : 'double'} *, int, ` +
        `${t === 's' ? 'float' : 'double'}, _Inout_ ${t === 's' ? 'float' : 'double'} *, int)`,
    ) as Gemm;
  const sgemm = gemm('s');
  const dgemm = gemm('d');
  const saxpy = lib.func('void cblas_saxpy(int, float, float *, int, _Inout_ float *, int)') as Saxpy;
  optionalFunc(lib, 'void openblas_set_num_threads(int)')?.(1);
  const config = (optionalFunc(lib, 'const char *openblas_get_config()')?.() as string | undefined) ?? '';
  const core = (optionalFunc(lib, 'const char *openblas_get_corename()')?.() as string | undefined) ?? '';
  return { sgemm, dgemm, saxpy, library: path, config, core };
}

/** Loads the CBLAS library once per thread; never throws. */
export function loadBlas(env: NodeJS.ProcessEnv = process.env): BlasLoad {
  const wanted = env.HESSFLOW_BLAS?.trim();
  if (wanted && ['off', '0', 'none', 'false'].includes(wanted.toLowerCase()))
    return { ok: false, reason: 'turned off by HESSFLOW_BLAS' };
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    return {
      ok: false,
      reason: `the optional package koffi cannot load (${(e as Error).message.split('\n')[0]})`,
    };
  }
  const candidates = wanted ? [wanted] : DEFAULT_LIBRARIES;
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      return { ok: true, blas: bind(koffi, path) };
    } catch (e) {
      failures.push(`${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return {
    ok: false,
    reason: wanted
      ? `HESSFLOW_BLAS=${wanted} cannot be loaded as a CBLAS library (${failures.join('; ')})`
      : `no OpenBLAS found (tried ${candidates.join(', ')}; on Debian: apt install libopenblas0)`,
  };
}
