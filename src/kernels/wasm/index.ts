/**
 * Registers the WebAssembly SIMD backends when the engine supports fixed-width SIMD. The matmul
 * ('matmul', backend 'wasm') becomes the default when it reproduces the CPU reference on a small
 * self-check (float32 within 1e-5 relative, float64 within 1e-12), and with it the affine kernel
 * ('affine', the same gemm adding a Linear layer's bias as it stores the product). The others promise the CPU
 * reference's results bit for bit — column sums ('sum'), flat float32 add/sub/mul ('binary'), row
 * moves ('permute'), float32 LayerNorm ('layerNorm', 'layerNormVjp'), softmax and log-softmax
 * ('softmax', 'causalSoftmax', 'softmaxVjp', 'logSoftmaxVjp'), the GELU forward that saves its exponentials
 * ('geluExp') and the backward from them ('geluVjp'), float32 tanh ('unary': its other ops are the CPU
 * reference's) and its backward ('tanhVjp') — and become the default only when their exact
 * self-checks (exact-checks.ts) pass. Select explicitly with `useKernelBackend(name, 'cpu' | 'wasm')`.
 */
import '../cpu/register.js';
import { affineSpec } from '../cpu/matmul.js';
import { type BinaryKernel, type BinaryOp, preferKernelBackend, registerKernel } from '../registry.js';
import {
  binarySelfCheck,
  geluExpSelfCheck,
  logSoftmaxVjpSelfCheck,
  geluVjpSelfCheck,
  layerNormSelfCheck,
  permuteSelfCheck,
  softmaxSelfCheck,
  sumSelfCheck,
  tanhSelfCheck,
  tanhVjpSelfCheck,
} from './exact-checks.js';
import { WasmColumnSum } from './column-sum.js';
import { WasmElementwise } from './elementwise.js';
import { WasmPermute } from './permute.js';
import { WasmLayerNorm } from './layer-norm.js';
import { WasmSoftmax } from './softmax.js';
import { WasmGelu } from './gelu.js';
import { WasmTanh } from './tanh.js';
import { WasmTanhVjp } from './tanh-vjp.js';
import { WasmMatmul, wasmSimdSupported } from './matmul.js';
import { selfCheck } from '../cpu/matmul-self-check.js';

export { selfCheck };
import { adamKernel } from './adam.js';
import { sophiaBackends, sophiaKernel } from './sophia.js';
import { vectorOpsBackends, vectorOpsKernel } from './vector-ops.js';

/** The instance behind the registered kernel (undefined where WebAssembly SIMD is unavailable). */
export const wasmMatmul: WasmMatmul | undefined = wasmSimdSupported() ? new WasmMatmul() : undefined;

if (wasmMatmul) {
  registerKernel('matmul', 'wasm', wasmMatmul.kernel);
  // The affine kernel is the same gemm adding the bias as it stores each tile (the same sums as the
  // matmul followed by the bias pass, one pass over the output fewer): it passes when the matmul does.
  const m = wasmMatmul;
  registerKernel('affine', 'wasm', (x, w, bias, out, rows, k, n) =>
    m.run(x, w, out, affineSpec(rows, k, n), bias),
  );
  const check = selfCheck(wasmMatmul.kernel);
  if (check.f32 <= 1e-5 && check.f64 <= 1e-12) {
    preferKernelBackend('matmul', 'wasm');
    preferKernelBackend('affine', 'wasm');
  }
}

/** The instance behind the 'sum' kernel's wasm backend (undefined without WebAssembly SIMD). */
export const wasmColumnSum: WasmColumnSum | undefined = wasmSimdSupported() ? new WasmColumnSum() : undefined;

if (wasmColumnSum) {
  registerKernel('sum', 'wasm', wasmColumnSum.kernel);
  if (sumSelfCheck(wasmColumnSum.kernel)) preferKernelBackend('sum', 'wasm');
}

/** The instance behind the 'binary' kernel's wasm backend (undefined without WebAssembly SIMD). */
export const wasmElementwise: WasmElementwise | undefined = wasmSimdSupported()
  ? new WasmElementwise()
  : undefined;

if (wasmElementwise) {
  const binary = (op: BinaryOp): BinaryKernel => wasmElementwise.kernel(op);
  registerKernel('binary', 'wasm', binary);
  if (binarySelfCheck(binary)) preferKernelBackend('binary', 'wasm');
}

/** The instance behind the 'permute' kernel's wasm backend (undefined without WebAssembly SIMD). */
export const wasmPermute: WasmPermute | undefined = wasmSimdSupported() ? new WasmPermute() : undefined;

if (wasmPermute) {
  registerKernel('permute', 'wasm', wasmPermute.kernel);
  if (permuteSelfCheck(wasmPermute.kernel)) preferKernelBackend('permute', 'wasm');
}

/** The instance behind the LayerNorm kernels' wasm backends (undefined without WebAssembly SIMD). */
export const wasmLayerNorm: WasmLayerNorm | undefined = wasmSimdSupported() ? new WasmLayerNorm() : undefined;

if (wasmLayerNorm) {
  registerKernel('layerNorm', 'wasm', wasmLayerNorm.forward);
  registerKernel('layerNormVjp', 'wasm', wasmLayerNorm.backward);
  if (layerNormSelfCheck(wasmLayerNorm.forward, wasmLayerNorm.backward)) {
    preferKernelBackend('layerNorm', 'wasm');
    preferKernelBackend('layerNormVjp', 'wasm');
  }
}

/** The instance behind the softmax kernels' wasm backends (undefined without WebAssembly SIMD). */
export const wasmSoftmax: WasmSoftmax | undefined = wasmSimdSupported() ? new WasmSoftmax() : undefined;

if (wasmSoftmax) {
  registerKernel('softmax', 'wasm', wasmSoftmax.softmax);
  registerKernel('causalSoftmax', 'wasm', wasmSoftmax.causalSoftmax);
  registerKernel('softmaxVjp', 'wasm', wasmSoftmax.softmaxVjp);
  if (softmaxSelfCheck(wasmSoftmax.softmax, wasmSoftmax.causalSoftmax, wasmSoftmax.softmaxVjp)) {
    preferKernelBackend('softmax', 'wasm');
    preferKernelBackend('causalSoftmax', 'wasm');
    preferKernelBackend('softmaxVjp', 'wasm');
  }
  registerKernel('logSoftmaxVjp', 'wasm', wasmSoftmax.logSoftmaxVjp);
  if (logSoftmaxVjpSelfCheck(wasmSoftmax.logSoftmaxVjp)) preferKernelBackend('logSoftmaxVjp', 'wasm');
}

/** The instance behind the GELU kernels' wasm backends (undefined without WebAssembly SIMD). */
export const wasmGelu: WasmGelu | undefined = wasmSimdSupported() ? new WasmGelu() : undefined;

if (wasmGelu) {
  registerKernel('geluVjp', 'wasm', wasmGelu.geluVjp);
  registerKernel('geluExp', 'wasm', wasmGelu.geluExp);
  if (geluVjpSelfCheck(wasmGelu.geluVjp)) preferKernelBackend('geluVjp', 'wasm');
  if (geluExpSelfCheck(wasmGelu.geluExp)) preferKernelBackend('geluExp', 'wasm');
}

/** The instance behind the 'tanhVjp' kernel's wasm backend (undefined without WebAssembly SIMD). */
export const wasmTanhVjp: WasmTanhVjp | undefined = wasmSimdSupported() ? new WasmTanhVjp() : undefined;

if (wasmTanhVjp) {
  registerKernel('tanhVjp', 'wasm', wasmTanhVjp.kernel);
  if (tanhVjpSelfCheck(wasmTanhVjp.kernel)) preferKernelBackend('tanhVjp', 'wasm');
}

/** The instance behind the 'unary' kernel's wasm backend (tanh; undefined without WebAssembly SIMD). */
export const wasmTanh: WasmTanh | undefined = wasmSimdSupported() ? new WasmTanh() : undefined;

if (wasmTanh) {
  registerKernel('unary', 'wasm', wasmTanh.unary);
  if (tanhSelfCheck(wasmTanh.tanh)) preferKernelBackend('unary', 'wasm');
}

/**
 * The optimizers' per-element passes: built and checked bit for bit against their loops here (null
 * where SIMD is missing or a check fails, and then only the CPU references are registered). Each
 * backend runs the loop itself below its size threshold or on partly overlapping views.
 */
const vectorOps = vectorOpsKernel();
if (vectorOps) {
  const b = vectorOpsBackends(vectorOps);
  for (const name of ['addInto', 'scaleInto', 'addScaledInto', 'sumOfSquares', 'allFinite'] as const) {
    registerKernel(name, 'wasm', b[name]);
    preferKernelBackend(name, 'wasm');
  }
}
const sophia = sophiaKernel();
if (sophia) {
  const b = sophiaBackends(sophia);
  for (const name of ['emaInto', 'sophiaGClip', 'sophiaHClip'] as const) {
    registerKernel(name, 'wasm', b[name]);
    preferKernelBackend(name, 'wasm');
  }
}
const adam = adamKernel();
if (adam) {
  registerKernel('adamMoments', 'wasm', adam);
  preferKernelBackend('adamMoments', 'wasm');
}
