/**
 * #21 item 4: a producer that writes its frames and half-closes (FIN) while the queue is full still gets
 * an answer for every complete frame, and each acknowledged batch is applied; only an incomplete frame at
 * the end is reported (truncated_frame).
 */
import t from 'tap';
import {
  FrameClient,
  daemonConfig,
  frame,
  packr,
  scratchDir,
  spawnDaemon,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

t.test('half-close with the queue full: every complete frame is answered and applied', async (t) => {
  const dir = await scratchDir(t);
  const config = await writeConfig(dir, daemonConfig(dir, { queueLimit: 8, checkpointEvery: 0 }));
  const d = await spawnDaemon(t, config);
  const c = await FrameClient.connect(d.socketPort);
  t.teardown(() => c.close());
  const N = 300;
  const frames = Buffer.concat(Array.from({ length: N }, (_, k) => frame(packr.pack(validBatch(2, k)))));
  // and 5 bytes of a frame that never completes
  const tail = frame(packr.pack(validBatch(2, 999))).subarray(0, 5);
  c.socket.end(Buffer.concat([frames, tail]));
  await c.waitFor(() => c.closed, 60_000);
  t.equal(c.acks.length, N + 1, 'every frame answered, then the truncated tail');
  t.same(
    c.acks.slice(0, N).map((a) => a.seq),
    Array.from({ length: N }, (_, k) => k + 1),
    'in order, all acknowledged',
  );
  t.match(c.acks[N], { reason: 'truncated_frame' });
  const s = await waitForStatus(d.url, (x) => x.step === N, 60_000);
  t.equal(s.queueDepth, 0, 'every acknowledged batch applied');
  const m = await (await fetch(`${d.url}/metrics`)).text();
  t.match(m, /hessflow_rejected_inputs_total\{reason="truncated_frame"\} 1\n/, 'one truncated frame counted');
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});
