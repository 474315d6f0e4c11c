// SPDX-License-Identifier: Apache-2.0
// The CLI keeps Node's compile cache in a directory of the user's own (mode
// 0700), never in the shared temporary directory, and uses none when that
// directory is open to others (another local user could plant compiled code).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  keyPairFiles,
  keySignArgs,
  keyVerifyArgs,
  sparseModel,
} from './helpers/fixtures.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'packages/cli/bin/modelseal.js');

function run(
  cacheHome: string,
  model: string,
  home?: string,
  args: string[] = ['digest', model],
): string {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome };
  if (home !== undefined) env.HOME = home;
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  return execFileSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env,
  });
}

describe.skipIf(process.platform === 'win32')('compile cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-cache-'));
  const model = join(dir, 'm.txt');
  writeFileSync(model, 'x');

  it('is kept in a private directory of the user', () => {
    const home = join(dir, 'private');
    expect(run(home, model)).toMatch(/^sha256:[0-9a-f]{64}/);
    const cache = join(home, 'modelseal', 'node-compile-cache');
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    // Node writes one folder per version, with the compiled modules in it.
    const versions = readdirSync(cache);
    expect(versions.length).toBe(1);
    expect(readdirSync(join(cache, versions[0]!)).length).toBeGreaterThan(5);
  });

  it('keeps apart the code of a run with other V8 settings (verify of a large tree)', () => {
    // A verify of more than 64 files of 64 KiB or more keeps V8's young
    // generation at its first size before its modules load
    // (bin/modelseal.js), and enables the cache after that: Node files its
    // code under that run's flags, beside the usual runs' (V8 rejects code
    // cached under other flags, and each kind of run would write over the
    // other's).
    const home = join(dir, 'apart');
    const tree = sparseModel(dir, 'tree', 70, 128 * 1024);
    const { key, pub } = keyPairFiles(dir);
    const bundle = join(dir, 'tree.sig');
    run(home, tree, undefined, keySignArgs(tree, key, bundle, ['-q']));
    const cache = join(home, 'modelseal', 'node-compile-cache');
    expect(readdirSync(cache)).toHaveLength(1);
    expect(
      run(home, tree, undefined, keyVerifyArgs(tree, pub, bundle)),
    ).toMatch(/^verified /);
    const versions = readdirSync(cache);
    expect(versions).toHaveLength(2);
    for (const version of versions)
      expect(readdirSync(join(cache, version)).length).toBeGreaterThan(5);
  });

  it('is not used in a directory others can write', () => {
    const home = join(dir, 'open');
    const cache = join(home, 'modelseal', 'node-compile-cache');
    mkdirSync(cache, { recursive: true });
    chmodSync(cache, 0o777);
    expect(run(home, model)).toMatch(/^sha256:[0-9a-f]{64}/);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('is not used when the folder it is in is open to others', () => {
    const home = join(dir, 'open-parent');
    mkdirSync(join(home, 'modelseal'), { recursive: true });
    chmodSync(join(home, 'modelseal'), 0o777);
    expect(run(home, model)).toMatch(/^sha256:[0-9a-f]{64}/);
    expect(readdirSync(join(home, 'modelseal', 'node-compile-cache'))).toEqual(
      [],
    );
  });

  it('ignores a relative XDG_CACHE_HOME (the XDG rule)', () => {
    const home = join(dir, 'home');
    mkdirSync(home);
    expect(run('relative-cache', model, home)).toMatch(/^sha256:[0-9a-f]{64}/);
    expect(
      statSync(
        join(home, '.cache', 'modelseal', 'node-compile-cache'),
      ).isDirectory(),
    ).toBe(true);
  });
});
