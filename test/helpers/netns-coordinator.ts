/**
 * The coordinator of the cross-host test, run inside its own network namespace: trains the pipeline
 * fixture's GNB run on remote workers only and, once the run is past step `afterStep`, takes the link of
 * the worker `cut.worker` down (`ip -n NS link set DEV down`) the moment that worker acks a task, so the
 * task is in its hands when the link goes. Prints one JSON line: θ (base64), when the cut happened, stats.
 * Settings come as JSON in HF_NETNS.
 */
import { spawnSync } from 'node:child_process';
import { connect } from '@nats-io/transport-node';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { onFirstAck } from './first-ack.js';
import { batchOf, gnbCurvature, gnbOptimizer, modelSpec, spec } from '../pipeline/fixtures.js';

interface Settings {
  nats: string;
  run: string;
  steps: number;
  afterStep: number;
  cut: { worker: string; ns: string; dev: string };
}

const s = JSON.parse(process.env.HF_NETNS ?? '') as Settings;
const nc = await connect({ servers: s.nats });
const p = createPipeline({
  model: modelSpec,
  optimizer: gnbOptimizer(),
  seed: 5,
  shards: 4,
  batchSpec: spec,
  curvature: gnbCurvature,
  workers: {
    remote: { nats: s.nats, run: s.run, ackTimeoutMs: 1000, heartbeatMs: 200, taskTimeoutMs: 30_000 },
  },
});
let armed = false;
let cutAt = 0;
const acks = onFirstAck(
  nc,
  s.cut.worker,
  () => armed,
  () => {
    cutAt = Date.now();
    const r = spawnSync('ip', ['-n', s.cut.ns, 'link', 'set', s.cut.dev, 'down'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cutting the link failed: ${r.stderr}`);
  },
);
const started = Date.now();

const metrics = await lastValueFrom(
  p.run(fromDataset(batchOf, { end: s.steps })).pipe(
    tap((m) => (armed ||= m.step >= s.afterStep)),
    toArray(),
  ),
);
const stats = p.remoteStats()!;
const params = p.params();
process.stdout.write(
  `${JSON.stringify({
    steps: metrics.length,
    params: Buffer.from(params.buffer).toString('base64'),
    cutAfterMs: cutAt ? cutAt - started : null,
    finishedAfterCutMs: cutAt ? Date.now() - cutAt : null,
    retries: stats.retries,
    retryCauses: Object.fromEntries(stats.retryCauses),
    tasksByWorker: Object.fromEntries(stats.tasksByWorker),
  })}\n`,
);
acks.unsubscribe();
await p.close();
await nc.close();
