/** File formats: checkpoints (msgpack + checksum), safetensors, and atomic writes. */
export type { AtomicWriteOptions } from './atomic-write.js';
export { writeFileAtomic, writeFileAtomicSync } from './atomic-write.js';
export type { ParamLayoutEntry } from './param-layout.js';
export { describeLayoutProblem, layoutEntrySize } from './param-layout.js';
export type {
  Checkpoint,
  CheckpointData,
  CheckpointErrorReason,
  DecodeCheckpointOptions,
} from './checkpoint-codec.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_HEADER_BYTES,
  CHECKPOINT_MAGIC,
  CHECKPOINT_VERSION,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
} from './checkpoint-codec.js';
export { loadCheckpoint, saveCheckpoint } from './checkpoint-file.js';
export type {
  SafetensorsDType,
  SafetensorsEntry,
  SafetensorsErrorReason,
  SafetensorsFile,
  SafetensorsInput,
} from './safetensors.js';
export {
  SAFETENSORS_DTYPE_BYTES,
  SAFETENSORS_MAX_HEADER_BYTES,
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  safetensorsToFloat32,
} from './safetensors.js';
export type { ParamsFromSafetensorsOptions } from './safetensors-params.js';
export { paramsFromSafetensors, paramsToSafetensors } from './safetensors-params.js';
