// SPDX-License-Identifier: Apache-2.0
/**
 * Signing with a private key and its X.509 certificate (oms-format.md §14.2).
 */
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buildCertificateBundle } from '../bundle/write.js';
import { isModelSealError, ModelSealError } from '../errors.js';
import { keyFingerprint } from '../internal/key-fingerprint.js';
import {
  keyDescription,
  keySource,
  loadPrivateKey,
  spkiDer,
} from '../internal/keys.js';
import { parseCertificates } from '../internal/pem.js';
import { distinguishedName, leafSigningProblem } from '../verify/chain.js';
import { certificateInfo } from '../verify/certificate.js';
import { assertRsaPadding, signingScheme, signStatement } from './key.js';
import type {
  CertificateSignerOptions,
  SignedBy,
  SignWarning,
  StatementSigner,
} from './types.js';

/**
 * Read certificates from files or bytes (PEM with one or more certificates,
 * or one DER certificate), in order.
 *
 * @throws ModelSealError `CERTIFICATE_INVALID`, `IO_ERROR`
 */
export async function loadCertificates(
  inputs: readonly (string | Uint8Array)[],
  what = 'certificate',
): Promise<X509Certificate[]> {
  const out: X509Certificate[] = [];
  for (const [i, input] of inputs.entries()) {
    let data: Uint8Array;
    const name = typeof input === 'string' ? input : `${what} ${i + 1}`;
    if (typeof input === 'string') {
      try {
        data = await readFile(input);
      } catch (error) {
        throw new ModelSealError({
          code: 'IO_ERROR',
          message: `cannot read ${what} ${input}: ${(error as Error).message}`,
          cause: error,
          details: { path: input },
        });
      }
    } else {
      data = input;
    }
    out.push(...parseCertificates(data, name));
  }
  return out;
}

/**
 * The signer's certificates, read at signing time: a file that holds no
 * certificate (or one that does not parse) is the caller's mistake,
 * `KEY_INVALID` like an unreadable private key, not the verdict
 * `CERTIFICATE_INVALID` it is when verifying.
 */
async function signerCertificates(
  inputs: readonly (string | Uint8Array)[],
  what: string,
): Promise<X509Certificate[]> {
  try {
    return await loadCertificates(inputs, what);
  } catch (error) {
    if (!isModelSealError(error) || error.code !== 'CERTIFICATE_INVALID')
      throw error;
    // The same message, details and underlying cause (a parse error), another code.
    throw new ModelSealError({
      code: 'KEY_INVALID',
      message: error.message,
      ...(error.cause === undefined ? {} : { cause: error.cause }),
      ...(error.details === undefined ? {} : { details: error.details }),
    });
  }
}

/** A {@link StatementSigner} plus what was noticed while preparing it. */
export interface PreparedSigner {
  signer: StatementSigner;
  warnings: SignWarning[];
}

/**
 * A signer that writes certificate bundles: the leaf, then the chain in the
 * order given, v0.3 media type. Checks now that the leaf certifies the
 * private key; a leaf that is not valid at this moment or may not sign only
 * produces warnings (verification will fail).
 *
 * Mistakes in the signer's own material are `KEY_INVALID` (a usage error,
 * CLI exit 2): a leaf that certifies another key (`details.expected` and
 * `details.actual`, the two SPKI fingerprints), and a certificate file that
 * holds no certificate or one that does not parse (`details.path`).
 *
 * @throws ModelSealError `KEY_INVALID`, `PASSWORD_REQUIRED`,
 *   `UNSUPPORTED_KEY`, `INVALID_OPTIONS`, `IO_ERROR`
 */
export async function createCertificateSigner(
  options: CertificateSignerOptions,
): Promise<PreparedSigner> {
  const key = await loadPrivateKey(options.privateKey, options.password);
  const source = keySource(options.privateKey, 'private key');
  assertRsaPadding(key, options.rsaPadding, source);
  const scheme = signingScheme(key, options.rsaPadding, source);
  const [leaf, ...bundled] = await signerCertificates(
    [options.signingCertificate],
    'signing certificate',
  );
  if (leaf === undefined) {
    /* v8 ignore next 2 -- parseCertificates returns at least one certificate or throws */
    throw new ModelSealError({
      code: 'CERTIFICATE_INVALID',
      message: 'no signing certificate',
    });
  }
  const chain = [
    ...bundled,
    ...(await signerCertificates(
      options.certificateChain ?? [],
      'chain certificate',
    )),
  ];
  if (!spkiDer(leaf.publicKey).equals(spkiDer(key))) {
    const name =
      typeof options.signingCertificate === 'string'
        ? options.signingCertificate
        : 'the signing certificate';
    const certified = `sha256:${keyFingerprint(leaf.publicKey)}`;
    const given = `sha256:${keyFingerprint(key)}`;
    throw new ModelSealError({
      code: 'KEY_INVALID',
      message: `${name} (${distinguishedName(leaf.subject)}) does not certify the private key: it certifies the key ${certified}, the private key is ${given}`,
      details: {
        expected: certified,
        actual: given,
        ...(typeof options.signingCertificate === 'string'
          ? { path: options.signingCertificate }
          : {}),
      },
    });
  }
  const warnings: SignWarning[] = [];
  const now = new Date();
  if (now < leaf.validFromDate || now > leaf.validToDate) {
    warnings.push({
      code: 'CERTIFICATE_NOT_VALID_NOW',
      message: `the signing certificate is valid from ${leaf.validFromDate.toISOString()} to ${leaf.validToDate.toISOString()}, not now`,
    });
  }
  const usage = leafSigningProblem(leaf);
  if (usage !== undefined)
    warnings.push({ code: 'CERTIFICATE_CANNOT_SIGN', message: usage });
  const certificates = [leaf, ...chain].map((c) => c.raw);
  const signedBy: SignedBy = {
    method: 'certificate',
    certificate: certificateInfo(leaf),
    chainLength: certificates.length,
    keyType: keyDescription(key),
    scheme: scheme.name,
  };
  return {
    signer: {
      method: 'certificate',
      signedBy,
      sign: (statement: Buffer): Promise<Record<string, unknown>> =>
        Promise.resolve(
          buildCertificateBundle(
            statement,
            signStatement(key, scheme, statement),
            certificates,
          ) as unknown as Record<string, unknown>,
        ),
    },
    warnings,
  };
}
