// SPDX-License-Identifier: Apache-2.0
// Metadata arrays of strings are walked in one synchronous pass per window
// (48 MB of empty strings took ~7 s with one await per element), and at most
// 32 million variable-size elements are walked per file: past that the rest
// of the header is not read, which is high when a chat template may follow
// and medium when only tensor infos do.
import { describe, expect, it } from 'vitest';
import type { ByteSource } from '../../../src/scan/types.js';
import { GgufScanner } from '../../../src/scan/gguf/index.js';
import { scanBytes } from '../archive/format-harness.js';
import { scanSource } from '../../../src/scan/engine.js';
import { u32, u64 } from '../../helpers/bytes.js';

const str = (s: string): Buffer =>
  Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
const INJECTION = "{{ cycler.__init__.__globals__.os.popen('id').read() }}";

/**
 * A GGUF whose first key holds `n` empty strings (zero bytes: each is a zero
 * length), followed by a chat template key when `template` is set. The
 * string region is produced on read, so 33 million elements cost no memory.
 */
function emptyStrings(n: number, template: boolean): ByteSource {
  const head = Buffer.concat([
    Buffer.from('GGUF'),
    u32(3),
    u64(0),
    u64(template ? 2 : 1),
    str('tokenizer.ggml.tokens'),
    u32(9),
    u32(8),
    u64(n),
  ]);
  const tail = template
    ? Buffer.concat([str('tokenizer.chat_template'), u32(8), str(INJECTION)])
    : Buffer.alloc(0);
  const zerosEnd = head.length + 8 * n;
  const size = zerosEnd + tail.length;
  return {
    size,
    read(offset: number, length: number): Promise<Buffer> {
      const end = Math.min(size, offset + length);
      const out = Buffer.alloc(Math.max(0, end - offset));
      for (let p = offset; p < end;) {
        if (p < head.length) {
          const n2 = head.copy(out, p - offset, p, Math.min(head.length, end));
          p += n2;
        } else if (p < zerosEnd) {
          p = Math.min(zerosEnd, end);
        } else {
          p += tail.copy(out, p - offset, p - zerosEnd, end - zerosEnd);
        }
      }
      return Promise.resolve(out);
    },
  };
}

describe('gguf string arrays', () => {
  it('walks 6 million empty strings and finds the template after them', async () => {
    const r = await scanSource(emptyStrings(6_000_000, true), 'm.gguf');
    expect(r.findings.map((f) => [f.ruleId, f.severity])).toEqual([
      ['GGUF_TEMPLATE_INJECTION', 'critical'],
    ]);
    expect(r.complete).toBe(true);
  });

  it('stops past 32 million elements: high when metadata follows', async () => {
    const r = await scanSource(emptyStrings(33_000_000, true), 'm.gguf');
    expect(
      r.findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'gguf-array-elements']]);
    expect(r.complete).toBe(false);
  });

  it('stops past 32 million elements: medium when only tensor infos follow', async () => {
    const r = await scanSource(emptyStrings(33_000_000, false), 'm.gguf');
    expect(
      r.findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'medium', 'gguf-array-elements']]);
  });

  it('reports a chat template over 4 MiB as high SCAN_INCOMPLETE', async () => {
    const big = 'x'.repeat(4 * 1024 * 1024 + 1);
    const bytes = Buffer.concat([
      Buffer.from('GGUF'),
      u32(3),
      u64(0),
      u64(1),
      str('tokenizer.chat_template'),
      u32(8),
      str(big),
    ]);
    const { findings } = await scanBytes(bytes, { scanner: GgufScanner });
    expect(
      findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'gguf-template-bytes']]);
  });

  it('reports a string length past the end of the file as high GGUF_MALFORMED', async () => {
    const bytes = Buffer.concat([
      Buffer.from('GGUF'),
      u32(3),
      u64(0),
      u64(1),
      str('tokenizer.ggml.tokens'),
      u32(9),
      u32(8),
      u64(2),
      u64(0),
      u64(1_000),
      Buffer.alloc(8),
    ]);
    const { findings } = await scanBytes(bytes, { scanner: GgufScanner });
    expect(findings.map((f) => [f.ruleId, f.severity])).toEqual([
      ['GGUF_MALFORMED', 'high'],
    ]);
  });
});
