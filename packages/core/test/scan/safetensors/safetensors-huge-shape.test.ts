// SPDX-License-Identifier: Apache-2.0
// A header listing a very long shape of huge dimensions: the declared size is
// a BigInt product, which must stay bounded (an unbounded one takes quadratic
// time), and the finding quotes a bounded part of the shape.
import { describe, expect, it } from 'vitest';
import { SafetensorsScanner } from '../../../src/scan/safetensors/index.js';
import { scanBytes } from '../archive/format-harness.js';

function safetensors(header: object, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

describe('safetensors huge shape', () => {
  it('reports the mismatch quickly, without computing the whole product', async () => {
    const shape = new Array<number>(200_000).fill(Number.MAX_SAFE_INTEGER);
    const bytes = safetensors(
      { a: { dtype: 'F32', shape, data_offsets: [0, 4] } },
      Buffer.alloc(4),
    );
    const started = Date.now();
    const r = await scanBytes(bytes, { scanner: SafetensorsScanner });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.ruleIds).toEqual(['SAFETENSORS_SIZE_MISMATCH']);
    const evidence = r.findings[0]?.evidence as { shape: number[] };
    expect(evidence.shape.length).toBeLessThanOrEqual(64);
  });

  it('still computes a zero-sized tensor after huge dimensions', async () => {
    const bytes = safetensors(
      {
        a: {
          dtype: 'F32',
          shape: [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0],
          data_offsets: [0, 0],
        },
      },
      Buffer.alloc(0),
    );
    const r = await scanBytes(bytes, { scanner: SafetensorsScanner });
    expect(r.ruleIds).toEqual([]);
  });
});
