import t from 'tap';
import {
  daemonConfig,
  postJson,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(name.length + 1));
}

t.test('paused at the final checkpoint: the restarted daemon comes back paused and says so', async (t) => {
  const dir = await scratchDir(t);
  const config = await writeConfig(dir, daemonConfig(dir, { checkpointEvery: 0 }));

  const a = await spawnDaemon(t, config);
  for (let k = 0; k < 2; k++) t.equal((await postJson(`${a.url}/v1/batches`, validBatch(2, k))).status, 200);
  await waitForStatus(a.url, (s) => s.step === 2);
  t.equal((await postJson(`${a.url}/v1/pause`, {})).status, 200);
  for (let k = 2; k < 5; k++) t.equal((await postJson(`${a.url}/v1/batches`, validBatch(2, k))).status, 200);
  await sleep(200);
  t.match(await status(a.url), { step: 2, paused: true, queueDepth: 3 }, 'paused with 3 queued');
  a.proc.kill('SIGTERM');
  t.equal(await a.exited, 0);

  const b = await spawnDaemon(t, config);
  const resumed = b.lines.find((l) => l.event === 'resumed');
  t.match(resumed, { step: 2, queued: 3, paused: true }, 'the resumed log line says paused');
  t.match(String(resumed?.msg), /paused/, 'and its message too');
  await sleep(300);
  t.match(await status(b.url), { step: 2, paused: true, queueDepth: 3 }, 'no step taken after restart');
  t.equal(await metric(b.url, 'hessflow_paused'), 1, 'hessflow_paused 1');
  t.equal((await postJson(`${b.url}/v1/resume`, {})).status, 200);
  await waitForStatus(b.url, (s) => s.step === 5);
  t.equal(await metric(b.url, 'hessflow_paused'), 0, 'hessflow_paused 0 after resume');
  b.proc.kill('SIGTERM');
  t.equal(await b.exited, 0);

  // running at the last checkpoint: the next start runs
  const c = await spawnDaemon(t, config);
  t.match(
    c.lines.find((l) => l.event === 'resumed'),
    { step: 5, paused: false },
  );
  t.equal((await postJson(`${c.url}/v1/batches`, validBatch(2, 5))).status, 200);
  await waitForStatus(c.url, (s) => s.step === 6);
  c.proc.kill('SIGTERM');
  t.equal(await c.exited, 0);
});
