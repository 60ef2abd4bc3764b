/**
 * The MuonWithAuxAdam split (KellerJordan/Muon): hidden `matrix` tensors go to a matrix-aware optimizer,
 * every other role (`embedding` — a tied head included —, `head`, `vector`) to an AdamW with its own
 * learning rate, betas (0.9, 0.95 by default) and eps 1e-10. Muon uses it, and SOAP-Sophia when given
 * `adamLr`, so that both treat embeddings, the head and the norms alike.
 */
import { adamw } from './adam.js';
import { partition, type PartitionState } from './partition.js';
import { requireTensorLayout } from './tensor-layout.js';
import type { GradientTransformation, ScalarOrSchedule } from './transform.js';
import { checkNumber, checkScalarOrSchedule } from './validate.js';

export interface AuxAdamOptions {
  /** The auxiliary AdamW's learning rate, default 3e-4. */
  adamLr?: ScalarOrSchedule;
  /** The auxiliary AdamW's β1, default 0.9. */
  adamB1?: number;
  /** The auxiliary AdamW's β2, default 0.95. */
  adamB2?: number;
  /** The auxiliary AdamW's eps, default 1e-10. */
  adamEps?: number;
  /** The auxiliary AdamW's decoupled weight decay, default 0. */
  adamWeightDecay?: number;
}

export const AUX_ADAM_KEYS = ['adamLr', 'adamB1', 'adamB2', 'adamEps', 'adamWeightDecay'] as const;

/** The auxiliary AdamW, its options checked in `owner`'s name. */
export function auxAdamW(owner: string, options: AuxAdamOptions): GradientTransformation {
  const unit = { min: 0, max: 1, maxExclusive: true };
  return adamw({
    lr: checkScalarOrSchedule(owner, 'adamLr', options.adamLr ?? 3e-4),
    b1: checkNumber(owner, 'adamB1', options.adamB1 ?? 0.9, unit),
    b2: checkNumber(owner, 'adamB2', options.adamB2 ?? 0.95, unit),
    eps: checkNumber(owner, 'adamEps', options.adamEps ?? 1e-10, { min: 0 }),
    weightDecay: checkNumber(owner, 'adamWeightDecay', options.adamWeightDecay ?? 0, { min: 0 }),
  });
}

/**
 * partition({ matrices, adam }) by role: `matrices` sees the `matrix` tensors only (as one sub-vector with
 * its own layout), `adam` the rest. The state is a partition state with the two groups' names.
 */
export function withAuxAdam(
  owner: string,
  groups: { name: string; matrices: GradientTransformation; adam: GradientTransformation },
): GradientTransformation<PartitionState> {
  const labelled = partition({ [groups.name]: groups.matrices, adam: groups.adam }, (slot) =>
    slot.role === 'matrix' ? groups.name : 'adam',
  );
  return {
    freshUpdates: true,
    init(params, layout) {
      // The partition would say "partition needs the layout"; the user called `owner`.
      requireTensorLayout(owner, layout, params.length);
      return labelled.init(params, layout);
    },
    update: labelled.update,
  };
}
