/**
 * `hessflow daemon --config FILE`: the long-running training service (src/daemon). Runs until
 * SIGTERM/SIGINT; the daemon's own exit code (0 clean, 1 failure, 2 bad config, 3 directory locked)
 * becomes the command's. The one parser of the daemon's command line: the standalone entry
 * (src/daemon/main.ts) uses this spec too.
 */
import { Command } from 'commander';
import { runDaemon } from '../../daemon/run.js';

/**
 * `onExitCode` receives the daemon's exit code once it has stopped (commander has no notion of an
 * action's exit code, so the caller decides what to do with it).
 */
export function daemonCommandSpec(onExitCode: (code: number) => void): Command {
  return new Command('daemon')
    .description('run the training daemon: HTTP/TCP batch ingest, control API, /metrics, checkpoints')
    .requiredOption('-c, --config <path>', 'daemon config (see config/daemon.json)')
    .action(async (opts: { config: string }) => {
      onExitCode(await runDaemon({ config: opts.config }));
    });
}
