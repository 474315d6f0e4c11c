// SPDX-License-Identifier: Apache-2.0
/**
 * Verifying a signed model end to end (oms-format.md §13.1), for the key,
 * certificate and Sigstore methods.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { payloadSourceOf, readBundle } from '../bundle/read.js';
import { releaseBuffer } from '../internal/release.js';
import type { ParsedBundle, SigningMethod } from '../bundle/types.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../constants.js';
import { ModelSealError } from '../errors.js';
import { keyLabel, loadPublicKey } from '../internal/keys.js';
import {
  checkKeyFingerprint,
  parseKeyFingerprint,
} from '../internal/key-fingerprint.js';
import { compareModel } from '../manifest/check-model.js';
import { decodeOwnedStatement } from '../manifest/statement.js';
import type { CheckModelOptions } from '../manifest/index.js';
import { verifyKeyBundleSignature } from './key.js';
// Certificate, timestamp and Sigstore verification load on first use: a key
// verification never loads X.509 path building, RFC 3161 parsing or the
// Sigstore stack (docs/api.md, "What each entry point loads").
import type { SigstorePolicy, SigstoreVerifyOptions } from './sigstore.js';
import type { TrustRootInfo } from '../trust/resolve.js';
import type { CertificateIdentityConstraint } from './certificate-policy.js';
import type {
  CertificateInfo,
  SignerInfo,
  TimeSource,
  VerifyModelSignatureOptions,
  VerifyModelSignatureResult,
  VerifySigstoreOptions,
  VerifyWarning,
} from './types.js';

/** Names listed in a warning message before "and N more". */
const LISTED_NAMES = 20;

function invalidOptions(message: string): ModelSealError {
  return new ModelSealError({ code: 'INVALID_OPTIONS', message });
}

/** What the caller's trust material became once loaded. */
type Trust =
  | { method: 'key'; key: KeyObject; name: string; tsas: X509Certificate[] }
  | {
      method: 'certificate';
      anchors: X509Certificate[];
      time: Date | undefined;
      tsas: X509Certificate[];
      identityPolicy: readonly CertificateIdentityConstraint[];
    }
  | {
      method: 'sigstore';
      policy: SigstorePolicy;
      options: SigstoreVerifyOptions;
    };

/** Loads PEM certificates, loading the X.509 code only when there are some. */
async function loadCertificates(
  inputs: readonly (string | Uint8Array)[],
  what: string,
): Promise<X509Certificate[]> {
  if (inputs.length === 0) return [];
  const m = await import('../sign/certificate.js');
  return m.loadCertificates(inputs, what);
}

async function loadTrust(options: VerifyModelSignatureOptions): Promise<Trust> {
  switch (options.method) {
    case 'key': {
      if (options.publicKey === undefined)
        throw invalidOptions('key verification needs a public key');
      const pin =
        options.keyFingerprint === undefined
          ? undefined
          : parseKeyFingerprint(options.keyFingerprint);
      const key = await loadPublicKey(options.publicKey);
      const name = keyLabel(options.publicKey, 'the public key');
      if (pin !== undefined) checkKeyFingerprint(key, pin, name);
      return {
        method: 'key',
        key,
        name,
        tsas: await loadCertificates(
          options.timestampAuthorities ?? [],
          'timestamp authority certificate',
        ),
      };
    }
    case 'certificate': {
      if (
        options.trustAnchors === undefined ||
        options.trustAnchors.length === 0
      ) {
        // The reference falls back to public web roots here; that makes no sense for model signing.
        throw invalidOptions(
          'certificate verification needs at least one trusted CA certificate',
        );
      }
      const time = options.verificationTime;
      if (time !== undefined && Number.isNaN(time.getTime()))
        throw invalidOptions('verificationTime is not a valid date');
      const identityPolicy = options.identityPolicy ?? [];
      if (options.identityPolicy !== undefined) {
        // Checked now, before any bundle is read: a bad pattern is a usage error.
        const { compileIdentityPolicy } =
          await import('./certificate-policy.js');
        compileIdentityPolicy(identityPolicy);
      }
      return {
        method: 'certificate',
        identityPolicy,
        anchors: await loadCertificates(options.trustAnchors, 'CA certificate'),
        time,
        tsas: await loadCertificates(
          options.timestampAuthorities ?? [],
          'timestamp authority certificate',
        ),
      };
    }
    case 'sigstore':
      return {
        method: 'sigstore',
        policy: sigstorePolicy(options),
        options: sigstoreOptions(options),
      };
    default:
      throw invalidOptions(
        `unknown verification method ${JSON.stringify((options as { method?: unknown }).method)}`,
      );
  }
}

function sigstorePolicy(options: VerifySigstoreOptions): SigstorePolicy {
  const policy: SigstorePolicy = {};
  if (options.identity !== undefined) policy.identity = options.identity;
  if (options.identityRegExp !== undefined)
    policy.identityRegExp = options.identityRegExp;
  if (options.issuer !== undefined) policy.issuer = options.issuer;
  if (options.issuerRegExp !== undefined)
    policy.issuerRegExp = options.issuerRegExp;
  return policy;
}

function sigstoreOptions(
  options: VerifySigstoreOptions,
): SigstoreVerifyOptions {
  const out: SigstoreVerifyOptions = {};
  if (options.trustedRoot !== undefined) out.trustedRoot = options.trustedRoot;
  if (options.trustedRootJSON !== undefined)
    out.trustedRootJSON = options.trustedRootJSON;
  if (options.staging !== undefined) out.staging = options.staging;
  for (const k of [
    'offline',
    'refreshTrustedRoot',
    'tufMirrorURL',
    'tufRootPath',
    'tufCachePath',
    'tufTimeoutMs',
  ] as const) {
    if (options[k] !== undefined) Object.assign(out, { [k]: options[k] });
  }
  return out;
}

/** §13.1 step 3: the material must be the one of the requested method. */
function checkMethod(
  bundle: ParsedBundle,
  method: SigningMethod,
  file: string,
): void {
  const ok =
    method === 'key'
      ? bundle.materialKind === 'publicKey'
      : method === 'certificate'
        ? bundle.materialKind === 'x509CertificateChain'
        : bundle.materialKind === 'certificate' || bundle.method === 'sigstore';
  if (!ok) {
    throw new ModelSealError({
      code: 'METHOD_MISMATCH',
      message: `${file} is a ${bundle.method} bundle, not a ${method} bundle`,
      details: { expected: method, actual: bundle.method },
    });
  }
}

/** The signer and times a signature check proved. */
export interface SignatureOutcome {
  signer: SignerInfo;
  signingTime: Date | undefined;
  signingTimeSource: TimeSource;
  validityTime: Date | undefined;
  timestampAuthority: CertificateInfo | undefined;
  warnings: VerifyWarning[];
  /** Sigstore: which trusted root was used. */
  trustRoot?: TrustRootInfo;
}

async function verifySignature(
  bundle: ParsedBundle,
  trust: Trust,
): Promise<SignatureOutcome> {
  switch (trust.method) {
    case 'key': {
      const r = verifyKeyBundleSignature(bundle, trust.key, trust.name);
      const warnings = [...r.warnings];
      if (bundle.rfc3161Timestamps.length > 0 && trust.tsas.length > 0) {
        // After the signature: a timestamp only proves when that signature existed.
        const { verifyTimestamps } = await import('./timestamp.js');
        const ts = verifyTimestamps(
          bundle.rfc3161Timestamps,
          bundle.envelope.signature.sig,
          trust.tsas,
        );
        return {
          signer: r.signer,
          signingTime: ts.time,
          signingTimeSource: 'timestamp',
          validityTime: undefined,
          timestampAuthority: ts.authority,
          warnings,
        };
      }
      if (bundle.rfc3161Timestamps.length > 0) {
        warnings.push({
          code: 'TIMESTAMP_NOT_CHECKED',
          message:
            'the bundle carries RFC 3161 timestamps but no timestamp authority is trusted',
        });
      }
      return {
        signer: r.signer,
        signingTime: undefined,
        signingTimeSource: 'none',
        validityTime: undefined,
        timestampAuthority: undefined,
        warnings,
      };
    }
    case 'certificate': {
      const { verifyCertificateBundleSignature } =
        await import('./certificate.js');
      const r = verifyCertificateBundleSignature(bundle, trust.anchors, {
        ...(trust.time === undefined ? {} : { verificationTime: trust.time }),
        timestampAuthorities: trust.tsas,
        identityPolicy: trust.identityPolicy,
      });
      return {
        signer: r.signer,
        signingTime:
          r.validityTimeSource === 'timestamp' ? r.validityTime : undefined,
        signingTimeSource: r.validityTimeSource,
        validityTime: r.validityTime,
        timestampAuthority: r.timestampAuthority,
        warnings: r.warnings,
      };
    }
    case 'sigstore': {
      const { verifySigstoreBundle } = await import('./sigstore.js');
      const r = await verifySigstoreBundle(
        bundle.json,
        trust.policy,
        trust.options,
      );
      const source: TimeSource =
        r.signingTimeSource === 'tsa' ? 'timestamp' : 'tlog';
      return {
        signer: { method: 'sigstore', identity: r.identity, issuer: r.issuer },
        signingTime: r.signingTime,
        signingTimeSource: source,
        validityTime: r.signingTime,
        timestampAuthority: undefined,
        warnings:
          r.trustRoot.fallback === undefined
            ? []
            : [{ code: 'TRUST_ROOT_FALLBACK', message: r.trustRoot.fallback }],
        trustRoot: r.trustRoot,
      };
    }
  }
}

/** What {@link verifyStatementBundle} proved: the signer, and the payload it signed. */
export interface StatementBundleVerification {
  bundle: ParsedBundle;
  outcome: SignatureOutcome;
  /** The signed payload (an in-toto statement), now trusted as coming from the signer. */
  payload: Buffer;
  warnings: VerifyWarning[];
}

/**
 * Verifies a bundle's signature and signer with the caller's trust policy,
 * whatever statement it carries (oms-format.md §13.1 steps 1–5): the model's
 * own bundle, or a companion statement such as a scan attestation.
 *
 * @throws the bundle and signer codes of {@link verifyModelSignature}
 */
export async function verifyStatementBundle(
  options: VerifyModelSignatureOptions,
): Promise<StatementBundleVerification> {
  const trust = await loadTrust(options);
  const bundle = await readBundle(
    options.bundlePath,
    options.bundleLimits ?? {},
  );
  checkMethod(bundle, options.method, options.bundlePath);
  if (bundle.envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new ModelSealError({
      code: 'STATEMENT_INVALID',
      message: `payload type ${JSON.stringify(bundle.envelope.payloadType)} is not ${IN_TOTO_PAYLOAD_TYPE}`,
    });
  }
  // Nothing in the payload is trusted before this point.
  const outcome = await verifySignature(bundle, trust);
  const warnings: VerifyWarning[] = [...outcome.warnings];
  if (bundle.envelope.signatureCount > 1) {
    warnings.push({
      code: 'EXTRA_SIGNATURES',
      message: `the envelope has ${bundle.envelope.signatureCount} signatures; only the first was verified`,
    });
  }
  return { bundle, outcome, payload: bundle.envelope.payload, warnings };
}

/**
 * Payloads this large, read from a bundle file as it was decoded, have
 * their statement decoded from the file again a window at a time (20,000
 * files: 3.4 MB; 200,000: 34 MB).
 */
const WINDOWED_BYTES = 4 << 20;

/** Verifies the bundle and decodes its statement; returns nothing else of the bundle. */
async function verifiedStatement(
  options: VerifyModelSignatureOptions,
): Promise<{
  decoded: ReturnType<typeof decodeOwnedStatement>;
  outcome: SignatureOutcome;
  warnings: VerifyWarning[];
}> {
  const { payload, outcome, warnings } = await verifyStatementBundle(options);
  const source = payloadSourceOf(payload);
  if (source !== undefined && payload.length >= WINDOWED_BYTES) {
    // A large statement: decoded from the file again, a window at a time,
    // once the payload is freed (the bytes read must hash the same).
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(payload).digest();
    releaseBuffer(payload);
    const { decodeStatementFile } = await import('./statement-file.js');
    return { decoded: decodeStatementFile(source, digest), outcome, warnings };
  }
  // Ours (read from the bundle file), and given back as it is decoded.
  const decoded = decodeOwnedStatement(payload);
  // What is left of the bundle file's buffer (the payload is a view of it)
  // is not needed any more: freed now, not at the next full garbage
  // collection, which could come after the whole model is hashed.
  releaseBuffer(payload);
  return { decoded, outcome, warnings };
}

/**
 * Verify a signed model (oms-format.md §13.1): read the bundle; check that its
 * material belongs to the requested method; check the payload type; verify
 * the signature (key and certificate: our own code with the curve's hash;
 * sigstore: `@sigstore/verify` with an exact identity policy); decode and
 * check the statement and manifest; hash the model on disk with the signed
 * serialization (recorded ignore paths re-applied, the bundle left out) and
 * compare.
 *
 * **Throws on every failure** (fail closed): there is no result with
 * `ok: false`. A model that differs from its signature throws
 * `MANIFEST_MISMATCH` whose `details` hold `missing`, `extra`, `changed`
 * (every difference) and the verified `signer`. With `ignoreUnsignedFiles`,
 * extra files are tolerated (listed in `compare.extra` and a warning);
 * missing and changed files still fail.
 *
 * Each call is stateless: nothing carries over to the next one.
 *
 * @throws ModelSealError `BUNDLE_MALFORMED`, `METHOD_MISMATCH`,
 *   `STATEMENT_INVALID`, `SIGNATURE_INVALID`, `KEY_MISMATCH`,
 *   `CERTIFICATE_INVALID`, `IDENTITY_MISMATCH`, `TLOG_INVALID`,
 *   `MANIFEST_INCONSISTENT`, `MANIFEST_MISMATCH`, `UNSUPPORTED_ALGORITHM`,
 *   `UNSUPPORTED_KEY`, `SYMLINK_NOT_ALLOWED`, `INVALID_PATH` (verdicts);
 *   `INVALID_OPTIONS`, `KEY_INVALID` (usage); `IO_ERROR`,
 *   `TRUST_ROOT_UNAVAILABLE`, `ABORTED` (operational)
 */
export async function verifyModelSignature(
  options: VerifyModelSignatureOptions,
): Promise<VerifyModelSignatureResult> {
  if (typeof options.modelPath !== 'string' || options.modelPath === '') {
    throw invalidOptions('modelPath is required');
  }
  if (typeof options.bundlePath !== 'string' || options.bundlePath === '') {
    throw invalidOptions('bundlePath is required');
  }
  // The bundle (its JSON and payload: tens of MB for a large model) is not
  // reachable from here on, only the decoded manifest is.
  const { decoded, outcome, warnings } = await verifiedStatement(options);
  if (decoded.legacy) {
    warnings.push({
      code: 'LEGACY_PREDICATE',
      message: 'model_signing v0.2 statement (legacy predicate)',
    });
  }

  const checkOptions: CheckModelOptions = { signaturePath: options.bundlePath };
  if (options.ignorePaths !== undefined)
    checkOptions.ignorePaths = options.ignorePaths;
  if (options.ignoreUnsignedFiles !== undefined)
    checkOptions.ignoreUnsignedFiles = options.ignoreUnsignedFiles;
  if (options.allowSymlinks !== undefined)
    checkOptions.allowSymlinks = options.allowSymlinks;
  if (options.hfCache !== undefined) checkOptions.hfCache = options.hfCache;
  // Opened only now, after the signature verified: the cache holds no trust.
  const cache =
    options.verifyCache === undefined
      ? undefined
      : await (
          await import('../verify-cache/index.js')
        ).VerifyCache.open(options.verifyCache);
  if (cache !== undefined) checkOptions.verifyCache = cache;
  if (options.concurrency !== undefined)
    checkOptions.concurrency = options.concurrency;
  if (options.signal !== undefined) checkOptions.signal = options.signal;
  if (options.onProgress !== undefined)
    checkOptions.onProgress = options.onProgress;
  const checked = await compareModel(
    options.modelPath,
    decoded.manifest,
    checkOptions,
  );
  warnings.push(...checked.warnings);
  if (cache !== undefined) {
    for (const problem of cache.stats.problems)
      warnings.push({
        code: 'VERIFY_CACHE_RESET',
        message: `verification cache ${cache.path}: ${problem}`,
      });
    // Entries are facts about file states, whatever the comparison says.
    await cache.save();
  }
  const { compare } = checked;
  if (!compare.ok) {
    const parts = [
      compare.missing.length > 0 ? `${compare.missing.length} missing` : '',
      compare.changed.length > 0 ? `${compare.changed.length} changed` : '',
      compare.extra.length > 0 && !compare.extraTolerated
        ? `${compare.extra.length} unsigned`
        : '',
    ].filter(Boolean);
    throw new ModelSealError({
      code: 'MANIFEST_MISMATCH',
      message: `model ${options.modelPath} does not match its signature: ${parts.join(', ')}`,
      details: {
        missing: compare.missing,
        extra: compare.extra,
        changed: compare.changed,
        extraTolerated: compare.extraTolerated,
        method: options.method,
        signer: outcome.signer,
      },
    });
  }
  if (compare.extra.length > 0) {
    warnings.push({
      code: 'UNSIGNED_FILES_TOLERATED',
      // A summary: the full list is in `compare.extra` (a tree can have 200,000).
      message: `${compare.extra.length} unsigned file(s) tolerated: ${compare.extra
        .slice(0, LISTED_NAMES)
        .map((r) => r.name)
        .join(
          ', ',
        )}${compare.extra.length > LISTED_NAMES ? `, and ${compare.extra.length - LISTED_NAMES} more` : ''}`,
    });
  }
  return {
    ok: true,
    method: options.method,
    signer: outcome.signer,
    signingTime: outcome.signingTime,
    signingTimeSource: outcome.signingTimeSource,
    validityTime: outcome.validityTime,
    timestampAuthority: outcome.timestampAuthority,
    ...(outcome.trustRoot === undefined
      ? {}
      : { trustRoot: outcome.trustRoot }),
    predicateType: decoded.predicateType,
    manifest: decoded.manifest,
    compare,
    warnings,
    ...(checked.hfCache === undefined
      ? {}
      : {
          hfCache: {
            repository: checked.hfCache.repositoryName,
            revision: checked.hfCache.revision,
            snapshot: checked.hfCache.snapshot,
          },
        }),
    ...(cache === undefined ? {} : { verifyCache: cache.stats }),
  };
}
