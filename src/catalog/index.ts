/**
 * The optimizer catalog: every optimizer hessflow can build from a config, in one list. Lookups by config
 * name and by the CLI's names; see entry.ts for what an entry holds.
 */
import { adahessianEntry } from './adahessian.js';
import { adamwEntry } from './adamw.js';
import type { OptimizerEntry } from './entry.js';
import { lionEntry } from './lion.js';
import { mfacEntry } from './mfac.js';
import { muonEntry } from './muon.js';
import { soapEntry } from './soap.js';
import { sgdEntry } from './sgd.js';
import { sophiaGEntry } from './sophia-g.js';
import { sophiaHEntry } from './sophia-h.js';

export type {
  BuildContext,
  CurvatureKind,
  OptimizerConfig,
  OptimizerEntry,
  Preconditioner,
  Preset,
  PresetKind,
} from './entry.js';
export { findState } from './entry.js';

export const OPTIMIZERS: readonly OptimizerEntry[] = [
  sgdEntry,
  adamwEntry,
  lionEntry,
  sophiaGEntry,
  sophiaHEntry,
  adahessianEntry,
  mfacEntry,
  muonEntry,
  soapEntry,
];

/** Config names, in catalog order. */
export const OPTIMIZER_NAMES: readonly string[] = OPTIMIZERS.map((e) => e.name);

const byName = new Map(OPTIMIZERS.map((e) => [e.name, e]));
const byCliName = new Map<string, OptimizerEntry>();
for (const e of OPTIMIZERS) {
  for (const n of [e.cliName, e.name.toLowerCase(), ...(e.aliases ?? [])]) byCliName.set(n, e);
}

/** The entry of a config name; throws naming the known ones. */
export function optimizerEntry(name: string): OptimizerEntry {
  const e = byName.get(name);
  if (!e) throw new RangeError(`unknown optimizer "${name}"; known: ${OPTIMIZER_NAMES.join(', ')}`);
  return e;
}

/** The entry a command-line name (case-insensitive; `sophia-g`, `sophiaG`, `sophia_g` …) refers to. */
export function optimizerByCliName(name: string): OptimizerEntry | undefined {
  return byCliName.get(name.trim().toLowerCase());
}
