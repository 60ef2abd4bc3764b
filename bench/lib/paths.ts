/** Locations, found from this file whether it runs as TypeScript (tsx) or compiled (dist/bench). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest ancestor directory whose package.json is hessflow's. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'hessflow')
      return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error('bench: cannot find the hessflow package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const resultsDir = (): string => join(repoRoot(), 'bench', 'results');
export const reportPath = (): string => join(repoRoot(), 'BENCHMARKS.md');
export const readingsDir = (): string => join(repoRoot(), 'bench', 'readings');
