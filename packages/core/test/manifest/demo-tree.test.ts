// SPDX-License-Identifier: Apache-2.0
// The worked examples of oms-format.md §5, §8 and §9: exact resource order,
// digests and roots for files, shards, blake2b, ignore paths and a single file.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodeStatement,
  decodeStatement,
  hashModel,
} from '../../src/index.js';
import { DEMO_TREE, makeTree } from '../helpers/tree.js';

const demo = makeTree(DEMO_TREE, 'demo');

describe('demo tree (oms-format.md §8)', () => {
  it('files, sha256, default ignores', async () => {
    const { manifest } = await hashModel(demo);
    expect(manifest.modelName).toBe('demo');
    expect(manifest.resources.map((r) => r.name)).toEqual([
      '.hidden',
      'a/b/deep.bin',
      'a/x.txt',
      'a-b',
      'a.b',
      'sub/.gitignore',
      'tokenizer/vocab.txt',
      'tokenizer.json',
      '\ufb01.bin',
      '\u{1f600}.bin',
    ]);
    expect(manifest.resources[2]!.digest).toBe(
      '7f07818e14d08944ce145629ca54332f5cfad148c590efbcb5c377f4d336e5f4',
    );
    expect(manifest.resources[4]!.digest).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(manifest.rootDigest).toBe(
      '03fc090513214db372003a88bce91baac4ea7e8c0b9ce621daacc3dbdbae8ad2',
    );
    expect(manifest.serialization.ignorePaths).toEqual([
      '.git',
      '.gitattributes',
      '.github',
      '.gitignore',
    ]);
  });

  it('shards of 8, sha256: numeric shard order, empty file has no shard', async () => {
    const { manifest } = await hashModel(demo, { shardSize: 8 });
    expect(manifest.resources.map((r) => r.name)).toEqual([
      '.hidden:0:1',
      'a/b/deep.bin:0:5',
      'a/x.txt:0:8',
      'a/x.txt:8:16',
      'a/x.txt:16:23',
      'a-b:0:5',
      'sub/.gitignore:0:2',
      'tokenizer/vocab.txt:0:2',
      'tokenizer.json:0:2',
      '\ufb01.bin:0:1',
      '\u{1f600}.bin:0:1',
    ]);
    expect(new Set(manifest.resources.map((r) => r.algorithm))).toEqual(
      new Set(['sha256-sharded-8']),
    );
    expect(manifest.resources[3]!.digest).toBe(
      'd2789a29f48befe96a70ef3e3eaf57975f692165155e96880b310c82ac012ebf',
    );
    expect(manifest.rootDigest).toBe(
      'e980e933b717837e5bbebe54edfc67f9c36ddc0ca4c93e89d52054d51aaccf6b',
    );
  });

  it('shards of 8, blake2b', async () => {
    const { manifest } = await hashModel(demo, {
      shardSize: 8,
      hashAlgorithm: 'blake2b',
    });
    expect(manifest.resources[0]!.algorithm).toBe('blake2b-sharded-8');
    expect(manifest.resources[0]!.digest).toHaveLength(128);
    expect(manifest.rootDigest).toBe(
      'b76d65aa4bc0d083c4ad7eaafd03d88d125f5f8975e46431257a33f3d93b636a',
    );
  });

  it('ignore paths a, tokenizer, sub/.gitignore (relative to the model root)', async () => {
    const { manifest } = await hashModel(demo, {
      ignorePaths: ['a', 'tokenizer', 'sub/.gitignore'],
    });
    expect(manifest.resources.map((r) => r.name)).toEqual([
      '.hidden',
      'a-b',
      'a.b',
      'tokenizer.json',
      '\ufb01.bin',
      '\u{1f600}.bin',
    ]);
    expect(manifest.rootDigest).toBe(
      'f2c7f30c5c0a2143cc90f8d6c6b0a7ded3b01429b2435f5461e4010d47389fb6',
    );
    expect(manifest.serialization.ignorePaths).toEqual([
      '.git',
      '.gitattributes',
      '.github',
      '.gitignore',
      'a',
      'sub/.gitignore',
      'tokenizer',
    ]);
  });

  it('absolute ignore paths inside the model are recorded relative; outside ones are dropped', async () => {
    const { manifest } = await hashModel(demo, {
      ignorePaths: [join(demo, 'a'), '/somewhere/else'],
    });
    expect(manifest.serialization.ignorePaths).toContain('a');
    expect(manifest.serialization.ignorePaths).not.toContain('/somewhere/else');
    expect(manifest.resources.some((r) => r.name.startsWith('a/'))).toBe(false);
  });

  it('single file with shards of 8: resources .:0:8 …, name x.txt', async () => {
    const { manifest } = await hashModel(join(demo, 'a/x.txt'), {
      shardSize: 8,
    });
    expect(manifest.modelName).toBe('x.txt');
    expect(manifest.resources.map((r) => r.name)).toEqual([
      '.:0:8',
      '.:8:16',
      '.:16:23',
    ]);
    expect(manifest.rootDigest).toBe(
      'e7024209dd965a01f62d7cf0782b7f1cd44c7728cebcaa424e57e431ce28d496',
    );
  });

  it('single 23-byte file: sha256, blake2b and blake3 roots', async () => {
    const file = join(demo, 'a/x.txt');
    expect((await hashModel(file)).manifest.rootDigest).toBe(
      '6e60c10a80d211eba88ac040dea590284bd338f34a7c6e7f77ce638bdd17701e',
    );
    expect(
      (await hashModel(file, { hashAlgorithm: 'blake2b' })).manifest.rootDigest,
    ).toBe('86abcbe03cba7f4d0e2c1c62b68074c74fee6d7802bb90c31cc8f3ea7bdd8dde');
    const blake3 = await hashModel(file, { hashAlgorithm: 'blake3' });
    expect(blake3.manifest.resources[0]!.digest).toBe(
      'c965c1ccce9cbccbb868316491aa0186ab839cfe86efa4fedff0792c79cf4ef9',
    );
  });

  it('statement round trip is deterministic and escapes non-ASCII', async () => {
    const { manifest } = await hashModel(demo);
    const bytes = encodeStatement(manifest);
    expect(
      encodeStatement((await hashModel(demo)).manifest).equals(bytes),
    ).toBe(true);
    const text = bytes.toString('utf8');
    expect(text).toMatch(
      /^\{\n {2}"_type": "https:\/\/in-toto.io\/Statement\/v1",\n {2}"subject"/,
    );
    expect(text).toContain('"\\ufb01.bin"');
    expect(text).toContain('"\\ud83d\\ude00.bin"');
    expect([...text].every((c) => c.charCodeAt(0) <= 0x7e)).toBe(true);
    expect(text.endsWith('}')).toBe(true);
    const decoded = decodeStatement(bytes);
    expect(decoded.manifest).toEqual(manifest);
  });
});
