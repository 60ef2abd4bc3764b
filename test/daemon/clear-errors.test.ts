/**
 * #21 item 11: errors name what is actually wrong. A dimension sent as a string, an impossible dimension
 * (blamed on inputShape, not targetShape), an id of the wrong type (refused, not silently dropped), and
 * errors of Node's HTTP parser: answered {error, reason} and counted like every other rejection.
 */
import net from 'node:net';
import t from 'tap';
import {
  FrameClient,
  daemonConfig,
  packr,
  postJson,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  writeConfig,
} from './fixtures/daemon.js';

async function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('utf8').on('data', (d: string) => (out += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(out));
    s.write(request);
  });
}

t.test('clear errors', async (t) => {
  const dir = await scratchDir(t);
  const d = await spawnDaemon(t, await writeConfig(dir, daemonConfig(dir)));
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['a dimension as a string', { inputShape: ['2', 8] }, 'shape', /inputShape\[0\].*the string "2"/],
    ['an impossible dimension', { inputShape: [1e308, 8] }, 'shape', /^inputShape\[0\].*1e\+308/],
    [
      'B disagreeing with inputs',
      { inputShape: [4, 8] },
      'length',
      /inputs has 16 values but inputShape \[4, 8\]/,
    ],
    ['an id object', { id: { a: 1 } }, 'bad_id', /id must be a string or a finite number, got an object/],
    ['an id null', { id: null }, 'bad_id', /got null/],
  ];
  for (const [name, patch, reason, error] of cases) {
    const r = await postJson(`${d.url}/v1/batches`, { ...validBatch(2, 1), ...patch });
    t.equal(r.status, 400, name);
    const body = (await r.json()) as { error: string; reason: string };
    t.equal(body.reason, reason, `${name}: reason`);
    t.match(body.error, error, `${name}: message`);
  }
  // the same over the socket
  const c = await FrameClient.connect(d.socketPort);
  t.teardown(() => c.close());
  c.send(packr.pack({ ...validBatch(2, 1), id: [1] }));
  await c.waitFor(() => c.acks.length === 1);
  t.match(c.acks[0], { reason: 'bad_id' });
  const ok = await postJson(`${d.url}/v1/batches`, { ...validBatch(2, 1), id: 'b-1' });
  t.equal(ok.status, 200, 'a string id is fine');

  // Node's HTTP parser errors
  const bad = await rawHttp(d.httpPort, 'NONSENSE / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(bad, /^HTTP\/1\.1 400/, 'a parser error is 400');
  const json = JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4)) as { error: string; reason: string };
  t.equal(json.reason, 'http_parse', 'with a reason');
  t.match(json.error, /not valid HTTP/);
  const cl = await rawHttp(
    d.httpPort,
    'POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello',
  );
  t.match(cl, /^HTTP\/1\.1 400[^]*"reason":"http_parse"/, 'conflicting Content-Length too');
  const m = await (await fetch(`${d.url}/metrics`)).text();
  t.match(m, /hessflow_rejected_inputs_total\{reason="http_parse"\} 2/, 'counted');
  t.match(m, /hessflow_rejected_inputs_total\{reason="bad_id"\} 3/);
  t.equal((await status(d.url)).nextSeq, 2, 'only the valid batch acknowledged');
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});
