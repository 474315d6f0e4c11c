// SPDX-License-Identifier: Apache-2.0
// Generated trees for the hard cases of enumeration and ordering.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkModel, hashModel } from '../../src/index.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const sha256 = (data: string | Buffer): string =>
  createHash('sha256').update(data).digest('hex');
const names = async (path: string, options = {}): Promise<string[]> =>
  (await hashModel(path, options)).manifest.resources.map((r) => r.name);

describe('names and order', () => {
  it('unicode and emoji names keep their code points and sort by code point', async () => {
    const root = makeTree({
      'é.bin': 'a',
      'e\u0301.bin': 'b',
      '😀/x': 'c',
      ﬁ: 'd',
      Z: 'e',
      a: 'f',
    });
    // NFC é and NFD e+◌́ are different files: no Unicode normalisation.
    expect(await names(root)).toEqual([
      'Z',
      'a',
      'e\u0301.bin',
      'é.bin',
      'ﬁ',
      '😀/x',
    ]);
  });

  it('a name with a real U+FFFD is kept, where invalid UTF-8 beside it would read the same', async () => {
    // The walk reads names as text and rereads a directory as bytes when a
    // name holds U+FFFD (what an invalid byte reads as): a real one is valid.
    const root = makeTree({ 'a\ufffd.bin': 'a', 'b/\ufffd': 'b', c: 'c' });
    const { manifest } = await hashModel(root);
    expect(manifest.resources.map((r) => r.name)).toEqual([
      'a\ufffd.bin',
      'b/\ufffd',
      'c',
    ]);
    expect(manifest.resources[0]!.digest).toBe(sha256('a'));
    const checked = await checkModel(root, manifest);
    expect(checked.compare.ok).toBe(true);
  });

  it('a-b beside a/x: the directory component sorts first', async () => {
    const root = makeTree({ 'a-b': '1', 'a/x': '2', 'a.b': '3', a0: '4' });
    expect(await names(root)).toEqual(['a/x', 'a-b', 'a.b', 'a0']);
  });

  it('empty files are resources in files mode and absent in shard mode', async () => {
    const root = makeTree({ empty: '', full: 'x' });
    const files = await hashModel(root);
    expect(
      files.manifest.resources.find((r) => r.name === 'empty')?.digest,
    ).toBe(sha256(''));
    expect(await names(root, { shardSize: 4 })).toEqual(['full:0:1']);
  });

  it('a model of only empty files cannot be signed with shards', async () => {
    const root = makeTree({ empty: '' });
    await expect(hashModel(root, { shardSize: 4 })).rejects.toHaveCode(
      'EMPTY_MODEL',
    );
  });

  it('a file larger than the shard size and one exactly at it', async () => {
    const root = makeTree({ big: 'x'.repeat(10), exact: 'y'.repeat(8) });
    const { manifest } = await hashModel(root, { shardSize: 8 });
    expect(manifest.resources.map((r) => r.name)).toEqual([
      'big:0:8',
      'big:8:10',
      'exact:0:8',
    ]);
    expect(manifest.resources[1]!.digest).toBe(sha256('xx'));
    expect(manifest.resources[2]!.digest).toBe(sha256('y'.repeat(8)));
  });

  it('shard offsets sort numerically across digit counts', async () => {
    const root = makeTree({ f: 'z'.repeat(25) });
    expect(await names(root, { shardSize: 5 })).toEqual([
      'f:0:5',
      'f:5:10',
      'f:10:15',
      'f:15:20',
      'f:20:25',
    ]);
  });

  it('nested dotfiles and hidden directories are signed', async () => {
    const root = makeTree({
      '.hidden/.deeper/.x': '1',
      'sub/.env': '2',
      '.gitmodules': '3',
    });
    expect(await names(root)).toEqual([
      '.gitmodules',
      '.hidden/.deeper/.x',
      'sub/.env',
    ]);
  });

  it('.git is ignored at the root only; a subfolder .git is signed', async () => {
    const root = makeTree({
      '.git/HEAD': 'h',
      '.github/w.yml': 'w',
      '.gitignore': '*',
      'sub/.git/HEAD': 's',
      m: 'm',
    });
    expect(await names(root)).toEqual(['m', 'sub/.git/HEAD']);
    const all = await hashModel(root, { ignoreGitPaths: false });
    expect(all.manifest.resources.map((r) => r.name)).toEqual([
      '.git/HEAD',
      '.github/w.yml',
      '.gitignore',
      'm',
      'sub/.git/HEAD',
    ]);
    expect(all.manifest.serialization.ignorePaths).toEqual([]);
  });

  it('a single-file model: resource ".", model name is the file name', async () => {
    const root = makeTree({ 'weights.bin': 'w' });
    const { manifest } = await hashModel(join(root, 'weights.bin'));
    expect(manifest.modelName).toBe('weights.bin');
    expect(manifest.resources).toEqual([
      { name: '.', algorithm: 'sha256', digest: sha256('w') },
    ]);
  });

  it('the signature file inside the model is always left out and recorded', async () => {
    const root = makeTree({ 'model.sig': 'old signature', w: 'w' });
    const { manifest } = await hashModel(root, {
      signaturePath: join(root, 'model.sig'),
    });
    expect(manifest.resources.map((r) => r.name)).toEqual(['w']);
    expect(manifest.serialization.ignorePaths).toContain('model.sig');
  });

  it('an empty directory tree is an empty model', async () => {
    const root = makeTree({ '.git/HEAD': 'x' });
    mkdirSync(join(root, 'empty-dir'));
    await expect(hashModel(root)).rejects.toHaveCode('EMPTY_MODEL');
  });

  it('the model name of a path with a trailing slash or dot', async () => {
    const root = makeTree({ w: 'w' }, 'my-model');
    expect((await hashModel(`${root}/`)).manifest.modelName).toBe('my-model');
    expect((await hashModel(`${root}/.`)).manifest.modelName).toBe('my-model');
  });

  it('blake3 with shards is refused, and bad options are usage errors', async () => {
    const root = makeTree({ w: 'w' });
    await expect(
      hashModel(root, { hashAlgorithm: 'blake3', shardSize: 8 }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(hashModel(root, { shardSize: 0 })).rejects.toHaveCode(
      'INVALID_OPTIONS',
    );
    await expect(
      hashModel(root, { hashAlgorithm: 'md5' as never }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});

describe('symlinks', () => {
  function linkedTree(): string {
    const root = makeTree({ 'real.bin': 'content', 'dir/inner': 'i' });
    symlinkSync('real.bin', join(root, 'link.bin'));
    symlinkSync('dir', join(root, 'dirlink'));
    return root;
  }

  it('are refused by default, naming the link', async () => {
    const root = linkedTree();
    await expect(hashModel(root)).rejects.toHaveCode('SYMLINK_NOT_ALLOWED');
    await expect(hashModel(root)).rejects.toThrow(/link\.bin|dirlink/);
  });

  it('allowed: a file link is hashed as the target under the link name; a directory link is skipped', async () => {
    const { manifest } = await hashModel(linkedTree(), { allowSymlinks: true });
    expect(manifest.resources.map((r) => r.name)).toEqual([
      'dir/inner',
      'link.bin',
      'real.bin',
    ]);
    expect(manifest.resources[1]!.digest).toBe(sha256('content'));
    expect(manifest.serialization.allowSymlinks).toBe(true);
  });

  it('a broken link is an error even when links are allowed', async () => {
    const root = makeTree({ w: 'w' });
    symlinkSync('missing-target', join(root, 'broken'));
    await expect(hashModel(root, { allowSymlinks: true })).rejects.toHaveCode(
      'IO_ERROR',
    );
    await expect(hashModel(root, { allowSymlinks: true })).rejects.toThrow(
      /broken/,
    );
  });

  it('a link out of the model warns, and fails with strictSymlinks', async () => {
    const outside = makeTree({ blob: 'shared weights' }, 'cache');
    const root = makeTree({ w: 'w' });
    symlinkSync(join(outside, 'blob'), join(root, 'weights.bin'));
    const result = await hashModel(root, { allowSymlinks: true });
    expect(result.warnings).toEqual([
      expect.objectContaining({
        code: 'SYMLINK_OUTSIDE_ROOT',
        path: 'weights.bin',
      }),
    ]);
    await expect(
      hashModel(root, { allowSymlinks: true, strictSymlinks: true }),
    ).rejects.toHaveCode('SYMLINK_NOT_ALLOWED');
  });

  it('a link under an ignored path is not an error', async () => {
    const root = makeTree({ w: 'w', 'cache/x': 'x' });
    symlinkSync('/etc/passwd', join(root, 'cache', 'link'));
    expect(await names(root, { ignorePaths: ['cache'] })).toEqual(['w']);
  });

  it('the model path itself being a link is refused by default', async () => {
    const root = makeTree({ w: 'w' });
    const link = join(tempDir(), 'model-link');
    symlinkSync(root, link);
    await expect(hashModel(link)).rejects.toHaveCode('SYMLINK_NOT_ALLOWED');
    expect(
      (await hashModel(link, { allowSymlinks: true })).manifest.modelName,
    ).toBe('model-link');
  });

  it('a link to a device is not a regular file', async () => {
    const root = makeTree({ w: 'w' });
    symlinkSync('/dev/null', join(root, 'null'));
    await expect(hashModel(root, { allowSymlinks: true })).rejects.toHaveCode(
      'UNSUPPORTED_FILE_TYPE',
    );
  });
});

describe('checkModel', () => {
  it('reports missing, extra and changed files by name', async () => {
    const root = makeTree({ a: 'a', b: 'b', c: 'c' });
    const { manifest } = await hashModel(root);
    writeFileSync(join(root, 'a'), 'A');
    rmSync(join(root, 'b'));
    writeFileSync(join(root, 'd'), 'd');
    const { compare } = await checkModel(root, manifest);
    expect(compare.ok).toBe(false);
    expect(compare.missing.map((r) => r.name)).toEqual(['b']);
    expect(compare.extra.map((r) => r.name)).toEqual(['d']);
    expect(compare.changed).toEqual([
      {
        name: 'a',
        expected: { algorithm: 'sha256', digest: sha256('a') },
        actual: { algorithm: 'sha256', digest: sha256('A') },
      },
    ]);
  });

  it('ignoreUnsignedFiles tolerates extras but not missing files', async () => {
    const root = makeTree({ a: 'a', b: 'b' });
    const { manifest } = await hashModel(root);
    writeFileSync(join(root, 'extra'), 'e');
    expect(
      (await checkModel(root, manifest, { ignoreUnsignedFiles: true })).compare
        .ok,
    ).toBe(true);
    rmSync(join(root, 'b'));
    const { compare } = await checkModel(root, manifest, {
      ignoreUnsignedFiles: true,
    });
    expect(compare.ok).toBe(false);
    expect(compare.missing.map((r) => r.name)).toEqual(['b']);
  });

  it('works for shard manifests, including extras and a changed shard', async () => {
    const root = makeTree({ big: 'x'.repeat(20) });
    const { manifest } = await hashModel(root, { shardSize: 8 });
    writeFileSync(join(root, 'big'), `${'x'.repeat(9)}Y${'x'.repeat(10)}`);
    writeFileSync(join(root, 'new'), 'n');
    const { compare } = await checkModel(root, manifest, {
      ignoreUnsignedFiles: true,
    });
    expect(compare.changed.map((c) => c.name)).toEqual(['big:8:16']);
    expect(compare.extra.map((r) => r.name)).toEqual(['new:0:1']);
  });

  it('a signed file under a recorded ignore path is still checked', async () => {
    const root = makeTree({ '.gitignore': 'signed', w: 'w' });
    const { manifest } = await hashModel(root, { ignoreGitPaths: false });
    expect(manifest.resources.map((r) => r.name)).toEqual(['.gitignore', 'w']);
    // The verifier adds .gitignore to its ignore rules: the signed file must still be compared.
    writeFileSync(join(root, '.gitignore'), 'tampered');
    const { compare } = await checkModel(root, manifest, {
      ignorePaths: ['.gitignore'],
    });
    expect(compare.changed.map((c) => c.name)).toEqual(['.gitignore']);
  });

  it('git defaults apply when the bundle records no ignore paths', async () => {
    const root = makeTree({ w: 'w', '.git/HEAD': 'x' });
    const { manifest } = await hashModel(root);
    manifest.serialization.ignorePaths = [];
    expect((await checkModel(root, manifest)).compare.ok).toBe(true);
  });

  it('a recorded ".." or "." entry never hides the model', async () => {
    const root = makeTree({ w: 'w' });
    const { manifest } = await hashModel(root);
    manifest.serialization.ignorePaths = ['.', '..', '/etc', 'a/../..'];
    writeFileSync(join(root, 'extra'), 'e');
    expect(
      (await checkModel(root, manifest)).compare.extra.map((r) => r.name),
    ).toEqual(['extra']);
  });

  it('a single-file manifest naming the resource after the file (spec/Go form) verifies', async () => {
    const root = makeTree({ 'w.bin': 'w' });
    const file = join(root, 'w.bin');
    const { manifest } = await hashModel(file);
    manifest.resources = manifest.resources.map((r) => ({
      ...r,
      name: 'w.bin',
    }));
    expect((await checkModel(file, manifest)).compare.ok).toBe(true);
  });

  it('a tightening allowSymlinks=false refuses links the signer allowed', async () => {
    const root = makeTree({ 'real.bin': 'content' });
    symlinkSync('real.bin', join(root, 'link.bin'));
    const { manifest } = await hashModel(root, { allowSymlinks: true });
    expect((await checkModel(root, manifest)).compare.ok).toBe(true);
    await expect(
      checkModel(root, manifest, { allowSymlinks: false }),
    ).rejects.toHaveCode('SYMLINK_NOT_ALLOWED');
  });
});
