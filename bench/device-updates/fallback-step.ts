/**
 * A Sophia-G step on host state through the GPU → CPU fallback (src/gpu/host/fallback.ts): the WGSL
 * EMA and fused step on the device (state uploaded, updated, read back), or the library's `sophiaG`
 * (src/optim) on the CPU. For the device-update benchmarks and their tests; no training path calls it.
 */
import type { GpuFallback } from '../../src/gpu/host/fallback.js';
import { applyUpdates, sophiaG } from '../../src/optim/index.js';
import type { SophiaState } from '../../src/optim/sophia-g.js';
import { emaWgsl, sophiaGStepWgsl, type SophiaGStepOptions } from './updates.js';

/** Sophia-G state on the host: θ, the gradient EMA m and the curvature EMA h. */
export interface HostSophiaG {
  theta: Float32Array;
  m: Float32Array;
  h: Float32Array;
}

export interface SophiaGFallbackOptions extends SophiaGStepOptions {
  b2: number;
  /** A fresh curvature estimate ĥ for this step (h ← β2·h + (1−β2)·ĥ first). */
  hessianDiag?: Float32Array;
}

/**
 * One Sophia-G step on host state, in place: the WGSL EMA and fused step on the device (state
 * uploaded, updated, read back), or the library's `sophiaG` (src/optim) on the CPU.
 */
export function sophiaGStepHost(
  fallback: GpuFallback,
  s: HostSophiaG,
  grad: Float32Array,
  o: SophiaGFallbackOptions,
): Promise<void> {
  return fallback.run(
    'Sophia-G step',
    async (dev) => {
      const arrays = [s.theta, s.m, s.h, grad, ...(o.hessianDiag ? [o.hessianDiag] : [])].map((x) =>
        dev.upload(x),
      );
      try {
        const [theta, m, h, g, hHat] = arrays;
        if (hHat) emaWgsl(dev, h, hHat, o.b2, true);
        sophiaGStepWgsl(dev, { theta, m }, g, h, o);
        const [t2, m2, h2] = await Promise.all([theta, m, h].map((a) => dev.download(a)));
        s.theta.set(t2);
        s.m.set(m2);
        s.h.set(h2);
      } finally {
        for (const a of arrays) a.free();
      }
    },
    () => {
      const opt = sophiaG({ lr: o.lr, b1: o.b1, b2: o.b2, rho: o.rho, weightDecay: o.weightDecay });
      const state = opt.init(s.theta);
      const inner = state[0] as SophiaState;
      state[0] = { ...inner, m: s.m, h: s.h };
      const [updates, next] = opt.update(grad, state, s.theta, {
        batchSize: o.batchSize,
        ...(o.hessianDiag ? { hessianDiag: o.hessianDiag } : {}),
      });
      const after = next[0] as SophiaState;
      s.theta.set(applyUpdates(s.theta, updates));
      s.m.set(after.m);
      s.h.set(after.h);
    },
  );
}
