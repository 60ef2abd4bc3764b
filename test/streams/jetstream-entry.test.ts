/**
 * `hessflow/jetstream`, the JetStream source's own entry (src/jetstream.ts): the package exports it, it is
 * the source of src/streams/from-jetstream.ts, and without the NATS client packages (made unresolvable by
 * test/helpers/hide-nats.mjs, as in an install with --omit=optional) importing it fails with an error that
 * names the missing package and the install command, as `hessflow publish` does.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  MissingNatsPackageError,
  importWithNats,
  missingNatsPackage,
} from '../../src/streams/nats-packages.js';
import { fromJetStream } from '../../src/streams/from-jetstream.js';

const root = process.cwd();

/** Runs `code` (an ES module) in a child with tsx, the NATS packages hidden when `hide`. */
function run(code: string, hide: boolean) {
  return spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      ...(hide ? ['--import', join(root, 'test/helpers/hide-nats.mjs')] : []),
      '--input-type=module',
      '-e',
      code,
    ],
    { cwd: root, encoding: 'utf8' },
  );
}

t.test('package.json exports hessflow/jetstream from the build of src/jetstream.ts', async (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, Record<string, string>>;
  };
  t.same(pkg.exports['./jetstream'], {
    types: './dist/src/jetstream.d.ts',
    import: './dist/src/jetstream.js',
    require: './dist/src/require-error.cjs',
  });
  const entry = (await import('../../src/jetstream.js')) as Record<string, unknown>;
  t.equal(entry.fromJetStream, fromJetStream, 'the entry gives the JetStream source');
  t.type(entry.JetStreamSourceError, 'function');
});

t.test('without the NATS packages the entry names the missing one and how to install', async (t) => {
  const code = `await import(${JSON.stringify(join(root, 'src/jetstream.ts'))});`;
  const hidden = run(code, true);
  t.not(hidden.status, 0, 'the import fails');
  t.match(
    hidden.stderr,
    /MissingNatsPackageError: hessflow\/jetstream needs the optional package '@nats-io\/(jetstream|transport-node)'/,
  );
  t.match(hidden.stderr, /npm install @nats-io\/transport-node @nats-io\/jetstream/);
  // The same command with the packages present: the hiding alone made the difference.
  const present = run(`${code} console.log('ok');`, false);
  t.equal(present.status, 0, present.stderr);
  t.match(present.stdout, /ok/);
  // The CLI's loader says the same for its commands.
  const cli = run(
    `const { loadNatsModule } = await import(${JSON.stringify(join(root, 'src/cli/nats-modules.ts'))});
     try { await loadNatsModule(() => import(${JSON.stringify(join(root, 'src/cli/publish.ts'))}), 'publish'); }
     catch (e) { console.log(e.name + ': ' + e.message); }`,
    true,
  );
  t.match(
    cli.stdout,
    /UsageError: publish needs the NATS client packages \('@nats-io\/[a-z-]+' is missing\)/,
  );
});

t.test('importWithNats: only a missing @nats-io package is renamed', async (t) => {
  const missing = Object.assign(
    new Error("Cannot find package '@nats-io/jetstream' imported from /x/from-jetstream.js"),
    { code: 'ERR_MODULE_NOT_FOUND' },
  );
  t.equal(missingNatsPackage(missing), '@nats-io/jetstream');
  await t.rejects(
    importWithNats(() => Promise.reject(missing), 'X'),
    MissingNatsPackageError,
  );
  await t.rejects(
    importWithNats(() => Promise.reject(missing), 'X'),
    /X needs the optional package '@nats-io\/jetstream'/,
  );
  const other = Object.assign(new Error("Cannot find package 'left-pad' imported from /x.js"), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
  t.equal(missingNatsPackage(other), null);
  await t.rejects(
    importWithNats(() => Promise.reject(other), 'X'),
    other,
    'other errors unchanged',
  );
  const boom = new Error('boom');
  await t.rejects(
    importWithNats(() => Promise.reject(boom), 'X'),
    boom,
  );
  t.equal(await importWithNats(() => Promise.resolve(7), 'X'), 7);
});
