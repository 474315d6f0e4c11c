// SPDX-License-Identifier: Apache-2.0
// Fixtures the CLI's process tests share: a key pair in PEM files and a
// model of sparse files (no disk used; read back as zeros).
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A P-256 key pair written to `dir`/key.pem (PKCS#8) and `dir`/pub.pem. */
export function keyPairFiles(dir: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
  });
  const key = join(dir, 'key.pem');
  const pub = join(dir, 'pub.pem');
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub };
}

/** A folder `dir`/`name` of `files` sparse files of `size` bytes each. */
export function sparseModel(
  dir: string,
  name: string,
  files: number,
  size: number,
): string {
  const model = join(dir, name);
  mkdirSync(model);
  for (let i = 0; i < files; i++) {
    const file = join(model, `w${i}.bin`);
    writeFileSync(file, '');
    truncateSync(file, size);
  }
  return model;
}

/** The arguments of `sign key MODEL` with the key `key` into `bundle`, then `extra`. */
export function keySignArgs(
  model: string,
  key: string,
  bundle: string,
  extra: readonly string[] = [],
): string[] {
  return [
    'sign',
    'key',
    model,
    '--private-key',
    key,
    '--signature',
    bundle,
    ...extra,
  ];
}

/** The arguments of `verify key MODEL` with the public key `pub` and `bundle`. */
export function keyVerifyArgs(
  model: string,
  pub: string,
  bundle: string,
): string[] {
  return ['verify', 'key', model, '--public-key', pub, '--signature', bundle];
}
