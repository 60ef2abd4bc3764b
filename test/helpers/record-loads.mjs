// Preload (`node --import <this file>`) that records every module the process loads, ESM and CommonJS,
// one resolved URL or file name a line, into the file named by HESSFLOW_RECORD_LOADS.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';

const out = process.env.HESSFLOW_RECORD_LOADS;
if (out) {
  // ESM: a resolve hook (it runs on the loaders thread, so it writes to the file itself).
  register(new URL('./record-loads-hooks.mjs', import.meta.url), { data: { out } });
  // CommonJS: require(), createRequire(...)(), require.resolve() all pass through _resolveFilename.
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    const file = resolve.call(this, request, ...rest);
    appendFileSync(out, `${file}\n`);
    return file;
  };
}
