/** The training daemon: explicit named exports for the CLI (`hessflow daemon`) and embedders. */
export type { DaemonConfig, DaemonOptimizerConfig, DaemonOptimizerName } from './config.js';
export {
  DAEMON_OPTIMIZERS,
  OPTIMIZER_HYPERPARAMS,
  loadDaemonConfig,
  validateDaemonConfig,
} from './config.js';
export type { DaemonHandle, StartDaemonOptions } from './daemon.js';
export { startDaemon } from './daemon.js';
export type { AppliedStep, EngineSnapshot, EngineStatus, ProbeTiming, TrainingEngine } from './engine.js';
export { batchSpecOfModel } from './engine.js';
export { TrainerEngine } from './trainer-engine.js';
export { DaemonConfigError, DaemonLockedError, IngestError } from './errors.js';
export type { RunDaemonOptions } from './run.js';
export { runDaemon } from './run.js';
