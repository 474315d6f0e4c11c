// SPDX-License-Identifier: Apache-2.0
/* eslint-disable @typescript-eslint/no-explicit-any -- field-by-field checks of arbitrary JSON */
// The bundles signModel writes, checked field by field against oms-format
// §2, §4, §14 and the conformance suite's bundle checks (§19.2).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeRootDigest } from '../../src/manifest/index.js';
import { signModel } from '../../src/sign/sign-model.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import { DEMO_TREE, makeTree } from '../helpers/tree.js';

let pki: TestPki;
beforeAll(() => {
  pki = createPki({ leafKeyType: 'P-384' });
});
afterAll(() => pki.cleanup());

const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checkEnvelopeAndStatement(
  json: Record<string, any>,
  model: string,
  method: 'files' | 'shards',
): void {
  expect(Object.keys(json)).toEqual([
    'mediaType',
    'verificationMaterial',
    'dsseEnvelope',
  ]);
  expect(json.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
  const env = json.dsseEnvelope;
  expect(Object.keys(env)).toEqual(['payload', 'payloadType', 'signatures']);
  expect(env.payloadType).toBe('application/vnd.in-toto+json');
  expect(env.payload).toMatch(BASE64);
  expect(env.signatures).toHaveLength(1);
  expect(env.signatures[0]).toEqual({
    sig: expect.stringMatching(BASE64),
    keyid: '',
  });
  expect(json.verificationMaterial.tlogEntries).toEqual([]);

  const text = Buffer.from(env.payload, 'base64').toString('utf8');
  expect(text.endsWith('\n')).toBe(false);
  expect(text).not.toMatch(/[^\n -~]/); // non-ASCII (and DEL) escaped
  const st = JSON.parse(text);
  expect(Object.keys(st)).toEqual([
    '_type',
    'subject',
    'predicateType',
    'predicate',
  ]);
  expect(st._type).toBe('https://in-toto.io/Statement/v1');
  expect(st.predicateType).toBe('https://model_signing/signature/v1.0');
  expect(st.subject).toHaveLength(1);
  expect(st.subject[0].name).toBe(model);
  expect(Object.keys(st.predicate)).toEqual(['serialization', 'resources']);
  const s = st.predicate.serialization;
  expect(s.method).toBe(method);
  expect(typeof s.hash_type).toBe('string');
  expect(typeof s.allow_symlinks).toBe('boolean');
  if (method === 'files') expect(s).not.toHaveProperty('shard_size');
  else expect(Number.isInteger(s.shard_size)).toBe(true);
  expect(s.ignore_paths).toEqual([...s.ignore_paths].sort());
  const resources = st.predicate.resources as {
    name: string;
    algorithm: string;
    digest: string;
  }[];
  expect(resources.length).toBeGreaterThan(0);
  for (const r of resources) {
    expect(Object.keys(r)).toEqual(['name', 'algorithm', 'digest']);
    expect(r.name.startsWith('/')).toBe(false);
    expect(r.name.split('/')).not.toContain('..');
    expect(r.name.endsWith('/')).toBe(false);
    expect(r.name).not.toContain('model.sig');
    expect(r.digest).toMatch(/^[0-9a-f]+$/);
  }
  expect(st.subject[0].digest.sha256).toBe(computeRootDigest(resources));
}

describe('bundles written by signModel', () => {
  it('key bundle: hint = sha256 of the SPKI PEM text, no rawBytes', async () => {
    const model = makeTree({ 'a.bin': 'a', 'b/c.bin': 'c' }, 'my-model');
    const sig = join(model, 'model.sig');
    await signModel({
      method: 'key',
      modelPath: model,
      signaturePath: sig,
      privateKey: pki.leaf.keyPath,
      concurrency: 0,
    });
    const text = readFileSync(sig, 'utf8');
    const json = JSON.parse(text);
    checkEnvelopeAndStatement(json, 'my-model', 'files');
    const pem = pki.leaf.publicKey
      .export({ type: 'spki', format: 'pem' })
      .toString();
    expect(pem.endsWith('-----END PUBLIC KEY-----\n')).toBe(true);
    expect(json.verificationMaterial).toEqual({
      publicKey: { hint: createHash('sha256').update(pem).digest('hex') },
      tlogEntries: [],
    });
    expect(Object.keys(json.verificationMaterial)).toEqual([
      'publicKey',
      'tlogEntries',
    ]);
    expect(text).toBe(JSON.stringify(json));
    expect(
      JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString())
        .predicate.serialization.ignore_paths,
    ).toEqual(['.git', '.gitattributes', '.github', '.gitignore', 'model.sig']);
  });

  it('certificate bundle: leaf then chain, DER, in the order given', async () => {
    const model = makeTree(DEMO_TREE, 'demo');
    const sig = join(model, 'model.sig');
    await signModel({
      method: 'certificate',
      modelPath: model,
      signaturePath: sig,
      privateKey: pki.leaf.keyPath,
      signingCertificate: pki.leaf.certPath,
      certificateChain: [pki.intermediate.certPath, pki.root.certPath],
      serialization: 'shards',
      shardSize: 8,
      concurrency: 0,
    });
    const json = JSON.parse(readFileSync(sig, 'utf8'));
    checkEnvelopeAndStatement(json, 'demo', 'shards');
    const der = (p: string): string =>
      Buffer.from(
        readFileSync(p, 'utf8').replace(/-----[^-]+-----|\s/g, ''),
        'base64',
      ).toString('base64');
    expect(json.verificationMaterial).toEqual({
      x509CertificateChain: {
        certificates: [
          { rawBytes: der(pki.leaf.certPath) },
          { rawBytes: der(pki.intermediate.certPath) },
          { rawBytes: der(pki.root.certPath) },
        ],
      },
      tlogEntries: [],
    });
  });
});
