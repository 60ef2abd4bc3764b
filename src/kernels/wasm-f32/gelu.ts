/**
 * Float32 WebAssembly GELU (tanh form), as PyTorch computes it on a CPU: the 'wasm-f32' backends of
 * 'geluExp' (the forward that saves e = exp(−2u)) and 'geluVjp'. Four elements per f32x4 operation in
 * float32 arithmetic, with the polynomial exponential of f32x4-exp.ts (its general form, `emit`):
 *   y = −2c·(x·(1 + a·x²)),  e = exp(y),  GELU = x/(1 + e)
 *   σ = 1/(1 + e),  e·σ = 1 − σ,  GELU′ = σ·(1 + 2x·(e·σ)·c(1 + 3a·x²))
 * e is stored widened to float64 (the signature's type; the float32 value exactly), and the VJP reads
 * it back rounded to float32 — the same float32 it would compute — so the VJP is the same bits with or
 * without the saved e (given e from this forward; e from another backend is rounded to float32).
 *
 * Tails, where float32 overflows: for x below about −10, e = +Infinity and GELU = x/∞ = −0, and e·σ =
 * ∞·0 is taken as its limit 1 (σ = 0 makes GELU′ ±0); above about 10, e = 0 and GELU = x exactly.
 * x enters the quotient and GELU′'s bracket clamped (below at −10⁴ for GELU; to ±10⁴ in the bracket),
 * which changes no finite result (σ = 0 or e = 0 there) but keeps ±∞·0 out: GELU(−∞) = −0 (the limit;
 * the CPU reference's clamped exponential gives −∞), GELU(+∞) = +∞, GELU′(±∞) = 0 and 1. NaN stays
 * NaN.
 *
 * Error against the float64 formulas (bench/f32-gelu-error.ts: every 64th float32 in [−12, 12] by
 * bit pattern and 10⁶ random x with |x| in [10⁻⁴, 10⁴]; test/kernels/f32-gelu.test.ts asserts the
 * bounds of gelu-check.ts on a sweep): GELU within 1.4e-7·max(|GELU|, 1), g·GELU′ (|g| ≤ 1) within
 * 2.3e-7·max(|g·GELU′|, 1), e within 2.0e-7·(3 + |y|) relative where it is a normal float32 — float32
 * rounds y itself, and exp turns y's relative rounding into e's relative error |y|·δ (where that is
 * large, e ≫ 1 or e ≪ 1, and GELU and GELU′ are tiny or exact). Overflow and underflow of e as above.
 * Measured worst (stride 64; random): GELU 1.374e-7 (1.262e-7), g·GELU′ 2.218e-7 (2.235e-7), e
 * 1.943e-7 (1.746e-7) — the same with f32x4-exp.ts's fused multiply-adds as with the unfused
 * exponential GELU had before: the rounding of y and of the quotients dominates the exponential's.
 *
 * Operands are copied through linear memory in chunks of CHUNK elements, so they stay in cache
 * between the copies and the kernel. Float64 arrays go to the CPU reference.
 *
 * Measured (2-vCPU EPYC, Node 20, CPU time, bench/kernel-times.ts on the char-GPT, 524k elements a
 * call, load average 16–17, alternating with the exact backends): geluExp 2630 → 1575 µs per call,
 * geluVjp 1707 → 1196 µs. There both are bound by memory traffic more than arithmetic: copying the
 * float64 e out is about 0.5 ms of the forward, and the VJP reads 8 MB (x, g, e) from cold memory.
 * With f32x4-exp.ts's exponential (fused multiply-adds) instead of its own unfused one
 * (bench/gelu-f32-times.ts, median CPU µs per call, two runs each, before and after alternating, load
 * average 2.8–3.3): geluExp 1671, 1658 → 1578, 1543 cold and 1290, 1150 → 1029, 1060 warm; geluVjp
 * recomputing e 1571, 1630 → 1418, 1470 cold; geluVjp from the saved e (no exponential) unchanged.
 */
import { cpuGeluExp, cpuGeluVjp } from '../cpu/gelu.js';
import type { GeluExpKernel, GeluVjpKernel } from '../registry.js';
import { FunctionBuilder, assembleModule } from '../wasm/assembler.js';
import { type WasmMemory, instantiate } from '../wasm/api.js';
import { WasmKernelHost } from '../wasm/kernel-host.js';
import { F32x4Exp } from './f32x4-exp.js';
import { F32x4Lanes } from './f32x4-lanes.js';
import { FUSED_EXP } from './fused-madd.js';
import { geluF32SelfCheck } from './gelu-check.js';
import { f32KernelsEnabled, registerF32Kernel } from './register.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
/** Where x enters the quotient and the bracket: past it σ or e is exactly 0 (see the header). */
const X_CLAMP = 1e4;

type ExpFn = (x: number, out: number, e: number, n: number) => void;
type VjpFn = (x: number, g: number, e: number, out: number, n: number) => void;

/**
 * Quads per loop iteration: their exponentials, each a chain of ~25 dependent operations, are
 * independent, so the CPU overlaps them where one chain would wait on its own latencies.
 */
const UNROLL = 4;
/** Elements per loop iteration: regions hold whole iterations. */
const STEP = 4 * UNROLL;
const v128At = (offset: number): { align: number; offset: number } => ({ align: 4, offset });

/** A loop over n elements, STEP at a time (i4 is x's byte offset; the last step may run past n). */
function steps(f: FunctionBuilder, n: number, body: (i4: number) => void): void {
  const i4 = f.local('i32');
  const end = f.local('i32');
  f.get(n)
    .i32(STEP - 1)
    .add()
    .i32(Math.log2(STEP))
    .scalar('i32.shr_u')
    .i32(4 * STEP)
    .mul()
    .set(end);
  f.i32(0).set(i4);
  f.loop(() => {
    body(i4);
    f.get(i4)
      .i32(4 * STEP)
      .add()
      .tee(i4)
      .get(end)
      .ltU()
      .brIf(0);
  });
}

/** The locals of UNROLL quads (x and e for each) and the exponential's emitter. */
interface Quads {
  readonly v: number[];
  readonly e: number[];
  readonly exp: F32x4Exp;
}

/** Declares the locals and sets the constants `emitE` uses (before the loop). */
function quadLocals(l: F32x4Lanes): Quads {
  for (const c of [GELU_A, 1, -2 * GELU_C]) l.constant(c);
  const q = Array.from({ length: UNROLL }, (_, j) => j);
  return {
    v: q.map(() => l.f.local('v128')),
    e: q.map(() => l.f.local('v128')),
    exp: new F32x4Exp(l, FUSED_EXP),
  };
}

/** Loads x's UNROLL quads at byte offset i4 into q.v. */
function loadX(f: FunctionBuilder, x: number, i4: number, q: Quads): void {
  q.v.forEach((v, j) =>
    f
      .get(x)
      .get(i4)
      .add()
      .simd('v128.load', v128At(16 * j))
      .set(v),
  );
}

/** Sets each q.e to exp(−2c·(v·(1 + a·v²))) of its q.v, in float32. */
function emitE(l: F32x4Lanes, q: Quads): void {
  const { f } = l;
  q.v.forEach((v, j) => {
    f.get(v).get(v);
    l.op('f32x4.mul');
    f.get(l.constant(GELU_A));
    l.op('f32x4.mul');
    f.get(l.constant(1));
    l.op('f32x4.add');
    f.get(v);
    l.op('f32x4.mul');
    f.get(l.constant(-2 * GELU_C));
    l.op('f32x4.mul');
    f.set(q.e[j]);
  });
  for (const e of q.e) {
    q.exp.emit(e);
    f.set(e);
  }
}

/** exp(x, out, e, n): out = GELU(x), e = exp(−2u) widened to float64. Whole steps; n ≥ 1. */
function buildExp(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32']);
  const [x, out, e, n] = [0, 1, 2, 3];
  const l = new F32x4Lanes(f);
  const q = quadLocals(l);
  const lowX = l.constant(-X_CLAMP);
  const eAt = f.local('i32');
  steps(f, n, (i4) => {
    loadX(f, x, i4, q);
    emitE(l, q);
    // out = max(v, −10⁴)/(1 + e)
    q.v.forEach((v, j) => {
      f.get(out).get(i4).add();
      f.get(v).get(lowX);
      l.op('f32x4.pmax');
      f.get(q.e[j]).get(l.constant(1));
      l.op('f32x4.add');
      l.op('f32x4.div');
      f.simd('v128.store', v128At(16 * j));
    });
    // e, two float64 per store: lanes 0–1, then 2–3 moved down
    f.get(e).get(i4).get(i4).add().add().set(eAt);
    q.e.forEach((ev, j) => {
      f.get(eAt)
        .get(ev)
        .simd('f64x2.promote_low_f32x4')
        .simd('v128.store', v128At(32 * j));
      f.get(eAt).get(ev).get(ev);
      l.shuffle32([2, 3, 0, 1]);
      f.simd('f64x2.promote_low_f32x4').simd('v128.store', v128At(32 * j + 16));
    });
  });
  return f;
}

/**
 * vjp(x, g, e, out, n) or, with `saved` false, vjp(x, g, out, n) recomputing e as `buildExp` does:
 * out = g·GELU′(x). Whole steps; n ≥ 1.
 */
function buildVjp(saved: boolean): FunctionBuilder {
  const f = new FunctionBuilder(saved ? ['i32', 'i32', 'i32', 'i32', 'i32'] : ['i32', 'i32', 'i32', 'i32']);
  const [x, g, e, out, n] = saved ? [0, 1, 2, 3, 4] : [0, 1, -1, 2, 3];
  const l = new F32x4Lanes(f);
  const q = quadLocals(l);
  for (const c of [-X_CLAMP, X_CLAMP, 2, GELU_C, 3 * GELU_A]) l.constant(c);
  const k = (value: number): number => l.constant(value);
  const [sig, vc] = [f.local('v128'), f.local('v128')];
  const eAt = f.local('i32');
  steps(f, n, (i4) => {
    loadX(f, x, i4, q);
    if (saved) {
      f.get(e).get(i4).get(i4).add().add().set(eAt);
      q.e.forEach((ev, j) => {
        f.get(eAt)
          .simd('v128.load', v128At(32 * j))
          .simd('f32x4.demote_f64x2_zero');
        f.get(eAt)
          .simd('v128.load', v128At(32 * j + 16))
          .simd('f32x4.demote_f64x2_zero');
        l.shuffle32([0, 1, 4, 5]);
        f.set(ev);
      });
    } else {
      emitE(l, q);
    }
    q.v.forEach((v, j) => {
      const ev = q.e[j];
      // σ = 1/(1 + e); e·σ, with pmin(1, ·) taking ∞·0 = NaN (e = ∞) to its limit 1.
      f.get(k(1)).get(ev).get(k(1));
      l.op('f32x4.add');
      l.op('f32x4.div');
      f.set(sig);
      f.get(k(1)).get(ev).get(sig);
      l.op('f32x4.mul');
      l.op('f32x4.pmin');
      f.set(ev);
      // vc = clamp(v, ±10⁴); bracket = 1 + ((2·vc)·(e·σ))·(c·(1 + (3a·vc)·vc))
      f.get(v).get(k(-X_CLAMP));
      l.op('f32x4.pmax');
      f.get(k(X_CLAMP));
      l.op('f32x4.pmin');
      f.set(vc);
      f.get(out).get(i4).add();
      f.get(g)
        .get(i4)
        .add()
        .simd('v128.load', v128At(16 * j));
      f.get(sig);
      f.get(k(2)).get(vc);
      l.op('f32x4.mul');
      f.get(ev);
      l.op('f32x4.mul');
      f.get(k(3 * GELU_A)).get(vc);
      l.op('f32x4.mul');
      f.get(vc);
      l.op('f32x4.mul');
      f.get(k(1));
      l.op('f32x4.add');
      f.get(k(GELU_C));
      l.op('f32x4.mul');
      l.op('f32x4.mul');
      f.get(k(1));
      l.op('f32x4.add');
      // out = g·(σ·bracket)
      l.op('f32x4.mul');
      l.op('f32x4.mul');
      f.simd('v128.store', v128At(16 * j));
    });
  });
  return f;
}

/** Elements per pass through linear memory: x, g and out (4 bytes each) and e (8) stay in L2. */
export const CHUNK = 8192;
/** 64 bytes of slack at 0, then x, g, out and e; each region CHUNK elements (a multiple of 4). */
const X_AT = 64;
const G_AT = X_AT + CHUNK * 4;
const O_AT = G_AT + CHUNK * 4;
const E_AT = O_AT + CHUNK * 4;
const END = E_AT + CHUNK * 8;

const lengthError = (
  kernel: string,
  n: number,
  arrays: Record<string, { length: number } | undefined>,
): Error =>
  new RangeError(
    `${kernel}: out has ${n} elements but ${Object.entries(arrays)
      .filter(([, a]) => a !== undefined && a.length < n)
      .map(([name, a]) => `${name} has ${a?.length}`)
      .join(', ')}`,
  );

export class WasmF32Gelu extends WasmKernelHost {
  private readonly expFn: ExpFn;
  private readonly vjpSavedFn: VjpFn;
  private readonly vjpFn: (x: number, g: number, out: number, n: number) => void;

  constructor() {
    const instance = instantiate(
      assembleModule([
        { name: 'exp', fn: buildExp() },
        { name: 'vjpSaved', fn: buildVjp(true) },
        { name: 'vjp', fn: buildVjp(false) },
      ]),
    );
    super(instance.exports.memory as WasmMemory);
    this.expFn = instance.exports.exp as ExpFn;
    this.vjpSavedFn = instance.exports.vjpSaved as VjpFn;
    this.vjpFn = instance.exports.vjp as (x: number, g: number, out: number, n: number) => void;
    // The regions never move: memory is grown once, here.
    if (!this.ensure(END)) throw new Error('WasmF32Gelu: cannot allocate its linear memory');
  }

  readonly geluExp: GeluExpKernel = (x, out, e) => {
    const n = out.length;
    if (x.length < n || e.length < n) throw lengthError('geluExp', n, { x, e });
    if (!(x instanceof Float32Array && out instanceof Float32Array)) return cpuGeluExp(x, out, e);
    const { f32, f64 } = this;
    for (let at = 0; at < n; at += CHUNK) {
      const m = Math.min(CHUNK, n - at);
      f32.set(x.subarray(at, at + m), X_AT / 4);
      this.expFn(X_AT, O_AT, E_AT, m);
      out.set(f32.subarray(O_AT / 4, O_AT / 4 + m), at);
      e.set(f64.subarray(E_AT / 8, E_AT / 8 + m), at);
    }
  };

  readonly geluVjp: GeluVjpKernel = (x, g, out, e) => {
    const n = out.length;
    if (x.length < n || g.length < n || (e !== undefined && e.length < n))
      throw lengthError('geluVjp', n, { x, g, e });
    if (!(x instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array))
      return cpuGeluVjp(x, g, out, e);
    const { f32, f64 } = this;
    for (let at = 0; at < n; at += CHUNK) {
      const m = Math.min(CHUNK, n - at);
      f32.set(x.subarray(at, at + m), X_AT / 4);
      f32.set(g.subarray(at, at + m), G_AT / 4);
      if (e) {
        f64.set(e.subarray(at, at + m), E_AT / 8);
        this.vjpSavedFn(X_AT, G_AT, E_AT, O_AT, m);
      } else {
        this.vjpFn(X_AT, G_AT, O_AT, m);
      }
      out.set(f32.subarray(O_AT / 4, O_AT / 4 + m), at);
    }
  };
}

if (f32KernelsEnabled) {
  const gelu = new WasmF32Gelu();
  // One check covers both: it runs the VJP on the forward's saved exponentials.
  const passes = geluF32SelfCheck(gelu.geluExp, gelu.geluVjp);
  registerF32Kernel('geluExp', gelu.geluExp, () => passes);
  registerF32Kernel('geluVjp', gelu.geluVjp, () => passes);
}
