// SPDX-License-Identifier: Apache-2.0
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectBundle } from '../../src/verify/inspect.js';
import { signPayload } from '../helpers/forge.js';
import { newKey } from '../helpers/pki.js';
import { tempDir } from '../helpers/tree.js';
import { vectorPath } from '../helpers/vectors.js';

describe('inspectBundle (unverified)', () => {
  it('key bundle: hint, files, never verified', async () => {
    const r = await inspectBundle(
      vectorPath('oms-reference/v1.1.0-elliptic-key/model.sig'),
    );
    expect(r.verified).toBe(false);
    expect(r.method).toBe('key');
    expect(r.signer).toEqual({
      method: 'key',
      hint: 'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e',
      rawBytesHint: undefined,
      keyDetails: undefined,
    });
    expect(r.manifest?.resources.map((x) => x.name)).toEqual([
      'signme-1',
      'signme-2',
    ]);
    expect(r.predicateType).toBe('https://model_signing/signature/v1.0');
  });

  it('old key bundle: the hint derived from rawBytes equals the modern hint', async () => {
    const r = await inspectBundle(
      vectorPath('oms-reference/v1.0.1-elliptic-key/model.sig'),
    );
    expect(r.signer).toMatchObject({
      method: 'key',
      hint: undefined,
      rawBytesHint:
        'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e',
      keyDetails: 'PKIX_ECDSA_P384_SHA_384',
    });
  });

  it('certificate bundle: the certificates, leaf first', async () => {
    const r = await inspectBundle(
      vectorPath('oms-reference/v1.1.0-certificate/model.sig'),
    );
    expect(r.method).toBe('certificate');
    if (r.signer.method !== 'certificate') throw new Error('unreachable');
    expect(r.signer.certificates.map((c) => c?.subject)).toEqual([
      'CN=intermediate-ca',
      'CN=intermediate-ca',
    ]);
    expect(r.signer.certificates.map((c) => c?.issuer)).toEqual([
      'CN=intermediate-ca',
      'CN=root-ca',
    ]);
  });

  it('sigstore bundle: claimed identity, issuer and log time', async () => {
    const r = await inspectBundle(
      vectorPath('oms-reference/v1.1.0-sigstore/model.sig'),
    );
    expect(r.method).toBe('sigstore');
    expect(r.signer).toMatchObject({
      method: 'sigstore',
      identity: 'stefanb@us.ibm.com',
      issuer: 'https://sigstore.verify.ibm.com/oauth2',
    });
    expect(r.tlogEntryCount).toBe(1);
    expect(r.rfc3161TimestampCount).toBe(1);
    expect(r.claimedLogTime).toBeInstanceOf(Date);
  });

  it('legacy v0.2 bundle decodes to its subjects', async () => {
    const r = await inspectBundle(
      vectorPath('oms-reference/v0.2.0-certificate/model.sig'),
    );
    expect(r.predicateType).toBe('https://model_signing/Digests/v0.1');
    expect(r.manifest?.resources.map((x) => x.name)).toEqual([
      'signme-1',
      'signme-2',
    ]);
  });

  it('a statement that does not decode is reported, not thrown', async () => {
    const key = newKey(tempDir(), 'k');
    const file = join(tempDir(), 'x.sig');
    writeFileSync(
      file,
      JSON.stringify(
        signPayload(key.privateKey, Buffer.from('{"_type":"nope"}')),
      ),
    );
    const r = await inspectBundle(file);
    expect(r.manifest).toBeUndefined();
    expect(r.statementProblem?.code).toBe('STATEMENT_INVALID');
  });

  it('a malformed bundle throws BUNDLE_MALFORMED', async () => {
    await expect(inspectBundle(Buffer.from('{'))).rejects.toHaveCode(
      'BUNDLE_MALFORMED',
    );
  });
});
