// SPDX-License-Identifier: Apache-2.0
// Issue 11: hash workers receive batches packed and answer each in one
// message. An answer is taken only for the oldest batch sent, by its number
// and its digests' length: a repeated, reordered or short answer fails the
// run (INTERNAL_ERROR) instead of giving a digest to a task it was not
// computed for. States bound to files (the verification cache) travel with
// the digests of multi-file batches, each to its own file.
import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  runHashTasks,
  type HashTaskSource,
  type WorkerReserve,
} from '../../src/manifest/hash-pool.js';
import { fileState, type HashTask } from '../../src/manifest/hash-worker.js';
import { tempDir } from '../helpers/tree.js';

function files(count: number): string[] {
  const dir = tempDir();
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(dir, `f${i}.bin`);
    writeFileSync(path, `content of file ${i}\n`.repeat(1 + (i % 5)));
    paths.push(path);
  }
  return paths;
}

function sourceOf(paths: string[], bindStat = false): HashTaskSource {
  const sizes = paths.map((p) => fstatSize(p));
  return {
    count: paths.length,
    bytes: (i) => sizes[i]!,
    task: (i): HashTask => ({
      id: i,
      path: paths[i]!,
      name: `f${i}.bin`,
      start: 0,
      end: sizes[i]!,
      size: sizes[i]!,
      algorithm: 'sha256',
      noFollow: true,
      ...(bindStat ? { bindStat: true } : {}),
    }),
  };
}

function fstatSize(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A stand-in for the reserve that hands the pool one worker of ours. */
function reserveOf(worker: Worker): WorkerReserve {
  let taken = false;
  return {
    take: () => {
      if (taken) return undefined;
      taken = true;
      return worker;
    },
    close: () => {},
  } as unknown as WorkerReserve;
}

/**
 * A worker that answers each batch with the right number of hex digits but
 * breaks the protocol as `mode` says: sends each answer twice, or numbers
 * it wrong.
 */
function rogueWorker(mode: 'repeat' | 'renumber'): Worker {
  return new Worker(
    `
    const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (m) => {
      const n = m.type === 'packed' ? m.packed.flags.length : m.tasks.length;
      const answer = { type: 'batch', seq: m.seq, hex: '0'.repeat(64 * n) };
      if (${JSON.stringify(mode)} === 'renumber') answer.seq = m.seq + 1;
      parentPort.postMessage(answer);
      // The same answer twice: the second stands for no batch sent.
      if (${JSON.stringify(mode)} === 'repeat') parentPort.postMessage(answer);
    });`,
    { eval: true },
  );
}

describe('the hash pool protocol', () => {
  for (const mode of ['repeat', 'renumber'] as const) {
    it(`a worker that ${mode === 'repeat' ? 'repeats an answer' : 'numbers an answer wrong'} fails the run`, async () => {
      const paths = files(2_500);
      const worker = rogueWorker(mode);
      const given = new Map<number, string>();
      // Three threads: enough small files for workers to pay for their
      // start (the rogue one and a real one).
      const run = runHashTasks(sourceOf(paths), {
        concurrency: 3,
        reserve: reserveOf(worker),
        onDigest: (id, digest) => given.set(id, digest),
      });
      await expect(run).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
      await worker.terminate();
      // Whatever was given before the failure is each task's own digest
      // (the rogue's zeros or the calling thread's real ones), never a
      // digest answered for another batch.
      for (const [id, digest] of given)
        if (digest !== '0'.repeat(64)) expect(digest).toBe(sha256(paths[id]!));
    });
  }

  it('bound file states come back with each digest of a multi-file worker batch', async () => {
    const paths = files(200);
    const states = new Map<number, string | undefined>();
    const digests = new Map<number, string>();
    await runHashTasks(sourceOf(paths, true), {
      concurrency: 3,
      onDigest: (id, digest, state) => {
        digests.set(id, digest);
        states.set(id, state);
      },
    });
    expect(digests.size).toBe(200);
    for (let i = 0; i < paths.length; i++) {
      expect(digests.get(i)).toBe(sha256(paths[i]!));
      const fd = openSync(paths[i]!, 'r');
      try {
        expect(states.get(i)).toBe(fileState(fstatSync(fd, { bigint: true })));
      } finally {
        closeSync(fd);
      }
    }
  });
});

describe('the order tasks are taken in', () => {
  /** The task indexes in the order the calling thread (alone) asks for them. */
  async function order(paths: string[]): Promise<number[]> {
    const source = sourceOf(paths);
    const asked: number[] = [];
    await runHashTasks(
      {
        ...source,
        task: (i) => {
          asked.push(i);
          return source.task(i);
        },
      },
      { concurrency: 1, onDigest: () => {} },
    );
    return asked;
  }

  it('takes the largest first, whether or not the queue was in order', async () => {
    const dir = tempDir();
    const write = (name: string, size: number): string => {
      const path = join(dir, name);
      writeFileSync(path, Buffer.alloc(size, 0x61));
      return path;
    };
    // Out of order: sorted, largest first (then batches from the smallest end).
    const mixed = [write('a', 10), write('b', 50), write('c', 30)];
    expect((await order(mixed))[0]).toBe(1);
    // Already largest first, equal sizes included: the queue as it is.
    const ordered = [write('d', 50), write('e', 30), write('f', 30)];
    expect((await order(ordered))[0]).toBe(0);
    expect([...(await order(ordered))].sort()).toEqual([0, 1, 2]);
  });
});
