/**
 * The daemon's command line has one parser (commander, src/cli/commands/daemon.ts) for both entries,
 * `hessflow daemon` and the standalone src/daemon/main.ts, and the daemon's own exit code is the
 * process's: 0 help or a clean stop, 2 usage or config, 3 directory locked (#20 item 6).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { daemonConfig, scratchDir, writeConfig } from './fixtures/daemon.js';

const ENTRIES = {
  standalone: ['src/daemon/main.ts'],
  cli: ['src/cli/main.ts', 'daemon'],
} as const;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an entry; `onListening` (if given) is called once the daemon logs that it listens. */
function run(
  entry: readonly string[],
  args: string[],
  onListening?: (kill: () => void) => void,
): Promise<Run> {
  const p = spawn(process.execPath, ['--import', 'tsx', ...entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (onListening && stdout.includes('"event":"listening"')) {
      const f = onListening;
      onListening = undefined;
      f(() => p.kill('SIGTERM'));
    }
  });
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => p.on('exit', (code) => resolve({ code, stdout, stderr })));
}

for (const [name, entry] of Object.entries(ENTRIES)) {
  t.test(`${name}: --help, usage and config errors`, async (t) => {
    const help = await run(entry, ['--help']);
    t.equal(help.code, 0, '--help exits 0');
    t.match(help.stdout, /-c, --config <path>/);
    const none = await run(entry, []);
    t.equal(none.code, 2, 'no --config: usage error');
    t.match(none.stderr, /required option '-c, --config <path>' not specified/);
    const bad = await run(entry, ['--config', '/nonexistent/daemon.json']);
    t.equal(bad.code, 2, 'unreadable config: 2, from the daemon');
    t.match(bad.stderr, /cannot read \/nonexistent\/daemon\.json/);
  });

  t.test(`${name}: a locked directory exits 3; a clean stop exits 0`, async (t) => {
    const dir = await scratchDir(t);
    const config = await writeConfig(dir, daemonConfig(dir));
    await mkdir(join(dir, 'ckpt'), { recursive: true });
    // Held by a live process: this one.
    await writeFile(join(dir, 'ckpt', 'daemon.lock'), String(process.pid));
    const locked = await run(entry, ['--config', config]);
    t.equal(locked.code, 3, 'locked');
    const dir2 = await scratchDir(t);
    const ok = await run(entry, ['-c', await writeConfig(dir2, daemonConfig(dir2))], (kill) => kill());
    t.equal(ok.code, 0, 'SIGTERM after it listens: a clean stop');
    t.match(ok.stdout, /"event":"stopped"/);
  });
}
