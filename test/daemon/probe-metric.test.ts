import t from 'tap';
import {
  daemonConfig,
  postJson,
  scratchDir,
  spawnDaemon,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

/** `name{labels} value` lines of one metric family in Prometheus text. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

t.test('/metrics has a probe-duration histogram with one observation per launched probe', async (t) => {
  const dir = await scratchDir(t);
  // every 3, first launch at 3: steps 3, 6, 9 of 0..10 probe
  const config = await writeConfig(
    dir,
    daemonConfig(dir, { curvature: { estimator: 'gnb', every: 3 }, checkpointEvery: 0 }),
  );
  const d = await spawnDaemon(t, config);
  for (let k = 0; k < 11; k++) t.equal((await postJson(`${d.url}/v1/batches`, validBatch(2, k))).status, 200);
  await waitForStatus(d.url, (s) => s.step === 11);
  const text = await (await fetch(`${d.url}/metrics`)).text();
  t.match(text, /# TYPE hessflow_probe_duration_seconds histogram/);
  const probe = samples(text, 'hessflow_probe_duration_seconds');
  t.equal(probe.get('hessflow_probe_duration_seconds_count{estimator="gnb"}'), 3, 'three probes');
  const sum = probe.get('hessflow_probe_duration_seconds_sum{estimator="gnb"}')!;
  const steps = samples(text, 'hessflow_step_duration_seconds');
  const stepSum = steps.get('hessflow_step_duration_seconds_sum')!;
  t.equal(steps.get('hessflow_step_duration_seconds_count'), 11);
  t.ok(sum > 0 && sum < stepSum, `probe time ${sum} s is part of the step time ${stepSum} s`);
  t.equal(probe.get('hessflow_probe_duration_seconds_bucket{le="+Inf",estimator="gnb"}'), 3);
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
});
