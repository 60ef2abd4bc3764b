/**
 * piscina needs a file it can load in a fresh thread. From the TypeScript sources (tests under tsx) that
 * is the .ts file and the thread needs tsx's loader; from dist it is the compiled .js beside this file.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface WorkerEntry {
  filename: string;
  execArgv: string[];
}

export function workerEntry(name: 'gradient-worker' | 'probe-worker'): WorkerEntry {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const filename = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, here).href;
  return { filename, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

/**
 * Loads a user model module inside a worker. From dist, a plain `import()`. From the TypeScript sources
 * the worker's own modules are loaded through tsx's require hook, so the user module is required too:
 * that is the only way it reaches the same `registerModel` registry the worker builds models from.
 */
export async function loadModelModule(url: string): Promise<void> {
  if (import.meta.url.endsWith('.ts')) {
    createRequire(import.meta.url)(fileURLToPath(url));
    return;
  }
  await import(url);
}
