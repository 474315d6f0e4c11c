// SPDX-License-Identifier: Apache-2.0
// Run by node22-smoke.sh: a statement past the first 4 MiB step, decoded the way
// verify decodes the bundle file it read (given back as it is read, through one
// length-tracking view of a resizable buffer), must give what decodeStatement
// gives, on the Node version running this.
import { createHash } from 'node:crypto';
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
const buffer = new ArrayBuffer(text.length, { maxByteLength: text.length });
const payload = Buffer.from(buffer, 0, text.length);
payload.set(text);
const owned = decodeOwnedStatement(payload).manifest;
const plain = decodeStatement(text).manifest;
const same =
  owned.rootDigest === plain.rootDigest &&
  JSON.stringify(owned.resources) === JSON.stringify(plain.resources) &&
  owned.resources.length === count;
if (!same || buffer.byteLength >= text.length) {
  console.error(
    `owned-statement-check: ${same ? 'the buffer was not given back' : 'the owned decode differs'} on ${process.version}`,
  );
  process.exit(1);
}
console.log(
  `owned-statement-check: ${count} resources, ${text.length} bytes given back to ${buffer.byteLength}, same manifest on ${process.version}`,
);
