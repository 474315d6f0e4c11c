// SPDX-License-Identifier: Apache-2.0
/**
 * Checking a scan attestation: signed by a signer the caller trusts (the same
 * policy as the model's signature), about the same model (root digest), and
 * clean.
 */
import { isModelSealError, modelSealError } from '../errors.js';
import type {
  SignerInfo,
  VerifyModelSignatureOptions,
} from '../verify/types.js';
import { verifyStatementBundle } from '../verify/verify-model.js';
import { decodeScanStatement, type ScanPredicate } from './scan-statement.js';

/** What a verified scan attestation says. */
export interface ScanAttestationResult {
  attestationPath: string;
  signer: SignerInfo;
  verdict: 'clean';
  scanner: ScanPredicate['scanner'];
  policy: ScanPredicate['policy'];
  counts: ScanPredicate['result']['counts'];
  scannedAt: string;
}

/** The default scan attestation path beside a signature: `model.sig` → `model.scan.sig`. */
export function defaultScanAttestationPath(signaturePath: string): string {
  return signaturePath.endsWith('.sig')
    ? `${signaturePath.slice(0, -4)}.scan.sig`
    : `${signaturePath}.scan.sig`;
}

/**
 * Verifies the scan attestation at `attestationPath` with the trust policy of
 * `options` (method, key, CAs or Sigstore identity) and requires it to be about
 * `rootDigest` with a clean verdict.
 *
 * @throws SCAN_REQUIRED when the attestation is missing, about another model,
 *   or not clean (findings, an override, unreadable files); the signer codes
 *   of `verifyModelSignature` when its signature or signer does not verify
 */
export async function verifyScanAttestation(
  options: VerifyModelSignatureOptions,
  attestationPath: string,
  rootDigest: string,
): Promise<ScanAttestationResult> {
  let verified;
  try {
    verified = await verifyStatementBundle({
      ...options,
      bundlePath: attestationPath,
    });
  } catch (error) {
    if (isModelSealError(error) && error.code === 'IO_ERROR') {
      throw modelSealError(
        'SCAN_REQUIRED',
        `no readable scan attestation at ${attestationPath}`,
        { cause: error },
      );
    }
    throw error;
  }
  const statement = decodeScanStatement(verified.payload);
  if (statement.rootDigest !== rootDigest) {
    throw modelSealError(
      'SCAN_REQUIRED',
      `the scan attestation ${attestationPath} is about another model (root ${statement.rootDigest}, not ${rootDigest})`,
      {
        details: { expected: rootDigest, actual: statement.rootDigest },
      },
    );
  }
  const p = statement.predicate;
  if (p.result.verdict !== 'clean' || p.override !== undefined) {
    const why =
      p.override !== undefined
        ? `signed despite findings (override: ${p.override.reason})`
        : `highest finding ${p.result.highest ?? 'none'}, ${p.result.unreadable} unreadable`;
    throw modelSealError(
      'SCAN_REQUIRED',
      `the model was not scanned clean: ${why}`,
      {
        details: {
          counts: p.result.counts,
          failOn: p.policy.failOn,
          override: p.override,
        },
      },
    );
  }
  return {
    attestationPath,
    signer: verified.outcome.signer,
    verdict: 'clean',
    scanner: p.scanner,
    policy: p.policy,
    counts: p.result.counts,
    scannedAt: p.scannedAt,
  };
}
