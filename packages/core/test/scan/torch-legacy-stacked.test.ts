// SPDX-License-Identifier: Apache-2.0
// Legacy (pre-1.6) stacked PyTorch files: torch.load calls pickle.load five
// times on the file, and each call runs whatever pickle starts where the last
// one stopped.
//
// A third pickle that stops inside its frame. torch.load(io.BytesIO(data)) reads the fourth pickle from the end of
// the frame (the C unpickler on an in-memory file, like the Python one, drops
// the rest of the frame); the scanner read on from the byte after STOP, where
// a string swallowed the pickle the loader runs. Checked with CPython 3.11:
// five pickle.load calls on io.BytesIO(data) ran posix.system; the scan
// reported nothing above info (stop 30).
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { highs } from './helpers/findings.js';

const p = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A protocol 2 pickle of a non-negative int, as LONG1. */
function long1(v: bigint): Buffer {
  const bytes: number[] = [];
  for (let x = v; x > 0n; x >>= 8n) bytes.push(Number(x & 0xffn));
  if ((bytes.at(-1)! & 0x80) !== 0) bytes.push(0);
  return Buffer.concat([
    p('\x80\x02\x8a'),
    Buffer.from([bytes.length, ...bytes]),
    p('.'),
  ]);
}

describe('legacy torch stacked file', () => {
  it('flags a pickle that stops before the end of its frame', async () => {
    const evil = p("\x80\x02cposix\nsystem\n(S'id'\ntR.");
    const sysInfo = p('}.'); // an empty dict, STOP
    const tail = Buffer.concat([p('\x80\x02X'), Buffer.alloc(4)]);
    tail.writeUInt32LE(evil.length, 3); // a string that swallows `evil`
    const framed = Buffer.concat([sysInfo, tail]);
    const frameHead = Buffer.concat([p('\x80\x04\x95'), Buffer.alloc(8)]);
    frameHead.writeBigUInt64LE(BigInt(framed.length), 3);
    const data = Buffer.concat([
      long1(0x1950a86a20f9469cfc6cn), // the magic number
      p('\x80\x02M\xe9\x03.'), // protocol version 1001
      frameHead,
      framed,
      evil, // read by the loader as the fourth pickle, by the scan as string bytes
      p('.'),
      p('\x80\x02].'), // storage keys
    ]);
    const r = await scanSource(bufferSource(data), 'model.pt');
    expect(r.formats).toContain('pytorch-legacy');
    expect(highs(r)).toContain('PICKLE_FRAME_VIOLATION');
  });

  it('leaves a frame that ends at STOP alone (pickle writes no other kind)', async () => {
    const body = p('}.');
    const frameHead = Buffer.concat([p('\x80\x04\x95'), Buffer.alloc(8)]);
    frameHead.writeBigUInt64LE(BigInt(body.length), 3);
    const r = await scanSource(
      bufferSource(Buffer.concat([frameHead, body])),
      'x.pkl',
    );
    expect(highs(r)).toEqual([]);
  });

  // Found by a differential fuzz (stop 30): the scan read the next stream
  // only when it opened with PROTO, so a main pickle in protocol 0 after three
  // binary ones was never read. CPython 3.11, five pickle.load calls on the
  // file: posix.system ran.
  it('reads a main pickle that does not open with PROTO', async () => {
    const data = Buffer.concat([
      long1(0x1950a86a20f9469cfc6cn),
      p('\x80\x02M\xe9\x03.'),
      p('\x80\x02}.'),
      p("cposix\nsystem\n(S'id'\ntR."), // protocol 0: no PROTO
      p('(l.'), // storage keys
    ]);
    const r = await scanSource(bufferSource(data), 'model.pt');
    expect(r.formats).toContain('pytorch-legacy');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});
