// SPDX-License-Identifier: Apache-2.0
/**
 * Signing with a private key and its X.509 certificate (oms-format.md §14.2).
 */
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buildCertificateBundle } from '../bundle/write.js';
import { ModelSealError } from '../errors.js';
import { keyFingerprint } from '../internal/key-fingerprint.js';
import { keyDescription, loadPrivateKey, spkiDer } from '../internal/keys.js';
import { parseCertificates } from '../internal/pem.js';
import { distinguishedName, leafSigningProblem } from '../verify/chain.js';
import { certificateInfo } from '../verify/certificate.js';
import { signingScheme, signStatement } from './key.js';
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

/** A {@link StatementSigner} plus what was noticed while preparing it. */
export interface PreparedSigner {
  signer: StatementSigner;
  warnings: SignWarning[];
}

/**
 * A signer that writes certificate bundles: the leaf, then the chain in the
 * order given, v0.3 media type. Checks now that the leaf certifies the
 * private key (`KEY_MISMATCH` otherwise); a leaf that is not valid at this
 * moment or may not sign only produces warnings (verification will fail).
 *
 * @throws ModelSealError `KEY_MISMATCH`, `CERTIFICATE_INVALID`,
 *   `PASSWORD_REQUIRED`, `KEY_INVALID`, `UNSUPPORTED_KEY`, `IO_ERROR`
 */
export async function createCertificateSigner(
  options: CertificateSignerOptions,
): Promise<PreparedSigner> {
  const key = await loadPrivateKey(options.privateKey, options.password);
  const scheme = signingScheme(key, options.rsaPadding);
  const [leaf, ...bundled] = await loadCertificates(
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
    ...(await loadCertificates(
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
      code: 'KEY_MISMATCH',
      message: `${name} (${distinguishedName(leaf.subject)}) does not certify the private key: it certifies the key ${certified}, the private key is ${given}`,
      details: { expected: certified, actual: given },
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
