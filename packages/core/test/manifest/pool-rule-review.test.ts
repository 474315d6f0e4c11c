// SPDX-License-Identifier: Apache-2.0
// Review of the pool rule (usefulThreads / workersFor with the largest range,
// the incremental WorkerReserve): digests do not depend on the thread count,
// the reserve starts nothing after close, and the rule's threads keep the
// pace of one thread a range (a schedule of the ranges, largest first).
import {
  existsSync,
  mkdirSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashModel } from '../../src/manifest/index.js';
import { WorkerReserve } from '../../src/manifest/hash-pool.js';
import { prestartHashWorkers } from '../../src/manifest/prestart.js';
import {
  RANGE_COST,
  endPrestartedWorkers,
  usefulThreads,
  workersFor,
  workersForRanges,
} from '../../src/manifest/worker-spawn.js';
import { tempDir } from '../helpers/tree.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

afterEach(() => endPrestartedWorkers());

/** A tree of small files, empty files, shard-sized files and one large sparse file. */
function variedTree(): string {
  const root = join(tempDir(), 'varied');
  mkdirSync(join(root, 'small', 'deep'), { recursive: true });
  for (let i = 0; i < 150; i++)
    writeFileSync(
      join(root, 'small', i % 2 ? 'deep' : '', `f${i}.txt`),
      `small file ${i}\n`.repeat(i % 7),
    );
  for (let i = 0; i < 5; i++) writeFileSync(join(root, `empty${i}`), '');
  // Sizes around a 1 MiB shard: below, at, above, and not a multiple.
  for (const size of [MiB - 1, MiB, MiB + 1, 3 * MiB + 17])
    writeFileSync(
      join(root, `mid-${size}.bin`),
      Buffer.alloc(size, size % 251),
    );
  // Three large sparse files: several workers on files too.
  for (const [name, size] of [
    ['big.safetensors', 24 * MiB + 5],
    ['big2.bin', 20 * MiB],
    ['big3.bin', 17 * MiB + 3],
  ] as const) {
    const big = join(root, name);
    writeFileSync(big, name);
    truncateSync(big, size);
  }
  return root;
}

describe('digests whatever the thread count', () => {
  const root = variedTree();
  for (const config of [
    { name: 'files', options: {} },
    { name: 'shards of 1 MiB', options: { shardSize: MiB } },
    // Links the walk lists without counting their bytes.
    { name: 'symlinks followed', options: { allowSymlinks: true }, link: 1 },
  ]) {
    it(`${config.name}: concurrency 1, 2, 3 and 16 give one manifest`, async () => {
      if ('link' in config && !existsSync(join(root, 'link-big2')))
        symlinkSync('big2.bin', join(root, 'link-big2'));
      const results: string[] = [];
      for (const concurrency of [1, 2, 3, 16]) {
        const result = await hashModel(root, {
          ...config.options,
          concurrency,
        });
        results.push(JSON.stringify(result));
      }
      // Empty files have no shard (as in the reference implementation).
      expect(results[0]!.includes('"empty4')).toBe(
        !config.name.startsWith('shards'),
      );
      expect(results[0]!.includes('link-big2')).toBe('link' in config);
      expect(results[0]).toContain('big.safetensors');
      for (const r of results.slice(1))
        if (r !== results[0]) expect.fail('manifests differ by concurrency');
    }, 20_000);
  }
});

describe('prestartHashWorkers past 64 files', () => {
  // Was a gap: a look cut short (more than 64 files) started a worker a
  // thread but one, whatever the largest file seen: a tree of one large file
  // and 70 config files started 5 workers on 6 threads, where the pool's
  // rule then takes none (16 cores, 4 x 512 MiB and 70 small files: 15 for
  // 3). The large file is seen first here (the look lists a folder's files
  // before its subfolders); one seen after the 64th file is the walk's to
  // judge.
  it('starts no more workers than the rule gives the whole tree', () => {
    const root = join(tempDir(), 'wide');
    mkdirSync(join(root, 'configs'), { recursive: true });
    const sizes: number[] = [];
    const big = join(root, 'model.safetensors');
    writeFileSync(big, '');
    truncateSync(big, 2 * GiB);
    sizes.push(2 * GiB);
    for (let i = 0; i < 70; i++) {
      writeFileSync(join(root, 'configs', `c${i}.json`), '{}');
      sizes.push(2);
    }
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const rule = workersFor(sizes.length, bytes, 6, 2 * GiB);
    expect(rule).toBe(0);
    expect(prestartHashWorkers(root, { concurrency: 6 }).workers).toBe(rule);
  });
});

describe('WorkerReserve', () => {
  it('starts nothing after close, whatever the model', () => {
    const reserve = new WorkerReserve(8);
    reserve.close();
    reserve.start(1000, 100 * GiB, GiB);
    expect(reserve.take()).toBeUndefined();
  });

  it('starts the missing workers as the model grows, never more than the rule', async () => {
    const reserve = new WorkerReserve(8);
    // Two equal large files: one worker beside the calling thread.
    reserve.start(2, 2 * GiB, GiB);
    // The same again: nothing more.
    reserve.start(2, 2 * GiB, GiB);
    // Four: three in all.
    reserve.start(4, 4 * GiB, GiB);
    const taken = [];
    for (let w = reserve.take(); w; w = reserve.take()) taken.push(w);
    expect(taken.length).toBe(workersFor(4, 4 * GiB, 8, GiB));
    expect(taken.length).toBe(3);
    reserve.close();
    await Promise.all(taken.map((w) => w.terminate()));
  });

  it('in shards, one large file keeps several workers busy', async () => {
    const reserve = new WorkerReserve(4, 64 * MiB);
    reserve.start(1, GiB, GiB);
    const taken = [];
    for (let w = reserve.take(); w; w = reserve.take()) taken.push(w);
    expect(taken.length).toBe(3);
    reserve.close();
    await Promise.all(taken.map((w) => w.terminate()));
  });
});

/**
 * How long `threads` threads take over `sizes` (each range hashed by one
 * thread, at a cost of its bytes plus RANGE_COST), handed out largest first
 * to the thread that is free first, as the pool's queue does.
 */
function makespan(sizes: number[], threads: number): number {
  const load = new Array<number>(threads).fill(0);
  for (const size of [...sizes].sort((a, b) => b - a)) {
    let min = 0;
    for (let t = 1; t < threads; t++) if (load[t]! < load[min]!) min = t;
    load[min]! += size + RANGE_COST;
  }
  return Math.max(...load);
}

/** The threads the pool's rule gives (the calling thread and its workers). */
function ruleThreads(sizes: number[], cores: number): number {
  return workersForRanges(sizes.length, (i) => sizes[i]!, cores) + 1;
}

describe('the rule keeps the pace of one thread a range', () => {
  it('the case it was made for: 4 x 512 MiB and a few small files, 16 cores', () => {
    const sizes = [512, 512, 512, 512].map((n) => n * MiB);
    for (let i = 0; i < 10; i++) sizes.push(4096);
    const threads = ruleThreads(sizes, 16);
    expect(threads).toBe(4);
    expect(makespan(sizes, threads)).toBeLessThanOrEqual(
      makespan(sizes, 16) * (1 + 1 / 32),
    );
  });

  it('one large file beside many small ones keeps a second thread', () => {
    const sizes = [10 * GiB];
    for (let i = 0; i < 5000; i++) sizes.push(100 * 1024);
    const threads = ruleThreads(sizes, 16);
    expect(threads).toBeGreaterThanOrEqual(2);
    expect(makespan(sizes, threads)).toBeLessThanOrEqual(
      makespan(sizes, 16) * (1 + 1 / 32),
    );
  });

  // Was a bug: the bound from bytes / largest alone treats the work as if it
  // could be cut anywhere; ranges are whole, so one thread fewer than ranges
  // of equal size leaves one range to run alone after the others. The
  // bound alone gave 39 threads here (10 GiB on one of them), and 3 threads
  // for the files below (1200 MiB on one).
  it('40 equal shard files of 5 GiB on 64 cores: not twice as long', () => {
    const sizes = new Array<number>(40).fill(5 * GiB);
    expect(
      workersFor(40, 40 * 5 * GiB, 64, 5 * GiB) + 1,
      'the bound alone',
    ).toBe(39);
    const threads = ruleThreads(sizes, 64);
    expect(threads).toBe(40);
    expect(makespan(sizes, threads)).toBeLessThanOrEqual(
      makespan(sizes, 64) * (1 + 1 / 32),
    );
  });

  it('1 GiB and three 600 MiB files on 8 cores: not 20% longer', () => {
    const sizes = [GiB, 600 * MiB, 600 * MiB, 600 * MiB];
    const threads = ruleThreads(sizes, 8);
    expect(threads).toBe(4);
    expect(makespan(sizes, threads)).toBeLessThanOrEqual(
      makespan(sizes, 8) * (1 + 1 / 32),
    );
  });

  it('random sets of ranges: the rule keeps within 1/32 of every thread, with as few as that allows', () => {
    let seed = 7;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    let checked = 0;
    let cut = 0;
    for (let round = 0; round < 300; round++) {
      const cores = 2 + Math.floor(next() * 63);
      const count = 2 + Math.floor(next() * 80);
      const sizes = Array.from({ length: count }, () =>
        next() < 0.3
          ? Math.floor(next() * 64 * 1024)
          : Math.floor(MiB * 2 ** (next() * 13)),
      );
      // A small model, or small files on two threads, use no worker
      // whatever their schedule (the rule's first part).
      const bytes = sizes.reduce((a, b) => a + b, 0);
      if (workersFor(count, bytes, cores) === 0) continue;
      const threads = ruleThreads(sizes, cores);
      checked++;
      if (threads < Math.min(cores, count)) cut++;
      const every = makespan(sizes, Math.min(cores, count));
      expect(makespan(sizes, threads)).toBeLessThanOrEqual(
        every * (1 + 1 / 32),
      );
      // No fewer would do (where the schedule shrinks as threads grow).
      if (threads > 1 && threads < Math.min(cores, count)) {
        const fewer = makespan(sizes, threads - 1);
        const more = makespan(sizes, threads + 1);
        if (more <= makespan(sizes, threads))
          expect(fewer).toBeGreaterThan(every * (1 + 1 / 32));
      }
    }
    // Most sets are judged, and the rule cuts threads in many of them.
    expect(checked).toBeGreaterThan(200);
    expect(cut).toBeGreaterThan(50);
  });

  it('usefulThreads is never below one, nor below bytes over the largest', () => {
    for (const [tasks, bytes, largest] of [
      [1, 0, 0],
      [100, 0, 0],
      [2, 2 * GiB, GiB],
      [1000, 1000 * MiB, MiB],
    ] as const) {
      const t = usefulThreads(tasks, bytes, largest);
      expect(t).toBeGreaterThanOrEqual(1);
      expect(t).toBeGreaterThanOrEqual(
        Math.floor(
          (bytes + tasks * RANGE_COST) / (largest + RANGE_COST) / (1 + 1 / 32),
        ),
      );
    }
  });
});
