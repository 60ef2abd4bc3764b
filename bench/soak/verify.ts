/**
 * The soak's correctness check: no acknowledged batch is lost. Once the producers have stopped and the
 * queue has drained, every acknowledged sequence number must have been applied (the daemon applies them
 * one per step in sequence order from seq 1, so "applied" is seq ≤ step), none acknowledged twice, and
 * no step may have failed (a failed step drops its batch). Then a graceful SIGTERM must exit 0 and leave
 * a final checkpoint at that step with an empty queue and the same sequence counter.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import type { DaemonProcess } from './daemon-process.js';
import { daemonStatus, scrapeMetrics } from './sampler.js';

export interface Verification {
  acked: number;
  /** Sequence numbers handed out (nextSeq − 1). */
  issued: number;
  applied: number;
  lost: number;
  duplicates: number;
  /** Issued but never acknowledged to a producer (not a loss; should be 0 here). */
  unacked: number;
  stepErrors: number;
  drainSeconds: number;
  exitCode: number | null;
  finalCheckpointStep: number;
  finalCheckpointQueue: number;
  /** The /metrics scrape taken after draining. */
  metrics: Map<string, number>;
  /** Empty when everything holds. */
  problems: string[];
}

async function waitForDrain(url: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const s = await daemonStatus(url);
    if (s.queueDepth === 0) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`soak: the queue did not drain within ${timeoutMs} ms (${JSON.stringify(s)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function verifyNoLoss(
  d: DaemonProcess,
  acked: readonly number[],
  checkpointDir: string,
): Promise<Verification> {
  const problems: string[] = [];
  const drainSeconds = await waitForDrain(d.url, 300_000);
  const s = await daemonStatus(d.url);
  const metrics = await scrapeMetrics(d.url);
  const applied = s.step as number;
  const issued = (s.nextSeq as number) - 1;
  const seen = new Set<number>();
  let duplicates = 0;
  let lost = 0;
  for (const seq of acked) {
    if (seen.has(seq)) duplicates++;
    seen.add(seq);
    if (seq < 1 || seq > applied) lost++;
  }
  const stepErrors = metrics.get('hessflow_rejected_inputs_total{reason="step_error"}') ?? 0;
  const stepsTotal = metrics.get('hessflow_steps_total') ?? NaN;
  if (lost > 0) problems.push(`${lost} acknowledged batches were not applied (step ${applied})`);
  if (duplicates > 0) problems.push(`${duplicates} sequence numbers were acknowledged twice`);
  if (stepErrors > 0) problems.push(`${stepErrors} steps failed and dropped their acknowledged batch`);
  if (applied !== issued)
    problems.push(`step ${applied} after draining, but ${issued} sequence numbers were issued`);
  if (stepsTotal !== applied)
    problems.push(`hessflow_steps_total ${stepsTotal} differs from the status step ${applied}`);

  const exitCode = await d.stop();
  if (exitCode !== 0) problems.push(`graceful stop exited ${exitCode}; stderr: ${d.stderr()}`);
  const stopped = d.lines.find((l) => l.event === 'stopped');
  if (!stopped) problems.push('no "stopped" log line after SIGTERM');
  else if (stopped.step !== applied)
    problems.push(`final checkpoint logged at step ${String(stopped.step)}, expected ${applied}`);
  const files = (await readdir(checkpointDir)).filter((f) => f.endsWith('.hfckpt')).sort();
  if (files.length === 0) throw new Error(`soak: no checkpoint in ${checkpointDir}`);
  const newest = join(checkpointDir, files[files.length - 1]);
  const ck = decodeCheckpoint(await readFile(newest), { source: newest });
  const meta = ck.meta as { queue?: unknown[]; nextSeq?: number };
  const finalCheckpointQueue = meta.queue?.length ?? NaN;
  if (ck.step !== applied) problems.push(`final checkpoint at step ${ck.step}, expected ${applied}`);
  if (seen.size !== issued)
    problems.push(
      `${issued} sequence numbers were issued but ${seen.size} acknowledgements reached a producer`,
    );
  if (finalCheckpointQueue !== 0)
    problems.push(`final checkpoint holds ${finalCheckpointQueue} queued batches after draining`);
  if (meta.nextSeq !== issued + 1)
    problems.push(`final checkpoint nextSeq ${meta.nextSeq}, expected ${issued + 1}`);
  return {
    acked: seen.size,
    issued,
    applied,
    lost,
    duplicates,
    unacked: Math.max(0, issued - seen.size),
    stepErrors,
    drainSeconds,
    exitCode,
    finalCheckpointStep: ck.step,
    finalCheckpointQueue,
    metrics,
    problems,
  };
}
