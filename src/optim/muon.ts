/**
 * Muon (KellerJordan/Muon, muon.py): SGD-momentum whose update for each hidden weight matrix is replaced by
 * an approximately orthogonal matrix, computed by a Newton–Schulz iteration (newton-schulz.ts).
 *
 * Per `matrix` tensor G of shape [rows, cols] = [out, in] (the official `muon_update`):
 *   buf ← lerp(buf, g, 1 − β)              = β·buf + (1 − β)·g      (momentum.lerp_(grad, 1 − beta))
 *   u   ← lerp(g, buf, β) if nesterov, else buf                      (grad.lerp_(momentum, beta))
 *   u   ← NS₅(u) · max(1, rows/cols)^0.5
 * and the `muon` alias then applies the official step p ← p·(1 − lr·wd) − lr·u (as −lr·(u + wd·p)).
 * lerp is evaluated as torch.lerp does (start + w·(end − start) for w < 0.5, else end − (end − start)·(1 − w)).
 *
 * Deviations from the official code, both at the level of rounding: Newton–Schulz runs in float32, not
 * bfloat16 (the official code's choice for GPU speed), so it is closer to the exact iteration; and each of
 * its iterations groups the diagonal terms into the products (newton-schulz.ts says why). Three steps on
 * the reference char-GPT's layout agree with muon.py's semantics run by PyTorch in float32 to 2e-6 of the
 * largest update (bench/reference/muon_check.py, test/optim/muon-torch.test.ts); the official bfloat16
 * class itself differs from both by ~8%, which is bfloat16's rounding. Whole 1000-step runs of the official
 * class on the same θ₀ and batches (`npm run bench:muon-official`, bench/results/muon-official.json) end
 * within seed noise of ours, and within 2e-5 with its Newton–Schulz in float32.
 *
 * A non-finite gradient or momentum gives a non-finite update (NaN spreads over its whole matrix), which
 * Trainer and the pipeline's applyStep already treat as a step to skip, keeping θ and the optimizer state
 * as they were; no transformation throws for it, because those loops catch NonFiniteError only around
 * the gradient computation.
 *
 * `muon(options)` is the repo's MuonWithAuxAdam recipe on one flat vector: `matrix` tensors go to Muon,
 * every other role (`embedding` — a tied head included —, `head`, `vector`) to an AdamW with its own
 * learning rate, betas (0.9, 0.95) and eps 1e-10. Both learning rates may be schedules.
 */
import { takeArray } from './array-pool.js';
import { chain, type ChainState } from './chain.js';
import { AUX_ADAM_KEYS, auxAdamW, withAuxAdam, type AuxAdamOptions } from './aux-adam.js';
import { scaleByLearningRate } from './learning-rate.js';
import { newtonSchulzInto } from './newton-schulz.js';
import type { PartitionState } from './partition.js';
import { requireTensorLayout } from './tensor-layout.js';
import type { GradientTransformation, ScalarOrSchedule } from './transform.js';
import {
  checkBoolean,
  checkKnownOptions,
  checkLength,
  checkNumber,
  checkScalarOrSchedule,
  checkStateObject,
  checkStateVector,
} from './validate.js';
import { addDecayedWeights } from './weight-decay.js';

export interface ScaleByMuonOptions {
  /** β of the momentum buffer, default 0.95. */
  momentum?: number;
  /** Nesterov-style update lerp(g, buf, β) instead of buf, default true. */
  nesterov?: boolean;
  /** Newton–Schulz iterations, default 5. */
  nsSteps?: number;
}

export interface MuonState {
  /** The momentum buffer of every coordinate. */
  momentum: Float32Array;
  /** The matrices as [offset, rows, cols] triples, flattened (from the layout given to init). */
  matrices: number[];
}

/** torch.lerp's formula, per element in float64 (rounded to float32 when stored). */
const lerp = (start: number, end: number, w: number): number =>
  w < 0.5 ? start + w * (end - start) : end - (end - start) * (1 - w);

function checkMatrices(owner: string, value: unknown, length: number): number[] {
  const ok =
    Array.isArray(value) &&
    value.length % 3 === 0 &&
    value.every((v) => Number.isSafeInteger(v) && v >= 0) &&
    value.every((_, i) => i % 3 !== 0 || value[i] + value[i + 1] * value[i + 2] <= length);
  if (!ok)
    throw new Error(
      `${owner}: state.matrices must be [offset, rows, cols] triples inside the vector ` +
        `(was this state produced by ${owner}?)`,
    );
  return value as number[];
}

/**
 * Muon's momentum and orthogonalisation, for a vector made only of `matrix` tensors (use `partition`, as the
 * `muon` alias does, to send other tensors elsewhere). Needs the layout at init.
 */
export function scaleByMuon(options: ScaleByMuonOptions = {}): GradientTransformation<MuonState> {
  const owner = 'scaleByMuon';
  checkKnownOptions(owner, options, ['momentum', 'nesterov', 'nsSteps']);
  const beta = checkNumber(owner, 'momentum', options.momentum ?? 0.95, {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const nesterov = checkBoolean(owner, 'nesterov', options.nesterov ?? true);
  const nsSteps = checkNumber(owner, 'nsSteps', options.nsSteps ?? 5, { min: 1, max: 100, integer: true });
  return {
    freshUpdates: true,
    init(params, layout) {
      const slots = requireTensorLayout(owner, layout, params.length);
      const matrices: number[] = [];
      let covered = 0;
      for (const s of slots) {
        if (s.role !== 'matrix')
          throw new Error(
            `${owner}: tensor '${s.name}' has role '${s.role}'; Muon orthogonalises matrices only — ` +
              `send other tensors to another transformation with partition (the muon alias does)`,
          );
        matrices.push(s.offset, s.shape[0], s.shape[1]);
        covered += s.size;
      }
      if (covered !== params.length)
        throw new Error(
          `${owner}: the layout's matrices cover ${covered} of the ${params.length} coordinates; ` +
            `every coordinate must belong to a matrix`,
        );
      return { momentum: new Float32Array(params.length), matrices };
    },
    update(grads, state, _params, extra) {
      const s = checkStateObject(owner, state);
      const buf0 = checkStateVector(owner, 'momentum', s.momentum);
      checkLength(owner, 'gradient', grads, buf0.length);
      const matrices = checkMatrices(owner, s.matrices, buf0.length);
      const buf = takeArray(grads.length, extra);
      const out = takeArray(grads.length, extra);
      const w = 1 - beta;
      for (let i = 0; i < grads.length; i++) {
        buf[i] = lerp(buf0[i], grads[i], w);
        out[i] = nesterov ? lerp(grads[i], buf[i], beta) : buf[i];
      }
      for (let j = 0; j < matrices.length; j += 3) {
        const [offset, rows, cols] = [matrices[j], matrices[j + 1], matrices[j + 2]];
        const u = out.subarray(offset, offset + rows * cols);
        if (u.length > 0) newtonSchulzInto(u, rows, cols, nsSteps, u, Math.max(1, rows / cols) ** 0.5);
      }
      return [out, { momentum: buf, matrices }];
    },
  };
}

export interface MuonOptions extends AuxAdamOptions {
  /** Muon's learning rate (in units of spectral norm per update), default 0.02. */
  lr?: ScalarOrSchedule;
  momentum?: number;
  nesterov?: boolean;
  nsSteps?: number;
  /** Muon's decoupled weight decay p ← p·(1 − lr·wd), default 0. */
  weightDecay?: number;
}

const MUON_KEYS = ['lr', 'momentum', 'nesterov', 'nsSteps', 'weightDecay'] as const;

/**
 * MuonWithAuxAdam: `matrix` tensors → chain(scaleByMuon, decay, lr), every other tensor → AdamW. The state
 * is a partition state with groups `muon` and `adam`. Needs the layout at init (a layout without matrices
 * is plain AdamW).
 */
export function muon(options: MuonOptions = {}): GradientTransformation<PartitionState> {
  const owner = 'muon';
  checkKnownOptions(owner, options, [...MUON_KEYS, ...AUX_ADAM_KEYS]);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? 0.02);
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? 0, { min: 0 });
  const adamPart = auxAdamW(owner, options);
  let scale: GradientTransformation;
  try {
    scale = scaleByMuon({ momentum: options.momentum, nesterov: options.nesterov, nsSteps: options.nsSteps });
  } catch (e) {
    // Name the alias, whose options the user wrote.
    throw new Error((e as Error).message.replace(/^scaleByMuon:/, `${owner}:`));
  }
  const muonPart: GradientTransformation<ChainState> = chain(
    scale,
    addDecayedWeights(wd),
    scaleByLearningRate(lr),
  );
  return withAuxAdam(owner, { name: 'muon', matrices: muonPart, adam: adamPart });
}
