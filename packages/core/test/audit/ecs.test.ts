// SPDX-License-Identifier: Apache-2.0
// Audit events against the official ECS field definitions (@elastic/ecs,
// generated from Elastic's ecs_flat.yml): every field we emit outside
// `modelseal.*` exists in ECS with a compatible type, for events built from
// real sign and verify results (key, certificate), a Sigstore signer,
// failures, scans of several paths and a single-file digest.
import { EcsFlat } from '@elastic/ecs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAuditEvent,
  singleFileSha256,
  type AuditEvent,
  type AuditInput,
} from '../../src/audit/index.js';
import { ecsDistinguishedName } from '../../src/audit/audit-event.js';
import { hashModel } from '../../src/manifest/index.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { createPki, issue, type TestPki } from '../helpers/pki.js';
import { makeTree } from '../helpers/tree.js';

interface EcsField {
  type: string;
  normalize: string[];
}
const FIELDS = EcsFlat as unknown as Record<string, EcsField>;

/** Leaf fields of a document as dotted names (arrays are leaves). */
function flatten(
  value: Record<string, unknown>,
  prefix = '',
  out: [string, unknown][] = [],
): [string, unknown][] {
  for (const [key, v] of Object.entries(value)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      flatten(v as Record<string, unknown>, name, out);
    else out.push([name, v]);
  }
  return out;
}

function compatible(type: string, v: unknown): boolean {
  switch (type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'match_only_text':
    case 'text':
      return typeof v === 'string';
    case 'date':
      return (
        typeof v === 'string' &&
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) &&
        !Number.isNaN(Date.parse(v))
      );
    case 'long':
      return Number.isSafeInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'ip':
      return typeof v === 'string';
    default:
      return false;
  }
}

/** Problems of an event against ECS; empty when every non-modelseal field is ECS. */
function ecsProblems(event: AuditEvent): string[] {
  const problems: string[] = [];
  for (const [name, value] of flatten(event)) {
    if (name.startsWith('modelseal.')) continue;
    const def = FIELDS[name];
    if (def === undefined) {
      problems.push(`${name}: not an ECS field`);
      continue;
    }
    const isArray = def.normalize.includes('array');
    if (Array.isArray(value) !== isArray) {
      problems.push(
        `${name}: ECS ${isArray ? 'expects an array' : 'expects one value'}`,
      );
      continue;
    }
    for (const v of Array.isArray(value) ? value : [value]) {
      if (!compatible(def.type, v))
        problems.push(`${name}: ${JSON.stringify(v)} is not ECS ${def.type}`);
    }
  }
  return problems;
}

/** A field of an event by dotted path. */
function field(doc: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v as Record<string, unknown> | undefined)?.[k],
      doc,
    );
}

const base = (over: Partial<AuditInput>): AuditInput => ({
  action: 'verify',
  outcome: 'success',
  start: new Date(Date.now() - 25),
  end: new Date(),
  toolVersion: '0.1.0',
  ...over,
});

let pki: TestPki;
let work: string;
beforeAll(() => {
  pki = createPki({ leafKeyType: 'P-384' });
  work = mkdtempSync(join(tmpdir(), 'modelseal-ecs-'));
});
afterAll(() => {
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('the checker', () => {
  it('rejects what is not ECS (so the checks below can fail)', () => {
    expect(ecsProblems({ file: { root_digest: 'ab' } })).toEqual([
      'file.root_digest: not an ECS field',
    ]);
    expect(ecsProblems({ file: { size: '12' } })).toEqual([
      'file.size: "12" is not ECS long',
    ]);
    expect(
      ecsProblems({ file: { x509: { subject: { common_name: 'x' } } } }),
    ).toEqual(['file.x509.subject.common_name: ECS expects an array']);
    expect(ecsProblems({ event: { start: 'yesterday' } })).toHaveLength(1);
    expect(ecsProblems({ modelseal: { anything: 1 } })).toEqual([]);
  });
});

describe('audit events are ECS', () => {
  it('the definitions are those of the ECS version the events declare', () => {
    const event = createAuditEvent(base({}));
    expect(event['ecs']).toEqual({ version: '8.11.0' });
    expect(FIELDS['file.code_signature.subject_name']?.type).toBe('keyword');
  });

  it('key: sign and verify of a directory; the root digest is not a file hash', async () => {
    const model = makeTree({ 'w.bin': 'weights', 'config.json': '{}' });
    const sig = join(work, 'key.sig');
    const signed = await signModel({
      method: 'key',
      modelPath: model,
      signaturePath: sig,
      privateKey: pki.leaf.keyPath,
      concurrency: 0,
    });
    const verified = await verifyModelSignature({
      method: 'key',
      modelPath: model,
      bundlePath: sig,
      publicKey: pki.leaf.publicKeyPath,
      concurrency: 0,
    });
    for (const [action, signer] of [
      ['sign', signed.signedBy],
      ['verify', verified.signer],
    ] as const) {
      const event = createAuditEvent(
        base({
          action,
          modelPath: model,
          rootDigest: verified.manifest.rootDigest,
          signer: signer as unknown as Record<string, unknown>,
          method: 'key',
          signaturePath: sig,
        }),
      );
      expect(ecsProblems(event)).toEqual([]);
      const file = event['file'];
      expect(field(file, 'path')).toBe(resolve(model));
      expect(field(file, 'hash')).toBeUndefined();
      expect(field(event, 'modelseal.model.root_digest')).toBe(
        verified.manifest.rootDigest,
      );
      expect(field(file, 'code_signature.signing_id')).toBe(
        field(verified.signer, 'fingerprint'),
      );
      expect(field(file, 'code_signature.signing_id')).toMatch(
        /^[0-9a-f]{64}$/,
      );
      expect(field(file, 'x509')).toBeUndefined();
      if (action === 'verify')
        expect(field(file, 'code_signature')).toMatchObject({
          exists: true,
          valid: true,
          trusted: true,
        });
      else expect(field(file, 'code_signature.valid')).toBeUndefined();
    }
  });

  it('certificate: the leaf in file.x509, its subject in code_signature', async () => {
    const leaf = issue(pki.dir, {
      name: 'release-leaf',
      keyType: 'rsa',
      issuer: pki.intermediate,
      subject: '/C=DE/O=Acme Models/OU=ML Platform/CN=release signer',
      serial: '0a1b2c3d4e5f',
      extensions: [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=codeSigning',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
      ],
    });
    const model = makeTree({ 'w.bin': 'weights' });
    const sig = join(work, 'cert.sig');
    await signModel({
      method: 'certificate',
      modelPath: model,
      signaturePath: sig,
      privateKey: leaf.keyPath,
      signingCertificate: leaf.certPath,
      certificateChain: [pki.intermediate.certPath],
      concurrency: 0,
    });
    const verified = await verifyModelSignature({
      method: 'certificate',
      modelPath: model,
      bundlePath: sig,
      trustAnchors: [pki.root.certPath],
      concurrency: 0,
    });
    const event = createAuditEvent(
      base({
        modelPath: model,
        rootDigest: verified.manifest.rootDigest,
        signer: verified.signer as unknown as Record<string, unknown>,
        method: 'certificate',
      }),
    );
    expect(ecsProblems(event)).toEqual([]);
    const file = event['file'];
    expect(field(file, 'code_signature')).toMatchObject({
      exists: true,
      valid: true,
      trusted: true,
      subject_name: 'release signer',
    });
    expect(field(file, 'x509')).toMatchObject({
      subject: {
        common_name: ['release signer'],
        organization: ['Acme Models'],
        organizational_unit: ['ML Platform'],
        country: ['DE'],
      },
      issuer: { common_name: ['intermediate-ca'] },
      serial_number: '0A1B2C3D4E5F',
      public_key_algorithm: 'RSA',
      public_key_size: 2048,
    });
    expect(Date.parse(String(field(file, 'x509.not_after')))).toBeGreaterThan(
      Date.now(),
    );
    // JSON round trip (what the log holds) keeps the same fields.
    expect(ecsProblems(JSON.parse(JSON.stringify(event)))).toEqual([]);
  });

  it('sigstore: identity as subject and alternative name, issuer under modelseal', () => {
    const event = createAuditEvent(
      base({
        modelPath: 'models/vad',
        method: 'sigstore',
        signer: {
          method: 'sigstore',
          identity:
            'https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1',
          issuer: 'https://token.actions.githubusercontent.com',
        },
      }),
    );
    expect(ecsProblems(event)).toEqual([]);
    const file = event['file'];
    expect(field(file, 'path')).toBe(resolve('models/vad'));
    expect(field(file, 'name')).toBe('vad');
    expect(field(file, 'x509.alternative_names')).toEqual([
      'https://github.com/acme/models/.github/workflows/release.yml@refs/tags/v1',
    ]);
  });

  it('a failed check: exists, not valid, not trusted, status names the code', () => {
    for (const [code, trusted] of [
      ['IDENTITY_MISMATCH', false],
      ['MANIFEST_MISMATCH', undefined],
    ] as const) {
      const event = createAuditEvent(
        base({
          outcome: 'failure',
          errorCode: code,
          reason: 'no',
          modelPath: '/m',
        }),
      );
      expect(ecsProblems(event)).toEqual([]);
      const cs = field(event, 'file.code_signature');
      expect(cs).toMatchObject({ exists: true, valid: false, status: code });
      expect(field(cs, 'trusted')).toBe(trusted);
    }
    // A failure that is not about the signature says nothing about it.
    const io = createAuditEvent(
      base({ outcome: 'failure', errorCode: 'IO_ERROR', modelPath: '/m' }),
    );
    expect(field(io, 'file.code_signature')).toBeUndefined();
  });

  it('scan of several paths; single-file digest with its own SHA-256', () => {
    const scan = createAuditEvent(
      base({
        action: 'scan',
        modelPath: 'a b',
        modelPaths: ['a', 'b'],
        findings: { critical: 0, high: 1, medium: 0, low: 0, info: 2 },
      }),
    );
    expect(ecsProblems(scan)).toEqual([]);
    expect(scan['file']).toBeUndefined();
    expect(field(scan, 'modelseal.model.paths')).toEqual([
      resolve('a'),
      resolve('b'),
    ]);
    const digest = createAuditEvent(
      base({
        action: 'digest',
        modelPath: '/models/m.gguf',
        fileSha256: 'ab'.repeat(32),
        rootDigest: 'cd'.repeat(32),
      }),
    );
    expect(ecsProblems(digest)).toEqual([]);
    expect(field(digest, 'file.hash')).toEqual({
      sha256: 'ab'.repeat(32),
    });
  });

  it('parses distinguished names with commas only between attributes', () => {
    expect(ecsDistinguishedName('C=US, O=Acme, Inc., CN=a=b')).toEqual({
      distinguished_name: 'C=US, O=Acme, Inc., CN=a=b',
      country: ['US'],
      organization: ['Acme, Inc.'],
      common_name: ['a=b'],
    });
  });

  it('the example in docs/audit.md is ECS too', () => {
    const doc = readFileSync(
      new URL('../../../../docs/audit.md', import.meta.url),
      'utf8',
    );
    const example = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const event = JSON.parse(example!) as AuditEvent;
    expect(field(event, 'file.code_signature.valid')).toBe(true);
    expect(ecsProblems(event)).toEqual([]);
  });

  it("file.hash.sha256 of a single-file model is the file's own SHA-256, from its manifest", async () => {
    const dir = makeTree({ 'model.gguf': 'GGUF weights', 'b.bin': 'b' });
    const single = join(dir, 'model.gguf');
    const own = createHash('sha256').update(readFileSync(single)).digest('hex');
    expect(singleFileSha256((await hashModel(single)).manifest)).toBe(own);
    expect(singleFileSha256((await hashModel(dir)).manifest)).toBeUndefined();
    expect(
      singleFileSha256(
        (await hashModel(single, { hashAlgorithm: 'blake2b' })).manifest,
      ),
    ).toBeUndefined();
  });
});
