// SPDX-License-Identifier: Apache-2.0
/**
 * DSSE pre-authentication encodings (oms-format.md §3 and §15).
 */

/**
 * The DSSE v1 pre-authentication encoding of a payload: the exact bytes a
 * key, certificate or Sigstore signature covers.
 *
 * `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths in bytes,
 * in decimal. See https://github.com/secure-systems-lab/dsse/blob/master/protocol.md
 * and oms-format.md §3.
 *
 * @param payloadType - the envelope's `payloadType` (UTF-8)
 * @param payload - the exact decoded `payload` bytes; never re-serialised
 */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  return Buffer.concat(paeParts(payloadType, payload));
}

/**
 * {@link pae} as its two parts, the header and the payload itself, for a
 * verifier that hashes them in turn (no copy of a large payload).
 */
export function paeParts(
  payloadType: string,
  payload: Uint8Array,
): [Buffer, Uint8Array] {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(
    `DSSEv1 ${type.length} ${payloadType} ${payload.length} `,
    'utf8',
  );
  return [head, payload];
}

/**
 * Python's `repr()` of a `bytes` object, byte for byte (`b'…'` or `b"…"`).
 * Used only by {@link compatPae}.
 */
export function pythonBytesRepr(data: Uint8Array): string {
  let hasSingle = false;
  let hasDouble = false;
  for (const b of data) {
    if (b === 0x27) hasSingle = true;
    else if (b === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? '"' : "'";
  const quoteByte = quote.charCodeAt(0);
  const out: string[] = ['b', quote];
  for (const b of data) {
    if (b === quoteByte || b === 0x5c) out.push('\\', String.fromCharCode(b));
    else if (b === 0x09) out.push('\\t');
    else if (b === 0x0a) out.push('\\n');
    else if (b === 0x0d) out.push('\\r');
    else if (b < 0x20 || b >= 0x7f)
      out.push('\\x', b.toString(16).padStart(2, '0'));
    else out.push(String.fromCharCode(b));
  }
  out.push(quote);
  return out.join('');
}

/**
 * The pre-authentication string model_signing v0.2 signed by mistake
 * (oms-format.md §15): the UTF-8 text
 * `"DSSEV1 28 application/vnd.in-toto+json <len> <python bytes repr>"`, with a
 * capital `V`. Verify only, and only for the legacy v0.1 predicate; never
 * sign with it.
 */
export function compatPae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.from(
    `DSSEV1 ${type.length} ${payloadType} ${payload.length} ${pythonBytesRepr(payload)}`,
    'utf8',
  );
}
