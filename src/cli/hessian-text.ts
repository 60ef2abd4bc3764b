/**
 * The text form of `hessflow hessian`'s report: what a person reads in the terminal. Every stage may be
 * missing (Ctrl-C stopped the command before it) and every estimate says whether it converged.
 */
import type { SpectralDensity } from '../diagnostics/density.js';
import type { ParamGroup } from '../diagnostics/groups.js';
import type { HawqResult } from '../diagnostics/hawq.js';
import type { LrSuggestion } from '../diagnostics/lr-scaling.js';
import type { StabilityReport } from '../diagnostics/stability.js';
import type { TraceResult } from '../diagnostics/trace.js';
import { shownPath } from '../report/run-dir.js';

export interface HessianText {
  file: string;
  step: number;
  optimizer: string;
  /** The learning rate of the checkpoint's last step (what the stability ratios use). */
  lr: number;
  n: number;
  k: number;
  /** The stage Ctrl-C stopped, if any. */
  interrupted: string | null;
  groups: readonly ParamGroup[];
  trace: TraceResult | null;
  eigenvalues: readonly { value: number; converged: boolean; iterations: number }[];
  density: SpectralDensity | null;
  densityPng: string | null;
  stability: readonly StabilityReport[];
  preconditioned: { lambdaMax: number; description: string } | { unavailable: string } | null;
  hawq: HawqResult | null;
  bitsBudget: number;
  lrSuggestions: readonly LrSuggestion[];
  peakLr: number;
  batchSize: number;
  reportFile: string;
  seconds: number;
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : Number(x.toPrecision(4)).toString();
}

const NOT_RUN = 'not computed (interrupted before this stage)';

function traceLines(r: HessianText): string[] {
  const { trace, groups, hawq } = r;
  if (!trace) return [`Hutchinson trace  ${NOT_RUN}`];
  const nameWidth = Math.max(5, ...groups.map((g) => g.name.length));
  const bitsOf = (i: number) => {
    if (!hawq?.chosen) return '-';
    return `${hawq.chosen.bits[i]}${hawq.layers[i].pinned ? ' (pinned: trace < 0)' : ''}`;
  };
  const negatives = trace.perLayer.filter((g) => g.trace < 0).length;
  return [
    `Hutchinson trace  ${fmt(trace.trace)}  (${trace.iterations} probes${trace.converged ? ', converged' : ', not converged'})`,
    `  ${'layer'.padEnd(nameWidth)}  ${'params'.padStart(8)}  ${'trace'.padStart(11)}  ${'per param'.padStart(11)}  bits`,
    ...trace.perLayer.map(
      (g, i) =>
        `  ${g.name.padEnd(nameWidth)}  ${String(g.params).padStart(8)}  ${fmt(g.trace).padStart(11)}  ${fmt(g.trace / g.params).padStart(11)}  ${bitsOf(i)}`,
    ),
    ...(negatives > 0
      ? [
          `  ${negatives} layer trace estimate(s) are negative: noise around a small trace or negative curvature.`,
          '  Their sensitivity is unknown, so HAWQ keeps them at the widest bit-width; more probes (--iterations) sharpen them.',
        ]
      : []),
  ];
}

function eigenLines(r: HessianText): string[] {
  if (r.eigenvalues.length === 0) return [`Top-${r.k} eigenvalues  ${NOT_RUN}`];
  return [
    `Top-${r.k} eigenvalues (largest first)  ` +
      r.eigenvalues
        .map((e) => `${fmt(e.value)}${e.converged ? '' : ` (not converged after ${e.iterations} HVPs)`}`)
        .join(', '),
  ];
}

export function hessianText(r: HessianText): string {
  const pre = r.preconditioned;
  const lines = [
    `hessflow hessian — ${shownPath(r.file)} (step ${r.step}, ${r.optimizer}, lr ${fmt(r.lr)})`,
    ...(r.interrupted ? [`Interrupted during ${r.interrupted}: the report holds what was computed.`] : []),
    '',
    ...traceLines(r),
    '',
    ...eigenLines(r),
    r.density
      ? `Spectral density   support [${fmt(r.density.lambdaMin)}, ${fmt(r.density.lambdaMax)}]  (plot: ${r.densityPng ? shownPath(r.densityPng) : 'not written'})`
      : `Spectral density   ${NOT_RUN}`,
    '',
    `Stability at the last step's learning rate ${fmt(r.lr)}`,
    ...(r.stability.length > 0 ? r.stability.map((s) => `  ${s.verdict}`) : [`  ${NOT_RUN}`]),
    ...(pre === null
      ? []
      : 'unavailable' in pre
        ? [`  preconditioned form: not available — ${pre.unavailable}`]
        : [`  (${pre.description}; λmax(P⁻¹H) = ${fmt(pre.lambdaMax)})`]),
    '',
    `HAWQ-V2 mixed precision, budget ${r.bitsBudget} bits/parameter on average: ` +
      (!r.hawq
        ? NOT_RUN
        : r.hawq.chosen
          ? `${fmt(r.hawq.chosen.sizeBits / r.n)} bits/parameter, ΣΩ = ${fmt(r.hawq.chosen.omega)} (bits per layer in the table above)`
          : 'no configuration fits the budget'),
    '',
    `Learning rates for other batch sizes: the ${r.lrSuggestions[0]?.rule === 'linear' ? 'linear (SGD)' : 'square-root (adaptive optimizers)'} rule of Granziol et al. (JMLR 2022),`,
    `from the schedule's peak lr ${fmt(r.peakLr)} at batch ${r.batchSize} (scale the whole schedule by the same factor)`,
    ...r.lrSuggestions.map((s) => `  batch ${String(s.batchSize).padStart(5)}  peak lr ${fmt(s.lr)}`),
    '',
    `Report: ${shownPath(r.reportFile)}  (${r.seconds.toFixed(1)} s)`,
  ];
  return lines.join('\n');
}
