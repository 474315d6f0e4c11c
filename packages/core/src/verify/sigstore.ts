// SPDX-License-Identifier: Apache-2.0
/**
 * Keyless verification of a Sigstore bundle: certificate chain to a trusted
 * Fulcio, SCT, transparency-log entry, timestamps, signature over the DSSE
 * PAE, and the signer's identity and issuer. oms-format.md §14.3,
 * sigstore-notes.md §5.
 *
 * The DSSE payload type and the in-toto statement are NOT checked here
 * (`@sigstore/verify` ignores them, gotcha #11): the model verifier does that.
 */
import {
  createHash,
  X509Certificate as NodeX509Certificate,
} from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import type { SignedEntity, Signer, VerificationError } from '@sigstore/verify';
import { checkBundleLists } from '../bundle/read.js';
import { sigstoreBundle, sigstoreVerify } from '../internal/lazy.js';
import { ModelSealError, type ErrorCode } from '../errors.js';
import {
  resolveTrustRoot,
  type TrustRootInfo,
  type TrustRootOptions,
} from '../trust/resolve.js';
import { isObject } from '../internal/json.js';
import {
  identityMatcher,
  type IdentityMatcher,
} from '../internal/identity-pattern.js';

/**
 * Who must have signed. Exactly one of `identity`/`identityRegExp` and exactly
 * one of `issuer`/`issuerRegExp` are required.
 */
export interface SigstorePolicy {
  /** Exact certificate SAN (email or URI); compared literally, never as a pattern. */
  identity?: string;
  /** JavaScript regular expression (not RE2) the whole SAN must match; compiled as `^(?:P)$` with the `u` flag. */
  identityRegExp?: string;
  /** Exact OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, legacy .1.1 as fallback). */
  issuer?: string;
  /** JavaScript regular expression the whole issuer must match; compiled as `^(?:P)$` with the `u` flag. */
  issuerRegExp?: string;
}

/**
 * Where the trust comes from. At most one of `trustedRoot`/`trustedRootJSON`;
 * without either, the embedded public-good root (offline, the library's
 * default) or, with `refreshTrustedRoot`/`tufMirrorURL`, a TUF refresh.
 */
export interface SigstoreVerifyOptions extends TrustRootOptions {
  /** Path of a TrustedRoot JSON file (`--trusted-root`). */
  trustedRoot?: string;
  /** An already-parsed TrustedRoot JSON document (tests, private instances). */
  trustedRootJSON?: unknown;
  /**
   * Verify against the staging instance. No staging root is embedded, so this
   * needs `trustedRoot` or `trustedRootJSON`; without one it fails with
   * `TRUST_ROOT_UNAVAILABLE`.
   */
  staging?: boolean;
}

/** What a successful keyless verification established. */
export interface SigstoreVerifyResult {
  /** Certificate SAN (email or URI). */
  identity: string;
  /** OIDC issuer from the certificate. */
  issuer: string;
  /** Verified signing time: the earliest RFC 3161 timestamp if any, else the Rekor integrated time. */
  signingTime: Date;
  signingTimeSource: 'tlog' | 'tsa';
  /** Which trusted root was used, and why when it is not the one wanted. */
  trustRoot: TrustRootInfo;
  certificate: {
    /** Subject DN of the leaf (empty for Fulcio certificates). */
    subject: string;
    /** Lower-case hex SHA-256 of the leaf's DER, no separators. */
    fingerprintSha256: string;
  };
}

interface CompiledPolicy {
  san: RegExp;
  exactIdentity: string | undefined;
  identity: IdentityMatcher;
  issuer: IdentityMatcher;
  exactIssuer: string | undefined;
  describe: { identity: string; issuer: string };
}

/**
 * Check a keyless policy and compile it (one function for every method,
 * internal/identity-pattern.ts): exact values are compared literally,
 * regular expressions must compile alone and are anchored as `^(?:P)$`.
 *
 * @throws ModelSealError `INVALID_OPTIONS` unless exactly one of identity/identityRegExp and
 *   one of issuer/issuerRegExp is a non-empty string and each pattern compiles on its own.
 */
function compilePolicy(policy: SigstorePolicy): CompiledPolicy {
  const id = identityMatcher(
    policy.identity,
    policy.identityRegExp,
    'identity',
    true,
  );
  const iss = identityMatcher(
    policy.issuer,
    policy.issuerRegExp,
    'issuer',
    true,
  );
  return {
    san: id.pattern,
    exactIdentity: id.exact,
    identity: id,
    issuer: iss,
    exactIssuer: iss.exact,
    describe: { identity: id.text, issuer: iss.text },
  };
}

function malformed(message: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'BUNDLE_MALFORMED',
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Parse and check the parts the keyless path needs; oms-format.md §2 and §13.1 steps 1–3. */
function parseKeylessBundle(json: unknown): { bundle: Bundle; leaf: Buffer } {
  if (!isObject(json)) throw malformed('sigstore bundle is not a json object');
  const material = json['verificationMaterial'];
  if (!isObject(material))
    throw malformed('sigstore bundle has no verificationMaterial');
  // Callers may pass JSON that readBundle never saw: the same list limits.
  checkBundleLists(material, 'sigstore bundle');
  if (!isObject(json['dsseEnvelope']))
    throw malformed('sigstore bundle has no dsseEnvelope');
  const entries = material['tlogEntries'];
  if (!Array.isArray(entries) || entries.length === 0) {
    // Keyless trust rests on the log entry: without one there is nothing to check the certificate's time against.
    throw new ModelSealError({
      code: 'TLOG_INVALID',
      message: 'sigstore bundle has no transparency log entries',
    });
  }
  let bundle: Bundle;
  try {
    bundle = sigstoreBundle().bundleFromJSON(json);
  } catch (cause) {
    throw malformed('sigstore bundle is malformed', cause);
  }
  // The protobuf parser prefers messageSignature when both are present.
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw malformed(
      'sigstore bundle carries a message signature, not a dsse envelope',
    );
  }
  const content = bundle.verificationMaterial.content;
  switch (content.$case) {
    case 'certificate':
      return { bundle, leaf: Buffer.from(content.certificate.rawBytes) };
    case 'x509CertificateChain':
      // bundleFromJSON guarantees a non-empty chain; v0.1/v0.2 bundles carry the leaf first.
      return {
        bundle,
        leaf: Buffer.from(
          (content.x509CertificateChain.certificates[0] as { rawBytes: Buffer })
            .rawBytes,
        ),
      };
    case 'publicKey':
      throw new ModelSealError({
        code: 'METHOD_MISMATCH',
        message: 'bundle carries a public key, not a sigstore certificate',
      });
  }
}

const VERIFICATION_CODES: Record<VerificationError['code'], ErrorCode> = {
  SIGNATURE_ERROR: 'SIGNATURE_INVALID',
  PUBLIC_KEY_ERROR: 'SIGNATURE_INVALID',
  CERTIFICATE_ERROR: 'CERTIFICATE_INVALID',
  TIMESTAMP_ERROR: 'TLOG_INVALID',
  TLOG_ERROR: 'TLOG_INVALID',
  TLOG_INCLUSION_PROOF_ERROR: 'TLOG_INVALID',
  TLOG_INCLUSION_PROMISE_ERROR: 'TLOG_INVALID',
  TLOG_MISSING_INCLUSION_ERROR: 'TLOG_INVALID',
  TLOG_BODY_ERROR: 'TLOG_INVALID',
  NOT_IMPLEMENTED_ERROR: 'TLOG_INVALID',
};

/** Map a failure of `@sigstore/verify` to our codes (sigstore-notes.md §9). */
function verifyFailure(
  error: unknown,
  policy: CompiledPolicy,
  actual: { identity: string | undefined; issuer: string | undefined },
): ModelSealError {
  const { PolicyError, VerificationError } = sigstoreVerify();
  if (error instanceof PolicyError) {
    return new ModelSealError({
      code: 'IDENTITY_MISMATCH',
      message: `certificate identity ${String(actual.identity)} and issuer ${String(actual.issuer)} do not match: expected identity ${policy.describe.identity} and issuer ${policy.describe.issuer}`,
      cause: error,
      details: { expected: policy.describe, actual },
    });
  }
  if (error instanceof VerificationError) {
    const code = VERIFICATION_CODES[error.code];
    return new ModelSealError({
      code,
      message: `sigstore verification failed: ${error.message}`,
      cause: error,
      details: { sigstoreCode: error.code },
    });
  }
  // Parsers in @sigstore/core throw their own errors on corrupt certificates, SCTs or timestamps.
  return malformed(
    `sigstore bundle could not be verified: ${error instanceof Error ? error.message : String(error)}`,
    error,
  );
}

function signingTimeOf(entity: SignedEntity): {
  time: Date;
  source: 'tlog' | 'tsa';
} {
  const tsa: Date[] = [];
  const tlog: Date[] = [];
  for (const t of entity.timestamps) {
    if (t.$case === 'timestamp-authority') tsa.push(t.timestamp.signingTime);
    // Only entries with an inclusion promise carry a signed time (Rekor v1 SET).
    else if (t.tlogEntry.inclusionPromise !== undefined) {
      tlog.push(new Date(Number(t.tlogEntry.integratedTime) * 1000));
    }
  }
  const earliest = (dates: Date[]): Date =>
    new Date(Math.min(...dates.map((d) => d.getTime())));
  if (tsa.length > 0) return { time: earliest(tsa), source: 'tsa' };
  if (tlog.length > 0) return { time: earliest(tlog), source: 'tlog' };
  // Unreachable while the Verifier's timestamp threshold is 1; kept so a weaker configuration fails closed.
  throw new ModelSealError({
    code: 'TLOG_INVALID',
    message: 'sigstore bundle has no verified signing time',
  });
}

function checkIdentity(
  signer: Signer,
  policy: CompiledPolicy,
): { identity: string; issuer: string } {
  const identity = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  const mismatch = (what: string): ModelSealError =>
    new ModelSealError({
      code: 'IDENTITY_MISMATCH',
      message: `${what}: expected identity ${policy.describe.identity} and issuer ${policy.describe.issuer}`,
      details: { expected: policy.describe, actual: { identity, issuer } },
    });
  // Checked here again, exactly, whatever the library's policy check did (gotcha #1).
  const identityOK = identity !== undefined && policy.identity.test(identity);
  if (!identityOK)
    throw mismatch(`certificate identity ${String(identity)} does not match`);
  const issuerOK = issuer !== undefined && policy.issuer.test(issuer);
  if (!issuerOK)
    throw mismatch(`certificate issuer ${String(issuer)} does not match`);
  return { identity, issuer };
}

/**
 * Verify a keyless Sigstore bundle (oms-format.md §14.3): the Fulcio
 * certificate chains to the trusted root at the verified signing time, its
 * SCT is valid, the Rekor entry (inclusion proof/promise and body) matches the
 * signature, every timestamp verifies, the signature over the DSSE PAE
 * verifies, and the certificate's SAN and OIDC issuer match the policy.
 *
 * The trusted root is `options.trustedRootJSON`, the file
 * `options.trustedRoot`, a TUF refresh when asked (`refreshTrustedRoot`,
 * `tufMirrorURL`), or the public-good root embedded in `@sigstore/tuf`
 * (offline, the default); `result.trustRoot` says which.
 *
 * Does not check the DSSE payload type or the statement (the caller does).
 *
 * @param bundleJson - the parsed bundle JSON (`model.sig`).
 * @throws ModelSealError `INVALID_OPTIONS` (policy), `TRUST_ROOT_UNAVAILABLE`, `TRUST_ROOT_INVALID`,
 *   `BUNDLE_MALFORMED`, `METHOD_MISMATCH` (a key bundle), `TLOG_INVALID` (no entries, bad
 *   entry or timestamp), `CERTIFICATE_INVALID` (chain, validity, SCT),
 *   `SIGNATURE_INVALID`, `IDENTITY_MISMATCH`.
 */
export async function verifySigstoreBundle(
  bundleJson: unknown,
  policy: SigstorePolicy,
  options: SigstoreVerifyOptions = {},
): Promise<SigstoreVerifyResult> {
  const compiled = compilePolicy(policy);
  const { root, info: trustRoot } = await resolveTrustRoot(options);
  const { bundle, leaf: der } = parseKeylessBundle(bundleJson);

  let entity: SignedEntity;
  try {
    entity = sigstoreVerify().toSignedEntity(bundle);
  } catch (cause) {
    throw malformed(
      'sigstore bundle holds an unreadable certificate or timestamp',
      cause,
    );
  }

  let signer: Signer;
  try {
    const { Verifier, toTrustMaterial } = sigstoreVerify();
    const verifier = new Verifier(toTrustMaterial(root));
    signer = verifier.verify(entity, {
      subjectAlternativeName: compiled.san,
      ...(compiled.exactIssuer === undefined
        ? {}
        : { extensions: { issuer: compiled.exactIssuer } }),
    });
  } catch (error) {
    // What the certificate claims (unverified), shown beside what was expected.
    const { claimedIdentity } = await import('../internal/fulcio.js');
    throw verifyFailure(error, compiled, claimedIdentity(der));
  }

  const { identity, issuer } = checkIdentity(signer, compiled);
  const { time, source } = signingTimeOf(entity);
  let subject = '';
  try {
    subject = new NodeX509Certificate(der).subject;
  } catch {
    // Verified by @sigstore/core already; Node's parser is only used for display.
  }
  return {
    identity,
    issuer,
    signingTime: time,
    signingTimeSource: source,
    trustRoot,
    certificate: {
      subject,
      fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    },
  };
}
