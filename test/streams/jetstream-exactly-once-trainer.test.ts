/**
 * Exactly-once training from JetStream across crashes through the synchronous Trainer
 * (`engine: 'trainer'`, `hessflow train --source … --engine trainer`), against a real nats-server: a
 * trainer process killed with SIGKILL at ≥ 10 random moments (some inside a checkpoint) while a producer
 * publishes (retrying some publishes with the same id): after the restarts every published batch was
 * applied exactly once, and θ equals an uninterrupted Trainer run over the same stream bit for bit
 * (fixtures/kill-run.ts; the pipeline is jetstream-exactly-once.test.ts).
 */
import t from 'tap';
import { natsSkipReason } from '../helpers/nats-server.js';
import { killRun } from './fixtures/kill-run.js';

const skip = natsSkipReason();
// Ten trainer processes and an uninterrupted run: longer than the suite's 300 s on a loaded machine.
t.setTimeout(900_000);

t.test(
  'Trainer: kill -9 of the trainer at ≥ 10 random moments while producing: each batch applied exactly once, θ bit for bit',
  { skip, timeout: 900_000 },
  (t) => killRun(t, 'trainer'),
);
