// SPDX-License-Identifier: Apache-2.0
// Human-readable descriptions of signers and differences. Presentation only.
import type { Resource, SignedBy, SignerInfo } from '@modelseal/core';

/** One line naming who signs, before signing. */
export function describeSignedBy(signedBy: SignedBy): string {
  switch (signedBy.method) {
    case 'key':
      return `key ${signedBy.keyType} (${signedBy.scheme}), hint ${signedBy.hint}`;
    case 'certificate':
      return `certificate ${signedBy.certificate.subject} issued by ${signedBy.certificate.issuer} (${signedBy.keyType})`;
    case 'sigstore':
      return `sigstore ${signedBy.identity ?? '(identity from the token)'} via ${signedBy.issuer ?? '(issuer from the token)'}`;
  }
}

/** One line naming a verified signer. */
export function describeSigner(signer: SignerInfo): string {
  switch (signer.method) {
    case 'key':
      return `key ${signer.keyType}, fingerprint sha256:${signer.fingerprint} (${signer.scheme})`;
    case 'certificate':
      return `certificate ${signer.certificate.subject} (issuer ${signer.certificate.issuer}), chain to ${signer.anchor.subject}`;
    case 'sigstore':
      return `${signer.identity} (issuer ${signer.issuer})`;
  }
}

function names(list: unknown): string[] {
  return Array.isArray(list)
    ? list.map((r) => String((r as Resource).name))
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
