// SPDX-License-Identifier: Apache-2.0
// Signing a model with its scan attested, for the scan-gate tests: a bundle
// and an attestation path in a fresh folder, the key method, and the
// attestation's statement read back.
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeScanStatement,
  signModel,
  type ScanStatement,
  type SignScanOptions,
} from '../../src/index.js';
import { tempDir } from './tree.js';

/** Where a bundle and its scan attestation go: a fresh folder. */
export interface SigningPaths {
  sig: string;
  att: string;
}

/** A bundle path and a scan attestation path in a fresh folder. */
export function signingPaths(): SigningPaths {
  const dir = tempDir();
  return { sig: join(dir, 'model.sig'), att: join(dir, 'model.scan.sig') };
}

/** `signModel` of `root` with `privateKey`, the scan attested at `paths.att`. */
export function signScanned(
  root: string,
  privateKey: KeyObject,
  paths: SigningPaths,
  scan: Omit<SignScanOptions, 'attestationPath'> = {},
): ReturnType<typeof signModel> {
  return signModel({
    method: 'key',
    modelPath: root,
    signaturePath: paths.sig,
    privateKey,
    scan: { ...scan, attestationPath: paths.att },
  });
}

/** The scan statement of the attestation bundle at `path`. */
export function attestationStatement(path: string): ScanStatement {
  const bundle = JSON.parse(readFileSync(path, 'utf8')) as {
    dsseEnvelope: { payload: string };
  };
  return decodeScanStatement(
    Buffer.from(bundle.dsseEnvelope.payload, 'base64'),
  );
}
