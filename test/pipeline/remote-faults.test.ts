/**
 * Faults of remote workers, with real `hessflow worker` processes on a real nats-server: a worker killed
 * (SIGKILL) mid-task has its task redone by another and θ stays bit-identical; a result for a stale θ
 * version is refused; a worker that joins mid-run takes tasks; with no worker for the run (while others
 * serve other runs on the same broker) the run errors after the bounded wait; workers authenticate with
 * a token from a file or the environment, and never print it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { adamw } from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { frame, unframe } from '../../src/workers/remote/frame.js';
import type { TaskHead } from '../../src/workers/remote/messages.js';
import { publishResult } from '../../src/workers/remote/result-chunks.js';
import { runSubjects } from '../../src/workers/remote/subjects.js';
import { onFirstAck } from '../helpers/first-ack.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import { type WorkerProcess, startWorkerProcess } from '../helpers/remote-workers.js';
import { batchOf, firstBitDifference, fixtureReference, modelSpec, spec } from './fixtures.js';

const STEPS = 12;
const optimizer = () => adamw({ lr: 0.01 });
const reference = () => fixtureReference({ optimizer: optimizer(), steps: STEPS, shards: 4 });
const bounds = { ackTimeoutMs: 1000, heartbeatMs: 200, taskTimeoutMs: 20_000, noWorkerTimeoutMs: 20_000 };

function pipelineOn(nats: string, run: string) {
  return createPipeline({
    model: modelSpec,
    optimizer: optimizer(),
    seed: 5,
    shards: 4,
    batchSpec: spec,
    workers: { remote: { nats, run, ...bounds } },
  });
}

t.test('remote worker faults', { skip: natsSkipReason() }, async (t) => {
  const nats = await startNatsServer(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());

  await t.test('a worker killed mid-task: the task is redone elsewhere, θ bit-identical', async (t) => {
    const run = 'kill';
    const a = await startWorkerProcess(t, nats.url, { run });
    await startWorkerProcess(t, nats.url, { run });
    const p = pipelineOn(nats.url, run);
    t.teardown(() => p.close());
    // The first task `a` acks after step 3: taken, not finished.
    let armed = false;
    let killedAt = 0;
    const acks = onFirstAck(
      nc,
      a.id,
      () => armed,
      () => {
        killedAt = Date.now();
        a.process.kill('SIGKILL');
      },
    );
    t.teardown(() => acks.unsubscribe());
    await nc.flush();
    const metrics = await lastValueFrom(
      p.run(fromDataset(batchOf, { end: STEPS })).pipe(
        tap((m) => (armed ||= m.step >= 3)),
        toArray(),
      ),
    );
    t.ok(killedAt > 0, 'the worker was killed after acking a task');
    t.equal(await a.exited, null, 'by SIGKILL');
    t.equal(metrics.length, STEPS);
    const stats = p.remoteStats()!;
    t.ok(stats.retries >= 1, `the killed task was sent again (${stats.retries} retries)`);
    t.ok(Date.now() - killedAt < 15_000, 'the run finished within the bound after the kill');
    t.equal(firstBitDifference(p.params(), reference().state.params), -1, 'θ bit-identical');
  });

  await t.test('a result for a stale θ version, and a malformed one, are refused', async (t) => {
    const run = 'stale';
    await startWorkerProcess(t, nats.url, { run });
    const s = runSubjects(run);
    // A worker that answers its first task with a gradient of θ one version behind, says hello again,
    // answers its second with a gradient one value short, then leaves (any other task it got, it drops). It says it has 100 threads, so
    // the coordinator picks it first while it is in the roster.
    const answered: TaskHead[] = [];
    const hello = () => nc.publish(s.hello, frame({ worker: 'fake', threads: 100 }));
    const roll = nc.subscribe(s.roll, { callback: hello });
    const alive = nc.subscribe(s.alive('fake'), { callback: (_e, m) => void m.respond() });
    const fake = nc.subscribe(s.tasks('fake'), {
      callback: (_e, m) => {
        if (answered.length >= 2) return;
        const head = unframe<TaskHead>(m.data).head;
        answered.push(head);
        m.respond(frame({ worker: 'fake' }));
        const stale = answered.length === 1;
        const grad = new Float32Array(head.thetaLength - (stale ? 0 : 1));
        const version = stale ? head.version - 1 : head.version;
        const result = {
          taskId: head.taskId,
          worker: 'fake',
          version,
          loss: 0.5,
          nonFinite: false,
          error: null,
        };
        const arrays = [{ name: 'grad' as const, length: grad.length }];
        publishResult(nc, head.reply, { ...result, arrays }, [grad], 4096);
        if (stale) return hello();
        fake.unsubscribe();
        roll.unsubscribe();
      },
    });
    t.teardown(() => roll.unsubscribe());
    t.teardown(() => alive.unsubscribe());
    await nc.flush();
    const p = pipelineOn(nats.url, run);
    t.teardown(() => p.close());
    await lastValueFrom(p.run(fromDataset(batchOf, { end: STEPS })).pipe(toArray()));
    t.equal(answered.length, 2, 'the fake worker took two tasks');
    const stats = p.remoteStats()!;
    t.equal(stats.staleRefused, 1, 'the stale result was refused');
    t.equal(stats.retryCauses.get('ERR_BAD_RESPONSE'), 1, 'the short gradient was refused');
    const { ERR_STALE_PARAMS, ERR_BAD_RESPONSE, ...others } = Object.fromEntries(stats.retryCauses);
    t.same([ERR_STALE_PARAMS, ERR_BAD_RESPONSE], [1, 1], 'each refused result was sent again');
    // Tasks sent to the fake alongside those two (a step's shards go out at once) are never acked.
    t.same(
      Object.keys(others),
      Object.keys(others).length ? ['ERR_REMOTE_ACK_TIMEOUT'] : [],
      'nothing else failed',
    );
    t.notOk(stats.tasksByWorker.has('fake'), 'neither was counted');
    t.equal(firstBitDifference(p.params(), reference().state.params), -1, 'θ bit-identical');
  });

  await t.test('a worker joining mid-run takes tasks', async (t) => {
    const run = 'join';
    await startWorkerProcess(t, nats.url, { run });
    const p = pipelineOn(nats.url, run);
    t.teardown(() => p.close());
    let joining: Promise<WorkerProcess> | null = null;
    await lastValueFrom(
      p.run(fromDataset(batchOf, { end: STEPS })).pipe(
        tap((m) => {
          if (m.step !== 3 || joining) return;
          // Hold the run while the new process starts (seconds), then go on with both.
          p.pause();
          joining = startWorkerProcess(t, nats.url, { run }).finally(() => p.resume());
        }),
        toArray(),
      ),
    );
    const late = await joining!;
    const stats = p.remoteStats()!;
    t.ok(
      (stats.tasksByWorker.get(late.id) ?? 0) > 0,
      `the late worker took tasks (${stats.tasksByWorker.get(late.id)})`,
    );
    t.equal(firstBitDifference(p.params(), reference().state.params), -1, 'θ bit-identical');
  });

  await t.test('no worker for the run: a clear error after the bounded wait, never a hang', async (t) => {
    // Workers of other runs are on this broker; they must not take this run's tasks.
    const started = Date.now();
    const p2 = createPipeline({
      model: modelSpec,
      optimizer: optimizer(),
      seed: 5,
      batchSpec: spec,
      workers: { remote: { nats: nats.url, run: 'nobody', noWorkerTimeoutMs: 1500 } },
    });
    t.teardown(() => p2.close());
    await t.rejects(lastValueFrom(p2.run(fromDataset(batchOf, { end: 3 }))), {
      code: 'ERR_NO_REMOTE_WORKERS',
      message:
        /no remote worker announced itself on hessflow\.nobody\.hello within 1500 ms; start one with `hessflow worker/,
    });
    const took = Date.now() - started;
    t.ok(took >= 1500 && took < 6000, `errored after ${took} ms`);
  });
});

t.test('workers authenticate with a token that is never printed', { skip: natsSkipReason() }, async (t) => {
  const token = 's3cr3t-token-4d9f';
  const nats = await startNatsServer(t, { token });
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-remote-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'token');
  const bad = join(dir, 'wrong');
  await writeFile(good, `${token}\n`);
  await writeFile(bad, 'not-the-token\n');
  const run = 'auth';
  const w = await startWorkerProcess(t, nats.url, { run, env: { HESSFLOW_NATS_TOKEN: token } });
  const p = createPipeline({
    model: modelSpec,
    optimizer: optimizer(),
    seed: 5,
    shards: 4,
    batchSpec: spec,
    workers: { remote: { nats: nats.url, run, tokenFile: good } },
  });
  t.teardown(() => p.close());
  await lastValueFrom(p.run(fromDataset(batchOf, { end: STEPS })).pipe(toArray()));
  t.equal(
    firstBitDifference(p.params(), reference().state.params),
    -1,
    'θ bit-identical through the token broker',
  );
  await t.rejects(
    startWorkerProcess(t, nats.url, { run, tokenFile: bad, readyMs: 20_000 }),
    /worker exited \(1\) before serving:[^]*cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/,
    'a wrong token: exit 1, naming the server',
  );
  const rejected = await startWorkerProcess(t, nats.url, { run, tokenFile: bad, readyMs: 20_000 }).catch(
    (e: Error) => e.message,
  );
  t.notMatch(String(rejected), 'not-the-token', 'the wrong token is not printed');
  await w.kill('SIGTERM');
  t.match(w.output(), /stopped \(SIGTERM\) after \d+ gradient and 0 probe tasks/);
  t.notMatch(w.output(), token, 'the token is not printed');
});
