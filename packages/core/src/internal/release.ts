// SPDX-License-Identifier: Apache-2.0

/** `ArrayBuffer.prototype.transfer` and `transferToFixedLength` (ES2024), absent from the ES lib this project compiles against. */
interface Transferable {
  transfer?: (length: number) => ArrayBuffer;
  transferToFixedLength?: (length: number) => ArrayBuffer;
  detached?: boolean;
}

/**
 * Frees a buffer of ours at once by detaching its ArrayBuffer (every view of
 * it becomes empty), instead of when the garbage collector next runs a full
 * collection. Only for memory this process allocated for itself: never a
 * caller's buffer, never Node's small-buffer pool. A buffer under 1 MiB is
 * left alone unless it is resizable: Node's pool never is, and the bundle
 * reader's is (the payload of a 5,000-file statement, 0.8 MB, was still
 * held while the model was hashed).
 */
export function releaseBuffer(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer &
    Transferable & { resizable?: boolean };
  if (
    buffer instanceof ArrayBuffer &&
    (buffer.byteLength >= 1 << 20 || buffer.resizable === true) &&
    buffer.detached !== true &&
    typeof buffer.transfer === 'function'
  ) {
    // A resizable buffer's `transfer` gives a resizable one again, with
    // the same maximum reserved until it is collected: not what is meant.
    if (typeof buffer.transferToFixedLength === 'function')
      buffer.transferToFixedLength(0);
    else buffer.transfer(0);
  }
}

/** `ArrayBuffer` with the ES2024 resizable form (not in this project's ES lib). */
export const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  length: number,
  options: { maxByteLength: number },
) => ArrayBuffer;

/** A resizable `ArrayBuffer` (ES2024), typed. */
export interface ShrinkableBuffer extends ArrayBuffer {
  readonly resizable: true;
  resize(length: number): void;
}

/** The buffer of `view` when it can shrink (a resizable `ArrayBuffer`), else `undefined`. */
export function shrinkableBuffer(
  view: Uint8Array,
): ShrinkableBuffer | undefined {
  const buffer = view.buffer as ArrayBuffer & {
    resizable?: boolean;
    resize?: unknown;
  };
  return buffer instanceof ArrayBuffer &&
    buffer.resizable === true &&
    typeof buffer.resize === 'function'
    ? (buffer as ShrinkableBuffer)
    : undefined;
}
