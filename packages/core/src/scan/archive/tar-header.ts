// SPDX-License-Identifier: Apache-2.0
/**
 * Tar header blocks, read the way CPython's `tarfile` reads them (ustar, GNU,
 * pax, v7): numeric fields in octal or base-256, the checksum over the block
 * with the checksum field as spaces (unsigned or signed bytes), the ustar
 * prefix, GNU old sparse structures, pax records and the GNU sparse 1.0 map.
 * Pure functions over buffers; every length is checked before use.
 */
import { numberFieldMayParse } from './tar-number.js';

/** Size of a tar block. */
export const TAR_BLOCK: number = 512;

/** Types tarfile knows (anything else is extracted as a regular file). */
const SUPPORTED_TYPES = new Set([
  '0',
  '\0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  'L',
  'K',
  'S',
]);
/** Types whose data blocks follow the header. */
const REGULAR_TYPES = new Set(['0', '\0', '7', 'S']);
/** Extended-header types (pax `x`/`g`, Solaris `X`) and GNU long names. */
export const META_TYPES: ReadonlySet<string> = new Set([
  'x',
  'g',
  'X',
  'L',
  'K',
]);

/** Rounds up to whole blocks. */
export function blockCeil(n: number): number {
  return Math.ceil(n / TAR_BLOCK) * TAR_BLOCK;
}

/** Whether a header of this type is followed by its data (tarfile: regular or unknown types). */
export function typeHasData(type: string): boolean {
  return REGULAR_TYPES.has(type) || !SUPPORTED_TYPES.has(type);
}

/** Whether tarfile and GNU tar know the type. */
export function isKnownType(type: string): boolean {
  return (
    SUPPORTED_TYPES.has(type) || type === 'x' || type === 'g' || type === 'X'
  );
}

/** Thrown for a block that is not a valid header (tarfile's InvalidHeaderError). */
export class TarHeaderError extends Error {}

/** Text up to the first nul byte. */
export function nts(b: Buffer, start: number, end: number): string {
  const nul = b.indexOf(0, start);
  return b.toString('utf8', start, nul < 0 || nul > end ? end : nul);
}

/**
 * A numeric field: base-256 when the first byte is 0x80 (0xff: negative),
 * otherwise octal text up to the first nul, blanks trimmed, empty = 0.
 * Values past 2^53 are refused.
 */
export function tarNumber(b: Buffer, start: number, end: number): number {
  const first = b[start] as number;
  if (first === 0x80 || first === 0xff) {
    let n = 0n;
    for (let i = start + 1; i < end; i++)
      n = (n << 8n) | BigInt(b[i] as number);
    if (first === 0xff) n -= 1n << BigInt(8 * (end - start - 1));
    if (
      n > BigInt(Number.MAX_SAFE_INTEGER) ||
      n < -BigInt(Number.MAX_SAFE_INTEGER)
    )
      throw new TarHeaderError('number out of range');
    return Number(n);
  }
  // tarfile's nti: the text up to a nul, ASCII, `int(text.strip() or "0", 8)`,
  // which takes Python's whitespace around it, a sign, a `0o` prefix and
  // underscores between digits.
  const end0 = b.indexOf(0, start);
  const raw = b.subarray(start, end0 < 0 || end0 > end ? end : end0);
  if (raw.some((c) => c > 0x7f))
    throw new TarHeaderError('invalid number field');
  const text = pyStrip(raw.toString('latin1'));
  if (text === '') return 0;
  const m = /^([+-]?)(?:0[oO]_?)?([0-7](?:_?[0-7])*)$/.exec(text);
  if (m === null) throw new TarHeaderError('invalid number field');
  const n = Number.parseInt((m[2] as string).replace(/_/g, ''), 8);
  if (!Number.isSafeInteger(n)) throw new TarHeaderError('number out of range');
  return m[1] === '-' ? -n : n;
}

/** Python's `str.strip()` on ASCII: blanks, \t \n \v \f \r and \x1c–\x1f. */
const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
]);

function pyStrip(text: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && PY_SPACE.has(text.charCodeAt(a))) a++;
  while (b > a && PY_SPACE.has(text.charCodeAt(b - 1))) b--;
  return text.slice(a, b);
}

/** A size or offset field: {@link tarNumber}, and not below 0. */
function tarCount(b: Buffer, start: number, end: number): number {
  const n = tarNumber(b, start, end);
  if (n < 0) throw new TarHeaderError('negative size or offset');
  return n;
}

/** True when every byte is zero (an end-of-archive block). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** The checksum check of tarfile: stored value equals the unsigned or the signed byte sum. */
export function checksumOk(block: Buffer): boolean {
  // Cheap pre-check (used when searching garbage for the next header).
  if (!numberFieldMayParse(block, 148, 156)) return false;
  let stored: number;
  try {
    stored = tarNumber(block, 148, 156);
  } catch {
    return false;
  }
  let unsigned = 256;
  let signed = 256;
  for (let i = 0; i < TAR_BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const c = block[i] as number;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/**
 * True when the block looks like a tar header: `ustar` magic, or a checksum
 * tarfile accepts (any name, an empty one included: a pax global header
 * needs none) on a block that is not all zeros.
 */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < TAR_BLOCK) return false;
  if (block.toString('latin1', 257, 262) === 'ustar') return true;
  const header = block.subarray(0, TAR_BLOCK);
  return !isZeroBlock(header) && checksumOk(header);
}

/** One header block, decoded. */
export interface TarHeader {
  /** Name with the ustar prefix applied (as tarfile does), before any extended header. */
  name: string;
  /** The bare name field, without prefix. */
  rawName: string;
  /** Prefix field (empty when none). */
  prefix: string;
  /** True for the GNU magic `ustar  \0` (GNU tar ignores the prefix field there). */
  gnuMagic: boolean;
  type: string;
  size: number;
  linkname: string;
  /** Old GNU sparse: structures in the header, the extension flag and the real size. */
  sparse?: { structs: [number, number][]; extended: boolean; realSize: number };
}

/** Decodes a header block; throws {@link TarHeaderError} when tarfile would refuse it. */
export function parseHeader(block: Buffer): TarHeader {
  if (block.length !== TAR_BLOCK) throw new TarHeaderError('truncated header');
  if (!checksumOk(block)) throw new TarHeaderError('bad checksum');
  const rawName = nts(block, 0, 100);
  const size = tarNumber(block, 124, 136);
  // A sign is a number to tarfile, but a negative size moves its next
  // header backwards: not a header any tool writes (the walk reports it).
  if (size < 0) throw new TarHeaderError('negative size');
  // tarfile rejects these fields too when they are not numbers.
  for (const [s, e] of [
    [100, 108],
    [108, 116],
    [116, 124],
    [136, 148],
  ] as const)
    tarNumber(block, s, e);
  let type = String.fromCharCode(block[156] as number);
  const linkname = nts(block, 157, 257);
  const prefix = nts(block, 345, 500);
  const gnuMagic = block.toString('latin1', 257, 265) === 'ustar  \0';
  if (size < 0) throw new TarHeaderError('negative size');
  let sparse: TarHeader['sparse'];
  if (type === 'S') {
    const structs: [number, number][] = [];
    for (let i = 0; i < 4; i++) {
      const p = 386 + i * 24;
      structs.push([
        tarCount(block, p, p + 12),
        tarCount(block, p + 12, p + 24),
      ]);
    }
    sparse = {
      structs,
      extended: block[482] !== 0,
      realSize: tarCount(block, 483, 495),
    };
  }
  let name = rawName;
  if (type === '\0' && name.endsWith('/')) type = '5';
  if (type === '5') name = name.replace(/\/+$/, '');
  if (prefix !== '' && type !== 'L' && type !== 'K' && type !== 'S')
    name = `${prefix}/${name}`;
  return {
    name,
    rawName,
    prefix,
    gnuMagic,
    type,
    size,
    linkname,
    ...(sparse ? { sparse } : {}),
  };
}

/** A GNU old-sparse extension block: up to 21 structures and the extension flag. */
export function parseSparseExtension(block: Buffer): {
  structs: [number, number][];
  extended: boolean;
} {
  if (block.length !== TAR_BLOCK)
    throw new TarHeaderError('truncated sparse header');
  const structs: [number, number][] = [];
  for (let i = 0; i < 21; i++) {
    const p = i * 24;
    const offset = tarCount(block, p, p + 12);
    const numbytes = tarCount(block, p + 12, p + 24);
    if (offset !== 0 && numbytes !== 0) structs.push([offset, numbytes]);
  }
  return { structs, extended: block[504] !== 0 };
}

/**
 * Pax records `"%d %s=%s\n"` as tarfile reads them: parsing stops at a nul
 * byte at a record start; a malformed record throws {@link TarHeaderError}.
 * Returns keyword/value pairs in order (values as UTF-8 text).
 */
export function parsePaxRecords(buf: Buffer): [string, string][] {
  const records: [string, string][] = [];
  let pos = 0;
  while (pos < buf.length && buf[pos] !== 0) {
    let p = pos;
    while (
      p < buf.length &&
      p - pos < 21 &&
      (buf[p] as number) >= 0x30 &&
      (buf[p] as number) <= 0x39
    )
      p++;
    if (p === pos || p - pos > 20 || buf[p] !== 0x20)
      throw new TarHeaderError('invalid pax record length');
    const length = Number(buf.toString('latin1', pos, p));
    if (length < 5 || pos + length > buf.length)
      throw new TarHeaderError('invalid pax record length');
    const end = pos + length - 1;
    if (buf[end] !== 0x0a)
      throw new TarHeaderError('pax record without newline');
    const eq = buf.indexOf(0x3d, p + 1);
    if (eq < 0 || eq >= end || eq === p + 1)
      throw new TarHeaderError('pax record without keyword');
    records.push([
      buf.toString('utf8', p + 1, eq),
      buf.toString('utf8', eq + 1, end),
    ]);
    pos += length;
  }
  return records;
}

/** Python's `int()` on a pax number (decimal, optional sign and blanks); undefined when invalid. */
export function paxInt(value: string): number | undefined {
  const t = value.trim();
  if (!/^[+-]?\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}
