// SPDX-License-Identifier: Apache-2.0
/**
 * The OCI entry points as the package root exports them: the registry client
 * and ModelPack code load on the first call, so importing `@modelseal/core`
 * never loads them (`@modelseal/core/oci` exports everything directly).
 */
import type { SignOciImageOptions, SignOciImageResult } from './sign.js';
import type {
  PullOciModelOptions,
  VerifyOciImageOptions,
  VerifyOciImageResult,
} from './verify.js';

/** Sign an OCI model image by its manifest; see `oci/sign.ts`. */
export async function signOciImage(
  options: SignOciImageOptions,
): Promise<SignOciImageResult> {
  return (await import('./sign.js')).signOciImage(options);
}

/** Verify an OCI model image against its attached bundle; see `oci/verify.ts`. */
export async function verifyOciImage(
  options: VerifyOciImageOptions,
): Promise<VerifyOciImageResult> {
  return (await import('./verify.js')).verifyOciImage(options);
}

/** Pull an image's layers into a directory; see `oci/verify.ts`. */
export async function pullOciModel(
  options: PullOciModelOptions,
): ReturnType<typeof import('./verify.js').pullOciModel> {
  return (await import('./verify.js')).pullOciModel(options);
}

export type {
  SignOciImageOptions,
  SignOciImageResult,
  VerifyOciImageOptions,
  VerifyOciImageResult,
  PullOciModelOptions,
};
