/**
 * #21 item 8: taking over a stale lock is atomic. A rival that completes its own takeover between this
 * process reading the stale pid and replacing the lock (a daemon descheduled at the wrong moment) must
 * win, and this one must be refused; before, read–unlink–create deleted the rival's fresh lock and both
 * daemons ran on one directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { LOCK_FILE, acquireDirLock } from '../../src/daemon/dir-lock.js';
import { DaemonLockedError } from '../../src/daemon/errors.js';
import { scratchDir } from './fixtures/daemon.js';

const TAKEOVER_FILE = 'daemon.lock.takeover';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

/** A live process other than this one, killed at teardown. */
function livePid(t: { teardown(fn: () => void): void }): number {
  const p = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.teardown(() => void p.kill('SIGKILL'));
  return p.pid!;
}

t.test('a stale lock is taken over', async (t) => {
  const dir = await scratchDir(t);
  const stale = deadPid();
  writeFileSync(join(dir, LOCK_FILE), `${stale}\n`);
  const lock = acquireDirLock(dir);
  t.equal(lock.tookOverStalePid, stale);
  t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
  t.notOk(existsSync(join(dir, TAKEOVER_FILE)), 'no guard left behind');
  lock.release();
  t.notOk(existsSync(join(dir, LOCK_FILE)));
});

t.test('a rival that takes over first wins; this process is refused', async (t) => {
  const dir = await scratchDir(t);
  writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
  const rival = livePid(t);
  let interleaved = false;
  const attempt = (): unknown =>
    acquireDirLock(dir, {
      beforeTakeover: () => {
        if (interleaved) return;
        interleaved = true;
        // the rival saw the same stale pid and completed its takeover while this process was descheduled
        writeFileSync(join(dir, LOCK_FILE), `${rival}\n`);
      },
    });
  t.throws(attempt, DaemonLockedError, 'refused');
  t.ok(interleaved, 'the rival interleaved');
  t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(rival), "the rival's lock stands");
  t.notOk(existsSync(join(dir, TAKEOVER_FILE)), 'no guard left behind');
});

t.test('a takeover in progress elsewhere (the guard held) is waited for, then refused', async (t) => {
  const dir = await scratchDir(t);
  writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
  const rival = livePid(t);
  writeFileSync(join(dir, TAKEOVER_FILE), `${rival}\n`);
  t.throws(
    () => acquireDirLock(dir, { guardWaitMs: 100 }),
    new RegExp(`held by pid ${rival}, which is taking it over`),
  );
  t.equal(readFileSync(join(dir, TAKEOVER_FILE), 'utf8').trim(), String(rival), 'the guard is not removed');
});
