// SPDX-License-Identifier: Apache-2.0
/* eslint-disable @typescript-eslint/no-explicit-any -- tests edit arbitrary bundle JSON */
// Test-only: sign arbitrary payloads into key bundles, to reach the checks
// that come after a valid signature (forged statements signed by a key the
// verifier trusts).
import type { KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { pae } from '../../src/bundle/dsse.js';
import { buildKeyBundle } from '../../src/bundle/write.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../../src/constants.js';
import { keyHint, signWith } from '../../src/internal/keys.js';
import { signingScheme } from '../../src/sign/key.js';

/** A key bundle over `payload` (any bytes) with `payloadType`. */
export function signPayload(
  privateKey: KeyObject,
  payload: Buffer,
  payloadType: string = IN_TOTO_PAYLOAD_TYPE,
): Record<string, unknown> {
  const signature = signWith(
    privateKey,
    signingScheme(privateKey),
    pae(payloadType, payload),
  );
  const bundle = buildKeyBundle(
    payload,
    signature,
    keyHint(privateKey),
  ) as unknown as Record<string, unknown>;
  (bundle['dsseEnvelope'] as Record<string, unknown>)['payloadType'] =
    payloadType;
  return bundle;
}

/** The statement JSON inside a bundle file. */
export function readStatement(bundlePath: string): Record<string, unknown> {
  const bundle = JSON.parse(readFileSync(bundlePath, 'utf8')) as {
    dsseEnvelope: { payload: string };
  };
  return JSON.parse(
    Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'),
  ) as Record<string, unknown>;
}

/** Rewrite a bundle file with `edit` applied to its statement, re-signed with `privateKey`. */
export function resignStatement(
  bundlePath: string,
  privateKey: KeyObject,
  edit: (statement: Record<string, any>) => void,
): void {
  const statement = readStatement(bundlePath);
  edit(statement);
  writeFileSync(
    bundlePath,
    JSON.stringify(
      signPayload(privateKey, Buffer.from(JSON.stringify(statement, null, 2))),
    ),
  );
}
