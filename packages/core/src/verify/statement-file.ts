// SPDX-License-Identifier: Apache-2.0
/**
 * A verified bundle's statement decoded from the bundle file again, a window
 * at a time, instead of from the payload held whole (issue 11 item 4: at
 * 200,000 files the payload is 32 MB, and it was whole while the statement's
 * table was built). The bytes read again must be the bytes verified: their
 * SHA-256 is compared with the verified payload's.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { PayloadSource } from '../bundle/read.js';
import { ModelSealError } from '../errors.js';
import { StrictBase64Decoder } from '../internal/base64.js';
import { releaseBuffer } from '../internal/release.js';
import {
  decodeOwnedStatement,
  decodeStatementWindows,
  type DecodedStatement,
  type PayloadPull,
} from '../manifest/statement.js';

/** Base64 characters read from the file at a time. */
const TEXT_CHUNK = 1 << 20;

function changed(file: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'IO_ERROR',
    message: `cannot read bundle ${file}: it changed while it was read`,
    ...(cause === undefined ? {} : { cause }),
  });
}

function cannotRead(file: string, error: unknown): ModelSealError {
  return new ModelSealError({
    code: 'IO_ERROR',
    message: `cannot read bundle ${file}: ${(error as Error).message}`,
    cause: error,
  });
}

/** The payload's base64 text read again from the file and decoded, in order. */
class PayloadReader {
  private readonly decoder = new StrictBase64Decoder();
  private readonly hash = createHash('sha256');
  private readonly text = Buffer.allocUnsafe(TEXT_CHUNK + 8);
  /** Characters read but not decoded yet, at the start of `text`. */
  private carry = 0;
  private position: number;
  private left: number;
  private produced = 0;

  constructor(
    private readonly fd: number,
    private readonly source: PayloadSource,
  ) {
    this.position = source.offset;
    this.left = source.length;
  }

  /** {@link PayloadPull}: decodes more into `out` from `at`. */
  pull(out: Buffer, at: number): number {
    for (;;) {
      if (this.left === 0 && this.carry === 0) return 0;
      // Four characters make three bytes: never more than fit, unless all
      // that is left fits (its last quad may make fewer than three).
      const room =
        out.length - at >= this.source.payloadLength - this.produced
          ? this.left
          : Math.floor((out.length - at) / 3) * 4 - this.carry;
      const want = Math.min(this.left, TEXT_CHUNK, Math.max(room, 0));
      let got = 0;
      while (got < want) {
        const n = this.read(this.carry + got, want - got);
        if (n === 0) throw changed(this.source.file);
        got += n;
        this.position += n;
      }
      this.left -= got;
      const held = this.carry + got;
      const step = this.decoder.push(
        this.text.subarray(0, held),
        out,
        at,
        this.left === 0,
      );
      if (step === undefined) throw changed(this.source.file);
      this.text.copyWithin(0, step.read, held);
      this.carry = held - step.read;
      if (step.written > 0) {
        this.hash.update(out.subarray(at, at + step.written));
        this.produced += step.written;
        return step.written;
      }
      if (want === 0) return 0;
    }
  }

  private read(at: number, length: number): number {
    try {
      return readSync(this.fd, this.text, at, length, this.position);
    } catch (error) {
      throw cannotRead(this.source.file, error);
    }
  }

  /** Frees the reader's buffer; the reader is not used again. */
  release(): void {
    releaseBuffer(this.text);
  }

  /** Throws unless the bytes read were the payload's, all of them. */
  finish(digest: Buffer): void {
    if (
      this.left !== 0 ||
      this.carry !== 0 ||
      this.produced !== this.source.payloadLength ||
      !this.hash.digest().equals(digest)
    )
      throw changed(this.source.file);
  }
}

/**
 * Decodes a verified payload's statement from its bundle file: a window at
 * a time when the layout allows (decodeStatementWindows; the file read
 * twice when the list comes before the serialization), else read whole
 * and decoded as before. Either way the bytes read must hash to `digest`
 * (the verified payload's SHA-256), or it throws `IO_ERROR`.
 *
 * @param options.window - bytes of statement held at a time (tests give less)
 * @throws what decodeOwnedStatement throws; `IO_ERROR` when the file cannot
 *   be read or changed
 */
export function decodeStatementFile(
  source: PayloadSource,
  digest: Buffer,
  options: { window?: number } = {},
): DecodedStatement {
  let fd: number;
  try {
    // Without waiting: a FIFO put in the file's place would block an open
    // for reading until someone writes; it is refused below instead.
    fd = openSync(source.file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw cannotRead(source.file, error);
  }
  try {
    let regular: boolean;
    try {
      regular = fstatSync(fd).isFile();
    } catch (error) {
      throw cannotRead(source.file, error);
    }
    if (!regular) throw changed(source.file);
    // One reading, or two when the list comes before the serialization.
    const readers: PayloadReader[] = [];
    const pull = (): PayloadPull => {
      const reader = new PayloadReader(fd, source);
      readers.push(reader);
      return (out, at) => reader.pull(out, at);
    };
    let decoded: DecodedStatement | undefined;
    try {
      decoded = decodeStatementWindows(pull(), source.payloadLength, {
        ...options,
        again: pull,
      });
      if (decoded !== undefined)
        for (const reader of readers) reader.finish(digest);
    } finally {
      for (const reader of readers) reader.release();
    }
    if (decoded !== undefined) return decoded;
    // Not this layout, or an error to report: the payload whole, decoded
    // as before (the same answer, the same message).
    const whole = new PayloadReader(fd, source);
    const payload = Buffer.allocUnsafe(source.payloadLength);
    try {
      let length = 0;
      for (;;) {
        const n = whole.pull(payload, length);
        if (n === 0) break;
        length += n;
      }
      whole.finish(digest);
    } catch (error) {
      releaseBuffer(payload);
      throw error;
    } finally {
      whole.release();
    }
    try {
      return decodeOwnedStatement(payload);
    } finally {
      releaseBuffer(payload);
    }
  } finally {
    closeSync(fd);
  }
}
