/**
 * An exclusive lock on a checkpoint directory: `daemon.lock` created with O_EXCL holding the owner's pid.
 * A lock whose pid is no longer alive (a daemon killed with -9) is stale and is taken over; a live one
 * refuses the second daemon with a DaemonLockedError naming the pid and the file.
 *
 * The takeover is atomic. Deleting the stale file and creating a new one (read, unlink, create) let two
 * daemons that both saw the stale pid both end up "owning" the directory when one was descheduled between
 * its read and its unlink (it unlinked the other's fresh lock). Instead a takeover holds a second O_EXCL
 * file, `daemon.lock.takeover`, re-reads the lock under it, and only if it still holds the stale content
 * replaces it with rename(2) (atomic: the lock file always exists and always names one owner). Any other
 * process that saw the same stale pid finds either the guard (it waits, then starts over) or, after, the
 * new live owner (refused). A guard left by a process that died during the takeover (a window of
 * microseconds) is not removed automatically: the error names it.
 */
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonLockedError } from './errors.js';

export const LOCK_FILE = 'daemon.lock';
export const TAKEOVER_FILE = 'daemon.lock.takeover';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function pidOf(text: string): number {
  return Number.parseInt(text.trim(), 10);
}

function liveOther(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface DirLock {
  readonly path: string;
  /** Whether a stale lock of a dead process was replaced. */
  readonly tookOverStalePid: number | null;
  release(): void;
}

export interface DirLockOptions {
  /** Tests only: runs after the stale pid was read, before the takeover (where a rival may interleave). */
  beforeTakeover?: () => void;
  /** How long to wait for another process's takeover in progress (default 2000 ms). */
  guardWaitMs?: number;
}

export function acquireDirLock(dir: string, opts: DirLockOptions = {}): DirLock {
  const path = join(dir, LOCK_FILE);
  const guard = join(dir, TAKEOVER_FILE);
  const refuse = (pid: number): never => {
    throw new DaemonLockedError(
      path,
      pid,
      `checkpoint directory ${dir} is in use by another hessflow daemon (pid ${pid}); ` +
        `stop it first, or remove ${path} if that process is not a hessflow daemon`,
    );
  };
  const owned = (stale: number | null): DirLock => {
    let released = false;
    return {
      path,
      tookOverStalePid: stale,
      release() {
        if (released) return;
        released = true;
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      },
    };
  };
  const deadline = Date.now() + (opts.guardWaitMs ?? 2000);
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return owned(null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const seen = readOrNull(path);
    if (seen === null) continue; // released meanwhile: try to create it again
    const pid = pidOf(seen);
    if (liveOther(pid)) refuse(pid);
    opts.beforeTakeover?.();
    // Stale: take it over under the guard.
    let gfd: number;
    try {
      gfd = openSync(guard, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = pidOf(readOrNull(guard) ?? '');
      if (Date.now() < deadline) {
        sleepSync(20);
        continue; // another process is taking over: see who owns the lock once it is done
      }
      throw new DaemonLockedError(
        path,
        Number.isInteger(holder) ? holder : null,
        `could not take over the stale lock ${path}: ${guard} is held by ` +
          (liveOther(holder)
            ? `pid ${holder}, which is taking it over`
            : `pid ${String(holder)}, which is gone (it died while taking over); remove ${guard} and start again`),
      );
    }
    try {
      writeSync(gfd, `${process.pid}\n`);
      closeSync(gfd);
      const now = readOrNull(path);
      if (now !== seen) {
        // Changed since it was read: another process took it over (or released it). Start over.
        continue;
      }
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
      renameSync(tmp, path);
      return owned(Number.isInteger(pid) ? pid : -1);
    } finally {
      try {
        unlinkSync(guard);
      } catch {
        // nothing to clean up
      }
    }
  }
}
