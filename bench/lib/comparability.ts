/**
 * When a PyTorch reference row may be compared with ours. The recorded char-GPT and MLP ratios (0.93×,
 * 1.36×) came from a handicapped reference: its sgemm ran at 13 and 29 GFLOP/s (OpenBLAS on a generic
 * kernel and/or a loaded machine) where a quiet core gives 60–90. So every reference row records its
 * sgemm GFLOP/s and the load average at its start and end, and this rule decides, as a pure function:
 * below MIN_SGEMM_GFLOPS, or with a start load average above MAX_START_LOAD (or either unknown), the row
 * is not comparable and no ratio is quoted from it.
 */
import type { Row, Section } from './types.js';

export const MIN_SGEMM_GFLOPS = 45;
export const MAX_START_LOAD = 0.5;

export interface ReferenceCheck {
  /** Median float32 matmul GFLOP/s (n = 512) in the reference process; null when not recorded. */
  sgemmGflops: number | null;
  /** 1-minute load average when the row's measurement started; null when not recorded. */
  loadStart: number | null;
}

export type Comparability = { comparable: true } | { comparable: false; reasons: string[] };

export function comparability(check: ReferenceCheck): Comparability {
  const reasons: string[] = [];
  const { sgemmGflops, loadStart } = check;
  if (sgemmGflops === null || !Number.isFinite(sgemmGflops)) reasons.push('reference sgemm not recorded');
  else if (sgemmGflops < MIN_SGEMM_GFLOPS)
    reasons.push(`reference sgemm ${sgemmGflops.toFixed(0)} GFLOP/s < ${MIN_SGEMM_GFLOPS}`);
  if (loadStart === null || !Number.isFinite(loadStart)) reasons.push('load average at start not recorded');
  else if (loadStart > MAX_START_LOAD)
    reasons.push(`load average ${loadStart.toFixed(2)} at start > ${MAX_START_LOAD}`);
  return reasons.length === 0 ? { comparable: true } : { comparable: false, reasons };
}

/** The cell text of a row's "comparable" column. */
export function comparableCell(c: Comparability): string {
  return c.comparable ? 'yes' : `NO: ${c.reasons.join('; ')}`;
}

/** Rows that are a PyTorch reference measured in the run (label says "PyTorch" and "run here"). */
export function isRecordedReferenceRow(row: Row): boolean {
  return Object.values(row).some(
    (v) => typeof v === 'string' && /PyTorch/.test(v) && /(?<!not )run here/.test(v),
  );
}

/** What is known instead, by section id: the quiet-machine measurements of issue #23. */
export const QUIET_MACHINE_MEASUREMENT: Record<string, string> = {
  'gpt-step':
    "Measured on a quiet machine (issue #23): PyTorch 1.13 (Debian python3-torch, one thread, OpenBLAS) takes 62.6–90 ms per char-GPT AdamW step against hessflow's 109–130 ms; hessflow ÷ PyTorch within a round 1.44–1.57 (not the 0.93 recorded here).",
  'tfjs-adam-step':
    "Measured on a quiet machine (issue #23): PyTorch 1.13 (one thread, OpenBLAS) takes 7.8 ms per MLP Adam step against hessflow's 16.6 ms, 2.1× (not the 1.36× recorded here).",
};

/** Columns holding a ratio to or from the reference row's time (withdrawn when it is not comparable). */
const RATIO_KEYS = ['vsAdamW', 'vsHessflow'];

/**
 * For the report: a recorded reference row that predates the checks (no `comparable` field) is judged by
 * the same rule from what was stored (its sgemm, in the section's notes; no load average was recorded),
 * so it is marked not comparable, its ratio cell is withdrawn and a note says why, and the notes' quoted
 * ratios are struck. Rows recorded with the checks are left as recorded.
 */
export function reviewReferenceRows(section: Section): Section {
  const old = section.rows.filter((r) => isRecordedReferenceRow(r) && !('comparable' in r));
  if (old.length === 0) return section;
  const sgemm = (section.notes ?? [])
    .map((n) => /sgemm (\d+(?:\.\d+)?) GFLOP\/s/.exec(n))
    .find((m) => m !== null);
  const verdict = comparability({ sgemmGflops: sgemm ? Number(sgemm[1]) : null, loadStart: null });
  const cell = comparableCell(verdict);
  const rows = section.rows.map((r) => {
    if (!old.includes(r)) return r;
    const out: Row = { ...r, comparable: cell };
    for (const k of RATIO_KEYS) if (k in out) out[k] = null;
    return out;
  });
  const columns = section.columns.some((c) => c.key === 'comparable')
    ? section.columns
    : [...section.columns, { key: 'comparable', label: 'reference comparable' }];
  const notes = (section.notes ?? []).map((n) =>
    n.replace(
      /hessflow's AdamW step ÷ PyTorch's, the median of the ratios within each round: wall [\d.]+, CPU [\d.]+\./,
      '~~$&~~ (withdrawn: not comparable)',
    ),
  );
  notes.push(
    verdict.comparable
      ? 'The PyTorch row was recorded before the reference checks.'
      : `Not comparable: this PyTorch row was recorded before the reference checks (${verdict.reasons.join('; ')}); its ratio is withdrawn.${QUIET_MACHINE_MEASUREMENT[section.id] ? ` ${QUIET_MACHINE_MEASUREMENT[section.id]}` : ''}`,
  );
  return { ...section, rows, columns, notes };
}
