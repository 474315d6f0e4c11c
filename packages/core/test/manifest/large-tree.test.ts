// SPDX-License-Identifier: Apache-2.0
// Issue 12 item 6: the allocation-free path order equals the component order
// of oms-format §8 (which the root digest depends on), and many files hash to
// the same manifest with workers and inline.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashModel } from '../../src/manifest/index.js';
import { comparePaths, compareResourceKeys } from '../../src/manifest/order.js';
import { NameList } from '../../src/manifest/table.js';
import { tempDir } from '../helpers/tree.js';

const componentOrder = (a: string, b: string): number =>
  compareResourceKeys(
    { parts: a.split('/'), start: 0, end: 0 },
    { parts: b.split('/'), start: 0, end: 0 },
  );

describe('comparePaths', () => {
  it('agrees in sign with the component-wise UTF-8 order on tricky and random names', () => {
    const alphabet = [
      'a',
      'b',
      '-',
      '.',
      '/',
      ' ',
      'é',
      '\uffff',
      '\ue000',
      '😀',
      '\ufb01',
      '0',
      '~',
    ];
    const names = [
      'a',
      'a-b',
      'a.b',
      'a/b',
      'a/b/c',
      'ab',
      'a b',
      '😀',
      '\ufb01',
      '\uffff',
      'z',
    ];
    let seed = 12;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2000; i++) {
      let name = '';
      const length = 1 + Math.floor(random() * 6);
      for (let k = 0; k < length; k++)
        name += alphabet[Math.floor(random() * alphabet.length)];
      // Names have no empty component.
      if (!name.split('/').some((p) => p === '')) names.push(name);
    }
    // The compact tables compare UTF-8 bytes in their arena: the same order.
    const list = new NameList();
    for (const n of names) list.push(n);
    for (const [i, a] of names.entries())
      for (const [j, b] of names.slice(0, 60).entries()) {
        const expected = Math.sign(componentOrder(a, b));
        expect(Math.sign(comparePaths(a, b))).toBe(expected);
        expect(Math.sign(list.compare(i, list, j))).toBe(expected);
      }
    expect(names.every((n, i) => list.get(i) === n)).toBe(true);
  });
});

describe('many files', () => {
  it('3,000 files: the same manifest on workers and on the calling thread', async () => {
    const root = join(tempDir(), 'model');
    for (let d = 0; d < 30; d++) {
      const dir = join(root, `d${d}`, d % 2 === 0 ? 'x' : 'x-y');
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 100; f++)
        writeFileSync(join(dir, `f${f}.bin`), `${d}:${f}`);
    }
    const inline = await hashModel(root, { concurrency: 0 });
    const pooled = await hashModel(root, { concurrency: 2 });
    const shards = await hashModel(root, {
      concurrency: 2,
      method: 'shards',
      shardSize: 2,
    });
    expect(inline.manifest.resources).toHaveLength(3000);
    expect(pooled.manifest).toEqual(inline.manifest);
    const names = inline.manifest.resources.map((r) => r.name);
    expect([...names].sort(componentOrder)).toEqual(names);
    const shardNames = shards.manifest.resources.map((r) => r.name);
    expect(shardNames.slice(0, 3)).toEqual([
      'd0/x/f0.bin:0:2',
      'd0/x/f0.bin:2:3',
      'd0/x/f1.bin:0:2',
    ]);
  });
});
