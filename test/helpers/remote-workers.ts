/**
 * `hessflow worker` child processes for tests, as a user starts them on another host: each serves one
 * run on a broker; `start` resolves once it says it is serving. Killed (SIGKILL) at teardown if still up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from './hessflow-cli.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface WorkerProcess {
  process: ChildProcess;
  /** The worker's id as it announced it. */
  id: string;
  /** Everything it wrote to stderr and stdout so far. */
  output(): string;
  /** Sends `signal` (default SIGKILL); resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

export interface WorkerProcessOptions {
  run: string;
  threads?: number;
  tokenFile?: string;
  env?: Record<string, string>;
  /** Prefix the command (e.g. `ip netns exec NS`). */
  wrap?: string[];
  /** How long to wait for "serving" (default 60 s: the tsx loader is slow on a loaded machine). */
  readyMs?: number;
}

/** Starts `hessflow worker --nats url --run …` and waits until it is serving. */
export async function startWorkerProcess(
  t: Teardown,
  nats: string,
  o: WorkerProcessOptions,
): Promise<WorkerProcess> {
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--nats', nats, '--run', o.run];
  args.push('--threads', String(o.threads ?? 1));
  if (o.tokenFile) args.push('--token-file', o.tokenFile);
  const [cmd, ...rest] = o.wrap ? [...o.wrap, process.execPath, ...args] : [process.execPath, ...args];
  const child = spawn(cmd, rest, {
    cwd: repoRoot,
    env: { ...process.env, FORCE_COLOR: '0', ...(o.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  t.teardown(() => kill());
  const id = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker not serving within ${o.readyMs ?? 60_000} ms:\n${out}`)),
      o.readyMs ?? 60_000,
    );
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /worker (\S+): serving run/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before serving:\n${out}`));
    });
  });
  return { process: child, id, output: () => out, kill, exited };
}
