// SPDX-License-Identifier: Apache-2.0
// Statements for the tests of the piecewise statement readers (the owned
// decode, the windowed decode): one as the reference prints it, a pull over
// bytes, and a decode's outcome as text to compare two readings.
import { createHash } from 'node:crypto';
import type {
  DecodedStatement,
  PayloadPull,
} from '../../src/manifest/statement.js';

/** The digest of resource `i` of {@link referenceStatement}. */
export const digestOf = (i: number): string =>
  createHash('sha256').update(String(i)).digest('hex');

/**
 * A statement of `count` files as the reference prints it (2-space
 * indentation), names in the reference order (`d000/f000000.bin`, …);
 * `resourcesFirst`: the list before the serialization, as some reference
 * versions write it.
 */
export function referenceStatement(
  count: number,
  options: { resourcesFirst?: boolean } = {},
): Buffer {
  const resources: string[] = [];
  const digests: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const digest = digestOf(i);
    digests.push(Buffer.from(digest, 'hex'));
    // Zero-padded: the byte order is the numeric order.
    const name = `d${String(Math.floor(i / 1000)).padStart(3, '0')}/f${String(i).padStart(6, '0')}.bin`;
    resources.push(
      `      {\n        "name": "${name}",\n        "algorithm": "sha256",\n        "digest": "${digest}"\n      }`,
    );
  }
  const root = createHash('sha256')
    .update(Buffer.concat(digests))
    .digest('hex');
  const serialization = `"serialization": {\n      "method": "files",\n      "hash_type": "sha256",\n      "allow_symlinks": false\n    }`;
  const list = `"resources": [\n${resources.join(',\n')}\n    ]`;
  const members =
    options.resourcesFirst === true
      ? `${list},\n    ${serialization}`
      : `${serialization},\n    ${list}`;
  return Buffer.from(
    `{\n  "_type": "https://in-toto.io/Statement/v1",\n  "subject": [\n    {\n      "name": "m",\n      "digest": {\n        "sha256": "${root}"\n      }\n    }\n  ],\n  "predicateType": "https://model_signing/signature/v1.0",\n  "predicate": {\n    ${members}\n  }\n}`,
  );
}

/** A pull over `bytes`, at most `step` bytes a call. */
export function pullOf(bytes: Buffer, step = Infinity): PayloadPull {
  let at = 0;
  return (out, offset) => {
    const n = Math.min(out.length - offset, bytes.length - at, step);
    bytes.copy(out, offset, at, at + n);
    at += n;
    return n;
  };
}

/**
 * What a decode gave, as text: `undefined`, the whole decoded statement, or
 * the error with its code, message and cause.
 */
export function statementOutcome(
  run: () => DecodedStatement | undefined,
): string {
  try {
    const decoded = run();
    if (decoded === undefined) return 'undefined';
    const { manifest } = decoded;
    return JSON.stringify([
      decoded.predicateType,
      decoded.legacy,
      manifest.modelName,
      manifest.serialization,
      manifest.rootDigest,
      manifest.resources,
    ]);
  } catch (error) {
    const e = error as {
      code?: unknown;
      message: string;
      cause?: { message?: string };
    };
    return `error ${String(e.code)}: ${e.message} (${e.cause?.message ?? ''})`;
  }
}

/** A key bundle's JSON around `payload` (its signature is not a real one: for reading, not verifying). */
export function unsignedBundleFor(payload: Buffer): string {
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'x' }, tlogEntries: [] },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: 'application/vnd.in-toto+json',
      signatures: [{ sig: Buffer.from('sig').toString('base64') }],
    },
  });
}

/** The root digest of resources with these digests (hex), in order. */
export function rootDigestOf(digests: readonly string[]): string {
  return createHash('sha256')
    .update(Buffer.concat(digests.map((d) => Buffer.from(d, 'hex'))))
    .digest('hex');
}

/**
 * An OMS statement of the files method (sha256) as `JSON.stringify` writes
 * it: subject `m` with `root`, and `resources` as given (any JSON value).
 */
export function filesStatementText(
  resources: unknown,
  root: string,
  indent: number,
): string {
  return JSON.stringify(
    {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'm', digest: { sha256: root } }],
      predicateType: 'https://model_signing/signature/v1.0',
      predicate: {
        serialization: {
          method: 'files',
          hash_type: 'sha256',
          allow_symlinks: false,
        },
        resources,
      },
    },
    null,
    indent,
  );
}
