// SPDX-License-Identifier: Apache-2.0
// What reading a bundle gave, in a form two readings can be compared by
// (streamed-read and its review: a file read in chunks against its bytes
// parsed whole).
import { createHash } from 'node:crypto';
import type { ParsedBundle } from '../../src/bundle/types.js';

export const sha = (bytes: Uint8Array | string): string =>
  createHash('sha256').update(bytes).digest('hex');

/** A bundle read: its payload, type, material, signature and the rest of its JSON; or its error. */
export type BundleOutcome =
  | {
      ok: true;
      payload: string;
      type: string;
      kind: string;
      sig: string;
      json: string;
    }
  | { ok: false; code: string; message: string };

export async function bundleOutcome(
  run: () => ParsedBundle | Promise<ParsedBundle>,
): Promise<BundleOutcome> {
  try {
    const b = await run();
    return {
      ok: true,
      payload: sha(b.envelope.payload),
      type: b.envelope.payloadType,
      kind: b.materialKind,
      sig: b.envelope.signature.sig.toString('hex'),
      // The rest of the bundle too, the payload put back as its reader sees it.
      json: sha(JSON.stringify(b.json)),
    };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { ok: false, code: e.code ?? 'THROW', message: e.message ?? '' };
  }
}
