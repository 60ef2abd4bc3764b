import t from 'tap';
import {
  FrameClient,
  daemonConfig,
  packr,
  postJson,
  scratchDir,
  spawnDaemon,
  validBatch,
  writeConfig,
} from './fixtures/daemon.js';

async function pauses(url: string, cause: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^hessflow_socket_read_pauses_total\\{cause="${cause}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

t.test('a socket that stops reading on a full queue is counted in /metrics', async (t) => {
  const dir = await scratchDir(t);
  const config = await writeConfig(dir, daemonConfig(dir, { queueLimit: 2, checkpointEvery: 0 }));
  const d = await spawnDaemon(t, config);
  t.equal((await postJson(`${d.url}/v1/pause`, {})).status, 200);
  const c = await FrameClient.connect(d.socketPort);
  t.teardown(() => c.close());
  for (let k = 0; k < 3; k++) c.send(packr.pack(validBatch(1, k)));
  await c.waitFor(() => c.acks.length === 2);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(c.acks.length, 2, 'the third frame waits for room');
  t.equal(await pauses(d.url, 'queue_full'), 1, 'one pause on a full queue');
  t.equal(await pauses(d.url, 'unread_acks'), 0);
  t.equal((await postJson(`${d.url}/v1/resume`, {})).status, 200);
  await c.waitFor(() => c.acks.length === 3);
  t.same(c.acks[2], { seq: 3 });
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});
