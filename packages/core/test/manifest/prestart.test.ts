// SPDX-License-Identifier: Apache-2.0
// Issue 11 items 2-3: hash workers started ahead of need (before the CLI loads
// its command) are taken by the next hashing, which gives the same manifest;
// a small model starts none, and the look at the path is bounded.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashModel } from '../../src/manifest/index.js';
import { prestartHashWorkers } from '../../src/manifest/prestart.js';
import { HASH_WORKER_MARK } from '../../src/manifest/hash-worker.js';
import {
  HASH_WORKER_MARK as SPAWN_MARK,
  endPrestartedWorkers,
  isLive,
  prestartedWorkers,
  watchWaiting,
} from '../../src/manifest/worker-spawn.js';
import { makeTree, tempDir } from '../helpers/tree.js';

function manyFiles(count: number): string {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++) files[`d${i % 3}/f${i}.txt`] = `file ${i}\n`;
  return makeTree(files);
}

afterEach(() => endPrestartedWorkers());

describe('prestartHashWorkers', () => {
  it('the worker starter marks workers as the worker module expects', () => {
    // Two copies of one value: the worker module imports nothing of ours.
    expect(SPAWN_MARK).toBe(HASH_WORKER_MARK);
  });

  it('starts nothing for a small model, a missing path or one core', () => {
    const small = makeTree({ 'config.json': '{}', 'w.bin': 'x'.repeat(1000) });
    expect(prestartHashWorkers(small, { concurrency: 2 })).toEqual({
      large: false,
      manyFiles: false,
      workers: 0,
    });
    expect(
      prestartHashWorkers(join(small, 'missing'), { concurrency: 2 }),
    ).toEqual({ large: false, manyFiles: false, workers: 0 });
    const many = manyFiles(100);
    expect(prestartHashWorkers(many, { concurrency: 1 })).toEqual({
      large: true,
      manyFiles: true,
      workers: 0,
    });
    // Verification of many files starts none ahead (the statement is decoded first).
    expect(
      prestartHashWorkers(many, { concurrency: 2, fewFilesOnly: true }),
    ).toEqual({ large: true, manyFiles: true, workers: 0 });
    expect(prestartedWorkers()).toBe(0);
  });

  it('a few large files start workers, also for verification', () => {
    const dir = join(tempDir(), 'few');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.bin'), Buffer.alloc(9 * 1024 * 1024));
    writeFileSync(join(dir, 'b.bin'), Buffer.alloc(9 * 1024 * 1024));
    expect(
      prestartHashWorkers(dir, { concurrency: 2, fewFilesOnly: true }),
    ).toEqual({ large: true, manyFiles: false, workers: 1 });
  });

  it('one large file needs workers only in shards', () => {
    const dir = tempDir();
    const file = join(dir, 'one.bin');
    writeFileSync(file, Buffer.alloc(17 * 1024 * 1024));
    expect(prestartHashWorkers(file, { concurrency: 2 }).workers).toBe(0);
    expect(
      prestartHashWorkers(file, { concurrency: 2, shards: true }).workers,
    ).toBe(1);
    expect(prestartedWorkers()).toBe(1);
  });

  it('a wide tree of empty directories is judged large without walking it all', () => {
    const root = join(tempDir(), 'wide');
    for (let i = 0; i < 400; i++)
      mkdirSync(join(root, `d${i}`, 'e'), { recursive: true });
    expect(prestartHashWorkers(root, { concurrency: 2 }).large).toBe(true);
  });

  it('the next hashing takes the workers started ahead and gives the same manifest', async () => {
    const model = manyFiles(120);
    const plain = await hashModel(model, { concurrency: 3 });
    expect(prestartHashWorkers(model, { concurrency: 3 })).toEqual({
      large: true,
      manyFiles: true,
      workers: 2,
    });
    expect(prestartedWorkers()).toBe(2);
    const ahead = await hashModel(model, { concurrency: 3 });
    expect(prestartedWorkers()).toBe(0);
    expect(ahead.manifest.rootDigest).toBe(plain.manifest.rootDigest);
    expect(ahead.manifest.resources).toEqual(plain.manifest.resources);
  });

  it('workers left over when the hashing needs none are ended', async () => {
    const model = manyFiles(100);
    prestartHashWorkers(model, { concurrency: 2 });
    expect(prestartedWorkers()).toBe(1);
    // A small model hashed next uses no worker; the one waiting is ended.
    await hashModel(makeTree({ 'a.txt': 'a' }), { concurrency: 2 });
    expect(prestartedWorkers()).toBe(0);
  });

  it('a waiting worker that fails is marked dead, not an uncaught error', async () => {
    // Without the watch, the worker's 'error' event would end the process
    // with a stack trace (the test run would report an unhandled error).
    const worker = new Worker('throw new Error("no start")', { eval: true });
    worker.unref();
    watchWaiting(worker);
    expect(isLive(worker)).toBe(true);
    await new Promise((resolve) => worker.once('exit', resolve));
    expect(isLive(worker)).toBe(false);
  });
});
