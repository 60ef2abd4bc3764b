/** Turns what the soak measured into report sections (bench/lib/types.ts). */
import type { Row, Section } from '../lib/types.js';
import type { Tally } from './producers.js';
import type { Sample } from './sampler.js';
import type { Verification } from './verify.js';

export interface SoakSetup {
  seconds: number;
  warmup: number;
  http: number;
  httpConcurrency: number;
  socket: number;
  socketWindow: number;
  /** The socket producers together offer this fraction of the training rate (0 = unlimited). */
  socketShare: number;
  retryMs: number;
  /** Human description of the daemon's config, for the notes. */
  daemon: string;
}

/** Where each tally stood when the warm-up ended: only what came after is summarised. */
export interface TallyMark {
  /** Latencies recorded before the warm-up ended. */
  latency: number;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const MiB = 2 ** 20;
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export interface SoakSummary {
  /** RSS growth from the end of warm-up to the end of the load, as a fraction (window means). */
  rssGrowth: number;
  sections: Section[];
}

export function soakSections(
  setup: SoakSetup,
  tallies: { http: Tally; socket: Tally },
  marks: { http: TallyMark; socket: TallyMark },
  samples: readonly Sample[],
  v: Verification,
): SoakSummary {
  const during = samples.filter((s) => s.t <= setup.seconds + 0.5);
  const measured = during.filter((s) => s.t >= setup.warmup);
  if (measured.length < 4)
    throw new Error(`soak: only ${measured.length} samples after warm-up; run longer (--seconds)`);
  const first = measured[0];
  const last = measured[measured.length - 1];
  const dt = last.t - first.t;
  const rate = (k: 'acceptedHttp' | 'acceptedSocket' | 'step' | 'rejectedFull'): number =>
    (last[k] - first[k]) / dt;

  // RSS: means over a window at each end, so one GC cycle does not decide the result.
  const window = Math.min(15, dt / 4);
  const head = measured.filter((s) => s.t <= first.t + window).map((s) => s.rssBytes);
  const tail = measured.filter((s) => s.t >= last.t - window).map((s) => s.rssBytes);
  const rssStart = mean(head);
  const rssEnd = mean(tail);
  const rssGrowth = rssEnd / rssStart - 1;
  const depths = measured.map((s) => s.queueDepth);

  const m = v.metrics;
  const pauses = (cause: string) => m.get(`hessflow_socket_read_pauses_total{cause="${cause}"}`) ?? 0;
  const probeCount = m.get('hessflow_probe_duration_seconds_count{estimator="gnb"}') ?? 0;
  const probeMs =
    probeCount > 0
      ? (m.get('hessflow_probe_duration_seconds_sum{estimator="gnb"}')! / probeCount) * 1000
      : NaN;
  const stepMs =
    (m.get('hessflow_step_duration_seconds_sum')! / m.get('hessflow_step_duration_seconds_count')!) * 1000;

  const lat = (t: Tally, mk: TallyMark) => t.latencyMs.slice(mk.latency);
  const httpLat = lat(tallies.http, marks.http);
  const sockLat = lat(tallies.socket, marks.socket);
  const throughput: Row[] = [
    {
      what: `HTTP POST /v1/batches (${setup.http} producers × ${setup.httpConcurrency} in flight)`,
      accepted: tallies.http.accepted,
      perS: rate('acceptedHttp'),
      refused: tallies.http.rejectedFull,
      pauses: '—',
      p50: percentile(httpLat, 50),
      p99: percentile(httpLat, 99),
    },
    {
      what:
        `socket frames (${setup.socket} producers × window ${setup.socketWindow}` +
        (setup.socketShare > 0 ? `, together ${setup.socketShare}× the training rate)` : ')'),
      accepted: tallies.socket.accepted,
      perS: rate('acceptedSocket'),
      refused: '—',
      pauses: `${pauses('queue_full')} queue full, ${pauses('unread_acks')} unread acks`,
      p50: percentile(sockLat, 50),
      p99: percentile(sockLat, 99),
    },
    {
      what: 'applied by training',
      accepted: v.applied,
      perS: rate('step'),
      refused: '—',
      pauses: '—',
      p50: null,
      p99: null,
    },
  ];

  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  const health: Row[] = [
    {
      check: 'RSS growth, end of warm-up → end',
      value: `${pct(rssGrowth)} (${(rssStart / MiB).toFixed(1)} → ${(rssEnd / MiB).toFixed(1)} MiB)`,
      target: '< 5 %',
      met: rssGrowth < 0.05 ? 'yes' : 'no',
    },
    {
      check: 'RSS max during the load',
      value: `${(Math.max(...during.map((s) => s.rssBytes)) / MiB).toFixed(1)} MiB`,
      target: '',
      met: '',
    },
    {
      check: 'queue depth after warm-up (mean / max)',
      value: `${mean(depths).toFixed(1)} / ${Math.max(...depths)}`,
      target: '',
      met: '',
    },
    {
      check: 'acknowledged batches lost / acknowledged twice',
      value: `${v.lost} / ${v.duplicates} of ${v.acked}`,
      target: '0 / 0',
      met: v.lost === 0 && v.duplicates === 0 ? 'yes' : 'no',
    },
    {
      check: 'final checkpoint (SIGTERM) step = acknowledged, queue empty',
      value: `step ${v.finalCheckpointStep}, ${v.acked} acknowledged, ${v.finalCheckpointQueue} queued`,
      target: 'equal, 0',
      met: v.finalCheckpointStep === v.acked && v.finalCheckpointQueue === 0 ? 'yes' : 'no',
    },
    {
      check: 'drain after the producers stopped',
      value: `${v.drainSeconds.toFixed(1)} s`,
      target: '',
      met: '',
    },
    {
      check: 'mean step / mean GNB probe (from /metrics)',
      value: `${stepMs.toFixed(2)} ms / ${probeMs.toFixed(2)} ms (${probeCount} probes)`,
      target: '',
      met: '',
    },
  ];

  const every = Math.max(1, Math.round(setup.seconds / 12));
  const timeline: Row[] = [];
  let prev = during[0];
  for (const s of during) {
    if (s.t - prev.t < every - 0.5 && s !== during[during.length - 1]) continue;
    const d = s.t - prev.t;
    if (d <= 0) continue;
    timeline.push({
      t: s.t,
      rss: s.rssBytes / MiB,
      depth: s.queueDepth,
      applied: (s.step - prev.step) / d,
      accepted: (s.acceptedHttp + s.acceptedSocket - prev.acceptedHttp - prev.acceptedSocket) / d,
      refused: (s.rejectedFull - prev.rejectedFull) / d,
    });
    prev = s;
  }

  const notes = [
    `Daemon: ${setup.daemon}. Producers run in the bench process on the same machine; HTTP producers alternate JSON and msgpack bodies and retry a 429 after ${setup.retryMs} ms (the daemon says Retry-After: 1); they are not rate-limited, so together the producers offer more than the daemon trains.`,
    'Socket producers are paced to a share of the training rate measured over the last 5 s (--socket-share; 0 = unpaced). A socket paused on a full queue is woken on every other freed slot, which leaves HTTP requests the slots in between.',
    `Rates, latencies and queue depth cover the ${setup.seconds - setup.warmup} s after a ${setup.warmup} s warm-up; acknowledgement latency is request → 200 (HTTP) and frame written → ack read (socket, including time in TCP buffers while the daemon is not reading). Socket read pauses come from hessflow_socket_read_pauses_total.`,
    'No-loss check: after the producers stop and the queue drains, every acknowledged sequence number is ≤ the step (applied in order from 1), none twice, no failed steps; then SIGTERM must exit 0 with a final checkpoint at that step holding an empty queue.',
    'RSS is VmRSS of the daemon process sampled every second; growth compares the mean of the first and last 15 s after warm-up.',
    'The machine is shared (2 vCPUs, other work running): throughput and latency vary run to run; the load average is recorded above.',
  ];

  return {
    rssGrowth,
    sections: [
      {
        id: 'soak-ingest',
        title: `Daemon soak, ${setup.seconds} s: ingest, backpressure and acknowledgement latency`,
        columns: [
          { key: 'what', label: 'path' },
          { key: 'accepted', label: 'batches', digits: 0 },
          { key: 'perS', label: 'batches/s', digits: 1 },
          { key: 'refused', label: '429s', digits: 0 },
          { key: 'pauses', label: 'socket read pauses' },
          { key: 'p50', label: 'ack p50 ms', digits: 2 },
          { key: 'p99', label: 'ack p99 ms', digits: 2 },
        ],
        rows: throughput,
        notes,
      },
      {
        id: 'soak-health',
        title: 'Daemon soak: memory, queue and acknowledged batches',
        columns: [
          { key: 'check', label: 'check' },
          { key: 'value', label: 'measured' },
          { key: 'target', label: 'target' },
          { key: 'met', label: 'met' },
        ],
        rows: health,
      },
      {
        id: 'soak-timeline',
        title: 'Daemon soak over time',
        columns: [
          { key: 't', label: 't s', digits: 0 },
          { key: 'rss', label: 'RSS MiB', digits: 1 },
          { key: 'depth', label: 'queue depth', digits: 0 },
          { key: 'applied', label: 'applied/s', digits: 1 },
          { key: 'accepted', label: 'accepted/s', digits: 1 },
          { key: 'refused', label: '429/s', digits: 1 },
        ],
        rows: timeline,
      },
    ],
  };
}
