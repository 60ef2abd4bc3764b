/**
 * One optimizer's entry in the catalog: everything the rest of hessflow needs to know about it, in one
 * place — the config name and its aliases, the hyperparameter schema, what curvature it needs, whether it
 * needs tensor shapes, its presets per model kind, how to build it for a model, and how `hessflow hessian`
 * reads its preconditioner from a saved state. The CLI config, `compare`, `hessian`, the daemon and the
 * benchmarks read the catalog; adding an optimizer is one entry file here plus its transform in src/optim.
 */
import type { z } from 'zod';
import type { Model } from '../nn/model.js';
import type { GradientTransformation, ScalarOrSchedule } from '../optim/transform.js';
import type { CurvatureConfig } from '../step/curvature-schedule.js';

/** The curvature estimators a probe can compute (step/curvature-schedule.ts). */
export type CurvatureKind = CurvatureConfig['estimator'];

/** A hyperparameter as the config sees it: its zod rule and one line of documentation. */
export interface HyperSpec {
  readonly schema: z.ZodType;
  readonly doc: string;
  /** Numbers can be changed at run time (the daemon's POST /v1/hyperparams); flags and choices cannot. */
  readonly type: 'number' | 'boolean' | 'string';
}

/** A run's optimizer section: `name`, `lr` and the entry's own hyperparameters. */
export interface OptimizerConfig {
  name: string;
  lr: number;
  [hyper: string]: number | boolean | string;
}

/** What `compare` and the presets fill in for one model kind. */
export interface Preset {
  optimizer: OptimizerConfig;
  curvature?: CurvatureConfig;
}

/** The model kinds with presets (the data sets hessflow trains: MNIST MLP, Moby Dick char-GPT). */
export type PresetKind = 'mlp' | 'gpt';

export interface BuildContext {
  /** The hyperparameters as configured, without `name` and `lr`. */
  hyper: Record<string, number | boolean | string>;
  /** The learning rate: the configured number, or the schedule peaking at it. */
  lr: ScalarOrSchedule;
  /** Scales any other learning rate of the entry (e.g. Muon's AdamW rate) like `lr`: 1 without a schedule. */
  lrFactor: (step: number) => number;
  model: Model;
  /** Coordinates that take weight decay (the model's `decay` tag), when the model tags any. */
  decayMask?: Uint8Array;
}

export interface Preconditioner {
  /** The diagonal P of the optimizer's step lr·m̂/P. */
  diag: Float64Array;
  beta1: number;
  description: string;
}

/** What a preconditioner reader gets: the saved state, a hyperparameter lookup with defaults, and bs. */
export interface PreconditionerInput {
  state: unknown;
  num: (key: string, fallback: number) => number;
  predictionsPerBatch: number;
}

/** Problems a curvature check reports: [key under `curvature`, message]. */
export type CurvatureProblem = readonly [key: string | null, message: string];

export interface CurvatureNeeds {
  /** Estimators the optimizer can use; empty = it uses none (a schedule is then an error). */
  readonly estimators: readonly CurvatureKind[];
  /** Whether a run must configure a curvature schedule. */
  readonly required: boolean;
  /** The schedule to suggest in an error. */
  readonly example?: CurvatureConfig;
  /** Further rules (e.g. AdaHessian needs an estimate on the first step). */
  readonly check?: (c: CurvatureConfig) => CurvatureProblem[];
}

export interface OptimizerEntry {
  /** The config name (`optimizer.name`). */
  readonly name: string;
  /** How tables and plots label it. */
  readonly label: string;
  /** The name `compare --optimizers` takes (lower case, dashes); aliases also accepted. */
  readonly cliName: string;
  readonly aliases?: readonly string[];
  readonly summary: string;
  /** Every hyperparameter besides `name` and `lr` (which is always required and > 0). */
  readonly hyperparameters: Readonly<Record<string, HyperSpec>>;
  readonly curvature: CurvatureNeeds;
  /** Needs each tensor's shape and role (tensor-layout.ts) at init. */
  readonly needsLayout: boolean;
  /** How its learning rate scales with the batch size (diagnostics/lr-scaling.ts). */
  readonly scaling: 'linear' | 'sqrt';
  readonly presets: Readonly<Record<PresetKind, Preset>>;
  build(ctx: BuildContext): GradientTransformation;
  /** The diagonal preconditioner from a saved state, or a sentence saying why there is none. */
  preconditioner(input: PreconditionerInput): Preconditioner | string;
}

type Obj = Record<string, unknown>;

/** Finds, anywhere in an optimizer state (chains included), the first object that has all `keys`. */
export function findState(state: unknown, keys: readonly string[]): Obj | undefined {
  if (state === null || typeof state !== 'object' || ArrayBuffer.isView(state)) return undefined;
  if (Array.isArray(state)) {
    for (const s of state) {
      const f = findState(s, keys);
      if (f) return f;
    }
    return undefined;
  }
  const o = state as Obj;
  if (keys.every((k) => k in o)) return o;
  for (const v of Object.values(o)) {
    const f = findState(v, keys);
    if (f) return f;
  }
  return undefined;
}

/** Smallest preconditioner entry allowed (a zero entry is a coordinate with no curvature seen). */
const P_FLOOR = 1e-12;

/** A diagonal of n entries f(i), floored at 1e-12. */
export function diagonal(n: number, f: (i: number) => number): Float64Array {
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = Math.max(f(i), P_FLOOR);
  return diag;
}
