/**
 * `hessflow publish --to nats://host:port/STREAM`: sends a config's training batches (its data set, batch
 * size and seed: MNIST or Moby Dick, bundled) to a JetStream stream, one message per batch in the daemon's
 * wire format, each with a stable message id (`<data>:<batchSize>:<seed>:<k>`), so running it again or
 * retrying stores nothing twice. A progress bar (cli-progress) on stderr when it is a terminal.
 */
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { type RunConfig, defaultConfigPath, readConfig } from '../config.js';
import { nonNegativeInt, positiveInt } from '../parse.js';
import { parseNatsSourceUrl } from '../nats-source-url.js';
import { loadNatsModule } from '../nats-modules.js';
import type { PublishResult } from '../publish.js';
import { stopOnSigint } from '../progress.js';

export interface PublishCommandOptions {
  to: string;
  config?: string;
  count?: number;
  start?: number;
  replicas?: number;
  tokenFile?: string;
  tokenEnv?: string;
  creds?: string;
  json?: boolean;
  progress: boolean;
}

export async function publishCommand(o: PublishCommandOptions): Promise<PublishResult> {
  const url = parseNatsSourceUrl(o.to);
  const config: RunConfig = readConfig(o.config ?? (process.env.CONFIG || defaultConfigPath()));
  const count = o.count ?? config.steps;
  const { publishDataset } = await loadNatsModule(() => import('../publish.js'), 'publish');
  const bar =
    o.progress && !o.json && process.stderr.isTTY === true
      ? new cliProgress.SingleBar(
          {
            format: `publish → ${url.stream} {bar} {value}/{total} | {dups} already stored | {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
  bar?.start(count, 0, { dups: 0 });
  const interrupt = stopOnSigint(() => bar?.stop());
  let r: PublishResult;
  try {
    r = await publishDataset(config, {
      servers: url.servers,
      stream: url.stream,
      ...(url.subject ? { subject: url.subject } : {}),
      ...(o.start !== undefined ? { start: o.start } : {}),
      count,
      ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
      ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}),
      ...(o.tokenEnv ? { tokenEnv: o.tokenEnv } : {}),
      ...(o.creds ? { credsFile: o.creds } : {}),
      signal: interrupt.signal,
      onProgress: (p) => bar?.update(p.done, { dups: p.duplicates }),
    });
  } finally {
    interrupt.dispose();
    bar?.stop();
  }
  if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else
    process.stdout.write(
      `hessflow publish: ${r.published} new batches to ${r.stream} (subject ${r.subject})` +
        `${r.duplicates ? `, ${r.duplicates} already stored` : ''}` +
        `${r.lastSeq !== null ? `, sequences ${r.firstSeq}..${r.lastSeq}` : ''}, ${r.seconds.toFixed(1)} s\n`,
    );
  return r;
}

export function publishCommandSpec(): Command {
  return new Command('publish')
    .description(
      "publish a config's training batches to a NATS JetStream stream (message ids make a re-run store nothing twice)",
    )
    .requiredOption('--to <url>', 'nats://host:port/STREAM[?subject=SUBJ] (created when missing)')
    .option('-c, --config <file>', 'run config: data set, batch size, seed (default config/quickstart.json)')
    .option('-n, --count <n>', 'batches to publish (default: the config’s steps)', positiveInt)
    .option('--start <k>', 'first batch index (default 0)', nonNegativeInt)
    .option('--replicas <n>', 'stream replicas when creating it (default 1)', positiveInt)
    .option('--token-file <file>', 'NATS token read from this file (never logged)')
    .option('--token-env <var>', 'NATS token read from this environment variable (never logged)')
    .option('--creds <file>', 'NATS credentials file')
    .option('--json', 'print the result as one JSON object')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: PublishCommandOptions) => {
      await publishCommand(opts);
    });
}
