/**
 * `hessflow/jetstream` as users meet it: resolved through package.json `exports` to the built entry
 * (dist/), giving `fromJetStream`; with the NATS client packages hidden (test/helpers/hide-nats.mjs, as
 * an install with --omit=optional) the import fails naming the missing package and the install command.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { ensureBuilt, repoRoot } from './built.js';

t.before(ensureBuilt);

function importEntry(hide: boolean) {
  return spawnSync(
    process.execPath,
    [
      ...(hide ? ['--import', join(repoRoot, 'test/helpers/hide-nats.mjs')] : []),
      '--input-type=module',
      '-e',
      "const m = await import('hessflow/jetstream'); console.log(typeof m.fromJetStream);",
    ],
    { cwd: repoRoot, encoding: 'utf8' },
  );
}

t.test("import('hessflow/jetstream') resolves to the built JetStream source", async (t) => {
  const r = importEntry(false);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), 'function');
});

t.test('without @nats-io/* it names the missing package and how to install it', async (t) => {
  const r = importEntry(true);
  t.not(r.status, 0);
  t.match(
    r.stderr,
    /hessflow\/jetstream needs the optional package '@nats-io\/(jetstream|transport-node)', which is not installed/,
  );
  t.match(r.stderr, /npm install @nats-io\/transport-node @nats-io\/jetstream/);
});
