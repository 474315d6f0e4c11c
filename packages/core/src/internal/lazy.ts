// SPDX-License-Identifier: Apache-2.0
/**
 * The Sigstore packages that bring an HTTP client, TUF or the verifier are
 * loaded on first use (they are CommonJS, so a synchronous `require` works
 * from the functions that need them), never when a module of ours is
 * imported: importing the library, hashing, signing or verifying with a key
 * loads none of them (docs/api.md, "What each entry point loads").
 */
import { createRequire } from 'node:module';

type SigstoreSign = typeof import('@sigstore/sign');
type SigstoreVerify = typeof import('@sigstore/verify');
type SigstoreTuf = typeof import('@sigstore/tuf');
type SigstoreCore = typeof import('@sigstore/core');
type SigstoreBundle = typeof import('@sigstore/bundle');

const load = createRequire(import.meta.url);

let sign: SigstoreSign | undefined;
let verify: SigstoreVerify | undefined;
let tuf: SigstoreTuf | undefined;
let core: SigstoreCore | undefined;
let bundle: SigstoreBundle | undefined;

/** `@sigstore/core` (ASN.1, X.509 and RFC 3161 parsing): certificates and timestamps only. */
export function sigstoreCore(): SigstoreCore {
  core ??= load('@sigstore/core') as SigstoreCore;
  return core;
}

/** `@sigstore/bundle` (bundle JSON codec): keyless only. */
export function sigstoreBundle(): SigstoreBundle {
  bundle ??= load('@sigstore/bundle') as SigstoreBundle;
  return bundle;
}

/** `@sigstore/sign` (Fulcio, Rekor and TSA clients; make-fetch-happen). */
export function sigstoreSign(): SigstoreSign {
  sign ??= load('@sigstore/sign') as SigstoreSign;
  return sign;
}

/** `@sigstore/verify` (bundle verifier and trust material). */
export function sigstoreVerify(): SigstoreVerify {
  verify ??= load('@sigstore/verify') as SigstoreVerify;
  return verify;
}

/** `@sigstore/tuf` (TUF client for the public-good trusted root). */
export function sigstoreTuf(): SigstoreTuf {
  tuf ??= load('@sigstore/tuf') as SigstoreTuf;
  return tuf;
}
