/**
 * Elementwise primitives with broadcasting. Each VJP is written in these same differentiable ops and
 * reduces broadcast dimensions with `sumTo`, so the backward pass can be differentiated again.
 */
import { kernel, type BinaryOp, type UnaryOp } from '../../kernels/registry.js';
import { ShapeError, describeShape } from '../errors.js';
import { isGradEnabled, record } from '../graph.js';
import { type Shape, broadcastShapes, broadcastStrides, sameShape, sizeOf } from '../shape.js';
import { Tensor, arrayFor, kernelOutput } from '../tensor.js';
import { type TensorLike, commonDType, lift, output } from './common.js';
import { reshape } from './layout.js';
import { sum } from './reduce.js';

function binaryRaw(op: BinaryOp, name: string, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(name, a.shape, b.shape);
  const out = kernelOutput(a.dtype, sizeOf(shape));
  if (sameShape(a.shape, b.shape)) {
    // Same shape: one flat loop.
    kernel('binary')(op)(a.data, [1], b.data, [1], out, [out.length]);
  } else {
    kernel('binary')(op)(
      a.data,
      broadcastStrides(a.shape, shape),
      b.data,
      broadcastStrides(b.shape, shape),
      out,
      shape,
    );
  }
  return output(name, out, shape, [a, b]);
}

function unaryRaw(op: UnaryOp, x: Tensor, param = 0): Tensor {
  const out = kernelOutput(x.dtype, x.size);
  kernel('unary')(op)(x.data, out, param);
  return output(op, out, x.shape, [x]);
}

function args2(name: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  const dtype = commonDType(name, [a, b]);
  return [lift(a, dtype), lift(b, dtype)];
}

/** Sums `g` over the dimensions along which a tensor of `shape` was broadcast to g's shape. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return reshape(sum(g, axes, true), shape);
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = args2('add', a, b);
  return record(binaryRaw('add', 'add', x, y), 'add', [x, y], (g, needs) => [
    needs[0] ? sumTo(g, x.shape) : null,
    needs[1] ? sumTo(g, y.shape) : null,
  ]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = args2('sub', a, b);
  return record(binaryRaw('sub', 'sub', x, y), 'sub', [x, y], (g, needs) => [
    needs[0] ? sumTo(g, x.shape) : null,
    needs[1] ? sumTo(neg(g), y.shape) : null,
  ]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = args2('mul', a, b);
  return record(binaryRaw('mul', 'mul', x, y), 'mul', [x, y], (g, needs) => [
    needs[0] ? sumTo(mul(g, y), x.shape) : null,
    needs[1] ? sumTo(mul(g, x), y.shape) : null,
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = args2('div', a, b);
  const out = binaryRaw('div', 'div', x, y);
  return record(out, 'div', [x, y], (g, needs) => [
    needs[0] ? sumTo(div(g, y), x.shape) : null,
    // d(x/y)/dy = −(x/y)/y
    needs[1] ? sumTo(neg(div(mul(g, out), y)), y.shape) : null,
  ]);
}

/** Elementwise maximum; at ties the gradient goes to the first argument. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = args2('maximum', a, b);
  return record(binaryRaw('maximum', 'maximum', x, y), 'maximum', [x, y], (g, needs) => {
    const firstWins = greaterEqual(x, y);
    return [
      needs[0] ? sumTo(mul(g, firstWins), x.shape) : null,
      needs[1] ? sumTo(mul(g, sub(1, firstWins)), y.shape) : null,
    ];
  });
}

/** 1 where a ≥ b, else 0. A constant: no gradient flows through a comparison. */
export function greaterEqual(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = args2('greaterEqual', a, b);
  return binaryRaw('greaterEqual', 'greaterEqual', x, y);
}

/** 1 where a = b, else 0. A constant. */
export function equal(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = args2('equal', a, b);
  return binaryRaw('equal', 'equal', x, y);
}

export function neg(x: Tensor): Tensor {
  return record(unaryRaw('neg', x), 'neg', [x], (g) => [neg(g)]);
}

export function exp(x: Tensor): Tensor {
  const y = unaryRaw('exp', x);
  return record(y, 'exp', [x], (g) => [mul(g, y)]);
}

export function log(x: Tensor): Tensor {
  return record(unaryRaw('log', x), 'log', [x], (g) => [div(g, x)]);
}

export function sqrt(x: Tensor): Tensor {
  const y = unaryRaw('sqrt', x);
  return record(y, 'sqrt', [x], (g) => [div(g, mul(y, 2))]);
}

/** x^p for a constant exponent p. */
export function pow(x: Tensor, p: number): Tensor {
  if (!Number.isFinite(p)) throw new RangeError(`pow: exponent must be finite, got ${p}`);
  return record(unaryRaw('pow', x, p), 'pow', [x], (g) => [
    p === 0 ? mul(g, 0) : mul(g, mul(pow(x, p - 1), p)),
  ]);
}

export function tanh(x: Tensor): Tensor {
  const y = unaryRaw('tanh', x);
  return record(y, 'tanh', [x], (g) => [
    // g·(1 − y²): as one 'tanhVjp' pass when nothing records the backward (the same three roundings
    // as the primitive ops), in primitive ops when a graph of it is built (double backward).
    isGradEnabled() || g.dtype !== y.dtype ? mul(g, sub(1, mul(y, y))) : tanhVjp(y, g),
  ]);
}

/** g·(1 − y²) elementwise in one kernel pass; not differentiable (tanh's VJP outside a graph). */
function tanhVjp(y: Tensor, g: Tensor): Tensor {
  if (!sameShape(y.shape, g.shape))
    throw new ShapeError(
      'tanh',
      `gradient ${describeShape(g.shape)} does not match output ${describeShape(y.shape)}`,
    );
  const out = kernelOutput(y.dtype, y.size);
  kernel('tanhVjp')(y.data, g.data, out);
  return output('tanhVjp', out, y.shape, [y, g]);
}

export function sigmoid(x: Tensor): Tensor {
  const y = unaryRaw('sigmoid', x);
  return record(y, 'sigmoid', [x], (g) => [mul(g, mul(y, sub(1, y)))]);
}

export function relu(x: Tensor): Tensor {
  // The mask is a constant: relu's second derivative is zero almost everywhere.
  return record(unaryRaw('relu', x), 'relu', [x], (g) => [mul(g, unaryRaw('step', x))]);
}

export function abs(x: Tensor): Tensor {
  return record(unaryRaw('abs', x), 'abs', [x], (g) => [mul(g, unaryRaw('sign', x))]);
}

/** A constant with the same data: gradients stop here. */
export function stopGradient(x: Tensor): Tensor {
  return x.detach();
}

/** cond ? a : b elementwise with broadcasting; `cond` is a constant mask (nonzero = true). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const dtype = commonDType('where', [cond, a, b]);
  const x = lift(a, dtype);
  const y = lift(b, dtype);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, x.shape), y.shape);
  const out = arrayFor(dtype, sizeOf(shape));
  kernel('where')(
    cond.data,
    broadcastStrides(cond.shape, shape),
    x.data,
    broadcastStrides(x.shape, shape),
    y.data,
    broadcastStrides(y.shape, shape),
    out,
    shape,
  );
  return record(output('where', out, shape, [cond, x, y]), 'where', [x, y], (g, needs) => [
    needs[0] ? sumTo(where(cond, g, 0), x.shape) : null,
    needs[1] ? sumTo(where(cond, 0, g), y.shape) : null,
  ]);
}

/** Broadcasts x to `shape` (a copy). The adjoint sums back over the broadcast dims. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const target = broadcastShapes('broadcastTo', x.shape, shape);
  if (!sameShape(target, shape)) {
    throw new ShapeError(
      'broadcastTo',
      `cannot broadcast ${describeShape(x.shape)} to ${describeShape(shape)}`,
    );
  }
  if (sameShape(x.shape, shape)) return x;
  const out = arrayFor(x.dtype, sizeOf(shape));
  // A broadcast copy is `x + 0` through the binary kernel; no separate kernel is needed.
  kernel('binary')('add')(
    x.data,
    broadcastStrides(x.shape, shape),
    arrayFor(x.dtype, 1),
    new Array<number>(shape.length).fill(0),
    out,
    shape,
  );
  return record(new Tensor(out, [...shape]), 'broadcastTo', [x], (g) => [sumTo(g, x.shape)]);
}
