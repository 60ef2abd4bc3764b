/** Public surface of hessflow's optimizers: transforms, composition, schedules and aliases. */
export type {
  CoordinateMask,
  GradientTransformation,
  ScalarOrSchedule,
  Schedule,
  UpdateExtra,
} from './transform.js';
export {
  checkTensorLayout,
  requireTensorLayout,
  restrictToSlots,
  roleMask,
  TENSOR_ROLES,
} from './tensor-layout.js';
export type { TensorLayout, TensorRole, TensorSlot } from './tensor-layout.js';
export { applyUpdates, applyUpdatesInPlace } from './apply.js';
export { chain } from './chain.js';
export type { ChainState } from './chain.js';
export { injectHyperparams, setHyperparam } from './inject.js';
export type { InjectedState, InjectOptions } from './inject.js';
export { constantSchedule, linearSchedule, warmupCosineSchedule } from './schedules.js';
export type { LinearScheduleOptions, WarmupCosineScheduleOptions } from './schedules.js';
export { scaleByLearningRate } from './learning-rate.js';
export type { CountState } from './learning-rate.js';
export { clipByGlobalNorm, globalNorm } from './clip.js';
export type { EmptyState } from './clip.js';
export { addDecayedWeights } from './weight-decay.js';
export { trace } from './momentum.js';
export type { TraceOptions, TraceState } from './momentum.js';
export { adamw, scaleByAdam } from './adam.js';
export type { AdamState, AdamWOptions, ScaleByAdamOptions } from './adam.js';
export { sgd } from './sgd.js';
export type { SgdOptions } from './sgd.js';
export { lion, scaleByLion } from './lion.js';
export type { LionOptions, LionState } from './lion.js';
export { scaleBySophiaG, sophiaG } from './sophia-g.js';
export type { ScaleBySophiaGOptions, SophiaGOptions, SophiaState } from './sophia-g.js';
export { scaleBySophiaH, sophiaH } from './sophia-h.js';
export type { ScaleBySophiaHOptions, SophiaHOptions } from './sophia-h.js';
export { adahessian, scaleByAdahessian } from './adahessian.js';
export type { AdahessianOptions, AdahessianState, ScaleByAdahessianOptions } from './adahessian.js';
export type { HessianBlock } from './hessian-blocks.js';
export { mfac, mfacInverseFisherProduct, scaleByMfac } from './mfac.js';
export type { MfacOptions, MfacState, ScaleByMfacOptions } from './mfac.js';
export { partition } from './partition.js';
export type { PartitionGroupState, PartitionState } from './partition.js';
export { AUX_ADAM_KEYS, auxAdamW, withAuxAdam } from './aux-adam.js';
export type { AuxAdamOptions } from './aux-adam.js';
export { muon, scaleByMuon } from './muon.js';
export type { MuonOptions, MuonState, ScaleByMuonOptions } from './muon.js';
export { newtonSchulzInto, NS_COEFFICIENTS } from './newton-schulz.js';
export { scaleBySoap, soap } from './soap.js';
export type {
  ScaleBySoapOptions,
  SoapBasisOptions,
  SoapBlock,
  SoapFactors,
  SoapOptions,
  SoapState,
} from './soap.js';
export { scaleBySoapSophia, soapSophia } from './soap-sophia.js';
export type { ScaleBySoapSophiaOptions, SoapSophiaOptions } from './soap-sophia.js';
export { psgdKron, scaleByPsgdKron } from './psgd-kron.js';
export type { PsgdKronOptions, PsgdKronState } from './psgd-kron.js';
export { precondUpdateProbSchedule } from './psgd-options.js';
export type { PsgdMode, ScaleByPsgdKronOptions } from './psgd-options.js';
export type { KronPlan, MemorySave } from './psgd-factors.js';
export { findStats } from './stats.js';
export type { CurvatureStats } from './stats.js';
