/** Checkpoints on disk: the codec plus an atomic write, so a crash mid-save never leaves a torn file. */
import { readFile } from 'node:fs/promises';
import { type AtomicWriteOptions, writeFileAtomic } from './atomic-write.js';
import {
  type Checkpoint,
  type CheckpointData,
  decodeCheckpoint,
  encodeCheckpoint,
} from './checkpoint-codec.js';

export async function saveCheckpoint(
  path: string,
  data: CheckpointData,
  opts?: AtomicWriteOptions,
): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(data), opts);
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await readFile(path), { source: path });
}
