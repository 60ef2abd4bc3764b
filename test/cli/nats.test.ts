/**
 * `hessflow publish` and `hessflow train --source nats://…` as a user runs them (the CLI process, through
 * tsx), against a real nats-server: publish is idempotent (message ids), training consumes the stream and
 * a second run on the same directory resumes after the last applied sequence, with the pipeline or the
 * Trainer (`--engine trainer`, whose θ equals a plain `hessflow train --engine trainer` bit for bit); a
 * token passed through a file never reaches the output; bad URLs are usage errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseNatsSourceUrl } from '../../src/cli/nats-source-url.js';
import { loadCheckpoint } from '../../src/io/checkpoint-file.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';

const skip = natsSkipReason();

function hessflow(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: process.cwd(),
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A scratch directory with a small MNIST run config in it (`overrides` on top), removed at the end. */
async function mnistConfig(
  t: { teardown(f: () => unknown): void },
  overrides: Record<string, unknown>,
): Promise<{ dir: string; config: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-cli-nats-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.json');
  const base = {
    model: { kind: 'mlp', sizes: [784, 16, 10] },
    data: { name: 'mnist', evalSize: 64 },
    batchSize: 8,
    evalEvery: 100,
  };
  await writeFile(config, JSON.stringify({ ...base, ...overrides }));
  return { dir, config };
}

/** The (step, stream sequence) pairs of a run directory's metrics.ndjson, in order. */
async function stepSequences(runDir: string): Promise<[number, number][]> {
  return (await readFile(join(runDir, 'metrics.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; seq: number })
    .map((m) => [m.step, m.seq]);
}

t.test('nats:// URLs', async (t) => {
  t.same(parseNatsSourceUrl('nats://127.0.0.1:4222/TRAIN'), {
    servers: ['nats://127.0.0.1:4222'],
    stream: 'TRAIN',
  });
  t.same(parseNatsSourceUrl('nats://a:1,b:2/S?consumer=c1&subject=x.y'), {
    servers: ['nats://a:1', 'nats://b:2'],
    stream: 'S',
    consumer: 'c1',
    subject: 'x.y',
  });
  t.throws(() => parseNatsSourceUrl('nats://tok@127.0.0.1:4222/S'), /carries credentials/);
  t.throws(() => parseNatsSourceUrl('http://127.0.0.1/S'), /expected nats:\/\/host:port\/STREAM/);
  t.throws(() => parseNatsSourceUrl('nats://h:1/S?foo=1'), /unknown parameter/);
});

t.test(
  'publish, train from the stream, publish again (nothing new), resume',
  { skip, timeout: 600_000 },
  async (t) => {
    const token = `tok-${Math.random().toString(36).slice(2)}`;
    const srv = await startNatsServer(t, { token });
    const { dir, config } = await mnistConfig(t, {
      name: 'cli-nats',
      optimizer: { name: 'adamw', lr: 0.001 },
      steps: 12,
      seed: 2,
    });
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, token);
    const to = `nats://127.0.0.1:${srv.port}/CLI`;
    const pub = hessflow(['publish', '--to', to, '--config', config, '--json', '--token-file', tokenFile]);
    t.equal(pub.code, 0, pub.stderr);
    const p1 = JSON.parse(pub.stdout) as { published: number; duplicates: number; lastSeq: number };
    t.same([p1.published, p1.duplicates, p1.lastSeq], [12, 0, 12], 'twelve batches published');
    const again = hessflow(['publish', '--to', to, '--config', config, '--json', '--token-file', tokenFile]);
    const p2 = JSON.parse(again.stdout) as { published: number; duplicates: number };
    t.same([p2.published, p2.duplicates], [0, 12], 'a re-run publishes nothing new (same message ids)');

    const out = join(dir, 'run');
    const first = hessflow(
      [
        'train',
        '--config',
        config,
        '--source',
        to,
        '--out',
        out,
        '--steps',
        '5',
        '--checkpoint-every',
        '2',
        '--json',
      ],
      { HF_TOKEN: token },
    );
    t.equal(first.code, 1, 'without a token the server refuses');
    t.notOk(first.stdout.includes(token) || first.stderr.includes(token), 'the token is not in the output');
    const run1 = hessflow(
      [
        'train',
        '--config',
        config,
        '--source',
        to,
        '--out',
        out,
        '--steps',
        '5',
        '--checkpoint-every',
        '2',
        '--json',
        '--token-env',
        'HF_TOKEN',
        '--workers',
        '1',
      ],
      { HF_TOKEN: token },
    );
    t.equal(run1.code, 0, run1.stderr);
    const s1 = JSON.parse(run1.stdout) as { steps: number; lastSeq: number; resumedFrom: { step: number } };
    t.same([s1.steps, s1.lastSeq, s1.resumedFrom.step], [5, 5, 0], 'five steps from the stream');
    const run2 = hessflow([
      'train',
      '--config',
      config,
      '--source',
      to,
      '--out',
      out,
      '--checkpoint-every',
      '4',
      '--token-file',
      tokenFile,
      '--workers',
      '1',
      '--no-progress',
    ]);
    t.equal(run2.code, 0, run2.stderr);
    t.match(run2.stderr, /resuming at step 5, after stream sequence 5/);
    t.match(run2.stdout, /12 steps \(resumed at 5\)/);
    t.match(run2.stdout, /last applied sequence\s+12/);
    t.same(
      await stepSequences(out),
      Array.from({ length: 12 }, (_, k) => [k, k + 1]),
      'metrics: step k from message k + 1',
    );
    for (const r of [pub, again, first, run1, run2])
      t.notOk(r.stdout.includes(token) || r.stderr.includes(token), 'the token never appears in any output');
  },
);

t.test(
  'train --source --engine trainer: resumed from the stream, θ equals `hessflow train --engine trainer`',
  { skip, timeout: 600_000 },
  async (t) => {
    const srv = await startNatsServer(t);
    const { dir, config } = await mnistConfig(t, {
      name: 'cli-nats-trainer',
      optimizer: { name: 'sophiaG', lr: 0.002, rho: 0.04 },
      curvature: { estimator: 'gnb', every: 3 },
      steps: 10,
      seed: 4,
    });
    const to = `nats://127.0.0.1:${srv.port}/TR`;
    const pub = hessflow(['publish', '--to', to, '--config', config, '--json']);
    t.equal(pub.code, 0, pub.stderr);
    const out = join(dir, 'run');
    const train = (extra: string[]) =>
      hessflow(['train', '--config', config, '--source', to, '--out', out, '--json', ...extra]);
    const bad = train(['--engine', 'trainer', '--workers', '2']);
    t.equal(bad.code, 2, 'workers with the Trainer is a usage error');
    t.match(bad.stderr, /--workers and --shards are for the pipeline engine/);
    const run1 = train(['--engine', 'trainer', '--steps', '4', '--checkpoint-every', '3']);
    t.equal(run1.code, 0, run1.stderr);
    const s1 = JSON.parse(run1.stdout) as { steps: number; lastSeq: number; engine: string };
    t.same([s1.steps, s1.lastSeq, s1.engine], [4, 4, 'trainer'], 'four steps through the Trainer');
    const other = train(['--engine', 'pipeline']);
    t.equal(other.code, 1, 'resuming with the other engine is refused');
    t.match(other.stderr, /was trained with the trainer engine, not pipeline/);
    const run2 = train(['--engine', 'trainer', '--checkpoint-every', '3']);
    t.equal(run2.code, 0, run2.stderr);
    const s2 = JSON.parse(run2.stdout) as { steps: number; lastSeq: number; resumedFrom: { step: number } };
    t.same([s2.steps, s2.lastSeq, s2.resumedFrom.step], [10, 10, 4], 'resumed at 4, on to 10');
    t.same(
      await stepSequences(out),
      Array.from({ length: 10 }, (_, k) => [k, k + 1]),
      'step k from message k + 1, each once',
    );
    // publish sent the config's batches 0..9 in order: the plain Trainer run trains the same ones.
    const plainDir = join(dir, 'plain');
    const plain = hessflow(['train', '--config', config, '--engine', 'trainer', '--out', plainDir, '--json']);
    t.equal(plain.code, 0, plain.stderr);
    const streamed = await loadCheckpoint(join(out, 'checkpoint.hfckpt'));
    const direct = await loadCheckpoint(join(plainDir, 'checkpoint.hfckpt'));
    t.equal(direct.step, 10);
    t.ok(
      Buffer.from(streamed.params.buffer).equals(Buffer.from(direct.params.buffer)),
      'θ from the stream (stopped and resumed) equals the plain Trainer run bit for bit',
    );
  },
);
