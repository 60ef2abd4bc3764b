/** Datasets, batching and batch validation. */
export type { Batch, Dataset, ElementKind } from './batch.js';
export { shapeSize } from './batch.js';
export type { ArrayDatasetOptions } from './array-dataset.js';
export { ArrayDataset } from './array-dataset.js';
export { epochPermutation } from './shuffle.js';
export type { BatchingOptions, BatchIterationOptions } from './batching.js';
export { batchAt, batchSampler, batches, batchesPerEpoch, batchIndices } from './batching.js';
export type { Mnist, MnistSplit } from './mnist.js';
export {
  MNIST_CLASSES,
  MNIST_PIXELS,
  MNIST_SPLIT_SEED,
  MNIST_TEST_SIZE,
  MNIST_TRAIN_SIZE,
  decodeMnistOrigin,
  loadMnist,
  readMnistDigitFiles,
} from './mnist.js';
export { CharVocab } from './char-vocab.js';
export { TokenWindows } from './token-windows.js';
export { unigramCrossEntropy, unigramEntropy } from './unigram-entropy.js';
export { MOBY_DICK_TRAIN_FRACTION, MobyDickCorpus, loadMobyDick, readMobyDickText } from './moby-dick.js';
export type {
  LogisticRegressionData,
  Quadratic,
  QuadraticOptions,
  RegressionDataOptions,
  SoftmaxRegressionData,
  SoftmaxRegressionOptions,
} from './synthetic.js';
export {
  logisticGradient,
  logisticHessian,
  logisticLoss,
  logisticRegressionData,
  quadratic,
  randomOrthogonal,
  softmaxRegressionData,
  softmaxRegressionGradient,
  softmaxRegressionHessian,
  softmaxRegressionLoss,
} from './synthetic.js';
export type { BatchField, BatchSpec, BatchValidationReason } from './validate.js';
export { BatchValidationError, batchSpecOf, validateBatch } from './validate.js';
export type { CharCorpusOptions } from './char-corpus.js';
export { CharCorpus } from './char-corpus.js';
export { DataFileError } from './data-file-error.js';
export type { FileLine } from './line-reader.js';
export { readLines } from './line-reader.js';
export type { Normalization, NormalizeKind, SkippedRows, TableFile, TableFileOptions } from './table-file.js';
export { TableRows, indexTableFile } from './table-file.js';
export type { ParsedRow, TableLayout } from './table-rows.js';
export { featureCount, rowParser } from './table-rows.js';
export type { TextFileOptions } from './text-file.js';
export { TEXT_MAX_BYTES, readTextCorpus } from './text-file.js';
