/**
 * Samples the daemon once a period during the soak: its RSS, step and queue depth (GET /v1/status), and
 * the producers' running totals, so rates and memory can be read over time afterwards.
 */
import type { DaemonProcess } from './daemon-process.js';
import type { Tally } from './producers.js';

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  rssBytes: number;
  step: number;
  queueDepth: number;
  acceptedHttp: number;
  acceptedSocket: number;
  /** HTTP 429 answers so far. */
  rejectedFull: number;
}

export interface Sampler {
  readonly samples: Sample[];
  stop(): Promise<void>;
}

export async function daemonStatus(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/status`);
  if (res.status !== 200) throw new Error(`soak: GET /v1/status answered ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

export function startSampler(
  d: DaemonProcess,
  tallies: { http: Tally; socket: Tally },
  everyMs: number,
  onSample: (samples: readonly Sample[]) => void = () => undefined,
): Sampler {
  const samples: Sample[] = [];
  const t0 = performance.now();
  let stopped = false;
  const take = async (): Promise<void> => {
    const rssBytes = d.rssBytes();
    const s = await daemonStatus(d.url);
    samples.push({
      t: (performance.now() - t0) / 1000,
      rssBytes,
      step: s.step as number,
      queueDepth: s.queueDepth as number,
      acceptedHttp: tallies.http.accepted,
      acceptedSocket: tallies.socket.accepted,
      rejectedFull: tallies.http.rejectedFull,
    });
    onSample(samples);
  };
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      await take();
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - started))));
    }
  })();
  return {
    samples,
    stop: async () => {
      stopped = true;
      await loop;
      await take();
    },
  };
}

/** Prometheus text → `name{labels}` → value. */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}
