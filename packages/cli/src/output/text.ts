// SPDX-License-Identifier: Apache-2.0
// Human-readable descriptions of signers and differences. Presentation only.
// Every string that comes from a bundle, a certificate or a file name goes
// through safeText: a carriage return or an escape sequence in a resource
// name, key hint or subject cannot draw a line of its own.
import { safeText } from '@modelseal/core/output';
import type { Resource } from '@modelseal/core/manifest';
import type { SignedBy } from '@modelseal/core/sign';
import type { SignerInfo } from '@modelseal/core/verify';

/** One line naming who signs, before signing. */
export function describeSignedBy(signedBy: SignedBy): string {
  switch (signedBy.method) {
    case 'key':
      return `key ${safeText(signedBy.keyType)} (${safeText(signedBy.scheme)}), hint ${safeText(signedBy.hint)}`;
    case 'certificate':
      return `certificate ${safeText(signedBy.certificate.subject)} issued by ${safeText(signedBy.certificate.issuer)} (${safeText(signedBy.keyType)})`;
    case 'sigstore':
      return `sigstore ${safeText(signedBy.identity ?? '(identity from the token)')} via ${safeText(signedBy.issuer ?? '(issuer from the token)')}`;
  }
}

/** One line naming a verified signer. */
export function describeSigner(signer: SignerInfo): string {
  switch (signer.method) {
    case 'key':
      return `key ${safeText(signer.keyType)}, fingerprint sha256:${safeText(signer.fingerprint)} (${safeText(signer.scheme)})`;
    case 'certificate':
      return `certificate ${safeText(signer.certificate.subject)} (issuer ${safeText(signer.certificate.issuer)}), chain to ${safeText(signer.anchor.subject)}`;
    case 'sigstore':
      return `${safeText(signer.identity)} (issuer ${safeText(signer.issuer)})`;
  }
}

function names(list: unknown): string[] {
  return Array.isArray(list)
    ? list.map((r) => safeText(String((r as Resource).name)))
    : [];
}

/** Lines listing every missing, extra and changed file of a MANIFEST_MISMATCH. */
export function describeMismatch(
  details: Record<string, unknown> | undefined,
): string[] {
  if (details === undefined) return [];
  const lines: string[] = [];
  for (const name of names(details.missing)) lines.push(`  missing: ${name}`);
  if (details.extraTolerated !== true)
    for (const name of names(details.extra)) lines.push(`  unsigned: ${name}`);
  for (const name of names(details.changed)) lines.push(`  changed: ${name}`);
  return lines;
}
