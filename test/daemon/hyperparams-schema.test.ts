/**
 * #21 item 10: POST /v1/hyperparams takes exactly what the config validator takes (one schema): {"lr": 0}
 * is refused by both, and nothing of it reaches status or a checkpoint.
 */
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { validateDaemonConfig } from '../../src/daemon/config.js';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { daemonConfig, postJson, scratchDir, spawnDaemon, status, writeConfig } from './fixtures/daemon.js';

const lrOf = (s: Record<string, unknown>): number =>
  (s.optimizer as { hyperparams: Record<string, number> }).hyperparams.lr;

for (const engine of ['trainer', 'pipeline'] as const) {
  t.test(`${engine} engine: a hyperparameter the config refuses is refused at run time`, async (t) => {
    const dir = await scratchDir(t);
    const extra = engine === 'pipeline' ? { engine, workers: 1, shards: 1 } : { engine };
    const raw = daemonConfig(dir, extra);
    t.throws(
      () => validateDaemonConfig({ ...raw, optimizer: { name: 'sophiaG', lr: 0, rho: 0.04 } }),
      /optimizer\.lr/,
      'the config validator refuses lr 0',
    );
    const d = await spawnDaemon(t, await writeConfig(dir, raw));
    for (const body of [{ lr: 0 }, { lr: -0.5 }, { rho: 0.02, lr: 0 }]) {
      const r = await postJson(`${d.url}/v1/hyperparams`, body);
      t.equal(r.status, 400, `${JSON.stringify(body)} refused`);
      t.match(await r.json(), { reason: 'bad_value', error: /"lr"/ }, 'naming the hyperparameter');
    }
    t.equal(lrOf(await status(d.url)), 0.01, 'status unchanged');
    const ok = await postJson(`${d.url}/v1/hyperparams`, { lr: 0.02 });
    t.equal(ok.status, 200, 'a valid value is taken');
    const r = (await (await fetch(`${d.url}/v1/checkpoint`, { method: 'POST' })).json()) as { path: string };
    const ck = decodeCheckpoint(await readFile(r.path));
    t.equal((ck.optimizerState as { hyperparams: { lr: number; rho: number } }).hyperparams.lr, 0.02);
    t.equal((ck.optimizerState as { hyperparams: { lr: number; rho: number } }).hyperparams.rho, 0.04);
    d.proc.kill('SIGTERM');
    t.equal(await d.exited, 0);
  });
}
