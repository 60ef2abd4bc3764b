/**
 * Learning rates for other batch sizes (Granziol et al., "Learning rates as a function of batch size",
 * JMLR 2022): for SGD the largest stable rate grows linearly with the batch size, η' = η·B'/B; for
 * adaptive methods (Adam-type, Hessian-preconditioned) it grows with the square root, η' = η·√(B'/B).
 */

export type ScalingRule = 'linear' | 'sqrt';

const SGD_LIKE = new Set(['sgd', 'gd', 'momentum', 'nesterov', 'heavy-ball']);
const ADAPTIVE = new Set([
  'adaptive',
  'adam',
  'adamw',
  'rmsprop',
  'adagrad',
  'adahessian',
  'sophia',
  'sophia-g',
  'sophia-h',
  'mfac',
  'm-fac',
  'lion',
]);

export interface LrSuggestionOptions {
  lr: number;
  batchSize: number;
  /** 'sgd' (or gd, momentum, nesterov) → linear; 'adaptive' (or adam, adamw, sophia-g, …) → square root. */
  optimizerKind: string;
  /** Batch sizes to suggest rates for. */
  targets: readonly number[];
}

export interface LrSuggestion {
  batchSize: number;
  lr: number;
  rule: ScalingRule;
}

/** The scaling rule for an optimizer name (case-insensitive); throws for an unknown name. */
export function scalingRule(optimizerKind: string): ScalingRule {
  const k = optimizerKind.toLowerCase();
  if (SGD_LIKE.has(k)) return 'linear';
  if (ADAPTIVE.has(k)) return 'sqrt';
  throw new RangeError(
    `suggestLearningRates: unknown optimizer kind "${optimizerKind}"; use one of ${[...SGD_LIKE, ...ADAPTIVE].join(', ')}`,
  );
}

export function suggestLearningRates(options: LrSuggestionOptions): LrSuggestion[] {
  const { lr, batchSize, targets } = options;
  if (!(lr > 0) || !Number.isFinite(lr))
    throw new RangeError(`suggestLearningRates: lr must be positive, got ${lr}`);
  const checkB = (b: number) => {
    if (!Number.isInteger(b) || b < 1)
      throw new RangeError(`suggestLearningRates: batch size must be a positive integer, got ${b}`);
  };
  checkB(batchSize);
  targets.forEach(checkB);
  const rule = scalingRule(options.optimizerKind);
  return targets.map((b) => ({
    batchSize: b,
    lr: rule === 'linear' ? (lr * b) / batchSize : lr * Math.sqrt(b / batchSize),
    rule,
  }));
}
