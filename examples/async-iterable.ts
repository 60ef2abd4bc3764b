// Training from any Node async iterable of batches: here, rows of a CSV file read line by line.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { lastValueFrom } from 'rxjs';
import { type Batch, adamw, createPipeline, fromAsyncIterable } from '../src/index.js';

/** Batches of `size` rows "x1,x2,label" (after a header line), as many epochs as asked. */
async function* csvBatches(path: string, size: number, epochs: number): AsyncGenerator<Batch> {
  for (let e = 0; e < epochs; e++) {
    let x: number[] = [];
    let y: number[] = [];
    let header = true;
    for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
      if (header || line.trim() === '') {
        header = false;
        continue;
      }
      const [x1, x2, label] = line.split(',').map(Number);
      x.push(x1, x2);
      y.push(label);
      if (y.length === size) {
        yield {
          inputs: Float32Array.from(x),
          inputShape: [size, 2],
          targets: Int32Array.from(y),
          targetShape: [size],
        };
        [x, y] = [[], []];
      }
    }
  }
}

export async function trainFromCsv(path: string): Promise<Float32Array> {
  const pipeline = createPipeline({
    model: { kind: 'mlp', sizes: [2, 16, 3] },
    optimizer: adamw({ lr: 1e-2 }),
    // Every batch is checked against this before use; a bad one is refused on pipeline.errors$.
    batchSpec: { inputKind: 'float', featureShape: [2], targetKind: 'int', targetShape: [], numClasses: 3 },
    workers: 1,
    seed: 1,
  });
  try {
    // The generator is pulled only as fast as training consumes it.
    await lastValueFrom(pipeline.run(fromAsyncIterable(csvBatches(path, 32, 3))));
    return pipeline.params();
  } finally {
    await pipeline.close();
  }
}
