/**
 * Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it over the
 * target, then fsync the directory. Readers see either the old file or the complete new one, never a
 * torn write; after the directory fsync the rename itself survives a power loss (POSIX rename is atomic
 * but only durable once the directory entry is on disk).
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o666, before umask). */
  mode?: number;
  /** fsync the file and the directory (default true). Off only for tests and scratch data. */
  fsync?: boolean;
}

/** The temporary name: hidden, in the same directory (rename must not cross filesystems), unique per writer. */
function tempPathFor(path: string): string {
  const abs = resolve(path);
  return join(
    dirname(abs),
    `.${basename(abs)}.${process.pid}.${threadId}.${randomBytes(6).toString('hex')}.tmp`,
  );
}

/** Directory fsync is unsupported on some platforms (Windows: EPERM/EISDIR); there it is skipped. */
function ignorableDirSyncError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL' || code === 'EBADF' || code === 'EACCES';
}

async function fsyncDirectory(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!ignorableDirSyncError(e)) throw e;
  } finally {
    await fh?.close();
  }
}

/** Atomically replaces (or creates) `path` with `data`. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const durable = opts.fsync ?? true;
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o666);
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (durable) await fsyncDirectory(dirname(resolve(path)));
}

/** Synchronous `writeFileAtomic`, for exit handlers and CLI code that cannot await. */
export function writeFileAtomicSync(
  path: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions = {},
): void {
  const durable = opts.fsync ?? true;
  const tmp = tempPathFor(path);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    const fd = openSync(tmp, 'wx', opts.mode ?? 0o666);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file may not exist (open failed); the original error is the one to report
    }
    throw e;
  }
  if (durable) {
    let fd: number | undefined;
    try {
      fd = openSync(dirname(resolve(path)), 'r');
      fsyncSync(fd);
    } catch (e) {
      if (!ignorableDirSyncError(e)) throw e;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
