// `require('hessflow')` lands here (the "require" condition of package.json's exports): hessflow is
// ESM only, so say how to load it instead of failing somewhere inside the module graph.
throw new Error(
  "hessflow is an ES module only package and cannot be loaded with require(). Use `import { adamw } from 'hessflow'` " +
    'from an ES module (a .mjs file, or "type": "module" in package.json), or `const hessflow = await import(\'hessflow\')` ' +
    'from CommonJS.',
);
