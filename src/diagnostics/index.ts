/** Hessian diagnostics (PyHessian-style): trace, top eigenvalues, spectral density, stability, HAWQ, LR scaling. */
export {
  type StepProgress,
  type Stepwise,
  type DriveOptions,
  type Driven,
  finish,
  drive,
} from './stepwise.js';
export { type HvpFn, hvpOperator, batchedHvpOperator, matrixOperator } from './operator.js';
export { type ParamGroup, layoutGroups, checkGroups } from './groups.js';
export {
  type TraceOptions,
  type TraceResult,
  type GroupTrace,
  hutchinsonTrace,
  hutchinsonTraceSteps,
} from './trace.js';
export {
  type EigenOptions,
  type EigenResult,
  type LambdaMaxResult,
  topEigenvalues,
  topEigenvaluesSteps,
  eigenvaluesLargestFirst,
  lambdaMax,
  lambdaMaxSteps,
} from './eigen.js';
export { type SymmetricEigen, tridiagonalEigen, symmetricEigen } from './symmetric-eigen.js';
export {
  type DensityOptions,
  type LanczosRun,
  type SpectralDensity,
  lanczos,
  lanczosSteps,
  spectralDensity,
  spectralDensitySteps,
} from './density.js';
export {
  type StabilityKind,
  type StabilityReport,
  gdStability,
  momentumStability,
  adamStability,
  sgdStability,
  preconditionedLambdaMax,
  preconditionedLambdaMaxSteps,
} from './stability.js';
export {
  type HawqLayerInput,
  type HawqLayer,
  type HawqConfig,
  type HawqResult,
  type HawqOptions,
  quantizeSymmetric,
  quantizationError,
  hawqSensitivity,
  hawqMixedPrecision,
  groupValues,
  hawqLayersFromGroups,
} from './hawq.js';
export {
  type ScalingRule,
  type LrSuggestionOptions,
  type LrSuggestion,
  scalingRule,
  suggestLearningRates,
} from './lr-scaling.js';
