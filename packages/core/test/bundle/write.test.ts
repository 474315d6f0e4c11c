// SPDX-License-Identifier: Apache-2.0
// The key and certificate bundles we write, checked field by field against
// oms-format §2, §14.1 and §14.2; and the atomic writer.
import {
  existsSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  mkdirSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import {
  buildCertificateBundle,
  buildKeyBundle,
  serializeBundle,
  writeBundle,
} from '../../src/bundle/write.js';
import { writeFileAtomic } from '../../src/internal/atomic-write.js';
import { tempDir } from '../helpers/tree.js';

const payload = Buffer.from('{"_type":"x"}');
const sig = Buffer.from([1, 2, 3, 250]);

describe('buildKeyBundle', () => {
  it('has exactly the reference shape, in the reference key order', () => {
    const text = serializeBundle(buildKeyBundle(payload, sig, 'ab'.repeat(32)));
    expect(text).toBe(
      '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",' +
        `"verificationMaterial":{"publicKey":{"hint":"${'ab'.repeat(32)}"},"tlogEntries":[]},` +
        `"dsseEnvelope":{"payload":"${payload.toString('base64')}","payloadType":"application/vnd.in-toto+json",` +
        `"signatures":[{"sig":"${sig.toString('base64')}","keyid":""}]}}`,
    );
    expect(text.endsWith('\n')).toBe(false);
    expect(text).not.toMatch(/": |", /);
  });
});

describe('buildCertificateBundle', () => {
  it('puts the leaf first and the chain after it, v0.3, tlogEntries []', () => {
    const leaf = Buffer.from([0x30, 1]);
    const inter = Buffer.from([0x30, 2]);
    const json = JSON.parse(
      serializeBundle(buildCertificateBundle(payload, sig, [leaf, inter])),
    ) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual([
      'mediaType',
      'verificationMaterial',
      'dsseEnvelope',
    ]);
    expect(json['mediaType']).toBe(
      'application/vnd.dev.sigstore.bundle.v0.3+json',
    );
    expect(json['verificationMaterial']).toEqual({
      x509CertificateChain: {
        certificates: [
          { rawBytes: leaf.toString('base64') },
          { rawBytes: inter.toString('base64') },
        ],
      },
      tlogEntries: [],
    });
    expect(Object.keys(json['verificationMaterial'] as object)).toEqual([
      'x509CertificateChain',
      'tlogEntries',
    ]);
  });
});

describe('writeBundle / writeFileAtomic', () => {
  it('writes compact JSON that reads back', async () => {
    const file = join(tempDir(), 'model.sig');
    await writeBundle(file, buildKeyBundle(payload, sig, 'cd'));
    expect(readFileSync(file, 'utf8').startsWith('{"mediaType"')).toBe(true);
    const parsed = await readBundle(file);
    expect(parsed.envelope.payload.equals(payload)).toBe(true);
    expect(parsed.publicKey?.hint).toBe('cd');
  });

  it('refuses to overwrite without force (FILE_EXISTS), overwrites with force', async () => {
    const dir = tempDir();
    const file = join(dir, 'model.sig');
    writeFileSync(file, 'old');
    await expect(writeFileAtomic(file, 'new')).rejects.toHaveCode(
      'FILE_EXISTS',
    );
    expect(readFileSync(file, 'utf8')).toBe('old');
    await writeFileAtomic(file, 'new', { force: true });
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['model.sig']);
  });

  it('leaves no temporary file behind on success or refusal', async () => {
    const dir = tempDir();
    await writeFileAtomic(join(dir, 'a'), 'x');
    await expect(writeFileAtomic(join(dir, 'a'), 'y')).rejects.toHaveCode(
      'FILE_EXISTS',
    );
    expect(readdirSync(dir)).toEqual(['a']);
  });

  it('refuses to replace a directory or write through a symlink, even with force', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'd'));
    await expect(
      writeFileAtomic(join(dir, 'd'), 'x', { force: true }),
    ).rejects.toHaveCode('IO_ERROR');
    writeFileSync(join(dir, 'target'), 'keep');
    symlinkSync(join(dir, 'target'), join(dir, 'link'));
    await expect(writeFileAtomic(join(dir, 'link'), 'x')).rejects.toHaveCode(
      'FILE_EXISTS',
    );
    await expect(
      writeFileAtomic(join(dir, 'link'), 'x', { force: true }),
    ).rejects.toHaveCode('IO_ERROR');
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('keep');
  });

  it('a missing directory is IO_ERROR', async () => {
    await expect(
      writeFileAtomic(join(tempDir(), 'no', 'such', 'file'), 'x'),
    ).rejects.toHaveCode('IO_ERROR');
    expect(existsSync(join(tempDir(), 'no'))).toBe(false);
  });

  it('only one of two concurrent writers wins', async () => {
    const file = join(tempDir(), 'race.sig');
    const results = await Promise.allSettled([
      writeFileAtomic(file, 'one'),
      writeFileAtomic(file, 'two'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(['one', 'two']).toContain(readFileSync(file, 'utf8'));
  });
});
