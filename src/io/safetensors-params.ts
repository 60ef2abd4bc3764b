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
import { tiedAliases } from './tied-head.js';

type LayoutLike = ReadonlyArray<Pick<ParamLayoutEntry, 'name' | 'shape' | 'offset'> & { tags?: string[] }>;

function checkLayout(layout: LayoutLike, length: number): void {
  const problem = describeLayoutProblem(
    layout.map((e) => ({ ...e, tags: e.tags ?? [] })),
    length,
  );
  if (problem) throw new RangeError(`invalid parameter layout: ${problem}`);
}

export interface ParamsToSafetensorsOptions {
  /**
   * Also write a tied head under PyTorch's second name (`lm_head.weight` beside
   * `transformer.wte.weight`, src/io/tied-head.ts), so `load_state_dict(strict=True)` accepts the file.
   */
  torchTiedHead?: boolean;
}

/** The parameters as safetensors bytes, one F32 tensor per layout entry (and per tied alias). */
export function paramsToSafetensors(
  params: Float32Array,
  layout: LayoutLike,
  metadata?: Record<string, string>,
  opts: ParamsToSafetensorsOptions = {},
): Uint8Array {
  checkLayout(layout, params.length);
  const tensors: [string, { shape: number[]; data: Float32Array }][] = layout.map((e) => [
    e.name,
    { shape: [...e.shape], data: params.subarray(e.offset, e.offset + layoutEntrySize(e)) },
  ]);
  if (opts.torchTiedHead) {
    for (const [alias, name] of tiedAliases(layout.map((e) => e.name))) {
      const e = layout.find((x) => x.name === name)!;
      tensors.push([
        alias,
        { shape: [...e.shape], data: params.subarray(e.offset, e.offset + layoutEntrySize(e)) },
      ]);
    }
  }
  return encodeSafetensors(tensors, metadata);
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
  // A tied head's PyTorch alias is accepted when it is exactly the embedding it stands for.
  const aliases = tiedAliases(layout.map((e) => e.name));
  for (const [alias, name] of aliases) {
    const a = file.tensors.get(alias);
    if (!a) continue;
    const x = safetensorsToFloat32(a, `tensor '${alias}'`);
    const y = safetensorsToFloat32(file.tensors.get(name)!, `tensor '${name}'`);
    const same =
      x.length === y.length &&
      Buffer.compare(
        Buffer.from(x.buffer, x.byteOffset, x.byteLength),
        Buffer.from(y.buffer, y.byteOffset, y.byteLength),
      ) === 0;
    if (!same)
      throw new SafetensorsError(
        'bad_tensor',
        `safetensors: '${alias}' differs from '${name}', which the model ties it to`,
        alias,
      );
  }
  if (opts.strict ?? true) {
    const known = new Set([...layout.map((e) => e.name), ...aliases.keys()]);
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
