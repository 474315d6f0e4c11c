// SPDX-License-Identifier: Apache-2.0
// OpenSSL as the reference verifier for certificate paths: `openssl verify`
// run on a chain made with ./pki.ts, and X.509 v1 certificates (which
// pki.ts's `issue` cannot make: it always writes v3 extensions).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newKey, type TestCert } from './pki.js';

/** A leaf, the intermediates a bundle carries (leaf side first) and the anchor. */
export interface TestChain {
  leaf: TestCert;
  intermediates: TestCert[];
  anchor: TestCert;
}

export interface OpenSslVerdict {
  ok: boolean;
  /** What openssl printed, for failure messages. */
  output: string;
}

/**
 * `openssl verify [-x509_strict] -CAfile anchor [-untrusted intermediates]
 * leaf`, with `-partial_chain` when the anchor is not self-signed.
 */
export function opensslVerify(
  dir: string,
  chain: TestChain,
  options: { strict?: boolean } = {},
): OpenSslVerdict {
  const args = ['verify'];
  if (options.strict !== false) args.push('-x509_strict');
  const selfSigned =
    spawnSync('openssl', [
      'verify',
      '-CAfile',
      chain.anchor.certPath,
      chain.anchor.certPath,
    ]).status === 0;
  if (!selfSigned) args.push('-partial_chain');
  args.push('-CAfile', chain.anchor.certPath);
  if (chain.intermediates.length > 0) {
    const untrusted = join(
      dir,
      `untrusted-${randomBytes(4).toString('hex')}.pem`,
    );
    writeFileSync(
      untrusted,
      chain.intermediates.map((c) => c.certPem).join(''),
    );
    args.push('-untrusted', untrusted);
  }
  args.push(chain.leaf.certPath);
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  const output = `${run.stdout}${run.stderr}`.trim();
  return {
    ok: run.status === 0 && output.endsWith(': OK'),
    output,
  };
}

/**
 * An X.509 v1 certificate (no extensions), self-signed without `issuer`,
 * made with `openssl x509 -req`, which writes v1 when given no extensions.
 */
export function issueV1(
  dir: string,
  options: { name: string; subject?: string; issuer?: TestCert },
): TestCert {
  const key = newKey(dir, options.name);
  const csr = join(dir, `${options.name}.csr`);
  const certPath = join(dir, `${options.name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-key',
      key.keyPath,
      '-subj',
      options.subject ?? `/CN=${options.name}`,
      '-out',
      csr,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      ...(options.issuer === undefined
        ? ['-signkey', key.keyPath]
        : ['-CA', options.issuer.certPath, '-CAkey', options.issuer.keyPath]),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '30',
      '-sha256',
      '-out',
      certPath,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    ...key,
    certPath,
    certPem: readFileSync(certPath, 'utf8'),
    name: options.name,
  };
}
