/**
 * The results format shared by every suite, by `bench/run.ts` (which writes bench/results/<name>.json)
 * and by `bench/report.ts` (which renders all results files into BENCHMARKS.md). Results produced
 * elsewhere (e.g. a GPU run on another machine) only need to follow this shape to appear in the report.
 */

export const RESULTS_SCHEMA = 'hessflow-bench/1';

export interface Column {
  /** Key of the value in each row. */
  readonly key: string;
  /** Header text (units included, e.g. "grad ms"). */
  readonly label: string;
  /** Decimal places for numbers (default 2). */
  readonly digits?: number;
}

export type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

export interface Section {
  /** Unique within a results file, e.g. "matmul", "mlp". */
  readonly id: string;
  readonly title: string;
  readonly columns: readonly Column[];
  readonly rows: readonly Row[];
  /** Method and caveats, rendered under the table. */
  readonly notes?: readonly string[];
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  /** ISO date-time of the run. */
  readonly date: string;
  /** Load average (1 min) at the start and end of the run: other work on a shared machine adds noise. */
  readonly load: readonly [number, number];
  /** Accelerator or other notes (e.g. "NVIDIA H200 via Dawn/Vulkan"). */
  readonly accelerator?: string;
  /** How the wasm matmul multiplies and adds ("fused multiply-add (relaxed SIMD)" or "multiply, then add"). */
  readonly wasmMatmul?: string;
  /** Kernel mode and backends (src/kernels/mode.ts): BLAS library, float32 or exact kernels. */
  readonly kernels?: string;
}

export interface Results {
  readonly schema: typeof RESULTS_SCHEMA;
  readonly name: string;
  readonly suites: readonly string[];
  readonly machine: Machine;
  readonly sections: readonly Section[];
}

/** What a suite gets from the runner. */
export interface SuiteContext {
  /** Shorter runs (fewer repetitions); the default of `npm run bench`. */
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

export type Suite = (ctx: SuiteContext) => Promise<Section[]> | Section[];
