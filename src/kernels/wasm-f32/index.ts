/**
 * The float32 WebAssembly kernels ('wasm-f32' backends): GELU, the softmax family and LayerNorm
 * computed as PyTorch computes them on a CPU — float32 arithmetic, four lanes at a time, polynomial
 * exponentials, sums in several partial accumulators — instead of the exact backends' float64
 * arithmetic in the CPU reference's order. They agree with the CPU reference to a few float32 ulps
 * (each file states its measured error) and run several times faster. Each registers, and is
 * preferred over the exact 'wasm' backend, only when its self-check against the CPU reference passes
 * and the kernel mode is 'fast' (mode.ts; `HESSFLOW_KERNELS=exact` keeps the exact kernels).
 */
export { F32_BACKEND, f32KernelsEnabled, registerF32Kernel } from './register.js';

// Each float32 kernel family registers itself below (one import per file).
import './gelu.js';
import './layer-norm.js';
import './softmax.js';
import './adam.js';
import './tanh.js';
