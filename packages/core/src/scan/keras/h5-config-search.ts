// SPDX-License-Identifier: Apache-2.0
/**
 * The JSON objects of a legacy Keras `.h5` file that hold a `"class_name"`
 * key (its `model_config` attribute, wherever HDF5 stored it: in an object
 * header, a fractal heap or a global heap collection), found without an
 * HDF5 parser: every occurrence of the key in the whole file, read in
 * windows, and for each the outermost JSON object around it. No count cap:
 * a byte budget, past which the scan is reported incomplete.
 */
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
}

/** Whether `c` may appear in JSON text outside a string. */
function jsonOutside(c: number): boolean {
  return c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c < 0x7f);
}

/**
 * The start of the outermost JSON object around position `at` of `buf`
 * (`at` outside any string, as a key's opening quote is), walking back
 * until a byte that JSON text cannot hold; -1 when no object encloses it,
 * -2 when the walk reached the start of `buf` (read further back).
 */
function outermostStart(buf: Buffer, at: number, whole: boolean): number {
  let depth = 0;
  let inString = false;
  let found = -1;
  for (let i = at - 1; i >= 0; i--) {
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
  return whole ? found : -2;
}

/** The end of the balanced object starting at 0 of `buf` (string-aware), or -1. */
function objectEnd(buf: Buffer): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i] as number;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i + 1;
  }
  return -1;
}

/** Reads `[offset, offset + n)`, growing `n` by doubling up to `limit` while `done` says no. */
async function grow(
  source: ByteSource,
  offset: number,
  limit: number,
  done: (buf: Buffer, whole: boolean) => boolean,
): Promise<Buffer | undefined> {
  for (let n = 1024 * 1024; ; n *= 2) {
    const len = Math.min(n, limit, source.size - offset);
    const buf = await readRange(source, offset, len);
    const whole = offset + len >= source.size;
    if (done(buf, whole)) return buf;
    if (whole || len >= limit) return undefined;
  }
}

/**
 * Every object around a `"class_name"` key in `source`, outermost first in
 * file order (an object is read once, with every key inside it).
 */
export async function* findH5Configs(
  source: ByteSource,
  limits: H5SearchLimits,
): AsyncGenerator<H5ConfigHit> {
  let total = 0;
  let next = 0; // keys before this offset lie in an object already read
  for (let base = 0; base < source.size; base += WINDOW - KEY.length) {
    const window = await readRange(source, base, WINDOW);
    for (
      let i = window.indexOf(KEY, Math.max(0, next - base));
      i >= 0;
      i = window.indexOf(KEY, Math.max(i + 1, next - base))
    ) {
      const at = base + i;
      if (at < next) continue;
      // The object's start: walk back, reading further back as needed.
      let start = -2;
      for (let back = 1024 * 1024; start === -2; back *= 2) {
        const from = Math.max(0, at - Math.min(back, limits.maxObjectBytes));
        const before = await readRange(source, from, at - from);
        const s = outermostStart(before, before.length, from === 0);
        if (s === -2 && at - from >= limits.maxObjectBytes) {
          yield {
            kind: 'too-large',
            offset: at,
            limit: limits.maxObjectBytes,
          };
          start = -3;
        } else start = s < 0 ? s : from + s;
      }
      if (start === -3) {
        next = at + KEY.length;
        continue;
      }
      if (start === -1) {
        yield { kind: 'no-object', offset: at };
        next = at + KEY.length;
        continue;
      }
      let end = -1;
      const body = await grow(source, start, limits.maxObjectBytes, (buf) => {
        end = objectEnd(buf);
        return end >= 0;
      });
      if (body === undefined) {
        const toEof = start + limits.maxObjectBytes >= source.size;
        yield toEof
          ? { kind: 'unclosed', offset: start }
          : { kind: 'too-large', offset: start, limit: limits.maxObjectBytes };
        next = at + KEY.length;
        continue;
      }
      total += end;
      if (total > limits.maxTotalBytes) {
        yield { kind: 'budget', offset: start, limit: limits.maxTotalBytes };
        return;
      }
      yield { kind: 'object', offset: start, bytes: body.subarray(0, end) };
      next = start + end;
    }
  }
}
