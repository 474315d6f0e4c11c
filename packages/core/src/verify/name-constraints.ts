// SPDX-License-Identifier: Apache-2.0
/**
 * X.509 name constraints (RFC 5280 §4.2.1.10, path processing §6.1.3 (b)
 * and (c)), read by walking the ASN1Obj nodes of `@sigstore/core`.
 *
 * Where OpenSSL and Go's crypto/x509 read a constraint differently, a name
 * is within a permitted subtree only when both would say so, and within an
 * excluded subtree when either would (docs/threat-model.md). What this module
 * cannot check is refused: constraints of other name types, a minimum or
 * maximum, a malformed extension, a name that does not parse, and a name
 * attribute whose encoding OpenSSL rewrites before it compares names.
 */
import { isIP } from 'node:net';
import type { ASN1Obj, X509Certificate as SigstoreX509 } from '@sigstore/core';

/**
 * Most name-to-constraint comparisons one path search may make (Go's
 * crypto/x509 allows 250,000 per chain; OpenSSL 2^20 per certificate and
 * CA). Each name checked costs the number of subtrees of its type, at
 * least one.
 */
export const MAX_NAME_CONSTRAINT_CHECKS = 65_536;

const OID_NAME_CONSTRAINTS = '2.5.29.30';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_COMMON_NAME = '2.5.4.3';
const OID_EMAIL_ADDRESS = '1.2.840.113549.1.9.1';
/** id-on-SmtpUTF8Mailbox (RFC 9598): OpenSSL checks it against rfc822Name constraints. */
const OID_SMTP_UTF8_MAILBOX = '1.3.6.1.5.5.7.8.9';

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  [OID_EMAIL_ADDRESS]: 'emailAddress',
};

/** GeneralName CHOICE tags ([0]..[8]) by name, as RFC 5280 spells them. */
const GENERAL_NAME = [
  'otherName',
  'rfc822Name',
  'dNSName',
  'x400Address',
  'directoryName',
  'ediPartyName',
  'uniformResourceIdentifier',
  'iPAddress',
  'registeredID',
] as const;
/** Which GeneralName alternatives are constructed (the others are primitive). */
const CONSTRUCTED = new Set([0, 3, 4, 5]);

type ConstrainedType =
  | 'dNSName'
  | 'rfc822Name'
  | 'uniformResourceIdentifier'
  | 'iPAddress'
  | 'directoryName';

/** A domain subtree: `domain` (lower case, no leading dot), '' for all. */
interface DomainTree {
  domain: string;
  /** A leading dot: subdomains only, not the domain itself. */
  subdomainsOnly: boolean;
}

type Constraint =
  | ({ type: 'dNSName'; text: string } & DomainTree)
  | ({
      type: 'rfc822Name';
      text: string;
      /** Set for a full mailbox constraint (`local@host`). */
      local: string | undefined;
    } & DomainTree)
  | ({ type: 'uniformResourceIdentifier'; text: string } & DomainTree)
  | { type: 'iPAddress'; text: string; address: Buffer; mask: Buffer }
  | { type: 'directoryName'; text: string; rdns: string[] };

/** The permitted and excluded subtrees of one CA certificate. */
export interface NameConstraints {
  permitted: Constraint[];
  excluded: Constraint[];
}

/** One name of a certificate below a constrained CA. */
export type CertificateName =
  | { type: 'dNSName'; label: string; text: string; domain: string }
  | {
      type: 'rfc822Name';
      label: string;
      text: string;
      local: string;
      domain: string;
    }
  | {
      type: 'uniformResourceIdentifier';
      label: string;
      text: string;
      /** The host in lower case, or why it cannot be read. */
      host: { domain: string } | { problem: string };
    }
  | { type: 'iPAddress'; label: string; text: string; address: Buffer }
  | { type: 'directoryName'; label: string; text: string; rdns: string[] }
  | { type: 'smtpUTF8Mailbox'; label: string; text: string };

/** The comparison budget of {@link MAX_NAME_CONSTRAINT_CHECKS} ran out. */
export class NameCheckLimitError extends Error {}

/** Thrown (and caught by the caller) with a phrase naming the problem. */
class NameSyntaxError extends Error {}

function fail(message: string): never {
  throw new NameSyntaxError(message);
}

// ---------------------------------------------------------------------------
// TBSCertificate fields

interface TbsFields {
  /** 0 for v1, 1 for v2, 2 for v3. */
  version: number;
  issuer: ASN1Obj;
  subject: ASN1Obj;
}

/**
 * Version, issuer and subject of a certificate. Unlike `@sigstore/core`'s
 * getters this also reads v1 certificates, which have no version field.
 */
export function tbsFields(cert: SigstoreX509): TbsFields {
  const subs = cert.tbsCertificate.subs;
  const first = subs[0];
  let version = 0;
  let offset = 0;
  if (first?.tag.isContextSpecific(0) === true) {
    const v = first.subs[0]?.toInteger();
    if (first.subs.length !== 1 || v === undefined || v < 0n || v > 2n) {
      throw new Error('malformed version');
    }
    version = Number(v);
    offset = 1;
  }
  const issuer = subs[offset + 2];
  const subject = subs[offset + 4];
  if (issuer === undefined || subject === undefined) {
    throw new Error('truncated TBSCertificate');
  }
  return { version, issuer, subject };
}

/** Subject and issuer names are the same bytes (RFC 5280 "self-issued"). */
export function isSelfIssued(cert: SigstoreX509): boolean {
  const { issuer, subject } = tbsFields(cert);
  return issuer.toDER().equals(subject.toDER());
}

// ---------------------------------------------------------------------------
// Strings

function isUniversal(obj: ASN1Obj, number: number): boolean {
  return obj.tag.isUniversal() && obj.tag.number === number;
}

/** IA5String contents (rfc822Name, dNSName, URI): 7-bit, no NUL. */
function ia5(obj: ASN1Obj, what: string): string {
  for (const byte of obj.value) {
    if (byte === 0 || byte > 0x7f) {
      fail(`${what} is not a 7-bit string without NUL bytes`);
    }
  }
  return obj.value.toString('latin1');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The UTF-8 bytes of a directory string, as OpenSSL's ASN1_STRING_to_UTF8
 * gives them; `undefined` for a type that is not a character string.
 * Encodings that OpenSSL would convert differently (UTF-16 surrogates,
 * invalid UTF-8) are refused.
 */
function stringUtf8(obj: ASN1Obj): Buffer | undefined {
  if (!obj.tag.isUniversal() || obj.tag.constructed) return undefined;
  const value = obj.value;
  switch (obj.tag.number) {
    case 12: // UTF8String
      try {
        utf8.decode(value);
      } catch {
        fail('a UTF8String is not valid UTF-8');
      }
      return value;
    case 18: // NumericString
    case 19: // PrintableString
    case 20: // TeletexString, read as ISO 8859-1 like OpenSSL
    case 22: // IA5String
    case 26: // VisibleString
      return Buffer.from(value.toString('latin1'), 'utf8');
    case 28: {
      // UniversalString: UCS-4
      if (value.length % 4 !== 0)
        fail('a UniversalString has a partial character');
      let text = '';
      for (let i = 0; i < value.length; i += 4) {
        const cp = value.readUInt32BE(i);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          fail('a UniversalString has an invalid character');
        }
        text += String.fromCodePoint(cp);
      }
      return Buffer.from(text, 'utf8');
    }
    case 30: {
      // BMPString: UCS-2
      if (value.length % 2 !== 0) fail('a BMPString has a partial character');
      let text = '';
      for (let i = 0; i < value.length; i += 2) {
        const cu = value.readUInt16BE(i);
        if (cu >= 0xd800 && cu <= 0xdfff) {
          fail('a BMPString has a UTF-16 surrogate');
        }
        text += String.fromCharCode(cu);
      }
      return Buffer.from(text, 'utf8');
    }
    default:
      return undefined;
  }
}

/** Types OpenSSL canonicalizes in names (ASN1_MASK_CANON); NumericString is not. */
const CANONICAL_TYPES = new Set([12, 19, 20, 22, 26, 28, 30]);

function isAsciiSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/**
 * OpenSSL's canonical form of a name attribute: leading and trailing ASCII
 * white space dropped, inner runs of it made one space, ASCII letters lower
 * case; other bytes as they are.
 */
function canonical(bytes: Buffer): Buffer {
  let start = 0;
  let end = bytes.length;
  while (start < end && isAsciiSpace(bytes[start] as number)) start++;
  while (end > start && isAsciiSpace(bytes[end - 1] as number)) end--;
  const out: number[] = [];
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (isAsciiSpace(byte)) {
      out.push(0x20);
      while (i + 1 < end && isAsciiSpace(bytes[i + 1] as number)) i++;
    } else if (byte >= 0x41 && byte <= 0x5a) {
      out.push(byte + 0x20);
    } else {
      out.push(byte);
    }
  }
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------
// Distinguished names

interface Attribute {
  oid: string;
  value: ASN1Obj;
}

interface DirectoryName {
  /** One comparison key per RDN, in order. */
  rdns: string[];
  attributes: Attribute[];
  text: string;
}

function attributeText(attribute: Attribute): string {
  const name = SHORT_NAMES[attribute.oid] ?? attribute.oid;
  let value: string;
  try {
    const bytes = stringUtf8(attribute.value);
    value =
      bytes === undefined
        ? `#${attribute.value.value.toString('hex')}`
        : bytes.toString('utf8');
  } catch {
    value = `#${attribute.value.value.toString('hex')}`;
  }
  return `${name}=${value}`;
}

/**
 * Refuses an attribute value that OpenSSL rewrites when it reads a name, so
 * that OpenSSL would compare other bytes than modelseal: a constructed (BER)
 * encoding of a string, which OpenSSL joins into the primitive string (an
 * excluded `O=Evil` would not match `O=Ev` + `il` otherwise), and a BIT
 * STRING with unused bits set or counted on no bits, which OpenSSL clears.
 * A SEQUENCE OpenSSL keeps as it is, as modelseal does.
 */
function checkAttributeEncoding(value: ASN1Obj, what: string): void {
  if (value.tag.constructed && !isUniversal(value, 16)) {
    fail(
      `${what} has an attribute value in a constructed encoding (tag 0x${value.tag.toDER().toString(16)}), which OpenSSL reads as another value`,
    );
  }
  if (isUniversal(value, 3)) {
    const bytes = value.value;
    const unused = bytes[0];
    const last = bytes[bytes.length - 1] as number;
    if (
      unused === undefined ||
      unused > 7 ||
      (bytes.length === 1 ? unused !== 0 : (last & ((1 << unused) - 1)) !== 0)
    ) {
      fail(
        `${what} has a BIT STRING attribute value that is not DER (unused bits set), which OpenSSL reads as another value`,
      );
    }
  }
}

/** A Name (SEQUENCE OF RDN), with OpenSSL-equivalent comparison keys. */
function readName(obj: ASN1Obj, what: string): DirectoryName {
  if (!isUniversal(obj, 16) || !obj.tag.constructed) {
    fail(`${what} is not a distinguished name`);
  }
  const rdns: string[] = [];
  const attributes: Attribute[] = [];
  const texts: string[] = [];
  for (const rdn of obj.subs) {
    if (
      !isUniversal(rdn, 17) ||
      !rdn.tag.constructed ||
      rdn.subs.length === 0
    ) {
      fail(`${what} has a malformed relative distinguished name`);
    }
    const keys: string[] = [];
    const rdnTexts: string[] = [];
    for (const atv of rdn.subs) {
      const [type, value] = atv.subs;
      if (
        !isUniversal(atv, 16) ||
        atv.subs.length !== 2 ||
        type === undefined ||
        value === undefined ||
        !type.tag.isOID()
      ) {
        fail(`${what} has a malformed attribute`);
      }
      const oid = type.toOID();
      checkAttributeEncoding(value, what);
      const tagByte = value.tag.toDER();
      const bytes = CANONICAL_TYPES.has(value.tag.number)
        ? stringUtf8(value)
        : undefined;
      keys.push(
        bytes === undefined
          ? `${oid}=t${tagByte}:${value.value.toString('hex')}`
          : `${oid}=u:${canonical(bytes).toString('hex')}`,
      );
      attributes.push({ oid, value });
      rdnTexts.push(attributeText({ oid, value }));
    }
    // A multi-valued RDN is a SET: compare its members in any order.
    rdns.push(keys.sort().join('+'));
    texts.push(rdnTexts.join(' + '));
  }
  return { rdns, attributes, text: texts.join(', ') };
}

// ---------------------------------------------------------------------------
// Domains, mailboxes, URIs, IP addresses

/**
 * A domain name as Go's crypto/x509 accepts one: labels of printable ASCII
 * other than space, none empty (so no leading or trailing dot). Lower case.
 */
function parseDomain(text: string): string | undefined {
  if (text === '') return undefined;
  for (const label of text.split('.')) {
    if (label === '' || !/^[\x21-\x7e]+$/.test(label)) return undefined;
  }
  return text.toLowerCase();
}

/** RFC 5321 dot-atom local part (quoted local parts and escapes are refused). */
const LOCAL_PART =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;

function parseMailbox(
  text: string,
): { local: string; domain: string } | undefined {
  const at = text.indexOf('@');
  if (at < 0 || at !== text.lastIndexOf('@')) return undefined;
  const local = text.slice(0, at);
  const domain = parseDomain(text.slice(at + 1));
  if (!LOCAL_PART.test(local) || domain === undefined) return undefined;
  return { local, domain };
}

/**
 * The host of a URI, for URI constraints: `scheme://host[:port]...` with a
 * domain name as host. Refused: no authority, user information, an IP
 * address, characters other than letters, digits, `-`, `_`, `*` and `.`, and
 * a URI whose host OpenSSL (everything after `//` up to the first `:`, else
 * the first `/`) reads differently.
 */
function uriHost(uri: string): { domain: string } | { problem: string } {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (m === null) return { problem: 'has no authority (scheme://host)' };
  const authority = m[1] as string;
  if (authority.includes('@')) {
    return { problem: 'has user information before its host' };
  }
  if (authority.startsWith('[')) {
    return { problem: 'has an IP address as its host' };
  }
  const colon = authority.indexOf(':');
  const host = colon < 0 ? authority : authority.slice(0, colon);
  if (colon >= 0 && !/^[0-9]*$/.test(authority.slice(colon + 1))) {
    return { problem: 'has a malformed port' };
  }
  if (host === '') return { problem: 'has an empty host' };
  if (isIP(host) !== 0) return { problem: 'has an IP address as its host' };
  const afterSlashes = uri.slice(uri.indexOf('://') + 3);
  const stop = /[:]/.exec(afterSlashes) ?? /[/]/.exec(afterSlashes);
  const opensslHost =
    stop === null ? afterSlashes : afterSlashes.slice(0, stop.index);
  if (opensslHost !== host) {
    return {
      problem: `has a host that URI parsers read differently ("${host}" or "${opensslHost}")`,
    };
  }
  const domain = /^[A-Za-z0-9_*-]+(?:\.[A-Za-z0-9_*-]+)*$/.test(host)
    ? parseDomain(host)
    : undefined;
  if (domain === undefined)
    return { problem: 'has a host that is no domain name' };
  return { domain };
}

function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) {
    groups.push(bytes.readUInt16BE(i).toString(16));
  }
  // RFC 5952: the longest run of two or more zero groups becomes '::'.
  let best = { at: -1, length: 1 };
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (groups[j] === '0') j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  const head = groups.slice(0, best.at).join(':');
  const tail = groups.slice(best.at + best.length).join(':');
  return `${head}::${tail}`;
}

/** Leading one bits of a contiguous mask; `undefined` when it is not one. */
function prefixLength(mask: Buffer): number | undefined {
  let bits = 0;
  let ended = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = ((byte >> bit) & 1) === 1;
      if (one && ended) return undefined;
      if (one) bits++;
      else ended = true;
    }
  }
  return bits;
}

/** A domain constraint: '' (all), `host`, `.domain` (subdomains only). */
function domainTree(text: string, allowEmpty: boolean): DomainTree {
  if (text === '') {
    if (!allowEmpty) fail('an empty constraint');
    return { domain: '', subdomainsOnly: false };
  }
  const subdomainsOnly = text.startsWith('.');
  const domain = parseDomain(subdomainsOnly ? text.slice(1) : text);
  if (domain === undefined) fail(`a malformed constraint "${text}"`);
  return { domain, subdomainsOnly };
}

// ---------------------------------------------------------------------------
// The extension

function readConstraint(base: ASN1Obj, where: string): Constraint {
  const number = base.tag.number;
  const type = base.tag.isContextSpecific() ? GENERAL_NAME[number] : undefined;
  if (type === undefined || base.tag.constructed !== CONSTRUCTED.has(number)) {
    fail(`a malformed ${where} GeneralName`);
  }
  switch (type) {
    case 'dNSName': {
      const text = ia5(base, `a ${where} dNSName constraint`);
      return { type, text, ...domainTree(text, true) };
    }
    case 'rfc822Name': {
      // Empty: OpenSSL matches no address, Go every address; refused.
      const text = ia5(base, `a ${where} rfc822Name constraint`);
      if (text.includes('@')) {
        const mailbox = parseMailbox(text);
        if (mailbox === undefined) {
          fail(`a malformed ${where} rfc822Name constraint "${text}"`);
        }
        return {
          type,
          text,
          local: mailbox.local,
          domain: mailbox.domain,
          subdomainsOnly: false,
        };
      }
      return { type, text, local: undefined, ...domainTree(text, false) };
    }
    case 'uniformResourceIdentifier': {
      const text = ia5(base, `a ${where} URI constraint`);
      if (isIP(text.replace(/^\./, '')) !== 0) {
        fail(`a ${where} URI constraint "${text}" that is an IP address`);
      }
      return { type, text, ...domainTree(text, false) };
    }
    case 'iPAddress': {
      const bytes = base.value;
      if (bytes.length !== 8 && bytes.length !== 32) {
        fail(`a ${where} iPAddress constraint of ${bytes.length} bytes`);
      }
      const half = bytes.length / 2;
      const address = bytes.subarray(0, half);
      const mask = bytes.subarray(half);
      const bits = prefixLength(mask);
      if (bits === undefined) {
        fail(
          `a ${where} iPAddress constraint with a non-contiguous mask ${ipText(mask)}`,
        );
      }
      return {
        type,
        text: `${ipText(address)}/${bits}`,
        address: Buffer.from(address),
        mask: Buffer.from(mask),
      };
    }
    case 'directoryName': {
      const inner = base.subs[0];
      if (base.subs.length !== 1 || inner === undefined) {
        fail(`a malformed ${where} directoryName constraint`);
      }
      const name = readName(inner, `a ${where} directoryName constraint`);
      return { type, text: name.text, rdns: name.rdns };
    }
    case 'otherName': {
      const typeId = base.subs[0];
      const oid = typeId?.tag.isOID() === true ? typeId.toOID() : '?';
      return fail(
        `a ${where} otherName constraint (${oid}), a type modelseal does not check`,
      );
    }
    case 'x400Address':
    case 'ediPartyName':
    case 'registeredID':
      return fail(
        `a ${where} ${type} constraint, a type modelseal does not check`,
      );
  }
}

function readSubtrees(part: ASN1Obj, where: string): Constraint[] {
  if (!part.tag.constructed || part.subs.length === 0) {
    fail(`empty or malformed ${where} subtrees`);
  }
  return part.subs.map((subtree) => {
    const base = subtree.subs[0];
    if (!isUniversal(subtree, 16) || base === undefined) {
      fail(`a malformed ${where} GeneralSubtree`);
    }
    const constraint = readConstraint(base, where);
    if (subtree.subs.length > 1) {
      fail(
        `a ${where} ${constraint.type} subtree "${constraint.text}" with a minimum or maximum`,
      );
    }
    return constraint;
  });
}

function extensionsOf(cert: SigstoreX509, oid: string): ASN1Obj[] {
  return cert.extensions.filter((ext) => ext.subs[0]?.toOID() === oid);
}

/**
 * The single OCTET STRING-wrapped value of an extension. A constructed (BER)
 * OCTET STRING is refused: OpenSSL joins the primitive contents inside it
 * into another value than the one it wraps.
 */
function extensionValue(ext: ASN1Obj, what: string): ASN1Obj {
  const octets = ext.subs[ext.subs.length - 1];
  const value = octets?.subs[0];
  if (
    octets === undefined ||
    !octets.tag.isOctetString() ||
    octets.tag.constructed ||
    octets.subs.length !== 1 ||
    value === undefined
  ) {
    fail(`a malformed ${what} extension`);
  }
  return value;
}

/**
 * The name constraints of `cert`, `undefined` without the extension.
 *
 * @throws Error naming what cannot be checked: another name type, a minimum
 *   or maximum, a malformed or repeated extension
 */
export function readNameConstraints(
  cert: SigstoreX509,
): NameConstraints | undefined {
  const exts = extensionsOf(cert, OID_NAME_CONSTRAINTS);
  if (exts.length === 0) return undefined;
  if (exts.length > 1) fail('two nameConstraints extensions');
  const seq = extensionValue(exts[0] as ASN1Obj, 'nameConstraints');
  if (!isUniversal(seq, 16) || !seq.tag.constructed || seq.subs.length === 0) {
    fail('an empty or malformed nameConstraints extension');
  }
  const out: NameConstraints = { permitted: [], excluded: [] };
  let last = -1;
  for (const part of seq.subs) {
    const n = part.tag.number;
    if (!part.tag.isContextSpecific() || n > 1 || n <= last) {
      fail('a malformed nameConstraints extension');
    }
    last = n;
    if (n === 0) out.permitted = readSubtrees(part, 'permitted');
    else out.excluded = readSubtrees(part, 'excluded');
  }
  return out;
}

// ---------------------------------------------------------------------------
// The names of a certificate

/**
 * OpenSSL's test for a common name that is used as a host name (cn2dnsid):
 * letters, digits, `_`, inner `-` and `.`, and at least one dot with a
 * label character on either side.
 */
function hostnameFromCommonName(bytes: Buffer): string | undefined {
  let dns = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x5f
    ) {
      continue;
    }
    if (i > 0 && i < bytes.length - 1) {
      if (c === 0x2d) continue;
      const next = bytes[i + 1];
      const prev = bytes[i - 1];
      if (c === 0x2e && next !== 0x2e && prev !== 0x2d && next !== 0x2d) {
        dns = true;
        continue;
      }
    }
    return undefined;
  }
  return dns ? bytes.toString('latin1').toLowerCase() : undefined;
}

/**
 * Where a certificate sits below a constrained CA: the leaf, another CA, or a
 * self-issued CA other than the leaf (subject and issuer the same bytes).
 */
export type CertificateRole = 'leaf' | 'ca' | 'self-issued ca';

/**
 * Every name of `cert` that name constraints apply to: the subject (when not
 * empty) as a directoryName, its emailAddress attributes as rfc822Names, each
 * subjectAltName entry and, for the leaf without a dNSName entry, each common
 * name that looks like a host name, as OpenSSL does. Of a self-issued CA only
 * the subjectAltName entries Go checks (dNSName, rfc822Name, URI, iPAddress):
 * RFC 5280 §6.1.3 and OpenSSL skip such a certificate, Go 1.21 and later
 * check those all the same.
 *
 * @throws Error naming a name that cannot be read
 */
export function certificateNames(
  cert: SigstoreX509,
  role: CertificateRole,
): CertificateName[] {
  const names: CertificateName[] = [];
  const subject: DirectoryName =
    role === 'self-issued ca'
      ? { rdns: [], attributes: [], text: '' }
      : readName(tbsFields(cert).subject, 'the subject');
  if (subject.rdns.length > 0) {
    names.push({
      type: 'directoryName',
      label: 'subject',
      text: subject.text,
      rdns: subject.rdns,
    });
    for (const { oid, value } of subject.attributes) {
      if (oid !== OID_EMAIL_ADDRESS) continue;
      if (!isUniversal(value, 22) || value.tag.constructed) {
        fail('the subject has an emailAddress that is not an IA5String');
      }
      const text = ia5(value, 'the subject emailAddress');
      const mailbox = parseMailbox(text);
      if (mailbox === undefined) {
        fail(`the subject emailAddress "${text}" is not a mailbox`);
      }
      names.push({
        type: 'rfc822Name',
        label: 'subject email address',
        text,
        ...mailbox,
      });
    }
  }
  const sans = extensionsOf(cert, OID_SUBJECT_ALT_NAME);
  if (sans.length > 1) fail('two subjectAltName extensions');
  let hasDns = false;
  if (sans.length === 1) {
    const seq = extensionValue(sans[0] as ASN1Obj, 'subjectAltName');
    if (!isUniversal(seq, 16) || !seq.tag.constructed) {
      fail('a malformed subjectAltName extension');
    }
    for (const gn of seq.subs) {
      const number = gn.tag.number;
      const type = gn.tag.isContextSpecific()
        ? GENERAL_NAME[number]
        : undefined;
      if (
        type === undefined ||
        gn.tag.constructed !== CONSTRUCTED.has(number)
      ) {
        fail('a malformed subjectAltName entry');
      }
      switch (type) {
        case 'rfc822Name': {
          const text = ia5(gn, 'an rfc822Name');
          const mailbox = parseMailbox(text);
          if (mailbox === undefined) {
            fail(
              `the rfc822Name "${text}" is not a mailbox modelseal can read`,
            );
          }
          names.push({ type, label: 'email address', text, ...mailbox });
          break;
        }
        case 'dNSName': {
          const text = ia5(gn, 'a dNSName');
          const domain = parseDomain(text);
          if (domain === undefined) fail(`the dNSName "${text}" is malformed`);
          names.push({ type, label: 'DNS name', text, domain });
          hasDns = true;
          break;
        }
        case 'uniformResourceIdentifier': {
          const text = ia5(gn, 'a URI');
          names.push({ type, label: 'URI', text, host: uriHost(text) });
          break;
        }
        case 'iPAddress': {
          const address = gn.value;
          if (address.length !== 4 && address.length !== 16) {
            fail(`an iPAddress of ${address.length} bytes`);
          }
          names.push({
            type,
            label: 'IP address',
            text: ipText(address),
            address: Buffer.from(address),
          });
          break;
        }
        case 'directoryName': {
          // Go checks no directoryName, OpenSSL no self-issued certificate.
          if (role === 'self-issued ca') break;
          const inner = gn.subs[0];
          if (gn.subs.length !== 1 || inner === undefined) {
            fail('a malformed directoryName');
          }
          const name = readName(inner, 'a directoryName');
          names.push({
            type,
            label: 'directory name',
            text: name.text,
            rdns: name.rdns,
          });
          break;
        }
        case 'otherName': {
          const oid = gn.subs[0];
          if (oid === undefined || !oid.tag.isOID()) {
            fail('a malformed otherName');
          }
          if (
            oid.toOID() === OID_SMTP_UTF8_MAILBOX &&
            role !== 'self-issued ca'
          ) {
            names.push({
              type: 'smtpUTF8Mailbox',
              label: 'SmtpUTF8Mailbox',
              text: OID_SMTP_UTF8_MAILBOX,
            });
          }
          break;
        }
        case 'x400Address':
        case 'ediPartyName':
        case 'registeredID':
          // No constraint of these types is ever accepted, so none applies.
          break;
      }
    }
  }
  if (role === 'leaf' && !hasDns) {
    for (const { oid, value } of subject.attributes) {
      if (oid !== OID_COMMON_NAME) continue;
      let bytes = stringUtf8(value);
      if (bytes === undefined) {
        fail('the subject has a common name that is not a character string');
      }
      let end = bytes.length;
      while (end > 0 && bytes[end - 1] === 0) end--;
      bytes = bytes.subarray(0, end);
      if (bytes.includes(0)) fail('the subject common name has a NUL byte');
      const host = hostnameFromCommonName(bytes);
      if (host !== undefined) {
        names.push({
          type: 'dNSName',
          label: 'common name (read as a host name)',
          text: bytes.toString('latin1'),
          domain: host,
        });
      }
    }
  }
  return names;
}

// ---------------------------------------------------------------------------
// Matching

function inDomain(domain: string, tree: DomainTree): boolean {
  if (tree.domain === '') return true;
  if (domain === tree.domain) return !tree.subdomainsOnly;
  return domain.endsWith(`.${tree.domain}`);
}

/**
 * Whether a wildcard name (first character `*`) is in an excluded domain tree
 * as Go's crypto/x509 reads it since Go 1.24.11 and 1.25.5 (CVE-2025-61727):
 * with as many labels as the tree's domain or more (more for `.domain`), the
 * leftmost label of both is dropped and the rest compared. So excluded
 * `bar.example.com` excludes `*.example.com` (which stands for
 * `bar.example.com`); OpenSSL 3.0 excludes neither.
 */
function wildcardInExcludedTree(domain: string, tree: DomainTree): boolean {
  if (!domain.startsWith('*')) return false;
  const labels = domain.split('.');
  const treeLabels = tree.domain.split('.');
  if (
    labels.length < 2 ||
    labels.length < treeLabels.length ||
    (tree.subdomainsOnly && labels.length === treeLabels.length)
  ) {
    return false;
  }
  const parent = treeLabels.slice(1).join('.');
  const rest = labels.slice(1).join('.');
  return parent === '' || rest === parent || rest.endsWith(`.${parent}`);
}

/** {@link inDomain}, and for an excluded tree {@link wildcardInExcludedTree}. */
function inDomainTree(
  domain: string,
  tree: DomainTree,
  excluded: boolean,
): boolean {
  return (
    inDomain(domain, tree) || (excluded && wildcardInExcludedTree(domain, tree))
  );
}

/**
 * `host` constraints of rfc822Name and URI: the host itself for OpenSSL and
 * RFC 5280, the host and its subdomains for Go. Permitted takes the narrower
 * reading, excluded the wider (and a wildcard host as Go reads it).
 */
function inHostTree(
  domain: string,
  tree: DomainTree,
  excluded: boolean,
): boolean {
  if (tree.subdomainsOnly || excluded) {
    return inDomainTree(domain, tree, excluded);
  }
  return domain === tree.domain;
}

function sameType(name: CertificateName, c: Constraint): boolean {
  return (
    c.type === name.type ||
    (name.type === 'smtpUTF8Mailbox' && c.type === 'rfc822Name')
  );
}

/** Whether `name` is within subtree `c`; a string where it cannot be told. */
function within(
  name: CertificateName,
  c: Constraint,
  excluded: boolean,
): boolean | string {
  switch (name.type) {
    case 'dNSName':
      return c.type === 'dNSName' && inDomainTree(name.domain, c, excluded);
    case 'rfc822Name':
      if (c.type !== 'rfc822Name') return false;
      if (c.local !== undefined) {
        return name.local === c.local && name.domain === c.domain;
      }
      return inHostTree(name.domain, c, excluded);
    case 'uniformResourceIdentifier':
      if (c.type !== 'uniformResourceIdentifier') return false;
      if ('problem' in name.host) {
        return `${name.label} "${name.text}" ${name.host.problem}, so it cannot be checked against uniformResourceIdentifier constraints`;
      }
      return inHostTree(name.host.domain, c, excluded);
    case 'iPAddress': {
      if (c.type !== 'iPAddress' || c.address.length !== name.address.length) {
        return false;
      }
      for (let i = 0; i < c.address.length; i++) {
        const mask = c.mask[i] as number;
        if (
          ((name.address[i] as number) & mask) !==
          ((c.address[i] as number) & mask)
        ) {
          return false;
        }
      }
      return true;
    }
    case 'directoryName':
      return (
        c.type === 'directoryName' &&
        c.rdns.length <= name.rdns.length &&
        c.rdns.every((rdn, i) => rdn === name.rdns[i])
      );
    case 'smtpUTF8Mailbox':
      return `the subjectAltName has an ${name.label} otherName, which modelseal cannot check against rfc822Name constraints`;
  }
}

function constrainedType(name: CertificateName): ConstrainedType {
  return name.type === 'smtpUTF8Mailbox' ? 'rfc822Name' : name.type;
}

/**
 * Why `names` break `constraints`, or `undefined` when they do not. Every
 * name is checked against the excluded subtrees of its type, then must lie
 * in one of the permitted subtrees of its type when there are any.
 *
 * @param budget - comparisons left; decremented
 * @throws NameCheckLimitError when the budget runs out
 */
export function nameConstraintsViolation(
  constraints: NameConstraints,
  names: readonly CertificateName[],
  budget: { left: number },
): string | undefined {
  for (const name of names) {
    const excluded = constraints.excluded.filter((c) => sameType(name, c));
    const permitted = constraints.permitted.filter((c) => sameType(name, c));
    budget.left -= Math.max(1, excluded.length + permitted.length);
    if (budget.left < 0) throw new NameCheckLimitError();
    for (const c of excluded) {
      const r = within(name, c, true);
      if (typeof r === 'string') return r;
      if (r) {
        return `${name.label} "${name.text}" is in the excluded ${c.type} subtree "${c.text}"`;
      }
    }
    if (permitted.length === 0) continue;
    let inside = false;
    for (const c of permitted) {
      const r = within(name, c, false);
      if (typeof r === 'string') return r;
      if (r) {
        inside = true;
        break;
      }
    }
    if (!inside) {
      const list = permitted
        .slice(0, 5)
        .map((c) => `"${c.text}"`)
        .join(', ');
      const more =
        permitted.length > 5 ? `, and ${permitted.length - 5} more` : '';
      return `${name.label} "${name.text}" is not in any permitted ${constrainedType(name)} subtree (${list}${more})`;
    }
  }
  return undefined;
}

/** The message of a name or constraint that cannot be read. */
export function nameProblem(error: unknown): string {
  return error instanceof NameSyntaxError
    ? error.message
    : `malformed encoding (${(error as Error).message})`;
}
