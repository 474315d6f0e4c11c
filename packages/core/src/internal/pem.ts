// SPDX-License-Identifier: Apache-2.0
// PEM helpers: certificate files may hold several certificates and text
// around them (openssl dumps); key files may start with a text dump too.
import { X509Certificate } from 'node:crypto';
import { ModelSealError } from '../errors.js';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** One PEM block. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Every PEM block of `text`, in order. Base64 errors make the block empty. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = (m[2] ?? '')
      .split(/\r?\n/)
      .filter((line) => !line.includes(':'))
      .join('')
      .replace(/\s+/g, '');
    blocks.push({ label: m[1] ?? '', der: Buffer.from(body, 'base64') });
  }
  return blocks;
}

/** Encode DER as PEM with 64-character lines and a trailing newline. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Parse the certificates in `data` (PEM with one or more `CERTIFICATE`
 * blocks, or a single DER certificate).
 *
 * @param name - file name (or description) for messages
 * @throws ModelSealError `CERTIFICATE_INVALID` when there is none or one does not parse
 */
export function parseCertificates(
  data: Uint8Array,
  name: string,
): X509Certificate[] {
  const buffer = Buffer.from(data);
  const ders =
    buffer[0] === 0x30
      ? [buffer]
      : pemBlocks(buffer.toString('latin1'))
          .filter(
            (b) =>
              b.label === 'CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE',
          )
          .map((b) => b.der);
  if (ders.length === 0) {
    throw new ModelSealError({
      code: 'CERTIFICATE_INVALID',
      message: `no certificate found in ${name}`,
      details: { path: name },
    });
  }
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (error) {
      throw new ModelSealError({
        code: 'CERTIFICATE_INVALID',
        message: `certificate ${i + 1} in ${name} cannot be parsed`,
        cause: error,
        details: { path: name },
      });
    }
  });
}
