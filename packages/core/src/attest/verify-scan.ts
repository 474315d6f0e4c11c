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
  /** Every file was scanned to its end (always true: an incomplete scan is refused). */
  complete: true;
  scanner: ScanPredicate['scanner'];
  policy: ScanPredicate['policy'];
  counts: ScanPredicate['result']['counts'];
  scannedAt: string;
}

/**
 * Fails closed on completeness: the attestation must say, in so many words,
 * that every file was scanned to its end (`complete: true`, no incomplete
 * file). One that says otherwise, or says nothing (it predates the field),
 * is refused with SCAN_INCOMPLETE.
 */
function checkComplete(p: ScanPredicate, attestationPath: string): void {
  const r = p.result;
  const files = r.incompleteFiles ?? [];
  const count = r.incomplete ?? files.length;
  if (r.complete === true && count === 0 && files.length === 0) return;
  const recorded = r.complete !== undefined;
  const shown = files.slice(0, 3).join(', ');
  const message = recorded
    ? `the scan attestation ${attestationPath} records an incomplete scan: ${count} file(s) not fully scanned${shown === '' ? '' : ` (${shown}${files.length > 3 ? ', ...' : ''})`}`
    : `the scan attestation ${attestationPath} records no completeness (written before modelseal recorded it): re-sign with --attest-scan`;
  throw modelSealError('SCAN_INCOMPLETE', message, {
    details: {
      reason: recorded ? 'incomplete' : 'not-recorded',
      incomplete: count,
      incompleteFiles: files,
      failOn: p.policy.failOn,
    },
  });
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
 *   or not clean (findings, an override, unreadable files); SCAN_INCOMPLETE
 *   when it records a scan that did not read every file to its end, or records
 *   no completeness at all (written before completeness was recorded); the
 *   signer codes of `verifyModelSignature` when its signature or signer does
 *   not verify
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
  checkComplete(p, attestationPath);
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
    complete: true,
    scanner: p.scanner,
    policy: p.policy,
    counts: p.result.counts,
    scannedAt: p.scannedAt,
  };
}
