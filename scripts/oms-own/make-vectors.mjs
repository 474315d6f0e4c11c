#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Regenerates test-vectors/oms-own: a small model, fresh test keys and a test
// PKI (openssl), and bundles signed by modelseal for each key type, hash and
// serialization, listed in vectors.json with the same schema as the shared
// OMS vectors. Other implementations (and later modelseal versions) verify
// them; packages/core/test/conformance/own-vectors.test.ts checks them.
//
// Usage: node scripts/oms-own/make-vectors.mjs   (Node 24: runs the TypeScript
// sources directly through type stripping; no build needed)
//
// The private keys written here are test keys, published on purpose.
import { register } from 'node:module';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Our sources import './x.js'; map those to './x.ts' for type stripping.
const hooks = `
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && specifier.startsWith('.') && context.parentURL?.endsWith('.ts')) {
    const url = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(url))) return next(specifier.slice(0, -3) + '.ts', context);
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(repo, 'test-vectors', 'oms-own');
const { signModel } = await import(
  join(repo, 'packages/core/src/sign/index.ts')
);
const { createPki, newKey } = await import(
  join(repo, 'packages/core/test/helpers/pki.ts')
);

const MODEL = {
  'config.json': '{"layers": 2}\n',
  'weights/layer-0.bin': 'abcdefghijklmnopqrstuvw',
  'weights/layer-1.bin': '0123456789',
  'tokenizer/vocab.txt': 'a\nb\n',
  'tokenizer.json': '{}',
  '.hidden': 'h',
  'empty.txt': '',
  'ﬁ.bin': 'f',
  '😀.bin': 'e',
};

rmSync(out, { recursive: true, force: true });
const modelDir = join(out, 'model');
for (const [name, content] of Object.entries(MODEL)) {
  mkdirSync(dirname(join(modelDir, name)), { recursive: true });
  writeFileSync(join(modelDir, name), content);
}
const keysDir = join(out, 'keys');
const bundlesDir = join(out, 'bundles');
mkdirSync(keysDir, { recursive: true });
mkdirSync(bundlesDir, { recursive: true });

const keys = {};
for (const type of ['P-256', 'P-384', 'P-521', 'ed25519', 'rsa']) {
  keys[type] = newKey(keysDir, `key-${type.toLowerCase()}`, type);
}
const pkiTmp = createPki({ leafKeyType: 'P-384', rootKeyType: 'rsa' });
// Long-lived test PKI: re-issue with 20-year validity.
const { issue, CA_EXTENSIONS, LEAF_EXTENSIONS } = await import(
  join(repo, 'packages/core/test/helpers/pki.ts')
);
const root = issue(pkiTmp.dir, {
  name: 'root-ca',
  key: pkiTmp.root,
  days: 7300,
  extensions: CA_EXTENSIONS,
});
const intermediate = issue(pkiTmp.dir, {
  name: 'intermediate-ca',
  key: pkiTmp.intermediate,
  issuer: root,
  days: 7300,
});
const leaf = issue(pkiTmp.dir, {
  name: 'leaf',
  key: pkiTmp.leaf,
  issuer: intermediate,
  days: 7300,
  extensions: LEAF_EXTENSIONS,
});
for (const c of [root, intermediate, leaf]) {
  cpSync(c.certPath, join(keysDir, `${c.name}.pem`));
  cpSync(c.keyPath, join(keysDir, `${c.name}.key`));
}
pkiTmp.cleanup();

const rel = (p) => relative(out, p).split('\\').join('/');
const cases = [
  { id: 'key-p256-files-sha256', method: 'key', key: 'P-256' },
  {
    id: 'key-p384-files-blake2b',
    method: 'key',
    key: 'P-384',
    hashAlgorithm: 'blake2b',
  },
  {
    id: 'key-p521-files-blake3',
    method: 'key',
    key: 'P-521',
    hashAlgorithm: 'blake3',
  },
  {
    id: 'key-p256-shards-sha256',
    method: 'key',
    key: 'P-256',
    serialization: 'shards',
    shardSize: 8,
  },
  {
    id: 'key-p384-shards-blake2b',
    method: 'key',
    key: 'P-384',
    hashAlgorithm: 'blake2b',
    serialization: 'shards',
    shardSize: 8,
  },
  { id: 'key-ed25519-files-sha256', method: 'key', key: 'ed25519' },
  { id: 'key-rsa-pkcs1-files-sha256', method: 'key', key: 'rsa' },
  {
    id: 'key-rsa-pss-files-sha256',
    method: 'key',
    key: 'rsa',
    rsaPadding: 'pss',
  },
  {
    id: 'key-p256-single-file',
    method: 'key',
    key: 'P-256',
    single: 'weights/layer-0.bin',
  },
  { id: 'certificate-p384-files-sha256', method: 'certificate' },
  {
    id: 'certificate-p384-shards-sha256',
    method: 'certificate',
    serialization: 'shards',
    shardSize: 8,
  },
  {
    id: 'certificate-p384-files-blake3',
    method: 'certificate',
    hashAlgorithm: 'blake3',
  },
];

const vectors = [];
for (const c of cases) {
  const bundle = join(bundlesDir, `${c.id}.sig`);
  const modelPath =
    c.single === undefined ? modelDir : join(modelDir, c.single);
  const hashing = {
    concurrency: 0,
    ...(c.hashAlgorithm ? { hashAlgorithm: c.hashAlgorithm } : {}),
    ...(c.serialization
      ? { serialization: c.serialization, shardSize: c.shardSize }
      : {}),
  };
  if (c.method === 'key') {
    await signModel({
      method: 'key',
      modelPath,
      signaturePath: bundle,
      privateKey: keys[c.key].keyPath,
      ...(c.rsaPadding ? { rsaPadding: c.rsaPadding } : {}),
      ...hashing,
    });
    vectors.push({
      id: c.id,
      method: 'key',
      bundle: rel(bundle),
      model: rel(modelPath),
      ignorePaths: [],
      expect: 'pass',
      publicKey: rel(keys[c.key].publicKeyPath),
    });
  } else {
    await signModel({
      method: 'certificate',
      modelPath,
      signaturePath: bundle,
      privateKey: join(keysDir, 'leaf.key'),
      signingCertificate: join(keysDir, 'leaf.pem'),
      certificateChain: [join(keysDir, 'intermediate-ca.pem')],
      ...hashing,
    });
    vectors.push({
      id: c.id,
      method: 'certificate',
      bundle: rel(bundle),
      model: rel(modelPath),
      ignorePaths: [],
      expect: 'pass',
      caCerts: ['keys/root-ca.pem'],
    });
  }
}
writeFileSync(
  join(out, 'vectors.json'),
  `${JSON.stringify({ about: 'Bundles signed by modelseal (scripts/oms-own/make-vectors.mjs). Paths are relative to this folder. Keys are test keys. Certificates are valid for 20 years from generation.', generated: new Date().toISOString().slice(0, 10), vectors }, null, 1)}\n`,
);
writeFileSync(
  join(out, 'README.md'),
  "# modelseal's own OMS vectors\n\nBundles signed by modelseal over `model/`, for other implementations and later modelseal versions to verify. " +
    'Regenerate with `node scripts/oms-own/make-vectors.mjs` (Node 24). `vectors.json` uses the schema of the shared OMS vectors. ' +
    'The keys in `keys/` are test keys, published on purpose; never trust them for anything else.\n',
);
console.log(`wrote ${vectors.length} vectors to ${out}`);
