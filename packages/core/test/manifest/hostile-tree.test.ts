// SPDX-License-Identifier: Apache-2.0
// Hostile or unlucky file systems: each is a clear error naming the path,
// with a stable code, never a hang or a crash.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hashModel, type HashProgress } from '../../src/index.js';
import { hashFiles } from '../../src/manifest/build.js';
import { enumerateModel } from '../../src/manifest/walk.js';
import { makeTree } from '../helpers/tree.js';

describe('hostile trees', () => {
  it('a name that is not valid UTF-8 is rejected with the bytes shown', async () => {
    const root = makeTree({ ok: 'ok' });
    writeFileSync(
      Buffer.concat([
        Buffer.from(`${root}/bad-`),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('.bin'),
      ]),
      'x',
    );
    const error = await hashModel(root).catch((e: unknown) => e);
    expect(error).toHaveCode('INVALID_PATH');
    expect(String(error)).toContain('bad-\\xff\\xfe.bin');
  });

  it('an invalid UTF-8 name beside a real U+FFFD is still rejected', async () => {
    const root = makeTree({ 'ok-\ufffd': 'ok', 'sub/x': 'x' });
    writeFileSync(
      Buffer.concat([Buffer.from(`${root}/sub/bad-`), Buffer.from([0xc3])]),
      'x',
    );
    const error = await hashModel(root).catch((e: unknown) => e);
    expect(error).toHaveCode('INVALID_PATH');
    expect(String(error)).toContain('sub/bad-\\xc3');
  });

  it('a FIFO in the tree is rejected without blocking', async () => {
    const root = makeTree({ ok: 'ok' });
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const error = await hashModel(root).catch((e: unknown) => e);
    expect(error).toHaveCode('UNSUPPORTED_FILE_TYPE');
    expect(String(error)).toMatch(/pipe: is a FIFO/);
  });

  it('a socket in the tree is rejected', async () => {
    const root = makeTree({ ok: 'ok' });
    const server = createServer();
    await new Promise<void>((resolve) =>
      server.listen(join(root, 'sock'), resolve),
    );
    try {
      await expect(hashModel(root)).rejects.toHaveCode('UNSUPPORTED_FILE_TYPE');
    } finally {
      server.close();
    }
  });

  it('a directory that disappears mid-walk is an I/O error naming it', async () => {
    const root = makeTree({ 'keep/a': 'a', 'vanish/b': 'b' });
    const walk = enumerateModel(root, {
      allowSymlinks: false,
      strictSymlinks: false,
      // Seen by the walk, then removed before it is read: the race, made deterministic.
      skip: (rel, isDirectory) => {
        if (isDirectory && rel === 'vanish')
          rmSync(join(root, 'vanish'), { recursive: true });
        return false;
      },
    });
    const error = await walk.catch((e: unknown) => e);
    expect(error).toHaveCode('IO_ERROR');
    expect(String(error)).toMatch(/vanish: disappeared/);
  });

  it('a file that disappears before it is hashed is an I/O error naming it', async () => {
    const root = makeTree({ a: 'a', gone: 'soon gone' });
    const { files } = await enumerateModel(root, {
      allowSymlinks: false,
      strictSymlinks: false,
      skip: () => false,
    });
    rmSync(join(root, 'gone'));
    const error = await hashFiles(files, {
      method: 'files',
      hashType: 'sha256',
    }).catch((e: unknown) => e);
    expect(error).toHaveCode('IO_ERROR');
    expect(String(error)).toMatch(/gone: file disappeared/);
  });

  it('a file that changes size between listing and hashing fails closed', async () => {
    const root = makeTree({ grows: 'abc' });
    const { files } = await enumerateModel(root, {
      allowSymlinks: false,
      strictSymlinks: false,
      skip: () => false,
    });
    writeFileSync(join(root, 'grows'), 'abcdef');
    await expect(
      hashFiles(files, { method: 'files', hashType: 'sha256' }),
    ).rejects.toHaveCode('IO_ERROR');
    truncateSync(join(root, 'grows'), 1);
    await expect(
      hashFiles(files, { method: 'shards', hashType: 'sha256', shardSize: 2 }),
    ).rejects.toHaveCode('IO_ERROR');
  });

  it('an unreadable file is an I/O error naming it (run as an unprivileged user)', async (context) => {
    const root = makeTree({ ok: 'ok', secret: 'no' });
    chmodSync(join(root, 'secret'), 0o000);
    if (process.getuid?.() !== 0) {
      const error = await hashModel(root).catch((e: unknown) => e);
      expect(error).toHaveCode('IO_ERROR');
      expect(String(error)).toMatch(/secret: permission denied/);
      return;
    }
    // As root every file is readable: run the check in a child process as `nobody`.
    await context.annotate(
      'running as root: checked in a child process with uid 65534',
    );
    // Open up only the directories this test made (mkdtemp makes them 0700),
    // never the shared ones above them such as /tmp.
    const base = tmpdir();
    for (let dir = root; dir.startsWith(`${base}/`); dir = dirname(dir))
      chmodSync(dir, 0o755);
    // The built library (`pnpm build` runs before the tests), since the child is plain Node.
    const core = new URL('../../dist/index.js', import.meta.url).href;
    const script = `import(${JSON.stringify(core)}).then(({ hashModel }) =>
        hashModel(${JSON.stringify(root)}).then(() => console.log('NO ERROR'), (e) => console.log(e.code + ' ' + e.message)));`;
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', script],
      { uid: 65534, gid: 65534, encoding: 'utf8' },
    );
    expect(out.trim()).toBe('IO_ERROR secret: permission denied');
  });
});

describe('parallel hashing', () => {
  it('worker threads and the calling thread give the same manifest', async () => {
    const data = randomBytes(1024 * 1024);
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 24; i++)
      files[`part-${i}.bin`] = data.subarray(i * 100);
    files['small.txt'] = Buffer.from('s');
    const root = makeTree(files);
    const onWorkers = await hashModel(root, {
      concurrency: 2,
      shardSize: 3 * 1024 * 1024 + 7,
    });
    const inline = await hashModel(root, {
      concurrency: 0,
      shardSize: 3 * 1024 * 1024 + 7,
    });
    expect(onWorkers.manifest).toEqual(inline.manifest);
    const filesMode = await hashModel(root, { concurrency: 2 });
    expect(filesMode.manifest.resources).toHaveLength(25);
    expect(filesMode.bytes).toBe(onWorkers.bytes);
  });

  it('reports progress events up to the total', async () => {
    const root = makeTree({ a: randomBytes(20 * 1024 * 1024), b: 'b' });
    const events: HashProgress[] = [];
    await hashModel(root, {
      concurrency: 2,
      onProgress: (e) => events.push(e),
    });
    const last = events.at(-1)!;
    expect(events[0]!.phase).toBe('enumerate');
    expect(last).toMatchObject({
      phase: 'hash',
      bytesDone: 20 * 1024 * 1024 + 1,
      bytesTotal: 20 * 1024 * 1024 + 1,
      filesDone: 2,
      filesTotal: 2,
    });
  });

  it('cancels through an AbortSignal', async () => {
    const root = makeTree({ a: randomBytes(64 * 1024 * 1024) });
    const controller = new AbortController();
    const pending = hashModel(root, {
      concurrency: 2,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 5);
    await expect(pending).rejects.toHaveCode('ABORTED');
    const already = AbortSignal.abort();
    await expect(hashModel(root, { signal: already })).rejects.toHaveCode(
      'ABORTED',
    );
  });
});
