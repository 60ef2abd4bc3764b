/**
 * Times the curvature probe inside a synchronous `Trainer` step, for the probe-duration histogram.
 *
 * The Trainer runs the probe inline and reports only the whole step's time, so the engine hands it a
 * model and an optimizer that note when they are called, and reads the probe's span from those marks:
 * on a step that launches an estimate, the probe's forward pass is the step's first `logits` call, and
 * the probe has ended when the next phase starts — the gradient's own forward pass (GNB), or the
 * optimizer update (Hutchinson, whose probe also yields the loss and gradient), or the end of the step
 * (a probe that hit a non-finite value skips the step). Batch validation before the probe is excluded.
 * Outside an armed step (e.g. the dry-run update of a hyperparameter change) nothing is recorded.
 */
import type { Model } from '../nn/model.js';
import type { GradientTransformation } from '../optim/transform.js';

export class ProbeClock {
  private armed = false;
  private forwards: number[] = [];
  private updateAt: number | null = null;

  /** The model, noting the start of each forward pass while armed. */
  wrapModel(model: Model): Model {
    return {
      spec: model.spec,
      paramSpecs: model.paramSpecs,
      layout: model.layout,
      numClasses: model.numClasses,
      logits: (params, inputs) => {
        if (this.armed) this.forwards.push(performance.now());
        return model.logits(params, inputs);
      },
    };
  }

  /** The optimizer, noting the start of its update while armed. */
  wrapOptimizer<S>(opt: GradientTransformation<S>): GradientTransformation<S> {
    return {
      init: (params, layout) => opt.init(params, layout),
      update: (grads, state, params, extra) => {
        if (this.armed && this.updateAt === null) this.updateAt = performance.now();
        return opt.update(grads, state, params, extra);
      },
    };
  }

  /** Call right before a step that launches a probe. */
  arm(): void {
    this.armed = true;
    this.forwards.length = 0;
    this.updateAt = null;
  }

  /** Call right after that step (also when it threw): the probe's seconds, or null if none ran. */
  disarm(): number | null {
    const end = performance.now();
    this.armed = false;
    const start = this.forwards[0];
    if (start === undefined) return null;
    const next = this.forwards[1] ?? this.updateAt ?? end;
    return Math.max(0, next - start) / 1000;
  }
}
