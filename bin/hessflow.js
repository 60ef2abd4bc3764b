#!/usr/bin/env node
// The `hessflow` command: runs the compiled CLI (dist/src/cli/main.js), or, in a checkout that has not
// been built yet, says so instead of failing with ERR_MODULE_NOT_FOUND.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'hessflow: the CLI is not built (dist/src/cli/main.js is missing). Run `npm run build` in the ' +
      'hessflow checkout first (or run the sources with `node --import tsx src/cli/main.ts`).\n',
  );
  process.exit(1);
}
await import(main.href);
