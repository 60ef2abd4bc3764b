/**
 * #21 item 12: the pipeline engine's status() copies θ and the optimizer state (Pipeline.snapshot()); the
 * daemon read it after every step for the queue-depth gauge, churning (params + state) bytes of
 * ArrayBuffers per step, which grew the daemon's RSS outside the JS heap under load. Per-step work must
 * not call status().
 */
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { validateDaemonConfig } from '../../src/daemon/config.js';
import { startDaemon } from '../../src/daemon/daemon.js';
import { daemonConfig, scratchDir, typedBatch } from './fixtures/daemon.js';

t.test('no status() per step (pipeline engine)', async (t) => {
  const dir = await scratchDir(t);
  const config = validateDaemonConfig({
    ...daemonConfig(dir, { engine: 'pipeline', workers: 1, shards: 1, queueLimit: 64, checkpointEvery: 0 }),
    checkpointDir: join(dir, 'ckpt'),
  });
  const d = await startDaemon(config, { logger: pino({ level: 'silent' }), fsync: false });
  t.teardown(() => d.stop());
  const engine = d.engine;
  let calls = 0;
  const status = engine.status.bind(engine);
  engine.status = () => {
    calls++;
    return status();
  };
  const done = new Promise<void>((resolve) => engine.onStep((s) => s.seq === 40 && resolve()));
  for (let k = 0; k < 40; k++) t.ok(engine.submit(typedBatch(2, k)) !== null);
  await done;
  t.equal(calls, 0, 'status() not called by the 40 steps');
  const m = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
  t.match(m, /hessflow_queue_depth 0\n/, 'the queue-depth gauge still follows the steps');
  t.match(m, /process_resident_memory_bytes \d+/, 'process memory is exported');
});
