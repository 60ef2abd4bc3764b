/** The bindings and grid-stride main() that both WGSL kernel builders wrap around a per-element body. */

export interface GridStrideShader {
  /** Declarations before the uniform binding: at least `struct P`, whose n and stride drive the loop. */
  readonly preamble: readonly string[];
  /** Element type of the storage arrays (f32, or an alias such as T). */
  readonly element: string;
  /** Buffers written (read_write), bound first (bindings 1…). */
  readonly rw: readonly string[];
  /** Buffers only read, bound after the read_write ones. */
  readonly ro: readonly string[];
  readonly workgroup: number;
  /** This invocation's first index, e.g. gid.x. */
  readonly start: string;
  /** Statements for index i; each line is re-indented inside the loop. */
  readonly body: string;
}

/** WGSL source: p at binding 0, the buffers, and `for (i = start; i < p.n; i += p.stride) { body }`. */
export function gridStrideSource(s: GridStrideShader): string {
  const lines = [...s.preamble, '@group(0) @binding(0) var<uniform> p : P;'];
  let b = 1;
  for (const name of s.rw)
    lines.push(`@group(0) @binding(${b++}) var<storage, read_write> ${name} : array<${s.element}>;`);
  for (const name of s.ro)
    lines.push(`@group(0) @binding(${b++}) var<storage, read> ${name} : array<${s.element}>;`);
  lines.push(
    `@compute @workgroup_size(${s.workgroup})`,
    'fn main(@builtin(global_invocation_id) gid : vec3<u32>) {',
    `  for (var i = ${s.start}; i < p.n; i = i + p.stride) {`,
    s.body
      .trim()
      .split('\n')
      .map((l) => `    ${l.trim()}`)
      .join('\n'),
    '  }',
    '}',
  );
  return lines.join('\n');
}
