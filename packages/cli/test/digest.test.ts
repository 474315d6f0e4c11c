// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string | Buffer>): string {
  const root = join(work, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

describe('modelseal digest', () => {
  const demo = tree('demo', {
    'a/x.txt': 'abcdefghijklmnopqrstuvw',
    'a-b': 'dash\n',
    '.git/HEAD': 'x',
  });

  it('prints one line: sha256:<root>', async () => {
    const result = await runCli(['digest', join(demo, 'a/x.txt')]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(
      'sha256:6e60c10a80d211eba88ac040dea590284bd338f34a7c6e7f77ce638bdd17701e\n',
    );
  });

  it('--json prints the values as they would be signed', async () => {
    const result = await runCli([
      'digest',
      demo,
      '--json',
      '--shard-size',
      '8',
    ]);
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({
      schemaVersion: 1,
      ok: true,
      modelName: 'demo',
      serialization: {
        method: 'shards',
        hash_type: 'sha256',
        shard_size: 8,
        allow_symlinks: false,
      },
    });
    expect(out.rootDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(out.resources.map((r: { name: string }) => r.name)).toEqual([
      'a/x.txt:0:8',
      'a/x.txt:8:16',
      'a/x.txt:16:23',
      'a-b:0:5',
    ]);
    expect(out.resources[0].algorithm).toBe('sha256-sharded-8');
  });

  it('--ignore-paths is relative to the current directory; flag names accept _', async () => {
    const withIgnore = await runCli(
      ['digest', 'demo', '--ignore_paths', 'demo/a', '--json'],
      { cwd: work },
    );
    expect(
      JSON.parse(withIgnore.stdout).resources.map(
        (r: { name: string }) => r.name,
      ),
    ).toEqual(['a-b']);
  });

  it('--hash blake3 and blake2b change resource digests, not the root algorithm', async () => {
    const b3 = JSON.parse(
      (
        await runCli([
          'digest',
          join(demo, 'a/x.txt'),
          '--hash',
          'blake3',
          '--json',
        ])
      ).stdout,
    );
    expect(b3.resources[0].digest).toBe(
      'c965c1ccce9cbccbb868316491aa0186ab839cfe86efa4fedff0792c79cf4ef9',
    );
    const b2 = await runCli([
      'digest',
      join(demo, 'a/x.txt'),
      '--hash',
      'blake2b',
    ]);
    expect(b2.stdout).toBe(
      'sha256:86abcbe03cba7f4d0e2c1c62b68074c74fee6d7802bb90c31cc8f3ea7bdd8dde\n',
    );
  });

  it('the default signature file model.sig in the current directory is left out', async () => {
    const model = tree('with-sig', { w: 'w', 'model.sig': '{}' });
    const inside = await runCli(['digest', '.', '--json'], { cwd: model });
    expect(
      JSON.parse(inside.stdout).resources.map((r: { name: string }) => r.name),
    ).toEqual(['w']);
  });

  it('usage errors exit 2 with one line and no stack trace', async () => {
    for (const args of [
      ['digest'],
      ['digest', demo, '--hash', 'md5'],
      ['digest', demo, '--shard-size', '-1'],
      ['digest', demo, '--threads', '0'],
      ['digest', demo, '--threads', '257'],
      ['frobnicate'],
    ]) {
      const result = await runCli(args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--threads N gives the same digest with one thread as with several', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 80; i++) files[`d${i % 4}/f${i}.txt`] = `${i}\n`;
    files['big.bin'] = 'x'.repeat(3 * 1024 * 1024);
    const model = tree('threads', files);
    const roots = new Set<string>();
    for (const threads of ['1', '2', '4']) {
      const result = await runCli(['digest', '--threads', threads, model]);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      roots.add(result.stdout);
    }
    expect(roots.size).toBe(1);
  });

  it('a missing model exits 3 naming the path; --json puts the error on stdout', async () => {
    const result = await runCli(['digest', join(work, 'nope'), '--json']);
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      error: { code: 'IO_ERROR' },
    });
    expect(result.stderr).toMatch(
      /^modelseal: error \[IO_ERROR\]: .*nope: no such file or directory\n$/,
    );
  });

  it('a FIFO exits 1 with UNSUPPORTED_FILE_TYPE; a bad name with INVALID_PATH', async () => {
    const fifo = tree('fifo', { w: 'w' });
    execFileSync('mkfifo', [join(fifo, 'pipe')]);
    const a = await runCli(['digest', fifo]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/\[UNSUPPORTED_FILE_TYPE\]: pipe: is a FIFO/);
    const bad = tree('badname', { w: 'w' });
    writeFileSync(
      Buffer.concat([Buffer.from(`${bad}/x`), Buffer.from([0xc3, 0x28])]),
      '',
    );
    const b = await runCli(['digest', bad]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(
      /\[INVALID_PATH\]: x\\xc3\(: file name is not valid UTF-8/,
    );
  });

  it('a symlink is refused without --allow-symlinks', async () => {
    const linked = tree('linked', { real: 'r' });
    execFileSync('ln', ['-s', 'real', join(linked, 'link')]);
    expect((await runCli(['digest', linked])).code).toBe(1);
    expect((await runCli(['digest', linked, '--allow-symlinks'])).code).toBe(0);
  });

  it('--help lists the exit codes; --version prints the version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 /,
    );
    expect((await runCli(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
