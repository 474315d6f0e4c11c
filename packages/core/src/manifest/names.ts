// SPDX-License-Identifier: Apache-2.0
/**
 * Resource names: canonical POSIX paths relative to the model root
 * (oms-format.md §6, §10.2) and the rules a name must obey to be trusted.
 */

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a file-system name given as bytes. Returns `undefined` when the
 * bytes are not valid UTF-8: Node's default decoding would replace them with
 * U+FFFD and sign a name that does not exist on disk.
 */
export function decodeName(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Shows a byte name for an error message: valid UTF-8 as is, other bytes as `\xNN`. */
export function displayName(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    // Find the longest valid UTF-8 prefix of at most 4 bytes starting here.
    let taken = 0;
    for (let n = 1; n <= 4 && i + n <= bytes.length; n++) {
      const piece = decodeName(bytes.subarray(i, i + n));
      if (piece !== undefined && !piece.includes('\ufffd')) {
        out += piece;
        taken = n;
        break;
      }
    }
    if (taken === 0) {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      taken = 1;
    }
    i += taken;
  }
  return out;
}

/**
 * Why a relative resource path is not acceptable, or `undefined` when it is.
 * A verifier must never open a path outside the model: no absolute names, no
 * `..`, no empty components, no trailing `/`.
 */
export function invalidPathReason(path: string): string | undefined {
  if (path === '') return 'empty name';
  if (path.includes('\0')) return 'name contains a NUL character';
  if (path.startsWith('/')) return 'absolute name';
  if (path.endsWith('/')) return 'trailing slash';
  // Component by component, without making an array (a statement of 200,000
  // resources checks 200,000 names).
  let start = 0;
  for (;;) {
    const slash = path.indexOf('/', start);
    const end = slash < 0 ? path.length : slash;
    const length = end - start;
    if (length === 0) return 'empty path component';
    if (length <= 2 && path.charCodeAt(start) === 0x2e) {
      if (length === 1) return "'.' component";
      if (path.charCodeAt(start + 1) === 0x2e) return "'..' component";
    }
    if (slash < 0) return undefined;
    start = slash + 1;
  }
}

/** A parsed shard name `path:start:end` (the last two fields; paths may contain `:`). */
export interface ShardName {
  path: string;
  start: number;
  end: number;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses `path:start:end`; `undefined` when the name is not a shard name. */
export function parseShardName(name: string): ShardName | undefined {
  const last = name.lastIndexOf(':');
  if (last <= 0) return undefined;
  const middle = name.lastIndexOf(':', last - 1);
  if (middle <= 0) return undefined;
  const startText = name.slice(middle + 1, last);
  const endText = name.slice(last + 1);
  if (!DECIMAL.test(startText) || !DECIMAL.test(endText)) return undefined;
  const start = Number(startText);
  const end = Number(endText);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end))
    return undefined;
  return { path: name.slice(0, middle), start, end };
}

/** Formats a shard name. */
export function shardName(path: string, start: number, end: number): string {
  return `${path}:${start}:${end}`;
}
