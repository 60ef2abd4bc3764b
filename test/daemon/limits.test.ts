/**
 * #21 item 5: connection limits and timeouts on the unauthenticated ports. Connections holding partial
 * frames are cut off after socketIdleTimeoutMs (answered idle_timeout), connections past maxConnections are
 * refused (too_many_connections), and a stalled HTTP body is cut off after httpRequestTimeoutMs (408), so
 * none of them can pin memory for ever. The daemon keeps training meanwhile.
 */
import net from 'node:net';
import t from 'tap';
import {
  FrameClient,
  daemonConfig,
  packr,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

t.test('socket: connection cap and idle timeout; HTTP: request timeout', async (t) => {
  const dir = await scratchDir(t);
  const config = await writeConfig(
    dir,
    daemonConfig(dir, {
      maxConnections: 3,
      socketIdleTimeoutMs: 700,
      httpRequestTimeoutMs: 800,
    }),
  );
  const d = await spawnDaemon(t, config);
  // three connections each holding the start of a frame (4-byte length of 4000, 10 bytes of payload)
  const held: FrameClient[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await FrameClient.connect(d.socketPort);
    t.teardown(() => c.close());
    const head = Buffer.alloc(14);
    head.writeUInt32BE(4000, 0);
    c.socket.write(head);
    held.push(c);
  }
  await new Promise((r) => setTimeout(r, 100));
  const extra = await FrameClient.connect(d.socketPort);
  t.teardown(() => extra.close());
  await extra.waitFor(() => extra.closed, 5000);
  t.match(extra.acks, [{ reason: 'too_many_connections' }], 'the 4th connection is refused with a reason');

  for (const c of held) await c.waitFor(() => c.closed, 5000);
  for (const c of held) t.match(c.acks, [{ reason: 'idle_timeout' }], 'a stalled partial frame is cut off');

  // the slots are free again: a producer trains
  const p = await FrameClient.connect(d.socketPort);
  t.teardown(() => p.close());
  for (let k = 0; k < 4; k++) p.send(packr.pack(validBatch(2, k)));
  await p.waitFor(() => p.acks.length === 4);
  t.same(
    p.acks.map((a) => a.seq),
    [1, 2, 3, 4],
  );
  await waitForStatus(d.url, (s) => s.step === 4);

  // HTTP: a body that never completes is answered 408 and the connection closed
  const raw = net.connect(d.httpPort, '127.0.0.1');
  t.teardown(() => raw.destroy());
  let answer = '';
  raw.setEncoding('utf8').on('data', (s: string) => (answer += s));
  const closed = new Promise<void>((r) => raw.on('close', () => r()));
  raw.on('error', () => undefined);
  raw.write(
    'POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"inp',
  );
  const t0 = Date.now();
  await closed;
  t.ok(Date.now() - t0 < 5000, `closed after ${Date.now() - t0} ms`);
  t.match(answer, /^HTTP\/1\.1 408/, 'answered 408');
  t.equal((await status(d.url)).step, 4, 'still serving');
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});

t.test('the defaults are safe: finite timeouts and caps', async (t) => {
  const { validateDaemonConfig } = await import('../../src/daemon/config.js');
  const c = validateDaemonConfig({
    model: { kind: 'mlp', sizes: [8, 6, 3] },
    optimizer: { name: 'adamw', lr: 0.01 },
    checkpointDir: '/tmp/x',
  });
  t.match(c, {
    maxConnections: 64,
    socketIdleTimeoutMs: 60_000,
    httpMaxConnections: 256,
    httpRequestTimeoutMs: 30_000,
    httpIdleTimeoutMs: 60_000,
  });
});
