// SPDX-License-Identifier: Apache-2.0
/**
 * The public-good Sigstore trusted root embedded in `@sigstore/tuf`
 * (`seeds.json`), used offline by default. See sigstore-notes.md §5 and gotcha
 * #8: `@sigstore/tuf`'s `getTrustedRoot()` is not offline-capable, so we read
 * the seed ourselves.
 */
import { createRequire } from 'node:module';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { SIGSTORE_TUF_URL } from '../constants.js';
import { ModelSealError } from '../errors.js';
import { parseTrustedRoot } from './trusted-root-file.js';

type Seeds = Record<string, { targets?: Record<string, string> } | undefined>;

let cachedJSON: Record<string, unknown> | undefined;
let cachedRoot: TrustedRoot | undefined;

/**
 * The public-good trusted root as plain TrustedRoot JSON, decoded from the
 * seed that ships with the installed `@sigstore/tuf` (trust on install: it is
 * as fresh as that package). Never touches the network.
 *
 * @throws ModelSealError `TRUST_ROOT_UNAVAILABLE` when the seed is missing or unreadable.
 */
export function embeddedTrustedRootJSON(): Record<string, unknown> {
  if (cachedJSON === undefined) {
    let json: unknown;
    try {
      const require = createRequire(import.meta.url);
      const seeds = require('@sigstore/tuf/seeds.json') as Seeds;
      const encoded =
        seeds[SIGSTORE_TUF_URL]?.targets?.['trusted_root.json'] ?? '';
      json = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
    } catch (cause) {
      /* v8 ignore next 6 -- only reachable with a broken @sigstore/tuf install */
      throw new ModelSealError({
        code: 'TRUST_ROOT_UNAVAILABLE',
        message: `cannot read the trusted root for ${SIGSTORE_TUF_URL} embedded in @sigstore/tuf`,
        cause,
      });
    }
    // Rejects anything that is not a usable TrustedRoot object before it is cached.
    cachedRoot = parseTrustedRoot(json, 'embedded trusted root');
    cachedJSON = json as Record<string, unknown>;
  }
  return structuredClone(cachedJSON);
}

/**
 * The public-good trusted root (parsed), from the seed embedded in
 * `@sigstore/tuf`. Offline; cached for the life of the process.
 *
 * @throws ModelSealError `TRUST_ROOT_UNAVAILABLE` when the seed is missing or invalid.
 */
export function embeddedTrustedRoot(): TrustedRoot {
  if (cachedRoot === undefined) embeddedTrustedRootJSON();
  return cachedRoot as TrustedRoot;
}
