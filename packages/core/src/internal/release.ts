// SPDX-License-Identifier: Apache-2.0

/** `ArrayBuffer.prototype.transfer` (ES2024), absent from the ES lib this project compiles against. */
interface Transferable {
  transfer?: (length: number) => ArrayBuffer;
  detached?: boolean;
}

/**
 * Frees a large buffer of ours at once by detaching its ArrayBuffer (every
 * view of it becomes empty), instead of when the garbage collector next
 * runs a full collection. Only for memory this process allocated for itself:
 * never a caller's buffer, never Node's small-buffer pool (under 1 MiB:
 * left alone).
 */
export function releaseBuffer(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer & Transferable;
  if (
    buffer instanceof ArrayBuffer &&
    buffer.byteLength >= 1 << 20 &&
    buffer.detached !== true &&
    typeof buffer.transfer === 'function'
  )
    buffer.transfer(0);
}
