/** A description of the machine a benchmark ran on. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { describeKernels } from '../../src/kernels/index.js';
import { wasmMatmul } from '../../src/kernels/wasm/index.js';
import type { Machine } from './types.js';

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: fall back to what Node reports.
  }
  return os.cpus()[0]?.model?.trim() || 'unknown';
}

export function describeMachine(loadAtStart: number): Machine {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    load: [loadAtStart, os.loadavg()[0]],
    wasmMatmul: !wasmMatmul
      ? 'none (no WebAssembly SIMD)'
      : wasmMatmul.fused
        ? 'fused multiply-add (relaxed SIMD)'
        : 'multiply, then add',
    kernels: describeKernels(),
  };
}

export function loadAverage(): number {
  return os.loadavg()[0];
}
