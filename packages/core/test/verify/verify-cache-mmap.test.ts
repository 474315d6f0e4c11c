// SPDX-License-Identifier: Apache-2.0
// Threat (stop 29 red team): Linux moves a file's mtime and ctime on the
// first write to a clean page of a shared mapping only. A page dirtied
// before `verify --verify-cache` recorded the file could be changed again
// through the same mapping with no trace in the recorded state, and the
// cache then passed the changed bytes on every later verify. The state is
// now taken after the file's pages are written back (write-protected
// again), so that write moves ctime and the file is hashed again.
//
// Node has no mmap: a Python process holds the mapping. Without python3 the
// test cannot run and says so.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import { signModel } from '../../src/sign/sign-model.js';
import { RACY_WINDOW_NS } from '../../src/verify-cache/index.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { newKey, type TestKey } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const python =
  spawnSync('python3', ['-c', 'import mmap'], {
    stdio: 'ignore',
  }).status === 0;

/** Maps `path` shared, writes one identical byte, then `EVIL` on a line from stdin. */
const HOLDER = `
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0)
m[0:1] = m[0:1]
print("dirty", flush=True)
sys.stdin.readline()
m[0:4] = b"EVIL"
print("written", flush=True)
sys.stdin.readline()
`;

const racy = (): Promise<void> =>
  new Promise((r) => setTimeout(r, Number(RACY_WINDOW_NS / 1_000_000n) + 300));

function lineFrom(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
}

let key: TestKey;
beforeAll(() => {
  key = newKey(tempDir(), 'signer', 'P-256');
});

describe('verify cache and writes through a shared mapping', () => {
  it.skipIf(!python)(
    'a write through a mapping dirtied before the cache recorded is seen (skipped without python3: Node has no mmap, a Python process holds the mapping)',
    async () => {
      const model = makeTree({ 'w.bin': Buffer.alloc(8192) });
      const sig = join(tempDir(), 'model.sig');
      await signModel({
        method: 'key',
        modelPath: model,
        signaturePath: sig,
        privateKey: key.keyPath,
        concurrency: 0,
      });
      const cache = join(tempDir(), 'cache.json');
      const verify = () =>
        verifyModelSignature({
          method: 'key',
          modelPath: model,
          bundlePath: sig,
          publicKey: key.publicKeyPath,
          concurrency: 0,
          verifyCache: cache,
        });
      const holder = spawn('python3', ['-c', HOLDER, join(model, 'w.bin')], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      try {
        expect(await lineFrom(holder)).toBe('dirty');
        await racy();
        const first = await verify();
        expect(first.verifyCache).toMatchObject({ recorded: 1 });
        holder.stdin.write('\n');
        expect(await lineFrom(holder)).toBe('written');
        const error = await verify().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isModelSealError(error) && error.code).toBe('MANIFEST_MISMATCH');
      } finally {
        holder.kill();
      }
    },
    30_000,
  );
});
