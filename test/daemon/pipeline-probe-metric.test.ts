/**
 * Engine "pipeline" times its curvature probes: onProbe is called once per applied estimate with the
 * probe worker's computation time, and the daemon's `/metrics` histogram
 * `hessflow_probe_duration_seconds{estimator}` is fed from it.
 */
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import type { AppliedStep, ProbeTiming } from '../../src/daemon/engine.js';
import { PipelineEngine } from '../../src/daemon/pipeline-engine.js';
import { buildModel } from '../../src/nn/models/registry.js';
import {
  daemonConfig,
  postJson,
  scratchDir,
  spawnDaemon,
  typedBatch,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

const SPEC = { kind: 'mlp', sizes: [8, 6, 3] } as const;

const batch = (k: number): Batch => typedBatch(4, k);

t.test('onProbe: one timing per applied estimate, with its launch step and estimator', async (t) => {
  const engine = new PipelineEngine({
    model: buildModel({ ...SPEC }),
    modelSpec: { ...SPEC },
    optimizer: { name: 'sophiaG', lr: 0.01, rho: 0.04 },
    curvature: { estimator: 'gnb', every: 3 },
    seed: 3,
    queueLimit: 64,
    workers: 1,
    shards: 2,
  });
  const n = 11;
  const steps: AppliedStep[] = [];
  const probes: { timing: ProbeTiming; stepsBefore: number }[] = [];
  const done = new Promise<void>((resolve) =>
    engine.onStep((s) => {
      steps.push(s);
      if (steps.length === n) resolve();
    }),
  );
  engine.onProbe((timing) => probes.push({ timing, stepsBefore: steps.length }));
  engine.start();
  for (let k = 0; k < n; k++) t.not(engine.submit(batch(k)), null);
  await done;
  await engine.stop();
  const applied = steps.filter((s) => s.metrics.curvatureStaleness !== undefined).map((s) => s.metrics.step);
  t.ok(applied.length > 0, `estimates applied at ${applied.join(', ')}`);
  t.same(
    probes.map((p) => p.stepsBefore),
    applied,
    'one timing per applied estimate, reported before that step reaches onStep',
  );
  for (const { timing } of probes) {
    t.equal(timing.estimator, 'gnb');
    t.ok(timing.step < n && timing.step % 3 === 0, `launched at step ${timing.step}`);
    t.ok(Number.isFinite(timing.seconds) && timing.seconds > 0, `${timing.seconds} s`);
  }
});

t.test('/metrics of a daemon with engine "pipeline" counts its probes', async (t) => {
  const dir = await scratchDir(t);
  const config = await writeConfig(
    dir,
    daemonConfig(dir, {
      engine: 'pipeline',
      workers: 1,
      shards: 2,
      curvature: { estimator: 'gnb', every: 3 },
      checkpointEvery: 0,
    }),
  );
  const d = await spawnDaemon(t, config);
  for (let k = 0; k < 11; k++) t.equal((await postJson(`${d.url}/v1/batches`, validBatch(2, k))).status, 200);
  await waitForStatus(d.url, (s) => s.step === 11);
  const text = await (await fetch(`${d.url}/metrics`)).text();
  const line = (name: string) => {
    const l = text.split('\n').find((x) => x.startsWith(name));
    return l === undefined ? NaN : Number(l.slice(l.lastIndexOf(' ') + 1));
  };
  const count = line('hessflow_probe_duration_seconds_count{estimator="gnb"}');
  const sum = line('hessflow_probe_duration_seconds_sum{estimator="gnb"}');
  t.ok(count > 0, `${count} probes observed`);
  t.ok(sum > 0 && Number.isFinite(sum), `${sum} s in all`);
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});
