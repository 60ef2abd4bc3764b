/**
 * The optax-style contract every optimizer piece follows.
 *
 * All parameters of a model live in one flat Float32Array, so a transformation is one loop over a flat
 * vector. `update` is pure: it never writes to `grads`, `state` or `params` and returns fresh arrays, so a
 * state can be checkpointed, replayed or compared at any moment (and unchanged sub-arrays may be shared
 * between consecutive states, because nobody mutates them). States are built only of numbers, strings,
 * booleans, plain objects/arrays and typed arrays so msgpackr can serialize them without custom hooks.
 * Neither the updates nor the state ever hold `grads` itself.
 */
import type { ArrayPool } from './array-pool.js';
import type { TensorLayout } from './tensor-layout.js';

/** Side information that arrives with a minibatch. */
export interface UpdateExtra {
  /**
   * A fresh diagonal curvature estimate ĥ (GNB ĝ⊙ĝ, Hutchinson z⊙Hz, or an exact diagonal), present only on
   * steps where a probe worker delivered one. Kept out of the optimizer so estimators can run elsewhere.
   */
  hessianDiag?: Float32Array;
  /**
   * A curvature gradient ĝ: the gradient of the mean loss against labels sampled from the model's own
   * predictive distribution (the GNB / true-Fisher sample whose square ĝ⊙ĝ is `hessianDiag`'s GNB
   * estimate), present only on steps where a probe delivered one. Unlike ĝ⊙ĝ it keeps the cross terms a
   * matrix-aware optimizer needs: SOAP-Sophia (soap-sophia.ts) builds Kronecker factors ĝĝᵀ, ĝᵀĝ and the
   * rotated curvature (Q_Lᵀ ĝ Q_R)² from it. Same length as the gradient.
   */
  curvatureGradient?: Float32Array;
  /** Number of predictions in the minibatch (tokens for an LM): Sophia-G's `bs`. */
  batchSize?: number;
  /** Loss of the minibatch; carried for telemetry, no transformation needs it. */
  loss?: number;
  /**
   * Where fresh arrays may come from (array-pool.ts): given by a loop that recycles the states and
   * updates it has replaced. A transformation that takes from it writes every element of what it takes.
   */
  arrays?: ArrayPool;
}

export interface GradientTransformation<S = unknown> {
  /**
   * The first state for `params`. `layout` (tensor-layout.ts) tells where each parameter tensor lives, its
   * shape and role; elementwise transformations ignore it, matrix-aware ones (Muon, SOAP, PSGD) require it.
   * Whoever calls `init` on behalf of a model passes it; wrappers pass it on unchanged.
   */
  init(params: Float32Array, layout?: TensorLayout): S;
  /** Returns the updates (to be ADDED to params) and the next state. Pure. */
  update(grads: Float32Array, state: S, params?: Float32Array, extra?: UpdateExtra): [Float32Array, S];
  /**
   * True when `update` always returns a new array that neither its state nor anything else holds, so
   * whoever receives it may overwrite it. `chain` uses this to hand that array on to `updateInPlace`.
   */
  readonly freshUpdates?: boolean;
  /**
   * Optional fast path with exactly the arithmetic of `update`, writing the result over `updates` (an
   * array the caller owns and gives up) and returning the next state. Elementwise members (weight decay,
   * the learning-rate scale) implement it: in a chain they then skip an allocation and a copy per step,
   * while `update` stays pure for every other caller.
   */
  updateInPlace?(updates: Float32Array, state: S, params?: Float32Array, extra?: UpdateExtra): S;
}

/** A pure function of the step count (0 for the first update). */
export type Schedule = (step: number) => number;

export type ScalarOrSchedule = number | Schedule;

/** Per-coordinate mask: 1 = the transformation applies, 0 = it leaves the coordinate alone. */
export type CoordinateMask = Uint8Array | ((params: Float32Array) => Uint8Array);
