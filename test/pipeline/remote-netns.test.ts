/**
 * Remote workers across real hosts: a broker, the coordinator and two workers, each in its own network
 * namespace with its own address on one bridge. Mid-run one worker's link is cut (`ip link set … down`)
 * while it holds a task; the run still finishes, with θ bit-identical to the reference loop. Skips, saying
 * why, where namespaces cannot be created; they are removed at teardown even when the test fails.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { natsServerBinary, natsSkipReason } from '../helpers/nats-server.js';
import { repoRoot } from '../helpers/hessflow-cli.js';
import { netHosts, netnsSkipReason } from '../helpers/netns.js';
import { startWorkerProcess } from '../helpers/remote-workers.js';
import { firstBitDifference, gnbReference } from './fixtures.js';

const STEPS = 16;
const skip = natsSkipReason() || netnsSkipReason();

t.test('a worker on another host loses its link mid-run: θ still bit-identical', { skip }, async (t) => {
  const hosts = netHosts(t, ['broker', 'coord', 'w1', 'w2']);
  // The broker alone would not drop the cut worker while tasks flow to it (its ping timer counts writes
  // as activity): the coordinator's roster does, once the worker stops saying hello.
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-netns-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const conf = join(dir, 'nats.conf');
  await writeFile(conf, `listen: "${hosts.broker.address}:4222"\nping_interval: "1s"\nping_max: 2\n`);
  const broker = spawn(
    hosts.broker.exec[0],
    [...hosts.broker.exec.slice(1), natsServerBinary()!, '-c', conf],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let brokerLog = '';
  broker.stderr.on('data', (d: Buffer) => (brokerLog += d.toString()));
  t.teardown(() => void broker.kill('SIGKILL'));
  const nats = `nats://${hosts.broker.address}:4222`;
  const deadline = Date.now() + 20_000;
  while (!/Server is ready/.test(brokerLog)) {
    if (Date.now() > deadline || broker.exitCode !== null) throw new Error(`broker not ready:\n${brokerLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const run = 'netns';
  const w1 = await startWorkerProcess(t, nats, { run, wrap: hosts.w1.exec });
  const w2 = await startWorkerProcess(t, nats, { run, wrap: hosts.w2.exec });

  const settings = {
    nats,
    run,
    steps: STEPS,
    afterStep: 4,
    cut: { worker: w1.id, ns: hosts.w1.ns, dev: hosts.w1.dev },
  };
  const coord = spawn(
    hosts.coord.exec[0],
    [...hosts.coord.exec.slice(1), process.execPath, '--import', 'tsx', 'test/helpers/netns-coordinator.ts'],
    {
      cwd: repoRoot,
      env: { ...process.env, HF_NETNS: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.teardown(() => void coord.kill('SIGKILL'));
  let out = '';
  let err = '';
  coord.stdout.on('data', (d: Buffer) => (out += d.toString()));
  coord.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => coord.once('exit', (c) => resolve(c)));
  t.equal(code, 0, `the coordinator finished:\n${err}`);
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
    steps: number;
    params: string;
    cutAfterMs: number | null;
    finishedAfterCutMs: number | null;
    retries: number;
    retryCauses: Record<string, number>;
    tasksByWorker: Record<string, number>;
  };
  t.equal(r.steps, STEPS);
  t.ok(r.cutAfterMs !== null, `w1's link was cut mid-run, holding a task (${r.cutAfterMs} ms in)`);
  t.ok(r.retries >= 1, `its task was sent again (${r.retries} retries)`);
  t.ok((r.tasksByWorker[w2.id] ?? 0) > 0, 'w2 took tasks');
  t.comment(
    `finished ${r.finishedAfterCutMs} ms after the cut; tasks ${JSON.stringify(r.tasksByWorker)}; retries ${JSON.stringify(r.retryCauses)}`,
  );
  const b = Buffer.from(r.params, 'base64');
  const params = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  t.equal(firstBitDifference(params, gnbReference(STEPS).state.params), -1, 'θ bit-identical');
});
