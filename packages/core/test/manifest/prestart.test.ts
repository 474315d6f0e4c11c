// SPDX-License-Identifier: Apache-2.0
// Issue 11 items 2-3: hash workers started ahead of need (before the CLI loads
// its command) are taken by the next hashing, which gives the same manifest;
// a small model starts none, nor many small files on two threads, and the
// look at the path is bounded. Batches go to a worker packed.
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashModel } from '../../src/manifest/index.js';
import { WorkerReserve } from '../../src/manifest/hash-pool.js';
import {
  LARGE_RANGE_BYTES,
  prestartHashWorkers,
  whenHashWorkersLoaded,
  whenListingStarts,
} from '../../src/manifest/prestart.js';
import {
  HASH_WORKER_MARK,
  packTasks,
  unpackTasks,
  type HashTask,
} from '../../src/manifest/hash-worker.js';
import {
  HASH_WORKER_MARK as SPAWN_MARK,
  SMALL_AVERAGE,
  endPrestartedWorkers,
  isLive,
  prestartedWorkers,
  RANGE_COST,
  usefulThreads,
  watchWaiting,
  workersFor,
} from '../../src/manifest/worker-spawn.js';
import { makeTree, tempDir } from '../helpers/tree.js';

function manyFiles(count: number): string {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i++) files[`d${i % 3}/f${i}.txt`] = `file ${i}\n`;
  return makeTree(files);
}

/** A sparse file of `size` bytes (no disk used: the look reads sizes only). */
function sparse(path: string, size: number): string {
  writeFileSync(path, '');
  truncateSync(path, size);
  return path;
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
      fewRanges: true,
      largeRanges: false,
    });
    expect(
      prestartHashWorkers(join(small, 'missing'), { concurrency: 2 }),
    ).toEqual({
      large: false,
      manyFiles: false,
      workers: 0,
      fewRanges: false,
      largeRanges: false,
    });
    const many = manyFiles(100);
    expect(prestartHashWorkers(many, { concurrency: 1 })).toEqual({
      large: true,
      manyFiles: true,
      workers: 0,
      fewRanges: false,
      largeRanges: false,
    });
    // Verification of many files starts none ahead (the statement is decoded first).
    expect(
      prestartHashWorkers(many, { concurrency: 2, fewFilesOnly: true }),
    ).toEqual({
      large: true,
      manyFiles: true,
      workers: 0,
      fewRanges: false,
      largeRanges: false,
    });
    expect(prestartedWorkers()).toBe(0);
  });

  it('a few large files start workers, also for verification', () => {
    const dir = join(tempDir(), 'few');
    mkdirSync(dir);
    sparse(join(dir, 'a.bin'), 256 * 1024 * 1024);
    sparse(join(dir, 'b.bin'), 256 * 1024 * 1024);
    expect(
      prestartHashWorkers(dir, { concurrency: 2, fewFilesOnly: true }),
    ).toEqual({
      large: true,
      manyFiles: false,
      workers: 1,
      fewRanges: true,
      largeRanges: true,
    });
    // Two files of 9 MiB: a worker would take longer to start than the
    // hashing it saves.
    const few = join(tempDir(), 'few9');
    mkdirSync(few);
    sparse(join(few, 'a.bin'), 9 * 1024 * 1024);
    sparse(join(few, 'b.bin'), 9 * 1024 * 1024);
    expect(
      prestartHashWorkers(few, { concurrency: 2, fewFilesOnly: true }),
    ).toEqual({
      large: true,
      manyFiles: false,
      workers: 0,
      fewRanges: true,
      largeRanges: true,
    });
  });

  it('counts ranges, not files: shards of a known size count (fewRanges)', () => {
    // What the CLI needs to leave Maglev off: at most 64 ranges.
    const dir = join(tempDir(), 'ranges');
    mkdirSync(dir);
    const file = sparse(join(dir, 'one.bin'), 64 * 1024 * 1024);
    const one = (shardSize?: number): boolean =>
      prestartHashWorkers(file, { concurrency: 1, shards: true, shardSize })
        .fewRanges;
    expect(one(16 * 1024 * 1024)).toBe(true); // 4 shards
    expect(one(1024 * 1024)).toBe(true); // 64
    expect(one(1024 * 1024 - 1)).toBe(false); // 65
    expect(one(65536)).toBe(false); // 1,024
    expect(one(undefined)).toBe(false); // shards of an unknown size
    // A folder: its files plus the shards its bytes fill.
    sparse(join(dir, 'two.bin'), 64 * 1024 * 1024);
    const folder = (shardSize: number): boolean =>
      prestartHashWorkers(dir, { concurrency: 1, shards: true, shardSize })
        .fewRanges;
    expect(folder(4 * 1024 * 1024)).toBe(true); // 2 + 32
    expect(folder(2 * 1024 * 1024)).toBe(false); // 2 + 64
    expect(prestartHashWorkers(dir, { concurrency: 1 }).fewRanges).toBe(true);
  });

  it('tells whether the ranges average 64 KiB or more (largeRanges), from the files the look saw', () => {
    // What the CLI needs to leave Maglev off for many files: JS per range
    // small against the hashing of it.
    const tree = (count: number, size: number, name?: string): string => {
      const dir = join(tempDir(), name ?? `t${count}x${size}`);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < count; i++) sparse(join(dir, `f${i}.bin`), size);
      return dir;
    };
    const large = (path: string, options = {}): boolean =>
      prestartHashWorkers(path, { concurrency: 1, ...options }).largeRanges;
    expect(LARGE_RANGE_BYTES).toBe(64 * 1024);
    // 100 files: the look stops at 65, judged by those.
    expect(large(tree(100, LARGE_RANGE_BYTES))).toBe(true);
    expect(large(tree(100, LARGE_RANGE_BYTES - 1))).toBe(false);
    expect(large(tree(3, 1 << 20))).toBe(true);
    // An empty file is a range too (listed, handed out, compared): three of
    // 64 KiB and one empty average 48 KiB.
    const withEmpty = tree(3, LARGE_RANGE_BYTES);
    expect(large(withEmpty)).toBe(true);
    writeFileSync(join(withEmpty, 'empty'), '');
    expect(large(withEmpty)).toBe(false);
    // A cut look: one large file does not speak for the small ones after it
    // (the root's file is seen first, then 64 of data/'s 100).
    const outlier = tree(100, 4096, 'outlier/data');
    sparse(join(outlier, '..', 'model.bin'), 64 * 1024 * 1024);
    expect(large(join(outlier, '..'))).toBe(false);
    // Nor one file seen in a look cut by its folders.
    const wide = join(tempDir(), 'wide-one');
    for (let i = 0; i < 300; i++)
      mkdirSync(join(wide, `d${i}`), { recursive: true });
    sparse(join(wide, 'model.bin'), 64 * 1024 * 1024);
    expect(prestartHashWorkers(wide, { concurrency: 1 }).manyFiles).toBe(true);
    expect(large(wide)).toBe(false);
    // In shards of a known size the shards count, and the line is four
    // times higher: one file of 64 MiB in 256 shards of 256 KiB.
    const one = sparse(join(tempDir(), 'one.bin'), 64 * 1024 * 1024);
    const shardLine = 4 * LARGE_RANGE_BYTES;
    expect(large(one, { shards: true, shardSize: shardLine })).toBe(true);
    expect(large(one, { shards: true, shardSize: shardLine - 1 })).toBe(false);
    expect(large(one, { shards: true, shardSize: LARGE_RANGE_BYTES })).toBe(
      false,
    );
    expect(large(one, { shards: true })).toBe(false); // size unknown
    // A folder: its files plus the shards its bytes fill, each file's last
    // counted again (generously: 4 files of 512 KiB in 512 KiB shards are 4
    // ranges, counted as 8, and 256 KiB on average is still on the line).
    const folder = tree(4, 2 * shardLine);
    expect(large(folder, { shards: true, shardSize: 2 * shardLine })).toBe(
      true,
    );
    // 4 files + 8 shards counted (8 ranges of 256 KiB in truth): under it.
    expect(large(folder, { shards: true, shardSize: shardLine })).toBe(false);
    // Nothing seen: no file, or no path.
    expect(large(join(tempDir(), 'missing'))).toBe(false);
    const empty = join(tempDir(), 'empty');
    mkdirSync(empty);
    expect(large(empty)).toBe(false);
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

  it('a tree wide in folders, cut short before two files, starts workers as any large tree', () => {
    const root = join(tempDir(), 'folders');
    for (let i = 0; i < 300; i++) {
      mkdirSync(join(root, `d${i}`), { recursive: true });
      writeFileSync(join(root, `d${i}`, 'w.bin'), Buffer.alloc(200_000));
    }
    expect(prestartHashWorkers(root, { concurrency: 4 }).workers).toBe(3);
  });

  it('a wide tree of empty directories is judged large without walking it all', () => {
    const root = join(tempDir(), 'wide');
    for (let i = 0; i < 400; i++)
      mkdirSync(join(root, `d${i}`, 'e'), { recursive: true });
    expect(prestartHashWorkers(root, { concurrency: 2 }).large).toBe(true);
  });

  it('the next hashing takes the workers started ahead and gives the same manifest', async () => {
    // Four files of 64 MiB (sparse: zeros, no disk): enough hashing for two
    // workers on three threads to pay for their start.
    const model = join(tempDir(), 'four');
    mkdirSync(model);
    for (const name of ['a', 'b', 'c', 'd'])
      sparse(join(model, `${name}.bin`), 64 * 1024 * 1024);
    const plain = await hashModel(model, { concurrency: 3 });
    expect(prestartHashWorkers(model, { concurrency: 3 })).toEqual({
      large: true,
      manyFiles: false,
      workers: 2,
      fewRanges: true,
      largeRanges: true,
    });
    expect(prestartedWorkers()).toBe(2);
    const ahead = await hashModel(model, { concurrency: 3 });
    expect(prestartedWorkers()).toBe(0);
    expect(ahead.manifest.rootDigest).toBe(plain.manifest.rootDigest);
    expect(ahead.manifest.resources).toEqual(plain.manifest.resources);
  });

  it('more files than the look sees are judged by those it saw', () => {
    // 100 small files: none ahead, on two threads or more (as if the 64 seen
    // were all, no worker pays for its start; a larger tree gets its
    // workers while it is listed).
    const model = manyFiles(100);
    expect(prestartHashWorkers(model, { concurrency: 2 })).toEqual({
      large: true,
      manyFiles: true,
      workers: 0,
      fewRanges: false,
      largeRanges: false,
    });
    expect(prestartHashWorkers(model, { concurrency: 3 }).workers).toBe(0);
    expect(prestartedWorkers()).toBe(0);
    // 70 files of 4 MiB (256 MiB seen): a worker on two threads, two on three.
    const dir = join(tempDir(), 'mid');
    mkdirSync(dir);
    for (let i = 0; i < 70; i++)
      sparse(join(dir, `f${i}.bin`), 4 * 1024 * 1024);
    expect(prestartHashWorkers(dir, { concurrency: 2 }).workers).toBe(1);
    endPrestartedWorkers();
    expect(prestartHashWorkers(dir, { concurrency: 3 }).workers).toBe(2);
    expect(prestartedWorkers()).toBe(2);
  });

  it('workers left over when the hashing needs none are ended', async () => {
    const dir = join(tempDir(), 'left');
    mkdirSync(dir);
    for (let i = 0; i < 70; i++)
      sparse(join(dir, `f${i}.bin`), 4 * 1024 * 1024);
    prestartHashWorkers(dir, { concurrency: 3 });
    expect(prestartedWorkers()).toBe(2);
    // A small model hashed next uses no worker; the ones waiting are ended.
    await hashModel(makeTree({ 'a.txt': 'a' }), { concurrency: 3 });
    expect(prestartedWorkers()).toBe(0);
  });

  it('starts no more workers than the files keep busy (issue 11, 16 cores)', () => {
    const MiB = 1024 * 1024;
    const dir = join(tempDir(), 'two');
    mkdirSync(dir);
    sparse(join(dir, 'a.bin'), 512 * MiB);
    sparse(join(dir, 'b.bin'), 512 * MiB);
    writeFileSync(join(dir, 'config.json'), '{}');
    // Two large files and a small one: two threads keep pace, one worker.
    expect(prestartHashWorkers(dir, { concurrency: 16 }).workers).toBe(1);
    expect(prestartedWorkers()).toBe(1);
    endPrestartedWorkers();
    // One file in shards of a known size: one worker a shard but the first.
    const file = sparse(join(tempDir(), 'one.bin'), 1024 * MiB);
    expect(
      prestartHashWorkers(file, {
        concurrency: 16,
        shards: true,
        shardSize: 256 * MiB,
      }).workers,
    ).toBe(3);
    endPrestartedWorkers();
    // 64 MiB in shards takes about as long to hash as a worker takes to
    // start: none (was 3 in 16 MiB shards).
    const small = sparse(join(tempDir(), 'small.bin'), 64 * MiB);
    expect(
      prestartHashWorkers(small, {
        concurrency: 16,
        shards: true,
        shardSize: 16 * MiB,
      }).workers,
    ).toBe(0);
    endPrestartedWorkers();
    // Shards of an unknown size: every thread, as before.
    expect(
      prestartHashWorkers(file, { concurrency: 16, shards: true }).workers,
    ).toBe(15);
  });

  it('a folder of one large file in shards of a known size starts workers by its shards', () => {
    const MiB = 1024 * 1024;
    const dir = join(tempDir(), 'one-in-folder');
    mkdirSync(dir);
    sparse(join(dir, 'model.safetensors'), 1024 * MiB);
    // Whole files: one range, no worker.
    expect(prestartHashWorkers(dir, { concurrency: 16 }).workers).toBe(0);
    // Four shards of 256 MiB: a worker for each but the first (as for the file itself).
    expect(
      prestartHashWorkers(dir, {
        concurrency: 16,
        shards: true,
        shardSize: 256 * MiB,
      }).workers,
    ).toBe(3);
    endPrestartedWorkers();
    // Shards of an unknown size: the files as they are.
    expect(
      prestartHashWorkers(dir, { concurrency: 16, shards: true }).workers,
    ).toBe(0);
  });

  it('tells when the workers started have loaded their module', async () => {
    // Workers of the tests before, ended, may still be going away.
    await whenHashWorkersLoaded();
    // None loading: at once.
    let none = false;
    void whenHashWorkersLoaded().then(() => (none = true));
    await Promise.resolve();
    expect(none).toBe(true);
    const dir = join(tempDir(), 'loading');
    mkdirSync(dir);
    for (let i = 0; i < 3; i++)
      sparse(join(dir, `f${i}.bin`), 512 * 1024 * 1024);
    expect(prestartHashWorkers(dir, { concurrency: 3 }).workers).toBe(2);
    let loaded = false;
    const wait = whenHashWorkersLoaded().then(() => (loaded = true));
    // A worker cannot load within the call that started it.
    await Promise.resolve();
    expect(loaded).toBe(false);
    await wait;
    expect(prestartedWorkers()).toBe(2);
    // A worker ended before it loads settles it too.
    endPrestartedWorkers();
    prestartHashWorkers(dir, { concurrency: 3 });
    expect(prestartedWorkers()).toBe(2);
    const ended = whenHashWorkersLoaded();
    endPrestartedWorkers();
    // A failure here, not a hang until the test's own timeout.
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ended.then(() => 'settled'),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('pending after 10 s'), 10_000);
      }),
    ]);
    clearTimeout(timer);
    expect(outcome).toBe('settled');
  });

  it('tells when the next hashing starts to list the model', async () => {
    let listed = false;
    const wait = whenListingStarts().then(() => (listed = true));
    await Promise.resolve();
    expect(listed).toBe(false);
    await hashModel(makeTree({ 'a.txt': 'a' }), { concurrency: 2 });
    await wait;
    expect(listed).toBe(true);
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

describe('workersFor (the pool rule)', () => {
  const MiB = 1024 * 1024;
  it('no worker for a small model, one thread or one range', () => {
    expect(workersFor(64, 16 * MiB - 1, 16)).toBe(0);
    expect(workersFor(1000, 8 * 1024 * MiB, 1)).toBe(0);
    expect(workersFor(1, 8 * 1024 * MiB, 16)).toBe(0);
  });
  it('small files: none on two threads; on more, as many as the calling thread keeps fed', () => {
    expect(workersFor(200_000, 200_000 * 4096, 2)).toBe(0);
    expect(workersFor(200_000, 200_000 * 4096, 3)).toBe(2);
    // Measured on 16 cores (20,000 files of 4 KiB): 4 threads 0.30 s and
    // 109 MiB, 16 threads 0.37 s and 302 MiB.
    expect(workersFor(200_000, 200_000 * 4096, 16)).toBe(3);
    expect(workersFor(20_000, 20_000 * 4096, 16)).toBe(3);
    // A few hundred small files: no worker pays for its start.
    expect(workersFor(200, 200 * 4096, 16)).toBe(0);
    expect(workersFor(2_000, 2_000 * 4096, 3)).toBe(2);
    expect(workersFor(5000, 5000 * SMALL_AVERAGE, 2)).toBe(1);
    expect(workersFor(4, 4 * 512 * MiB, 2)).toBe(1);
    expect(workersFor(4, 4 * 512 * MiB, 16)).toBe(3);
  });
  it('no more workers than the largest range leaves work for (16 cores)', () => {
    // The bench's model: 4 x 512 MiB and 10 small files (3.3 MB).
    const model = 4 * 512 * MiB + 3_300_000;
    // Four threads, one a file; the small files after: 0.6 % longer.
    expect(workersFor(14, model, 16, 512 * MiB)).toBe(3);
    expect(workersFor(2, 2048 * MiB, 16, 1024 * MiB)).toBe(1);
    // Ranges of one size: every thread is busy, as far as the calling
    // thread keeps them fed (4 KiB files: 4 threads).
    expect(workersFor(20_000, 20_000 * 4096, 16, 4096)).toBe(3);
    // 32 shards of 64 MiB: workers that start together slow each other
    // down a little, so 15 threads (the bench on 16 cores: 16 threads
    // 0.42 s, 13 threads 0.48 s).
    expect(workersFor(32, 2048 * MiB, 16, 64 * MiB)).toBe(14);
    expect(workersFor(26, 8192 * MiB, 16, 512 * MiB)).toBe(15);
    // Small files count by their number as well as their bytes: 200,000
    // of them beside a file of 1 GiB keep more than 2 threads busy (the
    // bound from the largest alone gives 14), and the calling thread, which
    // lists and hands out every one of them, keeps 4 fed.
    expect(
      usefulThreads(200_001, 1024 * MiB + 200_000 * 4096, 1024 * MiB),
    ).toBe(14);
    expect(
      workersFor(200_001, 1024 * MiB + 200_000 * 4096, 16, 1024 * MiB),
    ).toBe(3);
    expect(usefulThreads(3, 3 * RANGE_COST, 0)).toBe(6);
    // The rest beside one large file: a worker for 5 % of the time, none
    // for 2 % (the work then takes 1/32 longer at most).
    expect(workersFor(11, 10_240 * MiB + 500 * MiB, 2, 10_240 * MiB)).toBe(1);
    expect(workersFor(11, 10_240 * MiB + 200 * MiB, 2, 10_240 * MiB)).toBe(0);
    // Fewer threads than the work could use: the threads decide.
    expect(workersFor(14, model, 2, 512 * MiB)).toBe(1);
  });
});

describe('WorkerReserve', () => {
  const MiB = 1024 * 1024;
  it('starts, as the model is listed, only the workers still missing', async () => {
    const reserve = new WorkerReserve(16);
    const taken = [];
    try {
      reserve.start(2, 512 * MiB, 256 * MiB);
      reserve.start(4, 1024 * MiB, 256 * MiB);
      // Listed again with no more work: nothing new.
      reserve.start(4, 1024 * MiB, 256 * MiB);
      for (let w = reserve.take(); w; w = reserve.take()) taken.push(w);
      expect(taken).toHaveLength(3);
      // In shards of 128 MiB, 1 GiB of one file keeps 8 threads busy.
      const shards = new WorkerReserve(16, 128 * MiB);
      shards.start(1, 1024 * MiB, 1024 * MiB);
      for (let w = shards.take(); w; w = shards.take()) taken.push(w);
      expect(taken).toHaveLength(3 + 7);
    } finally {
      reserve.close();
      await Promise.all(taken.map((w) => w.terminate()));
    }
  });

  it('starts no more workers for small files than twice as many would take (16 threads)', async () => {
    const KiB = 1024;
    const reserve = new WorkerReserve(16);
    const taken = [];
    try {
      // The walk asks at each doubling: 1,024, 2,048, 4,096 files of 4 KiB.
      // The rule alone gives 2, 4 and 6 workers, and 3 from 8,192 files on:
      // a worker started cannot be taken back, so the reserve goes by the
      // fewer of now and twice the size.
      for (const files of [1024, 2048, 4096])
        reserve.start(files, files * 4 * KiB, 4 * KiB);
      for (let w = reserve.take(); w; w = reserve.take()) taken.push(w);
      expect(taken).toHaveLength(4);
      expect(workersFor(20_000, 20_000 * 4 * KiB, 16, 4 * KiB)).toBe(3);
      // Large files are unchanged: as many as the files keep busy now.
      const large = new WorkerReserve(16);
      large.start(8, 8 * 512 * MiB, 512 * MiB);
      for (let w = large.take(); w; w = large.take()) taken.push(w);
      expect(taken).toHaveLength(4 + 7);
    } finally {
      reserve.close();
      await Promise.all(taken.map((w) => w.terminate()));
    }
  });
});

describe('the packed batch a worker receives', () => {
  const task = (id: number, path: string | Uint8Array): HashTask => ({
    id,
    path,
    name: `n${id}`,
    start: id,
    end: id * 10,
    size: id * 10,
    algorithm: 'sha256',
    noFollow: id % 2 === 0,
    ...(id === 3 ? { bindStat: true } : {}),
  });
  it('unpacks to the same tasks', () => {
    const tasks = [1, 2, 3, 4].map((i) => task(i, `/m/é/${i}`));
    expect(unpackTasks(packTasks(tasks)!)).toEqual(tasks);
  });
  it('is not used for a path given as bytes, a NUL or mixed algorithms', () => {
    expect(packTasks([task(1, 'a'), task(2, Uint8Array.of(0x61))])).toBe(
      undefined,
    );
    expect(packTasks([task(1, 'a\0b')])).toBe(undefined);
    expect(
      packTasks([task(1, 'a'), { ...task(2, 'b'), algorithm: 'blake2b' }]),
    ).toBe(undefined);
    expect(packTasks([])).toBe(undefined);
  });
});
