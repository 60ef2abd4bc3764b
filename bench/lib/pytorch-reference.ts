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
 *
 * Integrity (issue #23): the process starts with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (either can
 * put OpenBLAS on a slow generic kernel) and reports its BLAS library and kernel; its sgemm GFLOP/s (median
 * of 21 timings) is measured before the rounds and after them, and the load average at both ends. The
 * row is comparable only as `comparability` (comparability.ts) says.
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
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { type Comparability, comparability, comparableCell } from './comparability.js';
import { median } from './timing.js';
import type { Row } from './types.js';

/** The Python to use: $HESSFLOW_PYTHON, else the system's /usr/bin/python3, else python3 on PATH. */
export function pythonCommand(): string {
  return process.env.HESSFLOW_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** Which BLAS the reference process runs on, as it reports (harness.py `config`). */
export interface BlasReport {
  library: string | null;
  /** OpenBLAS's core name (the kernel it chose), e.g. "Haswell"; "Prescott" is the slow generic one. */
  kernel: string | null;
  config: string | null;
  threads: number | null;
  /** threadpoolctl, or OpenBLAS asked through ctypes. */
  source: string | null;
}

/** Environment variables that must not reach the reference process (they can slow OpenBLAS down). */
export const UNSET_FOR_REFERENCE = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

export interface PytorchReference {
  readonly torch: string;
  /** Median float32 matmul GFLOP/s at n = 512 in that process, before the rounds: which BLAS torch found. */
  readonly sgemmGflops: number;
  readonly blas: BlasReport;
  /** What this run removed from the reference's environment ("NAME=value"), if anything. */
  readonly unsetEnv: string[];
  /** The median sgemm GFLOP/s now (the bench asks again after the rounds). */
  sgemm(): number;
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
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' };
  const unsetEnv: string[] = [];
  for (const name of UNSET_FOR_REFERENCE) {
    if (env[name] !== undefined) unsetEnv.push(`${name}=${env[name]}`);
    delete env[name];
  }
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
    const config = ask('config') as { blas?: Partial<BlasReport>; env?: Record<string, string> };
    const leaked = UNSET_FOR_REFERENCE.filter((name) => config.env?.[name] !== undefined);
    if (leaked.length > 0)
      throw new Error(`${script}: ${leaked.join(', ')} still set in the reference process`);
    const blas: BlasReport = {
      library: config.blas?.library ?? null,
      kernel: config.blas?.kernel ?? null,
      config: config.blas?.config ?? null,
      threads: config.blas?.threads ?? null,
      source: config.blas?.source ?? null,
    };
    const sgemm = (): number => Number(ask('sgemm').sgemmGflops);
    const sgemmGflops = sgemm();
    return {
      reference: {
        torch,
        sgemmGflops,
        blas,
        unsetEnv,
        sgemm,
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
      /** Median sgemm GFLOP/s of the reference process before its rounds, and after them. */
      sgemmGflops: number;
      sgemmEndGflops: number;
      /** 1-minute load average when the reference started, and when it finished. */
      loadStart: number;
      loadEnd: number;
      blas: BlasReport;
      unsetEnv: string[];
      /** The rule of comparability.ts on the lower sgemm and the start load. */
      check: Comparability;
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
  const loadStart = loadavg()[0];
  const started = startPytorchReference(script);
  if ('missing' in started) return { stepper: null, finish: () => started };
  const { reference } = started;
  const rounds: { ms: number; cpuMs: number }[] = [];
  return {
    stepper: () => void rounds.push(reference.round(steps)),
    finish(warmup) {
      let sgemmEndGflops: number;
      try {
        sgemmEndGflops = reference.sgemm();
      } finally {
        reference.close();
      }
      const loadEnd = loadavg()[0];
      const measured = rounds.slice(warmup);
      if (measured.length === 0) return { missing: 'no PyTorch round was measured' };
      const sgemmGflops = reference.sgemmGflops;
      return {
        ms: median(measured.map((r) => r.ms)),
        cpuMs: median(measured.map((r) => r.cpuMs)),
        rounds: measured.length,
        perRound: measured,
        torch: reference.torch,
        sgemmGflops,
        sgemmEndGflops,
        loadStart,
        loadEnd,
        blas: reference.blas,
        unsetEnv: reference.unsetEnv,
        check: comparability({ sgemmGflops: Math.min(sgemmGflops, sgemmEndGflops), loadStart }),
      };
    },
  };
}

type Measured = Exclude<PytorchResult, { missing: string }>;

/** The columns a section with a PyTorch reference row adds (empty cells on its other rows). */
export const REFERENCE_COLUMNS = [
  { key: 'sgemmGflops', label: 'ref. sgemm GFLOP/s', digits: 0 },
  { key: 'loadStart', label: 'load at start', digits: 2 },
  { key: 'loadEnd', label: 'load at end', digits: 2 },
  { key: 'comparable', label: 'reference comparable' },
] as const;

/** The reference row's integrity cells: the lower sgemm median, the load average at both ends, the verdict. */
export function referenceCells(torch: Measured): Row {
  return {
    sgemmGflops: Math.min(torch.sgemmGflops, torch.sgemmEndGflops),
    loadStart: torch.loadStart,
    loadEnd: torch.loadEnd,
    comparable: comparableCell(torch.check),
  };
}

/** A note with what the reference process reported: its BLAS, kernel, sgemm and the environment it got. */
export function referenceNote(torch: Measured): string {
  const b = torch.blas;
  const blas = b.library
    ? `BLAS ${b.library}${b.kernel ? `, kernel ${b.kernel}` : ', kernel not reported'}${b.config ? ` (${b.config})` : ''}${b.threads !== null ? `, ${b.threads} thread(s)` : ''}, as ${b.source ?? 'reported'}`
    : 'BLAS library not identified';
  const unset = torch.unsetEnv.length
    ? `removed from its environment: ${torch.unsetEnv.join(', ')}`
    : `${UNSET_FOR_REFERENCE.join(' and ')} were not set`;
  return `Reference checks: PyTorch ${torch.torch}, ${blas}; ${unset}; sgemm (n = 512, median of 21) ${torch.sgemmGflops.toFixed(0)} GFLOP/s before the rounds, ${torch.sgemmEndGflops.toFixed(0)} after; load average ${torch.loadStart.toFixed(2)} at start, ${torch.loadEnd.toFixed(2)} at end. ${torch.check.comparable ? 'Comparable (sgemm ≥ 45 GFLOP/s, start load ≤ 0.5).' : `NOT comparable (${torch.check.reasons.join('; ')}): no ratio to PyTorch is quoted from this run.`}`;
}
