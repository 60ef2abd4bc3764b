/**
 * AdaHessian's spatial averaging of |ĥ| (amirgholami/adahessian, instruction/adahessian.py get_trace):
 * a Hutchinson diagonal is noisy per coordinate, so coordinates that share a role are averaged — conv
 * kernels over their spatial positions, dense rows over blocks of a configurable length. In a flat vector
 * every rule is "mean over consecutive groups of L coordinates" inside one tensor, which is all we store.
 */
import { checkNumber } from './validate.js';

export interface HessianBlock {
  /** Offset of the tensor in the flat parameter vector. */
  offset: number;
  /** Row-major shape, PyTorch conventions: dense [out, in], conv [out, in, ...kernel]. */
  shape: number[];
  kind: 'dense' | 'conv' | 'vector';
  /**
   * Averaging group length. dense: default 1 (no averaging, as the official optim_adahessian.py), −1 =
   * whole row; conv: default −1 = spatial mean over the kernel dims; vector: default 1. Any positive value
   * must divide the tensor's size and averages consecutive groups of that many coordinates.
   */
  blockLength?: number;
}

/** A compiled block: [offset, offset + size) averaged in consecutive groups of `group`. */
export interface BlockSegment {
  offset: number;
  size: number;
  group: number;
}

export function compileBlocks(owner: string, blocks: unknown): BlockSegment[] {
  if (blocks === undefined) return [];
  if (!Array.isArray(blocks))
    throw new Error(`${owner}: option 'blocks' must be an array, got ${String(blocks)}`);
  const segments: BlockSegment[] = [];
  blocks.forEach((raw: HessianBlock, i) => {
    const where = `blocks[${i}]`;
    if (raw === null || typeof raw !== 'object')
      throw new Error(`${owner}: option '${where}' must be an object`);
    const offset = checkNumber(owner, `${where}.offset`, raw.offset, { min: 0, integer: true });
    if (!Array.isArray(raw.shape) || raw.shape.length === 0) {
      throw new Error(
        `${owner}: option '${where}.shape' must be a non-empty array, got ${String(raw.shape)}`,
      );
    }
    const shape = raw.shape.map((n, k) =>
      checkNumber(owner, `${where}.shape[${k}]`, n, { min: 1, integer: true }),
    );
    const size = shape.reduce((a, b) => a * b, 1);
    let natural: number;
    if (raw.kind === 'vector') natural = 1;
    else if (raw.kind === 'dense') {
      if (shape.length !== 2)
        throw new Error(`${owner}: option '${where}.shape' of a dense block must be [out, in]`);
      natural = shape[1];
    } else if (raw.kind === 'conv') {
      if (shape.length < 3) {
        throw new Error(`${owner}: option '${where}.shape' of a conv block must be [out, in, ...kernel]`);
      }
      natural = shape.slice(2).reduce((a, b) => a * b, 1);
    } else {
      throw new Error(
        `${owner}: option '${where}.kind' must be 'dense', 'conv' or 'vector', got ${String(raw.kind)}`,
      );
    }
    const requested = raw.blockLength ?? (raw.kind === 'conv' ? -1 : 1);
    let group: number;
    if (requested === -1) group = natural;
    else {
      group = checkNumber(owner, `${where}.blockLength`, requested, { min: 1, integer: true });
      if (size % group !== 0) {
        throw new Error(
          `${owner}: option '${where}.blockLength' ${group} does not divide the tensor size ${size}`,
        );
      }
    }
    segments.push({ offset, size, group });
  });
  const sorted = [...segments].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].offset < prev.offset + prev.size) {
      throw new Error(
        `${owner}: option 'blocks' has overlapping tensors at offsets ${prev.offset} (size ${prev.size}) and ${sorted[i].offset}`,
      );
    }
  }
  return sorted;
}

export function checkBlocksFit(owner: string, segments: BlockSegment[], length: number): void {
  for (const s of segments) {
    if (s.offset + s.size > length) {
      throw new Error(
        `${owner}: option 'blocks' has a tensor at offset ${s.offset} of size ${s.size} beyond the parameter length ${length}`,
      );
    }
  }
}

/** D = |ĥ|, then averaged over each segment's groups (float64 sums). Coordinates in no block stay |ĥ_i|. */
export function blockAveragedAbs(hHat: Float32Array, segments: BlockSegment[]): Float32Array {
  const out = new Float32Array(hHat.length);
  for (let i = 0; i < hHat.length; i++) out[i] = Math.abs(hHat[i]);
  for (const s of segments) {
    if (s.group === 1) continue;
    for (let start = s.offset; start < s.offset + s.size; start += s.group) {
      let sum = 0;
      for (let i = start; i < start + s.group; i++) sum += out[i];
      const mean = sum / s.group;
      for (let i = start; i < start + s.group; i++) out[i] = mean;
    }
  }
  return out;
}
