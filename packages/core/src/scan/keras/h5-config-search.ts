// SPDX-License-Identifier: Apache-2.0
/**
 * The JSON objects of a legacy Keras `.h5` file that hold a `"class_name"`
 * key (its `model_config` attribute, wherever HDF5 stored it: in an object
 * header, a fractal heap or a global heap collection), found without an
 * HDF5 parser: every occurrence of the key in the whole file, read in
 * windows, and for each the outermost JSON object around it. No count cap:
 * a byte budget, past which the scan is reported incomplete.
 */
import { setImmediate } from 'node:timers/promises';
import { readRange } from '../archive/byte-source.js';
import type { ByteSource } from '../types.js';

const KEY = Buffer.from('"class_name"', 'latin1');
/** Bytes searched at a time (each window overlaps the next by a key). */
const WINDOW = 16 * 1024 * 1024;

/** One object found, or why one could not be read. */
export type H5ConfigHit =
  | { kind: 'object'; offset: number; bytes: Buffer }
  | { kind: 'unclosed'; offset: number }
  | { kind: 'too-large'; offset: number; limit: number }
  | { kind: 'no-object'; offset: number }
  | { kind: 'budget'; offset: number; limit: number };

/** Limits of {@link findH5Configs}. */
export interface H5SearchLimits {
  /** Largest object read (its start searched back, its end forward). */
  maxObjectBytes: number;
  /** Bytes of objects read in all. */
  maxTotalBytes: number;
  /**
   * Whether an object found only through a `\u` escape (no plain
   * `"class_name"` key in it) is a config: Python's json decodes
   * `"\u0063lass_name"` to `class_name`.
   */
  isConfig: (bytes: Buffer) => boolean;
}

/** A `\u` escape: a key may be spelled with them. */
const ESCAPE = Buffer.from('\\u', 'latin1');

/** Whether `c` may appear in JSON text outside a string. */
function jsonOutside(c: number): boolean {
  return c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c < 0x7f);
}

/**
 * The start of the outermost JSON object around the end of `buf` (which
 * ends outside any string, as before a key's opening quote), walking back
 * until a byte that JSON text cannot hold: its offset in `buf`, -1 when no
 * object encloses it, -2 when the walk reached the start of `buf` first
 * (an object further out may start before it) unless `floor` says nothing
 * before `buf` is to be read.
 */
function outermostStart(buf: Buffer, floor: boolean): number {
  let depth = 0;
  let inString = false;
  let found = -1;
  for (let i = buf.length - 1; i >= 0; i--) {
    const c = buf[i] as number;
    if (inString) {
      if (c < 0x20) return found;
      if (c === 0x22) {
        let slashes = 0;
        for (let j = i - 1; j >= 0 && buf[j] === 0x5c; j--) slashes++;
        if (slashes % 2 === 0) inString = false;
      }
      continue;
    }
    if (!jsonOutside(c)) return found;
    if (c === 0x22) inString = true;
    else if (c === 0x7d) depth++;
    else if (c === 0x7b) {
      if (depth === 0) found = i;
      else depth--;
    }
  }
  return floor && found >= 0 ? found : -2;
}

/**
 * The end of the balanced object starting at 0 of `buf` (string-aware):
 * `end` when it closes; else `stop`, the first byte JSON text cannot hold
 * (a control byte in a string, a non-ASCII byte outside one), or -1 when
 * `buf` ends first.
 */
function scanObject(buf: Buffer): { end: number; stop: number } {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i] as number;
    if (inString) {
      if (c < 0x20) return { end: -1, stop: i };
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (!jsonOutside(c)) return { end: -1, stop: i };
    else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return { end: i + 1, stop: -1 };
  }
  return { end: -1, stop: -1 };
}

/** The end of the run of JSON text (outside strings) from `buf`'s start. */
function runEnd(buf: Buffer): number {
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i] as number;
    if (inString) {
      if (c < 0x20) return i;
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (!jsonOutside(c)) return i;
    else if (c === 0x22) inString = true;
  }
  return buf.length;
}

/** Reads `[offset, offset + n)`, growing `n` by doubling up to `limit` while `done` says no. */
async function grow(
  source: ByteSource,
  offset: number,
  limit: number,
  done: (buf: Buffer) => boolean,
): Promise<Buffer | undefined> {
  for (let n = 4096; ; n *= 2) {
    const len = Math.min(n, limit, source.size - offset);
    const buf = await readRange(source, offset, len);
    if (done(buf)) return buf;
    if (offset + len >= source.size || len >= limit) return undefined;
  }
}

/** The offset in `buf` of the last unescaped `"` (a string's opening quote, seen from inside it), or -1. */
function openingQuote(buf: Buffer): number {
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i] !== 0x22) continue;
    let slashes = 0;
    for (let j = i - 1; j >= 0 && buf[j] === 0x5c; j--) slashes++;
    if (slashes % 2 === 0) return i;
  }
  return -1;
}

/** How long the run of JSON text from `at` is, reading 4 KiB first and doubling, at most the object limit. */
async function runLength(
  source: ByteSource,
  at: number,
  limits: H5SearchLimits,
): Promise<number> {
  for (let n = 4096; ; n *= 2) {
    const len = Math.min(n, limits.maxObjectBytes, source.size - at);
    const end = runEnd(await readRange(source, at, len));
    if (end < len || len >= limits.maxObjectBytes || at + len >= source.size)
      return end;
  }
}

/**
 * The triggers of one window in order: keys and escapes, whichever comes
 * first, each kind searched for again only once passed (an absent one is
 * searched for once a window).
 */
class Triggers {
  private key = -2;
  private escape = -2;
  constructor(private readonly window: Buffer) {}
  next(from: number): { at: number; key: boolean } | undefined {
    if (this.key !== -1 && this.key < from)
      this.key = this.window.indexOf(KEY, from);
    if (this.escape !== -1 && this.escape < from)
      this.escape = this.window.indexOf(ESCAPE, from);
    const k = this.key;
    const e = this.escape;
    if (k < 0 && e < 0) return undefined;
    if (e < 0 || (k >= 0 && k <= e)) return { at: k, key: true };
    return { at: e, key: false };
  }
}

/**
 * Every object around a `"class_name"` key (or around a `\u` escape, when
 * `isConfig` accepts it) in `source`, outermost first, in file order; each
 * byte is walked back over at most once and read forward at most once, so
 * the search is linear in the file, and it returns to the event loop after
 * every window.
 */
export async function* findH5Configs(
  source: ByteSource,
  limits: H5SearchLimits,
): AsyncGenerator<H5ConfigHit> {
  let total = 0;
  let next = 0; // everything before this offset has been read
  for (let base = 0; base < source.size; base += WINDOW - KEY.length) {
    await setImmediate();
    const window = await readRange(source, base, WINDOW);
    const triggers = new Triggers(window);
    for (
      let t = triggers.next(Math.max(0, next - base));
      t !== undefined;
      t = triggers.next(Math.max(t.at + 1, next - base))
    ) {
      const at = base + t.at;
      if (at < next) continue;
      const step = t.key ? KEY.length : ESCAPE.length;
      // Walk back, no further than what was read already or the object
      // limit, reading 4 KiB first and twice as much each time the walk
      // runs off the start (most triggers in binary data stop at once).
      const floor = Math.max(next, at - limits.maxObjectBytes);
      let s = -2;
      let from = at;
      for (let n = 4096; s === -2 && from > floor; n *= 2) {
        from = Math.max(floor, at - n);
        const before = await readRange(source, from, at - from);
        // An escape stands inside a string: walk from its opening quote.
        const end = t.key ? before.length : openingQuote(before);
        s =
          end < 0 ? -1 : outermostStart(before.subarray(0, end), from <= floor);
      }
      if (s < 0) {
        if (t.key)
          yield s === -2 && from > next
            ? { kind: 'too-large', offset: at, limit: limits.maxObjectBytes }
            : { kind: 'no-object', offset: at };
        // The rest of this run of JSON text holds no object start either.
        next = at + Math.max(step, await runLength(source, at, limits));
        continue;
      }
      const start = from + s;
      let end = -1;
      let stop = -1;
      const body = await grow(source, start, limits.maxObjectBytes, (buf) => {
        ({ end, stop } = scanObject(buf));
        return end >= 0 || stop >= 0;
      });
      if (body === undefined || end < 0) {
        // Not closed: a byte JSON cannot hold, the end of the file, or the
        // limit. Reported once; the bytes scanned are not searched again.
        const scanned = Math.min(limits.maxObjectBytes, source.size - start);
        if (t.key)
          yield stop >= 0 || start + scanned >= source.size
            ? { kind: 'unclosed', offset: start }
            : {
                kind: 'too-large',
                offset: start,
                limit: limits.maxObjectBytes,
              };
        next = Math.max(at + step, start + (stop >= 0 ? stop : scanned));
        continue;
      }
      const bytes = body.subarray(0, end);
      next = start + end;
      // Found through an escape only: a config when it parses as one.
      if (!t.key && bytes.indexOf(KEY) < 0 && !limits.isConfig(bytes)) continue;
      total += end;
      if (total > limits.maxTotalBytes) {
        yield { kind: 'budget', offset: start, limit: limits.maxTotalBytes };
        return;
      }
      yield { kind: 'object', offset: start, bytes };
    }
  }
}
