/**
 * Standalone entry of the daemon: `node --import tsx src/daemon/main.ts --config config/daemon.json`,
 * the same command as `hessflow daemon` (one commander spec, src/cli/commands/daemon.ts; `runDaemon` in
 * run.ts does the work). Exit codes: 0 stopped cleanly (or --help), 1 runtime failure, 2 usage or config
 * error, 3 checkpoint dir locked.
 */
import { CommanderError } from 'commander';
import { daemonCommandSpec } from '../cli/commands/daemon.js';

/** Parses `argv` (without node and the script) and runs the daemon: the process exit code. */
export async function daemonMain(argv: readonly string[]): Promise<number> {
  let code = 0;
  const cmd = daemonCommandSpec((c) => (code = c))
    .name('hessflow daemon')
    .exitOverride()
    .showHelpAfterError('(run "hessflow daemon --help" for usage)');
  try {
    await cmd.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    // commander has printed the help, or what was wrong with the arguments.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
}

daemonMain(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`hessflow daemon: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
