/** Small models shared by the tensor tests (a helper, not a test file). */
import { type Tensor, add, crossEntropy, matmul, reshape, slice, tanh } from '../../src/tensor/index.js';

export interface MlpSizes {
  inputs: number;
  hidden: number;
  classes: number;
}

/** Offsets and shapes of W1 [hidden, inputs], b1 [hidden], W2 [classes, hidden], b2 [classes] in θ. */
export function mlpLayout(s: MlpSizes): { name: string; offset: number; shape: number[] }[] {
  const parts = [
    { name: 'W1', shape: [s.hidden, s.inputs] },
    { name: 'b1', shape: [s.hidden] },
    { name: 'W2', shape: [s.classes, s.hidden] },
    { name: 'b2', shape: [s.classes] },
  ];
  let offset = 0;
  return parts.map((p) => {
    const at = offset;
    offset += p.shape.reduce((a, b) => a * b, 1);
    return { ...p, offset: at };
  });
}

export function mlpParamCount(s: MlpSizes): number {
  const last = mlpLayout(s).at(-1)!;
  return last.offset + last.shape.reduce((a, b) => a * b, 1);
}

/** The parameters as views of the flat vector θ: slice (contiguous, so zero copy) and reshape. */
export function mlpParams(s: MlpSizes, theta: Tensor): Tensor[] {
  return mlpLayout(s).map(({ offset, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return reshape(slice(theta, [offset], [n]), shape);
  });
}

/** Mean cross-entropy of a 2-layer tanh MLP, logits = W2·tanh(W1·x + b1) + b2, as a function of θ. */
export function mlpLoss(s: MlpSizes, x: Tensor, targets: Int32Array): (theta: Tensor) => Tensor {
  return (theta) => {
    const [w1, b1, w2, b2] = mlpParams(s, theta);
    const h = tanh(add(matmul(x, w1, { transB: true }), b1));
    return crossEntropy(add(matmul(h, w2, { transB: true }), b2), targets);
  };
}
