/**
 * Whether the float32 kernels' exponentials use relaxed SIMD's fused multiply-add
 * (f32x4.relaxed_madd): where the engine has relaxed SIMD. V8 on x86-64 emits it as one FMA
 * instruction where the CPU has FMA3 (a multiply and an add otherwise), in its baseline and optimising
 * compilers alike, so a machine computes the same bits on every call; another CPU may differ in the
 * last ulp (as the kernel mode 'fast' allows, mode.ts).
 */
import { wasmRelaxedSimdSupported } from '../wasm/matmul.js';

export const FUSED_EXP = wasmRelaxedSimdSupported();
