// SPDX-License-Identifier: Apache-2.0
// Review of the bin's peek at a bundle's shard size (verify of one large
// file): odd or hostile bundles change at most the workers started ahead,
// never the outcome. Each bundle is verified with --threads 8 (the peek
// starts workers) and --threads 1 (nothing is started ahead): same result.
import { generateKeyPairSync } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-peek-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-384',
});
const keyFile = join(work, 'key.pem');
const pubFile = join(work, 'pub.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
// One sparse file past the 16 MiB at which the bin peeks.
const model = join(work, 'weights.bin');
writeFileSync(model, 'w');
truncateSync(model, 17 * 1024 * 1024);

/** A decoy field, first in the bundle, whose payload says shards of `size`. */
function decoy(size: string): string {
  const statement = `{"serialization":{"method":"shards","shard_size":${size},"hash_type":"sha256"}}`;
  return `"decoy":{"payload":"${Buffer.from(statement).toString('base64')}"},`;
}

async function verify(sig: string, threads: number) {
  return runCli([
    'verify',
    'key',
    model,
    '--public-key',
    pubFile,
    '--signature',
    sig,
    '--threads',
    String(threads),
  ]);
}

describe('bin shard-size peek', () => {
  it('odd and hostile bundles verify as they do with no peek', async () => {
    const sig = join(work, 'model.sig');
    const signed = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      keyFile,
      '--signature',
      sig,
      '--shard-size',
      '1048576',
    ]);
    expect(signed.code).toBe(0);
    const genuine = readFileSync(sig, 'utf8');
    expect(genuine.startsWith('{')).toBe(true);
    const variants: Record<string, string> = {
      genuine,
      // A payload before the real one: the peek reads the decoy's size.
      'decoy of 1 byte shards': `{${decoy('1')}${genuine.slice(1)}`,
      'decoy of huge shards': `{${decoy('999999999999999')}${genuine.slice(1)}`,
      'decoy of 0, -1 and 1e3': `{${decoy('0')}${decoy('-1')}${decoy('1e3')}${genuine.slice(1)}`,
      'not base64 nor JSON': `"payload":"@@@" "method":"shards" ${'A'.repeat(5000)}`,
      'over 1 MiB': `{"pad":"${' '.repeat(1024 * 1024)}",${genuine.slice(1)}`,
    };
    const outcomes: Record<string, number | null> = {};
    for (const [name, text] of Object.entries(variants)) {
      const path = join(work, `${name.replace(/\W+/g, '-')}.sig`);
      writeFileSync(path, text);
      const peeked = await verify(path, 8);
      const plain = await verify(path, 1);
      outcomes[name] = peeked.code;
      // Same outcome, same words; never a crash.
      expect({ name, ...peeked }).toEqual({ name, ...plain });
      expect(peeked.stderr).not.toMatch(/TypeError|RangeError|\n\s+at /);
    }
    // Unknown fields are allowed: a decoy changes workers, never the result.
    for (const name of [
      'genuine',
      'decoy of 1 byte shards',
      'decoy of huge shards',
      'decoy of 0, -1 and 1e3',
      'over 1 MiB',
    ])
      expect({ name, code: outcomes[name] }).toEqual({ name, code: 0 });
    expect(outcomes['not base64 nor JSON']).not.toBe(0);
  }, 60_000);
});
