/** Runs the hessflow CLI from source as a child process, as a user would run it. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `hessflow ...args` to the end (from the repository root, no colours, and without the STEPS and
 * CONFIG variables a developer's shell may hold, unless `env` sets them).
 */
export function runHessflow(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, FORCE_COLOR: '0', STEPS: '', CONFIG: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Starts `hessflow ...args` and sends it SIGINT (Ctrl-C) `afterMs` after its stderr first matches
 * `when`; resolves when it has exited.
 */
export async function interruptHessflow(
  args: readonly string[],
  when: RegExp,
  afterMs = 0,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, FORCE_COLOR: '0', STEPS: '', CONFIG: '', ...env },
  });
  let stderr = '';
  let stdout = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (sent || !when.test(stderr)) return;
    sent = true;
    setTimeout(() => child.kill('SIGINT'), afterMs);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}
