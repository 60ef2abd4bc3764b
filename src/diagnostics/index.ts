/** Hessian diagnostics (PyHessian-style): trace, top eigenvalues, spectral density, stability, HAWQ, LR scaling. */
export { type HvpFn, hvpOperator, batchedHvpOperator, matrixOperator } from './operator.js';
export { type ParamGroup, layoutGroups, checkGroups } from './groups.js';
export { type TraceOptions, type TraceResult, type GroupTrace, hutchinsonTrace } from './trace.js';
export {
  type EigenOptions,
  type EigenResult,
  type LambdaMaxResult,
  topEigenvalues,
  lambdaMax,
} from './eigen.js';
export { type SymmetricEigen, tridiagonalEigen, symmetricEigen } from './symmetric-eigen.js';
export {
  type DensityOptions,
  type LanczosRun,
  type SpectralDensity,
  lanczos,
  spectralDensity,
} from './density.js';
export {
  type StabilityKind,
  type StabilityReport,
  gdStability,
  momentumStability,
  adamStability,
  sgdStability,
  preconditionedLambdaMax,
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
