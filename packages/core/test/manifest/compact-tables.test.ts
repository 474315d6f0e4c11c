// SPDX-License-Identifier: Apache-2.0
// Issue 12 item 6 / issue 11 item 4: large models are held in compact tables.
// Tables keep resources in the comparePaths order (large-tree.test.ts checks the
// arena's byte order against it); statements encoded from a table are
// the bytes the array path writes; statements decoded one resource at a time
// give what a whole-document parse gives, and refuse what it refuses.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkModel,
  decodeStatement,
  encodeStatement,
  hashModel,
} from '../../src/manifest/index.js';
import { comparePaths } from '../../src/manifest/order.js';
import {
  findResourcesList,
  listElements,
} from '../../src/manifest/statement-scan.js';
import { NameList, resourceCount, tableOf } from '../../src/manifest/table.js';
import {
  decodeBase64Strict,
  decodeBase64StrictBytes,
} from '../../src/internal/base64.js';
import type { Manifest } from '../../src/manifest/types.js';
import { parseBundle, readBundle } from '../../src/bundle/read.js';
import { enumerateModel } from '../../src/manifest/walk.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const sha = (text: string): string =>
  createHash('sha256').update(text).digest('hex');

function statementText(resources: unknown, extra = ''): Buffer {
  const digests = (resources as { digest: string }[]).map((r) =>
    Buffer.from(r.digest, 'hex'),
  );
  const root = createHash('sha256')
    .update(Buffer.concat(digests))
    .digest('hex');
  return Buffer.from(
    `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"${root}"}}],"predicateType":"https://model_signing/signature/v1.0",${extra}"predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":false},"resources":${JSON.stringify(resources)}}}`,
  );
}

describe('table-backed manifests', () => {
  const tree = {
    'b/x.bin': 'x',
    'a.bin': 'a',
    'a/é.bin': 'e',
    'a-b/z.bin': 'z',
    'c😀.bin': 'c',
  };

  it('hashModel keeps resources in a table until they are read', async () => {
    const root = makeTree(tree);
    const { manifest } = await hashModel(root);
    expect(tableOf(manifest)).toBeDefined();
    expect(resourceCount(manifest)).toBe(5);
    const names = manifest.resources.map((r) => r.name);
    expect(names).toEqual([...names].sort(comparePaths));
    // '/' sorts before every other character: a/é.bin comes before a.bin.
    expect(names.slice(0, 3)).toEqual(['a/é.bin', 'a-b/z.bin', 'a.bin']);
    expect(manifest.resources[2]).toEqual({
      name: 'a.bin',
      algorithm: 'sha256',
      digest: sha('a'),
    });
    // Read once: the array is now the truth, and can be replaced.
    expect(tableOf(manifest)).toBeUndefined();
    manifest.resources = manifest.resources.slice(1);
    expect(resourceCount(manifest)).toBe(4);
  });

  it('encodes the same statement bytes from the table as from the array', async () => {
    for (const options of [
      {},
      { method: 'shards' as const, shardSize: 1 },
      { hashAlgorithm: 'blake2b' as const },
    ]) {
      const root = makeTree({ ...tree, 'long.bin': 'l'.repeat(5) });
      const fromTable = (await hashModel(root, options)).manifest;
      const fromArray = (await hashModel(root, options)).manifest;
      const plain: Manifest = {
        ...fromArray,
        resources: [...fromArray.resources],
      };
      expect(tableOf(fromTable)).toBeDefined();
      expect(tableOf(plain)).toBeUndefined();
      expect(encodeStatement(fromTable).equals(encodeStatement(plain))).toBe(
        true,
      );
      // And it decodes back to the same manifest.
      const decoded = decodeStatement(encodeStatement(fromTable)).manifest;
      expect(tableOf(decoded)).toBeDefined();
      expect(decoded.resources).toEqual(plain.resources);
      expect(decoded.rootDigest).toBe(plain.rootDigest);
    }
  });

  it('compares tables: missing, extra and changed by name, like the maps did', async () => {
    const root = makeTree(tree);
    const signed = decodeStatement(
      encodeStatement((await hashModel(root)).manifest),
    ).manifest;
    const { 'a.bin': _gone, ...rest } = tree;
    const other = makeTree({ ...rest, 'b/x.bin': 'changed', 'new.bin': 'n' });
    const { compare } = await checkModel(other, signed);
    expect(compare.ok).toBe(false);
    expect(compare.missing.map((r) => r.name)).toEqual(['a.bin']);
    expect(compare.changed.map((c) => c.name)).toEqual(['b/x.bin']);
    expect(compare.extra.map((r) => r.name)).toEqual(['new.bin']);
    expect(compare.changed.find((c) => c.name === 'b/x.bin')).toEqual({
      name: 'b/x.bin',
      expected: { algorithm: 'sha256', digest: sha('x') },
      actual: { algorithm: 'sha256', digest: sha('changed') },
    });
  });
});

describe('decoding a statement one resource at a time', () => {
  const resources = [
    { name: 'a', algorithm: 'sha256', digest: sha('a') },
    { name: 'b/c', algorithm: 'sha256', digest: sha('b').toUpperCase() },
  ];

  it('finds the list and its elements', () => {
    const text = statementText(resources);
    const list = findResourcesList(text)!;
    expect(list).toBeDefined();
    expect(text[list.open]).toBe(0x5b);
    expect(text[list.close]).toBe(0x5d);
    const pieces = [...listElements(text, list)].map(([s, e]) =>
      JSON.parse(text.toString('utf8', s, e)),
    );
    expect(pieces).toEqual(resources);
    const decoded = decodeStatement(text).manifest;
    expect(decoded.resources[1]!.digest).toBe(sha('b'));
  });

  it('falls back to one parse when a key comes twice (JSON.parse keeps the last)', () => {
    const text = statementText(
      resources,
      `"predicate":{"serialization":{},"resources":[]},`,
    );
    expect(findResourcesList(text)).toBeUndefined();
    expect(decodeStatement(text).manifest.resources).toHaveLength(2);
  });

  it.each([
    ['a missing comma', (t: string) => t.replace('},{', '}{')],
    ['a trailing comma', (t: string) => t.replace(/}\]}}$/, '},]}}')],
    ['an element cut short', (t: string) => t.replace('"algorithm"', '')],
    ['a stray word', (t: string) => t.replace('},{', '},x,{')],
  ])('refuses %s as invalid JSON, as a whole parse does', (_, edit) => {
    const text = Buffer.from(edit(statementText(resources).toString()));
    expect(() => JSON.parse(text.toString())).toThrow();
    expect(() => decodeStatement(text)).toThrowError(
      expect.objectContaining({ code: 'STATEMENT_INVALID' }),
    );
  });

  it('refuses duplicate names and names with lone surrogates', () => {
    expect(() =>
      decodeStatement(statementText([resources[0], resources[0]])),
    ).toThrowError(/duplicate resource name "a"/);
    expect(() =>
      decodeStatement(
        statementText([
          { name: 'x\ud800', algorithm: 'sha256', digest: sha('x') },
        ]),
      ),
    ).toThrowError(/not valid Unicode/);
  });
});

describe('base64 from bytes', () => {
  it('agrees with the string decoder, canonical checks included', () => {
    const samples = [
      '',
      'QQ',
      'QQ==',
      'QR==',
      'QUI',
      'QUI=',
      'QUJD',
      'Q',
      'Q===',
      'QUJD=',
      '-_-_',
      '+/+/',
      '+/-_',
      'QU JD',
      Buffer.from('hello world, large enough').toString('base64'),
      Buffer.from([0xfb, 0xff, 0xbf]).toString('base64url'),
    ];
    for (const text of samples) {
      const a = decodeBase64Strict(text);
      const b = decodeBase64StrictBytes(Buffer.from(text, 'latin1'));
      expect(b === undefined ? undefined : b.toString('hex')).toBe(
        a === undefined ? undefined : a.toString('hex'),
      );
    }
    // Longer than one decoding piece (4 MiB of text).
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a);
    big[big.length - 1] = 1;
    const text = Buffer.from(big.toString('base64'), 'latin1');
    expect(decodeBase64StrictBytes(text)!.equals(big)).toBe(true);
  });
});

describe('a large bundle payload is decoded from the file bytes', () => {
  const payload = Buffer.alloc(300_000, 0x61);
  payload.write('{"start": true, ', 0);
  const bundleText = (encoded: string): Buffer =>
    Buffer.from(
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { publicKey: { hint: 'abc' } },
        dsseEnvelope: {
          payload: encoded,
          payloadType: 'application/vnd.in-toto+json',
          signatures: [{ sig: 'AAAA', keyid: '' }],
        },
      }),
    );

  it('gives the same payload and JSON from a file and from bytes, and leaves the caller bytes alone', async () => {
    const bytes = bundleText(payload.toString('base64'));
    const copy = Buffer.from(bytes);
    const file = join(tempDir(), 'model.sig');
    writeFileSync(file, bytes);
    const fromFile = await readBundle(file);
    const fromBytes = parseBundle(bytes);
    expect(fromFile.envelope.payload.equals(payload)).toBe(true);
    expect(fromBytes.envelope.payload.equals(payload)).toBe(true);
    // The caller's buffer is never decoded over.
    expect(bytes.equals(copy)).toBe(true);
    // The JSON a Sigstore verifier reads carries the payload again.
    const envelope = fromFile.json['dsseEnvelope'] as { payload: string };
    expect(Buffer.from(envelope.payload, 'base64').equals(payload)).toBe(true);
  });

  it('refuses a large payload that is not canonical base64, as the small path does', async () => {
    for (const encoded of [
      `${payload.toString('base64').slice(0, -1)}!`,
      `${payload.toString('base64url')}+`,
    ]) {
      const file = join(tempDir(), 'bad.sig');
      writeFileSync(file, bundleText(encoded));
      await expect(readBundle(file)).rejects.toThrowError(
        /dsseEnvelope.payload is not valid base64/,
      );
    }
  });
});

describe('the table of a decoded statement is sized by its bytes', () => {
  it('a name of 4 MB of "{" does not make a table of 4 million resources', () => {
    const name = '{'.repeat(4_000_000);
    const text = statementText([
      { name, algorithm: 'sha256', digest: sha('x') },
    ]);
    const before = process.memoryUsage().arrayBuffers;
    const decoded = decodeStatement(text);
    const peak = process.memoryUsage().arrayBuffers - before;
    expect(decoded.manifest.resources.map((r) => r.name.length)).toEqual([
      4_000_000,
    ]);
    // Sized by "{" bytes alone it would be over 150 MB of typed arrays.
    expect(peak).toBeLessThan(40 * 1024 * 1024);
  });
});

describe('the walk lists files in the reference order', () => {
  it('visits each directory in byte order, subdirectories in place: no sort needed', async () => {
    const names = [
      'a',
      'a-b',
      'a.b',
      'b/x',
      'b-c/y',
      'ab',
      'a b',
      'é/z',
      'e/z',
      '😀',
      '\ufb01',
      '\uffff',
      'z/a/b/c',
      'z/a-b',
      'z/a.b',
    ];
    const root = makeTree(Object.fromEntries(names.map((n) => [n, n])));
    const walk = await enumerateModel(root, {
      allowSymlinks: false,
      strictSymlinks: false,
      skip: () => false,
    });
    const listed = Array.from({ length: walk.files.length }, (_, i) =>
      walk.files.name(i),
    );
    expect(listed).toEqual([...names].sort(comparePaths));
    // In order as walked: the fallback sort did not run.
    expect(walk.files.order).toBeUndefined();
  });
});

describe('names sized ahead (a decoded statement)', () => {
  it('a list sized too small grows and reads every name back', () => {
    const list = new NameList(1, 8);
    const names: string[] = [];
    for (let i = 0; i < 500; i++) names.push(`d${i % 7}/é${i}.bin`);
    for (const name of names) list.push(name);
    expect(Array.from({ length: 500 }, (_, i) => list.get(i))).toEqual(names);
  });

  it('a statement of non-ASCII names decodes to the names it was encoded from', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d${i % 5}/日本${i}é.txt`] = `${i}`;
    const { manifest } = await hashModel(makeTree(files));
    const decoded = decodeStatement(encodeStatement(manifest)).manifest;
    // Decoded into a table (the resources array is made when it is read).
    expect(tableOf(decoded)?.count).toBe(300);
    expect(decoded.resources).toEqual(manifest.resources);
  });
});
