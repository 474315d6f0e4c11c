// SPDX-License-Identifier: Apache-2.0
// Property-based fuzzing (fast-check) of the pickle VM and every container
// reader: random bytes and mutated corpus samples never throw and finish in
// bounded time. Any crash found becomes a named regression test below.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { analysePickleSource } from '../../src/scan/pickle/vm.js';
import { bufferSource } from '../../src/scan/source.js';
import { readZipDirectory, readZipEntry } from '../../src/scan/zip/reader.js';
import { REPO_ROOT } from '../helpers/vectors.js';

const dir = join(REPO_ROOT, 'test-vectors', 'pickle');
const corpus = ['malicious', 'benign'].flatMap((d) =>
  readdirSync(join(dir, d)).map((f) => readFileSync(join(dir, d, f))),
);
// CI runs a bounded number; set MODELSEAL_FUZZ_RUNS for a longer local campaign.
const RUNS = Number(process.env['MODELSEAL_FUZZ_RUNS'] ?? 150);

/** A corpus sample with a few bytes flipped, inserted or cut. */
const mutated = fc
  .tuple(
    fc.constantFrom(...corpus),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('set', 'insert', 'cut'),
      ),
      { minLength: 1, maxLength: 8 },
    ),
  )
  .map(([base, edits]) => {
    let b = Buffer.from(base);
    for (const [pos, byte, op] of edits) {
      const at = b.length === 0 ? 0 : pos % b.length;
      if (op === 'set' && b.length > 0) b[at] = byte;
      else if (op === 'insert')
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from([byte]),
          b.subarray(at),
        ]);
      else
        b = Buffer.concat([
          b.subarray(0, at),
          b.subarray(at + 1 + (byte % 16)),
        ]);
    }
    return b;
  });

const opcodeSoup = fc
  .array(
    fc.constantFrom(
      ..."()0123FGIJKLMNPQRSTUVXabcdeghijlopqrstu}].\n'",
      ...Array.from({ length: 25 }, (_, i) => String.fromCharCode(0x80 + i)),
    ),
    { maxLength: 200 },
  )
  .map((a) => Buffer.from('\x80\x04' + a.join(''), 'latin1'));

async function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  const start = Date.now();
  const v = await p;
  expect(Date.now() - start).toBeLessThan(ms);
  return v;
}

describe('fuzzing', () => {
  it('pickle VM: random bytes, opcode soup and mutated samples never throw', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
          opcodeSoup,
          mutated,
        ),
        async (buf) => {
          const a = await bounded(analysePickleSource(bufferSource(buf)), 2000);
          expect(a.end).toBeLessThanOrEqual(buf.length);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('zip reader: mutated archives never throw', async () => {
    const zips = corpus.filter((b) => b[0] === 0x50 && b[1] === 0x4b);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...zips),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          maxLength: 12,
        }),
        async (base, edits) => {
          const b = Buffer.from(base);
          for (const [p, v] of edits) b[p % b.length] = v;
          const d = await readZipDirectory(bufferSource(b));
          for (const e of d?.entries ?? [])
            await readZipEntry(bufferSource(b), e, 1 << 20);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('whole engine (torch, numpy, joblib, tar, gzip, zlib): mutated samples give findings, not exceptions', async () => {
    await fc.assert(
      fc.asyncProperty(mutated, async (buf) => {
        const r = await bounded(
          scanSource(bufferSource(buf), 'fuzz.bin', {
            limits: { maxMemberBytes: 4 << 20, maxExpandedBytes: 16 << 20 },
          }),
          3000,
        );
        expect(r.error).toBeUndefined();
        expect(
          r.findings.filter((f) => f.ruleId === 'SCAN_INTERNAL_ERROR'),
        ).toEqual([]);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  // Regressions found while fuzzing.
  it('regression: junk after STOP that starts with a valid opcode is trailing data, not a broken pickle', async () => {
    const a = await analysePickleSource(
      bufferSource(Buffer.from('\x80\x02N.garbage', 'latin1')),
    );
    expect(a.anomalies.map((x) => x.ruleId)).toEqual(['PICKLE_TRAILING_DATA']);
  });
});
