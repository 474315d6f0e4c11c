// SPDX-License-Identifier: Apache-2.0
// Types of the parts of two untyped packages that the decoders use.

declare module 'lz4js' {
  const lz4: {
    /**
     * Decodes one LZ4 block `src[sIndex, sIndex + sLength)` into `dst` at
     * `dIndex`; returns the index after the last byte written. No bounds
     * checks: callers validate the block first.
     */
    decompressBlock(
      src: Uint8Array,
      dst: Uint8Array,
      sIndex: number,
      sLength: number,
      dIndex: number,
    ): number;
    /** Compresses `src` to one LZ4 frame (used by tests). */
    compress(src: Uint8Array): Uint8Array;
  };
  export default lz4;
}

declare module 'seek-bzip' {
  interface BunzipStream {
    readByte(): number;
    writeByte(byte: number): void;
    read(buffer: Uint8Array, offset: number, length: number): number;
    eof?(): boolean;
  }
  interface BunzipInstance {
    reader: { read(bits: number): number };
    streamCRC: number;
    _init_block(): boolean;
    _read_bunzip(): number;
    _start_bunzip(input: BunzipStream, output: BunzipStream): void;
  }
  interface BunzipStatic {
    new (input: BunzipStream, output: BunzipStream): BunzipInstance;
    Stream: new () => BunzipStream;
  }
  const Bunzip: BunzipStatic;
  export default Bunzip;
}
