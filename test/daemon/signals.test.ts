/**
 * #21 item 3: signals during graceful shutdown. A second SIGTERM/SIGINT while the daemon stops must not
 * kill it before the final checkpoint (which holds the acknowledged queue) is written; SIGHUP stops it
 * gracefully too. Checked by effect: after a restart every acknowledged batch is queued.
 */
import t from 'tap';
import {
  FrameClient,
  daemonConfig,
  packr,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  writeConfig,
} from './fixtures/daemon.js';

const cases: [string, NodeJS.Signals[]][] = [
  ['SIGTERM then SIGTERM, SIGINT, SIGHUP at once', ['SIGTERM', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGTERM']],
  ['SIGINT then SIGINT', ['SIGINT', 'SIGINT']],
  ['SIGHUP alone', ['SIGHUP']],
];

for (const [name, signals] of cases) {
  t.test(name, async (t) => {
    const dir = await scratchDir(t);
    const config = await writeConfig(dir, daemonConfig(dir, { queueLimit: 64 }));
    const d = await spawnDaemon(t, config);
    await fetch(`${d.url}/v1/pause`, { method: 'POST' }).then((r) => r.arrayBuffer());
    const c = await FrameClient.connect(d.socketPort);
    for (let k = 0; k < 60; k++) c.send(packr.pack(validBatch(2, k)));
    await c.waitFor(() => c.acks.length === 60);
    c.close();
    t.equal((await status(d.url)).queueDepth, 60, '60 acknowledged, queued');
    // The first signal starts the stop; the others are sent once it has begun. (Sent all at once, two
    // signals of one kind may reach the process as one: pending POSIX signals of a kind coalesce.)
    const [first, ...more] = signals;
    d.proc.kill(first);
    await d.waitForLine((l) => l.event === 'stopping');
    const during = d.proc.exitCode === null && d.proc.signalCode === null;
    for (const s of more) d.proc.kill(s);
    const sentAt = Date.now();
    t.equal(await d.exited, 0, 'exits 0 after the graceful stop');
    // A stop that ends within moments of the extra signals may exit before their handler runs; one
    // that outlasts them must have logged them.
    const outlasted = Date.now() - sentAt > 100;
    t.ok(
      d.lines.some((l) => l.event === 'stopped'),
      'the final checkpoint was written',
    );
    if (more.length > 0 && during && outlasted)
      t.ok(
        d.lines.some((l) => l.event === 'signal_ignored'),
        'the extra signals are logged as ignored',
      );
    const d2 = await spawnDaemon(t, config);
    const s = await status(d2.url);
    t.equal(s.queueDepth, 60, 'all 60 acknowledged batches are back in the queue');
    t.equal(s.nextSeq, 61);
    d2.proc.kill('SIGTERM');
    t.equal(await d2.exited, 0);
  });
}
