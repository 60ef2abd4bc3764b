/**
 * Holds each item while `paused$` is true. A step already past the gate finishes; the next one waits, so
 * pausing never leaves parameters half-updated.
 */
import { type Observable, type MonoTypeOperatorFunction, concatMap, filter, map, take } from 'rxjs';

export function pausable<T>(paused$: Observable<boolean>): MonoTypeOperatorFunction<T> {
  return concatMap((item: T) =>
    paused$.pipe(
      filter((p) => !p),
      take(1),
      map(() => item),
    ),
  );
}
