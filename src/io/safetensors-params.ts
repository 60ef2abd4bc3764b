/**
 * Weight exchange between a flat parameter vector (with its layout table) and safetensors, keyed by the
 * layout's PyTorch-style names, so `safetensors.torch.load_file` gives a `state_dict` a PyTorch module
 * with the same architecture loads directly (Linear weights are stored `[out, in]` on both sides).
 */
import { type ParamLayoutEntry, describeLayoutProblem, layoutEntrySize } from './param-layout.js';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  safetensorsToFloat32,
} from './safetensors.js';

type LayoutLike = ReadonlyArray<Pick<ParamLayoutEntry, 'name' | 'shape' | 'offset'> & { tags?: string[] }>;

function checkLayout(layout: LayoutLike, length: number): void {
  const problem = describeLayoutProblem(
    layout.map((e) => ({ ...e, tags: e.tags ?? [] })),
    length,
  );
  if (problem) throw new RangeError(`invalid parameter layout: ${problem}`);
}

/** The parameters as safetensors bytes, one F32 tensor per layout entry. */
export function paramsToSafetensors(
  params: Float32Array,
  layout: LayoutLike,
  metadata?: Record<string, string>,
): Uint8Array {
  checkLayout(layout, params.length);
  return encodeSafetensors(
    layout.map((e) => [
      e.name,
      { shape: e.shape, data: params.subarray(e.offset, e.offset + layoutEntrySize(e)) },
    ]),
    metadata,
  );
}

export interface ParamsFromSafetensorsOptions {
  /** Reject tensors in the file that the layout does not name (default true). */
  strict?: boolean;
}

/**
 * Reads safetensors bytes into `into` (default: a new zeroed vector sized to the layout). Every name and
 * shape is checked before anything is written, so on error `into` is untouched. Returns `into`.
 */
export function paramsFromSafetensors(
  bytes: Uint8Array,
  layout: LayoutLike,
  into?: Float32Array,
  opts: ParamsFromSafetensorsOptions = {},
): Float32Array {
  const length = into?.length ?? layout.reduce((m, e) => Math.max(m, e.offset + layoutEntrySize(e)), 0);
  checkLayout(layout, length);
  const file = decodeSafetensors(bytes);
  const missing = layout.filter((e) => !file.tensors.has(e.name)).map((e) => e.name);
  if (missing.length > 0) {
    throw new SafetensorsError(
      'bad_tensor',
      `safetensors: missing tensors ${missing.map((m) => `'${m}'`).join(', ')}`,
      missing[0],
    );
  }
  if (opts.strict ?? true) {
    const known = new Set(layout.map((e) => e.name));
    const extra = [...file.tensors.keys()].filter((k) => !known.has(k));
    if (extra.length > 0) {
      throw new SafetensorsError(
        'bad_tensor',
        `safetensors: unexpected tensors ${extra.map((m) => `'${m}'`).join(', ')} (pass strict: false to ignore)`,
        extra[0],
      );
    }
  }
  const values = layout.map((e) => {
    const t = file.tensors.get(e.name)!;
    const same = t.shape.length === e.shape.length && t.shape.every((d, i) => d === e.shape[i]);
    if (!same) {
      throw new SafetensorsError(
        'size_mismatch',
        `safetensors: tensor '${e.name}' has shape [${t.shape.join(', ')}], the model expects [${e.shape.join(', ')}]`,
        e.name,
      );
    }
    return safetensorsToFloat32(t, `tensor '${e.name}'`);
  });
  const out = into ?? new Float32Array(length);
  layout.forEach((e, i) => out.set(values[i], e.offset));
  return out;
}
