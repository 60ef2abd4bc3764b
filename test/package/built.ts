/**
 * The package tests run against the compiled package (dist/), as a user gets it. `npm test` builds
 * first; run alone, a test builds here when dist is missing or older than a source file (under a lock
 * directory, so two test processes never compile into dist at once).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const distIndex = join(repoRoot, 'dist', 'src', 'index.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function stale(): boolean {
  return !existsSync(distIndex) || statSync(distIndex).mtimeMs < newestSource(join(repoRoot, 'src'));
}

export async function ensureBuilt(): Promise<void> {
  if (!stale()) return;
  const lock = join(repoRoot, 'dist.build-lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed process: taken over after five minutes.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 300_000)
        rmSync(lock, { recursive: true, force: true });
      else await sleep(500);
    }
  }
  try {
    if (stale())
      execFileSync(
        process.execPath,
        [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
        {
          cwd: repoRoot,
          stdio: 'inherit',
        },
      );
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
