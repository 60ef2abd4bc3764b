/**
 * Package hygiene, checked on the built package (dist/) the way users meet it: what `npm pack` ships, that
 * importing the library loads none of the heavy optional packages, the ESM-only error of require(), the
 * launcher's message before a build, and a CLI that survives a reader closing its pipe.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { MissingOptionalDependencyError, OPTIONAL_PACKAGES } from '../../src/util/optional-dependency.js';
import { distIndex, ensureBuilt, repoRoot } from './built.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
  scripts: Record<string, string>;
  files: string[];
  exports: Record<string, unknown>;
};
const HEAVY = Object.keys(OPTIONAL_PACKAGES);

t.before(ensureBuilt);

/** Runs `code` (an ES module) in a child that records every module it loads; returns the loaded paths. */
function loadsOf(
  code: string,
  args: string[] = [],
): { loads: string[]; status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hessflow-loads-'));
  const out = join(dir, 'loads.txt');
  try {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        join(repoRoot, 'test/helpers/record-loads.mjs'),
        ...(code ? ['--input-type=module', '-e', code] : args),
      ],
      { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, HESSFLOW_RECORD_LOADS: out } },
    );
    const loads = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
    return { loads, status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const heavyIn = (loads: string[]) =>
  HEAVY.filter((name) => loads.some((p) => p.includes(`/node_modules/${name}/`)));

t.test('the heavy packages are optional dependencies, none a dependency', async (t) => {
  for (const name of HEAVY) {
    t.ok(pkg.optionalDependencies[name], `${name} is an optional dependency`);
    t.notOk(pkg.dependencies[name], `${name} is not a dependency`);
  }
});

t.test('importing the library entry loads none of the heavy packages', async (t) => {
  const r = loadsOf(
    `const h = await import(${JSON.stringify(distIndex)}); if (typeof h.adamw !== 'function') process.exit(3);`,
  );
  t.equal(r.status, 0, r.stderr);
  t.ok(
    r.loads.some((p) => p.includes('/node_modules/rxjs/')),
    'the recorder sees ESM loads (rxjs)',
  );
  t.ok(
    r.loads.some((p) => p.includes('/node_modules/msgpackr/')),
    'the recorder sees CommonJS loads (msgpackr)',
  );
  t.same(heavyIn(r.loads), [], 'no heavy package loaded');
});

t.test('the CLI loads them only when a command needs them', async (t) => {
  const help = loadsOf('', [join(repoRoot, 'dist/src/cli/main.js'), '--help']);
  t.equal(help.status, 0, help.stderr);
  t.same(heavyIn(help.loads), [], '`hessflow --help` loads no heavy package');
  const mnist = loadsOf(`const h = await import(${JSON.stringify(distIndex)}); h.loadMnist();`);
  t.equal(mnist.status, 0, mnist.stderr);
  t.same(heavyIn(mnist.loads), ['mnist'], 'loadMnist() loads mnist (and the recorder sees it)');
});

t.test('a missing optional package is named with the command that installs it', async (t) => {
  const e = new MissingOptionalDependencyError('fastify');
  t.match(e.message, /the daemon HTTP API needs the optional package 'fastify'/);
  t.match(e.message, /npm install fastify/);
});

t.test("require('hessflow') fails with a clear ESM-only error", async (t) => {
  t.equal((pkg.exports['.'] as Record<string, string>).require, './dist/src/require-error.cjs');
  const r = spawnSync(process.execPath, ['-e', "require('hessflow')"], { cwd: repoRoot, encoding: 'utf8' });
  t.not(r.status, 0);
  t.match(r.stderr, /hessflow is an ES module only package and cannot be loaded with require\(\)/);
});

t.test('the launcher says to build when dist is missing, and runs the CLI when it is not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hessflow-unbuilt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(repoRoot, 'bin/hessflow.js'), join(dir, 'bin/hessflow.js'));
  copyFileSync(join(repoRoot, 'package.json'), join(dir, 'package.json'));
  const unbuilt = spawnSync(process.execPath, [join(dir, 'bin/hessflow.js'), '--help'], { encoding: 'utf8' });
  t.equal(unbuilt.status, 1);
  t.match(unbuilt.stderr, /not built .*Run `npm run build`/s);
  const built = spawnSync(process.execPath, [join(repoRoot, 'bin/hessflow.js'), '--version'], {
    encoding: 'utf8',
  });
  t.equal(built.status, 0, built.stderr);
  t.equal(built.stdout.trim(), JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);
});

t.test('`hessflow --help | head` : a reader that closes the pipe early is no crash', async (t) => {
  for (let i = 0; i < 3; i++) {
    const child = spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone before the help is written
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    t.equal(code, 0, `exit 0 (stderr: ${stderr})`);
    t.notMatch(stderr, /EPIPE/);
  }
});

t.test('npm pack ships the built code, its types, LICENSE and source maps with their sources', async (t) => {
  t.match(pkg.scripts.prepack, /npm run build/, 'prepack builds');
  t.ok(existsSync(join(repoRoot, 'LICENSE')), 'LICENSE exists');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
  for (const f of [
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
    'dist/src/require-error.cjs',
    'bin/hessflow.js',
    'config/quickstart.json',
    'LICENSE',
    'README.md',
    'package.json',
  ])
    t.ok(files.includes(f), `ships ${f}`);
  t.same(
    files.filter((f) => !/^(dist\/src\/|bin\/|config\/|LICENSE$|README\.md$|package\.json$)/.test(f)),
    [],
    'ships nothing outside `files`',
  );
  t.same(
    files.filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts')),
    [],
    'no TypeScript sources',
  );
  const maps = files.filter((f) => f.endsWith('.js.map'));
  t.ok(maps.length > 100, `${maps.length} source maps`);
  const withoutSources = maps.filter((f) => {
    const map = JSON.parse(readFileSync(join(repoRoot, f), 'utf8')) as {
      sources: string[];
      sourcesContent?: string[];
    };
    return map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((s) => !s);
  });
  t.same(withoutSources, [], 'every source map carries its sources (sourcesContent)');
});
