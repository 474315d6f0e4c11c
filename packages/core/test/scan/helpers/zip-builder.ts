// SPDX-License-Identifier: Apache-2.0
// A tiny zip writer for hostile-zip tests: stored or DEFLATE members, with
// knobs to make local and central headers disagree.
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipMember {
  name: string;
  data: Buffer;
  deflate?: boolean;
  /** Name written in the local header instead of `name`. */
  localName?: string;
  flags?: number;
  /** CRC written instead of the real one. */
  crc?: number;
  /** Point the central record at the local header of member `sameLocalAs` (overlap). */
  sameLocalAs?: number;
  /** Declared uncompressed size instead of the real one. */
  declaredSize?: number;
}

interface HeaderFields {
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  nameLength: number;
}

/** Writes the fields local and central headers share, from "version needed" on (at 4 and 6). */
function writeHeaderFields(h: Buffer, at: number, f: HeaderFields): void {
  h.writeUInt16LE(20, at);
  h.writeUInt16LE(f.flags, at + 2);
  h.writeUInt16LE(f.method, at + 4);
  h.writeUInt32LE(f.crc >>> 0, at + 10);
  h.writeUInt32LE(f.compressedSize, at + 14);
  h.writeUInt32LE(f.size, at + 18);
  h.writeUInt16LE(f.nameLength, at + 22);
}

export function buildZip(
  members: ZipMember[],
  options: { prefix?: Buffer; comment?: string; zip64?: boolean } = {},
): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const offsets: number[] = [];
  let offset = options.prefix?.length ?? 0;
  for (const m of members) {
    const body = m.deflate === true ? deflateRawSync(m.data) : m.data;
    const name = Buffer.from(m.name);
    const localName = Buffer.from(m.localName ?? m.name);
    const fields = {
      flags: m.flags ?? 0,
      method: m.deflate === true ? 8 : 0,
      crc: m.crc ?? crc32(m.data),
      compressedSize: body.length,
      size: m.declaredSize ?? m.data.length,
    };
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    writeHeaderFields(lh, 4, { ...fields, nameLength: localName.length });
    const localOffset =
      m.sameLocalAs !== undefined ? offsets[m.sameLocalAs]! : offset;
    offsets.push(localOffset);
    if (m.sameLocalAs === undefined) {
      locals.push(lh, localName, body);
      offset += 30 + localName.length + body.length;
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    writeHeaderFields(ch, 6, { ...fields, nameLength: name.length });
    ch.writeUInt32LE(localOffset, 42);
    if (options.zip64 === true) {
      // Saturated 32-bit fields, real values in the ZIP64 extra (usize, csize, offset).
      const extra = Buffer.alloc(28);
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(fields.size), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(localOffset), 20);
      ch.writeUInt32LE(0xffffffff, 20);
      ch.writeUInt32LE(0xffffffff, 24);
      ch.writeUInt32LE(0xffffffff, 42);
      ch.writeUInt16LE(extra.length, 30);
      centrals.push(ch, name, extra);
    } else centrals.push(ch, name);
  }
  const cd = Buffer.concat(centrals);
  const comment = Buffer.from(options.comment ?? '');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  const zip64Tail: Buffer[] = [];
  if (options.zip64 === true) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeBigUInt64LE(BigInt(members.length), 24);
    rec.writeBigUInt64LE(BigInt(members.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    eocd.writeUInt32LE(0xffffffff, 12);
    eocd.writeUInt32LE(0xffffffff, 16);
    zip64Tail.push(rec, loc);
  }
  return Buffer.concat([
    options.prefix ?? Buffer.alloc(0),
    ...locals,
    cd,
    ...zip64Tail,
    eocd,
    comment,
  ]);
}

/**
 * Adds `delta` to the local header offset of each of the `count` central
 * entries that start at `cdStart` in `buf` (in place); returns where the
 * directory's entries end.
 */
export function shiftLocalOffsets(
  buf: Buffer,
  cdStart: number,
  count: number,
  delta: number,
): number {
  let p = cdStart;
  for (let i = 0; i < count; i++) {
    buf.writeUInt32LE(buf.readUInt32LE(p + 42) + delta, p + 42);
    p +=
      46 +
      buf.readUInt16LE(p + 28) +
      buf.readUInt16LE(p + 30) +
      buf.readUInt16LE(p + 32);
  }
  return p;
}
