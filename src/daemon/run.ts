/**
 * `runDaemon({ config })`: runs the daemon until a signal stops it and resolves with the process exit
 * code. Prints structured logs (pino, JSON lines) on stdout, among them one
 * `{"event":"listening","httpPort":…,"socketPort":…}` line. SIGTERM, SIGINT or SIGHUP → graceful shutdown
 * (exit 0 once the final checkpoint holding the queue is written). Further signals while it runs are logged
 * and ignored, so an impatient second Ctrl-C cannot lose the queue; SIGKILL is the hard stop (it loses what
 * was acknowledged since the last checkpoint, like a crash).
 * Exit codes: 0 stopped cleanly, 1 runtime failure, 2 config error, 3 checkpoint dir locked. The command
 * line (`hessflow daemon`, or main.ts standalone) is parsed by commander in src/cli/commands/daemon.ts.
 */
import { pino } from 'pino';
import { loadDaemonConfig } from './config.js';
import { type DaemonHandle, startDaemon } from './daemon.js';
import { DaemonConfigError, DaemonLockedError } from './errors.js';

/** Signals that stop the daemon gracefully (SIGHUP too: a closed terminal must not lose the queue). */
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export interface RunDaemonOptions {
  /** Path of the daemon config (config/daemon.json). */
  config: string;
}

/** Runs the daemon until a signal stops it; resolves with the process exit code. */
export async function runDaemon(options: RunDaemonOptions): Promise<number> {
  const configPath = options.config;
  const logger = pino({ name: 'hessflow-daemon' });
  let handle: DaemonHandle;
  try {
    handle = await startDaemon(loadDaemonConfig(configPath), { logger });
  } catch (e) {
    const code = e instanceof DaemonConfigError ? 2 : e instanceof DaemonLockedError ? 3 : 1;
    logger.fatal({ err: e }, (e as Error).message);
    process.stderr.write(`hessflow daemon: ${(e as Error).message}\n`);
    return code;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // The handlers stay installed: without them a second signal would kill the process mid-write.
        logger.warn(
          { signal, event: 'signal_ignored' },
          `${signal} ignored: graceful shutdown in progress (it finishes writing the final checkpoint); ` +
            'SIGKILL stops at once, losing what was acknowledged since the last checkpoint',
        );
        return;
      }
      stopping = true;
      logger.info({ signal }, 'signal received');
      handle.stop().then(
        () => resolve(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    for (const s of SIGNALS) process.on(s, onSignal);
  });
}
