import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/io/index.js';

async function scratch(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-atomic-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('writes, replaces, leaves no temporary files', async (t) => {
  const dir = await scratch(t);
  const path = join(dir, 'out.bin');
  await writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
  t.strictSame([...(await readFile(path))], [1, 2, 3]);
  await writeFileAtomic(path, 'replaced');
  t.equal(await readFile(path, 'utf8'), 'replaced');
  writeFileAtomicSync(path, Buffer.alloc(100_000, 7));
  const back = await readFile(path);
  t.equal(back.length, 100_000);
  t.ok(back.every((b) => b === 7));
  t.strictSame(await readdir(dir), ['out.bin']);
});

t.test('concurrent writers: the file is always one complete version', async (t) => {
  const dir = await scratch(t);
  const path = join(dir, 'race.bin');
  const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(50_000 + i, i));
  await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
  const got = await readFile(path);
  t.ok(
    versions.some((v) => v.equals(got)),
    `final content is one whole version (length ${got.length})`,
  );
  t.strictSame(await readdir(dir), ['race.bin']);
});

t.test('mode is applied', async (t) => {
  const dir = await scratch(t);
  const path = join(dir, 'private');
  await writeFileAtomic(path, 'x', { mode: 0o600 });
  t.equal((await stat(path)).mode & 0o777, 0o600);
});

t.test('failures report the error and clean up the temporary file', async (t) => {
  const dir = await scratch(t);
  await t.rejects(writeFileAtomic(join(dir, 'missing-dir', 'f'), 'x'), { code: 'ENOENT' });
  const target = join(dir, 'is-a-dir');
  await mkdir(target);
  await t.rejects(writeFileAtomic(target, 'x'), { code: /EISDIR|EEXIST|ENOTEMPTY|EPERM/ });
  t.throws(() => writeFileAtomicSync(target, 'x'), { code: /EISDIR|EEXIST|ENOTEMPTY|EPERM/ });
  t.strictSame(await readdir(dir), ['is-a-dir'], 'no temporary files left behind');
});
