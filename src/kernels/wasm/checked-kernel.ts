/**
 * How the optimizer kernels are chosen: built once on first use and kept only if the engine can run
 * them and they pass their exact self-check against the JavaScript loops; otherwise the loops run.
 */

/** A getter that builds and checks the kernel on its first call and returns it, or null, ever after. */
export function checkedOnce<K>(
  supported: () => boolean,
  build: () => K,
  check: (k: K) => boolean,
): () => K | null {
  let choice: K | null | undefined;
  return () => {
    if (choice === undefined) {
      choice = null;
      try {
        if (supported()) {
          const k = build();
          if (check(k)) choice = k;
        }
      } catch {
        choice = null;
      }
    }
    return choice;
  };
}

/** True when `a` and `b` share memory without being the same view (element order would then matter). */
export function overlapsPartly(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer) return false;
  if (a.byteOffset === b.byteOffset && a.length === b.length) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * The kernel for `n` elements over `views`, or null (run the loop): below `min` elements the copies and
 * the call cost more than the loop saves, and partly overlapping views need the loop's element order.
 */
export function worthwhileKernel<K>(
  kernel: () => K | null,
  min: number,
  n: number,
  views: readonly Float32Array[],
): K | null {
  if (n < min) return null;
  for (let i = 0; i < views.length; i++)
    for (let j = i + 1; j < views.length; j++) if (overlapsPartly(views[i], views[j])) return null;
  return kernel();
}
