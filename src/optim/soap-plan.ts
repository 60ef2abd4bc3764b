/**
 * How SOAP sees the flat parameter vector: a list of blocks, each a rows×cols matrix at an offset whose
 * left and/or right side is preconditioned (rotated into its factor's eigenbasis) or identity. Built once
 * from the TensorLayout at init and kept in the state as plain numbers, so a transformation rebuilt by
 * injectHyperparams (which only sees the state) and a restored checkpoint know it too.
 *
 * As soap.py: a 2-D tensor gets a factor per dimension of size ≤ maxPrecondDim (larger sides stay
 * identity); with mergeDims a 2-D tensor whose size is ≤ maxPrecondDim becomes one dimension (its factor
 * is then rows·cols square: full-matrix Adam in an eigenbasis, affordable only for small tensors); a 1-D
 * tensor is preconditioned only with precondition1d. Which roles count as 2-D is the option `roles`
 * (default matrix, embedding and head: the official code preconditions every 2-D parameter). Everything
 * else, including coordinates no slot covers, is an identity block: plain Adam (or Sophia) there.
 */
import type { TensorLayout, TensorRole } from './tensor-layout.js';

export interface SoapBlock {
  offset: number;
  rows: number;
  cols: number;
  /** Whether the rows (left factor, rows×rows) and the columns (right factor, cols×cols) are rotated. */
  left: boolean;
  right: boolean;
}

export interface SoapPlanOptions {
  roles: readonly TensorRole[];
  maxPrecondDim: number;
  mergeDims: boolean;
  precondition1d: boolean;
}

function blockFor(offset: number, shape: readonly number[], role: TensorRole, o: SoapPlanOptions): SoapBlock {
  const size = shape.reduce((a, b) => a * b, 1);
  const vector = { offset, rows: size, cols: 1, left: false, right: false };
  if (size === 0) return vector;
  if (shape.length === 2 && o.roles.includes(role)) {
    const [rows, cols] = shape;
    if (o.mergeDims && size <= o.maxPrecondDim) return { ...vector, left: true };
    return { offset, rows, cols, left: rows <= o.maxPrecondDim, right: cols <= o.maxPrecondDim };
  }
  if (shape.length === 1 && o.precondition1d) return { ...vector, left: size <= o.maxPrecondDim };
  return vector;
}

/** The blocks covering [0, length), in order; gaps between slots are identity blocks. */
export function soapPlan(layout: TensorLayout, length: number, o: SoapPlanOptions): SoapBlock[] {
  const slots = [...layout].sort((a, b) => a.offset - b.offset);
  const blocks: SoapBlock[] = [];
  let at = 0;
  for (const s of slots) {
    if (s.offset > at) blocks.push({ offset: at, rows: s.offset - at, cols: 1, left: false, right: false });
    const b = blockFor(s.offset, s.shape, s.role, o);
    if (b.rows * b.cols > 0) blocks.push(b);
    at = s.offset + s.size;
  }
  if (length > at) blocks.push({ offset: at, rows: length - at, cols: 1, left: false, right: false });
  return blocks;
}

/** Checks a plan read back from a state against the vector length it must cover. */
export function checkPlan(owner: string, plan: unknown, length: number): SoapBlock[] {
  const bad = (why: string): never => {
    throw new Error(`${owner}: state.plan ${why} (was this state produced by ${owner}?)`);
  };
  if (!Array.isArray(plan)) return bad('must be an array of blocks');
  let at = 0;
  for (const b of plan as SoapBlock[]) {
    if (b === null || typeof b !== 'object') return bad('holds a non-object');
    const ok =
      Number.isSafeInteger(b.offset) &&
      Number.isSafeInteger(b.rows) &&
      Number.isSafeInteger(b.cols) &&
      b.offset === at &&
      b.rows > 0 &&
      b.cols > 0 &&
      typeof b.left === 'boolean' &&
      typeof b.right === 'boolean';
    if (!ok) return bad(`has a malformed block at offset ${at}`);
    at += b.rows * b.cols;
  }
  if (at !== length) bad(`covers ${at} coordinates, not ${length}`);
  return plan as SoapBlock[];
}
