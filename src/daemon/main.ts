/**
 * Standalone entry of the daemon: `node --import tsx src/daemon/main.ts --config config/daemon.json`
 * (wired to `hessflow daemon`). Prints structured logs (pino, JSON lines) on stdout, among them one
 * `{"event":"listening","httpPort":…,"socketPort":…}` line. SIGTERM, SIGINT or SIGHUP → graceful shutdown
 * (exit 0 once the final checkpoint holding the queue is written). Further signals while it runs are logged
 * and ignored, so an impatient second Ctrl-C cannot lose the queue; SIGKILL is the hard stop (it loses what
 * was acknowledged since the last checkpoint, like a crash).
 * Exit codes: 0 stopped cleanly, 1 runtime failure, 2 usage or config error, 3 checkpoint dir locked.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadDaemonConfig } from './config.js';
import { type DaemonHandle, startDaemon } from './daemon.js';
import { DaemonConfigError, DaemonLockedError } from './errors.js';

const USAGE = 'usage: hessflow daemon --config <path>';
/** Signals that stop the daemon gracefully (SIGHUP too: a closed terminal must not lose the queue). */
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Runs the daemon until a signal stops it; resolves with the process exit code. */
export async function runDaemon(argv: readonly string[]): Promise<number> {
  let configPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--config' || a === '-c') configPath = argv[++i];
    else if (a.startsWith('--config=')) configPath = a.slice('--config='.length);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else {
      process.stderr.write(`hessflow daemon: unknown argument "${a}"\n${USAGE}\n`);
      return 2;
    }
  }
  if (!configPath) {
    process.stderr.write(`hessflow daemon: --config is required\n${USAGE}\n`);
    return 2;
  }
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

function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  runDaemon(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`hessflow daemon: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
