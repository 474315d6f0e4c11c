// SPDX-License-Identifier: Apache-2.0
// Importing the library inside an application's own worker thread must not
// attach the hash worker's message handler to that thread's port.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

describe('hash worker isolation', () => {
  it('an application worker that imports the library keeps its port to itself', async () => {
    // The built library (`pnpm build` runs before the tests): the worker is plain Node.
    const core = new URL('../../dist/index.js', import.meta.url).href;
    // The worker's own entry module too: it listens only in a pool worker.
    const entry = new URL('../../dist/manifest/hash-worker.js', import.meta.url)
      .href;
    const worker = new Worker(
      `import { parentPort } from 'node:worker_threads';
       await import(${JSON.stringify(core)});
       await import(${JSON.stringify(entry)});
       parentPort.postMessage(parentPort.listenerCount('message'));`,
      { eval: true },
    );
    const listeners = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(listeners).toBe(0);
  });
});
