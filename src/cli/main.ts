#!/usr/bin/env node
/**
 * The `hessflow` command. Subcommands (train, compare, hessian, daemon) arrive with their issues;
 * until then it answers --help and --version and rejects anything else with a clear message.
 */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const args = process.argv.slice(2);
const usage = `hessflow ${pkg.version} — second-order clipped stochastic optimization

Usage: hessflow [--help | --version]

Training, comparison, diagnostics and the daemon are library functions today; their subcommands
are being added. Run \`npm start\` for the MNIST Sophia-G example.`;

if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
  console.log(usage);
} else if (args.includes('--version')) {
  console.log(pkg.version);
} else {
  console.error(`hessflow: unknown command or option "${args[0]}"\n\n${usage}`);
  process.exit(2);
}
