/**
 * Recording of the autodiff graph. An op's output gets a GradNode only when grad mode is on and some
 * input requires a gradient, so inference and constant computations cost nothing extra.
 * The backward pass turns grad mode on only when asked to build a graph (for double backward).
 */
import type { GradNode, Tensor } from './tensor.js';

let gradMode = true;

export function isGradEnabled(): boolean {
  return gradMode;
}

/** Runs `fn` with gradient recording switched on or off, restoring the previous mode afterwards. */
export function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = gradMode;
  gradMode = enabled;
  try {
    return fn();
  } finally {
    gradMode = previous;
  }
}

/** Runs `fn` without recording gradients (inference, optimizer arithmetic). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Attaches a node to `out` if any input requires a gradient. Returns `out`. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  vjp: GradNode['vjp'],
  sliceOffset?: number,
): Tensor {
  if (!gradMode) return out;
  let any = false;
  for (const x of inputs) any ||= x.requiresGrad;
  if (!any) return out;
  out.requiresGrad = true;
  out.node = sliceOffset === undefined ? { op, inputs, vjp } : { op, inputs, vjp, sliceOffset };
  return out;
}
