/**
 * The daemon trains any optimizer of the catalog, a matrix-aware one included: Muon on the test MLP (its
 * hidden [6, 8] weight is a matrix, the rest goes to the auxiliary AdamW), with its numeric hyperparameters
 * changeable at run time and its flags not. A real daemon over a real socket.
 */
import t from 'tap';
import {
  FrameClient,
  daemonConfig,
  packr,
  postJson,
  scratchDir,
  spawnDaemon,
  validBatch,
  waitForStatus,
  weights,
  writeConfig,
} from './fixtures/daemon.js';

t.test('trainer engine: Muon trains, adamLr changes at run time, nesterov does not', async (t) => {
  const dir = await scratchDir(t);
  const config = await writeConfig(
    dir,
    daemonConfig(dir, {
      optimizer: { name: 'muon', lr: 0.02, adamLr: 0.01 },
      curvature: undefined,
      checkpointEvery: 0,
    }),
  );
  const d = await spawnDaemon(t, config);
  const before = await weights(d.url);
  const c = await FrameClient.connect(d.socketPort);
  t.teardown(() => c.close());
  for (let k = 0; k < 3; k++) c.send(packr.pack(validBatch(2, k)));
  const s = await waitForStatus(d.url, (x) => x.step === 3);
  t.match(s.optimizer, { name: 'muon', hyperparams: { lr: 0.02, adamLr: 0.01 } });
  t.not(Buffer.compare(before, await weights(d.url)), 0, 'the weights moved');
  const ok = await postJson(`${d.url}/v1/hyperparams`, { adamLr: 0.005 });
  t.equal(ok.status, 200, 'a numeric hyperparameter is injectable');
  const flag = await postJson(`${d.url}/v1/hyperparams`, { nesterov: false });
  t.equal(flag.status, 400, 'a flag is fixed at start');
  c.send(packr.pack(validBatch(2, 3)));
  const after = await waitForStatus(d.url, (x) => x.step === 4);
  t.equal((after.optimizer as { hyperparams: Record<string, number> }).hyperparams.adamLr, 0.005);
  t.equal(after.skipped, 0, 'no step skipped');
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});
