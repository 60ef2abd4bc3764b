/**
 * `hessflow worker --nats URL [--threads N] [--token-file F] [--run NAME]`: serves one run's shard-gradient
 * and curvature-probe tasks to any coordinator on that broker (src/workers/remote/worker-server.ts) until
 * SIGINT or SIGTERM. The token comes from `--token-file` or the environment variable HESSFLOW_NATS_TOKEN,
 * never from the command line, and is never logged.
 */
import { Command } from 'commander';
import { loadNatsModule } from '../nats-modules.js';
import { positiveInt } from '../parse.js';
import { UsageError } from '../errors.js';
import { DEFAULT_RUN, RUN_NAME } from '../../workers/remote/subjects.js';

/** The environment variable a worker reads its NATS token from when no --token-file is given. */
export const TOKEN_ENV = 'HESSFLOW_NATS_TOKEN';

export interface WorkerCommandOptions {
  nats: string;
  threads?: number;
  tokenFile?: string;
  run: string;
}

export async function workerCommand(
  o: WorkerCommandOptions,
  onExitCode: (code: number) => void,
): Promise<void> {
  if (!RUN_NAME.test(o.run))
    throw new UsageError(`--run ${JSON.stringify(o.run)}: must be 1 to 64 letters, digits, "_" or "-"`);
  const { connectNats, redactUrl, serverList, NatsConnectError } = await loadNatsModule(
    () => import('../../streams/nats-connection.js'),
    'worker',
  );
  const { RemoteWorker } = await import('../../workers/remote/worker-server.js');
  const log = (line: string) => process.stderr.write(`hessflow ${line}\n`);
  let servers: string[];
  let nc;
  try {
    servers = serverList(o.nats);
    nc = await connectNats({
      servers,
      name: `hessflow-worker-${o.run}`,
      ...(o.tokenFile !== undefined
        ? { tokenFile: o.tokenFile }
        : process.env[TOKEN_ENV]
          ? { tokenEnv: TOKEN_ENV }
          : {}),
    });
  } catch (e) {
    if (!(e instanceof NatsConnectError)) throw e;
    log(`worker: ${e.message}`);
    onExitCode(1);
    return;
  }
  const worker = new RemoteWorker({ nc, run: o.run, ...(o.threads ? { threads: o.threads } : {}), log });
  log(
    `worker ${worker.id}: serving run ${o.run} on ${servers.map(redactUrl).join(', ')}` +
      `${o.threads ? ` with ${o.threads} gradient threads` : ''}`,
  );
  const stop = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    void nc.closed().then(() => resolve('the NATS connection closed'));
  });
  const why = await stop;
  await worker.close();
  await nc.close().catch(() => undefined);
  log(
    `worker ${worker.id}: stopped (${why}) after ${worker.served.gradient} gradient and ${worker.served.probe} probe tasks`,
  );
}

export function workerCommandSpec(onExitCode: (code: number) => void): Command {
  return new Command('worker')
    .description('serve shard-gradient and curvature-probe tasks of a run over NATS (a remote worker)')
    .requiredOption('--nats <url>', 'NATS server(s), comma-separated: nats://host:4222')
    .option('--threads <n>', 'gradient threads (default: one per available core)', positiveInt)
    .option('--token-file <file>', `NATS token read from this file (else from $${TOKEN_ENV}; never logged)`)
    .option('--run <name>', 'the run whose tasks to serve (subjects hessflow.<run>.…)', DEFAULT_RUN)
    .action(async (opts: WorkerCommandOptions) => {
      await workerCommand(opts, onExitCode);
    });
}
