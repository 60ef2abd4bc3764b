/**
 * #21 item 13: binding a non-loopback address without a token is warned about; a token put in a query
 * string never reaches the logs.
 */
import t from 'tap';
import { daemonConfig, scratchDir, spawnDaemon, writeConfig } from './fixtures/daemon.js';

t.test('a non-loopback host without a token is warned about', async (t) => {
  const dir = await scratchDir(t);
  const d = await spawnDaemon(t, await writeConfig(dir, daemonConfig(dir, { host: '0.0.0.0' })));
  t.ok(
    d.lines.some((l) => l.event === 'insecure_bind' && l.level === 40),
    'a warning line',
  );
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
  const d2 = await spawnDaemon(t, await writeConfig(dir, daemonConfig(dir), 'local.json'));
  t.notOk(
    d2.lines.some((l) => l.event === 'insecure_bind'),
    'none on 127.0.0.1',
  );
  d2.proc.kill('SIGTERM');
  t.equal(await d2.exited, 0);
});

t.test('tokens in a query string never reach the logs', async (t) => {
  const dir = await scratchDir(t);
  const secret = 'S3CRET-in-the-query';
  const d = await spawnDaemon(t, await writeConfig(dir, daemonConfig(dir, { token: 'the-real-token-1' })));
  const urls = [
    `/v1/pause?token=${secret}`,
    `/v1/nope?access_token=${secret}`,
    `/v1/hyperparams?token=${secret}`,
    `/v1/batches?token=${secret}`,
  ];
  for (const u of urls) {
    const r = await fetch(`${d.url}${u}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    t.ok(r.status >= 400, `${u} refused (${r.status})`);
    t.notMatch(await r.text(), secret, 'not echoed');
  }
  await new Promise((r) => setTimeout(r, 200));
  t.ok(d.lines.filter((l) => String(l.msg).startsWith('rejected')).length >= 4, 'the rejections are logged');
  t.notMatch(JSON.stringify(d.lines) + d.stderr(), secret, 'the secret is in no log line');
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});
