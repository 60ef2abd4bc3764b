/**
 * JetStream ingest benchmark (issue #18): is the JetStream source ever the bottleneck?
 *
 * For each batch size (MNIST MLP 784-256-256-10, default 128 and 1024) it starts its own nats-server
 * (JetStream, temporary store, free loopback port, max_payload 8 MiB so a 1024-sample batch fits),
 * publishes `--messages` batches and measures
 *   - source rate: batches/s fromJetStream delivers (fetch, decode, validate) with nothing training;
 *   - in-memory source rate: the same batches from an array (fromAsyncIterable), for comparison;
 *   - trainer step rate: pipeline steps/s on the in-memory source, and on the JetStream source;
 *   - publish→applied latency p50/p99: a producer paced at `--load` × the step rate publishes while the
 *     pipeline trains from the stream; latency = step applied − publish started (the first 5 steps,
 *     the workers' start-up, not counted).
 * The source must deliver ≥ 2× the trainer's step rate.
 *
 * `--rss-minutes M` instead trains from the stream for M minutes with a paced producer (0.8× the step
 * rate measured at the start, and never more than RSS_AHEAD messages ahead of training, so a machine that
 * slows down does not turn the run into a growing backlog) and samples the process RSS every 10 s (the
 * issue's 10-minute flat-RSS check); `--record` writes it as bench/results/jetstream-rss.json and
 * regenerates BENCHMARKS.md:
 *   npx tsx bench/jetstream.ts --batch 128 --rss-minutes 10 --record
 *
 *   npx tsx bench/jetstream.ts [--batch 128,1024] [--messages 300] [--steps 60] [--load 0.5]
 *                              [--workers N] [--out bench/results/jetstream.json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { freePort } from './lib/free-port.js';
import { describeMachine } from './lib/machine.js';
import { recordResults } from './lib/record.js';
import { RESULTS_SCHEMA, type Results, type Section } from './lib/types.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BehaviorSubject, lastValueFrom, take, toArray } from 'rxjs';
import { encodeBatch } from '../src/cli/publish.js';
import { batchAt, batchSpecOf, loadMnist } from '../src/data/index.js';
import type { Batch } from '../src/data/batch.js';
import { sophiaG } from '../src/optim/index.js';
import { createPipeline } from '../src/pipeline/create-pipeline.js';
import { fromAsyncIterable } from '../src/streams/from-async-iterable.js';
import { fromJetStream } from '../src/streams/from-jetstream.js';
import type { PullSource } from '../src/streams/from-dataset.js';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '128,1024' },
    messages: { type: 'string', default: '300' },
    steps: { type: 'string', default: '60' },
    load: { type: 'string', default: '0.5' },
    workers: { type: 'string' },
    'rss-minutes': { type: 'string' },
    out: { type: 'string' },
    record: { type: 'boolean', default: false },
  },
});

const MODEL = { kind: 'mlp' as const, sizes: [784, 256, 256, 10], activation: 'tanh' as const };
const MAX_PAYLOAD = 8 << 20;
const WARMUP = 5;
/** The RSS run's producer waits while it is this many messages ahead of training. */
const RSS_AHEAD = 200;

async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-bench-nats-'));
  const port = await freePort();
  const conf = join(dir, 'nats.conf');
  await writeFile(
    conf,
    `listen: "127.0.0.1:${port}"\nmax_payload: ${MAX_PAYLOAD}\njetstream { store_dir: "${join(dir, 'js')}" }\n`,
  );
  const proc: ChildProcess = spawn(process.env.NATS_SERVER ?? 'nats-server', ['-c', conf], {
    stdio: 'ignore',
  });
  const url = `nats://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const nc = await connect({ servers: url, timeout: 500 });
      await (await jetstreamManager(nc)).getAccountInfo();
      await nc.close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    stop: async () => {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function pipelineFor(batchSpec: ReturnType<typeof batchSpecOf>) {
  return createPipeline({
    model: MODEL,
    optimizer: sophiaG({ lr: 0.001, rho: 0.04 }),
    curvature: { estimator: 'gnb', every: 10 },
    batchSpec,
    seed: 1,
    ...(args.workers ? { workers: Number(args.workers) } : {}),
  });
}

async function stepsPerSecond(
  source: PullSource<Batch>,
  batchSpec: ReturnType<typeof batchSpecOf>,
  n: number,
) {
  const p = pipelineFor(batchSpec);
  try {
    const t0 = performance.now();
    const done = await lastValueFrom(p.run(source).pipe(take(n), toArray()));
    return done.length / ((performance.now() - t0) / 1000);
  } finally {
    await p.close();
  }
}

async function benchBatch(batchSize: number) {
  const { train } = loadMnist();
  const spec = batchSpecOf(train.dataset);
  const messages = Number(args.messages);
  const steps = Number(args.steps);
  const batches = Array.from({ length: Math.max(messages, steps) }, (_, k) =>
    batchAt(train.dataset, { batchSize, seed: 1 }, k),
  );
  const bodies = batches.map(encodeBatch);
  const srv = await startServer();
  const nc = await connect({ servers: srv.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'BENCH', subjects: ['bench'], max_msg_size: MAX_PAYLOAD });
    await jsm.streams.add({ name: 'LAT', subjects: ['lat'], max_msg_size: MAX_PAYLOAD });
    const js = jetstream(nc);
    const tp = performance.now();
    for (let k = 0; k < messages; k++) await js.publish('bench', bodies[k], { msgID: `b:${k}` });
    const publishRate = messages / ((performance.now() - tp) / 1000);

    // Source alone.
    const src = fromJetStream({
      servers: srv.url,
      stream: 'BENCH',
      consumer: 'alone',
      batchSpec: spec,
      maxMessageBytes: MAX_PAYLOAD,
      limit: messages,
    });
    const t0 = performance.now();
    const got = await lastValueFrom(src.pull(new BehaviorSubject(1 << 30)).pipe(toArray()));
    const sourceRate = got.length / ((performance.now() - t0) / 1000);
    src.durable(src.sequenceAt(got.length - 1));
    await src.close();

    // In-memory source alone (the pipeline's other pull source).
    const tm = performance.now();
    const mem = await lastValueFrom(
      fromAsyncIterable(batches.slice(0, messages))
        .pull(new BehaviorSubject(1 << 30))
        .pipe(toArray()),
    );
    const memoryRate = mem.length / ((performance.now() - tm) / 1000);

    // The trainer: in memory, then from JetStream.
    const stepRateMemory = await stepsPerSecond(fromAsyncIterable(batches.slice(0, steps)), spec, steps);
    const js2 = fromJetStream({
      servers: srv.url,
      stream: 'BENCH',
      consumer: 'train',
      batchSpec: spec,
      maxMessageBytes: MAX_PAYLOAD,
      limit: steps,
    });
    const stepRateJetStream = await stepsPerSecond(js2, spec, steps);
    await js2.close();

    // Latency under a paced producer.
    const rate = Math.max(0.5, Number(args.load) * stepRateMemory);
    const published = new Map<number, number>();
    const lat = fromJetStream({
      servers: srv.url,
      stream: 'LAT',
      consumer: 'lat',
      batchSpec: spec,
      maxMessageBytes: MAX_PAYLOAD,
      limit: steps,
    });
    const p = pipelineFor(spec);
    const latencies: number[] = [];
    const producer = (async () => {
      const start = performance.now();
      for (let k = 0; k < steps; k++) {
        const due = start + (k * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const at = performance.now();
        const ack = await js.publish('lat', bodies[k], { msgID: `l:${k}` });
        published.set(ack.seq, at);
      }
    })();
    await new Promise<void>((resolve, reject) =>
      p.run(lat).subscribe({
        next: (m) => {
          const seq = lat.sequenceAt(m.step);
          const at = published.get(seq);
          // The first steps include the workers' start-up: not counted.
          if (at !== undefined && m.step >= WARMUP) latencies.push(performance.now() - at);
        },
        error: reject,
        complete: resolve,
      }),
    );
    await producer;
    await p.close();
    await lat.close();
    return {
      batchSize,
      messageBytes: bodies[0].length,
      publishRate,
      sourceRate,
      memoryRate,
      stepRateMemory,
      stepRateJetStream,
      sourceOverSteps: sourceRate / stepRateMemory,
      latency: {
        producerRate: rate,
        samples: latencies.length,
        p50ms: pct(latencies, 50),
        p99ms: pct(latencies, 99),
      },
    };
  } finally {
    await nc.close();
    await srv.stop();
  }
}

async function rssRun(batchSize: number, minutes: number) {
  const { train } = loadMnist();
  const spec = batchSpecOf(train.dataset);
  const srv = await startServer();
  const nc = await connect({ servers: srv.url });
  const samples: { s: number; rssMiB: number; heapMiB: number; steps: number; load1: number }[] = [];
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'RSS', subjects: ['rss'], max_msg_size: MAX_PAYLOAD, max_msgs: 2000 });
    const js = jetstream(nc);
    const stepRate = await stepsPerSecond(
      fromAsyncIterable(
        Array.from({ length: 30 }, (_, k) => batchAt(train.dataset, { batchSize, seed: 1 }, k)),
      ),
      spec,
      30,
    );
    const rate = 0.8 * stepRate;
    const end = performance.now() + minutes * 60_000;
    let stop = false;
    let steps = 0;
    const producer = (async () => {
      const start = performance.now();
      for (let k = 0; !stop; k++) {
        const wait = start + (k * 1000) / rate - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        while (!stop && k - steps > RSS_AHEAD) await new Promise((r) => setTimeout(r, 100));
        await js.publish('rss', encodeBatch(batchAt(train.dataset, { batchSize, seed: 1 }, k)), {
          msgID: `r:${k}`,
        });
      }
    })();
    const src = fromJetStream({
      servers: srv.url,
      stream: 'RSS',
      consumer: 'rss',
      batchSpec: spec,
      maxMessageBytes: MAX_PAYLOAD,
    });
    const p = pipelineFor(spec);
    const t0 = performance.now();
    const timer = setInterval(() => {
      samples.push({
        s: Math.round((performance.now() - t0) / 1000),
        rssMiB: process.memoryUsage().rss / 2 ** 20,
        // The JS heap in use: RSS also holds what V8 has not collected yet and buffers outside the heap.
        heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
        steps,
        // The machine is shared: the load average says how much of the step rate is ours.
        load1: loadavg()[0],
      });
      process.stderr.write(`${JSON.stringify(samples[samples.length - 1])}\n`);
    }, 10_000);
    await new Promise<void>((resolve, reject) => {
      const sub = p.run(src).subscribe({
        next: (m) => {
          steps++;
          // Acknowledge as a checkpoint every 100 steps would.
          if ((m.step + 1) % 100 === 0) src.durable(src.sequenceAt(m.step));
          if (performance.now() > end) {
            sub.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(timer);
    stop = true;
    await producer;
    await p.close();
    await src.close();
    const half = samples.slice(Math.floor(samples.length / 2));
    return {
      batchSize,
      minutes,
      steps,
      producerRate: rate,
      stepsPerSecond: steps / seconds,
      loadAverage: {
        min: Math.min(...samples.map((x) => x.load1)),
        max: Math.max(...samples.map((x) => x.load1)),
        mean: samples.reduce((a, x) => a + x.load1, 0) / samples.length,
      },
      rssFirstMiB: samples[0]?.rssMiB,
      rssSecondHalfMinMiB: Math.min(...half.map((x) => x.rssMiB)),
      rssSecondHalfMaxMiB: Math.max(...half.map((x) => x.rssMiB)),
      rssLastMiB: samples[samples.length - 1]?.rssMiB,
      samples,
    };
  } finally {
    await nc.close();
    await srv.stop();
  }
}

/** The RSS run as report sections: a summary row, then RSS and step rate minute by minute. */
function rssSections(r: Awaited<ReturnType<typeof rssRun>>): Section[] {
  const perMinute = [];
  let prev = { s: 0, steps: 0 };
  for (let m = 1; m <= Math.ceil(r.minutes); m++) {
    const inMinute = r.samples.filter((x) => x.s > (m - 1) * 60 && x.s <= m * 60);
    if (inMinute.length === 0) continue;
    const last = inMinute[inMinute.length - 1];
    perMinute.push({
      minute: m,
      rssMin: Math.min(...inMinute.map((x) => x.rssMiB)),
      rssMax: Math.max(...inMinute.map((x) => x.rssMiB)),
      heap: last.heapMiB,
      stepsPerS: (last.steps - prev.steps) / (last.s - prev.s),
      load: inMinute.reduce((a, x) => a + x.load1, 0) / inMinute.length,
    });
    prev = last;
  }
  return [
    {
      id: `rss-${r.batchSize}`,
      title: `Training from JetStream for ${r.minutes} min: RSS and throughput (MLP 784-256-256-10, batch ${r.batchSize})`,
      columns: [
        { key: 'steps', label: 'steps', digits: 0 },
        { key: 'perS', label: 'steps/s', digits: 2 },
        { key: 'producer', label: 'producer /s', digits: 2 },
        { key: 'first', label: 'RSS first MiB', digits: 1 },
        { key: 'halfMin', label: 'RSS 2nd half min MiB', digits: 1 },
        { key: 'halfMax', label: 'RSS 2nd half max MiB', digits: 1 },
        { key: 'last', label: 'RSS last MiB', digits: 1 },
        { key: 'load', label: 'load avg (mean)', digits: 1 },
      ],
      rows: [
        {
          steps: r.steps,
          perS: r.stepsPerSecond,
          producer: r.producerRate,
          first: r.rssFirstMiB ?? null,
          halfMin: r.rssSecondHalfMinMiB,
          halfMax: r.rssSecondHalfMaxMiB,
          last: r.rssLastMiB ?? null,
          load: r.loadAverage.mean,
        },
      ],
      notes: [
        `The pipeline (Sophia-G, GNB every 10) trains from fromJetStream on a local nats-server while a producer in the same process publishes at 0.8× the step rate measured at the start, never more than ${RSS_AHEAD} messages ahead of training; acknowledgements every 100 steps, as a checkpoint would. RSS of the whole process (trainer, source and producer) sampled every 10 s.`,
        `Load average (1 min) over the run: min ${r.loadAverage.min.toFixed(1)}, mean ${r.loadAverage.mean.toFixed(1)}, max ${r.loadAverage.max.toFixed(1)} (2 cores shared with other jobs), so the step rate is the loaded machine's.`,
      ],
    },
    {
      id: `rss-${r.batchSize}-minutes`,
      title: `Minute by minute (batch ${r.batchSize})`,
      columns: [
        { key: 'minute', label: 'minute', digits: 0 },
        { key: 'rssMin', label: 'RSS min MiB', digits: 1 },
        { key: 'rssMax', label: 'RSS max MiB', digits: 1 },
        { key: 'heap', label: 'JS heap used MiB (last)', digits: 1 },
        { key: 'stepsPerS', label: 'steps/s', digits: 2 },
        { key: 'load', label: 'load avg', digits: 1 },
      ],
      rows: perMinute,
    },
  ];
}

const loadAtStart = loadavg()[0];
const batchSizes = String(args.batch).split(',').map(Number);
const results: unknown[] = [];
if (args['rss-minutes']) {
  for (const b of batchSizes) results.push(await rssRun(b, Number(args['rss-minutes'])));
} else {
  for (const b of batchSizes) {
    const r = await benchBatch(b);
    results.push(r);
    process.stderr.write(`${JSON.stringify(r)}\n`);
  }
}
const report = { bench: 'jetstream', date: new Date().toISOString(), model: MODEL, results };
if (args.record) {
  if (!args['rss-minutes']) throw new Error('bench/jetstream.ts: --record records the --rss-minutes run');
  const name = 'jetstream-rss';
  const recorded: Results = {
    schema: RESULTS_SCHEMA,
    name,
    suites: [name],
    machine: describeMachine(loadAtStart),
    sections: (results as Awaited<ReturnType<typeof rssRun>>[]).flatMap(rssSections),
  };
  if (!recordResults(name, recorded)) process.exit(1);
}
if (args.out) await writeFile(args.out, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(0);
