/**
 * The ParamStore: all parameters in one Float32Array on a SharedArrayBuffer, so worker threads read
 * them zero copy; the coordinator is the only writer and bumps `version` after each update.
 */
import { rng } from '../random/counter-rng.js';
import { type ParamLayout, type ParamSpec } from './param-layout.js';

export class ParamStore {
  readonly buffer: SharedArrayBuffer;
  readonly data: Float32Array;
  version = 0;

  constructor(
    readonly layout: ParamLayout,
    buffer?: SharedArrayBuffer,
  ) {
    this.buffer = buffer ?? new SharedArrayBuffer(layout.size * 4);
    if (this.buffer.byteLength !== layout.size * 4) {
      throw new Error(
        `ParamStore: buffer has ${this.buffer.byteLength} bytes, layout needs ${layout.size * 4}`,
      );
    }
    this.data = new Float32Array(this.buffer);
  }

  /** Zero-copy view of one parameter. */
  view(name: string): Float32Array {
    const e = this.layout.get(name);
    return this.data.subarray(e.offset, e.offset + e.size);
  }

  /** Replaces every parameter (same length) and bumps the version. */
  set(values: ArrayLike<number>): void {
    if (values.length !== this.data.length) {
      throw new Error(`ParamStore.set: got ${values.length} values, store holds ${this.data.length}`);
    }
    this.data.set(values);
    this.version++;
  }

  /** A private copy of the parameters. */
  snapshot(): Float32Array {
    return this.data.slice();
  }
}

/** Fills `out` per the specs' init rules; each parameter's draws are rng(seed, 'init', name). */
export function initParams(
  specs: readonly ParamSpec[],
  layout: ParamLayout,
  seed: number,
  out: Float32Array | Float64Array,
): void {
  for (const s of specs) {
    const e = layout.get(s.name);
    const v = out.subarray(e.offset, e.offset + e.size);
    const r = rng(seed, 'init', s.name);
    const init = s.init;
    if (init.kind === 'normal') r.fillNormal(v, 0, init.std);
    else if (init.kind === 'uniform') r.fillUniform(v, -init.bound, init.bound);
    else v.fill(init.value);
  }
}
