/**
 * #21 item 6: one valid but extreme batch must not write a non-finite value into the optimizer state.
 * The step whose new state is not finite is skipped: θ and the state stay as they were, later batches
 * train, and no checkpoint holds an infinity. Real daemons (both engines) over real sockets.
 */
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import {
  FrameClient,
  daemonConfig,
  packr,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  waitForStatus,
  weights,
  writeConfig,
} from './fixtures/daemon.js';

/** The tensor bytes of a safetensors file (its header carries the step, which moves on). */
async function theta(url: string): Promise<Buffer> {
  const b = await weights(url);
  return b.subarray(8 + Number(b.readBigUInt64LE(0)));
}

function nonFiniteIn(v: unknown, path = 'optState', out: string[] = []): string[] {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) out.push(path);
  } else if (v instanceof Float32Array || v instanceof Float64Array) {
    const i = v.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) out.push(`${path}[${i}] = ${v[i]}`);
  } else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v))
    for (const [k, x] of Object.entries(v)) nonFiniteIn(x, `${path}.${k}`, out);
  return out;
}

for (const engine of ['trainer', 'pipeline'] as const) {
  t.test(`${engine} engine, adamw: an extreme batch is skipped, state stays finite`, async (t) => {
    const dir = await scratchDir(t);
    const extra = engine === 'pipeline' ? { engine, workers: 1, shards: 1 } : { engine };
    const config = await writeConfig(
      dir,
      daemonConfig(dir, {
        ...extra,
        // relu passes the huge pre-activation through: the gradient is finite (~2e38), its square is not
        model: { kind: 'mlp', sizes: [8, 6, 3], activation: 'relu' },
        optimizer: { name: 'adamw', lr: 0.01 },
        curvature: undefined,
        checkpointEvery: 0,
        // the batch below is refused by default (divergence.test.ts); this is the step rule without the bound
        maxFeatureMagnitude: 0,
      }),
    );
    const d = await spawnDaemon(t, config);
    const c = await FrameClient.connect(d.socketPort);
    t.teardown(() => c.close());
    for (let k = 0; k < 3; k++) c.send(packr.pack(validBatch(2, k)));
    await waitForStatus(d.url, (s) => s.step === 3);
    const before = await theta(d.url);
    const extreme = validBatch(2, 3);
    extreme.inputs = extreme.inputs.map(() => 3.4e38);
    c.send(packr.pack(extreme));
    await c.waitFor(() => c.acks.length === 4);
    t.same(c.acks[3], { seq: 4 }, 'the extreme batch is valid, and acknowledged');
    const s4 = await waitForStatus(d.url, (s) => s.step === 4);
    t.equal(s4.skipped, 1, 'its step is skipped');
    t.ok((await theta(d.url)).equals(before), 'θ unchanged by it');
    for (let k = 4; k < 10; k++) c.send(packr.pack(validBatch(2, k)));
    const s = await waitForStatus(d.url, (x) => x.step === 10);
    t.equal(s.skipped, 1, 'every later batch is applied');
    t.equal(s.paramsVersion, 9);
    t.notOk((await theta(d.url)).equals(before), 'and trains');
    const r = (await (await fetch(`${d.url}/v1/checkpoint`, { method: 'POST' })).json()) as { path: string };
    const ck = decodeCheckpoint(await readFile(r.path));
    t.same(nonFiniteIn(ck.optimizerState), [], 'the checkpointed optimizer state is finite');
    t.equal((await status(d.url)).skipped, 1);
    d.proc.kill('SIGTERM');
    t.equal(await d.exited, 0);
  });
}
