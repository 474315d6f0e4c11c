// SPDX-License-Identifier: Apache-2.0
// Test-only X.509 PKI built with the openssl CLI: a root CA, an intermediate
// and leaves with chosen extensions. Keys come from node:crypto. Everything is
// written into a temporary directory that the caller removes.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TestKeyType = 'P-256' | 'P-384' | 'P-521' | 'rsa' | 'ed25519';

export interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM file. */
  keyPath: string;
  /** SPKI PEM file. */
  publicKeyPath: string;
}

export interface TestCert extends TestKey {
  certPath: string;
  certPem: string;
  name: string;
}

export function newKey(
  dir: string,
  name: string,
  type: TestKeyType = 'P-256',
): TestKey {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: type });
  const keyPath = join(dir, `${name}.key`);
  const publicKeyPath = join(dir, `${name}.pub`);
  writeFileSync(
    keyPath,
    pair.privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  writeFileSync(
    publicKeyPath,
    pair.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  return { ...pair, keyPath, publicKeyPath };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export const CA_EXTENSIONS: readonly string[] = [
  'basicConstraints=critical,CA:TRUE',
  'keyUsage=critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid',
];

export const LEAF_EXTENSIONS: readonly string[] = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=codeSigning',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid',
];

export interface IssueOptions {
  /** Common name, also the file stem. */
  name: string;
  /** Subject DN; default `/CN=<name>`. */
  subject?: string;
  keyType?: TestKeyType;
  /** Reuse a key. */
  key?: TestKey;
  /** Issuer; omitted: self-signed. */
  issuer?: TestCert;
  /** extensions (openssl config lines). */
  extensions?: readonly string[];
  days?: number;
  /** Serial number (hex); default random. */
  serial?: string;
}

/** Issue a certificate with openssl (self-signed without `issuer`). */
export function issue(dir: string, options: IssueOptions): TestCert {
  const key =
    options.key ?? newKey(dir, options.name, options.keyType ?? 'P-256');
  const subject = options.subject ?? `/CN=${options.name}`;
  const certPath = join(dir, `${options.name}.pem`);
  const extPath = join(dir, `${options.name}.ext`);
  const extensions = options.extensions ?? CA_EXTENSIONS;
  const selfSigned = options.issuer === undefined;
  // authorityKeyIdentifier=keyid on a self-signed certificate points at itself.
  writeFileSync(extPath, `[v3]\n${extensions.join('\n')}\n`);
  const days = String(options.days ?? 30);
  const serial = `0x${options.serial ?? randomBytes(8).toString('hex')}`;
  if (selfSigned) {
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      key.keyPath,
      '-subj',
      subject,
      '-days',
      days,
      '-set_serial',
      serial,
      '-config',
      extPath,
      '-extensions',
      'v3',
      '-out',
      certPath,
      ...(options.keyType === 'ed25519' ? [] : ['-sha256']),
    ]);
  } else {
    const csr = join(dir, `${options.name}.csr`);
    openssl([
      'req',
      '-new',
      '-key',
      key.keyPath,
      '-subj',
      subject,
      '-config',
      extPath,
      '-out',
      csr,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      options.issuer!.certPath,
      '-CAkey',
      options.issuer!.keyPath,
      '-set_serial',
      serial,
      '-days',
      days,
      '-extfile',
      extPath,
      '-extensions',
      'v3',
      '-out',
      certPath,
      ...(options.issuer!.privateKey.asymmetricKeyType === 'ed25519'
        ? []
        : ['-sha256']),
    ]);
  }
  return {
    ...key,
    certPath,
    certPem: readFileSync(certPath, 'utf8'),
    name: options.name,
  };
}

export interface TestPki {
  dir: string;
  root: TestCert;
  intermediate: TestCert;
  leaf: TestCert;
  cleanup(): void;
}

/** root CA → intermediate CA → code-signing leaf, in a fresh temporary directory. */
export function createPki(
  options: { leafKeyType?: TestKeyType; rootKeyType?: TestKeyType } = {},
): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'modelseal-pki-'));
  const root = issue(dir, {
    name: 'root-ca',
    keyType: options.rootKeyType ?? 'P-256',
    days: 3650,
  });
  const intermediate = issue(dir, {
    name: 'intermediate-ca',
    issuer: root,
    days: 3650,
  });
  const leaf = issue(dir, {
    name: 'leaf',
    keyType: options.leafKeyType ?? 'P-256',
    issuer: intermediate,
    extensions: LEAF_EXTENSIONS,
  });
  return {
    dir,
    root,
    intermediate,
    leaf,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A timestamp authority certificate (EKU timeStamping, critical), issued by `issuer`. */
export function issueTsa(
  dir: string,
  issuer: TestCert,
  name = 'tsa',
): TestCert {
  return issue(dir, {
    name,
    issuer,
    extensions: [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=critical,timeStamping',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
    ],
  });
}

/** An RFC 3161 TimeStampResp (DER) over `data` (SHA-256 imprint), made by `openssl ts`. */
export function timestamp(
  dir: string,
  tsa: TestCert,
  data: Uint8Array,
): Buffer {
  const id = randomBytes(4).toString('hex');
  const dataPath = join(dir, `ts-${id}.bin`);
  const query = join(dir, `ts-${id}.tsq`);
  const reply = join(dir, `ts-${id}.tsr`);
  const config = join(dir, `ts-${id}.cnf`);
  writeFileSync(dataPath, data);
  writeFileSync(
    config,
    [
      '[tsa]',
      'default_tsa = tsa1',
      '[tsa1]',
      `serial = ${join(dir, `ts-${id}.serial`)}`,
      `signer_cert = ${tsa.certPath}`,
      `signer_key = ${tsa.keyPath}`,
      'signer_digest = sha256',
      'default_policy = 1.2.3.4.1',
      'digests = sha256',
      'accuracy = secs:1',
      'ess_cert_id_alg = sha256',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, `ts-${id}.serial`), '01\n');
  openssl([
    'ts',
    '-query',
    '-data',
    dataPath,
    '-sha256',
    '-cert',
    '-no_nonce',
    '-out',
    query,
  ]);
  openssl([
    'ts',
    '-reply',
    '-config',
    config,
    '-queryfile',
    query,
    '-out',
    reply,
  ]);
  return readFileSync(reply);
}
