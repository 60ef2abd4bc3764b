/**
 * Every ```ts block of README.md compiles under `tsc --strict` against the built package, imported by
 * its name ('hessflow') from outside the repository the way a user's project imports it. A block with no
 * import statement continues the block before it (the README builds some examples up in steps).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ensureBuilt, repoRoot } from './built.js';

/** The README's TypeScript examples, continuation blocks joined to the block before them. */
export function readmeExamples(markdown: string): string[] {
  const examples: string[] = [];
  for (const m of markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const code = m[1];
    if (/^import\s/m.test(code) || examples.length === 0) examples.push(code);
    else examples[examples.length - 1] += `\n${code}`;
  }
  return examples;
}

t.test('every ts example in README.md compiles with tsc --strict against the built package', async (t) => {
  await ensureBuilt();
  const examples = readmeExamples(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  t.ok(examples.length >= 3, `found ${examples.length} examples`);
  const dir = mkdtempSync(join(tmpdir(), 'hessflow-readme-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A user's project: hessflow installed (a link to this package), plus what the examples import.
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(repoRoot, join(dir, 'node_modules', 'hessflow'));
  symlinkSync(join(repoRoot, 'node_modules', 'rxjs'), join(dir, 'node_modules', 'rxjs'));
  symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-examples', type: 'module' }));
  const files = examples.map((code, i) => {
    const file = `example-${i + 1}.ts`;
    writeFileSync(join(dir, file), code);
    return file;
  });
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [
    '--strict',
    '--noEmit',
    '--target',
    'ES2022',
    '--module',
    'NodeNext',
    '--types',
    'node',
    ...files,
  ];
  try {
    execFileSync(process.execPath, [tsc, ...args], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    t.pass(`tsc ${args.join(' ')}`);
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    const listing = examples.map((code, i) => `--- example-${i + 1}.ts ---\n${code}`).join('\n');
    t.fail(`README examples do not compile:\n${err.stdout ?? ''}${err.stderr ?? ''}\n${listing}`);
  }
});
