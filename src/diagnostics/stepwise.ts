/**
 * A long diagnostic written once as a generator of HVP-sized steps, so the same algorithm can run to
 * the end synchronously (`finish`, what the library functions do) or be driven step by step from an
 * async caller that shows progress and can stop it (`drive`, what `hessflow hessian` does: a
 * synchronous loop of several minutes would never let a Ctrl-C handler run).
 *
 * After each HVP the generator yields a `StepProgress`: how many HVPs it has spent, an upper bound on
 * how many it may spend (it can stop earlier on convergence), and `partial()`, the best result it can
 * give if stopped there (marked not converged).
 */

export interface StepProgress<R> {
  /** HVPs spent so far. */
  done: number;
  /** The most HVPs the algorithm can spend (it stops earlier when it converges). */
  total: number;
  /** The result if stopped now. */
  partial(): R;
}

export type Stepwise<R> = Generator<StepProgress<R>, R, undefined>;

/** Runs a stepwise algorithm to its end. */
export function finish<R>(steps: Stepwise<R>): R {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export interface DriveOptions<R> {
  /** Stops the algorithm after the step in progress; the result is then `partial()`. */
  signal?: AbortSignal;
  onProgress?: (p: StepProgress<R>) => void;
}

export interface Driven<R> {
  result: R;
  /** True when `signal` stopped the algorithm before it finished. */
  interrupted: boolean;
}

/**
 * Runs a stepwise algorithm, giving the event loop a turn after every step (so signal handlers and
 * progress redraws run) and stopping early when `signal` is aborted.
 */
export async function drive<R>(steps: Stepwise<R>, options: DriveOptions<R> = {}): Promise<Driven<R>> {
  const { signal, onProgress } = options;
  // An abort before the first step still takes one step: a result needs at least one HVP.
  for (;;) {
    const r = steps.next();
    if (r.done) return { result: r.value, interrupted: false };
    onProgress?.(r.value);
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted) {
      const result = r.value.partial();
      steps.return(result);
      return { result, interrupted: true };
    }
  }
}

/**
 * Runs `steps` inside another stepwise algorithm: its progress is reported shifted by `offset` HVPs,
 * out of `total`, and its partial results mapped through `f`.
 */
export function* nested<A, B>(
  steps: Stepwise<A>,
  f: (a: A) => B,
  offset: number,
  total: number,
): Generator<StepProgress<B>, A, undefined> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    const p = r.value;
    yield { done: offset + p.done, total, partial: () => f(p.partial()) };
  }
}
