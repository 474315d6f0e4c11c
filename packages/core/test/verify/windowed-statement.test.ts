// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 4: verify decodes a large statement from the bundle file
// again, a window at a time, once the payload it verified is freed
// (decodeStatementWindows, decodeStatementFile), and compares the digests
// of the model as they arrive (compareModel). Each must give exactly what
// the whole decode and checkModel give; any doubt takes the whole path; a
// bundle file that changed between the two reads is refused.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { payloadSourceOf, readBundle } from '../../src/bundle/read.js';
import { hashModel } from '../../src/manifest/hash-model.js';
import { checkModel, compareModel } from '../../src/manifest/check-model.js';
import {
  decodeStatement,
  decodeStatementWindows,
} from '../../src/manifest/statement.js';
import { signModel } from '../../src/sign/sign-model.js';
import { decodeStatementFile } from '../../src/verify/statement-file.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { mutate, seeded } from '../helpers/mutation.js';
import {
  digestOf,
  pullOf,
  referenceStatement,
  statementOutcome,
  unsignedBundleFor,
} from '../helpers/statements.js';
import { newKey, type TestKey } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const outcome = statementOutcome;

/** The windowed reading of `bytes`; `again`: it may read them twice (as verify does). */
const windowed = (
  bytes: Buffer,
  window?: number,
  step?: number,
  again = true,
): string =>
  outcome(() =>
    decodeStatementWindows(pullOf(bytes, step), bytes.length, {
      ...(window === undefined ? {} : { window }),
      ...(again ? { again: () => pullOf(bytes, step) } : {}),
    }),
  );

describe('decodeStatementWindows', () => {
  it('decodes a 40,000-resource statement within 64 KiB what decodeStatement decodes', () => {
    const text = referenceStatement(40_000);
    const expected = outcome(() => decodeStatement(text));
    expect(expected).toMatch(/^\[/);
    expect(windowed(text, 64 * 1024)).toBe(expected);
    expect(windowed(text)).toBe(expected);
  });

  it.each([
    ['the serialization first', false, 0x19],
    ['the list first (read twice)', true, 0x1a],
  ])(
    'agrees with decodeStatement on 4,000 mutated statements, %s, in windows of 640 B to 4 KiB',
    (_, resourcesFirst, seed) => {
      // An escape in one name (JSON.parse reads that element, not the plain reader).
      const base = Buffer.from(
        referenceStatement(30, { resourcesFirst })
          .toString('latin1')
          .replace('d000/f000007.bin', 'd000/f00000\\u0037.bin'),
        'latin1',
      );
      expect(windowed(base, 640)).toBe(outcome(() => decodeStatement(base)));
      expect(windowed(base, 640)).toMatch(/^\[/);
      const random = seeded(seed);
      let taken = 0;
      let refused = 0;
      for (let n = 0; n < 4_000; n++) {
        const bytes = mutate(base, random);
        const window = 640 + Math.floor(random() * 3456);
        const step = 1 + Math.floor(random() * 700);
        const expected = outcome(() => decodeStatement(Buffer.from(bytes)));
        const got = windowed(bytes, window, step);
        // Never a statement decodeStatement would not give; never an error.
        if (got !== 'undefined') {
          expect(got).toBe(expected);
          taken++;
        }
        if (expected.startsWith('error')) refused++;
      }
      // Both sides exercised: the valid mutants decoded by windows (all but a
      // few whose list no longer opens in the first window), many refused whole.
      expect(refused).toBeGreaterThan(200);
      expect(4_000 - refused).toBeGreaterThan(200);
      expect(taken).toBeGreaterThan(0.9 * (4_000 - refused));
    },
  );

  it('reads a list before the serialization twice, leaves other layouts to the whole decode, and never takes a decoy list or key', () => {
    const text = referenceStatement(50);
    const cases: [string, Buffer][] = [
      [
        'resources before the serialization',
        referenceStatement(50, { resourcesFirst: true }),
      ],
      [
        'a second serialization after the list',
        Buffer.from(
          text
            .toString('latin1')
            .replace(
              /\n {2}\}\n\}$/,
              ',\n    "serialization": {"method": "files", "hash_type": "sha1"}\n  }\n}',
            ),
          'latin1',
        ),
      ],
      [
        'a decoy list in the subject',
        Buffer.from(
          text
            .toString('latin1')
            .replace(
              '"name": "m",',
              '"name": "m", "x": {"resources": [{"a": 1}]},',
            ),
          'latin1',
        ),
      ],
      [
        'a decoy key inside a string',
        Buffer.from(
          text
            .toString('latin1')
            .replace('"name": "m"', '"name": "\\"resources\\": ["'),
          'latin1',
        ),
      ],
      [
        'a second resources list after the first',
        Buffer.from(
          text
            .toString('latin1')
            .replace(/\n {2}\}\n\}$/, ',\n    "resources": []\n  }\n}'),
          'latin1',
        ),
      ],
    ];
    for (const [what, bytes] of cases) {
      const got = windowed(bytes, 300, 17);
      const expected = outcome(() => decodeStatement(bytes));
      expect(got === 'undefined' || got === expected, what).toBe(true);
    }
    // Each is valid and left to the whole decode (the decoy in the subject
    // is the first list found, and refused).
    for (const [what, bytes] of cases) {
      // The escaped key is no key: the real list is read. A list before the
      // serialization is read twice, and not at all when that is not allowed.
      expect(windowed(bytes, 4096), what).toBe(
        what === 'a decoy key inside a string' ||
          what === 'resources before the serialization'
          ? outcome(() => decodeStatement(bytes))
          : 'undefined',
      );
      if (what === 'resources before the serialization')
        expect(windowed(bytes, 4096, undefined, false)).toBe('undefined');
      // A hash the format does not know, in the second serialization.
      expect(
        outcome(() => decodeStatement(bytes)),
        what,
      ).toMatch(
        what === 'a second serialization after the list'
          ? /^error UNSUPPORTED_ALGORITHM/
          : what === 'a second resources list after the first'
            ? /^error MANIFEST_INCONSISTENT: manifest lists no resources/
            : /^\[/,
      );
    }
  });

  it('agrees with decodeStatement on the reference implementation vectors', () => {
    const root = join(__dirname, '../../../../test-vectors/oms-reference');
    let taken = 0;
    for (const dir of readdirSync(root)) {
      let bundle: { dsseEnvelope?: { payload: string } };
      try {
        bundle = JSON.parse(readFileSync(join(root, dir, 'model.sig'), 'utf8'));
      } catch {
        continue;
      }
      if (bundle.dsseEnvelope === undefined) continue;
      const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
      const got = windowed(payload, 4096, 5);
      if (got === 'undefined') continue;
      expect(got, dir).toBe(outcome(() => decodeStatement(payload)));
      taken++;
    }
    expect(taken).toBeGreaterThan(3);
  });
});

const bundleFor = unsignedBundleFor;

describe('decodeStatementFile', () => {
  async function source(text: Buffer): Promise<{
    path: string;
    digest: Buffer;
    read: Awaited<ReturnType<typeof readBundle>>;
  }> {
    const path = join(tempDir(), 'model.sig');
    writeFileSync(path, bundleFor(text));
    const read = await readBundle(path, {});
    const digest = createHash('sha256').update(read.envelope.payload).digest();
    return { path, digest, read };
  }

  it('decodes a statement read again from the bundle file, windowed and whole', async () => {
    for (const text of [
      referenceStatement(8_000),
      referenceStatement(8_000, { resourcesFirst: true }),
    ]) {
      const { digest, read } = await source(text);
      const found = payloadSourceOf(read.envelope.payload);
      expect(found).toBeDefined();
      expect(found!.payloadLength).toBe(text.length);
      expect(outcome(() => decodeStatementFile(found!, digest))).toBe(
        outcome(() => decodeStatement(text)),
      );
      expect(
        outcome(() => decodeStatementFile(found!, digest, { window: 4096 })),
      ).toBe(outcome(() => decodeStatement(text)));
    }
  });

  it('gives the whole decode’s error for a statement it cannot read in windows', async () => {
    const bad = Buffer.from(referenceStatement(8_000));
    bad.write('z', bad.lastIndexOf(digestOf(7_998)), 'latin1');
    const { digest, read } = await source(bad);
    const expected = outcome(() => decodeStatement(bad));
    expect(expected).toMatch(/^error MANIFEST_INCONSISTENT/);
    expect(
      outcome(() =>
        decodeStatementFile(payloadSourceOf(read.envelope.payload)!, digest),
      ),
    ).toBe(expected);
  });

  it('refuses a bundle file changed, cut or gone after it was read', async () => {
    const text = referenceStatement(8_000);
    const { path, digest, read } = await source(text);
    const found = payloadSourceOf(read.envelope.payload)!;
    const original = readFileSync(path);
    const changes: [string, () => void][] = [
      [
        'one base64 character',
        () => {
          const b = Buffer.from(original);
          const at = found.offset + 1000;
          b[at] = b[at] === 0x41 ? 0x42 : 0x41;
          writeFileSync(path, b);
        },
      ],
      [
        'the last character',
        () => {
          const b = Buffer.from(original);
          const at = found.offset + found.length - 5;
          b[at] = b[at] === 0x41 ? 0x42 : 0x41;
          writeFileSync(path, b);
        },
      ],
      [
        'cut in the payload',
        () => writeFileSync(path, original.subarray(0, found.offset + 5000)),
      ],
      ['removed', () => rmSync(path)],
      [
        'a FIFO in its place (read without waiting for a writer)',
        () => execFileSync('mkfifo', [path]),
      ],
    ];
    for (const [what, change] of changes) {
      change();
      for (const window of [undefined, 4096]) {
        const got = outcome(() =>
          decodeStatementFile(
            found,
            digest,
            window === undefined ? {} : { window },
          ),
        );
        expect(got, what).toMatch(
          what === 'removed'
            ? /^error IO_ERROR: cannot read bundle .*model\.sig: ENOENT/
            : /^error IO_ERROR: cannot read bundle .*model\.sig: it changed while it was read/,
        );
      }
    }
  });
});

describe('compareModel', () => {
  it('compares digests as they arrive with the result checkModel gives', async () => {
    for (const method of ['files', 'shards'] as const) {
      const files: Record<string, string> = {};
      for (let i = 0; i < 120; i++)
        files[`d${i % 7}/f${String(i).padStart(3, '0')}.bin`] =
          `content ${i}`.repeat(1 + (i % 5));
      const model = makeTree(files);
      const options =
        method === 'shards' ? { method: 'shards' as const, shardSize: 16 } : {};
      const signed = await hashModel(model, { concurrency: 0, ...options });
      // Missing, extra, changed (first, middle and last in the order).
      rmSync(join(model, 'd3/f003.bin'));
      // The same length: a shard's range stays, its digest changes.
      for (const name of ['d0/f000.bin', 'd6/f118.bin'])
        writeFileSync(join(model, name), files[name]!.toUpperCase());
      writeFileSync(join(model, 'd2/extra.bin'), 'extra');
      mkdirSync(join(model, 'zz'));
      writeFileSync(join(model, 'zz/last.bin'), 'extra');
      for (const ignoreUnsignedFiles of [false, true]) {
        for (const concurrency of [0, 2]) {
          const whole = await checkModel(model, signed.manifest, {
            ignoreUnsignedFiles,
            concurrency,
          });
          const arrived = await compareModel(model, signed.manifest, {
            ignoreUnsignedFiles,
            concurrency,
          });
          expect(arrived.compare, method).toEqual(whole.compare);
          expect(whole.compare.changed.length).toBeGreaterThanOrEqual(2);
          expect(whole.compare.missing.length).toBeGreaterThanOrEqual(1);
          expect(whole.compare.extra.length).toBeGreaterThanOrEqual(2);
        }
      }
    }
  });
});

describe('verifyModelSignature of a large statement', () => {
  let key: TestKey;
  beforeAll(() => {
    key = newKey(tempDir(), 'signer', 'P-256');
  });

  it('verifies 26,000 files with the statement read in windows, and names a changed one', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 26_000; i++)
      files[
        `d${String(i % 50).padStart(2, '0')}/file-with-a-long-name-${String(i).padStart(6, '0')}.bin`
      ] = String(i);
    const model = makeTree(files);
    const sig = join(tempDir(), 'model.sig');
    await signModel({
      method: 'key',
      modelPath: model,
      signaturePath: sig,
      privateKey: key.keyPath,
    });
    const read = await readBundle(sig, {});
    // Over verify's threshold (4 MiB): the windowed path is the one taken.
    expect(read.envelope.payload.length).toBeGreaterThan(4 << 20);
    expect(payloadSourceOf(read.envelope.payload)).toBeDefined();
    const ok = await verifyModelSignature({
      method: 'key',
      modelPath: model,
      bundlePath: sig,
      publicKey: key.publicKeyPath,
    });
    expect(ok.compare.ok).toBe(true);
    expect(ok.manifest.resources).toHaveLength(26_000);
    writeFileSync(join(model, 'd07/file-with-a-long-name-000007.bin'), 'x');
    const failure = await verifyModelSignature({
      method: 'key',
      modelPath: model,
      bundlePath: sig,
      publicKey: key.publicKeyPath,
    }).catch(
      (error: unknown) =>
        error as { code: string; details: { changed: { name: string }[] } },
    );
    expect((failure as { code: string }).code).toBe('MANIFEST_MISMATCH');
    expect(
      (
        failure as { details: { changed: { name: string }[] } }
      ).details.changed.map((c) => c.name),
    ).toEqual(['d07/file-with-a-long-name-000007.bin']);
  }, 120_000);
});
