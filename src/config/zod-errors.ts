/**
 * Config validation on zod schemas, reported in our style: every problem names its key as a dotted path
 * (`optimizer.lr`, `model.sizes[2]`), what was expected and what was given
 * (`must be > 0, got -1`). zod collects every issue of one parse, so all problems come back at once.
 *
 * The messages are written by a per-parse error map rather than by zod's own wording, so the three configs
 * (run, daemon, pipeline) speak alike. A schema whose accepted values are better said in one phrase than
 * by the failing check (`an integer in [0, 65535]`, `a GradientTransformation {init, update}`) carries it
 * via `expecting`.
 */
import { z } from 'zod';

/** One problem of a config. `key` is '' for the config as a whole. */
export type ConfigProblem =
  | { kind: 'value'; key: string; detail: string }
  | { kind: 'unknown-key'; key: string; allowed: readonly string[] };

export type ConfigCheck<T> = { ok: true; value: T } | { ok: false; problems: ConfigProblem[] };

const expectations = z.registry<{ expected: string }>();

/**
 * Says what `schema` accepts, as the phrase after "must be". Call it last (after `.min()` and the like,
 * which return a new schema) and before `.optional()`, which wraps it.
 */
export function expecting<T extends z.ZodType>(schema: T, expected: string): T {
  expectations.add(schema, { expected });
  return schema;
}

/** A value as error messages show it: `the string "x"`, `number 5`, `an array of 3 items`, `nothing`. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'string') {
    const s = JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    return `the string ${s}`;
  }
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') {
    const name = (v as object).constructor?.name;
    return name && name !== 'Object' ? `an instance of ${name}` : 'an object';
  }
  return `${typeof v} ${String(v)}`;
}

/** `"a" or "b"` for two values, `one of "a", "b", "c"` for more. */
export function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  if (shown.length === 1) return shown[0];
  if (shown.length === 2) return `${shown[0]} or ${shown[1]}`;
  return `one of ${shown.join(', ')}`;
}

const TYPE_PHRASES: Record<string, string> = {
  number: 'a finite number',
  int: 'an integer',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  function: 'a function',
};

type RawIssue = z.core.$ZodRawIssue;

function bound(iss: RawIssue & { code: 'too_small' | 'too_big' }): string {
  const small = iss.code === 'too_small';
  const n = small ? iss.minimum : iss.maximum;
  const least = small ? 'at least' : 'at most';
  switch (iss.origin) {
    case 'string':
      return small && n === 1 ? 'a non-empty string' : `a string of ${least} ${n} characters`;
    case 'array':
      return `an array of ${least} ${n} items`;
    case 'number':
    case 'int':
      return `${small ? '>' : '<'}${iss.inclusive ? '=' : ''} ${n}`;
    default:
      return `${least} ${n}`;
  }
}

/** The error map: turns one zod issue into `must be <expected>, got <given>`. */
function message(iss: RawIssue): string {
  let input = iss.input;
  let expected: string;
  if (iss.code === 'invalid_union' && typeof iss.discriminator === 'string') {
    // A discriminated union whose tag is missing or unknown: zod reports it at the tag's path.
    input = (input as Record<string, unknown> | undefined)?.[iss.discriminator];
    expected = oneOf((iss.options as readonly unknown[] | undefined) ?? []);
  } else {
    const owner = (iss.schema ?? iss.inst) as z.ZodType | undefined;
    const registered = owner ? expectations.get(owner)?.expected : undefined;
    if (registered !== undefined) expected = registered;
    else if (iss.code === 'invalid_type') expected = TYPE_PHRASES[iss.expected] ?? `a ${iss.expected}`;
    else if (iss.code === 'too_small' || iss.code === 'too_big') expected = bound(iss);
    else if (iss.code === 'invalid_value') expected = oneOf(iss.values);
    else if (iss.code === 'not_multiple_of') expected = `a multiple of ${iss.divisor}`;
    else if (iss.code === 'invalid_format')
      expected = iss.pattern ? `a string matching ${iss.pattern}` : `a ${iss.format}`;
    else expected = 'a valid value';
  }
  // Past the type check a bound's input is known to be a number: show it bare (`got 0`).
  const inRange = (iss.code === 'too_small' || iss.code === 'too_big') && typeof input === 'number';
  return `must be ${expected}, got ${inRange ? String(input) : describe(input)}`;
}

/** `['model', 'sizes', 2]` → `model.sizes[2]`. */
export function dottedPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function problemsOf(error: z.ZodError, allowedAt: ReadonlyMap<string, string[]>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const iss of error.issues) {
    const key = dottedPath(iss.path);
    if (iss.code === 'unrecognized_keys') {
      const allowed = allowedAt.get(key) ?? [];
      for (const k of iss.keys) out.push({ kind: 'unknown-key', key: key ? `${key}.${k}` : k, allowed });
    } else if (!seen.has(key)) {
      // One problem per key: a value that fails its type also fails the bounds checked after it.
      seen.add(key);
      out.push({ kind: 'value', key, detail: iss.message });
    }
  }
  return out;
}

/** Parses `raw` with `schema`; on failure returns every problem, in the order of the schema's keys. */
export function checkConfig<S extends z.ZodType>(schema: S, raw: unknown): ConfigCheck<z.output<S>> {
  // A final issue no longer carries its schema, so an object's allowed keys are noted while the error
  // map still sees it (as `inst`), by the object's path.
  const allowedAt = new Map<string, string[]>();
  const errorMap = (iss: RawIssue): string => {
    if (iss.code !== 'unrecognized_keys') return message(iss);
    const shape = (iss.inst as z.ZodObject | undefined)?._zod.def.shape ?? {};
    allowedAt.set(dottedPath(iss.path ?? []), Object.keys(shape));
    return 'unknown key';
  };
  const r = schema.safeParse(raw, { error: errorMap });
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: problemsOf(r.error, allowedAt) };
}

/**
 * Adds a cross-field rule to an object schema. By default zod skips refinements once any key has a
 * problem; this one runs as soon as the keys it reads are valid, so its problem is reported together
 * with problems elsewhere. The rule sees only those keys (typed), since the others may be invalid.
 */
export function crossCheck<S extends z.ZodType<object>, K extends keyof z.output<S> & string>(
  schema: S,
  keys: readonly K[],
  rule: (value: Pick<z.output<S>, K>, ctx: z.RefinementCtx<z.output<S>>) => void,
): S {
  const readable = (issues: readonly RawIssue[]): boolean =>
    issues.every((iss) =>
      iss.path && iss.path.length > 0
        ? !(keys as readonly PropertyKey[]).includes(iss.path[0])
        : iss.code === 'unrecognized_keys',
    );
  return schema.superRefine(rule, { when: (payload) => readable(payload.issues) });
}

/** Adds a problem at `path` (relative to the refined object); `detail` reads after the key. */
export function problem(ctx: z.RefinementCtx<unknown>, path: PropertyKey[], detail: string): void {
  ctx.addIssue({ code: 'custom', path, message: detail });
}
