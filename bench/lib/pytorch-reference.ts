/**
 * PyTorch's time for the same step, measured on this machine in the same run, interleaved round by round
 * with ours, when a Python with torch is installed (Debian: `apt install python3-torch
 * libopenblas0-pthread`; without OpenBLAS torch falls back to the reference BLAS, ~15× slower at
 * matmul, and the sgemm figure says so). On these shared VMs the speed drifts by tens of percent within
 * minutes, so rounds taken minutes apart cannot be compared; interleaved ones can.
 *
 * The script (bench/reference/<name>.py --serve CMD RES; harness.py) runs as a separate process answering "run N"
 * on one named pipe with one JSON line on another, so a round is a synchronous call that fits the
 * synchronous `interleave`. Each round's time is the script's own clock around its N steps.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
  constants,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { median } from './timing.js';

/** The Python to use: $HESSFLOW_PYTHON, else the system's /usr/bin/python3, else python3 on PATH. */
export function pythonCommand(): string {
  return process.env.HESSFLOW_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

export interface PytorchReference {
  readonly torch: string;
  /** Float32 matmul GFLOP/s at n = 512 in that process: which BLAS torch found. */
  readonly sgemmGflops: number;
  /** Runs `steps` steps; wall and process CPU milliseconds per step by the script's clocks. */
  round(steps: number): { ms: number; cpuMs: number };
  close(): void;
}

const sleep = (ms: number): void => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) as never;

/**
 * Starts bench/reference/<script> in serve mode, or says why it cannot run (no Python, no torch),
 * never a number it did not measure.
 */
export function startPytorchReference(
  script: string,
  timeoutMs = 120_000,
): { reference: PytorchReference } | { missing: string } {
  const python = pythonCommand();
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' };
  let torch: string;
  try {
    torch = execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') return { missing: `no ${python}` };
    return {
      missing: /No module named 'torch'/.test(err.stderr ?? '')
        ? `torch is not installed for ${python}`
        : String(e),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'hessflow-pytorch-'));
  const cmdPath = join(dir, 'cmd');
  const resPath = join(dir, 'res');
  execFileSync('mkfifo', [cmdPath, resPath]);
  const child = spawn(python, [join(repoRoot(), 'bench', 'reference', script), '--serve', cmdPath, resPath], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let cmd = -1;
  let res = -1;
  const cleanup = (): void => {
    if (cmd >= 0) closeSync(cmd);
    if (res >= 0) closeSync(res);
    cmd = res = -1;
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  // Non-blocking opens, so a script that dies before opening its pipes cannot hang the benchmark:
  // the reading end first (it may open before any writer), then the command end once the script reads.
  res = openSync(resPath, constants.O_RDONLY | constants.O_NONBLOCK);
  const deadline = Date.now() + timeoutMs;
  while (cmd < 0) {
    try {
      cmd = openSync(cmdPath, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENXIO' || Date.now() > deadline) {
        cleanup();
        throw new Error(`${script}: the PyTorch process did not open its command pipe (${String(e)})`);
      }
      sleep(20);
    }
  }
  let pending = '';
  const ask = (line: string): Record<string, unknown> => {
    writeSync(cmd, line + '\n');
    const buf = Buffer.alloc(4096);
    const until = Date.now() + timeoutMs;
    while (!pending.includes('\n')) {
      let n = 0;
      try {
        n = readSync(res, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EAGAIN') throw e;
      }
      if (n > 0) pending += buf.toString('utf8', 0, n);
      else if (Date.now() > until)
        throw new Error(`${script}: no answer to "${line}" within ${timeoutMs} ms`);
      else sleep(1);
    }
    const at = pending.indexOf('\n');
    const reply = JSON.parse(pending.slice(0, at)) as Record<string, unknown>;
    pending = pending.slice(at + 1);
    if (typeof reply.error === 'string') throw new Error(`${script}: ${reply.error}`);
    return reply;
  };
  try {
    const sgemmGflops = Number(ask('sgemm').sgemmGflops);
    return {
      reference: {
        torch,
        sgemmGflops,
        round(steps) {
          const reply = ask(`run ${steps}`);
          const ms = Number(reply.ms);
          const cpuMs = Number(reply.cpuMs);
          if (!(ms > 0 && Number.isFinite(ms))) throw new Error(`${script}: a round took ${ms} ms per step`);
          if (!(cpuMs > 0 && Number.isFinite(cpuMs)))
            throw new Error(`${script}: a round took ${cpuMs} CPU ms per step`);
          return { ms, cpuMs };
        },
        close: cleanup,
      },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** PyTorch's median wall and CPU ms per step over the measured rounds, or why it was not run. */
export type PytorchResult =
  | {
      ms: number;
      cpuMs: number;
      rounds: number;
      /** Wall and CPU ms per step of each measured round, in order (to pair with rounds timed beside them). */
      perRound: { ms: number; cpuMs: number }[];
      torch: string;
      sgemmGflops: number;
    }
  | { missing: string };

/**
 * A stepper for `interleave` that runs `steps` PyTorch steps per call, and `finish(warmup)`, which
 * closes the process and gives the median of the rounds after the warm-up ones. `stepper` is null
 * when PyTorch cannot run here.
 */
export function pytorchRounds(
  script: string,
  steps: number,
): { stepper: (() => void) | null; finish: (warmup: number) => PytorchResult } {
  const started = startPytorchReference(script);
  if ('missing' in started) return { stepper: null, finish: () => started };
  const { reference } = started;
  const rounds: { ms: number; cpuMs: number }[] = [];
  return {
    stepper: () => void rounds.push(reference.round(steps)),
    finish(warmup) {
      reference.close();
      const measured = rounds.slice(warmup);
      if (measured.length === 0) return { missing: 'no PyTorch round was measured' };
      return {
        ms: median(measured.map((r) => r.ms)),
        cpuMs: median(measured.map((r) => r.cpuMs)),
        rounds: measured.length,
        perRound: measured,
        torch: reference.torch,
        sgemmGflops: reference.sgemmGflops,
      };
    },
  };
}
