/**
 * hessflow's public API: explicit named re-exports, so what is public is a decision, not an accident.
 */

// Tensor core and autodiff
export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  scalar,
  ShapeError,
  DTypeError,
  NonFiniteError,
  noGrad,
  withGradMode,
  setFiniteChecks,
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  log,
  sqrt,
  pow,
  tanh,
  sigmoid,
  relu,
  abs,
  maximum,
  where,
  stopGradient,
  broadcastTo,
  sum,
  mean,
  max,
  reshape,
  permute,
  transpose,
  slice,
  pad,
  concat,
  matmul,
  gather,
  scatterAdd,
  softmax,
  logSoftmax,
  logsumexp,
  gelu,
  layerNorm,
  crossEntropy,
  mse,
  gradients,
  grad,
  valueAndGrad,
  hvp,
  valueGradHvp,
  withScratch,
} from './tensor/index.js';
export type {
  DType,
  FloatArray,
  Shape,
  TensorLike,
  MatmulOptions,
  GradientsOptions,
} from './tensor/index.js';
export { registerKernel, kernel, kernelBackends, useKernelBackend } from './kernels/registry.js';
export { rng, CounterRng } from './random/counter-rng.js';

// Models and parameters
export { ParamLayout, Params } from './nn/param-layout.js';
export type { ParamEntry, ParamSpec, ParamTag, ParamInit } from './nn/param-layout.js';
export { ParamStore } from './nn/param-store.js';
export { initialParams, lossFunction } from './nn/model.js';
export type { Model, ModelSpec, MlpSpec, GptSpec, ModelInputs } from './nn/model.js';
export { buildModel, registerModel } from './nn/models/registry.js';
export { tensorLayoutOf } from './nn/tensor-layout.js';
export { mlp } from './nn/models/mlp.js';
export { gpt } from './nn/models/gpt.js';

// Optimizers
export {
  applyUpdates,
  applyUpdatesInPlace,
  chain,
  injectHyperparams,
  setHyperparam,
  constantSchedule,
  linearSchedule,
  warmupCosineSchedule,
  scaleByLearningRate,
  clipByGlobalNorm,
  globalNorm,
  addDecayedWeights,
  trace,
  adamw,
  scaleByAdam,
  sgd,
  lion,
  scaleByLion,
  sophiaG,
  scaleBySophiaG,
  sophiaH,
  scaleBySophiaH,
  adahessian,
  scaleByAdahessian,
  mfac,
  scaleByMfac,
  muon,
  scaleByMuon,
  partition,
  soap,
  scaleBySoap,
  soapSophia,
  scaleBySoapSophia,
  psgdKron,
  scaleByPsgdKron,
  precondUpdateProbSchedule,
  findStats,
  checkTensorLayout,
} from './optim/index.js';
export type {
  GradientTransformation,
  UpdateExtra,
  Schedule,
  CurvatureStats,
  PsgdKronOptions,
  PsgdKronState,
  TensorLayout,
  TensorRole,
  TensorSlot,
  MuonOptions,
  ScaleByMuonOptions,
  PartitionState,
  SoapOptions,
  SoapSophiaOptions,
  SoapState,
} from './optim/index.js';

// Curvature estimators
export { hutchinsonDiag } from './curvature/hutchinson-diag.js';
export { gnbDiag, sampleLabels } from './curvature/gnb-diag.js';
export { hvpPair, hvpPairDirection } from './curvature/hvp-pair.js';
export { exactDiag, denseHessian } from './curvature/exact-diag.js';

// Data
export {
  ArrayDataset,
  batchAt,
  batches,
  batchSpecOf,
  validateBatch,
  BatchValidationError,
  loadMnist,
  loadMobyDick,
  MobyDickCorpus,
  CharCorpus,
  CharVocab,
  readTextCorpus,
  indexTableFile,
  TableRows,
  DataFileError,
  quadratic,
  logisticRegressionData,
  softmaxRegressionData,
} from './data/index.js';
export type { Batch, Dataset, BatchSpec, TableFile, TableFileOptions } from './data/index.js';

// Files
export {
  encodeCheckpoint,
  decodeCheckpoint,
  saveCheckpoint,
  loadCheckpoint,
  CheckpointError,
  encodeSafetensors,
  decodeSafetensors,
  paramsToSafetensors,
  paramsFromSafetensors,
  writeFileAtomic,
} from './io/index.js';

// Training
export { Trainer, train } from './train/train.js';
export type { TrainConfig, TrainState } from './train/train.js';
export type { StepMetrics } from './step/records.js';
export { evaluate } from './train/evaluate.js';
export type { CurvatureConfig } from './step/curvature-schedule.js';

// Hessian diagnostics
export {
  hvpOperator,
  batchedHvpOperator,
  matrixOperator,
  layoutGroups,
  hutchinsonTrace,
  topEigenvalues,
  lambdaMax,
  tridiagonalEigen,
  symmetricEigen,
  lanczos,
  spectralDensity,
  gdStability,
  momentumStability,
  adamStability,
  sgdStability,
  preconditionedLambdaMax,
  quantizeSymmetric,
  hawqSensitivity,
  hawqMixedPrecision,
  hawqLayersFromGroups,
  suggestLearningRates,
} from './diagnostics/index.js';
export type {
  HvpFn,
  TraceResult,
  EigenResult,
  SpectralDensity,
  StabilityReport,
  HawqResult,
} from './diagnostics/index.js';

// The streaming pipeline
export { createPipeline } from './pipeline/create-pipeline.js';
export type { Pipeline, PipelineSnapshot } from './pipeline/create-pipeline.js';
export type { PipelineCheckpoint } from './pipeline/checkpoint.js';
export { PipelineConfigError } from './pipeline/config.js';
export type { PipelineConfig } from './pipeline/config.js';
export { referenceLoop } from './pipeline/reference.js';
export { WorkerPools } from './workers/pools.js';
export { fromDataset } from './streams/from-dataset.js';
export { fromAsyncIterable } from './streams/from-async-iterable.js';
