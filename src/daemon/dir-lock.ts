/**
 * An exclusive lock on a checkpoint directory: `daemon.lock` created with O_EXCL holding the owner's pid.
 * A lock whose pid is no longer alive (a daemon killed with -9) is stale and is taken over; a live one
 * refuses the second daemon with a DaemonLockedError naming the pid and the file.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonLockedError } from './errors.js';

export const LOCK_FILE = 'daemon.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DirLock {
  readonly path: string;
  /** Whether a stale lock of a dead process was replaced. */
  readonly tookOverStalePid: number | null;
  release(): void;
}

export function acquireDirLock(dir: string): DirLock {
  const path = join(dir, LOCK_FILE);
  let stale: number | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue; // removed meanwhile: retry
      }
      const pid = Number.parseInt(text.trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DaemonLockedError(
          path,
          pid,
          `checkpoint directory ${dir} is in use by another hessflow daemon (pid ${pid}); ` +
            `stop it first, or remove ${path} if that process is not a hessflow daemon`,
        );
      }
      if (attempt > 0) break;
      stale = Number.isInteger(pid) ? pid : -1;
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it: retry anyway
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
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
  }
  throw new DaemonLockedError(path, null, `could not take the lock ${path} (another daemon is starting?)`);
}
