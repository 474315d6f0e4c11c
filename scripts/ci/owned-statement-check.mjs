// SPDX-License-Identifier: Apache-2.0
// Run by node22-smoke.sh: a statement past the first 4 MiB step, in a bundle
// file read the way verify reads it (the payload decoded as the file is read,
// into a resizable buffer grown through a length-tracking view), then decoded
// the way verify decodes it (given back as it is read; and from the file
// again, a window at a time), must give what decodeStatement gives, on the
// Node version running this.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  payloadSourceOf,
  readBundle,
} from '../../packages/core/dist/bundle/read.js';
import { decodeStatementFile } from '../../packages/core/dist/verify/statement-file.js';
import {
  decodeOwnedStatement,
  decodeStatement,
} from '../../packages/core/dist/manifest/statement.js';

const count = 40_000;
const digests = [];
const resources = [];
for (let i = 0; i < count; i++) {
  const digest = createHash('sha256').update(String(i)).digest('hex');
  digests.push(Buffer.from(digest, 'hex'));
  const name = `d${String(Math.floor(i / 1000)).padStart(3, '0')}/f${String(i).padStart(6, '0')}.bin`;
  resources.push(
    `      {\n        "name": "${name}",\n        "algorithm": "sha256",\n        "digest": "${digest}"\n      }`,
  );
}
const root = createHash('sha256').update(Buffer.concat(digests)).digest('hex');
const text = Buffer.from(
  `{\n  "_type": "https://in-toto.io/Statement/v1",\n  "subject": [{"name": "m", "digest": {"sha256": "${root}"}}],\n  "predicateType": "https://model_signing/signature/v1.0",\n  "predicate": {\n    "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": false},\n    "resources": [\n${resources.join(',\n')}\n    ]\n  }\n}`,
);
const dir = mkdtempSync(join(tmpdir(), 'owned-statement-'));
const file = join(dir, 'model.sig');
writeFileSync(
  file,
  JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'check' } },
    dsseEnvelope: {
      payload: text.toString('base64'),
      payloadType: 'application/vnd.in-toto+json',
      signatures: [{ sig: 'AAAA', keyid: '' }],
    },
  }),
);
const payload = (await readBundle(file)).envelope.payload;
// verify's reading of a large statement: from the bundle file again, a
// window at a time, the bytes held to the payload's SHA-256.
const source = payloadSourceOf(payload);
const windowed =
  source === undefined
    ? undefined
    : decodeStatementFile(source, createHash('sha256').update(payload).digest())
        .manifest;
rmSync(dir, { recursive: true, force: true });
const buffer = payload.buffer;
if (!payload.equals(text) || buffer.resizable !== true) {
  console.error(
    `owned-statement-check: the bundle file's payload ${payload.equals(text) ? 'is not in a resizable buffer' : 'differs'} on ${process.version}`,
  );
  process.exit(1);
}
const owned = decodeOwnedStatement(payload).manifest;
const plain = decodeStatement(text).manifest;
const same =
  owned.rootDigest === plain.rootDigest &&
  JSON.stringify(owned.resources) === JSON.stringify(plain.resources) &&
  owned.resources.length === count;
if (
  windowed === undefined ||
  windowed.rootDigest !== plain.rootDigest ||
  JSON.stringify(windowed.resources) !== JSON.stringify(plain.resources)
) {
  console.error(
    `owned-statement-check: ${windowed === undefined ? 'no source recorded for the payload' : 'the windowed decode differs'} on ${process.version}`,
  );
  process.exit(1);
}
if (!same || buffer.byteLength >= text.length) {
  console.error(
    `owned-statement-check: ${same ? 'the buffer was not given back' : 'the owned decode differs'} on ${process.version}`,
  );
  process.exit(1);
}
console.log(
  `owned-statement-check: ${count} resources, a ${text.length}-byte payload read from its bundle file and given back to ${buffer.byteLength}, and read again in windows, same manifest on ${process.version}`,
);
