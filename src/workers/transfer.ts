/**
 * Wraps a worker's response so piscina transfers the listed buffers instead of copying them (piscina's
 * `move` only knows single views; a response object carries its arrays beside plain fields).
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';

export function withTransfer<T extends object>(value: T, buffers: ArrayBufferLike[]): T {
  // Zero-length arrays may share an engine-owned buffer; transferring nothing is always safe.
  const list = buffers.filter((b) => b.byteLength > 0 && !(b instanceof SharedArrayBuffer));
  return move({ [transferableSymbol]: list, [valueSymbol]: value } as never) as unknown as T;
}
