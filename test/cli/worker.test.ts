/**
 * `hessflow worker` as a user runs it: a bad run name is a usage error (exit 2); an unreachable broker
 * exits 1 naming the server; a URL with credentials is refused without printing them; SIGINT stops a
 * serving worker cleanly (exit 0).
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { interruptHessflow, repoRoot } from '../helpers/hessflow-cli.js';
import { freePort, natsSkipReason, startNatsServer } from '../helpers/nats-server.js';

const hessflow = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', ...env },
  });

t.test('bad arguments and an unreachable broker', async (t) => {
  const badRun = hessflow(['--nats', 'nats://127.0.0.1:1', '--run', 'a.b']);
  t.equal(badRun.status, 2);
  t.match(badRun.stderr, /--run "a.b": must be 1 to 64 letters, digits, "_" or "-"/);
  const badThreads = hessflow(['--nats', 'nats://127.0.0.1:1', '--threads', '0']);
  t.equal(badThreads.status, 2);
  t.match(badThreads.stderr, /--threads.*must be a positive integer/);
  const port = await freePort();
  const down = hessflow(['--nats', `nats://127.0.0.1:${port}`, '--run', 'x']);
  t.equal(down.status, 1);
  t.match(down.stderr, new RegExp(`cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}`));
  const creds = hessflow(['--nats', 'nats://user:hunter2@127.0.0.1:1']);
  t.equal(creds.status, 1);
  t.match(
    creds.stderr,
    /^hessflow worker: NATS server address nats:\/\/\*\*\*@127\.0\.0\.1:1 carries credentials/,
  );
  t.notMatch(creds.stderr, 'hunter2', 'the password is not printed');
  const noFile = hessflow(['--nats', `nats://127.0.0.1:${port}`, '--token-file', '/nonexistent/token']);
  t.equal(noFile.status, 1);
  t.match(noFile.stderr, /cannot read the NATS token file \/nonexistent\/token: ENOENT/);
});

t.test('SIGINT stops a serving worker cleanly', { skip: natsSkipReason() }, async (t) => {
  const nats = await startNatsServer(t);
  const r = await interruptHessflow(
    ['worker', '--nats', nats.url, '--run', 'cli', '--threads', '1'],
    /serving run cli/,
  );
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /worker \S+: stopped \(SIGINT\) after 0 gradient and 0 probe tasks/);
});
