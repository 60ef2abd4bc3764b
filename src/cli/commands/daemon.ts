/**
 * `hessflow daemon --config FILE`: the long-running training service (src/daemon). Runs until
 * SIGTERM/SIGINT; the daemon's own exit code (0 clean, 1 failure, 2 bad config, 3 directory locked)
 * becomes the command's.
 */
import { Command } from 'commander';
import { runDaemon } from '../../daemon/main.js';

/** Set by the action, read by main(): commander itself has no notion of an action's exit code. */
export let daemonExitCode = 0;

export function daemonCommandSpec(): Command {
  return new Command('daemon')
    .description('run the training daemon: HTTP/TCP batch ingest, control API, /metrics, checkpoints')
    .requiredOption('-c, --config <path>', 'daemon config (see config/daemon.json)')
    .action(async (opts: { config: string }) => {
      daemonExitCode = await runDaemon(['--config', opts.config]);
    });
}
