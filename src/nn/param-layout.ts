/**
 * Where each named parameter lives in the one flat parameter vector. Names and shapes follow
 * PyTorch's state_dict (Linear weights are [out, in]) so weights exchange cleanly; tags drive
 * per-group behaviour (weight decay, diagnostics per layer).
 */
import { reshape, slice } from '../tensor/ops/layout.js';
import { ShapeError } from '../tensor/errors.js';
import { sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** Tags a parameter may carry. `decay`: decoupled weight decay applies. `layer:<name>` groups for diagnostics. */
export type ParamTag = 'weight' | 'bias' | 'norm' | 'embedding' | 'decay' | `layer:${string}`;

export interface ParamEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  readonly tags: readonly ParamTag[];
}

/** How a parameter is initialised; every draw comes from rng(seed, 'init', name). */
export type ParamInit =
  { kind: 'normal'; std: number } | { kind: 'uniform'; bound: number } | { kind: 'constant'; value: number };

export interface ParamSpec {
  name: string;
  shape: number[];
  tags: ParamTag[];
  init: ParamInit;
}

export class ParamLayout {
  readonly entries: readonly ParamEntry[];
  readonly size: number;
  private readonly byName: Map<string, ParamEntry>;

  constructor(specs: readonly Pick<ParamSpec, 'name' | 'shape' | 'tags'>[]) {
    let offset = 0;
    const entries: ParamEntry[] = [];
    this.byName = new Map();
    for (const s of specs) {
      if (this.byName.has(s.name)) throw new Error(`ParamLayout: duplicate parameter name ${s.name}`);
      const size = sizeOf(s.shape);
      const e: ParamEntry = { name: s.name, shape: [...s.shape], offset, size, tags: [...s.tags] };
      entries.push(e);
      this.byName.set(s.name, e);
      offset += size;
    }
    this.entries = entries;
    this.size = offset;
  }

  get(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) throw new Error(`unknown parameter ${name}; have ${[...this.byName.keys()].join(', ')}`);
    return e;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A per-coordinate 0/1 mask of the parameters for which `pick` is true (e.g. weight-decay masks). */
  mask(pick: (e: ParamEntry) => boolean): Uint8Array {
    const m = new Uint8Array(this.size);
    for (const e of this.entries) if (pick(e)) m.fill(1, e.offset, e.offset + e.size);
    return m;
  }

  /** Mask of parameters carrying `tag`. */
  maskByTag(tag: ParamTag): Uint8Array {
    return this.mask((e) => e.tags.includes(tag));
  }

  /** Zero-copy views of a flat vector, keyed by parameter name. */
  views<T extends Float32Array | Float64Array>(flat: T): Map<string, T> {
    this.checkFlat(flat.length);
    return new Map(this.entries.map((e) => [e.name, flat.subarray(e.offset, e.offset + e.size) as T]));
  }

  /** Named tensors sliced (zero copy) from a flat parameter tensor; gradients flow back to `flat`. */
  unflatten(flat: Tensor): Params {
    this.checkFlat(flat.size);
    const flat1 = flat.rank === 1 ? flat : reshape(flat, [flat.size]);
    const out = new Map<string, Tensor>();
    for (const e of this.entries) out.set(e.name, reshape(slice(flat1, [e.offset], [e.size]), e.shape));
    return new Params(out);
  }

  toJSON(): ParamEntry[] {
    return this.entries.map((e) => ({ ...e, shape: [...e.shape], tags: [...e.tags] }));
  }

  private checkFlat(n: number): void {
    if (n !== this.size)
      throw new ShapeError('ParamLayout', `flat vector has ${n} elements, layout needs ${this.size}`);
  }
}

/** Parameter tensors by name, with an error that lists what exists when a name is wrong. */
export class Params {
  constructor(private readonly byName: Map<string, Tensor>) {}

  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (!t) throw new Error(`unknown parameter ${name}; have ${[...this.byName.keys()].join(', ')}`);
    return t;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}
