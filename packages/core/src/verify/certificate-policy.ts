// SPDX-License-Identifier: Apache-2.0
/**
 * Identity policy for certificate bundles (issue 12 item 1): cosign-style
 * constraints on the leaf certificate. Chaining to a trusted CA only says the
 * CA issued the leaf; these constraints say WHICH leaf may sign. Every
 * constraint must hold.
 */
import type { X509Certificate } from 'node:crypto';
import type { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { sigstoreCore } from '../internal/lazy.js';
import { OID_FULCIO_ISSUER_V1, OID_FULCIO_ISSUER_V2 } from '../constants.js';
import { ModelSealError } from '../errors.js';
import {
  identityMatcher,
  type IdentityMatcher,
} from '../internal/identity-pattern.js';
import { distinguishedName } from './chain.js';

/** The part of the leaf certificate a constraint looks at. */
export type CertificateIdentityField =
  /** Any SAN entry: email, URI or DNS name (cosign's `--certificate-identity`). */
  | 'san'
  /** SAN rfc822Name entries. */
  | 'email'
  /** SAN uniformResourceIdentifier entries. */
  | 'uri'
  /** SAN dNSName entries. */
  | 'dns'
  /** Subject DN as `verify` prints it: `CN=leaf, O=Acme`, attributes in certificate order, joined by `, `. */
  | 'subject'
  /** OIDC issuer of the Fulcio extension (1.3.6.1.4.1.57264.1.8, legacy .1.1); fails when the leaf has none. */
  | 'oidc-issuer'
  /** Extended key usage: a dotted OID or a name (codeSigning, serverAuth, clientAuth, emailProtection, timeStamping, OCSPSigning). `regexp` is not allowed. */
  | 'eku';

/**
 * One constraint on the leaf: exactly one of `value` (compared exactly) and
 * `regexp` (a JavaScript regular expression that must compile on its own,
 * anchored as `^(?:P)$`). For SAN fields the constraint holds when any entry
 * of that type matches.
 */
export interface CertificateIdentityConstraint {
  field: CertificateIdentityField;
  value?: string;
  regexp?: string;
}

/** EKU names accepted in an `eku` constraint. */
export const EKU_NAMES: Readonly<Record<string, string>> = Object.freeze({
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
});

const FIELDS: readonly CertificateIdentityField[] = [
  'san',
  'email',
  'uri',
  'dns',
  'subject',
  'oidc-issuer',
  'eku',
];

const FIELD_LABEL: Record<CertificateIdentityField, string> = {
  san: 'SAN',
  email: 'SAN email',
  uri: 'SAN URI',
  dns: 'SAN DNS name',
  subject: 'subject',
  'oidc-issuer': 'OIDC issuer',
  eku: 'extended key usage',
};

/** A checked constraint, ready to test. */
export interface CompiledConstraint {
  field: CertificateIdentityField;
  /** For all fields but `eku`. */
  matcher: IdentityMatcher | undefined;
  /** For `eku`: the OID. */
  oid: string | undefined;
  /** `SAN email = "a@b"` or `subject ~ /CN=.../`. */
  text: string;
}

/** What a leaf says about itself, as the policy reads it. */
export interface LeafIdentity {
  email: string[];
  uri: string[];
  dns: string[];
  subject: string;
  /** `undefined` when the leaf has no Fulcio issuer extension. */
  oidcIssuer: string | undefined;
  /** Extended key usage OIDs; empty without the extension. */
  eku: string[];
}

function invalidOptions(message: string): ModelSealError {
  return new ModelSealError({ code: 'INVALID_OPTIONS', message });
}

const OID = /^[0-2](?:\.(?:0|[1-9][0-9]*))+$/;

/**
 * Checks and compiles constraints (at option time, before any bundle is read).
 *
 * @throws ModelSealError `INVALID_OPTIONS` for an unknown field, both or
 *   neither of value/regexp, a value that is not a single string, a regexp
 *   that does not compile on its own, or an unknown EKU name
 */
export function compileIdentityPolicy(
  constraints: readonly CertificateIdentityConstraint[] | undefined,
): CompiledConstraint[] {
  if (constraints === undefined) return [];
  if (!Array.isArray(constraints))
    throw invalidOptions('identityPolicy must be a list of constraints');
  return constraints.map((c: CertificateIdentityConstraint, i) => {
    const field = c?.field;
    if (!FIELDS.includes(field)) {
      throw invalidOptions(
        `identityPolicy[${i}]: unknown field ${JSON.stringify(field)} (use ${FIELDS.join(', ')})`,
      );
    }
    const label = FIELD_LABEL[field];
    if (field === 'eku') {
      if (c.regexp !== undefined)
        throw invalidOptions(
          'an extended key usage constraint takes an OID or a name, not a regular expression',
        );
      if (typeof c.value !== 'string')
        throw invalidOptions(
          'an extended key usage constraint needs one OID or name',
        );
      const oid = EKU_NAMES[c.value] ?? (OID.test(c.value) ? c.value : '');
      if (oid === '') {
        throw invalidOptions(
          `unknown extended key usage ${JSON.stringify(c.value)} (use a dotted OID or one of ${Object.keys(EKU_NAMES).join(', ')})`,
        );
      }
      return {
        field,
        matcher: undefined,
        oid,
        text: `${label} ${c.value === oid ? oid : `${c.value} (${oid})`}`,
      };
    }
    const matcher = identityMatcher(c.value, c.regexp, label, true);
    return {
      field,
      matcher,
      oid: undefined,
      text:
        matcher.exact !== undefined
          ? `${label} = ${JSON.stringify(matcher.exact)}`
          : `${label} ~ ${matcher.text}`,
    };
  });
}

function malformedLeaf(what: string, cause: unknown): ModelSealError {
  return new ModelSealError({
    code: 'CERTIFICATE_INVALID',
    message: `the leaf certificate has a malformed ${what}`,
    cause,
  });
}

/** Reads the SAN entries, subject, Fulcio OIDC issuer and EKU of a leaf. */
export function leafIdentity(leaf: X509Certificate): LeafIdentity {
  let parsed: SigstoreX509;
  try {
    parsed = sigstoreCore().X509Certificate.parse(leaf.raw);
  } catch (cause) {
    throw malformedLeaf('encoding', cause);
  }
  const out: LeafIdentity = {
    email: [],
    uri: [],
    dns: [],
    subject: distinguishedName(leaf.subject),
    oidcIssuer: undefined,
    eku: [],
  };
  try {
    const san = parsed.extension('2.5.29.17');
    for (const name of san?.valueObj.subs[0]?.subs ?? []) {
      const text = name.value.toString('utf8');
      if (name.tag.isContextSpecific(1)) out.email.push(text);
      else if (name.tag.isContextSpecific(2)) out.dns.push(text);
      else if (name.tag.isContextSpecific(6)) out.uri.push(text);
    }
  } catch (cause) {
    throw malformedLeaf('subject alternative name', cause);
  }
  try {
    const v2 = parsed.extension(OID_FULCIO_ISSUER_V2);
    if (v2 !== undefined) {
      const inner = v2.valueObj.subs[0];
      if (inner !== undefined) out.oidcIssuer = inner.value.toString('utf8');
    } else {
      const v1 = parsed.extension(OID_FULCIO_ISSUER_V1);
      if (v1 !== undefined) out.oidcIssuer = v1.valueObj.value.toString('utf8');
    }
  } catch (cause) {
    throw malformedLeaf('OIDC issuer extension', cause);
  }
  try {
    const eku = parsed.extension('2.5.29.37');
    for (const oid of eku?.valueObj.subs[0]?.subs ?? [])
      out.eku.push(oid.toOID());
  } catch (cause) {
    throw malformedLeaf('extended key usage', cause);
  }
  return out;
}

function actualOf(id: LeafIdentity, field: CertificateIdentityField): string[] {
  switch (field) {
    case 'san':
      return [...id.email, ...id.uri, ...id.dns];
    case 'email':
      return id.email;
    case 'uri':
      return id.uri;
    case 'dns':
      return id.dns;
    case 'subject':
      return [id.subject];
    case 'oidc-issuer':
      return id.oidcIssuer === undefined ? [] : [id.oidcIssuer];
    case 'eku':
      return id.eku;
  }
}

/**
 * Checks every constraint against the leaf; all must hold.
 *
 * @throws ModelSealError `IDENTITY_MISMATCH` naming each constraint that does
 *   not hold, with expected and actual values (details.mismatches)
 */
export function checkIdentityPolicy(
  leaf: X509Certificate,
  policy: readonly CompiledConstraint[],
): LeafIdentity | undefined {
  if (policy.length === 0) return undefined;
  const id = leafIdentity(leaf);
  const mismatches: {
    field: CertificateIdentityField;
    expected: string;
    actual: string[];
  }[] = [];
  for (const c of policy) {
    const actual = actualOf(id, c.field);
    const holds =
      c.field === 'eku'
        ? actual.includes(c.oid as string)
        : actual.some((v) => (c.matcher as IdentityMatcher).test(v));
    if (!holds) mismatches.push({ field: c.field, expected: c.text, actual });
  }
  if (mismatches.length > 0) {
    const lines = mismatches.map(
      (m) =>
        `expected ${m.expected}, certificate has ${
          m.actual.length === 0
            ? `no ${FIELD_LABEL[m.field]}`
            : m.actual.map((v) => JSON.stringify(v)).join(', ')
        }`,
    );
    throw new ModelSealError({
      code: 'IDENTITY_MISMATCH',
      message: `certificate ${JSON.stringify(id.subject)} does not match the identity policy: ${lines.join('; ')}`,
      details: { mismatches, subject: id.subject },
    });
  }
  return id;
}
