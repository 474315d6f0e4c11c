// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 4: verify decodes the statement of a bundle file it read
// itself while giving the bytes back (decodeOwnedStatement). It must decode
// exactly what decodeStatement decodes, refuse what it refuses with the same
// message (offsets are the statement's, not the shrunk buffer's), and leave
// nothing of a caller's buffer changed when that buffer cannot shrink.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import {
  decodeOwnedStatement,
  decodeStatement,
} from '../../src/manifest/statement.js';
import { mutate, seeded } from '../helpers/mutation.js';
import { ResizableArrayBuffer } from '../../src/internal/release.js';
import { ownedCopy as owned } from '../helpers/bytes.js';
import { tempDir } from '../helpers/tree.js';
import {
  digestOf,
  referenceStatement,
  statementOutcome,
  unsignedBundleFor,
} from '../helpers/statements.js';

/** Resources enough for several compactions (about 6.5 MB pretty-printed, 4 MiB steps). */
const COUNT = 40_000;

const statement = (count: number): Buffer => referenceStatement(count);

function failure(run: () => unknown): {
  code: unknown;
  message: string;
  cause: unknown;
} {
  try {
    run();
  } catch (error) {
    const e = error as { code?: unknown; message: string; cause?: unknown };
    return {
      code: e.code,
      message: e.message,
      cause: (e.cause as Error | undefined)?.message,
    };
  }
  throw new Error('expected a failure');
}

const outcome = statementOutcome;

describe('decodeOwnedStatement', () => {
  const text = statement(COUNT);

  it('decodes what decodeStatement decodes, and gives the buffer back as it reads', () => {
    // Over 4 MiB steps (the smallest): compacted at least once.
    expect(text.length).toBeGreaterThan(6 * 1024 * 1024);
    const payload = owned(text);
    const buffer = payload.buffer as ArrayBuffer;
    const before = buffer.byteLength;
    const ours = decodeOwnedStatement(payload);
    const theirs = decodeStatement(Buffer.from(text));
    expect(ours.manifest.rootDigest).toBe(theirs.manifest.rootDigest);
    expect(ours.manifest.resources).toEqual(theirs.manifest.resources);
    expect(ours.manifest.resources).toHaveLength(COUNT);
    expect(ours.manifest.resources[COUNT - 1]).toEqual({
      name: 'd039/f039999.bin',
      algorithm: 'sha256',
      digest: digestOf(COUNT - 1),
    });
    // Compacted at least once: what is left is under one step (4 MiB) of the list.
    expect(buffer.byteLength).toBeLessThan(before);
    expect(buffer.byteLength).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it('refuses a malformed resource past a compaction with the statement offset decodeStatement gives', () => {
    // A separator broken near the end: found only after several compactions.
    const at = text.lastIndexOf(',\n      {');
    const bad = Buffer.from(text);
    bad[at] = 0x3b; // ';'
    const expected = failure(() => decodeStatement(Buffer.from(bad)));
    expect(expected.code).toBe('STATEMENT_INVALID');
    const actual = failure(() => decodeOwnedStatement(owned(bad)));
    expect(actual).toEqual(expected);
    expect(expected.message).toMatch(/statement payload is not valid JSON/);
    expect(expected.cause).toBe(`expected , or ] at byte ${at}`);
  });

  it('refuses a wrong digest past a compaction as decodeStatement does', () => {
    const bad = Buffer.from(text);
    const at = bad.lastIndexOf(digestOf(COUNT - 2));
    bad.write('z', at, 'latin1');
    const expected = failure(() => decodeStatement(Buffer.from(bad)));
    expect(expected.code).toBe('MANIFEST_INCONSISTENT');
    expect(failure(() => decodeOwnedStatement(owned(bad)))).toEqual(expected);
  });

  it('agrees with decodeStatement on 4,000 mutated statements, compacting after a few bytes', () => {
    // 30 resources, one of them with an escape (read by JSON.parse, not
    // the plain reader); compactions every 0-199 bytes, so at almost every
    // separator, element and the closing bracket.
    const base = Buffer.from(
      statement(30)
        .toString('latin1')
        .replace('d000/f000007.bin', 'd000/f00000\\u0037.bin'),
      'latin1',
    );
    expect(outcome(() => decodeStatement(base))).not.toMatch(/^error/);
    const random = seeded(0x18);
    let accepted = 0;
    let shrunk = 0;
    for (let n = 0; n < 4_000; n++) {
      const bytes = mutate(base, random);
      const every = Math.floor(random() * 200);
      const payload = owned(bytes);
      const expected = outcome(() => decodeStatement(Buffer.from(bytes)));
      expect(
        outcome(() => decodeOwnedStatement(payload, { compactEvery: every })),
      ).toBe(expected);
      if (!expected.startsWith('error')) accepted++;
      if (payload.buffer.byteLength < bytes.length) shrunk++;
    }
    // Both outcomes are exercised, and the buffer was given back.
    expect(accepted).toBeGreaterThan(200);
    expect(4_000 - accepted).toBeGreaterThan(200);
    expect(shrunk).toBeGreaterThan(2_000);
  });

  it('leaves a buffer that cannot shrink as it was', () => {
    const plain = Buffer.from(text);
    const result = decodeOwnedStatement(plain);
    expect(result.manifest.resources).toHaveLength(COUNT);
    expect(plain.equals(text)).toBe(true);
    // A view into a larger resizable buffer is not the payload's own either.
    const buffer = new ResizableArrayBuffer(text.length + 10, {
      maxByteLength: text.length + 10,
    });
    const inner = Buffer.from(buffer, 5, text.length);
    inner.set(text);
    decodeOwnedStatement(inner);
    expect(buffer.byteLength).toBe(text.length + 10);
    expect(inner.equals(text)).toBe(true);
  });

  it('readBundle leaves a signed payload that decodeOwnedStatement shrinks', async () => {
    const dir = tempDir();
    const path = join(dir, 'model.sig');
    writeFileSync(path, bundleFor(text));
    const read = await readBundle(path, {});
    const buffer = read.envelope.payload.buffer as ArrayBuffer & {
      resizable?: boolean;
    };
    expect(buffer.resizable).toBe(true);
    const decoded = decodeOwnedStatement(read.envelope.payload);
    expect(decoded.manifest.resources).toHaveLength(COUNT);
    expect(buffer.byteLength).toBeLessThan(text.length);
  });
});

const bundleFor = unsignedBundleFor;
