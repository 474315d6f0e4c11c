// SPDX-License-Identifier: Apache-2.0
/**
 * Certificate path building by signature (oms-format.md §14.2).
 *
 * The test PKI of the reference is built to trap name-based builders: its
 * leaf has subject = issuer = the intermediate's name. So a path is only ever
 * extended by a certificate whose key verifies the current certificate's
 * signature, and "subject equals issuer" never means self-signed here.
 */
import type { X509Certificate } from 'node:crypto';
import type { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { sigstoreCore } from '../internal/lazy.js';
import { ModelSealError } from '../errors.js';
import {
  certificateNames,
  isSelfIssued,
  MAX_NAME_CONSTRAINT_CHECKS,
  NameCheckLimitError,
  nameConstraintsViolation,
  nameProblem,
  readNameConstraints,
  tbsFields,
  type CertificateName,
  type NameConstraints,
} from './name-constraints.js';

/** Longest path we build (leaf, intermediates, anchor). */
export const MAX_PATH_LENGTH = 10;
/** Most certificates a bundle may offer as intermediates. */
export const MAX_INTERMEDIATES = 32;
/** Most issuer checks (signature verifications) one path search may make. */
const MAX_ISSUER_CHECKS = 2000;

const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
/** Extensions this verifier processes (or that carry no constraint on the path). */
const UNDERSTOOD_CRITICAL = new Set([
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.30', // nameConstraints
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.37', // extKeyUsage
]);

/** A value read once, or why it could not be read. */
type Read<T> = { value: T } | { problem: string };

/** Parsed view of one certificate, with what path building needs. */
interface CertInfo {
  node: X509Certificate;
  der: Buffer;
  parsed: SigstoreX509;
  /** Its name constraints, read on first use. */
  constraints?: Read<NameConstraints | undefined>;
  /** Its names, read on first use (as the leaf or as a CA). */
  names?: Read<CertificateName[]>;
}

function read<T>(get: () => T): Read<T> {
  try {
    return { value: get() };
  } catch (error) {
    return { problem: nameProblem(error) };
  }
}

function invalid(
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): ModelSealError {
  return new ModelSealError({
    code: 'CERTIFICATE_INVALID',
    message,
    ...(details === undefined ? {} : { details }),
    ...(cause === undefined ? {} : { cause }),
  });
}

function info(node: X509Certificate): CertInfo {
  try {
    return {
      node,
      der: node.raw,
      parsed: sigstoreCore().X509Certificate.parse(node.raw),
    };
  } catch (error) {
    throw invalid(
      `certificate ${node.subject.replace(/\n/g, ', ')} cannot be parsed`,
      undefined,
      error,
    );
  }
}

/**
 * `CN=a, O=b` from Node's multi-line distinguished name text; '' for an empty
 * name, for which Node gives `undefined` whatever its type says.
 */
export function distinguishedName(text: string | undefined): string {
  return (text ?? '').split('\n').filter(Boolean).join(', ');
}

function describe(cert: CertInfo): string {
  const name = distinguishedName(cert.node.subject);
  return `${name === '' ? 'with an empty subject' : name} (serial ${cert.node.serialNumber})`;
}

/**
 * The OID of a critical extension this verifier does not process, if any.
 *
 * @throws ModelSealError when an extension is malformed, its value included:
 *   it must be a primitive OCTET STRING, as DER requires, since OpenSSL reads
 *   a constructed one as the primitive contents inside it joined (another
 *   subjectAltName, say, than the one `@sigstore/core` reads)
 */
function criticalUnknown(cert: CertInfo): string | undefined {
  let badValue: string | undefined;
  try {
    for (const ext of cert.parsed.extensions) {
      const oid = ext.subs[0]?.toOID();
      const value = ext.subs[ext.subs.length - 1];
      if (value?.tag.isOctetString() !== true || value.tag.constructed) {
        badValue = oid ?? 'without an OID';
        break;
      }
      const critical =
        ext.subs.length === 3 && ext.subs[1]?.toBoolean() === true;
      if (critical && oid !== undefined && !UNDERSTOOD_CRITICAL.has(oid))
        return oid;
    }
  } catch (error) {
    throw invalid(
      `certificate ${describe(cert)} has malformed extensions`,
      undefined,
      error,
    );
  }
  if (badValue !== undefined) {
    throw invalid(
      `certificate ${describe(cert)} has a malformed extension ${badValue}: its value is not a primitive OCTET STRING`,
    );
  }
  return undefined;
}

function checkValidity(cert: CertInfo, time: Date): void {
  const notBefore = cert.node.validFromDate;
  const notAfter = cert.node.validToDate;
  if (time < notBefore || time > notAfter) {
    throw invalid(
      `certificate ${describe(cert)} is not valid at ${time.toISOString()} (valid from ${notBefore.toISOString()} to ${notAfter.toISOString()})`,
      {
        subject: distinguishedName(cert.node.subject),
        notBefore,
        notAfter,
        time,
      },
    );
  }
  const oid = criticalUnknown(cert);
  if (oid !== undefined) {
    throw invalid(
      `certificate ${describe(cert)} has an unsupported critical extension ${oid}`,
    );
  }
}

/** Extended key usage OIDs of a certificate; `undefined` without the extension. */
function extendedKeyUsages(cert: CertInfo): string[] | undefined {
  const ext = cert.parsed.extension(OID_EXT_KEY_USAGE);
  if (ext === undefined) return undefined;
  try {
    const seq = ext.valueObj.subs[0];
    if (seq === undefined) throw new Error('empty extension');
    return seq.subs.map((s) => s.toOID());
  } catch (error) {
    throw invalid(
      `certificate ${describe(cert)} has a malformed extended key usage`,
      undefined,
      error,
    );
  }
}

/**
 * The leaf must be allowed to sign: keyUsage digitalSignature or extended key
 * usage codeSigning (oms-format.md §14.2).
 */
function checkLeafUsage(leaf: CertInfo): void {
  let digitalSignature: boolean;
  try {
    digitalSignature =
      leaf.parsed.extension(OID_KEY_USAGE) !== undefined &&
      leaf.parsed.extKeyUsage?.digitalSignature === true;
  } catch (error) {
    throw invalid(
      `certificate ${describe(leaf)} has a malformed key usage`,
      undefined,
      error,
    );
  }
  const codeSigning =
    extendedKeyUsages(leaf)?.includes(OID_CODE_SIGNING) === true;
  if (!digitalSignature && !codeSigning) {
    throw invalid(
      `certificate ${describe(leaf)} may not sign: it has neither key usage digitalSignature nor extended key usage codeSigning`,
    );
  }
}

/**
 * Why `cert` may not sign payloads (no keyUsage digitalSignature and no
 * extKeyUsage codeSigning), or `undefined` when it may.
 */
export function leafSigningProblem(cert: X509Certificate): string | undefined {
  try {
    checkLeafUsage(info(cert));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function isCA(cert: CertInfo): boolean {
  try {
    return cert.parsed.extBasicConstraints?.isCA === true;
  } catch {
    return false;
  }
}

/**
 * An X.509 v1 certificate whose own key verifies its signature, subject and
 * issuer the same bytes. Trusted as an anchor, it may issue certificates, as
 * OpenSSL (without -x509_strict) and Go accept: a v1 certificate has no
 * basicConstraints to say otherwise. Never accepted as an intermediate.
 */
function isV1SelfSigned(cert: CertInfo): boolean {
  try {
    return (
      tbsFields(cert.parsed).version === 0 &&
      isSelfIssued(cert.parsed) &&
      cert.node.verify(cert.node.publicKey)
    );
  } catch {
    return false;
  }
}

/** keyUsage, when present, must allow keyCertSign (RFC 5280 §4.2.1.3). */
function mayCertify(cert: CertInfo): boolean {
  try {
    const keyUsage = cert.parsed.extKeyUsage;
    return keyUsage === undefined || keyUsage.keyCertSign;
  } catch {
    return false;
  }
}

function pathLenAllows(cert: CertInfo, belowCount: number): boolean {
  try {
    const limit = cert.parsed.extBasicConstraints?.pathLenConstraint;
    // belowCount = number of non-leaf CA certificates under this one.
    return limit === undefined || BigInt(belowCount) <= limit;
  } catch {
    return false;
  }
}

/**
 * Why `issuer` (an intermediate or a trust anchor alike) may not have issued
 * `subject` on this path, or `undefined` when it may: it must be a CA
 * (basicConstraints CA:TRUE, or a self-signed v1 trust anchor), allowed
 * keyCertSign when it has a keyUsage, and within its pathLenConstraint for the
 * `below` CA certificates under it.
 */
function issuerProblem(
  issuer: CertInfo,
  subject: CertInfo,
  below: number,
  anchor: boolean,
): string | undefined {
  if (!isCA(issuer) && !(anchor && isV1SelfSigned(issuer))) {
    return `certificate ${describe(issuer)} issued ${describe(subject)} but is not a CA (basicConstraints CA:TRUE)`;
  }
  if (!mayCertify(issuer)) {
    return `certificate ${describe(issuer)} issued ${describe(subject)} but its key usage does not allow keyCertSign`;
  }
  if (!pathLenAllows(issuer, below)) {
    return `certificate ${describe(issuer)} forbids a path this long (pathLenConstraint exceeded)`;
  }
  return undefined;
}

function selfIssued(cert: CertInfo): boolean {
  try {
    return isSelfIssued(cert.parsed);
  } catch {
    return false; // unreadable: check its names (they fail to read too)
  }
}

/**
 * Why the name constraints of `ca` refuse the certificates `below` it on the
 * path (leaf first), or `undefined` when they allow them (RFC 5280 §6.1.3
 * (b), (c)). Of a self-issued certificate other than the leaf only the
 * subjectAltName is checked: RFC 5280 and OpenSSL skip it, Go checks its
 * subjectAltName.
 *
 * @throws NameCheckLimitError when `budget` runs out
 */
function nameConstraintsProblem(
  ca: CertInfo,
  below: readonly CertInfo[],
  budget: { left: number },
): string | undefined {
  ca.constraints ??= read(() => readNameConstraints(ca.parsed));
  if ('problem' in ca.constraints) {
    return `certificate ${describe(ca)} has name constraints that modelseal cannot check: ${ca.constraints.problem}`;
  }
  const constraints = ca.constraints.value;
  if (constraints === undefined) return undefined;
  for (const [i, cert] of below.entries()) {
    // A certificate other than the leaf has the same role on every path.
    const role = i === 0 ? 'leaf' : selfIssued(cert) ? 'self-issued ca' : 'ca';
    cert.names ??= read(() => certificateNames(cert.parsed, role));
    if ('problem' in cert.names) {
      return `certificate ${describe(cert)} has a name that cannot be checked against the name constraints of ${describe(ca)}: ${cert.names.problem}`;
    }
    const violation = nameConstraintsViolation(
      constraints,
      cert.names.value,
      budget,
    );
    if (violation !== undefined) {
      return `the name constraints of certificate ${describe(ca)} do not allow certificate ${describe(cert)}: ${violation}`;
    }
  }
  return undefined;
}

function issues(issuer: CertInfo, subject: CertInfo): boolean {
  try {
    // checkIssued: names, key identifiers, issuer keyUsage; verify: the signature.
    return (
      subject.node.checkIssued(issuer.node) &&
      subject.node.verify(issuer.node.publicKey)
    );
  } catch {
    return false;
  }
}

/** Result of {@link buildCertificatePath}. */
export interface CertificatePath {
  /** Leaf first, trust anchor last (a single certificate when the leaf is an anchor). */
  path: X509Certificate[];
  /** The trust anchor the path ends at. */
  anchor: X509Certificate;
}

/**
 * Build and check a path from `leaf` to one of `anchors`, extending it only by
 * certificates whose key verifies the current certificate's signature.
 * Every certificate on the path must be valid at `time`; every issuer on it,
 * intermediate or anchor, must be a CA certificate (basicConstraints CA:TRUE,
 * keyCertSign when it has a keyUsage; or a self-signed X.509 v1 anchor)
 * within its path length, and the names of every certificate below it must
 * satisfy its name constraints (./name-constraints.ts); the leaf must be
 * allowed to sign (keyUsage digitalSignature or extKeyUsage codeSigning). A
 * leaf byte-identical to an anchor is accepted directly.
 *
 * @param intermediates - untrusted candidates (the bundle's `certificates[1:]`)
 * @param anchors - the caller's trust anchors; each is trusted as is
 * @throws ModelSealError `CERTIFICATE_INVALID`
 */
export function buildCertificatePath(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  time: Date,
): CertificatePath {
  if (anchors.length === 0) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message:
        'no trust anchors given: certificate verification needs the CA certificates to trust',
    });
  }
  const leafInfo = info(leaf);
  checkValidity(leafInfo, time);
  checkLeafUsage(leafInfo);
  const anchorInfos = anchors.map(info);
  const isAnchor = (c: CertInfo): boolean =>
    anchorInfos.some((a) => a.der.equals(c.der));
  if (isAnchor(leafInfo)) return { path: [leaf], anchor: leaf };

  if (intermediates.length > MAX_INTERMEDIATES) {
    throw invalid(
      `the bundle carries ${intermediates.length} chain certificates, more than ${MAX_INTERMEDIATES}`,
    );
  }
  const candidates: CertInfo[] = [];
  for (const c of [...anchorInfos, ...intermediates.map(info)]) {
    if (!candidates.some((x) => x.der.equals(c.der))) candidates.push(c);
  }

  let lastProblem: string | undefined;
  let checks = 0;
  const budget = { left: MAX_NAME_CONSTRAINT_CHECKS };
  const extend = (path: CertInfo[]): CertInfo[] | undefined => {
    if (path.length >= MAX_PATH_LENGTH) {
      lastProblem = `path longer than ${MAX_PATH_LENGTH} certificates`;
      return undefined;
    }
    const current = path[path.length - 1] as CertInfo;
    for (const next of candidates) {
      if (path.some((p) => p.der.equals(next.der))) continue;
      // A crafted web of cross-signed certificates must not make this exponential.
      if (++checks > MAX_ISSUER_CHECKS) {
        throw invalid(
          `certificate path search for ${describe(leafInfo)} gave up after ${MAX_ISSUER_CHECKS} checks`,
        );
      }
      if (!issues(next, current)) continue;
      try {
        checkValidity(next, time);
      } catch (error) {
        lastProblem = (error as Error).message;
        continue;
      }
      // Trust anchors too: trusting a certificate does not lift its own
      // constraints (a CA:FALSE, pathlen-limited or name-constrained anchor,
      // as OpenSSL).
      const anchor = isAnchor(next);
      let problem = issuerProblem(next, current, path.length - 1, anchor);
      try {
        problem ??= nameConstraintsProblem(next, path, budget);
      } catch (error) {
        if (!(error instanceof NameCheckLimitError)) throw error;
        throw invalid(
          `certificate path search for ${describe(leafInfo)} gave up after ${MAX_NAME_CONSTRAINT_CHECKS} name constraint comparisons`,
        );
      }
      if (problem !== undefined) {
        lastProblem = problem;
        continue;
      }
      if (anchor) return [...path, next];
      const found = extend([...path, next]);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const found = extend([leafInfo]);
  if (found === undefined) {
    throw invalid(
      `certificate ${describe(leafInfo)} does not chain to a trusted CA${lastProblem === undefined ? '' : `: ${lastProblem}`}`,
      {
        subject: distinguishedName(leaf.subject),
        issuer: distinguishedName(leaf.issuer),
      },
    );
  }
  const anchor = found[found.length - 1] as CertInfo;
  return { path: found.map((c) => c.node), anchor: anchor.node };
}
