/**
 * Exactly-once training from JetStream across crashes, against a real nats-server: a trainer process
 * killed with SIGKILL at ≥ 10 random moments (some inside a checkpoint) while a producer publishes
 * (retrying some publishes with the same id): after the restarts every published batch was applied
 * exactly once, and θ equals an uninterrupted run over the same stream bit for bit. The 3-node cluster
 * failover is jetstream-cluster.test.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import t from 'tap';
import { readConfig } from '../../src/cli/config.js';
import { batchMessageId, defaultSubject, encodeBatch, publishWithRetry } from '../../src/cli/publish.js';
import { STREAM_CHECKPOINT, runStreamTraining } from '../../src/cli/run-stream-training.js';
import { setupData } from '../../src/cli/run-setup.js';
import { loadCheckpoint } from '../../src/io/checkpoint-file.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import { CONFIG, bits, createStream, scratch } from './fixtures/jetstream.js';
import { spawnTrainer } from './fixtures/trainer-process.js';

const skip = natsSkipReason();
// Ten trainer processes and an uninterrupted run: longer than the suite's 300 s on a loaded machine.
t.setTimeout(900_000);

/** Deterministic pseudo-random numbers (mulberry32), so a failing schedule of kills can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test(
  'kill -9 of the trainer at ≥ 10 random moments while producing: each batch applied exactly once, θ bit for bit',
  { skip, timeout: 900_000 },
  async (t) => {
    const steps = 240;
    const seed = Number(process.env.HF_KILL_SEED ?? Date.now() % 100_000);
    t.comment(`kill schedule seed ${seed} (HF_KILL_SEED=${seed} replays it)`);
    const random = rng(seed);
    const srv = await startNatsServer(t);
    const dir = await scratch(t, 'hessflow-nats-kill-');
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify({ ...CONFIG, steps }));
    const config = readConfig(configPath);
    const stream = 'TRAIN';
    const subject = defaultSubject(stream);
    const nc = await connect({ servers: srv.url });
    t.teardown(() => nc.close());
    await createStream(await jetstreamManager(nc), stream, [subject]);
    const js = jetstream(nc);

    // The producer: paced, and every 7th publish retried with the same id (a lost ack).
    const data = setupData(config);
    let produced = 0;
    let duplicates = 0;
    const producer = (async () => {
      for (let k = 0; k < steps; k++) {
        const msg = encodeBatch(data.batchAt(k));
        const id = batchMessageId(config, k);
        await publishWithRetry(js, subject, msg, id);
        if (k % 7 === 3 && (await publishWithRetry(js, subject, msg, id)).duplicate) duplicates++;
        produced++;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const runDir = join(dir, 'run');
    await mkdir(runDir);
    const args = {
      config: configPath,
      dir: runDir,
      servers: [srv.url],
      stream,
      consumer: 'trainer',
      every: 6,
      holdMs: 150,
      ackWaitMs: 2000,
    };
    // The sequence each step was applied from, as last applied (a step re-done after a crash overwrites).
    const appliedSeq = new Map<number, number>();
    const resumes: { step: number; lastSeq: number }[] = [];
    let kills = 0;
    let killsInCheckpoint = 0;
    while (kills < 10) {
      const p = spawnTrainer(t, args);
      const start = await p.waitFor((e) => e.event === 'start');
      if (!start) {
        t.fail(`trainer did not start:\n${p.stderr()}`);
        return;
      }
      resumes.push({ step: start.step!, lastSeq: start.lastSeq! });
      let inCheckpoint = false;
      // Kill after a random number of new steps, so the kills spread over the run, not its start-ups.
      const target = start.step! + 1 + Math.floor(random() * 30);
      if (kills % 3 === 1) {
        // Inside a checkpoint: after θ is captured, before the file is replaced.
        const c = await p.waitFor((e) => e.event === 'ckpt-start' && e.step! >= target, 120_000);
        if (c) {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 120)));
          const idx = p.events.indexOf(c);
          inCheckpoint = !p.events.slice(idx).some((e) => e.event === 'ckpt' && e.step === c.step);
        }
      } else {
        // Anywhere (sometimes during start-up, before the first step).
        if (random() < 0.9) await p.waitFor((e) => e.event === 'step' && e.step! >= target, 120_000);
        await new Promise((r) => setTimeout(r, Math.floor(random() * 40)));
      }
      if (p.events.some((e) => e.event === 'done')) {
        t.fail(`the run finished after only ${kills} kills; make it longer`);
        break;
      }
      await p.kill9();
      kills++;
      if (inCheckpoint) killsInCheckpoint++;
      for (const e of p.events) if (e.event === 'step') appliedSeq.set(e.step!, e.seq!);
    }
    // The last run goes to the end.
    const last = spawnTrainer(t, args);
    const done = await last.waitFor((e) => e.event === 'done', 600_000);
    await producer;
    t.ok(done, `the final run completes${done ? '' : `:\n${last.stderr()}`}`);
    for (const e of last.events) if (e.event === 'step') appliedSeq.set(e.step!, e.seq!);
    const lastStart = last.events.find((e) => e.event === 'start')!;
    resumes.push({ step: lastStart.step!, lastSeq: lastStart.lastSeq! });

    t.ok(kills >= 10, `${kills} kills`);
    t.ok(killsInCheckpoint >= 2, `${killsInCheckpoint} of them inside a checkpoint`);
    t.ok(
      resumes.some((r) => r.step > 0),
      `restarts resumed from checkpoints (steps ${resumes.map((r) => r.step).join(', ')})`,
    );
    t.ok(
      resumes.every((r) => r.lastSeq === r.step),
      'each checkpoint’s last applied sequence matches its step (one message per batch)',
    );
    t.equal(produced, steps);
    t.ok(duplicates > 0, `${duplicates} retried publishes flagged duplicate`);
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    t.equal(info.state.messages, steps, 'the stream stored each batch once despite the retries');
    t.same(
      [...appliedSeq.entries()].sort((a, b) => a[0] - b[0]),
      Array.from({ length: steps }, (_, k) => [k, k + 1]),
      'step k applied message k + 1: every published batch, once, in order',
    );
    t.equal(done?.lastSeq, steps);

    const cp = await loadCheckpoint(join(runDir, STREAM_CHECKPOINT));
    t.equal(cp.step, steps);
    // An uninterrupted run over the same stream (its own consumer) in this process.
    const refDir = join(dir, 'ref');
    await mkdir(refDir);
    const ref = await runStreamTraining(config, {
      source: { servers: [srv.url], stream, consumer: 'reference' },
      dir: refDir,
      checkpointEvery: 1000,
      workers: 1,
      shards: 2,
      fsync: false,
    });
    t.equal(ref.step, steps);
    t.ok(
      bits(cp.params).equals(bits(ref.params)),
      'θ after the crashes equals the uninterrupted run, bit for bit',
    );
  },
);
