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

export function buildZip(
  members: ZipMember[],
  options: { prefix?: Buffer; comment?: string; zip64?: boolean } = {},
): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const offsets: number[] = [];
  let offset = options.prefix?.length ?? 0;
  members.forEach((m, i) => {
    const body = m.deflate === true ? deflateRawSync(m.data) : m.data;
    const crc = m.crc ?? crc32(m.data);
    const name = Buffer.from(m.name);
    const localName = Buffer.from(m.localName ?? m.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(m.flags ?? 0, 6);
    lh.writeUInt16LE(m.deflate === true ? 8 : 0, 8);
    lh.writeUInt32LE(crc >>> 0, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(m.declaredSize ?? m.data.length, 22);
    lh.writeUInt16LE(localName.length, 26);
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
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(m.flags ?? 0, 8);
    ch.writeUInt16LE(m.deflate === true ? 8 : 0, 10);
    ch.writeUInt32LE(crc >>> 0, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(m.declaredSize ?? m.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(localOffset, 42);
    if (options.zip64 === true) {
      // Saturated 32-bit fields, real values in the ZIP64 extra (usize, csize, offset).
      const extra = Buffer.alloc(28);
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(m.declaredSize ?? m.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(localOffset), 20);
      ch.writeUInt32LE(0xffffffff, 20);
      ch.writeUInt32LE(0xffffffff, 24);
      ch.writeUInt32LE(0xffffffff, 42);
      ch.writeUInt16LE(extra.length, 30);
      centrals.push(ch, name, extra);
    } else centrals.push(ch, name);
    void i;
  });
  const cd = Buffer.concat(centrals);
  const comment = Buffer.from(options.comment ?? '');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  eocd.writeUInt16LE(comment.length, 20);
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
    return Buffer.concat([
      options.prefix ?? Buffer.alloc(0),
      ...locals,
      cd,
      rec,
      loc,
      eocd,
      comment,
    ]);
  }
  return Buffer.concat([
    options.prefix ?? Buffer.alloc(0),
    ...locals,
    cd,
    eocd,
    comment,
  ]);
}
