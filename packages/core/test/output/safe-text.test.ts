// SPDX-License-Identifier: Apache-2.0
// safeText: every string from an artifact or a bundle is printable on a
// terminal without moving the cursor, erasing, recolouring or reordering text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSafeText, safeJSONStringify, safeText } from '../../src/index.js';

/** Code points a terminal or a bidi-aware viewer acts on instead of drawing. */
function isDangerous(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c ||
    (cp >= 0x200b && cp <= 0x200d) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0xfeff ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

function dangerousCodePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A well-formed pair is one astral code point: not dangerous in itself.
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (isDangerous(c)) out.push(c);
  }
  return out;
}

describe('safeText', () => {
  it('leaves ordinary text, including non-Latin scripts and emoji, as it is', () => {
    for (const s of [
      'torch._utils._rebuild_tensor_v2',
      'model-00001-of-00002.safetensors',
      'données/模型/веса.bin',
      'ok 👍 done',
      'a\\x1b is four characters',
      '',
    ]) {
      expect(safeText(s)).toBe(s);
      expect(isSafeText(s)).toBe(true);
    }
  });

  it('escapes carriage returns, newlines, tabs and ESC so an ANSI erase is shown, not run', () => {
    expect(safeText('os.system\r\x1b[2K\x1b[1A')).toBe(
      'os.system\\r\\x1b[2K\\x1b[1A',
    );
    expect(safeText('a\nb\tc')).toBe('a\\nb\\tc');
    expect(safeText('\x00\x07\x08\x7f')).toBe('\\x00\\x07\\x08\\x7f');
    // An OSC 8 hyperlink and an OSC title change.
    expect(safeText('\x1b]8;;http://evil\x07x\x1b]8;;\x07')).toBe(
      '\\x1b]8;;http://evil\\x07x\\x1b]8;;\\x07',
    );
  });

  it('escapes the C1 controls, including the single-byte CSI and OSC', () => {
    expect(safeText('\u009b2K\u009d0;t\u009c\u0085')).toBe(
      '\\x9b2K\\x9d0;t\\x9c\\x85',
    );
  });

  it('escapes bidi embeddings, overrides, isolates and marks', () => {
    const bidi = [
      0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
      0x200e, 0x200f, 0x061c,
    ];
    for (const cp of bidi) {
      const s = `exe.${String.fromCodePoint(cp)}lmth`;
      expect(safeText(s)).toBe(
        `exe.\\u${cp.toString(16).padStart(4, '0')}lmth`,
      );
    }
    expect(safeText('evil\u202Egp.bin')).toBe('evil\\u202egp.bin');
  });

  it('escapes zero-width and other format characters, line separators and Hangul fillers', () => {
    expect(safeText('mo\u200Bdel\u200C\u200D\u2060\uFEFF\u00AD')).toBe(
      'mo\\u200bdel\\u200c\\u200d\\u2060\\ufeff\\u00ad',
    );
    expect(safeText('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c');
    expect(safeText('x\u3164y\u115F\u1160\uFFA0')).toBe(
      'x\\u3164y\\u115f\\u1160\\uffa0',
    );
    // Tag characters (astral, category Cf).
    expect(safeText('a\u{E0041}\u{E007F}')).toBe('a\\u{e0041}\\u{e007f}');
  });

  it('escapes lone surrogates but keeps well-formed pairs', () => {
    expect(safeText('a\uD800b')).toBe('a\\ud800b');
    expect(safeText('a\uDC00')).toBe('a\\udc00');
    expect(safeText('\uD83D\uDE00')).toBe('\uD83D\uDE00');
  });

  it('converts non-strings with String()', () => {
    expect(safeText(12)).toBe('12');
    expect(safeText(undefined)).toBe('undefined');
  });

  it('never leaves a dangerous code point, for any input (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'grapheme-composite', maxLength: 20 }),
        (a, b) => {
          const out = safeText(a + b);
          expect(dangerousCodePoints(out)).toEqual([]);
          expect(isSafeText(out)).toBe(true);
          // Idempotent: escaped text is left as it is (the CLI's last guard relies on it).
          expect(safeText(out)).toBe(out);
          // Only escapes are added: printable ASCII text survives in order.
          const plain = (a + b).replace(/[^\x20-\x7e]/g, '');
          let i = 0;
          for (const ch of out) if (ch === plain[i]) i++;
          expect(i).toBe(plain.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is linear: a 4 MiB string of controls is escaped quickly', () => {
    const s = '\x1b[2K\r\u202e'.repeat(1 << 20);
    const start = performance.now();
    const out = safeText(s);
    expect(performance.now() - start).toBeLessThan(5_000);
    expect(out.startsWith('\\x1b[2K\\r\\u202e')).toBe(true);
    for (const ch of ['\x1b', '\r', '\u202e']) expect(out).not.toContain(ch);
  });
});

describe('safeJSONStringify', () => {
  it('parses back to exactly the same value, with no raw unsafe code point in the text', () => {
    const value = {
      name: 'evil\u202Egp.bin\x1b[2K\r\u0085\u009b\u200b\u2028\u{E0041}\x7f',
      lone: 'a\uD800b',
      list: ['ok', '\u2066x\u2069'],
    };
    const text = safeJSONStringify(value, 2);
    expect(JSON.parse(text)).toEqual(value);
    expect(isSafeText(text.replaceAll('\n', ' '))).toBe(true);
    expect(text).toContain('\\u202e');
    expect(text).toContain('\\u009b');
    expect(text).toContain('\\udb40\\udc41');
  });

  it('is JSON.stringify when there is nothing to escape', () => {
    const value = { a: [1, 'b', { c: 'données' }], d: null };
    expect(safeJSONStringify(value, 2)).toBe(JSON.stringify(value, null, 2));
    expect(safeJSONStringify(value)).toBe(JSON.stringify(value));
  });

  it('keeps values exact for any string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
        const text = safeJSONStringify({ s });
        expect(JSON.parse(text)).toEqual({ s });
        expect(isSafeText(text)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
