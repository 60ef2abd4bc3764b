/**
 * Exactly-once training from a 3-node JetStream cluster (stream replicas 3) losing one node mid-run: the
 * trainer process goes on, every batch is applied once and in order, and θ equals an uninterrupted run.
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
import { natsSkipReason, startNatsCluster } from '../helpers/nats-server.js';
import { CONFIG, bits, createStream, scratch } from './fixtures/jetstream.js';
import { spawnTrainer } from './fixtures/trainer-process.js';

const skip = natsSkipReason();
t.setTimeout(600_000);

t.test(
  'one node of a 3-node cluster (replicas 3) killed mid-run: training goes on, nothing lost or duplicated',
  { skip, timeout: 600_000 },
  async (t) => {
    const steps = 120;
    const cluster = await startNatsCluster(t);
    const dir = await scratch(t, 'hessflow-nats-cluster-');
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify({ ...CONFIG, steps }));
    const config = readConfig(configPath);
    const stream = 'TRAIN3';
    const subject = defaultSubject(stream);
    const nc = await connect({ servers: cluster.servers });
    t.teardown(() => nc.close());
    await createStream(await jetstreamManager(nc), stream, [subject], 3);
    const js = jetstream(nc);
    const data = setupData(config);
    const producer = (async () => {
      for (let k = 0; k < steps; k++) {
        await publishWithRetry(js, subject, encodeBatch(data.batchAt(k)), batchMessageId(config, k), 20);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const runDir = join(dir, 'run');
    await mkdir(runDir);
    const p = spawnTrainer(t, {
      config: configPath,
      dir: runDir,
      servers: cluster.servers,
      stream,
      consumer: 'trainer',
      every: 10,
      ackWaitMs: 3000,
    });
    t.ok(await p.waitFor((e) => e.event === 'step' && e.step! >= 20), 'training runs on the cluster');
    // Kill the node holding the stream's leadership if we can tell, else the first one.
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    const victim = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[0];
    t.comment(`killing ${victim.name} (stream leader: ${leader ?? 'unknown'})`);
    const killedAt = p.events.filter((e) => e.event === 'step').length;
    await victim.kill();
    const done = await p.waitFor((e) => e.event === 'done', 300_000);
    await producer;
    t.ok(done, `the run completes with a node down${done ? '' : `:\n${p.stderr()}`}`);
    t.ok(killedAt < steps, `the node died mid-run (after ${killedAt} steps)`);
    const seqs = p.events.filter((e) => e.event === 'step').map((e) => [e.step, e.seq]);
    t.same(
      seqs,
      Array.from({ length: steps }, (_, k) => [k, k + 1]),
      'every batch applied once, in order, across the failover',
    );
    const survivors = cluster.nodes.filter((n) => n !== victim).map((n) => n.url);
    const ref = await runStreamTraining(config, {
      source: { servers: survivors, stream, consumer: 'reference' },
      dir: await scratch(t, 'hessflow-nats-cluster-ref-'),
      checkpointEvery: 1000,
      workers: 1,
      shards: 2,
      fsync: false,
    });
    const cp = await loadCheckpoint(join(runDir, STREAM_CHECKPOINT));
    t.equal(cp.step, steps);
    t.ok(bits(cp.params).equals(bits(ref.params)), 'θ equals an uninterrupted run, bit for bit');
  },
);
