// SPDX-License-Identifier: Apache-2.0
/**
 * Signing a model end to end: hash, encode the statement, sign, write the
 * bundle atomically (oms-format.md §2–§11, §14).
 */
import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SigningMethod } from '../bundle/types.js';
import { writeBundle } from '../bundle/write.js';
import { isModelSealError, ModelSealError } from '../errors.js';
import { assertWritable } from '../internal/atomic-write.js';
import { decodeBase64Strict } from '../internal/base64.js';
// The scanners load only when signing scans (options.scan).
import type { ScanModelOptions } from '../attest/scan-model.js';
import { encodeScanStatement, scanVerdict } from '../attest/scan-statement.js';
import {
  encodeStatement,
  hashModel,
  resourceCount,
} from '../manifest/index.js';
import type { ScanReport } from '../scan/engine.js';
import { severityAtLeast, type Severity } from '../scan/types.js';
import { MODELSEAL_VERSION } from '../version.js';
import type { HashModelOptions } from '../manifest/types.js';
import { createKeySigner } from './key.js';
// Certificates, RFC 3161 timestamps and Sigstore load on first use: key
// signing never loads X.509 path building or the Sigstore/TUF/HTTP stack.
import type { SigstoreSignOptions } from './sigstore.js';
import type {
  CertificateSignerOptions,
  KeySignerOptions,
  SignedBy,
  SignModelOptions,
  SignModelResult,
  SignScanOptions,
  SignWarning,
  StatementSigner,
} from './types.js';

function invalidOptions(message: string): ModelSealError {
  return new ModelSealError({ code: 'INVALID_OPTIONS', message });
}

/** The model path exists (a cheap check before any output, key or hashing). */
async function assertModelPath(modelPath: string): Promise<void> {
  try {
    await lstat(modelPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ModelSealError({
      code: 'IO_ERROR',
      message:
        code === 'ENOENT'
          ? `${modelPath}: no such file or directory`
          : `${modelPath}: cannot read the model path: ${(error as Error).message}`,
      cause: error,
      details: { path: modelPath },
    });
  }
}

/** The sigstore signer: identity is only known once Fulcio has issued the certificate. */
function sigstoreSigner(options: SigstoreSignOptions): StatementSigner {
  return {
    method: 'sigstore',
    signedBy: { method: 'sigstore', identity: undefined, issuer: undefined },
    sign: async (statement: Buffer) => {
      const { signWithSigstore } = await import('./sigstore.js');
      return signWithSigstore(statement, options);
    },
  };
}

async function sigstoreSignedBy(
  bundle: Record<string, unknown>,
): Promise<SignedBy> {
  const material = bundle['verificationMaterial'] as
    Record<string, unknown> | undefined;
  const cert = material?.['certificate'] as { rawBytes?: unknown } | undefined;
  const chain = material?.['x509CertificateChain'] as
    { certificates?: { rawBytes?: unknown }[] } | undefined;
  const raw = cert?.rawBytes ?? chain?.certificates?.[0]?.rawBytes;
  const der = typeof raw === 'string' ? decodeBase64Strict(raw) : undefined;
  const claimed =
    der === undefined
      ? { identity: undefined, issuer: undefined }
      : (await import('../internal/fulcio.js')).claimedIdentity(der);
  return { method: 'sigstore', ...claimed };
}

function hashOptionsOf(options: SignModelOptions): HashModelOptions {
  const out: HashModelOptions = { signaturePath: options.signaturePath };
  const keys = [
    'hashAlgorithm',
    'shardSize',
    'allowSymlinks',
    'strictSymlinks',
    'ignorePaths',
    'ignoreGitPaths',
    'concurrency',
    'signal',
    'onProgress',
  ] as const;
  for (const k of keys) {
    if (options[k] !== undefined)
      (out as Record<string, unknown>)[k] = options[k];
  }
  if (options.serialization !== undefined) out.method = options.serialization;
  return out;
}

interface GateOutcome {
  report: ScanReport;
  verdict: 'clean' | 'findings';
  failOn: Severity;
  overrideReason: string | undefined;
  attestationPath: string | undefined;
}

/**
 * Scans exactly the files that will be signed and refuses unsafe content
 * unless an override reason is given. Adds the attestation path to the
 * hashing options' ignore paths so that it is never signed as part of the model.
 */
async function scanGate(
  options: SignModelOptions,
  scan: SignScanOptions,
  hashOptions: HashModelOptions,
  force: boolean,
): Promise<GateOutcome> {
  const failOn = scan.failOn ?? 'high';
  const attestationPath =
    scan.attestationPath === undefined
      ? undefined
      : resolve(scan.attestationPath);
  if (attestationPath !== undefined) {
    // Checked again: signModel checked it before the key and the hashing.
    await assertWritable(attestationPath, force);
    hashOptions.ignorePaths = [
      ...(hashOptions.ignorePaths ?? []),
      attestationPath,
    ];
  }
  const scanOptions: ScanModelOptions = {};
  for (const k of [
    'ignorePaths',
    'ignoreGitPaths',
    'signaturePath',
    'allowSymlinks',
    'signal',
  ] as const) {
    if (hashOptions[k] !== undefined)
      (scanOptions as Record<string, unknown>)[k] = hashOptions[k];
  }
  if (scan.policy !== undefined) scanOptions.policy = scan.policy;
  if (scan.limits !== undefined) scanOptions.limits = scan.limits;
  if (scan.onProgress !== undefined) scanOptions.onProgress = scan.onProgress;
  const { scanModel } = await import('../attest/scan-model.js');
  const report = await scanModel(options.modelPath, scanOptions).catch(
    (error: unknown) => {
      // The scan lists the files first: "no file to scan" would be the wrong verb here.
      if (isModelSealError(error) && error.code === 'EMPTY_MODEL')
        throw new ModelSealError({
          code: 'EMPTY_MODEL',
          message: `${options.modelPath}: no file to sign after ignores`,
          ...(error.details === undefined ? {} : { details: error.details }),
        });
      throw error;
    },
  );
  const verdict = scanVerdict(report, failOn);
  // An override is recorded only when it overrode something: a clean scan
  // (nothing at or above fail-on, every file read to its end) records none,
  // so its attestation still passes requireScan and no message says
  // "despite findings".
  const overrideReason =
    verdict === 'clean' || scan.overrideReason?.trim() === ''
      ? undefined
      : scan.overrideReason;
  if (verdict !== 'clean' && overrideReason === undefined) {
    const blocking = report.files
      .flatMap((f) => f.findings)
      .filter((f) => severityAtLeast(f.severity, failOn))
      .slice(0, 20);
    const incompleteFiles = report.files
      .filter((f) => !f.complete)
      .map((f) => f.file);
    const unreadable = report.files.filter((f) => f.error !== undefined);
    const parts: string[] = [];
    if (blocking.length > 0)
      parts.push(
        `${report.summary.highest ?? ''} finding ${blocking[0]!.ruleId} in ${blocking[0]!.file}${blocking[0]!.member.length > 0 ? `!/${blocking[0]!.member.join('!/')}` : ''}`,
      );
    // An unreadable file is named with the reason (permission denied, ...).
    if (unreadable.length > 0)
      parts.push(
        `${unreadable.length} file(s) could not be read, first ${unreadable[0]!.file}: ${unreadable[0]!.error!.message}`,
      );
    else if (blocking.length === 0 && incompleteFiles.length > 0)
      parts.push(
        `${incompleteFiles.length} file(s) not fully scanned, first ${incompleteFiles[0]!}`,
      );
    if (parts.length === 0)
      parts.push(`${report.summary.errors} file(s) could not be scanned`);
    const what = parts.join('; ');
    throw new ModelSealError({
      code: 'UNSAFE_CONTENT',
      message: `refusing to sign ${options.modelPath}: ${what} (${report.summary.findings} findings; fail-on ${failOn})`,
      details: {
        summary: report.summary,
        findings: blocking,
        incompleteFiles: incompleteFiles.slice(0, 20),
        unreadableFiles: unreadable
          .slice(0, 20)
          .map((f) => ({ file: f.file, error: f.error })),
      },
    });
  }
  return { report, verdict, failOn, overrideReason, attestationPath };
}

/** The signing-method part of {@link SignModelOptions}: what {@link prepareStatementSigner} reads. */
export type StatementSignerOptions =
  | ({ method: 'key'; tsaURL?: string } & KeySignerOptions)
  | ({ method: 'certificate'; tsaURL?: string } & CertificateSignerOptions)
  | ({ method: 'sigstore' } & SigstoreSignOptions)
  | { method: 'signer'; signer: StatementSigner };

/** A signer ready to sign statements, and the RFC 3161 countersigning step of its bundles. */
export interface PreparedStatementSigner {
  signer: StatementSigner;
  warnings: SignWarning[];
  /** Adds the RFC 3161 timestamp when `tsaURL` is set (key and certificate); otherwise returns the bundle. */
  stamp: (bundle: Record<string, unknown>) => Promise<Record<string, unknown>>;
}

/**
 * Loads and checks the key material of a signing method (so a wrong password
 * fails before any work) and returns the statement signer signModel uses; also
 * used to sign manifests built elsewhere (OCI images).
 *
 * @throws ModelSealError `INVALID_OPTIONS`, `PASSWORD_REQUIRED`,
 *   `KEY_INVALID` (also a signing certificate for another key, a certificate
 *   file without a certificate), `UNSUPPORTED_KEY`
 */
export async function prepareStatementSigner(
  options: StatementSignerOptions,
): Promise<PreparedStatementSigner> {
  const warnings: SignWarning[] = [];
  let signer: StatementSigner;
  switch (options.method) {
    case 'key':
      signer = await createKeySigner(options);
      break;
    case 'certificate': {
      const { createCertificateSigner } = await import('./certificate.js');
      const prepared = await createCertificateSigner(options);
      signer = prepared.signer;
      warnings.push(...prepared.warnings);
      break;
    }
    case 'sigstore':
      // Passed whole: signWithSigstore reads its own options and ignores the hashing ones.
      signer = sigstoreSigner(options);
      break;
    case 'signer':
      signer = options.signer;
      break;
    default:
      throw invalidOptions(
        `unknown signing method ${JSON.stringify((options as { method?: unknown }).method)}`,
      );
  }
  // Key and certificate bundles may carry an RFC 3161 timestamp; keyless ones get theirs from signWithSigstore.
  const tsaURL =
    options.method === 'key' || options.method === 'certificate'
      ? options.tsaURL
      : undefined;
  const stamp = async (
    bundle: Record<string, unknown>,
  ): Promise<Record<string, unknown>> =>
    tsaURL === undefined
      ? bundle
      : (await import('./timestamp.js')).addTimestamp(bundle, { tsaURL });
  return { signer, warnings, stamp };
}

/**
 * Sign a model: load and check the key material first (so a wrong password
 * fails before a large model is hashed), refuse to overwrite an existing
 * bundle unless `force`, hash the model leaving the signature path out, refuse
 * an empty model, encode the statement, sign it and write the bundle
 * atomically.
 *
 * `method` picks the signing method; the manifest's serialization is chosen
 * with `serialization`, `hashAlgorithm` and `shardSize`.
 *
 * @throws ModelSealError `EMPTY_MODEL`, `FILE_EXISTS`, `INVALID_OPTIONS`,
 *   `PASSWORD_REQUIRED`, `KEY_INVALID`, `UNSUPPORTED_KEY`,
 *   `OIDC_TOKEN_UNAVAILABLE`, `SIGSTORE_SERVICE_ERROR`,
 *   the hashing errors of `hashModel`, `IO_ERROR`, `ABORTED`
 */
export async function signModel(
  options: SignModelOptions,
): Promise<SignModelResult> {
  if (typeof options.modelPath !== 'string' || options.modelPath === '') {
    throw invalidOptions('modelPath is required');
  }
  if (
    typeof options.signaturePath !== 'string' ||
    options.signaturePath === ''
  ) {
    throw invalidOptions('signaturePath is required');
  }
  // Checks that need no work first, in the order of the command line: the
  // model path, then each output (FILE_EXISTS), then the key material (so a
  // wrong password fails before a large model is hashed), then scan and hash.
  const requested = (options as { method?: unknown }).method;
  if (
    !['key', 'certificate', 'sigstore', 'signer'].includes(requested as string)
  )
    throw invalidOptions(`unknown signing method ${JSON.stringify(requested)}`);
  await assertModelPath(options.modelPath);
  const signaturePath = resolve(options.signaturePath);
  const force = options.force ?? false;
  await assertWritable(signaturePath, force);
  if (options.scan?.attestationPath !== undefined)
    await assertWritable(resolve(options.scan.attestationPath), force);
  const warnings: SignWarning[] = [];
  const prepared = await prepareStatementSigner(options);
  const signer = prepared.signer;
  const stamp = prepared.stamp;
  warnings.push(...prepared.warnings);
  const hashOptions = hashOptionsOf(options);
  const gate =
    options.scan === undefined
      ? undefined
      : await scanGate(options, options.scan, hashOptions, force);

  const hashed = await hashModel(options.modelPath, hashOptions);
  if (resourceCount(hashed.manifest) === 0) {
    throw new ModelSealError({
      code: 'EMPTY_MODEL',
      message: `nothing to sign in ${options.modelPath}`,
    });
  }
  warnings.push(...hashed.warnings);
  const statement = encodeStatement(hashed.manifest);
  if (options.signal?.aborted === true) {
    throw new ModelSealError({
      code: 'ABORTED',
      message: 'signing was aborted',
      cause: options.signal.reason,
    });
  }
  const bundle = await stamp(await signer.sign(statement));
  await writeBundle(signaturePath, bundle, { force });
  const method: SigningMethod = signer.method;
  let scan: SignModelResult['scan'];
  if (gate !== undefined) {
    scan = { report: gate.report, verdict: gate.verdict };
    if (gate.overrideReason !== undefined)
      scan.overrideReason = gate.overrideReason;
    if (gate.attestationPath !== undefined) {
      // The same signer signs a second statement about the same root digest.
      const attestation = encodeScanStatement({
        modelName: hashed.manifest.modelName,
        rootDigest: hashed.manifest.rootDigest,
        report: gate.report,
        failOn: gate.failOn,
        toolVersion: MODELSEAL_VERSION,
        ...(options.scan?.policy === undefined
          ? {}
          : { policy: options.scan.policy }),
        ...(gate.overrideReason === undefined
          ? {}
          : { override: { reason: gate.overrideReason } }),
      });
      await writeBundle(
        gate.attestationPath,
        await stamp(await signer.sign(attestation)),
        { force },
      );
      scan.attestationPath = gate.attestationPath;
    }
  }
  return {
    ...(scan === undefined ? {} : { scan }),
    method,
    signaturePath,
    bundle,
    statement,
    manifest: hashed.manifest,
    signedBy:
      method === 'sigstore' ? await sigstoreSignedBy(bundle) : signer.signedBy,
    warnings,
    bytes: hashed.bytes,
  };
}
