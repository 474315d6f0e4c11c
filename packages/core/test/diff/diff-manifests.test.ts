// SPDX-License-Identifier: Apache-2.0
import { writeFileSync, rmSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  diffManifests,
  diffModels,
  encodeStatement,
  hashModel,
} from '../../src/index.js';
import { makeTree, tempDir } from '../helpers/tree.js';

describe('diffManifests / diffModels', () => {
  it('lists added, removed and changed files, grouping shards by file', async () => {
    const v1 = makeTree({ keep: 'k', big: 'x'.repeat(20), gone: 'g' });
    const v2 = join(tempDir(), 'v2');
    cpSync(v1, v2, { recursive: true });
    writeFileSync(join(v2, 'big'), `${'x'.repeat(19)}y`);
    rmSync(join(v2, 'gone'));
    writeFileSync(join(v2, 'new'), 'n');
    const a = (await hashModel(v1, { shardSize: 8 })).manifest;
    const b = (await hashModel(v2, { shardSize: 8 })).manifest;
    const diff = diffManifests(a, b);
    expect(diff).toMatchObject({
      added: ['new'],
      removed: ['gone'],
      unchanged: 1,
    });
    expect(diff.changed.map((c) => c.path)).toEqual(['big']);
    expect(diff.changed[0]!.old).toHaveLength(3);
    expect(diff.changed[0]!.old.slice(0, 2)).toEqual(
      diff.changed[0]!.new.slice(0, 2),
    );
  });

  it('refuses to compare manifests hashed differently', async () => {
    const v1 = makeTree({ a: 'a' });
    const a = (await hashModel(v1)).manifest;
    const b = (await hashModel(v1, { hashAlgorithm: 'blake2b' })).manifest;
    expect(() => diffManifests(a, b)).toThrowWithCode('INVALID_OPTIONS');
  });

  it('compares a bundle with a directory, hashing the directory as the bundle was made', async () => {
    const v1 = makeTree({ a: 'a', b: 'b' });
    const { manifest } = await hashModel(v1, { hashAlgorithm: 'blake2b' });
    const bundle = join(tempDir(), 'old.sig');
    // An unsigned bundle is enough: diff reads, it does not verify.
    writeFileSync(
      bundle,
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
        dsseEnvelope: {
          payload: encodeStatement(manifest).toString('base64'),
          payloadType: 'application/vnd.in-toto+json',
          signatures: [
            {
              sig: Buffer.from('not a signature').toString('base64'),
              keyid: '',
            },
          ],
        },
      }),
    );
    writeFileSync(join(v1, 'b'), 'B');
    const result = await diffModels(bundle, v1);
    expect(result).toMatchObject({
      added: [],
      removed: [],
      unchanged: 1,
      verified: false,
    });
    expect(result.changed.map((c) => c.path)).toEqual(['b']);
    expect(result.new.manifest.serialization.hashType).toBe('blake2b');
  });
});
