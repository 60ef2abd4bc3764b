/**
 * `npm run bench:soak`: the daemon's soak benchmark. Spawns a real daemon on a temporary checkpoint
 * directory, drives it with HTTP and socket producers that send faster than it trains for `--seconds`,
 * and records accepted/applied batches per second, 429s, socket read pauses, acknowledgement latency
 * (p50/p99), the daemon's RSS and queue depth over time. Then it checks that no acknowledged batch was
 * lost (bench/soak/verify.ts), writes bench/results/<name>.json and regenerates BENCHMARKS.md.
 * Exits non-zero, writing nothing, if an acknowledged batch was lost or a number is not finite.
 *
 *   node dist/bench/soak.js [--seconds 180] [--warmup 30] [--http 2] [--http-concurrency 4]
 *                           [--socket 2] [--socket-window 32] [--socket-share 0.5] [--retry-ms 100]
 *                           [--engine trainer|pipeline] [--workers N] [--name soak] [--keep]
 *
 * The socket producers together send --socket-share × the training rate (measured over the last 5 s;
 * 0 = unpaced). A socket paused on a full queue is woken on every other freed slot, so HTTP requests
 * get the slots in between; before that rule (the run recorded as soak.json) unpaced sockets took every
 * freed slot and left HTTP nothing but 429s.
 * HTTP producers are not paced; together the producers offer more than the daemon trains.
 *   npx tsx bench/soak.ts --seconds 20     (from source; the daemon then runs through tsx too)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from './lib/machine.js';
import { recordResults } from './lib/record.js';
import { RESULTS_SCHEMA, type Results } from './lib/types.js';
import { renderSection } from './report.js';
import { startDaemonProcess } from './soak/daemon-process.js';
import { type Producer, batchBodies, httpProducer, newTally, socketProducer } from './soak/producers.js';
import { startSampler } from './soak/sampler.js';
import { type SoakSetup, percentile, soakSections } from './soak/sections.js';
import { verifyNoLoss } from './soak/verify.js';

// The daemon under test. A model big enough that training, not ingest, is the bottleneck on 2 vCPUs,
// so the queue fills and backpressure is exercised the whole time.
const FEATURES = 32;
const CLASSES = 4;
const BATCH = 32;
const DAEMON = {
  model: { kind: 'mlp', sizes: [FEATURES, 128, 128, CLASSES], activation: 'tanh' },
  optimizer: { name: 'sophiaG', lr: 0.01, rho: 0.04 },
  curvature: { estimator: 'gnb', every: 10 },
  host: '127.0.0.1',
  port: 0,
  socketPort: 0,
  checkpointEvery: 500,
  keepLast: 3,
  queueLimit: 256,
  seed: 0,
};

function positiveInt(name: string, raw: string | undefined, min = 1): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`soak: --${name} must be an integer >= ${min}, got ${raw}`);
  return v;
}

function share(raw: string | undefined): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0 || v > 10)
    throw new Error(`soak: --socket-share must be a number in [0, 10], got ${raw}`);
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '180' },
      warmup: { type: 'string' },
      http: { type: 'string', default: '2' },
      'http-concurrency': { type: 'string', default: '4' },
      socket: { type: 'string', default: '2' },
      'socket-window': { type: 'string', default: '32' },
      'socket-share': { type: 'string', default: '0.5' },
      'retry-ms': { type: 'string', default: '100' },
      name: { type: 'string', default: 'soak' },
      engine: { type: 'string', default: 'trainer' },
      workers: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const engine = values.engine;
  if (engine !== 'trainer' && engine !== 'pipeline')
    throw new Error(`soak: --engine must be "trainer" or "pipeline", got ${engine}`);
  const engineConfig =
    engine === 'pipeline'
      ? {
          engine,
          ...(values.workers !== undefined ? { workers: positiveInt('workers', values.workers) } : {}),
        }
      : { engine };
  const setup: SoakSetup = {
    seconds: positiveInt('seconds', values.seconds, 10),
    warmup: 0,
    http: positiveInt('http', values.http, 0),
    httpConcurrency: positiveInt('http-concurrency', values['http-concurrency']),
    socket: positiveInt('socket', values.socket, 0),
    socketWindow: positiveInt('socket-window', values['socket-window']),
    socketShare: share(values['socket-share']),
    retryMs: positiveInt('retry-ms', values['retry-ms'], 0),
    daemon:
      `engine ${engine}${'workers' in engineConfig ? ` (${engineConfig.workers} workers)` : ''}, ` +
      `mlp ${DAEMON.model.sizes.join('-')} (tanh), batch ${BATCH}, sophiaG + GNB every ${DAEMON.curvature.every}, ` +
      `queueLimit ${DAEMON.queueLimit}, checkpoint every ${DAEMON.checkpointEvery} steps (fsync on), keepLast ${DAEMON.keepLast}`,
  };
  // Default warm-up: 30 s of the default 180 s, a sixth of shorter runs.
  setup.warmup =
    values.warmup === undefined
      ? Math.min(30, Math.floor(setup.seconds / 6))
      : positiveInt('warmup', values.warmup, 0);
  if (setup.warmup * 2 > setup.seconds)
    throw new Error(
      `soak: --warmup ${setup.warmup} leaves too little of --seconds ${setup.seconds} to measure`,
    );
  if (setup.http + setup.socket === 0) throw new Error('soak: no producers (--http 0 --socket 0)');
  const name = values.name!;
  if (!/^[\w.-]+$/.test(name)) throw new Error(`soak: --name ${name}: use letters, digits, '.', '_' or '-'`);

  const dir = await mkdtemp(join(tmpdir(), 'hessflow-soak-'));
  const checkpointDir = join(dir, 'ckpt');
  const configPath = join(dir, 'daemon.json');
  await writeFile(configPath, JSON.stringify({ ...DAEMON, ...engineConfig, checkpointDir }));
  const load = loadAverage();
  const d = await startDaemonProcess(configPath);
  console.log(`daemon pid ${d.pid} at ${d.url}, socket ${d.socketPort}; ${setup.daemon}`);
  try {
    const bodies = batchBodies(64, BATCH, FEATURES, CLASSES);
    const tallies = { http: newTally(), socket: newTally() };
    const producers: Producer[] = [];
    // Frames/s per socket producer: a guess until the training rate has been measured.
    let socketRate = setup.socketShare > 0 ? 10 : 0;
    for (let i = 0; i < setup.http; i++) {
      const json = i % 2 === 0;
      producers.push(
        httpProducer(
          {
            url: d.url,
            bodies: json ? bodies.json : bodies.msgpack,
            contentType: json ? 'application/json' : 'application/msgpack',
            concurrency: setup.httpConcurrency,
            retryMs: setup.retryMs,
          },
          tallies.http,
        ),
      );
    }
    for (let i = 0; i < setup.socket; i++)
      producers.push(
        await socketProducer(
          {
            port: d.socketPort,
            bodies: bodies.msgpack,
            window: setup.socketWindow,
            rate: () => socketRate,
          },
          tallies.socket,
        ),
      );
    const sampler = startSampler(d, tallies, 1000, (samples) => {
      if (setup.socketShare <= 0 || samples.length < 2) return;
      const a = samples[Math.max(0, samples.length - 6)];
      const b = samples[samples.length - 1];
      const applied = (b.step - a.step) / (b.t - a.t);
      // Never quite zero, so a stalled daemon still sees socket frames.
      socketRate = Math.max(1, (setup.socketShare * applied) / setup.socket);
    });
    const t0 = performance.now();
    const progress = setInterval(() => {
      const s = sampler.samples[sampler.samples.length - 1];
      if (s)
        console.log(
          `  t ${s.t.toFixed(0)} s: step ${s.step}, queue ${s.queueDepth}, accepted http ${s.acceptedHttp} ` +
            `socket ${s.acceptedSocket}, 429s ${s.rejectedFull}, RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB`,
        );
    }, 15_000);
    await sleep(setup.warmup * 1000);
    const marks = {
      http: { latency: tallies.http.latencyMs.length },
      socket: { latency: tallies.socket.latencyMs.length },
    };
    await sleep(Math.max(0, setup.seconds * 1000 - (performance.now() - t0)));
    clearInterval(progress);
    await sampler.stop();
    await Promise.all(producers.map((p) => p.stop()));
    const acked = [...tallies.http.acked, ...tallies.socket.acked];
    console.log(`load stopped: ${acked.length} acknowledged; draining and verifying`);
    const v = await verifyNoLoss(d, acked, checkpointDir);
    const otherErrors = { ...tallies.http.errors, ...tallies.socket.errors };
    if (Object.keys(otherErrors).length > 0) console.warn(`producer errors: ${JSON.stringify(otherErrors)}`);

    const summary = soakSections(setup, tallies, marks, sampler.samples, v);
    const results: Results = {
      schema: RESULTS_SCHEMA,
      name,
      suites: ['soak'],
      machine: describeMachine(load),
      sections: summary.sections,
    };
    for (const s of summary.sections) console.log(`\n${renderSection(s)}\n`);
    console.log(
      `http ack p50/p99 ${percentile(tallies.http.latencyMs, 50).toFixed(2)}/${percentile(tallies.http.latencyMs, 99).toFixed(2)} ms (whole run)`,
    );
    if (!recordResults('soak', results, v.problems)) return 1;
    if (summary.rssGrowth >= 0.05)
      console.warn(`RSS grew ${(summary.rssGrowth * 100).toFixed(2)} % after warm-up (target < 5 %)`);
    return 0;
  } finally {
    if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop(10_000);
    if (values.keep) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
