/**
 * The daemon under test, as a real child process: compiled (`dist/src/daemon/main.js`) when the soak runs
 * compiled, else from source through tsx. Reads its JSON log lines (the `listening` line gives the ports),
 * samples its resident set size from /proc, and stops it with SIGTERM (the graceful path whose final
 * checkpoint the soak verifies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../lib/paths.js';

export interface DaemonProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly socketPort: number;
  /** Log lines parsed so far (pino JSON). */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stderr(): string;
  /** Resident set size in bytes, from /proc/<pid>/status (VmRSS). */
  rssBytes(): number;
  /** SIGTERM; resolves with the exit code once it has exited (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

function entryPoint(): string[] {
  const root = repoRoot();
  if (fileURLToPath(import.meta.url).endsWith('.js')) {
    const compiled = join(root, 'dist', 'src', 'daemon', 'main.js');
    if (!existsSync(compiled)) throw new Error(`soak: ${compiled} is missing; run npm run build first`);
    return [compiled];
  }
  return ['--import', 'tsx', join(root, 'src', 'daemon', 'main.ts')];
}

export function readRss(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (e) {
    throw new Error(
      `soak: cannot read /proc/${pid}/status (RSS sampling needs Linux): ${(e as Error).message}`,
    );
  }
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  if (!m) throw new Error(`soak: no VmRSS line in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export function startDaemonProcess(configPath: string, timeoutMs = 60_000): Promise<DaemonProcess> {
  const proc = spawn(process.execPath, [...entryPoint(), '--config', configPath], {
    cwd: repoRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let err = '';
  let partial = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  // A bench that dies must not leave a daemon behind.
  const killOnExit = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  return new Promise<DaemonProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`soak: the daemon did not listen within ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`soak: the daemon exited (${code}) before listening; stderr: ${err}`));
    });
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
      partial += s;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const p of parts) {
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(p) as Record<string, unknown>;
        } catch {
          line = { raw: p };
        }
        // Rejections (one warn line per 429) are counted from /metrics; keeping them would grow this
        // process's memory for nothing.
        if (line.level !== 40) lines.push(line);
        if (line.event === 'listening') {
          clearTimeout(timer);
          resolve({
            proc,
            pid: proc.pid!,
            url: `http://127.0.0.1:${line.httpPort as number}`,
            socketPort: line.socketPort as number,
            lines,
            exited,
            stderr: () => err,
            rssBytes: () => readRss(proc.pid!),
            stop: async (graceMs = 60_000) => {
              proc.kill('SIGTERM');
              const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
              const code = await exited;
              clearTimeout(t);
              return code;
            },
          });
        }
      }
    });
  });
}
