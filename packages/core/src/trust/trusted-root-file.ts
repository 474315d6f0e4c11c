// SPDX-License-Identifier: Apache-2.0
/**
 * TrustedRoot JSON documents from a file or from memory (`--trusted-root FILE`,
 * as in cosign and gh; private Sigstore instances; tests). See
 * sigstore-notes.md §5.
 */
import { readFile, stat } from 'node:fs/promises';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { sigstoreVerify } from '../internal/lazy.js';
import { ModelSealError } from '../errors.js';

/** Largest trusted-root file we read (the public-good one is about 10 KiB). */
const MAX_TRUSTED_ROOT_BYTES = 16 * 1024 * 1024;

function unavailable(message: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'TRUST_ROOT_UNAVAILABLE',
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Parse and sanity-check TrustedRoot JSON (already `JSON.parse`d). The
 * protobuf parser accepts anything, so we check the media type and that the
 * root names at least one certificate authority and one transparency log, and
 * we load every key and certificate once so a broken root fails here rather
 * than as a confusing verification failure.
 *
 * @param json - the TrustedRoot document (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`).
 * @param source - what to call it in messages (a file name, "embedded trusted root").
 * @throws ModelSealError `TRUST_ROOT_UNAVAILABLE` when the document is not a usable trusted root.
 */
export function parseTrustedRoot(
  json: unknown,
  source = 'trusted root',
): TrustedRoot {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw unavailable(`${source} is not a json object`);
  }
  const mediaType = (json as Record<string, unknown>)['mediaType'];
  if (
    typeof mediaType !== 'string' ||
    !mediaType.startsWith('application/vnd.dev.sigstore.trustedroot')
  ) {
    throw unavailable(
      `${source} has media type ${JSON.stringify(mediaType)}, not a sigstore trusted root`,
    );
  }
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(json);
  } catch (cause) {
    /* v8 ignore next -- defensive: the generated parser defaults every field it cannot read */
    throw unavailable(`${source} is not a valid sigstore trusted root`, cause);
  }
  if (root.certificateAuthorities.length === 0) {
    throw unavailable(`${source} lists no certificate authority`);
  }
  if (root.tlogs.length === 0) {
    throw unavailable(`${source} lists no transparency log`);
  }
  try {
    sigstoreVerify().toTrustMaterial(root);
  } catch (cause) {
    throw unavailable(
      `${source} holds a key or certificate that cannot be loaded`,
      cause,
    );
  }
  return root;
}

/**
 * Read a TrustedRoot JSON file (as written by `cosign trusted-root create`,
 * `gh attestation trusted-root`, or fetched from a TUF repository).
 *
 * @throws ModelSealError `TRUST_ROOT_UNAVAILABLE` when the file cannot be read, is too
 *   large (16 MiB), is not JSON, or is not a usable trusted root.
 */
export async function loadTrustedRoot(file: string): Promise<TrustedRoot> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw unavailable(`trusted root ${file} is not a file`);
    if (info.size > MAX_TRUSTED_ROOT_BYTES) {
      throw unavailable(
        `trusted root ${file} is larger than ${MAX_TRUSTED_ROOT_BYTES} bytes`,
      );
    }
    text = await readFile(file, 'utf8');
  } catch (cause) {
    if (cause instanceof ModelSealError) throw cause;
    throw unavailable(`cannot read trusted root ${file}`, cause);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw unavailable(`trusted root ${file} is not valid json`, cause);
  }
  return parseTrustedRoot(json, `trusted root ${file}`);
}
