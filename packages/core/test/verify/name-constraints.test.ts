// SPDX-License-Identifier: Apache-2.0
// Name constraints (RFC 5280 §4.2.1.10, §6.1) on certificate paths. Each case
// is a real chain made with openssl: a model is signed with its leaf and
// verified by modelseal, and the same chain goes to `openssl verify
// -x509_strict`. modelseal accepts exactly where OpenSSL does, except in the
// rows with `differs`, each a deliberate difference with its reason.
import { sign, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signModel } from '../../src/sign/sign-model.js';
import { MAX_NAME_CONSTRAINT_CHECKS } from '../../src/verify/name-constraints.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import {
  issueV1,
  opensslVerify,
  type TestChain,
} from '../helpers/openssl-verify.js';
import {
  CA_EXTENSIONS,
  issue,
  LEAF_EXTENSIONS,
  type TestCert,
} from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

let dir: string;
let model: string;
let root: TestCert;
let serial = 0;
const fresh = (stem: string): string => `${stem}-${++serial}`;

const ROOT_EXTENSIONS = CA_EXTENSIONS.filter(
  (e) => !e.startsWith('authorityKeyIdentifier'),
);

/** A nameConstraints line (`permitted;DNS:x`, ...) and any config sections it names. */
function nc(
  items: readonly string[],
  options: { critical?: boolean; sections?: readonly string[] } = {},
): string[] {
  return [
    `nameConstraints=${options.critical === false ? '' : 'critical,'}${items.join(',')}`,
    ...(options.sections ?? []),
  ];
}

const cas = new Map<string, TestCert>();
/** An intermediate CA under `issuer` with extra extension lines (made once per set). */
function ca(
  lines: readonly string[],
  issuer: TestCert = root,
  subject?: string,
): TestCert {
  const key = JSON.stringify([lines, issuer.name, subject]);
  let cert = cas.get(key);
  if (cert === undefined) {
    const name = fresh('inter');
    cert = issue(dir, {
      name,
      issuer,
      subject: subject ?? `/CN=${name}`,
      extensions: [...CA_EXTENSIONS, ...lines],
    });
    cas.set(key, cert);
  }
  return cert;
}

/** A self-signed root CA with extra extension lines. */
function rootWith(lines: readonly string[], subject?: string): TestCert {
  const name = fresh('root');
  return issue(dir, {
    name,
    days: 3650,
    subject: subject ?? `/CN=${name}`,
    extensions: [...ROOT_EXTENSIONS, ...lines],
  });
}

interface LeafOptions {
  subject?: string;
  san?: readonly string[];
  /** Config sections the SAN names (dirName). */
  sections?: readonly string[];
}

function leaf(issuer: TestCert, options: LeafOptions = {}): TestCert {
  return issue(dir, {
    name: fresh('leaf'),
    issuer,
    ...(options.subject === undefined ? {} : { subject: options.subject }),
    extensions: [
      ...LEAF_EXTENSIONS,
      ...(options.san === undefined
        ? []
        : [`subjectAltName=${options.san.join(',')}`]),
      ...(options.sections ?? []),
    ],
  });
}

/** Config lines that make `openssl req` write the subject with these string types. */
const stringMask = (mask: string): string[] => [
  '[req]',
  `string_mask = ${mask}`,
  'utf8 = yes',
];

/** root → intermediate with `lines` → leaf. */
function under(lines: readonly string[], options: LeafOptions = {}): TestChain {
  const inter = ca(lines);
  return { leaf: leaf(inter, options), intermediates: [inter], anchor: root };
}

interface Verdict {
  ok: boolean;
  message: string;
}

/** Sign the model with the chain's leaf (chain in the bundle) and verify it against the anchor. */
async function modelseal(chain: TestChain): Promise<Verdict> {
  const signaturePath = join(tempDir(), 'model.sig');
  const signed = await signModel({
    method: 'certificate',
    modelPath: model,
    signaturePath,
    privateKey: chain.leaf.keyPath,
    signingCertificate: chain.leaf.certPath,
    certificateChain: chain.intermediates.map((c) => c.certPath),
    concurrency: 0,
  });
  // Signing builds no path (it has no trust anchors): it never objects.
  expect(signed.warnings).toEqual([]);
  try {
    await verifyModelSignature({
      method: 'certificate',
      modelPath: model,
      bundlePath: signaturePath,
      trustAnchors: [chain.anchor.certPath],
      concurrency: 0,
    });
    return { ok: true, message: '' };
  } catch (error) {
    expect(error).toHaveCode('CERTIFICATE_INVALID');
    return { ok: false, message: (error as Error).message };
  }
}

interface Row {
  name: string;
  chain: () => TestChain;
  /** `openssl verify -x509_strict` accepts. */
  openssl: boolean;
  /** modelseal accepts. */
  modelseal: boolean;
  /** Words modelseal's refusal must contain. */
  reason?: string;
  /** Why modelseal differs from OpenSSL. */
  differs?: string;
}

const DNS = nc(['permitted;DNS:example.com']);
const DNS_DOT = nc(['permitted;DNS:.example.com']);
const EMAIL_MAILBOX = nc(['permitted;email:release@acme.example']);
const EMAIL_HOST = nc(['permitted;email:acme.example']);
const EMAIL_DOMAIN = nc(['permitted;email:.acme.example']);
const IP4 = nc(['permitted;IP:10.0.0.0/255.0.0.0']);
const IP6 = nc(['permitted;IP:fd00::/ff00::']);
const URI_DOMAIN = nc(['permitted;URI:.example.com']);
const URI_HOST = nc(['permitted;URI:ci.example.com']);
const DIR_ACME = nc(['permitted;dirName:nc_acme'], {
  sections: ['[nc_acme]', 'O=Acme'],
});
const DIR_NOT_EVIL = nc(['excluded;dirName:nc_evil'], {
  sections: ['[nc_evil]', 'O=Evil'],
});
/**
 * One DER element, for encodings openssl's config cannot write (it re-encodes
 * what `ASN1:` describes); `DER:<hex>` in an extension line takes them as they
 * are. Contents under 128 bytes.
 */
function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  if (body.length >= 128) throw new Error('tlv: contents too long');
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
}
/** A Name of one RDN holding one attribute: OID (DER contents) and value (DER). */
const oneAttributeName = (oid: Buffer, value: Buffer): Buffer =>
  tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, oid), value)));
const OID_O = Buffer.from([0x55, 0x04, 0x0a]);
const OID_X500_UNIQUE_IDENTIFIER = Buffer.from([0x55, 0x04, 0x2d]);
/** `O=Evil` as a constructed (BER) PrintableString of two parts, `Ev` and `il`. */
const BER_O_EVIL = oneAttributeName(
  OID_O,
  tlv(0x33, tlv(0x04, Buffer.from('Ev')), tlv(0x04, Buffer.from('il'))),
);
/** A subjectAltName of one directoryName. */
const dirNameSan = (name: Buffer): string =>
  `DER:${tlv(0x30, tlv(0xa4, name)).toString('hex')}`;
/** x500UniqueIdentifier (a BIT STRING) of one byte with 7 unused bits. */
const uniqueIdName = (lastByte: number): Buffer =>
  oneAttributeName(
    OID_X500_UNIQUE_IDENTIFIER,
    tlv(0x03, Buffer.from([7, lastByte])),
  );
/** Excluded directoryName x500UniqueIdentifier=BIT STRING 1 (unused bits clear). */
const DIR_NOT_UNIQUE_ID = nc([
  `DER:${tlv(0x30, tlv(0xa1, tlv(0x30, tlv(0xa4, uniqueIdName(0x80))))).toString('hex')}`,
]);

/** A DER length. */
function derLength(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
/** Where the DER element at `at` ends. */
function elementEnd(der: Buffer, at: number): number {
  const first = der[at + 1] as number;
  if (first < 0x80) return at + 2 + first;
  let length = 0;
  for (let i = 0; i < (first & 0x7f); i++) {
    length = length * 256 + (der[at + 2 + i] as number);
  }
  return at + 2 + (first & 0x7f) + length;
}
/** Where the contents of the DER element at `at` start. */
const contentsStart = (der: Buffer, at: number): number =>
  at +
  2 +
  ((der[at + 1] as number) < 0x80 ? 0 : (der[at + 1] as number) & 0x7f);

/**
 * `cert` with the OCTET STRING around its (non-critical) subjectAltName made
 * constructed (tag 0x04 becomes 0x24; same length, the SEQUENCE inside its one
 * part), re-signed by `issuer`: openssl's config cannot write it.
 */
function withConstructedSan(cert: TestCert, issuer: TestCert): TestCert {
  const der = new X509Certificate(cert.certPem).raw;
  const tbsAt = contentsStart(der, 0);
  const tbsEnd = elementEnd(der, tbsAt);
  const tbs = Buffer.from(der.subarray(tbsAt, tbsEnd));
  const san = tbs.indexOf(Buffer.from('0603551d1104', 'hex'));
  if (san < 0) throw new Error('no non-critical subjectAltName');
  tbs[san + 5] = 0x24;
  const algorithm = der.subarray(tbsEnd, elementEnd(der, tbsEnd));
  const signature = sign('sha256', tbs, issuer.privateKey);
  const bits = Buffer.concat([
    Buffer.from([0x03]),
    derLength(signature.length + 1),
    Buffer.from([0]),
    signature,
  ]);
  const body = Buffer.concat([tbs, algorithm, bits]);
  const out = Buffer.concat([
    Buffer.from([0x30]),
    derLength(body.length),
    body,
  ]);
  const certPem = new X509Certificate(out).toString();
  const certPath = join(dir, `${cert.name}-constructed-san.pem`);
  writeFileSync(certPath, certPem);
  return { ...cert, certPath, certPem };
}
/**
 * A subjectAltName that reads as a registeredID and DNS:build.example.com,
 * while the primitive contents inside it joined (what OpenSSL reads in a
 * constructed OCTET STRING) are DNS:other.com, DNS:build.example.com.
 */
const SAN_HIDING_OTHER_COM = ((): string => {
  const hidden = Buffer.from('other.com');
  const shown = Buffer.from('build.example.com');
  const prefix = Buffer.concat([
    Buffer.from([
      0x30,
      2 + hidden.length + 2 + shown.length,
      0x82,
      hidden.length,
    ]),
    hidden,
    Buffer.from([0x82, shown.length]),
  ]);
  return `DER:${tlv(0x30, tlv(0x88, prefix), tlv(0x82, shown)).toString('hex')}`;
})();

/** A permitted dNSName subtree with minimum 1 (OpenSSL's config syntax cannot say it). */
const DNS_MINIMUM = nc(['ASN1:SEQUENCE:nc_seq'], {
  sections: [
    '[nc_seq]',
    'permitted=IMP:0,SEQUENCE:nc_subtrees',
    '[nc_subtrees]',
    's1=SEQUENCE:nc_s1',
    '[nc_s1]',
    'base=IMP:2,IA5STRING:example.com',
    'minimum=IMP:0,INTEGER:1',
  ],
});

const rows: Row[] = [
  // dNSName
  {
    name: 'dNSName example.com permits build.example.com',
    chain: () => under(DNS, { san: ['DNS:build.example.com'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'dNSName example.com permits example.com itself',
    chain: () => under(DNS, { san: ['DNS:example.com'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'dNSName example.com does not permit build.badexample.com',
    chain: () => under(DNS, { san: ['DNS:build.badexample.com'] }),
    openssl: false,
    modelseal: false,
    reason:
      'DNS name "build.badexample.com" is not in any permitted dNSName subtree ("example.com")',
  },
  {
    name: 'dNSName .example.com does not permit example.com',
    chain: () => under(DNS_DOT, { san: ['DNS:example.com'] }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'dNSName .example.com permits a.example.com',
    chain: () => under(DNS_DOT, { san: ['DNS:a.example.com'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'dNSName Example.COM permits build.EXAMPLE.com (case-insensitive)',
    chain: () =>
      under(nc(['permitted;DNS:Example.COM']), {
        san: ['DNS:build.EXAMPLE.com'],
      }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'excluded dNSName corp.example.com refuses a.corp.example.com',
    chain: () =>
      under(nc(['excluded;DNS:corp.example.com']), {
        san: ['DNS:a.corp.example.com'],
      }),
    openssl: false,
    modelseal: false,
    reason:
      'DNS name "a.corp.example.com" is in the excluded dNSName subtree "corp.example.com"',
  },
  {
    name: 'excluded dNSName corp.example.com allows a.example.com',
    chain: () =>
      under(nc(['excluded;DNS:corp.example.com']), {
        san: ['DNS:a.example.com'],
      }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'excluded dNSName bar.example.com and a wildcard *.example.com (it stands for bar.example.com)',
    chain: () =>
      under(nc(['permitted;DNS:example.com', 'excluded;DNS:bar.example.com']), {
        san: ['DNS:*.example.com'],
      }),
    openssl: true,
    modelseal: false,
    reason:
      'DNS name "*.example.com" is in the excluded dNSName subtree "bar.example.com"',
    differs:
      'Go 1.24.11 and 1.25.5 and later exclude it (CVE-2025-61727); OpenSSL 3.0 compares the wildcard as a literal name',
  },
  {
    name: 'excluded URI bar.example.com and https://*.example.com/x',
    chain: () =>
      under(nc(['excluded;URI:bar.example.com']), {
        san: ['URI:https://*.example.com/x'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'in the excluded uniformResourceIdentifier subtree',
    differs: 'as for the wildcard dNSName: Go excludes it',
  },
  // rfc822Name
  {
    name: 'rfc822Name release@acme.example permits release@acme.example',
    chain: () => under(EMAIL_MAILBOX, { san: ['email:release@acme.example'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'rfc822Name release@acme.example permits release@ACME.example (host case-insensitive)',
    chain: () => under(EMAIL_MAILBOX, { san: ['email:release@ACME.example'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'rfc822Name release@acme.example does not permit Release@acme.example (local part case-sensitive)',
    chain: () => under(EMAIL_MAILBOX, { san: ['email:Release@acme.example'] }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'rfc822Name acme.example (a host) permits release@acme.example',
    chain: () => under(EMAIL_HOST, { san: ['email:release@acme.example'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'rfc822Name acme.example (a host) does not permit release@ci.acme.example',
    chain: () => under(EMAIL_HOST, { san: ['email:release@ci.acme.example'] }),
    openssl: false,
    modelseal: false,
    reason:
      'email address "release@ci.acme.example" is not in any permitted rfc822Name subtree',
  },
  {
    name: 'rfc822Name .acme.example permits release@ci.acme.example',
    chain: () =>
      under(EMAIL_DOMAIN, { san: ['email:release@ci.acme.example'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'rfc822Name .acme.example does not permit release@acme.example',
    chain: () => under(EMAIL_DOMAIN, { san: ['email:release@acme.example'] }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'excluded rfc822Name .evil.example refuses x@a.evil.example',
    chain: () =>
      under(nc(['excluded;email:.evil.example']), {
        san: ['email:x@a.evil.example'],
      }),
    openssl: false,
    modelseal: false,
    reason: 'is in the excluded rfc822Name subtree ".evil.example"',
  },
  {
    name: 'excluded rfc822Name acme.example (a host) and release@ci.acme.example',
    chain: () =>
      under(nc(['excluded;email:acme.example']), {
        san: ['email:release@ci.acme.example'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'is in the excluded rfc822Name subtree "acme.example"',
    differs:
      'Go reads a host constraint as the host and its subdomains and refuses; an excluded subtree takes the wider reading',
  },
  {
    name: 'the subject emailAddress counts as an rfc822Name',
    chain: () =>
      under(EMAIL_HOST, { subject: '/CN=leaf/emailAddress=x@evil.example' }),
    openssl: false,
    modelseal: false,
    reason: 'subject email address "x@evil.example"',
  },
  // iPAddress
  {
    name: 'iPAddress 10.0.0.0/8 permits 10.1.2.3',
    chain: () => under(IP4, { san: ['IP:10.1.2.3'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'iPAddress 10.0.0.0/8 does not permit 192.168.1.1',
    chain: () => under(IP4, { san: ['IP:192.168.1.1'] }),
    openssl: false,
    modelseal: false,
    reason:
      'IP address "192.168.1.1" is not in any permitted iPAddress subtree ("10.0.0.0/8")',
  },
  {
    name: 'iPAddress fd00::/8 permits fd12::1',
    chain: () => under(IP6, { san: ['IP:fd12::1'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'iPAddress fd00::/8 does not permit 2001:db8::1',
    chain: () => under(IP6, { san: ['IP:2001:db8::1'] }),
    openssl: false,
    modelseal: false,
    reason: 'IP address "2001:db8::1"',
  },
  {
    name: 'iPAddress fd00::/8 does not permit IPv4 10.0.0.1',
    chain: () => under(IP6, { san: ['IP:10.0.0.1'] }),
    openssl: false,
    modelseal: false,
    reason:
      'IP address "10.0.0.1" is not in any permitted iPAddress subtree ("fd00::/8")',
  },
  {
    name: 'excluded iPAddress 10.0.0.0/8 refuses 10.1.2.3',
    chain: () =>
      under(nc(['excluded;IP:10.0.0.0/255.0.0.0']), { san: ['IP:10.1.2.3'] }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'excluded iPAddress 10.0.0.0/8 allows 192.168.1.1',
    chain: () =>
      under(nc(['excluded;IP:10.0.0.0/255.0.0.0']), {
        san: ['IP:192.168.1.1'],
      }),
    openssl: true,
    modelseal: true,
  },
  // uniformResourceIdentifier
  {
    name: 'URI .example.com permits https://ci.example.com/job/1',
    chain: () =>
      under(URI_DOMAIN, { san: ['URI:https://ci.example.com/job/1'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'URI .example.com does not permit https://ci.other.com/job',
    chain: () => under(URI_DOMAIN, { san: ['URI:https://ci.other.com/job'] }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'URI ci.example.com permits https://CI.Example.com:8443/x',
    chain: () =>
      under(URI_HOST, { san: ['URI:https://CI.Example.com:8443/x'] }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'URI ci.example.com does not permit https://a.ci.example.com/x (a host, not a domain)',
    chain: () => under(URI_HOST, { san: ['URI:https://a.ci.example.com/x'] }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'URI ci.example.com and https://ci.example.com/a:b (OpenSSL reads host ci.example.com/a)',
    chain: () => under(URI_HOST, { san: ['URI:https://ci.example.com/a:b'] }),
    openssl: false,
    modelseal: false,
    reason: 'has a host that URI parsers read differently',
  },
  {
    name: 'URI .example.com and a URI without host (urn:example:x)',
    chain: () => under(URI_DOMAIN, { san: ['URI:urn:example:x'] }),
    openssl: false,
    modelseal: false,
    reason: 'URI "urn:example:x" has no authority',
  },
  {
    name: 'URI .example.com and https://10.0.0.1/x (an IP address as host)',
    chain: () => under(URI_DOMAIN, { san: ['URI:https://10.0.0.1/x'] }),
    openssl: false,
    modelseal: false,
    reason: 'has an IP address as its host',
  },
  {
    name: 'excluded URI .evil.example and https://[::1]/x (an IP address as host)',
    chain: () =>
      under(nc(['excluded;URI:.evil.example']), {
        san: ['URI:https://[::1]/x'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'has an IP address as its host',
    differs:
      'RFC 5280 says to reject a URI whose host is an IP address; Go does, OpenSSL reads the host as "["',
  },
  {
    name: 'excluded URI .example.com refuses https://ci.example.com/x',
    chain: () =>
      under(nc(['excluded;URI:.example.com']), {
        san: ['URI:https://ci.example.com/x'],
      }),
    openssl: false,
    modelseal: false,
  },
  // directoryName
  {
    name: 'directoryName O=Acme permits O=Acme, CN=leaf',
    chain: () => under(DIR_ACME, { subject: '/O=Acme/CN=leaf' }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'directoryName O=Acme permits O=ACME, CN=leaf (case-insensitive)',
    chain: () => under(DIR_ACME, { subject: '/O=ACME/CN=leaf' }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'directoryName O=Acme does not permit O=Evil, CN=leaf',
    chain: () => under(DIR_ACME, { subject: '/O=Evil/CN=leaf' }),
    openssl: false,
    modelseal: false,
    reason:
      'subject "O=Evil, CN=leaf" is not in any permitted directoryName subtree ("O=Acme")',
  },
  {
    name: 'directoryName O=Acme does not permit CN=leaf, O=Acme (not a prefix)',
    chain: () => under(DIR_ACME, { subject: '/CN=leaf/O=Acme' }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'directoryName O=Acme and a directoryName SAN O=Evil',
    chain: () =>
      under(DIR_ACME, {
        subject: '/O=Acme/CN=leaf',
        san: ['dirName:san_evil'],
        sections: ['[san_evil]', 'O=Evil'],
      }),
    openssl: false,
    modelseal: false,
    reason: 'directory name "O=Evil"',
  },
  {
    name: 'excluded directoryName O=Evil refuses O="  EVIL ", CN=leaf (spaces and case)',
    chain: () => under(DIR_NOT_EVIL, { subject: '/O=  EVIL /CN=leaf' }),
    openssl: false,
    modelseal: false,
    reason: 'is in the excluded directoryName subtree "O=Evil"',
  },
  {
    name: 'directoryName O=Acme permits a PrintableString O="  ACME" (string types compared as OpenSSL does)',
    chain: () =>
      under(DIR_ACME, {
        subject: '/O=  ACME/CN=leaf',
        sections: stringMask('default'),
      }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'directoryName O=Acme permits a BMPString O=ACME',
    chain: () =>
      under(DIR_ACME, {
        subject: '/O=ACME/CN=leaf',
        sections: stringMask('MASK:0x800'),
      }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'directoryName O=Acme permits a UniversalString O=ACME',
    chain: () =>
      under(DIR_ACME, {
        subject: '/O=ACME/CN=leaf',
        sections: stringMask('MASK:0x100'),
      }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'directoryName O=Acme permits a TeletexString O=ACME',
    chain: () =>
      under(DIR_ACME, {
        subject: '/O=ACME/CN=leaf',
        sections: stringMask('MASK:0x4'),
      }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'directoryName O=Acme does not permit a BMPString O=Ācme (only ASCII letters fold)',
    chain: () =>
      under(DIR_ACME, {
        subject: '/O=\u0100cme/CN=leaf',
        sections: stringMask('MASK:0x800'),
      }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'excluded directoryName O=Evil allows O=Acme, CN=leaf',
    chain: () => under(DIR_NOT_EVIL, { subject: '/O=Acme/CN=leaf' }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'excluded directoryName O=Evil and a directoryName O=Evil written as a constructed (BER) string',
    chain: () => under(DIR_NOT_EVIL, { san: [dirNameSan(BER_O_EVIL)] }),
    openssl: false,
    modelseal: false,
    reason:
      'a directoryName has an attribute value in a constructed encoding (tag 0x33)',
  },
  {
    name: 'excluded directoryName x500UniqueIdentifier=#0780 and a BIT STRING #07FF (unused bits set)',
    chain: () =>
      under(DIR_NOT_UNIQUE_ID, { san: [dirNameSan(uniqueIdName(0xff))] }),
    openssl: false,
    modelseal: false,
    reason: 'a directoryName has a BIT STRING attribute value that is not DER',
  },
  {
    name: 'excluded directoryName x500UniqueIdentifier=#0780 allows #0700',
    chain: () =>
      under(DIR_NOT_UNIQUE_ID, { san: [dirNameSan(uniqueIdName(0x00))] }),
    openssl: true,
    modelseal: true,
  },
  // where the constraint sits
  {
    name: 'on the root: dNSName example.com permits build.example.com',
    chain: () => {
      const r = rootWith(DNS);
      const inter = ca([], r);
      return {
        leaf: leaf(inter, { san: ['DNS:build.example.com'] }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: true,
    modelseal: true,
  },
  {
    name: 'on the root: dNSName example.com does not permit build.other.com',
    chain: () => {
      const r = rootWith(DNS);
      const inter = ca([], r);
      return {
        leaf: leaf(inter, { san: ['DNS:build.other.com'] }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: false,
    modelseal: false,
  },
  {
    name: 'on the root: directoryName O=Acme applies to the intermediate CN=inter too',
    chain: () => {
      const r = rootWith(DIR_ACME, '/O=Acme/CN=nc-root');
      const inter = ca([], r, '/CN=plain-inter');
      return {
        leaf: leaf(inter, { subject: '/O=Acme/CN=leaf' }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: false,
    modelseal: false,
    reason: 'do not allow certificate CN=plain-inter',
  },
  {
    name: 'on the root: directoryName O=Acme, intermediate and leaf under O=Acme',
    chain: () => {
      const r = rootWith(DIR_ACME, '/O=Acme/CN=nc-root');
      const inter = ca([], r, '/O=Acme/CN=acme-inter');
      return {
        leaf: leaf(inter, { subject: '/O=Acme/CN=leaf' }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: true,
    modelseal: true,
  },
  {
    name: 'the constrained intermediate as the trust anchor still constrains',
    chain: () => {
      const inter = ca(EMAIL_HOST);
      return {
        leaf: leaf(inter, { san: ['email:x@evil.example'] }),
        intermediates: [],
        anchor: inter,
      };
    },
    openssl: false,
    modelseal: false,
  },
  // two constrained CAs: the intersection
  {
    name: 'root example.com and intermediate ci.example.com permit a.ci.example.com',
    chain: () => {
      const r = rootWith(DNS);
      const inter = ca(nc(['permitted;DNS:ci.example.com']), r);
      return {
        leaf: leaf(inter, { san: ['DNS:a.ci.example.com'] }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: true,
    modelseal: true,
  },
  {
    name: 'root example.com and intermediate ci.example.com: the intermediate refuses a.example.com',
    chain: () => {
      const r = rootWith(DNS);
      const inter = ca(nc(['permitted;DNS:ci.example.com']), r);
      return {
        leaf: leaf(inter, { san: ['DNS:a.example.com'] }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: false,
    modelseal: false,
  },
  {
    name: 'root example.com and intermediate other.com: the root refuses x.other.com',
    chain: () => {
      const r = rootWith(DNS, '/CN=dns-root');
      const inter = ca(nc(['permitted;DNS:other.com']), r);
      return {
        leaf: leaf(inter, { san: ['DNS:x.other.com'] }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: false,
    modelseal: false,
    reason: 'the name constraints of certificate CN=dns-root',
  },
  // types and fields modelseal does not check
  {
    name: 'a registeredID constraint, leaf without a registeredID',
    chain: () =>
      under(nc(['permitted;RID:1.2.3.4']), {
        san: ['email:release@acme.example'],
      }),
    openssl: true,
    modelseal: false,
    reason:
      'a permitted registeredID constraint, a type modelseal does not check',
    differs:
      'OpenSSL fails only when a name of that type is present, Go when the extension is critical; modelseal cannot check the type',
  },
  {
    name: 'a registeredID constraint, leaf with a registeredID',
    chain: () => under(nc(['permitted;RID:1.2.3.4']), { san: ['RID:1.2.3.4'] }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'an otherName constraint',
    chain: () =>
      under(nc(['permitted;otherName:1.2.3.4;UTF8:team']), {
        san: ['email:release@acme.example'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'a permitted otherName constraint (1.2.3.4)',
    differs: 'as for registeredID',
  },
  {
    name: 'a dNSName subtree with minimum 1, leaf with a dNSName',
    chain: () => under(DNS_MINIMUM, { san: ['DNS:a.example.com'] }),
    openssl: false,
    modelseal: false,
    reason: 'with a minimum or maximum',
  },
  {
    name: 'a dNSName subtree with minimum 1, leaf without a dNSName',
    chain: () => under(DNS_MINIMUM, { san: ['email:release@acme.example'] }),
    openssl: true,
    modelseal: false,
    reason: 'with a minimum or maximum',
    differs:
      'OpenSSL checks minimum and maximum only against names of the type; Go ignores them',
  },
  // no subjectAltName; the common name as a host name
  {
    name: 'dNSName example.com, leaf CN=leaf without subjectAltName',
    chain: () => under(DNS, { subject: '/CN=leaf' }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'rfc822Name acme.example, leaf CN=leaf without subjectAltName',
    chain: () => under(EMAIL_HOST, { subject: '/CN=leaf' }),
    openssl: true,
    modelseal: true,
  },
  {
    name: 'dNSName example.com, leaf CN=build.other.com without subjectAltName (CN read as a host name)',
    chain: () => under(DNS, { subject: '/CN=build.other.com' }),
    openssl: false,
    modelseal: false,
    reason: 'common name (read as a host name) "build.other.com"',
  },
  {
    name: 'dNSName example.com, leaf CN=build.other.com with only an rfc822Name',
    chain: () =>
      under(DNS, {
        subject: '/CN=build.other.com',
        san: ['email:release@acme.example'],
      }),
    openssl: false,
    modelseal: false,
  },
  {
    name: 'dNSName example.com, leaf CN=build.other.com with dNSName build.example.com',
    chain: () =>
      under(DNS, {
        subject: '/CN=build.other.com',
        san: ['DNS:build.example.com'],
      }),
    openssl: true,
    modelseal: true,
  },
  // names of intermediates
  {
    name: 'on the root: dNSName example.com and an intermediate with dNSName ca.other.com',
    chain: () => {
      const r = rootWith(DNS);
      const inter = ca(['subjectAltName=DNS:ca.other.com'], r);
      return {
        leaf: leaf(inter, { san: ['DNS:build.example.com'] }),
        intermediates: [inter],
        anchor: r,
      };
    },
    openssl: false,
    modelseal: false,
    reason: 'DNS name "ca.other.com"',
  },
  {
    name: 'a self-issued certificate (key rollover) of the CA with directoryName O=Acme: its subject CN=rollover-ca is not checked, RFC 5280 §6.1.3',
    chain: () => {
      const inter = ca(DIR_ACME, root, '/CN=rollover-ca');
      // Self-issued: subject = issuer = CN=rollover-ca, a new key.
      const rolled = ca([], inter, '/CN=rollover-ca');
      return {
        leaf: leaf(rolled, { subject: '/O=Acme/CN=leaf' }),
        intermediates: [rolled, inter],
        anchor: root,
      };
    },
    openssl: true,
    modelseal: true,
  },
  {
    name: 'on the root: the dNSName of a self-issued intermediate is checked, as Go does',
    chain: () => {
      const r = rootWith(DNS);
      const inter = ca([], r, '/CN=rollover-ca');
      const rolled = ca(
        ['subjectAltName=DNS:ca.other.com'],
        inter,
        '/CN=rollover-ca',
      );
      return {
        leaf: leaf(rolled, { san: ['DNS:build.example.com'] }),
        intermediates: [rolled, inter],
        anchor: r,
      };
    },
    openssl: true,
    modelseal: false,
    reason: 'DNS name "ca.other.com" is not in any permitted dNSName subtree',
    differs:
      'RFC 5280 §6.1.3 and OpenSSL skip a self-issued certificate; Go 1.21 and later check the subjectAltName of every certificate below the constrained one',
  },
  {
    name: 'dNSName example.com and a subjectAltName in a constructed OCTET STRING that OpenSSL reads as DNS:other.com',
    chain: () => {
      const inter = ca(DNS);
      return {
        leaf: withConstructedSan(
          leaf(inter, { san: [SAN_HIDING_OTHER_COM] }),
          inter,
        ),
        intermediates: [inter],
        anchor: root,
      };
    },
    openssl: false,
    modelseal: false,
    reason:
      'has a malformed extension 2.5.29.17: its value is not a primitive OCTET STRING',
  },
  {
    name: 'a leaf with an empty subject outside the subtree is refused with its serial number',
    chain: () =>
      under(DNS, {
        subject: '/',
        san: ['critical', 'DNS:build.other.com'],
      }),
    openssl: false,
    modelseal: false,
    reason: 'certificate with an empty subject (serial',
  },
  // malformed or unreadable
  {
    name: 'an empty nameConstraints extension',
    chain: () =>
      under(nc(['ASN1:SEQUENCE:nc_empty'], { sections: ['[nc_empty]'] }), {
        san: ['DNS:build.example.com'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'an empty or malformed nameConstraints extension',
    differs:
      'RFC 5280 §4.2.1.10 forbids an empty extension; refused as malformed',
  },
  {
    name: 'an iPAddress subtree with the non-contiguous mask 255.0.255.0',
    chain: () =>
      under(nc(['permitted;IP:10.0.0.0/255.0.255.0']), {
        san: ['IP:10.5.0.1'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'non-contiguous mask 255.0.255.0',
    differs: 'Go refuses such a certificate when it parses it',
  },
  {
    name: 'dNSName example.com and a dNSName with an empty label (a..example.com)',
    chain: () => under(DNS, { san: ['DNS:a..example.com'] }),
    openssl: true,
    modelseal: false,
    reason: 'the dNSName "a..example.com" is malformed',
    differs: 'Go refuses a dNSName it cannot parse',
  },
  {
    name: 'URI ci.example.com and https://evil@ci.example.com/ (user information)',
    chain: () => under(URI_HOST, { san: ['URI:https://evil@ci.example.com/'] }),
    openssl: false,
    modelseal: false,
    reason: 'has user information before its host',
  },
  {
    name: 'rfc822Name acme.example and an SmtpUTF8Mailbox otherName',
    chain: () =>
      under(EMAIL_HOST, {
        san: ['otherName:1.3.6.1.5.5.7.8.9;UTF8:release@acme.example'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'SmtpUTF8Mailbox',
    differs:
      'modelseal does not read SmtpUTF8Mailbox (RFC 9598) names, which OpenSSL checks against rfc822Name subtrees and Go ignores',
  },
  {
    name: 'dNSName example.com, leaf without subjectAltName, BMPString CN=build.other.com',
    chain: () =>
      under(DNS, {
        subject: '/CN=build.other.com',
        sections: stringMask('MASK:0x800'),
      }),
    openssl: false,
    modelseal: false,
    reason: 'common name (read as a host name) "build.other.com"',
  },
  {
    name: 'rfc822Name acme.example and an rfc822Name without @ (not-a-mailbox)',
    chain: () => under(EMAIL_HOST, { san: ['email:not-a-mailbox'] }),
    openssl: false,
    modelseal: false,
    reason: 'the rfc822Name "not-a-mailbox" is not a mailbox',
  },
  {
    name: 'dNSName example.com and an rfc822Name without @ (not-a-mailbox)',
    chain: () =>
      under(DNS, { san: ['DNS:a.example.com', 'email:not-a-mailbox'] }),
    openssl: true,
    modelseal: false,
    reason: 'the rfc822Name "not-a-mailbox" is not a mailbox',
    differs:
      'Go refuses an rfc822Name it cannot parse under any name constraints; OpenSSL reads it only against rfc822Name subtrees',
  },
  {
    name: 'an rfc822Name constraint @acme.example (no local part)',
    chain: () =>
      under(nc(['permitted;email:@acme.example']), {
        san: ['email:release@acme.example'],
      }),
    openssl: true,
    modelseal: false,
    reason: 'a malformed permitted rfc822Name constraint "@acme.example"',
    differs: 'Go refuses such a certificate when it parses it',
  },
  {
    name: 'an iPAddress subtree of 5 bytes, leaf with an iPAddress',
    chain: () =>
      under(
        nc(['ASN1:SEQUENCE:nc_seq'], {
          sections: [
            '[nc_seq]',
            'permitted=IMP:0,SEQUENCE:nc_subtrees',
            '[nc_subtrees]',
            's1=SEQUENCE:nc_s1',
            '[nc_s1]',
            'base=IMP:7,FORMAT:HEX,OCTETSTRING:0A000000FF',
          ],
        }),
        { san: ['IP:10.0.0.1'] },
      ),
    openssl: false,
    modelseal: false,
    reason: 'a permitted iPAddress constraint of 5 bytes',
  },
  {
    name: 'a nameConstraints extension with an unknown [2] part',
    chain: () =>
      under(
        nc(['ASN1:SEQUENCE:nc_seq'], {
          sections: [
            '[nc_seq]',
            'permitted=IMP:0,SEQUENCE:nc_subtrees',
            'other=IMP:2,SEQUENCE:nc_subtrees',
            '[nc_subtrees]',
            's1=SEQUENCE:nc_s1',
            '[nc_s1]',
            'base=IMP:2,IA5STRING:example.com',
          ],
        }),
        { san: ['DNS:a.example.com'] },
      ),
    openssl: false,
    modelseal: false,
    // OpenSSL marks the CA invalid, and Node's checkIssued (OpenSSL's
    // X509_check_issued) with it: the CA is never taken as the issuer.
    reason: 'does not chain to a trusted CA',
  },
  {
    name: 'a non-critical nameConstraints extension is enforced as well',
    chain: () =>
      under(nc(['permitted;email:team-a.example'], { critical: false }), {
        san: ['email:release@acme.example'],
      }),
    openssl: false,
    modelseal: false,
  },
];

beforeAll(() => {
  dir = tempDir('modelseal-nc-');
  model = makeTree({ 'weights.bin': 'weights' });
  root = issue(dir, {
    name: 'nc-root',
    days: 3650,
    extensions: ROOT_EXTENSIONS,
  });
});
afterAll(() => cas.clear());

describe('modelseal and openssl verify -x509_strict agree', () => {
  it.each(rows)('$name', async (row) => {
    // A row differs from OpenSSL exactly when it says why.
    expect(row.openssl === row.modelseal).toBe(row.differs === undefined);
    const chain = row.chain();
    const openssl = opensslVerify(dir, chain);
    expect(openssl.ok, openssl.output).toBe(row.openssl);
    const ours = await modelseal(chain);
    expect(ours.ok, ours.message).toBe(row.modelseal);
    if (row.reason !== undefined) expect(ours.message).toContain(row.reason);
  });
});

describe('bounds', () => {
  it(`past ${MAX_NAME_CONSTRAINT_CHECKS} name comparisons the path is refused (OpenSSL allows 2^20)`, async () => {
    // 300 permitted dNSName subtrees × 250 dNSNames = 75,000 comparisons.
    const subtrees = Array.from(
      { length: 299 },
      (_, i) => `permitted;DNS:c${i}.example`,
    );
    const inter = ca(nc([...subtrees, 'permitted;DNS:example.com']));
    const names = Array.from(
      { length: 250 },
      (_, i) => `DNS:h${i}.example.com`,
    );
    const chain: TestChain = {
      leaf: leaf(inter, { san: names }),
      intermediates: [inter],
      anchor: root,
    };
    expect(opensslVerify(dir, chain).ok).toBe(true);
    const ours = await modelseal(chain);
    expect(ours.ok).toBe(false);
    expect(ours.message).toContain(
      `gave up after ${MAX_NAME_CONSTRAINT_CHECKS} name constraint comparisons`,
    );
    // A tenth of the names fits.
    const small: TestChain = {
      ...chain,
      leaf: leaf(inter, { san: names.slice(0, 25) }),
    };
    expect(opensslVerify(dir, small).ok).toBe(true);
    expect((await modelseal(small)).ok).toBe(true);
  });
});

describe('X.509 v1 certificates', () => {
  it('a self-signed v1 root is a trust anchor that may issue, as OpenSSL without -x509_strict and Go accept', async () => {
    const v1 = issueV1(dir, { name: 'v1-root' });
    const chain: TestChain = {
      leaf: issue(dir, {
        name: 'v1-root-leaf',
        issuer: v1,
        extensions: [
          ...LEAF_EXTENSIONS.filter((e) => !e.startsWith('authorityKey')),
          'authorityKeyIdentifier=issuer:always',
        ],
      }),
      intermediates: [],
      anchor: v1,
    };
    expect(opensslVerify(dir, chain, { strict: false }).ok).toBe(true);
    // -x509_strict refuses it ("invalid CA certificate"); modelseal follows
    // the default, which cosign's Go verifier shares.
    const strict = opensslVerify(dir, chain);
    expect(strict.ok).toBe(false);
    expect(strict.output).toContain('invalid CA certificate');
    const ours = await modelseal(chain);
    expect(ours.ok, ours.message).toBe(true);
  });

  it('a v1 intermediate is not a CA (OpenSSL refuses it too)', async () => {
    const inter = issueV1(dir, {
      name: 'v1-inter',
      issuer: root,
      subject: '/CN=v1-inter',
    });
    const chain: TestChain = {
      leaf: issue(dir, {
        name: 'v1-inter-leaf',
        issuer: inter,
        extensions: LEAF_EXTENSIONS.filter(
          (e) => !e.startsWith('authorityKey'),
        ),
      }),
      intermediates: [inter],
      anchor: root,
    };
    expect(opensslVerify(dir, chain, { strict: false }).ok).toBe(false);
    const ours = await modelseal(chain);
    expect(ours.ok).toBe(false);
    expect(ours.message).toContain('CN=v1-inter');
    expect(ours.message).toContain('is not a CA');
  });

  it('a v1 root given as an intermediate, not trusted, does not issue', async () => {
    const v1 = issueV1(dir, { name: 'v1-untrusted' });
    const chain: TestChain = {
      leaf: issue(dir, {
        name: 'v1-untrusted-leaf',
        issuer: v1,
        extensions: LEAF_EXTENSIONS.filter(
          (e) => !e.startsWith('authorityKey'),
        ),
      }),
      intermediates: [v1],
      anchor: root,
    };
    expect(opensslVerify(dir, chain, { strict: false }).ok).toBe(false);
    expect((await modelseal(chain)).ok).toBe(false);
  });
});
