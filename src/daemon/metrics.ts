/** Prometheus metrics of the daemon (prom-client), on a registry of its own (no global state). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class DaemonMetrics {
  readonly registry = new Registry();

  constructor() {
    // process_resident_memory_bytes, nodejs_heap_size_used_bytes, nodejs_external_memory_bytes, …: the
    // memory of a long-running daemon is watched from outside (the soak reads them too).
    collectDefaultMetrics({ register: this.registry });
  }

  readonly steps = new Counter({
    name: 'hessflow_steps_total',
    help: 'Training steps taken',
    registers: [this.registry],
  });
  readonly skippedSteps = new Counter({
    name: 'hessflow_skipped_steps_total',
    help: 'Steps skipped because loss, gradient or update was not finite',
    registers: [this.registry],
  });
  readonly samples = new Counter({
    name: 'hessflow_samples_total',
    help: 'Predictions trained on',
    registers: [this.registry],
  });
  readonly accepted = new Counter({
    name: 'hessflow_batches_accepted_total',
    help: 'Batches accepted and acknowledged',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'hessflow_rejected_inputs_total',
    help: 'Inputs rejected, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly loss = new Gauge({
    name: 'hessflow_loss',
    help: 'Loss of the last applied step',
    registers: [this.registry],
  });
  readonly winRate = new Gauge({
    name: 'hessflow_win_rate',
    help: 'Sophia win-rate: fraction of live coordinates (non-zero gradient EMA) not clipped at the last step',
    registers: [this.registry],
  });
  readonly curvatureStaleness = new Gauge({
    name: 'hessflow_curvature_staleness_steps',
    help: 'Steps between launch and application of the last curvature estimate',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'hessflow_queue_depth',
    help: 'Accepted batches not yet applied',
    registers: [this.registry],
  });
  readonly step = new Gauge({ name: 'hessflow_step', help: 'Current step', registers: [this.registry] });
  readonly paused = new Gauge({
    name: 'hessflow_paused',
    help: '1 while training is paused (batches are still accepted up to the queue limit)',
    registers: [this.registry],
  });
  readonly stepSeconds = new Histogram({
    name: 'hessflow_step_duration_seconds',
    help: 'Wall time of one training step',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly probeSeconds = new Histogram({
    name: 'hessflow_probe_duration_seconds',
    help: 'Wall time of one curvature probe (estimate of the Hessian diagonal), by estimator',
    labelNames: ['estimator'],
    // Probes cost one to a few gradients, so the buckets reach a little further than the step's.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly socketReadPauses = new Counter({
    name: 'hessflow_socket_read_pauses_total',
    help: 'Times a socket connection stopped reading frames, by cause (queue_full, unread_acks)',
    labelNames: ['cause'],
    registers: [this.registry],
  });
  readonly checkpoints = new Counter({
    name: 'hessflow_checkpoints_total',
    help: 'Checkpoints written',
    registers: [this.registry],
  });

  readonly checkpointFailures = new Counter({
    name: 'hessflow_checkpoint_failures_total',
    help: 'Checkpoint writes that failed (disk full, I/O error, ...)',
    registers: [this.registry],
  });
  readonly persistenceFailing = new Gauge({
    name: 'hessflow_persistence_failing',
    help: '1 while the last checkpoint write failed (ingest answers 503 persistence_failed)',
    registers: [this.registry],
  });

  readonly diverged = new Gauge({
    name: 'hessflow_diverged',
    help: '1 while training is stopped as diverged (divergenceSteps consecutive skipped steps; ingest answers 503 diverged)',
    registers: [this.registry],
  });

  reject(reason: string): void {
    this.rejected.inc({ reason });
  }
}
